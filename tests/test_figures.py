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
from analysis.figures.heatmaps import _percent
from analysis.figures.style import FORMATS, short_label
from analysis.projection import document_map_points, project_2d
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
    texts_before = len(fig.texts)
    paths = save_figure(fig, tmp_path / "figs" / "theme_by_source", footer=FOOTER, formats=FORMATS, dpi=200)
    assert len(fig.texts) == texts_before  # the footer is the file's, not the figure a notebook shows
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
    assert f"{_percent(row['share'])}\n{_percent(row['ci_low'])}–{_percent(row['ci_high'])}\nn={row['n_segments']}" in texts
    assert _percent(0.044) == "4.4%" and _percent(0.12) == "12%"  # a tight interval never reads "5%–5%"
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
    n_topics = points.loc[points["topic"] != -1, "topic"].nunique()
    assert len(labels) == n_topics  # every topic: the 4 largest by name, the others by id
    named = [t.get_text() for t in labels if not t.get_text().isdigit()]
    assert len(named) == 4
    assert all("_" not in t for t in named)  # "0_data centres_…" shown as "data centres · …"
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in labels]
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes)))


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


def test_heatmap_keeps_other_out_of_the_scale_and_keeps_empty_codebook_themes(tables):
    shares = tables["theme_by_language"]
    order = ["infrastructure", "ethics", "sovereignty", "skills", "unused_theme"]
    labels = {"infrastructure": "Infrastructure & compute", "unused_theme": "A theme no topic took"}
    _, ax = plot_share_heatmap(shares, row_labels=labels, row_order=order)
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[0] == "Infrastructure & compute" and "A theme no topic took" in rows and rows[-1] == "other"
    image = ax.images[0]
    data = image.get_array()
    assert data.mask[-1].all()  # "other" is drawn but not coloured by the scale
    assert data.mask[rows.index("A theme no topic took")].all()
    real = shares[shares["theme"] != "other"]["share"].max()
    assert image.norm.vmax == pytest.approx(real)  # the scale ends at the largest real theme
    assert image.norm.vmax < shares[shares["theme"] == "other"]["share"].max() or real >= 0


def test_heatmap_pools_groups_with_too_few_documents(segments):
    tiny = segments.copy()
    tiny.loc[tiny.index[:2], "language"] = "zgh"  # two Tifinagh segments of one document
    shares = share_table(tiny, by="language", config=CONFIG)
    _, ax = plot_share_heatmap(shares)
    columns = [t.get_text() for t in ax.get_xticklabels()]
    assert not any(c.startswith("zgh") for c in columns)
    assert columns[-1].startswith("other languages") and "(1 docs)" in columns[-1]
    assert "zgh (1)" in ax.get_xlabel()


def test_corpus_overview_prints_counts_on_a_log_scale_that_separates_20_from_400():
    counts = pd.DataFrame({"period": ["2024-01", "2024-02", "2024-03"], "source": "a", "language": "fr",
                           "n_documents": [20, 400, 3]})  # fmt: skip
    _, ax = plot_corpus_overview(counts)
    image = ax.images[0]
    assert [t.get_text() for t in ax.texts] == ["20", "400", "3"]
    low, high = (image.norm(v) for v in (20, 400))
    assert high - low > 0.4  # on a linear scale 20 and 400 of 400 would sit 0.95 apart, 3 and 20 together
    assert image.norm(20) - image.norm(3) > 0.25


def test_time_series_panels_have_their_own_scale(tables):
    period_shares = tables["theme_by_period"]
    _, panels = figure_shares_over_time(period_shares)
    tops = [ax.get_ylim()[1] for ax in panels.flat if ax.get_visible()]
    assert len(set(np.round(tops, 4))) == len(tops)  # one scale per theme
    for ax in (a for a in panels.flat if a.get_visible()):
        band = ax.collections[0].get_paths()[0].vertices[:, 1]
        assert band.max() <= ax.get_ylim()[1]  # every band fits its panel


