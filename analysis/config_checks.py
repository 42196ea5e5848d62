"""Configuration checks: every setting's type from its annotation, its range from one table.

Each section dataclass of `analysis.config` calls `validate` from `__post_init__`, so a value is
checked however the configuration was built (TOML, keyword arguments, command-line options), and the
message names the section, the setting, the value and what is valid.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import numbers
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message says what to change."""



# --- validation: every setting's type from its annotation, ranges from the rules below -------------


@dataclass(frozen=True)
class _Range:
    """An inclusive (or open) numeric range; None: unbounded on that side."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def holds(self, value: float) -> bool:
        low_ok = self.low is None or (value > self.low if self.low_open else value >= self.low)
        high_ok = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return low_ok and high_ok

    def __str__(self) -> str:
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '≥'} {_number(self.low)}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '≤'} {_number(self.high)}")
        return " and ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


_SEED = _Range(0, 2**32 - 1)  # numpy's and UMAP's seed range
_SHARE = _Range(0, 1, low_open=True)
# (section class name, setting) → allowed range; settings not listed only have their type checked.
_RANGES: dict[tuple[str, str], _Range] = {
    ("CorpusConfig", "min_segment_chars"): _Range(0),
    ("CorpusConfig", "max_segment_chars"): _Range(1),
    ("CorpusConfig", "near_duplicate_threshold"): _SHARE,
    ("CorpusConfig", "repeated_line_min_docs"): _Range(2),
    ("CorpusConfig", "repeated_line_min_share"): _SHARE,
    ("EmbedConfig", "batch_size"): _Range(1),
    ("EmbedConfig", "max_length"): _Range(1),
    ("TopicConfig", "seed"): _SEED,
    ("TopicConfig", "min_topic_size"): _Range(2),
    ("TopicConfig", "n_neighbors"): _Range(2),
    ("TopicConfig", "n_components"): _Range(1),
    ("TopicConfig", "nr_topics"): _Range(2),
    ("TopicConfig", "min_samples"): _Range(1),
    ("TopicConfig", "absorb_outliers_quantile"): _Range(0, 1),
    ("TopicConfig", "max_topic_share"): _SHARE,
    ("TopicConfig", "zeroshot_min_similarity"): _Range(0, 1),
    ("TopicConfig", "max_ngram"): _Range(1, 3),
    ("TopicConfig", "top_n_words"): _Range(1),
    ("TopicConfig", "rival_penalty"): _Range(0, 1, high_open=True),
    ("TopicConfig", "min_theme_score"): _Range(0, 1),
    ("TableConfig", "n_bootstrap"): _Range(1),
    ("TableConfig", "confidence"): _Range(0, 1, low_open=True, high_open=True),
    ("TableConfig", "seed"): _SEED,
    ("TableConfig", "min_docs_per_cell"): _Range(0),
    ("FigureConfig", "dpi"): _Range(10, 1200),
    ("FigureConfig", "max_topics"): _Range(1),
    ("FindingsConfig", "n_permutations"): _Range(1),
    ("ComputeConfig", "fit_sample"): _Range(1),
    ("ComputeConfig", "partition_size"): _Range(1),
    ("FindingsConfig", "source_shift"): _SHARE,
    ("FindingsConfig", "one_source_share"): _SHARE,
}
_NON_EMPTY = {("CorpusConfig", "languages"), ("EmbedConfig", "model"), ("FigureConfig", "formats")}
_NONE_MEANS = {
    "max_length": "the model's own maximum",
    "min_topic_size": "scaled to the corpus",
    "n_neighbors": "scaled to the corpus",
    "nr_topics": "as many as HDBSCAN finds",
    "min_samples": "min_topic_size",
    "absorb_outliers_quantile": "keeping every outlier",
    "max_topic_share": "no cap on a topic's size",
}


def validate(section: Any, name: str) -> None:
    """Check every field of a section dataclass against its annotation and range; lists become tuples.

    Raises ConfigError naming the section, the setting, the value and what is valid, so that a typo
    in a TOML file, a keyword argument or a command-line option stops the run before any work.
    """
    kind = type(section)
    for f in dataclasses.fields(kind):
        value = getattr(section, f.name)
        label = f"[{name}] {f.name} = {value!r}"
        hint = _hints(kind)[f.name]
        checked = _checked_value(value, hint, label, _RANGES.get((kind.__name__, f.name)), f.name)
        if (kind.__name__, f.name) in _NON_EMPTY and not checked:
            raise ConfigError(f"{label}: must not be empty")
        if checked is not value:
            object.__setattr__(section, f.name, checked)
    rule = _SECTION_RULES.get(kind.__name__)
    if rule is not None:
        rule(section, name)


def _checked_value(value: Any, hint: Any, label: str, bounds: _Range | None, setting: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        if value not in args or isinstance(value, bool):
            raise ConfigError(f"{label} is not one of {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        checked = _checked_value(value, inner, label, bounds, setting)
        return checked
    if origin is tuple:
        item = args[0]
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            example = list(typing.get_args(item)[:2]) if typing.get_origin(item) is Literal else ["ar", "fr"]
            raise ConfigError(f"{label}: must be a list, e.g. {example!r}")
        return tuple(_checked_value(v, item, label, None, setting) for v in value)
    expected = _expected(hint, bounds, setting)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{label}: must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ConfigError(f"{label}: must be {expected}")
        value = int(value)
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value:
            raise ConfigError(f"{label}: must be {expected}")
        value = float(value)
    elif hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{label}: must be a string (text in quotes)")
        return value
    if bounds is not None and not bounds.holds(value):
        raise ConfigError(f"{label} is out of range: must be {expected}")
    return value


def _expected(hint: Any, bounds: _Range | None, setting: str) -> str:
    kind = {int: "an integer", float: "a number"}.get(hint, "a value")
    text = f"{kind} {bounds}" if bounds is not None else kind
    if setting in _NONE_MEANS:
        text += f", or leave it unset for {_NONE_MEANS[setting]}"
    return text


def _check_corpus(section: Any, name: str) -> None:
    """[corpus]: known language codes, segment bounds in order, dates that parse and are in order."""
    valid = supported_languages()
    unknown = [code for code in section.languages if code not in valid]
    if unknown:
        raise ConfigError(
            f"[{name}] languages = {list(section.languages)!r}: unknown code(s) {unknown}; valid ISO 639-1 "
            f"codes: {', '.join(sorted(valid))}"
        )
    if section.max_segment_chars <= section.min_segment_chars:
        raise ConfigError(
            f"[{name}] max_segment_chars = {section.max_segment_chars} must be greater than "
            f"min_segment_chars = {section.min_segment_chars}"
        )
    for setting in ("earliest_date", "latest_date"):
        value = getattr(section, setting)
        if value or setting == "earliest_date":
            try:
                iso_date(value)
            except ValueError:
                raise ConfigError(
                    f"[{name}] {setting} = {value!r}: must be an ISO date such as '1990-01-01'"
                    + (", or '' for one year after today" if setting == "latest_date" else "")
                ) from None
    earliest, latest = section.date_range()
    if earliest >= latest:
        raise ConfigError(
            f"[{name}] earliest_date = {section.earliest_date!r} must be before latest_date = {latest.isoformat()!r}"
        )


_SECTION_RULES: dict[str, Any] = {"CorpusConfig": _check_corpus}


@functools.cache
def supported_languages() -> frozenset[str]:
    """Language codes the detector knows (lingua's ISO 639-1 codes) plus `ber` (Tifinagh, by script)."""
    from lingua import Language

    return frozenset({language.iso_code_639_1.name.lower() for language in Language.all()} | {"ber"})


@functools.cache
def _hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def iso_date(value: str) -> dt.date:
    return dt.date.fromisoformat(value)


def one_year_from_today() -> dt.date:
    today = dt.date.today()
    return (
        today.replace(year=today.year + 1)
        if (today.month, today.day) != (2, 29)
        else today + dt.timedelta(365)
    )
