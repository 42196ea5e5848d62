"""Figures: saved files in every format, footer and Arabic in the SVG, renderers reuse a given axes.

Built on the synthetic corpus of test_tables.py (three languages, Arabic topic words, 24 months).
"""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_tables import THEME_TOPICS, WORDS, synthetic_segments

from analysis.config import FigureConfig, TableConfig
from analysis.figures import (
    FONT,
    FigureFooter,
    figure_shares_over_time,
    figure_top_words,
    interactive_document_map,
    interactive_shares_over_time,
    missing_glyphs,
    plot_corpus_overview,
    plot_document_map,
    plot_share_heatmap,
    plot_shares_over_time,
    plot_top_words,
    plot_topic_similarity,
    save_figure,
    write_interactive,
    write_run_figures,
)
from analysis.tables import corpus_counts, share_table, theme_trends, topic_similarity, topic_word_shares

CONFIG = TableConfig(n_bootstrap=100)
FOOTER = FigureFooter(
    corpus="synthetic", n_segments=630, encoder={"name": "paraphrase-mini"}, run_date="2025-01-02"
)
FALLBACK = FigureFooter(
    corpus="synthetic",
    n_segments=630,
    encoder={
        "name": "use-multilingual-v3",
        "kind": "use",
        "fallback_reason": "model not cached",
        "requested_model": "org/multilingual-model",
    },
    run_date="2025-01-02",
)


@pytest.fixture(scope="module")
def segments() -> pd.DataFrame:
    return synthetic_segments()


@pytest.fixture(scope="module")
def topics(segments) -> pd.DataFrame:
    labels = segments.drop_duplicates("topic").set_index("topic")["topic_label"]
    rows = []
    for theme, ids in THEME_TOPICS.items():
        for topic in ids:
            words = WORDS[theme]
            rows.append(
                {"topic": topic, "size": int((segments["topic"] == topic).sum()), "label": labels[topic],
                 "words": words["en"] + words["fr"] + words["ar"], **{f"words_{k}": v for k, v in words.items()}}
            )  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tables(segments) -> dict[str, pd.DataFrame]:
    return {
        "theme_by_language": share_table(segments, by="language", config=CONFIG),
        "theme_by_source": share_table(segments, by="source", config=CONFIG),
        "theme_by_period": share_table(segments, by="period", config=CONFIG),
        "theme_trends": theme_trends(segments, CONFIG),
    }


@pytest.fixture(scope="module")
def embeddings(segments) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = {t: rng.normal(size=12) * 3 for t in segments["topic"].unique()}
    return np.array([centres[t] + rng.normal(size=12) for t in segments["topic"]])


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_save_figure_writes_every_format_at_report_resolution_with_footer(tmp_path, tables):
    assert plt.get_fignums() == []
    fig, _ = plot_share_heatmap(tables["theme_by_source"])
    paths = save_figure(fig, tmp_path / "figs" / "theme_by_source", footer=FOOTER, dpi=200)
    assert plt.get_fignums() == []  # saving closes the figure: no leaks in long notebook sessions
    assert [p.suffix for p in paths] == [".png", ".svg", ".pdf"]
    assert all(p.is_file() and p.stat().st_size > 5_000 for p in paths)
    with Image.open(paths[0]) as png:
        assert png.info["dpi"][0] == pytest.approx(200, abs=0.5)
        assert png.width >= 0.95 * 6.5 * 200  # a full page width at 200 dpi
    svg = paths[1].read_text(encoding="utf-8")
    assert "Corpus: synthetic · 630 segments · encoder: paraphrase-mini · run 2025-01-02" in svg
    assert "FALLBACK" not in svg
    assert paths[2].read_bytes().startswith(b"%PDF")


def test_fallback_encoder_is_announced_in_the_footer(tmp_path, tables):
    fig, _ = plot_share_heatmap(tables["theme_by_language"])
    (svg_path,) = save_figure(fig, tmp_path / "fallback", footer=FALLBACK, formats=("svg",))
    svg = svg_path.read_text(encoding="utf-8")
    assert "FALLBACK ENCODER: org/multilingual-model could not be loaded" in svg
    assert FALLBACK.encoder_name == "use-multilingual-v3"
    with pytest.raises(ValueError, match="unknown figure format"):
        save_figure(plt.figure(), tmp_path / "x", footer=FOOTER, formats=("bmp",))


def test_arabic_label_is_shaped_and_right_to_left_in_the_svg(tmp_path):
    """Glyph uses in the SVG run left to right: "بيانات" must end (rightmost) with an initial beh."""
    fig, ax = plt.subplots()
    ax.set_title("بيانات", fontfamily=FONT)
    (svg_path,) = save_figure(fig, tmp_path / "arabic", footer=FOOTER, formats=("svg",))
    svg = svg_path.read_text(encoding="utf-8")
    block = svg.split("<!-- بيانات -->", 1)[1].split("</g>", 1)[0]
    glyphs = re.findall(r'<use xlink:href="#DejaVuSans-([0-9a-f]+)"', block)
    assert len(glyphs) == 6
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    face = FT2Font(font_manager.findfont(FONT))
    isolated = {c: f"{face.get_char_index(ord(c)):x}" for c in "بت"}
    assert glyphs[0] == isolated["ت"]  # the last letter, unjoined after alef, is drawn leftmost
    assert glyphs[-1] != isolated["ب"]  # the first letter is drawn rightmost, in its joined (initial) form


