"""The scaling benchmark's replicated corpus below the base corpus's size keeps duplicates' originals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.scaling_dask import head_with_originals, replicate


def test_a_sample_below_the_base_size_keeps_every_kept_duplicates_original() -> None:
    # s0 and s3 repeat s4 (after them in the table), s2 repeats s1
    segments = pd.DataFrame({
        "doc_id": [f"d{i}" for i in range(6)], "segment_index": 0, "text": [f"text {i}" for i in range(6)],
        "segment_id": [f"s{i}" for i in range(6)], "duplicate_of": ["s4", "", "s1", "s4", "", ""],
    })  # fmt: skip
    assert head_with_originals(segments, 2).tolist() == [1, 2]  # not s0 without s4
    assert head_with_originals(segments, 3).tolist() == [1, 2, 4]  # s1, its duplicate s2, then s4
    for n in range(1, 7):
        rows = head_with_originals(segments, n)
        kept = segments.iloc[rows]
        assert len(kept) == n and (np.diff(rows) > 0).all()
        targets = set(kept["duplicate_of"]) - {""}
        assert targets <= set(kept["segment_id"])
    replicated, vectors = replicate(segments, np.eye(6, dtype=np.float32), 4)
    assert replicated["segment_id"].tolist() == ["s0", "s1", "s2", "s4"]
    assert np.allclose(vectors, np.eye(6, dtype=np.float32)[[0, 1, 2, 4]])
