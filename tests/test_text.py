"""Tests of analysis.text: Unicode normalisation, page-furniture removal, dates, language and Darija.

The seed articles in ../shared/corpus/seeds are the reference cases for cleaning: the tests name
every dropped line by its line number in the raw file (the text itself is third-party and stays
there) and check that every other line reaches the cleaned text verbatim.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.text import (
    CleanedText,
    LanguageGuess,
    ParsedDate,
    RemovedPiece,
    clean_text,
    detect_language,
    detect_languages,
    find_repeated_lines,
    is_darija,
    normalise_unicode,
    parse_date,
)

CORPUS = Path(__file__).parents[2] / "shared" / "corpus"
SEEDS = CORPUS / "seeds"
NEWS = CORPUS / "morocco-news"

AD = "advertisement/product box"
READ_ALSO = "read-also link"
# Raw line number (1-based) → reason, for every line clean_text must drop from the two reference seeds.
SEED_DROPS = {
    "000_a5a9989a1304f65d.txt": {
        3: "counter/number-only line",  # "0"
        4: "counter/number-only line",  # "251"
        5: "repeated line in document",  # the title again
        9: READ_ALSO,  # "Lire aussi : …"
        15: AD,  # "Image Product Feature Price": the product table header
        16: AD,  # "TOP Pick"
        17: AD,  # product name
        18: AD,  # product description ending "Amazon"
        19: AD,  # "Trending"
        20: AD,  # product name
        21: AD,  # product description ending "Amazon"
        49: READ_ALSO,  # "Lire aussi : …"
        59: "call-to-action link",  # "Découvrez … ici."
    },
    "001_69538dd9414b1965.txt": {
        1: "site menu",  # "اقتصاد المغربالأخبارالشركات": section names glued together
        35: "share/navigation",  # "اظهر المزيد" (show more)
        37: "related-articles heading",  # "مقالات ذات صلة"
        39: "comment form",  # "اترك تعليقاً"
        41: "comment form",  # "لن يتم نشر عنوان بريدك الإلكتروني…"
        43: "back-to-top",  # "زر الذهاب إلى الأعلى"
    },
}
OTHER_SEEDS = ["002_ba4eb7a085a72cf6.txt", "003_dc94c1c154b41851.txt", "004_ef68e6a2232b36de.txt"]


def _needs(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} is absent (third-party corpora live in ../shared/corpus)")
    return path


@functools.cache
def _read_news_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    def read(pattern: str) -> pd.DataFrame:
        return pd.concat(pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(NEWS.glob(pattern)))

    return read("hespress-ar/*.csv"), read("outlets-fr/*.csv"), read("moroccoworldnews-en/*.csv")


def _news_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three morocco-news layouts as raw string tables (read once per session); copies, to mutate."""
    _needs(NEWS)
    return tuple(table.copy() for table in _read_news_tables())


def _raw_lines(name: str) -> list[str]:
    return _needs(SEEDS / name).read_text(encoding="utf-8").split("\n")


# ----------------------------------------------------------------------------------------------------
# normalise_unicode


def test_normalise_removes_invisible_and_control_characters_and_unifies_spaces() -> None:
    raw = "\ufeffAI\u200b policy\u200e is\u00a0\u00a0 here\x00\r\nsecond\t\tline  \rthird\u202fline"
    assert normalise_unicode(raw) == "AI policy is here\nsecond line\nthird line"


def test_normalise_collapses_blank_lines_to_one_paragraph_break_and_strips_edges() -> None:
    assert normalise_unicode("\n\n  first \n \n\u00a0\n\n\nsecond\n\n") == "first\n\nsecond"


def test_normalise_keeps_arabic_letters_and_diacritics_and_is_idempotent() -> None:
    arabic = "وقّعت الوزيرةُ مذكرةَ تفاهم\u200f مع «ميسترال»"
    once = normalise_unicode(arabic)
    assert once == "وقّعت الوزيرةُ مذكرةَ تفاهم مع «ميسترال»"
    assert normalise_unicode(once) == once


