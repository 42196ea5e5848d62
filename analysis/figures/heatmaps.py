"""Heatmap renderers: the corpus overview, theme shares by group, topic similarity.

Each takes a table from `analysis.tables` and an optional axes and returns `(fig, ax)`; none saves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from analysis.figures.style import (
    annotate_cells,
    figure_and_axes,
    report_style,
    require,
    short_label,
    wrap,
)

OTHER = "other"  # the themes' catch-all: shown, but kept out of the colour scale
SMALL_GROUPS = "other {by}"  # the column that pools groups with too few documents


def plot_corpus_overview(
    counts: pd.DataFrame, *, ax: Axes | None = None, value: str = "n_documents"
) -> tuple[Figure, Axes]:
    """Heatmap of documents per source × language (rows) and period (columns), from `corpus_counts`.

    Every cell prints its count; the colour scale is logarithmic so that 20 and 400 documents look
    different (on a linear scale one busy month makes every other cell the same colour). Empty cells
    stay white, so gaps in the collection show; "undated" is the last column.
    """
    require(counts, ["period", "source", "language", value], "plot_corpus_overview")
    counts = counts.assign(row=counts["source"].astype(str) + " · " + counts["language"].astype(str))
    grid = counts.pivot_table(index="row", columns="period", values=value, aggfunc="sum", fill_value=0)
    columns = sorted((c for c in grid.columns if c != "undated"), key=str)
    grid = grid[columns + (["undated"] if "undated" in grid.columns else [])]
    fig, ax = figure_and_axes(ax, height=1.6 + 0.34 * len(grid))
    with report_style():
        masked = np.ma.masked_equal(grid.to_numpy(dtype=float), 0)
        top = float(masked.max()) if masked.count() else 1.0
        norm = LogNorm(vmin=1, vmax=max(top, 10.0))
        image = ax.imshow(masked, aspect="auto", cmap="cividis_r", norm=norm, interpolation="nearest")
        ax.set_yticks(range(len(grid)), grid.index)
        step = max(1, int(np.ceil(len(grid.columns) / 30)))
        ax.set_xticks(range(0, len(grid.columns), step), list(grid.columns)[::step], rotation=90)
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
        narrow = len(grid.columns) > 14  # counts turn sideways to fit narrow cells
        text = [[f"{v:.0f}" if v else "" for v in row] for row in masked.filled(0)]
        for (i, j), label in np.ndenumerate(np.array(text, dtype=object)):
            if label:
                r, g, b, _ = image.cmap(norm(masked[i, j]))
                dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
                ax.text(j, i, label, ha="center", va="center", color="white" if dark else "black",
                        fontsize=5.5 if narrow else 7.5, rotation=90 if narrow else 0)  # fmt: skip
        label = "documents" if value == "n_documents" else value.replace("_", " ")
        fig.colorbar(image, ax=ax, label=f"{label} (log scale)", shrink=0.8, pad=0.01)
        ax.set_xlabel("period")
        ax.set_title(f"Corpus: {label} by source · language and period", loc="left")
    return fig, ax


def plot_share_heatmap(
    shares: pd.DataFrame,
    *,
    ax: Axes | None = None,
    row_labels: Mapping[Any, str] | None = None,
    row_order: Sequence[Any] | None = None,
    max_rows: int = 20,
    min_documents: int | None = None,
    intervals: bool = True,
) -> tuple[Figure, Axes]:
    """Heatmap of a `share_table`: rows are themes (or topics), columns the groups, cells annotated.

    Each cell shows the share, its interval and the number of segments. The "other" row is drawn in
    grey outside the colour scale (it is often half the corpus and would make every real theme look
    alike). `row_order` (the codebook's keys) keeps themes without any segment as empty rows;
    `row_labels` names them. Groups with fewer than `min_documents` documents (default: the table's
    `min_docs_per_cell`) are pooled into one "other <group>" column, without an interval, and their
    names and counts are listed under the axis.
    """
    unit = shares.columns[1]
    require(shares, ["group", unit, "share", "ci_low", "ci_high", "n_segments"], "plot_share_heatmap")
    by = shares.attrs.get("by", "group")
    documents = dict(shares.attrs.get("group_documents", {}))
    if not documents:
        documents = shares.groupby("group")["n_documents"].max().to_dict()
    minimum = int(min_documents if min_documents is not None else shares.attrs.get("min_docs_per_cell", 5))
    groups = list(pd.unique(shares["group"]))
    small = [g for g in groups if documents.get(g, minimum) < minimum]
    if len(small) == len(groups):  # nothing to compare against: keep them all, flagged
        small = []
    kept = [g for g in groups if g not in small]
    pivot = {c: shares.pivot_table(index=unit, columns="group", values=c, aggfunc="first")
             for c in ("share", "ci_low", "ci_high", "n_segments")}  # fmt: skip
    values_present = list(pd.unique(shares[unit]))
    order = [v for v in (row_order or []) if v != OTHER] + [
        v for v in values_present if v not in set(row_order or []) and v != OTHER
    ]
    mean_share = shares.groupby(unit)["share"].mean()
    if len(order) > max_rows:  # the largest rows, kept in their given order
        keep = set(mean_share.reindex(order).fillna(0).nlargest(max_rows).index)
        order = [v for v in order if v in keep]
    has_other = OTHER in values_present
    rows = order + ([OTHER] if has_other else [])

    def grid(name: str) -> np.ndarray:
        table = pivot[name].reindex(index=rows, columns=kept)
        return table.to_numpy(dtype=float)

    share, low, high, count = grid("share"), grid("ci_low"), grid("ci_high"), grid("n_segments")
    column_labels = [wrap(str(g), 14, max_lines=2) + f"\n({documents.get(g, '?')} docs)" for g in kept]
    if small:  # pooled: segments of each row over all segments of the small groups
        pooled = pivot["n_segments"].reindex(index=values_present, columns=small).fillna(0)
        totals = pooled.sum(axis=0).sum()
        pooled_count = pooled.sum(axis=1).reindex(rows).to_numpy(dtype=float)
        pooled_share = pooled_count / totals if totals else np.full(len(rows), np.nan)
        share = np.column_stack([share, pooled_share])
        low = np.column_stack([low, np.full(len(rows), np.nan)])
        high = np.column_stack([high, np.full(len(rows), np.nan)])
        count = np.column_stack([count, pooled_count])
        n_small = sum(int(documents.get(g, 0)) for g in small)
        column_labels.append(wrap(SMALL_GROUPS.format(by=_plural(by)), 16) + f"\n({n_small} docs)")
    labels = [wrap((row_labels or {}).get(v, str(v)), 28) for v in rows]
    height = 1.5 + (0.42 if intervals else 0.3) * len(rows)
    fig, ax = figure_and_axes(ax, height=height)
    with report_style():
        scaled = np.ma.masked_invalid(share.copy())
        if has_other:
            scaled[-1, :] = np.ma.masked
        finite = scaled.compressed()
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        cmap = _cmap_with_bad("cividis")
        image = ax.imshow(scaled, aspect="auto", cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
        text = []
        for i in range(len(rows)):
            line = []
            for j in range(share.shape[1]):
                if not np.isfinite(share[i, j]):
                    line.append("—")
                    continue
                cell = _percent(share[i, j])
                if intervals and np.isfinite(low[i, j]):
                    cell += f"\n{_percent(low[i, j])}–{_percent(high[i, j])}"
                cell += f"\nn={count[i, j]:.0f}" if np.isfinite(count[i, j]) else ""
                line.append(cell)
            text.append(line)
        annotate_cells(ax, image, np.where(np.ma.getmaskarray(scaled), np.nan, share), text, fontsize=7)
        for i, j in zip(*np.nonzero(np.ma.getmaskarray(scaled)), strict=True):  # other row, empty rows
            ax.text(j, i, text[i][j], ha="center", va="center", fontsize=7, color="#555555", linespacing=1.1)
        if has_other:
            ax.axhline(len(rows) - 1.5, color="white", linewidth=3)
        ax.set_yticks(range(len(rows)), labels)
        ax.set_xticks(range(share.shape[1]), column_labels)
        ax.tick_params(length=0)
        ax.xaxis.tick_top()
        ax.spines[:].set_visible(False)
        confidence = shares.attrs.get("confidence", 0.95)
        note = f"share of the group's segments, {confidence:.0%} interval (bootstrap over documents), n segments"
        if has_other:
            note += f'\ngrey: "{OTHER}" (no theme), left out of the colour scale'
        if small:
            listed = ", ".join(f"{g} ({documents.get(g, '?')})" for g in small)
            note += f"\n{_plural(by)} with fewer than {minimum} documents pooled, no interval: {wrap(listed, 80, 2)}"
        ax.set_xlabel(note)
        top = float(np.nanmax(image.get_array())) if np.size(image.get_array()) else 0.0
        # one decimal under 10 %: whole percents label a 0-5 % scale "0%, 0%, 1%, 2%, 2%"
        fig.colorbar(image, ax=ax, format=PercentFormatter(1.0, decimals=1 if top < 0.1 else 0), shrink=0.8, pad=0.01)
        ax.set_title(f"{str(unit).capitalize()} by {by}", loc="left")
    return fig, ax


def plot_topic_similarity(
    similarity: pd.DataFrame, *, ax: Axes | None = None, annotate: bool | None = None
) -> tuple[Figure, Axes]:
    """Heatmap of a square topic × topic cosine similarity (from `tables.topic_similarity`).

    Rows keep the table's order (hierarchical clustering), so near-duplicate topics form bright
    blocks on the diagonal. Row labels shrink with the number of topics and are cut to one line, so
    that at 60 topics they still do not overprint; columns carry only the topic ids.
    """
    if similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"plot_topic_similarity needs a square table, got shape {similarity.shape}")
    n = len(similarity)
    fontsize = 8 if n <= 25 else (6.5 if n <= 45 else 5.5)
    row_height = fontsize / 72 * 1.45  # inches per row: one line of text with its leading
    labels = [short_label(label, 48 if n > 25 else 36) for label in similarity.index]
    fig, ax = figure_and_axes(ax, height=1.6 + row_height * n)
    with report_style():
        values = similarity.to_numpy(dtype=float)
        image = ax.imshow(values, cmap="cividis", vmin=min(0.0, np.nanmin(values)), vmax=1, aspect="auto",
                          interpolation="nearest")  # fmt: skip
        ids = [str(label).split(" · ")[0] for label in similarity.index]
        if not all(i.lstrip("-").isdigit() for i in ids):  # labels do not start with their topic id
            ids = [str(i + 1) for i in range(n)]
            labels = [f"{i + 1}. {label}" for i, label in enumerate(labels)]
        ax.set_xticks(range(n), ids, fontsize=fontsize, rotation=90 if n > 25 else 0)
        ax.set_yticks(range(n), labels, fontsize=fontsize)
        ax.set_xlabel("topic")
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
        if annotate if annotate is not None else n <= 12:
            annotate_cells(ax, image, values, [[f"{v:.2f}" for v in row] for row in values])
        fig.colorbar(image, ax=ax, label="cosine similarity", shrink=0.6, pad=0.01)
        ax.set_title(f"Topic similarity: {n} largest topics, ordered by hierarchical clustering", loc="left")
    return fig, ax


def _percent(value: float) -> str:
    """12 %, but 4.4 % under 10 %: whole percents would print "5%–5%" for a tight interval."""
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def _cmap_with_bad(name: str):
    import matplotlib as mpl

    return mpl.colormaps[name].with_extremes(bad="#EEEEEE")


def _plural(by: str) -> str:
    return {"language": "languages", "source": "sources", "period": "periods"}.get(str(by), f"{by} groups")
