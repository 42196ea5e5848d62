"""The theme codebook: packaged content, strict validation, dictionary scores, topic→theme mapping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from analysis.themes import (
    COSINE_WEIGHT,
    OTHER,
    PACKAGED_CODEBOOK,
    CodebookError,
    best_dictionary_theme,
    codebook_to_toml,
    dictionary_scores,
    load_codebook,
    map_topics_to_themes,
    normalise_for_matching,
)

EXPECTED_THEMES = [
    "sovereignty", "infrastructure", "ethics_trust", "partnerships_diplomacy", "language_culture",
    "skills_education", "economy_startups", "public_services", "sectors", "geopolitics_competition",
]  # fmt: skip
ARABIC = re.compile("[\u0621-\u064a]")


# ---------------------------------------------------------------------------------------------
# The packaged codebook


def test_packaged_codebook_has_the_ten_themes_in_four_languages(codebook) -> None:
    assert codebook.keys == EXPECTED_THEMES
    assert codebook.source == str(PACKAGED_CODEBOOK)
    for theme in codebook.themes:
        assert theme.label and len(theme.description) > 40
        assert set(theme.terms) == {"en", "fr", "ar", "darija"}
        for language, terms in theme.terms.items():
            # specific terms plus those moved to `generic` by the morocco-news audit
            assert 8 <= len(terms) + len(theme.generic.get(language, ())) <= 20, (theme.key, language)
            assert len(terms) >= 5, (theme.key, language, "too few specific terms")
            assert len(set(terms)) == len(terms), (theme.key, language)
        assert all(ARABIC.search(term) for term in theme.terms["ar"]), theme.key
        assert sum(bool(ARABIC.search(term)) for term in theme.terms["darija"]) >= 6, theme.key


def test_no_term_belongs_to_two_themes(codebook) -> None:
    owner: dict[str, str] = {}
    for theme in codebook.themes:
        for term in {normalise_for_matching(term).strip() for term in theme.all_terms()}:
            assert owner.setdefault(term, theme.key) == theme.key, f"{term!r}: {owner[term]} and {theme.key}"


def test_concepts_list_every_term_of_every_theme(codebook) -> None:
    concepts = codebook.concepts()
    assert list(concepts) == EXPECTED_THEMES
    assert "مراكز البيانات" in concepts["infrastructure"] and "sécheresse" in concepts["sectors"]
    assert sum(map(len, concepts.values())) == sum(len(t.all_terms()) for t in codebook.themes)


def test_codebook_round_trips_through_toml(codebook, tmp_path: Path) -> None:
    path = tmp_path / "copy.toml"
    path.write_text(codebook_to_toml(codebook), encoding="utf-8")
    again = load_codebook(path)
    assert again.themes == codebook.themes
    assert (again.name, again.version, again.description) == (
        codebook.name,
        codebook.version,
        codebook.description,
    )


# ---------------------------------------------------------------------------------------------
# Validation: each error names the file, the theme and the field

VALID_THEME = """
[[themes]]
key = "sovereignty"
label = "Sovereignty"
description = "National control over data."
[themes.terms]
en = ["digital sovereignty"]
fr = ["souveraineté numérique"]
"""


def write_codebook(tmp_path: Path, themes: str, head: str = 'name = "mine"\nversion = "1"\n') -> Path:
    path = tmp_path / "codebook.toml"
    path.write_text(head + themes, encoding="utf-8")
    return path


def test_a_minimal_valid_codebook_loads(tmp_path: Path) -> None:
    codebook = load_codebook(write_codebook(tmp_path, VALID_THEME))
    assert codebook.keys == ["sovereignty"]
    assert codebook.themes[0].terms == {"en": ("digital sovereignty",), "fr": ("souveraineté numérique",)}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('fr = ["souveraineté numérique"]', "fr = []"), r"theme 'sovereignty', field 'terms\.fr': the term list is empty"),
        (('label = "Sovereignty"', 'label = "Sovereignty"\ncolour = "red"'), r"theme 'sovereignty', field 'colour': unknown field"),
        (('description = "National control over data."\n', ""), r"theme 'sovereignty', field 'description': missing"),
        (('description = "National control over data."', 'description = "  "'), r"theme 'sovereignty', field 'description': must be a non-empty"),
        (("fr = [", "fra = ["), r"theme 'sovereignty', field 'terms\.fra': unknown language; valid: en, fr, ar"),
        (('key = "sovereignty"', 'key = "other"'), r"field 'key': 'other' must be .*\(reserved for no match\)"),
        (('en = ["digital sovereignty"]', 'en = ["digital sovereignty", ""]'), r"field 'terms\.en': every term must be a non-empty string"),
    ],
)  # fmt: skip
def test_bad_theme_names_file_theme_field_and_fix(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = write_codebook(tmp_path, VALID_THEME.replace(*change))
    with pytest.raises(CodebookError, match=expected) as error:
        load_codebook(path)
    assert str(path) in str(error.value)


def test_duplicate_theme_keys_name_both_positions(tmp_path: Path) -> None:
    path = write_codebook(tmp_path, VALID_THEME + VALID_THEME)
    with pytest.raises(
        CodebookError, match=r"theme 'sovereignty', field 'key': declared twice \(themes #1 and #2\)"
    ):
        load_codebook(path)


def test_top_level_problems_are_reported(tmp_path: Path) -> None:
    with pytest.raises(CodebookError, match=r"unknown top-level field\(s\) \['theme'\]"):
        load_codebook(
            write_codebook(
                tmp_path,
                VALID_THEME.replace("[[themes]]", "[[theme]]").replace("themes.terms", "theme.terms"),
            )
        )
    with pytest.raises(CodebookError, match="missing top-level field 'version'"):
        load_codebook(write_codebook(tmp_path, VALID_THEME, head='name = "mine"\n'))
    with pytest.raises(CodebookError, match="not valid UTF-8 TOML"):
        load_codebook(write_codebook(tmp_path, "[[themes]\n"))
    with pytest.raises(CodebookError, match="does not exist"):
        load_codebook(tmp_path / "missing.toml")


# ---------------------------------------------------------------------------------------------
# Dictionary scores


def test_dictionary_scores_are_matches_per_100_words(codebook) -> None:
    texts = [
        "Les agriculteurs face à la sécheresse",  # 2 sector terms in 6 words
        "The new data centre needs more computing power",  # 2 infrastructure terms in 8 words
        "Nothing to see here",
        "",
    ]
    scores = dictionary_scores(texts, codebook)
    assert list(scores.columns) == EXPECTED_THEMES
    assert scores.loc[0, "sectors"] == pytest.approx(100 * 2 / 6)
    assert scores.loc[1, "infrastructure"] == pytest.approx(100 * 2 / 8)
    assert scores.loc[[2, 3]].to_numpy().sum() == 0
    assert scores.drop(columns="sectors").loc[0].sum() == 0


def test_matching_handles_arabic_clitics_spelling_variants_and_boundaries(codebook) -> None:
    scores = dictionary_scores(
        [
            "وللبيانات الشخصيه حماية",  # ل + ال clitics, ة written ه: "البيانات الشخصية"
            "إفتتاح مركز   البيانات\nبالرباط",  # multiword term across a run of spaces
            "l'irrigation et l’eau",  # French elision, both apostrophes
            "beaucoup de bureaux",  # "eau" inside words must not match
            "ما كاينش",  # Darija "not": the term "الما" (water) must not match it
            "الما قليل هاد العام",  # … but the word itself does
            "coopération Sud-Sud",  # hyphen matches the spaced term
        ],
        codebook,
    )
    assert scores.loc[0, "ethics_trust"] > 0
    assert scores.loc[1, "infrastructure"] == pytest.approx(100 * 1 / 4)
    assert scores.loc[2, "sectors"] == pytest.approx(100 * 2 / 3)
    assert scores.loc[3].sum() == 0
    assert scores.loc[4].sum() == 0
    assert scores.loc[5, "sectors"] == pytest.approx(100 * 1 / 4)
    assert scores.loc[6, "partnerships_diplomacy"] == pytest.approx(100 * 1 / 3)


def test_a_phrase_counts_once_not_once_per_word(codebook) -> None:
    scores = dictionary_scores(["protection des données personnelles"], codebook)
    # "protection des données" and "données personnelles" overlap: one match, the longest first
    assert scores.loc[0, "ethics_trust"] == pytest.approx(100 * 1 / 4)


def test_best_dictionary_theme_picks_the_highest_or_other(codebook) -> None:
    scores = dictionary_scores(
        ["sécheresse et irrigation, data centre", "rien", "الجامعات والمهندسين"], codebook
    )
    best = best_dictionary_theme(scores)
    assert best["dict_theme"].tolist() == ["sectors", OTHER, "skills_education"]
    assert best["dict_theme_score"].tolist() == pytest.approx([100 * 2 / 5, 0.0, 100 * 2 / 2])


# ---------------------------------------------------------------------------------------------
# Topic → theme


class KeywordEncoder:
    """One axis per marker word; a text without any marker is the zero vector (cosine 0)."""

    MARKERS: ClassVar[dict[str, str]] = {
        "infrastructure": "supercomputer",
        "sectors": "drought",
        "ethics_trust": "deepfake",
    }

    def encode(self, texts: list[str]) -> np.ndarray:
        rows = np.array([[float(word in text.lower()) for word in self.MARKERS.values()] for text in texts])
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        return rows / np.where(norms == 0, 1.0, norms)


def test_topics_map_by_dictionary_share_without_an_encoder(codebook) -> None:
    """dict_share is the share of a topic's segments mentioning the theme: coverage, not term counts."""
    mapping = map_topics_to_themes(
        {
            -1: ["sécheresse"],
            0: ["Les centres de données et la fibre optique", "مراكز البيانات"],
            # 2 of 3 segments mention a sector term, 1 of 3 an infrastructure term
            1: ["sécheresse et agriculteurs", "la sécheresse", "centre de données"],
            2: ["rien à signaler"],
        },
        codebook,
        min_score=0.5,
    )
    assert mapping["theme"].tolist() == [OTHER, "infrastructure", "sectors", OTHER]
    assert mapping["theme_score"].tolist() == pytest.approx([0.0, 1.0, 2 / 3, 0.0], abs=1e-4)