def test_time_series_y_ticks_print_their_own_value():
    """A 0-5 % panel once labelled its 2.5 % tick "2%": every tick label must round to its tick."""
    months = pd.period_range("2020-01", periods=12, freq="M").astype(str)
    rows = []
    for theme, top in (("a", 0.065), ("b", 0.037), ("c", 0.021), ("d", 0.31)):
        for i, month in enumerate(months):
            share = top * (0.5 + 0.5 * np.sin(i)) / 1.08
            rows.append({"group": month, "theme": theme, "share": share, "ci_low": share * 0.8,
                         "ci_high": share * 1.08, "n_docs": 40})  # fmt: skip
    fig, panels = figure_shares_over_time(pd.DataFrame(rows))
    fig.canvas.draw()
    for ax in (a for a in panels.flat if a.get_visible()):
        formatter = ax.yaxis.get_major_formatter()
        ticks = [t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]
        labels = [formatter(t) for t in ticks]
        assert len(set(labels)) == len(labels), labels
        for tick, label in zip(ticks, labels, strict=True):
            assert float(label.rstrip("%")) == pytest.approx(tick * 100, abs=1e-9), (tick, label)
    plt.close(fig)


def test_top_words_titles_give_n_and_hide_thin_language_panels(segments, topics):
    words = topic_word_shares(segments, topics, languages=["ar", "fr", "en"])
    counts = words.drop_duplicates(["topic", "language"]).set_index(["topic", "language"])["n_segments"]
    _, axes = figure_top_words(words, topics=[0, 2], min_segments=30)
    for i, topic in enumerate([0, 2]):
        for j, language in enumerate(["ar", "fr", "en"]):
            ax = axes[i, j]
            n = int(counts.get((topic, language), 0))
            assert f"{language} · n={n}" in [t.get_text() for t in ax.texts]
            assert bool(ax.patches) == (n >= 30)  # bars only where enough segments carry them


def test_similarity_labels_do_not_overprint_at_60_topics():
    rng = np.random.default_rng(1)
    n = 60
    vectors = rng.normal(size=(n, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    names = [f"{i} · ar: كلمة{i}, أخرى · fr: mot{i}, autre · en: word{i}, other" for i in range(n)]
    similarity = pd.DataFrame(vectors @ vectors.T, index=names, columns=names)
    fig, ax = plot_topic_similarity(similarity)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.get_yticklabels()]
    assert len(boxes) == n
    assert not any(boxes[i].overlaps(boxes[i + 1]) for i in range(n - 1))


def test_document_map_at_200_topics_colours_every_topic_and_keeps_labels_apart():
    rng = np.random.default_rng(2)
    centres = rng.uniform(-50, 50, size=(200, 2))
    topic = np.repeat(np.arange(200), 15)
    xy = centres[topic] + rng.normal(scale=0.8, size=(len(topic), 2))
    points = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "topic": topic,
                           "topic_label": [f"{t}_word{t}_mot{t}" for t in topic]})  # fmt: skip
    fig, ax = plot_document_map(points, max_topics=20)
    colours = {tuple(c) for c in ax.collections[1].get_facecolors()[:, :3].round(3)}
    assert len(colours) >= 16  # no grey majority: every topic has a palette colour
    texts = list(ax.texts)
    assert len(texts) >= 180  # all but the few ids that could not be placed without overprinting
    assert sum(not t.get_text().isdigit() for t in texts) >= 15  # most of the 20 largest keep their name
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in texts]
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes)))


