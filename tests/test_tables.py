"""Share tables, trends and representative segments on a synthetic corpus with planted trends.

`synthetic_segments` builds a segment table with topic columns (as in docs/architecture.md): five
sources, three languages, 24 months, several segments per article that mostly share the article's
theme (so segments are clustered within documents), "infrastructure" rising linearly from 10 % to
50 % of articles and "ethics" flat at 20 %. The figure and report tests import it from here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from analysis.config import TableConfig
from analysis.schema import MissingColumnsError
from analysis.tables import (
    corpus_counts,
    representative_segments,
    share_table,
    theme_trends,
)

SOURCES = ("outlet-a", "outlet-b", "outlet-c", "outlet-d", "outlet-e")
SOURCE_LANGUAGE = {"outlet-a": "ar", "outlet-b": "ar", "outlet-c": "fr", "outlet-d": "fr", "outlet-e": "en"}
THEMES = ("infrastructure", "ethics", "sovereignty", "skills", "other")
# theme -> topic ids; "other" includes the outlier topic -1
THEME_TOPICS = {
    "infrastructure": (0, 1),
    "ethics": (2,),
    "sovereignty": (3,),
    "skills": (4,),
    "other": (-1, 5),
}
WORDS = {
    "infrastructure": {
        "ar": ["مراكز البيانات", "الحوسبة", "الربط"], "fr": ["centres de données", "calcul", "réseau"],
        "en": ["data centres", "compute", "connectivity"],
    },
    "ethics": {
        "ar": ["الخصوصية", "حماية المعطيات", "الثقة"], "fr": ["vie privée", "protection des données", "éthique"],
        "en": ["privacy", "data protection", "ethics"],
    },
    "sovereignty": {
        "ar": ["السيادة الرقمية", "الاستقلال"], "fr": ["souveraineté", "indépendance"],
        "en": ["sovereignty", "independence"],
    },
    "skills": {"ar": ["التكوين", "المهارات"], "fr": ["formation", "compétences"], "en": ["training", "skills"]},
    "other": {"ar": ["الرياضة", "الطقس"], "fr": ["sport", "météo"], "en": ["sport", "weather"]},
}  # fmt: skip
MONTHS = pd.period_range("2023-01", "2024-12", freq="M")


def theme_probabilities(month_index: int) -> dict[str, float]:
    """Planted truth: infrastructure 10 % → 50 % of articles over 24 months, ethics flat at 20 %."""
    infrastructure = 0.10 + 0.40 * month_index / (len(MONTHS) - 1)
    rest = 1.0 - infrastructure - 0.20
    return {"infrastructure": infrastructure, "ethics": 0.20, "sovereignty": rest * 0.4,
            "skills": rest * 0.3, "other": rest * 0.3}  # fmt: skip


def synthetic_segments(n_documents: int = 160, seed: int = 7) -> pd.DataFrame:
    """A segment table with topic columns; ~2-6 segments per article, 85 % on the article's theme."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_documents):
        source = SOURCES[d % len(SOURCES)]
        month_index = int(rng.integers(len(MONTHS)))
        probabilities = theme_probabilities(month_index)
        doc_theme = rng.choice(THEMES, p=list(probabilities.values()))
        day = MONTHS[month_index].start_time + pd.Timedelta(days=int(rng.integers(28)))
        precision = "day"
        if d % 40 == 13:
            day, precision = pd.NaT, ""
        elif d % 40 == 27:
            day, precision = pd.Timestamp(year=day.year, month=1, day=1), "year"
        doc_id = f"{source}:{d}"
        for s in range(int(rng.integers(2, 7))):
            theme = doc_theme if rng.random() < 0.85 else rng.choice(THEMES)
            language = SOURCE_LANGUAGE[source] if rng.random() < 0.9 else rng.choice(["ar", "fr", "en"])
            topic = int(rng.choice(THEME_TOPICS[theme]))
            words = rng.choice(WORDS[theme][language], size=2)
            rows.append(
                {
                    "doc_id": doc_id, "segment_id": f"{doc_id}#{s}", "segment_index": s,
                    "text": f"{words[0]} {words[1]} ({language} {d}.{s})", "language": language,
                    "doc_language": SOURCE_LANGUAGE[source], "source": source, "date": day,
                    "date_precision": precision, "duplicate_of": "", "topic": topic,
                    "topic_label": f"{topic}_{WORDS[theme]['en'][0]}_{WORDS[theme]['ar'][0]}",
                    "theme": theme, "theme_score": float(rng.uniform(0.2, 0.9)),
                    "dict_theme": theme, "dict_theme_score": float(rng.uniform(0, 1)),
                }
            )  # fmt: skip
    segments = pd.DataFrame(rows)
    segments["date"] = pd.to_datetime(segments["date"])
    # A syndicated copy: outlet-b republishes the first segment of outlet-a's first article.
    copy = segments.iloc[0].copy()
    copy["doc_id"], copy["segment_id"], copy["source"] = "outlet-b:copy", "outlet-b:copy#0", "outlet-b"
    copy["duplicate_of"] = segments.iloc[0]["segment_id"]
    return pd.concat([segments, copy.to_frame().T], ignore_index=True).astype(segments.dtypes.to_dict())


