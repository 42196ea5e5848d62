"""Near duplicates across partitions: MinHash signatures per partition on the workers, the LSH
band buckets grouped by a Dask DataFrame shuffle, the candidate pairs checked on the client.

The pairs equal `analysis.segment._near_pairs` exactly: the same signatures, the same band keys,
and within a bucket every member paired with the bucket's first (lowest) row, as there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis import segment
from analysis.compute.cluster import wait_all


def near_pairs_partitioned(
    client: Any, *, partition_size: int = 2_000, progress: bool = True
) -> Callable[[Sequence[str], float], np.ndarray]:
    """A `near_pairs(texts, threshold)` for `analysis.segment.mark_duplicates` that runs on `client`."""

    def near_pairs(texts: Sequence[str], threshold: float) -> np.ndarray:
        import dask.dataframe as dd

        n_rows, n_bands = segment._lsh_shape(threshold)
        starts = list(range(0, len(texts), partition_size))
        parts = [
            client.submit(band_keys, list(texts[s : s + partition_size]), np.arange(s, min(s + partition_size, len(texts))),
                          n_rows, n_bands, pure=False)
            for s in starts
        ]  # fmt: skip
        wait_all(parts, "near duplicates: signatures", progress=progress)
        keys = dd.from_delayed([client.submit(keys_of, p) for p in parts], meta=BAND_META, verify_meta=False)
        candidates = client.compute(candidate_pairs(keys)).result().to_numpy(dtype=np.int64)
        if len(candidates) == 0:
            return np.empty((0, 2), dtype=np.int64)
        candidates = np.unique(candidates, axis=0)
        wanted = np.unique(candidates)
        block_of = np.searchsorted(np.asarray(starts), wanted, side="right") - 1
        fetched = [
            client.submit(signature_rows, parts[b], wanted[block_of == b], pure=False)
            for b in np.unique(block_of)
        ]
        signatures = np.concatenate([f[0] for f in wait_all(fetched, "near duplicates: pairs", progress=progress)])
        position = {int(r): i for i, r in enumerate(wanted.tolist())}
        left = signatures[[position[int(r)] for r in candidates[:, 0]]]
        right = signatures[[position[int(r)] for r in candidates[:, 1]]]
        estimate = (left == right).mean(axis=1)
        accepted = estimate >= threshold
        for k in np.flatnonzero(np.abs(estimate - threshold) < segment._EXACT_MARGIN):
            accepted[k] = segment._jaccard(texts[candidates[k, 0]], texts[candidates[k, 1]]) >= threshold
        return candidates[accepted]

    return near_pairs


BAND_META = pd.DataFrame({"band": pd.Series(dtype="int64"), "key": pd.Series(dtype="uint64"),
                          "row": pd.Series(dtype="int64")})  # fmt: skip


def candidate_pairs(keys: Any) -> Any:
    """(first, row) pairs of a Dask frame of (band, key, row): the shuffle brings rows with the same
    (band, key) into one partition, whichever block they came from; each pairs with the bucket's first."""
    first = keys.groupby(["band", "key"]).row.min().rename("first").reset_index()
    paired = keys.merge(first, on=["band", "key"])
    return paired[paired["row"] != paired["first"]][["first", "row"]]


def band_keys(texts: list[str], rows: np.ndarray, n_rows: int, n_bands: int, *, keep_texts: bool = True) -> tuple:
    """Signatures of one partition's `texts` and its (band, key, row) table; `rows`: their global
    positions (increasing). Returns (signatures, table, rows, texts or [] without `keep_texts`)."""
    rows = np.asarray(rows, dtype=np.int64)
    signatures = np.concatenate(
        [segment._signatures(texts[i : i + segment._CHUNK]) for i in range(0, len(texts), segment._CHUNK)]
        or [np.empty((0, segment._BINS), dtype=np.uint64)]
    )
    has_shingles = np.flatnonzero(signatures[:, 0] != segment._EMPTY)
    weights = segment._mix(np.arange(1, n_rows + 1, dtype=np.uint64))
    frames = []
    with np.errstate(over="ignore"):
        for band in range(n_bands):
            key = (signatures[has_shingles, band * n_rows : (band + 1) * n_rows] * weights).sum(axis=1)
            frames.append(pd.DataFrame({"band": np.full(len(key), band, dtype=np.int64), "key": key,
                                        "row": rows[has_shingles]}))  # fmt: skip
    table = pd.concat(frames, ignore_index=True) if frames else BAND_META.copy()
    return signatures, table, rows, texts if keep_texts else []


def keys_of(part: tuple) -> pd.DataFrame:
    return part[1]


def signature_rows(part: tuple, wanted: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Signatures and texts of the partition's rows `wanted` (global positions)."""
    signatures, _, rows, texts = part
    at = np.searchsorted(rows, np.asarray(wanted))
    return signatures[at], [texts[i] for i in at.tolist()] if texts else []
