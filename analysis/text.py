"""Per-text functions of the corpus stage: Unicode normalisation, page-furniture removal, dates, language.

Everything here works on one string (or a batch of strings) and knows nothing of files or tables, so
`corpus` and `segment` can call it row by row and tests can pin its behaviour on single lines.

- `normalise_unicode`: one canonical form (NFC, no invisible controls, plain spaces, `\\n` lines), so
  that equal text compares equal and offsets into the cleaned text stay meaningful.
- `clean_text`: removes scraped page furniture LINE BY LINE and says why for every removed line.
  Rules match whole short lines (anchored patterns) or runs of short lines (product boxes), never
  words inside a sentence, so the article body survives: a paragraph that merely contains "lire
  aussi" or "Partager" is kept.
- `parse_date`: ISO forms directly, then a pre-normalisation (Maghreb/Mashreq Arabic month names to
  English, weekdays and times dropped), `strptime` for the few fixed English forms and `dateparser`
  for everything else; keeps the precision (day/month/year), never completes a partial date with
  today and never reads relative dates ("hier") or year-less ones.
- `detect_language(s)`: script first (Tifinagh → `ber`; Arabic script → `ar` without a model when it
  is the only Arabic-script language allowed), then `lingua` restricted to the configured languages;
  Darija flagged by marker words (Arabic script) or by "Arabizi" (Latin script with digits 3/7/9).
"""

from __future__ import annotations

import datetime as dt
import functools
import numbers
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

# ---------------------------------------------------------------------------------------------------
# Unicode

_INVISIBLE = (
    "\u00ad"  # soft hyphen: invisible, and it splits words for every later step
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # bidi controls
    "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters and BOM
)
_CONTROLS = "".join(chr(c) for c in [*range(0x09), *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0)] if c != 0x85)
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_LINE_BREAKS = re.compile("[\r\x0b\x0c\x85\u2028]")
_INVISIBLE_OR_CONTROL = re.compile(f"[{re.escape(_INVISIBLE + _CONTROLS)}]")
# Only the spaces that change: runs of two or more, and tabs or Unicode spaces (matching every single
# space made this pass ten times slower on long text).
_SPACE_RUN = re.compile(f" [ \t{_SPACES}]+|[\t{_SPACES}][ \t{_SPACES}]*")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalise_unicode(text: str) -> str:
    """One canonical form: NFC, no zero-width/bidi/control characters, plain spaces, `\\n` line ends.

    Lines are stripped and inner runs of spaces/tabs become one space; three or more line breaks
    become one blank line (the paragraph separator). Arabic letters and diacritics are unchanged.
    Idempotent. Regex passes rather than `str.translate`, which is ten times slower on Arabic text.
    """
    if not isinstance(text, str):
        raise TypeError(f"normalise_unicode expects str, got {type(text).__name__}")
    text = _LINE_BREAKS.sub("\n", text.replace("\r\n", "\n").replace("\u2029", "\n\n"))
    text = unicodedata.normalize("NFC", _INVISIBLE_OR_CONTROL.sub("", text))
    text = "\n".join(line.strip(" ") for line in _SPACE_RUN.sub(" ", text).split("\n"))
    if "\n\n\n" in text:
        text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip("\n")


# ---------------------------------------------------------------------------------------------------
# Cleaning


@dataclass(frozen=True)
class RemovedPiece:
    """A line removed from a document, and why (the ledger's `detail` and `reason`)."""

    text: str
    reason: str


@dataclass(frozen=True)
class CleanedText:
    """A document's remaining text (paragraphs separated by a blank line) and what was removed."""

    text: str
    removed: tuple[RemovedPiece, ...]


# Harakat, superscript alef, Quranic annotation marks: they change reading, not the word.
_ARABIC_MARK_RANGES = "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
_TATWEEL = "\u0640"
_ARABIC_DIACRITICS = re.compile(f"[{_ARABIC_MARK_RANGES}{_TATWEEL}]")
_FOLDED = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "’": "'", "‘": "'", "`": "'"}


