"""Report figures: renderers that draw tables onto axes, and one function that saves every format.

Two layers, as in datamapplot: renderers `plot_*(table, *, ax=None, ...) -> (fig, ax)` draw one
table and never save or show; `figure_*` functions lay out small multiples of a renderer. Only
`save_figure` writes files, and it adds the footer (corpus, segments, encoder, run date) so that a
figure pasted into a paper still says where it came from, and a loud note when the encoder was the
fallback encoder. Figures are sized for a 6.5-inch page with text of at least 8 pt, use
colour-blind-safe colours (Okabe–Ito, cividis), and draw Arabic with DejaVu Sans, which has Arabic
and Tifinagh glyphs; matplotlib ≥ 3.11 shapes Arabic and lays it right to left itself, so labels
are passed as they are (the old arabic_reshaper + python-bidi trick would now reverse them).
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

PAGE_WIDTH = 6.5  # inches: a report page's text width; figures are drawn at 100 % of it
FONT = "DejaVu Sans"
# Okabe & Ito (2008), without black: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442")
# Paul Tol's "muted" set, also colour-blind safe, for maps with more topics than Okabe–Ito has colours.
TOL_MUTED = (
    "#CC6677",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
)
OUTLIER_GREY = "#C8C8C8"
FORMATS = ("png", "svg", "pdf")
STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.constrained_layout.use": True,
    "svg.fonttype": "path",  # glyph outlines: the SVG looks the same without the font installed
    "pdf.fonttype": 42,
}


@contextmanager
def report_style() -> Iterator[None]:
    """The rcParams every figure of this module is drawn and saved with."""
    with mpl.rc_context(STYLE):
        yield


@dataclass(frozen=True)
class FigureFooter:
    """What every saved figure states about its origin; `encoder` is a name or an encoder identity dict."""

    corpus: str
    n_segments: int
    encoder: str | Mapping[str, Any]
    run_date: str

    @property
    def encoder_name(self) -> str:
        if isinstance(self.encoder, Mapping):
            return str(
                self.encoder.get("name") or self.encoder.get("model") or self.encoder.get("kind") or "?"
            )
        return str(self.encoder)

    @property
    def fallback_reason(self) -> str:
        """Why a fallback encoder stood in for the requested one, or "" when the requested encoder ran."""
        return encoder_fallback_reason(self.encoder)

    def lines(self) -> list[str]:
        text = (
            f"Corpus: {self.corpus} · {self.n_segments:,} segments · encoder: {self.encoder_name} · "
            f"run {self.run_date}"
        )
        lines = textwrap.wrap(text, 110)
        if self.fallback_reason:
            requested = self.encoder.get("requested_model", "") if isinstance(self.encoder, Mapping) else ""
            lines += textwrap.wrap(
                "FALLBACK ENCODER: "
                + (
                    f"{requested} could not be loaded, so "
                    if requested
                    else "the requested model could not be loaded, so "
                )
                + f"topics rest on {self.encoder_name} instead; compare before citing them"
                " (the reason is in manifest.json).",
                100,
            )
        return lines


def encoder_fallback_reason(encoder: str | Mapping[str, Any] | None) -> str:
    """Why an encoder identity records a fallback for the requested model ("" if it records none).

    Read from the identity's `fallback_reason` field, never guessed from the encoder's name."""
    if isinstance(encoder, Mapping):
        return str(encoder.get("fallback_reason") or "")
    return ""


def save_figure(
    fig: Figure,
    stem: str | Path,
    *,
    footer: FigureFooter,
    formats: Sequence[str] = FORMATS,
    dpi: int = 200,
) -> list[Path]:
    """Write `fig` as `stem.<format>` for each format, with the footer below it; closes the figure.

    The footer goes under the figure's own area and `bbox_inches="tight"` grows the saved image to
    include it, so it never covers an axis label. Dates are left out of SVG and PDF metadata so that
    a rerun writes identical files.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format(s) {unknown}; valid: {', '.join(FORMATS)}")
    if dpi < 72:
        raise ValueError(f"dpi = {dpi} is too low for a report figure; use 200 or more")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    lines = footer.lines()
    with report_style():
        fig.text(0.005, -0.01, lines[0], ha="left", va="top", fontsize=8, color="#444444")
        if len(lines) > 1:
            fig.text(0.005, -0.01 - 0.14 / fig.get_figheight(), "\n".join(lines[1:]), ha="left", va="top",
                     fontsize=8.5, color="#B00020", fontweight="bold")  # fmt: skip
        paths = []
        metadata = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.08, metadata=metadata[fmt],
                        facecolor="white")  # fmt: skip
            paths.append(path)
    plt.close(fig)
    return paths