@pytest.mark.slow
def test_projection_is_cached_by_embedding_hash(tmp_path, monkeypatch, segments, embeddings):
    import analysis.projection as projection

    first = document_map_points(segments, embeddings, seed=3, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npy"))) == 1

    def no_fit(*args, **kwargs):
        raise AssertionError("UMAP fitted again although the projection is cached")

    monkeypatch.setattr(projection, "_fit", no_fit)
    again = document_map_points(segments, embeddings, seed=3, cache_dir=tmp_path)
    np.testing.assert_array_equal(first[["x", "y"]], again[["x", "y"]])
    with pytest.raises(AssertionError, match="fitted again"):  # other embeddings: another entry
        project_2d(embeddings + 1.0, seed=3, cache_dir=tmp_path)


@pytest.mark.slow
def test_run_figures_write_captions_for_every_saved_figure(tmp_path, segments, tables, topics, embeddings):
    import json

    figures = tmp_path / "figures"
    paths = write_run_figures(segments, figures, footer=FOOTER, tables=tables, topics=topics, embeddings=embeddings,
                              figure_config=FigureConfig(formats=("png", "svg")),
                              theme_labels={"infrastructure": "Infrastructure", "ethics": "Ethics"})  # fmt: skip
    entries = json.loads((figures / "figures.json").read_text(encoding="utf-8"))
    names = [e["name"] for e in entries]
    assert names[:4] == ["corpus_overview", "theme_by_language", "theme_by_source", "theme_shares_over_time"]
    assert {"top_words", "topic_similarity", "document_map"} <= set(names)
    listed = {tmp_path / f for e in entries for f in e["files"].values()}
    assert listed == set(paths) and all(p.is_file() for p in listed)
    for entry in entries:
        assert entry["files"]["png"] == f"figures/{entry['name']}.png"
        assert 2 <= entry["caption"].count(". ") + 1 <= 6 and entry["title"]
    assert entries[names.index("document_map")]["files"]["html"] == "figures/document_map.html"
    assert plt.get_fignums() == []


def test_short_labels_cut_at_language_seams_without_stray_fragments():
    label = "2 · ar: التعليم, التربية الوطنية, التلاميذ · fr: education, enseignement"
    assert short_label(label, 100).lstrip("\u200e") == label
    first = "2 · ar: التعليم, التربية الوطنية, التلاميذ"
    assert short_label(label, len(first) + 5).lstrip("\u200e") == first
    assert short_label(label, 22).lstrip("\u200e") == "2 · ar: التعليم"
    assert "·…" not in short_label(label, 30) and not short_label(label, 30).endswith("·")


@pytest.mark.slow
def test_figures_drawn_in_two_processes_equal_those_drawn_in_one(
    tmp_path, monkeypatch, segments, tables, topics, embeddings
):
    """The same files, pixel for pixel, and the same figures.json, whichever way they were drawn."""
    from analysis.figures import run as figure_run

    original = figure_run.run_jobs
    for workers in (1, 2):
        monkeypatch.setattr(figure_run, "run_jobs",
                            lambda jobs, workers=None, order=None, _n=workers: original(jobs, workers=_n, order=order))
        write_run_figures(segments, tmp_path / f"w{workers}", footer=FOOTER, tables=tables, topics=topics,
                          embeddings=embeddings, figure_config=FigureConfig(formats=("png",)))  # fmt: skip
    one, two = tmp_path / "w1", tmp_path / "w2"
    assert (one / "figures.json").read_text(encoding="utf-8").replace("w1/", "w2/") == (
        two / "figures.json"
    ).read_text(encoding="utf-8")
    pngs = sorted(p.name for p in one.glob("*.png"))
    assert pngs == sorted(p.name for p in two.glob("*.png")) and len(pngs) >= 6
    for name in pngs:
        a, b = (np.asarray(Image.open(folder / name).convert("RGB")) for folder in (one, two))
        assert a.shape == b.shape and (a == b).all(), name
    assert plt.get_fignums() == []


def test_run_jobs_draws_in_worker_processes_keeps_the_report_order_and_raises_their_errors():
    import os

    from analysis.figures.run import SavedFigure, run_jobs

    def job(name):
        return lambda: [SavedFigure(name, name, str(os.getpid()))]

    names = [f"figure_{i}" for i in range(5)]
    parallel = run_jobs([job(n) for n in names], workers=2)
    assert [f.name for f in parallel] == names
    assert {int(f.caption) for f in parallel} - {os.getpid()}  # drawn in forked workers
    started_last_first = run_jobs([job(n) for n in names], workers=2, order=[4, 3, 2, 1, 0])
    assert [f.name for f in started_last_first] == names  # returned in the jobs' order all the same
    with pytest.raises(ValueError, match="each of the 5 job indices"):
        run_jobs([job(n) for n in names], workers=2, order=[0, 0, 1, 2, 3])
    serial = run_jobs([job(n) for n in names], workers=1)
    assert [f.name for f in serial] == names and {int(f.caption) for f in serial} == {os.getpid()}

    def broken():
        raise ValueError("renderer failed on purpose")

    with pytest.raises(ValueError, match="on purpose"):
        run_jobs([job("a"), broken], workers=2)
