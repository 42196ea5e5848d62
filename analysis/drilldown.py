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
    "doc_id · date · title · url", so that every cell of a chart leads back to articles.

    Grouped once over all cells (a loop over cells took 4 s on the 212-segment sample)."""
    require_columns(segments, ["doc_id", "date", *by], what="drilldown", fix=SEGMENTS_FIX)
    keys = list(by)
    extra = [c for c in ("topic_label", "theme") if c in segments and "topic" in by and c not in by]
    frame = segments.assign(
        _date=pd.to_datetime(segments["date"], errors="coerce"),
        _title=segments["title"] if "title" in segments else segments["doc_id"],
        _url=segments["url"] if "url" in segments else segments["doc_id"],
    )
    cells = frame.groupby(keys, sort=True)
    if cells.ngroups == 0:
        return pd.DataFrame()
    summary = cells.agg(n_segments=("doc_id", "size"), n_documents=("doc_id", "nunique"),
                        first_date=("_date", "min"), last_date=("_date", "max"))  # fmt: skip
    first_rows = cells.nth(0)[[*keys, *extra]].set_index(keys)  # each cell's first segment
    per_doc = frame.groupby([*keys, "doc_id"], sort=False).agg(
        n=("doc_id", "size"), date=("date", "first"), title=("_title", "first"), url=("_url", "first")
    ).reset_index()
    # a stable sort: documents tied on size and date keep their order of first appearance
    top = per_doc.sort_values(["n", "date"], ascending=[False, True]).groupby(keys, sort=False).head(n_documents)
    top = top.assign(
        line=[
            " · ".join(str(v) for v in (doc, str(date)[:10], title, url) if str(v) not in ("", "NaT"))
            for doc, date, title, url in zip(top["doc_id"], top["date"], top["title"], top["url"], strict=True)
        ]
    )
    documents = top.groupby(keys, sort=False)["line"].agg(list)
    rows = []
    for key, row in summary.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        index = key if len(keys) > 1 else key[0]
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                **{c: first_rows.loc[index, c] for c in extra},
                "n_segments": int(row["n_segments"]),
                "n_documents": int(row["n_documents"]),
                "first_date": row["first_date"],
                "last_date": row["last_date"],
                "documents": documents.loc[index],
            }
        )
    return pd.DataFrame(rows)
