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
# # 2 · Topics: multilingual embeddings, BERTopic and the theme codebook
#
# Segments are embedded with a multilingual sentence encoder (cached on disk: a rerun embeds only new
# text), clustered by BERTopic, and each topic is named with its top words **per language** and mapped
# to a theme of the codebook (`analysis/data/codebook.toml`). Same function as
# `python -m analysis topics`, same configuration file.
#
# The default encoder, Google's multilingual Universal Sentence Encoder v3, ships inside a Python
# package: no download, the same vectors on every machine. A sentence-transformers model named in the
# configuration that cannot be loaded is replaced by it, loudly (manifest and every figure's footer).

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

result = pipeline.run_topics(SOURCE, RUN_DIR, CONFIG, progress=False, resume=True)
manifest = result.manifest.data
manifest["encoder"], manifest["embedding"]

# %% [markdown]
# ## The topics
#
# `label` shows the top words of each language that holds at least 10 % of the topic; `languages`
# gives the mix. A topic shared by Arabic, French and English segments means the encoder matched the
# same subject across languages. `theme` is the codebook theme the topic maps to, with its score; a
# low score maps to `other`.

# %%
topics = result.topic_result.topics
topics[["topic", "size", "languages", "label", "theme", "theme_score"]]

# %% [markdown]
# The fitted BERTopic object is available as it is, with all its methods:

# %%
model = result.topic_result.model
model.get_topic_info().head()

# %% [markdown]
# ## Figures: document map, top words per language, topic similarity

# %% [markdown]
# The map's 2-D projection is cached by the embeddings' hash (`analysis.projection`): rerunning this
# cell does not fit UMAP again. Its interactive version, with a search box, is `02_document_map.html`.

# %%
saved = save_run_figures(result, ["document_map"], config=CONFIG, out_dir=FIGURES, prefix="02_")

# %%
saved = save_run_figures(result, ["top_words", "topic_similarity"], config=CONFIG, out_dir=FIGURES, prefix="02_")
for figure in saved:
    print(f"{figure.name}: {figure.caption}")
