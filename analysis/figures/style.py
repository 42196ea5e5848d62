"""What every figure shares: the report style, the colours, the footer, and the one `save_figure`.

Figures are sized for a 6.5-inch page with text of at least 8 pt, use colour-blind-safe colours
(Okabe–Ito, Paul Tol, cividis), and draw Arabic with DejaVu Sans, which has Arabic and Tifinagh
glyphs; matplotlib ≥ 3.11 shapes Arabic and lays it right to left itself, so labels are passed as
they are (the old arabic_reshaper + python-bidi trick would now reverse them).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.schema import require_columns
from analysis.text.arabic import ARABIC_SCRIPT_CHAR

PAGE_WIDTH = 6.5  # inches: a report page's text width; figures are drawn at 100 % of it
MAX_HEIGHT = 9.0  # inches: a page's text height
FONT = "DejaVu Sans"
# Okabe & Ito (2008), without black: distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#F0E442")
# Paul Tol's "muted" set, also colour-blind safe, for maps with more topics than Okabe–Ito has colours.
TOL_MUTED = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499")
OUTLIER_GREY = "#C8C8C8"
FORMATS = ("png", "svg", "pdf")
STYLE = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "font.size": 8.5,
    "axes.titlesize": 9.5,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.constrained_layout.use": True,
    "svg.fonttype": "path",  # glyph outlines: the SVG looks the same without the font installed
    "pdf.fonttype": 42,
}


@contextmanager
def report_style() -> Iterator[None]:
    """The rcParams every figure of this package is drawn and saved with."""
    with mpl.rc_context(STYLE):
        yield


@dataclass(frozen=True)
class FigureFooter:
    """What every saved figure states about its origin; `encoder` is a name or an encoder identity dict."""

    corpus: str
    n_segments: int
    encoder: str | Mapping[str, Any]
    run_date: str

    @property
    def encoder_name(self) -> str:
        if isinstance(self.encoder, Mapping):
            return str(
                self.encoder.get("name") or self.encoder.get("model") or self.encoder.get("kind") or "?"
            )
        return str(self.encoder)

    @property
    def fallback_reason(self) -> str:
        """Why a fallback encoder stood in for the requested one, or "" when the requested encoder ran."""
        return encoder_fallback_reason(self.encoder)

    def lines(self) -> list[str]:
        text = (
            f"Corpus: {self.corpus} · {self.n_segments:,} segments · encoder: {self.encoder_name} · "
            f"run {self.run_date}"
        )
        lines = textwrap.wrap(text, 110)
        if self.fallback_reason:
            requested = self.encoder.get("requested_model", "") if isinstance(self.encoder, Mapping) else ""
            lines += textwrap.wrap(
                "FALLBACK ENCODER: "
                + (
                    f"{requested} could not be loaded, so "
                    if requested
                    else "the requested model could not be loaded, so "
                )
                + f"topics rest on {self.encoder_name} instead; compare before citing them"
                " (the reason is in manifest.json).",
                100,
            )
        return lines


def encoder_fallback_reason(encoder: str | Mapping[str, Any] | None) -> str:
    """Why an encoder identity records a fallback for the requested model ("" if it records none).

    Read from the identity's `fallback_reason` field, never guessed from the encoder's name."""
    if isinstance(encoder, Mapping):
        return str(encoder.get("fallback_reason") or "")
    return ""


def save_figure(
    fig: Figure,
    stem: str | Path,
    *,
    footer: FigureFooter,
    formats: Sequence[str] = FORMATS,
    dpi: int = 200,
    notes: Sequence[str] = (),
) -> list[Path]:
    """Write `fig` as `stem.<format>` for each format, with the footer (and `notes`, in red) below it.

    The footer goes under the figure's own area and `bbox_inches="tight"` grows the saved image to
    include it, so it never covers an axis label. Dates are left out of SVG and PDF metadata so that
    a rerun writes identical files. The figure stays open: a notebook can still show it.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown figure format(s) {unknown}; valid: {', '.join(FORMATS)}")
    if dpi < 72:
        raise ValueError(f"dpi = {dpi} is too low for a report figure; use 200 or more")
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    lines = footer.lines()
    height = fig.get_figheight()
    # savefig resets the layout engine from rcParams after each format: a figure laid out by hand
    # must not come back with constrained layout for the next one
    keep_layout = {"figure.constrained_layout.use": fig.get_layout_engine() is not None}
    with report_style(), mpl.rc_context(keep_layout):
        added = [fig.text(0.005, -0.01, lines[0], ha="left", va="top", fontsize=8, color="#444444")]
        below = [_wrap(note, 95, max_lines=3) for note in notes] + lines[1:]
        if below:
            added.append(fig.text(0.005, -0.01 - 0.14 / height, "\n".join(below), ha="left", va="top",
                                  fontsize=8, color="#B00020", fontweight="bold"))  # fmt: skip
        paths = []
        metadata = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            fig.savefig(path, dpi=dpi, bbox_inches="tight", pad_inches=0.08, metadata=metadata[fmt],
                        facecolor="white")  # fmt: skip
            paths.append(path)
    for text in added:  # the footer belongs to the file, not to the figure shown in a notebook
        text.remove()
    return paths


