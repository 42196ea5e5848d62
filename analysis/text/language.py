"""Language, script and Darija of a text, restricted to the configured languages.

Script first (Tifinagh → `ber`; Arabic script → `ar` without a model when it is the only
Arabic-script language allowed), then `lingua` restricted to the configured languages; Darija flagged
by marker words (Arabic script) or by "Arabizi" (Latin script with digits 3/7/9).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.text.arabic import DIACRITICS, SCRIPT_RANGES
from analysis.text.clean import fold_letters, line_key
from analysis.text.wordlists import read_word_list


@dataclass(frozen=True)
class LanguageGuess:
    """Language (ISO 639-1, `ber` for Tifinagh Amazigh, `und` unknown), dominant script, Darija flag.

    `confidence` is lingua's probability for model decisions and the dominant script's share of the
    letters for script decisions (Tifinagh, Arabic script, Arabizi).
    """

    language: str
    script: str  # "Arab", "Latn", "Tfng" or "other"
    darija: bool
    confidence: float


_SCRIPTS = ("other", "Arab", "Latn", "Tfng")  # codes of `_script_table`; 255 = not a letter
_SCRIPT_RANGES = {
    "Arab": SCRIPT_RANGES,
    "Latn": ((0x0041, 0x024F), (0x1E00, 0x1EFF)),
    "Tfng": ((0x2D30, 0x2D7F),),
}
_PUNCTUATION = re.compile(r"[\"'()\[\]{}«»“”‘’.,;:!?،؛؟…\-–—*/]")
_MIN_LETTERS = 3
_LINGUA_MAX_CHARS = 3000  # lingua's time grows with length; a document's first pages decide its language
_ARABIC_SCRIPT_LANGUAGES = frozenset({"ar", "fa", "ur"})
_SCRIPT_ONLY_LANGUAGES = frozenset({"ber"})  # recognised by script, not by lingua
# Arabic-script Darija: at least two distinct markers, and markers at least this share of the words,
# so a long Standard Arabic article quoting one Darija phrase is not flagged as a whole.
_DARIJA_MIN_MARKERS = 2
_DARIJA_MIN_SHARE = 0.02
# Arabizi: two distinct Darija words (markers or letter-digit words) at least, making up this share
# of the words to flag Darija (an English title quoting a Darija slogan), and this larger share, with
# French/English function words under a quarter of it, to call the text Arabic (Darija in Latin letters);
# a French text quoting "bzaf" once stays French and unflagged.
_ARABIZI_FLAG_SHARE = 0.08
_ARABIZI_LANGUAGE_SHARE = 0.2
_LATIN_WORD = re.compile(r"[A-Za-z0-9']+")
# A letter-digit word of Arabizi: digits 3/7/9 standing for ع/ح/ق among letters ("3ndi", "7na", "ta3",
# "m9awd"): two letters at least and no two digits in a row, so "G7", "4G", "covid19", "cop27" are not.
ARABIZI_WORD = re.compile(r"\b(?![a-z0-9]*\d\d)(?=(?:\d*[a-z]){2})[a-z]*[379][a-z0-9]*\b")
DIGIT_WORDS_NOT_DARIJA = frozenset(["mp3", "ps3", "w3c", "h3", "s3", "f3", "a3", "m3u", "ec3", "ct3"])
# Unambiguous French/English function words ("la", "ma", "ou", "f" are also Darija, so left out).
_FR_EN_FUNCTION_WORDS = frozenset(
    ["the", "of", "and", "to", "in", "for", "is", "on", "with", "by", "as", "at", "from", "that", "this", "are", "was", "be", "it", "an", "its", "has", "have", "le", "les", "des", "du", "est", "et", "une", "un", "pour", "dans", "sur", "avec", "par", "que", "qui", "au", "aux", "ce", "cette", "pas", "sont", "mais", "il", "elle", "nous", "vous"]
)


def detect_language(text: str, *, languages: Sequence[str] = ("ar", "fr", "en")) -> LanguageGuess:
    """Language, script and Darija flag of one text; see `detect_languages`."""
    return detect_languages([text], languages=languages)[0]


def detect_languages(
    texts: Sequence[str], *, languages: Sequence[str] = ("ar", "fr", "en")
) -> list[LanguageGuess]:
    """Language, script and Darija flag of many texts, restricted to `languages`.

    Decided by script where script decides (Tifinagh → `ber`, whatever `languages` says; Arabic
    script → `ar` without a model when `ar` is the only Arabic-script language allowed), otherwise by
    one cached lingua detector run in parallel over the batch (texts cut at 3,000 characters). Texts
    with fewer than 3 letters, or that lingua cannot place in the allowed set, are `und`.

    Darija: Arabic-script text with Darija marker words (`is_darija`). Latin-script "Arabizi" is
    Arabic-family speech, so a text that is mostly Arabizi gets language `ar`, script `Latn`,
    `darija=True`; a French or English text quoting some keeps its language with `darija=True`.
    """
    allowed = _checked_languages(tuple(languages))
    only_arabic = allowed & _ARABIC_SCRIPT_LANGUAGES == {"ar"}
    guesses: list[LanguageGuess | None] = []
    pending: dict[int, tuple[str, bool]] = {}  # text index → (script, Latin-script Darija flag)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"detect_languages: texts[{i}] is {type(text).__name__}, expected str")
        script, share, letters = _dominant_script(text)
        arabizi, function_words = _arabizi_shares(text) if script == "Latn" else (0.0, 0.0)
        if letters < _MIN_LETTERS:
            guesses.append(LanguageGuess("und", script, False, 0.0))
        elif script == "Tfng":
            guesses.append(LanguageGuess("ber", script, False, share))
        elif script == "Arab" and only_arabic:
            guesses.append(LanguageGuess("ar", script, is_darija(text), share))
        elif "ar" in allowed and arabizi >= _ARABIZI_LANGUAGE_SHARE and function_words <= arabizi / 4:
            guesses.append(LanguageGuess("ar", script, True, share))
        else:
            guesses.append(None)
            pending[i] = (script, arabizi >= _ARABIZI_FLAG_SHARE)
    if pending:
        for i, guess in _lingua_guesses(texts, pending, allowed).items():
            guesses[i] = guess
    return [guess for guess in guesses if guess is not None]


def _lingua_guesses(
    texts: Sequence[str], pending: dict[int, tuple[str, bool]], allowed: frozenset[str]
) -> dict[int, LanguageGuess]:
    """lingua's guesses for the texts that script alone could not place, in one parallel batch."""
    detector = _lingua_detector(tuple(sorted(allowed - _SCRIPT_ONLY_LANGUAGES)))
    batch = [texts[i][:_LINGUA_MAX_CHARS] for i in pending]
    found = {}
    for (i, (script, latin_darija)), values in zip(
        pending.items(), detector.compute_language_confidence_values_in_parallel(batch), strict=True
    ):
        top = values[0] if values else None
        code = top.language.iso_code_639_1.name.lower() if top is not None and top.value > 0.0 else "und"
        if top is None or code not in allowed:  # unplaced, or the stand-in of a one-language detector
            found[i] = LanguageGuess("und", script, False, 0.0)
            continue
        darija = is_darija(texts[i]) if code == "ar" and script == "Arab" else latin_darija
        found[i] = LanguageGuess(code, script, darija, round(float(top.value), 4))
    return found


