"""Arabic script rules, defined once: letters, marks, alef folding, clitics, light normalisation.

Cleaning, dates, language detection, topic words, the codebook's term matching and the figures all
need to know what an Arabic letter is or which prefix is an article; when each file wrote its own
regex the ranges drifted apart. Every rule lives here and the other modules import it.

Ranges, from narrow to wide (each has its own use, so they stay distinct names):
- `LETTERS`: the Standard Arabic letters hamza…yeh (U+0621–U+064A), the letters of a word in news text;
- `EXTENDED_LETTERS`: U+0671–U+06D3, the Persian/Urdu/Maghrebi additions (ٱ, پ, ڤ, گ, ی …);
- `SCRIPT_RANGES`: every block of the script (with presentation forms), for "is this text Arabic script".
"""

from __future__ import annotations

import re

LETTERS = "\u0621-\u064a"
EXTENDED_LETTERS = "\u0671-\u06d3"
# Code-point blocks of the script: Arabic, Supplement, Extended-A, Presentation Forms-A and -B.
SCRIPT_RANGES = ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))

ARABIC_LETTER = re.compile(f"[{LETTERS}]")  # one Standard Arabic letter
ARABIC_WORD = re.compile(f"[{LETTERS}]+")  # a run of Standard Arabic letters
ANY_ARABIC_LETTERS = re.compile(f"[{LETTERS}{EXTENDED_LETTERS}]+")  # a run of letters, extended ones too
# Any character of the script's main blocks (letters, marks, digits, punctuation): text that needs
# right-to-left shaping when drawn. Presentation forms are left out: they are already shaped.
ARABIC_SCRIPT_CHAR = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in SCRIPT_RANGES[:3]) + "]")


def whole_word(alternatives: str) -> str:
    """A regex source matching `alternatives` not glued to another Arabic letter."""
    return rf"(?<![{LETTERS}])(?:{alternatives})(?![{LETTERS}])"


# Harakat, superscript alef, Quranic annotation marks: they change reading, not the word.
MARK_RANGES = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
TATWEEL = "\u0640"
MARKS = re.compile(f"[{MARK_RANGES}]")
DIACRITICS = re.compile(f"[{MARK_RANGES}{TATWEEL}]")  # marks and the tatweel (kashida) stretch
# Hamza-carrying and wasla alefs are written interchangeably in news text.
ALEF_FOLD = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"}
# Topic words fold further: final yeh/alef maqsura and teh marbuta/heh are spelling variants too.
# Applied as one `str.replace` per letter: `str.translate` with a table looks up every character in
# Python and was twenty times slower on morocco-news (4.2 s against 0.2 s). No replacement is itself
# a folded letter, so the order of the replacements does not matter.
_LETTER_FOLDS = (*ALEF_FOLD.items(), ("ى", "ي"), ("ة", "ه"), (TATWEEL, ""))

# Clitics written onto a word. For stemming topic words, prefixes are tried longest first; "و" and
# "ب"/"ل"/"ف"/"ك" alone are too ambiguous to strip.
ARTICLE = "ال"
PREFIXES = ("وبال", "وال", "بال", "كال", "فال", "لل", ARTICLE)
SUFFIXES = ("هما", "ات", "ون", "ين", "ها", "هم", "يه")
MIN_STEM = 3  # letters a word keeps after losing a clitic: "الما" (water) must not become "ما" (not)
# For matching a listed term inside text: conjunction و/ف, then a preposition ب/ك/ل and/or the
# article (لل is ل + ال). Terms are listed without them, so "شراكة" also finds "والشراكة".
PROCLITICS = "(?:[وف]?(?:بال|كال|لل|ال|[بكل])?)"
CONJUNCTIONS = "[وف]?"


def without_article(word: str) -> str:
    """An Arabic `word` without its leading article ال when `MIN_STEM` letters remain; others unchanged."""
    if ARABIC_LETTER.match(word) and word.startswith(ARTICLE) and len(word) - len(ARTICLE) >= MIN_STEM:
        return word[len(ARTICLE) :]
    return word


def normalise_arabic(text: str, *, stem: bool = False) -> str:
    """Fold Arabic spelling variants so that one word is one token.

    Alef forms (أ إ آ ٱ) → ا, ى → ي, ة → ه, tatweel and diacritics removed. With `stem`, each
    Arabic word also loses one article-like prefix (ال, وال, بال, لل…) and one common suffix (ات,
    ون, ين, ها…) when at least three letters remain — light and conservative, for topic words.
    Non-Arabic text passes through unchanged.
    """
    text = MARKS.sub("", text)
    for letter, folded in _LETTER_FOLDS:
        text = text.replace(letter, folded)
    if stem:
        text = ARABIC_WORD.sub(lambda match: light_stem(match.group()), text)
    return text


def light_stem(word: str) -> str:
    """`word` without one prefix of `PREFIXES` and one suffix of `SUFFIXES`, keeping `MIN_STEM` letters."""
    for prefix in PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= MIN_STEM:
            word = word[len(prefix) :]
            break
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
            return word[: -len(suffix)]
    return word