def _fold(text: str) -> str:
    """Alef forms to bare alef, typographic apostrophes to `'` (chained `replace`: C speed)."""
    for old, new in _FOLDED.items():
        text = text.replace(old, new)
    return text


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _key(line: str) -> str:
    """Comparison form of a line: case-folded, Arabic diacritics/tatweel dropped, alef forms folded."""
    return _fold(_ARABIC_DIACRITICS.sub("", line.casefold()))


def _whole(pattern: str) -> re.Pattern[str]:
    """A pattern that must match a whole line (after `_key`), with optional trailing punctuation."""
    return re.compile(rf"(?:{pattern})[\s:.!*…»>›|\-–—]*")


# Separators that follow a "read also"-style marker before the linked title.
_SEP = r"\s*[:\-–—»›>|•]\s*"
_READ_ALSO_STRONG = (
    r"(?:[aà] )?lire (?:aussi|[ée]galement)|lisez aussi|voir aussi|read (?:also|more)|also read|see also"
    r"|اقرا (?:ايضا|كذلك)|اقرا المزيد|شاهد (?:ايضا|كذلك)|طالع (?:ايضا|كذلك)"
)
_READ_ALSO_WEAK = r"[aà] lire|related|lire la suite|continue reading|continuer la lecture|المزيد من الاخبار"
_RELATED = (
    r"(?:related|similar) (?:articles?|stories|news|posts?)|you (?:may|might) also like|more (?:stories|news)"
    r"|articles? (?:similaires|li[ée]s|connexes|recommand[ée]s)|sur le m[êe]me sujet|vous aimerez aussi"
    r"|dans la m[êe]me rubrique|(?:مقالات|مواضيع|اخبار|مقالات اخرى) (?:ذات صلة|مشابهة|متعلقة|قد تهمك)"
    r"|قد يهمك ايضا|قد يعجبك ايضا"
)
_SOCIAL = (
    r"facebook|twitter|x|linkedin|whatsapp|telegram|pinterest|reddit|messenger|email|e-mail|mail|print"
    r"|imprimer|tweet|tweeter|share|partager|partagez|فيسبوك|تويتر|واتساب|تيليغرام|طباعة|تغريد|مشاركة|شارك"
)
_SHARE = (
    rf"(?:share|partager|partagez|شارك|مشاركة)(?: (?:this|cet|l'|on|sur|via|by|par|the|article|story|post"
    rf"|page|link|le lien|هذا|هذه|المقال|الخبر|على|عبر|{_SOCIAL}))*"
    r"|(?:copy link|copier le lien|نسخ الرابط)"
)
_NAVIGATION = (
    r"(?:previous|next|prev) (?:article|post|story)|article (?:pr[ée]c[ée]dent|suivant)|pr[ée]c[ée]dent|suivant"
    r"|previous|next|(?:show|load|view|see) more|(?:voir|afficher|charger) plus|(?:ا?ظهر|عرض|تحميل) المزيد"
    r"|المقال (?:السابق|التالي)|الخبر (?:السابق|التالي)|السابق|التالي|home|accueil|الرئيسية"
)
_TAGS = r"(?:tags?|mots[- ]cl[ée]s|étiquettes|الوسوم|الكلمات (?:المفتاحية|الدلالية)|كلمات مفتاحية)"
_BACK_TO_TOP = (
    r"(?:back|return|go|scroll) to (?:the )?top|retour en haut(?: de (?:la )?page)?|haut de (?:la )?page"
    r"|remonter|(?:زر )?(?:الذهاب|العودة|الرجوع|الصعود) (?:الى |ل)(?:ال)?اعلى(?: الصفحة)?|الى الاعلى|[↑⬆▲⇧]"
)
_COMMENT_FORM = (
    r"leave a (?:comment|reply)(?: cancel reply)?|cancel reply|post (?:a )?comment|add a comment|submit comment"
    r"|(?:\d+ )?comments?|no comments(?: yet)?|be the first to comment|your email address will not be published.*"
    r"|required fields are marked.*|save my name, email, and website in this browser.*"
    r"|(?:name|email|website|comment|nom|e-mail|site web|site internet|commentaire|message)\s*\*"
    r"|laiss(?:er|ez) un commentaire|laisser une r[ée]ponse|ajouter un commentaire|annuler la r[ée]ponse"
    r"|(?:\d+ )?commentaires?|publier (?:le|un|votre) commentaire|r[ée]agir|r[ée]agissez|soyez le premier.*"
    r"|votre adresse (?:e-?mail|de messagerie|courriel) ne sera pas publi[ée]e.*"
    r"|les champs obligatoires sont indiqu[ée]s.*|enregistrer mon nom, mon e-?mail.*"
    r"|اترك (?:تعليقا|تعليق|ردا|رد)|(?:اضف|اضافة|اكتب) (?:تعليقا|تعليق|تعليقك)|ارسال التعليق|الغاء الرد"
    r"|لن يتم نشر (?:عنوان )?بريدك الالكتروني.*|الحقول (?:الالزامية|المطلوبة).*|(?:\d+ )?تعليقات?"
    r"|التعليقات|تعليقات الزوار|(?:الاسم|البريد الالكتروني|الموقع الالكتروني|التعليق)\s*\*|احفظ اسمي.*"
)
_NEWSLETTER = (
    r"(?:subscribe|sign up|abonnez-vous|inscrivez-vous|s'abonner|s'inscrire|recevez|receive|get|join)\b.{0,120}"
    r"(?:newsletter|lettre d'information|notre lettre|inbox|bo[iî]te (?:mail|de r[ée]ception)|alertes?)\b.*"
    r"|newsletter|subscribe(?: now)?|abonnez-vous|s'abonner|je m'abonne|already a subscriber.*|d[ée]j[aà] abonn[ée].*"
    r"|pour lire la suite.{0,80}abonn.*|subscribe to (?:continue|read).*"
    r"|اشترك (?:في|ب)(?: ال)?(?:نشرة|نشرتنا|النشرة).*|اشترك الان|النشرة (?:البريدية|الاخبارية)"
)
_COOKIES = (
    r"(?:(?:ce|notre|this|our) (?:site|website|web site)(?: web)? (?:utilise|uses) (?:des )?cookies"
    r"|nous utilisons (?:des )?cookies|we use cookies|en poursuivant votre navigation|by continuing to (?:use|browse)"
    r"|(?:يستخدم|نستخدم)(?: هذا)?(?: الموقع)? (?:ملفات )?(?:تعريف الارتباط|الكوكيز)).*"
    r"|accept(?: all)?(?: cookies)?|tout accepter|j'accepte|accepter(?: les cookies)?|refuser(?: les cookies)?"
    r"|cookie (?:settings|policy|preferences)|(?:param[èe]tres|politique|gestion) (?:des |de |relative aux )?cookies"
    r"|g[ée]rer (?:les )?(?:cookies|pr[ée]f[ée]rences)|موافق|اوافق"
)
_ADVERT = (
    r"advertisement|advertising|publicit[ée]|sponsored(?: content)?|sponsoris[ée]|contenu sponsoris[ée]|annonce"
    r"|pub|ad|اعلان|اعلانات|محتوى (?:مدعوم|ممول|اعلاني)"
)
_RETAILERS = r"amazon|jumia|aliexpress|ebay|cdiscount|fnac|noon|walmart|temu"
_SHOP_CTA = (
    r"(?:buy|shop|order|check price|see price|view|voir(?: le prix| l'offre)?|acheter|commander|en profiter|see deal"
    rf"|get it)\b.{{0,40}}\b(?:on|at|sur|chez|من|على) (?:{_RETAILERS})\b.*"
)
_CALL_TO_ACTION = (
    r"(?:d[ée]couvrez|cliquez|click|discover|find out|learn|watch|regardez|consultez|retrouvez|lisez|read"
    r"|اضغط|انقر|اكتشف|شاهد|تابع)\b.{0,120}\b(?:ici|here|هنا)"
    r"|en savoir plus|pour en savoir plus|learn more|find out more|click here|cliquez ici|اضغط هنا|انقر هنا"
)
_COUNTER = (
    r"[+-]?\d[\d .,]*[km]?"
    r"|\d[\d .,]*[km]? ?(?:views?|vues|lectures?|commentaires?|comments?|shares?|partages?|likes?|j'aime"
    r"|r[ée]actions?|مشاهدة|مشاهدات|تعليقات?|قراءة|قراءات)"
    r"|\d+ ?(?:min|mins|minutes?) (?:read|de lecture|lecture)|(?:temps de lecture|reading time|lecture)\s*:? ?\d+ ?"
    r"(?:min|mins|minutes?)|(?:مدة|وقت) القراءة\s*:? ?\d+ ?(?:دقائق|دقيقة|د)|\d+ ?(?:دقائق|دقيقة) (?:قراءة|للقراءة)"
)

