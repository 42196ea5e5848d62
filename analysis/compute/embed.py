"""Embedding in partitions: each worker loads the encoder once and embeds the texts the shared
cache lacks, writing its own shard; the client then reads every vector back from the cache.

The cache (`analysis.encoders.cache`) is keyed by content hash and safe from several processes,
so a cluster needs only a folder every worker can reach (a shared path or an fsspec URL).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.compute.cluster import wait_all
from analysis.config import EmbedConfig
from analysis.encoders import EmbedStats, embed_segments, load_encoder
from analysis.encoders.cache import EmbeddingCache, default_cache_dir, text_key


def embed_partitioned(
    texts: Sequence[str],
    encoder: Any,
    config: EmbedConfig,
    client: Any,
    *,
    partition_size: int = 2_000,
    progress: bool = True,
) -> tuple[np.ndarray, EmbedStats]:
    """`analysis.encoders.embed_segments` with the missing texts embedded on the workers."""
    cache_dir = default_cache_dir(config.cache_dir or None)
    known = EmbeddingCache(cache_dir).lookup(encoder.identity)
    first_text = {}
    for text in texts:
        first_text.setdefault(text_key(text), text)
    missing = [text for key, text in first_text.items() if key not in known]
    del known
    embedded = 0
    if missing:
        futures = [
            client.submit(_embed_block, missing[i : i + partition_size], config, str(cache_dir), pure=False)
            for i in range(0, len(missing), partition_size)
        ]
        embedded = sum(wait_all(futures, "embedding", progress=progress))
    embeddings, stats = embed_segments(texts, encoder, cache_dir)  # every vector is cached now
    computed = {text_key(t) for t in missing}
    n_embedded = sum(text_key(t) in computed for t in texts) if embedded else 0
    return embeddings, EmbedStats(len(texts), n_embedded, len(texts) - n_embedded, stats.seconds)


@functools.cache
def _worker_encoder(config: EmbedConfig) -> Any:
    """The encoder of this worker process, loaded on its first task only."""
    return load_encoder(config, progress=False)


def _embed_block(texts: list[str], config: EmbedConfig, cache_dir: str) -> int:
    _, stats = embed_segments(texts, _worker_encoder(config), cache_dir)
    return stats.embedded
