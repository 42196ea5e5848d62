"""Publication dates as written in sources → a date with its precision, never an invented one.

ISO forms directly, then a pre-normalisation (Maghreb/Mashreq Arabic month names to English,
weekdays and times dropped), `strptime` for the few fixed English forms and `dateparser` for
everything else; keeps the precision (day/month/year), never completes a partial date with today and
never reads relative dates ("hier") or year-less ones.
"""

from __future__ import annotations

import datetime as dt
import functools
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass

from analysis.text.arabic import ANY_ARABIC_LETTERS, whole_word
from analysis.text.clean import SPACE_RUN, normalise_unicode


@dataclass(frozen=True)
class ParsedDate:
    """A publication date with its precision; `value` is the first day of the month/year when coarser."""

    value: dt.date | None
    precision: str  # "day", "month", "year", or "" when unknown
    raw: str


# Arabic month names mapped to English before dateparser, whose Arabic locale knows only the
# Egyptian/Gulf names (يناير…ديسمبر). Two-word Levantine names first.
_ARABIC_MONTHS = {
    "كانون الثاني": "January", "تشرين الأول": "October", "تشرين الثاني": "November", "كانون الأول": "December",
    "يناير": "January", "جانفي": "January", "فبراير": "February", "فيفري": "February", "شباط": "February",
    "مارس": "March", "آذار": "March", "أبريل": "April", "ابريل": "April", "إبريل": "April", "أفريل": "April",
    "افريل": "April", "نيسان": "April", "ماي": "May", "مايو": "May", "أيار": "May", "ايار": "May",
    "يونيو": "June", "يونيه": "June", "جوان": "June", "حزيران": "June", "يوليوز": "July", "يوليو": "July",
    "يوليه": "July", "جويلية": "July", "تموز": "July", "غشت": "August", "أغسطس": "August", "اغسطس": "August",
    "أوت": "August", "اوت": "August", "آب": "August", "شتنبر": "September", "سبتمبر": "September",
    "أيلول": "September", "ايلول": "September", "أكتوبر": "October", "اكتوبر": "October", "نونبر": "November",
    "نوفمبر": "November", "دجنبر": "December", "ديسمبر": "December",
}  # fmt: skip
_ARABIC_WEEKDAYS = frozenset(["الأحد", "الاحد", "الإثنين", "الاثنين", "الثلاثاء", "الأربعاء", "الاربعاء", "الخميس", "الجمعة", "السبت"])
_ARABIC_MONTH_RE = re.compile(whole_word("|".join(sorted(_ARABIC_MONTHS, key=len, reverse=True))))
_ARABIC_WEEKDAY_RE = re.compile(whole_word("|".join(_ARABIC_WEEKDAYS)))
_ISO_LIKE = re.compile(
    r"\d{4}(?:-\d{2}(?:-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)?)?"
)
_FIRST_OF_MONTH = re.compile(r"\b1(?:er|re)\b")
_TIME_OF_DAY = re.compile(r"\b\d{1,2} ?[:hH] ?\d{2}(?::\d{2})?(?: ?[aApP]\.?[mM]\.?)?(?!\d)")
_DATE_EDGE = " -–—,|/"
_FIXED_FORMATS = (
    ("%d %B %Y", "day"),
    ("%B %d, %Y", "day"),
    ("%b %d, %Y", "day"),
    ("%d %b %Y", "day"),
    ("%B %Y", "month"),
)
_EASTERN_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_DATE_SETTINGS = {
    "PREFER_DAY_OF_MONTH": "first",  # a month-precision date is the 1st, never today's day
    "PREFER_MONTH_OF_YEAR": "first",  # a year-precision date is 1 January, never today's month
    "REQUIRE_PARTS": ["year"],  # "24 mai" has no year: unknown, not this year
    "DATE_ORDER": "DMY",  # Maghreb, French and Arabic convention for 03/04/2020
    "PARSERS": ["custom-formats", "absolute-time"],  # no "2 days ago", no Unix timestamps
    "RETURN_AS_TIMEZONE_AWARE": False,
}


