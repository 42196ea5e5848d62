"""The document map: a static renderer (matplotlib, labels repelled by adjustText) and an interactive one.

The interactive map is plotly with plotly.js inlined (one self-contained HTML file that opens with
no network) and a small search box; datamapplot was not used because installing it would downgrade
pandas 3 to 2.3 and pull dask, datashader and bokeh (README: "Document map").
"""

from __future__ import annotations

import html
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.figures.style import (
    OKABE_ITO,
    OUTLIER_GREY,
    PAGE_WIDTH,
    TOL_MUTED,
    clean_label,
    cycle,
    figure_and_axes,
    report_style,
    require,
    short_label,
)

PALETTE = TOL_MUTED + OKABE_ITO  # 16 colour-blind-safe colours, cycled over topics by size
HOVER_CHARACTERS = 120  # hover text per point: the HTML's size grows with it (≈ bytes per point)
# adjustText's rounds of label repulsion. Its default stops after 1 s of wall time, so the labels
# of a large map moved as far as the machine's load allowed: morocco-news's map differed in 3-6 % of
# its pixels between two runs of the same code (23 rounds in that second at load 9). A fixed count
# gives the same figure everywhere; the sample's labels settle in 7.
LABEL_ROUNDS = 50


def plot_document_map(
    points: pd.DataFrame,
    *,
    ax: Axes | None = None,
    max_topics: int = 20,
    label_width: int = 30,
) -> tuple[Figure, Axes]:
    """2-D map of segments, every topic coloured, outliers (-1) grey; the largest topics named.

    The `max_topics` largest topics get a name at their medoid; every other topic gets its id, so
    each cluster can be looked up in topics.csv. Labels are pushed apart by adjustText (at most 30 px);
    what still overlaps falls back to its id, or is dropped (`_drop_overprints`). `points` from `projection.document_map_points`.
    """
    from adjustText import adjust_text

    require(points, ["x", "y", "topic"], "plot_document_map")
    sizes = points.loc[points["topic"] != -1, "topic"].value_counts()
    topics = sizes.index.tolist()
    palette = dict(zip(topics, cycle(PALETTE, len(topics)), strict=True))
    named = set(topics[:max_topics])
    labels = _topic_labels(points)
    marker_size = float(np.clip(4000 / max(len(points), 1), 0.6, 14))
    fig, ax = figure_and_axes(ax, height=PAGE_WIDTH * 0.85)
    with report_style():
        grey = (points["topic"] == -1).to_numpy()
        ax.scatter(points.loc[grey, "x"], points.loc[grey, "y"], s=marker_size * 0.6, color=OUTLIER_GREY,
                   linewidths=0, rasterized=True)  # fmt: skip
        colours = points.loc[~grey, "topic"].map(palette)
        ax.scatter(points.loc[~grey, "x"], points.loc[~grey, "y"], s=marker_size, c=colours.tolist(), linewidths=0,
                   alpha=0.8, rasterized=True)  # fmt: skip
        texts = []
        xy_all = points[["x", "y"]].to_numpy(dtype=float)
        topic_of = points["topic"].to_numpy()
        for topic in topics:
            x, y = _medoid(xy_all[topic_of == topic])
            if topic in named:
                text = short_label(labels.get(topic, str(topic)), label_width)  # one line: mixed scripts stay in order
                style = {"fontsize": 7, "fontweight": "bold"}
            else:
                text, style = str(topic), {"fontsize": 5.5, "color": "#333333"}
            texts.append(ax.text(x, y, text, ha="center", va="center", zorder=5,
                                 path_effects=[patheffects.withStroke(linewidth=2.5, foreground="white")],
                                 **style))  # fmt: skip
        # Frame the bulk of the map: a few far-flung points would otherwise shrink every cluster.
        low, high = np.nanquantile(xy_all, [0.005, 0.995], axis=0)
        pad = (high - low) * 0.06
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.spines[:].set_visible(False)
        n_outliers = int(grey.sum())
        ax.set_title(
            f"Document map: {len(points):,} segments in {len(topics)} topics ({min(max_topics, len(topics))} "
            f"largest named, others by id); grey: {n_outliers:,} outliers",
            loc="left",
            fontsize=8.5,
        )
        if len(texts) > 1:
            adjust_text(texts, ax=ax, expand=(1.05, 1.2), max_move=(30, 30), ensure_inside_axes=True,
                        iter_lim=LABEL_ROUNDS)  # fmt: skip
            _drop_overprints(fig, texts, [str(t) for t in topics])
    return fig, ax


