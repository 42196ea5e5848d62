"""One self-contained HTML report per run that tells its story: summary, figures, tables, methods.

The report is a single file a reader can e-mail or archive: PNG figures are embedded as data URIs
and the CSS is inline. It contains no script at all: corpus text (titles, segments, topic words)
is escaped everywhere, and a Content-Security-Policy forbids scripts in case anything slipped
through; long tables fold with `<details>`, which needs none. The interactive figures are separate
files next to it, linked from it. What the report says (summary, readings, methods) is written by
`analysis.report_text`; the main tables come from `analysis.export.main_tables`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.export import main_tables
from analysis.figures import encoder_fallback_reason
from analysis.report_text import evaluation_rows, methods_section, summary_section

MAX_TABLE_ROWS = 200  # longer tables are cut in the report; their CSV holds every row
MAX_CELL_CHARS = 400  # long corpus text in a cell is shortened
FOLD_ITEMS = 12  # dicts and lists longer than this are folded in <details>
FIGURES_SIDECAR = "figures/figures.json"  # written by the figure layer: title, caption, files per figure
_NO_CAPTION = "No caption was recorded for this figure (the run folder has no figures/figures.json entry for it)."

_CSS = """
body { font-family: "DejaVu Sans", "Noto Sans", "Segoe UI", Arial, sans-serif; margin: 2rem auto;
       max-width: 72rem; padding: 0 1.5rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.7rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.4rem; }