def _checked_languages(languages: tuple[str, ...]) -> frozenset[str]:
    from lingua import IsoCode639_1

    if not languages:
        raise ValueError("languages is empty: give at least one ISO 639-1 code, e.g. ('ar', 'fr', 'en')")
    for code in languages:
        if code in _SCRIPT_ONLY_LANGUAGES:
            continue
        try:
            IsoCode639_1.from_str(code)
        except (ValueError, TypeError):
            raise ValueError(
                f"unknown language code {code!r} in languages; use ISO 639-1 codes that lingua knows "
                f"(e.g. 'ar', 'fr', 'en', 'es') or 'ber' for Tifinagh Amazigh"
            ) from None
    return frozenset(languages)


@functools.lru_cache(maxsize=8)
def _lingua_detector(codes: tuple[str, ...]):  # -> lingua.LanguageDetector
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    if not codes:
        raise ValueError("languages holds only script-detected languages ('ber'); add e.g. 'ar', 'fr', 'en'")
    found = [Language.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in codes]
    if len(found) == 1:
        return LanguageDetectorBuilder.from_languages(*found, *_other_than(found[0])).build()
    return LanguageDetectorBuilder.from_languages(*found).build()


def _other_than(language):  # lingua needs two languages; the extra one is never returned as a guess
    from lingua import Language

    return [Language.ENGLISH if language != Language.ENGLISH else Language.FRENCH]


