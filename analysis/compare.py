"""Findings that separate change from corpus composition: theme indicators, composition flags,
composition-adjusted trends, and two-period or two-group comparisons with corrected p-values.

A theme's share can rise because outlets wrote more about it, or because the corpus switched from
an outlet that rarely covers it to one that often does. Every function here says which sources and
languages a number rests on, flags a source mix that shifts between periods (or a language held by
one outlet), and reads "rising / falling" from a trend estimated *within* sources:

    adjusted slope = weighted least squares of cell shares on time with source fixed effects,
                     cells = (source, period), weights = documents per cell,
                     i.e. Σ w (t − t̄_s)(y − ȳ_s) / Σ w (t − t̄_s)²  with t̄_s, ȳ_s the source's means.

A source seen in one period only adds nothing to it, so when no source spans two periods the
adjusted trend is missing and the table says change and composition cannot be told apart.
Intervals resample documents within each (source, period) cell (segments of one article are not
independent). Themes come from the segments (`seg_themes`, multi-label) or from their topic
(`theme`), as `FindingsConfig.theme_source` says.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.config import FindingsConfig, TableConfig, ThemeSource
from analysis.schema import require_columns
from analysis.tables import resolve_period
from analysis.themes import OTHER

_PERIOD_FREQ = {"month": "M", "quarter": "Q", "year": "Y"}
_PERMUTATION_CHUNK = 250


def theme_indicators(segments: pd.DataFrame, keys: Sequence[str], *, source: ThemeSource) -> pd.DataFrame:
    """Segments × themes, True where the segment carries the theme; column `other`: carries none.

    `source="segment"` reads the multi-label `seg_themes`; `"topic"` the topic's `theme`.
    """
    keys = [k for k in keys if k != OTHER]
    if source == "segment":
        require_columns(segments, ["seg_themes"], what="theme_source = 'segment'", fix="The topic stage adds it.")
        carried = segments["seg_themes"].map(lambda v: set(v) if v is not None else set())
        data = {key: carried.map(lambda s, key=key: key in s).to_numpy() for key in keys}
    elif source == "topic":
        data = {key: (segments["theme"] == key).to_numpy() for key in keys}
    else:
        raise ValueError(f"theme source must be 'segment' or 'topic', got {source!r}")
    table = pd.DataFrame(data, index=segments.index)
    table[OTHER] = ~table.any(axis=1) if keys else True
    return table


@dataclass(frozen=True)
class _Documents:
    """Per document: its group labels and its theme counts (documents × themes) and segment count."""

    frame: pd.DataFrame  # doc_id, source, language, period...
    counts: np.ndarray  # (D, K)
    n_segments: np.ndarray  # (D,)
    keys: list[str]


def _documents(segments: pd.DataFrame, indicators: pd.DataFrame, columns: Sequence[str]) -> _Documents:
    codes, doc_ids = pd.factorize(segments["doc_id"].to_numpy())
    counts = np.zeros((len(doc_ids), indicators.shape[1]))
    np.add.at(counts, codes, indicators.to_numpy(dtype=float))
    n_segments = np.bincount(codes, minlength=len(doc_ids)).astype(float)
    first = segments.groupby(codes, sort=True)[list(columns)].first().reset_index(drop=True)
    first.insert(0, "doc_id", doc_ids)
    return _Documents(frame=first, counts=counts, n_segments=n_segments, keys=list(indicators.columns))


def _with_periods(segments: pd.DataFrame, config: TableConfig) -> pd.DataFrame:
    dates = pd.to_datetime(segments["date"], errors="coerce")
    period = dates.dt.to_period(_PERIOD_FREQ[config.period]).astype(str).where(dates.notna(), "")
    return segments.assign(period=period)[dates.notna().to_numpy()]


def _bootstrap(counts: np.ndarray, n: np.ndarray, n_bootstrap: int, rng: np.random.Generator):
    """Resampled theme totals (B, K) and segment totals (B,) of a set of documents."""
    weights = rng.multinomial(len(n), np.full(len(n), 1.0 / len(n)), size=n_bootstrap).astype(float)
    return weights @ counts, weights @ n


def _rng(config: TableConfig, *names: Any) -> np.random.Generator:
    return np.random.default_rng([config.seed, *(zlib.crc32(str(name).encode("utf-8")) for name in names)])


def _mix(series: pd.Series) -> dict[str, float]:
    return {str(k): float(v) for k, v in series.value_counts(normalize=True).items()}


def _mix_text(mix: dict[str, float], top: int = 3) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in list(mix.items())[:top])


def _tvd(a: dict[str, float], b: dict[str, float]) -> float:
    return 0.5 * sum(abs(a.get(k, 0.0) - b.get(k, 0.0)) for k in set(a) | set(b))


# --- composition --------------------------------------------------------------------------------


def composition(segments: pd.DataFrame, config: TableConfig, findings: FindingsConfig) -> dict[str, Any]:
    """Which sources and languages each period rests on, and the flags a reader must see.

    Returns `by_period` (period, n_documents, sources, languages, source_shift = total-variation
    distance of the period's source mix from the pooled mix, flag), `by_language` (language,
    n_documents, sources, top_source_share, flag), `source_shift` (the largest distance),
    `one_source_languages` and `warnings` (sentences for the report).
    """
    config = resolve_period(segments, config)
    docs = _with_periods(segments, config).drop_duplicates("doc_id")
    pooled = _mix(docs["source"])
    period_rows = []
    for period, part in docs.groupby("period", sort=True):
        mix = _mix(part["source"])
        shift = _tvd(mix, pooled)
        period_rows.append(
            {
                "period": period,
                "n_documents": len(part),
                "sources": _mix_text(mix),
                "languages": _mix_text(_mix(part["language"])),
                "source_shift": round(shift, 3),
                "flag": "source mix differs from the pooled mix" if shift >= findings.source_shift else "",
            }
        )
    all_docs = segments.drop_duplicates(["doc_id", "language"])
    language_rows = []
    for language, part in all_docs.groupby("language", sort=True):
        mix = _mix(part["source"])
        top_share = max(mix.values()) if mix else 0.0
        language_rows.append(
            {
                "language": language,
                "n_documents": int(part["doc_id"].nunique()),
                "sources": _mix_text(mix),
                "top_source_share": round(top_share, 3),
                "flag": f"one outlet: {next(iter(mix))}"
                if top_share >= findings.one_source_share
                and part["doc_id"].nunique() >= config.min_docs_per_cell
                else "",
            }
        )
    by_period, by_language = pd.DataFrame(period_rows), pd.DataFrame(language_rows)
    largest = float(by_period["source_shift"].max()) if len(by_period) else 0.0
    single = by_language[by_language["flag"] != ""] if len(by_language) else by_language
    warnings = []
    if largest >= findings.source_shift:
        shifted = by_period[by_period["flag"] != ""]
        warnings.append(
            f"The source mix shifts between {config.period}s (largest total-variation distance from the "
            f"pooled mix {largest:.2f}, in {len(shifted)} of {len(by_period)} periods, e.g. "
            f"{shifted['period'].iat[0]}: {shifted['sources'].iat[0]}): raw trends mix change with "
            "composition; read the composition-adjusted trend."
        )
    for row in single.itertuples():
        warnings.append(
            f"Language '{row.language}' is held by one outlet ({row.sources}): a statement about the "
            f"'{row.language}' press is a statement about that outlet."
        )
    by_period.attrs["note"] = (
        "documents per period; source_shift: total-variation distance from the pooled source mix"
    )
    by_language.attrs["note"] = (
        f"flag: one source holds at least {findings.one_source_share:.0%} of a language's documents "
        f"(languages with at least {config.min_docs_per_cell} documents)"
    )
    return {
        "by_period": by_period,
        "by_language": by_language,
        "source_shift": largest,
        "one_source_languages": single["language"].tolist() if len(single) else [],
        "warnings": warnings,
    }


# --- trends -----------------------------------------------------------------------------------------


def adjusted_trends(
    segments: pd.DataFrame,
    keys: Sequence[str],
    config: TableConfig,
    findings: FindingsConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw and composition-adjusted slope per theme side by side, and the slope within each source.

    Shares are shares of segments carrying the theme (`theme_indicators`). `slope_per_year` is the
    raw slope (period shares, weighted by documents, as `tables.theme_trends`); `adjusted_*` the
    source fixed-effects slope (module docstring); `direction` reads the adjusted interval,
    `raw_direction` the raw one. Slopes are in share per year (0.01 = one point). `sources`,
    `languages`: what the trend rests on; `flag`: the composition warnings that apply.
    """
    config = resolve_period(segments, config)
    dated = _with_periods(segments, config)
    indicators = theme_indicators(dated, keys, source=findings.theme_source)
    docs = _documents(dated, indicators, ["source", "language", "period"])
    periods = sorted(docs.frame["period"].unique())
    starts = pd.PeriodIndex(periods, freq=_PERIOD_FREQ[config.period]).start_time if periods else []
    year_of = (
        dict(zip(periods, np.asarray((starts - starts[0]).days, dtype=float) / 365.25, strict=True))
        if periods
        else {}
    )
    B, K = config.n_bootstrap, len(docs.keys)
    cells = []  # (source, period, years, weight, share (K,), replicate shares (B, K), totals, n, rep totals, rep n)
    for (source, period), idx in docs.frame.groupby(["source", "period"], sort=True).indices.items():
        counts, n = docs.counts[idx], docs.n_segments[idx]
        totals, n_rep = _bootstrap(counts, n, B, _rng(config, source, period))
        cells.append((source, period, year_of[period], len(idx), counts.sum(0), n.sum(), totals, n_rep))
    info = composition(segments, config, findings)
    flag = "; ".join(
        (["source mix shifts between periods"] if info["source_shift"] >= findings.source_shift else [])
        + [f"'{lang}' is one outlet" for lang in info["one_source_languages"]]
    )
    table = pd.DataFrame({"theme": docs.keys})
    if len(periods) < 2:
        table = table.assign(slope_per_year=np.nan, ci_low=np.nan, ci_high=np.nan, adjusted_slope_per_year=np.nan,
                             adjusted_ci_low=np.nan, adjusted_ci_high=np.nan,
                             raw_direction=f"n/a ({len(periods)} {config.period})",
                             direction=f"n/a ({len(periods)} {config.period})")  # fmt: skip
        return table, pd.DataFrame()
    # Raw: pool the cells of each period.
    x = np.array([year_of[p] for p in periods])
    weight = np.array([sum(c[3] for c in cells if c[1] == p) for p in periods], dtype=float)
    share = np.array(
        [sum(c[4] for c in cells if c[1] == p) / sum(c[5] for c in cells if c[1] == p) for p in periods]
    )
    rep = np.stack(
        [
            sum(c[6] for c in cells if c[1] == p) / sum(c[7] for c in cells if c[1] == p)[:, None]
            for p in periods
        ],
        axis=1,
    )  # (B, P, K)
    raw = _wls_slope(x, share, weight)
    raw_low, raw_high = _interval(_wls_slope(x, rep, weight), config.confidence)
    # Adjusted: source fixed effects over cells. A cell of fewer than min_docs_per_cell documents is
    # left out: its share is noise, and resampling one article gives it no variance at all.
    sources = np.array([c[0] for c in cells])
    cx = np.array([c[2] for c in cells])
    cw = np.array([c[3] for c in cells], dtype=float)
    cy = np.array([c[4] / c[5] for c in cells])  # (C, K)
    crep = np.stack([c[6] / np.where(c[7] == 0, 1, c[7])[:, None] for c in cells], axis=1)  # (B, C, K)
    big = cw >= config.min_docs_per_cell
    spans = {s for s in set(sources[big]) if len(set(cx[big & (sources == s)])) >= 2}
    used = big & np.isin(sources, list(spans))
    adjusted = (
        _fixed_effects_slope(cx[used], cy[used], cw[used], sources[used])
        if used.any()
        else np.full(K, np.nan)
    )
    if np.all(np.isnan(adjusted)):
        adj_low = adj_high = adjusted
        adjusted_direction = [
            "n/a (no source has two periods of enough documents: change and composition cannot be told apart)"
        ] * K
    else:
        adj_low, adj_high = _interval(
            _fixed_effects_slope(cx[used], crep[:, used], cw[used], sources[used]), config.confidence
        )
        adjusted_direction = _direction(adj_low, adj_high)
    table = table.assign(
        slope_per_year=raw, ci_low=raw_low, ci_high=raw_high, raw_direction=_direction(raw_low, raw_high),
        adjusted_slope_per_year=adjusted, adjusted_ci_low=adj_low, adjusted_ci_high=adj_high,
        direction=adjusted_direction, first_period_share=share[0], last_period_share=share[-1],
        change=share[-1] - share[0], n_documents=len(docs.frame), adjusted_n_documents=int(cw[used].sum()),
        adjusted_sources=", ".join(sorted(spans)),
        sources=_mix_text(_mix(docs.frame["source"]), top=5), languages=_mix_text(_mix(docs.frame["language"])),
        flag=flag,
    )  # fmt: skip
    table.attrs.update(
        {
            "periods": periods,
            "theme_source": findings.theme_source,
            "note": f"themes from {findings.theme_source}s; slopes in share per year; raw = pooled period "
            "shares, adjusted = within-source (source fixed effects); direction from the adjusted "
            f"{config.confidence:.0%} interval (bootstrap over documents within source × period; cells of "
            f"at least {config.min_docs_per_cell} documents, sources with two such periods: adjusted_sources)"
            + (f"; FLAG: {flag}" if flag else ""),
        }
    )
    by_source_rows = []
    for source in sorted(spans):
        mine = used & (sources == source)
        slope = _wls_slope(cx[mine], cy[mine], cw[mine])
        low, high = _interval(_wls_slope(cx[mine], crep[:, mine], cw[mine]), config.confidence)
        for k, key in enumerate(docs.keys):
            by_source_rows.append(
                {
                    "source": source,
                    "theme": key,
                    "n_periods": int(mine.sum()),
                    "n_documents": int(cw[mine].sum()),
                    "slope_per_year": slope[k],
                    "ci_low": low[k],
                    "ci_high": high[k],
                    "direction": _direction(low[k : k + 1], high[k : k + 1])[0],
                }
            )
    by_source = pd.DataFrame(by_source_rows)
    by_source.attrs["note"] = (
        f"the trend within each source with two or more {config.period}s of at least "
        f"{config.min_docs_per_cell} documents"
    )
    return table, by_source