# --- renderers ---------------------------------------------------------------------------------------


def plot_corpus_overview(
    counts: pd.DataFrame, *, ax: Axes | None = None, value: str = "n_documents"
) -> tuple[Figure, Axes]:
    """Heatmap of documents per source × language (rows) and period (columns), from `corpus_counts`.

    Empty cells stay white, so gaps in the collection show; "undated" is the last column.
    """
    _require(counts, ["period", "source", "language", value], "plot_corpus_overview")
    counts = counts.assign(row=counts["source"].astype(str) + " · " + counts["language"].astype(str))
    grid = counts.pivot_table(index="row", columns="period", values=value, aggfunc="sum", fill_value=0)
    columns = sorted((c for c in grid.columns if c != "undated"), key=str)
    grid = grid[columns + (["undated"] if "undated" in grid.columns else [])]
    fig, ax = _figure_and_axes(ax, height=1.4 + 0.24 * len(grid))
    with report_style():
        masked = np.ma.masked_equal(grid.to_numpy(dtype=float), 0)
        image = ax.imshow(masked, aspect="auto", cmap="cividis_r", interpolation="nearest")
        ax.set_yticks(range(len(grid)), grid.index)
        step = max(1, int(np.ceil(len(grid.columns) / 30)))
        ax.set_xticks(range(0, len(grid.columns), step), list(grid.columns)[::step], rotation=90)
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
        if len(grid.columns) <= 14:
            _annotate_cells(
                ax, image, masked, [[f"{v:.0f}" if v else "" for v in row] for row in masked.filled(0)]
            )
        label = "documents" if value == "n_documents" else value.replace("_", " ")
        colorbar = fig.colorbar(image, ax=ax, label=label, shrink=0.8, pad=0.01)
        colorbar.locator = MaxNLocator(integer=True)  # counts of documents are whole numbers
        colorbar.update_ticks()
        ax.set_xlabel("period")
        ax.set_title(f"Corpus: {label} by source · language and period")
    return fig, ax


def plot_share_heatmap(
    shares: pd.DataFrame,
    *,
    ax: Axes | None = None,
    row_labels: Mapping[Any, str] | None = None,
    max_rows: int = 20,
    intervals: bool = True,
) -> tuple[Figure, Axes]:
    """Heatmap of a `share_table`: rows are themes (or topics), columns the groups, cells annotated.

    Each cell shows the share and, with `intervals`, its interval on a second line. Columns of groups
    with too few documents (`small_cell`) are marked with an asterisk explained under the axis.
    """
    unit = shares.columns[1]
    _require(shares, ["group", unit, "share", "ci_low", "ci_high", "small_cell"], "plot_share_heatmap")
    keep = shares.groupby(unit)["share"].mean().nlargest(max_rows).index
    shares = shares[shares[unit].isin(keep)]
    order = [v for v in pd.unique(shares[unit]) if v in set(keep)]
    groups = list(pd.unique(shares["group"]))
    pivot = {c: shares.pivot(index=unit, columns="group", values=c).loc[order, groups]
             for c in ("share", "ci_low", "ci_high")}  # fmt: skip
    small = shares.groupby("group")["small_cell"].first().loc[groups]
    documents = shares.attrs.get("group_documents", {})
    column_labels = [
        _wrap(f"{g}{'*' if small[g] else ''}", 14, max_lines=3)
        + (f"\n({documents[g]} docs)" if g in documents else "")
        for g in groups
    ]
    labels = [_wrap((row_labels or {}).get(v, str(v)), 28) for v in order]
    height = 1.3 + (0.34 if intervals else 0.24) * len(order)
    fig, ax = _figure_and_axes(ax, height=height)
    with report_style():
        values = pivot["share"].to_numpy(dtype=float)
        image = ax.imshow(values, aspect="auto", cmap="cividis", vmin=0, interpolation="nearest")
        text = [
            [
                f"{s:.0%}" + (f"\n{lo:.0%}–{hi:.0%}" if intervals else "")
                for s, lo, hi in zip(srow, lrow, hrow, strict=True)
            ]
            for srow, lrow, hrow in zip(
                values, pivot["ci_low"].to_numpy(), pivot["ci_high"].to_numpy(), strict=True
            )
        ]
        _annotate_cells(ax, image, values, text)
        ax.set_yticks(range(len(order)), labels)
        ax.set_xticks(range(len(groups)), column_labels)
        ax.tick_params(length=0)
        ax.xaxis.tick_top()
        ax.spines[:].set_visible(False)
        by = shares.attrs.get("by", "group")
        confidence = shares.attrs.get("confidence", 0.95)
        note = f"share of segments ({confidence:.0%} interval, bootstrap over documents)"
        if small.any():
            minimum = shares.attrs.get("min_docs_per_cell", "the minimum number of")
            note += f"\n* fewer than {minimum} documents: compare with care"
        ax.set_xlabel(note)
        fig.colorbar(image, ax=ax, format=PercentFormatter(1.0, decimals=0), shrink=0.8, pad=0.01)
        ax.set_title(f"{str(unit).capitalize()} by {by}", loc="left")
    return fig, ax