def test_normalise_composes_to_nfc() -> None:
    assert normalise_unicode("e\u0301conomie") == "\u00e9conomie"


def test_normalise_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="expects str"):
        normalise_unicode(b"bytes")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------
# clean_text on the reference seeds


@pytest.mark.shared
@pytest.mark.parametrize("name", sorted(SEED_DROPS))
def test_reference_seed_drops_exactly_the_furniture_lines(name: str) -> None:
    lines = _raw_lines(name)
    drops = SEED_DROPS[name]
    cleaned = clean_text("\n".join(lines))

    expected_removed = [
        RemovedPiece(normalise_unicode(lines[n - 1]), reason) for n, reason in sorted(drops.items())
    ]
    assert list(cleaned.removed) == expected_removed
    kept = [normalise_unicode(line) for n, line in enumerate(lines, 1) if n not in drops]
    assert cleaned.text.split("\n\n") == [line for line in kept if line]


@pytest.mark.shared
@pytest.mark.parametrize("name", OTHER_SEEDS)
def test_other_seeds_lose_nothing(name: str) -> None:
    lines = _raw_lines(name)
    cleaned = clean_text("\n".join(lines))
    assert cleaned.removed == ()
    assert cleaned.text.split("\n\n") == [
        normalise_unicode(line) for line in lines if normalise_unicode(line)
    ]


@pytest.mark.shared
@pytest.mark.parametrize("name", [*sorted(SEED_DROPS), *OTHER_SEEDS])
def test_cleaning_a_cleaned_seed_changes_nothing(name: str) -> None:
    once = clean_text(_needs(SEEDS / name).read_text(encoding="utf-8"))
    assert clean_text(once.text) == CleanedText(once.text, ())


# ----------------------------------------------------------------------------------------------------
# clean_text rules, on text written for these tests


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("Lire aussi : Le Maroc lance un plan numérique", READ_ALSO),
        ("À lire aussi: Cinq startups à suivre", READ_ALSO),
        ("LIRE AUSSI", READ_ALSO),
        ("Read more: How the data centre deal was signed", READ_ALSO),
        ("Read also Morocco signs AI memorandum", READ_ALSO),
        ("اقرأ أيضا: الحكومة تطلق برنامجا جديدا", READ_ALSO),
        ("اقرأ أيضاً", READ_ALSO),
        ("إقرأ أيضاً - مشروع قانون حول المعطيات الشخصية", READ_ALSO),
        ("Articles similaires", "related-articles heading"),
        ("You may also like", "related-articles heading"),
        ("Partager", "share/navigation"),
        ("Share on Facebook", "share/navigation"),
        ("Tweet", "share/navigation"),
        ("Facebook Twitter LinkedIn WhatsApp", "share/navigation"),
        ("شارك", "share/navigation"),
        ("شارك على فيسبوك", "share/navigation"),
        ("Article précédent", "share/navigation"),
        ("Tags : IA, Maroc, souveraineté", "share/navigation"),
        ("Back to top", "back-to-top"),
        ("Retour en haut de la page", "back-to-top"),
        ("↑", "back-to-top"),
        ("Leave a Reply Cancel reply", "comment form"),
        ("Your email address will not be published. Required fields are marked *", "comment form"),
        ("Votre adresse e-mail ne sera pas publiée.", "comment form"),
        ("Laisser un commentaire", "comment form"),
        ("Commentaire *", "comment form"),
        ("12 commentaires", "counter/number-only line"),
        ("أضف تعليقك", "comment form"),
        ("Subscribe to our newsletter", "newsletter/subscription"),
        ("Inscrivez-vous à notre newsletter pour recevoir l'essentiel", "newsletter/subscription"),
        ("اشترك في النشرة البريدية", "newsletter/subscription"),
        ("We use cookies to improve your experience. By continuing you accept them.", "cookie notice"),
        ("Ce site utilise des cookies pour mesurer l'audience.", "cookie notice"),
        ("Tout accepter", "cookie notice"),
        ("Publicité", AD),
        ("Voir le prix sur Amazon", AD),
        ("Accueil » Économie » Numérique", "site menu"),
        ("Home | News | Business | Tech", "site menu"),
        ("AccueilActualitésÉconomieSport", "site menu"),
        ("الرئيسية أخبار رياضة", "site menu"),
        ("3 min read", "counter/number-only line"),
        ("1 250 vues", "counter/number-only line"),
        ("Cliquez ici pour découvrir le programme ici", "call-to-action link"),
    ],
)
def test_furniture_line_is_removed_with_its_reason(line: str, reason: str) -> None:
    text = f"Un premier paragraphe d'article, complet.\n\n{line}\n\nUn second paragraphe d'article, complet."
    cleaned = clean_text(text)
    assert cleaned.removed == (RemovedPiece(line, reason),)
    assert (
        cleaned.text
        == "Un premier paragraphe d'article, complet.\n\nUn second paragraphe d'article, complet."
    )


