"""The stages chained into runs: corpus → embed → topics → tables → figures → report.

Each `run_*` function writes into one run folder and keeps `manifest.json` up to date, so that a run
folder alone says what was done, with which configuration, encoder, seeds and package versions, and
what each stage cost in time and memory. The command line and the notebooks call these functions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import tempfile
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

SAMPLE_CORPUS = Path(__file__).parent / "data" / "sample"
MANIFEST = "manifest.json"
# Run status in manifest.json: "running" from the first write until the last stage succeeds, so a
# run stopped by Ctrl-C, an error or a killed process is never read as finished.
RUNNING, COMPLETE, FAILED, INTERRUPTED = "running", "complete", "failed", "interrupted"
_CACHE_ENV = "ANALYSIS_CACHE_DIR"


class RunFolderError(ValueError):
    """A run folder that cannot be used as asked (another run in it, unwritable, unfinished, altered)."""


# Packages whose versions decide a run's numbers; recorded in every manifest.
RECORDED_PACKAGES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "bertopic",
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
            self.data["files"].update(_digests(self.run_dir, relative))
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

    RUN_DIR must be new, empty, or hold a run of this command's SOURCE and configuration with
    `resume` (its completed stages are reused); `overwrite` clears a folder holding another run.
    """
    source_path = resolve_source(source)
    run_dir = Path(run_dir)
    if manifest is None:
        manifest = open_run(run_dir, command="corpus", source=source_path, config=config,
                            overwrite=overwrite, resume=resume)  # fmt: skip
        with finishing(manifest):
            return run_corpus(source_path, run_dir, config, progress=progress, manifest=manifest)
    return _corpus_stage(source_path, run_dir, config, progress, manifest)


def _corpus_stage(
    source_path: Path, run_dir: Path, config: RunConfig, progress: bool, manifest: Manifest
) -> RunResult:
    from analysis.corpus import Corpus, build_corpus, write_corpus

    if manifest.reusable("corpus"):
        summary = manifest.data["corpus"]
        corpus = Corpus(
            segments=pd.read_parquet(run_dir / "segments.parquet"),
            ledger=pd.read_csv(run_dir / "ledger.csv", keep_default_na=False, dtype=str).astype(
                {"n_segments": "int64"}
            ),
            name=summary.get("name", ""),
            inputs=list(summary.get("inputs", [])),
        )
        return RunResult(run_dir=run_dir, manifest=manifest, corpus=corpus, segments=corpus.segments)
    with manifest.stage("corpus"):
        corpus = build_corpus(source_path, config.corpus, progress=progress)
        _check_inputs_outside(corpus.inputs, run_dir)
        written = write_corpus(corpus, run_dir)
    manifest.data["corpus"] = corpus.summary()
    manifest.data["inputs_fingerprint"] = inputs_fingerprint(source_path, corpus.inputs)
    manifest.data["outputs"].update({k: str(Path(v).name) for k, v in written.items()})
    manifest.complete_stage("corpus", ["segments.parquet", "ledger.csv"])
    return RunResult(run_dir=run_dir, manifest=manifest, corpus=corpus, segments=corpus.segments)


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
    from analysis.embed import embed_segments, load_encoder
    from analysis.themes import load_codebook
    from analysis.topics import fit_topics, load_topic_model, save_topic_model

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
        encoder = load_encoder(config.embed, concepts=codebook.concepts())
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
    segments.to_parquet(run_dir / "segments.parquet", index=False)
    topic_result.topics.to_csv(run_dir / "topics.csv", index=False)
    np.save(run_dir / "embeddings.npy", embeddings.astype(np.float32))
    manifest.data["topics"] = {
        "n_topics": int((topic_result.topics["topic"] >= 0).sum()),
        "outlier_share": float((segments["topic"] == -1).mean()) if len(segments) else 0.0,
        **{k: v for k, v in topic_result.info.items() if isinstance(v, (str, int, float, bool))},
    }
    manifest.data["outputs"].update(
        {"topics": "topics.csv", "model": "model/", "embeddings": "embeddings.npy"}
    )
    manifest.complete_stage("topics", ["segments.parquet", "topics.csv", "embeddings.npy", "model"])
    result.embeddings = embeddings
    result.topic_result = topic_result
    result.segments = segments
    return result