def missing_glyphs(text: str, font: str = FONT) -> list[str]:
    """Characters of `text` the font has no glyph for (they would print as boxes)."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    face = FT2Font(font_manager.findfont(font, fallback_to_default=False))
    return sorted({c for c in text if not c.isspace() and face.get_char_index(ord(c)) == 0})


# --- helpers shared by the renderers -------------------------------------------------------------------


def figure_and_axes(ax: Axes | None, *, height: float, width: float = PAGE_WIDTH) -> tuple[Figure, Axes]:
    """The given axes and its figure, or a new page-wide figure `height` inches high (capped)."""
    if ax is not None:
        return ax.figure, ax
    with report_style():
        fig, ax = plt.subplots(figsize=(width, min(height, MAX_HEIGHT)))
    return fig, ax


def annotate_cells(ax: Axes, image: Any, values: np.ndarray, text: list[list[str]], fontsize: float = 8) -> None:
    """Write `text` in each cell, black on light cells and white on dark ones (by the cell's luminance)."""
    for (i, j), label in np.ndenumerate(np.array(text, dtype=object)):
        if not label or not np.isfinite(values[i, j]):
            continue
        r, g, b, _ = image.cmap(image.norm(values[i, j]))
        dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
        ax.text(j, i, label, ha="center", va="center", fontsize=fontsize, color="white" if dark else "black",
                linespacing=1.1)  # fmt: skip


def clean_label(label: Any) -> str:
    """BERTopic's "3_word_word" as "word · word"."""
    parts = [p for p in str(label).split("_") if p]
    if len(parts) > 1 and parts[0].lstrip("-").isdigit():
        parts = parts[1:]
    return " · ".join(parts)


def short_label(label: Any, width: int) -> str:
    """A topic label cut to `width` characters at its own seams ("3 · ar: a, b · fr: c" → "3 · ar: a, b"):
    whole language parts first, then whole words, never a stray "·…" fragment."""
    parts = clean_label(label).split(" · ")
    out = parts[0]
    for part in parts[1:]:
        if len(f"{out} · {part}") <= width:
            out = f"{out} · {part}"
            continue
        head, _, words = part.partition(": ")
        listed = words.split(", ") if words else []
        for k in range(len(listed) - 1, 0, -1):
            candidate = f"{out} · {head}: {', '.join(listed[:k])}"
            if len(candidate) <= width:
                out = candidate
                break
        break
    if len(out) > width:
        out = textwrap.shorten(out, width, placeholder="…")
    return wrap(out, width + 2, max_lines=1)


def period_starts(labels: pd.Series) -> pd.DatetimeIndex:
    """Start dates of period labels as `share_table` writes them: "2024-03", "2024Q1" or "2024"."""
    first = str(labels.iloc[0])
    frequency = "Q" if "Q" in first else ("Y" if len(first) == 4 else "M")
    return pd.PeriodIndex(labels.astype(str), freq=frequency).start_time


def slope_text(trend: pd.Series) -> str:
    """ "+21 pts/yr (+12 to +31)": percentage points per year, never "-0"."""

    def points(value: float) -> str:
        return f"{float(value) * 100:+.1f}".replace("-0.0", "+0.0")

    return (
        f"{points(trend['slope_per_year'])} pts/yr ({points(trend['ci_low'])} to {points(trend['ci_high'])})"
    )


_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")
_LRM = "\u200e"


def _wrap(text: str, width: int, max_lines: int = 2) -> str:
    """Wrapped text; a left-to-right label that holds Arabic keeps left-to-right order on every line.

    Each line gets its own bidi paragraph, so a wrapped line that happens to start with an Arabic word
    would otherwise be laid out right to left and scramble "1 · ar: … · en: …". A left-to-right mark
    at the start of each line pins the direction of the label as a whole.
    """
    lines = textwrap.wrap(str(text), width, max_lines=max_lines, placeholder="…") or [str(text)]
    latin, arabic = _LATIN_LETTER.search(str(text)), ARABIC_SCRIPT_CHAR.search(str(text))
    if latin and arabic and latin.start() < arabic.start():
        lines = [_LRM + line for line in lines]
    return "\n".join(lines)


wrap = _wrap


def cycle(colors: Sequence[str], n: int) -> list[str]:
    return [colors[i % len(colors)] for i in range(n)]


def with_alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    """The one required-columns check (`schema.require_columns`), for a figure's table."""
    require_columns(frame, columns, what=what)