def test_encoder_cosine_and_dictionary_share_are_combined(codebook) -> None:
    for key, marker in KeywordEncoder.MARKERS.items():  # each marker names exactly one theme
        assert [t.key for t in codebook.themes if marker in t.text().lower()] == [key]
    mapping = map_topics_to_themes(
        {
            0: ["drought drought"],
            # the encoder sees only "deepfake" (the other text is its zero vector): cosine 1 with
            # ethics; the dictionary sees one segment of two mentioning each theme: 1/2, 1/2
            1: ["deepfake deepfake", "sécheresse sécheresse sécheresse"],
            2: ["nothing at all"],
        },
        codebook,
        encoder=KeywordEncoder(),
    ).set_index("topic")
    w = COSINE_WEIGHT
    assert mapping.loc[0, "theme"] == "sectors"
    assert mapping.loc[0, "theme_score"] == pytest.approx(w * 1.0 + (1 - w) * 1.0, abs=1e-4)
    ethics = w * 1.0 + (1 - w) * 0.5
    assert ethics > (1 - w) * 0.5  # beats sectors, which has the same share but no cosine
    assert mapping.loc[1, "theme"] == "ethics_trust"
    assert mapping.loc[1, "theme_score"] == pytest.approx(ethics, abs=1e-4)
    assert (mapping.loc[1, "cosine"], mapping.loc[1, "dict_share"]) == pytest.approx((1.0, 0.5), abs=1e-4)
    assert mapping.loc[2, "theme"] == OTHER and mapping.loc[2, "theme_score"] == 0.0


