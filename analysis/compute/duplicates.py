"""Exact and near duplicates of segment tables held on the workers, one table per partition.

The client never holds the texts: each partition hashes its normalised texts (two 64-bit hashes,
so a false match is a 1-in-10^38 event per pair), a Dask shuffle on the hash brings equal texts
together whichever partition they came from, and only the duplicates come back. Near duplicates
follow as in `analysis.compute.dedupe` (MinHash bands, shuffled on the band key) over the exact
groups' representatives. The client then groups the few rows that take part in a pair and picks
each group's original by the rule of `analysis.segment.mark_duplicates` (earliest date, unknown
dates last, then row order), so the flags equal the single process's row for row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from analysis import segment
from analysis.compute.cluster import wait_all
from analysis.compute.dedupe import accepted_pairs, band_keys, candidate_rows, signature_rows

_HASH_KEYS = ("analysis-exact-1", "analysis-exact-2")  # two 16-byte SipHash keys: a 128-bit hash
_KEY_META = pd.DataFrame({"h1": pd.Series(dtype="uint64"), "h2": pd.Series(dtype="uint64"),
                          "unknown": pd.Series(dtype="bool"), "date": pd.Series(dtype="int64"),
                          "row": pd.Series(dtype="int64")})  # fmt: skip


@dataclass(frozen=True)
class Duplicates:
    """Per partition, {row within the partition: segment_id of its original}; and the counts."""

    of_partition: list[dict[int, str]]
    exact: int
    near: int


def find_duplicates(
    client: Any, parts: list[Any], lengths: list[int], threshold: float, *, progress: bool = True
) -> Duplicates:
    """`mark_duplicates` over the segment tables `parts` (futures, `lengths` rows each, in row order)."""
    import dask.dataframe as dd

    if not 0 < threshold <= 1:
        raise ValueError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if lengths else np.zeros(0, np.int64)
    keys = [client.submit(_exact_keys, part, int(start), pure=False) for part, start in zip(parts, starts, strict=True)]
    wait_all(keys, "duplicates: hashes", progress=progress)
    exact_pairs = np.empty((0, 2), dtype=np.int64)
    if sum(lengths):
        shuffled = dd.from_delayed(keys, meta=_KEY_META, verify_meta=False).shuffle(on=["h1", "h2"])
        found = shuffled.map_partitions(_exact_roots, meta={"row": "int64", "root": "int64"})
        exact_pairs = client.compute(found).result().to_numpy(dtype=np.int64)
    block_of = _partition_of(starts)
    near_pairs = np.empty((0, 2), dtype=np.int64)
    if threshold < 1 and sum(lengths):
        exact_rows = exact_pairs[:, 0]
        mine = [exact_rows[block_of(exact_rows) == b] for b in range(len(parts))]
        bands = [client.submit(_near_keys, part, int(start), skip, threshold, pure=False)
                 for part, start, skip in zip(parts, starts, mine, strict=True)]  # fmt: skip
        near_pairs = _near_pairs(client, bands, parts, starts, block_of, threshold, progress=progress)
    pairs = np.concatenate([exact_pairs, near_pairs])
    originals = _originals(client, keys, block_of, pairs)
    duplicate_rows = np.array(sorted(originals), dtype=np.int64)
    of_partition: list[dict[int, str]] = [{} for _ in parts]
    if len(duplicate_rows):
        roots = np.array([originals[r] for r in duplicate_rows.tolist()], dtype=np.int64)
        ids = _segment_ids(client, parts, starts, block_of, roots)
        for row, root in zip(duplicate_rows.tolist(), roots.tolist(), strict=True):
            b = int(block_of(np.array([row]))[0])
            of_partition[b][row - int(starts[b])] = ids[root]
    exact = len(exact_pairs)
    return Duplicates(of_partition=of_partition, exact=exact, near=len(duplicate_rows) - exact)


def _partition_of(starts: np.ndarray):
    return lambda rows: np.searchsorted(starts, np.asarray(rows), side="right") - 1


def _exact_keys(segments: pd.DataFrame, start: int) -> pd.DataFrame:
    """Hash of each normalised text, the date order keys and the global row (on a worker)."""
    normalised = np.asarray(segment.normalise_for_duplicates(segments["text"].astype(str).tolist()), dtype=object)
    dates = pd.to_datetime(segments["date"]) if "date" in segments else pd.Series(pd.NaT, index=segments.index)
    return pd.DataFrame({
        "h1": pd.util.hash_array(normalised, hash_key=_HASH_KEYS[0]),
        "h2": pd.util.hash_array(normalised, hash_key=_HASH_KEYS[1]),
        "unknown": dates.isna().to_numpy(),
        "date": dates.fillna(pd.Timestamp(0)).to_numpy().astype("datetime64[ns]").view("int64"),
        "row": np.arange(start, start + len(segments), dtype=np.int64),
    })  # fmt: skip


def _exact_roots(keys: pd.DataFrame) -> pd.DataFrame:
    """In one shuffled partition: each row whose text an earlier row has, with that earliest row."""
    ordered = keys.sort_values(["unknown", "date", "row"], kind="stable")
    root = ordered.groupby(["h1", "h2"], sort=False)["row"].transform("first")
    repeated = ordered["row"] != root
    return pd.DataFrame({"row": ordered["row"][repeated], "root": root[repeated]}).astype("int64")


def _near_keys(segments: pd.DataFrame, start: int, skip: np.ndarray, threshold: float) -> tuple:
    """Band keys of the partition's exact-group representatives (its rows not in `skip`)."""
    rows = np.setdiff1d(np.arange(start, start + len(segments), dtype=np.int64), skip)
    texts = segment.normalise_for_duplicates(segments["text"].astype(str).to_numpy()[rows - start].tolist())
    n_rows, n_bands = segment._lsh_shape(threshold)
    return band_keys(texts, rows, n_rows, n_bands, keep_texts=False)


