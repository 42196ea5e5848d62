"""What every encoder is: texts in, unit-length float32 rows out, with an identity for the cache."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np


class EncoderUnavailableError(RuntimeError):
    """The requested model cannot be loaded here; the message says how to provide it."""


class EncoderFallbackWarning(UserWarning):
    """The default encoder replaces a model that could not be loaded."""


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows, with an identity for caching.

    `identity` holds what decides the vectors (name, kind, version, dimension, weights hash…) and,
    for an encoder standing in for one that could not be loaded, `fallback_reason` and
    `requested_model`; equal identities (less those two) give equal vectors.
    """

    @property
    def identity(self) -> dict[str, Any]: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32, rows of unit length."""
        ...


def unit_rows(matrix: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero; one vector becomes one row), as `dtype`."""
    matrix = np.atleast_2d(np.asarray(matrix, dtype=dtype))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def fallback_of(identity: dict[str, Any]) -> str:
    """Why this encoder stands in for another ("" when it was the one asked for)."""
    return str(identity.get("fallback_reason", "") or "")
