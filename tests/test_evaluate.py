"""Evaluation metrics on hand-made cases whose answers are known or computed by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from analysis.evaluate import (
    EvaluationError,
    cross_lingual_matches,
    document_topics,
    evaluate_run,
    external_validity,
    npmi_coherence,
    outlier_share,
    seed_stability,
    stability,
    topic_diversity,
)

EPS = 1e-12


def hand_npmi(p_a: float, p_b: float, p_ab: float) -> float:
    """NPMI as gensim defines it: log((P(a,b)+eps)/(P(a)P(b))) / -log(P(a,b)+eps)."""
    return math.log((p_ab + EPS) / (p_a * p_b)) / -math.log(p_ab + EPS)


# ---------------------------------------------------------------------------- NPMI


def test_npmi_words_that_always_co_occur_score_one() -> None:
    docs = [["data", "centre", "x"], ["data", "centre"], ["farm", "rain"], ["farm", "rain", "y"]]
    mean, per_topic = npmi_coherence([["data", "centre"], ["farm", "rain"]], docs)
    assert per_topic == pytest.approx([1.0, 1.0], abs=1e-9)
    assert mean == pytest.approx(1.0, abs=1e-9)


def test_npmi_words_that_never_co_occur_score_minus_one_up_to_epsilon() -> None:
    docs = [["data", "x"], ["centre", "y"], ["data", "z"], ["centre", "w"]]
    _, per_topic = npmi_coherence([["data", "centre"]], docs)
    assert per_topic[0] == pytest.approx(hand_npmi(0.5, 0.5, 0.0), abs=1e-12)
    assert per_topic[0] == pytest.approx(-1.0, abs=0.06)


def test_npmi_uses_boolean_sliding_windows_of_ten_tokens() -> None:
    # 12 tokens → 3 windows of 10; "a" only in the first, "b" only in the last; a short second
    # document is one window holding both. So P(a) = P(b) = 2/4, P(a, b) = 1/4.
    long_doc = ["a", *[f"f{i}" for i in range(10)], "b"]
    docs = [long_doc, ["a", "b"]]
    _, per_topic = npmi_coherence([["a", "b"]], docs)
    assert per_topic[0] == pytest.approx(hand_npmi(2 / 4, 2 / 4, 1 / 4), abs=1e-9)


def test_npmi_top_n_limits_the_words_scored() -> None:
    docs = [["a", "b"], ["a", "b"], ["c", "d"], ["e", "f"]]
    # top_n=2 keeps only (a, b), perfectly co-occurring; "c" (never with a or b) is cut off.
    _, per_topic = npmi_coherence([["a", "b", "c"]], docs, top_n=2)
    assert per_topic[0] == pytest.approx(1.0, abs=1e-9)


def test_npmi_unknown_words_dropped_replaced_or_refused() -> None:
    docs = [["c", "d"], ["a", "b"], ["a", "b"]]
    _, dropped = npmi_coherence([["a", "b", "zzz"]], docs, unknown="drop")
    assert dropped[0] == pytest.approx(1.0, abs=1e-9)
    # The paper's replacement: "zzz" → the corpus's first token "c", which never meets a or b.
    # Pairs scored (gensim's one-preceding segmentation): (b, a) = 1, (c, a) = (c, b) = n.
    _, replaced = npmi_coherence([["a", "b", "zzz"]], docs, unknown="first_word")
    never = hand_npmi(1 / 3, 2 / 3, 0.0)
    assert replaced[0] == pytest.approx((1.0 + 2 * never) / 3, abs=1e-9)
    with pytest.raises(EvaluationError, match=r"topic 0: word 'zzz' never occurs"):
        npmi_coherence([["a", "b", "zzz"]], docs, unknown="error")


def test_npmi_topic_left_with_one_word_is_nan_and_left_out_of_the_mean() -> None:
    docs = [["a", "b"], ["a", "b"], ["c", "d"]]
    mean, per_topic = npmi_coherence([["a", "b"], ["c", "zzz"]], docs)
    assert math.isnan(per_topic[1])
    assert mean == pytest.approx(per_topic[0])


# ---------------------------------------------------------------------------- diversity


def test_topic_diversity_perfect_and_duplicated() -> None:
    assert topic_diversity([["a", "b", "c"], ["d", "e", "f"]], top_n=3) == 1.0
    # 6 slots, distinct words a, b, c, d → 4/6
    assert topic_diversity([["a", "b", "c"], ["a", "b", "d"]], top_n=3) == pytest.approx(4 / 6)
    # only the top 2 count: {a, b} twice → 2/4
    assert topic_diversity([["a", "b", "c"], ["a", "b", "d"]], top_n=2) == pytest.approx(0.5)


def test_topic_diversity_matches_octis_definition_on_ten_words() -> None:
    topics = [[f"w{i}" for i in range(10)], [f"w{i}" for i in range(5, 15)]]
    assert topic_diversity(topics) == pytest.approx(15 / 20)


# ---------------------------------------------------------------------------- stability


def test_identical_and_permuted_runs_agree_perfectly() -> None:
    run = [0, 0, 1, 1, 2, 2, -1]
    assert stability(run, run) == {"ari": 1.0, "nmi": 1.0}
    permuted = [{0: 5, 1: 3, 2: 0, -1: -1}[t] for t in run]
    assert stability(run, permuted)["ari"] == pytest.approx(1.0)
    assert stability(run, permuted)["nmi"] == pytest.approx(1.0)


def test_unrelated_runs_score_low_and_lengths_must_match() -> None:
    scores = stability([0, 0, 1, 1], [0, 1, 0, 1])
    assert scores["ari"] == pytest.approx(-0.5)
    assert scores["nmi"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(EvaluationError, match="differ in length"):
        stability([0, 1], [0, 1, 2])


def test_seed_stability_compares_every_pair_of_seeds() -> None:
    def fit(seed: int) -> list[int]:
        base = [0, 0, 0, 1, 1, 1]
        return base if seed < 2 else [1, 1, 0, 0, 1, 0]  # seed 2 differs

    table = seed_stability(fit, [0, 1, 2])
    assert list(zip(table["seed_a"], table["seed_b"], strict=True)) == [(0, 1), (0, 2), (1, 2)]
    assert table.loc[0, "ari"] == 1.0
    assert table.loc[1, "ari"] < 1.0
    assert table.loc[1, "ari"] == table.loc[2, "ari"]


def test_outlier_share() -> None:
    assert outlier_share([-1, 0, 1, -1]) == 0.5
    with pytest.raises(EvaluationError):
        outlier_share([])


def test_external_validity_with_and_without_outliers() -> None:
    topics = [0, 0, 1, 1, -1, -1]
    labels = ["a", "a", "b", "b", "a", "b"]
    result = external_validity(topics, labels)
    assert result["ari_without_outliers"] == pytest.approx(1.0)
    assert result["nmi_without_outliers"] == pytest.approx(1.0)
    assert result["n_without_outliers"] == 4
    assert result["ari"] < 1.0
    assert result["n"] == 6


# ---------------------------------------------------------------------------- cross-lingual


def story_segments(topics: list[int]) -> pd.DataFrame:
    """Two stories, each told in Arabic and French (two segments per document)."""
    docs = ["s1-ar", "s1-ar", "s1-fr", "s1-fr", "s2-ar", "s2-ar", "s2-fr", "s2-fr"]
    return pd.DataFrame(
        {
            "doc_id": docs,
            "doc_language": [d[-2:] for d in docs],
            "story": [d[:2] for d in docs],
            "topic": topics,
        }
    )


def test_cross_lingual_matches_all_and_none() -> None:
    all_same = cross_lingual_matches(story_segments([3, 3, 3, 3, 4, 4, 4, 4]), "story")
    assert all_same == {"pairs": 2, "matched": 2, "matches": 1.0, "pairs_with_outlier": 0}
    none_same = cross_lingual_matches(story_segments([3, 3, 5, 5, 4, 4, 6, 6]), "story")
    assert none_same["matches"] == 0.0


def test_cross_lingual_matches_majority_topic_outliers_and_explicit_pairs() -> None:
    # s1-fr: one outlier + one topic-3 segment → majority 3 (outliers do not vote); s2 both outliers.
    segments = story_segments([3, 7, -1, 3, -1, -1, -1, -1])
    assert document_topics(segments).to_dict() == {"s1-ar": 3, "s1-fr": 3, "s2-ar": -1, "s2-fr": -1}
    result = cross_lingual_matches(segments, [("s1-ar", "s1-fr"), ("s2-ar", "s2-fr")])
    assert result == {"pairs": 2, "matched": 1, "matches": 0.5, "pairs_with_outlier": 1}
    with pytest.raises(EvaluationError, match="not in the segment table"):
        cross_lingual_matches(segments, [("s1-ar", "nope")])


def test_same_language_documents_of_one_story_are_not_paired() -> None:
    segments = story_segments([3, 3, 3, 3, 4, 4, 4, 4])
    segments["doc_language"] = "fr"
    assert cross_lingual_matches(segments, "story")["pairs"] == 0


# ---------------------------------------------------------------------------- run folders


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny run folder: two clean topics, one outlier, one duplicate, labels and stories."""
    folder = tmp_path_factory.mktemp("run")
    texts = [
        "data centre compute cloud",
        "data centre compute power",
        "farm rain wheat harvest",
        "farm rain wheat drought",
        "unrelated lonely words here",
        "data centre compute cloud",
    ]
    segments = pd.DataFrame(
        {
            "doc_id": ["d1", "d2", "d3", "d4", "d5", "d6"],
            "segment_id": [f"d{i}#0" for i in range(1, 7)],
            "text": texts,
            "doc_language": ["en", "fr", "en", "fr", "en", "en"],
            "duplicate_of": ["", "", "", "", "", "d1#0"],
            "label": ["tech", "tech", "agri", "agri", "tech", "tech"],
            "story": ["s1", "s1", "s2", "s2", "", ""],
            "topic": [0, 0, 1, 1, -1, 0],
        }
    )
    segments.to_parquet(folder / "segments.parquet")
    pd.DataFrame(
        {
            "topic": [-1, 0, 1],
            "size": [1, 3, 2],
            "words": ["lonely, words", "data, centre, compute", "farm, rain, wheat"],
        }
    ).to_csv(folder / "topics.csv", index=False)
    return folder


