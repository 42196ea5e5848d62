"""Reducing topics to `nr_topics` the way BERTopic 0.9 did: the smallest topic first.

BERTopic 0.17 clusters the topic embeddings in one agglomerative step, which is free to merge two
large topics into one and leave small, noisy ones standing. BERTopic 0.9 (the version of the BERTopic
paper) merged the smallest topic into its most similar topic, one at a time, with similarities from
the topics' c-TF-IDF computed once; the outlier topic could absorb a small topic too. On the paper's
protocol the 0.9 way reproduces the paper's scores, and on the package's 20 Newsgroups clusters
the one-step way scores .091 NPMI against .177 (benchmarks/results/paper_protocol_calibrated.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse
from sklearn.metrics.pairwise import cosine_similarity


def smallest_first_merges(topics: np.ndarray, doc_terms: sparse.spmatrix, n_topics: int) -> dict[int, int]:
    """Each topic of `topics` (one per row of the documents × words `doc_terms`) → the topic it ends
    in after `smallest_first` to `n_topics` topics, topics compared by the cosine of `ctfidf_09`."""
    ids, rows = np.unique(np.asarray(topics, dtype=np.int64), return_inverse=True)
    membership = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(len(ids), len(rows))
    )
    similarity = cosine_similarity(ctfidf_09(membership @ doc_terms))
    return smallest_first(ids.tolist(), np.bincount(rows, minlength=len(ids)).tolist(), similarity, n_topics)


def ctfidf_09(per_topic: sparse.spmatrix | np.ndarray) -> np.ndarray:
    """BERTopic 0.9's c-TF-IDF of a topics × words count matrix: the topic's word shares times
    log(mean words per topic / the word's count over all topics). Without 0.10's "+ 1" the idf is
    negative for words more frequent than an average topic is long, so such words never lead a topic
    and count against similarity only where one topic uses them much more than the other."""
    counts = np.asarray(per_topic.toarray() if sparse.issparse(per_topic) else per_topic, dtype=np.float64)
    df = counts.sum(axis=0)
    mean_length = int(counts.sum(axis=1).mean())
    with np.errstate(divide="ignore", invalid="ignore"):
        idf = np.log(mean_length / df)
        shares = counts / counts.sum(axis=1, keepdims=True)
    return np.nan_to_num(shares * idf, nan=0.0, neginf=0.0, posinf=0.0)


def smallest_first(
    topic_ids: Sequence[int], sizes: Sequence[int], similarity: np.ndarray, n_topics: int
) -> dict[int, int]:
    """Each topic id → the topic it ends in, once topics other than -1 number at most `n_topics`.

    While too many remain, the smallest (ties: the later id) is merged into the topic it is most
    similar to (`similarity`, rows and columns in `topic_ids` order; -1, when present, may receive
    it), and no topic merges into it afterwards. Similarities are not recomputed after a merge, as
    in 0.9; chains resolve (a topic merged into one that is merged later ends in the last).
    """
    ids = [int(topic) for topic in topic_ids]
    if len(set(ids)) != len(ids) or similarity.shape != (len(ids), len(ids)):
        raise ValueError("topic ids must be unique and match the similarity matrix's rows and columns")
    similarity = np.array(similarity, dtype=np.float64)
    np.fill_diagonal(similarity, -np.inf)
    size = {topic: int(n) for topic, n in zip(ids, sizes, strict=True)}
    row_of = {topic: row for row, topic in enumerate(ids)}
    into = {topic: topic for topic in ids}
    alive = [topic for topic in ids if topic != -1]
    while len(alive) > max(n_topics, 1):
        smallest = min(alive, key=lambda topic: (size[topic], -row_of[topic]))
        row = row_of[smallest]
        target = ids[int(np.argmax(similarity[row]))]
        similarity[:, row] = -np.inf
        into[smallest] = target
        alive.remove(smallest)
        size[target] += size[smallest]
    return {topic: _final(into, topic) for topic in ids}


def _final(into: dict[int, int], topic: int) -> int:
    while into[topic] != topic:
        topic = into[topic]
    return topic