def _near_pairs(
    client: Any, bands: list[Any], parts: list[Any], starts: np.ndarray, block_of, threshold: float, *, progress: bool
) -> np.ndarray:
    """Pairs of representatives (global rows) whose estimated Jaccard similarity reaches `threshold`."""
    candidates = candidate_rows(client, bands, progress=progress)
    if len(candidates) == 0:
        return candidates
    wanted = np.unique(candidates)
    owner = block_of(wanted)
    fetched = [client.submit(signature_rows, bands[b], wanted[owner == b], pure=False) for b in np.unique(owner)]
    signatures = np.concatenate([f[0] for f in wait_all(fetched, "near duplicates: pairs", progress=progress)])
    return accepted_pairs(
        candidates, wanted, signatures, threshold, lambda rows: _normalised_texts(client, parts, starts, block_of, rows)
    )


def _normalised_texts(client: Any, parts: list[Any], starts: np.ndarray, block_of, rows: np.ndarray) -> dict[int, str]:
    owner = block_of(rows)
    fetched = [client.submit(_normalised_at, parts[b], rows[owner == b] - int(starts[b]), pure=False)
               for b in np.unique(owner)]  # fmt: skip
    return dict(zip(rows.tolist(), [t for part in client.gather(fetched) for t in part], strict=True))


def _normalised_at(segments: pd.DataFrame, local_rows: np.ndarray) -> list[str]:
    return segment.normalise_for_duplicates(segments["text"].astype(str).to_numpy()[local_rows].tolist())


def _originals(client: Any, keys: list[Any], block_of, pairs: np.ndarray) -> dict[int, int]:
    """{duplicate row: its original row}: groups joined through any pair, the earliest member first."""
    if len(pairs) == 0:
        return {}
    involved = np.unique(pairs)
    owner = block_of(involved)
    fetched = [client.submit(_key_rows, keys[b], involved[owner == b], pure=False) for b in np.unique(owner)]
    order_keys = pd.concat(client.gather(fetched), ignore_index=True)  # row order, as `involved`
    local = np.searchsorted(involved, pairs)
    graph = coo_matrix((np.ones(len(pairs)), (local[:, 0], local[:, 1])), shape=(len(involved),) * 2)
    _, component = connected_components(graph, directed=False)
    order = np.lexsort((order_keys["row"].to_numpy(), order_keys["date"].to_numpy(), order_keys["unknown"].to_numpy()))
    rank = np.empty(len(involved), dtype=np.int64)
    rank[order] = np.arange(len(involved))
    first = pd.Series(rank).groupby(component).transform("min").to_numpy()
    root = involved[order[first]]
    return {int(r): int(o) for r, o in zip(involved.tolist(), root.tolist(), strict=True) if r != o}


def _key_rows(keys: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    return keys.iloc[np.asarray(rows) - int(keys["row"].iloc[0])][["unknown", "date", "row"]]


def _segment_ids(client: Any, parts: list[Any], starts: np.ndarray, block_of, rows: np.ndarray) -> dict[int, str]:
    wanted = np.unique(rows)
    owner = block_of(wanted)
    fetched = [client.submit(_ids_at, parts[b], wanted[owner == b] - int(starts[b]), pure=False)
               for b in np.unique(owner)]  # fmt: skip
    ids = [i for part in client.gather(fetched) for i in part]
    return dict(zip(wanted.tolist(), ids, strict=True))


def _ids_at(segments: pd.DataFrame, local_rows: np.ndarray) -> list[str]:
    return segments["segment_id"].astype(str).to_numpy()[local_rows].tolist()
