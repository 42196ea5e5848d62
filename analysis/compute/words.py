"""Topic words and words per language from counts summed over partitions.

After the assignment every original segment has a topic, but no process holds all their texts.
Each partition counts its segments with the fitted vectorizer and returns small matrices:
per (topic, language), the number of its segments holding each word (for the distinctive
scores) and the word's occurrences (for c-TF-IDF), the group sizes, and the spellings of folded
Arabic words. The client sums them (topics × languages × words, sparse) and ranks the words as
`analysis.topics.words.topic_table` does from one in-memory matrix; when the partitions hold the
same segments with the same topics, the words are the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.config import TopicConfig
from analysis.vectorize import distinctive_scores_from_counts, penalise_rivals, top_scored


def partition_counts(
    texts: list[str], topics: np.ndarray, languages: np.ndarray, vectorizer: Any, topic_ids: list[int],
    language_ids: list[str],
) -> dict[str, Any]:  # fmt: skip
    """On a worker: the partition's (topic × language) × words presence and occurrence counts,
    group sizes, and spelling counts (row `t * len(language_ids) + l`)."""
    from analysis.topics.words import spelling_counts

    counts = vectorizer.transform(list(texts)).tocsr()
    counts.eliminate_zeros()
    presence = counts.copy()
    presence.data[:] = 1.0
    n_groups = len(topic_ids) * len(language_ids)
    topic_row = {t: i for i, t in enumerate(topic_ids)}
    language_row = {language: i for i, language in enumerate(language_ids)}
    group = np.array([topic_row[int(t)] * len(language_ids) + language_row[str(lang)]
                      for t, lang in zip(topics.tolist(), languages.tolist(), strict=True)], dtype=np.int64)  # fmt: skip
    indicator = sparse.csr_matrix((np.ones(len(group)), (group, np.arange(len(group)))), shape=(n_groups, len(group)))
    return {
        "presence": (indicator @ presence).tocsr(),
        "occurrences": (indicator @ counts.astype(np.float64)).tocsr(),
        "sizes": np.bincount(group, minlength=n_groups),
        "spellings": spelling_counts(texts),
    }


def reduce_counts(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The partitions' counts summed (spellings merged in partition order, as one pass would see them)."""
    total = {key: sum(part[key] for part in parts[1:]) + parts[0][key] for key in ("presence", "occurrences", "sizes")}
    spellings: dict[str, Counter[str]] = {}
    for part in parts:
        for folded, counts in part["spellings"].items():
            spellings.setdefault(folded, Counter()).update(counts)
    total["spellings"] = spellings
    return total


def words_from_counts(
    total: dict[str, Any], topic_ids: list[int], language_ids: list[str], vocabulary: np.ndarray, config: TopicConfig
) -> tuple[dict[int, list[str]], dict[tuple[int, str], list[str]]]:
    """Each topic's words over all its segments, and per (topic, language), from the summed counts."""
    from bertopic.vectorizers import ClassTfidfTransformer

    n_t, n_l = len(topic_ids), len(language_ids)
    presence = total["presence"].tocsr()
    occurrences = total["occurrences"].tocsr()
    sizes = total["sizes"].reshape(n_t, n_l)

    def distinctive(rows: np.ndarray, in_topic: sparse.csr_matrix, group_sizes: np.ndarray) -> dict[int, list[str]]:
        kept = np.flatnonzero(group_sizes > 0)
        scores = distinctive_scores_from_counts(in_topic[kept], group_sizes[kept].astype(np.float64))
        scores = penalise_rivals(scores, rows[kept] != -1, config.rival_penalty)
        found = {int(rows[k]): [w for w, _ in top_scored(scores.getrow(i), vocabulary, config.top_n_words)]
                 for i, k in enumerate(kept)}  # fmt: skip
        return {topic: words for topic, words in found.items() if words}

    ids = np.asarray(topic_ids)
    overall = distinctive(ids, _sum_languages(presence, n_t, n_l), sizes.sum(axis=1))
    per_language: dict[tuple[int, str], list[str]] = {}
    for k, language in enumerate(language_ids):
        if not sizes[:, k].any():
            continue
        rows = np.arange(n_t) * n_l + k
        if config.representation == "distinctive":
            for topic, words in distinctive(ids, presence[rows], sizes[:, k]).items():
                per_language[(topic, language)] = words
            continue
        per_topic = occurrences[rows]
        used = np.flatnonzero(np.asarray(per_topic.sum(axis=0)).ravel() > 0)
        if used.size == 0:
            continue
        per_topic = per_topic[:, used]
        weights = ClassTfidfTransformer(reduce_frequent_words=config.reduce_frequent_words).fit_transform(per_topic)
        weights, present = weights.toarray(), per_topic.toarray() > 0
        for row, topic in enumerate(topic_ids):
            order = [i for i in np.argsort(-weights[row], kind="stable") if present[row, i]][: config.top_n_words]
            if order:
                per_language[(topic, language)] = [str(vocabulary[used[i]]) for i in order]
    return overall, per_language