@pytest.mark.parametrize(
    "line",
    [
        "Il faut lire aussi le rapport de la Cour des comptes, publié hier, pour comprendre l'enjeu.",
        "Le ministre a invité les entreprises à partager leurs données avec les universités.",
        "Partager les données publiques reste une priorité du plan Maroc Digital 2030, selon la ministre.",
        "Read more about the strategy in the ministry's report, which was released on Thursday in Rabat.",
        "The company said it would share the results with regulators in Morocco and abroad next year.",
        "وقالت الوزيرة إن على القراء أن يقرأوا أيضا التقرير السنوي للمجلس قبل الحكم على المشروع.",
        "Économie Maroc",  # a two-word heading, not a menu
        "Le Maroc séduit Amazon",  # a heading that ends with a retailer's name, alone
    ],
)
def test_body_lines_with_furniture_words_are_kept(line: str) -> None:
    text = f"Premier paragraphe.\n\n{line}\n\nDernier paragraphe."
    assert clean_text(text) == CleanedText(text, ())


def test_product_box_is_found_by_structure_not_by_names() -> None:
    text = (
        "Un paragraphe d'article qui se termine par un point.\n\n"
        "Best Seller\n"
        "Lampe de bureau pliable\n"
        "Lampe de bureau pliable avec port USB et trois niveaux de lumière Jumia\n"
        "4,5 sur 5 étoiles\n"
        "249,00 DH\n\n"
        "La suite de l'article, avec une phrase complète."
    )
    cleaned = clean_text(text)
    assert [piece.reason for piece in cleaned.removed] == [AD] * 5
    assert cleaned.text == (
        "Un paragraphe d'article qui se termine par un point.\n\nLa suite de l'article, avec une phrase complète."
    )


def test_bulleted_prices_in_the_body_are_not_a_product_box() -> None:
    text = "Les nouvelles offres :\n• Forfait de base : 99 DH\n• Forfait premium : 199 DH"
    cleaned = clean_text(text)
    assert cleaned.removed == ()
    assert cleaned.text.split("\n\n") == text.split("\n")


def test_repeated_lines_of_the_source_are_removed() -> None:
    footer = "© Agence de presse, tous droits réservés"
    cleaned = clean_text(f"Le paragraphe de l'article.\n{footer}", repeated_lines=frozenset({footer}))
    assert cleaned == CleanedText(
        "Le paragraphe de l'article.", (RemovedPiece(footer, "repeated line in source"),)
    )


def test_soft_wrapped_lines_are_joined_and_sentences_stay_paragraphs() -> None:
    text = "The ministry signed a memorandum\nwith the company on Friday.\nA second paragraph follows."
    assert clean_text(text).text == (
        "The ministry signed a memorandum with the company on Friday.\n\nA second paragraph follows."
    )


def test_a_removed_line_ends_the_paragraph_around_it() -> None:
    cleaned = clean_text("First part of the story.\nPartager\nSecond part of the story.")
    assert cleaned.text == "First part of the story.\n\nSecond part of the story."