def _wls_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least-squares slope of y (…, P, K) on x (P,)."""
    xc = x - np.average(x, weights=w)
    yc = y - np.einsum("p,...pk->...k", w, y)[..., None, :] / w.sum()
    denominator = np.sum(w * xc**2)
    return (
        np.einsum("p,...pk->...k", w * xc, yc) / denominator
        if denominator > 0
        else np.full(y.shape[-1], np.nan)
    )


def _fixed_effects_slope(x: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Slope of y (…, C, K) on x (C,) with one intercept per group, cells weighted by w."""
    xc = np.zeros_like(x)
    yc = np.zeros_like(y)
    for group in set(groups):
        mine = groups == group
        xc[mine] = x[mine] - np.average(x[mine], weights=w[mine])
        yc[..., mine, :] = (
            y[..., mine, :]
            - (np.einsum("c,...ck->...k", w[mine], y[..., mine, :]) / w[mine].sum())[..., None, :]
        )
    denominator = np.sum(w * xc**2)
    if denominator <= 0:
        return np.full((*y.shape[:-2], y.shape[-1]), np.nan)
    return np.einsum("c,...ck->...k", w * xc, yc) / denominator


def _interval(replicates: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    alpha = (1.0 - confidence) / 2
    low, high = np.nanquantile(replicates, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _direction(low: np.ndarray, high: np.ndarray) -> list[str]:
    return np.where(low > 0, "rising", np.where(high < 0, "falling", "no clear trend")).tolist()


# --- comparisons --------------------------------------------------------------------------------


def compare_themes(
    segments: pd.DataFrame,
    keys: Sequence[str],
    config: TableConfig,
    findings: FindingsConfig,
) -> pd.DataFrame:
    """Each theme's share in group B minus group A, bootstrap interval, permutation p-value, corrected.

    Groups: before / from `findings.compare_date`, or two values of `findings.compare_by` (the given
    `compare_groups`, else its two largest by documents). Documents are the unit: the interval
    resamples documents within each group, the permutation test shuffles group labels between
    documents (`n_permutations`), p = (1 + #{|d*| >= |d|}) / (1 + permutations), then Holm or
    Benjamini–Hochberg over the themes (`p_adjust`). Each row says which sources and languages each
    group rests on; `flag` marks groups whose source mix differs (total-variation distance >=
    `source_shift`) or, comparing languages, a language held by one outlet.
    """
    frame, labels = _two_groups(segments, findings)
    indicators = theme_indicators(frame, keys, source=findings.theme_source)
    docs = _documents(frame.assign(group=labels), indicators, ["group", "source", "language"])
    in_b = (docs.frame["group"] == "B").to_numpy()
    names = frame.attrs["group_names"]
    if in_b.all() or not in_b.any():
        raise ValueError(f"comparison {names}: one group has no documents; choose another date or groups")
    share = lambda mask: docs.counts[mask].sum(0) / docs.n_segments[mask].sum()  # noqa: E731
    difference = share(in_b) - share(~in_b)
    tot_a, n_a = _bootstrap(docs.counts[~in_b], docs.n_segments[~in_b], config.n_bootstrap, _rng(config, "A"))
    tot_b, n_b = _bootstrap(docs.counts[in_b], docs.n_segments[in_b], config.n_bootstrap, _rng(config, "B"))
    low, high = _interval(tot_b / n_b[:, None] - tot_a / n_a[:, None], config.confidence)
    rng = _rng(config, "permutation")
    exceed = np.zeros(len(docs.keys))
    done = 0
    while done < findings.n_permutations:
        size = min(_PERMUTATION_CHUNK, findings.n_permutations - done)
        perm = np.stack([rng.permutation(in_b) for _ in range(size)]).astype(float)  # (P, D)
        pb = (perm @ docs.counts) / (perm @ docs.n_segments)[:, None]
        pa = ((1 - perm) @ docs.counts) / ((1 - perm) @ docs.n_segments)[:, None]
        exceed += (np.abs(pb - pa) >= np.abs(difference) - 1e-12).sum(0)
        done += size
    p_value = (1 + exceed) / (1 + findings.n_permutations)
    adjusted = holm(p_value) if findings.p_adjust == "holm" else benjamini_hochberg(p_value)
    mix_a, mix_b = _mix(docs.frame.loc[~in_b, "source"]), _mix(docs.frame.loc[in_b, "source"])
    flags = []
    if _tvd(mix_a, mix_b) >= findings.source_shift:
        flags.append(f"source mix differs between the groups (distance {_tvd(mix_a, mix_b):.2f})")
    if findings.compare_by == "language":
        for name, mix in ((names[0], mix_a), (names[1], mix_b)):
            if mix and max(mix.values()) >= findings.one_source_share:
                flags.append(f"'{name}' is one outlet ({next(iter(mix))})")
    table = pd.DataFrame(
        {
            "theme": docs.keys,
            "group_a": names[0],
            "group_b": names[1],
            "share_a": share(~in_b),
            "share_b": share(in_b),
            "difference": difference,
            "ci_low": low,
            "ci_high": high,
            "p_value": p_value,
            "p_adjusted": adjusted,
            "significant": adjusted < (1 - config.confidence),
            "n_documents_a": int((~in_b).sum()),
            "n_documents_b": int(in_b.sum()),
            "sources_a": _mix_text(mix_a),
            "sources_b": _mix_text(mix_b),
            "languages_a": _mix_text(_mix(docs.frame.loc[~in_b, "language"])),
            "languages_b": _mix_text(_mix(docs.frame.loc[in_b, "language"])),
            "flag": "; ".join(flags),
        }
    )
    table.attrs["note"] = (
        f"{names[1]} minus {names[0]}; themes from {findings.theme_source}s; {config.confidence:.0%} "
        f"bootstrap interval over documents; permutation p ({findings.n_permutations} shuffles of documents), "
        f"{'Holm' if findings.p_adjust == 'holm' else 'Benjamini–Hochberg'} over {len(docs.keys)} themes"
        + (f"; FLAG: {'; '.join(flags)}" if flags else "")
    )
    return table


def _two_groups(segments: pd.DataFrame, findings: FindingsConfig) -> tuple[pd.DataFrame, np.ndarray]:
    if findings.compare_date:
        dates = pd.to_datetime(segments["date"], errors="coerce")
        cut = pd.Timestamp(findings.compare_date)
        frame = segments[dates.notna().to_numpy()].copy()
        labels = np.where(pd.to_datetime(frame["date"]) < cut, "A", "B")
        frame.attrs["group_names"] = (f"before {findings.compare_date}", f"from {findings.compare_date}")
        return frame, labels
    if not findings.compare_by:
        raise ValueError(
            "no comparison set: give [findings] compare_date, or compare_by (and compare_groups)"
        )
    require_columns(segments, [findings.compare_by], what=f"compare_by = {findings.compare_by!r}")
    values = segments[findings.compare_by].astype(str)
    groups = list(findings.compare_groups)
    if not groups:
        groups = (
            segments.assign(v=values).drop_duplicates("doc_id")["v"].value_counts().index[:2].tolist()[::-1]
        )
    if len(groups) != 2:
        raise ValueError(f"compare_groups must name two values of {findings.compare_by}, got {groups}")
    mask = values.isin(groups).to_numpy()
    frame = segments[mask].copy()
    labels = np.where(values[mask] == groups[1], "B", "A")
    frame.attrs["group_names"] = (str(groups[0]), str(groups[1]))
    return frame, labels


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error), in the input order."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    m = len(p)
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (false discovery rate), in the input order."""
    p = np.asarray(p, dtype=float)
    order = np.argsort(p)
    m = len(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
