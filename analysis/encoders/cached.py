"""An encoder whose vectors come from the embedding cache when they are there.

The topic and theme steps embed a few short texts besides the segments: the probe of the
encoder's dimension, the codebook's theme descriptions, the topic words that BERTopic's
representation asks for. Before, every run loaded the model for them (on the sample: torch and
the USE weights, several seconds of a warm run), although the same texts gave the same vectors
the run before. Routed through the embedding cache (same identity, same text hash → the vector
computed earlier by the same encoder), a run whose texts are all cached never loads the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.encoders.base import Encoder
from analysis.encoders.cache import EmbeddingCache, default_cache_dir, encode_missing, text_key


class CachedEncoder:
    """`encoder`, with each text looked up in the embedding cache first and added to it after.

    The cache is read once, on the first `encode`; the texts missing from it are encoded together
    in one call (identical texts once) and written as one shard.
    """

    def __init__(self, encoder: Encoder, cache_dir: str | Path | None = None) -> None:
        self.encoder = encoder
        self.cache_dir = cache_dir
        self._cache: EmbeddingCache | None = None
        self._known: dict[str, np.ndarray] = {}

    @property
    def identity(self) -> dict[str, Any]:
        return self.encoder.identity

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(text) for text in texts]
        if not texts:
            return np.zeros((0, int(self.identity["dimension"])), dtype=np.float32)
        if self._cache is None:
            self._cache = EmbeddingCache(default_cache_dir(self.cache_dir or None))
            self._known = self._cache.lookup(self.identity)
        keys = [text_key(text) for text in texts]
        encode_missing(self.encoder, self._cache, self._known, keys, texts)
        return np.stack([self._known[key] for key in keys]).astype(np.float32, copy=False)
