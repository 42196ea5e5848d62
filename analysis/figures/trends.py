"""Time-series renderers: theme shares over time (static and interactive) and the two-group comparison."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from analysis.codebook import OTHER
from analysis.figures.style import (
    OKABE_ITO,
    PAGE_WIDTH,
    TOL_MUTED,
    cycle,
    figure_and_axes,
    period_starts,
    report_style,
    require,
    slope_text,
    with_alpha,
    wrap,
)


def plot_shares_over_time(
    period_shares: pd.DataFrame,
    *,
    ax: Axes | None = None,
    values: Sequence[Any] | None = None,
    trends: pd.DataFrame | None = None,
    labels: Mapping[Any, str] | None = None,
    colors: Sequence[str] = OKABE_ITO,
    legend: bool = True,
) -> tuple[Figure, Axes]:
    """Lines of period shares with their interval as a band, from `share_table(by="period")`.

    `values` picks the themes (default: the largest, at most as many as `colors`); with `trends`
    (from `theme_trends`) each legend entry gives the slope and its interval.
    """
    unit = period_shares.columns[1]
    require(period_shares, ["group", unit, "share", "ci_low", "ci_high"], "plot_shares_over_time")
    if values is None:
        values = period_shares.groupby(unit)["share"].mean().nlargest(len(colors)).index.tolist()
    fig, ax = figure_and_axes(ax, height=3.0)
    slopes = trends.set_index("theme") if trends is not None else None
    with report_style():
        for value, color in zip(values, cycle(colors, len(values)), strict=True):
            rows = period_shares[period_shares[unit] == value]
            if rows.empty:
                raise KeyError(f"plot_shares_over_time: {unit} {value!r} is not in the table")
            dates = period_starts(rows["group"])
            label = (labels or {}).get(value, str(value))
            if slopes is not None and value in slopes.index and np.isfinite(slopes.loc[value, "slope_per_year"]):
                label += f" ({slope_text(slopes.loc[value])})"
            ax.fill_between(dates, rows["ci_low"], rows["ci_high"], color=color, alpha=0.3, linewidth=0)
            ax.plot(dates, rows["share"], color=color, linewidth=1.4, marker="o", markersize=2.2, label=label)
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


def figure_shares_over_time(
    period_shares: pd.DataFrame,
    *,
    trends: pd.DataFrame | None = None,
    labels: Mapping[Any, str] | None = None,
    ncols: int = 3,
    max_panels: int = 15,
) -> tuple[Figure, np.ndarray]:
    """One panel per theme, each with its own y scale (from 0 to its highest interval), slope in the title.

    A shared axis would flatten every theme under 20 % and hide its band; each panel starts at 0 so
    that heights still read as shares, and the y ticks say the scale.
    """
    unit = period_shares.columns[1]
    values = period_shares.groupby(unit)["share"].mean().nlargest(max_panels).index.tolist()
    nrows = max(int(np.ceil(len(values) / ncols)), 1)
    with report_style():
        height = min(0.75 + 1.65 * nrows, 9.0)
        # fixed margins instead of constrained layout: with 15 panels it cost seconds per figure
        fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH, height), sharex=True, squeeze=False,
                                 layout="none")  # fmt: skip
        fig.subplots_adjust(left=0.55 / PAGE_WIDTH, right=0.98, top=1 - 0.75 / height, bottom=0.35 / height,
                            wspace=0.38, hspace=0.62)  # fmt: skip
    slopes = trends.set_index("theme") if trends is not None else None
    colors = [c for c in OKABE_ITO if c != "#F0E442"] + list(TOL_MUTED)  # yellow bands vanish on white
    for ax, value, color in zip(axes.flat, values, cycle(colors, len(values)), strict=False):
        plot_shares_over_time(period_shares, ax=ax, values=[value], colors=[color], legend=False)
        title = wrap((labels or {}).get(value, str(value)), 34, max_lines=1)
        if slopes is not None and value in slopes.index and np.isfinite(slopes.loc[value, "slope_per_year"]):
            title += f"\n{slope_text(slopes.loc[value])}"
        rows = period_shares[period_shares[unit] == value]
        top = float(np.nanmax(rows[["share", "ci_high"]].to_numpy())) if len(rows) else 0.0
        with report_style():
            ax.set_title(title, loc="left", fontsize=8)
            ax.set_ylabel("")
            ax.set_ylim(0, top * 1.08 if np.isfinite(top) and top > 0 else 0.05)
            # steps of 1, 2, 4 or 5 units: with 2.5 or 1.5 a whole-percent label printed 2.5 % as "2%"
            ax.yaxis.set_major_locator(MaxNLocator(4, steps=[1, 2, 4, 5, 10]))
            ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if top >= 0.03 else 1))
    for ax in axes.flat[len(values) :]:
        ax.set_visible(False)
    for index in range(max(len(values) - ncols, 0), len(values)):  # last panel of each column
        axes.flat[index].tick_params(axis="x", labelbottom=True)
    with report_style():
        confidence = period_shares.attrs.get("confidence", 0.95)
        fig.supylabel("share of segments (own scale per panel)", x=0.005)
        fig.suptitle(
            f"{str(unit).capitalize()} shares by {period_shares.attrs.get('period', 'period')} with "
            f"{confidence:.0%} intervals (bands: bootstrap over documents); slope: weighted least squares",
            fontsize=8.5,
            x=0.01,
            y=1 - 0.08 / height,
            ha="left",
            va="top",
        )
    return fig, axes


def plot_theme_comparison(
    comparison: pd.DataFrame, *, ax: Axes | None = None, labels: Mapping[Any, str] | None = None
) -> tuple[Figure, Axes]:
    """Difference of each theme's share between two groups (points) with its interval (bars);
    filled where the corrected p-value is significant. `comparison` from `compare.compare_themes`."""
    # "other" (no theme) moves with every theme at once and would set the scale: named, not drawn
    other = comparison[comparison["theme"] == OTHER]
    table = comparison[comparison["theme"] != OTHER].sort_values("difference").reset_index(drop=True)
    fig, ax = figure_and_axes(ax, height=1.0 + 0.38 * len(table))
    y = np.arange(len(table))
    with report_style():
        ax.axvline(0, color="#888", lw=0.8)
        ax.hlines(y, table["ci_low"] * 100, table["ci_high"] * 100, color=OKABE_ITO[1], lw=2)
        significant = table["significant"].astype(bool).to_numpy()
        ax.scatter(table["difference"] * 100, y, s=28, zorder=3, color=np.where(significant, OKABE_ITO[5], "white"),
                   edgecolors=OKABE_ITO[5])  # fmt: skip
        ax.set_yticks(y, [wrap((labels or {}).get(v, str(v)), 28, max_lines=2) for v in table["theme"]])
        a, b = comparison["group_a"].iat[0], comparison["group_b"].iat[0]
        note = ""
        if len(other):
            row = other.iloc[0]
            note = (f'\n"other" (no theme), not drawn: {100 * row["difference"]:+.1f} points '
                    f'({100 * row["ci_low"]:+.1f} to {100 * row["ci_high"]:+.1f})')
        ax.set_xlabel(f"percentage points, {b} minus {a} (points; bars: interval)\n"
                      f"filled: significant after correction; open: not significant{note}")
        flag = str(table["flag"].iat[0]) if "flag" in table else ""
        if flag:
            ax.set_title(f"FLAG: {wrap(flag, 90)}", loc="left", fontsize=8, color="#b00020")
    return fig, ax


def interactive_shares_over_time(period_shares: pd.DataFrame, *, labels: Mapping[Any, str] | None = None):
    """Plotly lines with interval bands of a period share table; click legend entries to compare."""
    import plotly.graph_objects as go

    unit = period_shares.columns[1]
    fig = go.Figure()
    values = period_shares.groupby(unit)["share"].mean().sort_values(ascending=False).index
    for value, color in zip(values, cycle(OKABE_ITO + TOL_MUTED, len(values)), strict=True):
        rows = period_shares[period_shares[unit] == value]
        dates = period_starts(rows["group"])
        name = html.escape((labels or {}).get(value, str(value)))
        band_x = list(dates) + list(dates[::-1])
        band_y = list(rows["ci_high"]) + list(rows["ci_low"][::-1])
        fig.add_trace(go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor=with_alpha(color, 0.2),
                                 line={"width": 0}, hoverinfo="skip", legendgroup=name, showlegend=False))  # fmt: skip
        fig.add_trace(go.Scatter(x=dates, y=rows["share"], mode="lines+markers", name=name, legendgroup=name,
                                 line={"color": color},
                                 customdata=np.column_stack([rows["ci_low"], rows["ci_high"], rows["n_documents"]]),
                                 hovertemplate="%{y:.0%} (%{customdata[0]:.0%}–%{customdata[1]:.0%}), "
                                 "%{customdata[2]} documents<extra>" + name + "</extra>"))  # fmt: skip
    fig.update_layout(template="plotly_white", yaxis={"tickformat": ".0%", "title": "share of segments"},
                      title=f"{str(unit).capitalize()} shares over time (bands: bootstrap interval)")  # fmt: skip
    return fig
