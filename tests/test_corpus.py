"""Loading folders, tables and corpus descriptions into segments and a ledger that accounts for all."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from analysis.config import CorpusConfig, RunConfig
from analysis.corpus import LEDGER_COLUMNS, SEGMENT_COLUMNS, build_corpus, write_corpus
from analysis.text import normalise_unicode

SHARED = Path(__file__).parents[2] / "shared" / "corpus"
EXAMPLES = Path(__file__).parents[1] / "examples"
CONFIG = CorpusConfig()

FR_LEAD = "Le gouvernement a signé un accord avec une entreprise d'intelligence artificielle à Rabat."
EN_LEAD = "Morocco signed an agreement with an artificial intelligence company to train engineers."
AR_LEAD = "وقعت الحكومة المغربية اتفاقية مع شركة للذكاء الاصطناعي لتكوين المهندسين الشباب."


@pytest.fixture(scope="module")
def described(tmp_path_factory: pytest.TempPathFactory):
    """A description with two layouts: outlet from the file name, and a constant source with a section."""
    root = tmp_path_factory.mktemp("described")
    (root / "data").mkdir()
    (root / "data" / "bladi.csv").write_text(
        f'title,resume,date\nAccord sur l\'IA signé à Rabat,"{FR_LEAD}",15 décembre 2019\n'
        f'Accord sur l\'IA signé à Rabat,"{FR_LEAD}",16 décembre 2019\n',
        encoding="utf-8",
    )
    (root / "data" / "mwn.jsonl").write_text(
        f'{{"title": "AI deal signed", "summary": "{EN_LEAD}", "when": "May 24, 2020", "topic": "tech"}}\n'
        f'{{"title": "تكوين المهندسين", "summary": "{AR_LEAD}", "when": "someday", "topic": "tech"}}\n',
        encoding="utf-8",
    )
    (root / "corpus.toml").write_text(
        """