_LINE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("counter/number-only line", _whole(_COUNTER)),
    ("read-also link", _whole(_READ_ALSO_STRONG)),
    ("read-also link", re.compile(rf"(?:{_READ_ALSO_STRONG}|{_READ_ALSO_WEAK}){_SEP}.{{1,250}}")),
    # Without a separator only a title-like tail (no sentence end): "Read also Morocco signs AI deal".
    ("read-also link", re.compile(rf"(?:{_READ_ALSO_STRONG}) .{{1,130}}(?<![.!?؟])")),
    ("read-also link", _whole(_READ_ALSO_WEAK)),
    ("related-articles heading", _whole(_RELATED)),
    ("share/navigation", _whole(_SHARE)),
    ("share/navigation", _whole(rf"(?:{_SOCIAL})(?:[\s|•/·,]+(?:{_SOCIAL}))*")),
    ("share/navigation", _whole(_NAVIGATION)),
    ("share/navigation", re.compile(rf"{_TAGS}\s*:.{{0,250}}")),
    ("back-to-top", _whole(_BACK_TO_TOP)),
    ("comment form", _whole(_COMMENT_FORM)),
    ("newsletter/subscription", _whole(_NEWSLETTER)),
    ("cookie notice", _whole(_COOKIES)),
    ("advertisement/product box", _whole(_ADVERT)),
    ("advertisement/product box", _whole(_SHOP_CTA)),
    ("call-to-action link", _whole(_CALL_TO_ACTION)),
)
_COOKIE_RULE = _whole(_COOKIES)
# Lines longer than this are prose: no line rule applies to them (the long rules above stop at 250).
_MAX_FURNITURE_CHARS = 300
_COOKIE_NOTICE_CHARS = 600

