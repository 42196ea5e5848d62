"""The stages chained into runs: corpus → embed → topics → tables → figures → report.

Each `run_*` function writes into one run folder and keeps `manifest.json` up to date, so that a run
folder alone says what was done, with which configuration, encoder, seeds and package versions, and
what each stage cost in time and memory (the manifest and its writer: `analysis.manifest`). The
command line and the notebooks call these functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.config import RunConfig
from analysis.manifest import (  # noqa: F401 (re-exported: benchmarks and notebooks import them from here)
    RECORDED_PACKAGES,
    Manifest,
    StageCost,
    finishing,
    measure,
    open_run,
    package_versions,
)
from analysis.run_folder import (
    RunFolderError,
    check_inputs_outside,
    check_run,
    inputs_fingerprint,
)

SAMPLE_CORPUS = Path(__file__).parent / "data" / "sample"


def resolve_source(source: str | Path | None) -> Path:
    """The corpus to read: the given path, or the packaged sample corpus."""
    return SAMPLE_CORPUS if source is None else Path(source)


@dataclass
class RunResult:
    """What a run produced, for notebooks to show without re-reading files."""

    run_dir: Path
    manifest: Manifest
    corpus: Any = None  # analysis.corpus.Corpus
    embeddings: np.ndarray | None = None
    topic_result: Any = None  # analysis.topics.TopicResult
    segments: pd.DataFrame | None = None  # segments with topic columns
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: list[Path] = field(default_factory=list)
    report: Path | None = None


def _run_command(command: str) -> Callable[..., Callable[..., RunResult]]:
    """Make a stage body a command: `run_x(source, run_dir, config, *, progress, manifest, overwrite, resume)`.

    Called without `manifest` (from the command line or a notebook), it checks RUN_DIR and opens the
    run (`open_run`: a new, empty, or resumable folder; `overwrite` clears one holding another run),
    runs the body and marks the run complete, failed or interrupted (`finishing`). Called with the
    manifest of a run in progress (one stage calling the one before it), it only runs the body.
    """

    def decorate(body: Callable[..., RunResult]) -> Callable[..., RunResult]:
        @functools.wraps(body)
        def run(
            source: str | Path | None,
            run_dir: str | Path,
            config: RunConfig,
            *,
            progress: bool = True,
            manifest: Manifest | None = None,
            overwrite: bool = False,
            resume: bool = False,
        ) -> RunResult:
            source_path, run_dir = resolve_source(source), Path(run_dir)
            if manifest is not None:
                return body(source_path, run_dir, config, progress=progress, manifest=manifest)
            manifest = open_run(run_dir, command=command, source=source_path, config=config,
                                overwrite=overwrite, resume=resume)  # fmt: skip
            with finishing(manifest):
                return body(source_path, run_dir, config, progress=progress, manifest=manifest)

        return run

    return decorate


@_run_command("corpus")
def run_corpus(source: Path, run_dir: Path, config: RunConfig, *, progress: bool, manifest: Manifest) -> RunResult:
    """Load, clean, segment and account for a corpus; write segments.parquet and ledger.csv.

    RUN_DIR must be new, empty, or hold a run of this SOURCE and configuration with `resume` (its
    completed stages are reused); `overwrite` clears a folder holding another run.
    """
    from analysis.corpus import build_corpus, write_corpus

    if manifest.reusable("corpus"):
        return _reused_corpus(run_dir, manifest)
    with manifest.stage("corpus"):
        if config.compute.cluster:  # the same corpus, built in partitions on a Dask cluster
            from analysis.compute.stages import corpus_stage

            corpus = corpus_stage(source, config, progress=progress)
        else:
            corpus = build_corpus(source, config.corpus, progress=progress)
        check_inputs_outside(corpus.inputs, run_dir)
        if config.select.active:
            # selecting is part of the corpus stage: its settings decide which segments it writes
            corpus, selection = select_corpus_for_run(corpus, config)
            manifest.data["selection"] = selection.summary
        if config.compute.cluster:  # one Parquet row group per partition, for workers to read a part each
            from analysis.compute import write_corpus_partitioned

            written = write_corpus_partitioned(corpus, run_dir, partition_size=config.compute.partition_size)
        else:
            written = write_corpus(corpus, run_dir)
    manifest.data["corpus"] = corpus.summary()
    manifest.data["inputs_fingerprint"] = inputs_fingerprint(source, corpus.inputs)
    manifest.data["outputs"].update({k: str(Path(v).name) for k, v in written.items()})
    manifest.complete_stage("corpus", ["segments.parquet", "ledger.csv"])
    return RunResult(run_dir=run_dir, manifest=manifest, corpus=corpus, segments=corpus.segments)


def _reused_corpus(run_dir: Path, manifest: Manifest) -> RunResult:
    """The corpus stage of a resumed run, read back from the files it wrote."""
    from analysis.corpus import Corpus

    summary = manifest.data["corpus"]
    ledger = pd.read_csv(run_dir / "ledger.csv", keep_default_na=False, dtype=str)
    corpus = Corpus(
        segments=pd.read_parquet(run_dir / "segments.parquet"),
        ledger=ledger.astype({"n_segments": "int64"}),
        name=summary.get("name", ""),
        inputs=list(summary.get("inputs", [])),
    )
    return RunResult(run_dir=run_dir, manifest=manifest, corpus=corpus, segments=corpus.segments)


def select_corpus_for_run(corpus: Any, config: RunConfig) -> tuple[Any, Any]:
    """`analysis.select.select_corpus` with the run's codebook (for `[select] themes`)."""
    from analysis.select import select_corpus
    from analysis.themes import load_codebook

    codebook = load_codebook(config.topics.codebook or None) if config.select.themes else None
    return select_corpus(corpus, config.select, codebook=codebook)


