"""Word normalisation for topic words and dictionary scores: one word, one token."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.text.arabic import normalise_arabic
from analysis.text.language import ARABIZI_WORD, DIGIT_WORDS_NOT_DARIJA

# French elided articles and pronouns, with either apostrophe: "l'État", "qu’il", "jusqu'à".
_FRENCH_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
# A word token: an Arabizi word whole, digits included ("sna3i", "3ndi": the digits are letters), else
# a run of two or more letters (other digits split words and are dropped: "covid19" → "covid").
_TOKEN = re.compile(rf"{ARABIZI_WORD.pattern}|[^\W\d_]{{2,}}")
_LETTER_RUN = re.compile(r"[^\W\d_]{2,}")
# An Arabizi word holds an ASCII letter next to a digit; a text without one tokenises by letter runs
# alone, which is twice as fast as trying the Arabizi alternative at every word (same tokens).
_LETTER_BY_DIGIT = re.compile(r"[a-z][0-9]|[0-9][a-z]")


def normalise_for_words(text: str, *, stem: bool = False) -> str:
    """Lowercase, Unicode NFKC, French elisions split off, Arabic variants folded."""
    text = unicodedata.normalize("NFKC", text).lower()
    if "'" in text or "’" in text:  # the elision regex costs 1 s on morocco-news; most texts have none
        text = _FRENCH_ELISION.sub(" ", text)
    return normalise_arabic(text, stem=stem)


def tokenize_words(text: str) -> list[str]:
    """Word tokens: Arabizi words whole ("sna3i"), else runs of two or more letters (digits dropped)."""
    if not _LETTER_BY_DIGIT.search(text):
        return _LETTER_RUN.findall(text)
    tokens = _TOKEN.findall(text)
    if not any(token in DIGIT_WORDS_NOT_DARIJA for token in tokens):
        return tokens
    return [part for token in tokens for part in (
        _LETTER_RUN.findall(token) if token in DIGIT_WORDS_NOT_DARIJA else [token])]  # fmt: skip


@dataclass(frozen=True)
class TokenCodes:
    """Every token occurrence of many texts as (text row, index into the distinct tokens)."""

    rows: np.ndarray  # int64, the text of each occurrence, texts in order
    codes: np.ndarray  # int64, each occurrence's index into `distinct`
    distinct: np.ndarray  # object, the distinct tokens in first-seen order
    n_texts: int


def token_codes(token_lists: Iterable[Sequence[str]], *, block: int = 10_000) -> TokenCodes:
    """`TokenCodes` of the texts' token lists, hashed a block of texts at a time (`pandas.factorize`).

    Counting tokens one by one in a Python dict cost seconds per pass over morocco-news's 28,000
    segments; hashing a block at once is C code. Only one block's tokens are held as lists at once.
    """
    rows, codes, uniques, n_texts, n_seen = [], [], [], 0, 0
    lists_iterator = iter(token_lists)
    while lists := list(itertools.islice(lists_iterator, block)):
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=object, count=int(lengths.sum()))
        block_codes, block_uniques = pd.factorize(flat)
        rows.append(np.repeat(np.arange(n_texts, n_texts + len(lists)), lengths))
        codes.append(block_codes.astype(np.int64) + n_seen)
        uniques.append(np.asarray(block_uniques, dtype=object))
        n_texts, n_seen = n_texts + len(lists), n_seen + len(block_uniques)
    if not uniques:
        empty = np.zeros(0, dtype=np.int64)
        return TokenCodes(empty, empty, np.zeros(0, dtype=object), 0)
    to_distinct, distinct = pd.factorize(np.concatenate(uniques))
    return TokenCodes(
        rows=np.concatenate(rows),
        codes=to_distinct.astype(np.int64)[np.concatenate(codes)],
        distinct=np.asarray(distinct, dtype=object),
        n_texts=n_texts,
    )
