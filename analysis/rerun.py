"""Commands on a finished run folder: evaluate it, redraw its figures, curate its topics, rebuild
its report, audit the codebook on its segments. None of them refits or embeds again.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.config import RunConfig
from analysis.jsonio import json_safe
from analysis.manifest import Manifest
from analysis.pipeline import (
    RunResult,
    build_figures,
    build_tables,
    findings_summary,
    load_run,
    resolve_run_period,
    write_run_report,
    write_tables,
)
from analysis.run_folder import check_run, file_digests


def run_evaluate(run_dir: str | Path, *, label_column: str | None = None, seeds: int = 0) -> dict[str, Any]:
    """Evaluate a run folder; record the numbers in its manifest and, when it has a report, in the report."""
    from analysis.evaluate import evaluate_run

    run_dir = Path(run_dir)
    check_run(run_dir)
    evaluation = evaluate_run(run_dir, label_column=label_column, seeds=seeds)
    manifest_path = run_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = Manifest.from_data(run_dir, json.loads(manifest_path.read_text(encoding="utf-8")))
        manifest.data["evaluation"] = json_safe(evaluation)  # as in evaluation.json: NaN is null (None)
        manifest.write()
        if (run_dir / "report.html").is_file():
            rebuild_report(run_dir, manifest)
    return evaluation


def rebuild_report(run_dir: str | Path, manifest: Manifest | None = None) -> Path:
    """RUN_DIR/report.html again from the folder's manifest, tables (with their notes) and figures."""
    from analysis.export import read_tables

    run_dir = Path(run_dir)
    if manifest is None:
        manifest = Manifest(run_dir=run_dir, data=json.loads((run_dir / "manifest.json").read_text(encoding="utf-8")))
    figures = sorted(p for p in (run_dir / "figures").glob("*") if p.is_file() and p.suffix != ".json")
    return write_run_report(manifest, read_tables(run_dir / "tables"), figures)


def run_figures(run_dir: str | Path) -> RunResult:
    """Redraw a finished run's figures (tables rebuilt from its segments, no refit) and its report."""
    result = load_run(run_dir)
    config = RunConfig.from_dict(result.manifest.data["config"])
    if result.topic_result is not None:
        topics = result.topic_result.topics
    else:
        from analysis.topics import read_topics_csv

        topics = read_topics_csv(result.run_dir / "topics.csv")
    codebook = getattr(result.topic_result, "codebook", None)
    with result.manifest.stage("figures"):
        result.tables = build_tables(result.segments, topics, config, codebook=codebook)
        result.figures = build_figures(result, config)
    result.manifest.write()
    result.report = write_run_report(result.manifest, result.tables, result.figures)
    return result


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
    config = resolve_run_period(result.segments, RunConfig.from_dict(result.manifest.data["config"]), result.manifest)
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
        write_tables(result.tables, result.run_dir, config)
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
    from analysis.export import to_csv
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