@_run_command("topics")
def run_topics(source: Path, run_dir: Path, config: RunConfig, *, progress: bool, manifest: Manifest) -> RunResult:
    """Corpus → embeddings (cached) → BERTopic; adds topics.csv, model/ and topic columns."""
    from analysis.corpus import require_segments
    from analysis.encoders import CachedEncoder, embed_segments, load_encoder
    from analysis.themes import add_segment_themes, load_codebook
    from analysis.topics import fit_topics, load_topic_model, save_topic_model, write_topics_csv

    result = run_corpus(source, run_dir, config, progress=progress, manifest=manifest)
    if manifest.reusable("topics"):
        result.topic_result = load_topic_model(run_dir / "model")
        result.embeddings = np.load(run_dir / "embeddings.npy")
        return result
    require_segments(result.corpus)
    segments = result.corpus.segments

    codebook = load_codebook(config.topics.codebook or None)
    with manifest.stage("embed"):
        encoder = load_encoder(config.embed, progress=None if progress else False)
        if config.compute.cluster:
            from analysis.compute.stages import embed_stage

            embeddings, embed_stats = embed_stage(segments["text"].tolist(), encoder, config, progress=progress)
        else:
            embeddings, embed_stats = embed_segments(
                segments["text"].tolist(), encoder, config.embed.cache_dir or None
            )
    manifest.data["encoder"] = encoder.identity
    manifest.data["embedding"] = vars(embed_stats) if hasattr(embed_stats, "__dict__") else embed_stats
    encoder = CachedEncoder(encoder, config.embed.cache_dir or None)  # theme texts and words: cached too

    with manifest.stage("topics"):
        if config.compute.cluster:  # fitted on a sample, the rest assigned on the workers
            from analysis.compute.stages import summary, topics_stage

            topic_result = topics_stage(segments, embeddings, config, codebook=codebook, encoder=encoder,
                                        progress=progress)  # fmt: skip
            manifest.data["compute"] = summary(config)
        else:
            topic_result = fit_topics(
                segments,
                embeddings,
                config.topics,
                codebook=codebook,
                encoder=encoder,
                languages=config.corpus.languages,
            )
        shutil.rmtree(run_dir / "model", ignore_errors=True)  # what an interrupted save left, if anything
        save_topic_model(topic_result, run_dir / "model")
    segments = segments.drop(
        columns=[
            c for c in topic_result.segment_topics.columns if c != "segment_id" and c in segments.columns
        ]
    )
    segments = segments.merge(topic_result.segment_topics, on="segment_id", how="left", validate="one_to_one")
    with manifest.stage("segment_themes"):
        segments = add_segment_themes(segments, codebook, encoder=encoder, embeddings=embeddings)
    segments.to_parquet(run_dir / "segments.parquet", index=False)
    write_topics_csv(topic_result.topics, run_dir / "topics.csv")
    np.save(run_dir / "embeddings.npy", embeddings.astype(np.float32))
    manifest.data["topics"] = {
        "n_topics": int((topic_result.topics["topic"] >= 0).sum()),
        "outlier_share": float((segments["topic"] == -1).mean()) if len(segments) else 0.0,
        **{k: v for k, v in topic_result.info.items() if isinstance(v, (str, int, float, bool))},
        "step_seconds": topic_result.info.get("step_seconds", {}),  # where the topics stage spent its time
    }
    manifest.data["outputs"].update(
        {"topics": "topics.csv", "model": "model/", "embeddings": "embeddings.npy"}
    )
    manifest.complete_stage("topics", ["segments.parquet", "topics.csv", "embeddings.npy", "model"])
    result.embeddings = embeddings
    result.topic_result = topic_result
    result.segments = segments
    return result


