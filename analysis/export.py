"""The run's tables as files: CSV per table, their notes, one Excel workbook, LaTeX and Markdown.

One writer per file, all called from `write_tables`. A table's notes (what was left out, the
interval's confidence, documents per group) live in `DataFrame.attrs` while a run is in memory;
CSV cannot hold them, so they go to `tables/notes.json` and `read_tables` puts them back, which
lets `evaluate` rebuild the report from the folder with the same notes. The main tables for a
paper (themes by source and by language as wide tables, trends, the comparison) come from one row
builder, `main_tables`, that feeds the report, the workbook, LaTeX and Markdown alike.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.jsonio import write_json
from analysis.topics.files import write_topics_csv

NOTES_FILE = "notes.json"
WORKBOOK_FILE = "tables.xlsx"
MARKDOWN_FILE = "main_tables.md"
LATEX_FILE = "main_tables.tex"
OTHER = "other"
_EXCEL_MAX_CHARS = 32_767  # Excel's limit for one cell
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # characters an .xlsx file cannot hold


@dataclass(frozen=True)
class MainTable:
    """A table laid out for a reader: rows, a title and a note saying how to read the cells."""

    name: str  # file-safe key, e.g. "main_theme_by_source"
    title: str
    note: str
    frame: pd.DataFrame


def write_tables(
    tables: Mapping[str, pd.DataFrame], tables_dir: str | Path, *, theme_labels: Mapping[str, str] | None = None
) -> list[Path]:
    """Every output file of the tables stage in `tables_dir`; returns their paths.

    <name>.csv per table, notes.json (each table's attrs), tables.xlsx (a sheet per table, the
    main tables first), main_tables.md and main_tables.tex (the main tables only).
    """
    tables_dir = Path(tables_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    # the topic table keeps topics.csv's format (words joined by ", "), through that file's one writer
    paths = [(write_topics_csv if name == "topics" else to_csv)(table, tables_dir / f"{name}.csv")
             for name, table in tables.items()]
    notes = {name: jsonable(dict(table.attrs)) for name, table in tables.items()}
    notes_path = tables_dir / NOTES_FILE
    write_json(notes_path, notes)
    main = main_tables(tables, theme_labels=theme_labels)
    paths += [notes_path, write_workbook(tables, tables_dir / WORKBOOK_FILE, main=main)]
    (tables_dir / MARKDOWN_FILE).write_text(markdown_document(main), encoding="utf-8")
    (tables_dir / LATEX_FILE).write_text(latex_document(main), encoding="utf-8")
    return [*paths, tables_dir / MARKDOWN_FILE, tables_dir / LATEX_FILE]


def read_tables(tables_dir: str | Path) -> dict[str, pd.DataFrame]:
    """The tables of a run folder from their CSV files, with the notes of notes.json back in `attrs`."""
    tables_dir = Path(tables_dir)
    notes_path = tables_dir / NOTES_FILE
    notes = json.loads(notes_path.read_text(encoding="utf-8")) if notes_path.is_file() else {}
    tables = {}
    # in the order they were written (notes.json keeps it), then any CSV the notes do not know
    paths = sorted(tables_dir.glob("*.csv"), key=lambda p: (list(notes).index(p.stem) if p.stem in notes else len(notes), p.stem))
    for path in paths:
        table = pd.read_csv(path, keep_default_na=False)
        table.attrs.update(notes.get(path.stem, {}))
        tables[path.stem] = table
    return tables


# --- the main tables -------------------------------------------------------------------------------


def main_tables(
    tables: Mapping[str, pd.DataFrame], *, theme_labels: Mapping[str, str] | None = None
) -> list[MainTable]:
    """The tables a paper would print, from whichever of the run's tables exist."""
    labels = dict(theme_labels or {})
    result = []
    for name, by in (("theme_by_source", "source"), ("theme_by_language", "language")):
        if name in tables and len(tables[name]):
            table = tables[name]
            result.append(
                MainTable(
                    f"main_{name}",
                    f"Themes by {by}",
                    _share_note(table),
                    wide_shares(table, theme_labels=labels),
                )
            )
    if "theme_trends" in tables and len(tables["theme_trends"]):
        result.append(_trend_table(tables["theme_trends"], labels))
    if "theme_comparison" in tables and len(tables["theme_comparison"]):
        result.append(_comparison_table(tables["theme_comparison"], labels))
    return result


def wide_shares(shares: pd.DataFrame, *, theme_labels: Mapping[str, str] | None = None) -> pd.DataFrame:
    """A long share table (group × theme rows) as one row per theme and one column per group.

    Cells read "12.3 (10.1–14.6)": the share of the group's segments in percent and its interval;
    "†" marks groups with too few documents to compare. Column headers carry the group's documents
    when the table's notes know them. Codebook themes that no segment carries stay as rows ("–"),
    so a reader sees that they are absent rather than forgotten; "other" (no theme) comes last.
    """
    unit = "theme" if "theme" in shares else "topic"
    labels = dict(theme_labels or {})
    documents = shares.attrs.get("group_documents", {})
    groups = list(dict.fromkeys(shares["group"].astype(str)))
    present = list(dict.fromkeys(shares[unit].astype(str)))
    keys = [k for k in labels if k != OTHER] + [k for k in present if k not in labels and k != OTHER]
    keys += [OTHER] if OTHER in present or OTHER in labels else []
    cells = {(str(r["group"]), str(r[unit])): _share_cell(r) for _, r in shares.iterrows()}
    headers = {g: f"{g} (n = {int(documents[g]):,})" if g in documents else g for g in groups}
    rows = []
    for key in keys:
        name = theme_name(key, labels) if unit == "theme" else key
        rows.append({unit: name, **{headers[g]: cells.get((g, key), "–") for g in groups}})
    return pd.DataFrame(rows, columns=[unit, *headers.values()])


