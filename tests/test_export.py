"""Tables as files: CSV, their notes kept beside them, the Excel workbook, LaTeX and Markdown.

The notes (documents per group, interval confidence, what was left out) must survive a round trip
through the run folder, since `evaluate` rebuilds the report from it; the wide tables must say
the same numbers as the long ones; corpus text must stay text in every format.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_tables import synthetic_segments

from analysis.config import TableConfig
from analysis.export import (
    latex_escape,
    main_tables,
    read_tables,
    to_csv,
    to_markdown,
    wide_shares,
    write_tables,
)
from analysis.tables import share_table, theme_trends

CONFIG = TableConfig(n_bootstrap=200, seed=3, period="month", min_docs_per_cell=25)
LABELS = {"infrastructure": "Infrastructure & compute", "ethics": "Ethics, privacy and trust",
          "sovereignty": "Digital sovereignty", "skills": "Skills", "quantum": "Quantum (no segment)"}  # fmt: skip


@pytest.fixture(scope="module")
def tables():
    segments = synthetic_segments(n_documents=100)
    segments.loc[0, "text"] = "=HYPERLINK(\"http://x\") \x07 مراكز البيانات"
    return {
        "theme_by_source": share_table(segments, by="source", config=CONFIG),
        "theme_by_language": share_table(segments, by="language", config=CONFIG),
        "theme_trends": theme_trends(segments, CONFIG),
        "segments": segments[["segment_id", "text", "topic_label"]].assign(words=[["a", "b"]] * len(segments)),
    }


def test_outputs_csv_and_markdown(tmp_path, tables):
    by_source = tables["theme_by_source"]
    path = to_csv(by_source, tmp_path / "out" / "theme_by_source.csv")
    pd.testing.assert_frame_equal(pd.read_csv(path), by_source, check_dtype=False)
    lines = to_markdown(by_source, digits=2).splitlines()
    assert len(lines) == len(by_source) + 2
    assert "| group" in lines[0] and "outlet-a" in lines[2]


def test_notes_survive_the_run_folder(tmp_path, tables):
    write_tables(tables, tmp_path, theme_labels=LABELS)
    notes = json.loads((tmp_path / "notes.json").read_text(encoding="utf-8"))  # strict JSON
    back = read_tables(tmp_path)
    assert list(back) == list(tables)  # the order the run wrote them in, not the alphabet
    for name, table in tables.items():
        assert back[name].attrs.keys() == table.attrs.keys(), name
    original = tables["theme_by_source"].attrs
    assert back["theme_by_source"].attrs["group_documents"] == {k: int(v) for k, v in original["group_documents"].items()}
    assert notes["theme_trends"]["periods"] == list(tables["theme_trends"].attrs["periods"])
    assert back["theme_by_source"].attrs["confidence"] == pytest.approx(0.95)


def test_wide_table_says_what_the_long_table_says(tables):
    long = tables["theme_by_source"]
    wide = wide_shares(long, theme_labels=LABELS)
    documents = long.attrs["group_documents"]
    header = f"outlet-a (n = {documents['outlet-a']:,})"
    assert list(wide.columns) == ["theme", *[f"{g} (n = {documents[g]:,})" for g in sorted(documents)]]
    row = long[(long["group"] == "outlet-a") & (long["theme"] == "infrastructure")].iloc[0]
    cell = wide.set_index("theme").loc["Infrastructure & compute", header]
    assert cell.startswith(f"{100 * row['share']:.1f} ({100 * row['ci_low']:.1f}–{100 * row['ci_high']:.1f})")
    # every group has fewer than 25 documents here: all cells carry the small-cell mark
    assert all(c.endswith("†") for c in wide[header] if c != "–")
    # the codebook's order and labels; a theme no segment carries stays as an empty row; other last
    assert wide["theme"].tolist()[:5] == list(LABELS.values())
    assert (wide.set_index("theme").loc["Quantum (no segment)"] == "–").all()
    assert wide["theme"].iat[-1] == "other (no theme)"


def test_workbook_has_a_sheet_per_table_and_text_stays_text(tmp_path, tables):
    from openpyxl import load_workbook

    write_tables(tables, tmp_path, theme_labels=LABELS)
    workbook = load_workbook(tmp_path / "tables.xlsx")
    names = workbook.sheetnames
    assert names[0] == "notes"
    assert names[1:] == ["main_theme_by_source", "main_theme_by_language", "main_theme_trends", *tables]
    sheet = workbook["segments"]
    assert [c.value for c in sheet[1]] == ["segment_id", "text", "topic_label", "words"]
    first = sheet["B2"]
    assert first.data_type == "s" and first.value == "=HYPERLINK(\"http://x\")  مراكز البيانات"  # no formula
    assert sheet["D2"].value == "a; b"
    assert sheet.max_row == len(tables["segments"]) + 1
    wide = workbook["main_theme_by_source"]
    assert wide["A2"].value == "Infrastructure & compute"
    index = {row[0].value: row[2].value for row in workbook["notes"].iter_rows(min_row=2)}
    assert "bootstrap interval" in index["main_theme_by_source"]


def test_latex_and_markdown_of_the_main_tables(tmp_path, tables):
    write_tables(tables, tmp_path, theme_labels=LABELS)
    latex = (tmp_path / "main_tables.tex").read_text(encoding="utf-8")
    assert latex.count(r"\begin{table}") == len(main_tables(tables, theme_labels=LABELS)) == 3
    assert r"Infrastructure \& compute" in latex and r"\toprule" in latex
    assert latex_escape("50% of R&D_{x}") == r"50\% of R\&D\_\{x\}"
    markdown = (tmp_path / "main_tables.md").read_text(encoding="utf-8")
    assert "## Themes by source" in markdown and "## Theme trends" in markdown
    assert "| Infrastructure & compute" in markdown
