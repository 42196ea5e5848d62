"""Unicode clean-up and page-furniture removal: one canonical form, then scraped boilerplate out.

- `normalise_unicode`: one canonical form (NFC, no invisible controls, plain spaces, `\\n` lines), so
  that equal text compares equal and offsets into the cleaned text stay meaningful.
- `clean_text`: removes scraped page furniture LINE BY LINE and says why for every removed line.
  Rules match whole short lines (anchored patterns) or runs of short lines (product boxes), never
  words inside a sentence, so the article body survives: a paragraph that merely contains "lire
  aussi" or "Partager" is kept.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from analysis.text.arabic import ALEF_FOLD, DIACRITICS

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
SPACE_RUN = re.compile(f" [ \t{_SPACES}]+|[\t{_SPACES}][ \t{_SPACES}]*")
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
    text = "\n".join(line.strip(" ") for line in SPACE_RUN.sub(" ", text).split("\n"))
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


_FOLDED = {**ALEF_FOLD, "’": "'", "‘": "'", "`": "'"}


def fold_letters(text: str) -> str:
    """Alef forms to bare alef, typographic apostrophes to `'` (chained `replace`: C speed)."""
    for old, new in _FOLDED.items():
        text = text.replace(old, new)
    return text


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def line_key(line: str) -> str:
    """Comparison form of a line: case-folded, Arabic diacritics/tatweel dropped, alef forms folded."""
    return fold_letters(DIACRITICS.sub("", line.casefold()))


def _whole(pattern: str) -> re.Pattern[str]:
    """A pattern that must match a whole line (after `line_key`), with optional trailing punctuation."""
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
    key = line_key(line)
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
    key = line_key(line)
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
        counts.update(candidate_lines(text))
    return frozenset(line for line, n in counts.items() if n >= repeated_line_count(n_docs, min_docs, min_share))


def candidate_lines(text: str) -> set[str]:
    """The lines of one document that may be furniture (`find_repeated_lines` counts them once each)."""
    return {line for line in normalise_unicode(text).split("\n") if 0 < len(line) <= _MAX_FURNITURE_CHARS}


def repeated_line_count(n_docs: int, min_docs: int, min_share: float) -> float:
    """How many of a source's `n_docs` documents must hold a line for it to be furniture."""
    return max(min_docs, min_share * n_docs)