# Site menus: a short line made only of section names, often glued together by the scraper
# ("اقتصاد المغربالأخبارالشركات"); three names at least, so a two-word heading is never a menu.
_MENU_WORDS = _words(
    """الرئيسية اخبار الاخبار اقتصاد الاقتصاد المغرب مغرب سياسة السياسة مجتمع المجتمع رياضة الرياضة ثقافة الثقافة
    فن الفن فنون منوعات دولي دولية العالم الشركات شركات تكنولوجيا التكنولوجيا صحة الصحة راي الراي مقالات فيديو
    صور جهات حوادث تعليم التعليم بورصة البورصة المال الاعمال اعمال مال عاجل الجهات اراء كتاب وطني دولي
    accueil actualités actualité actu économie economie politique société societe sport sports culture monde
    international maroc régions regions tech technologie high-tech médias medias vidéos videos vidéo opinion
    opinions santé auto lifestyle business entreprises finance afrique diaspora contact environnement people
    home news economy politics world technology africa health video entertainment science travel about
    society latest markets companies region morocco national"""
)
_MENU_MAX_WORD = max(map(len, _MENU_WORDS))
_MENU_SEPARATORS = re.compile(r"[\s|/•·»›>,\-–—]+")
_BREADCRUMB = re.compile(r"(?:home|accueil|الرئيسية)\s*[»›>/|]\s*.{1,150}")