def test_font_has_arabic_darija_and_tifinagh_glyphs():
    assert missing_glyphs("الذكاء الاصطناعي ڤ گ ⴰⵎⴰⵣⵉⵖ é ç") == []


def test_renderers_draw_on_a_given_axes_and_return_it(segments, tables, topics, embeddings):
    fig, axes = plt.subplots(2, 3)
    calls = [
        lambda ax: plot_corpus_overview(corpus_counts(segments, CONFIG), ax=ax),
        lambda ax: plot_share_heatmap(tables["theme_by_language"], ax=ax),
        lambda ax: plot_shares_over_time(tables["theme_by_period"], ax=ax, trends=tables["theme_trends"]),
        lambda ax: plot_top_words(topic_word_shares(segments, topics), ax=ax, topic=0, language="ar"),
        lambda ax: plot_topic_similarity(topic_similarity(segments, embeddings), ax=ax),
        lambda ax: plot_document_map(segments.assign(x=embeddings[:, 0], y=embeddings[:, 1]), ax=ax),
    ]
    for call, ax in zip(calls, axes.flat, strict=True):
        returned_fig, returned_ax = call(ax)
        assert returned_fig is fig and returned_ax is ax
        assert ax.has_data() or ax.images or ax.texts
    assert plt.get_fignums() == [fig.number]  # no stray figures


def test_heatmap_cells_carry_share_and_interval(tables):
    shares = tables["theme_by_source"]
    _, ax = plot_share_heatmap(shares)
    texts = [t.get_text() for t in ax.texts]
    row = shares[(shares["group"] == "outlet-a") & (shares["theme"] == "infrastructure")].iloc[0]
    assert f"{row['share']:.0%}\n{row['ci_low']:.0%}–{row['ci_high']:.0%}" in texts
    assert len(texts) == len(shares)


def test_time_series_bands_match_the_interval(tables):
    period_shares = tables["theme_by_period"]
    _, ax = plot_shares_over_time(period_shares, values=["infrastructure"], trends=tables["theme_trends"])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    rows = period_shares[period_shares["theme"] == "infrastructure"]
    assert band.max() == pytest.approx(rows["ci_high"].max())
    legend = ax.get_legend().get_texts()[0].get_text()
    assert legend.startswith("infrastructure (+") and "pts/yr" in legend
    _, panels = figure_shares_over_time(period_shares, trends=tables["theme_trends"])
    titles = [ax.get_title(loc="left") for ax in panels.flat if ax.get_visible()]
    assert len(titles) == 5 and titles[0].startswith("infrastructure\n+")


def test_document_map_labels_topics_at_their_clusters_without_overlap(segments, embeddings):
    points = segments.assign(x=embeddings[:, 0], y=embeddings[:, 1])
    fig, ax = plot_document_map(points, max_topics=4)
    labels = list(ax.texts)
    assert len(labels) == 4
    assert all("_" not in t.get_text() for t in labels)  # "0_data centres_…" shown as "data centres · …"
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in labels]
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(4) for j in range(i + 1, 4))


def test_top_words_grid_has_one_row_per_topic_and_arabic_words(segments, topics):
    words = topic_word_shares(segments, topics, languages=["ar", "fr", "en"])
    assert (words["segment_share"] > 0).all()
    infrastructure = words[(words["topic"] == 0) & (words["language"] == "ar")]
    assert set(infrastructure["word"]) <= set(WORDS["infrastructure"]["ar"])
    _, axes = figure_top_words(words, max_topics=3)
    assert axes.shape == (3, 3)
    arabic_ticks = [t.get_text() for t in axes[0, 0].get_yticklabels()]
    assert arabic_ticks and all(re.search("[\u0600-\u06ff]", t) for t in arabic_ticks)


def test_interactive_files_are_offline_and_escape_corpus_text(tmp_path, segments, embeddings, tables):
    points = segments.assign(x=embeddings[:, 0], y=embeddings[:, 1]).reset_index(drop=True)
    points.loc[0, "text"] = "<script>alert(1)</script> مراكز البيانات"
    path = write_interactive(interactive_document_map(points), tmp_path / "map.html")
    page = path.read_text(encoding="utf-8")
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page
    assert not re.search(r"<script[^>]*\bsrc=", page) and len(page) > 1_000_000  # plotly.js inlined
    series = write_interactive(interactive_shares_over_time(tables["theme_by_period"]), tmp_path / "ts.html")
    assert "infrastructure" in series.read_text(encoding="utf-8")


@pytest.mark.slow
def test_write_run_figures_saves_the_report_set(tmp_path, segments, tables, topics):
    paths = write_run_figures(
        segments,
        tmp_path,
        footer=FOOTER,
        tables=tables,
        topics=topics,
        figure_config=FigureConfig(formats=("png",)),
    )
    names = {p.name for p in paths}
    assert {"corpus_overview.png", "theme_by_language.png", "theme_by_source.png", "theme_shares_over_time.png",
            "theme_shares_over_time.html", "top_words.png"} <= names  # fmt: skip
    assert plt.get_fignums() == []
