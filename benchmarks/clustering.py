"""Which clustering suits the default encoder? UMAP + HDBSCAN variants, KMeans, language centring.

Multilingual USE embeddings are smoother than the retired lexical stand-in's: with plain BERTopic
settings (excess-of-mass selection, min_cluster_size 40) they collapse into a handful of clusters.
This script takes one run folder's saved embeddings (`python -m analysis topics SOURCE --out RUN`),
reduces them once per embedding variant (raw, or each language's mean subtracted), clusters the
reduced space several ways, and prints for each: topics, outlier share, agreement of the topics with
a label column (default: Hespress's `section`) over all labelled segments and over those not
outliers, topic–language NMI (lower: topics less split by language) and the share of topics in
which two languages each hold at least 10 % of the segments.

    .venv/bin/python benchmarks/clustering.py RUN_DIR [--label section] [--sample 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from hdbscan import HDBSCAN
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from umap import UMAP

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine_description, markdown_table, write_results

from analysis.topics import absorb_outliers, centre_by_language


def mixed_share(topics: np.ndarray, languages: np.ndarray) -> float:
    """Share of topics (outliers excluded) where two languages each hold >= 10 % of the segments."""
    frame = pd.DataFrame({"topic": topics, "language": languages})
    frame = frame[frame["topic"] >= 0]
    if frame.empty:
        return float("nan")
    shares = pd.crosstab(frame["topic"], frame["language"], normalize="index")
    return float(((shares >= 0.10).sum(axis=1) >= 2).mean())


def scores(topics: np.ndarray, labels: pd.Series, languages: np.ndarray) -> dict[str, float]:
    labelled = labels.notna().to_numpy() & (labels.astype(str) != "").to_numpy()
    kept = labelled & (topics >= 0)
    return {
        "topics": len(set(topics.tolist()) - {-1}),
        "outliers": float(np.mean(topics == -1)),
        "NMI label": normalized_mutual_info_score(labels[labelled], topics[labelled]),
        "NMI label, no outliers": normalized_mutual_info_score(labels[kept], topics[kept]),
        "ARI label, no outliers": adjusted_rand_score(labels[kept], topics[kept]),
        "NMI language": normalized_mutual_info_score(languages[topics >= 0], topics[topics >= 0]),
        "mixed topics": mixed_share(topics, languages),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--label", default="section")
    parser.add_argument("--sample", type=int, default=0, help="cluster a random sample of this many segments")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--variants", default="raw,centred", help="embedding variants: raw, centred")
    args = parser.parse_args()

    segments = pd.read_parquet(args.run_dir / "segments.parquet")
    embeddings = np.load(args.run_dir / "embeddings.npy")
    original = (segments["duplicate_of"].fillna("") == "").to_numpy()
    segments, embeddings = segments[original].reset_index(drop=True), embeddings[original]
    if args.sample and args.sample < len(segments):
        rows = np.random.default_rng(args.seed).choice(len(segments), args.sample, replace=False)
        segments, embeddings = segments.iloc[rows].reset_index(drop=True), embeddings[rows]
    languages = segments["language"].astype(str).to_numpy()
    labels = segments[args.label] if args.label in segments else pd.Series([None] * len(segments))
    n = len(segments)
    min_size = int(min(max(round(n / 100), 5), 50))
    print(f"{n} segments; package min_cluster_size rule gives {min_size}", flush=True)

    clusterers = {
        f"HDBSCAN eom, mcs {min_size}": lambda: HDBSCAN(min_cluster_size=min_size),
        f"HDBSCAN eom, mcs {min_size}, min_samples 10": lambda: HDBSCAN(
            min_cluster_size=min_size, min_samples=10
        ),
        f"HDBSCAN eom, mcs {min_size}, max size {n // 20}": lambda: HDBSCAN(
            min_cluster_size=min_size, min_samples=10, max_cluster_size=n // 20
        ),
        f"HDBSCAN leaf, mcs {min_size}": lambda: HDBSCAN(
            min_cluster_size=min_size, cluster_selection_method="leaf"
        ),
        f"HDBSCAN leaf, mcs {min_size}, min_samples 10": lambda: HDBSCAN(
            min_cluster_size=min_size, min_samples=10, cluster_selection_method="leaf"
        ),
        f"HDBSCAN leaf, mcs {2 * min_size}, min_samples 10": lambda: HDBSCAN(
            min_cluster_size=2 * min_size, min_samples=10, cluster_selection_method="leaf"
        ),
        "KMeans 50": lambda: KMeans(50, n_init=3, random_state=args.seed),
        "KMeans 100": lambda: KMeans(100, n_init=3, random_state=args.seed),
    }
    # HDBSCAN, then outliers moved to their nearest topic when as close as its members (quantile q)
    absorbed = {
        f"HDBSCAN eom, mcs {min_size}, outliers absorbed (q {q})": (
            lambda: HDBSCAN(min_cluster_size=min_size),
            q,
        )
        for q in (0.1, 0.15, 0.2, 0.25)
    }
    absorbed[f"HDBSCAN eom, mcs {min_size}, min_samples 10, outliers absorbed (q 0.1)"] = (
        lambda: HDBSCAN(min_cluster_size=min_size, min_samples=10),
        0.1,
    )
    rows = []
    chosen = {"raw": "raw", "centred": "centred by language"}
    for variant in [chosen[name.strip()] for name in args.variants.split(",")]:
        vectors = centre_by_language(embeddings, languages) if variant != "raw" else embeddings
        started = time.perf_counter()
        reduced = UMAP(
            n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=args.seed
        ).fit_transform(vectors)
        print(f"UMAP ({variant}): {time.perf_counter() - started:.0f} s", flush=True)
        for name, make in clusterers.items():
            started = time.perf_counter()
            topics = np.asarray(make().fit_predict(reduced))
            row = {"embeddings": variant, "clustering": name, **scores(topics, labels, languages)}
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            print(markdown_table([row]).splitlines()[-1], flush=True)
        for name, (make, quantile) in absorbed.items():
            started = time.perf_counter()
            topics = absorb_outliers(
                vectors, np.asarray(make().fit_predict(reduced)), member_quantile=quantile
            )
            row = {"embeddings": variant, "clustering": name, **scores(topics, labels, languages)}
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            print(markdown_table([row]).splitlines()[-1], flush=True)
    table = markdown_table(rows)
    print(table)
    body = (
        f"Run folder: `{args.run_dir}` ({n} original segments), UMAP 5-D (n_neighbors 15, min_dist 0, cosine, "
        f"seed {args.seed}) fitted once per embedding variant; label column `{args.label}`.\n\n{table}\n"
    )
    write_results("clustering", title="Clustering for the default encoder", markdown_body=body,
                  data={"rows": rows, "n_segments": n}, machine=machine_description())  # fmt: skip


if __name__ == "__main__":
    main()