# Product boxes: structure, not product names. A line is box-like when it is short and not a
# sentence; a run of box-like lines with two product markers (retailer at the end, price, rating,
# badge, table header) is an advertisement box, product names included.
_SENTENCE_END = re.compile(r"[.!?؟…;:»”\"')]$")
_BULLET = re.compile(r"^(?:[•●▪◦‣∙·*\-–—]|\d{1,2}[.)])\s")
_PRODUCT_MARKERS = (
    re.compile(rf"\b(?:{_RETAILERS})$"),  # "… 4 livres et stylos Amazon"
    re.compile(r"(?:[$€£] ?\d[\d .,]*\d|\d[\d .,]*\d? ?(?:€|\$|£|eur|usd|mad|dhs?|درهم))$"),  # price
    re.compile(r"\d(?:[.,]\d)? ?(?:out of|sur|/) ?5(?: ?(?:stars?|[ée]toiles?))?|[★☆]"),  # rating
)
_BADGE = _whole(
    r"top pick|our pick|best pick|trending|best[- ]?seller|editor's choice|editors' choice|best value"
    r"|budget pick|premium pick|meilleur choix|notre choix|meilleure vente|tendance|bon plan|hot deal|promo"
    r"|-?\d{1,2} ?%(?: off| de r[ée]duction)?"
    # labels that announce a paid box
    r"|offre partenaire|partner offer|sponsored|sponsoris[ée]e?|contenu sponsoris[ée]|publicit[ée]|advertisement"
    r"|annonce|إعلان|محتوى ممول|عرض خاص"
)
_BOX_HEADER_WORDS = _words(
    "image images product products produit produits feature features caractéristiques price prix rating note "
    "details détails buy acheter title titre"
)


def clean_text(text: str, *, repeated_lines: frozenset[str] = frozenset()) -> CleanedText:
    """Remove page furniture line by line; return the remaining paragraphs and every removed line.

    `repeated_lines` (from `find_repeated_lines` over the same source) are removed as "repeated line
    in source". Inside a block of consecutive kept lines, a line break stays a paragraph break except
    a soft wrap (a line not ending a sentence followed by a line starting in lower case), which is
    joined with a space. Removed lines also end a paragraph.
    """
    lines = normalise_unicode(text).split("\n")
    reasons = _line_reasons(lines, repeated_lines)
    paragraphs: list[str] = []
    current = ""
    for line, reason in zip(lines, reasons, strict=True):
        if not line or reason:
            if current:
                paragraphs.append(current)
            current = ""
        elif current and _is_soft_wrap(current, line):
            current = f"{current} {line}"
        else:
            if current:
                paragraphs.append(current)
            current = line
    if current:
        paragraphs.append(current)
    removed = tuple(RemovedPiece(line, reason) for line, reason in zip(lines, reasons, strict=True) if reason)
    return CleanedText("\n\n".join(paragraphs), removed)


def _is_soft_wrap(previous: str, line: str) -> bool:
    return not _SENTENCE_END.search(previous) and line[0].islower() and not _BULLET.match(line)


def _line_reasons(lines: list[str], repeated_lines: frozenset[str]) -> list[str | None]:
    reasons: list[str | None] = [_line_reason(line) if line else None for line in lines]
    _mark_product_boxes(lines, reasons)
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not line or reasons[i]:
            continue
        if line in repeated_lines:
            reasons[i] = "repeated line in source"
        elif line in seen and len(line) <= _MAX_FURNITURE_CHARS:
            reasons[i] = "repeated line in document"
        seen.add(line)
    return reasons


def _line_reason(line: str) -> str | None:
    if len(line) > _COOKIE_NOTICE_CHARS:
        return None
    key = _key(line)
    if len(line) > _MAX_FURNITURE_CHARS:
        return "cookie notice" if _COOKIE_RULE.fullmatch(key) else None
    for reason, pattern in _LINE_RULES:
        if pattern.fullmatch(key):
            return reason
    if _is_menu(key):
        return "site menu"
    if _is_box_header(key):
        return "advertisement/product box"
    return None


def _is_menu(key: str) -> bool:
    if len(key) > 120 or _SENTENCE_END.search(key):
        return False
    if _BREADCRUMB.fullmatch(key):
        return True
    pieces = 0
    for token in _MENU_SEPARATORS.split(key):
        if token:
            count = _menu_pieces(token)
            if count is None:
                return False
            pieces += count
    return pieces >= 3