def test_given_centroids_must_match_the_encoder(codebook) -> None:
    with pytest.raises(ValueError, match=r"centroid has shape \(5,\) but the encoder gives 3-d vectors"):
        map_topics_to_themes({0: ["x"]}, codebook, encoder=KeywordEncoder(), topic_embeddings={0: np.ones(5)})


def test_a_few_stray_matches_do_not_name_a_large_topic(codebook) -> None:
    """Three stray mentions in fifty football reports stay `other`, whatever the cosine says."""
    football = ["Le club a remporté le match de football dimanche."] * 47 + ["la sécheresse"] * 3
    mapping = map_topics_to_themes({0: football}, codebook, encoder=KeywordEncoder()).set_index("topic")
    assert mapping.loc[0, "theme"] == OTHER
    assert mapping.loc[0, "theme_score"] == 0.0
    # the same mentions in 3 of 20 segments (15 %) are enough evidence
    mapping = map_topics_to_themes({0: football[-20:]}, codebook, encoder=KeywordEncoder()).set_index("topic")
    assert mapping.loc[0, "theme"] == "sectors"
    assert mapping.loc[0, "dict_share"] == pytest.approx(0.15)


def test_precomputed_dictionary_scores_give_the_same_mapping(codebook) -> None:
    from analysis.themes import dictionary_scores

    topic_docs = {0: ["Les centres de données et la fibre optique", "مراكز البيانات"],
                  1: ["sécheresse et agriculteurs", "la sécheresse", "centre de données"]}  # fmt: skip
    computed = map_topics_to_themes(topic_docs, codebook)
    given = {t: dictionary_scores(docs, codebook).to_numpy() for t, docs in topic_docs.items()}
    reused = map_topics_to_themes(topic_docs, codebook, dictionary=given)
    import pandas as pd

    pd.testing.assert_frame_equal(computed, reused)