@pytest.fixture(scope="module")
def segments() -> pd.DataFrame:
    return synthetic_segments()


CONFIG = TableConfig(n_bootstrap=400, seed=3, period="month")


@pytest.fixture(scope="module")
def by_source(segments) -> pd.DataFrame:
    return share_table(segments, by="source", config=CONFIG)


def test_share_table_columns_and_shares_sum_to_one_per_group(by_source, segments):
    assert list(by_source.columns) == [
        "group", "theme", "n_segments", "n_documents", "share", "ci_low", "ci_high", "small_cell",
    ]  # fmt: skip
    assert set(by_source["group"]) == set(SOURCES)
    assert set(by_source["theme"]) == set(THEMES)  # every theme in every group, zeros included
    np.testing.assert_allclose(by_source.groupby("group")["share"].sum(), 1.0)
    assert by_source["n_segments"].sum() == len(segments)
    assert ((by_source["ci_low"] <= by_source["share"]) & (by_source["share"] <= by_source["ci_high"])).all()
    # shares are counts over the group's segments
    a = segments[segments["source"] == "outlet-a"]
    row = by_source[(by_source["group"] == "outlet-a") & (by_source["theme"] == "ethics")].iloc[0]
    assert row["share"] == pytest.approx((a["theme"] == "ethics").mean())
    assert row["n_documents"] == a.loc[a["theme"] == "ethics", "doc_id"].nunique()


def test_document_bootstrap_is_wider_than_a_naive_segment_bootstrap(segments):
    """Segments of an article share its theme; treating them as independent understates uncertainty."""
    by_document = share_table(segments, by="source", config=CONFIG)
    naive = share_table(segments.assign(doc_id=segments["segment_id"]), by="source", config=CONFIG)
    width_document = (by_document["ci_high"] - by_document["ci_low"]).mean()
    width_naive = (naive["ci_high"] - naive["ci_low"]).mean()
    assert width_document > 1.3 * width_naive, (width_document, width_naive)


def test_bootstrap_is_deterministic_with_the_seed_and_changes_without(segments, by_source):
    again = share_table(segments, by="source", config=CONFIG)
    pd.testing.assert_frame_equal(by_source, again)
    other_seed = share_table(segments, by="source", config=dataclasses.replace(CONFIG, seed=4))
    assert not np.allclose(other_seed["ci_low"], by_source["ci_low"])
    # a group's interval does not depend on which other groups are present
    alone = share_table(segments[segments["source"] == "outlet-c"], by="source", config=CONFIG)
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True),
        by_source[by_source["group"] == "outlet-c"].reset_index(drop=True),
        check_exact=False,
    )


def test_period_table_leaves_out_undated_and_too_coarse_dates_and_says_so(segments):
    table = share_table(segments, by="period", config=CONFIG)
    undated = int(segments["date"].isna().sum())
    coarse = int((segments["date_precision"] == "year").sum())
    assert undated > 0 and coarse > 0
    assert table.attrs["n_undated"] == undated
    assert table.attrs["n_too_coarse"] == coarse
    assert f"{undated} undated segment(s) left out" in table.attrs["note"]
    assert table["n_segments"].sum() == len(segments) - undated - coarse
    assert table["group"].iloc[0] == "2023-01" and table["group"].iloc[-1] == "2024-12"
    yearly = share_table(segments, by="period", config=dataclasses.replace(CONFIG, period="year"))
    assert list(yearly["group"].unique()) == ["2023", "2024"]
    assert yearly.attrs["n_too_coarse"] == 0  # a year-precise date is fine for yearly periods


def test_duplicates_count_by_default_and_can_be_left_out(segments):
    with_copies = share_table(segments, by="source", config=CONFIG)
    without = share_table(segments, by="source", config=CONFIG, include_duplicates=False)
    b_with = with_copies.loc[with_copies["group"] == "outlet-b", "n_segments"].sum()
    b_without = without.loc[without["group"] == "outlet-b", "n_segments"].sum()
    assert b_with - b_without == 1
    assert "1 duplicate segment(s) left out" in without.attrs["note"]


def test_small_groups_are_flagged(segments):
    table = share_table(segments, by="language", config=dataclasses.replace(CONFIG, min_docs_per_cell=60))
    documents = segments.groupby("language")["doc_id"].nunique()
    flagged = table.groupby("group")["small_cell"].first()
    pd.testing.assert_series_equal(flagged, documents < 60, check_names=False)
    assert flagged.any() and not flagged.all()