def theme_name(key: Any, labels: Mapping[str, str]) -> str:
    """The codebook's label of a theme key; "other (no theme)" for segments that match none."""
    key = str(key)
    return "other (no theme)" if key == OTHER else labels.get(key, key.replace("_", " "))


def _share_cell(row: pd.Series) -> str:
    small = str(row.get("small_cell", "")).lower() in ("true", "1")
    return (
        f"{100 * float(row['share']):.1f} ({100 * float(row['ci_low']):.1f}–{100 * float(row['ci_high']):.1f})"
        + ("†" if small else "")
    )


def _share_note(table: pd.DataFrame) -> str:
    confidence = float(table.attrs.get("confidence", 0.95))
    minimum = table.attrs.get("min_docs_per_cell")
    note = (
        f"Share of each group's segments in percent, with its {100 * confidence:.0f} % bootstrap interval "
        "over documents in brackets; n = the group's documents."
    )
    if minimum:
        note += f" † fewer than {minimum} documents: too few to compare."
    extra = str(table.attrs.get("note", "")).strip()
    return f"{note} {extra[0].upper() + extra[1:]}." if extra else note


def _points(value: Any) -> str:
    """A share (0.012) as percentage points (1.2); blank when missing."""
    number = number_or_none(value)
    return "" if number is None else f"{100 * number:+.2f}"


def _interval_text(low: Any, high: Any) -> str:
    low, high = number_or_none(low), number_or_none(high)
    return "" if low is None or high is None else f"{100 * low:+.2f} to {100 * high:+.2f}"


