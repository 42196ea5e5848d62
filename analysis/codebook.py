"""Theme codebook: the analyst's themes (TOML), loaded and validated, and written back.

A codebook (TOML, `analysis/data/codebook.toml` by default) names the analyst's themes, each with a
description and terms in English, French, Arabic and Darija. `analysis.themes` matches its terms in
segments and maps topics to its themes; this module only reads, checks and writes it, so that a
broken codebook stops a run with a message naming the file, theme and field before any work.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGED_CODEBOOK = Path(__file__).parent / "data" / "codebook.toml"
OTHER = "other"  # the theme of a topic or segment that matches none
TERM_LANGUAGES = ("en", "fr", "ar", "darija", "ber")

_CODEBOOK_FIELDS = {"name": True, "version": True, "description": False, "themes": True}
_THEME_FIELDS = ("key", "label", "description", "terms", "generic")
_OPTIONAL_THEME_FIELDS = {"generic"}
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class CodebookError(ValueError):
    """A codebook file that cannot be used; the message names the file, theme, field and fix."""


@dataclass(frozen=True)
class Theme:
    """One theme of the codebook; `terms` maps a language (en, fr, ar, darija, ber) to its terms."""

    key: str
    label: str
    description: str
    terms: dict[str, tuple[str, ...]]
    # Terms common in general news ("citizens", "water", المراقبة): they count for the theme only in
    # a segment that also holds one of its specific `terms` (the anchor). See `codebook_audit`.
    generic: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def specific_terms(self) -> list[str]:
        return [term for terms in self.terms.values() for term in terms]

    def generic_terms(self) -> list[str]:
        return [term for terms in self.generic.values() for term in terms]

    def all_terms(self) -> list[str]:
        return self.specific_terms() + self.generic_terms()

    def text(self) -> str:
        """What is embedded for the theme: label, description and its terms in every language."""
        return f"{self.label}. {self.description} {', '.join(self.all_terms())}"


@dataclass(frozen=True)
class Codebook:
    """A named, versioned set of themes; `source` is the file it was read from."""

    name: str
    version: str
    themes: tuple[Theme, ...]
    description: str = ""
    source: str = ""

    @property
    def keys(self) -> list[str]:
        return [theme.key for theme in self.themes]

    def concepts(self) -> dict[str, list[str]]:
        """Theme key → all its terms (every language): the offline encoder's concept features."""
        return {theme.key: theme.all_terms() for theme in self.themes}


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Read and validate a codebook TOML file; None reads the packaged one.

    Validation is strict (unknown fields, empty term lists, missing descriptions, duplicate keys
    are errors), because a misspelt field silently ignored would change every theme share.
    """
    path = Path(path) if path is not None else PACKAGED_CODEBOOK
    if not path.is_file():
        raise CodebookError(
            f"codebook file {path} does not exist; pass an existing TOML file laid out like {PACKAGED_CODEBOOK}, "
            "or leave [topics] codebook empty for the packaged one"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CodebookError(
            f"{path}: not valid UTF-8 TOML ({exc}); fix the file at the position given"
        ) from exc
    return _codebook_from_dict(data, source=path)


def _codebook_from_dict(data: dict[str, Any], *, source: Path) -> Codebook:
    unknown = sorted(set(data) - set(_CODEBOOK_FIELDS))
    if unknown:
        raise CodebookError(
            f"{source}: unknown top-level field(s) {unknown}; valid: {', '.join(_CODEBOOK_FIELDS)}; "
            "remove or rename them"
        )
    for name, required in _CODEBOOK_FIELDS.items():
        if required and name not in data:
            raise CodebookError(
                f"{source}: missing top-level field '{name}'; add it (see {PACKAGED_CODEBOOK})"
            )
    themes_data = data["themes"]
    if not isinstance(themes_data, list) or not themes_data:
        raise CodebookError(f"{source}: field 'themes' must hold at least one [[themes]] table")
    themes: list[Theme] = []
    first_seen: dict[str, int] = {}
    for number, theme_data in enumerate(themes_data, start=1):
        theme = _theme_from_dict(theme_data, source=source, number=number)
        if theme.key in first_seen:
            raise CodebookError(
                f"{source}: theme '{theme.key}', field 'key': declared twice (themes #{first_seen[theme.key]} "
                f"and #{number}); give each [[themes]] table a unique key or merge the two"
            )
        first_seen[theme.key] = number
        themes.append(theme)
    return Codebook(
        name=_text_field(data, "name", where=f"{source}:"),
        version=str(data["version"]),
        themes=tuple(themes),
        description=str(data.get("description", "")),
        source=str(source),
    )


def _theme_from_dict(data: Any, *, source: Path, number: int) -> Theme:
    if not isinstance(data, dict):
        raise CodebookError(f"{source}: theme #{number} must be a [[themes]] table")
    name = data.get("key") if isinstance(data.get("key"), str) else f"#{number}"
    where = f"{source}: theme '{name}',"
    unknown = sorted(set(data) - set(_THEME_FIELDS))
    if unknown:
        raise CodebookError(
            f"{where} field '{unknown[0]}': unknown field; valid fields: {', '.join(_THEME_FIELDS)}; "
            "remove or rename it"
        )
    for name in _THEME_FIELDS:
        if name not in data and name not in _OPTIONAL_THEME_FIELDS:
            raise CodebookError(f"{where} field '{name}': missing; add it (see {PACKAGED_CODEBOOK})")
    key = _text_field(data, "key", where=where)
    if not _KEY.match(key) or key == OTHER:
        raise CodebookError(
            f"{where} field 'key': {key!r} must be lowercase letters, digits and _ starting with a letter, "
            f"and not {OTHER!r} (reserved for no match)"
        )
    return Theme(
        key=key,
        label=_text_field(data, "label", where=where),
        description=_text_field(data, "description", where=where),
        terms=_term_lists(data["terms"], "terms", where=where),
        generic=_term_lists(data["generic"], "generic", where=where) if "generic" in data else {},
    )


def _term_lists(terms: Any, name: str, *, where: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(terms, dict) or not terms:
        raise CodebookError(
            f"{where} field '{name}': must be a table of term lists, e.g. [themes.{name}] en = [...]"
        )
    checked: dict[str, tuple[str, ...]] = {}
    for language, values in terms.items():
        field_name = f"{name}.{language}"
        if language not in TERM_LANGUAGES:
            raise CodebookError(
                f"{where} field '{field_name}': unknown language; valid: {', '.join(TERM_LANGUAGES)}; rename it"
            )
        if not isinstance(values, list) or not values:
            raise CodebookError(
                f"{where} field '{field_name}': the term list is empty; add at least one term or remove the line"
            )
        if not all(isinstance(value, str) and value.strip() for value in values):
            raise CodebookError(f"{where} field '{field_name}': every term must be a non-empty string")
        checked[language] = tuple(value.strip() for value in values)
    return checked


def _text_field(data: dict[str, Any], field: str, *, where: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise CodebookError(f"{where} field '{field}': must be a non-empty string; write one")
    return value.strip()


def codebook_to_toml(codebook: Codebook) -> str:
    """The codebook as TOML that `load_codebook` reads back to an equal Codebook (minus `source`).

    Strings are written as JSON strings, which are valid TOML basic strings.
    """

    def text(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    lines = [f"name = {text(codebook.name)}", f"version = {text(codebook.version)}"]
    if codebook.description:
        lines.append(f"description = {text(codebook.description)}")
    for theme in codebook.themes:
        lines += ["", "[[themes]]", f"key = {text(theme.key)}", f"label = {text(theme.label)}"]
        lines += [f"description = {text(theme.description)}", "[themes.terms]"]
        lines += [f"{language} = [{', '.join(map(text, terms))}]" for language, terms in theme.terms.items()]
        if theme.generic:
            lines.append("[themes.generic]")
            lines += [
                f"{language} = [{', '.join(map(text, terms))}]" for language, terms in theme.generic.items()
            ]
    return "\n".join(lines) + "\n"
