"""The sample run's speed: `python -m analysis run --out DIR` on the packaged sample, in new processes.

    python benchmarks/sample_speed.py [--runs 2] [--fresh]

Each run is a new interpreter (warm: the embedding, projection and numba caches as the machine has
them; `--fresh`: an empty embedding cache and an empty numba cache, i.e. a new machine). Printed per
run: wall time, the load average before and after (`os.getloadavg`), and per stage the wall time,
the CPU seconds of the run's own process and those of its figure workers. On a shared machine the
wall time is mostly waiting for a core; the CPU seconds are what the run itself costs, so
`cpu_estimate` (the run's own CPU plus its workers' CPU divided among them) is what an idle machine
with as many cores would take, give or take I/O. Results: benchmarks/results/sample_speed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs inside the measured process: the CLI, with each manifest stage's CPU recorded as well.
DRIVER = r"""
import json, resource, sys, time
from contextlib import contextmanager
started = time.perf_counter()
import analysis.manifest as manifest

def cpu():
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, workers.ru_utime + workers.ru_stime

stages, plain = [], manifest.measure

@contextmanager
def measure(name, costs):
    own, workers = cpu()
    begin = time.perf_counter()
    with plain(name, costs) as cost:
        yield cost
    own2, workers2 = cpu()
    stages.append({"stage": name, "wall": time.perf_counter() - begin, "cpu": own2 - own, "workers_cpu": workers2 - workers})

manifest.measure = measure
from analysis.cli import main
code = main(["run", "--out", sys.argv[1], "--no-progress", "--overwrite"])
own, workers = cpu()
print("RESULT " + json.dumps({"code": code, "stages": stages, "cpu": own, "workers_cpu": workers,
                             "wall_in_process": time.perf_counter() - started}))
"""


def run_once(out: Path, env: dict[str, str]) -> dict:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", DRIVER, str(out)], capture_output=True, text=True, env=env,
                          cwd=ROOT, check=False)  # fmt: skip
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1].removeprefix("RESULT "))
    result.update(wall=wall, load=(load_before, os.getloadavg()[0]))
    return result


def cpu_estimate(result: dict, workers: int) -> float:
    return result["cpu"] + result["workers_cpu"] / max(workers, 1)


def table(results: list[tuple[str, dict]], workers: int) -> str:
    names = [s["stage"] for s in results[0][1]["stages"]]
    head = "| run | wall s | CPU s (own + workers) | idle estimate s | load before → after | " + " | ".join(names) + " |"
    rows = [head, "|" + "---|" * (5 + len(names))]
    for label, r in results:
        cells = [f"{s['wall']:.1f} / {s['cpu'] + s['workers_cpu']:.1f}" for s in r["stages"]]
        rows.append(f"| {label} | {r['wall']:.1f} | {r['cpu']:.1f} + {r['workers_cpu']:.1f} | "
                    f"{cpu_estimate(r, workers):.1f} | {r['load'][0]:.1f} → {r['load'][1]:.1f} | " + " | ".join(cells) + " |")  # fmt: skip
    rows.append("")
    rows.append("Stage cells: wall s / CPU s (own + figure workers). Start-up (imports) is the wall not in a stage.")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs in new processes (default 2)")
    parser.add_argument("--fresh", action="store_true", help="empty embedding and numba caches for the first run")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    results = []
    with tempfile.TemporaryDirectory(prefix="sample-speed-") as scratch:
        if args.fresh:
            env.update(ANALYSIS_CACHE_DIR=str(Path(scratch) / "embeddings"), NUMBA_CACHE_DIR=str(Path(scratch) / "numba"))
        for k in range(args.runs):
            label = ("fresh" if args.fresh and k == 0 else "warm") + f" {k + 1}"
            result = run_once(Path(scratch) / f"run-{k}", env)
            results.append((label, result))
            print(f"{label}: wall {result['wall']:.1f} s, CPU {result['cpu']:.1f} + {result['workers_cpu']:.1f} s",
                  file=sys.stderr, flush=True)  # fmt: skip
    print(f"{os.cpu_count()} cores; figure workers up to {workers}")
    print(table(results, workers))


if __name__ == "__main__":
    main()
