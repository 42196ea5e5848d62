"""Reducing topics smallest first (BERTopic 0.9's way) and the rival penalty on topic words."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from analysis.topics import fit_topics
from analysis.topics.reduction import smallest_first, smallest_first_merges
from analysis.vectorize import distinctive_top_words, penalise_rivals
from tests.test_topics import planted_config, planted_corpus


@pytest.fixture(scope="module")
def planted():
    return planted_corpus()


def test_the_smallest_topic_joins_its_most_similar_one_at_a_time():
    ids = [-1, 0, 1, 2, 3]
    sizes = [9, 50, 8, 40, 5]
    similarity = np.array(
        [
            [1.0, 0.1, 0.1, 0.1, 0.1],
            [0.1, 1.0, 0.2, 0.3, 0.1],
            [0.1, 0.2, 1.0, 0.6, 0.1],  # topic 1 is most like topic 2
            [0.1, 0.3, 0.6, 1.0, 0.2],
            [0.9, 0.1, 0.1, 0.2, 1.0],  # topic 3 is most like the outliers
        ]
    )
    # 4 topics → 2: first 3 (size 5) into the outliers, then 1 (size 8) into 2
    assert smallest_first(ids, sizes, similarity, 2) == {-1: -1, 0: 0, 1: 2, 2: 2, 3: -1}
    assert smallest_first(ids, sizes, similarity, 4) == {t: t for t in ids}  # few enough already
    # two large topics stay apart even when they are each other's nearest: only small ones move
    assert smallest_first(ids, sizes, similarity, 3)[0] == 0


def test_merges_chain_and_no_topic_merges_into_one_already_gone():
    ids = [0, 1, 2]
    sizes = [10, 2, 3]
    similarity = np.array([[1.0, 0.1, 0.5], [0.1, 1.0, 0.9], [0.5, 0.9, 1.0]])
    # 1 (smallest) → 2; then 2 (now 5) → 0, never back into 1, whose column is closed
    assert smallest_first(ids, sizes, similarity, 1) == {0: 0, 1: 0, 2: 0}


def test_the_outlier_topic_is_never_merged_away():
    ids = [-1, 0, 1]
    similarity = np.array([[1.0, 0.9, 0.9], [0.9, 1.0, 0.1], [0.9, 0.1, 1.0]])
    merged = smallest_first(ids, [1, 30, 20], similarity, 1)  # the outliers are the smallest group
    assert merged[-1] == -1 and merged[0] == 0 and merged[1] == -1


def test_smallest_first_checks_its_inputs():
    with pytest.raises(ValueError, match="unique"):
        smallest_first([0, 0], [1, 2], np.eye(2), 1)
    with pytest.raises(ValueError, match="similarity"):
        smallest_first([0, 1, 2], [1, 2, 3], np.eye(2), 1)


def test_merges_from_word_counts_join_topics_that_share_words():
    texts_words = np.array(
        [
            [3, 2, 0, 0, 0],  # topics 0 and 1 use "cat", "dog"
            [2, 3, 0, 0, 0],
            [2, 2, 0, 1, 0],  # topic 1: small
            [0, 0, 3, 0, 2],  # topic 2: other words
            [0, 0, 2, 0, 3],
        ]
    )
    topics = np.array([0, 0, 1, 2, 2])
    assert smallest_first_merges(topics, sparse.csr_matrix(texts_words), 2) == {0: 0, 1: 0, 2: 2}


def test_rival_penalty_moves_a_shared_word_down_where_it_is_weaker():
    scores = sparse.csr_matrix(
        np.array(
            [
                [0.5, 0.4, 0.0],  # topic A: "shared" 0.5, "own_a" 0.4
                [0.4, 0.0, 0.35],  # topic B: "shared" 0.4 leads "own_b" 0.35
                [0.6, 0.0, 0.0],  # the outliers: no rival of anyone
            ]
        )
    )
    penalised = penalise_rivals(scores, np.array([True, True, False]), 0.2).toarray()
    assert penalised[0, 0] == pytest.approx(0.5 - 0.2 * 0.4)  # A's rival for "shared" is B
    assert penalised[1, 0] == pytest.approx(0.4 - 0.2 * 0.5)  # B's rival is A (0.5), not the outliers
    assert penalised[0, 1] == pytest.approx(0.4) and penalised[1, 2] == pytest.approx(0.35)  # no rival
    assert penalised[2, 0] == pytest.approx(0.6 - 0.2 * 0.5)
    # "shared" still leads A, but no longer leads B
    assert penalised[0, 0] > penalised[0, 1]
    assert penalised[1, 2] > penalised[1, 0]
    assert np.array_equal(penalise_rivals(scores, np.ones(3, bool), 0).toarray(), scores.toarray())


def test_rival_penalty_on_a_tie_counts_the_other_holder():
    scores = sparse.csr_matrix(np.array([[0.5, 0.1], [0.5, 0.0]]))
    penalised = penalise_rivals(scores, np.array([True, True]), 0.5).toarray()
    assert penalised[0, 0] == pytest.approx(0.25) and penalised[1, 0] == pytest.approx(0.25)


def test_distinctive_top_words_with_the_penalty_repeat_fewer_words():
    # two football topics whose every segment says "goal"; one in four names its own competition
    football = [["goal", "league"]] + [["goal"]] * 3 + [["goal", "cup"]] + [["goal"]] * 3
    rows = football + [["rain"]] * 40
    vocabulary = np.array(["cup", "goal", "league", "rain"])
    doc_terms = sparse.csr_matrix(
        np.array([[int(word in row) for word in vocabulary] for row in rows], dtype=float)
    )
    topics = np.array([0] * 4 + [1] * 4 + [2] * 40)
    plain = distinctive_top_words(doc_terms, topics, vocabulary, 1, rival_penalty=0)
    penalised = distinctive_top_words(doc_terms, topics, vocabulary, 1, rival_penalty=0.5)
    assert plain[0][0][0] == plain[1][0][0] == "goal"  # the two topics read the same
    assert penalised[0][0][0] == "league" and penalised[1][0][0] == "cup"
    assert penalised[2][0][0] == plain[2][0][0] == "rain"  # a word no other topic uses is untouched


@pytest.mark.parametrize("reduction", ["smallest_first", "agglomerative"])
def test_fit_reduces_to_nr_topics_either_way(planted, codebook, reduction, monkeypatch) -> None:
    import analysis.topics.model as model_module

    calls = []
    merges = model_module.smallest_first_merges
    monkeypatch.setattr(model_module, "smallest_first_merges", lambda *a: calls.append(a) or merges(*a))
    segments, embeddings = planted
    config = planted_config(nr_topics=3, topic_reduction=reduction, absorb_outliers_quantile=None)
    result = fit_topics(segments, embeddings, config, codebook=codebook)
    assert len(calls) == (reduction == "smallest_first")  # HDBSCAN found more than 3: one reduction
    model = result.model
    kept = sorted(t for t in set(model.topics_) if t != -1)
    assert kept == list(range(len(kept))) and len(kept) == 3 - model._outliers  # -1 counts, as in BERTopic
    assert (result.topics["topic"] >= 0).sum() == len(kept)
    # the bookkeeping BERTopic keeps per topic agrees with the documents' topics
    counts = {t: int((np.asarray(model.topics_) == t).sum()) for t in set(model.topics_)}
    assert model.topic_sizes_ == counts
    assert model.topic_embeddings_.shape[0] == len(counts) == model.c_tf_idf_.shape[0]
    sizes = sorted((counts[t] for t in kept), reverse=True)
    assert [counts[t] for t in kept] == sizes  # ids by size, as BERTopic numbers them


def test_the_penalty_reorders_a_topics_words_but_never_removes_one():
    scores = sparse.csr_matrix(np.array([[1.0, 0.8, 0.0], [0.1, 0.05, 0.3]]))  # B's 0.1 and 0.05 < 0.2 × A's
    penalised = penalise_rivals(scores, np.array([True, True]), 0.2).toarray()
    assert penalised[1, 2] == pytest.approx(0.3)
    assert 0 < penalised[1, 1] < penalised[1, 0] < 1e-6  # kept, after the unpenalised word, in their own order
    vocabulary = np.array(["a", "b", "c"])
    from analysis.vectorize import top_scored

    assert [w for w, _ in top_scored(sparse.csr_matrix(penalised[1]), vocabulary, 3)] == ["c", "a", "b"]
