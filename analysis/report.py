"""One self-contained HTML report per run: figures, tables, the ledger summary and the manifest.

The report is a single file a reader can e-mail or archive: PNG figures are embedded as data URIs
and the CSS is inline. It contains no script at all: corpus text (titles, segments, topic words)
is escaped everywhere, and a Content-Security-Policy forbids scripts in case anything slipped
through. The interactive plotly figures are separate files next to it, linked from it.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.figures import encoder_fallback_reason

MAX_TABLE_ROWS = 200  # longer tables are cut in the report; their CSV holds every row
MAX_CELL_CHARS = 400  # long corpus text in a cell is shortened

_CSS = """
body { font-family: "DejaVu Sans", "Noto Sans", "Segoe UI", Arial, sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1.5rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.4rem; }
.meta { color: #555; } .note { color: #555; font-size: .9rem; }
.warning { background: #fff4e5; border-left: 4px solid #e07b00; padding: .5rem .9rem; }
.banner { background: #b00020; color: #fff; padding: .9rem 1.2rem; font-weight: bold; border-radius: 4px; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #444; }
table { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; } td { unicode-bidi: plaintext; min-width: 5em; }
.scroll { overflow-x: auto; } nav ul { columns: 2; }
"""
# No script may run, whatever the content: the report has none, and corpus text must not add one.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def write_report(
    run_dir: str | Path,
    *,
    title: str,
    manifest: Mapping[str, Any],
    ledger_summary: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    figures: Sequence[str | Path],
    evaluation: Mapping[str, Any] | None = None,
    findings: Mapping[str, Any] | None = None,
    selection: Mapping[str, Any] | None = None,
    curation: Mapping[str, Any] | None = None,
) -> Path:
    """Write `run_dir/report.html` and return its path.

    `figures` may list PNG, SVG, PDF and HTML files: each PNG is embedded, its SVG/PDF siblings and
    the interactive HTML files are linked (relative to `run_dir`). `tables` are shown in the given
    order, cut to MAX_TABLE_ROWS rows, with the notes their builders left in `DataFrame.attrs`.
    `findings` (`pipeline.findings_summary`: theme route, composition warnings, agreement) opens the
    report; `selection` (the selection summary) and `curation` (what a curation file changed) get
    their own sections.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    figures = [Path(f) for f in figures]
    missing = [str(f) for f in figures if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"write_report: figure file(s) not found: {missing}; write the figures first")
    encoder = manifest.get("encoder", {})
    sections = []
    if findings:
        sections.append(("How to read these findings", _findings_section(findings, tables)))
    sections.append(("Corpus and ledger", _render_value(ledger_summary)))
    if selection:
        sections.append(("Selection", _selection_section(selection)))
    if curation:
        sections.append(("Curation", _render_value(curation)))
    sections += [
        ("Figures", _figures_section(figures, run_dir)),
        ("Tables", _tables_section(tables)),
    ]
    if evaluation:
        sections.append(("Evaluation", _render_value(evaluation)))
    sections.append(("Run manifest", _manifest_section(manifest)))
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{_run_line(manifest)}</p>',
        _fallback_banner(encoder),
        "<nav><ul>" + "".join(f'<li><a href="#{_anchor(name)}">{escape(name)}</a></li>' for name, _ in sections)
        + "</ul></nav>",
    ]  # fmt: skip
    body += [
        f'<section id="{_anchor(name)}"><h2>{escape(name)}</h2>{html}</section>' for name, html in sections
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _findings_section(findings: Mapping[str, Any], tables: Mapping[str, pd.DataFrame]) -> str:
    route = findings.get("theme_source", "topic")
    parts = [
        '<p class="warning"><strong>Warning:</strong> ' + escape(str(w)) + "</p>"
        for w in findings.get("warnings", [])
    ]
    parts.append(
        "<p>Theme shares, trends and comparisons are computed from "
        + (
            "<strong>segment themes</strong>: each segment's own themes (dictionary terms anchored by a "
            "specific term, combined with the encoder's similarity to the theme; several per segment allowed). "
            "Share tables use each segment's best theme; trends and comparisons the share of segments carrying a theme."
            if route == "segment"
            else "<strong>topic themes</strong>: the theme its topic maps to."
        )
        + " <em>Rising / falling</em> is read from the composition-adjusted (within-source) trend; the raw "
        "trend is shown beside it.</p>"
    )
    kappa = findings.get("kappa_topic_vs_segment")
    if kappa is not None:
        parts.append(
            f"<p>Agreement of the two routes: Cohen's kappa {float(kappa):.2f} at segment level; "
            f"{int(findings.get('flagged_topics', 0))} topic(s) flagged whose mapped theme most of their "
            'segments do not carry (<a href="#table-topic-agreement">topic agreement</a>).</p>'
        )
    trends = tables.get("theme_trends")
    if trends is not None and "adjusted_slope_per_year" in trends:
        columns = ["theme", "slope_per_year", "ci_low", "ci_high", "raw_direction", "adjusted_slope_per_year",
                   "adjusted_ci_low", "adjusted_ci_high", "direction", "flag"]  # fmt: skip
        parts.append("<p>Raw and composition-adjusted trends (share per year; 0.01 = one point):</p>")
        parts.append(f'<div class="scroll">{_frame_html(trends[[c for c in columns if c in trends]])}</div>')
    if findings.get("comparison"):
        parts.append(f'<p class="note">Comparison: {escape(str(findings["comparison"]))}.</p>')
    return "\n".join(parts)


def _selection_section(selection: Mapping[str, Any]) -> str:
    kept = selection.get("kept", {})
    steps = selection.get("steps", [])
    first = steps[0] if steps else {}
    head = (
        f"<p>Selected at {escape(str(selection.get('level', '?')))} level: {kept.get('segments', '?')} of "
        f"{first.get('segments', '?')} segments, {kept.get('documents', '?')} of {first.get('documents', '?')} "
        "documents. Everything left out is in the ledger as <em>not selected</em> with its rule.</p>"
    )
    rest = {k: v for k, v in selection.items() if k not in ("level", "kept")}
    return head + _render_value(rest)


def _run_line(manifest: Mapping[str, Any]) -> str:
    encoder = manifest.get("encoder", {})
    name = encoder.get("name", "?") if isinstance(encoder, Mapping) else str(encoder)
    parts = [
        f"source: {manifest.get('source', '?')}",
        f"encoder: {name}",
        f"run started {manifest.get('started', '?')}",
        f"report written {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
    ]
    return escape(" · ".join(parts))


def _fallback_banner(encoder: Any) -> str:
    reason = encoder_fallback_reason(encoder)
    if not reason:
        return ""
    return (
        '<p class="banner" role="alert">FALLBACK ENCODER: the requested model could not be loaded '
        f"({escape(reason)}). Topics and themes in this report rest on the default encoder instead; "
        "rerun with the requested model before comparing them with its results.</p>"
    )


def _figures_section(figures: list[Path], run_dir: Path) -> str:
    parts = []
    for png in (f for f in figures if f.suffix.lower() == ".png"):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        caption = escape(png.stem.replace("_", " ").capitalize())
        others = [f for f in figures if f.stem == png.stem and f.suffix.lower() in (".svg", ".pdf")]
        links = " ".join(
            f'<a href="{escape(_relative(f, run_dir))}">{f.suffix[1:].upper()}</a>' for f in others
        )
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption}{' · ' + links if links else ''}</figcaption></figure>"
        )
    interactive = [f for f in figures if f.suffix.lower() in (".html", ".htm")]
    if interactive:
        items = "".join(
            f'<li><a href="{escape(_relative(f, run_dir))}">{escape(f.stem.replace("_", " "))}</a></li>'
            for f in interactive
        )
        parts.append(f"<p>Interactive versions (open offline, in a separate page):</p><ul>{items}</ul>")
    return "\n".join(parts) or '<p class="note">No figures.</p>'


def _tables_section(tables: Mapping[str, pd.DataFrame]) -> str:
    parts = []
    for name, table in tables.items():
        note = table.attrs.get("note", "")
        shown = table.head(MAX_TABLE_ROWS)
        cut = (
            f" Showing the first {MAX_TABLE_ROWS} of {len(table):,} rows; the CSV in tables/ has all."
            if len(table) > MAX_TABLE_ROWS
            else ""
        )
        parts.append(
            f'<h3 id="table-{_anchor(name)}">{escape(name.replace("_", " "))}</h3>'
            + (f'<p class="note">{escape(str(note))}.{escape(cut)}</p>' if note or cut else "")
            + f'<div class="scroll">{_frame_html(shown)}</div>'
        )
    return "\n".join(parts) or '<p class="note">No tables.</p>'


def _manifest_section(manifest: Mapping[str, Any]) -> str:
    order = ["encoder", "stages", "seeds", "config", "versions"]
    keys = [k for k in order if k in manifest] + [k for k in manifest if k not in order]
    return "\n".join(f"<h3>{escape(str(k))}</h3>{_render_value(manifest[k])}" for k in keys)


def _render_value(value: Any) -> str:
    """Any JSON-like value as escaped HTML: dicts as two-column tables, lists of records as tables."""
    if isinstance(value, pd.DataFrame):
        return _frame_html(value)
    if isinstance(value, Mapping):
        if not value:
            return '<span class="note">(none)</span>'
        rows = "".join(
            f"<tr><th>{escape(str(k))}</th><td>{_render_value(v)}</td></tr>" for k, v in value.items()
        )
        return f"<table>{rows}</table>"
    if isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
        return f'<div class="scroll">{_frame_html(pd.DataFrame(list(value)))}</div>'
    if isinstance(value, list | tuple | set | np.ndarray):
        return escape(", ".join(map(str, value)))
    if isinstance(value, float):
        return escape(f"{value:.4g}")
    return escape(str(value))


def _frame_html(frame: pd.DataFrame) -> str:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(_cell)
    return frame.to_html(index=False, escape=True, border=0, na_rep="", float_format=lambda v: f"{v:.3f}")


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple | np.ndarray):
        value = "; ".join(map(str, value))
    if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
        return value[: MAX_CELL_CHARS - 1] + "…"
    return value


def _relative(path: Path, run_dir: Path) -> str:
    return Path(os.path.relpath(path.resolve(), run_dir.resolve())).as_posix()


def _anchor(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())
