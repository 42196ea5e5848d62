"""The retired lexical stand-in encoder, kept only so benchmarks can compare it with the real one.

Until version 0.2 this was the package's offline encoder: hashed character 2–4-grams (random
projection) plus cross-lingual concept features from a hand-written lexicon of 152 news concepts
(`benchmarks/data/concepts.toml`) and the codebook's terms. `benchmarks/encoders.py` measures it
beside multilingual USE; the package itself no longer offers it.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.random_projection import SparseRandomProjection

from analysis.encoders import unit_rows as _unit_rows
from analysis.text import normalise_for_words

CONCEPTS = Path(__file__).parent / "data" / "concepts.toml"
OFFLINE_MODEL = "lexical-stand-in"


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
    """The lexicon `benchmarks/data/concepts.toml` (about 150 general news concepts)."""
    source = CONCEPTS
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