def _dominant_script(text: str) -> tuple[str, float, int]:
    """(script, its share of the letters, number of letters).

    Counted with a code-point lookup table in numpy: a regex `findall` of single letters measured
    2 ms per 2,000-character Arabic story, this 0.05 ms.
    """
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    codes = codes[codes < 0x10000]  # beyond the BMP: emoji and historic scripts, not counted
    counts = np.bincount(_script_table()[codes], minlength=256)[: len(_SCRIPTS)]
    letters = int(counts.sum())
    if not letters:
        return "other", 0.0, 0
    best = int(counts.argmax())
    return _SCRIPTS[best], round(int(counts[best]) / letters, 4), letters


@functools.cache
def _script_table() -> np.ndarray:
    """Script code (index into `_SCRIPTS`) of every BMP code point; 255 where it is not a letter."""
    table = np.full(0x10000, 255, dtype=np.uint8)
    table[[c for c in range(0x10000) if chr(c).isalpha()]] = _SCRIPTS.index("other")
    for script, ranges in _SCRIPT_RANGES.items():
        for low, high in ranges:
            block = table[low : high + 1]
            block[block != 255] = _SCRIPTS.index(script)
    return table


@functools.cache
def _darija_markers() -> dict[str, frozenset[str]]:
    """The marker lists of `analysis/data/darija_markers.txt`, by section (`arabic`, `latin`).

    `arabic+waw` adds each Arabic marker with the conjunction و glued on ("وواش"), the usual spelling.
    """
    sections = {
        name: {line_key(word) for word in words}
        for name, words in read_word_list("darija_markers.txt").items()
        if name
    }
    sections["arabic+waw"] = sections["arabic"] | {f"و{word}" for word in sections["arabic"]}
    return {name: frozenset(words) for name, words in sections.items()}


def is_darija(text: str) -> bool:
    """Arabic-script Moroccan Darija: two distinct marker words, making up 2 % of the Arabic words."""
    markers = _darija_markers()["arabic"]
    words = _PUNCTUATION.sub(" ", fold_letters(DIACRITICS.sub("", text))).split()
    found = [w if w in markers else w[1:] for w in words if w in _darija_markers()["arabic+waw"]]
    return len(set(found)) >= _DARIJA_MIN_MARKERS and len(found) >= _DARIJA_MIN_SHARE * len(words)


def _arabizi_shares(text: str) -> tuple[float, float]:
    """(share of Latin-script Darija words, share of French/English function words).

    Darija words are marker words or letter-digit words (3/7/9 for ع/ح/ق); their share is 0 unless
    two distinct ones occur. The function-word share tells a French or English text quoting Darija
    ("“Chnou Bghiti Nti” campaign for gender equality") from Darija written in Latin letters.
    Counted on a Counter of the words (C speed), not word by word.
    """
    lowered = text.lower()
    words = Counter(_LATIN_WORD.findall(lowered))
    total = words.total()
    if not total:
        return 0.0, 0.0
    digit_words = {w for w in ARABIZI_WORD.findall(lowered) if w not in DIGIT_WORDS_NOT_DARIJA}
    darija = (words.keys() & _darija_markers()["latin"]) | digit_words
    function_words = sum(words[w] for w in words.keys() & _FR_EN_FUNCTION_WORDS)
    darija_share = sum(words[w] for w in darija) / total if len(darija) >= 2 else 0.0
    return darija_share, function_words / total
