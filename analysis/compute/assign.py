"""The assignment kernel the workers run (NumPy only: a worker assigning topics never imports BERTopic)."""

from __future__ import annotations

import numpy as np


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def assign_block(embeddings: np.ndarray, fitted: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Topic per row: the most similar centroid when at least its threshold, else -1.

    `fitted`: (topic ids, unit centroids, per-topic similarity thresholds)."""
    kept, centroids, thresholds = fitted
    if len(kept) == 0:
        return np.full(len(embeddings), -1, dtype=np.int64)
    similarity = unit_rows(np.asarray(embeddings, dtype=np.float32)) @ centroids.T
    best = similarity.argmax(axis=1)
    close = similarity[np.arange(len(best)), best] >= thresholds[best]
    return np.where(close, kept[best], -1).astype(np.int64)
