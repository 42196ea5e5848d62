"""Report figures: renderers that draw tables onto axes, and a friendly layer that saves a run's figures.

Two layers, as in datamapplot: renderers `plot_*(table, *, ax=None, ...) -> (fig, ax)` (and
`figure_*` small multiples) draw one table and never save or show; `write_run_figures` /
`save_run_figures` pick the tables of a run, call the renderers, save each figure once per configured
format with its footer (`save_figure`) and write the captions file the report reads.
"""

from analysis.figures.heatmaps import plot_corpus_overview, plot_share_heatmap, plot_topic_similarity
from analysis.figures.maps import interactive_document_map, plot_document_map, write_interactive
from analysis.figures.run import (
    CAPTIONS_FILE,
    SavedFigure,
    codebook_labels,
    render_run_figures,
    run_footer,
    save_run_figures,
    write_captions,
    write_run_figures,
)
from analysis.figures.style import (
    FONT,
    FORMATS,
    OKABE_ITO,
    PAGE_WIDTH,
    FigureFooter,
    encoder_fallback_reason,
    missing_glyphs,
    report_style,
    save_figure,
)
from analysis.figures.trends import (
    figure_shares_over_time,
    interactive_shares_over_time,
    plot_shares_over_time,
    plot_theme_comparison,
)
from analysis.figures.words import figure_top_words, plot_top_words
from analysis.projection import document_map_points

__all__ = [
    "CAPTIONS_FILE",
    "FONT",
    "FORMATS",
    "OKABE_ITO",
    "PAGE_WIDTH",
    "FigureFooter",
    "SavedFigure",
    "codebook_labels",
    "document_map_points",
    "encoder_fallback_reason",
    "figure_shares_over_time",
    "figure_top_words",
    "interactive_document_map",
    "interactive_shares_over_time",
    "missing_glyphs",
    "plot_corpus_overview",
    "plot_document_map",
    "plot_share_heatmap",
    "plot_shares_over_time",
    "plot_theme_comparison",
    "plot_top_words",
    "plot_topic_similarity",
    "render_run_figures",
    "report_style",
    "run_footer",
    "save_figure",
    "save_run_figures",
    "write_captions",
    "write_interactive",
    "write_run_figures",
]
