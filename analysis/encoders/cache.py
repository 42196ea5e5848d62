"""The on-disk embedding cache: a rerun embeds only new or changed texts.

Keyed by the encoder's identity (for the default encoder: package version and weights hash) and
each text's sha256, so a change of encoder or weights can never return stale vectors.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import posixpath
import re
import time
import uuid
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


def default_cache_dir(configured: str | Path | None = None) -> Path | str:
    """`configured`, else $ANALYSIS_CACHE_DIR, else ~/.cache/analysis/embeddings.

    An fsspec URL (`s3://bucket/cache`) is returned as given: a cluster's workers share it."""
    for value in (configured, os.environ.get(CACHE_ENV)):
        if value and _is_url(value):
            return str(value)
        if value:
            return Path(value).expanduser()
    return Path.home() / ".cache" / "analysis" / "embeddings"


def _is_url(value: str | Path) -> bool:
    return isinstance(value, str) and "://" in value


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

    Layout: `<folder>/<identity hash>/shard-NNNNNN.npy` (float32 rows), each with a sidecar
    `shard-NNNNNN.json` (its sha256, row count and text hashes), and `index.json` (identity,
    dimension, and the shards known to the last writer). Several processes may add at once (the
    workers of a cluster): every file is written under a temporary name and then renamed, a shard
    number is claimed with a hard link that fails if another process took it, and the sidecars are
    the record, so an index overwritten by a concurrent writer loses nothing. `folder` is a path
    or an fsspec URL (`s3://…`, `gs://…`, `memory://…`); on a URL shards take unique names instead.
    Every read checks the identity, the checksum and the shape; a file failing a check is reported
    with an `EmbeddingCacheWarning` and dropped, so its texts are embedded again.
    """

    index_name = "index.json"

    def __init__(self, folder: str | Path) -> None:
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self.fs, root = fsspec.core.url_to_fs(str(folder))
        self.local = isinstance(self.fs, LocalFileSystem)
        self.folder = Path(root) if self.local else root

    def _entry_folder(self, identity: Mapping[str, Any]) -> str:
        return posixpath.join(str(self.folder), identity_key(identity))

    def lookup(self, identity: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Text hash → vector for every valid cached row of this encoder."""
        folder = self._entry_folder(identity)
        index = self._read_index(folder, identity)
        listed = {str(s.get("file", "")) for s in index["shards"]}
        shards = list(index["shards"]) + [s for s in self._sidecars(folder) if s["file"] not in listed]
        vectors: dict[str, np.ndarray] = {}
        kept = []
        for shard in shards:
            matrix = self._read_shard(folder, shard, int(index["dimension"]))
            if matrix is None:
                continue
            kept.append(shard)
            vectors.update(zip(shard["keys"], matrix, strict=True))
        if kept != index["shards"] and self.fs.exists(folder):
            index["shards"] = kept
            self._write_index(folder, index)
        return vectors

    def add(self, identity: Mapping[str, Any], keys: Sequence[str], vectors: np.ndarray) -> None:
        """Append one shard of rows (keys[i] ↔ vectors[i]); safe while other processes add too."""
        if len(keys) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(keys), int(identity["dimension"])):
            raise ValueError(
                f"cache add: expected {(len(keys), identity['dimension'])} vectors, got {vectors.shape}"
            )
        folder = self._entry_folder(identity)
        self.fs.makedirs(folder, exist_ok=True)
        index = self._read_index(folder, identity)
        buffer = io.BytesIO()
        np.save(buffer, vectors, allow_pickle=False)
        data = buffer.getvalue()
        name = self._claim_shard(folder, data, index)
        shard = {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "rows": len(keys), "keys": list(keys)}
        # the sidecar is written after its shard: a sidecar names only complete files
        self._write_atomic(posixpath.join(folder, _sidecar(name)), json.dumps(shard).encode("utf-8"))
        index = self._read_index(folder, identity)  # re-read: another process may have added meanwhile
        index["shards"] = [s for s in index["shards"] if s.get("file") != name] + [shard]
        self._write_index(folder, index)

    def _claim_shard(self, folder: str, data: bytes, index: Mapping[str, Any]) -> str:
        """Write `data` as the next free shard file and return its name."""
        if not self.local:  # object stores: a unique name needs no claim, and a put is atomic
            name = f"shard-{uuid.uuid4().hex}.npy"
            self._write_atomic(posixpath.join(folder, name), data)
            return name
        temporary = Path(folder) / f".shard-{uuid.uuid4().hex}.tmp"
        temporary.write_bytes(data)
        try:
            taken = {str(s.get("file", "")) for s in index["shards"]} | {p.name for p in Path(folder).iterdir()}
            number = 1 + max((_shard_number(name) for name in taken), default=0)
            while True:
                name = f"shard-{number:06d}.npy"
                try:
                    (Path(folder) / name).hardlink_to(temporary)  # fails if another process took it
                    return name
                except FileExistsError:
                    number += 1
        finally:
            temporary.unlink(missing_ok=True)

    def _sidecars(self, folder: str) -> list[dict[str, Any]]:
        shards = []
        for path in sorted(self.fs.glob(posixpath.join(folder, "shard-*.json"))):
            try:
                shard = json.loads(self.fs.cat_file(path).decode("utf-8"))
                if isinstance(shard, dict) and {"file", "sha256", "rows", "keys"} <= shard.keys():
                    shards.append(shard)
            except (OSError, ValueError):
                continue  # a sidecar being replaced; its shard is read on the next run
        return shards

    def _read_index(self, folder: str, identity: Mapping[str, Any]) -> dict[str, Any]:
        fresh = {
            "format": 1,
            "identity": cache_identity(identity),
            "dimension": int(identity["dimension"]),
            "shards": [],
        }
        path = posixpath.join(folder, self.index_name)
        if not self.fs.exists(path):
            return fresh
        try:
            index = json.loads(self.fs.cat_file(path).decode("utf-8"))
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

    def _read_shard(self, folder: str, shard: Mapping[str, Any], dimension: int) -> np.ndarray | None:
        path = posixpath.join(folder, str(shard.get("file", "")))
        try:
            data = self.fs.cat_file(path)
            if hashlib.sha256(data).hexdigest() != shard["sha256"]:
                raise ValueError("checksum mismatch (file changed or truncated)")
            matrix = np.load(io.BytesIO(data), allow_pickle=False)
            if matrix.shape != (int(shard["rows"]), dimension) or len(shard["keys"]) != matrix.shape[0]:
                raise ValueError(f"shape {matrix.shape}, expected ({shard['rows']}, {dimension})")
            if matrix.dtype != np.float32 or not np.isfinite(matrix).all():
                raise ValueError(f"dtype {matrix.dtype} or non-finite values")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            message = f"embedding cache file {path} is corrupt ({exc}); its rows will be embedded again"
            logger.warning(message)
            warnings.warn(message, EmbeddingCacheWarning, stacklevel=3)
            for stale in (path, posixpath.join(folder, _sidecar(str(shard.get("file", ""))))):
                with contextlib.suppress(OSError):
                    self.fs.rm_file(stale)
            return None
        return matrix

    def _write_index(self, folder: str, index: Mapping[str, Any]) -> None:
        text = json.dumps(index, ensure_ascii=False, default=str).encode("utf-8")
        self._write_atomic(posixpath.join(folder, self.index_name), text)

    def _write_atomic(self, path: str, data: bytes) -> None:
        """Write under a name no other process uses, then rename: readers never see half a file."""
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        if self.local:
            Path(temporary).write_bytes(data)
            Path(temporary).replace(path)
        else:
            self.fs.pipe_file(temporary, data)
            self.fs.mv(temporary, path)

    def _discard(self, folder: str, message: str) -> None:
        logger.warning(message)
        warnings.warn(message, EmbeddingCacheWarning, stacklevel=4)
        with contextlib.suppress(OSError, FileNotFoundError):
            self.fs.rm(folder, recursive=True)


