"""The corpus stage in partitions: each input file read on a worker, its documents cut into blocks
that are cleaned, segmented and language-detected where they lie, duplicates found across blocks by
shuffles on the workers, and the ledger built and checked per block.

The client sees only summaries: the input paths, counts per block and source, the ids that occur
twice (if any), each source's furniture lines, and the duplicates' rows and originals. The segment
tables stay on the workers until `PartitionedCorpus.write` has each worker write its part (the
client then joins the parts, one Parquet row group each, into the run's one `segments.parquet`) or
`PartitionedCorpus.gather` brings them back for a run that goes on in this process. The result
equals `analysis.corpus.build_corpus` row for row.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import corpus as single
from analysis.compute.cluster import wait_all
from analysis.compute.duplicates import find_duplicates
from analysis.config import CorpusConfig
from analysis.documents import _inputs, read_units
from analysis.schema import SEGMENT_COLUMNS
from analysis.text.clean import candidate_lines, repeated_line_count


@dataclass
class PartitionedCorpus:
    """The corpus as blocks on the workers: futures of (segments, ledger), in input order."""

    name: str
    inputs: list[str]
    parts: list[Any]
    n_segments: list[int]
    n_documents: int
    duplicates: dict[str, int]

    def gather(self) -> single.Corpus:
        """The whole corpus in this process, as `build_corpus` returns it."""
        parts = [future.result() for future in self.parts]
        segments = pd.concat([s for s, _ in parts], ignore_index=True)
        ledger = pd.concat([ledger for _, ledger in parts], ignore_index=True).astype({"n_segments": "int64"})
        return single.Corpus(segments=segments, ledger=ledger, name=self.name, inputs=self.inputs)

    def write(self, run_dir: str | Path, client: Any, *, progress: bool = True) -> dict[str, Path]:
        """`segments.parquet` and `ledger.csv`, each worker writing its blocks; the client joins the
        parts one at a time (one row group per block), so it never holds more than one block."""
        import pyarrow.parquet as pq

        run_dir = Path(run_dir)
        parts_dir = run_dir / "segments.parts"
        parts_dir.mkdir(parents=True, exist_ok=True)
        paths = {"segments": run_dir / "segments.parquet", "ledger": run_dir / "ledger.csv"}
        written = wait_all(
            [client.submit(_write_part, part, parts_dir, i, pure=False) for i, part in enumerate(self.parts)],
            "writing segments", progress=progress,
        )  # fmt: skip
        writer = None
        with open(paths["ledger"], "wb") as ledger:
            for segments_path, ledger_path in written:
                table = pq.read_table(segments_path)
                writer = writer or pq.ParquetWriter(paths["segments"], table.schema)
                writer.write_table(table.cast(writer.schema), row_group_size=max(1, table.num_rows))
                with open(ledger_path, "rb") as part:
                    shutil.copyfileobj(part, ledger)
        if writer is not None:
            writer.close()
        shutil.rmtree(parts_dir)
        return paths


def partition_corpus(
    source: str | Path,
    config: CorpusConfig,
    client: Any,
    *,
    partition_size: int = 2_000,
    progress: bool = True,
) -> PartitionedCorpus:
    """`analysis.corpus.build_corpus` with every document-level step on the workers, in blocks of
    at most `partition_size` documents (a block never spans two input files)."""
    name, units = read_units(source)
    files = [client.submit(_read_unit, unit, pure=False) for unit in units]
    sizes = client.gather([client.submit(len, f) for f in files])
    blocks = [
        client.submit(_slice, f, start, start + partition_size, pure=False)
        for f, size in zip(files, sizes, strict=True)
        for start in range(0, max(size, 1), partition_size)
    ]
    del files  # each file's documents are released once its blocks are cut
    summaries = wait_all([client.submit(_summary, b, pure=False) for b in blocks], "reading", progress=progress)
    inputs = list(dict.fromkeys(path for s in summaries for path in s["inputs"]))
    root = Path(os.path.commonpath([str(Path(p).resolve().parent) for p in inputs])) if inputs else Path()
    _check_unique_ids(client, blocks, summaries)
    # scattered as one object: a scattered dict would be keyed by its source names, across runs
    repeated = client.scatter([_repeated_lines(client, blocks, summaries, config)], broadcast=True)[0]
    cleaned = [client.submit(_clean_and_segment, b, config, repeated, root, pure=False) for b in blocks]
    del blocks
    facts = wait_all([client.submit(_facts, c, pure=False) for c in cleaned], "cleaning and segmenting",
                     progress=progress)  # fmt: skip
    columns = list(SEGMENT_COLUMNS) + list(dict.fromkeys(c for f in facts for c in f["extra"]))
    conformed = [client.submit(_conform, c, columns, pure=False) for c in cleaned]
    del cleaned  # each block's first table is released once conformed
    tables = [client.submit(_segments_of, c, pure=False) for c in conformed]
    lengths = [f["n_segments"] for f in facts]
    found = find_duplicates(client, tables, lengths, config.near_duplicate_threshold, progress=progress)
    parts = [client.submit(_finish, c, dupes, root, pure=False) for c, dupes in zip(conformed, found.of_partition,
                                                                                     strict=True)]  # fmt: skip
    del conformed, tables
    checked = wait_all([client.submit(_n_document_rows, p, pure=False) for p in parts], "ledger", progress=progress)
    n_documents = sum(s["n_documents"] for s in summaries)
    if sum(checked) != n_documents:
        raise RuntimeError(f"internal error: ledger has {sum(checked)} document rows for {n_documents} inputs")
    return PartitionedCorpus(name=name, inputs=inputs, parts=parts, n_segments=lengths, n_documents=n_documents,
                             duplicates={"exact": found.exact, "near": found.near})  # fmt: skip


def build_corpus_partitioned(
    source: str | Path, config: CorpusConfig, client: Any, *, partition_size: int = 2_000, progress: bool = True
) -> single.Corpus:
    """`partition_corpus`, gathered into one `Corpus` (for a run that goes on in this process)."""
    return partition_corpus(source, config, client, partition_size=partition_size, progress=progress).gather()


def write_corpus_partitioned(corpus: single.Corpus, run_dir: str | Path, *, partition_size: int) -> dict[str, Path]:
    """`segments.parquet` (one row group per partition, so workers can read a part each) and `ledger.csv`."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = {"segments": run_dir / "segments.parquet", "ledger": run_dir / "ledger.csv"}
    corpus.segments.to_parquet(paths["segments"], index=False, row_group_size=partition_size)
    corpus.ledger.to_csv(paths["ledger"], index=False)
    return paths


