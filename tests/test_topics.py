"""BERTopic assembly on controlled embeddings: planted clusters, words per language, themes, save/load.

The embeddings are Gaussian blobs (one per planted story), so clustering is tested without any
model; the texts carry each story's words in two languages, so the topic words can be checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.metrics import adjusted_rand_score
from tiny_models import TinyEncoder

from analysis.config import ConfigError, TopicConfig
from analysis.encoders import SentenceTransformerEncoder
from analysis.themes import OTHER
from analysis.topics import (
    OUTLIER_LABEL,
    SEGMENT_TOPIC_COLUMNS,
    TINY_CORPUS,
    DegradedTopicModelWarning,
    DistinctiveWords,
    fit_topics,
    load_topic_model,
    save_topic_model,
    scale_parameters,
)
from analysis.vectorize import normalise_for_words, stop_words

ARABIC = re.compile("[\u0621-\u064a]")
CITIES = ("Rabat", "Casablanca", "Tanger", "Fès", "Agadir", "Oujda", "Meknès")
CITIES_AR = ("الرباط", "الدار البيضاء", "طنجة", "فاس", "أكادير", "وجدة", "مكناس")

# Written for these tests: each planted story in two languages, several phrasings each.
STORIES = {
    "datacentres": {
        "ar": [
            "افتتاح مركز البيانات الجديد في {city} يعزز القدرة الحاسوبية للمغرب",
            "مراكز البيانات تحتاج إلى الطاقة والخوادم والحوسبة السحابية في {city}",
            "الحكومة تستثمر في مراكز البيانات والألياف البصرية قرب {city}",
            "مركز البيانات في {city} يستضيف خوادم الحوسبة السحابية",
        ],
        "fr": [
            "Le nouveau centre de données de {city} renforce la puissance de calcul du pays",
            "Les centres de données de {city} consomment de l'énergie et hébergent des serveurs",
            "Un centre de données à {city} accueillera des serveurs et la fibre optique",
            "La puissance de calcul des centres de données de {city} attire le cloud",
        ],
    },
    "drought": {
        "en": [
            "Farmers near {city} face a severe drought and use sensors for irrigation",
            "Drought hits farmers around {city}; irrigation apps help save water",
            "Satellite images warn farmers in {city} about drought and crop yields",
            "Smart irrigation helps farmers of {city} cope with drought and water scarcity",
        ],
        "fr": [
            "Les agriculteurs de {city} face à la sécheresse adoptent l'irrigation intelligente",
            "La sécheresse frappe les agriculteurs de {city}, l'irrigation économise l'eau",
            "Des capteurs aident les agriculteurs de {city} à piloter l'irrigation pendant la sécheresse",
            "Les agriculteurs et la sécheresse à {city} : des applications d'irrigation pour les récoltes",
        ],
    },
    "privacy": {
        "ar": [
            "حماية المعطيات الشخصية والخصوصية أولوية في {city} في عصر الذكاء الاصطناعي",
            "اللجنة الوطنية في {city} تراقب حماية المعطيات الشخصية وتحذر من المراقبة",
            "الخصوصية وحماية المعطيات الشخصية في تطبيقات التعرف على الوجه في {city}",
            "قانون حماية المعطيات الشخصية يفرض الشفافية على الشركات في {city}",
        ],
        "en": [
            "Privacy advocates in {city} warn that facial recognition threatens personal data",
            "The authority in {city} fined a company for misusing personal data and privacy",
            "Privacy and personal data protection must guide every algorithm used in {city}",
            "New privacy rules in {city} require consent before personal data is processed",
        ],
    },
    "universities": {
        "fr": [
            "Les universités de {city} forment des ingénieurs et des étudiants en apprentissage automatique",
            "Un nouveau cursus à l'université de {city} prépare les étudiants aux métiers du numérique",
            "Les étudiants et les ingénieurs de {city} reçoivent des bourses pour la formation",
            "La formation des ingénieurs à l'université de {city} attire de nombreux étudiants",
        ],
        "ar": [
            "الجامعات في {city} تكوّن المهندسين والطلبة في التعلم الآلي",
            "مسلك جديد في جامعة {city} يهيئ الطلبة لمهن الرقمنة",
            "الطلبة والمهندسون في {city} يحصلون على منح دراسية للتكوين",
            "تكوين المهندسين في جامعة {city} يجذب الطلبة",
        ],
    },
}
EXPECTED_THEME = {
    "datacentres": "infrastructure",
    "drought": "sectors",
    "privacy": "ethics_trust",
    "universities": "skills_education",
}
PLANTED_WORDS = {  # (story, language) → words that must be among the topic's top words
    ("datacentres", "ar"): {"البيانات"},
    ("datacentres", "fr"): {"données", "calcul"},
    ("drought", "en"): {"drought", "farmers", "irrigation"},
    ("drought", "fr"): {"sécheresse", "agriculteurs", "irrigation"},
    ("privacy", "ar"): {"المعطيات", "الشخصية"},
    ("privacy", "en"): {"privacy", "personal"},
    ("universities", "fr"): {"étudiants", "ingénieurs"},
    ("universities", "ar"): {"الطلبة"},
}
PER_STORY = 44
N_DUPLICATES = 6
DIMENSION = 32


def planted_config(**settings) -> TopicConfig:
    """The planted embeddings are an ideal encoder's, with no language offset to remove, and each
    language covers only two of the four stories: centring by language would shift a story's two
    languages apart (ARI 1.0 → 0.59 measured), so these tests cluster the embeddings as they are."""
    return TopicConfig(centre_languages=False, **settings)


def planted_corpus(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """PER_STORY segments per story (languages alternating), then duplicates of a few of them;
    embeddings: unit vectors scattered around one random centre per story."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(STORIES), DIMENSION))
    rows, vectors = [], []
    for number, (story, by_language) in enumerate(STORIES.items()):
        languages = list(by_language)
        for i in range(PER_STORY):
            language = languages[i % 2]
            template = by_language[language][(i // 2) % 4]
            city = (CITIES_AR if language == "ar" else CITIES)[(i // 8) % len(CITIES)]
            rows.append(
                {
                    "doc_id": f"{story}-{i}",
                    "segment_id": f"{story}-{i}#0",
                    "text": template.format(city=city),
                    "language": language,
                    "duplicate_of": "",
                    "story": story,
                    "phrasing": f"{story}:{language}:{(i // 2) % 4}",
                }
            )
            vectors.append(centres[number] + rng.normal(scale=0.25, size=DIMENSION))
    originals = pd.DataFrame(rows)
    copies = originals.iloc[:: len(originals) // N_DUPLICATES][:N_DUPLICATES].copy()
    copies["duplicate_of"] = copies["segment_id"]
    copies["doc_id"] = copies["doc_id"] + "-copy"
    copies["segment_id"] = copies["doc_id"] + "#0"
    vectors += [vectors[i] for i in copies.index]
    segments = pd.concat([originals, copies], ignore_index=True)
    embeddings = np.asarray(vectors, dtype=np.float32)
    return segments, embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, np.ndarray]:
    return planted_corpus()


@pytest.fixture(scope="module")
def fitted(planted, codebook):
    segments, embeddings = planted
    return fit_topics(segments, embeddings, planted_config(), codebook=codebook)


def topic_of_story(result, segments: pd.DataFrame) -> dict[str, int]:
    joined = segments.merge(result.segment_topics, on="segment_id")
    return joined.groupby("story")["topic"].agg(lambda topics: topics.mode().iloc[0]).to_dict()


def words(cell: list[str]) -> list[str]:
    assert isinstance(cell, list), f"topic words travel as lists, got {type(cell).__name__}"
    return [word for word in cell if word]


# ---------------------------------------------------------------------------------------------
# Planted clusters


def test_planted_clusters_are_recovered(fitted, planted) -> None:
    segments, _ = planted
    joined = segments.merge(fitted.segment_topics, on="segment_id", validate="one_to_one")
    ari = adjusted_rand_score(joined["story"], joined["topic"])
    print(f"ARI against planted stories: {ari:.3f}")
    assert ari >= 0.9
    assert fitted.info["n_fitted"] == len(STORIES) * PER_STORY
    assert fitted.info["n_duplicates"] == N_DUPLICATES
    assert fitted.info["degraded"] == ""
    assert fitted.info["min_topic_size"] == 5 and fitted.info["n_neighbors"] == 13


def test_duplicates_get_their_originals_topic(fitted, planted) -> None:
    segments, _ = planted
    topic = fitted.segment_topics.set_index("segment_id")["topic"]
    copies = segments[segments["duplicate_of"] != ""]
    assert len(copies) == N_DUPLICATES
    assert (topic[copies["segment_id"]].to_numpy() == topic[copies["duplicate_of"]].to_numpy()).all()
    # the model itself saw only the originals
    assert len(fitted.model.topics_) == len(segments) - N_DUPLICATES


def test_topic_words_per_language_are_the_planted_words(fitted, planted) -> None:
    segments, _ = planted
    topics = fitted.topics.set_index("topic")
    stops = stop_words()
    for story, topic in topic_of_story(fitted, segments).items():
        for language in ("ar", "fr", "en"):
            shown = words(topics.loc[topic, f"words_{language}"])
            if language not in STORIES[story]:
                assert shown == [], (story, language, shown)
                continue
            assert PLANTED_WORDS[(story, language)] <= set(shown), (story, language, shown)
            tokens = {token for word in shown for token in normalise_for_words(word).split()}
            assert not tokens & stops, (story, language, tokens & stops)
            if language == "ar":
                assert all(ARABIC.search(word) for word in shown)


def test_labels_show_each_languages_words_and_shares(fitted, planted) -> None:
    segments, _ = planted
    topics = fitted.topics.set_index("topic")
    datacentres = topic_of_story(fitted, segments)["datacentres"]
    label = topics.loc[datacentres, "label"]
    assert label.startswith(f"{datacentres} · ")
    assert re.search(r"ar: [^·]*البيانات", label) and re.search(r"fr: [^·]*données", label), label
    assert topics.loc[datacentres, "languages"] == "ar 50% · fr 50%"
    assert "الشخصيه" not in " ".join(w for ws in fitted.topics["words_ar"] for w in ws)  # written form, ة
    assert list(fitted.topics.columns) == [
        "topic", "size", "label", "words", "words_ar", "words_fr", "words_en", "languages", "theme", "theme_score",
    ]  # fmt: skip


def test_topics_map_to_the_planted_themes(fitted, planted) -> None:
    segments, _ = planted
    topics = fitted.topics.set_index("topic")
    for story, topic in topic_of_story(fitted, segments).items():
        assert topics.loc[topic, "theme"] == EXPECTED_THEME[story], story
        assert topics.loc[topic, "theme_score"] >= 0.5
    table = fitted.segment_topics
    assert list(table.columns) == SEGMENT_TOPIC_COLUMNS
    assert len(table) == len(segments)
    joined = segments.merge(table, on="segment_id")
    agreement = (joined["dict_theme"] == joined["story"].map(EXPECTED_THEME)).mean()
    print(f"segments whose dictionary theme is the planted theme: {agreement:.0%}")
    assert agreement >= 0.9


def test_distinctive_words_need_no_encoder_and_find_the_planted_words(planted, codebook) -> None:
    segments, embeddings = planted
    config = planted_config(representation="distinctive", max_ngram=1)
    result = fit_topics(segments, embeddings, config, codebook=codebook)
    assert result.info["representation"] == "distinctive" and result.info["representation_note"] == ""
    topics = result.topics.set_index("topic")
    for story, topic in topic_of_story(result, segments).items():
        model_words = {normalise_for_words(w) for w in words(topics.loc[topic, "words"])}
        for language in STORIES[story]:
            planted_words = {normalise_for_words(w) for w in PLANTED_WORDS[(story, language)]}
            assert planted_words <= model_words, (story, language, model_words)
            assert PLANTED_WORDS[(story, language)] <= set(words(topics.loc[topic, f"words_{language}"]))
        assert all(" " not in w for w in words(topics.loc[topic, "words"]))  # max_ngram = 1
    # the model's own topic words are the scored ones, ten per topic, best first
    first = result.model.get_topic(int(topics.index[topics.index >= 0][0]))
    assert len(first) == 10 and [s for _, s in first] == sorted((s for _, s in first), reverse=True)


def test_distinctive_words_transform_the_same_documents_once(planted, codebook, monkeypatch) -> None:
    """Fit, the reduction to 3 topics and the per-language table all need the segments' word counts."""
    segments, embeddings = planted
    n_fitted = int((segments["duplicate_of"] == "").sum())
    whole_corpus_transforms = []
    passes = []  # every vectorizer pass, over segments or over topics' joined segments
    transform, fit_transform = CountVectorizer.transform, CountVectorizer.fit_transform

    def counting(self, raw_documents):  # type: ignore[no-untyped-def]
        documents = list(raw_documents)
        passes.append(len(documents))
        if len(documents) == n_fitted:
            whole_corpus_transforms.append(len(documents))
        return transform(self, documents)

    def counting_fit(self, raw_documents, y=None):  # type: ignore[no-untyped-def]
        documents = list(raw_documents)
        passes.append(len(documents))
        if len(documents) == n_fitted:
            whole_corpus_transforms.append(len(documents))
        return fit_transform(self, documents, y)

    monkeypatch.setattr(CountVectorizer, "transform", counting)
    monkeypatch.setattr(CountVectorizer, "fit_transform", counting_fit)
    result = fit_topics(segments, embeddings, planted_config(nr_topics=3), codebook=codebook)
    assert (result.topics["topic"] >= 0).sum() == 3
    # One pass over the segments serves fit, reduction to 3 topics, absorption's update and the
    # words per language and BERTopic's representative-document samples: c-TF-IDF counts come
    # from that matrix, not from joined topic documents, and the samples are rows of it.
    assert whole_corpus_transforms == [n_fitted] and passes == [n_fitted]
    representation = result.model.representation_model
    assert isinstance(representation, DistinctiveWords)
    fitted = segments.loc[segments["duplicate_of"] == "", "text"].tolist()
    kept, vocabulary = representation.doc_terms(result.model.vectorizer_model, fitted)
    assert kept.shape == (n_fitted, len(vocabulary)) and len(whole_corpus_transforms) == 1
    other, _ = representation.doc_terms(
        result.model.vectorizer_model, fitted[:5]
    )  # other texts: new transform
    assert other is not kept and other.shape[0] == 5


def test_topic_counts_from_segment_rows_equal_bertopics_joined_documents(planted, codebook) -> None:
    """Single words: summing the segments' rows per topic is exactly BERTopic's joined-string count."""
    import copy

    from bertopic import BERTopic

    segments, embeddings = planted
    result = fit_topics(segments, embeddings, planted_config(representation="ctfidf", max_ngram=1),
                        codebook=codebook)  # fmt: skip
    model = result.model
    fitted = segments.loc[segments["duplicate_of"] == "", "text"].tolist()
    documents = pd.DataFrame({"Document": fitted, "Topic": model.topics_})
    joined = documents.groupby(["Topic"], as_index=False).agg({"Document": " ".join})
    expected, joined_words = BERTopic._c_tf_idf(copy.deepcopy(model), joined)
    words = list(model.vectorizer_model.get_feature_names_out())
    assert sorted(words) == sorted(joined_words)
    column = {word: i for i, word in enumerate(joined_words)}
    np.testing.assert_allclose(model.c_tf_idf_.toarray(), expected.toarray()[:, [column[w] for w in words]])
    assert model._segments is None  # nothing of the fit's documents stays on the model


def test_max_ngram_must_be_positive(planted, codebook) -> None:
    segments, embeddings = planted
    with pytest.raises(ValueError, match="max_ngram = 0"):
        fit_topics(segments, embeddings, planted_config(max_ngram=0), codebook=codebook)


def test_nr_topics_merges_topics(planted, codebook) -> None:
    segments, embeddings = planted
    result = fit_topics(segments, embeddings, planted_config(nr_topics=3), codebook=codebook)
    assert (result.topics["topic"] >= 0).sum() == 3
    joined = segments.merge(result.segment_topics, on="segment_id")
    assert joined.groupby("story")["topic"].nunique().max() == 1  # stories were merged, not split


def phrased_embeddings(segments: pd.DataFrame, seed: int = 0) -> np.ndarray:
    """Blobs within blobs: each phrasing of a story its own small cluster around the story's
    centre. HDBSCAN leaves some of the small clusters out as outliers (14 % with seed 0)."""
    rng = np.random.default_rng(seed)
    story_centres = {story: rng.normal(size=DIMENSION) for story in STORIES}
    phrasing_centres = {
        phrasing: story_centres[phrasing.split(":")[0]] + rng.normal(scale=0.5, size=DIMENSION)
        for phrasing in segments["phrasing"].unique()
    }
    vectors = np.vstack([phrasing_centres[p] for p in segments["phrasing"]])
    return unit_rows(vectors + rng.normal(scale=0.1, size=vectors.shape)).astype(np.float32)


def test_outliers_are_labelled_and_reduced_when_asked(planted, codebook) -> None:
    segments, _ = planted
    embeddings = phrased_embeddings(segments)
    kept = fit_topics(segments, embeddings, planted_config(absorb_outliers_quantile=None), codebook=codebook)
    print(f"outliers among phrased blobs: {kept.info['outlier_share']:.1%}")
    assert kept.info["outlier_share"] > 0.05
    outliers = kept.topics.set_index("topic").loc[-1]
    assert (outliers["label"], outliers["theme"], outliers["theme_score"]) == (OUTLIER_LABEL, OTHER, 0.0)
    assert (kept.segment_topics.loc[kept.segment_topics["topic"] == -1, "topic_label"] == OUTLIER_LABEL).all()
    reduced = fit_topics(segments, embeddings, planted_config(reduce_outliers=True), codebook=codebook)
    assert reduced.info["outliers_before_reduction"] == round(
        kept.info["outlier_share"] * reduced.info["n_fitted"]
    )
    assert (reduced.segment_topics["topic"] >= 0).all()
    assert len(reduced.model.topic_embeddings_) == reduced.info["n_topics"]


def test_outliers_as_close_as_a_topics_members_are_absorbed_into_it() -> None:
    from analysis.topics import absorb_outliers

    rng = np.random.default_rng(3)
    centres = np.eye(8)[:2] * 3
    members = [centres[t] + rng.normal(scale=0.3, size=8) for t in (0, 1) for _ in range(50)]
    near = [centres[0] + rng.normal(scale=0.1, size=8) for _ in range(5)]  # typical of topic 0
    far = [rng.normal(size=8) for _ in range(5)]  # on no topic's subject
    vectors = np.vstack(members + near + far)
    topics = np.array([0] * 50 + [1] * 50 + [-1] * 10)
    absorbed = absorb_outliers(vectors, topics, member_quantile=0.1)
    assert (absorbed[:100] == topics[:100]).all()  # members never move
    assert (absorbed[100:105] == 0).all()
    assert (absorbed[105:] == -1).sum() >= 4  # noise stays noise
    stricter = absorb_outliers(vectors, topics, member_quantile=0.9)
    assert (stricter == -1).sum() >= (absorbed == -1).sum()
    assert (absorb_outliers(vectors, np.full(110, -1), member_quantile=0.1) == -1).all()


def test_default_fit_records_absorption_and_leaves_outlying_blobs_alone(planted, codebook) -> None:
    segments, _ = planted
    embeddings = phrased_embeddings(segments)  # outliers here are whole phrasings far from every topic
    kept = fit_topics(segments, embeddings, planted_config(absorb_outliers_quantile=None), codebook=codebook)
    absorbed = fit_topics(segments, embeddings, planted_config(), codebook=codebook)
    n_fitted = absorbed.info["n_fitted"]
    moved = round((kept.info["outlier_share"] - absorbed.info["outlier_share"]) * n_fitted)
    assert absorbed.info["outliers_absorbed"] == moved == 0
    assert kept.info["outliers_absorbed"] == 0 and absorbed.info["outlier_share"] > 0.05
    moved = kept.segment_topics.merge(absorbed.segment_topics, on="segment_id", suffixes=("_kept", "_new"))
    members = moved[moved["topic_kept"] >= 0]
    assert (members["topic_kept"] == members["topic_new"]).all()  # only outliers moved


# ---------------------------------------------------------------------------------------------
# With an encoder: KeyBERT + MMR words, zero-shot and guided modes


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


@pytest.fixture(scope="module")
def concept_encoder(tiny_encoder) -> TinyEncoder:
    return tiny_encoder  # conftest's session encoder: codebook concepts + character trigrams


@pytest.fixture(scope="module")
def concept_embeddings(planted, concept_encoder) -> np.ndarray:
    return concept_encoder.encode(planted[0]["text"].tolist())


def test_zeroshot_topics_come_from_theme_descriptions(
    planted, codebook, concept_encoder, concept_embeddings
) -> None:
    segments, _ = planted
    config = planted_config(mode="zeroshot", representation="keybert+mmr")
    result = fit_topics(segments, concept_embeddings, config, codebook=codebook, encoder=concept_encoder)
    assert result.info["representation"] == "keybert+mmr"
    assert result.model.zeroshot_topic_list == [theme.description for theme in codebook.themes]
    joined = segments.merge(result.segment_topics, on="segment_id")
    ari = adjusted_rand_score(joined["story"], joined["topic"])
    print(f"zero-shot ARI with the concept encoder: {ari:.3f}")
    assert ari >= 0.9
    assert joined.groupby("story")["theme"].agg(lambda t: t.mode().iloc[0]).to_dict() == EXPECTED_THEME


def test_guided_mode_seeds_one_topic_per_theme(
    planted, codebook, concept_encoder, concept_embeddings
) -> None:
    segments, _ = planted
    config = planted_config(mode="guided")
    result = fit_topics(segments, concept_embeddings, config, codebook=codebook, encoder=concept_encoder)
    assert len(result.model.seed_topic_list) == len(codebook.themes)
    assert "مراكز البيانات" in result.model.seed_topic_list[codebook.keys.index("infrastructure")]
    joined = segments.merge(result.segment_topics, on="segment_id")
    fitted_topics = joined[joined["topic"] >= 0]
    agreement = (fitted_topics["theme"] == fitted_topics["story"].map(EXPECTED_THEME)).mean()
    print(f"guided: outliers {(joined['topic'] == -1).mean():.0%}, theme = planted theme for {agreement:.0%}")
    assert agreement >= 0.9


def test_codebook_modes_need_an_encoder_in_the_embeddings_space(planted, codebook, concept_encoder) -> None:
    segments, embeddings = planted
    with pytest.raises(
        ValueError, match="mode = 'zeroshot' embeds the codebook's themes and needs an encoder"
    ):
        fit_topics(segments, embeddings, planted_config(mode="zeroshot"), codebook=codebook)
    with pytest.raises(
        ValueError, match=r"segment embeddings \(32-d\) with the encoder's embeddings .* \(74-d\)"
    ):
        fit_topics(
            segments, embeddings, planted_config(mode="guided"), codebook=codebook, encoder=concept_encoder
        )


# ---------------------------------------------------------------------------------------------
# Save and load


def block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network call attempted: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_saved_model_reloads_offline_and_reproduces_assignments(
    fitted, planted, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments, embeddings = planted
    folder = save_topic_model(fitted, tmp_path / "model")
    names = {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}
    assert {"topics.parquet", "segment_topics.parquet", "config.json", "codebook.toml", "encoder.json"} <= names
    assert {"bertopic/topic_embeddings.safetensors", "bertopic/ctfidf.safetensors"} <= names
    assert not [name for name in names if name.endswith((".pkl", ".pickle", ".joblib", ".bin", ".pt"))]

    block_network(monkeypatch)
    loaded = load_topic_model(folder)
    pd.testing.assert_frame_equal(loaded.topics, fitted.topics, check_dtype=False)
    pd.testing.assert_frame_equal(loaded.segment_topics, fitted.segment_topics)
    assert loaded.codebook.themes == fitted.codebook.themes
    for topic in fitted.topics["topic"]:
        assert [w for w, _ in loaded.model.get_topic(topic)] == [w for w, _ in fitted.model.get_topic(topic)]

    original = (segments["duplicate_of"] == "").to_numpy()
    predicted, _ = loaded.model.transform(segments.loc[original, "text"].tolist(), embeddings[original])
    saved = fitted.segment_topics["topic"].to_numpy()[original]
    reproduced = float(np.mean(np.asarray(predicted) == saved))
    print(f"assignments reproduced after loading: {reproduced:.1%}")
    assert reproduced >= 0.95
    # the restored vectorizer normalises Arabic like the fitted one
    assert loaded.model.vectorizer_model.build_analyzer()("الخصوصيّة") == ["الخصوصيه"]


def test_a_local_model_folder_is_stored_and_loaded_without_network(
    tiny_model_dir: Path, codebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny-model"))
    encoder = SentenceTransformerEncoder(str(model_dir), device="cpu")
    segments = pd.DataFrame(
        {
            "segment_id": [f"s{i}" for i in range(12)],
            "text": [f"Les centres de données de {city} et la fibre optique" for city in CITIES[:6]]
            + [f"Drought and irrigation worry the farmers of {city}" for city in CITIES[:6]],
            "language": ["fr"] * 6 + ["en"] * 6,
            "duplicate_of": "",
        }
    )
    embeddings = encoder.encode(segments["text"].tolist())
    with pytest.warns(DegradedTopicModelWarning):
        result = fit_topics(segments, embeddings, planted_config(), codebook=codebook, encoder=encoder)
    folder = save_topic_model(result, tmp_path / "model")
    assert json.loads((folder / "bertopic" / "config.json").read_text())["embedding_model"] == str(model_dir)
    assert json.loads((folder / "encoder.json").read_text())["name"] == str(model_dir)

    block_network(monkeypatch)
    loaded = load_topic_model(folder)
    predicted, _ = loaded.model.transform(segments["text"].tolist())  # embeds with the stored folder's model
    assert list(predicted) == result.segment_topics["topic"].tolist()
    # the model folder is gone: loading still works offline, given embeddings
    shutil.rmtree(model_dir)
    loaded = load_topic_model(folder)
    predicted, _ = loaded.model.transform(segments["text"].tolist(), embeddings)
    assert list(predicted) == result.segment_topics["topic"].tolist()


# ---------------------------------------------------------------------------------------------
# Bad input and small corpora


def test_three_segments_take_the_degraded_path(codebook) -> None:
    segments = pd.DataFrame(
        {
            "segment_id": ["a#0", "b#0", "c#0"],
            "text": ["مراكز البيانات في الرباط", "Les centres de données", "Data centres in Rabat"],
            "language": ["ar", "fr", "en"],
            "duplicate_of": "",
        }
    )
    embeddings = np.eye(3, DIMENSION, dtype=np.float32)
    with pytest.warns(
        DegradedTopicModelWarning, match=r"only 3 segments \(< 30\): UMAP and HDBSCAN need more"
    ):
        result = fit_topics(segments, embeddings, planted_config(), codebook=codebook)
    assert "KMeans (k = 1)" in result.info["degraded"]
    assert result.segment_topics["topic"].tolist() == [0, 0, 0]
    assert result.topics.loc[0, "theme"] == "infrastructure"
    assert result.topics.loc[0, "languages"] == "ar 33% · en 33% · fr 33%"


def test_one_language_corpus_leaves_other_languages_empty(planted, codebook) -> None:
    segments, embeddings = planted
    french = (segments["language"] == "fr").to_numpy()
    result = fit_topics(
        segments[french].reset_index(drop=True), embeddings[french], planted_config(), codebook=codebook
    )
    assert (result.topics["topic"] >= 0).sum() == 3  # the three stories with French segments
    assert (result.topics["words_ar"].str.len() == 0).all() and (result.topics["words_en"].str.len() == 0).all()
    assert (result.topics.loc[result.topics["topic"] >= 0, "words_fr"].str.len() > 0).all()
    assert result.topics["languages"].str.fullmatch("fr 100%").all()


def test_embeddings_must_match_the_segments(planted, codebook) -> None:
    segments, embeddings = planted
    with pytest.raises(
        ValueError, match=rf"embeddings have {len(segments) - 1} rows .* segments has {len(segments)} rows"
    ):
        fit_topics(segments, embeddings[1:], planted_config(), codebook=codebook)


def test_a_duplicate_of_a_missing_segment_is_reported(planted, codebook) -> None:
    segments, embeddings = planted
    broken = segments.copy()
    broken.loc[len(broken) - 1, "duplicate_of"] = "nowhere#0"
    with pytest.raises(ValueError, match=r"duplicate_of 'nowhere#0' names no original segment"):
        fit_topics(broken, embeddings, planted_config(), codebook=codebook)


def test_scaling_rules() -> None:
    config = TopicConfig()
    assert [(s.min_topic_size, s.n_neighbors) for s in (scale_parameters(n, config) for n in (100, 1_000, 10_000))] == [
        (5, 10), (10, 15), (50, 15),
    ]  # fmt: skip
    assert scale_parameters(TINY_CORPUS - 1, config).degraded
    assert not scale_parameters(TINY_CORPUS, config).degraded
    assert scale_parameters(500, TopicConfig(min_topic_size=7, n_neighbors=9)).min_topic_size == 7
    with pytest.raises(ValueError, match="no segments"):
        scale_parameters(0, config)


def test_asking_for_k_topics_lets_hdbscan_find_enough_clusters():
    from analysis.topics import scale_parameters

    assert scale_parameters(2225, TopicConfig()).min_topic_size == 22
    assert scale_parameters(2225, TopicConfig(nr_topics=30)).min_topic_size == 10
    assert scale_parameters(2225, TopicConfig(nr_topics=30, min_topic_size=40)).min_topic_size == 40


def test_centring_by_language_removes_the_language_offset_and_keeps_the_subject():
    from analysis.topics import CENTRING_MIN_SEGMENTS, centre_by_language

    rng = np.random.default_rng(0)
    subjects = rng.normal(size=(2, 16))  # two subjects, each written in two languages
    offsets = {"ar": rng.normal(size=16) * 3, "fr": rng.normal(size=16) * 3}
    rows, languages, subject_of = [], [], []
    for language, offset in offsets.items():
        for subject in (0, 1):
            for _ in range(CENTRING_MIN_SEGMENTS):
                rows.append(subjects[subject] + offset + rng.normal(size=16) * 0.1)
                languages.append(language)
                subject_of.append(subject)
    raw = np.asarray(rows, dtype=np.float32)
    raw /= np.linalg.norm(raw, axis=1, keepdims=True)
    centred = centre_by_language(raw, languages)
    np.testing.assert_allclose(np.linalg.norm(centred, axis=1), 1.0, rtol=1e-5)
    subject_of, languages = np.asarray(subject_of), np.asarray(languages)
    same_subject_other_language = (subject_of[:, None] == subject_of[None, :]) & (
        languages[:, None] != languages[None, :]
    )
    other_subject_same_language = (subject_of[:, None] != subject_of[None, :]) & (
        languages[:, None] == languages[None, :]
    )
    for vectors, subject_wins in ((raw, False), (centred, True)):
        similarity = vectors @ vectors.T
        bridged = (
            similarity[same_subject_other_language].mean() > similarity[other_subject_same_language].mean()
        )
        assert bool(bridged) is subject_wins
    # a language with a handful of segments is centred on the corpus mean, not zeroed by its own
    few = centre_by_language(np.vstack([raw, raw[:1] + 0.5]), [*languages, "ber"])
    assert np.isfinite(few).all() and np.linalg.norm(few[-1]) > 0.99
    with pytest.raises(ValueError, match="languages"):
        centre_by_language(raw, languages[:3])


def test_no_topic_may_hold_more_than_its_share_of_the_segments() -> None:
    # the cap that stops excess of mass from choosing a few giant clusters (morocco-news, seed 43)
    assert scale_parameters(27926, TopicConfig()).max_cluster_size == 2793
    assert scale_parameters(212, TopicConfig()).max_cluster_size == 50  # 10 × min_topic_size (5)
    assert scale_parameters(27926, TopicConfig(max_topic_share=None)).max_cluster_size == 0
    with pytest.raises(ConfigError, match="max_topic_share"):
        TopicConfig(max_topic_share=0)


def test_topics_csv_joins_word_lists_at_the_edge_and_reads_them_back(fitted, tmp_path: Path) -> None:
    from analysis.topics import read_topics_csv, write_topics_csv

    path = write_topics_csv(fitted.topics, tmp_path / "topics.csv")
    raw = pd.read_csv(path, keep_default_na=False)
    assert list(raw.columns) == list(fitted.topics.columns)
    first = fitted.topics.iloc[-1]
    assert raw.iloc[-1]["words"] == ", ".join(first["words"])  # what a spreadsheet shows
    assert raw.iloc[-1]["words_fr"] == ", ".join(first["words_fr"])
    back = read_topics_csv(path)
    assert back["words"].tolist() == fitted.topics["words"].tolist()
    assert back["words_ar"].tolist() == fitted.topics["words_ar"].tolist()


def test_loading_a_model_saved_with_topics_csv_still_gives_word_lists(fitted, tmp_path: Path) -> None:
    from analysis.topics import write_topics_csv

    folder = save_topic_model(fitted, tmp_path / "model")
    (folder / "topics.parquet").unlink()  # as an earlier version saved it
    write_topics_csv(fitted.topics, folder / "topics.csv")
    loaded = load_topic_model(folder)
    assert loaded.topics["words"].tolist() == fitted.topics["words"].tolist()


def test_umap_numba_functions_are_cached_on_disk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import umap.umap_
    from numba.core.caching import NullCache

    from analysis import numba_cache

    assert numba_cache.enable() > 0  # functions switched (counted once per process)
    assert not isinstance(umap.umap_.smooth_knn_dist._cache, NullCache)  # UMAP marks it uncached
    assert os.environ["NUMBA_CACHE_DIR"]  # set by `import analysis` unless the user set one
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    numba_cache.set_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path)  # the user's choice wins


def test_a_corpus_of_one_language_is_not_centred() -> None:
    # centring removes language offsets; with one language it would only subtract the corpus mean,
    # which cost BBC News (English only) NPMI at k = 10 (benchmarks/results/paper_protocol.md)
    from analysis.topics import CENTRING_MIN_SEGMENTS, needs_language_centring

    many = CENTRING_MIN_SEGMENTS
    assert not needs_language_centring(["en"] * 500)
    assert not needs_language_centring(["en"] * 500 + ["fr"] * (many - 1))  # a handful of French
    assert needs_language_centring(["en"] * 500 + ["fr"] * many)
    assert needs_language_centring(["ar"] * many + ["fr"] * many + ["en"] * 3)
    assert not needs_language_centring([])