@_run_command("run")
def run_all(source: Path, run_dir: Path, config: RunConfig, *, progress: bool, manifest: Manifest) -> RunResult:
    """The whole job: corpus → topics → tables → figures → report."""
    from analysis.evaluate import evaluate_run

    result = run_topics(source, run_dir, config, progress=progress, manifest=manifest)
    config = resolve_run_period(result.segments, config, manifest)

    with manifest.stage("tables"), _on_cluster("tables", config):
        result.tables = build_tables(
            result.segments, result.topic_result.topics, config, codebook=result.topic_result.codebook,
            counter=cluster_counter(config, progress=progress),
        )  # fmt: skip
        write_tables(result.tables, run_dir, config)
        manifest.data["findings"] = findings_summary(result.tables, config)
    with manifest.stage("figures"):
        result.figures = build_figures(result, config)
    with manifest.stage("evaluate"), _on_cluster("evaluate", config):
        block_counter = None
        if config.compute.cluster:  # NPMI's window counts made per block on the workers
            from analysis.compute.stages import coherence_counter

            block_counter = coherence_counter(config, progress=progress)
        manifest.data["evaluation"] = evaluate_run(
            run_dir, segments=result.segments, topics=result.topic_result.topics, block_counter=block_counter
        )
    if config.compute.cluster:  # the workers' peaks in the tables and evaluate stages too
        from analysis.compute.stages import summary

        manifest.data["compute"] = summary(config)
    manifest.data["outputs"].update({"tables": "tables/", "figures": "figures/", "report": "report.html"})
    manifest.write()
    with manifest.stage("report"):
        result.report = write_run_report(manifest, result.tables, result.figures)
    manifest.write()
    return result


def cluster_counter(config: RunConfig, *, progress: bool = False) -> Any:
    """The share tables' counter on the run's cluster (`[compute] cluster`); None in one process.

    Only `run` passes it to `build_tables`: redrawing or curating a finished run recomputes its
    tables in the process, without the cluster the run once used (it may no longer exist)."""
    if not config.compute.cluster:
        return None
    from analysis.compute.stages import tables_counter

    return tables_counter(config, progress=progress)


def _on_cluster(stage: str, config: RunConfig) -> contextlib.AbstractContextManager[None]:
    """The workers' peak memory recorded over `stage` when it runs on a cluster; nothing otherwise."""
    if not config.compute.cluster:
        return contextlib.nullcontext()
    from analysis.compute.stages import on_workers

    return on_workers(stage, config)


def resolve_run_period(segments: pd.DataFrame, config: RunConfig, manifest: Manifest | None = None) -> RunConfig:
    """The run's config with `[tables] period = "auto"` made concrete once (`tables.resolve_period`).

    Tables, trends, comparisons and figures then group by the same period without deciding it again,
    and the manifest records what was asked and what was used (`period`).
    """
    from analysis.tables import resolve_period

    resolved = config.replace(tables={"period": resolve_period(segments, config.tables).period})
    if manifest is not None:
        manifest.data["period"] = {"setting": config.tables.period, "resolved": resolved.tables.period}
    return resolved


def write_tables(tables: dict[str, pd.DataFrame], run_dir: Path, config: RunConfig | None = None) -> None:
    """RUN_DIR/tables/: a CSV per table, their notes, the Excel workbook, LaTeX and Markdown."""
    from analysis.export import write_tables as write_table_files

    write_table_files(tables, run_dir / "tables", theme_labels=theme_labels(config))