def plot_shares_over_time(
    period_shares: pd.DataFrame,
    *,
    ax: Axes | None = None,
    values: Sequence[Any] | None = None,
    trends: pd.DataFrame | None = None,
    colors: Sequence[str] = OKABE_ITO,
    legend: bool = True,
) -> tuple[Figure, Axes]:
    """Lines of period shares with their interval as a band, from `share_table(by="period")`.

    `values` picks the themes (default: the largest, at most as many as `colors`); with `trends`
    (from `theme_trends`) each legend entry gives the slope and its interval.
    """
    unit = period_shares.columns[1]
    _require(period_shares, ["group", unit, "share", "ci_low", "ci_high"], "plot_shares_over_time")
    if values is None:
        values = period_shares.groupby(unit)["share"].mean().nlargest(len(colors)).index.tolist()
    fig, ax = _figure_and_axes(ax, height=3.0)
    slopes = trends.set_index("theme") if trends is not None else None
    with report_style():
        for value, color in zip(values, _cycle(colors, len(values)), strict=True):
            rows = period_shares[period_shares[unit] == value]
            if rows.empty:
                raise KeyError(f"plot_shares_over_time: {unit} {value!r} is not in the table")
            dates = _period_starts(rows["group"])
            label = str(value)
            if (
                slopes is not None
                and value in slopes.index
                and np.isfinite(slopes.loc[value, "slope_per_year"])
            ):
                t = slopes.loc[value]
                label += f" ({_slope_text(t)})"
            ax.fill_between(dates, rows["ci_low"], rows["ci_high"], color=color, alpha=0.22, linewidth=0)
            ax.plot(dates, rows["share"], color=color, linewidth=1.6, marker="o", markersize=2.5, label=label)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(bottom=0)
        locator = mdates.AutoDateLocator(minticks=2, maxticks=5)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_ylabel("share of segments")
        ax.grid(axis="y", color="#E5E5E5", linewidth=0.6)
        if legend:
            ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig, ax


def plot_top_words(
    word_shares: pd.DataFrame,
    *,
    ax: Axes | None = None,
    topic: Any,
    language: str,
    color: str = OKABE_ITO[3],
    n_words: int = 8,
) -> tuple[Figure, Axes]:
    """Horizontal bars: the topic's words in one language, by the share of its segments using each.

    Input is `tables.topic_word_shares`. Arabic words are drawn as given: matplotlib shapes them.
    """
    _require(word_shares, ["topic", "language", "word", "segment_share"], "plot_top_words")
    rows = word_shares[(word_shares["topic"] == topic) & (word_shares["language"] == language)]
    rows = rows.nlargest(n_words, "segment_share").iloc[::-1]
    fig, ax = _figure_and_axes(ax, height=0.5 + 0.2 * max(len(rows), 1))
    with report_style():
        if rows.empty:
            ax.text(0.5, 0.5, f"no {language} segments", ha="center", va="center", transform=ax.transAxes,
                    color="#777777")  # fmt: skip
            ax.set_yticks([])
        else:
            ax.barh(range(len(rows)), rows["segment_share"], color=color, height=0.7)
            # One line per label: a two-line label overlaps the next bar.
            ax.set_yticks(range(len(rows)), [_wrap(str(w), 26, max_lines=1) for w in rows["word"]])
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ax.tick_params(axis="y", length=0)
    return fig, ax


