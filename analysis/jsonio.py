"""The one JSON writer of the package: strict JSON (NaN and infinities as null), written atomically.

Python's `json` writes NaN as the bare word `NaN`, which strict parsers (browsers, `jq`, most
languages) refuse, so one undefined metric made a whole manifest unreadable. Every JSON file the
pipeline writes goes through `write_json`, which turns what JSON cannot hold into what it can and
then refuses NaN (`allow_nan=False`), so a value that slips through fails here, not in a reader.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """`value` with plain JSON types only: NaN/±inf → None, numpy scalars and arrays → Python, paths and
    dates → str, tuples and sets → lists; anything else unknown → its repr."""
    if value is None or (isinstance(value, (bool, str, int)) and not isinstance(value, np.generic)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return json_safe(float(value))
    if isinstance(value, (Path, dt.date)):  # pandas Timestamps are datetimes
        return str(value)
    return repr(value)


def dumps_json(value: Any, *, indent: int | None = 2) -> str:
    """Strict JSON text of `value` (see `json_safe`); non-ASCII kept as written."""
    return json.dumps(json_safe(value), indent=indent, ensure_ascii=False, allow_nan=False)


def write_json(path: str | Path, value: Any) -> Path:
    """Write `value` as strict JSON to `path` through a scratch file, so it is never half written."""
    path = Path(path)
    scratch = path.with_name(f".{path.name}.tmp")
    scratch.write_text(dumps_json(value) + "\n", encoding="utf-8")
    scratch.replace(path)
    return path