def test_evaluate_run_writes_its_numbers(run_dir: Path) -> None:
    result = evaluate_run(run_dir, label_column="label", analyzer=str.split)
    written = json.loads((run_dir / "evaluation.json").read_text(encoding="utf-8"))
    assert written["npmi"] == pytest.approx(result["npmi"])
    assert result["n_fitted_segments"] == 5  # the duplicate is not counted twice
    assert result["n_topics"] == 2
    assert result["outlier_share"] == pytest.approx(1 / 5)
    assert result["npmi"] == pytest.approx(1.0, abs=1e-9)  # each topic's words always co-occur
    assert result["topic_diversity"] == 1.0
    assert result["external_validity"]["ari_without_outliers"] == pytest.approx(1.0)
    assert result["cross_lingual"]["matches"] == 1.0
    assert result["cross_lingual"]["pairs"] == 2


def test_evaluate_run_takes_the_tables_in_memory_and_returns_strict_json(run_dir: Path, tmp_path: Path) -> None:
    import shutil

    run_dir = Path(shutil.copytree(run_dir, tmp_path / "run"))  # the fixture's folder is shared
    from_files = evaluate_run(run_dir, label_column="label", analyzer=str.split)
    segments = pd.read_parquet(run_dir / "segments.parquet")
    topics = pd.DataFrame(
        {"topic": [-1, 0, 1], "words": [["lonely", "words"], ["data", "centre", "compute"], ["farm", "rain", "wheat"]]}
    )
    (run_dir / "topics.csv").unlink()  # in memory, nothing is read back
    in_memory = evaluate_run(run_dir, segments=segments, topics=topics, label_column="label", analyzer=str.split)
    assert in_memory == from_files
    text = (run_dir / "evaluation.json").read_text(encoding="utf-8")

    def refuse(name: str) -> float:
        raise ValueError(f"{name} in evaluation.json")

    assert json.loads(text, parse_constant=refuse) == in_memory  # no NaN/Infinity tokens