def test_clean_text_of_empty_text_is_empty() -> None:
    assert clean_text(" \n\u200b\n ") == CleanedText("", ())


# ----------------------------------------------------------------------------------------------------
# find_repeated_lines


def test_find_repeated_lines_needs_both_document_count_and_share() -> None:
    footer = "Suivez-nous sur les réseaux sociaux"
    with_footer = [f"Article numéro {i}, avec son propre contenu.\n{footer}" for i in range(5)]
    texts = with_footer + [f"Un article sans pied, le numéro {i}." for i in range(5)]
    assert find_repeated_lines(texts, min_docs=5, min_share=0.2) == frozenset({footer})
    assert find_repeated_lines(texts, min_docs=6, min_share=0.2) == frozenset()  # 5 documents only
    assert find_repeated_lines(texts, min_docs=5, min_share=0.6) == frozenset()  # half of the source only


def test_find_repeated_lines_counts_a_line_once_per_document_and_ignores_long_lines() -> None:
    long_line = "x" * 301
    texts = [f"Titre\nTitre\n{long_line}"] + [f"Autre {i}" for i in range(3)]
    assert find_repeated_lines(texts, min_docs=2, min_share=0.0) == frozenset()
    assert find_repeated_lines([f"Titre\n{long_line}"] * 2, min_docs=2, min_share=1.0) == frozenset({"Titre"})


def test_find_repeated_lines_compares_normalised_lines() -> None:
    texts = ["Pied\u00a0de page  \ncorps A", "Pied de page\ncorps B"]
    assert find_repeated_lines(texts, min_docs=2, min_share=1.0) == frozenset({"Pied de page"})


@pytest.mark.parametrize(("min_docs", "min_share", "message"), [(1, 0.1, "min_docs"), (5, 1.5, "min_share")])
def test_find_repeated_lines_rejects_bad_thresholds(min_docs: int, min_share: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        find_repeated_lines(["a"], min_docs=min_docs, min_share=min_share)


# ----------------------------------------------------------------------------------------------------
# parse_date


@pytest.mark.parametrize(
    ("raw", "value", "precision"),
    [
        ("السبت 03 أكتوبر 2020 - 07:50", dt.date(2020, 10, 3), "day"),
        ("الجمعة 20 دجنبر 2019 - 12:00", dt.date(2019, 12, 20), "day"),
        ("الخميس 13 غشت 2020 - 20:29", dt.date(2020, 8, 13), "day"),
        ("الثلاثاء 19 ماي 2020 - 15:40", dt.date(2020, 5, 19), "day"),
        ("الأربعاء 22 يوليوز 2020 - 02:27", dt.date(2020, 7, 22), "day"),
        ("الاثنين 07 شتنبر 2020 - 17:05", dt.date(2020, 9, 7), "day"),
        ("5 نونبر 2019", dt.date(2019, 11, 5), "day"),
        ("12 مايو 2020", dt.date(2020, 5, 12), "day"),
        ("5 أيلول 2020", dt.date(2020, 9, 5), "day"),
        ("تشرين الأول 2020", dt.date(2020, 10, 1), "month"),
        ("١٢ ماي ٢٠٢٠", dt.date(2020, 5, 12), "day"),
        ("نشر في 12 ماي 2020", dt.date(2020, 5, 12), "day"),
        ("15 décembre 2019", dt.date(2019, 12, 15), "day"),
        ("15 décembre 2019 ", dt.date(2019, 12, 15), "day"),
        ("13 Déc 2019", dt.date(2019, 12, 13), "day"),
        ("03 Août 2019", dt.date(2019, 8, 3), "day"),
        ("1er décembre 2019", dt.date(2019, 12, 1), "day"),
        ("Lundi 3 juin 2019 à 10h30", dt.date(2019, 6, 3), "day"),
        ("mai 2024", dt.date(2024, 5, 1), "month"),
        ("May 24, 2020", dt.date(2020, 5, 24), "day"),
        ("Apr 1, 2020", dt.date(2020, 4, 1), "day"),
        ("Monday, June 3, 2019", dt.date(2019, 6, 3), "day"),
        ("2024-05-07", dt.date(2024, 5, 7), "day"),
        ("2020-05-24T10:00:00Z", dt.date(2020, 5, 24), "day"),
        ("2024-05", dt.date(2024, 5, 1), "month"),
        ("2024", dt.date(2024, 1, 1), "year"),
        ("03/04/2020", dt.date(2020, 4, 3), "day"),
    ],
)
def test_parse_date_reads_local_forms_with_their_precision(raw: str, value: dt.date, precision: str) -> None:
    assert parse_date(raw) == ParsedDate(value, precision, raw)


@pytest.mark.parametrize(
    "raw",
    [
        "title",
        "date",
        "n/a",
        "",
        "   ",
        "251",
        "0",
        "24 mai",
        "hier",
        "il y a 2 jours",
        "today",
        "2024-13",
        "2024-02-30",
    ],
)
def test_parse_date_never_invents_a_date(raw: str) -> None:
    assert parse_date(raw) == ParsedDate(None, "", raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ParsedDate(None, "", "")),
        (float("nan"), ParsedDate(None, "", "")),
        (pd.NaT, ParsedDate(None, "", "")),
        (np.nan, ParsedDate(None, "", "")),
        (2024, ParsedDate(dt.date(2024, 1, 1), "year", "2024")),
        (dt.date(2020, 1, 2), ParsedDate(dt.date(2020, 1, 2), "day", "2020-01-02")),
        (pd.Timestamp("2020-05-24 10:00"), ParsedDate(dt.date(2020, 5, 24), "day", "2020-05-24 10:00:00")),
        (True, ParsedDate(None, "", "True")),
    ],
)
def test_parse_date_accepts_table_cell_values(raw: object, expected: ParsedDate) -> None:
    assert parse_date(raw) == expected


