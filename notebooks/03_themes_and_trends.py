# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3 · Themes across sources, languages and time
#
# Which themes does each outlet push? Does the Arabic-language press frame AI differently from the
# French and English press? Which themes rise or fall? This notebook reads the run folder written by
# notebook 2 (or by `python -m analysis topics`) and builds the same tables and figures as
# `python -m analysis run`.
#
# **How to read the intervals.** Every share comes with a 95 % interval from a bootstrap over
# *documents*: articles are resampled, not paragraphs, because the paragraphs of one article share its
# author, outlet and framing. An interval that is wide means few articles stand behind the share; two
# groups whose intervals overlap widely are not shown to differ. Cells built on fewer than
# `min_docs_per_cell` documents are flagged `small_cell`.

# %%
import os
from pathlib import Path

from analysis import pipeline
from analysis.config import RunConfig
from analysis.curate import Curation, apply_curation
from analysis.figures import save_run_figures
from analysis.tables import to_markdown

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
CONFIG = RunConfig.from_toml(ROOT / "configs" / "sample.toml")
OUT = Path(os.environ.get("ANALYSIS_NOTEBOOK_OUT", ROOT))  # where the notebooks write (tests: a temporary folder)
RUN_DIR = OUT / "runs" / "notebooks"
FIGURES = OUT / "figures"

result = pipeline.load_run(RUN_DIR)
tables = pipeline.build_tables(
    result.segments, result.topic_result.topics, CONFIG, codebook=result.topic_result.codebook
)
result.tables = tables
sorted(tables)

# %% [markdown]
# ## Themes by language
#
# Each column sums to 100 % of that language's segments. Compare a theme across languages by its row.

# %%
by_language = tables["theme_by_language"]
print(to_markdown(by_language.head(12)))

# %%
saved = save_run_figures(result, ["theme_by_language"], config=CONFIG, out_dir=FIGURES, prefix="03_")

# %% [markdown]
# ## Themes by source

# %%
saved = save_run_figures(result, ["theme_by_source"], config=CONFIG, out_dir=FIGURES, prefix="03_")

# %% [markdown]
# ## Themes over time, with their intervals
#
# Lines are shares per period; bands are the 95 % intervals. The trend table gives a slope per year
# with its own bootstrap interval: a rise is supported when the whole interval is above zero.

# %%
saved = save_run_figures(result, ["theme_shares_over_time"], config=CONFIG, out_dir=FIGURES, prefix="03_")

# %%
tables["theme_trends"]

# %% [markdown]
# ## Change or composition? Raw and adjusted trends
#
# The raw slope pools every outlet; the adjusted slope compares each outlet with itself (source
# fixed effects), so a theme does not "rise" because the corpus switched to an outlet that covers it
# more. `direction` reads the adjusted interval; `flag` says when the source mix shifts or a language
# is one outlet.

# %%
tables["theme_trends"][["theme", "slope_per_year", "raw_direction", "adjusted_slope_per_year", "direction", "flag"]]

# %% [markdown]
# ## Do the topic themes hold at segment level?
#
# Share of each topic's segments that carry its mapped theme as their own; flagged topics deserve a look
# before they are quoted.

# %%
tables["topic_agreement"]

# %% [markdown]
# ## Curating by hand, without refitting
#
# The same function as `python -m analysis curate RUN_DIR curation.toml`: here in memory, clearing the
# theme of topic 0 and hiding it from the charts.

# %%
curated_segments, curated_topics, changes = apply_curation(
    result.segments, result.topic_result.topics, Curation(theme={0: "other"}, hide=(0,))
)
print(changes)

# %% [markdown]
# ## What the topics say: representative segments per topic and language

# %%
tables["representative_segments"].head(12)

