"""The segment table's and the ledger's columns, and the two checks every stage makes on them.

Defined once here, left of every stage: which columns a table must have (`require_columns`, one
error type for all stages) and which segments are originals (`is_original`: `duplicate_of` empty),
the segments that are fitted, counted once and embedded.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

SEGMENT_COLUMNS = (
    "doc_id", "segment_id", "segment_index", "text", "char_start", "char_end", "language",
    "doc_language", "darija", "script", "source", "date", "date_precision", "date_raw", "title", "url",
    "origin", "duplicate_of",
)  # fmt: skip
LEDGER_COLUMNS = ("doc_id", "origin", "kind", "status", "reason", "detail", "n_segments")


class MissingColumnsError(KeyError, ValueError):
    """A table lacks columns a stage needs; the message names them, the columns it has, and the fix.

    A KeyError (a column looked up and absent) and a ValueError (bad input), so that callers written
    against either keep working.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str, fix: str = "") -> None:
    """Raise MissingColumnsError when `frame` lacks any of `columns`; `what` names the table or step."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise MissingColumnsError(
            f"{what}: missing column(s) {missing}; it has {list(frame.columns)}" + (f". {fix}" if fix else "")
        )


def is_original(segments: pd.DataFrame) -> pd.Series:
    """True for a segment that duplicates no other (`duplicate_of` empty or missing), by row.

    Duplicates are not fitted and, unless asked, not counted twice; a table without the column
    (built by hand) holds only originals.
    """
    if "duplicate_of" not in segments.columns:
        return pd.Series(True, index=segments.index)
    return segments["duplicate_of"].fillna("").astype(str) == ""