# --- on the workers ----------------------------------------------------------------------------


def _read_unit(unit: Any) -> list[single.RawDocument]:
    return unit()


def _slice(documents: list[single.RawDocument], start: int, end: int) -> list[single.RawDocument]:
    return documents[start:end]


def _summary(block: list[single.RawDocument]) -> dict[str, Any]:
    """Input paths, document count and, per source, the documents whose lines count for furniture."""
    pending: dict[str, int] = {}
    for d in block:
        if not d.status and d.text.strip():
            pending[d.source] = pending.get(d.source, 0) + 1
    return {"inputs": _inputs(block), "n_documents": len(block), "pending": pending}


def _id_table(block: list[single.RawDocument]) -> pd.DataFrame:
    return pd.DataFrame({"doc_id": [d.doc_id for d in block if d.status != "skipped"]}, dtype="str")


def _with_ids(block: list[single.RawDocument], ids: set[str]) -> list[single.RawDocument]:
    return [d for d in block if d.doc_id in ids]


def _line_table(block: list[single.RawDocument]) -> pd.DataFrame:
    """(source, line) once per document for every candidate furniture line."""
    sources, lines = [], []
    for d in block:
        if not d.status and d.text.strip():
            found = candidate_lines(d.text)
            sources += [d.source] * len(found)
            lines += list(found)
    return pd.DataFrame({"source": sources, "line": lines}, dtype="str")


def _frequent(counts: pd.DataFrame, need: dict[str, float]) -> pd.DataFrame:
    return counts[counts["n"].to_numpy() >= counts["source"].map(need).to_numpy(dtype=float)]


def _clean_and_segment(
    block: list[single.RawDocument], config: CorpusConfig, repeated: dict[str, Any], root: Path
) -> tuple[list[Any], pd.DataFrame, dict[str, str]]:
    """One block: its cleaned documents, segment table and implausible dates."""
    cleaned = single._clean_all(block, config, False, repeated)
    implausible: dict[str, str] = {}
    segments = single._segment_all(cleaned, config, root, False, implausible)
    # the ledger needs each document's status and removed pieces, not its texts: drop them here
    light = [dataclasses.replace(c, text="", document=dataclasses.replace(c.document, text="")) for c in cleaned]
    return light, segments, implausible


