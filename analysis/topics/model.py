"""The unfitted BERTopic: UMAP/HDBSCAN (or the degraded KMeans), vectorizer, c-TF-IDF, representation."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from bertopic import BERTopic
from bertopic.backend import BaseEmbedder
from bertopic.dimensionality import BaseDimensionalityReduction
from bertopic.representation import BaseRepresentation, KeyBERTInspired, MaximalMarginalRelevance
from bertopic.vectorizers import ClassTfidfTransformer
from hdbscan import HDBSCAN
from scipy import sparse
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import CountVectorizer
from umap import UMAP

from analysis import numba_cache
from analysis.config import TopicConfig
from analysis.encoders.base import Encoder
from analysis.themes import Codebook
from analysis.topics.reduction import smallest_first_merges
from analysis.topics.scale import scale_parameters
from analysis.vectorize import RIVAL_PENALTY, distinctive_top_words

MMR_DIVERSITY = 0.3
HDBSCAN_JOBS = 1  # processes for HDBSCAN's core distances (see build_topic_model)
_LOGGER = logging.getLogger("BERTopic")


class EncoderEmbedder(BaseEmbedder):
    """Lets BERTopic embed words and theme descriptions with an `analysis.encoders` encoder."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
        return np.asarray(self.encoder.encode(list(documents)), dtype=np.float32)


