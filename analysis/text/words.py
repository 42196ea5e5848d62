"""Word normalisation for topic words and dictionary scores: one word, one token."""

from __future__ import annotations

import re
import unicodedata

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
