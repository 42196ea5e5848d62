"""Seconds of the non-topic stages of a run: segment themes, the tables and the codebook audit.

Takes a finished run folder (segments.parquet with topics, embeddings.npy, topics.csv, manifest.json),
loads its config from the manifest, and calls the stage functions directly, as `run` does: the segment
themes (`add_segment_themes`, with the run's encoder and embeddings; the encoder is loaded before the
clock starts, as the run already holds it) and `build_tables` (which includes the codebook audit),
with the time of each function inside `build_tables` shown on its own. The tables are written as CSV
to `--tables-out`, so that two versions of the code can be compared file by file (`--compare DIR`).

    PYTHONPATH=. .venv/bin/python benchmarks/stages.py RUN_DIR --label after --tables-out /tmp/after
    PYTHONPATH=. .venv/bin/python benchmarks/stages.py --report      # the before/after table

Results go to benchmarks/results/stages.json (one entry per label) and stages.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_description, markdown_table

RESULTS = Path(__file__).resolve().parent / "results"
# The functions build_tables calls, timed one by one (module, name).
INNER = [
    ("analysis.compare", "composition"),
    ("analysis.compare", "adjusted_trends"),
    ("analysis.compare", "compare_themes"),
    ("analysis.tables", "share_table"),
    ("analysis.tables", "representative_segments"),
    ("analysis.themes", "theme_agreement"),
    ("analysis.themes", "codebook_audit"),
    ("analysis.drilldown", "theme_examples"),
    ("analysis.drilldown", "drilldown"),
]


def _timed(seconds: dict[str, float], name: str, function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start

    return wrapper


def measure(run_dir: Path, tables_out: Path | None) -> dict[str, float]:
    import importlib

    from analysis.config import RunConfig
    from analysis.encoders import load_encoder
    from analysis.pipeline import build_tables, resolve_run_period
    from analysis.themes import add_segment_themes, load_codebook

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    config = RunConfig.from_dict(manifest["config"])
    segments = pd.read_parquet(run_dir / "segments.parquet")
    topics = pd.read_csv(run_dir / "topics.csv")
    embeddings = np.load(run_dir / "embeddings.npy")
    codebook = load_codebook(config.topics.codebook or None)
    encoder = load_encoder(config.embed, progress=False)
    encoder.encode([theme.text() for theme in codebook.themes])  # warm: the run's encoder is already loaded
    import sklearn.metrics  # noqa: F401  (imported by the topics stage in a run; not a tables cost)

    seconds: dict[str, float] = {}
    start = time.perf_counter()
    segments = add_segment_themes(segments, codebook, encoder=encoder, embeddings=embeddings)
    seconds["segment_themes"] = time.perf_counter() - start

    config = resolve_run_period(segments, config)
    originals = {}
    for module_name, name in INNER:
        module = importlib.import_module(module_name)
        originals[(module, name)] = getattr(module, name)
        setattr(module, name, _timed(seconds, f"  {name}", getattr(module, name)))
    try:
        start = time.perf_counter()
        tables = build_tables(segments, topics, config, codebook=codebook)
        seconds["tables (build_tables, audit included)"] = time.perf_counter() - start
    finally:
        for (module, name), function in originals.items():
            setattr(module, name, function)
    if tables_out is not None:
        tables_out.mkdir(parents=True, exist_ok=True)
        for stem, table in tables.items():
            table.to_csv(tables_out / f"{stem}.csv", index=False)
        segments[["segment_id", "seg_themes", "seg_theme", "seg_theme_score"]].assign(
            seg_themes=lambda f: f["seg_themes"].map("|".join)
        ).to_csv(tables_out / "segment_themes.csv", index=False)
    return seconds


def compare_dirs(a: Path, b: Path) -> list[str]:
    """Files in `a` whose content differs in `b` (or is missing there)."""
    differing = []
    for path in sorted(a.glob("*.csv")):
        other = b / path.name
        if not other.is_file() or path.read_bytes() != other.read_bytes():
            differing.append(path.name)
    return differing


def report() -> str:
    data = json.loads((RESULTS / "stages.json").read_text(encoding="utf-8"))
    labels = list(data["runs"])
    names = list(dict.fromkeys(n for label in labels for n in data["runs"][label]["seconds"]))
    rows = [
        {"stage": name, **{label: data["runs"][label]["seconds"].get(name, float("nan")) for label in labels}}
        for name in names
    ]
    lines = ["# Non-topic stages on morocco-news (seconds)", "", markdown_table(rows, digits=1), ""]
    for label in labels:
        run = data["runs"][label]
        lines.append(f"- **{label}**: commit {run['commit']}, load before/after `{run['load_before']}` / "
                     f"`{run['load_after']}`, {run['machine']}")  # fmt: skip
    lines += ["", *data.get("notes", [])]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path)
    parser.add_argument("--label", default="after")
    parser.add_argument("--commit", default="")
    parser.add_argument("--tables-out", type=Path)
    parser.add_argument("--compare", type=Path, help="a --tables-out folder of another version to diff against")
    parser.add_argument("--report", action="store_true", help="print and write stages.md from stages.json")
    args = parser.parse_args()
    if args.run_dir is not None:
        load_before = Path("/proc/loadavg").read_text().split()[:3]
        seconds = measure(args.run_dir, args.tables_out)
        load_after = Path("/proc/loadavg").read_text().split()[:3]
        for name, value in seconds.items():
            print(f"{name:45s} {value:8.1f} s")
        path = RESULTS / "stages.json"
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"runs": {}}
        machine = machine_description()
        data["runs"][args.label] = {
            "seconds": {k: round(v, 2) for k, v in seconds.items()},
            "commit": args.commit,
            "load_before": " ".join(load_before),
            "load_after": " ".join(load_after),
            "machine": ", ".join(f"{k}: {v}" for k, v in machine.items() if not isinstance(v, dict)),
            "run_dir": str(args.run_dir),
        }
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        if args.compare is not None and args.tables_out is not None:
            differing = compare_dirs(args.compare, args.tables_out)
            print("identical to --compare" if not differing else f"differ from --compare: {differing}")
    if args.report:
        text = report()
        (RESULTS / "stages.md").write_text(text, encoding="utf-8")
        print(text)


if __name__ == "__main__":
    main()
