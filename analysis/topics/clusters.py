"""Geometry before and after clustering: language centring, outlier absorption, topic centroids.

Measured for the default encoder on morocco-news (benchmarks/results/clustering.md): segments
are centred by language before UMAP, and outliers as close to a topic as its own members join it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

CENTRING_MIN_SEGMENTS = 20  # a smaller language group is centred on the corpus mean instead of its own


def needs_language_centring(languages: Sequence[str]) -> bool:
    """Whether there is a language offset to remove: at least two languages of CENTRING_MIN_SEGMENTS.

    With one language, centring only subtracts the corpus mean, and that costs topic quality: on
    BBC News (English only, k = 10, 3 seeds) NPMI was .190 with it and .226 without (benchmarks/
    results/paper_protocol.md), so a corpus of one language is clustered as it is.
    """
    counts = Counter(str(language) for language in languages)
    return sum(count >= CENTRING_MIN_SEGMENTS for count in counts.values()) >= 2


def centre_by_language(embeddings: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """Each row minus its language's mean vector, renormalised: topics form by subject, not language.

    Multilingual encoders place each language in its own region of the space; subtracting the
    language means removes that offset (and keeps what varies within a language). A language with
    fewer than CENTRING_MIN_SEGMENTS segments would lose its signal to its own mean, so it is
    centred on the mean of the whole corpus instead.
    """
    vectors = np.asarray(embeddings, dtype=np.float32)
    languages = np.asarray(languages, dtype=object)
    if len(vectors) != len(languages):
        raise ValueError(f"{len(vectors)} embeddings but {len(languages)} languages")
    if len(vectors) == 0:
        return vectors.copy()
    centred = vectors - vectors.mean(axis=0)
    for language in set(languages.tolist()):
        rows = languages == language
        if rows.sum() >= CENTRING_MIN_SEGMENTS:
            centred[rows] = vectors[rows] - vectors[rows].mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.where(norms == 0, 1.0, norms)


def absorb_outliers(embeddings: np.ndarray, topics: np.ndarray, *, member_quantile: float) -> np.ndarray:
    """Topics with each outlier moved to its nearest topic when it is as close as that topic's members.

    HDBSCAN leaves a third or more of news paragraphs unassigned, many of them plainly on one
    topic's subject. An outlier joins the topic whose centroid is most similar (cosine) when that
    similarity reaches the `member_quantile` quantile of the topic's own members' similarities
    (0.1: closer than the least typical tenth of its members); the rest stay outliers (-1).
    """
    topics = np.asarray(topics).copy()
    kept = sorted(set(topics.tolist()) - {-1})
    outliers = np.flatnonzero(topics == -1)
    if not kept or not len(outliers):
        return topics
    vectors = np.asarray(embeddings, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centroids = np.vstack([vectors[topics == topic].mean(axis=0) for topic in kept])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    thresholds = np.array(
        [
            np.quantile(vectors[topics == topic] @ centroids[row], member_quantile)
            for row, topic in enumerate(kept)
        ]
    )
    similarity = vectors[outliers] @ centroids.T
    best = similarity.argmax(axis=1)
    close = similarity[np.arange(len(outliers)), best] >= thresholds[best]
    topics[outliers[close]] = np.asarray(kept)[best[close]]
    return topics


def centroids(embeddings: np.ndarray, topics: np.ndarray) -> np.ndarray:
    """Mean embedding per topic in sorted topic order (-1 first), as BERTopic computes them."""
    return np.vstack([embeddings[topics == topic].mean(axis=0) for topic in sorted(set(topics.tolist()))])

