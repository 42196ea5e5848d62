"""BERTopic assembled for multilingual news: fit, topic words per language, themes, save and load.

`fit_topics` fits BERTopic on the original segments (duplicates get their original's topic),
names every topic with its top words in each language present, maps it to a codebook theme and
returns the fitted BERTopic object itself, so every BERTopic method stays available.

Scaling rules (n = number of segments fitted, i.e. without duplicates):

    min_topic_size (HDBSCAN min_cluster_size) = clamp(round(n / 100), 5, 50), at most 10 when nr_topics is set
    n_neighbors (UMAP)                         = clamp(round(sqrt(n)), 5, 15), and < n
    n_components (UMAP)                        = config.n_components, and <= n - 2
    max_cluster_size (HDBSCAN)                 = max(round(n × max_topic_share), 10 × min_topic_size)

Clustering, as measured for the default encoder on morocco-news (benchmarks/results/clustering.md):
segments are centred by language before UMAP (`centre_by_language`), HDBSCAN selects clusters by
excess of mass, and outliers as close to a topic as its own members join it (`absorb_outliers`).

Settings given in `TopicConfig` win over the rules. Below TINY_CORPUS segments UMAP's spectral
layout and HDBSCAN's density estimates are meaningless, so a degraded path is taken instead —
no reduction, KMeans with k = clamp(n // 10, 1, 3) on the embeddings — announced with a
`DegradedTopicModelWarning` and recorded in `TopicResult.info["degraded"]`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import shutil
import tempfile
import unicodedata
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
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

from analysis.config import CorpusConfig, TopicConfig
from analysis.encoders.base import Encoder
from analysis.themes import (
    OTHER,
    Codebook,
    best_dictionary_theme,
    codebook_to_toml,
    dictionary_scores,
    load_codebook,
)
from analysis.themes import map_topics_to_themes as _map_topics_to_themes
from analysis.vectorize import distinctive_top_words, make_vectorizer, normalise_arabic, tokenize_words

TINY_CORPUS = 30  # below this many fitted segments the degraded path is taken
LABEL_MIN_LANGUAGE_SHARE = 0.10  # a language shows in a topic's label from this share on
LABEL_WORDS_PER_LANGUAGE = 3
MMR_DIVERSITY = 0.3
OUTLIER_LABEL = "outliers"

TOPIC_COLUMNS_START = ["topic", "size", "label", "words"]
TOPIC_COLUMNS_END = ["languages", "theme", "theme_score"]
SEGMENT_TOPIC_COLUMNS = [
    "segment_id",
    "topic",
    "topic_label",
    "theme",
    "theme_score",
    "dict_theme",
    "dict_theme_score",
]
_BERTOPIC_FOLDER = "bertopic"
_LOGGER = logging.getLogger("BERTopic")


# What BERTopic's safetensors save writes; without the .safetensors files BERTopic.load falls back
# to torch.load of topic_embeddings.bin / ctfidf.bin, which unpickles whatever they hold.
_SAFE_BERTOPIC_FILES = (
    "config.json",
    "topics.json",
    "topic_embeddings.safetensors",
    "ctfidf.safetensors",
    "ctfidf_config.json",
)
_PICKLE_SUFFIXES = (".bin", ".pkl", ".pickle", ".pt", ".pth", ".joblib", ".ckpt")


class UnsafeModelError(ValueError):
    """A model folder that would be loaded with pickle (missing safetensors, or pickle files in it)."""


class DegradedTopicModelWarning(UserWarning):
    """The corpus is too small for UMAP + HDBSCAN; a simpler documented model was fitted."""


@dataclass(frozen=True)
class TopicResult:
    """A fitted topic model and its tables.

    `topics`: one row per topic (columns topic, size, label, words, words_<lang>…, languages,
    theme, theme_score); `segment_topics`: one row per input segment (SEGMENT_TOPIC_COLUMNS);
    `info`: scaling, degraded path, representation and counts, as recorded in the manifest;
    `codebook`: the codebook the themes come from.
    """

    model: BERTopic
    topics: pd.DataFrame
    segment_topics: pd.DataFrame
    info: dict[str, Any]
    codebook: Codebook | None = None


@dataclass(frozen=True)
class ModelScale:
    """The corpus-size-dependent settings actually used; `degraded` is "" or why it was taken."""

    n_segments: int
    min_topic_size: int
    n_neighbors: int
    n_components: int
    degraded: str = ""
    max_cluster_size: int = 0  # 0: no cap
    n_clusters: int = 0  # KMeans k on the degraded path


def _clamp(value: float, low: int, high: int) -> int:
    return int(min(max(round(value), low), high))


def scale_parameters(n_segments: int, config: TopicConfig) -> ModelScale:
    """UMAP/HDBSCAN settings for `n_segments` following the module's scaling rules."""
    if n_segments < 1:
        raise ValueError("no segments to fit a topic model on; the corpus stage produced none")
    min_topic_size = config.min_topic_size or _clamp(n_segments / 100, 5, 50)
    if config.nr_topics and not config.min_topic_size:
        # Asked for k topics: HDBSCAN must find at least k clusters for BERTopic to merge down to k,
        # so the size rule may not starve it (BERTopic's own default is 10).
        min_topic_size = min(min_topic_size, 10)
    n_neighbors = config.n_neighbors or _clamp(math.sqrt(n_segments), 5, 15)
    n_neighbors = max(2, min(n_neighbors, n_segments - 1))
    n_components = max(1, min(config.n_components, n_segments - 2))
    if n_segments < TINY_CORPUS:
        return ModelScale(
            n_segments,
            min_topic_size,
            n_neighbors,
            n_components,
            degraded=(
                f"only {n_segments} segments (< {TINY_CORPUS}): UMAP and HDBSCAN need more, so topics come "
                f"from KMeans (k = {_clamp(n_segments // 10, 1, 3)}) on the unreduced embeddings"
            ),
            n_clusters=_clamp(n_segments // 10, 1, 3),
        )
    max_cluster_size = 0
    if config.max_topic_share is not None:
        max_cluster_size = max(round(n_segments * config.max_topic_share), 10 * min_topic_size)
    return ModelScale(
        n_segments, min_topic_size, n_neighbors, n_components, max_cluster_size=max_cluster_size
    )


CENTRING_MIN_SEGMENTS = 20  # a smaller language group is centred on the corpus mean instead of its own


def centre_by_language(embeddings: np.ndarray, languages: Sequence[str]) -> np.ndarray:
    """Each row minus its language's mean vector, renormalised: topics form by subject, not language.

    Multilingual encoders place each language in its own region of the space; subtracting the
    language means removes that offset (and keeps what varies within a language). A language with
    fewer than CENTRING_MIN_SEGMENTS segments would lose its signal to its own mean, so it is
    centred on the mean of the whole corpus instead.
    """
    vectors = np.asarray(embeddings, dtype=np.float32)
    languages = np.asarray(languages, dtype=object)
    if len(vectors) != len(languages):
        raise ValueError(f"{len(vectors)} embeddings but {len(languages)} languages")
    if len(vectors) == 0:
        return vectors.copy()
    centred = vectors - vectors.mean(axis=0)
    for language in set(languages.tolist()):
        rows = languages == language
        if rows.sum() >= CENTRING_MIN_SEGMENTS:
            centred[rows] = vectors[rows] - vectors[rows].mean(axis=0)
    norms = np.linalg.norm(centred, axis=1, keepdims=True)
    return centred / np.where(norms == 0, 1.0, norms)


def absorb_outliers(embeddings: np.ndarray, topics: np.ndarray, *, member_quantile: float) -> np.ndarray:
    """Topics with each outlier moved to its nearest topic when it is as close as that topic's members.

    HDBSCAN leaves a third or more of news paragraphs unassigned, many of them plainly on one
    topic's subject. An outlier joins the topic whose centroid is most similar (cosine) when that
    similarity reaches the `member_quantile` quantile of the topic's own members' similarities
    (0.1: closer than the least typical tenth of its members); the rest stay outliers (-1).
    """
    topics = np.asarray(topics).copy()
    kept = sorted(set(topics.tolist()) - {-1})
    outliers = np.flatnonzero(topics == -1)
    if not kept or not len(outliers):
        return topics
    vectors = np.asarray(embeddings, dtype=np.float32)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centroids = np.vstack([vectors[topics == topic].mean(axis=0) for topic in kept])
    centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    thresholds = np.array(
        [
            np.quantile(vectors[topics == topic] @ centroids[row], member_quantile)
            for row, topic in enumerate(kept)
        ]
    )
    similarity = vectors[outliers] @ centroids.T
    best = similarity.argmax(axis=1)
    close = similarity[np.arange(len(outliers)), best] >= thresholds[best]
    topics[outliers[close]] = np.asarray(kept)[best[close]]
    return topics


class EncoderEmbedder(BaseEmbedder):
    """Lets BERTopic embed words and theme descriptions with an `analysis.encoders` encoder."""

    def __init__(self, encoder: Encoder) -> None:
        super().__init__()
        self.encoder = encoder

    def embed(self, documents: list[str], verbose: bool = False) -> np.ndarray:
        return np.asarray(self.encoder.encode(list(documents)), dtype=np.float32)


class DistinctiveWords(BaseRepresentation):
    """Topic words by `analysis.vectorize.distinctive_word_scores`: the words most of a topic's
    documents use and the rest of the corpus does not. Needs no encoder; uses the model's vectorizer."""

    def __init__(self, top_n_words: int = 10) -> None:
        self.top_n_words = top_n_words
        self._transformed: tuple[tuple[int, int, int], sparse.csr_matrix, np.ndarray] | None = None

    def doc_terms(
        self, vectorizer: CountVectorizer, texts: Sequence[str]
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """`texts` as a documents × words count matrix, with its vocabulary.

        BERTopic asks for topic words again after every reduction and update, on the same documents,
        and the topic table asks once more per language: the transform (about 9 s for 28,000
        segments) is kept for the last texts and vectorizer instead of being repeated.
        """
        texts = list(texts)
        key = (id(vectorizer), len(texts), hash(tuple(texts)))
        if self._transformed is None or self._transformed[0] != key:
            self._transformed = (key, vectorizer.transform(texts).tocsr(), vectorizer.get_feature_names_out())
        return self._transformed[1], self._transformed[2]

    def extract_topics(self, topic_model, documents, c_tf_idf, topics):  # type: ignore[no-untyped-def]
        texts = documents["Document"].fillna("").astype(str).tolist()
        doc_terms, vocabulary = self.doc_terms(topic_model.vectorizer_model, texts)
        ranked = distinctive_top_words(doc_terms, documents["Topic"].to_numpy(), vocabulary, self.top_n_words)
        # BERTopic pads short topics with empty words; so do we, to keep its invariants.
        padded = {}
        for topic in topics:
            words = ranked.get(topic, [])
            padded[topic] = words + [("", 1e-5)] * (self.top_n_words - len(words))
        return padded


def _representation_model(config: TopicConfig, embedding_model: BaseEmbedder | None) -> Any:
    if config.representation == "distinctive":
        return DistinctiveWords(top_n_words=config.top_n_words)
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
        )
    return BERTopic(
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


def fit_topics(
    segments: pd.DataFrame,
    embeddings: np.ndarray,
    config: TopicConfig,
    *,
    codebook: Codebook,
    encoder: Encoder | None = None,
    languages: Sequence[str] = CorpusConfig.languages,
) -> TopicResult:
    """Fit BERTopic on the original segments and build the topic and segment tables.

    `embeddings[i]` is the embedding of `segments.iloc[i]`. Only rows with `duplicate_of == ""`
    are fitted; duplicates receive their original's topic. `languages` decides the `words_<lang>`
    columns (one per language, empty where a topic has no segment in that language).
    """
    _check_inputs(segments, embeddings)
    duplicate_of = segments["duplicate_of"].fillna("").astype(str) if "duplicate_of" in segments else None
    original = (duplicate_of == "").to_numpy() if duplicate_of is not None else np.ones(len(segments), bool)
    fitted = segments.loc[original]
    texts = fitted["text"].fillna("").astype(str).tolist()
    fit_embeddings = np.asarray(embeddings)[original]
    if not texts:
        raise ValueError("every segment is marked as a duplicate (duplicate_of != ''); nothing to fit")

    if encoder is not None and config.mode != "unsupervised":
        dimension = np.asarray(encoder.encode([codebook.themes[0].label])).shape[1]
        if dimension != fit_embeddings.shape[1]:
            raise ValueError(
                f"mode {config.mode!r} compares the segment embeddings ({fit_embeddings.shape[1]}-d) with the "
                f"encoder's embeddings of the codebook ({dimension}-d); embed the segments with the same encoder"
            )
    scale = scale_parameters(len(texts), config)
    if scale.degraded:
        warnings.warn(scale.degraded, DegradedTopicModelWarning, stacklevel=2)
    embedding_model = EncoderEmbedder(encoder) if encoder is not None else None
    fitted_languages = (
        fitted["language"].fillna("und").astype(str).to_numpy()
        if "language" in fitted
        else np.full(len(texts), "und")
    )
    # Language centring moves segments, not themes: guided and zero-shot modes compare segments with
    # embedded theme texts, so they cluster the embeddings as they are.
    centred = config.centre_languages and config.mode == "unsupervised" and not scale.degraded
    cluster_embeddings = centre_by_language(fit_embeddings, fitted_languages) if centred else fit_embeddings
    # BERTopic fits its vectorizer on one joined document per topic: min_df would count topics.
    if config.max_ngram < 1:
        raise ValueError(
            f"[topics] max_ngram = {config.max_ngram}: topic words need at least 1 word (1 or 2)"
        )
    vectorizer = make_vectorizer(len(texts), min_df=1, ngram_range=(1, config.max_ngram))
    model = build_topic_model(
        len(texts), config, codebook=codebook, vectorizer=vectorizer, embedding_model=embedding_model
    )
    with _quiet_bertopic():
        assigned = [int(topic) for topic in model.fit_transform(texts, cluster_embeddings)[0]]
        outliers_before = sum(topic == -1 for topic in assigned)
        strategy = config.outlier_strategy
        if config.reduce_outliers and outliers_before and not scale.degraded and len(set(assigned)) > 1:
            assigned = [
                int(t)
                for t in model.reduce_outliers(
                    texts, assigned, strategy=strategy, embeddings=cluster_embeddings
                )
            ]
            model.update_topics(
                texts,
                topics=assigned,
                top_n_words=config.top_n_words,
                vectorizer_model=model.vectorizer_model,
                ctfidf_model=model.ctfidf_model,
                representation_model=model.representation_model,
            )
    assigned_array = np.asarray(assigned)
    absorbed = 0
    if config.absorb_outliers_quantile is not None and not scale.degraded and not config.reduce_outliers:
        before = assigned_array
        assigned_array = absorb_outliers(
            cluster_embeddings, before, member_quantile=config.absorb_outliers_quantile
        )
        absorbed = int((assigned_array != before).sum())
        if absorbed:
            with _quiet_bertopic():
                model.update_topics(
                    texts,
                    topics=assigned_array.tolist(),
                    top_n_words=config.top_n_words,
                    vectorizer_model=model.vectorizer_model,
                    ctfidf_model=model.ctfidf_model,
                    representation_model=model.representation_model,
                )
    if centred or absorbed or (config.reduce_outliers and outliers_before):
        # Topic embeddings in the encoder's own space, so that a reloaded model assigns new texts
        # (and themes are compared) without knowing the corpus's language means.
        model.topic_embeddings_ = _centroids(fit_embeddings, assigned_array)

    topics = _topic_table(model, texts, assigned_array, fitted_languages, languages, config)
    # Dictionary scores once per segment: the topic→theme mapping and `dict_theme` both use them.
    scores = dictionary_scores(segments["text"].fillna("").astype(str).tolist(), codebook)
    topics = _add_themes(topics, model, texts, assigned_array, fit_embeddings, codebook, encoder, config,
                         fitted_scores=scores.to_numpy()[original])  # fmt: skip
    segment_topics = _segment_table(segments, original, assigned_array, topics, scores)

    info = {
        "n_segments": len(segments),
        "n_fitted": len(texts),
        "n_duplicates": int((~original).sum()),
        "min_topic_size": scale.min_topic_size,
        "n_neighbors": scale.n_neighbors,
        "n_components": scale.n_components,
        "max_cluster_size": scale.max_cluster_size,
        "cluster_selection": config.cluster_selection,
        "min_samples": config.min_samples,
        "centre_languages": bool(centred),
        "degraded": scale.degraded,
        "n_clusters_degraded": scale.n_clusters,
        "mode": config.mode,
        "representation": config.representation if model.representation_model is not None else "ctfidf",
        "representation_note": ""
        if model.representation_model is not None or config.representation == "ctfidf"
        else f"{config.representation} needs an encoder; none was given, so topic words are plain c-TF-IDF",
        "n_topics": int((topics["topic"] >= 0).sum()),
        "outliers_before_reduction": outliers_before,
        "outliers_absorbed": absorbed,
        "outlier_share": float(np.mean(assigned_array == -1)),
        "reduce_outliers": bool(config.reduce_outliers),
        "outlier_strategy": strategy if config.reduce_outliers else "",
        "languages": list(languages),
        "seed": config.seed,
        "config": dataclasses.asdict(config),
        "encoder": dict(getattr(encoder, "identity", {}) or {}) if encoder is not None else {},
        "codebook": f"{codebook.name} {codebook.version}",
    }
    return TopicResult(
        model=model, topics=topics, segment_topics=segment_topics, info=info, codebook=codebook
    )


def _check_inputs(segments: pd.DataFrame, embeddings: np.ndarray) -> None:
    missing = [column for column in ("segment_id", "text") if column not in segments.columns]
    if missing:
        raise ValueError(
            f"segments lack column(s) {missing}; build them with analysis.corpus (see docs/architecture.md)"
        )
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2 or embeddings.shape[0] != len(segments):
        rows = embeddings.shape[0] if embeddings.ndim >= 1 else 0
        raise ValueError(
            f"embeddings have {rows} rows (shape {embeddings.shape}) but segments has {len(segments)} rows; "
            "embed exactly segments['text'], in order, one row per segment"
        )
    if segments["segment_id"].duplicated().any():
        first = segments.loc[segments["segment_id"].duplicated(), "segment_id"].iloc[0]
        raise ValueError(f"segment_id {first!r} occurs more than once; segment ids must be unique")


@contextlib.contextmanager
def _quiet_bertopic() -> Iterator[None]:
    """BERTopic logs advice (e.g. on saving without an embedding model) that does not apply here:
    the encoder is recorded in our own encoder.json."""
    level = _LOGGER.level
    _LOGGER.setLevel(logging.ERROR)
    try:
        yield
    finally:
        _LOGGER.setLevel(level)


def _centroids(embeddings: np.ndarray, topics: np.ndarray) -> np.ndarray:
    """Mean embedding per topic in sorted topic order (-1 first), as BERTopic computes them."""
    return np.vstack([embeddings[topics == topic].mean(axis=0) for topic in sorted(set(topics.tolist()))])


# ---------------------------------------------------------------------------------------------
# Topic words per language and labels


def words_per_language(
    texts: Sequence[str],
    topics: np.ndarray,
    segment_languages: np.ndarray,
    vectorizer: CountVectorizer,
    *,
    top_n: int = 10,
    reduce_frequent_words: bool = True,
    scoring: str = "ctfidf",
    doc_terms: tuple[sparse.csr_matrix, np.ndarray] | None = None,
) -> dict[tuple[int, str], list[str]]:
    """(topic, language) → top words of that topic computed from that language's segments only.

    `scoring` "ctfidf": per-topic word counts from the language's segments, then class TF-IDF
    across topics (so words every topic of that language uses are down-weighted); "distinctive":
    `distinctive_word_scores` over the language's segments. Uses the fitted topic-model
    vectorizer, hence the same normalisation and stop lists; `doc_terms` (counts of `texts`, and
    their vocabulary) saves transforming the texts again when the caller already has them.
    """
    if doc_terms is None:
        doc_terms = (vectorizer.transform(list(texts)).tocsr(), vectorizer.get_feature_names_out())
    counts, vocabulary = doc_terms
    topic_ids = sorted(set(topics.tolist()))
    position = {topic: row for row, topic in enumerate(topic_ids)}
    words: dict[tuple[int, str], list[str]] = {}
    for language in sorted(set(segment_languages.tolist())):
        rows = np.flatnonzero(segment_languages == language)
        if scoring == "distinctive":
            for topic, ranked in distinctive_top_words(counts[rows], topics[rows], vocabulary, top_n).items():
                words[(topic, language)] = [word for word, _ in ranked]
            continue
        indicator = sparse.csr_matrix(
            (np.ones(len(rows)), ([position[t] for t in topics[rows]], np.arange(len(rows)))),
            shape=(len(topic_ids), len(rows)),
        )
        per_topic = (indicator @ counts[rows]).tocsr()
        used = np.flatnonzero(np.asarray(per_topic.sum(axis=0)).ravel() > 0)
        if used.size == 0:
            continue
        per_topic = per_topic[:, used]
        weights = (
            ClassTfidfTransformer(reduce_frequent_words=reduce_frequent_words)
            .fit_transform(per_topic)
            .toarray()
        )
        present = per_topic.toarray() > 0
        for topic, row in position.items():
            order = [i for i in np.argsort(-weights[row], kind="stable") if present[row, i]][:top_n]
            if order:
                words[(topic, language)] = [str(vocabulary[used[i]]) for i in order]
    return words


def surface_forms(texts: Sequence[str]) -> dict[str, str]:
    """Normalised Arabic word → its most frequent spelling in `texts`.

    The vectorizer folds ة into ه and أ into ا so that variants count as one word; shown to a
    reader, "الشخصيه" looks misspelt, so labels and word lists show "الشخصية" instead.
    """
    spellings: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for text in texts:
        for word in tokenize_words(unicodedata.normalize("NFKC", text).lower()):
            folded = normalise_arabic(word)
            if folded != word:
                spellings[folded][word] += 1
    return {folded: counts.most_common(1)[0][0] for folded, counts in spellings.items()}


def _display(words: Sequence[str], forms: dict[str, str]) -> list[str]:
    return [" ".join(forms.get(token, token) for token in word.split()) for word in words]


def _label_words(words: Sequence[str], n: int) -> list[str]:
    """The first `n` words that add a token not already shown ("مركز البيانات" after "مركز",
    "البيانات" adds nothing)."""
    chosen: list[str] = []
    shown: set[str] = set()
    for word in words:
        tokens = set(word.split())
        if tokens <= shown:
            continue
        chosen.append(word)
        shown |= tokens
        if len(chosen) == n:
            break
    return chosen


def _language_shares(languages: np.ndarray) -> list[tuple[str, float]]:
    values, counts = np.unique(languages, return_counts=True)
    shares = sorted(
        zip(values.tolist(), (counts / counts.sum()).tolist(), strict=True), key=lambda p: (-p[1], p[0])
    )
    return [(str(language), float(share)) for language, share in shares]


def _topic_table(
    model: BERTopic,
    texts: list[str],
    topics: np.ndarray,
    segment_languages: np.ndarray,
    languages: Sequence[str],
    config: TopicConfig,
) -> pd.DataFrame:
    per_language = words_per_language(
        texts,
        topics,
        segment_languages,
        model.vectorizer_model,
        top_n=config.top_n_words,
        reduce_frequent_words=config.reduce_frequent_words,
        scoring="distinctive" if config.representation == "distinctive" else "ctfidf",
        doc_terms=(
            model.representation_model.doc_terms(model.vectorizer_model, texts)
            if isinstance(model.representation_model, DistinctiveWords)
            else None
        ),
    )
    forms = surface_forms(texts)
    per_language = {key: _display(words, forms) for key, words in per_language.items()}
    rows = []
    for topic in sorted(set(topics.tolist())):
        mask = topics == topic
        shares = _language_shares(segment_languages[mask])
        model_words = _display([word for word, _ in (model.get_topic(topic) or []) if word], forms)
        row: dict[str, Any] = {
            "topic": topic,
            "size": int(mask.sum()),
            "label": _label(topic, shares, per_language, model_words),
            "words": ", ".join(model_words),
        }
        for language in languages:
            row[f"words_{language}"] = ", ".join(per_language.get((topic, language), []))
        row["languages"] = " · ".join(f"{language} {share:.0%}" for language, share in shares)
        rows.append(row)
    columns = [*TOPIC_COLUMNS_START, *(f"words_{lang}" for lang in languages), "languages"]
    return pd.DataFrame(rows, columns=columns)


def _label(
    topic: int,
    shares: list[tuple[str, float]],
    per_language: dict[tuple[int, str], list[str]],
    model_words: list[str],
) -> str:
    """ "3 · ar: سيادة, رقمية · fr: souveraineté, données": top words of each language holding at
    least LABEL_MIN_LANGUAGE_SHARE of the topic's segments, largest language first."""
    if topic == -1:
        return OUTLIER_LABEL
    parts = [
        f"{language}: {', '.join(_label_words(per_language[(topic, language)], LABEL_WORDS_PER_LANGUAGE))}"
        for language, share in shares
        if share >= LABEL_MIN_LANGUAGE_SHARE and (topic, language) in per_language
    ]
    if not parts:
        parts = [", ".join(_label_words(model_words, LABEL_WORDS_PER_LANGUAGE)) or "(no words)"]
    return " · ".join([str(topic), *parts])


def _add_themes(
    topics: pd.DataFrame,
    model: BERTopic,
    texts: list[str],
    assigned: np.ndarray,
    embeddings: np.ndarray,
    codebook: Codebook,
    encoder: Encoder | None,
    config: TopicConfig,
    *,
    fitted_scores: np.ndarray,
) -> pd.DataFrame:
    """Theme per topic (see `analysis.themes.map_topics_to_themes`); zero-shot topics keep the
    theme whose description created them. `fitted_scores`: dictionary scores of the fitted texts."""
    topic_docs = {topic: [texts[i] for i in np.flatnonzero(assigned == topic)] for topic in topics["topic"]}
    topic_scores = {topic: fitted_scores[assigned == topic] for topic in topic_docs}
    centroids = None
    if encoder is not None:
        dimension = np.asarray(encoder.encode([codebook.themes[0].label])).shape[1]
        if embeddings.shape[1] == dimension:  # the segment embeddings come from this encoder
            centroids = {topic: embeddings[assigned == topic].mean(axis=0) for topic in topic_docs}
    mapping = _map_topics_to_themes(
        topic_docs,
        codebook,
        encoder=encoder,
        topic_embeddings=centroids,
        min_score=config.min_theme_score,
        dictionary=topic_scores,
    )
    if config.mode == "zeroshot":
        by_description = {theme.description: theme.key for theme in codebook.themes}
        for row, topic in enumerate(mapping["topic"]):
            zeroshot_theme = by_description.get(model.topic_labels_.get(topic, ""))
            if zeroshot_theme is not None:
                mapping.loc[row, "theme"] = zeroshot_theme
    merged = topics.merge(
        mapping[["topic", "theme", "theme_score"]], on="topic", how="left", validate="one_to_one"
    )
    merged.loc[merged["topic"] == -1, ["theme", "theme_score"]] = [OTHER, 0.0]
    return merged


def _segment_table(
    segments: pd.DataFrame,
    original: np.ndarray,
    assigned: np.ndarray,
    topics: pd.DataFrame,
    scores: pd.DataFrame,
) -> pd.DataFrame:
    """Topic and theme per input segment (`scores`: dictionary scores of every segment); a duplicate takes the topic of the original it names
    (following chains of duplicates)."""
    segment_ids = segments["segment_id"].astype(str).to_numpy()
    topic_of = dict(zip(segment_ids[original].tolist(), assigned.tolist(), strict=True))
    duplicate_of = (
        segments["duplicate_of"].fillna("").astype(str).to_numpy()
        if "duplicate_of" in segments
        else np.full(len(segments), "")
    )
    pointer = dict(zip(segment_ids.tolist(), duplicate_of.tolist(), strict=True))
    segment_topic = []
    for segment_id, target in zip(segment_ids.tolist(), duplicate_of.tolist(), strict=True):
        seen = {segment_id}
        while target and target not in topic_of:
            if target not in pointer or target in seen:
                raise ValueError(
                    f"segment {segment_id!r}: duplicate_of {target!r} names no original segment in this table; "
                    "rebuild the segments with analysis.corpus or clear duplicate_of"
                )
            seen.add(target)
            target = pointer[target]
        segment_topic.append(topic_of[target] if target else topic_of[segment_id])
    table = pd.DataFrame({"segment_id": segment_ids, "topic": segment_topic})
    table = table.merge(
        topics[["topic", "label", "theme", "theme_score"]].rename(columns={"label": "topic_label"}),
        on="topic",
        how="left",
        validate="many_to_one",
    )
    dictionary = best_dictionary_theme(scores)
    table["dict_theme"] = dictionary["dict_theme"].to_numpy()
    table["dict_theme_score"] = dictionary["dict_theme_score"].round(4).to_numpy()
    return table[SEGMENT_TOPIC_COLUMNS]


# ---------------------------------------------------------------------------------------------
# Save and load


def _local_model_folder(identity: dict[str, Any]) -> str | None:
    """The encoder's model as a local folder string, when it is one: only such a pointer is safe
    to store for BERTopic, whose `load` would otherwise try the Hugging Face Hub."""
    for key in ("path", "folder", "name", "model"):
        value = identity.get(key)
        if isinstance(value, str) and value and Path(value).is_dir():
            return str(Path(value).resolve())
    return None


def save_topic_model(result: TopicResult, folder: str | Path) -> Path:
    """Write the model (safetensors; no pickle) and its tables into `folder`.

    Layout: bertopic/ (BERTopic's own safetensors save with c-TF-IDF), topics.csv,
    segment_topics.parquet, config.json (TopicConfig and fit info), codebook.toml, encoder.json.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    encoder_identity = result.info.get("encoder", {})
    with _quiet_bertopic():
        result.model.save(
            folder / _BERTOPIC_FOLDER,
            serialization="safetensors",
            save_ctfidf=True,
            save_embedding_model=_local_model_folder(encoder_identity) or False,
        )
    result.topics.to_csv(folder / "topics.csv", index=False, encoding="utf-8")
    result.segment_topics.to_parquet(folder / "segment_topics.parquet", index=False)
    (folder / "config.json").write_text(
        json.dumps({"info": result.info}, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    (folder / "encoder.json").write_text(
        json.dumps(encoder_identity, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    if result.codebook is None:
        raise ValueError("this TopicResult carries no codebook; build it with fit_topics or load_topic_model")
    (folder / "codebook.toml").write_text(codebook_to_toml(result.codebook), encoding="utf-8")
    return folder


def load_topic_model(folder: str | Path, *, encoder: Encoder | None = None) -> TopicResult:
    """Read what `save_topic_model` wrote, with no network access.

    The loaded BERTopic has no UMAP/HDBSCAN (they are not saved as safetensors): its `transform`
    assigns each document to the topic whose centroid embedding is most similar. Pass the same
    `encoder` to let it embed new texts itself; otherwise pass embeddings to `transform`.
    """
    folder = Path(folder)
    needed = [_BERTOPIC_FOLDER, "topics.csv", "segment_topics.parquet", "config.json", "codebook.toml"]
    missing = [name for name in needed if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a saved topic model: missing {missing}; save one with save_topic_model(result, folder)"
        )
    check_safe_model_folder(folder)
    model = _load_bertopic(folder / _BERTOPIC_FOLDER, encoder)
    # BERTopic restores a plain CountVectorizer without our normaliser and tokenizer; put them back.
    fresh = make_vectorizer(1, min_df=1)
    model.vectorizer_model.set_params(preprocessor=fresh.preprocessor, tokenizer=fresh.tokenizer)
    topics = pd.read_csv(folder / "topics.csv", keep_default_na=False, encoding="utf-8")
    segment_topics = pd.read_parquet(folder / "segment_topics.parquet")
    info = json.loads((folder / "config.json").read_text(encoding="utf-8"))["info"]
    info["loaded_from"] = str(folder)
    codebook = load_codebook(folder / "codebook.toml")
    return TopicResult(
        model=model, topics=topics, segment_topics=segment_topics, info=info, codebook=codebook
    )


def check_safe_model_folder(folder: Path) -> None:
    """Refuse a model folder that loading would unpickle: safetensors files missing, or pickles present.

    Pickle runs code when loaded; torch's weights-only default is one environment variable
    (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1) away from running it, so this check does not rely on it.
    """
    bertopic_folder = folder / _BERTOPIC_FOLDER
    missing = [name for name in _SAFE_BERTOPIC_FILES if not (bertopic_folder / name).is_file()]
    pickles = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in _PICKLE_SUFFIXES
    )
    if missing or pickles:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)} in {bertopic_folder}")
        if pickles:
            problems.append(
                f"holds pickle-format files ({', '.join(pickles[:5])}) that loading could execute"
            )
        raise UnsafeModelError(
            f"{folder}: refused to load this topic model: {'; '.join(problems)}. save_topic_model writes "
            "safetensors only; refit the model, or remove files you did not put there yourself"
        )


def _load_bertopic(path: Path, encoder: Encoder | None) -> BERTopic:
    embedding_model = EncoderEmbedder(encoder) if encoder is not None else None
    saved = json.loads((path / "config.json").read_text(encoding="utf-8")).get("embedding_model")
    with _quiet_bertopic():
        if saved is None or Path(saved).is_dir():
            return BERTopic.load(str(path), embedding_model=embedding_model)
        # The stored local model folder is gone: BERTopic would look it up on the Hub. Load a
        # copy without the pointer instead (the folder itself is left untouched).
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / path.name
            shutil.copytree(path, copy)
            config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
            config.pop("embedding_model")
            (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
            return BERTopic.load(str(copy), embedding_model=embedding_model)
