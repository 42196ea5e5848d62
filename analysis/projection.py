"""The document map's 2-D projection: its own stage, cached by the embeddings' hash.

UMAP on tens of thousands of segments takes a minute and its numba code compiles in every new
process; the map's coordinates depend only on the embeddings and the projection's settings, so a
rerun (same corpus, same encoder, a changed codebook or figure setting) reads them back instead of
fitting UMAP again. Figures receive the points; they never fit anything.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

PROJECTION_VERSION = 1  # bump when the projection's recipe changes: old cache entries stop matching
POINT_COLUMNS = ("segment_id", "topic", "topic_label", "language", "source", "text")


def projection_cache_dir(configured: str | Path | None = None) -> Path:
    """`configured`, else a `projections` folder inside the embedding cache."""
    if configured:
        return Path(configured).expanduser()
    from analysis.encoders.cache import default_cache_dir

    return default_cache_dir() / "projections"


def projection_key(embeddings: np.ndarray, *, seed: int) -> str:
    """What the 2-D coordinates depend on: the embeddings' bytes, their shape, the seed and the recipe."""
    vectors = np.ascontiguousarray(embeddings, dtype=np.float32)
    digest = hashlib.sha256(vectors.tobytes())
    digest.update(f"{vectors.shape}|seed={seed}|v{PROJECTION_VERSION}".encode())
    return digest.hexdigest()[:32]


def project_2d(
    embeddings: np.ndarray, *, seed: int = 42, cache_dir: str | Path | bool | None = None
) -> np.ndarray:
    """(n, 2) coordinates: UMAP (cosine) of the embeddings, PCA below 30 segments; cached by hash.

    `cache_dir=False` computes without reading or writing the cache.
    """
    embeddings = np.asarray(embeddings, dtype=np.float32)
    path = None
    if cache_dir is not False and len(embeddings) >= 30:
        path = projection_cache_dir(cache_dir or None) / f"{projection_key(embeddings, seed=seed)}.npy"
        if path.is_file():
            try:
                xy = np.load(path)
                if xy.shape == (len(embeddings), 2):
                    return xy
            except (OSError, ValueError):
                pass  # a torn or foreign file: recompute and overwrite it
    xy = _fit(embeddings, seed=seed)
    if path is not None:
        _write_atomically(path, xy)
    return xy


def document_map_points(
    segments: pd.DataFrame,
    embeddings: np.ndarray,
    *,
    seed: int = 42,
    cache_dir: str | Path | bool | None = None,
) -> pd.DataFrame:
    """The map's points: the segments' id, topic, label, language, source and text, with x and y."""
    if len(embeddings) != len(segments):
        raise ValueError(f"document_map_points: {len(embeddings)} embeddings for {len(segments)} segments")
    xy = project_2d(embeddings, seed=seed, cache_dir=cache_dir)
    columns = [c for c in POINT_COLUMNS if c in segments]
    return segments[columns].reset_index(drop=True).assign(x=xy[:, 0], y=xy[:, 1])


def _fit(embeddings: np.ndarray, *, seed: int) -> np.ndarray:
    if len(embeddings) < 30:  # too few for a neighbour graph: the first two principal components
        centred = embeddings - embeddings.mean(axis=0)
        return (centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T).astype(np.float32)
    from analysis.numba_cache import import_umap

    UMAP = import_umap().UMAP
    neighbours = int(np.clip(len(embeddings) // 50, 10, 30))
    model = UMAP(n_components=2, n_neighbors=neighbours, min_dist=0.1, metric="cosine", random_state=seed)
    return model.fit_transform(embeddings).astype(np.float32)


def _write_atomically(path: Path, xy: np.ndarray) -> None:
    """Write to a temporary name and rename: two processes never leave a torn file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
        with os.fdopen(handle, "wb") as file:
            np.save(file, xy)
        Path(temporary).replace(path)
    except OSError:
        pass  # a read-only cache only costs the next run a refit