def _sum_languages(matrix: sparse.csr_matrix, n_t: int, n_l: int) -> sparse.csr_matrix:
    summing = sparse.csr_matrix((np.ones(n_t * n_l), (np.repeat(np.arange(n_t), n_l), np.arange(n_t * n_l))),
                                shape=(n_t, n_t * n_l))  # fmt: skip
    return (summing @ matrix).tocsr()


def topic_rows(
    topics: pd.DataFrame, total: dict[str, Any], topic_ids: list[int], language_ids: list[str],
    vocabulary: np.ndarray, config: TopicConfig, languages: Sequence[str], *, model_words: bool,
) -> pd.DataFrame:  # fmt: skip
    """`topics` with size, label, words (when `model_words` is false: the model's own words are
    kept), words per language and language shares recomputed from the summed counts."""
    from analysis.topics.words import _display, _label, most_common_forms

    overall, per_language = words_from_counts(total, topic_ids, language_ids, vocabulary, config)
    forms = most_common_forms(total["spellings"])
    per_language = {key: _display(words, forms) for key, words in per_language.items()}
    sizes = total["sizes"].reshape(len(topic_ids), len(language_ids))
    table = topics.set_index("topic")
    columns: dict[str, list[Any]] = {"size": [], "words": [], "label": [], "languages": [],
                                     **{f"words_{language}": [] for language in languages}}  # fmt: skip
    for t, topic in enumerate(topic_ids):
        n = sizes[t]
        shares = sorted(((language_ids[k], float(n[k] / n.sum())) for k in np.flatnonzero(n)),
                        key=lambda p: (-p[1], p[0]))  # fmt: skip
        words = list(table.at[topic, "words"]) if model_words else _display(overall.get(topic, []), forms)
        columns["size"].append(int(n.sum()))
        columns["words"].append(words)
        columns["label"].append(_label(topic, shares, per_language, words))
        for language in languages:
            columns[f"words_{language}"].append(list(per_language.get((topic, language), [])))
        columns["languages"].append(" · ".join(f"{language} {share:.0%}" for language, share in shares))
    out = table.loc[topic_ids].reset_index()
    for name, values in columns.items():
        out[name] = pd.Series(values, index=out.index, dtype=topics[name].dtype)
    return out[topics.columns]


def topic_table_partitioned(
    client: Any, texts: Sequence[str], topics: np.ndarray, languages: np.ndarray, fitted: pd.DataFrame,
    vectorizer: Any, config: TopicConfig, language_columns: Sequence[str], *, partition_size: int,
    progress: bool = True,
) -> pd.DataFrame:  # fmt: skip
    """`fitted` (a topic table) with sizes, labels, words and words per language from every one of
    `texts` (the original segments, with their `topics` and `languages`), counted in partitions."""
    from analysis.compute.cluster import wait_all

    topic_ids = sorted(int(t) for t in fitted["topic"])
    language_ids = sorted({str(language) for language in languages.tolist()})
    shared = client.scatter([vectorizer], broadcast=True)[0]
    futures = [  # each block of texts scattered as one object (a scattered list is one future per item)
        client.submit(partition_counts, client.scatter([list(texts[i : i + partition_size])])[0], topics[i : i + partition_size],
                      languages[i : i + partition_size], shared, topic_ids, language_ids, pure=False)
        for i in range(0, len(texts), partition_size)
    ]  # fmt: skip
    total = reduce_counts(wait_all(futures, "topic words: counts", progress=progress))
    vocabulary = np.asarray(vectorizer.get_feature_names_out())
    return topic_rows(fitted, total, topic_ids, language_ids, vocabulary, config, language_columns,
                      model_words=config.representation != "distinctive")  # fmt: skip
