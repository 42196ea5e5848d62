"""The one JSON writer: strict JSON whatever a stage hands it (NaN, numpy scalars, paths, dates)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.jsonio import dumps_json, json_safe, write_json


def _strict(text: str):
    def refuse(constant: str):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_undefined_numbers_become_null_and_numpy_values_plain_json(tmp_path):
    value = {
        "npmi": float("nan"),
        "per_topic": [0.5, math.inf, -math.inf, np.float64("nan"), np.float32(0.25)],
        "n": np.int64(7),
        "flag": np.bool_(True),
        "vector": np.array([1.0, np.nan]),
        "when": dt.date(2024, 5, 7),
        "stamp": pd.Timestamp("2024-05-07 10:00"),
        "where": Path("runs/x"),
        "codes": ("ar", "fr"),
        3: "int key",
    }
    path = write_json(tmp_path / "out.json", value)
    parsed = _strict(path.read_text(encoding="utf-8"))
    assert parsed == {
        "npmi": None,
        "per_topic": [0.5, None, None, None, 0.25],
        "n": 7,
        "flag": True,
        "vector": [1.0, None],
        "when": "2024-05-07",
        "stamp": "2024-05-07 10:00:00",
        "where": "runs/x",
        "codes": ["ar", "fr"],
        "3": "int key",
    }
    assert not list(tmp_path.glob(".*.tmp"))  # the scratch file was renamed into place


def test_plain_json_dumps_would_not_parse_strictly_and_ours_does():
    with pytest.raises(ValueError, match="not JSON: NaN"):
        _strict(json.dumps({"npmi": float("nan")}))
    assert _strict(dumps_json({"npmi": float("nan")})) == {"npmi": None}
    assert json_safe({"text": "مراكز البيانات"}) == {"text": "مراكز البيانات"}
    assert "مراكز" in dumps_json({"text": "مراكز البيانات"})  # written as is, not \\u escapes