@functools.lru_cache(maxsize=4096)
def _menu_pieces(token: str) -> int | None:
    """Fewest menu words that spell `token` exactly (glued menus), or None when it cannot be spelled."""
    best: list[int | None] = [0] + [None] * len(token)
    for end in range(1, len(token) + 1):
        for start in range(max(0, end - _MENU_MAX_WORD), end):
            before = best[start]
            if before is not None and token[start:end] in _MENU_WORDS:
                best[end] = before + 1 if best[end] is None else min(best[end], before + 1)
    return best[-1]


def _is_box_header(key: str) -> bool:
    words = key.split()
    return len(words) >= 2 and all(word in _BOX_HEADER_WORDS for word in words)


def _is_box_like(line: str) -> bool:
    return len(line) <= 200 and not _SENTENCE_END.search(line) and not _BULLET.match(line)


def _is_product_marker(line: str) -> bool:
    key = _key(line)
    return _is_box_header(key) or bool(_BADGE.fullmatch(key)) or any(p.search(key) for p in _PRODUCT_MARKERS)


def _mark_product_boxes(lines: list[str], reasons: list[str | None]) -> None:
    """Mark every line of a run of box-like lines that holds at least two product markers."""
    run: list[int] = []
    for i in [*range(len(lines)), len(lines)]:
        if i < len(lines) and lines[i] and (reasons[i] or _is_box_like(lines[i])):
            run.append(i)
            continue
        markers = sum(
            reasons[j] == "advertisement/product box" or (not reasons[j] and _is_product_marker(lines[j]))
            for j in run
        )
        if markers >= 2:
            for j in run:
                reasons[j] = reasons[j] or "advertisement/product box"
        run = []


def find_repeated_lines(texts: Iterable[str], *, min_docs: int, min_share: float) -> frozenset[str]:
    """Lines found in at least `min_docs` documents AND `min_share` of the documents of ONE source.

    Such lines are the source's page furniture (bylines, footers, slogans). Counted once per
    document; lines longer than 300 characters are prose and never returned. Lines are returned in
    `normalise_unicode` form, as `clean_text` compares them.
    """
    if min_docs < 2:
        raise ValueError(
            f"min_docs must be at least 2 (a line in one document is not repeated), got {min_docs}"
        )
    if not 0.0 <= min_share <= 1.0:
        raise ValueError(f"min_share must be between 0 and 1, got {min_share}")
    counts: Counter[str] = Counter()
    n_docs = 0
    for text in texts:
        n_docs += 1
        counts.update(
            {line for line in normalise_unicode(text).split("\n") if 0 < len(line) <= _MAX_FURNITURE_CHARS}
        )
    return frozenset(line for line, n in counts.items() if n >= min_docs and n >= min_share * n_docs)


# ---------------------------------------------------------------------------------------------------
# Dates


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
_ARABIC_WEEKDAYS = _words("الأحد الاحد الإثنين الاثنين الثلاثاء الأربعاء الاربعاء الخميس الجمعة السبت")
_ARABIC_WORD = r"(?<![\u0621-\u064a])(?:{})(?![\u0621-\u064a])"
_ARABIC_MONTH_RE = re.compile(_ARABIC_WORD.format("|".join(sorted(_ARABIC_MONTHS, key=len, reverse=True))))
_ARABIC_WEEKDAY_RE = re.compile(_ARABIC_WORD.format("|".join(_ARABIC_WEEKDAYS)))
_ARABIC_LETTERS = re.compile(r"[\u0621-\u064a\u0671-\u06d3]+")
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
    return _SPACE_RUN.sub(" ", text).strip(_DATE_EDGE)


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
    if data.date_obj is None and _ARABIC_LETTERS.search(text):
        # Leftover Arabic words ("نشر في", "بتاريخ") around an otherwise readable date.
        data = parser.get_date_data(_SPACE_RUN.sub(" ", _ARABIC_LETTERS.sub(" ", text)).strip(_DATE_EDGE))
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