def plot_topic_similarity(
    similarity: pd.DataFrame, *, ax: Axes | None = None, annotate: bool | None = None
) -> tuple[Figure, Axes]:
    """Heatmap of a square topic × topic cosine similarity (from `tables.topic_similarity`)."""
    if similarity.shape[0] != similarity.shape[1]:
        raise ValueError(f"plot_topic_similarity needs a square table, got shape {similarity.shape}")
    labels = [_wrap(_clean_label(label), 30) for label in similarity.index]
    n = len(labels)
    fig, ax = _figure_and_axes(ax, height=1.5 + 0.26 * n)
    with report_style():
        values = similarity.to_numpy(dtype=float)
        image = ax.imshow(values, cmap="cividis", vmin=min(0.0, np.nanmin(values)), vmax=1,
                          interpolation="nearest")  # fmt: skip
        ids = [str(label).split(" · ")[0] for label in similarity.index]
        if all(i.lstrip("-").isdigit() for i in ids):  # labels start with their topic id
            ax.set_xticks(range(n), ids)
            ax.set_yticks(range(n), labels)
        else:
            ax.set_xticks(range(n), [str(i + 1) for i in range(n)])
            ax.set_yticks(range(n), [f"{i + 1}. {label}" for i, label in enumerate(labels)])
        ax.set_xlabel("topic")
        ax.tick_params(length=0)
        ax.spines[:].set_visible(False)
        if annotate if annotate is not None else n <= 12:
            _annotate_cells(ax, image, values, [[f"{v:.2f}" for v in row] for row in values])
        fig.colorbar(image, ax=ax, label="cosine similarity", shrink=0.8, pad=0.01)
        ax.set_title("Topic similarity (ordered by hierarchical clustering)", loc="left")
    return fig, ax


def plot_document_map(
    points: pd.DataFrame,
    *,
    ax: Axes | None = None,
    max_topics: int = 20,
    label_width: int = 18,
) -> tuple[Figure, Axes]:
    """2-D map of segments coloured by topic, each topic named at its medoid (datamapplot-style).

    `points` has x, y, topic and optionally topic_label. The `max_topics` largest topics get colours
    and labels with a white halo; outliers (-1) and smaller topics are grey. Labels that would
    overlap are pushed apart vertically.
    """
    _require(points, ["x", "y", "topic"], "plot_document_map")
    sizes = points.loc[points["topic"] != -1, "topic"].value_counts()
    shown = sizes.index[:max_topics].tolist()
    palette = dict(zip(shown, _cycle(OKABE_ITO + TOL_MUTED, len(shown)), strict=True))
    labels = _topic_labels(points)
    marker_size = float(np.clip(4000 / max(len(points), 1), 2.5, 14))
    fig, ax = _figure_and_axes(ax, height=PAGE_WIDTH * 0.8)
    with report_style():
        grey = ~points["topic"].isin(shown)
        ax.scatter(points.loc[grey, "x"], points.loc[grey, "y"], s=marker_size * 0.7, color=OUTLIER_GREY,
                   linewidths=0, rasterized=True)  # fmt: skip
        texts = []
        for topic in shown:
            rows = points[points["topic"] == topic]
            ax.scatter(rows["x"], rows["y"], s=marker_size, color=palette[topic], linewidths=0, alpha=0.85,
                       rasterized=True)  # fmt: skip
            xy = rows[["x", "y"]].to_numpy(dtype=float)
            x, _ = _medoid(xy)
            y = float(np.quantile(xy[:, 1], 0.9))  # just above most of the cluster, not over it
            texts.append(
                ax.text(x, y, _wrap(labels.get(topic, str(topic)), label_width), ha="center", va="bottom",
                        fontsize=8, fontweight="bold",
                        path_effects=[patheffects.withStroke(linewidth=3, foreground="white")])
            )  # fmt: skip
        # Frame the bulk of the map: a few far-flung points would otherwise shrink every cluster.
        low, high = np.nanquantile(points[["x", "y"]].to_numpy(dtype=float), [0.005, 0.995], axis=0)
        pad = (high - low) * 0.08
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1] * 2.5)  # room above for the top labels
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
        ax.set_title(
            f"Document map: {len(points):,} segments, {len(shown)} largest topics labelled "
            "(grey: outliers and smaller topics)",
            loc="left",
        )
        _separate_labels(fig, ax, texts)
    return fig, ax


# --- small multiples ---------------------------------------------------------------------------------


