"""Topics on a cluster: BERTopic fitted in one process on a reproducible sample of the original
segments, then every other original assigned to the fitted topics in partitions on the workers.

The assignment is by similarity to the topic centroids (as a model reloaded from safetensors
assigns new texts), with the outlier rule of `analysis.topics.absorb_outliers`: a segment joins
its most similar topic when it is at least as similar as the `member_quantile` quantile of that
topic's fitted members, and is an outlier (-1) otherwise. When the originals number no more than
`fit_sample`, the fit is on all of them and the result is exactly the single-process one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis import topics as single
from analysis.compute.assign import assign_block, unit_rows
from analysis.compute.cluster import wait_all
from analysis.compute.words import topic_table_partitioned
from analysis.config import ComputeConfig, CorpusConfig, TopicConfig
from analysis.themes import OTHER, Codebook, dictionary_scores
from analysis.topics.fit import segment_table

DEFAULT_MEMBER_QUANTILE = 0.1  # as `[topics] absorb_outliers_quantile` defaults


def sample_rows(original: np.ndarray, fit_sample: int, seed: int) -> np.ndarray:
    """Sorted row positions of the fit sample: all originals when they are no more than `fit_sample`."""
    rows = np.flatnonzero(original)
    if len(rows) <= fit_sample:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size=fit_sample, replace=False))


def fit_on_sample(
    segments: pd.DataFrame,
    embeddings: np.ndarray,
    config: TopicConfig,
    compute: ComputeConfig,
    client: Any,
    *,
    codebook: Codebook,
    encoder: Any = None,
    languages: Sequence[str] = CorpusConfig.languages,
    progress: bool = True,
) -> single.TopicResult:
    """`analysis.topics.fit_topics` on `compute.fit_sample` originals; the rest assigned in partitions."""
    original = (segments["duplicate_of"].fillna("").astype(str) == "").to_numpy()
    fitted_rows = sample_rows(original, compute.fit_sample, config.seed)
    if len(fitted_rows) == original.sum():
        result = single.fit_topics(segments, embeddings, config, codebook=codebook, encoder=encoder,
                                   languages=languages)  # fmt: skip
        info = {**result.info, "fit_sample": int(original.sum()), "fit_on": "all original segments"}
        return dataclasses.replace(result, info=info)
    sample = segments.iloc[fitted_rows].reset_index(drop=True)
    result = single.fit_topics(sample, embeddings[fitted_rows], config, codebook=codebook, encoder=encoder,
                               languages=languages)  # fmt: skip
    fitted_topics = result.segment_topics["topic"].to_numpy()
    quantile = config.absorb_outliers_quantile or DEFAULT_MEMBER_QUANTILE
    kept, centroids, thresholds = _topic_centroids(embeddings[fitted_rows], fitted_topics, quantile)

    rest = np.setdiff1d(np.flatnonzero(original), fitted_rows)
    size = compute.partition_size
    centroid_future = client.scatter((kept, centroids, thresholds), broadcast=True)
    assign_futures = [
        # scattered one block at a time: the client keeps no second copy of the embeddings in task specs
        client.submit(assign_block, client.scatter(embeddings[rest[i : i + size]]), centroid_future, pure=False)
        for i in range(0, len(rest), size)
    ]
    texts = segments["text"].fillna("").astype(str).tolist()
    score_futures = [
        client.submit(dictionary_scores, texts[i : i + size], codebook, pure=False)
        for i in range(0, len(texts), size)
    ]
    assigned_rest = np.concatenate(wait_all(assign_futures, "assigning topics", progress=progress) or [[]])
    scores = pd.concat(wait_all(score_futures, "dictionary scores", progress=progress), ignore_index=True)

    topic_of_row = np.full(len(segments), -2, dtype=np.int64)
    topic_of_row[fitted_rows] = fitted_topics
    topic_of_row[rest] = assigned_rest.astype(np.int64)
    assigned = topic_of_row[original]
    topics = result.topics.copy()
    if (assigned == -1).any() and not (topics["topic"] == -1).any():  # outliers only among the assigned
        outlier_row = dict.fromkeys(topics.columns, "")
        outlier_row.update(topic=-1, size=0, label=single.OUTLIER_LABEL, theme=OTHER, theme_score=0.0)
        topics = pd.concat([pd.DataFrame([outlier_row]).astype(topics.dtypes.to_dict()), topics],
                           ignore_index=True)  # fmt: skip
    # sizes, labels and words from every original segment, counted in partitions
    fitted_languages = segments["language"].fillna("und").astype(str).to_numpy()[original] if "language" in segments \
        else np.full(int(original.sum()), "und")  # fmt: skip
    original_texts = [texts[i] for i in np.flatnonzero(original).tolist()]
    topics = topic_table_partitioned(client, original_texts, assigned, fitted_languages, topics,
                                     result.model.vectorizer_model, config, languages,
                                     partition_size=size, progress=progress)  # fmt: skip
    segment_topics = segment_table(segments, original, assigned, topics, scores)
    info = {
        **result.info,
        "n_segments": len(segments),
        "n_duplicates": int((~original).sum()),
        "fit_sample": len(fitted_rows),
        "fit_on": f"a sample of {len(fitted_rows)} of {int(original.sum())} original segments (seed {config.seed})",
        "n_assigned": len(rest),
        "assignment": f"cosine similarity to the fitted topic centroids; an outlier below the {quantile:g} "
        "quantile of the topic's own members' similarity",
        "outlier_share_assigned": float(np.mean(assigned_rest == -1)) if len(rest) else 0.0,
        "outlier_share": float(np.mean(assigned == -1)),
        "topic_words": "counted over every original segment in partitions (the fitted vectorizer's counts "
        "summed per topic and per topic × language)",
    }
    return dataclasses.replace(result, topics=topics, segment_topics=segment_topics, info=info)


def _topic_centroids(
    embeddings: np.ndarray, topics: np.ndarray, quantile: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Topic ids (outliers left out), their unit centroids, and each topic's member-similarity threshold."""
    vectors = unit_rows(np.asarray(embeddings, dtype=np.float32))
    kept = np.array(sorted(set(topics.tolist()) - {-1}), dtype=np.int64)
    if len(kept) == 0:
        return kept, np.zeros((0, vectors.shape[1]), np.float32), np.zeros(0)
    centroids = unit_rows(np.vstack([vectors[topics == topic].mean(axis=0) for topic in kept]))
    thresholds = np.array([np.quantile(vectors[topics == t] @ centroids[i], quantile) for i, t in enumerate(kept)])
    return kept, centroids, thresholds