class DistinctiveWords(BaseRepresentation):
    """Topic words by `analysis.vectorize.distinctive_word_scores`: the words most of a topic's
    documents use and the rest of the corpus does not, less a share of their score in their best
    rival topic (`penalise_rivals`). Needs no encoder; uses the model's vectorizer."""

    def __init__(self, top_n_words: int = 10, rival_penalty: float = RIVAL_PENALTY) -> None:
        self.top_n_words = top_n_words
        self.rival_penalty = rival_penalty
        self._transformed: tuple[tuple[int, int, int], sparse.csr_matrix, np.ndarray] | None = None

    def doc_terms(
        self, vectorizer: CountVectorizer, texts: Sequence[str], *, fit: bool = False
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """`texts` as a documents × words count matrix, with its vocabulary.

        BERTopic asks for topic words again after every reduction and update, on the same documents,
        and the topic table asks once more per language: the transform (about 9 s for 28,000
        segments) is kept for the last texts and vectorizer instead of being repeated. `fit`: fit
        the vectorizer on `texts` first (once: a kept result for the same texts is reused).
        """
        texts = list(texts)
        key = (id(vectorizer), len(texts), hash(tuple(texts)))
        if self._transformed is None or self._transformed[0] != key:
            counts = vectorizer.fit_transform(texts) if fit else vectorizer.transform(texts)
            self._transformed = (key, counts.tocsr(), vectorizer.get_feature_names_out())
        return self._transformed[1], self._transformed[2]

    def extract_topics(self, topic_model, documents, c_tf_idf, topics):  # type: ignore[no-untyped-def]
        texts = documents["Document"].fillna("").astype(str).tolist()
        doc_terms, vocabulary = self.doc_terms(topic_model.vectorizer_model, texts)
        ranked = distinctive_top_words(
            doc_terms, documents["Topic"].to_numpy(), vocabulary, self.top_n_words,
            rival_penalty=self.rival_penalty,
        )  # fmt: skip
        # BERTopic pads short topics with empty words; so do we, to keep its invariants.
        padded = {}
        for topic in topics:
            words = ranked.get(topic, [])
            padded[topic] = words + [("", 1e-5)] * (self.top_n_words - len(words))
        return padded


class SegmentCountsBERTopic(BERTopic):
    """BERTopic whose per-topic word counts come from one documents × words matrix of the segments.

    Plain BERTopic joins each topic's documents into one string and runs the vectorizer over those
    strings at every fit and update; with this package's vectorizer (Unicode and Arabic folding,
    stop lists, bigrams, in Python) each pass over morocco-news cost about 20 s. Here the vectorizer
    is fitted once on the segments themselves, and a topic's counts are the sum of its segments'
    rows (a topics × segments indicator times the segments × words matrix), for every topic at once.
    The one difference from joining: no bigram is formed across two segments (the last word of one
    paragraph and the first of the next), which was never a phrase. Guided mode's seed words and
    online fitting keep BERTopic's own path.
    """

    _segments: pd.DataFrame | None = None
    _rows: tuple[dict[str, int], sparse.csr_matrix] | None = None  # text → row of the counts, during a fit
    topic_reduction: str = "smallest_first"  # how nr_topics is reached (TopicConfig.topic_reduction)

    # BERTopic hands `_c_tf_idf` only the joined strings; the documents and their topics are kept
    # from the two calls that precede it (fit and reduction: `_extract_topics`; `update_topics`:
    # `_update_topic_size`), and `_joins` checks that they are what was joined.
    def _extract_topics(self, documents: pd.DataFrame, *args: Any, **kwargs: Any) -> Any:
        self._segments = documents
        return super()._extract_topics(documents, *args, **kwargs)

    def _update_topic_size(self, documents: pd.DataFrame) -> None:
        self._segments = documents
        super()._update_topic_size(documents)

    def fit_transform(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().fit_transform(*args, **kwargs)
        finally:
            self._segments = self._rows = None

    def update_topics(self, *args: Any, **kwargs: Any) -> None:
        try:
            super().update_topics(*args, **kwargs)
        finally:
            self._segments = self._rows = None

    def _reduce_to_n_topics(self, documents: pd.DataFrame, use_ctfidf: bool = False) -> pd.DataFrame:
        """`smallest_first` (analysis.topics.reduction) on the topics' word counts; then the same
        bookkeeping as BERTopic's own reduction (topic sizes, mapper, merged topic embeddings,
        ids by frequency, words). "agglomerative": BERTopic's own."""
        if self.topic_reduction != "smallest_first":
            return super()._reduce_to_n_topics(documents, use_ctfidf)
        topics = documents["Topic"].to_numpy()
        counts, _ = segment_doc_terms(self, documents["Document"].tolist())
        mapped = smallest_first_merges(topics, counts, self.nr_topics - self._outliers)
        merged_from: dict[int, list[int]] = {}
        for topic in sorted(mapped):
            merged_from.setdefault(mapped[topic], []).append(topic)
        mappings = {
            to: {"topics_from": froms, "topic_sizes": [self.topic_sizes_[t] for t in froms]}
            for to, froms in sorted(merged_from.items())
        }
        documents.Topic = [mapped[int(topic)] for topic in topics]
        self._update_topic_size(documents)
        self.topic_mapper_.add_mappings(mapped, topic_model=self)
        documents = self._sort_mappings_by_frequency(documents)
        self._extract_topics(documents, mappings=mappings, verbose=self.verbose)
        self._update_topic_size(documents)
        return documents

    def _extract_representative_docs(self, *args: Any, **kwargs: Any) -> Any:
        # BERTopic transforms up to 500 sampled segments per topic (about 6 s on morocco-news):
        # they are rows of the segments' counts already.
        if self._rows is None:
            return super()._extract_representative_docs(*args, **kwargs)
        row_of, counts = self._rows
        vectorizer = self.vectorizer_model

        def transform(documents: Sequence[str]) -> sparse.csr_matrix:
            documents = list(documents)
            rows = [row_of.get(document) for document in documents]
            if None in rows:
                return type(vectorizer).transform(vectorizer, documents)
            return counts[rows]

        vectorizer.transform = transform  # this call only; removed below
        try:
            return super()._extract_representative_docs(*args, **kwargs)
        finally:
            del vectorizer.transform

    def _c_tf_idf(self, documents_per_topic: pd.DataFrame, fit: bool = True, partial_fit: bool = False) -> Any:
        segments, self._segments = self._segments, None  # used once: not kept on the fitted model
        if (
            not fit or partial_fit or segments is None or self.seed_topic_list
            or getattr(self.ctfidf_model, "seed_words", None)
            or not _joins(segments, documents_per_topic)
        ):  # fmt: skip
            return super()._c_tf_idf(documents_per_topic, fit=fit, partial_fit=partial_fit)
        texts = segments["Document"].tolist()
        counts, words = segment_doc_terms(self, texts)
        self._rows = ({text: row for row, text in reversed(list(enumerate(texts)))}, counts)
        order = {int(topic): row for row, topic in enumerate(documents_per_topic["Topic"].tolist())}
        topics = segments["Topic"].to_numpy()
        indicator = sparse.csr_matrix(
            (np.ones(len(topics)), ([order[int(t)] for t in topics], np.arange(len(topics)))),
            shape=(len(order), len(topics)),
        )
        per_topic = (indicator @ counts).tocsr()
        self.ctfidf_model = self.ctfidf_model.fit(per_topic)
        return self.ctfidf_model.transform(per_topic), words


def _joins(segments: pd.DataFrame, documents_per_topic: pd.DataFrame) -> bool:
    """Whether `documents_per_topic` is `segments` joined per topic (same topics, same characters)."""
    topics = sorted(int(t) for t in documents_per_topic["Topic"].tolist())
    if topics != sorted({int(t) for t in segments["Topic"].tolist()}):
        return False
    joined = sum(len(text) for text in documents_per_topic["Document"].tolist())
    return joined == sum(len(text) for text in segments["Document"].tolist()) + len(segments) - len(topics)


def segment_doc_terms(model: BERTopic, texts: Sequence[str]) -> tuple[sparse.csr_matrix, np.ndarray]:
    """The segments × words counts of `texts` and the vocabulary, the model's vectorizer fitted on
    `texts` once; kept in a `DistinctiveWords` representation's cache, so topic words and words
    per language reuse them instead of transforming the texts again."""
    representation = model.representation_model
    if isinstance(representation, DistinctiveWords):
        cache = representation
    else:  # other representations: a cache of the model's own (BERTopic saves none of it)
        cache = model.__dict__.setdefault("_doc_terms_cache", DistinctiveWords())
    return cache.doc_terms(model.vectorizer_model, texts, fit=True)


def _representation_model(config: TopicConfig, embedding_model: BaseEmbedder | None) -> Any:
    if config.representation == "distinctive":
        return DistinctiveWords(top_n_words=config.top_n_words, rival_penalty=config.rival_penalty)
    if config.representation == "ctfidf" or embedding_model is None:
        return None
    keybert = KeyBERTInspired(top_n_words=config.top_n_words, random_state=config.seed)
    mmr = MaximalMarginalRelevance(diversity=MMR_DIVERSITY, top_n_words=config.top_n_words)
    choices = {"keybert": keybert, "mmr": mmr, "keybert+mmr": [keybert, mmr]}
    if config.representation not in choices:
        raise ValueError(
            f"[topics] representation = {config.representation!r} is not one of "
            f"{', '.join(choices)}, 'distinctive', 'ctfidf'"
        )
    return choices[config.representation]


def build_topic_model(
    n_segments: int,
    config: TopicConfig,
    *,
    codebook: Codebook,
    vectorizer: CountVectorizer,
    embedding_model: BaseEmbedder | None = None,
) -> BERTopic:
    """An unfitted BERTopic with UMAP/HDBSCAN scaled to `n_segments` (see the module docstring).

    Zero-shot mode offers each theme's description as a topic; guided mode seeds one topic per
    theme with its terms. Both need `embedding_model` to embed those texts. KeyBERTInspired and
    MMR representations also need it; without one, topic words are plain c-TF-IDF.
    """
    scale = scale_parameters(n_segments, config)
    numba_cache.enable()  # UMAP's numba functions compile once per machine, not once per run
    if config.mode != "unsupervised" and embedding_model is None:
        raise ValueError(
            f"[topics] mode = {config.mode!r} embeds the codebook's themes and needs an encoder; "
            "pass encoder=… (see analysis.encoders.load_encoder) or set mode = 'unsupervised'"
        )
    if scale.degraded:
        reducer: Any = BaseDimensionalityReduction()
        clusterer: Any = KMeans(n_clusters=scale.n_clusters, n_init=10, random_state=config.seed)
    else:
        reducer = UMAP(
            n_neighbors=scale.n_neighbors,
            n_components=scale.n_components,
            min_dist=0.0,
            metric="cosine",
            random_state=config.seed,
        )
        clusterer = HDBSCAN(
            min_cluster_size=scale.min_topic_size,
            min_samples=config.min_samples,
            max_cluster_size=scale.max_cluster_size,
            metric="euclidean",
            cluster_selection_method=config.cluster_selection,
            prediction_data=True,
            # hdbscan's default (4) queries the core distances in joblib worker processes above
            # 16,384 points; starting them and shipping the tree cost more than the query itself:
            # on morocco-news under load, 4-24 s in this process against 60 s with the default
            # (benchmarks/results/topic_cost.md). The clusters are the same.
            core_dist_n_jobs=HDBSCAN_JOBS,
        )
    model = SegmentCountsBERTopic(
        embedding_model=embedding_model,
        umap_model=reducer,
        hdbscan_model=clusterer,
        vectorizer_model=vectorizer,
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=config.reduce_frequent_words),
        representation_model=_representation_model(config, embedding_model),
        top_n_words=config.top_n_words,
        min_topic_size=scale.min_topic_size,
        nr_topics=config.nr_topics,
        calculate_probabilities=False,
        language="multilingual",  # "english" would strip every non-ASCII letter before c-TF-IDF
        zeroshot_topic_list=(
            [theme.description for theme in codebook.themes] if config.mode == "zeroshot" else None
        ),
        zeroshot_min_similarity=config.zeroshot_min_similarity,
        seed_topic_list=[theme.all_terms() for theme in codebook.themes] if config.mode == "guided" else None,
    )
    model.topic_reduction = config.topic_reduction
    return model


@contextlib.contextmanager
def quiet_bertopic() -> Iterator[None]:
    """BERTopic logs advice (e.g. on saving without an embedding model) that does not apply here:
    the encoder is recorded in our own encoder.json."""
    level = _LOGGER.level
    _LOGGER.setLevel(logging.ERROR)
    try:
        yield
    finally:
        _LOGGER.setLevel(level)