def run_all(
    source: str | Path | None,
    run_dir: str | Path,
    config: RunConfig,
    *,
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> RunResult:
    """The whole job: corpus → topics → tables → figures → report."""
    run_dir = Path(run_dir)
    source_path = resolve_source(source)
    manifest = open_run(run_dir, command="run", source=source_path, config=config,
                        overwrite=overwrite, resume=resume)  # fmt: skip
    with finishing(manifest):
        return _run_all_stages(source_path, run_dir, config, progress, manifest)


def _run_all_stages(
    source_path: Path, run_dir: Path, config: RunConfig, progress: bool, manifest: Manifest
) -> RunResult:
    from analysis.evaluate import evaluate_run

    result = run_topics(source_path, run_dir, config, progress=progress, manifest=manifest)

    with manifest.stage("tables"):
        result.tables = build_tables(result.segments, result.topic_result.topics, config)
        tables_dir = run_dir / "tables"
        tables_dir.mkdir(exist_ok=True)
        for name, table in result.tables.items():
            table.to_csv(tables_dir / f"{name}.csv", index=False)
    with manifest.stage("figures"):
        result.figures = build_figures(result, config)
    with manifest.stage("evaluate"):
        manifest.data["evaluation"] = evaluate_run(run_dir)
    manifest.data["outputs"].update({"tables": "tables/", "figures": "figures/", "report": "report.html"})
    manifest.write()
    with manifest.stage("report"):
        result.report = write_run_report(manifest, result.tables, result.figures)
    manifest.write()
    return result


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
        manifest.data["evaluation"] = json.loads((run_dir / "evaluation.json").read_text(encoding="utf-8"))
        manifest.write()
        if (run_dir / "report.html").is_file():
            tables = {
                p.stem: pd.read_csv(p, keep_default_na=False)
                for p in sorted((run_dir / "tables").glob("*.csv"))
            }
            figures = sorted(p for p in (run_dir / "figures").glob("*") if p.is_file())
            write_run_report(manifest, tables, figures)
    return evaluation


def build_tables(segments: pd.DataFrame, topics: pd.DataFrame, config: RunConfig) -> dict[str, pd.DataFrame]:
    """Every table of a run, keyed by the file stem it is saved under."""
    from analysis import tables

    cfg = tables.resolve_period(segments, config.tables)
    return {
        "theme_by_source": tables.share_table(segments, by="source", unit="theme", config=cfg),
        "theme_by_language": tables.share_table(segments, by="language", unit="theme", config=cfg),
        "theme_by_period": tables.share_table(segments, by="period", unit="theme", config=cfg),
        "topic_by_language": tables.share_table(segments, by="language", unit="topic", config=cfg),
        "theme_trends": tables.theme_trends(segments, cfg),
        "representative_segments": tables.representative_segments(segments, topics=topics, n=3),
        "topics": topics,
    }


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


# --- run folders: one run per folder ---------------------------------------------------------------


def open_run(
    run_dir: Path,
    *,
    command: str,
    source: Path,
    config: RunConfig,
    overwrite: bool = False,
    resume: bool = False,
) -> Manifest:
    """Check RUN_DIR before any work and start its manifest with status "running".

    A run folder holds one run. A folder holding another run is refused unless `overwrite` (it
    is cleared first) or `resume` (same SOURCE and configuration: the stages it completed, with
    their files unchanged, are reused); a run that failed or was interrupted before completing any
    stage is cleared without asking. A non-empty folder that is not a run folder is never cleared. RUN_DIR and SOURCE may not contain each other, and RUN_DIR (and an explicit
    embedding cache) must be writable; each problem is a RunFolderError saying what to do.
    """
    if overwrite and resume:
        raise RunFolderError("--overwrite and --resume exclude each other; choose one")
    run_dir = Path(run_dir)
    _check_apart(run_dir, source)
    previous = _previous_run(run_dir)
    resumed: list[str] = []
    if (
        previous is not None
        and not previous.get("completed")
        and previous.get("status") in (FAILED, INTERRUPTED)
    ):
        overwrite = True  # a run that stopped before completing a stage left nothing to keep
    if previous is not None and overwrite:
        _clear(run_dir)
    elif previous is not None and resume:
        resumed = _resumable_stages(run_dir, previous, source, config)
        if not resumed:
            _clear(run_dir)  # nothing to reuse: start from an empty folder, as a new run would
    elif previous is not None:
        raise RunFolderError(
            f"{run_dir} holds another run ({previous.get('command', '?')} of {previous.get('source', '?')}, "
            f"started {previous.get('started', '?')}, {previous.get('status', 'complete')}); add --overwrite "
            "to replace it, --resume to continue it with the same SOURCE and settings, or choose another --out"
        )
    _check_writable(run_dir, "--out")
    if command in ("topics", "run"):
        cache = config.embed.cache_dir or os.environ.get(_CACHE_ENV, "")
        if cache:
            _check_writable(Path(cache).expanduser(), "--cache-dir (embedding cache)")
    manifest = Manifest.start(run_dir, command=command, source=str(source), config=config)
    if resumed:
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


def check_run(run_dir: Path) -> dict[str, Any]:
    """The manifest of a finished run folder whose data files are the ones the run wrote.

    Refuses a folder that is not a run folder, a run that did not finish (status running, failed,
    interrupted) and a data file changed since its run wrote it (another run's output, an edit).
    Manifests written before run status existed are accepted as they are.
    """
    path = run_dir / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(
            f"{run_dir} is not a run folder (no {MANIFEST}); make one with "
            f"`python -m analysis topics SOURCE --out {run_dir}`"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RunFolderError(f"{path}: not a readable manifest ({exc}); rerun into a new folder") from exc
    status = data.get("status", COMPLETE)
    if status != COMPLETE:
        why = f" ({data['error']})" if data.get("error") else ""
        raise RunFolderError(
            f"{run_dir}: the run did not finish (status {status!r}{why}); finish it with "
            f"`python -m analysis {data.get('command', 'run')} {data.get('source', 'SOURCE')} --out {run_dir} "
            "--resume`, or rerun it with --overwrite"
        )
    recorded = data.get("files", {})
    for relative, digest in recorded.items():
        file = run_dir / relative
        if not file.is_file() or _sha256(file) != digest:
            raise RunFolderError(
                f"{file} is not the file this run wrote ({'missing' if not file.is_file() else 'changed'} "
                f"since; run {data.get('run_id', '?')}); rerun with --overwrite"
            )
    return data


def inputs_fingerprint(source: Path, inputs: list[str]) -> str:
    """A digest of the input files' names, sizes and modification times (and a folder's listing)."""
    entries = [str(p) for p in sorted(source.iterdir())] if source.is_dir() else []
    for name in sorted({str(source), *inputs}):
        path = Path(name)
        if path.is_file():
            info = path.stat()
            entries.append(f"{path.resolve()}\t{info.st_size}\t{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode("utf-8")).hexdigest()


def _set_status(manifest: Manifest, status: str, error: str) -> None:
    manifest.data["status"] = status
    if error:
        manifest.data["error"] = error[:500]
    else:
        manifest.data.pop("error", None)
    # the folder may have gone away or become read-only; the original error is the one to report
    with contextlib.suppress(OSError):
        manifest.write()


def _check_apart(run_dir: Path, source: Path) -> None:
    from analysis.corpus import source_folders

    out, src = run_dir.resolve(), source.resolve()
    for folder in source_folders(source):
        if out.is_relative_to(folder.resolve()):
            label = (
                f"SOURCE {source}" if folder == source else f"the corpus folder {folder} that SOURCE reads"
            )
            raise RunFolderError(
                f"--out {run_dir} is inside {label}: the next run would read the outputs as articles; "
                "write the run folder outside the corpus folder"
            )
    if src.is_relative_to(out):
        raise RunFolderError(
            f"SOURCE {source} is inside --out {run_dir}: a run folder holds only a run's outputs; "
            "choose a run folder outside the corpus"
        )


def _check_inputs_outside(inputs: list[str], run_dir: Path) -> None:
    out = run_dir.resolve()
    inside = [name for name in inputs if Path(name).resolve().is_relative_to(out)]
    if inside:
        raise RunFolderError(f"input file {inside[0]} is inside --out {run_dir}; write the run folder "
                             "outside the corpus")  # fmt: skip


def _previous_run(run_dir: Path) -> dict[str, Any] | None:
    """The manifest of the run in `run_dir`; None when the folder is new or empty."""
    if run_dir.exists() and not run_dir.is_dir():
        raise RunFolderError(f"--out {run_dir} is a file, not a folder; give a folder path")
    if not run_dir.is_dir():
        return None
    try:
        entries = list(run_dir.iterdir())
    except OSError as exc:
        raise RunFolderError(
            f"cannot read --out {run_dir} ({exc.strerror or exc}); choose another folder"
        ) from exc
    if not entries:
        return None
    manifest = run_dir / MANIFEST
    if not manifest.is_file():
        raise RunFolderError(
            f"--out {run_dir} is not empty and holds no run ({MANIFEST} missing; it has "
            f"{', '.join(sorted(p.name for p in entries)[:5])}); give a new or empty folder "
            "(--overwrite clears only run folders)"
        )
    try:
        return json.loads(manifest.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return {"command": "?", "source": "?", "status": "unreadable manifest"}


def _clear(run_dir: Path) -> None:
    try:
        for entry in run_dir.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    except OSError as exc:
        raise RunFolderError(
            f"cannot clear --out {run_dir} ({exc}); remove it yourself or choose another folder"
        ) from exc


def _resumable_stages(run_dir: Path, previous: dict[str, Any], source: Path, config: RunConfig) -> list[str]:
    """The completed stages of `previous` a resumed run may reuse; refuses another source or config."""
    if previous.get("source") != str(source):
        raise RunFolderError(
            f"--resume: {run_dir} holds a run of {previous.get('source')!r}, not {str(source)!r}; "
            "use --overwrite to replace it, or another --out"
        )
    old = dict(previous.get("config", {}))
    new = json.loads(json.dumps(config.to_dict(), default=_jsonable))
    for settings in (old, new):
        settings.get("embed", {}).pop("cache_dir", None)  # where vectors are cached changes no result
    changed = sorted(
        f"[{section}] {key}"
        for section in set(old) | set(new)
        for key in set(old.get(section, {})) | set(new.get(section, {}))
        if old.get(section, {}).get(key) != new.get(section, {}).get(key)
    )
    if changed:
        raise RunFolderError(
            f"--resume: {run_dir} was run with other settings ({', '.join(changed[:5])} differ); "
            "use --overwrite to rerun it, or another --out"
        )
    completed = [s for s in previous.get("completed", []) if s in ("corpus", "topics")]
    if "corpus" in completed and previous.get("inputs_fingerprint") != inputs_fingerprint(
        source, list(previous.get("corpus", {}).get("inputs", []))
    ):
        raise RunFolderError(
            f"--resume: the files of {source} changed since {run_dir} was run; use --overwrite to rerun it"
        )
    files = previous.get("files", {})
    intact = all((run_dir / f).is_file() and _sha256(run_dir / f) == d for f, d in files.items())
    if not intact:
        return []  # an output was changed or removed: redo every stage
    return completed if "corpus" in completed else []


def _check_writable(folder: Path, option: str) -> None:
    """Create `folder` and write a probe file into it, so that OS errors surface before any work."""
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"{option} {folder} is a file, not a folder; give a folder path")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise RunFolderError(
            f"cannot write to {option} {folder} ({exc.strerror or exc}); choose a folder you can write to"
        ) from exc


def _digests(run_dir: Path, relative: str) -> dict[str, str]:
    path = run_dir / relative
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return {p.relative_to(run_dir).as_posix(): _sha256(p) for p in files}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