name = "tiny"
[[input]]
path = "data/*.csv"
text = ["title", "resume"]
title = "title"
date = "date"
source = { from = "filename", names = { bladi = "Bladi.net" } }
language = "fr"
[[input]]
path = "data/mwn.jsonl"
text = ["title", "summary"]
date = "when"
source = "MWN"
keep = { section = "topic" }
[config.corpus]
min_segment_chars = 10
""",
        encoding="utf-8",
    )
    config = RunConfig.from_toml(root / "corpus.toml").corpus
    return build_corpus(root / "corpus.toml", config, progress=False), config


def test_description_maps_text_source_date_and_kept_columns(described):
    corpus, config = described
    assert config.min_segment_chars == 10  # [config] is for RunConfig; the loader ignored it
    segments = corpus.segments
    assert list(segments.columns) == [*SEGMENT_COLUMNS, "section"]
    first = segments.iloc[0]
    assert (first["doc_id"], first["source"], first["title"], first["origin"]) == (
        "bladi:1", "Bladi.net", "Accord sur l'IA signé à Rabat", "bladi.csv:row 1"
    )  # fmt: skip
    assert segments.loc[segments["doc_id"] == "bladi:1", "text"].tolist() == [
        "Accord sur l'IA signé à Rabat",
        FR_LEAD,
    ]
    mwn = segments[segments["source"] == "MWN"]
    assert set(mwn["section"]) == {"tech"}
    assert mwn.groupby("doc_id")["language"].first().to_dict() == {"mwn:1": "en", "mwn:2": "ar"}


def test_dates_are_parsed_and_an_unparseable_one_stays_missing_with_its_raw_text(described):
    corpus, _ = described
    dates = corpus.segments.drop_duplicates("doc_id").set_index("doc_id")
    assert dates.loc["bladi:1", "date"] == pd.Timestamp("2019-12-15")
    assert dates.loc["mwn:1", "date"] == pd.Timestamp("2020-05-24")
    assert pd.isna(dates.loc["mwn:2", "date"]) and dates.loc["mwn:2", "date_raw"] == "someday"
    assert corpus.summary()["dates"]["unparsed"] == 1


def test_a_repeated_article_is_a_duplicate_document_kept_in_segments(described):
    corpus, _ = described
    row = corpus.ledger[(corpus.ledger["kind"] == "document") & (corpus.ledger["doc_id"] == "bladi:2")].iloc[
        0
    ]
    assert (row["status"], row["reason"], row["n_segments"]) == ("duplicate", "duplicate of bladi:1", 2)
    copies = corpus.segments[corpus.segments["doc_id"] == "bladi:2"]
    assert copies["duplicate_of"].tolist() == ["bladi:1#0", "bladi:1#1"]


def test_write_corpus_round_trips(described, tmp_path: Path):
    corpus, _ = described
    paths = write_corpus(corpus, tmp_path / "run")
    segments = pd.read_parquet(paths["segments"])
    ledger = pd.read_csv(paths["ledger"], keep_default_na=False)
    assert list(ledger.columns) == list(LEDGER_COLUMNS)
    assert len(segments) == len(corpus.segments)
    assert segments["date"].dtype == "datetime64[ns]"
    assert segments["segment_id"].tolist() == corpus.segments["segment_id"].tolist()


def test_html_pages_give_main_text_title_and_date_without_navigation(tmp_path: Path):
    page = f"""<html><head><title>Accord IA | Site</title>
    <meta property="article:published_time" content="2024-05-07"></head><body>
    <nav><a href="/">Accueil</a> <a href="/tech">Tech</a> <a href="/eco">Économie</a></nav>
    <article><h1>Accord sur l'intelligence artificielle</h1><p>{FR_LEAD}</p>
    <p>{FR_LEAD.replace("Rabat", "Casablanca")} Les détails seront publiés plus tard.</p></article>
    <footer>Tous droits réservés</footer></body></html>"""
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    corpus = build_corpus(tmp_path, CONFIG, progress=False)
    segments = corpus.segments
    joined = "\n".join(segments["text"])
    assert FR_LEAD in joined and "Accueil" not in joined and "droits réservés" not in joined
    assert set(segments["title"]) == {"Accord sur l'intelligence artificielle"}
    assert set(segments["date"]) == {pd.Timestamp("2024-05-07")}
    assert set(segments["source"]) == {tmp_path.name}


# --- shared corpora -------------------------------------------------------------------------------


def shared(path: str) -> Path:
    if not (SHARED / path).exists():
        pytest.skip(f"{SHARED / path} not present")
    return SHARED / path


@pytest.fixture(scope="module")
def seeds():
    return build_corpus(shared("seeds"), CONFIG, progress=False)


FURNITURE = re.compile(
    r"^(Lire aussi|Image Product|TOP Pick|Trending|اظهر المزيد|مقالات ذات صلة|اترك تعليقاً|"
    r"لن يتم نشر عنوان بريدك|زر الذهاب إلى الأعلى)"
)
PRODUCT_BOX = re.compile(r"COSORI|^Cahiers?\b")  # the Amazon box in seed 000


@pytest.mark.shared
def test_seeds_carry_manifest_titles_and_dates(seeds):
    manifest = pd.read_csv(shared("seeds") / "manifest.csv", dtype=str)
    firsts = seeds.segments.drop_duplicates("doc_id").set_index("doc_id")
    assert set(firsts.index) == set(manifest["id"])
    for row in manifest.itertuples():
        assert firsts.loc[row.id, "title"] == row.title
        assert firsts.loc[row.id, "date_raw"] == row.date
        assert firsts.loc[row.id, "date"] == pd.Timestamp(row.date)  # "2024-05" → 2024-05-01
        assert firsts.loc[row.id, "doc_language"] == row.language
        assert firsts.loc[row.id, "source"] == row.source


@pytest.mark.shared
def test_seeds_lose_furniture_lines_and_keep_every_body_paragraph(seeds):
    texts = seeds.segments["text"].tolist()
    lines = [line for text in texts for line in text.split("\n")]
    assert not [line for line in lines if FURNITURE.match(line)]
    assert not [line for line in lines if PRODUCT_BOX.search(line)]
    joined = "\n".join(texts)
    for path in sorted(shared("seeds").glob("*.txt")):
        paragraphs = [p.strip() for p in normalise_unicode(path.read_text(encoding="utf-8")).split("\n")]
        body = [
            p for p in paragraphs if len(p) >= 120 and not FURNITURE.match(p) and not PRODUCT_BOX.search(p)
        ]
        assert body, path.name
        missing = [p[:60] for p in body if p not in joined]
        assert not missing, f"{path.name}: body paragraphs lost: {missing}"


@pytest.fixture(scope="module")
def morocco_news():
    shared("morocco-news")
    return build_corpus(EXAMPLES / "morocco-news.toml", CONFIG, progress=False)


@pytest.mark.shared
@pytest.mark.slow
def test_morocco_news_accounts_for_every_input_row(morocco_news):
    documents = morocco_news.ledger[morocco_news.ledger["kind"] == "document"]
    assert len(documents) == 12_475
    assert documents["doc_id"].is_unique
    invalid = documents[documents["status"] == "invalid"]
    assert invalid[["origin", "reason"]].values.tolist() == [
        ["outlets-fr/bladi.csv:row 13", "repeated header row"]
    ]
    assert set(documents["status"]) == {"used", "duplicate", "invalid"}
    summary = morocco_news.summary()
    assert summary["documents"]["used"] + summary["documents"]["excluded"] == 12_475
    assert set(summary["segments_by_source"]) == {
        "Hespress",
        "Bladi.net",
        "H24info",
        "Hespress FR",
        "Morocco World News",
    }


@pytest.mark.shared
@pytest.mark.slow
def test_morocco_news_dates_all_parse(morocco_news):
    segments = morocco_news.segments
    assert segments["date"].notna().all()
    assert segments["date"].min() >= pd.Timestamp("2017-12-01")
    assert segments["date"].max() <= pd.Timestamp("2020-10-31")
    assert morocco_news.summary()["dates"]["unparsed"] == 0


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize(
    ("source", "language"),
    [
        ("Hespress", "ar"),
        ("Bladi.net", "fr"),
        ("H24info", "fr"),
        ("Hespress FR", "fr"),
        ("Morocco World News", "en"),
    ],
)
def test_morocco_news_segment_languages_match_the_outlet(morocco_news, source: str, language: str):
    segments = morocco_news.segments[morocco_news.segments["source"] == source]
    assert len(segments) > 400
    assert (segments["language"] == language).mean() >= 0.99


def test_require_columns_raises_one_error_type_naming_what_is_missing():
    from analysis.schema import MissingColumnsError, require_columns

    frame = pd.DataFrame({"text": ["a"], "topic": [0]})
    require_columns(frame, ["text", "topic"], what="share table")  # all present: no error
    with pytest.raises(MissingColumnsError) as excinfo:
        require_columns(frame, ["text", "seg_themes", "source"], what="share table", fix="Run the topic stage.")
    message = str(excinfo.value)
    assert message == (
        "share table: missing column(s) ['seg_themes', 'source']; it has ['text', 'topic']. Run the topic stage."
    )
    assert isinstance(excinfo.value, KeyError) and isinstance(excinfo.value, ValueError)


def test_is_original_reads_duplicate_of_and_treats_a_table_without_it_as_originals():
    from analysis.schema import is_original

    segments = pd.DataFrame({"duplicate_of": ["", "a#0", None, ""]}, index=[10, 11, 12, 13])
    assert is_original(segments).tolist() == [True, False, True, True]
    assert is_original(segments).index.tolist() == [10, 11, 12, 13]
    assert is_original(pd.DataFrame({"text": ["x", "y"]})).tolist() == [True, True]