def figure_shares_over_time(
    period_shares: pd.DataFrame, *, trends: pd.DataFrame | None = None, ncols: int = 3, max_panels: int = 12
) -> tuple[Figure, np.ndarray]:
    """One panel per theme (shared y axis): lines with interval bands, slope in the panel title."""
    unit = period_shares.columns[1]
    values = period_shares.groupby(unit)["share"].mean().nlargest(max_panels).index.tolist()
    nrows = int(np.ceil(len(values) / ncols))
    with report_style():
        fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, 0.4 + 1.75 * nrows), sharex=True,
                                 sharey=True, squeeze=False)  # fmt: skip
    slopes = trends.set_index("theme") if trends is not None else None
    for ax, value, color in zip(axes.flat, values, _cycle(OKABE_ITO, len(values)), strict=False):
        plot_shares_over_time(period_shares, ax=ax, values=[value], colors=[color], legend=False)
        title = str(value)
        if slopes is not None and value in slopes.index and np.isfinite(slopes.loc[value, "slope_per_year"]):
            t = slopes.loc[value]
            title += f"\n{_slope_text(t)}"
        with report_style():
            ax.set_title(title, loc="left", fontsize=8.5)
            ax.set_ylabel("")
    for ax in axes.flat[len(values) :]:
        ax.set_visible(False)
    # Shared y axis: each panel's own autoscale would cut the others' peaks and intervals.
    shown = period_shares[period_shares[unit].isin(values)]
    top = float(np.nanmax(shown[["share", "ci_high"]].to_numpy())) if len(shown) else 1.0
    axes.flat[0].set_ylim(0, min(1.0, top * 1.05) if np.isfinite(top) and top > 0 else 1.0)
    for index in range(max(len(values) - ncols, 0), len(values)):  # last panel of each column
        axes.flat[index].tick_params(axis="x", labelbottom=True)
    with report_style():
        confidence = period_shares.attrs.get("confidence", 0.95)
        fig.supylabel("share of segments")
        fig.suptitle(
            f"{str(unit).capitalize()} shares by {period_shares.attrs.get('period', 'period')} with "
            f"{confidence:.0%} intervals (bootstrap over documents); slope: weighted least squares",
            fontsize=9,
            x=0.01,
            ha="left",
        )
    return fig, axes


def plot_theme_comparison(comparison: pd.DataFrame, *, ax: Axes | None = None) -> tuple[Figure, Axes]:
    """Difference of each theme's share between two groups (points) with its interval (bars);
    filled where the corrected p-value is significant. `comparison` from `compare.compare_themes`."""
    table = comparison.sort_values("difference").reset_index(drop=True)
    fig, ax = _figure_and_axes(ax, height=0.8 + 0.32 * len(table))
    y = np.arange(len(table))
    with report_style():
        ax.axvline(0, color="#888", lw=0.8)
        ax.hlines(y, table["ci_low"] * 100, table["ci_high"] * 100, color=OKABE_ITO[1], lw=2)
        significant = table["significant"].astype(bool).to_numpy()
        ax.scatter(table["difference"] * 100, y, s=28, zorder=3, color=np.where(significant, OKABE_ITO[5], "white"),
                   edgecolors=OKABE_ITO[5])  # fmt: skip
        ax.set_yticks(y, [str(v) for v in table["theme"]])
        a, b = table["group_a"].iat[0], table["group_b"].iat[0]
        ax.set_xlabel(f"share of segments, {b} minus {a} (points); filled: significant after correction")
        flag = str(table["flag"].iat[0]) if "flag" in table else ""
        if flag:
            ax.set_title(f"FLAG: {_wrap(flag, 90)}", loc="left", fontsize=8, color="#b00020")
    return fig, ax


def figure_top_words(
    word_shares: pd.DataFrame,
    *,
    languages: Sequence[str] = ("ar", "fr", "en"),
    max_topics: int = 6,
    n_words: int = 5,
) -> tuple[Figure, np.ndarray]:
    """Top words per topic (one row of panels each, titled with the topic) and language (columns)."""
    topics = list(pd.unique(word_shares["topic"]))[:max_topics]
    labels = {}
    if "topic_label" in word_shares:
        labels = word_shares.drop_duplicates("topic").set_index("topic")["topic_label"].to_dict()
    shown = word_shares[word_shares["topic"].isin(topics) & (word_shares["rank"] <= n_words)]
    bars = max(int(shown.groupby(["topic", "language"]).size().max()), 1) if len(shown) else 1
    with report_style():
        fig = plt.figure(figsize=(PAGE_WIDTH, min(0.6 + len(topics) * (0.5 + 0.17 * bars), 9.0)))
        rows = fig.subfigures(len(topics), 1, squeeze=False)[:, 0]
    axes = np.empty((len(topics), len(languages)), dtype=object)
    for i, (row, topic) in enumerate(zip(rows, topics, strict=True)):
        with report_style():
            axes[i] = row.subplots(1, len(languages), squeeze=False)[0]
            row.suptitle(_wrap(_clean_label(labels.get(topic, topic)), 90), x=0.01, ha="left",
                         fontsize=8.5, fontweight="bold")  # fmt: skip
        for j, language in enumerate(languages):
            plot_top_words(word_shares, ax=axes[i, j], topic=topic, language=language,
                           color=OKABE_ITO[j % len(OKABE_ITO)], n_words=n_words)  # fmt: skip
            with report_style():
                axes[i, j].set_title(language, fontsize=8, color="#555555", loc="right")
                if i < len(topics) - 1:
                    axes[i, j].tick_params(axis="x", labelbottom=False)
    with report_style():
        fig.supxlabel("share of the topic's segments in that language that contain the word", fontsize=8.5)
    return fig, axes


