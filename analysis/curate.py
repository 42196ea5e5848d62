"""Curation by hand, without refitting: rename and merge topics, set or clear their themes, hide them
from the charts, from a `curation.toml` that is re-applied to the fitted model's own tables.

A researcher reads the topics, sees that topic 12 is the same story as topic 3, that topic 7 is
football mapped to public services, and writes that down once:

    hide = [14, 21]                  # kept in the tables, left out of the topic charts

    [rename]
    3 = "Data-protection law 31-24"

    [[merge]]
    topics = [3, 12]                 # 12 joins 3 (the first keeps its number)
    label = "Data-protection law"    # optional

    [theme]
    7 = "other"                      # clear a wrong theme
    5 = "sectors"                    # or set one

The file is always applied to the topic tables saved with the model (`RUN_DIR/model/`), never to
an already curated run, so applying the same file twice gives the same outputs, and editing it
and re-applying replaces the previous curation instead of stacking on it.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.config import ConfigError
from analysis.themes import OTHER

_FIELDS = {"hide", "rename", "merge", "theme"}


@dataclass(frozen=True)
class Curation:
    """What a curation file asks for; `source` the file, `sha256` its content's digest."""

    rename: dict[int, str] = field(default_factory=dict)
    merge: tuple[tuple[tuple[int, ...], str], ...] = ()  # (topics, label or "")
    theme: dict[int, str] = field(default_factory=dict)
    hide: tuple[int, ...] = ()
    source: str = ""
    sha256: str = ""


def load_curation(path: str | Path) -> Curation:
    """Read and check a curation TOML file (layout in the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"curation file {path} does not exist; write one (see analysis/curate.py)")
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid UTF-8 TOML ({exc})") from exc
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; valid: {', '.join(sorted(_FIELDS))}")

    def topic(key: Any, where: str) -> int:
        try:
            return int(key)
        except (TypeError, ValueError):
            raise ConfigError(f"{path} {where}: {key!r} is not a topic number") from None

    merges = []
    for number, entry in enumerate(data.get("merge", []), start=1):
        if not isinstance(entry, dict) or len(entry.get("topics", [])) < 2:
            raise ConfigError(f"{path} [[merge]] #{number}: needs topics = [a, b, ...] (two or more)")
        merges.append(
            (tuple(topic(t, f"[[merge]] #{number}") for t in entry["topics"]), str(entry.get("label", "")))
        )
    return Curation(
        rename={topic(k, "[rename]"): str(v) for k, v in data.get("rename", {}).items()},
        merge=tuple(merges),
        theme={topic(k, "[theme]"): str(v) for k, v in data.get("theme", {}).items()},
        hide=tuple(topic(t, "hide") for t in data.get("hide", [])),
        source=str(path),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def apply_curation(
    segments: pd.DataFrame, topics: pd.DataFrame, curation: Curation, *, theme_keys: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Segments and topics as curated, and one line per change made.

    `segments` carry the fitted `topic` column; `topic_label`, `theme` and `theme_score` are
    rewritten from the curated topics table. Merged topics add their sizes; the topics table gains
    `curated` (what was done to the topic) and `hidden` (left out of the topic charts). Unknown topic
    numbers and theme keys are errors (a typo would otherwise silently do nothing).
    """
    topics = topics.copy()
    known = set(topics["topic"].astype(int))
    valid_themes = set(theme_keys or topics["theme"].unique()) | {OTHER}
    log: list[str] = []
    notes: dict[int, list[str]] = {t: [] for t in known}

    def check(number: int, where: str) -> None:
        if number not in known or number == -1:
            raise ConfigError(
                f"curation {where}: topic {number} is not a topic of this run; valid: {sorted(known - {-1})}"
            )

    rename = dict(curation.rename)
    target = {t: t for t in known}
    for group, label in curation.merge:
        for number in group:
            check(number, "[[merge]]")
        keep = group[0]
        for number in group[1:]:
            target[number] = keep
            notes[keep].append(f"merged {number}")
        if label:
            rename.setdefault(keep, label)
        log.append(f"merged topics {list(group[1:])} into {keep}")
    segment_topic = segments["topic"].map(lambda t: target.get(int(t), int(t)))
    merged_away = [t for t, k in target.items() if k != t]
    if "size" in topics:  # the fitted sizes (modelled segments) of a merged group add up
        fitted_size = topics.groupby(topics["topic"].map(lambda t: target.get(int(t), int(t))))["size"].sum()
        topics["size"] = topics["topic"].map(fitted_size).fillna(0).astype(int)
    topics = topics[~topics["topic"].isin(merged_away)].copy()
    for number, label in sorted(rename.items()):
        check(number, "[rename]")
        if number in merged_away:
            raise ConfigError(
                f"curation [rename]: topic {number} is merged into {target[number]}; rename that one"
            )
        topics.loc[topics["topic"] == number, "label"] = f"{number} · {label}"
        notes[number].append("renamed")
        log.append(f"renamed topic {number}: {label}")
    for number, theme in sorted(curation.theme.items()):
        check(number, "[theme]")
        if theme not in valid_themes:
            raise ConfigError(
                f"curation [theme]: {theme!r} for topic {number} is not a theme; valid: {sorted(valid_themes)}"
            )
        topics.loc[topics["topic"] == number, "theme"] = theme
        topics.loc[topics["topic"] == number, "theme_score"] = float("nan")
        notes[number].append("theme cleared" if theme == OTHER else f"theme set to {theme}")
        log.append(f"topic {number}: theme {'cleared' if theme == OTHER else 'set to ' + theme}")
    for number in curation.hide:
        check(number, "hide")
    topics["hidden"] = topics["topic"].isin(curation.hide)
    log += [f"topic {number} hidden from charts" for number in curation.hide]
    topics["curated"] = topics["topic"].map(lambda t: "; ".join(notes.get(int(t), [])))
    by_topic = topics.set_index("topic")
    segments = segments.assign(
        topic=segment_topic.to_numpy(),
        topic_label=segment_topic.map(by_topic["label"]).to_numpy(),
        theme=segment_topic.map(by_topic["theme"]).to_numpy(),
        theme_score=segment_topic.map(by_topic["theme_score"]).to_numpy(),
    )
    return segments, topics.reset_index(drop=True), log