@pytest.mark.shared
def test_every_real_date_of_morocco_news_parses() -> None:
    hespress, outlets, mwn = _news_tables()

    def parsed(column: pd.Series) -> pd.Series:
        return pd.Series([parse_date(raw).value for raw in column], dtype=object)

    hespress_dates = parsed(hespress["date"])
    assert hespress_dates.notna().sum() == len(hespress) == 6000
    assert (hespress_dates.min(), hespress_dates.max()) == (dt.date(2019, 12, 5), dt.date(2020, 10, 3))

    outlet_dates = parsed(outlets["date"])
    assert outlets["date"][outlet_dates.isna().to_numpy()].tolist() == ["date"]  # the stray header row
    assert outlet_dates.notna().sum() == 3974
    assert (outlet_dates.min(), outlet_dates.max()) == (dt.date(2017, 12, 25), dt.date(2019, 12, 17))

    mwn_dates = parsed(mwn["date"])
    assert mwn_dates.notna().sum() == len(mwn) == 2500
    per_month = pd.Series([(d.year, d.month) for d in mwn_dates]).value_counts().sort_index()
    assert per_month.tolist() == [337, 497, 648, 584, 434]  # Jan–May 2020, as SOURCE.md counts them


# ----------------------------------------------------------------------------------------------------
# detect_language(s)


