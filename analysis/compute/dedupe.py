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

        rows, bands = segment._lsh_shape(threshold)
        starts = list(range(0, len(texts), partition_size))
        parts = [
            client.submit(_band_keys, list(texts[s : s + partition_size]), s, rows, bands, pure=False)
            for s in starts
        ]
        wait_all(parts, "near duplicates: signatures", progress=progress)
        keys = dd.from_delayed(
            [client.submit(_keys_of, p) for p in parts],
            meta=pd.DataFrame({"band": pd.Series(dtype="int64"), "key": pd.Series(dtype="uint64"),
                               "row": pd.Series(dtype="int64")}),
        )
        # the shuffle: rows with the same (band, key) meet in one partition, whichever block they came from
        first = keys.groupby(["band", "key"]).row.min().rename("first").reset_index()
        paired = keys.merge(first, on=["band", "key"])
        paired = paired[paired["row"] != paired["first"]][["first", "row"]]
        candidates = client.compute(paired).result().to_numpy(dtype=np.int64)
        if len(candidates) == 0:
            return np.empty((0, 2), dtype=np.int64)
        candidates = np.unique(candidates, axis=0)
        wanted = np.unique(candidates)
        block_of = np.searchsorted(np.asarray(starts), wanted, side="right") - 1
        fetched = [
            client.submit(_signature_rows, parts[b], wanted[block_of == b], pure=False)
            for b in np.unique(block_of)
        ]
        signatures = np.concatenate(wait_all(fetched, "near duplicates: pairs", progress=progress))
        position = {int(r): i for i, r in enumerate(wanted.tolist())}
        left = signatures[[position[int(r)] for r in candidates[:, 0]]]
        right = signatures[[position[int(r)] for r in candidates[:, 1]]]
        estimate = (left == right).mean(axis=1)
        accepted = estimate >= threshold
        for k in np.flatnonzero(np.abs(estimate - threshold) < segment._EXACT_MARGIN):
            accepted[k] = segment._jaccard(texts[candidates[k, 0]], texts[candidates[k, 1]]) >= threshold
        return candidates[accepted]

    return near_pairs


def _band_keys(texts: list[str], offset: int, rows: int, bands: int) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Signatures of one partition, and its (band, key, row) table; rows are global positions."""
    signatures = np.concatenate(
        [segment._signatures(texts[i : i + segment._CHUNK]) for i in range(0, len(texts), segment._CHUNK)]
        or [np.empty((0, segment._BINS), dtype=np.uint64)]
    )
    has_shingles = np.flatnonzero(signatures[:, 0] != segment._EMPTY)
    weights = segment._mix(np.arange(1, rows + 1, dtype=np.uint64))
    frames = []
    with np.errstate(over="ignore"):
        for band in range(bands):
            key = (signatures[has_shingles, band * rows : (band + 1) * rows] * weights).sum(axis=1)
            frames.append(pd.DataFrame({"band": np.full(len(key), band, dtype=np.int64), "key": key,
                                        "row": has_shingles.astype(np.int64) + offset}))  # fmt: skip
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["band", "key", "row"])
    return signatures, table, np.arange(offset, offset + len(texts))


def _keys_of(part: tuple[np.ndarray, pd.DataFrame, np.ndarray]) -> pd.DataFrame:
    return part[1]


def _signature_rows(part: tuple[np.ndarray, pd.DataFrame, np.ndarray], wanted: np.ndarray) -> np.ndarray:
    signatures, _, rows = part
    return signatures[np.asarray(wanted) - rows[0]]
