"""Dictionary scores: every segment scored by the codebook's terms, fast enough for every run.

Terms and texts are matched in one normal form (`normalise_for_matching`); Arabic terms also match
with a proclitic or the article in front. One definition serves the topic → theme mapping, segment
themes and the codebook audit, and the hits of the last texts are kept (`dictionary_hits`) so the
three share one computation.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.codebook import OTHER, Codebook
from analysis.text import normalise_for_words
from analysis.text.arabic import ARABIC_LETTER, CONJUNCTIONS, MIN_STEM, PROCLITICS, without_article
from analysis.text.words import token_codes

_DASHES = re.compile("[-\u2010-\u2015_/]")
_WORD = re.compile(r"\w+")


# ---------------------------------------------------------------------------------------------
# Dictionary scores per segment


def normalise_for_matching(text: str) -> str:
    """The form both terms and texts are matched in: lowercased, Arabic variants folded, French
    elisions split off, dashes and slashes as spaces (so "sud-sud" finds "Sud Sud")."""
    return _DASHES.sub(" ", normalise_for_words(text))


def _term_pattern(term: str) -> str:
    words = normalise_for_matching(term).split()
    first = words[0]
    if ARABIC_LETTER.match(first):
        # Terms are listed without clitics, so "شراكة" also finds "والشراكة" (see PROCLITICS).
        first = without_article(first)
        if len(first) >= MIN_STEM:
            words[0] = PROCLITICS + re.escape(first)
        else:
            words[0] = CONJUNCTIONS + re.escape(first)
    else:
        words[0] = re.escape(first)
    return r"\s+".join([words[0], *(re.escape(word) for word in words[1:])])


def terms_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    """One regex matching any of `terms` in `normalise_for_matching` text (Arabic clitics, French
    elisions, case folded); longest first so a phrase counts once, not per word. None for no terms."""
    alternatives = _alternatives(terms)
    return _compiled(tuple(alternatives)) if alternatives else None


def _alternatives(terms: Sequence[str]) -> dict[str, tuple[str, int | None]]:
    """`terms_pattern`'s alternatives in its order (longest first, then as listed), each with its key."""
    by_pattern = {_term_pattern(term): _term_key_and_lead(term) for term in terms if term.strip()}
    return {pattern: by_pattern[pattern] for pattern in sorted(by_pattern, key=len, reverse=True)}