def test_evaluate_run_refuses_the_topic_column_as_labels_and_missing_files(
    run_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(EvaluationError, match="model's own topic column"):
        evaluate_run(run_dir, label_column="topic", analyzer=str.split)
    with pytest.raises(EvaluationError, match="missing column"):
        evaluate_run(run_dir, label_column="newsroom", analyzer=str.split)
    with pytest.raises(EvaluationError, match=r"segments\.parquet not found"):
        evaluate_run(tmp_path)


def test_evaluate_run_reports_topic_bigrams_it_cannot_score(run_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "bigrams"
    folder.mkdir()
    (folder / "segments.parquet").write_bytes((run_dir / "segments.parquet").read_bytes())
    pd.DataFrame({"topic": [0, 1], "words": ["data centre, data, compute", "farm, rain, wheat"]}).to_csv(
        folder / "topics.csv", index=False
    )
    result = evaluate_run(folder, analyzer=str.split)
    assert result["npmi_words_dropped"] == {"ngrams": 1, "not_in_corpus": 0}
    assert result["npmi_per_topic"]["0"] == pytest.approx(1.0, abs=1e-9)  # data, compute: always together

    pd.DataFrame({"topic": [0, 1], "words": ["data centre, zzz", "farm, rain, wheat"]}).to_csv(
        folder / "topics.csv", index=False
    )
    result = evaluate_run(folder, analyzer=str.split)
    assert result["npmi_words_dropped"] == {"ngrams": 1, "not_in_corpus": 1}
    assert result["npmi_per_topic"]["0"] is None  # nothing left to pair; NaN is not JSON: null
    written = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
    assert written == result  # the dict returned is what the file holds


def test_evaluate_run_default_tokenizer_matches_surface_forms_to_corpus_tokens(tmp_path: Path) -> None:
    # Topic words are displayed in surface forms ("Intelligence"); the corpus says "L'intelligence".
    segments = pd.DataFrame(
        {
            "doc_id": ["a", "b", "c", "d"],
            "text": [
                "L'intelligence artificielle au Maroc",
                "L'intelligence artificielle et les données",
                "La pluie et le blé",
                "La pluie tombe sur le blé",
            ],
            "topic": [0, 0, 1, 1],
            "language": "fr",
        }
    )
    segments.to_parquet(tmp_path / "segments.parquet")
    words = ["Intelligence, artificielle", "pluie, blé"]
    pd.DataFrame({"topic": [0, 1], "words": words, "words_fr": words, "words_en": ["", ""]}).to_csv(
        tmp_path / "topics.csv", index=False
    )
    result = evaluate_run(tmp_path)
    assert result["tokenizer"] == "analysis.vectorize.words_in"
    assert result["npmi_words_dropped"] == {"ngrams": 0, "not_in_corpus": 0}
    assert result["npmi_per_topic"] == pytest.approx({"0": 1.0, "1": 1.0}, abs=1e-9)
    assert result["npmi_per_language"] == pytest.approx(
        {"fr": 1.0}, abs=1e-9
    )  # no English segments: no score


@pytest.mark.parametrize("block", [1, 3, 10_000])
def test_npmi_per_language_scores_match_own_dictionaries_in_any_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """Each language's NPMI is what a dictionary of that language's segments alone gives (a word
    only the other language uses is dropped), whether the segments are counted in blocks of 1, 3
    or all at once."""
    import analysis.evaluate as evaluate_module

    texts = {
        "en": ["data centre compute cloud", "data centre compute power", "farm rain wheat harvest",
               "farm rain wheat data", "cloud power farm rain"],
        "fr": ["données calcul nuage serveur", "données calcul serveur énergie", "pluie blé récolte ferme",
               "pluie blé ferme données", "nuage serveur pluie blé"],
    }  # fmt: skip
    segments = pd.DataFrame(
        {
            "doc_id": [f"{lang}{i}" for lang, rows in texts.items() for i in range(len(rows))],
            "text": [text for rows in texts.values() for text in rows],
            "language": [lang for lang, rows in texts.items() for _ in rows],
            "topic": [0, 0, 1, 1, 0] * 2,
        }
    )
    segments.to_parquet(tmp_path / "segments.parquet")
    topics = pd.DataFrame(
        {
            "topic": [0, 1],
            "words": [["data", "centre", "données", "calcul"], ["farm", "rain", "pluie", "blé"]],
            "words_en": [["data", "centre", "compute", "serveur"], ["farm", "rain", "wheat", "cloud"]],
            "words_fr": [["données", "calcul", "serveur", "data"], ["pluie", "blé", "ferme", "nuage"]],
        }
    )
    monkeypatch.setattr(evaluate_module, "COHERENCE_BLOCK", block)
    result = evaluate_run(tmp_path, topics=topics, analyzer=str.split)
    whole = npmi_coherence([ws[:10] for ws in topics["words"]], [t.split() for ts in texts.values() for t in ts])
    assert result["npmi"] == whole[0]
    assert list(result["npmi_per_topic"].values()) == whole[1]
    for language, column in (("en", "words_en"), ("fr", "words_fr")):
        own = [text.split() for text in texts[language]]
        expected = npmi_coherence(topics[column].tolist(), own)[0]  # its own dictionary: "serveur" dropped in en
        assert result["npmi_per_language"][language] == pytest.approx(expected, abs=1e-12)
    assert result["npmi_per_language"]["en"] != pytest.approx(result["npmi_per_language"]["fr"])


def test_npmi_equals_gensim_c_npmi_on_random_corpora() -> None:
    """The array-based window counts give gensim's c_npmi exactly (the reference OCTIS and the
    BERTopic paper use), including gensim's sliding-window quirk: a word that leaves the window is
    dropped from it even while another occurrence of it is still inside."""
    import random

    from gensim.corpora import Dictionary
    from gensim.models.coherencemodel import CoherenceModel

    rng = random.Random(0)
    compared = 0
    for _ in range(60):
        vocabulary = [f"w{i}" for i in range(rng.randint(3, 20))]
        docs = [
            [rng.choice(vocabulary[: rng.randint(1, len(vocabulary))]) for _ in range(rng.choice([0, 1, 9, 10, 11, 40]))]
            for _ in range(rng.randint(2, 25))
        ]
        present = list(Dictionary(docs).token2id)
        if len(present) < 2:
            continue
        topics = [rng.sample(present, min(len(present), rng.randint(2, 6))) for _ in range(rng.randint(1, 3))]
        topics[0] = [*topics[0], topics[0][0]]  # a repeated word pairs with itself
        window = rng.choice([2, 5, 10])
        expected = CoherenceModel(
            topics=topics, texts=docs, dictionary=Dictionary(docs), coherence="c_npmi", window_size=window,
            topn=10, processes=1,
        ).get_coherence_per_topic()  # fmt: skip
        _, got = npmi_coherence(topics, docs, window_size=window)
        assert got == pytest.approx(expected, abs=1e-12, nan_ok=True)
        compared += len(topics)
    assert compared > 60
    # the quirk itself: "a" at positions 0 and 2 of a 3-word window leaves with position 0
    docs = [["a", "b", "a", "c", "d"]]
    _, (score,) = npmi_coherence([["a", "d"]], docs, window_size=3)
    assert score == pytest.approx(
        CoherenceModel(topics=[["a", "d"]], texts=docs, dictionary=Dictionary(docs), coherence="c_npmi",
                       window_size=3, processes=1).get_coherence_per_topic()[0], abs=1e-12,
    )  # fmt: skip


def test_window_counts_summed_over_blocks_equal_one_pass() -> None:
    """NPMI's window counts add up over documents: any split of a corpus into blocks gives the
    integers, and so the scores, of one in-memory pass (what the evaluation streams on)."""
    import random

    from analysis.evaluate import npmi_from_counts, window_counts

    rng = random.Random(1)
    for _ in range(30):
        vocabulary = [f"w{i}" for i in range(rng.randint(3, 15))]
        docs = [[rng.choice(vocabulary) for _ in range(rng.choice([0, 1, 9, 10, 11, 30]))] for _ in range(rng.randint(2, 30))]
        words = rng.sample(vocabulary, rng.randint(2, len(vocabulary)))
        window = rng.choice([2, 5, 10])
        one = window_counts(docs, words, window)
        cuts = sorted(rng.sample(range(1, len(docs)), rng.randint(0, len(docs) - 1)))
        blocks = [docs[a:b] for a, b in zip([0, *cuts], [*cuts, len(docs)], strict=True)]
        summed = window_counts([], words, window)
        for block in blocks:
            summed = summed + window_counts(block, words, window)
        assert (summed.together == one.together).all()
        assert (summed.n_windows, summed.n_tokens) == (one.n_windows, one.n_tokens)
        occurring = [w for w in words if one.occurs(w)]
        topics = [rng.sample(occurring, min(len(occurring), 3)), occurring[:2]]
        assert npmi_from_counts(topics, summed) == npmi_from_counts(topics, one)
        assert [one.occurs(w) for w in words] == [any(w in doc for doc in docs) for w in words]
