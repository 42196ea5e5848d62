"""How UMAP and HDBSCAN scale with the number of fitted segments, and the degraded path for tiny corpora.

Rules (n = number of segments fitted, i.e. without duplicates):

    min_topic_size (HDBSCAN min_cluster_size) = clamp(round(n / 100), 5, 50), at most 10 when nr_topics is set
    n_neighbors (UMAP)                         = clamp(round(sqrt(n)), 5, 15), and < n
    n_components (UMAP)                        = config.n_components, and <= n - 2
    max_cluster_size (HDBSCAN)                 = max(round(n × max_topic_share), 10 × min_topic_size)

Settings given in `TopicConfig` win over the rules. Below TINY_CORPUS segments UMAP's spectral
layout and HDBSCAN's density estimates are meaningless, so a degraded path is taken instead —
no reduction, KMeans with k = clamp(n // 10, 1, 3) on the embeddings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis.config import TopicConfig

TINY_CORPUS = 30  # below this many fitted segments the degraded path is taken


class DegradedTopicModelWarning(UserWarning):
    """The corpus is too small for UMAP + HDBSCAN; a simpler documented model was fitted."""


@dataclass(frozen=True)
class ModelScale:
    """The corpus-size-dependent settings actually used; `degraded` is "" or why it was taken."""

    n_segments: int
    min_topic_size: int
    n_neighbors: int
    n_components: int
    degraded: str = ""
    max_cluster_size: int = 0  # 0: no cap
    n_clusters: int = 0  # KMeans k on the degraded path


def _clamp(value: float, low: int, high: int) -> int:
    return int(min(max(round(value), low), high))


def scale_parameters(n_segments: int, config: TopicConfig) -> ModelScale:
    """UMAP/HDBSCAN settings for `n_segments` following the module's scaling rules."""
    if n_segments < 1:
        raise ValueError("no segments to fit a topic model on; the corpus stage produced none")
    min_topic_size = config.min_topic_size or _clamp(n_segments / 100, 5, 50)
    if config.nr_topics and not config.min_topic_size:
        # Asked for k topics: HDBSCAN must find at least k clusters for BERTopic to merge down to k,
        # so the size rule may not starve it (BERTopic's own default is 10).
        min_topic_size = min(min_topic_size, 10)
    n_neighbors = config.n_neighbors or _clamp(math.sqrt(n_segments), 5, 15)
    n_neighbors = max(2, min(n_neighbors, n_segments - 1))
    n_components = max(1, min(config.n_components, n_segments - 2))
    if n_segments < TINY_CORPUS:
        return ModelScale(
            n_segments,
            min_topic_size,
            n_neighbors,
            n_components,
            degraded=(
                f"only {n_segments} segments (< {TINY_CORPUS}): UMAP and HDBSCAN need more, so topics come "
                f"from KMeans (k = {_clamp(n_segments // 10, 1, 3)}) on the unreduced embeddings"
            ),
            n_clusters=_clamp(n_segments // 10, 1, 3),
        )
    max_cluster_size = 0
    if config.max_topic_share is not None:
        max_cluster_size = max(round(n_segments * config.max_topic_share), 10 * min_topic_size)
    return ModelScale(
        n_segments, min_topic_size, n_neighbors, n_components, max_cluster_size=max_cluster_size
    )
