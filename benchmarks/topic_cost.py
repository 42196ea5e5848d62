"""Topic cost: the package's `fit_topics` against plain `BERTopic()` on the same texts and embeddings.

Loads a finished run folder (segments.parquet, embeddings.npy and the manifest's configuration;
by default the merged morocco-news run), so nothing is embedded. Plain BERTopic is `BERTopic()`
with its defaults and a seeded UMAP, `fit_transform`ed on the original segments' texts and
embeddings; its UMAP, HDBSCAN and c-TF-IDF (topic words) times come from timing BERTopic's own
three internal steps. The package's times are `fit_topics`'s `info["step_seconds"]`, with the
same three BERTopic steps timed inside its `bertopic_fit`. Both fits run in this one process
after a UMAP warm-up, so neither pays numba's compilation. Each total is given as wall time and
as this process's CPU time (`time.process_time`), which a loaded machine inflates far less. Worker
processes are not in it: plain BERTopic's HDBSCAN queries its core distances in joblib workers, so
the CPU ratio flatters plain. Without `--encoder`, themes come from the codebook's dictionary alone
(no encoder is loaded); the run's own themes used USE.

    python benchmarks/topic_cost.py                                  # morocco-merged, writes results
    python benchmarks/topic_cost.py --save /tmp/after --no-write     # keep the tables to compare
    python benchmarks/topic_cost.py --compare /tmp/before /tmp/after # same topics and words?
    python benchmarks/topic_cost.py --profile /tmp/fit.pstats        # cProfile of fit_topics
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bertopic import BERTopic
from umap import UMAP

from analysis.config import RunConfig
from analysis.themes import load_codebook
from analysis.topics import fit_topics
from benchmarks.common import REPO, machine_description, markdown_table

DEFAULT_RUN = REPO.parent / "main" / "runs" / "morocco-merged"
RESULTS = REPO / "benchmarks" / "results" / "topic_cost.md"
BERTOPIC_STEPS = {"_reduce_dimensionality": "UMAP", "_cluster_embeddings": "HDBSCAN", "_extract_topics": "c-TF-IDF"}


@contextlib.contextmanager
def bertopic_step_timer(seconds: dict[str, float]) -> Iterator[None]:
    """Adds the wall time of BERTopic's UMAP, HDBSCAN and topic-word steps into `seconds`."""
    patches = []
    for method, step in BERTOPIC_STEPS.items():
        original = getattr(BERTopic, method)

        def timed(self: BERTopic, *args: Any, _original: Any = original, _step: str = step, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return _original(self, *args, **kwargs)
            finally:
                seconds[_step] = seconds.get(_step, 0.0) + time.perf_counter() - started

        patches.append(mock.patch.object(BERTopic, method, timed))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def warm_up_umap() -> None:
    """Compile UMAP's and pynndescent's numba functions (NN-descent path), outside the timings."""
    data = np.random.default_rng(0).normal(size=(5000, 32)).astype(np.float32)
    UMAP(n_neighbors=15, n_components=5, metric="cosine", random_state=0).fit_transform(data)


def load_run(run: Path) -> tuple[pd.DataFrame, np.ndarray, RunConfig]:
    segments = pd.read_parquet(run / "segments.parquet")
    embeddings = np.load(run / "embeddings.npy")
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    config = RunConfig.from_dict(manifest["config"], where=str(run / "manifest.json"))
    if len(embeddings) != len(segments):
        raise ValueError(f"{run}: {len(embeddings)} embeddings for {len(segments)} segments")
    return segments, embeddings, config


def plain(segments: pd.DataFrame, embeddings: np.ndarray, seed: int) -> tuple[dict[str, float], int]:
    """Plain BERTopic on the original segments: seconds per step and the number of topics."""
    original = (segments["duplicate_of"].fillna("").astype(str) == "").to_numpy()
    texts = segments.loc[original, "text"].fillna("").astype(str).tolist()
    umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
    seconds: dict[str, float] = {}
    started, cpu = time.perf_counter(), time.process_time()
    with bertopic_step_timer(seconds):
        topics, _ = BERTopic(umap_model=umap_model).fit_transform(texts, embeddings[original])
    seconds["total"] = time.perf_counter() - started
    seconds["total CPU (this process)"] = time.process_time() - cpu
    return seconds, len(set(topics) - {-1})


def package(
    segments: pd.DataFrame, embeddings: np.ndarray, config: RunConfig, *, encoder: Any, profile: Path | None
) -> tuple[dict[str, float], Any]:
    """`fit_topics` with the run's configuration: its step_seconds plus BERTopic's inner steps."""
    codebook = load_codebook(config.topics.codebook or None)
    inner: dict[str, float] = {}
    profiler = cProfile.Profile() if profile else None
    started, cpu = time.perf_counter(), time.process_time()
    with bertopic_step_timer(inner):
        if profiler:
            profiler.enable()
        result = fit_topics(segments, embeddings, config.topics, codebook=codebook, encoder=encoder,
                            languages=config.corpus.languages)  # fmt: skip
        if profiler:
            profiler.disable()
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler and profile:
        profiler.dump_stats(str(profile))
    seconds = dict(result.info["step_seconds"])
    seconds.update({f"bertopic_fit: {step}": value for step, value in inner.items()})
    seconds["total"] = total
    seconds["total CPU (this process)"] = cpu
    return seconds, result


def save(result: Any, folder: Path) -> None:
    """The topic table and the segments' topic/theme columns, to compare two versions of the code."""
    folder.mkdir(parents=True, exist_ok=True)
    result.topics.to_json(folder / "topics.json", orient="records", force_ascii=False)
    result.segment_topics.to_parquet(folder / "segment_topics.parquet")


def compare(before: Path, after: Path) -> list[str]:
    """Differences between two saved results (empty: the same topics, words, themes and assignments)."""
    differences = []
    for name, read in (("topics.json", lambda p: pd.read_json(p, orient="records")),
                       ("segment_topics.parquet", pd.read_parquet)):  # fmt: skip
        old, new = read(before / name), read(after / name)
        if list(old.columns) != list(new.columns) or len(old) != len(new):
            differences.append(f"{name}: columns/rows {list(old.columns)}×{len(old)} vs {list(new.columns)}×{len(new)}")
            continue
        for column in old.columns:
            same = old[column].astype(str) == new[column].astype(str)
            if not same.all():
                differences.append(f"{name}: {column} differs in {int((~same).sum())} of {len(old)} rows")
    return differences


def table(plain_seconds: dict[str, float], package_seconds: dict[str, float]) -> str:
    rows = [{"fit": "plain BERTopic()", "step": step, "seconds": round(value, 1)}
            for step, value in plain_seconds.items()]  # fmt: skip
    rows += [{"fit": "fit_topics", "step": step, "seconds": round(value, 1)} for step, value in package_seconds.items()]
    rows.append({"fit": "ratio", "step": "fit_topics / plain",
                 "seconds": round(package_seconds["total"] / plain_seconds["total"], 2)})  # fmt: skip
    if "total CPU (this process)" in plain_seconds:
        cpu = package_seconds["total CPU (this process)"] / plain_seconds["total CPU (this process)"]
        rows.append({"fit": "ratio", "step": "fit_topics / plain, CPU", "seconds": round(cpu, 2)})
    return markdown_table(rows)


def repeats_table(pairs: list[tuple[dict[str, float], dict[str, float], float]]) -> str:
    """One row per repeat and the medians. UMAP (the same settings in both fits) varies most with the
    load, so the last column also gives the ratio with each fit's UMAP replaced by the two's mean."""
    rows = []
    for number, (plain_seconds, package_seconds, load) in enumerate(pairs, 1):
        plain_umap, package_umap = plain_seconds["UMAP"], package_seconds["bertopic_fit: UMAP"]
        umap_mean = (plain_umap + package_umap) / 2
        rows.append({
            "repeat": number, "load": round(load, 1),
            "plain s": round(plain_seconds["total"], 1), "fit_topics s": round(package_seconds["total"], 1),
            "ratio": round(package_seconds["total"] / plain_seconds["total"], 2),
            "CPU ratio": round(package_seconds["total CPU (this process)"] / plain_seconds["total CPU (this process)"], 2),
            "UMAP plain / package s": f"{plain_umap:.1f} / {package_umap:.1f}",
            "ratio, equal UMAP": round((package_seconds["total"] - package_umap + umap_mean)
                                       / (plain_seconds["total"] - plain_umap + umap_mean), 2),
        })  # fmt: skip
    medians = {key: float(np.median([row[key] for row in rows]))
               for key in ("ratio", "CPU ratio", "ratio, equal UMAP")}  # fmt: skip
    rows.append({"repeat": "median", "load": "", "plain s": "", "fit_topics s": "", "UMAP plain / package s": "",
                 **{key: round(value, 2) for key, value in medians.items()}})  # fmt: skip
    return markdown_table(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, default=DEFAULT_RUN, help="a finished run folder")
    parser.add_argument("--save", type=Path, help="write the package's topic and segment tables here")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("BEFORE", "AFTER"), help="compare two --save folders")
    parser.add_argument("--profile", type=Path, help="cProfile fit_topics into this pstats file")
    parser.add_argument("--no-plain", action="store_true", help="skip plain BERTopic")
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/results/topic_cost.md")
    parser.add_argument("--repeats", type=int, default=1, help="fit both this many times, alternately")
    parser.add_argument("--label", default="", help="a note for the results heading (e.g. 'before')")
    args = parser.parse_args(argv)
    if args.compare:
        differences = compare(*args.compare)
        print("\n".join(differences) if differences else "identical: topics, words, themes and assignments")
        return
    segments, embeddings, config = load_run(args.run)
    warm_up_umap()
    pairs = []
    for repeat in range(args.repeats):  # alternated, so that a change of load falls on both fits
        package_seconds, result = package(segments, embeddings, config, encoder=None,
                                          profile=args.profile if repeat == 0 else None)  # fmt: skip
        if args.save and repeat == 0:
            save(result, args.save)
        plain_seconds, plain_topics = ({"total": float("nan")}, 0) if args.no_plain else plain(
            segments, embeddings, config.topics.seed
        )
        pairs.append((plain_seconds, package_seconds, os.getloadavg()[0]))
    load = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    machine = machine_description()
    text = (
        f"## fit_topics against plain BERTopic() {args.label}\n\n"
        f"Run folder `{args.run.name}`: {len(segments)} segments, {result.info['n_fitted']} fitted; "
        f"package {result.info['n_topics']} topics, plain {plain_topics} topics. "
        f"Machine: {machine['cpu']}, {machine['cores']} cores; load at the end: `{load}`; {machine['date']}.\n\n"
        + table(plain_seconds, package_seconds)
        + "\n"
        + (repeats_table(pairs) + "\n" if len(pairs) > 1 else "")
    )
    print(text)
    if not args.no_write:
        with RESULTS.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
