"""Encoders (sentence-transformers or offline), and the on-disk embedding cache.

Three ways to embed, one protocol:

- `SentenceTransformerEncoder`: a hub name ("sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2",
  the default: BERTopic's own multilingual choice) or a local folder. Stronger multilingual options
  are "intfloat/multilingual-e5-base" / "-large"; e5 models expect every text to start with a
  prefix, "query: " for symmetric tasks like clustering (set `[embed] query_prefix = "query: "`),
  and embed worse without it.
- `OfflineEncoder`: needs no download at all. Character n-grams (within a script) plus
  cross-lingual concept features (a lexicon of news concepts with their Arabic, French and English
  words, plus the codebook's terms), so that an Arabic and a French paragraph on the same subject
  are close even though they share no characters.
- `load_encoder`: what users call. When the model cannot be loaded (no network and not in the
  Hugging Face cache, a folder without weights) it either falls back to the offline encoder, loudly,
  recording why in the encoder identity (which every run manifest and figure footer carries), or
  raises `EncoderUnavailableError` saying how to provide the model.

`embed_segments` embeds through `EmbeddingCache`, so a rerun only embeds new or changed texts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import time
import tomllib
import unicodedata
import urllib.error
import urllib.request
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.random_projection import SparseRandomProjection

from analysis.config import DEFAULT_MODEL, OFFLINE_MODEL, EmbedConfig
from analysis.text import normalise_for_words

logger = logging.getLogger(__name__)

MODEL_ENV = "ANALYSIS_MODEL"
CACHE_ENV = "ANALYSIS_CACHE_DIR"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".xml", ".h5", ".msgpack")
_HUB_PROBE_SECONDS = 3.0


class EncoderUnavailableError(RuntimeError):
    """The requested model cannot be loaded here; the message says how to provide it."""


class EncoderFallbackWarning(UserWarning):
    """The offline encoder replaces a model that could not be loaded."""


class EmbeddingCacheWarning(UserWarning):
    """A cache file was corrupt or belongs to another encoder; it is discarded and rebuilt."""


@runtime_checkable
class Encoder(Protocol):
    """Anything that turns texts into L2-normalised float32 rows, with an identity for caching."""

    @property
    def identity(self) -> dict[str, Any]:
        """Name, kind, dimension (and `fallback_reason` for fallbacks); equal identity ⇒ equal vectors."""
        ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(n, dimension) float32, rows of unit length."""
        ...


# ---------------------------------------------------------------------------------------------
# sentence-transformers


