"""The paper-protocol benchmark's emulation of BERTopic 0.9 (its c-TF-IDF and topic reduction), on
corpora small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.topics.reduction import ctfidf_09
from benchmarks.paper_protocol import bertopic_09_reduce, bertopic_09_words


def test_ctfidf_09_scores_frequent_words_below_zero():
    # two topics of 4 words each: avg_nr_samples = 4; "common" occurs 6 times in all -> log(4/6) < 0
    counts = np.array([[3.0, 1.0, 0.0], [3.0, 0.0, 1.0]])
    scores = ctfidf_09(counts)
    assert scores[0, 0] == pytest.approx(0.75 * np.log(4 / 6))
    assert scores[0, 1] == pytest.approx(0.25 * np.log(4 / 1))
    assert scores[0, 0] < 0 < scores[0, 1]
    assert scores[0, 2] == 0.0  # absent from the topic


def test_bertopic_09_words_ranks_by_09_ctfidf_and_skips_outliers():
    texts = ["apple apple fruit", "apple fruit pear", "engine car wheel", "car engine road", "noise"]
    topics = np.array([0, 0, 1, 1, -1])
    words = bertopic_09_words(texts, topics, top_n=2)
    assert len(words) == 2  # the outlier topic is not listed
    assert set(words[0]) <= {"apple", "fruit", "pear"}
    assert set(words[1]) <= {"engine", "car", "wheel", "road"}


def test_bertopic_09_reduce_merges_the_smallest_topic_into_its_most_similar():
    texts = (
        ["cat dog pet"] * 5  # topic 0: pets
        + ["cat dog vet"] * 2  # topic 1: small and like topic 0
        + ["stock market bank"] * 4  # topic 2: finance
        + ["random words here"] * 3  # outliers (more than the smallest topic: 0.9 could merge them too)
    )
    topics = np.array([0] * 5 + [1] * 2 + [2] * 4 + [-1] * 3)
    reduced = bertopic_09_reduce(texts, topics, nr_topics=2)
    assert set(reduced[5:7]) == {0}  # the small pet topic joined the pets, not finance
    assert set(reduced[7:11]) == {2}
    assert set(reduced[11:]) == {-1}
    # nothing to do when there are already few enough topics
    assert np.array_equal(bertopic_09_reduce(texts, topics, nr_topics=3), topics)
