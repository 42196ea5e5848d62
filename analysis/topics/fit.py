"""`fit_topics`: BERTopic fitted on the original segments, as a short sequence of named steps.

check inputs → originals → probe the encoder once → cluster embeddings (language centring) →
BERTopic fit → outliers (BERTopic's reduction or absorption) → topic table (words per language,
labels) → themes → segment table → info. Duplicates get their original's topic.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from bertopic import BERTopic

from analysis.config import CorpusConfig, TopicConfig
from analysis.encoders.base import Encoder
from analysis.themes import OTHER, Codebook, best_dictionary_theme, dictionary_scores
from analysis.themes import map_topics_to_themes as _map_topics_to_themes
from analysis.topics.clusters import absorb_outliers, centre_by_language, centroids, needs_language_centring
from analysis.topics.model import EncoderEmbedder, build_topic_model, quiet_bertopic
from analysis.topics.scale import DegradedTopicModelWarning, ModelScale, scale_parameters
from analysis.topics.words import topic_table
from analysis.vectorize import make_vectorizer

SEGMENT_TOPIC_COLUMNS = [
    "segment_id",
    "topic",
    "topic_label",
    "theme",
    "theme_score",
    "dict_theme",
    "dict_theme_score",
]


@dataclass(frozen=True)
class TopicResult:
    """A fitted topic model and its tables.

    `topics`: one row per topic (columns topic, size, label, words, words_<lang>…, languages,
    theme, theme_score; the words columns hold lists of words); `segment_topics`: one row per
    input segment (SEGMENT_TOPIC_COLUMNS); `info`: scaling, degraded path, representation and
    counts, as recorded in the manifest; `codebook`: the codebook the themes come from.
    """

    model: BERTopic
    topics: pd.DataFrame
    segment_topics: pd.DataFrame
    info: dict[str, Any]
    codebook: Codebook | None = None


@dataclass
class _Fit:
    """What the steps of `fit_topics` hand each other (one fit's working state)."""

    texts: list[str]
    original: np.ndarray  # bool per input segment: fitted (not a duplicate)
    embeddings: np.ndarray  # of the fitted segments, in the encoder's space
    languages: np.ndarray  # of the fitted segments
    scale: ModelScale
    encoder_dimension: int | None
    centred: bool = False
    cluster_embeddings: np.ndarray | None = None
    model: BERTopic | None = None
    assigned: np.ndarray | None = None
    outliers_before: int = 0
    absorbed: int = 0


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
    columns (one per language, an empty list where a topic has no segment in that language).
    """
    seconds: dict[str, float] = {}
    with _timed(seconds, "prepare"):
        state = _prepare(segments, embeddings, config, codebook, encoder)
        _cluster_embeddings(state, config)
    with _timed(seconds, "bertopic_fit"):
        _fit_model(state, config, codebook, encoder)
    with _timed(seconds, "outliers"):
        _handle_outliers(state, config)
    with _timed(seconds, "topic_table"):
        topics = topic_table(state.model, state.texts, state.assigned, state.languages, languages, config)
    with _timed(seconds, "themes"):
        # Dictionary scores once per segment: the topic→theme mapping and `dict_theme` both use them.
        scores = dictionary_scores(segments["text"].fillna("").astype(str).tolist(), codebook)
        topics = _add_themes(topics, state.model, state.texts, state.assigned, state.embeddings, codebook,
                             encoder, config, fitted_scores=scores.to_numpy()[state.original],
                             encoder_dimension=state.encoder_dimension)  # fmt: skip
        segment_topics = segment_table(segments, state.original, state.assigned, topics, scores)
    info = _fit_info(state, segments, topics, config, codebook, encoder, languages)
    info["step_seconds"] = {step: round(value, 2) for step, value in seconds.items()}
    return TopicResult(
        model=state.model, topics=topics, segment_topics=segment_topics, info=info, codebook=codebook
    )


@contextlib.contextmanager
def _timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    """Wall time of one step into `seconds` (recorded in info: where a slow fit spends its time)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds[step] = seconds.get(step, 0.0) + time.perf_counter() - started


def _prepare(
    segments: pd.DataFrame,
    embeddings: np.ndarray,
    config: TopicConfig,
    codebook: Codebook,
    encoder: Encoder | None,
) -> _Fit:
    """Checked inputs, the original (fitted) segments, their scale, and the encoder probed once."""
    _check_inputs(segments, embeddings)
    if config.max_ngram < 1:
        raise ValueError(
            f"[topics] max_ngram = {config.max_ngram}: topic words need at least 1 word (1 or 2)"
        )
    duplicate_of = segments["duplicate_of"].fillna("").astype(str) if "duplicate_of" in segments else None
    original = (duplicate_of == "").to_numpy() if duplicate_of is not None else np.ones(len(segments), bool)
    fitted = segments.loc[original]
    texts = fitted["text"].fillna("").astype(str).tolist()
    if not texts:
        raise ValueError("every segment is marked as a duplicate (duplicate_of != ''); nothing to fit")
    fit_embeddings = np.asarray(embeddings)[original]
    dimension = _probe_encoder(encoder, codebook)
    if dimension is not None and config.mode != "unsupervised" and dimension != fit_embeddings.shape[1]:
        raise ValueError(
            f"mode {config.mode!r} compares the segment embeddings ({fit_embeddings.shape[1]}-d) with the "
            f"encoder's embeddings of the codebook ({dimension}-d); embed the segments with the same encoder"
        )
    scale = scale_parameters(len(texts), config)
    if scale.degraded:
        warnings.warn(scale.degraded, DegradedTopicModelWarning, stacklevel=3)
    fitted_languages = (
        fitted["language"].fillna("und").astype(str).to_numpy()
        if "language" in fitted
        else np.full(len(texts), "und")
    )
    return _Fit(texts, original, fit_embeddings, fitted_languages, scale, dimension)


def _probe_encoder(encoder: Encoder | None, codebook: Codebook) -> int | None:
    """The encoder's output size, from one short text (None without an encoder): the themes step
    and the guided/zero-shot check both need to know whether the segments came from this encoder."""
    if encoder is None:
        return None
    return int(np.asarray(encoder.encode([codebook.themes[0].label])).shape[1])


def _cluster_embeddings(state: _Fit, config: TopicConfig) -> None:
    """What UMAP sees: language-centred embeddings in unsupervised mode, else the embeddings as they are.

    Language centring moves segments, not themes: guided and zero-shot modes compare segments with
    embedded theme texts, so they cluster the embeddings as they are.
    """
    state.centred = config.centre_languages and config.mode == "unsupervised" and not state.scale.degraded
    state.centred = state.centred and needs_language_centring(state.languages)  # one language: no offset
    state.cluster_embeddings = (
        centre_by_language(state.embeddings, state.languages) if state.centred else state.embeddings
    )


def _fit_model(state: _Fit, config: TopicConfig, codebook: Codebook, encoder: Encoder | None) -> None:
    """BERTopic built for this corpus size and fitted on the cluster embeddings."""
    # BERTopic fits its vectorizer on one joined document per topic: min_df would count topics.
    vectorizer = make_vectorizer(len(state.texts), min_df=1, ngram_range=(1, config.max_ngram))
    state.model = build_topic_model(
        len(state.texts),
        config,
        codebook=codebook,
        vectorizer=vectorizer,
        embedding_model=EncoderEmbedder(encoder) if encoder is not None else None,
    )
    with quiet_bertopic():
        topics = state.model.fit_transform(state.texts, state.cluster_embeddings)[0]
    state.assigned = np.asarray([int(topic) for topic in topics])
    state.outliers_before = int((state.assigned == -1).sum())


def _handle_outliers(state: _Fit, config: TopicConfig) -> None:
    """BERTopic's outlier reduction (`reduce_outliers`) or the package's absorption, then the topic
    words once more for the new assignment, and topic embeddings in the encoder's own space."""
    model, scale = state.model, state.scale
    before = state.assigned
    reduced_outliers = False
    if config.reduce_outliers and state.outliers_before and not scale.degraded and len(set(before.tolist())) > 1:
        with quiet_bertopic():
            reduced = model.reduce_outliers(
                state.texts, before.tolist(), strategy=config.outlier_strategy,
                embeddings=state.cluster_embeddings,
            )  # fmt: skip
        state.assigned = np.asarray([int(t) for t in reduced])
        reduced_outliers = True
    elif config.absorb_outliers_quantile is not None and not scale.degraded and not config.reduce_outliers:
        state.assigned = absorb_outliers(
            state.cluster_embeddings, before, member_quantile=config.absorb_outliers_quantile
        )
        state.absorbed = int((state.assigned != before).sum())
    if reduced_outliers or state.absorbed:
        with quiet_bertopic():
            model.update_topics(
                state.texts,
                topics=state.assigned.tolist(),
                top_n_words=config.top_n_words,
                vectorizer_model=model.vectorizer_model,
                ctfidf_model=model.ctfidf_model,
                representation_model=model.representation_model,
            )
    if state.centred or state.absorbed or (config.reduce_outliers and state.outliers_before):
        # Topic embeddings in the encoder's own space, so that a reloaded model assigns new texts
        # (and themes are compared) without knowing the corpus's language means.
        model.topic_embeddings_ = centroids(state.embeddings, state.assigned)


def _fit_info(
    state: _Fit,
    segments: pd.DataFrame,
    topics: pd.DataFrame,
    config: TopicConfig,
    codebook: Codebook,
    encoder: Encoder | None,
    languages: Sequence[str],
) -> dict[str, Any]:
    """What the manifest records about the fit: scaling, paths taken and counts."""
    scale, model = state.scale, state.model
    return {
        "n_segments": len(segments),
        "n_fitted": len(state.texts),
        "n_duplicates": int((~state.original).sum()),
        "min_topic_size": scale.min_topic_size,
        "n_neighbors": scale.n_neighbors,
        "n_components": scale.n_components,
        "max_cluster_size": scale.max_cluster_size,
        "cluster_selection": config.cluster_selection,
        "min_samples": config.min_samples,
        "centre_languages": bool(state.centred),
        "degraded": scale.degraded,
        "n_clusters_degraded": scale.n_clusters,
        "mode": config.mode,
        "representation": config.representation if model.representation_model is not None else "ctfidf",
        "representation_note": ""
        if model.representation_model is not None or config.representation == "ctfidf"
        else f"{config.representation} needs an encoder; none was given, so topic words are plain c-TF-IDF",
        "n_topics": int((topics["topic"] >= 0).sum()),
        "outliers_before_reduction": state.outliers_before,
        "outliers_absorbed": state.absorbed,
        "outlier_share": float(np.mean(state.assigned == -1)),
        "reduce_outliers": bool(config.reduce_outliers),
        "outlier_strategy": config.outlier_strategy if config.reduce_outliers else "",
        "languages": list(languages),
        "seed": config.seed,
        "config": dataclasses.asdict(config),
        "encoder": dict(getattr(encoder, "identity", {}) or {}) if encoder is not None else {},
        "codebook": f"{codebook.name} {codebook.version}",
    }


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
    encoder_dimension: int | None,
) -> pd.DataFrame:
    """Theme per topic (see `analysis.themes.map_topics_to_themes`); zero-shot topics keep the
    theme whose description created them. `fitted_scores`: dictionary scores of the fitted texts;
    `encoder_dimension`: the encoder's output size (None without one), from `_probe_encoder`."""
    topic_docs = {topic: [texts[i] for i in np.flatnonzero(assigned == topic)] for topic in topics["topic"]}
    topic_scores = {topic: fitted_scores[assigned == topic] for topic in topic_docs}
    centroids = None
    if encoder_dimension == embeddings.shape[1]:  # the segment embeddings come from this encoder
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


def segment_table(
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

