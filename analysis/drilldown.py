"""Where a chart's cells come from: the articles behind each topic × source or source × theme cell.

Shares and trends are numbers; a reviewer asks which articles they rest on. These tables name, for
each cell, its documents with title, date and URL, and for each segment theme its most typical
segments per source, so every claim can be checked against the text.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from analysis.schema import is_original, require_columns
from analysis.tables import SEGMENTS_FIX


def theme_examples(segments: pd.DataFrame, *, n: int = 2, include_duplicates: bool = False) -> pd.DataFrame:
    """The `n` segments most typical of each segment theme in each source (highest `seg_theme_score`),
    with what a reader needs to go back to the article: title, date, source, URL, document id."""
    require_columns(segments, ["seg_theme", "seg_theme_score", "source", "doc_id", "text"], what="theme_examples", fix=SEGMENTS_FIX)
    frame = segments[segments["seg_theme"] != "other"]
    if not include_duplicates:
        frame = frame[is_original(frame)]
    frame = frame.sort_values(["seg_theme", "source", "seg_theme_score", "segment_id"],
                              ascending=[True, True, False, True])  # fmt: skip
    frame = frame.assign(rank=frame.groupby(["seg_theme", "source"]).cumcount() + 1)
    frame = frame[frame["rank"] <= n]
    columns = ["seg_theme", "source", "rank", "seg_theme_score", "seg_themes", "topic", "date", "title", "url",
               "doc_id", "segment_id", "text"]  # fmt: skip
    return frame[[c for c in columns if c in frame]].reset_index(drop=True)


def drilldown(segments: pd.DataFrame, by: Sequence[str], *, n_documents: int = 3) -> pd.DataFrame:
    """One row per combination of `by` (e.g. topic and source, or source and theme): segments,
    documents, first and last date, and its `n_documents` largest documents as
    "doc_id · date · title · url", so that every cell of a chart leads back to articles."""
    require_columns(segments, ["doc_id", "date", *by], what="drilldown", fix=SEGMENTS_FIX)
    rows = []
    extra = [c for c in ("topic_label", "theme") if c in segments and "topic" in by and c not in by]
    for key, part in segments.groupby(list(by), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        per_doc = part.groupby("doc_id", sort=False).agg(
            n=("doc_id", "size"), date=("date", "first"),
            title=("title", "first") if "title" in part else ("doc_id", "first"),
            url=("url", "first") if "url" in part else ("doc_id", "first"),
        )  # fmt: skip
        top = per_doc.sort_values(["n", "date"], ascending=[False, True]).head(n_documents)
        dates = pd.to_datetime(part["date"], errors="coerce")
        documents = [
            " · ".join(
                str(v) for v in (doc, str(row.date)[:10], row.title, row.url) if str(v) not in ("", "NaT")
            )
            for doc, row in top.iterrows()
        ]
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                **{c: part[c].iat[0] for c in extra},
                "n_segments": len(part),
                "n_documents": part["doc_id"].nunique(),
                "first_date": dates.min(),
                "last_date": dates.max(),
                "documents": documents,
            }
        )
    return pd.DataFrame(rows)