def _facts(block: tuple) -> dict[str, Any]:
    cleaned, segments, _ = block
    return {"extra": single._extra_columns(cleaned), "n_segments": len(segments)}


def _conform(block: tuple, columns: list[str]) -> tuple:
    """The block with every block's columns in its segments, typed as the single process types them."""
    cleaned, segments, implausible = block
    return cleaned, single._typed(segments.reindex(columns=columns)), implausible


def _segments_of(block: tuple) -> pd.DataFrame:
    return block[1]


def _finish(block: tuple, duplicate_of: dict[int, str], root: Path) -> tuple:
    """The block's segments with their duplicate flags, and its ledger, checked."""
    cleaned, segments, implausible = block
    flags = np.full(len(segments), "", dtype=object)
    for row, original in duplicate_of.items():
        flags[row] = original
    segments = segments.assign(duplicate_of=pd.Series(flags, index=segments.index).astype("str"))
    ledger = single._ledger(cleaned, segments, root, implausible)
    single._check_ledger(ledger, segments, len(cleaned))
    return segments, ledger


def _n_document_rows(part: tuple) -> int:
    return int((part[1]["kind"] == "document").sum())


def _write_part(part: tuple, folder: Path, index: int) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    segments, ledger = part
    segments_path, ledger_path = folder / f"part-{index:05d}.parquet", folder / f"ledger-{index:05d}.csv"
    pq.write_table(pa.Table.from_pandas(segments, preserve_index=False), segments_path)
    ledger.to_csv(ledger_path, index=False, header=index == 0)
    return segments_path, ledger_path


# --- summaries reduced on the workers ------------------------------------------------------------


def _check_unique_ids(client: Any, blocks: list[Any], summaries: list[dict[str, Any]]) -> None:
    """`analysis.corpus.check_unique_ids` with the counting done by a groupby on the workers."""
    import dask.dataframe as dd

    if not sum(s["n_documents"] for s in summaries):
        return
    ids = dd.from_delayed([client.submit(_id_table, b, pure=False) for b in blocks],
                          meta=pd.DataFrame({"doc_id": pd.Series(dtype="str")}), verify_meta=False)  # fmt: skip
    counts = ids.groupby("doc_id").size(split_out=max(1, len(blocks) // 8))
    repeated = set(client.compute(counts[counts > 1]).result().index.astype(str))
    if repeated:  # the repeated ids' documents, in input order, for the single process's message
        single.check_unique_ids([d for part in client.gather([client.submit(_with_ids, b, repeated) for b in blocks])
                                 for d in part])  # fmt: skip


def _repeated_lines(
    client: Any, blocks: list[Any], summaries: list[dict[str, Any]], config: CorpusConfig
) -> dict[str, frozenset[str]]:
    """Each source's furniture lines (`analysis.text.find_repeated_lines`), counted by a groupby on
    the workers over every block of the source, whichever files it spans."""
    import dask.dataframe as dd

    n_docs: dict[str, int] = {}
    for s in summaries:
        for source, n in s["pending"].items():
            n_docs[source] = n_docs.get(source, 0) + n
    repeated: dict[str, frozenset[str]] = dict.fromkeys(n_docs, frozenset())
    if not n_docs:
        return repeated
    lines = dd.from_delayed([client.submit(_line_table, b, pure=False) for b in blocks],
                            meta=pd.DataFrame({"source": pd.Series(dtype="str"), "line": pd.Series(dtype="str")}),
                            verify_meta=False)  # fmt: skip
    counts = lines.groupby(["source", "line"]).size(split_out=max(1, len(blocks) // 8)).to_frame("n").reset_index()
    need = {s: repeated_line_count(n, config.repeated_line_min_docs, config.repeated_line_min_share)
            for s, n in n_docs.items()}  # fmt: skip
    kept = counts.map_partitions(_frequent, need, meta=counts._meta)
    for source, group in client.compute(kept).result().groupby("source"):
        repeated[str(source)] = frozenset(group["line"].astype(str))
    return repeated
