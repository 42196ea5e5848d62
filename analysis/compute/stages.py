"""The hooks `analysis.pipeline` calls when `[compute] cluster` is set: one per stage, each
recording its workers' peak memory in `WORKER_PEAKS` (written into the run manifest)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from analysis.compute.cluster import cluster_client, reset_worker_peaks, worker_peaks
from analysis.config import RunConfig

WORKER_PEAKS: dict[str, dict[str, Any]] = {}


@contextlib.contextmanager
def on_workers(name: str, config: RunConfig) -> Iterator[None]:
    """Record the workers' peak memory over a stage run in the client that sends them work."""
    with _on_workers(name, cluster_client(config.compute)):
        yield


@contextlib.contextmanager
def _on_workers(name: str, client: Any) -> Iterator[None]:
    reset_worker_peaks(client)
    started = time.perf_counter()
    yield
    WORKER_PEAKS[name] = {
        "seconds": round(time.perf_counter() - started, 3),
        "worker_peak_rss_mb": worker_peaks(client),
    }


def summary(config: RunConfig) -> dict[str, Any]:
    """What the manifest records of the cluster: its setting, fit sample and per-stage worker peaks."""
    return {
        "cluster": config.compute.cluster,
        "fit_sample": config.compute.fit_sample,
        "partition_size": config.compute.partition_size,
        "stages": dict(WORKER_PEAKS),
    }


def corpus_stage(source: str | Path, config: RunConfig, *, progress: bool = True) -> Any:
    from analysis.compute.corpus import build_corpus_partitioned

    client = cluster_client(config.compute)
    with _on_workers("corpus", client):
        return build_corpus_partitioned(
            source, config.corpus, client, partition_size=config.compute.partition_size, progress=progress
        )


def embed_stage(texts: list[str], encoder: Any, config: RunConfig, *, progress: bool = True) -> tuple[np.ndarray, Any]:
    from analysis.compute.embed import embed_partitioned

    client = cluster_client(config.compute)
    with _on_workers("embed", client):
        return embed_partitioned(
            texts, encoder, config.embed, client, partition_size=config.compute.partition_size, progress=progress
        )


def topics_stage(
    segments: Any, embeddings: np.ndarray, config: RunConfig, *, codebook: Any, encoder: Any, progress: bool = True
) -> Any:
    from analysis.compute.topics import fit_on_sample

    client = cluster_client(config.compute)
    with _on_workers("topics", client):
        return fit_on_sample(
            segments, embeddings, config.topics, config.compute, client, codebook=codebook, encoder=encoder,
            languages=config.corpus.languages, progress=progress,
        )  # fmt: skip


def tables_counter(config: RunConfig, *, progress: bool = True) -> Any:
    """The `share_table` counter that counts and bootstraps on the workers (`analysis.compute.tables`)."""
    from analysis.compute.tables import partitioned_counter

    client = cluster_client(config.compute)
    return partitioned_counter(client, partition_size=config.compute.partition_size, progress=progress)


def coherence_counter(config: RunConfig, *, progress: bool = True) -> Any:
    """The evaluation's NPMI window counter on the workers (`analysis.compute.coherence`)."""
    from analysis.compute.coherence import partitioned_block_counter

    return partitioned_block_counter(cluster_client(config.compute), progress=progress)
