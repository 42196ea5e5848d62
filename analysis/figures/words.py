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
            message = f"no {language}\nsegments" if rows.empty and not n else f"too few:\n{n} segment(s)"
            ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#777777",
                    fontsize=7.5)  # fmt: skip
            ax.set_yticks([])
        else:
            ax.barh(range(len(rows)), rows["segment_share"], color=color, height=0.7)
            # One line per label: a two-line label overlaps the next bar.
            ax.set_yticks(range(len(rows)), [wrap(str(w), 24, max_lines=1) for w in rows["word"]])
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 1])  # two ticks: "0% 50%100%" collides in a narrow panel
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
    counts = (
        word_shares.drop_duplicates(["topic", "language"]).set_index(["topic", "language"])["n_segments"]
        if "n_segments" in word_shares
        else pd.Series(dtype=int)
    )
    # a language with fewer than `min_segments` segments in all topics gets no column of empty panels
    order = list(languages) if languages is not None else list(pd.unique(word_shares["language"]))
    totals = counts.groupby(level="language").sum() if len(counts) else pd.Series(dtype=int)
    languages = [lang for lang in order if not len(totals) or totals.get(lang, 0) >= min_segments]
    left_out = [f"{lang} ({int(totals.get(lang, 0))})" for lang in order if lang not in languages]
    languages = list(languages)
    topics = list(topics) if topics is not None else list(pd.unique(word_shares["topic"]))[:max_topics]
    labels = {}
    if "topic_label" in word_shares:
        labels = word_shares.drop_duplicates("topic").set_index("topic")["topic_label"].to_dict()
    shown = word_shares[word_shares["topic"].isin(topics) & (word_shares["rank"] <= n_words)]
    bars = max(int(shown.groupby(["topic", "language"]).size().max()), 1) if len(shown) else 1
    # Axes placed by hand, in inches: constrained layout over 20+ axes cost seconds per page.
    title_h, panel_h, gap = 0.3, 0.14 * bars + 0.06, 0.1
    block = title_h + panel_h + gap
    bottom = 0.45 + (0.15 if left_out else 0)  # x tick labels and the axis note(s) under the last row
    height = min(0.1 + len(topics) * block + bottom, MAX_HEIGHT * 1.2)
    column_w = (PAGE_WIDTH - 0.1) / max(len(languages), 1)
    with report_style():
        fig = plt.figure(figsize=(PAGE_WIDTH, height), layout="none")
    axes = np.empty((len(topics), len(languages)), dtype=object)
    for j, language in enumerate(languages):
        words = shown.loc[shown["language"] == language, "word"].astype(str)
        longest = min(int(words.str.len().max()) if len(words) else 4, 24)
        label_w = min(0.1 + 0.068 * longest, column_w * 0.6)  # 8 pt DejaVu: ~0.065 in per character
        for i, topic in enumerate(topics):
            top = height - 0.1 - i * block - title_h
            left = 0.05 + j * column_w + label_w
            rect = [left / PAGE_WIDTH, (top - panel_h) / height, (column_w - label_w - 0.12) / PAGE_WIDTH,
                    panel_h / height]  # fmt: skip
            with report_style():
                axes[i, j] = fig.add_axes(rect)
            plot_top_words(word_shares, ax=axes[i, j], topic=topic, language=language,
                           color=OKABE_ITO[j % len(OKABE_ITO)], n_words=n_words,
                           min_segments=min_segments)  # fmt: skip
            n = int(counts.get((topic, language), 0))
            with report_style():
                # a text, not set_title: placing titles measured every axis's ticks (half the page's cost)
                axes[i, j].text(1.0, 1.0, f"{language} · n={n}", transform=axes[i, j].transAxes, ha="right",
                                va="bottom", fontsize=7.5, color="#555555")  # fmt: skip
                if i < len(topics) - 1:
                    axes[i, j].tick_params(axis="x", labelbottom=False)
    with report_style():
        for i, topic in enumerate(topics):
            fig.text(0.01, (height - 0.1 - i * block) / height, short_label(labels.get(topic, topic), 100),
                     ha="left", va="top", fontsize=8, fontweight="bold")  # fmt: skip
        fig.text(0.5, 0.05 / height, "share of the topic's segments in that language that contain the word "
                 f"(n: segments; panels under {min_segments} show the count only)"
                 + (f"\nlanguages with fewer than {min_segments} segments left out: {', '.join(left_out)}"
                    if left_out else ""), ha="center", va="bottom",
                 fontsize=8)  # fmt: skip
    return fig, axes


def top_words_pages(topics: Sequence[Any], per_page: int = TOPICS_PER_PAGE) -> list[list[Any]]:
    """Topics cut into pages of the top-words figure, largest topics on the first page."""
    topics = list(topics)
    return [topics[i : i + per_page] for i in range(0, len(topics), per_page)] or [[]]
