"""Encoders, the offline fallback and the embedding cache, through the functions users call."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from analysis.config import EmbedConfig
from analysis.embed import (
    EmbeddingCacheWarning,
    EncoderFallbackWarning,
    EncoderUnavailableError,
    OfflineEncoder,
    SentenceTransformerEncoder,
    default_cache_dir,
    embed_segments,
    identity_key,
    load_encoder,
)

TEXTS = [
    "Le Maroc présente sa stratégie nationale d'intelligence artificielle.",
    "المغرب يقدم استراتيجيته الوطنية للذكاء الاصطناعي.",
    "Morocco presents its national artificial intelligence strategy.",
    "Les centres de données sont au cœur de la souveraineté numérique.",
    "مراكز البيانات في قلب السيادة الرقمية.",
]


class CountingEncoder:
    """Wraps an encoder and records how many texts it was asked to encode."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.encoded: list[str] = []

    @property
    def identity(self):
        return self.encoder.identity

    def encode(self, texts):
        self.encoded.extend(texts)
        return self.encoder.encode(texts)


@pytest.fixture(scope="module")
def offline() -> OfflineEncoder:
    return OfflineEncoder()


@pytest.fixture
def isolated_hub(monkeypatch, tmp_path):
    """No Hugging Face cache and no network access for the model hub."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("ANALYSIS_MODEL", raising=False)


# ---------------------------------------------------------------------------------------------
# sentence-transformers models from a folder


def test_tiny_model_loads_through_load_encoder(tiny_model_dir: Path):
    encoder = load_encoder(EmbedConfig(model=str(tiny_model_dir), fallback="error"))
    assert isinstance(encoder, SentenceTransformerEncoder)
    identity = encoder.identity
    assert identity["kind"] == "sentence-transformers"
    assert identity["name"] == str(tiny_model_dir.resolve())
    assert identity["dimension"] == 32
    assert "fallback_reason" not in identity
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 32) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(encoder.encode(TEXTS[:1])[0], vectors[0], rtol=1e-4, atol=1e-6)
    assert not np.allclose(vectors[0], vectors[1])
    assert encoder.encode([]).shape == (0, 32)


def test_prefix_and_max_length_are_applied(tiny_model_dir: Path):
    config = EmbedConfig(model=str(tiny_model_dir), query_prefix="query: ", max_length=16)
    encoder = load_encoder(config)
    plain = load_encoder(EmbedConfig(model=str(tiny_model_dir)))
    assert encoder.identity["prefix"] == "query: " and encoder.identity["max_length"] == 16
    assert identity_key(encoder.identity) != identity_key(plain.identity)
    assert not np.allclose(encoder.encode(TEXTS[:1]), plain.encode(TEXTS[:1]))


def test_constructor_loads_nothing(tmp_path: Path):
    encoder = SentenceTransformerEncoder(str(tmp_path / "absent"))  # no error until used
    assert not hasattr(encoder, "model_")
    with pytest.raises(EncoderUnavailableError, match="does not exist"):
        encoder.load()


def test_environment_variable_replaces_default_model(tiny_model_dir: Path, monkeypatch):
    monkeypatch.setenv("ANALYSIS_MODEL", str(tiny_model_dir))
    assert load_encoder(EmbedConfig()).identity["name"] == str(tiny_model_dir.resolve())


@pytest.fixture
def folder_without_weights(tiny_model_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "no-weights"
    folder.mkdir()
    for name in ("config.json", "modules.json", "tokenizer.json"):
        (folder / name).write_bytes((tiny_model_dir / name).read_bytes())
    return folder


def test_folder_without_weights_error_says_how_to_provide_model(folder_without_weights: Path):
    with pytest.raises(EncoderUnavailableError) as caught:
        load_encoder(EmbedConfig(model=str(folder_without_weights), fallback="error"))
    message = str(caught.value)
    assert "holds no model weights" in message and str(folder_without_weights) in message
    for hint in (
        "huggingface-cli download",
        "HF_HOME",
        "--model PATH",
        "[embed] model",
        "ANALYSIS_MODEL",
        "--model offline",
    ):
        assert hint in message


def test_folder_without_weights_falls_back_loudly(folder_without_weights: Path, caplog):
    with pytest.warns(EncoderFallbackWarning, match="OFFLINE ENCODER"):
        encoder = load_encoder(EmbedConfig(model=str(folder_without_weights), fallback="offline"))
    assert isinstance(encoder, OfflineEncoder)
    identity = encoder.identity
    assert "holds no model weights" in identity["fallback_reason"]
    assert identity["requested_model"] == str(folder_without_weights)
    assert any(record.levelname == "WARNING" and "OFFLINE" in record.message for record in caplog.records)
    assert encoder.encode(TEXTS).shape == (len(TEXTS), identity["dimension"])


def test_uncached_hub_model_fails_fast_without_network(isolated_hub):
    started = time.perf_counter()
    with pytest.raises(EncoderUnavailableError, match="huggingface-cli download sentence-transformers/"):
        load_encoder(
            EmbedConfig(model="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", fallback="error")
        )
    assert time.perf_counter() - started < 15


def test_uncached_hub_model_falls_back_to_offline(isolated_hub):
    with pytest.warns(EncoderFallbackWarning):
        encoder = load_encoder(EmbedConfig())
    assert encoder.identity["kind"] == "offline"
    assert "not in the local cache" in encoder.identity["fallback_reason"]


def test_offline_chosen_explicitly_is_not_a_fallback():
    encoder = load_encoder(EmbedConfig(model="offline"))
    assert isinstance(encoder, OfflineEncoder)
    assert "fallback_reason" not in encoder.identity


# ---------------------------------------------------------------------------------------------
# Offline encoder


def _cosine(vectors: np.ndarray, i: int, j: int) -> float:
    return float(vectors[i] @ vectors[j])


def test_offline_encoder_bridges_languages_on_the_same_subject(offline: OfflineEncoder):
    texts = [
        "الحكومة تعلن حالة الطوارئ الصحية بسبب انتشار فيروس كورونا في المستشفيات",
        "Le gouvernement décrète l'état d'urgence sanitaire face au coronavirus dans les hôpitaux",
        "The government declares a health emergency as coronavirus reaches hospitals",
        "الوداد يفوز على الرجاء في مباراة الديربي بملعب محمد الخامس",
        "Le Wydad bat le Raja lors du derby au stade Mohammed V",
    ]
    vectors = offline.encode(texts)
    assert vectors.shape == (5, offline.identity["dimension"]) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    # Arabic covid ↔ French/English covid: closer than Arabic covid ↔ Arabic football
    assert _cosine(vectors, 0, 1) > _cosine(vectors, 0, 3) + 0.3
    assert _cosine(vectors, 0, 2) > _cosine(vectors, 0, 3) + 0.3
    assert _cosine(vectors, 3, 4) > _cosine(vectors, 3, 1) + 0.3


def test_codebook_concepts_bridge_their_terms():
    texts = ["La culture hydroponique gagne les fermes", "الزراعة المائية تنتشر في الضيعات"]
    plain = OfflineEncoder().encode(texts)
    concepts = {"hydroponics": ["culture hydroponique", "hydroponie", "الزراعة المائية"]}
    with_codebook = OfflineEncoder(concepts).encode(texts)
    assert _cosine(with_codebook, 0, 1) > _cosine(plain, 0, 1) + 0.2
    assert OfflineEncoder(concepts).identity["n_concepts"] == OfflineEncoder().identity["n_concepts"] + 1


def test_offline_encoder_is_deterministic_and_corpus_free(offline: OfflineEncoder):
    alone = OfflineEncoder().encode(TEXTS[:1])
    together = offline.encode(TEXTS)
    np.testing.assert_allclose(alone[0], together[0], rtol=1e-6)
    assert OfflineEncoder().identity == offline.identity
    assert OfflineEncoder(concept_weight=0.5).identity != offline.identity
    empty = offline.encode([""])
    assert empty.shape == (1, offline.identity["dimension"]) and np.isfinite(empty).all()
    assert offline.encode([]).shape == (0, offline.identity["dimension"])


def test_offline_encoder_rejects_bad_settings():
    with pytest.raises(ValueError, match="concept_weight"):
        OfflineEncoder(concept_weight=1.5).encode(["x"])
    with pytest.raises(TypeError, match="list of strings"):
        OfflineEncoder({"theme": "one string"}).encode(["x"])


# ---------------------------------------------------------------------------------------------
# Embedding cache


def test_rerun_embeds_nothing_and_changed_text_embeds_one(offline, tmp_path: Path):
    counting = CountingEncoder(offline)
    first, stats = embed_segments(TEXTS, counting, tmp_path)
    assert (stats.total, stats.embedded, stats.from_cache) == (5, 5, 0)
    again, stats = embed_segments(TEXTS, counting, tmp_path)
    assert (stats.embedded, stats.from_cache) == (0, 5)
    assert len(counting.encoded) == 5
    np.testing.assert_array_equal(first, again)
    changed = [*TEXTS[:2], TEXTS[2] + " (updated)", *TEXTS[3:]]
    vectors, stats = embed_segments(changed, counting, tmp_path)
    assert (stats.embedded, stats.from_cache) == (1, 4)
    assert counting.encoded[-1] == changed[2]
    np.testing.assert_allclose(vectors, offline.encode(changed), rtol=1e-5, atol=1e-6)


def test_identical_texts_are_embedded_once(offline, tmp_path: Path):
    counting = CountingEncoder(offline)
    vectors, stats = embed_segments([TEXTS[0], TEXTS[1], TEXTS[0]], counting, tmp_path)
    assert counting.encoded == [TEXTS[0], TEXTS[1]]
    assert (stats.embedded, stats.from_cache) == (3, 0)
    np.testing.assert_array_equal(vectors[0], vectors[2])


def _entry(tmp_path: Path, encoder) -> Path:
    return tmp_path / identity_key(encoder.identity)


def test_corrupt_shard_is_reported_and_rebuilt(offline, tmp_path: Path):
    expected, _ = embed_segments(TEXTS[:3], offline, tmp_path)
    embed_segments(TEXTS, offline, tmp_path)  # a second shard with the two new texts
    shard = _entry(tmp_path, offline) / "shard-000001.npy"
    shard.write_bytes(shard.read_bytes()[:-40])  # truncated
    with pytest.warns(EmbeddingCacheWarning, match="checksum mismatch"):
        vectors, stats = embed_segments(TEXTS, offline, tmp_path)
    assert (stats.embedded, stats.from_cache) == (3, 2)
    np.testing.assert_allclose(vectors[:3], expected, rtol=1e-6)
    _, stats = embed_segments(TEXTS, offline, tmp_path)  # rebuilt: clean again
    assert stats.embedded == 0


def test_wrong_shape_with_matching_checksum_is_detected(offline, tmp_path: Path):
    embed_segments(TEXTS, offline, tmp_path)
    entry = _entry(tmp_path, offline)
    shard = entry / "shard-000001.npy"
    np.save(shard, np.zeros((5, 7), dtype=np.float32))
    index = json.loads((entry / "index.json").read_text())
    from analysis.embed import _file_sha256

    index["shards"][0]["sha256"] = _file_sha256(shard)
    (entry / "index.json").write_text(json.dumps(index))
    with pytest.warns(EmbeddingCacheWarning, match="shape"):
        _, stats = embed_segments(TEXTS, offline, tmp_path)
    assert stats.embedded == 5


def test_unreadable_index_and_other_encoder_cache_are_rebuilt(offline, tmp_path: Path):
    embed_segments(TEXTS, offline, tmp_path)
    entry = _entry(tmp_path, offline)
    (entry / "index.json").write_text("{not json")
    with pytest.warns(EmbeddingCacheWarning, match="unreadable"):
        _, stats = embed_segments(TEXTS, offline, tmp_path)
    assert stats.embedded == 5
    # an entry whose stored identity is another encoder's (e.g. copied by hand) is not used
    other = OfflineEncoder(concept_weight=0.5)
    embed_segments(TEXTS, other, tmp_path)
    (entry / "index.json").write_text((_entry(tmp_path, other) / "index.json").read_text())
    with pytest.warns(EmbeddingCacheWarning, match="another encoder"):
        _, stats = embed_segments(TEXTS, offline, tmp_path)
    assert stats.embedded == 5


def test_fallback_encoder_shares_the_explicit_offline_cache(offline, tmp_path: Path):
    embed_segments(TEXTS, offline, tmp_path)
    fallback = OfflineEncoder(fallback_reason="model not cached", requested_model="some/model")
    _, stats = embed_segments(TEXTS, fallback, tmp_path)
    assert stats.from_cache == 5


def test_tiny_model_embeddings_are_cached(tiny_model_dir: Path, tmp_path: Path):
    encoder = load_encoder(EmbedConfig(model=str(tiny_model_dir)))
    first, stats = embed_segments(TEXTS, encoder, tmp_path)
    assert stats.embedded == 5 and first.shape == (5, 32)
    second, stats = embed_segments(TEXTS, encoder, tmp_path)
    assert stats.from_cache == 5
    np.testing.assert_array_equal(first, second)


def test_encoder_returning_wrong_shape_is_an_error(offline, tmp_path: Path):
    class Broken(CountingEncoder):
        def encode(self, texts):
            return np.ones((len(texts), 3), dtype=np.float32)

    with pytest.raises(ValueError, match="dimension"):
        embed_segments(TEXTS, Broken(offline), tmp_path)


def test_default_cache_dir(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("ANALYSIS_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir("") == tmp_path / "env"
    assert default_cache_dir(tmp_path / "configured") == tmp_path / "configured"
    monkeypatch.delenv("ANALYSIS_CACHE_DIR")
    assert default_cache_dir(None) == Path.home() / ".cache" / "analysis" / "embeddings"