def parse_date(raw: object, *, languages: Sequence[str] = ("ar", "fr", "en")) -> ParsedDate:
    """Parse a publication date as written in a source; unparseable → value None, raw kept.

    Accepts strings ("السبت 03 أكتوبر 2020 - 07:50", "13 Déc 2019", "1er mai 2019", "May 24, 2020",
    "2024-05-07", "2024-05", "2024"), datetime/date objects and integer years; None/NaN/NaT are
    unknown. A date is never invented: relative expressions and dates without a year stay unknown.
    `languages` are the dateparser languages tried (English is always added, as Arabic month names
    are mapped to English first). Results are cached by raw string, so a column of repeated dates
    costs one parse per distinct value.
    """
    if raw is None or isinstance(raw, bool) or _is_missing(raw):
        return ParsedDate(None, "", "" if raw is None or _is_missing(raw) else str(raw))
    if isinstance(raw, dt.datetime):
        return ParsedDate(raw.date(), "day", str(raw))
    if isinstance(raw, dt.date):
        return ParsedDate(raw, "day", str(raw))
    if isinstance(raw, numbers.Real) and float(raw).is_integer() and 1000 <= raw <= 2999:
        return ParsedDate(dt.date(int(raw), 1, 1), "year", str(int(raw)))
    return _parse_date_text(str(raw), tuple(languages))


def _is_missing(raw: object) -> bool:
    try:
        return bool(raw != raw)  # NaN and NaT are the only values unequal to themselves
    except (TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=65536)
def _parse_date_text(raw: str, languages: tuple[str, ...]) -> ParsedDate:
    text = normalise_unicode(raw).replace("\n", " ")
    if _ISO_LIKE.fullmatch(text):
        found = _iso_date(text)  # an impossible ISO date ("2024-13") is unknown, not reinterpreted
    elif text:
        text = _prenormalised(text)
        found = _fixed_format_date(text) or _dateparser_date(text, languages)
    else:
        found = None
    return ParsedDate(None, "", raw) if found is None else ParsedDate(*found, raw)


def _iso_date(text: str) -> tuple[dt.date, str] | None:
    """ISO 8601 `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, optionally followed by a time (ignored)."""
    parts = text[:10].split("-")
    try:
        if len(parts) == 1:
            return dt.date(int(parts[0]), 1, 1), "year"
        if len(parts) == 2:
            return dt.date(int(parts[0]), int(parts[1]), 1), "month"
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2])), "day"
    except ValueError:
        return None


def _prenormalised(text: str) -> str:
    """Western digits, no weekday or time of day, Arabic month names in English (dateparser knows them)."""
    text = _ARABIC_WEEKDAY_RE.sub(" ", text.translate(_EASTERN_DIGITS))
    text = _ARABIC_MONTH_RE.sub(lambda m: f" {_ARABIC_MONTHS[m.group()]} ", text)
    text = _TIME_OF_DAY.sub(" ", _FIRST_OF_MONTH.sub("1", text))
    return SPACE_RUN.sub(" ", text).strip(_DATE_EDGE)


def _fixed_format_date(text: str) -> tuple[dt.date, str] | None:
    """The common fixed English forms ("03 October 2020", "May 24, 2020") with `strptime`, 30× faster."""
    for pattern, precision in _FIXED_FORMATS:
        try:
            return dt.datetime.strptime(text, pattern).date(), precision
        except ValueError:
            continue
    return None


@functools.lru_cache(maxsize=65536)
def _dateparser_date(text: str, languages: tuple[str, ...]) -> tuple[dt.date, str] | None:
    parser = _date_parser(languages)
    data = parser.get_date_data(text)
    if data.date_obj is None and ANY_ARABIC_LETTERS.search(text):
        # Leftover Arabic words ("نشر في", "بتاريخ") around an otherwise readable date.
        data = parser.get_date_data(SPACE_RUN.sub(" ", ANY_ARABIC_LETTERS.sub(" ", text)).strip(_DATE_EDGE))
    if data.date_obj is None:
        return None
    value = data.date_obj.date()
    if data.period == "year":
        return value.replace(month=1, day=1), "year"
    if data.period == "month":
        return value.replace(day=1), "month"
    return value, "day"


@functools.lru_cache(maxsize=16)
def _date_parser(languages: tuple[str, ...]):  # -> dateparser.date.DateDataParser
    from dateparser.data.languages_info import language_order
    from dateparser.date import DateDataParser

    supported = [code for code in dict.fromkeys([*languages, "en"]) if code in language_order]
    # Trying the last successful locale first halves the time on a column written in one language.
    return DateDataParser(languages=supported, settings=_DATE_SETTINGS, try_previous_locales=True)