@pytest.mark.parametrize(
    ("text", "language", "script", "darija"),
    [
        ("وقعت الحكومة المغربية مذكرة تفاهم مع شركة للذكاء الاصطناعي", "ar", "Arab", False),
        ("Le gouvernement a signé un protocole d'accord avec une entreprise d'IA.", "fr", "Latn", False),
        ("The government signed a memorandum of understanding with an AI company.", "en", "Latn", False),
        ("ⴰⵎⴰⵣⵉⵖ ⴷ ⵜⴰⵎⴰⵣⵉⵖⵜ ⵜⵓⵜⵍⴰⵢⵜ ⵜⴰⵏⴰⵎⵓⵙⵜ", "ber", "Tfng", False),
        ("واش كاين شي حل لهاد المشكل ديال الخدمة، ولا غير الهضرة؟", "ar", "Arab", True),
        ("دابا بزاف ديال الشباب كيخدمو بالذكاء الاصطناعي", "ar", "Arab", True),
        ("wach kayn chi 7al l had l mochkil? ana bghit nfhem 3lach ma dart walo", "ar", "Latn", True),
        ("3ndi mochkil m3a l bank, bghit n7el compte walakin ma bghawch", "ar", "Latn", True),
        ("A campaign called “Chnou Bghiti Nti” asks for gender equality in Morocco", "en", "Latn", True),
        ("Le ministre juge la situation bzaf compliquée pour les jeunes diplômés.", "fr", "Latn", False),
        ("Covid19 tests, 4G masts and the G7 summit dominated the news.", "en", "Latn", False),
        ("ok", "und", "Latn", False),
        ("251", "und", "other", False),
        ("", "und", "other", False),
        ("Привет, как дела?", "und", "other", False),
    ],
)
def test_detect_language(text: str, language: str, script: str, darija: bool) -> None:
    guess = detect_language(text)
    assert (guess.language, guess.script, guess.darija) == (language, script, darija)
    assert 0.0 <= guess.confidence <= 1.0


def test_one_arabic_quote_does_not_make_standard_arabic_darija() -> None:
    msa = (
        "أعلنت وزارة الانتقال الرقمي وإصلاح الإدارة عن إطلاق برنامج وطني لتكوين الشباب في مجالات الذكاء "
        "الاصطناعي، بشراكة مع الجامعات والمقاولات الناشئة، في إطار استراتيجية المغرب الرقمي 2030. "
    ) * 4
    assert not is_darija(msa)
    assert not is_darija(msa + "وقال أحد المستفيدين: «هادشي مزيان».")
    assert is_darija("قال أحد المستفيدين: «هادشي مزيان بزاف، وخاصنا نكملو».")


def test_batch_equals_one_by_one_and_keeps_order() -> None:
    texts = [
        "Bonjour à toutes et à tous, la séance est ouverte.",
        "ⵜⴰⵎⴰⵣⵉⵖⵜ ⵜⵓⵍⵙ",
        "",
        "The meeting is open.",
    ]
    assert detect_languages(texts) == [detect_language(text) for text in texts]
    assert [g.language for g in detect_languages(texts)] == ["fr", "ber", "und", "en"]
    assert detect_languages([]) == []


def test_detection_is_restricted_to_the_configured_languages() -> None:
    spanish = "El gobierno firmó un acuerdo con la empresa de inteligencia artificial."
    assert detect_language(spanish, languages=("ar", "fr", "en", "es")).language == "es"
    assert detect_language(spanish, languages=("ar", "fr", "en")).language in {"fr", "en"}
    english = "The government signed a memorandum of understanding with an AI company."
    assert detect_language(english, languages=("fr",)) == LanguageGuess("und", "Latn", False, 0.0)
    assert detect_language("الحكومة المغربية", languages=("fr", "en")).language == "und"