def _drop_overprints(fig: Figure, texts: list, ids: list[str]) -> None:
    """What adjustText could not separate: largest topics first, a name that still overlaps a kept
    label falls back to its id, and an id that still overlaps is removed (it stays in the HTML map)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    kept: list = []
    for text, topic_id in zip(texts, ids, strict=True):
        for attempt in ("name", "id"):
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in kept):
                kept.append(box)
                break
            if attempt == "name" and text.get_text() != topic_id:
                text.set_text(topic_id)
                text.set_fontsize(5.5)
                text.set_fontweight("normal")
            else:
                text.remove()
                break


def interactive_document_map(points: pd.DataFrame, *, max_topics: int | None = None):
    """Plotly scatter of the document map: one legend entry per topic, hover showing the escaped text.

    `max_topics` caps the named legend entries (the rest share one grey entry); None names all.
    """
    import plotly.graph_objects as go

    require(points, ["x", "y", "topic"], "interactive_document_map")
    labels = _topic_labels(points)
    topics = points.loc[points["topic"] != -1, "topic"].value_counts().index.tolist()
    shown = topics if max_topics is None else topics[:max_topics]
    palette = dict(zip(shown, cycle(PALETTE, len(shown)), strict=True))
    hover = _hover_text(points)
    xy = points[["x", "y"]].to_numpy(dtype=np.float32)  # float32: half the bytes in the HTML
    fig = go.Figure()
    grey = ~points["topic"].isin(shown).to_numpy()
    fig.add_trace(go.Scattergl(x=xy[grey, 0], y=xy[grey, 1], mode="markers", name="outliers / small topics",
                               marker={"color": OUTLIER_GREY, "size": 3}, text=hover[grey].tolist(),
                               hoverinfo="text"))  # fmt: skip
    for topic in shown:
        mask = (points["topic"] == topic).to_numpy()
        name = html.escape(textwrap.shorten(f"{topic} · {labels.get(topic, str(topic))}", 60, placeholder="…"))
        fig.add_trace(go.Scattergl(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=name,
                                   marker={"color": palette[topic], "size": 4}, text=hover[mask].tolist(),
                                   hoverinfo="text"))  # fmt: skip
    fig.update_layout(template="plotly_white", xaxis={"visible": False}, yaxis={"visible": False},
                      title="Document map (type in the box to highlight segments)",
                      legend={"itemsizing": "constant"}, height=800)  # fmt: skip
    return fig


# A search box: dims every point whose hover text lacks the query. Plain DOM and plotly's own API,
# so the page still needs nothing from the network.
SEARCH_SCRIPT = """
var gd = document.getElementById('{plot_id}');
var box = document.createElement('input');
box.type = 'search'; box.placeholder = 'search segments…';
box.style.cssText = 'position:absolute;top:8px;right:12px;z-index:10;width:260px;padding:4px;font:14px sans-serif';
gd.parentNode.style.position = 'relative'; gd.parentNode.insertBefore(box, gd);
box.addEventListener('input', function () {
  var q = box.value.trim().toLowerCase();
  var opacities = gd.data.map(function (trace) {
    return (trace.text || []).map(function (t) { return !q || String(t).toLowerCase().indexOf(q) >= 0 ? 1 : 0.06; });
  });
  Plotly.restyle(gd, {'marker.opacity': opacities});
});
"""


def write_interactive(fig_plotly: Any, path: str | Path, *, search: bool = False) -> Path:
    """Write a plotly figure as one HTML file with plotly.js inlined, so it opens offline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig_plotly.write_html(path, include_plotlyjs=True, full_html=True,
                          post_script=SEARCH_SCRIPT if search else None)  # fmt: skip
    return path


def _topic_labels(points: pd.DataFrame) -> dict[Any, str]:
    if "topic_label" not in points:
        return {}
    pairs = points.drop_duplicates("topic")[["topic", "topic_label"]]
    return {t: clean_label(label) for t, label in zip(pairs["topic"], pairs["topic_label"], strict=True)}


def _medoid(xy: np.ndarray, max_points: int = 400) -> tuple[float, float]:
    """The cluster member closest to all others (on a sample): a label spot inside the cluster."""
    if len(xy) > max_points:
        xy = xy[np.random.default_rng(0).choice(len(xy), max_points, replace=False)]
    distances = np.linalg.norm(xy[:, None, :] - xy[None, :, :], axis=-1).sum(axis=1)
    return tuple(xy[int(np.argmin(distances))])


def _hover_text(points: pd.DataFrame) -> pd.Series:
    """Escaped, shortened segment text for hover boxes: corpus text must never become markup."""
    if "text" not in points:
        return points["topic"].map(lambda t: f"topic {t}")
    short = points["text"].astype(str).map(lambda s: textwrap.shorten(s, HOVER_CHARACTERS, placeholder=" …"))
    prefix = points["topic"].astype(str) + " · " + (points["language"].astype(str) if "language" in points else "")
    return (prefix + ": " + short).map(lambda s: "<br>".join(html.escape(line) for line in textwrap.wrap(s, 60)))