.meta { color: #555; } .note { color: #555; font-size: .9rem; } .flag { color: #a04000; }
.warning { background: #fff4e5; border-left: 4px solid #e07b00; padding: .5rem .9rem; }
.banner { background: #b00020; color: #fff; padding: .9rem 1.2rem; font-weight: bold; border-radius: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
dl.facts dt { font-weight: bold; } dl.facts dd { margin: 0; }
figure { margin: 1.8rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .9rem; color: #333; max-width: 60rem; }
details { margin: .5rem 0; } summary { cursor: pointer; color: #0b4f8a; }
table { border-collapse: collapse; font-size: .85rem; margin: .6rem 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; vertical-align: top; text-align: left; }
th { background: #f3f3f3; } th, td { unicode-bidi: plaintext; } td { min-width: 5em; }
table.eval td:first-child { white-space: nowrap; font-weight: bold; }
.scroll { overflow-x: auto; } nav ul { columns: 2; } ul.refs li { margin-bottom: .3rem; }
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
    theme_labels: Mapping[str, str] | None = None,
) -> Path:
    """Write `run_dir/report.html` and return its path.

    The page opens with a summary (corpus, selection, encoder, topics, the main differences and
    trends with their intervals, composition warnings), then the figures in the order and with the
    captions of `figures/figures.json` (any other PNG in `figures` follows, marked as uncaptioned),
    the main tables wide, evaluation numbers with a reading each, every table folded, the methods
    with references, and the inputs and manifest last. `figures` may list PNG, SVG, PDF and HTML
    files; `theme_labels` maps theme keys to the codebook's labels.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    figures = [Path(f) for f in figures]
    missing = [str(f) for f in figures if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"write_report: figure file(s) not found: {missing}; write the figures first")
    labels = dict(theme_labels or {})
    summary = summary_section(manifest, tables, evaluation=evaluation, findings=findings,
                              selection=selection, theme_labels=labels)  # fmt: skip
    if findings:
        summary += "<h3>How to read these findings</h3>" + _findings_section(findings)
    sections = [
        ("Figures", _figures_section(figures, run_dir)),
        ("Main tables", _main_tables_section(tables, labels, run_dir)),
    ]
    if evaluation:
        sections.append(("Evaluation", _evaluation_section(evaluation)))
    if selection:
        sections.append(("Selection", _selection_section(selection)))
    if curation:
        sections.append(("Curation", _render_value(curation)))
    sections += [
        ("Corpus and ledger", _render_value(_without_inputs(ledger_summary))),
        ("All tables", _tables_section(tables, run_dir)),
        ("Methods and references", methods_section(manifest, has_comparison="theme_comparison" in tables)),
        ("Inputs and run manifest", _manifest_section(manifest)),
    ]
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">{_run_line(manifest)}</p>',
        _fallback_banner(manifest.get("encoder", {})),
        f'<section id="summary"><h2>Summary</h2>{summary}</section>',
        "<nav><h2>Contents</h2><ul>"
        + "".join(f'<li><a href="#{_anchor(name)}">{escape(name)}</a></li>' for name in ["Summary", *dict(sections)])
        + "</ul></nav>",
    ]
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


def _findings_section(findings: Mapping[str, Any]) -> str:
    route = findings.get("theme_source", "topic")
    parts = [
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
    ]
    kappa = findings.get("kappa_topic_vs_segment")
    if kappa is not None:
        parts.append(
            f"<p>Agreement of the two routes: Cohen's kappa {float(kappa):.2f} at segment level; "
            f"{int(findings.get('flagged_topics', 0))} topic(s) flagged whose mapped theme most of their "
            'segments do not carry (<a href="#table-topic-agreement">topic agreement</a>).</p>'
        )
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


def figure_entries(figures: list[Path], run_dir: Path) -> list[dict[str, Any]]:
    """The figures to place, in report order: figures.json's entries, then any other PNG given.

    Each entry: name, title, caption, png (Path or None), links [(label, Path)] to its other files.
    """
    sidecar = run_dir / FIGURES_SIDECAR
    recorded = json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else []
    if not isinstance(recorded, list):
        raise ValueError(f"{sidecar}: expected a JSON list of figures (name, title, caption, files)")
    entries, placed = [], set()
    for k, item in enumerate(recorded):
        if not isinstance(item, Mapping) or "name" not in item:
            raise ValueError(f"{sidecar}: figure {k} has no 'name'; each entry needs name, title, caption, files")
        files = {str(kind): run_dir / str(path) for kind, path in (item.get("files") or {}).items()}
        png = files.pop("png", None)
        placed |= {p.resolve() for p in [png, *files.values()] if p is not None}
        entries.append({
            "name": str(item["name"]), "title": str(item.get("title") or item["name"]),
            "caption": str(item.get("caption") or _NO_CAPTION), "png": png,
            "links": [(kind.upper(), path) for kind, path in files.items() if path.is_file()],
        })  # fmt: skip
    for png in (f for f in figures if f.suffix.lower() == ".png" and f.resolve() not in placed):
        others = [f for f in figures if f.stem == png.stem and f.suffix.lower() in (".svg", ".pdf", ".html")]
        placed |= {f.resolve() for f in [png, *others]}
        entries.append({
            "name": png.stem, "title": png.stem.replace("_", " ").capitalize(), "caption": _NO_CAPTION,
            "png": png, "links": [(f.suffix[1:].upper(), f) for f in others],
        })  # fmt: skip
    return entries


def _figures_section(figures: list[Path], run_dir: Path) -> str:
    parts = []
    entries = figure_entries(figures, run_dir)
    for entry in entries:
        title = escape(entry["title"])
        links = " ".join(
            f'<a href="{escape(_relative(path, run_dir))}">{escape(label)}</a>' for label, path in entry["links"]
        )
        png = entry["png"]
        if png is None:  # an interactive page only: a link with its caption, no image
            parts.append(f'<p dir="auto"><strong>{title}</strong> ({links}). {escape(entry["caption"])}</p>')
            continue
        image = (
            f'<img src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode("ascii")}" alt="{title}">'
            if png.is_file()
            else f'<p class="warning">The image {escape(_relative(png, run_dir))} is missing from the run folder.</p>'
        )
        parts.append(
            f'<figure id="figure-{_anchor(entry["name"])}">{image}<figcaption dir="auto"><strong>{title}.</strong> '
            f"{escape(entry['caption'])}{' Also as: ' + links if links else ''}</figcaption></figure>"
        )
    linked = {path.resolve() for entry in entries for _, path in entry["links"]}
    interactive = [f for f in figures if f.suffix.lower() in (".html", ".htm") and f.resolve() not in linked]
    if interactive:
        items = "".join(
            f'<li><a href="{escape(_relative(f, run_dir))}">{escape(f.stem.replace("_", " "))}</a></li>'
            for f in interactive
        )
        parts.append(f"<p>Interactive versions (open offline, in a separate page):</p><ul>{items}</ul>")
    return "\n".join(parts) or '<p class="note">No figures.</p>'


def _main_tables_section(tables: Mapping[str, pd.DataFrame], labels: Mapping[str, str], run_dir: Path) -> str:
    main = main_tables(tables, theme_labels=labels)
    if not main:
        return '<p class="note">This run has no share, trend or comparison table.</p>'
    files = [f for f in ("tables/tables.xlsx", "tables/main_tables.md", "tables/main_tables.tex")
             if (run_dir / f).is_file()]  # fmt: skip
    parts = [
        f'<h3 id="main-{_anchor(t.name)}">{escape(t.title)}</h3><p class="note">{escape(t.note)}</p>'
        f'<div class="scroll">{_frame_html(t.frame)}</div>'
        for t in main
    ]
    if files:
        parts.append(
            '<p class="note">For papers: '
            + ", ".join(f'<a href="{escape(f)}">{escape(Path(f).name)}</a>' for f in files)
            + " (Excel, a sheet per table; Markdown; LaTeX with booktabs).</p>"
        )
    return "\n".join(parts)


def _evaluation_section(evaluation: Mapping[str, Any]) -> str:
    rows = evaluation_rows(evaluation)
    table = (
        '<table class="eval"><tr><th>measure</th><th>value</th><th>how to read it</th></tr>'
        + "".join(f"<tr><td>{escape(m)}</td><td>{escape(v)}</td><td>{escape(r)}</td></tr>" for m, v, r in rows)
        + "</table>"
    )
    return (table if rows else "") + _fold("All evaluation numbers", _render_value(evaluation))


def _tables_section(tables: Mapping[str, pd.DataFrame], run_dir: Path) -> str:
    parts = ['<p class="note">Every table of the run, folded; click a name to open it. Each is also a CSV '
             "in tables/ and a sheet of tables/tables.xlsx.</p>"]  # fmt: skip
    for name, table in tables.items():
        note = str(table.attrs.get("note", "")).strip()
        cut = (
            f" Showing the first {MAX_TABLE_ROWS} of {len(table):,} rows; the CSV in tables/ has all."
            if len(table) > MAX_TABLE_ROWS
            else ""
        )
        csv = f"tables/{name}.csv"
        link = f' <a href="{escape(csv)}">CSV</a>' if (run_dir / csv).is_file() else ""
        body = (
            (f'<p class="note" dir="auto">{escape(note)}.{escape(cut)}{link}</p>' if note or cut or link else "")
            + f'<div class="scroll">{_frame_html(table.head(MAX_TABLE_ROWS))}</div>'
        )
        parts.append(
            f'<details id="table-{_anchor(name)}"><summary>{escape(name.replace("_", " "))} '
            f'<span class="note">({len(table):,} rows)</span></summary>{body}</details>'
        )
    return "\n".join(parts) if tables else '<p class="note">No tables.</p>'


def _manifest_section(manifest: Mapping[str, Any]) -> str:
    """Input paths, then what reproduces the run (encoder, stages, seeds, config, versions), the rest folded."""
    corpus = manifest.get("corpus", {}) or {}
    inputs = corpus.get("inputs", []) if isinstance(corpus, Mapping) else []
    parts = [f"<p>Source: <code>{escape(str(manifest.get('source', '?')))}</code>; "
             f"{len(inputs)} input file(s).</p>"]  # fmt: skip
    if inputs:
        listing = "<ul>" + "".join(f'<li dir="auto"><code>{escape(str(p))}</code></li>' for p in inputs) + "</ul>"
        parts.append(_fold(f"Input paths ({len(inputs)})", listing) if len(inputs) > FOLD_ITEMS else listing)
    order = ["encoder", "stages", "seeds", "config", "versions"]
    parts += [f"<h3>{escape(k)}</h3>{_render_value(manifest[k])}" for k in order if k in manifest]
    rest = {k: v for k, v in manifest.items() if k not in order}
    if rest:
        parts.append(
            "<h3>The rest of manifest.json</h3>"
            + _fold(", ".join(map(str, rest)), _render_value(rest, fold=False))
        )
    return "\n".join(parts)


def _without_inputs(ledger_summary: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger summary with its input paths counted; the paths themselves close the report."""
    summary = dict(ledger_summary)
    if isinstance(summary.get("inputs"), list | tuple):
        summary["inputs"] = f"{len(summary['inputs'])} file(s), listed under Inputs and run manifest"
    return summary


def _fold(summary: str, html: str) -> str:
    return f"<details><summary>{escape(summary)}</summary>{html}</details>"


def _render_value(value: Any, *, fold: bool = True) -> str:
    """Any JSON-like value as escaped HTML: dicts as two-column tables, lists of records as tables.

    Dicts and lists longer than FOLD_ITEMS are folded, so a 35-month table or 68 input paths do not
    push the findings off the page.
    """
    if isinstance(value, pd.DataFrame):
        return _frame_html(value)
    if isinstance(value, Mapping):
        if not value:
            return '<span class="note">(none)</span>'
        rows = "".join(
            f"<tr><th>{escape(str(k))}</th><td>{_render_value(v)}</td></tr>" for k, v in value.items()
        )
        html = f"<table>{rows}</table>"
        return _fold(f"{len(value)} entries", html) if fold and len(value) > FOLD_ITEMS else html
    if isinstance(value, list | tuple) and value and all(isinstance(v, Mapping) for v in value):
        html = f'<div class="scroll">{_frame_html(pd.DataFrame(list(value)))}</div>'
        return _fold(f"{len(value)} rows", html) if len(value) > FOLD_ITEMS else html
    if isinstance(value, list | tuple | set | np.ndarray):
        text = escape(", ".join(map(str, value)))
        return _fold(f"{len(value)} items", f"<p>{text}</p>") if len(value) > FOLD_ITEMS else text
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
