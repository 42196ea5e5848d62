"""The scaling benchmark's replicated corpus below the base corpus's size keeps duplicates' originals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.scaling_dask import replicate, sample_with_originals


def test_a_sample_below_the_base_size_keeps_every_kept_duplicates_original() -> None:
    # s0 and s3 repeat s4 (after them in the table), s2 repeats s1
    segments = pd.DataFrame({
        "doc_id": [f"d{i}" for i in range(8)], "segment_index": 0, "text": [f"text {i}" for i in range(8)],
        "segment_id": [f"s{i}" for i in range(8)], "duplicate_of": ["s4", "", "s1", "s4", "", "", "", ""],
    })  # fmt: skip
    samples = set()
    for seed in range(20):
        for n in range(1, 9):
            rows = sample_with_originals(segments, n, seed=seed)
            kept = segments.iloc[rows]
            assert len(kept) == n and (np.diff(rows) > 0).all()
            assert set(kept["duplicate_of"]) - {""} <= set(kept["segment_id"])
            samples.add(tuple(rows))
        assert sample_with_originals(segments, 3, seed=seed).tolist() == sample_with_originals(segments, 3, seed=seed).tolist()
    assert (0,) not in samples and (2,) not in samples  # a duplicate never comes alone
    assert len({s for s in samples if len(s) == 2}) > 2  # random, not the head of the table
    replicated, vectors = replicate(segments, np.eye(8, dtype=np.float32), 5)
    rows = sample_with_originals(segments, 5)
    assert replicated["segment_id"].tolist() == segments["segment_id"].iloc[rows].tolist()
    assert np.allclose(vectors, np.eye(8, dtype=np.float32)[rows])
