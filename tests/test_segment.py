"""Segmentation spans and duplicate marking on hand-made texts with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.segment import mark_duplicates, split_segments

BODY = "Le Maroc a présenté sa stratégie nationale pour l'intelligence artificielle à Rabat."
SECOND = "Les centres de données seront construits près des sources d'énergie renouvelable."


def texts(clean: str, spans: list[tuple[int, int]]) -> list[str]:
    return [clean[start:end] for start, end in spans]


def test_spans_point_into_the_cleaned_text_and_never_start_or_end_with_space():
    clean = f"  {BODY}\n\n{SECOND}  \n\n"
    spans = split_segments(clean, "paragraph", 40, 1500)
    assert texts(clean, spans) == [BODY, SECOND]
    for start, end in spans:
        assert not clean[start].isspace() and not clean[end - 1].isspace()


def test_heading_joins_its_paragraph_and_a_short_tail_joins_the_previous_segment():
    clean = f"Stratégie nationale\n\n{BODY}\n\n{SECOND}\n\nFin."
    segments = texts(clean, split_segments(clean, "paragraph", 40, 1500))
    assert segments == [f"Stratégie nationale\n\n{BODY}", f"{SECOND}\n\nFin."]


def test_a_document_shorter_than_the_minimum_is_one_segment():
    assert texts("IA au Maroc", split_segments("IA au Maroc", "paragraph", 40, 1500)) == ["IA au Maroc"]
    assert split_segments("  \n\n ", "paragraph", 40, 1500) == []


def test_without_blank_lines_each_line_is_a_paragraph():
    clean = f"{BODY}\n{SECOND}"
    assert texts(clean, split_segments(clean, "paragraph", 40, 1500)) == [BODY, SECOND]


def test_sentence_unit_cuts_latin_and_arabic_punctuation_including_glued_arabic_sentences():
    clean = "هل يملك المغرب استراتيجية واضحة للذكاء الاصطناعي؟ نعم، أعلنت الوزارة ذلك.وأضافت أن الخطة تشمل التكوين."
    assert texts(clean, split_segments(clean, "sentence", 0, 1500)) == [
        "هل يملك المغرب استراتيجية واضحة للذكاء الاصطناعي؟",
        "نعم، أعلنت الوزارة ذلك.",
        "وأضافت أن الخطة تشمل التكوين.",
    ]
    latin = f"{BODY} {SECOND}"
    assert texts(latin, split_segments(latin, "sentence", 0, 1500)) == [BODY, SECOND]


def test_document_unit_keeps_the_whole_text():
    clean = f"{BODY}\n\n{SECOND}"
    assert texts(clean, split_segments(clean, "document", 40, 1500)) == [clean]


def test_long_paragraph_is_split_at_sentence_ends_into_parts_that_fit_and_lose_nothing():
    sentences = [f"Phrase numéro {i} sur la souveraineté numérique du Royaume." for i in range(40)]
    clean = " ".join(sentences)
    spans = split_segments(clean, "paragraph", 40, 500)
    parts = texts(clean, spans)
    assert all(len(p) <= 500 for p in parts)
    assert all(p.endswith(".") for p in parts)  # cut at sentence ends, not inside sentences
    assert " ".join(parts) == clean
    assert len(parts) == -(-len(clean) // 500)  # as few parts as the window allows


def test_text_without_sentence_ends_or_spaces_is_cut_hard():
    clean = "x" * 1200
    assert [end - start for start, end in split_segments(clean, "paragraph", 40, 500)] == [400, 400, 400]


def test_unknown_unit_is_refused_with_the_valid_ones():
    with pytest.raises(ValueError, match="paragraph, sentence, document"):
        split_segments(BODY, "chapter", 40, 1500)


def frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment_id": [r[0] for r in rows],
            "text": [r[1] for r in rows],
            "date": pd.to_datetime([r[2] or None for r in rows]),
        }
    )


LONG = (
    "La ministre de la transition numérique a signé un protocole d'accord avec une entreprise "
    "française d'intelligence artificielle pour former des ingénieurs et soutenir les startups "
    "marocaines dans le domaine des modèles de langue adaptés à la darija et à l'amazigh."
)


def test_exact_duplicates_ignore_case_and_punctuation_and_point_to_the_earliest_by_date():
    segments = frame(
        [
            ("a#0", LONG.upper() + " !!", "2024-05-02"),
            ("b#0", LONG, "2024-05-01"),
            ("c#0", SECOND, ""),
            ("d#0", SECOND, "2024-01-01"),
        ]
    )
    duplicate_of = mark_duplicates(segments, 0.85)
    assert duplicate_of.tolist() == ["b#0", "", "d#0", ""]
    assert duplicate_of.attrs == {"exact": 2, "near": 0}


def test_near_duplicates_are_found_and_different_texts_are_not():
    near = LONG.replace("former des ingénieurs", "former des ingénieures")
    other = (
        "Hespress rapporte que la pluie a touché plusieurs régions du Royaume cette semaine, selon la météo."
    )
    segments = frame([("a#0", LONG, "2024-01-01"), ("b#0", near, "2024-01-02"), ("c#0", other, "2024-01-03")])
    duplicate_of = mark_duplicates(segments, 0.85)
    assert duplicate_of.tolist() == ["", "a#0", ""]
    assert duplicate_of.attrs == {"exact": 0, "near": 1}
    assert mark_duplicates(segments, 1.0).tolist() == ["", "", ""]  # 1.0: exact only


def test_near_duplicates_with_many_copies_all_point_to_the_same_original():
    copies = [LONG.replace("startups", f"startups{'s' * k}") for k in range(6)]
    segments = frame([(f"d{k}#0", text, f"2024-01-0{k + 1}") for k, text in enumerate(copies)])
    assert mark_duplicates(segments, 0.85).tolist() == ["", "d0#0", "d0#0", "d0#0", "d0#0", "d0#0"]


def test_threshold_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="threshold"):
        mark_duplicates(frame([("a#0", LONG, "")]), 0)