@functools.lru_cache(maxsize=8192)
def _compiled(alternatives: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


def theme_patterns(codebook: Codebook, *, generic: bool = False) -> dict[str, re.Pattern[str] | None]:
    """One compiled regex per theme: its specific terms, or (`generic=True`) its generic terms."""
    return {
        theme.key: terms_pattern(theme.generic_terms() if generic else theme.specific_terms())
        for theme in codebook.themes
    }


@dataclass(frozen=True)
class MatchingTexts:
    """Texts in `normalise_for_matching` form, and their distinct words joined into one string (NUL
    between words), so that the texts holding a term's key are found by one C-speed `str.find` scan
    of the distinct words instead of a regex per text.

    A key holds no whitespace, so it occurs in a text exactly when it occurs inside one of the text's
    whitespace-separated words; the distinct words of morocco-news are a sixth of its characters.
    """

    normalised: list[str]
    joined: str  # the distinct words, each followed by NUL
    starts: np.ndarray  # offset of each distinct word in `joined`, plus one past the end
    word_rows: np.ndarray  # the row of each occurrence of each distinct word, word after word
    word_offsets: np.ndarray  # word i's rows are word_rows[word_offsets[i]:word_offsets[i + 1]]
    _rows: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def of(cls, texts: Sequence[str]) -> MatchingTexts:
        normalised = [normalise_for_matching(text or "") for text in texts]
        found = token_codes(text.split() for text in normalised)
        by_word = np.argsort(found.codes, kind="stable")  # occurrences grouped by word, rows ascending
        offsets = np.concatenate([[0], np.cumsum(np.bincount(found.codes, minlength=len(found.distinct)))])
        lengths = np.fromiter((len(word) + 1 for word in found.distinct), dtype=np.int64, count=len(found.distinct))
        return cls(
            normalised=normalised,
            joined="".join(word + "\0" for word in found.distinct.tolist()),
            starts=np.concatenate([[0], np.cumsum(lengths)]),
            word_rows=found.rows[by_word],
            word_offsets=offsets,
        )

    def rows_containing(self, key: str) -> np.ndarray:
        """Rows (ascending) whose normalised text contains the substring `key` (no whitespace in it)."""
        if key not in self._rows:
            self._rows[key] = self._find(key)
        return self._rows[key]

    def _find(self, key: str) -> np.ndarray:
        words, position, find = [], 0, self.joined.find
        while key and (position := find(key, position)) != -1:
            word = int(np.searchsorted(self.starts, position, side="right")) - 1
            words.append(word)
            position = int(self.starts[word + 1])  # the next word: one word is listed once
        if not words:
            return np.zeros(0, dtype=int)
        offsets, holding = self.word_offsets, np.zeros(len(self.normalised), dtype=bool)
        for word in words:
            holding[self.word_rows[offsets[word] : offsets[word + 1]]] = True
        return np.flatnonzero(holding)

    def count_matches(self, terms: Sequence[str], rows: Sequence[int] | None = None) -> dict[int, int]:
        """Matches of `terms_pattern(terms)` (`findall`) per row that has any, among `rows` (all rows).

        Each text is searched with only the alternatives whose key it holds, in the pattern's order:
        an alternative whose key is absent can never match there, so the matches are `findall`'s own
        on the full pattern, at a fraction of its cost (Python's regex engine tries every alternative,
        clitics and all, at every word start).
        """
        alternatives = _alternatives(terms)
        present: dict[int, list[int]] = {}
        allowed = None if rows is None else {int(row) for row in rows}
        for index, (key, _) in enumerate(alternatives.values()):
            for row in self.rows_containing(key):
                if allowed is None or row in allowed:
                    present.setdefault(int(row), []).append(index)
        patterns = [_Alternative(_compiled((pattern,)), *key) for pattern, key in alternatives.items()]
        counts = {}
        for row, indices in present.items():
            count = _count_alternation(self.normalised[row], [patterns[i] for i in sorted(set(indices))])
            if count:
                counts[row] = count
        return counts


@dataclass(frozen=True)
class _Alternative:
    """One alternative of a terms pattern, its key, and how far before the key a match may start
    (None: unbounded, the key is not in the first word)."""

    pattern: re.Pattern[str]
    key: str
    lead: int | None

    def search(self, text: str, position: int) -> re.Match[str] | None:
        """`pattern.search(text, position)`, trying only the starts just before each key."""
        find, match = text.find, self.pattern.match
        at = find(self.key, position)
        if at == -1 or self.lead is None:
            return None if at == -1 else self.pattern.search(text, position)
        while at != -1:
            for start in range(max(position, at - self.lead), at + 1):
                if (found := match(text, start)) is not None:
                    return found
            at = find(self.key, at + 1)
        return None


def _count_alternation(text: str, patterns: Sequence[_Alternative]) -> int:
    """`len(findall)` of the ordered alternation of `patterns` (each a one-alternative `terms_pattern`), from
    one search per pattern: scanning left to right, the leftmost start wins, and at one start the
    first pattern in order (the alternation's choice); the scan resumes at the end of that match."""
    found = [pattern.search(text, 0) for pattern in patterns]
    count = 0
    while True:
        best = None
        for match in found:
            if match is not None and (best is None or match.start() < best.start()):
                best = match
        if best is None:
            return count
        count += 1
        position = best.end()
        found = [
            match if match is None or match.start() >= position else patterns[i].search(text, position)
            for i, match in enumerate(found)
        ]


# Most characters a term's match holds before its key when the key is the term's first word:
# a conjunction and a prefixed article or preposition (PROCLITICS: "وبال").
_MAX_LEAD = 4


def _term_key_and_lead(term: str) -> tuple[str, int | None]:
    """A substring of every text span `terms_pattern([term])` matches (its longest word, without the
    Arabic article: the pattern lets clitics and the article vary, never the stem), and at most how
    many characters a match starts before it (None when the key is not the first word)."""
    words = normalise_for_matching(term).split()
    if not words:
        return "", None
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    return without_article(words[longest]), _MAX_LEAD if longest == 0 else None


# One run computes the anchored hits of the same segments and codebook three times (theme mapping,
# segment themes, codebook audit): the last texts' matching form and hits are kept, keyed by a digest.
_LAST: dict[str, Any] = {}


def _digest(texts: Sequence[str]) -> str:
    digest = hashlib.sha1()
    for text in texts:
        digest.update((text or "").encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def matching_texts(texts: Sequence[str]) -> MatchingTexts:
    """`MatchingTexts.of(texts)`, reused while the texts stay the same (digest of their content)."""
    texts = list(texts)
    digest = _digest(texts)
    if _LAST.get("digest") != digest:
        _LAST.clear()
        _LAST.update(digest=digest, matched=MatchingTexts.of(texts), hits={})
    return _LAST["matched"]


def dictionary_hits(texts: Sequence[str], codebook: Codebook) -> tuple[np.ndarray, np.ndarray]:
    """Anchored term matches per text and theme (texts × themes) and the texts' word counts.

    A generic term counts only in a text that also matches a specific term of the same theme.
    Each theme's regex runs only on the texts holding one of its terms' keys (`MatchingTexts`).
    """
    matched = matching_texts(texts)
    key = hashlib.sha1(repr(codebook).encode("utf-8")).hexdigest()
    if key not in _LAST["hits"]:
        _LAST["hits"][key] = _dictionary_hits(matched, codebook)
    hits, n_words = _LAST["hits"][key]
    return hits.copy(), n_words.copy()


def _dictionary_hits(matched: MatchingTexts, codebook: Codebook) -> tuple[np.ndarray, np.ndarray]:
    normalised = matched.normalised
    hits = np.zeros((len(normalised), len(codebook.themes)), dtype=np.float64)
    n_words = np.fromiter((len(_WORD.findall(text)) for text in normalised), dtype=np.float64, count=len(normalised))
    for column, theme in enumerate(codebook.themes):
        own = {row: n for row, n in matched.count_matches(theme.specific_terms()).items() if n_words[row] > 0}
        common = matched.count_matches(theme.generic_terms(), rows=list(own)) if theme.generic_terms() else {}
        for row, count in own.items():
            hits[row, column] = count + common.get(row, 0)
    return hits, n_words


def dictionary_scores(texts: Sequence[str], codebook: Codebook) -> pd.DataFrame:
    """Term matches per 100 words, one column per theme, one row per text (index as given).

    Matching is on word boundaries after `normalise_for_matching`, multiword terms allowing any
    whitespace between words. Dividing by length keeps long and short segments comparable. A
    theme's generic terms count only next to one of its specific terms (see `Theme.generic`).
    """
    hits, n_words = dictionary_hits(list(texts), codebook)
    rows = 100.0 * hits / np.where(n_words == 0, 1.0, n_words)[:, None]
    index = texts.index if isinstance(texts, pd.Series) else None
    return pd.DataFrame(rows, columns=codebook.keys, index=index)


def best_dictionary_theme(scores: pd.DataFrame) -> pd.DataFrame:
    """Columns `dict_theme` (highest-scoring theme, `other` when nothing matched; ties go to the
    theme listed first in the codebook) and `dict_theme_score`."""
    if scores.shape[1] == 0:
        return pd.DataFrame({"dict_theme": OTHER, "dict_theme_score": 0.0}, index=scores.index)
    values = scores.to_numpy()
    best = values.argmax(axis=1)
    best_score = values[np.arange(len(values)), best] if len(values) else np.zeros(0)
    themes = np.where(best_score > 0, np.asarray(scores.columns, dtype=object)[best], OTHER)
    return pd.DataFrame({"dict_theme": themes, "dict_theme_score": best_score}, index=scores.index)
