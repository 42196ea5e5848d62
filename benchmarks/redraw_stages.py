"""Seconds of the tables and figures stages on a finished run, without refitting.

    cp -r RUN_DIR /tmp/copy && PYTHONPATH=. python benchmarks/redraw_stages.py /tmp/copy

What `python -m analysis figures RUN_DIR` does, timed in parts: reading the run back, `build_tables`
(each function inside it on its own line), `build_figures` (all figures, in the worker processes
`analysis.figures.run.run_jobs` chooses) and `write_tables` (CSV, notes, workbook, Markdown, LaTeX).
It rewrites the copy's figures/ and tables/, so run it on a copy. Wall seconds: on a shared machine
read them with the load printed before and after. Results: benchmarks/results/sample_speed.md.
"""

from __future__ import annotations

import collections
import importlib
import os
import sys
import time
from pathlib import Path

TIMED = [("analysis.tables", ["share_table", "representative_segments"]), ("analysis.drilldown", ["drilldown", "theme_examples"]),
         ("analysis.compare", ["composition", "adjusted_trends", "compare_themes"]),
         ("analysis.themes", ["codebook_audit", "theme_agreement"])]  # fmt: skip


def main(run_dir: Path) -> None:
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    from analysis.config import RunConfig
    from analysis.pipeline import build_figures, build_tables, load_run, write_tables

    result = load_run(run_dir)
    config = RunConfig.from_dict(result.manifest.data["config"])
    print(f"read back (imports included): {time.perf_counter() - started:.1f} s")
    inner: dict[str, float] = collections.defaultdict(float)
    for module_name, names in TIMED:
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, _timed(getattr(module, name), f"{module_name}.{name}", inner))
    start = time.perf_counter()
    result.tables = build_tables(result.segments, result.topic_result.topics, config,
                                 codebook=result.topic_result.codebook)  # fmt: skip
    print(f"build_tables: {time.perf_counter() - start:.1f} s")
    for name, seconds in sorted(inner.items(), key=lambda item: -item[1]):
        print(f"  {name}: {seconds:.1f} s")
    start = time.perf_counter()
    figures = build_figures(result, config)
    print(f"build_figures: {time.perf_counter() - start:.1f} s ({len(figures)} files)")
    start = time.perf_counter()
    write_tables(result.tables, result.run_dir, config)
    print(f"write_tables: {time.perf_counter() - start:.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


def _timed(function, label, totals):
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - start

    return timed


if __name__ == "__main__":
    if len(sys.argv) != 2 or not Path(sys.argv[1], "manifest.json").is_file():
        raise SystemExit("usage: python benchmarks/redraw_stages.py RUN_DIR_COPY (a finished run folder)")
    main(Path(sys.argv[1]))
