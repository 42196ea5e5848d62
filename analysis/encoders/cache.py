"""The on-disk embedding cache: a rerun embeds only new or changed texts.

Keyed by the encoder's identity (for the default encoder: package version and weights hash) and
each text's sha256, so a change of encoder or weights can never return stale vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analysis.encoders.base import Encoder

logger = logging.getLogger(__name__)

CACHE_ENV = "ANALYSIS_CACHE_DIR"


class EmbeddingCacheWarning(UserWarning):
    """A cache file was corrupt or belongs to another encoder; it is discarded and rebuilt."""


@dataclass(frozen=True)
class EmbedStats:
    """What one `embed_segments` call did: rows embedded now and rows read from the cache."""

    total: int
    embedded: int
    from_cache: int
    seconds: float


def default_cache_dir(configured: str | Path | None = None) -> Path:
    """`configured`, else $ANALYSIS_CACHE_DIR, else ~/.cache/analysis/embeddings."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path.home() / ".cache" / "analysis" / "embeddings"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Why an encoder was chosen does not change its vectors: a fallback shares the explicit one's cache.
_NOT_CACHE_IDENTITY = frozenset({"fallback_reason", "requested_model"})


def cache_identity(identity: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an encoder identity that decides its vectors (JSON-normalised)."""
    kept = {key: value for key, value in identity.items() if key not in _NOT_CACHE_IDENTITY}
    return json.loads(json.dumps(kept, sort_keys=True, ensure_ascii=False, default=str))


def identity_key(identity: Mapping[str, Any]) -> str:
    canonical = json.dumps(cache_identity(identity), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:20]


class EmbeddingCache:
    """Embeddings on disk, one sub-folder per encoder identity, appended in shards.

    Layout: `<folder>/<identity hash>/index.json` (identity, dimension, and for each shard its file,
    sha256, row count and text hashes) and `shard-NNNNNN.npy` files (float32, rows in index order).
    Every read checks the identity, the checksum and the shape; a file failing a check is reported
    with an `EmbeddingCacheWarning` and dropped, so its texts are embedded again.
    """

    index_name = "index.json"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _entry_folder(self, identity: Mapping[str, Any]) -> Path:
        return self.folder / identity_key(identity)

    def lookup(self, identity: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Text hash → vector for every valid cached row of this encoder."""
        folder = self._entry_folder(identity)
        index = self._read_index(folder, identity)
        vectors: dict[str, np.ndarray] = {}
        kept = []
        for shard in index["shards"]:
            matrix = self._read_shard(folder, shard, int(index["dimension"]))
            if matrix is None:
                continue
            kept.append(shard)
            vectors.update(zip(shard["keys"], matrix, strict=True))
        if len(kept) != len(index["shards"]):
            index["shards"] = kept
            self._write_index(folder, index)
        return vectors

    def add(self, identity: Mapping[str, Any], keys: Sequence[str], vectors: np.ndarray) -> None:
        """Append one shard of rows (keys[i] ↔ vectors[i])."""
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), int(identity["dimension"])):
            raise ValueError(
                f"cache add: expected {(len(keys), identity['dimension'])} vectors, got {vectors.shape}"
            )
        folder = self._entry_folder(identity)
        folder.mkdir(parents=True, exist_ok=True)
        index = self._read_index(folder, identity)
        number = 1 + max((int(s["file"][6:12]) for s in index["shards"]), default=0)
        name = f"shard-{number:06d}.npy"
        temporary = folder / (name + ".tmp")
        with temporary.open("wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
        temporary.replace(folder / name)
        index["shards"].append(
            {"file": name, "sha256": _file_sha256(folder / name), "rows": len(keys), "keys": list(keys)}
        )
        self._write_index(folder, index)

    def _read_index(self, folder: Path, identity: Mapping[str, Any]) -> dict[str, Any]:
        fresh = {
            "format": 1,
            "identity": cache_identity(identity),
            "dimension": int(identity["dimension"]),
            "shards": [],
        }
        path = folder / self.index_name
        if not path.exists():
            return fresh
        try:
            index = json.loads(path.read_text(encoding="utf-8"))
            stored, wanted = cache_identity(index["identity"]), cache_identity(identity)
            problem = ""
            if stored != wanted:
                problem = f"it was written by another encoder ({stored.get('name')}, dimension {stored.get('dimension')})"
            elif int(index["dimension"]) != int(identity["dimension"]):
                problem = f"its dimension {index['dimension']} is not the encoder's {identity['dimension']}"
            elif not isinstance(index["shards"], list):
                problem = "its shard list is malformed"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problem = f"its index is unreadable ({type(exc).__name__}: {exc})"
        if problem:
            self._discard(folder, f"embedding cache {folder} is not usable: {problem}; rebuilding it")
            return fresh
        return index

    def _read_shard(self, folder: Path, shard: Mapping[str, Any], dimension: int) -> np.ndarray | None:
        path = folder / str(shard.get("file", ""))
        try:
            if _file_sha256(path) != shard["sha256"]:
                raise ValueError("checksum mismatch (file changed or truncated)")
            matrix = np.load(path, allow_pickle=False)
            if matrix.shape != (int(shard["rows"]), dimension) or len(shard["keys"]) != matrix.shape[0]:
                raise ValueError(f"shape {matrix.shape}, expected ({shard['rows']}, {dimension})")
            if matrix.dtype != np.float32 or not np.isfinite(matrix).all():
                raise ValueError(f"dtype {matrix.dtype} or non-finite values")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            message = f"embedding cache file {path} is corrupt ({exc}); its rows will be embedded again"
            logger.warning(message)
            warnings.warn(message, EmbeddingCacheWarning, stacklevel=3)
            path.unlink(missing_ok=True)
            return None
        return matrix

    def _write_index(self, folder: Path, index: Mapping[str, Any]) -> None:
        temporary = folder / (self.index_name + ".tmp")
        temporary.write_text(json.dumps(index, ensure_ascii=False, default=str), encoding="utf-8")
        temporary.replace(folder / self.index_name)

    def _discard(self, folder: Path, message: str) -> None:
        logger.warning(message)
        warnings.warn(message, EmbeddingCacheWarning, stacklevel=4)
        shutil.rmtree(folder, ignore_errors=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def embed_segments(
    texts: Sequence[str], encoder: Encoder, cache_dir: str | Path | None = None
) -> tuple[np.ndarray, EmbedStats]:
    """(n, d) float32 embeddings of `texts`, computing only those not already in the cache.

    Identical texts are embedded once. `cache_dir` None or "": see `default_cache_dir`.
    """
    started = time.perf_counter()
    texts = list(texts)
    identity = encoder.identity
    dimension = int(identity["dimension"])
    cache = EmbeddingCache(default_cache_dir(cache_dir))
    keys = [text_key(text) for text in texts]
    known = cache.lookup(identity)
    missing = list(dict.fromkeys(key for key in keys if key not in known))
    if missing:
        first_text = dict(zip(keys, texts, strict=True))
        new_vectors = np.asarray(encoder.encode([first_text[key] for key in missing]), dtype=np.float32)
        if new_vectors.shape != (len(missing), dimension) or not np.isfinite(new_vectors).all():
            raise ValueError(
                f"encoder {identity.get('name')} returned {new_vectors.shape} vectors for "
                f"{len(missing)} texts (dimension {dimension} expected, finite values)"
            )
        cache.add(identity, missing, new_vectors)
        known.update(zip(missing, new_vectors, strict=True))
    embeddings = np.zeros((len(texts), dimension), dtype=np.float32)
    for row, key in enumerate(keys):
        embeddings[row] = known[key]
    computed = set(missing)
    embedded = sum(key in computed for key in keys)
    stats = EmbedStats(len(texts), embedded, len(texts) - embedded, round(time.perf_counter() - started, 3))
    logger.info(
        "embedded %d of %d segments (%d from the cache)", stats.embedded, stats.total, stats.from_cache
    )
    return embeddings, stats