def theme_labels(config: RunConfig | dict[str, Any] | None) -> dict[str, str]:
    """Theme key → the codebook's label, for tables and the report; empty when the codebook is gone."""
    from analysis.figures import codebook_labels
    from analysis.themes import CodebookError, load_codebook

    if isinstance(config, dict):
        path = config.get("topics", {}).get("codebook", "")
    else:
        path = config.topics.codebook if config is not None else ""
    try:
        return codebook_labels(load_codebook(path or None))
    except (CodebookError, OSError):
        return {}


def findings_summary(tables: dict[str, pd.DataFrame], config: RunConfig) -> dict[str, Any]:
    """What the report must say about how findings were read: theme route, warnings, agreement."""
    composition = tables.get("composition_by_period")
    agreement = tables.get("theme_agreement")
    topics = tables.get("topic_agreement")
    return {
        "theme_source": config.findings.theme_source,
        "warnings": list(composition.attrs.get("warnings", [])) if composition is not None else [],
        "kappa_topic_vs_segment": agreement.attrs.get("kappa") if agreement is not None else None,
        "flagged_topics": int((topics["flag"] != "").sum()) if topics is not None and len(topics) else 0,
        "comparison": tables["theme_comparison"].attrs.get("note", "")
        if "theme_comparison" in tables
        else "",
        "segments_carrying": _segments_carrying(tables),
    }


