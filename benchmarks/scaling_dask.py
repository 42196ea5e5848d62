"""Scaling on a Dask LocalCluster: time and peak memory per stage and per worker at 100k … 1M segments.

    python benchmarks/scaling_dask.py RUN_DIR --sizes 100000,1000000 --cluster local:2

RUN_DIR is a finished morocco-news run (its segments.parquet and embeddings.npy). The corpora are
**replicated morocco-news**, labelled so: replica k of a segment has its words shuffled with seed k
(so replicas are new texts for the duplicate finder and the language detector, not copies), and
its embedding is the original's plus Gaussian noise (sd 0.02 per dimension, renormalised), so the
fit and the assignment see a cloud per topic rather than identical points. Stages measured:

- corpus: the partitioned corpus stage from raw rows (a CSV of replicated morocco-news documents),
  at the sizes listed in --corpus-sizes only (cleaning and language detection are the slow part);
- dedupe: exact and near duplicates (`mark_duplicates` with the band shuffle) on the segment table;
- embed: the default encoder on --embed-slice segments with an empty cache, extrapolated linearly
  to each size (labelled "extrapolated");
- topics: BERTopic fitted on --fit-sample segments, every other original assigned in partitions,
  the topic words counted over every original in partitions (`analysis.compute.words`);
- segment themes, tables, figures, evaluate: the run's later stages on the segments with their
  topics, as `analysis.pipeline.run_all` chains them with `--cluster`. On the workers: the share
  tables' per-document counts and bootstraps (`analysis.compute.tables`). In the client: everything
  else (segment themes, the comparison and composition-adjusted trends of `analysis.compare`, theme
  agreement, drill-downs, representative segments, the codebook audit, every figure, the evaluation).
  The evaluation is measured twice: as `run` does it (NPMI's window counts made in the client, a block
  of segments at a time) and with those counts made on the workers (`analysis.compute.coherence`).
  The document map (a 2-D UMAP of every segment) is drawn only up to --max-map-size segments.

Results go to benchmarks/results/scaling_dask.{json,md} with the machine and its load.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from analysis.config import RunConfig

RESULTS = Path(__file__).parent / "results"


class PeakRSS:
    """Peak resident memory of this process while the block runs (sampled every 20 ms)."""

    def __enter__(self) -> PeakRSS:
        import psutil

        self.process, self.peak, self.stop = psutil.Process(), 0.0, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        self.started = time.perf_counter()
        return self

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss / 2**20)
            self.stop.wait(0.02)

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started
        self.stop.set()
        self.thread.join()


def shuffled(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    return " ".join(words[i] for i in rng.permutation(len(words)))


def sample_with_originals(segments: pd.DataFrame, n: int, *, seed: int = 0) -> np.ndarray:
    """Positions of `n` rows, in table order, that keep every kept duplicate's original: originals drawn
    at random (seeded) with their duplicates. Not the first `n` rows: a duplicate often comes before its
    original in the table, and the first rows cover only the first sources and dates."""
    duplicate_of = segments["duplicate_of"].fillna("").astype(str).to_numpy()
    is_duplicate = duplicate_of != ""
    rank = np.zeros(len(segments), dtype=np.int64)
    rank[~is_duplicate] = np.random.default_rng(seed).permutation(int((~is_duplicate).sum()))
    original_rank = dict(zip(segments["segment_id"].to_numpy()[~is_duplicate].tolist(), rank[~is_duplicate].tolist(),
                             strict=True))  # fmt: skip
    unknown = sorted({target for target in duplicate_of[is_duplicate] if target not in original_rank})
    if unknown:
        raise ValueError(f"duplicate_of names segments that are not originals: {unknown[:3]}")
    rank[is_duplicate] = [original_rank[target] for target in duplicate_of[is_duplicate]]
    return np.sort(np.lexsort((is_duplicate, rank))[:n])  # by original, each original before its duplicates


def replicate(
    segments: pd.DataFrame, embeddings: np.ndarray, n: int, *, with_embeddings: bool = True, first_replica: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """`n` segments: the originals, then replicas (words shuffled, embedding jittered), labelled `replica`.
    Below the base corpus's size, a random sample that keeps each kept duplicate's original (`sample_with_originals`)."""
    base = segments.reset_index(drop=True)
    if n < len(base) and "duplicate_of" in base:
        rows = sample_with_originals(base, n)
        base, embeddings = base.iloc[rows].reset_index(drop=True), embeddings[rows]
    width = embeddings.shape[1] if with_embeddings else 0  # no vectors when the topics stage is skipped
    parts, vectors = [], np.empty((n, width), dtype=np.float32)  # filled in place: no copy
    for j in range(int(np.ceil(n / len(base)))):
        k = first_replica + j
        rng = np.random.default_rng(k)
        take = min(len(base), n - j * len(base))
        part = base.iloc[:take].copy()
        if k:
            part["text"] = [shuffled(t, rng) for t in part["text"]]
            part["doc_id"] = part["doc_id"] + f"~r{k}"
            part["segment_id"] = part["doc_id"] + "#" + part["segment_index"].astype(str)
            part["duplicate_of"] = ""
        if width:
            noise = rng.normal(scale=0.02 if k else 0.0, size=(take, width)).astype(np.float32)
            jittered = embeddings[:take] + noise
            vectors[j * len(base) : j * len(base) + take] = jittered / np.linalg.norm(jittered, axis=1, keepdims=True)
        part["replica"] = k
        parts.append(part)
    return pd.concat(parts, ignore_index=True), vectors


def raw_table(segments: pd.DataFrame, path: Path) -> Path:
    """A CSV of documents (one row per replicated document, its segments joined as paragraphs)."""
    documents = (
        segments.groupby("doc_id", sort=False)
        .agg(text=("text", "\n\n".join), source=("source", "first"), date=("date_raw", "first"))
        .reset_index()
        .rename(columns={"doc_id": "id"})
    )
    documents.to_csv(path, index=False)
    return path


def write_raw_files(base: pd.DataFrame, n: int, folder: Path) -> Path:
    """Replicated morocco-news as raw documents, one CSV per replica, and a description reading them
    all; written replica by replica (in a child process), so the measured process never holds them."""
    folder.mkdir(parents=True, exist_ok=True)
    replicas = int(np.ceil(n / len(base)))
    for k in range(replicas):
        take = min(len(base), n - k * len(base))
        part, _ = replicate(base.iloc[:take], np.empty((take, 0), np.float32), take, with_embeddings=False,
                            first_replica=k)  # fmt: skip
        raw_table(part, folder / f"replica-{k:03d}.csv")
    description = folder / "replicated.toml"
    description.write_text('name = "replicated-morocco-news"\n[[input]]\npath = "replica-*.csv"\nid = "id"\n'
                           'text = "text"\ndate = "date"\nsource = { column = "source" }\n')  # fmt: skip
    return description


def _write_raw_in_child(base: pd.DataFrame, n: int, folder: Path) -> Path:
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=write_raw_files, args=(base, n, folder))
    child.start()
    child.join()
    if child.exitcode:
        raise RuntimeError(f"writing the raw files failed (exit {child.exitcode})")
    return folder / "replicated.toml"


def machine() -> dict:
    import psutil

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_start": list(os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--corpus-sizes", default="100000")
    parser.add_argument("--dedupe-sizes", default="all", help="sizes whose segment table is deduplicated "
                        "on its own (others keep the replicated flags: replica 0 the run's, replicas none)")
    parser.add_argument("--cluster", default="local:2")
    parser.add_argument("--memory-limit", default="3GiB", help="per worker")
    parser.add_argument("--fit-sample", type=int, default=10_000)
    parser.add_argument("--embed-slice", type=int, default=2_000)
    parser.add_argument("--partition-size", type=int, default=5_000)
    parser.add_argument("--corpus-partition-size", type=int, default=2_000, help="documents per corpus block")
    parser.add_argument("--scratch", default=None, help="folder for the raw files and the written run")
    parser.add_argument("--max-topics-size", type=int, default=10**9, help="larger sizes skip the topics stage")
    parser.add_argument("--embed-rate", type=float, default=0.0, help="segments/s from an earlier slice")
    parser.add_argument("--corpus-only", action="store_true", help="measure only the corpus stage")
    parser.add_argument("--max-map-size", type=int, default=200_000,
                        help="larger sizes draw every figure but the document map (a 2-D UMAP of every segment)")
    parser.add_argument("--no-downstream", action="store_true",
                        help="stop after the topics stage (no segment themes, tables, figures, evaluate)")
    parser.add_argument("--out", type=Path, default=RESULTS / "scaling_dask")
    args = parser.parse_args(argv)

    from analysis.compute import cluster_client, near_pairs_partitioned
    from analysis.compute.cluster import reset_worker_peaks, worker_peaks
    from analysis.compute.corpus import partition_corpus
    from analysis.compute.embed import embed_partitioned
    from analysis.compute.topics import fit_on_sample
    from analysis.config import ComputeConfig, CorpusConfig, EmbedConfig, TopicConfig
    from analysis.encoders import load_encoder
    from analysis.segment import mark_duplicates
    from analysis.themes import load_codebook

    compute = ComputeConfig(cluster=args.cluster, memory_limit=args.memory_limit,
                            fit_sample=args.fit_sample, partition_size=args.partition_size)  # fmt: skip
    client = cluster_client(compute)
    kept = ["doc_id", "segment_id", "segment_index", "text", "language", "source", "date", "date_raw", "duplicate_of"]
    optional = ["doc_language", "date_precision", "title", "url"]  # what the tables and figures use when there
    present = set(pq.read_schema(args.run_dir / "segments.parquet").names)
    base = pd.read_parquet(args.run_dir / "segments.parquet", columns=kept + [c for c in optional if c in present])
    base_embeddings = np.load(args.run_dir / "embeddings.npy")
    codebook = load_codebook()
    rows: list[dict] = []
    result = {"machine": machine(), "cluster": args.cluster, "memory_limit_per_worker": args.memory_limit,
              "fit_sample": args.fit_sample, "partition_size": args.partition_size,
              "corpus": f"replicated morocco-news ({len(base)} segments; replicas' words shuffled, "
                        "embeddings jittered)", "rows": rows}  # fmt: skip

    def measured(stage: str, n: int, work, *work_args, **work_kwargs) -> object:
        reset_worker_peaks(client)
        with PeakRSS() as cost:
            value = work(*work_args, **work_kwargs)
        row = {"segments": n, "stage": stage, "seconds": round(cost.seconds, 1),
               "client_peak_mb": round(cost.peak), "worker_peak_mb": worker_peaks(client),
               "load_average": round(os.getloadavg()[0], 1)}  # fmt: skip
        rows.append(row)
        print(json.dumps(row), flush=True)
        args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
        return value

    # embedding: a slice with an empty cache, extrapolated (or a rate measured by an earlier run)
    texts = base["text"].tolist()[: args.embed_slice]
    if args.embed_rate:
        rate, measured_on = args.embed_rate, "an earlier run's slice"
    else:
        encoder = load_encoder(EmbedConfig(), progress=False)
        with tempfile.TemporaryDirectory() as cache:
            embed_config = EmbedConfig(cache_dir=cache)
            measured("embed (measured slice)", len(texts), embed_partitioned, texts, encoder, embed_config,
                     client, partition_size=500, progress=False)  # fmt: skip
        rate, measured_on = len(texts) / rows[-1]["seconds"], f"{len(texts)} segments"

    for n in [int(s) for s in args.sizes.split(",") if s]:
        if str(n) in args.corpus_sizes.split(","):
            with tempfile.TemporaryDirectory(dir=args.scratch) as folder:
                description = _write_raw_in_child(base, n, Path(folder) / "raw")
                parted = measured("corpus (partitioned, from raw rows)", n, partition_corpus, description,
                                  CorpusConfig(), client, partition_size=args.corpus_partition_size, progress=False)  # fmt: skip
                rows[-1]["duplicates"] = parted.duplicates
                rows[-1]["n_segments_built"] = int(sum(parted.n_segments))
                rows[-1]["documents"] = parted.n_documents
                measured("corpus: segments.parquet + ledger.csv written by the workers", n, parted.write,
                         Path(folder) / "run", client, progress=False)  # fmt: skip
                del parted
        if args.corpus_only:
            continue
        segments, embeddings = replicate(base, base_embeddings, n, with_embeddings=n <= args.max_topics_size)
        gc.collect()
        if args.dedupe_sizes == "all" or str(n) in args.dedupe_sizes.split(","):
            near = near_pairs_partitioned(client, partition_size=args.partition_size, progress=False)
            duplicate_of = measured("dedupe (exact + near, band shuffle)", n, mark_duplicates, segments, 0.85,
                                    near_pairs=near)  # fmt: skip
            segments["duplicate_of"] = duplicate_of.astype(str)
            rows[-1]["duplicates"] = int((segments["duplicate_of"] != "").sum())
        rows.append({"segments": n, "stage": "embed (extrapolated)", "seconds": round(n / rate, 1),
                     "note": f"{rate:.1f} segments/s measured on {measured_on} (workers' encoder loading included)"})  # fmt: skip
        if n > args.max_topics_size:  # its dictionary scores alone would outlast the session: not measured
            rows.append({"segments": n, "stage": "topics", "seconds": None,
                         "note": f"not measured (above --max-topics-size {args.max_topics_size})"})  # fmt: skip
            continue
        topics = measured(f"topics (fit on {args.fit_sample}, assign the rest)", n, fit_on_sample, segments,
                          embeddings, TopicConfig(), compute, client, codebook=codebook, progress=False)  # fmt: skip
        rows[-1]["outlier_share_assigned"] = round(topics.info.get("outlier_share_assigned", 0.0), 3)
        rows[-1]["n_topics"] = int((topics.topics["topic"] >= 0).sum())
        if not args.no_downstream:
            downstream(measured, rows, segments, embeddings, topics, n, compute, args)
        del segments, embeddings, topics
        gc.collect()
    result["machine"]["load_average_end"] = list(os.getloadavg())
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    return 0


def downstream(measured, rows: list[dict], segments: pd.DataFrame, embeddings: np.ndarray, fitted, n: int, compute, args) -> None:
    """Segment themes → tables → figures → evaluate on the topics' segments, as `run_all` chains them."""
    from analysis.compute.stages import coherence_counter
    from analysis.evaluate import evaluate_run
    from analysis.figures import FigureFooter, write_run_figures
    from analysis.pipeline import (
        build_tables,
        cluster_counter,
        resolve_run_period,
        theme_labels,
        write_tables,
    )
    from analysis.themes import add_segment_themes

    config = RunConfig.from_dict({"compute": {"cluster": compute.cluster, "memory_limit": compute.memory_limit,
                                              "partition_size": compute.partition_size},
                                  "findings": {"compare_date": "2020-01-01"}})  # as the morocco-news run  # fmt: skip
    segments = segments.drop(columns=[c for c in fitted.segment_topics.columns if c != "segment_id" and c in segments])
    segments = segments.merge(fitted.segment_topics, on="segment_id", how="left", validate="one_to_one")
    segments = measured("segment themes (client)", n, add_segment_themes, segments, fitted.codebook,
                        embeddings=embeddings)  # fmt: skip
    config = resolve_run_period(segments, config)
    with tempfile.TemporaryDirectory(dir=args.scratch) as folder:
        run_dir = Path(folder)

        def tables_stage() -> dict:
            tables = build_tables(segments, fitted.topics, config, codebook=fitted.codebook,
                                  counter=cluster_counter(config, progress=True))  # fmt: skip
            write_tables(tables, run_dir, config)
            return tables

        tables = measured("tables (counts + bootstrap of the share tables on the workers; the rest in the client)",
                          n, tables_stage)  # fmt: skip
        rows[-1]["n_tables"] = len(tables)
        rows[-1]["n_documents"] = int(sum(tables["theme_by_source"].attrs.get("group_documents", {}).values()))
        names = None if n <= args.max_map_size else [
            "corpus_overview", "theme_by_language", "theme_by_source", "theme_shares_over_time",
            "theme_comparison", "top_words", "topic_similarity",
        ]  # fmt: skip
        footer = FigureFooter(corpus="replicated morocco-news", n_segments=n, encoder="benchmark", run_date="")
        stage = "figures (client)" + ("" if names is None else ", without the document map")
        files = measured(stage, n, write_run_figures, segments, run_dir / "figures", footer=footer, tables=tables,
                         topics=fitted.topics, embeddings=embeddings, table_config=config.tables,
                         figure_config=config.figures, theme_labels=theme_labels(config), names=names)  # fmt: skip
        rows[-1]["n_files"] = len(files)
        measured("evaluate (client; NPMI counted in blocks of segments)", n, evaluate_run, run_dir,
                 segments=segments, topics=fitted.topics)  # fmt: skip
        measured("evaluate (NPMI window counts on the workers, the rest in the client)", n, evaluate_run, run_dir,
                 segments=segments, topics=fitted.topics, block_counter=coherence_counter(config, progress=False))  # fmt: skip