def test_topic_unit_includes_outliers(segments):
    table = share_table(segments, by="language", unit="topic", config=CONFIG)
    assert -1 in set(table["topic"])
    np.testing.assert_allclose(table.groupby("group")["share"].sum(), 1.0)


def test_planted_rising_theme_has_a_positive_slope_and_flat_theme_contains_zero(segments):
    trends = theme_trends(segments, CONFIG).set_index("theme")
    rising = trends.loc["infrastructure"]
    assert rising["ci_low"] > 0 and rising["direction"] == "rising"
    assert rising["slope_per_year"] == pytest.approx(0.20, abs=0.08)  # planted: 0.40 over 23 months
    flat = trends.loc["ethics"]
    assert flat["ci_low"] < 0 < flat["ci_high"] and flat["direction"] == "no clear trend"
    assert rising["first_period_share"] < rising["last_period_share"]
    assert trends.attrs["first_period"] == "2023-01"


def test_trends_with_one_period_say_why_instead_of_inventing_a_slope(segments):
    one_month = segments[segments["date"].dt.to_period("M") == pd.Period("2024-05")]
    trends = theme_trends(one_month, CONFIG)
    assert trends["slope_per_year"].isna().all()
    assert (trends["direction"] == "n/a (1 month)").all()
    undated = theme_trends(segments.assign(date=pd.NaT), CONFIG)
    assert list(undated.columns) == list(trends.columns) and len(undated) == len(trends)
    assert (undated["direction"] == "n/a (no dated segments)").all()


def test_bad_input_names_the_missing_column(segments):
    with pytest.raises(MissingColumnsError, match=r"missing column\(s\) \['theme'\]"):
        share_table(segments.drop(columns="theme"), by="source", config=CONFIG)
    with pytest.raises(KeyError, match="outlet"):
        share_table(segments, by="outlet", config=CONFIG)
    with pytest.raises(ValueError, match="unit must be"):
        share_table(segments, by="source", unit="word", config=CONFIG)  # type: ignore[arg-type]


def test_representative_segments_by_topic_words_and_by_centroid(segments):
    topics = pd.DataFrame(
        {
            "topic": [0],
            "words": [["data centres", "compute"]],
            "words_ar": ["مراكز البيانات, الحوسبة"],  # as read back from topics.csv
        }
    )
    best = representative_segments(segments, topics=topics, n=2)
    arabic = best[(best["topic"] == 0) & (best["language"] == "ar")]
    assert list(arabic["rank"]) == [1, 2]
    assert (arabic["score"] >= 1).all()
    assert arabic["text"].str.contains("مراكز البيانات|الحوسبة").all()
    assert best.groupby(["topic", "language"]).size().max() <= 2
    assert -1 not in set(best["topic"])
    # with embeddings: the segment planted at the centroid ranks first
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(len(segments), 8))
    topic0_fr = np.flatnonzero((segments["topic"] == 0) & (segments["language"] == "fr"))
    centre = embeddings[segments["topic"].to_numpy() == 0].mean(axis=0)
    embeddings[topic0_fr[3]] = centre
    by_centroid = representative_segments(segments, embeddings=embeddings, n=1)
    top = by_centroid[(by_centroid["topic"] == 0) & (by_centroid["language"] == "fr")].iloc[0]
    assert top["segment_id"] == segments["segment_id"].iloc[topic0_fr[3]]
    with pytest.raises(ValueError, match="one row per segment"):
        representative_segments(segments, embeddings=embeddings[:5])


def test_corpus_counts_count_documents_once(segments):
    counts = corpus_counts(segments, CONFIG)
    assert counts["n_documents"].sum() == segments["doc_id"].nunique()
    assert counts["n_segments"].sum() == len(segments)
    assert "undated" in set(counts["period"])


def test_auto_period_follows_how_many_documents_each_period_holds():
    from analysis.tables import resolve_period

    def corpus(n_docs: int, months: int) -> pd.DataFrame:
        dates = pd.date_range("2023-01-01", periods=months, freq="MS")
        return pd.DataFrame(
            {"doc_id": [f"d{i}" for i in range(n_docs)], "date": [dates[i % months] for i in range(n_docs)]}
        )

    auto = TableConfig(period="auto")
    assert resolve_period(corpus(24 * 12, 24), auto).period == "month"  # 12 documents a month
    assert resolve_period(corpus(24 * 5, 24), auto).period == "quarter"  # 5 a month, 15 a quarter
    assert resolve_period(corpus(30, 24), auto).period == "year"
    assert resolve_period(corpus(30, 24), TableConfig(period="month")).period == "month"  # explicit wins
