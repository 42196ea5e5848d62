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

        n_rows, n_bands = segment._lsh_shape(threshold)
        starts = list(range(0, len(texts), partition_size))
        parts = [
            client.submit(band_keys, list(texts[s : s + partition_size]), np.arange(s, min(s + partition_size, len(texts))),
                          n_rows, n_bands, pure=False)
            for s in starts
        ]  # fmt: skip
        candidates = candidate_rows(client, parts, progress=progress)
        if len(candidates) == 0:
            return candidates
        wanted = np.unique(candidates)
        block_of = np.searchsorted(np.asarray(starts), wanted, side="right") - 1
        fetched = [
            client.submit(signature_rows, parts[b], wanted[block_of == b], pure=False)
            for b in np.unique(block_of)
        ]
        signatures = np.concatenate([f[0] for f in wait_all(fetched, "near duplicates: pairs", progress=progress)])
        return accepted_pairs(
            candidates, wanted, signatures, threshold, lambda rows: {int(r): texts[int(r)] for r in rows}
        )

    return near_pairs


BAND_META = pd.DataFrame({"band": pd.Series(dtype="int64"), "key": pd.Series(dtype="uint64"),
                          "row": pd.Series(dtype="int64")})  # fmt: skip


def candidate_rows(client: Any, bands: list[Any], *, progress: bool) -> np.ndarray:
    """The distinct (first, row) candidate pairs of the partitions' band tables `bands` (futures of
    `band_keys`), grouped by one shuffle on the band key; an empty (0, 2) array when there are none."""
    import dask.dataframe as dd

    wait_all(bands, "near duplicates: signatures", progress=progress)
    keys = dd.from_delayed([client.submit(keys_of, b) for b in bands], meta=BAND_META, verify_meta=False)
    candidates = client.compute(candidate_pairs(keys)).result().to_numpy(dtype=np.int64)
    if len(candidates) == 0:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(candidates, axis=0)


_PAIR_CHUNK = 32_768  # candidate pairs compared at a time


def accepted_pairs(
    candidates: np.ndarray,
    wanted: np.ndarray,
    signatures: np.ndarray,
    threshold: float,
    texts_of: Callable[[np.ndarray], dict[int, str]],
) -> np.ndarray:
    """The candidate pairs whose estimated Jaccard similarity reaches `threshold`, as
    `analysis.segment._near_pairs` decides: `signatures` are those of `wanted` (the sorted distinct
    rows of `candidates`); pairs within `segment._EXACT_MARGIN` of the threshold are checked exactly on
    the texts `texts_of(rows)` returns, fetched for those rows only."""
    left, right = np.searchsorted(wanted, candidates[:, 0]), np.searchsorted(wanted, candidates[:, 1])
    # in chunks: comparing the signatures of every pair at once held two pairs × bins matrices (about
    # 2 KB per candidate pair: the client's peak at 100k segments was this step)
    estimate = np.concatenate(
        [(signatures[left[i : i + _PAIR_CHUNK]] == signatures[right[i : i + _PAIR_CHUNK]]).mean(axis=1)
         for i in range(0, len(left), _PAIR_CHUNK)] or [np.empty(0)]
    )  # fmt: skip
    accepted = estimate >= threshold
    borderline = np.flatnonzero(np.abs(estimate - threshold) < segment._EXACT_MARGIN)
    if len(borderline):
        texts = texts_of(np.unique(candidates[borderline]))
        for k in borderline:
            accepted[k] = segment._jaccard(texts[int(candidates[k, 0])], texts[int(candidates[k, 1])]) >= threshold
    return candidates[accepted]


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
