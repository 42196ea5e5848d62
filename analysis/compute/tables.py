"""Share tables on a cluster: per-(group, document, value) segment counts computed in partitions on
the workers and summed, then each group's bootstrap over documents run on a worker.

`analysis.tables.share_table` (and `theme_trends`) take the counter this module makes and do the
rest as in one process: the count matrices, the seeds and the bootstrap code are `analysis.tables`'
own (`doc_count_matrix`, `group_replicates`), and a group's documents keep the order of their first
segment, so the intervals are the single process's to the last digit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from analysis.compute.cluster import wait_all
from analysis.config import TableConfig
from analysis.tables import GroupCounter, doc_count_matrix, group_replicates, value_codes


def partition_counts(rows: pd.DataFrame, offset: int) -> pd.DataFrame:
    """On a worker: segments per (group, doc_id, value code) of one partition, with the position of
    the pair's first segment in the whole table (`offset` + its position here)."""
    frame = rows.assign(position=np.arange(offset, offset + len(rows), dtype=np.int64))
    return (
        frame.groupby(["group", "doc_id", "code"], sort=False)
        .agg(n=("position", "size"), first=("position", "min"))
        .reset_index()
    )


def reduce_counts(parts: list[pd.DataFrame], n_values: int) -> tuple[list[str], list[np.ndarray]]:
    """The partitions' counts summed (a document may span partitions); per group, sorted, its
    documents × values matrix with documents in the order of their first segment."""
    if not parts or not sum(len(p) for p in parts):
        return [], []
    pairs = (
        pd.concat(parts, ignore_index=True)
        .groupby(["group", "doc_id", "code"], sort=False)
        .agg(n=("n", "sum"), first=("first", "min"))
        .reset_index()
    )
    groups, counts = [], []
    for group, idx in sorted(pairs.groupby("group", sort=False).indices.items(), key=lambda kv: kv[0]):
        part = pairs.iloc[idx]
        doc_first = part.groupby("doc_id", sort=False)["first"].transform("min").to_numpy()
        doc_code = pd.factorize(doc_first, sort=True)[0]  # documents ranked by their first segment
        groups.append(group)
        counts.append(doc_count_matrix(doc_code, part["code"].to_numpy(), n_values,
                                       weights=part["n"].to_numpy(dtype=float)))  # fmt: skip
    return groups, counts


def partitioned_counter(client: Any, *, partition_size: int, progress: bool = True) -> GroupCounter:
    """A `share_table` counter that counts in partitions of `partition_size` segments on `client`'s
    workers and runs each group's bootstrap there."""

    def counter(
        rows: pd.DataFrame, values: list[Any], config: TableConfig
    ) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
        coded = pd.DataFrame({"group": rows["group"].to_numpy(), "doc_id": rows["doc_id"].to_numpy(),
                              "code": value_codes(rows["value"], values)})  # fmt: skip
        futures = [
            client.submit(partition_counts, client.scatter(coded.iloc[i : i + partition_size]), i, pure=False)
            for i in range(0, len(coded), partition_size)
        ]
        groups, counts = reduce_counts(wait_all(futures, "table counts", progress=progress), len(values))
        bootstraps = [
            client.submit(group_replicates, client.scatter(matrix), group, config, pure=False)
            for group, matrix in zip(groups, counts, strict=True)
        ]
        return groups, counts, wait_all(bootstraps, "bootstrap over documents", progress=progress)

    return counter