def _sidecar(shard_file: str) -> str:
    return shard_file.removesuffix(".npy") + ".json"


def _shard_number(name: str) -> int:
    match = re.fullmatch(r"shard-(\d{6})\.npy", name)
    return int(match.group(1)) if match else 0


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def encode_missing(
    encoder: Encoder, cache: EmbeddingCache, known: dict[str, np.ndarray], keys: list[str], texts: list[str]
) -> list[str]:
    """Encode the texts whose `keys` are not in `known` (identical texts once), add them to `cache`
    and to `known`; returns the keys that were encoded."""
    missing = list(dict.fromkeys(key for key in keys if key not in known))
    if missing:
        identity = encoder.identity
        dimension = int(identity["dimension"])
        first_text = dict(zip(keys, texts, strict=True))
        new_vectors = np.asarray(encoder.encode([first_text[key] for key in missing]), dtype=np.float32)
        if new_vectors.shape != (len(missing), dimension) or not np.isfinite(new_vectors).all():
            raise ValueError(
                f"encoder {identity.get('name')} returned {new_vectors.shape} vectors for "
                f"{len(missing)} texts (dimension {dimension} expected, finite values)"
            )
        cache.add(identity, missing, new_vectors)
        known.update(zip(missing, new_vectors, strict=True))
    return missing


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
    missing = encode_missing(encoder, cache, known, keys, texts)
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