# ---------------------------------------------------------------------------------------------------
# Language, script and Darija


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
    "Arab": ((0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
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
_ARABIZI_WORD = re.compile(r"\b(?![a-z0-9]*\d\d)(?=(?:\d*[a-z]){2})[a-z]*[379][a-z0-9]*\b")
_DIGIT_WORDS_NOT_DARIJA = _words("mp3 ps3 w3c h3 s3 f3 a3 m3u ec3 ct3")
# Unambiguous French/English function words ("la", "ma", "ou", "f" are also Darija, so left out).
_FR_EN_FUNCTION_WORDS = _words(
    "the of and to in for is on with by as at from that this are was be it an its has have "
    "le les des du est et une un pour dans sur avec par que qui au aux ce cette pas sont mais il elle nous vous"
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
    sections: dict[str, set[str]] = {}
    current: set[str] | None = None
    text = resources.files("analysis").joinpath("data/darija_markers.txt").read_text(encoding="utf-8")
    for raw_line in text.splitlines():
        line = raw_line.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], set())
        elif line and current is not None:
            current.add(_key(line))
    sections["arabic+waw"] = sections["arabic"] | {f"و{word}" for word in sections["arabic"]}
    return {name: frozenset(words) for name, words in sections.items()}


def is_darija(text: str) -> bool:
    """Arabic-script Moroccan Darija: two distinct marker words, making up 2 % of the Arabic words."""
    markers = _darija_markers()["arabic"]
    words = _PUNCTUATION.sub(" ", _fold(_ARABIC_DIACRITICS.sub("", text))).split()
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
    digit_words = {w for w in _ARABIZI_WORD.findall(lowered) if w not in _DIGIT_WORDS_NOT_DARIJA}
    darija = (words.keys() & _darija_markers()["latin"]) | digit_words
    function_words = sum(words[w] for w in words.keys() & _FR_EN_FUNCTION_WORDS)
    darija_share = sum(words[w] for w in darija) / total if len(darija) >= 2 else 0.0
    return darija_share, function_words / total


# ------------------------------------------------------------------------------------------------
# Word normalisation: one word, one token, for topic words, and dictionary scores

_ARABIC_MARKS = re.compile(f"[{_ARABIC_MARK_RANGES}]")  # tatweel goes with the letter map
_ARABIC_LETTER_MAP = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", _TATWEEL: ""})
_ARABIC_WORD = re.compile(r"[\u0621-\u064a]+")
# Prefixes are tried longest first; "و" and "ب"/"ل"/"ف"/"ك" alone are too ambiguous to strip.
_ARABIC_PREFIXES = ("وبال", "وال", "بال", "كال", "فال", "لل", "ال")
_ARABIC_SUFFIXES = ("هما", "ات", "ون", "ين", "ها", "هم", "يه")
_MIN_STEM = 3

# French elided articles and pronouns, with either apostrophe: "l'État", "qu’il", "jusqu'à".
_FRENCH_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
# Letters only, at least two: no digit-only or mixed "covid19" → "covid" stays a word.
_TOKEN = re.compile(r"[^\W\d_]{2,}")


def normalise_arabic(text: str, *, stem: bool = False) -> str:
    """Fold Arabic spelling variants so that one word is one token.

    Alef forms (أ إ آ ٱ) → ا, ى → ي, ة → ه, tatweel and diacritics removed. With `stem`, each
    Arabic word also loses one article-like prefix (ال, وال, بال, لل…) and one common suffix (ات,
    ون, ين, ها…) when at least three letters remain — light and conservative, for topic words.
    Non-Arabic text passes through unchanged.
    """
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTER_MAP)
    if stem:
        text = _ARABIC_WORD.sub(lambda match: _light_stem(match.group()), text)
    return text


def _light_stem(word: str) -> str:
    for prefix in _ARABIC_PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            word = word[len(prefix) :]
            break
    for suffix in _ARABIC_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


def normalise_for_words(text: str, *, stem: bool = False) -> str:
    """Lowercase, Unicode NFKC, French elisions split off, Arabic variants folded."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _FRENCH_ELISION.sub(" ", text)
    return normalise_arabic(text, stem=stem)


def tokenize_words(text: str) -> list[str]:
    """Letter-only tokens of two or more characters (digits split words and are dropped)."""
    return _TOKEN.findall(text)
