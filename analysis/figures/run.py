"""The friendly layer: every figure of a run, drawn from its data, saved in the configured formats.

The pipeline, the `figures` command and the notebooks call `write_run_figures` (data in hand) or
`save_run_figures` (a run result); the renderers never save. Derived tables come from
`analysis.tables` and the map's coordinates from `analysis.projection`; both are passed in when the
caller has them. Each saved figure gets an entry in `figures/figures.json` (name, title, caption,
files relative to the run folder) in report order: the report places and captions figures from it.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.figures.heatmaps import OTHER, plot_corpus_overview, plot_share_heatmap, plot_topic_similarity
from analysis.figures.maps import interactive_document_map, plot_document_map, write_interactive
from analysis.figures.style import FigureFooter, save_figure
from analysis.figures.trends import (
    figure_shares_over_time,
    interactive_shares_over_time,
    plot_theme_comparison,
)
from analysis.figures.words import TOPICS_PER_PAGE, figure_top_words, top_words_pages

CAPTIONS_FILE = "figures.json"
SIMILARITY_TOPICS = 40  # rows of the similarity figure that stay readable on one page


@dataclass
class SavedFigure:
    """One figure as the report needs it: stem, short title, caption, and its files by format."""

    name: str
    title: str
    caption: str
    files: dict[str, Path] = field(default_factory=dict)

    def as_json(self, root: Path) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "caption": self.caption,
                "files": {fmt: _relative(path, root) for fmt, path in self.files.items()}}  # fmt: skip


def write_run_figures(segments: pd.DataFrame, out_dir: str | Path, **options: Any) -> list[Path]:
    """As `render_run_figures`, returning the files written (what the pipeline records)."""
    return [path for figure in render_run_figures(segments, out_dir, **options) for path in figure.files.values()]


def render_run_figures(
    segments: pd.DataFrame,
    out_dir: str | Path,
    *,
    footer: FigureFooter,
    tables: Mapping[str, pd.DataFrame],
    topics: pd.DataFrame | None = None,
    embeddings: np.ndarray | None = None,
    points: pd.DataFrame | None = None,
    table_config: Any = None,
    figure_config: Any = None,
    theme_labels: Mapping[str, str] | None = None,
    prefix: str = "",
    names: Sequence[str] | None = None,
    show: Callable[[Figure], Any] | None = None,
) -> list[SavedFigure]:
    """Every report figure of a run, saved under `out_dir`; returns one `SavedFigure` (with its caption) per
    figure and writes figures.json.

    `tables` are the run's tables by name (theme_by_language, theme_by_source, theme_by_period,
    theme_trends, theme_comparison, as `pipeline.build_tables` makes them; corpus_counts,
    top_words and topic_similarity are computed here when absent). `points` is the document map
    (`projection.document_map_points`), computed (and cached) from `embeddings` when absent.
    `theme_labels` (codebook key → label) names and orders the theme rows. `names` restricts the
    figures, `prefix` goes before every file stem, and `show` (e.g. IPython's `display`) is called
    with each figure before it is closed. Figures whose inputs are missing are skipped.
    """
    from analysis import tables as tables_module
    from analysis.config import FigureConfig, TableConfig

    table_config = table_config or TableConfig()
    config = figure_config or FigureConfig()
    out_dir = Path(out_dir)
    wanted = set(names) if names is not None else None
    labels = dict(theme_labels or {})
    order = list(labels)
    jobs: list[Callable[[], list[SavedFigure]]] = []  # one per figure (or page set), in report order

    def save(fig: Figure, name: str, title: str, caption: str, notes: Sequence[str] = ()) -> SavedFigure:
        paths = save_figure(fig, out_dir / f"{prefix}{name}", footer=footer, formats=config.formats,
                            dpi=config.dpi, notes=notes)  # fmt: skip
        if show is not None:
            show(fig)
        plt.close(fig)
        return SavedFigure(f"{prefix}{name}", title, caption, {p.suffix[1:]: p for p in paths})

    def want(name: str) -> bool:
        return wanted is None or name in wanted

    def corpus_overview() -> list[SavedFigure]:
        counts = tables.get("corpus_counts")
        counts = counts if counts is not None else tables_module.corpus_counts(segments, table_config)
        return [save(plot_corpus_overview(counts)[0], "corpus_overview", "Corpus overview", _caption_overview(counts))]

    def heatmap(name: str) -> list[SavedFigure]:
        shares = tables[name]
        fig = plot_share_heatmap(shares, row_labels=labels, row_order=order, max_rows=config.max_topics)[0]
        return [save(fig, name, f"Themes by {shares.attrs.get('by', name.split('_')[-1])}",
                     _caption_heatmap(shares, order))]  # fmt: skip

    def shares_over_time() -> list[SavedFigure]:
        trends = tables.get("theme_trends")
        flag = str(trends["flag"].iat[0]) if trends is not None and "flag" in trends and len(trends) else ""
        notes = [f"FLAG: {flag}: slopes are raw; the report gives the composition-adjusted trend"] if flag else []
        fig = figure_shares_over_time(period_shares, trends=trends, labels=labels)[0]
        entry = save(fig, "theme_shares_over_time", "Theme shares over time", _caption_trends(period_shares, flag),
                     notes)  # fmt: skip
        entry.files["html"] = write_interactive(interactive_shares_over_time(period_shares, labels=labels),
                                                out_dir / f"{prefix}theme_shares_over_time.html")  # fmt: skip
        return [entry]

    def theme_comparison() -> list[SavedFigure]:
        return [save(plot_theme_comparison(comparison, labels=labels)[0], "theme_comparison", "Theme comparison",
                     _caption_comparison(comparison))]  # fmt: skip

    def top_words_page(words: pd.DataFrame, languages: list[str], pages: list[list[Any]], page: int) -> list[SavedFigure]:
        chosen = pages[page - 1]
        stem = "top_words" if page == 1 else f"top_words_{page}"
        fig = figure_top_words(words, languages=languages, topics=chosen)[0]
        return [save(fig, stem, "Top words per topic and language" + (f" ({page}/{len(pages)})" if len(pages) > 1 else ""),
                     _caption_words(words, chosen, page, len(pages)))]  # fmt: skip

    def topic_similarity() -> list[SavedFigure]:
        similarity = tables.get("topic_similarity")
        if similarity is None:
            similarity = tables_module.topic_similarity(segments, embeddings, max_topics=SIMILARITY_TOPICS)
        return [save(plot_topic_similarity(similarity)[0], "topic_similarity", "Topic similarity",
                     _caption_similarity(len(similarity), n_topics))]  # fmt: skip

    def document_map() -> list[SavedFigure]:
        entry = save(plot_document_map(points, max_topics=config.max_topics)[0], "document_map",
                     "Document map", _caption_map(points, config.max_topics))  # fmt: skip
        entry.files["html"] = write_interactive(interactive_document_map(points), out_dir / f"{prefix}document_map.html",
                                                search=True)  # fmt: skip
        return [entry]

    if want("corpus_overview"):
        jobs.append(corpus_overview)
    for name in ("theme_by_language", "theme_by_source"):
        if want(name) and name in tables and not tables[name].empty:
            jobs.append(functools.partial(heatmap, name))
    period_shares = tables.get("theme_by_period")
    if want("theme_shares_over_time") and period_shares is not None and not period_shares.empty:
        jobs.append(shares_over_time)
    comparison = tables.get("theme_comparison")
    if want("theme_comparison") and comparison is not None and not comparison.empty:
        jobs.append(theme_comparison)
    if "topic" not in segments:  # a corpus-stage run: no topic figures yet
        topics = embeddings = None
    if topics is not None and "hidden" in topics:  # a curation hid these topics from the charts
        hidden = set(topics.loc[topics["hidden"].astype(bool), "topic"])
        shown = ~segments["topic"].isin(hidden).to_numpy()
        topics, segments = topics[~topics["topic"].isin(hidden)], segments[shown]
        embeddings = embeddings[shown] if embeddings is not None else None
        points = points[shown].reset_index(drop=True) if points is not None else None
    if want("top_words") and topics is not None:  # the shares here, then one job per page
        languages = segments["language"].value_counts().index.tolist()  # the corpus's own, largest first
        words = tables.get("top_words")
        if words is None:
            words = tables_module.topic_word_shares(segments, topics, languages=languages,
                                                    max_topics=len(topics))  # fmt: skip
        pages = top_words_pages(list(pd.unique(words["topic"])), TOPICS_PER_PAGE) if len(words) else []
        jobs += [functools.partial(top_words_page, words, languages, pages, page) for page in range(1, len(pages) + 1)]
    n_topics = int(segments.loc[segments["topic"] != -1, "topic"].nunique()) if "topic" in segments else 0
    if embeddings is not None and n_topics > 2:
        if want("topic_similarity"):
            jobs.append(topic_similarity)
        if want("document_map"):
            if points is None:  # here, not in a worker: the projection is cached for the next run
                from analysis.projection import document_map_points

                points = document_map_points(segments, embeddings, seed=table_config.seed)
            jobs.append(document_map)
    # the document map starts first: on a large corpus it is the longest job (all points, label placement)
    start = sorted(range(len(jobs)), key=lambda k: jobs[k] is not document_map)
    saved = run_jobs(jobs, workers=1 if show is not None else None, order=start)
    write_captions(saved, out_dir, merge=names is not None)
    return saved


def run_jobs(
    jobs: Sequence[Callable[[], list[SavedFigure]]],
    *,
    workers: int | None = None,
    order: Sequence[int] | None = None,
) -> list[SavedFigure]:
    """Each job's figures, in the jobs' order; drawn in `workers` processes (None: one per core),
    started in `order` (indices into `jobs`; default: as given).

    Each figure is drawn and saved on its own (matplotlib has no shared state between figures), so
    on the sample's 8 figures two cores halve the stage. The workers are forked, so they inherit
    the data and the imports. Daemon threads (the manifest's memory sampler, tqdm's monitor) do not
    follow into a forked worker, which never waits on them; with one core, one job, or another
    non-daemon thread alive (its locks could be held at the fork), the jobs run here in turn.
    """
    if workers is None:
        workers = _available_cores()
    workers = min(workers, len(jobs))
    busy = any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate())
    if workers < 2 or busy or "fork" not in multiprocessing.get_all_start_methods():
        return [entry for job in jobs for entry in job()]
    from concurrent.futures import ProcessPoolExecutor

    order = list(order) if order is not None else list(range(len(jobs)))
    if sorted(order) != list(range(len(jobs))):
        raise ValueError(f"order must hold each of the {len(jobs)} job indices once, got {order}")

    global _PENDING
    _PENDING = list(jobs)
    try:
        with warnings.catch_warnings():  # Python 3.12+ warns on any fork beside threads, daemon ones too
            warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                done = dict(zip(order, pool.map(_run_pending, order), strict=True))
    finally:
        _PENDING = []
    return [entry for k in range(len(jobs)) for entry in done[k]]


_PENDING: list[Callable[[], list[SavedFigure]]] = []  # the jobs a forked worker finds by index


def _run_pending(index: int) -> list[SavedFigure]:
    return _PENDING[index]()


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def save_run_figures(
    run: Any,
    names: Sequence[str] | None = None,
    *,
    config: Any = None,
    out_dir: str | Path | None = None,
    prefix: str = "",
    show: bool = True,
) -> list[SavedFigure]:
    """The notebooks' entry: a run result's figures, saved where its configuration says, shown inline.

    `run` is a `pipeline.RunResult` (any stage: a corpus-only run draws the corpus overview);
    `config` a `RunConfig` (default: the one recorded in the run's manifest); `out_dir` defaults to
    RUN_DIR/figures. With `show`, each figure is displayed (IPython) before it is closed.
    """
    from analysis.config import RunConfig

    data = run.manifest.data
    config = config or RunConfig.from_dict(data.get("config", {}))
    segments = run.segments if run.segments is not None else run.corpus.segments
    fitted = run.topic_result
    display = None
    if show:
        from IPython.display import display
    return render_run_figures(
        segments,
        Path(out_dir) if out_dir is not None else Path(run.run_dir) / "figures",
        footer=run_footer(data, len(segments)),
        tables=run.tables,
        topics=fitted.topics if fitted is not None else None,
        embeddings=run.embeddings,
        table_config=config.tables,
        figure_config=config.figures,
        theme_labels=codebook_labels(getattr(fitted, "codebook", None)),
        prefix=prefix,
        names=names,
        show=display,
    )


def run_footer(manifest: Mapping[str, Any], n_segments: int) -> FigureFooter:
    """The footer of a run's figures, from its manifest: corpus, segments, encoder identity, date."""
    return FigureFooter(
        corpus=Path(str(manifest.get("source", ""))).name or "corpus",
        n_segments=n_segments,
        encoder=manifest.get("encoder") or "none (corpus stage)",
        run_date=str(manifest.get("started", ""))[:10],
    )


def write_captions(saved: Sequence[SavedFigure], out_dir: str | Path, *, merge: bool = False) -> Path:
    """figures.json: the figures in report order with their captions and files (relative to the run).

    `merge` (a partial render, e.g. one notebook cell) keeps the other entries already in the file."""
    out_dir = Path(out_dir)
    path = out_dir / CAPTIONS_FILE
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = [f.as_json(out_dir.parent) for f in saved]
    if merge and path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = []
        names = {e["name"] for e in entries}
        entries = [e for e in previous if isinstance(e, dict) and e.get("name") not in names] + entries
    path.write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def codebook_labels(codebook: Any) -> dict[str, str]:
    """Theme key → label from a `themes.Codebook`, in the codebook's order (empty without one)."""
    if codebook is None:
        return {}
    return {theme.key: theme.label for theme in codebook.themes}


# --- captions: what the figure shows, how to read it, what was left out -------------------------------


def _caption_overview(counts: pd.DataFrame) -> str:
    rows = counts.groupby(["source", "language"]).ngroups
    periods = counts["period"].nunique()
    undated = int(counts.loc[counts["period"] == "undated", "n_documents"].sum())
    return (f"Documents collected per source and language (rows, {rows}) and period (columns, {periods}), "
            f"{int(counts['n_documents'].sum()):,} documents in all. Each cell prints its count; the colour "
            "scale is logarithmic, so 20 and 400 documents differ in colour, and white cells are periods "
            "with no document. " + (f"{undated:,} undated documents form the last column." if undated else
            "Every document is dated."))  # fmt: skip


def _caption_heatmap(shares: pd.DataFrame, codebook_keys: Sequence[str]) -> str:
    unit = shares.columns[1]
    by = shares.attrs.get("by", "group")
    confidence = shares.attrs.get("confidence", 0.95)
    present = set(shares.loc[shares["n_segments"] > 0, unit])
    empty = [k for k in codebook_keys if k not in present]
    text = (f"Share of each {by}'s segments per {unit} (rows), with its {confidence:.0%} bootstrap interval "
            f"(documents resampled) and the number of segments n in each cell; a column's shares sum to 100 %. "
            f'The "{OTHER}" row (segments matching no theme) is grey and left out of the colour scale, '
            "which otherwise would make every real theme look alike. ")  # fmt: skip
    text += (f"{len(empty)} codebook theme(s) without any segment appear as empty rows. " if empty else "")
    text += (f"{by.capitalize()} groups with fewer than {shares.attrs.get('min_docs_per_cell', 5)} documents "
             "are pooled into one column without an interval.")  # fmt: skip
    return text


def _caption_trends(period_shares: pd.DataFrame, flag: str) -> str:
    unit = period_shares.columns[1]
    text = (f"Share of segments per {unit} and {period_shares.attrs.get('period', 'period')} (line) with its "
            f"{period_shares.attrs.get('confidence', 0.95):.0%} bootstrap interval (band); each panel has its own "
            "y scale starting at 0, so compare heights within a panel and read the ticks across panels. "
            "The slope in each title is a weighted least-squares trend in percentage points per year, "
            "with its interval. An interactive version is in theme_shares_over_time.html.")  # fmt: skip
    if flag:
        text += f" Flag: {flag}; the raw slopes mix changes in the corpus's composition with changes in coverage."
    return text


def _caption_comparison(comparison: pd.DataFrame) -> str:
    a, b = comparison["group_a"].iat[0], comparison["group_b"].iat[0]
    return (f"Difference of each theme's share between {b} and {a} (points, percentage points) with its "
            "interval (bars). Filled points remain significant after correction for multiple comparisons; "
            "a bar crossing 0 means no clear difference.")  # fmt: skip


def _caption_words(words: pd.DataFrame, chosen: Sequence[Any], page: int, pages: int) -> str:
    n_topics = words["topic"].nunique()
    where = f"topics {page * TOPICS_PER_PAGE - TOPICS_PER_PAGE + 1}–{page * TOPICS_PER_PAGE - TOPICS_PER_PAGE + len(chosen)} of {n_topics}, largest first" if pages > 1 else f"all {n_topics} topics"
    return (f"The topics' top words in each language ({where}). A bar is the share of the topic's segments "
            "in that language that contain the word; n in each panel's title is that number of segments, "
            "and languages with fewer than 5 segments show the count only instead of bars. Outliers (-1) "
            "are left out." + (f" Page {page} of {pages}: the other pages are top_words_2 … top_words_{pages}." if pages > 1 else ""))  # fmt: skip


def _caption_similarity(shown: int, n_topics: int) -> str:
    left = f" the {shown} largest of {n_topics} topics are shown; the rest are left out for legibility." if shown < n_topics else f" all {n_topics} topics are shown."
    return ("Cosine similarity of the topics' mean embeddings, rows and columns ordered by average-linkage "
            "clustering, so bright blocks along the diagonal are groups of close topics (candidates to merge)."
            + left)  # fmt: skip


def _caption_map(points: pd.DataFrame, max_topics: int) -> str:
    n_topics = int(points.loc[points["topic"] != -1, "topic"].nunique())
    outliers = int((points["topic"] == -1).sum())
    return (f"Every segment ({len(points):,}) placed by a 2-D UMAP projection of its embedding: nearby points "
            f"have similar meaning, but distances between far-apart clusters mean little. Each of the "
            f"{n_topics} topics has a colour (colours repeat across distant topics); the {min(max_topics, n_topics)} "
            f"largest are named at their centre and the others carry their id from topics.csv. Grey: {outliers:,} "
            "outlier segments no topic took. The interactive document_map.html shows each segment's text and "
            "has a search box.")  # fmt: skip


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()
