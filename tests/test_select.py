"""Selecting the sub-corpus: which segments each rule keeps, and the ledger still sums."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.config import ConfigError, RunConfig, SelectConfig
from analysis.select import NOT_SELECTED, load_keyword_list, select_corpus, select_segments
from analysis.themes import load_codebook


def frame() -> pd.DataFrame:
    rows = [
        ("d1", "Le gouvernement mise sur l'intelligence artificielle.", "fr", "Capital", "2024-01-10"),
        ("d1", "Le match de football s'est joué samedi.", "fr", "Capital", "2024-01-10"),
        ("d2", "وأعلنت الوزارة عن استراتيجية للذكاء الاصطناعي في الإدارة.", "ar", "Raqmi", "2024-06-01"),
        ("d3", "The AI Act was debated in Brussels.", "en", "Wire", "2025-02-01"),
        ("d4", "J'ai vu la pluie tomber sur Rabat.", "fr", "Capital", "2025-03-01"),
        ("d5", "Farmers irrigate with drones and sensors.", "en", "Wire", "2023-05-01"),
    ]
    segments = pd.DataFrame(rows, columns=["doc_id", "text", "language", "source", "date"])
    segments["segment_id"] = [f"{d}#{i}" for i, d in enumerate(segments["doc_id"])]
    segments["date"] = pd.to_datetime(segments["date"])
    return segments


def test_the_packaged_ai_list_matches_normalised_words_and_upper_case_acronyms() -> None:
    decisions = select_segments(frame(), SelectConfig(keywords="ai")).decisions.set_index("segment_id")
    # elision (l'intelligence), Arabic clitics (للذكاء), the acronym AI; not "j'ai", not football
    assert decisions["selected"].to_dict() == {
        "d1#0": True, "d1#1": False, "d2#2": True, "d3#3": True, "d4#4": False, "d5#5": False,
    }  # fmt: skip
    assert decisions.loc["d4#4", "rule"] == "no keyword, regex or theme term matched"
    assert "regex" in decisions.loc["d3#3", "matched"]


def test_rules_apply_in_order_and_name_what_they_left_out() -> None:
    config = SelectConfig(keywords="ai", sources=("Capital", "Raqmi"), date_from="2024-03-01")
    selection = select_segments(frame(), config)
    rules = selection.decisions.set_index("segment_id")["rule"].to_dict()
    assert rules["d3#3"] == "source not in ['Capital', 'Raqmi']"
    assert rules["d1#0"] == "dated before 2024-03-01"
    assert rules["d2#2"] == ""
    assert selection.summary["kept"] == {"segments": 1, "documents": 1}
    assert selection.summary["steps"][0]["rule"] == "input"
    assert sum(s.get("segments_left_out", 0) for s in selection.summary["steps"]) == 5


def test_document_level_keeps_the_whole_article_and_theme_terms_select() -> None:
    decisions = select_segments(frame(), SelectConfig(keywords="ai", level="document")).decisions
    assert decisions.set_index("segment_id").loc["d1#1", "selected"]  # football paragraph of an AI article
    by_theme = select_segments(frame(), SelectConfig(themes=("sectors",)), codebook=load_codebook()).decisions
    assert by_theme.loc[by_theme["selected"], "doc_id"].tolist() == ["d5"]  # irrigation, drones


def test_bad_regex_and_unknown_list_stop_with_a_message(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not compile"):
        select_segments(frame(), SelectConfig(regex=("(",)))
    with pytest.raises(ConfigError, match="packaged names: ai"):
        load_keyword_list(str(tmp_path / "missing.toml"))
    assert RunConfig.from_dict({"select": {"keywords": "ai", "sources": ["A"]}}).select.sources == ("A",)


def test_select_corpus_accounts_for_every_document_in_the_ledger(sample_corpus) -> None:
    corpus = sample_corpus  # conftest's, built once per session; select_corpus returns new frames
    selected, selection = select_corpus(corpus, SelectConfig(terms=("Vantara",), level="segment"))
    segments, ledger = selected.segments, selected.ledger
    assert len(segments) == selection.summary["kept"]["segments"] > 0
    assert segments["text"].str.contains("Vantara").all()
    documents = ledger[ledger["kind"] == "document"]
    assert len(documents) == len(corpus.ledger[corpus.ledger["kind"] == "document"])  # inputs unchanged
    used = documents["status"].isin(["used", "duplicate"])
    assert set(documents.loc[used, "doc_id"]) == set(segments["doc_id"])  # used = documents with segments
    not_selected = documents[documents["status"] == NOT_SELECTED]
    assert (not_selected["reason"] == "no keyword, regex or theme term matched").all()
    # a kept document's other paragraphs are pieces "not selected"
    pieces = ledger[(ledger["kind"] == "piece") & (ledger["status"] == NOT_SELECTED)]
    assert set(pieces["doc_id"]) <= set(segments["doc_id"]) and len(pieces) > 0
    assert documents.loc[used, "n_segments"].sum() == len(segments)
    # no kept duplicate points to a segment that is gone
    targets = set(segments.loc[segments["duplicate_of"] != "", "duplicate_of"])
    assert targets <= set(segments["segment_id"])
    assert selected.summary()["documents"]["excluded"] == len(documents) - int(
        (documents["status"] == "used").sum()
    )