def number_or_none(value: Any) -> float | None:
    """A table cell as a float, None when it is empty, text or NaN."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _trend_table(trends: pd.DataFrame, labels: Mapping[str, str]) -> MainTable:
    adjusted = "adjusted_slope_per_year" in trends
    rows = []
    for _, r in trends.iterrows():
        row = {
            "theme": theme_name(r["theme"], labels),
            "raw slope": _points(r.get("slope_per_year")),
            "raw interval": _interval_text(r.get("ci_low"), r.get("ci_high")),
        }
        if adjusted:
            row |= {
                "within-source slope": _points(r.get("adjusted_slope_per_year")),
                "within-source interval": _interval_text(r.get("adjusted_ci_low"), r.get("adjusted_ci_high")),
            }
        row["direction"] = str(r.get("direction", ""))
        if "flag" in trends:
            row["flag"] = str(r.get("flag", ""))
        rows.append(row)
    confidence = float(trends.attrs.get("confidence", 0.95))
    note = (
        "Change of a theme's share in percentage points per year (weighted least squares over periods), "
        f"with its {100 * confidence:.0f} % bootstrap interval over documents."
    )
    if adjusted:
        note += (
            " The within-source slope compares each outlet with itself (source fixed effects), so a change "
            "in which outlets were collected does not count as a trend; the direction is read from it."
        )
    return MainTable("main_theme_trends", "Theme trends", note, pd.DataFrame(rows))


def _comparison_table(comparison: pd.DataFrame, labels: Mapping[str, str]) -> MainTable:
    first = comparison.iloc[0]
    a, b = str(first.get("group_a", "A")), str(first.get("group_b", "B"))
    rows = []
    for _, r in comparison.iterrows():
        p = number_or_none(r.get("p_adjusted"))
        rows.append(
            {
                "theme": theme_name(r["theme"], labels),
                f"{a} (%)": f"{100 * float(r['share_a']):.1f}",
                f"{b} (%)": f"{100 * float(r['share_b']):.1f}",
                "difference (points)": _points(r.get("difference")),
                "interval": _interval_text(r.get("ci_low"), r.get("ci_high")),
                "adjusted p": "" if p is None else f"{p:.3f}",
                "flag": str(r.get("flag", "")),
            }
        )
    note = (
        f"Share of segments carrying each theme in the two groups, their difference ({b} minus {a}) with "
        "its bootstrap interval over documents, and the permutation p-value adjusted for the number of "
        "themes. " + str(comparison.attrs.get("note", "")).strip()
    ).strip()
    return MainTable("main_theme_comparison", f"Themes compared: {a} and {b}", note, pd.DataFrame(rows))


# --- file formats ----------------------------------------------------------------------------------


def to_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a table as UTF-8 CSV (lists joined with "; "); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    flatten_lists(table).to_csv(path, index=False, encoding="utf-8")
    return path


def to_markdown(table: pd.DataFrame, *, digits: int = 3) -> str:
    """A Markdown table (GitHub pipes), floats rounded to `digits`; needs the `tabulate` package."""
    try:
        import tabulate  # noqa: F401  (pandas uses it; imported here to give a useful message)
    except ImportError as exc:
        raise ImportError(
            "to_markdown needs the 'tabulate' package (pandas uses it for Markdown): pip install tabulate"
        ) from exc
    return flatten_lists(table).to_markdown(index=False, floatfmt=f".{digits}f")


def markdown_document(main: list[MainTable]) -> str:
    """The main tables as one Markdown file: a heading, the table and its note for each."""
    parts = ["# Main tables\n"]
    for table in main:
        parts.append(f"## {table.title}\n\n{to_markdown(table.frame)}\n\n{table.note}\n")
    return "\n".join(parts)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip
_LATEX_PATTERN = re.compile("|".join(re.escape(c) for c in _LATEX_SPECIAL))


def latex_escape(text: Any) -> str:
    """Text safe inside a LaTeX document: every special character written as its command."""
    return _LATEX_PATTERN.sub(lambda m: _LATEX_SPECIAL[m.group()], str(text))


def to_latex(table: MainTable) -> str:
    """One `table` environment (booktabs rules) with the note as caption; cells escaped."""
    frame = flatten_lists(table.frame)
    spec = "l" + "r" * (len(frame.columns) - 1)
    lines = [
        r"\begin{table}[htbp]",
        r"\centering\small",
        rf"\caption{{{latex_escape(table.title)}. {latex_escape(table.note)}}}",
        rf"\label{{tab:{table.name.replace('_', '-')}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(latex_escape(c) for c in frame.columns) + r" \\",
        r"\midrule",
    ]
    lines += [" & ".join(latex_escape(v) for v in row) + r" \\" for row in frame.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines)


def latex_document(main: list[MainTable]) -> str:
    """The main tables as LaTeX to \\input: needs \\usepackage{booktabs}; Arabic needs XeLaTeX/LuaLaTeX."""
    head = (
        "% Main tables of this run. \\usepackage{booktabs}; cells with Arabic text need XeLaTeX or\n"
        "% LuaLaTeX with an Arabic font (e.g. polyglossia or babel with bidi).\n"
    )
    return head + "\n\n".join(to_latex(t) for t in main) + "\n"


def write_workbook(
    tables: Mapping[str, pd.DataFrame], path: str | Path, *, main: list[MainTable] | None = None
) -> Path:
    """One Excel workbook: a "notes" sheet listing every sheet, then the main tables, then every table.

    Text is always stored as text, so a corpus string beginning with "=" cannot become a formula.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    path = Path(path)
    main = main if main is not None else []
    sheets: list[tuple[str, str, pd.DataFrame]] = [(t.name, f"{t.title}. {t.note}", t.frame) for t in main]
    sheets += [(name, str(table.attrs.get("note", "")), table) for name, table in tables.items()]
    workbook = Workbook()
    index = workbook.active
    index.title = "notes"
    index.append(["sheet", "rows", "note"])
    used: set[str] = {"notes"}
    for name, note, frame in sheets:
        title = _sheet_title(name, used)
        sheet = workbook.create_sheet(title)
        _append_row(index, [title, len(frame), note])
        _append_row(sheet, [str(c) for c in frame.columns])
        for row in flatten_lists(frame).itertuples(index=False):
            _append_row(sheet, list(row))
        sheet.freeze_panes = "A2"
        for k, column in enumerate(frame.columns, start=1):
            sheet.column_dimensions[get_column_letter(k)].width = min(60, max(10, len(str(column)) + 2))
    workbook.save(path)
    return path


def _sheet_title(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    title, k = base, 2
    while title.lower() in {u.lower() for u in used}:
        title = f"{base[: 31 - len(str(k)) - 1]}~{k}"
        k += 1
    used.add(title)
    return title


def _append_row(sheet: Any, values: list[Any]) -> None:
    from openpyxl.cell import Cell

    # cells typed before they are appended: finding the appended row again (sheet.max_row) scans
    # every cell of the sheet, quadratic in its rows
    cells = [Cell(sheet, value=_excel_value(v)) for v in values]
    for cell in cells:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # never a formula, whatever the text starts with
    sheet.append(cells)


def _excel_value(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None)
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if value is pd.NA:
        return None
    if isinstance(value, bool | int | float):
        return value
    return _ILLEGAL_XML.sub("", str(value))[:_EXCEL_MAX_CHARS]


def flatten_lists(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of `table` with list cells joined by "; " (CSV, Excel and LaTeX hold no lists)."""

    def flat(value: Any) -> Any:
        if isinstance(value, list | tuple | np.ndarray):
            return "; ".join(map(str, value))
        return value

    out = table.copy()
    for column in [c for c in out.columns if pd.api.types.is_object_dtype(out[c])]:
        out[column] = out[column].map(flat)
    return out


def jsonable(value: Any) -> Any:
    """Notes as strict JSON: numpy scalars as numbers, NaN as null, tuples as lists, keys as text."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