# --- generic terms, audit, segment themes, agreement -------------------------------------------------


def test_a_generic_term_counts_only_next_to_a_specific_term_of_its_theme(codebook) -> None:
    from analysis.themes import dictionary_hits

    assert "citizens" in load_codebook().themes[codebook.keys.index("public_services")].generic_terms()
    hits, _ = dictionary_hits(
        ["The citizens cheered the football team.", "Citizens now use the e-government portal."], codebook
    )
    column = codebook.keys.index("public_services")
    assert hits[:, column].tolist() == [0, 2]


def test_codebook_audit_counts_segments_per_term_and_flags_general_ones(codebook) -> None:
    from analysis.themes import codebook_audit

    texts = ["La santé des citoyens.", "La santé publique.", "Le match.", "Télémédecine et santé."]
    audit = codebook_audit(texts, codebook, languages=["fr"] * 4, generic_share=0.3)
    rows = audit.set_index(["theme", "term"])
    assert rows.loc[("sectors", "télémédecine"), ["n_segments", "segment_share", "flag"]].tolist() == [
        1,
        0.25,
        "",
    ]
    santé = rows.loc[("sectors", "santé")]
    assert santé["kind"] == "generic" and santé["n_segments"] == 3 and santé["n_counted"] == 1


def test_segment_themes_follow_the_documented_rule(codebook) -> None:
    from analysis.themes import ENCODER_ALONE_Z, SegmentEvidence, segment_themes

    keys = codebook.keys
    hits = pd.DataFrame(0.0, index=range(4), columns=keys)
    z = pd.DataFrame(0.0, index=range(4), columns=keys)
    hits.loc[0, "sectors"] = 2  # two hits: carried whatever the encoder says
    z.loc[0, "sectors"] = -1.0
    hits.loc[1, "sectors"] = 1  # one hit the encoder contradicts: not carried
    z.loc[1, "sectors"] = -0.5
    hits.loc[2, "ethics_trust"] = 1  # one hit + agreeing encoder, plus the encoder alone for another theme
    z.loc[2, "ethics_trust"] = 0.5
    z.loc[2, "sovereignty"] = ENCODER_ALONE_Z
    labels = segment_themes(SegmentEvidence(hits=hits, z=z))
    assert labels["seg_themes"].map(list).tolist() == [["sectors"], [], ["ethics_trust", "sovereignty"], []]
    assert labels["seg_theme"].tolist() == ["sectors", "other", "ethics_trust", "other"]
    without_encoder = segment_themes(SegmentEvidence(hits=hits, z=None))
    assert without_encoder["seg_theme"].tolist()[:2] == ["sectors", "sectors"]


def test_agreement_flags_a_topic_whose_segments_do_not_carry_its_theme() -> None:
    from analysis.themes import theme_agreement

    segments = pd.DataFrame(
        {
            "topic": [0, 0, 0, 1, 1, 1, -1],
            "topic_label": ["0 · a"] * 3 + ["1 · b"] * 3 + ["-1"],
            "theme": ["sectors"] * 3 + ["public_services"] * 3 + ["other"],
            "seg_themes": [["sectors"], ["sectors"], [], [], [], ["public_services"], ["sectors"]],
            "seg_theme": ["sectors", "sectors", "other", "other", "other", "public_services", "sectors"],
        }
    )
    result = theme_agreement(segments, ["sectors", "public_services"])
    by_topic = result["by_topic"].set_index("topic")
    assert by_topic.loc[0, "flag"] == "" and by_topic.loc[1, "flag"] != ""
    assert by_topic.loc[1, "share_carrying_theme"] == pytest.approx(1 / 3)
    by_theme = result["by_theme"].set_index("theme")
    assert by_theme.loc["sectors", "share_carried_by_segment"] == pytest.approx(2 / 3)
    assert 0 < result["kappa"] < 1


