"""Theme and topic shares by source, language and period, with intervals that respect articles.

One row builder, `share_table`, feeds every share table; `theme_trends` turns its period shares into
a slope per theme; `representative_segments` picks what to quote (`analysis.drilldown` finds the
articles behind a cell, `analysis.export` writes the files). Intervals come from a bootstrap over
documents: the segments of one article share its author, outlet and framing, so they are not
independent draws, and resampling segments would make an article of twenty paragraphs look like
twenty pieces of evidence.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.config import TableConfig
from analysis.export import to_csv, to_markdown  # noqa: F401  (moved to export; kept here for notebooks)
from analysis.schema import is_original, require_columns
from analysis.text import normalise_for_words
from analysis.topics.files import as_word_list

SEGMENTS_FIX = "Topic columns come from `python -m analysis topics` (segments.parquet of a run folder)."

Unit = Literal["theme", "topic"]
# (rows: group, doc_id, value; the unit values in order; config) → groups, count matrices, replicates
GroupCounter = Callable[[pd.DataFrame, list[Any], TableConfig], tuple[list[str], list[np.ndarray], list[np.ndarray]]]
Grouping = Literal["source", "language", "period"] | str

SHARE_COLUMNS = ["group", "n_segments", "n_documents", "share", "ci_low", "ci_high", "small_cell"]
TREND_COLUMNS = [
    "theme", "slope_per_year", "ci_low", "ci_high",
    "first_period_share", "last_period_share", "change", "direction",
]  # fmt: skip
_PERIOD_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}
# Dates known only to a coarser precision than the period cannot be placed in one period.
_PRECISION_RANK = {"day": 0, "month": 1, "quarter": 2, "year": 3}
# Replicates × documents drawn at once; bounds the memory of one bootstrap chunk (~16 MB).
_BOOTSTRAP_CHUNK = 2_000_000


@dataclass(frozen=True)
class _Prepared:
    """The rows a table is built from: one per segment, with its group, document and unit value."""

    rows: pd.DataFrame  # columns: group, doc_id, value
    values: list[Any]  # every unit value, in output order
    note: dict[str, Any]


def resolve_period(segments: pd.DataFrame, config: TableConfig, *, min_documents: int = 10) -> TableConfig:
    """`period = "auto"` made concrete: the finest period whose median period holds enough documents.

    Monthly shares of a corpus with three articles a month are noise; yearly shares of a corpus with
    thousands a month hide the story. The rule picks month, quarter or year from the corpus itself.
    """
    if config.period != "auto":
        return config
    dates = pd.to_datetime(segments.drop_duplicates("doc_id")["date"], errors="coerce").dropna()
    for period in ("month", "quarter"):
        counts = dates.dt.to_period(_PERIOD_FREQ[period]).value_counts()
        if len(counts) and counts.median() >= min_documents:
            return replace(config, period=period)
    return replace(config, period="year")


def share_table(
    segments: pd.DataFrame,
    *,
    by: Grouping,
    unit: Unit = "theme",
    config: TableConfig,
    include_duplicates: bool = True,
    counter: GroupCounter | None = None,
) -> pd.DataFrame:
    """Share of each theme (or topic) among the segments of each group, with a bootstrap interval.

    `by` is "period" (month, quarter or year from `config.period`, dated segments only) or any
    column of `segments` ("source", "language", "darija"...). Returns one row per group and unit
    value, zeros included, so that the shares of a group sum to 1:
    [group, <unit>, n_segments, n_documents, share, ci_low, ci_high, small_cell].

    The interval resamples documents with replacement within the group (`config.n_bootstrap`
    replicates, seeded by `config.seed` and the group's name, so adding a source leaves the other
    sources' intervals unchanged) and takes the percentile interval at `config.confidence`.
    `small_cell` marks groups with fewer than `config.min_docs_per_cell` documents: their shares
    rest on too few articles to compare, whatever the interval says.

    Duplicates (`duplicate_of != ""`) count by default: an outlet that republishes a story pushes
    its theme. `include_duplicates=False` counts each story once. What was left out (undated or
    too coarsely dated segments, duplicates) is in `table.attrs["note"]`.

    `counter` computes the per-document counts and their bootstrap elsewhere (on a Dask cluster:
    `analysis.compute.tables`); it must return what `group_counts_and_replicates` returns.
    """
    config = resolve_period(segments, config)
    prepared = _prepare(segments, by=by, unit=unit, config=config, include_duplicates=include_duplicates)
    groups, counts, replicates = (counter or group_counts_and_replicates)(prepared.rows, prepared.values, config)
    rows = []
    n_docs_total = {}
    for group, (pair_counts, reps) in zip(groups, zip(counts, replicates, strict=True), strict=True):
        seg_per_value = pair_counts.sum(axis=0)
        docs_per_value = (pair_counts > 0).sum(axis=0)
        total = seg_per_value.sum()
        low, high = _interval(reps, config.confidence)
        n_docs_total[group] = len(pair_counts)
        small = len(pair_counts) < config.min_docs_per_cell
        for k, value in enumerate(prepared.values):
            rows.append(
                (group, value, int(seg_per_value[k]), int(docs_per_value[k]),
                 seg_per_value[k] / total, low[k], high[k], small)
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=["group", unit, *SHARE_COLUMNS[1:]])
    table.attrs.update(
        {
            "by": by,
            "unit": unit,
            "period": config.period,
            "group_documents": n_docs_total,
            "confidence": config.confidence,
            "min_docs_per_cell": config.min_docs_per_cell,
        }
        | prepared.note
    )
    return table


def theme_trends(
    segments: pd.DataFrame,
    config: TableConfig,
    *,
    include_duplicates: bool = True,
    counter: GroupCounter | None = None,
) -> pd.DataFrame:
    """A slope per theme (share points per year) of period shares, with a bootstrap-over-documents interval.

    Period shares come from `share_table(by="period")`; the slope is a weighted least-squares fit of
    share against time, each period weighted by its number of documents, so a month with two
    articles does not swing the line. The interval refits the slope on replicates that resample
    documents within each period. `direction` is "rising" or "falling" only when the whole interval
    is on one side of zero. `first_period_share`, `last_period_share` and `change` are the observed
    shares of the first and last period and their difference (noisy when those periods are small:
    read the slope). With fewer than two periods the slopes are missing and `direction` says why.
    `counter`: as in `share_table`.
    """
    config = resolve_period(segments, config)
    prepared = _prepare(
        segments, by="period", unit="theme", config=config, include_duplicates=include_duplicates
    )
    groups, counts, replicates = (counter or group_counts_and_replicates)(prepared.rows, prepared.values, config)
    themes = prepared.values
    if not groups:  # an undated corpus: say so in every row rather than stop the run
        table = pd.DataFrame({"theme": themes}).reindex(columns=TREND_COLUMNS)
        table["direction"] = "n/a (no dated segments)"
        table.attrs.update({"periods": []} | prepared.note)
        return table
    observed = np.array([c.sum(axis=0) / c.sum() for c in counts])  # (P, K)
    weights = np.array([len(c) for c in counts], dtype=float)  # documents per period
    freq = _PERIOD_FREQ[config.period]
    starts = pd.PeriodIndex(groups, freq=freq).start_time
    years = np.asarray((starts - starts[0]).days, dtype=float) / 365.25
    if len(groups) < 2:
        slope = low = high = np.full(len(themes), np.nan)
        direction = [f"n/a ({len(groups)} {config.period})"] * len(themes)
    else:
        slope = _weighted_slope(years, observed, weights)
        reps = np.stack(replicates, axis=1)  # (B, P, K)
        low, high = _interval(_weighted_slope(years, reps, weights), config.confidence)
        direction = np.where(low > 0, "rising", np.where(high < 0, "falling", "no clear trend")).tolist()
    table = pd.DataFrame(
        {
            "theme": themes,
            "slope_per_year": slope,
            "ci_low": low,
            "ci_high": high,
            "first_period_share": observed[0],
            "last_period_share": observed[-1],
            "change": observed[-1] - observed[0],
            "direction": direction,
        }
    )
    table.attrs.update(
        {"periods": list(groups), "first_period": groups[0], "last_period": groups[-1]} | prepared.note
    )
    return table


def representative_segments(
    segments: pd.DataFrame,
    *,
    topics: pd.DataFrame | None = None,
    embeddings: np.ndarray | None = None,
    n: int = 3,
    include_duplicates: bool = False,
) -> pd.DataFrame:
    """The `n` most typical segments of each topic in each language, best first.

    Typical means, in order of what is given: closest (cosine) to the topic's centroid when
    `embeddings` (one row per segment, in the order of `segments`) are given; most of the topic's own
    words (in the segment's language, from the `topics` table) when `topics` is given; otherwise the
    highest `theme_score`. Outliers (topic -1) have no typical segment; duplicates are left out by
    default so that one syndicated story is not quoted three times.
    """
    require_columns(segments, ["segment_id", "doc_id", "topic", "language", "text"], what="representative_segments", fix=SEGMENTS_FIX)
    if n < 1:
        raise ValueError(f"representative_segments: n must be at least 1, got {n}")
    frame = segments.reset_index(drop=True)
    keep = (frame["topic"] != -1).to_numpy()
    if not include_duplicates:
        keep = keep & is_original(frame).to_numpy()
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype=float)
        if embeddings.ndim != 2 or len(embeddings) != len(frame):
            raise ValueError(
                f"representative_segments: embeddings have shape {embeddings.shape}; expected one row "
                f"per segment ({len(frame)}, d), in the order of the segment table"
            )
        scores, method = _centroid_similarity(frame, embeddings), "centroid cosine"
    elif topics is not None:  # scored only where a segment can be chosen: folding every text is the cost
        scores, method = np.full(len(frame), np.nan), "topic words"
        scores[keep] = _topic_word_hits(frame[keep], topics)
    else:
        require_columns(frame, ["theme_score"], what="representative_segments without topics or embeddings", fix=SEGMENTS_FIX)
        scores, method = frame["theme_score"].to_numpy(dtype=float), "theme score"
    frame = frame.assign(score=scores, method=method)
    frame = frame[keep].sort_values(
        ["topic", "language", "score", "segment_id"], ascending=[True, True, False, True]
    )
    frame["rank"] = frame.groupby(["topic", "language"]).cumcount() + 1
    frame = frame[frame["rank"] <= n]
    columns = ["topic", "topic_label", "language", "rank", "score", "method", "segment_id", "doc_id",
               "source", "date", "title", "url", "text"]  # fmt: skip
    return frame[[c for c in columns if c in frame]].reset_index(drop=True)


def topic_word_shares(
    segments: pd.DataFrame,
    topics: pd.DataFrame,
    *,
    languages: Sequence[str] | None = None,
    n_words: int = 8,
    max_topics: int = 20,
) -> pd.DataFrame:
    """For each topic and language, the share of the topic's segments in that language using each topic word.

    The topics table holds words without weights; counting how many of the topic's own segments
    contain a word gives the bars of the top-words figure a meaning a reader can check. Words come
    from `words_<language>` when the topics table has it, else from `words`. Largest topics first.
    Columns: [topic, topic_label, language, word, rank, segment_share, n_segments].
    """
    require_columns(segments, ["topic", "language", "text"], what="topic_word_shares", fix=SEGMENTS_FIX)
    require_columns(topics, ["topic", "words"], what="the topics table", fix=SEGMENTS_FIX)
    languages = list(languages) if languages is not None else sorted(segments["language"].unique())
    order = topics[topics["topic"] != -1]
    order = order.sort_values("size", ascending=False) if "size" in order else order
    keys = segments["text"].map(lambda t: f" {_match_key(t)} ")
    rows = []
    for _, topic_row in order.head(max_topics).iterrows():
        topic = topic_row["topic"]
        label = topic_row.get("label", topic_row.get("topic_label", str(topic)))
        for language in languages:
            mask = (segments["topic"] == topic) & (segments["language"] == language)
            texts = keys[mask]
            words = _as_words(topic_row.get(f"words_{language}")) or _as_words(topic_row["words"])
            shares = [(w, float(texts.str.contains(f" {_match_key(w)} ", regex=False).mean())) for w in words]
            shares = sorted((p for p in shares if p[1] > 0), key=lambda p: -p[1])[:n_words]
            rows += [
                (topic, label, language, w, r + 1, share, int(mask.sum()))
                for r, (w, share) in enumerate(shares)
            ]
    columns = ["topic", "topic_label", "language", "word", "rank", "segment_share", "n_segments"]
    return pd.DataFrame(rows, columns=columns)


def topic_similarity(segments: pd.DataFrame, embeddings: np.ndarray, *, max_topics: int = 20) -> pd.DataFrame:
    """Cosine similarity of the largest topics' centroids, ordered by average-linkage clustering.

    Square DataFrame indexed both ways by topic label; similar topics end up next to each other,
    so near-duplicate topics show as bright blocks along the diagonal.
    """
    from scipy.cluster.hierarchy import leaves_list, linkage

    require_columns(segments, ["topic"], what="topic_similarity", fix=SEGMENTS_FIX)
    embeddings = np.asarray(embeddings, dtype=float)
    if len(embeddings) != len(segments):
        raise ValueError(
            f"topic_similarity: {len(embeddings)} embeddings for {len(segments)} segments; pass the "
            "run's embeddings.npy, one row per segment in the order of segments.parquet"
        )
    topic = segments["topic"].to_numpy()
    sizes = pd.Series(topic[topic != -1]).value_counts()
    chosen = sizes.index[:max_topics].tolist()
    centroids = np.array([embeddings[topic == t].mean(axis=0) for t in chosen])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True).clip(1e-12)
    order = (
        leaves_list(linkage(centroids, "average", metric="cosine"))
        if len(chosen) > 2
        else np.arange(len(chosen))
    )
    labels = segments.drop_duplicates("topic").set_index("topic")
    names = [
        str(labels.loc[chosen[i], "topic_label"]) if "topic_label" in labels else str(chosen[i])
        for i in order
    ]
    similarity = centroids[order] @ centroids[order].T
    return pd.DataFrame(similarity, index=names, columns=names)


def corpus_counts(segments: pd.DataFrame, config: TableConfig) -> pd.DataFrame:
    """Documents and segments by period, source and document language; undated documents as "undated".

    The corpus overview figure draws it; counting documents (not segments) shows what was collected.
    """
    config = resolve_period(segments, config)
    require_columns(segments, ["doc_id", "source", "date", "language"], what="corpus_counts", fix=SEGMENTS_FIX)
    language = "doc_language" if "doc_language" in segments else "language"
    frame = segments[["doc_id", "source", "date", language]].rename(columns={language: "language"})
    freq = _PERIOD_FREQ[config.period]
    dates = pd.to_datetime(frame["date"])
    frame = frame.assign(period=dates.dt.to_period(freq).astype(str).where(dates.notna(), "undated"))
    documents = frame.groupby("doc_id", sort=False).agg(
        period=("period", "first"),
        source=("source", "first"),
        language=("language", lambda s: s.mode().iat[0]),
        n_segments=("period", "size"),
    )
    table = (
        documents.groupby(["period", "source", "language"])
        .agg(n_documents=("n_segments", "size"), n_segments=("n_segments", "sum"))
        .reset_index()
    )
    return table


# --- building blocks -------------------------------------------------------------------------------


def _prepare(
    segments: pd.DataFrame, *, by: str, unit: str, config: TableConfig, include_duplicates: bool
) -> _Prepared:
    if unit not in ("theme", "topic"):
        raise ValueError(f"unit must be 'theme' or 'topic', got {unit!r}")
    if config.period not in _PERIOD_FREQ:
        raise ValueError(f"config.period = {config.period!r} is not one of {', '.join(_PERIOD_FREQ)}")
    needed = ["doc_id", unit, "date" if by == "period" else by]
    needed += [] if include_duplicates else ["duplicate_of"]
    require_columns(segments, needed, what=f"share table by {by!r}", fix=SEGMENTS_FIX)
    frame = segments
    note: dict[str, Any] = {"include_duplicates": include_duplicates}
    if "duplicate_of" in frame:
        is_duplicate = ~is_original(frame)
        note["n_duplicates"] = int(is_duplicate.sum())
        if not include_duplicates:
            frame = frame[~is_duplicate]
    # Every value the unit takes anywhere, so that tables of the same corpus line up.
    values = sorted(segments[unit].dropna().unique().tolist(), key=_sort_key)
    if by == "period":
        frame, period_note = _with_period(frame, config)
        note |= period_note
        group = frame["period"]
    else:
        group = frame[by].astype("string").fillna("(missing)")
    missing_unit = frame[unit].isna()
    if missing_unit.any():
        raise ValueError(
            f"share table: {int(missing_unit.sum())} segment(s) have no {unit} (first: "
            f"{frame.loc[missing_unit, 'doc_id'].iat[0]}); run the topic stage on every segment first"
        )
    rows = pd.DataFrame({"group": group.to_numpy(), "doc_id": frame["doc_id"].to_numpy(),
                         "value": frame[unit].to_numpy()})  # fmt: skip
    note["note"] = _describe(note, config)
    return _Prepared(rows=rows, values=values, note=note)


def _with_period(frame: pd.DataFrame, config: TableConfig) -> tuple[pd.DataFrame, dict[str, int]]:
    dates = pd.to_datetime(frame["date"])
    dated = dates.notna()
    coarse = pd.Series(False, index=frame.index)
    if "date_precision" in frame:
        rank = frame["date_precision"].map(_PRECISION_RANK)
        coarse = dated & (rank > _PRECISION_RANK[config.period])
    keep = dated & ~coarse
    period = dates[keep].dt.to_period(_PERIOD_FREQ[config.period]).astype(str)
    note = {"n_undated": int((~dated).sum()), "n_too_coarse": int(coarse.sum())}
    return frame[keep].assign(period=period), note


def _describe(note: dict[str, Any], config: TableConfig) -> str:
    parts = []
    if note.get("n_undated"):
        parts.append(f"{note['n_undated']} undated segment(s) left out")
    if note.get("n_too_coarse"):
        parts.append(f"{note['n_too_coarse']} segment(s) dated more coarsely than a {config.period} left out")
    if note.get("n_duplicates"):
        verb = "counted" if note["include_duplicates"] else "left out"
        parts.append(f"{note['n_duplicates']} duplicate segment(s) {verb}")
    return "; ".join(parts)


def group_counts_and_replicates(
    rows: pd.DataFrame, values: list[Any], config: TableConfig
) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Per group (sorted): the documents × values count matrix and the bootstrap shares (B × values).

    `rows` holds one row per segment (group, doc_id, value); a group's documents are in the order
    of their first segment, which fixes which document each bootstrap weight falls on.
    """
    value_code = value_codes(rows["value"], values)
    n_values = len(values)
    groups, counts, replicates = [], [], []
    for group, idx in sorted(rows.groupby("group", sort=False).indices.items(), key=lambda kv: kv[0]):
        doc_code, _ = pd.factorize(rows["doc_id"].to_numpy()[idx])
        doc_counts = doc_count_matrix(doc_code, value_code[idx], n_values)
        groups.append(group)
        counts.append(doc_counts)
        replicates.append(group_replicates(doc_counts, group, config))
    return groups, counts, replicates


def value_codes(values_of_rows: pd.Series | np.ndarray, values: list[Any]) -> np.ndarray:
    """Each row's position in `values` (the unit values in output order)."""
    return pd.Categorical(values_of_rows, categories=values).codes


def doc_count_matrix(
    doc_code: np.ndarray, value_code: np.ndarray, n_values: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Documents × values matrix of segment counts (`weights`: counts already summed per pair)."""
    flat = np.bincount(doc_code * n_values + value_code, weights=weights, minlength=(doc_code.max() + 1) * n_values)
    return flat.reshape(-1, n_values).astype(float)


def group_replicates(doc_counts: np.ndarray, group: str, config: TableConfig) -> np.ndarray:
    """The bootstrap shares of one group, seeded by `config.seed` and the group's name."""
    # crc32 of the group name: a seed that does not depend on which other groups exist.
    rng = np.random.default_rng([config.seed, zlib.crc32(str(group).encode("utf-8"))])
    return _bootstrap_shares(doc_counts, config.n_bootstrap, rng)


def _bootstrap_shares(doc_counts: np.ndarray, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """Shares of each value in `n_bootstrap` resamples of the documents (rows of `doc_counts`).

    A resample is a vector of multinomial weights (how often each document is drawn), so a
    replicate's counts are `weights @ doc_counts`: (B, D) @ (D, K), done in chunks of replicates.
    """
    n_docs = len(doc_counts)
    chunk = max(1, _BOOTSTRAP_CHUNK // max(n_docs, 1))
    parts = []
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        weights = rng.multinomial(n_docs, np.full(n_docs, 1.0 / n_docs), size=size)
        totals = weights @ doc_counts
        parts.append(totals / totals.sum(axis=1, keepdims=True))
    return np.concatenate(parts)


def _interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(replicates, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _weighted_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares slope of y (…, P, K) on x (P,), for every leading index and column."""
    xc = x - np.average(x, weights=w)
    yc = y - np.einsum("p,...pk->...k", w, y)[..., None, :] / w.sum()
    return np.einsum("p,...pk->...k", w * xc, yc) / np.sum(w * xc**2)


def _centroid_similarity(frame: pd.DataFrame, embeddings: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.where(norms == 0, 1.0, norms)
    scores = np.zeros(len(frame))
    for _, idx in frame.groupby("topic").indices.items():
        centroid = unit[idx].mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        scores[idx] = unit[idx] @ centroid
    return scores


def _topic_word_hits(frame: pd.DataFrame, topics: pd.DataFrame) -> np.ndarray:
    """How many of its topic's words (in its language, else the pooled list) each segment contains."""
    require_columns(topics, ["topic", "words"], what="the topics table", fix=SEGMENTS_FIX)
    by_topic = topics.set_index("topic")
    scores = np.zeros(len(frame))
    word_keys: dict[tuple[Any, Any], list[str]] = {}  # (topic, language) → its words, folded once
    for i, (topic, language, text) in enumerate(
        zip(frame["topic"], frame["language"], frame["text"], strict=True)
    ):
        if topic not in by_topic.index:
            continue
        if (topic, language) not in word_keys:
            row = by_topic.loc[topic]
            words = _as_words(row.get(f"words_{language}")) or _as_words(row["words"])
            word_keys[topic, language] = [f" {_match_key(w)} " for w in words]
        key = f" {_match_key(text)} "
        scores[i] = sum(word in key for word in word_keys[topic, language])
    return scores


_NON_WORD = re.compile(r"[^\w]+")


def _match_key(text: str) -> str:
    """Text folded exactly as topic words were (the topic-word vectorizer's normalisation), for matching."""
    return " ".join(_NON_WORD.sub(" ", normalise_for_words(str(text))).split())


def _as_words(value: Any) -> list[str]:
    """Topic words as a list (the topics table holds lists; `analysis.topics.files.as_word_list`)."""
    return as_word_list(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before text; "other" (no theme) last."""
    if isinstance(value, int | np.integer | float):
        return (0, value)
    return (2, value) if value == "other" else (1, str(value))
