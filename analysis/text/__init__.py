"""Per-text functions of the corpus stage, one module per job; this package re-exports their API.

Everything here works on one string (or a batch of strings) and knows nothing of files or tables, so
`corpus` and `segment` can call it row by row and tests can pin its behaviour on single lines.

- `arabic`: Arabic script rules (letters, marks, alef folding, clitics, `normalise_arabic`), used by
  every module that touches Arabic text (cleaning, dates, language, words, themes, segments, figures);
- `clean`: `normalise_unicode`, `clean_text` (page furniture), `find_repeated_lines`;
- `dates`: `parse_date`;
- `language`: `detect_language(s)`, `is_darija`;
- `words`: `normalise_for_words`, `tokenize_words` (topic words and dictionary scores), `token_codes`
  (the tokens of many texts hashed at once, for counting);
- `wordlists`: `read_word_list`, the one reader of the packaged `analysis/data/*.txt` lists.
"""

from analysis.text.arabic import normalise_arabic
from analysis.text.clean import CleanedText, RemovedPiece, clean_text, find_repeated_lines, normalise_unicode
from analysis.text.dates import ParsedDate, parse_date
from analysis.text.language import LanguageGuess, detect_language, detect_languages, is_darija
from analysis.text.wordlists import read_word_list
from analysis.text.words import normalise_for_words, tokenize_words

__all__ = [
    "CleanedText",
    "LanguageGuess",
    "ParsedDate",
    "RemovedPiece",
    "clean_text",
    "detect_language",
    "detect_languages",
    "find_repeated_lines",
    "is_darija",
    "normalise_arabic",
    "normalise_for_words",
    "normalise_unicode",
    "parse_date",
    "read_word_list",
    "tokenize_words",
]