def markdown(result: dict) -> str:
    m = result["machine"]
    lines = [
        "# Scaling on a Dask LocalCluster (`benchmarks/scaling_dask.py`)",
        "",
        f"Machine: {m['platform']}, {m['cpus']} cores, {m['memory_gib']} GiB, shared with other jobs "
        f"(load average {m['load_average_start'][0]:.1f} at the start, "
        f"{m.get('load_average_end', ['?'])[0]} at the end: times are upper bounds).",
        f"Cluster: `{result['cluster']}`, {result['memory_limit_per_worker']} per worker; "
        f"partitions of {result['partition_size']} segments; topics fitted on {result['fit_sample']} segments.",
        f"Corpus: {result['corpus']}.",
        "",
        "| segments | stage | seconds | client peak MB | worker peak MB | load | note |",
        "|---:|---|---:|---:|---|---:|---|",
    ]
    for row in result["rows"]:
        workers = ", ".join(f"{k}: {v:.0f}" for k, v in row.get("worker_peak_mb", {}).items())
        note = row.get("note", "")
        for key in ("documents", "n_segments_built", "duplicates", "n_topics", "outlier_share_assigned",
                    "n_tables", "n_documents", "n_files"):
            if key in row:
                note += f"{key} {row[key]}; "
        lines.append(f"| {row['segments']:,} | {row['stage']} | {row['seconds']} | {row.get('client_peak_mb', '')} "
                     f"| {workers} | {row.get('load_average', '')} | {note} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