@pytest.mark.parametrize(
    ("languages", "message"), [(("ar", "xx"), "'xx'"), ((), "empty"), (("ber",), "only")]
)
def test_bad_language_sets_are_refused_with_the_fix(languages: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        detect_languages(["Le gouvernement a signé un accord."], languages=languages)


def test_non_text_input_names_its_position() -> None:
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        detect_languages(["ok", None])  # type: ignore[list-item]


@pytest.mark.shared
def test_languages_of_the_three_outlets_on_samples() -> None:
    hespress, outlets, mwn = _news_tables()
    hespress = hespress.sample(300, random_state=0)
    outlets = outlets[outlets["date"] != "date"].sample(300, random_state=0)  # not the stray header row
    mwn = mwn.sample(300, random_state=0)

    samples = {
        "ar": hespress["story"].tolist(),
        "fr": (outlets["title"] + "\n\n" + outlets["resume"]).tolist(),
        "en": (mwn["title"] + "\n\n" + mwn["headline"]).tolist(),
    }
    for expected, texts in samples.items():
        guesses = detect_languages(texts)
        share = sum(g.language == expected for g in guesses) / len(guesses)
        assert share >= 0.99, f"{expected}: {share:.3f}"
    # Hespress writes Modern Standard Arabic: Darija quotes are rare, whole stories flagged rarer still.
    assert sum(g.darija for g in detect_languages(samples["ar"])) <= 3


@pytest.mark.shared
def test_cleaning_keeps_every_story_and_lead_of_morocco_news() -> None:
    hespress, outlets, mwn = _news_tables()
    sources = {
        "hespress": hespress["story"].tolist(),
        "outlets": (outlets["title"] + "\n\n" + outlets["resume"]).tolist(),
        "mwn": (mwn["title"] + "\n\n" + mwn["headline"]).tolist(),
    }
    for name, texts in sources.items():
        repeated = find_repeated_lines(texts, min_docs=5, min_share=0.2)
        assert repeated == frozenset(), name
        for text in texts:
            cleaned = clean_text(text, repeated_lines=repeated)
            # The only line ever dropped is a lead that repeats its own title word for word.
            assert {piece.reason for piece in cleaned.removed} <= {"repeated line in document"}, (name, text)
            assert all(line in cleaned.text for line in normalise_unicode(text).split("\n")), (name, text)


def test_labelled_partner_offer_box_is_removed_and_its_neighbours_kept():
    text = (
        "Le fonds prendra des participations minoritaires dans les jeunes pousses.\n\n"
        "Offre partenaire\nOrdinateur portable UltraBook 14 pouces\n16 Go de RAM, SSD 512 Go, livré sous 48 h\n"
        "7 990,00 MAD\n\nLes entrepreneurs saluent l’initiative."
    )
    cleaned = clean_text(text)
    assert [p.reason for p in cleaned.removed] == ["advertisement/product box"] * 4
    assert cleaned.text == (
        "Le fonds prendra des participations minoritaires dans les jeunes pousses.\n\n"
        "Les entrepreneurs saluent l’initiative."
    )


def test_packaged_word_lists_are_read_by_one_reader_with_sections_and_comments():
    from analysis.text import read_word_list

    markers = read_word_list("darija_markers.txt")
    assert set(markers) == {"arabic", "latin"}  # no entry before the first section
    assert "ديال" in markers["arabic"] and "bzaf" in markers["latin"]
    assert not any("#" in word or not word.strip() for words in markers.values() for word in words)
    darija = read_word_list("stopwords_darija.txt")
    assert list(darija) == [""] and "ديال" in darija[""]  # a list without sections
    exceptions = read_word_list("stopword_exceptions.txt")
    assert {"en", "fr", "ar"} <= set(exceptions) and "ai" in exceptions["en"]
    with pytest.raises(FileNotFoundError, match=r"analysis/data/nope\.txt"):
        read_word_list("nope.txt")


def test_arabic_rules_are_defined_once_and_shared():
    from analysis.text import arabic, clean, dates, language
    from analysis.text.arabic import ARABIC_SCRIPT_CHAR, normalise_arabic, without_article

    assert normalise_arabic("الذَّكاءُ الإصطناعيّ ـ مدرسة") == "الذكاء الاصطناعي  مدرسه"
    assert normalise_arabic("والمدارس", stem=True) == "مدارس"
    assert without_article("الشراكة") == "شراكة" and without_article("الما") == "الما"  # 3 letters kept
    assert without_article("alpha") == "alpha"
    assert ARABIC_SCRIPT_CHAR.search("Rabat الرباط") and not ARABIC_SCRIPT_CHAR.search("Rabat ⵕⴱⴰⵟ")
    assert language._SCRIPT_RANGES["Arab"] is arabic.SCRIPT_RANGES
    assert clean.DIACRITICS is arabic.DIACRITICS
    assert dates.ANY_ARABIC_LETTERS is arabic.ANY_ARABIC_LETTERS
