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
# # 1 · Corpus: from raw files to an accounted-for segment table
#
# This notebook loads a corpus, removes page furniture (ads, "read also" links, menus, comment forms),
# detects the language of every paragraph, parses dates, and splits the text into segments. It calls
# the same function as `python -m analysis corpus`, with the same configuration file.
#
# Change `SOURCE` to a folder of articles, a table, or a corpus description such as
# `examples/morocco-news.toml`. `None` means the sample corpus that ships with the package.

# %%
import os
from pathlib import Path

from analysis import pipeline
from analysis.config import RunConfig
from analysis.figures import save_run_figures

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
CONFIG = RunConfig.from_toml(ROOT / "configs" / "sample.toml")
SOURCE = None  # the packaged sample corpus
OUT = Path(os.environ.get("ANALYSIS_NOTEBOOK_OUT", ROOT))  # where the notebooks write (tests: a temporary folder)
RUN_DIR = OUT / "runs" / "notebooks"
FIGURES = OUT / "figures"

result = pipeline.run_corpus(SOURCE, RUN_DIR, CONFIG, progress=False, overwrite=True)
corpus = result.corpus
summary = corpus.summary()
summary["documents"]

# %% [markdown]
# ## Nothing is lost: the ledger
#
# Every input document has one row in the ledger, `used` or excluded with a reason; every piece of
# text the cleaner removed has a row too, with the file it came from. The check below is the same one
# the loader runs on every build: documents in = used + excluded.

# %%
ledger = corpus.ledger
documents = ledger[ledger["kind"] == "document"]
assert len(documents) == summary["documents"]["inputs"]
documents["status"].value_counts()

# %%
pieces = ledger[ledger["kind"] == "piece"]
pieces.groupby("reason").size().sort_values(ascending=False)

# %%
pieces[["doc_id", "reason", "detail"]].head(10)

# %% [markdown]
# ## Segments by language, source and date
#
# A segment is a paragraph by default. Its language is its own (a Darija quote in an Arabic article is
# flagged `darija`; a Tifinagh line is `ber`), so mixed articles are counted correctly.

# %%
segments = corpus.segments
segments.groupby(["source", "language"]).size().unstack(fill_value=0)

# %%
segments[["doc_id", "language", "darija", "date", "date_precision", "text"]].head(8)

# %% [markdown]
# ## Figure: the corpus at a glance
#
# Documents per period, by source and language. Read it before any topic chart: a theme that "rises"
# in a month when one outlet published twice as much may only reflect the corpus.

# %%
saved = save_run_figures(result, ["corpus_overview"], config=CONFIG, out_dir=FIGURES, prefix="01_")
print(saved[0].caption)