# --- interactive (plotly) --------------------------------------------------------------------------


def interactive_document_map(points: pd.DataFrame, *, max_topics: int = 20):
    """Plotly scatter of the document map, hover showing the (escaped) segment text."""
    import plotly.graph_objects as go

    _require(points, ["x", "y", "topic"], "interactive_document_map")
    labels = _topic_labels(points)
    shown = points.loc[points["topic"] != -1, "topic"].value_counts().index[:max_topics].tolist()
    palette = dict(zip(shown, _cycle(OKABE_ITO + TOL_MUTED, len(shown)), strict=True))
    hover = _hover_text(points)
    fig = go.Figure()
    grey = ~points["topic"].isin(shown)
    fig.add_trace(go.Scattergl(x=points.loc[grey, "x"], y=points.loc[grey, "y"], mode="markers",
                               name="outliers / small topics", marker={"color": OUTLIER_GREY, "size": 4},
                               text=hover[grey], hoverinfo="text"))  # fmt: skip
    for topic in shown:
        mask = points["topic"] == topic
        fig.add_trace(go.Scattergl(x=points.loc[mask, "x"], y=points.loc[mask, "y"], mode="markers",
                                   name=html.escape(labels.get(topic, str(topic))),
                                   marker={"color": palette[topic], "size": 5},
                                   text=hover[mask], hoverinfo="text"))  # fmt: skip
    fig.update_layout(template="plotly_white", xaxis={"visible": False}, yaxis={"visible": False},
                      title="Document map", legend={"itemsizing": "constant"})  # fmt: skip
    return fig


def interactive_shares_over_time(period_shares: pd.DataFrame):
    """Plotly lines with interval bands of a period share table; click legend entries to compare."""
    import plotly.graph_objects as go

    unit = period_shares.columns[1]
    fig = go.Figure()
    values = period_shares.groupby(unit)["share"].mean().sort_values(ascending=False).index
    for value, color in zip(values, _cycle(OKABE_ITO + TOL_MUTED, len(values)), strict=True):
        rows = period_shares[period_shares[unit] == value]
        dates = _period_starts(rows["group"])
        name = html.escape(str(value))
        band_x = list(dates) + list(dates[::-1])
        band_y = list(rows["ci_high"]) + list(rows["ci_low"][::-1])
        fig.add_trace(go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor=_with_alpha(color, 0.2),
                                 line={"width": 0}, hoverinfo="skip", legendgroup=name, showlegend=False))  # fmt: skip
        fig.add_trace(go.Scatter(x=dates, y=rows["share"], mode="lines+markers", name=name, legendgroup=name,
                                 line={"color": color},
                                 customdata=np.column_stack([rows["ci_low"], rows["ci_high"], rows["n_documents"]]),
                                 hovertemplate="%{y:.0%} (%{customdata[0]:.0%}–%{customdata[1]:.0%}), "
                                 "%{customdata[2]} documents<extra>" + name + "</extra>"))  # fmt: skip
    fig.update_layout(template="plotly_white", yaxis={"tickformat": ".0%", "title": "share of segments"},
                      title=f"{str(unit).capitalize()} shares over time (bands: bootstrap interval)")  # fmt: skip
    return fig