def _segments_carrying(tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Segments (outliers included) carrying each theme on the segment route, largest first."""
    agreement = tables.get("theme_agreement")
    return dict(agreement.attrs.get("carrying", {})) if agreement is not None else {}


def write_run_report(manifest: Manifest, tables: dict[str, pd.DataFrame], figures: list[Path]) -> Path:
    """RUN_DIR/report.html from a run's manifest, tables and figure files."""
    from analysis.report import write_report

    data = manifest.data
    return write_report(
        manifest.run_dir,
        title=f"Themes in {data['corpus'].get('name', Path(data['source']).name)}",
        manifest=data,
        ledger_summary=data["corpus"],
        tables=tables,
        figures=figures,
        evaluation=data.get("evaluation"),
        findings=data.get("findings"),
        selection=data.get("selection"),
        curation=data.get("curation"),
        theme_labels=theme_labels(data.get("config")),
    )


def build_tables(
    segments: pd.DataFrame,
    topics: pd.DataFrame,
    config: RunConfig,
    *,
    codebook: Any = None,
    counter: Any = None,
) -> dict[str, pd.DataFrame]:
    """Every table of a run, keyed by the file stem it is saved under.

    Theme shares use `config.findings.theme_source`: "segment" (each segment's best own theme) or
    "topic" (its topic's theme); trends and comparisons count the segments carrying a theme
    (multi-label on the segment route). Without segment themes (`seg_themes`) the topic route is used.
    `counter` (`cluster_counter`): the share tables' per-document counts and bootstraps run on a
    cluster's workers (`analysis.compute.tables`; the same numbers); everything else runs here.
    """
    from analysis import compare, drilldown, tables
    from analysis.themes import codebook_audit, theme_agreement

    share_table = functools.partial(tables.share_table, counter=counter)
    cfg = tables.resolve_period(segments, config.tables)
    findings = config.findings
    if findings.theme_source == "segment" and "seg_themes" not in segments:
        findings = dataclasses.replace(findings, theme_source="topic")
    keys = codebook.keys if codebook is not None else sorted(set(segments["theme"]) - {"other"})
    shares = segments.assign(theme=segments["seg_theme"]) if findings.theme_source == "segment" else segments
    route = (
        "themes: each segment's best own theme (segment route)"
        if findings.theme_source == "segment" else "themes: the theme of each segment's topic (topic route)"
    )  # fmt: skip
    info = compare.composition(segments, cfg, findings)
    trends, by_source = compare.adjusted_trends(segments, keys, cfg, findings)
    result = {
        "theme_by_source": _with_route(
            share_table(shares, by="source", unit="theme", config=cfg), route
        ),
        "theme_by_language": _with_route(
            share_table(shares, by="language", unit="theme", config=cfg), route, info["by_language"]
        ),
        "theme_by_period": _with_route(
            share_table(shares, by="period", unit="theme", config=cfg), route, info["by_period"]
        ),
        "topic_by_language": share_table(segments, by="language", unit="topic", config=cfg),
        "theme_trends": trends,
        "theme_trends_by_source": by_source,
        "composition_by_period": info["by_period"],
        "composition_by_language": info["by_language"],
    }
    warnings = list(info["warnings"])
    no_adjusted = len(trends) and trends["adjusted_slope_per_year"].isna().all()
    if no_adjusted and "slope_per_year" in trends and trends["slope_per_year"].notna().any():
        warnings.append(
            "No source has two periods with enough documents, so no trend can be separated from the change "
            "of sources: the raw slopes are composition as much as change; do not read them as trends."
        )
    result["composition_by_period"].attrs["warnings"] = warnings
    if findings.compare_date or findings.compare_by:
        result["theme_comparison"] = compare.compare_themes(segments, keys, cfg, findings)
    if "seg_themes" in segments:
        agreement = theme_agreement(segments, keys)
        result["theme_agreement"] = agreement["by_theme"]
        result["theme_agreement"].attrs["kappa"] = agreement["kappa"]
        carried = pd.Series([k for labels in segments["seg_themes"] for k in labels]).value_counts()
        result["theme_agreement"].attrs["carrying"] = {str(k): int(v) for k, v in carried.items()}
        result["topic_agreement"] = agreement["by_topic"]
        result["theme_examples"] = drilldown.theme_examples(segments, n=2)
    result["representative_segments"] = tables.representative_segments(segments, topics=topics, n=3)
    result["topic_drilldown"] = drilldown.drilldown(segments[segments["topic"] != -1], ["topic", "source"])
    result["source_drilldown"] = drilldown.drilldown(shares, ["source", "theme"])
    if codebook is not None:
        result["codebook_audit"] = codebook_audit(
            segments["text"].tolist(), codebook, languages=segments["language"].tolist()
        )
    result["topics"] = topics
    return result


def _with_route(table: pd.DataFrame, route: str, composition: pd.DataFrame | None = None) -> pd.DataFrame:
    """A share table whose note names the theme route and, per group, the sources and languages."""
    if composition is not None and len(composition):
        key = composition.columns[0]
        extra = composition.set_index(key)[
            ["sources"] + (["languages"] if "languages" in composition else [])
        ]
        attrs = dict(table.attrs)
        table = table.merge(extra, left_on="group", right_index=True, how="left")
        table.attrs.update(attrs)
    note = table.attrs.get("note", "")
    table.attrs["note"] = f"{route}; {note}" if note else route
    return table


def figure_footer(result: RunResult):
    from analysis.figures import run_footer

    return run_footer(result.manifest.data, len(result.segments) if result.segments is not None else 0)


def build_figures(result: RunResult, config: RunConfig) -> list[Path]:
    """Every report figure of a run, written to RUN_DIR/figures (with figures/figures.json)."""
    from analysis.figures import write_run_figures

    config = resolve_run_period(result.segments, config)  # the run's: already concrete, kept as it is
    fitted = result.topic_result
    return write_run_figures(
        result.segments,
        result.run_dir / "figures",
        footer=figure_footer(result),
        tables=result.tables,
        topics=fitted.topics if fitted is not None else None,
        embeddings=result.embeddings,
        table_config=config.tables,
        figure_config=config.figures,
        theme_labels=theme_labels(config),
    )


def load_run(run_dir: str | Path) -> RunResult:
    """A finished run folder read back (segments with topics, topics, embeddings, manifest), no refit."""
    from analysis.topics import load_topic_model

    run_dir = Path(run_dir)
    manifest = Manifest.from_data(run_dir, check_run(run_dir))
    result = RunResult(run_dir=run_dir, manifest=manifest)
    result.segments = pd.read_parquet(run_dir / "segments.parquet")
    if (run_dir / "model").is_dir():
        result.topic_result = load_topic_model(run_dir / "model")
    if (run_dir / "embeddings.npy").is_file():
        result.embeddings = np.load(run_dir / "embeddings.npy")
        if len(result.embeddings) != len(result.segments):
            raise RunFolderError(f"{run_dir}: embeddings.npy has {len(result.embeddings)} rows for "
                                 f"{len(result.segments)} segments; rerun with --overwrite")  # fmt: skip
    return result
