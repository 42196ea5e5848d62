"""Top-words renderers: bars per topic and language, with the number of segments each panel rests on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from analysis.figures.style import (
    MAX_HEIGHT,
    OKABE_ITO,
    PAGE_WIDTH,
    figure_and_axes,
    report_style,
    require,
    short_label,
    wrap,
)

TOPICS_PER_PAGE = 7


def plot_top_words(
    word_shares: pd.DataFrame,
    *,
    ax: Axes | None = None,
    topic: Any,
    language: str,
    color: str = OKABE_ITO[3],
    n_words: int = 8,
    min_segments: int = 1,
) -> tuple[Figure, Axes]:
    """Horizontal bars: the topic's words in one language, by the share of its segments using each.

    Input is `tables.topic_word_shares`. A panel whose language has fewer than `min_segments` of the
    topic's segments shows its count instead of bars: a full bar over two segments says nothing.
    Arabic words are drawn as given: matplotlib shapes them.
    """
    require(word_shares, ["topic", "language", "word", "segment_share"], "plot_top_words")
    rows = word_shares[(word_shares["topic"] == topic) & (word_shares["language"] == language)]
    n = int(rows["n_segments"].iat[0]) if "n_segments" in rows and len(rows) else 0
    rows = rows.nlargest(n_words, "segment_share").iloc[::-1]
    fig, ax = figure_and_axes(ax, height=0.5 + 0.2 * max(len(rows), 1))
    with report_style():
        if rows.empty or n < min_segments:
            message = f"no {language} segments" if rows.empty and not n else f"{n} {language} segment(s): too few"
            ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#777777",
                    fontsize=7.5)  # fmt: skip
            ax.set_yticks([])
        else:
            ax.barh(range(len(rows)), rows["segment_share"], color=color, height=0.7)
            # One line per label: a two-line label overlaps the next bar.
            ax.set_yticks(range(len(rows)), [wrap(str(w), 24, max_lines=1) for w in rows["word"]])
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1])
        ax.tick_params(axis="y", length=0)
    return fig, ax


def figure_top_words(
    word_shares: pd.DataFrame,
    *,
    languages: Sequence[str] | None = None,
    topics: Sequence[Any] | None = None,
    max_topics: int = TOPICS_PER_PAGE,
    n_words: int = 5,
    min_segments: int = 5,
) -> tuple[Figure, np.ndarray]:
    """Top words per topic (one row of panels each, titled with the topic) and language (columns).

    Each panel's title gives n, the topic's segments in that language; languages under
    `min_segments` show the count only. `topics` picks the rows (default: the first `max_topics`
    of the table, which lists the largest topics first); `languages` defaults to the table's own.
    """
    require(word_shares, ["topic", "language", "word", "rank", "segment_share"], "figure_top_words")
    languages = list(languages) if languages is not None else list(pd.unique(word_shares["language"]))
    topics = list(topics) if topics is not None else list(pd.unique(word_shares["topic"]))[:max_topics]
    labels = {}
    if "topic_label" in word_shares:
        labels = word_shares.drop_duplicates("topic").set_index("topic")["topic_label"].to_dict()
    shown = word_shares[word_shares["topic"].isin(topics) & (word_shares["rank"] <= n_words)]
    bars = max(int(shown.groupby(["topic", "language"]).size().max()), 1) if len(shown) else 1
    with report_style():
        per_topic = 0.38 + 0.14 * bars
        height = min(0.9 + len(topics) * per_topic, MAX_HEIGHT)
        fig = plt.figure(figsize=(PAGE_WIDTH, height))
        n_rows = max(len(topics), 1)
        # the last row also holds the x tick labels: without extra height its bars squeeze together
        ratios = [per_topic] * (n_rows - 1) + [per_topic + 0.3]
        rows = fig.subfigures(n_rows, 1, squeeze=False, height_ratios=ratios)[:, 0]
    axes = np.empty((len(topics), len(languages)), dtype=object)
    counts = (
        word_shares.drop_duplicates(["topic", "language"]).set_index(["topic", "language"])["n_segments"]
        if "n_segments" in word_shares
        else pd.Series(dtype=int)
    )
    for i, (row, topic) in enumerate(zip(rows, topics, strict=True)):
        with report_style():
            axes[i] = row.subplots(1, len(languages), squeeze=False)[0]
            row.suptitle(short_label(labels.get(topic, topic), 100), x=0.01, ha="left",
                         fontsize=8, fontweight="bold")  # fmt: skip
        for j, language in enumerate(languages):
            plot_top_words(word_shares, ax=axes[i, j], topic=topic, language=language,
                           color=OKABE_ITO[j % len(OKABE_ITO)], n_words=n_words,
                           min_segments=min_segments)  # fmt: skip
            n = int(counts.get((topic, language), 0))
            with report_style():
                axes[i, j].set_title(f"{language} · n={n}", fontsize=7.5, color="#555555", loc="right")
                if i < len(topics) - 1:
                    axes[i, j].tick_params(axis="x", labelbottom=False)
    with report_style():
        fig.supxlabel("share of the topic's segments in that language that contain the word "
                      f"(n: segments; panels under {min_segments} show the count only)", fontsize=8)  # fmt: skip
    return fig, axes


def top_words_pages(topics: Sequence[Any], per_page: int = TOPICS_PER_PAGE) -> list[list[Any]]:
    """Topics cut into pages of the top-words figure, largest topics on the first page."""
    topics = list(topics)
    return [topics[i : i + per_page] for i in range(0, len(topics), per_page)] or [[]]