def write_interactive(fig_plotly: Any, path: str | Path) -> Path:
    """Write a plotly figure as one HTML file with plotly.js inlined, so it opens offline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig_plotly.write_html(path, include_plotlyjs=True, full_html=True)
    return path


# --- the figures of a run -------------------------------------------------------------------------


def document_map_points(segments: pd.DataFrame, embeddings: np.ndarray, *, seed: int = 42) -> pd.DataFrame:
    """2-D coordinates for the document map: UMAP (cosine) of the embeddings, PCA for tiny corpora."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if len(embeddings) != len(segments):
        raise ValueError(f"document_map_points: {len(embeddings)} embeddings for {len(segments)} segments")
    if len(embeddings) >= 30:
        from umap import UMAP

        neighbours = int(np.clip(len(embeddings) // 50, 10, 30))
        xy = UMAP(n_components=2, n_neighbors=neighbours, min_dist=0.1, metric="cosine",
                  random_state=seed).fit_transform(embeddings)  # fmt: skip
    else:
        centred = embeddings - embeddings.mean(axis=0)
        xy = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    columns = [
        c for c in ("segment_id", "topic", "topic_label", "language", "source", "text") if c in segments
    ]
    return segments[columns].reset_index(drop=True).assign(x=xy[:, 0], y=xy[:, 1])


def write_run_figures(
    segments: pd.DataFrame,
    out_dir: str | Path,
    *,
    footer: FigureFooter,
    tables: Mapping[str, pd.DataFrame],
    topics: pd.DataFrame | None = None,
    embeddings: np.ndarray | None = None,
    table_config: Any = None,
    figure_config: Any = None,
) -> list[Path]:
    """Every report figure of a run, saved under `out_dir` (static formats plus interactive HTML).

    `tables` are the run's tables by name (theme_by_language, theme_by_source, theme_by_period,
    theme_trends, as `pipeline.build_tables` makes them); figures whose inputs are missing are skipped.
    """
    from analysis.config import FigureConfig, TableConfig
    from analysis.tables import corpus_counts, topic_similarity, topic_word_shares

    table_config = table_config or TableConfig()
    figure_config = figure_config or FigureConfig()
    out_dir = Path(out_dir)
    saved: list[Path] = []

    def save(fig: Figure, name: str) -> None:
        saved.extend(save_figure(fig, out_dir / name, footer=footer, formats=figure_config.formats,
                                 dpi=figure_config.dpi))  # fmt: skip

    save(plot_corpus_overview(corpus_counts(segments, table_config))[0], "corpus_overview")
    for name in ("theme_by_language", "theme_by_source"):
        if name in tables:
            save(plot_share_heatmap(tables[name], max_rows=figure_config.max_topics)[0], name)
    if "theme_by_period" in tables and not tables["theme_by_period"].empty:
        period_shares = tables["theme_by_period"]
        fig = figure_shares_over_time(period_shares, trends=tables.get("theme_trends"))[0]
        trends = tables.get("theme_trends")
        if trends is not None and "flag" in trends and str(trends["flag"].iat[0]):
            # below the footer's lines (outside the axes, so it never covers a tick label); the saved
            # image grows to include it
            below = -0.01 - (0.16 * len(footer.lines()) + 0.05) / fig.get_figheight()
            with report_style():
                fig.text(0.005, below, _wrap(f"FLAG: {trends['flag'].iat[0]}: slopes are raw; the report gives the "
                         "composition-adjusted trend", 150), fontsize=7.5, color="#b00020", ha="left", va="top")  # fmt: skip
        save(fig, "theme_shares_over_time")
        saved.append(
            write_interactive(
                interactive_shares_over_time(period_shares), out_dir / "theme_shares_over_time.html"
            )
        )
    if "theme_comparison" in tables and not tables["theme_comparison"].empty:
        save(plot_theme_comparison(tables["theme_comparison"])[0], "theme_comparison")
    if topics is not None and "hidden" in topics:  # a curation hid these topics from the charts
        hidden = set(topics.loc[topics["hidden"].astype(bool), "topic"])
        shown = ~segments["topic"].isin(hidden).to_numpy()
        topics = topics[~topics["topic"].isin(hidden)]
        segments = segments[shown]
        embeddings = embeddings[shown] if embeddings is not None else None
    if topics is not None:
        languages = [lang for lang in ("ar", "fr", "en") if lang in set(segments["language"])]
        words = topic_word_shares(segments, topics, languages=languages, max_topics=figure_config.max_topics)
        if not words.empty:
            save(figure_top_words(words, languages=languages)[0], "top_words")
    if embeddings is not None and segments["topic"].nunique() > 2:
        similarity = topic_similarity(segments, embeddings, max_topics=figure_config.max_topics)
        save(plot_topic_similarity(similarity)[0], "topic_similarity")
        points = document_map_points(segments, embeddings, seed=table_config.seed)
        save(plot_document_map(points, max_topics=figure_config.max_topics)[0], "document_map")
        saved.append(write_interactive(interactive_document_map(points, max_topics=figure_config.max_topics),
                                       out_dir / "document_map.html"))  # fmt: skip
    return saved


# --- helpers -------------------------------------------------------------------------------------------


def missing_glyphs(text: str, font: str = FONT) -> list[str]:
    """Characters of `text` the font has no glyph for (they would print as boxes)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    face = FT2Font(font_manager.findfont(font, fallback_to_default=False))
    return sorted({c for c in text if not c.isspace() and face.get_char_index(ord(c)) == 0})


def _period_starts(labels: pd.Series) -> pd.DatetimeIndex:
    """Start dates of period labels as `share_table` writes them: "2024-03", "2024Q1" or "2024"."""
    first = str(labels.iloc[0])
    frequency = "Q" if "Q" in first else ("Y" if len(first) == 4 else "M")
    return pd.PeriodIndex(labels.astype(str), freq=frequency).start_time


def _figure_and_axes(ax: Axes | None, *, height: float) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    with report_style():
        fig, ax = plt.subplots(figsize=(PAGE_WIDTH, min(height, 9.0)))
    return fig, ax


def _annotate_cells(ax: Axes, image: Any, values: np.ndarray, text: list[list[str]]) -> None:
    """Write `text` in each cell, black on light cells and white on dark ones (by the cell's luminance)."""
    for (i, j), label in np.ndenumerate(np.array(text, dtype=object)):
        if not label:
            continue
        r, g, b, _ = image.cmap(image.norm(values[i, j]))
        dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
        ax.text(j, i, label, ha="center", va="center", fontsize=8, color="white" if dark else "black",
                linespacing=1.1)  # fmt: skip


def _topic_labels(points: pd.DataFrame) -> dict[Any, str]:
    if "topic_label" not in points:
        return {}
    pairs = points.drop_duplicates("topic")[["topic", "topic_label"]]
    return {t: _clean_label(label) for t, label in zip(pairs["topic"], pairs["topic_label"], strict=True)}


def _clean_label(label: Any) -> str:
    """BERTopic's "3_word_word" as "word · word"."""
    parts = [p for p in str(label).split("_") if p]
    if len(parts) > 1 and parts[0].lstrip("-").isdigit():
        parts = parts[1:]
    return " · ".join(parts)


def _slope_text(trend: pd.Series) -> str:
    """ "+21 pts/yr (+12 to +31)": percentage points per year, never "-0"."""

    def points(value: float) -> str:
        return f"{float(value) * 100:+.1f}".replace("-0.0", "+0.0")

    return (
        f"{points(trend['slope_per_year'])} pts/yr ({points(trend['ci_low'])} to {points(trend['ci_high'])})"
    )


_ARABIC_LETTER = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")
_LRM = "\u200e"


def _wrap(text: str, width: int, max_lines: int = 2) -> str:
    """Wrapped text; a left-to-right label that holds Arabic keeps left-to-right order on every line.

    Each line gets its own bidi paragraph, so a wrapped line that happens to start with an Arabic word
    would otherwise be laid out right to left and scramble "1 · ar: … · en: …". A left-to-right mark
    at the start of each line pins the direction of the label as a whole.
    """
    lines = textwrap.wrap(text, width, max_lines=max_lines, placeholder="…") or [text]
    latin, arabic = _LATIN_LETTER.search(text), _ARABIC_LETTER.search(text)
    if latin and arabic and latin.start() < arabic.start():
        lines = [_LRM + line for line in lines]
    return "\n".join(lines)


def _cycle(colors: Sequence[str], n: int) -> list[str]:
    return [colors[i % len(colors)] for i in range(n)]


def _with_alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _medoid(xy: np.ndarray, max_points: int = 600) -> tuple[float, float]:
    """The cluster member closest to all others (on a sample): a label spot inside the cluster."""
    if len(xy) > max_points:
        xy = xy[np.random.default_rng(0).choice(len(xy), max_points, replace=False)]
    distances = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1).sum(axis=1)
    return tuple(xy[int(np.argmin(distances))])


def _separate_labels(fig: Figure, ax: Axes, texts: list, iterations: int = 60) -> None:
    """Nudge overlapping labels apart vertically (in display space), keeping them inside the axes."""
    if len(texts) < 2:
        return
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    to_data = ax.transData.inverted()
    for _ in range(iterations):
        boxes = [t.get_window_extent(renderer).expanded(1.05, 1.15) for t in texts]
        moved = False
        for i in range(len(texts)):
            for j in range(i + 1, len(texts)):
                if not boxes[i].overlaps(boxes[j]):
                    continue
                overlap = min(boxes[i].y1, boxes[j].y1) - max(boxes[i].y0, boxes[j].y0)
                direction = 1 if boxes[j].y0 + boxes[j].y1 >= boxes[i].y0 + boxes[i].y1 else -1
                for text, sign in ((texts[i], -direction), (texts[j], direction)):
                    x, y = ax.transData.transform(text.get_position())
                    text.set_position(to_data.transform((x, y + sign * (overlap / 2 + 1))))
                boxes[i] = texts[i].get_window_extent(renderer).expanded(1.05, 1.15)
                boxes[j] = texts[j].get_window_extent(renderer).expanded(1.05, 1.15)
                moved = True
        if not moved:
            break


def _hover_text(points: pd.DataFrame) -> pd.Series:
    """Escaped, shortened segment text for hover boxes: corpus text must never become markup."""
    if "text" not in points:
        return points["topic"].map(lambda t: f"topic {t}")
    short = points["text"].astype(str).map(lambda s: textwrap.shorten(s, 200, placeholder=" …"))
    return short.map(lambda s: "<br>".join(html.escape(line) for line in textwrap.wrap(s, 60)))


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise KeyError(f"{what}: the table lacks column(s) {missing}; it has {list(frame.columns)}")