class SentenceTransformerEncoder:
    """A sentence-transformers model from the hub or a local folder, loaded on first use.

    As in scikit-learn, the constructor only stores its arguments; `load()` (called by `encode`,
    `identity` and `load_encoder`) reads the weights and raises `EncoderUnavailableError` when it
    cannot. Hub names are loaded from the local Hugging Face cache only when the hub does not answer
    within a few seconds, so that an offline machine fails in seconds rather than after minutes
    of retries.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        prefix: str = "",
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.prefix = prefix
        self.show_progress_bar = show_progress_bar

    def load(self) -> SentenceTransformerEncoder:
        if getattr(self, "model_", None) is not None:
            return self
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        from sentence_transformers import SentenceTransformer

        folder = _local_folder(self.model)
        local_only = folder is None and not hub_reachable()
        try:
            model = SentenceTransformer(
                str(folder) if folder else self.model,
                device=self.device or _auto_device(),
                local_files_only=local_only,
            )
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError… for the same cause
            detail = (str(exc).strip().splitlines() or [""])[0].rstrip(".")
            if local_only:
                reason = (
                    "the Hugging Face Hub is unreachable and the model is not in the local cache "
                    f"{_hf_cache_dir()} ({type(exc).__name__}: {detail})"
                )
            else:
                reason = f"loading failed ({type(exc).__name__}: {detail})"
            raise EncoderUnavailableError(_how_to_provide(self.model, reason)) from exc
        if self.max_length is not None:
            model.max_seq_length = self.max_length
        self.model_ = model
        self.folder_ = folder
        return self

    @property
    def identity(self) -> dict[str, Any]:
        self.load()
        identity = {
            "name": str(self.folder_) if self.folder_ else self.model,
            "kind": "sentence-transformers",
            "dimension": int(_embedding_dimension(self.model_)),
            "max_length": int(self.model_.max_seq_length or 0),
            "prefix": self.prefix,
        }
        if self.folder_:
            identity["weights_fingerprint"] = _weights_fingerprint(self.folder_)
        return identity

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if len(texts) == 0:
            return np.zeros((0, _embedding_dimension(self.model_)), dtype=np.float32)
        texts = [self.prefix + text for text in texts]
        show = self.show_progress_bar
        if show is None:
            show = len(texts) > 4 * self.batch_size
        vectors = self.model_.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _embedding_dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()


def _auto_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _local_folder(model: str) -> Path | None:
    """The model as a local folder, None for a hub name; a path-like name that is missing is an error."""
    path = Path(model).expanduser()
    if path.is_dir():
        weights = [p for p in path.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file()]
        if not weights:
            raise EncoderUnavailableError(
                _how_to_provide(model, f"the folder {path} holds no model weights (*.safetensors or *.bin)")
            )
        return path.resolve()
    if path.exists():
        raise EncoderUnavailableError(_how_to_provide(model, f"{path} is a file, not a model folder"))
    looks_like_path = model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model
    if looks_like_path:
        raise EncoderUnavailableError(_how_to_provide(model, f"the folder {path} does not exist"))
    return None


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hub_reachable(timeout: float = _HUB_PROBE_SECONDS) -> bool:
    """Whether the Hugging Face Hub answers within `timeout` seconds (False when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    request = urllib.request.Request(endpoint + "/api/models?limit=1", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False


def _how_to_provide(model: str, reason: str) -> str:
    return (
        f"cannot load the encoder model {model!r}: {reason}.\n"
        "Provide it in one of these ways:\n"
        f"  1. on a machine with internet: `huggingface-cli download {model}` (or `hf download {model}`),\n"
        "     then copy the Hugging Face cache (~/.cache/huggingface, or the folder named by $HF_HOME)\n"
        "     to this machine at the same place or point $HF_HOME at it;\n"
        "  2. or save the model to a local folder (SentenceTransformer(NAME).save(PATH)) and pass it:\n"
        f'     `--model PATH`, `[embed] model = "PATH"` in the config file, or ${MODEL_ENV}=PATH;\n'
        "  3. or use the offline encoder, which needs no download (weaker, see the README):\n"
        f'     `--model offline` or `[embed] model = "offline"`.'
    )


def _weights_fingerprint(folder: Path) -> str:
    """Names, sizes and the first and last MiB of each weights file: changes when the weights do."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}:{size}".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Offline encoder


class OfflineEncoder:
    """An encoder needing no download: character n-grams plus cross-lingual concept features.

    Character 2–4-grams of the normalised text (hashed, sublinear counts, projected by a seeded
    sparse random projection: no fitting, so the same text always gets the same vector and the
    embedding cache stays valid) tell apart texts of one script. They cannot bridge scripts, so a
    second block counts concepts — each a set of words in Arabic, Darija, French and English (the
    packaged `data/concepts.toml` plus the codebook's terms, passed as `concepts`). The blocks are
    unit-normalised and joined with weights √(1−w) and √w, so cosine similarity is
    (1−w)·char similarity + w·concept similarity; `concept_weight` w is large because only the
    concept block can carry a paragraph towards its other-language neighbours. On 4,000 morocco-news
    documents, w = 0.9 gave 60 % of BERTopic topics with two languages each ≥ 10 % (0.8: 41 %;
    character TF-IDF → LSA: 0 %); see benchmarks/offline_encoder_bridging.py.
    """

    version = 1

    def __init__(
        self,
        concepts: Mapping[str, Sequence[str]] | None = None,
        *,
        n_char_components: int = 256,
        concept_weight: float = 0.9,
        seed: int = 0,
        fallback_reason: str = "",
        requested_model: str = "",
    ) -> None:
        self.concepts = concepts
        self.n_char_components = n_char_components
        self.concept_weight = concept_weight
        self.seed = seed
        self.fallback_reason = fallback_reason
        self.requested_model = requested_model

    def _ready(self) -> OfflineEncoder:
        if getattr(self, "lexicon_", None) is not None:
            return self
        if not 0.0 <= self.concept_weight <= 1.0:
            raise ValueError(f"concept_weight must be within [0, 1], got {self.concept_weight}")
        lexicon = dict(packaged_concepts())
        for name, terms in (self.concepts or {}).items():
            if isinstance(terms, str):
                raise TypeError(f"concept {name!r}: terms must be a list of strings, not one string")
            lexicon[f"codebook:{name}"] = ConceptEntry(tuple(terms), 1.0, auto_prefix=True)
        self.lexicon_ = lexicon
        self.matcher_ = ConceptMatcher(lexicon)
        self.hasher_ = HashingVectorizer(
            analyzer="char_wb",
            ngram_range=(2, 4),
            n_features=1 << 18,
            alternate_sign=False,
            norm=None,
            lowercase=False,
            preprocessor=_char_text,
        )
        projection = SparseRandomProjection(
            n_components=self.n_char_components, dense_output=True, random_state=self.seed
        )
        self.projection_ = projection.fit(sp.csr_matrix((1, 1 << 18), dtype=np.float32))
        return self

    @property
    def identity(self) -> dict[str, Any]:
        self._ready()
        identity = {
            "name": OFFLINE_MODEL,
            "kind": "offline",
            "dimension": self.n_char_components + len(self.lexicon_),
            "version": self.version,
            "char_ngrams": [2, 4],
            "n_char_components": self.n_char_components,
            "concept_weight": self.concept_weight,
            "n_concepts": len(self.lexicon_),
            "concepts_sha256": self.matcher_.fingerprint,
            "seed": self.seed,
        }
        if self.fallback_reason:
            identity["fallback_reason"] = self.fallback_reason
            identity["requested_model"] = self.requested_model
        return identity

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self._ready()
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.n_char_components + len(self.lexicon_)), dtype=np.float32)
        counts = self.hasher_.transform(texts).astype(np.float32)
        counts.data = 1.0 + np.log(counts.data)
        chars = np.asarray(self.projection_.transform(counts), dtype=np.float32)
        concepts = self.matcher_.transform(texts)
        vectors = np.hstack(
            [
                math.sqrt(1.0 - self.concept_weight) * _unit_rows(chars),
                math.sqrt(self.concept_weight) * _unit_rows(concepts),
            ]
        )
        return _unit_rows(vectors)


def _char_text(text: str) -> str:
    """Lowercase, elisions split, Arabic folded, Latin accents removed: 'Économie' ≈ 'economie'."""
    return _strip_accents(normalise_for_words(text))


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    # Only Latin letters lose their marks; Arabic marks are already removed by normalise_arabic.
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


@dataclass(frozen=True)
class ConceptEntry:
    """One concept: its terms in any language, a weight, and whether plain terms match word starts."""

    terms: tuple[str, ...]
    weight: float = 1.0
    auto_prefix: bool = False


# Concept matching keeps one-letter words so that "e-government" or "vitamine c" stay whole terms.
_CONCEPT_WORD = re.compile(r"[^\W\d_]+")
_CLITICS = ("وبال", "وال", "بال", "كال", "فال", "ولل", "لل", "ال", "و", "ف", "ب", "ل", "ك")
_AUTO_PREFIX_MIN = 5


@functools.cache
def packaged_concepts() -> dict[str, ConceptEntry]:
    """The packaged lexicon `analysis/data/concepts.toml` (about 150 general news concepts)."""
    source = resources.files("analysis").joinpath("data/concepts.toml")
    data = tomllib.loads(source.read_text(encoding="utf-8"))
    lexicon = {}
    for name, entry in data.items():
        unknown = set(entry) - {"weight", "en", "fr", "ar", "darija"}
        if unknown:
            raise ValueError(f"{source}: concept [{name}] has unknown field(s) {sorted(unknown)}")
        terms = tuple(term for language in ("en", "fr", "ar", "darija") for term in entry.get(language, ()))
        lexicon[name] = ConceptEntry(terms, float(entry.get("weight", 1.0)))
    return lexicon


class ConceptMatcher:
    """Counts concept terms in texts, across scripts, after the same normalisation as topic words.

    A term is a sequence of word patterns; a pattern ending in `*` matches word starts. Arabic words
    of the text are also tried without their clitics (ال، و، ب، ل، ف، ك…), and so are the terms,
    so "بالمغرب" matches the term "المغرب". Codebook terms (auto_prefix) match word starts for
    words of five letters or more, so "data centre" also finds "data centres".
    """

    def __init__(self, lexicon: Mapping[str, ConceptEntry]) -> None:
        self.names = list(lexicon)
        self.weights = np.array([lexicon[name].weight for name in self.names], dtype=np.float32)
        self.exact: dict[str, list[tuple[int, tuple[tuple[str, bool], ...]]]] = {}
        self.prefix: dict[str, list[tuple[int, tuple[tuple[str, bool], ...]]]] = {}
        digest = hashlib.sha256()
        for column, name in enumerate(self.names):
            entry = lexicon[name]
            digest.update(f"{name}:{entry.weight}:{entry.auto_prefix}:{sorted(entry.terms)}".encode())
            for term in entry.terms:
                patterns = _term_patterns(term, auto_prefix=entry.auto_prefix)
                if not patterns:
                    continue
                (word, is_prefix), rest = patterns[0], patterns[1:]
                (self.prefix if is_prefix else self.exact).setdefault(word, []).append((column, rest))
        self.fingerprint = digest.hexdigest()[:16]
        self.prefix_lengths = sorted({len(word) for word in self.prefix})

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """(n, n_concepts) float32: sublinear counts (1 + log count) times the concept weight."""
        counts = np.zeros((len(texts), len(self.names)), dtype=np.float32)
        for row, text in enumerate(texts):
            forms = [_word_forms(word) for word in _CONCEPT_WORD.findall(_char_text(text))]
            for position, word_forms in enumerate(forms):
                for column in self._matches_at(forms, position, word_forms):
                    counts[row, column] += 1.0
        found = counts > 0
        counts[found] = 1.0 + np.log(counts[found])
        return counts * self.weights

    def _matches_at(self, forms: list[set[str]], position: int, word_forms: set[str]) -> set[int]:
        found: set[int] = set()
        for form in word_forms:
            candidates = list(self.exact.get(form, ()))
            for length in self.prefix_lengths:
                if length > len(form):
                    break
                candidates.extend(self.prefix.get(form[:length], ()))
            for column, rest in candidates:
                if column not in found and _rest_matches(forms, position + 1, rest):
                    found.add(column)
        return found


def _term_patterns(term: str, *, auto_prefix: bool) -> tuple[tuple[str, bool], ...]:
    patterns = []
    for raw in term.split():
        is_prefix = raw.endswith("*")
        words = _CONCEPT_WORD.findall(_char_text(raw.rstrip("*")))
        for index, word in enumerate(words):
            word = _strip_article(word)
            last = index == len(words) - 1
            prefix = (is_prefix and last) or (auto_prefix and len(word) >= _AUTO_PREFIX_MIN)
            patterns.append((word, prefix))
    return tuple(patterns)


def _strip_article(word: str) -> str:
    return word[2:] if word.startswith("ال") and len(word) >= 4 else word


@functools.lru_cache(maxsize=200_000)
def _word_forms(word: str) -> frozenset[str]:
    forms = {word}
    for clitic in _CLITICS:
        if word.startswith(clitic) and len(word) - len(clitic) >= 2:
            forms.add(word[len(clitic) :])
    return frozenset(forms)


def _rest_matches(forms: list[set[str]], start: int, rest: tuple[tuple[str, bool], ...]) -> bool:
    if start + len(rest) > len(forms):
        return False
    for offset, (word, is_prefix) in enumerate(rest):
        candidates = forms[start + offset]
        if not any(form.startswith(word) if is_prefix else form == word for form in candidates):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Choosing an encoder


def load_encoder(config: EmbedConfig, *, concepts: Mapping[str, Sequence[str]] | None = None) -> Encoder:
    """The encoder `config` asks for, loaded; or the offline encoder, announced, when allowed.

    `config.model`: a hub name, a local folder, or "offline". $ANALYSIS_MODEL replaces the
    default model (not one chosen explicitly). `concepts` (theme → terms, e.g. from the codebook)
    feed the offline encoder's cross-lingual features.
    """
    model = config.model
    if model == DEFAULT_MODEL and os.environ.get(MODEL_ENV):
        model = os.environ[MODEL_ENV]
    if model == OFFLINE_MODEL:
        return OfflineEncoder(concepts)
    encoder = SentenceTransformerEncoder(
        model,
        device=config.device,
        batch_size=config.batch_size,
        max_length=config.max_length,
        prefix=config.query_prefix,
    )
    try:
        return encoder.load()
    except EncoderUnavailableError as exc:
        if config.fallback != "offline":
            raise
        reason = str(exc).splitlines()[0]
    message = (
        f"FALLING BACK TO THE OFFLINE ENCODER: {reason}. Topics will be weaker; the fallback is recorded "
        "in the run manifest and figure footers. Use fallback = 'error' (--no-fallback) to stop instead."
    )
    logger.warning(message)
    warnings.warn(message, EncoderFallbackWarning, stacklevel=2)
    return OfflineEncoder(concepts, fallback_reason=reason, requested_model=model)


# ---------------------------------------------------------------------------------------------
# Embedding cache


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