def test_codebook_audit_command_writes_every_term(sample_corpus, tmp_path, capsys) -> None:
    from analysis.cli import main

    out = tmp_path / "audit.csv"
    sample_corpus.segments.to_parquet(tmp_path / "segments.parquet")  # a run folder's segments
    assert main(["codebook-audit", str(tmp_path), "--out", str(out)]) == 0
    audit = pd.read_csv(out, keep_default_na=False)
    codebook = load_codebook()
    assert len(audit) == sum(len(t.all_terms()) for t in codebook.themes)  # one row per listed term
    assert audit.loc[audit["term"] == "Vantara", "n_segments"].empty  # codebook terms only
    assert (audit["segment_share"].between(0, 1)).all() and audit["n_segments"].max() > 0
    assert "written:" in capsys.readouterr().out


def test_segment_evidence_reuses_the_runs_embeddings(sample_corpus, codebook, tiny_encoder, sample_embeddings):
    """Given the run's embeddings, the evidence is what the encoder itself would give, text by text."""
    from analysis.themes import segment_theme_evidence, segment_themes

    texts = sample_corpus.segments["text"].tolist()
    reused = segment_theme_evidence(texts, codebook, encoder=tiny_encoder, embeddings=sample_embeddings)
    encoded = segment_theme_evidence(texts, codebook, encoder=tiny_encoder)
    np.testing.assert_allclose(reused.z.to_numpy(), encoded.z.to_numpy(), atol=1e-6)
    labels = segment_themes(reused)
    assert len(labels) == len(texts) and set(labels["seg_theme"]) - {OTHER}  # some segments carry themes
    with pytest.raises(ValueError, match="pass the run's own embeddings or none"):
        segment_theme_evidence(texts, codebook, encoder=tiny_encoder, embeddings=sample_embeddings[:, :3])


# --- the fast matcher gives findall's own counts ------------------------------------------------------


def _findall_counts(texts, terms):
    """The reference: the full alternation's findall on every text, as the matcher did before."""
    from analysis.themes import terms_pattern

    pattern = terms_pattern(terms)
    return {
        row: n
        for row, text in enumerate(texts)
        if (n := len(pattern.findall(normalise_for_matching(text))))
    }


@pytest.mark.parametrize(
    "terms",
    [
        ["ذكاء اصطناعي", "الذكاء", "اصطناعي", "ai", "ai act", "intelligence artificielle", "act"],
        ["شراكة", "الشراكة الاستراتيجية", "استراتيجية", "data center", "centre de données", "center"],
        ["المغرب", "مغرب رقمي", "رقمي", "digital morocco", "morocco", "maroc numérique", "sud-sud"],
    ],
)
def test_matching_texts_count_what_the_full_alternation_finds(terms) -> None:
    """Clitics, the article, phrases overlapping their own words, a key in the second word, repeats,
    a word inside a longer word, a NUL in a text: the per-key search counts as findall does."""
    from analysis.themes import MatchingTexts

    texts = [
        "والذكاء الاصطناعي وبالذكاء الاصطناعي، الذكاء  اصطناعي ذكاء اصطناعي",
        "The AI Act and the ai act; AIACT is not; an act of AI.",
        "L'intelligence artificielle, intelligence\nartificielle et les data centers du data center.",
        "للشراكة الاستراتيجية والشراكة، شراكات استراتيجية",
        "Le Maroc numérique: digital Morocco, Moroccan, المغرب الرقمي ومغرب رقمي، بالمغرب",
        "sud-sud, Sud Sud, sud/sud, sudsud",
        "centre de données\x00center",
        "",
        "nothing here at all",
    ]
    matched = MatchingTexts.of(texts)
    expected = _findall_counts(texts, terms)
    assert sum(expected.values()) >= 6  # the cases are real: several terms match
    assert matched.count_matches(terms) == expected
    for term in terms:
        assert matched.count_matches([term]) == _findall_counts(texts, [term]), term


def test_dictionary_hits_are_cached_by_content_and_returned_as_copies(codebook) -> None:
    from analysis.themes import dictionary_hits

    texts = ["Citizens now use the e-government portal.", "The citizens cheered the football team."]
    first, _ = dictionary_hits(texts, codebook)
    first[:] = -1  # a caller writing into its result must not change the next caller's
    again, _ = dictionary_hits(list(texts), codebook)
    assert (again >= 0).all() and again.sum() > 0
    other, _ = dictionary_hits([texts[1], texts[0]], codebook)  # new content: not the cached hits
    assert other[1].tolist() == again[0].tolist() and other[0].tolist() == again[1].tolist()
