"""The packaged sample corpus keeps the shape its README promises.

Read with pandas and pathlib only, not with `analysis.corpus`, so that a loader bug cannot hide a
corpus defect (or the other way round). A "paragraph" here is a blank-line-separated block of at
least 30 words: shorter blocks are the planted headings, furniture and one-line quotes.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pandas as pd
import pytest

SAMPLE = Path(__file__).parents[1] / "analysis" / "data" / "sample"
CODEBOOK = Path(__file__).parents[1] / "analysis" / "data" / "codebook.toml"
MANIFEST_COLUMNS = ["id", "file", "language", "source", "date", "title", "url", "story", "label"]
MIN_PARAGRAPH_WORDS = 30
TIFINAGH = re.compile("[\u2d30-\u2d7f]")
DARIJA_MARKERS = ("ديال", "بزاف", "غادي", "دابا", "واش", "كيفاش", "ماشي")
ARABIZI = re.compile(r"\b[a-z]*[379][a-z]+\b")
FURNITURE = re.compile(
    r"^(Read also:|Lire aussi :|اقرأ أيضا:|Share this article|Partager sur Facebook|"
    r"Abonnez-vous à notre newsletter|زر الذهاب إلى الأعلى|Leave a comment|اترك تعليقاً)",
    re.MULTILINE,
)


@pytest.fixture(scope="module")
def manifest() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "manifest.csv", dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def texts(manifest: pd.DataFrame) -> dict[str, str]:
    """File name → text; a file that is not UTF-8 fails here with its name."""
    out = {}
    for name in manifest["file"]:
        try:
            out[name] = (SAMPLE / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            pytest.fail(f"manifest.csv names {name}, which is not in {SAMPLE}")
        except UnicodeDecodeError as exc:
            pytest.fail(f"{name} is not UTF-8: {exc}")
    return out


@pytest.fixture(scope="module")
def blocks(manifest: pd.DataFrame, texts: dict[str, str]) -> pd.DataFrame:
    """One row per blank-line-separated block, with its article's metadata and word count."""
    rows = [
        {"file": row.file, "language": row.language, "source": row.source, "block": block}
        for row in manifest.itertuples()
        for block in re.split(r"\n\s*\n", texts[row.file].strip())
    ]
    table = pd.DataFrame(rows)
    table["words"] = table["block"].str.split().str.len()
    table["paragraph"] = table["words"] >= MIN_PARAGRAPH_WORDS
    return table


def test_manifest_lists_exactly_the_files_present(manifest: pd.DataFrame) -> None:
    assert list(manifest.columns) == MANIFEST_COLUMNS
    present = sorted(path.name for path in SAMPLE.glob("*.txt"))
    assert sorted(manifest["file"]) == present
    assert manifest["id"].is_unique
    assert len(manifest) >= 60


def test_every_file_is_utf8_and_not_empty(texts: dict[str, str]) -> None:
    empty = [name for name, text in texts.items() if not text.strip()]
    assert not empty, f"empty files: {empty}"
    assert not [name for name, text in texts.items() if text.startswith("\ufeff") or "\x00" in text]


def test_paragraph_count_and_length(blocks: pd.DataFrame) -> None:
    paragraphs = blocks[blocks["paragraph"]]
    assert len(paragraphs) >= 170
    too_long = paragraphs[paragraphs["words"] > 90]
    assert too_long.empty, too_long[["file", "words"]].to_string()


def test_each_language_holds_a_quarter_of_paragraphs(blocks: pd.DataFrame) -> None:
    shares = blocks.loc[blocks["paragraph"], "language"].value_counts(normalize=True)
    assert set(shares.index) == {"ar", "fr", "en"}
    assert (shares >= 0.25).all(), shares.to_dict()
    assert shares.idxmax() == "ar"


def test_five_generic_sources_each_with_articles(manifest: pd.DataFrame) -> None:
    per_source = manifest["source"].value_counts()
    assert len(per_source) == 5
    assert per_source.min() >= 10
    # two sources publish in more than one language
    assert (manifest.groupby("source")["language"].nunique() > 1).sum() == 2


def test_dates_are_within_2023_to_2025_and_some_are_month_only(manifest: pd.DataFrame) -> None:
    day = manifest["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    month = manifest["date"].str.fullmatch(r"\d{4}-\d{2}")
    assert (day | month).all(), manifest.loc[~(day | month), ["id", "date"]].to_string()
    parsed = pd.concat(
        [
            pd.to_datetime(manifest.loc[day, "date"], format="%Y-%m-%d"),
            pd.to_datetime(manifest.loc[month, "date"], format="%Y-%m"),
        ]
    )
    assert set(parsed.dt.year) == {2023, 2024, 2025}
    assert 3 <= month.sum() <= 4
    assert parsed.dt.to_period("Q").nunique() >= 10  # spread over the three years, not bunched


def test_amazigh_darija_and_arabizi_lines_are_present(manifest: pd.DataFrame, texts: dict[str, str]) -> None:
    tifinagh_files = [name for name, text in texts.items() if TIFINAGH.search(text)]
    assert len(tifinagh_files) >= 2
    arabic = manifest.loc[manifest["language"] == "ar", "file"]
    darija_files = [name for name in arabic if sum(marker in texts[name] for marker in DARIJA_MARKERS) >= 2]
    assert len(darija_files) >= 3
    latin = manifest.loc[manifest["language"] != "ar", "file"]
    assert sum(bool(ARABIZI.search(texts[name])) for name in latin) >= 2


def test_same_story_groups_span_languages(manifest: pd.DataFrame) -> None:
    stories = manifest[manifest["story"] != ""].groupby("story")
    multilingual = stories["language"].nunique()
    assert (multilingual >= 2).sum() >= 8
    spread = stories["date"].agg(
        lambda dates: (pd.to_datetime(dates).max() - pd.to_datetime(dates).min()).days
    )
    assert spread.max() <= 7, spread.to_dict()


def test_labels_are_codebook_theme_keys(manifest: pd.DataFrame) -> None:
    if not CODEBOOK.is_file():
        pytest.skip("analysis/data/codebook.toml not written yet")
    keys = {theme["key"] for theme in tomllib.loads(CODEBOOK.read_text(encoding="utf-8"))["themes"]}
    assert set(manifest["label"]) <= keys
    assert manifest["label"].nunique() == len(keys)


def test_planted_cleaning_cases(manifest: pd.DataFrame, texts: dict[str, str]) -> None:
    with_furniture = [name for name, text in texts.items() if FURNITURE.search(text)]
    assert len(with_furniture) >= 12
    with_script = [name for name, text in texts.items() if '<script>alert("x")</script>' in text]
    assert len(with_script) == 1
    by_text = manifest.assign(text=manifest["file"].map(texts)).groupby("text")
    copies = [group for _, group in by_text if len(group) > 1]
    assert len(copies) == 1
    assert copies[0]["source"].nunique() == 2


def test_readme_counts_match_the_files(manifest: pd.DataFrame, blocks: pd.DataFrame) -> None:
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert f"{len(manifest)} articles, {len(blocks)} blank-line-separated blocks" in readme
    assert f"**{int(blocks['paragraph'].sum())} are body paragraphs**" in readme
    assert "MIT" in readme
    assert "fictional" in readme
