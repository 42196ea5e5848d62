"""The corpus stage in partitions: documents cleaned, segmented and language-detected per block
on the workers, near duplicates found across blocks, the ledger assembled from the blocks.

Reading stays on the client (it is file I/O, and the ids must be checked across all inputs);
the furniture lines of each source are found in one task per source, so that a block is cleaned
with its source's lines exactly as the single process cleans it. The result equals
`analysis.corpus.build_corpus` row for row.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import corpus as single
from analysis.compute.cluster import wait_all
from analysis.compute.dedupe import near_pairs_partitioned
from analysis.config import CorpusConfig
from analysis.segment import mark_duplicates


def build_corpus_partitioned(
    source: str | Path,
    config: CorpusConfig,
    client: Any,
    *,
    partition_size: int = 2_000,
    progress: bool = True,
) -> single.Corpus:
    """`analysis.corpus.build_corpus` with the per-document work in blocks of `partition_size`."""
    name, inputs, documents = single.read_documents(source)
    single.check_unique_ids(documents)
    root = Path(os.path.commonpath([str(Path(p).resolve().parent) for p in inputs])) if inputs else Path()
    by_source: dict[str, list[single.RawDocument]] = {}
    for document in documents:
        by_source.setdefault(document.source, []).append(document)
    repeated_futures = [client.submit(single._repeated_lines, docs, config, pure=False) for docs in by_source.values()]
    repeated: dict[str, Any] = {}
    for part in wait_all(repeated_futures, "furniture lines", progress=progress):
        repeated.update(part)
    repeated_future = client.scatter(repeated, broadcast=True)
    blocks = [documents[i : i + partition_size] for i in range(0, len(documents), partition_size)]
    block_futures = [
        client.submit(_clean_and_segment, block, config, repeated_future, root, pure=False) for block in blocks
    ]
    results = wait_all(block_futures, "cleaning and segmenting", progress=progress)
    columns = list(single.SEGMENT_COLUMNS) + list(
        dict.fromkeys(column for _, segments, _, extra in results for column in extra)
    )
    parts = [segments for _, segments, _, _ in results]
    segments = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    segments = single._typed(segments.reindex(columns=columns))
    near = near_pairs_partitioned(client, partition_size=partition_size, progress=progress)
    segments["duplicate_of"] = mark_duplicates(
        segments, config.near_duplicate_threshold, near_pairs=near
    ).astype("str")
    # the ledger per block, on the worker that holds the block's cleaned documents
    bounds = _bounds([len(p) for p in parts])
    ledger_futures = [
        client.submit(_block_ledger, future, segments["duplicate_of"].iloc[start:end].tolist(), root, pure=False)
        for future, (start, end) in zip(block_futures, bounds, strict=True)
    ]
    ledgers = wait_all(ledger_futures, "ledger", progress=progress)
    ledger = (
        pd.concat(ledgers, ignore_index=True).astype({"n_segments": "int64"})
        if ledgers else single._ledger([], segments, root, {})
    )  # fmt: skip
    single._check_ledger(ledger, segments, len(documents))
    return single.Corpus(segments=segments, ledger=ledger, name=name, inputs=inputs)


def write_corpus_partitioned(corpus: single.Corpus, run_dir: str | Path, *, partition_size: int) -> dict[str, Path]:
    """`segments.parquet` (one row group per partition, so workers can read a part each) and `ledger.csv`."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"segments": run_dir / "segments.parquet", "ledger": run_dir / "ledger.csv"}
    corpus.segments.to_parquet(paths["segments"], index=False, row_group_size=partition_size)
    corpus.ledger.to_csv(paths["ledger"], index=False)
    return paths


def _clean_and_segment(
    block: list[single.RawDocument], config: CorpusConfig, repeated: dict[str, Any], root: Path
) -> tuple[list[Any], pd.DataFrame, dict[str, str], list[str]]:
    """One block: its cleaned documents, segment table, implausible dates and extra columns."""
    cleaned = single._clean_all(block, config, False, repeated)
    implausible: dict[str, str] = {}
    segments = single._segment_all(cleaned, config, root, False, implausible)
    return cleaned, segments, implausible, single._extra_columns(cleaned)


def _block_ledger(block: tuple, duplicate_of: list[str], root: Path) -> pd.DataFrame:
    cleaned, segments, implausible, _ = block
    segments = segments.assign(duplicate_of=duplicate_of)
    return single._ledger(cleaned, segments, root, implausible)


def _bounds(lengths: list[int]) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for length in lengths:
        bounds.append((start, start + length))
        start += length
    return bounds
