"""Select the sub-corpus a study is about: keyword lists, regular expressions, codebook themes,
dates, sources and languages, at segment or document level, with every left-out piece accounted for.

A study of AI policy in general news keeps the few hundred segments that mention it; reading the
other thirty thousand through topics would scatter them over football and weather topics. The
rules of `SelectConfig` apply in a fixed order (sources, languages, dates, then content: a segment
passes the content rules when any keyword, regex or theme term matches it). What a rule leaves out
goes into the ledger as `not selected` with that rule as its reason, so inputs = used + excluded
still holds, and `selection_summary` says how many segments and documents each rule kept.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.config import ConfigError, SelectConfig
from analysis.schema import is_original
from analysis.themes import TERM_LANGUAGES, Codebook, normalise_for_matching, terms_pattern

PACKAGED_LISTS = {"ai": Path(__file__).parent / "data" / "select_ai.toml"}
NOT_SELECTED = "not selected"
_LIST_FIELDS = {"name", "version", "description", "terms", "regex"}


@dataclass(frozen=True)
class KeywordList:
    """Terms per language (matched on normalised words) and regexes (on the raw text)."""

    name: str
    terms: dict[str, tuple[str, ...]]
    regex: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Selection:
    """Per segment: `selected`, the `rule` that left it out ("" when kept) and what matched.

    `decisions` has one row per input segment (segment_id, doc_id, selected, rule, matched), in the
    order of the segment table; `summary` is `selection_summary`'s dict.
    """

    decisions: pd.DataFrame
    summary: dict[str, Any]


def load_keyword_list(name_or_path: str) -> KeywordList:
    """A keyword list TOML (`[terms] en = [...]`, `regex = [...]`); "ai" is the packaged one."""
    path = PACKAGED_LISTS.get(name_or_path, Path(name_or_path))
    if not path.is_file():
        raise ConfigError(
            f"[select] keywords = {name_or_path!r}: no such file; give a TOML file laid out like "
            f"{PACKAGED_LISTS['ai']} or one of the packaged names: {', '.join(PACKAGED_LISTS)}"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid UTF-8 TOML ({exc})") from exc
    unknown = sorted(set(data) - _LIST_FIELDS)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; valid: {', '.join(sorted(_LIST_FIELDS))}")
    terms = data.get("terms", {})
    bad = sorted(set(terms) - set(TERM_LANGUAGES))
    if bad:
        raise ConfigError(f"{path}: [terms] language(s) {bad} unknown; valid: {', '.join(TERM_LANGUAGES)}")
    regex = tuple(data.get("regex", ()))
    _compile_all(regex, where=str(path))
    return KeywordList(
        name=str(data.get("name", path.stem)),
        terms={language: tuple(values) for language, values in terms.items()},
        regex=regex,
        source=str(path),
    )


def select_segments(
    segments: pd.DataFrame, config: SelectConfig, *, codebook: Codebook | None = None
) -> Selection:
    """Apply `config`'s rules to a segment table (corpus stage columns); nothing is removed here.

    Rules, in order, each naming itself in `rule` for what it leaves out: source in `sources`,
    language in `languages` (the segment's own language), date within [date_from, date_to]
    (undated segments fail a date range), then content: any term of the keyword list, of `terms`,
    of the codebook themes in `themes` (their specific terms), or any `regex`. At `level =
    "document"` a document is kept whole when any of its segments passes; otherwise all its
    segments take their first failing rule.
    """
    frame = segments.reset_index(drop=True)
    n = len(frame)
    rule = np.full(n, "", dtype=object)

    def apply(failing: np.ndarray, reason: str) -> None:
        rule[(rule == "") & failing] = reason

    if config.sources:
        apply(~frame["source"].isin(config.sources).to_numpy(), f"source not in {list(config.sources)}")
    if config.languages:
        apply(
            ~frame["language"].isin(config.languages).to_numpy(), f"language not in {list(config.languages)}"
        )
    if config.date_from or config.date_to:
        dates = pd.to_datetime(frame["date"], errors="coerce")
        apply(dates.isna().to_numpy(), "undated (a date range is set)")
        if config.date_from:
            apply((dates < pd.Timestamp(config.date_from)).to_numpy(), f"dated before {config.date_from}")
        if config.date_to:
            apply((dates > pd.Timestamp(config.date_to)).to_numpy(), f"dated after {config.date_to}")
    matched = np.full(n, "", dtype=object)
    content = _content_rules(config, codebook)
    term_counts: dict[str, int] = {}
    if content:
        texts = frame["text"].fillna("").astype(str).tolist()
        normalised = [normalise_for_matching(text) for text in texts]
        hits: list[list[str]] = [[] for _ in range(n)]
        for label, pattern, on_raw in content:
            for row in range(n):
                found = pattern.findall(texts[row] if on_raw else normalised[row])
                if found:
                    hits[row].append(label)
                    for term in found:
                        term_counts[f"{label}: {term}"] = term_counts.get(f"{label}: {term}", 0) + 1
        matched = np.array(["; ".join(h) for h in hits], dtype=object)
        apply(matched == "", "no keyword, regex or theme term matched")
    if config.level == "document" and n:
        kept_docs = set(frame.loc[rule == "", "doc_id"])
        in_kept = frame["doc_id"].isin(kept_docs).to_numpy()
        rule = np.where(in_kept, "", rule)
    decisions = pd.DataFrame(
        {
            "segment_id": frame["segment_id"].to_numpy(),
            "doc_id": frame["doc_id"].to_numpy(),
            "selected": rule == "",
            "rule": rule,
            "matched": matched,
        }
    )
    return Selection(decisions=decisions, summary=selection_summary(frame, decisions, config, term_counts))


def selection_summary(
    segments: pd.DataFrame, decisions: pd.DataFrame, config: SelectConfig, term_counts: dict[str, int]
) -> dict[str, Any]:
    """Segments and documents in, left out by each rule, kept; what the content rules matched."""
    steps = [{"rule": "input", "segments": len(decisions), "documents": int(decisions["doc_id"].nunique())}]
    remaining = decisions
    for reason in [r for r in dict.fromkeys(decisions["rule"]) if r]:
        remaining = remaining[remaining["rule"] != reason]
        steps.append(
            {
                "rule": reason,
                "segments_left_out": int((decisions["rule"] == reason).sum()),
                "segments": len(remaining),
                "documents": int(remaining["doc_id"].nunique()),
            }
        )
    kept = decisions[decisions["selected"]]
    kept_segments = segments[decisions["selected"].to_numpy()]
    by_rule = {}
    for label in sorted({part for text in kept["matched"] for part in text.split("; ") if part}):
        mask = kept["matched"].str.split("; ").map(lambda parts, label=label: label in parts)
        by_rule[label] = {"segments": int(mask.sum()), "documents": int(kept.loc[mask, "doc_id"].nunique())}
    top_terms = dict(sorted(term_counts.items(), key=lambda kv: -kv[1])[:25])
    return {
        "config": dataclasses.asdict(config),
        "level": config.level,
        "steps": steps,
        "kept": {"segments": len(kept), "documents": int(kept["doc_id"].nunique())},
        "kept_by_content_rule": by_rule,
        "kept_by_source": {k: int(v) for k, v in kept_segments["source"].value_counts().items()},
        "kept_by_language": {k: int(v) for k, v in kept_segments["language"].value_counts().items()},
        "top_matches": top_terms,
    }


def select_corpus(
    corpus: Any, config: SelectConfig, *, codebook: Codebook | None = None
) -> tuple[Any, Selection]:
    """The corpus with only the selected segments, its ledger updated, and the `Selection`.

    Ledger: a document none of whose segments is kept becomes `not selected` (reason: the rule that
    left out most of its segments); a kept document's left-out segments are `piece` rows `not
    selected`. A kept duplicate whose original was left out becomes an original itself.
    """
    selection = select_segments(corpus.segments, config, codebook=codebook)
    decisions = selection.decisions
    segments = corpus.segments.reset_index(drop=True)
    kept = segments[decisions["selected"].to_numpy()].copy()
    kept["duplicate_of"] = _repoint_duplicates(segments, decisions["selected"].to_numpy())[
        decisions["selected"].to_numpy()
    ]
    kept["selected_by"] = decisions.loc[decisions["selected"], "matched"].to_numpy().astype(str)
    ledger = _selection_ledger(corpus.ledger, segments, decisions, kept)
    return dataclasses.replace(corpus, segments=kept.reset_index(drop=True), ledger=ledger), selection


def _selection_ledger(
    ledger: pd.DataFrame, segments: pd.DataFrame, decisions: pd.DataFrame, kept: pd.DataFrame
) -> pd.DataFrame:
    ledger = ledger.copy()
    n_kept = kept.groupby("doc_id").size()
    dropped = decisions[~decisions["selected"]]
    main_rule = dropped.groupby("doc_id")["rule"].agg(lambda s: s.value_counts().index[0])
    is_doc = (ledger["kind"] == "document") & ledger["status"].isin(["used", "duplicate"])
    gone = is_doc & ~ledger["doc_id"].isin(n_kept.index)
    ledger.loc[gone, "reason"] = ledger.loc[gone, "doc_id"].map(main_rule).fillna("")
    ledger.loc[gone, "status"] = NOT_SELECTED
    ledger.loc[gone, "n_segments"] = 0
    stays = is_doc & ledger["doc_id"].isin(n_kept.index)
    ledger.loc[stays, "n_segments"] = ledger.loc[stays, "doc_id"].map(n_kept).astype("int64")
    originals = is_original(kept).groupby(kept["doc_id"]).any()
    revived = (
        stays & (ledger["status"] == "duplicate") & ledger["doc_id"].map(originals).fillna(False).astype(bool)
    )
    ledger.loc[revived, ["status", "reason"]] = ["used", ""]
    partly = dropped[dropped["doc_id"].isin(n_kept.index)]
    text = segments.set_index("segment_id")["text"]
    origin = ledger[ledger["kind"] == "document"].set_index("doc_id")["origin"]
    pieces = pd.DataFrame(
        {
            "doc_id": partly["doc_id"].to_numpy(),
            "origin": partly["doc_id"].map(origin).to_numpy(),
            "kind": "piece",
            "status": NOT_SELECTED,
            "reason": partly["rule"].to_numpy(),
            "detail": partly["segment_id"].map(text).str[:200].to_numpy(),
            "n_segments": 0,
        }
    )
    return pd.concat([ledger, pieces], ignore_index=True).astype({"n_segments": "int64"})


def _repoint_duplicates(segments: pd.DataFrame, selected: np.ndarray) -> np.ndarray:
    """duplicate_of with left-out targets replaced by their own target, or "" (a new original)."""
    ids = segments["segment_id"].astype(str).to_numpy()
    target = dict(zip(ids, segments["duplicate_of"].fillna("").astype(str), strict=True))
    keep = dict(zip(ids, selected, strict=True))
    out = []
    for segment_id in ids:
        current, seen = target[segment_id], {segment_id}
        while current and not keep.get(current, False) and current not in seen:
            seen.add(current)
            current = target.get(current, "")
        out.append(current if current and keep.get(current, False) else "")
    return np.array(out, dtype=object)


def _content_rules(
    config: SelectConfig, codebook: Codebook | None
) -> list[tuple[str, re.Pattern[str], bool]]:
    """(label, pattern, applies to raw text) for every content rule that is set."""
    rules: list[tuple[str, re.Pattern[str], bool]] = []
    if config.keywords:
        keywords = load_keyword_list(config.keywords)
        for language, terms in keywords.terms.items():
            pattern = terms_pattern(terms)
            if pattern is not None:
                rules.append((f"{keywords.name} [{language}]", pattern, False))
        rules += [
            (f"{keywords.name} regex {r}", p, True)
            for r, p in _compile_all(keywords.regex, where=keywords.source)
        ]
    if config.terms:
        pattern = terms_pattern(config.terms)
        if pattern is not None:
            rules.append(("terms", pattern, False))
    rules += [(f"regex {r}", p, True) for r, p in _compile_all(config.regex, where="[select] regex")]
    if config.themes:
        if codebook is None:
            raise ConfigError("[select] themes needs the codebook; pass codebook=load_codebook(...)")
        unknown = sorted(set(config.themes) - set(codebook.keys))
        if unknown:
            raise ConfigError(
                f"[select] themes: {unknown} not in the codebook; valid: {', '.join(codebook.keys)}"
            )
        for theme in codebook.themes:
            if theme.key in config.themes:
                pattern = terms_pattern(theme.specific_terms())
                if pattern is not None:
                    rules.append((f"theme {theme.key}", pattern, False))
    return rules


def _compile_all(patterns: Sequence[str], *, where: str) -> list[tuple[str, re.Pattern[str]]]:
    compiled = []
    for text in patterns:
        try:
            compiled.append((text, re.compile(text)))
        except re.error as exc:
            raise ConfigError(f"{where}: regex {text!r} does not compile ({exc}); fix or remove it") from exc
    return compiled
