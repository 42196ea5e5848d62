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
from pathlib import Path

import matplotlib.pyplot as plt

from analysis import pipeline
from analysis.config import RunConfig
from analysis.figures import (
    document_map_points,
    figure_top_words,
    plot_document_map,
    plot_topic_similarity,
    save_figure,
)
from analysis.tables import topic_similarity, topic_word_shares

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
CONFIG = RunConfig.from_toml(ROOT / "configs" / "sample.toml")
SOURCE = None  # the packaged sample corpus
RUN_DIR = ROOT / "runs" / "notebooks"
FIGURES = ROOT / "figures"

result = pipeline.run_topics(SOURCE, RUN_DIR, CONFIG, progress=False)
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

# %%
segments = result.segments
footer = pipeline.figure_footer(result)
points = document_map_points(segments, result.embeddings, seed=CONFIG.topics.seed)
fig, ax = plot_document_map(points, max_topics=CONFIG.figures.max_topics)
save_figure(fig, FIGURES / "02_document_map", footer=footer, formats=CONFIG.figures.formats,
            dpi=CONFIG.figures.dpi)

# %%
languages = [lang for lang in CONFIG.corpus.languages if lang in set(segments["language"])]
words = topic_word_shares(segments, topics, languages=languages, max_topics=CONFIG.figures.max_topics)
fig, axes = figure_top_words(words, languages=languages)
save_figure(fig, FIGURES / "02_top_words", footer=footer, formats=CONFIG.figures.formats,
            dpi=CONFIG.figures.dpi)

# %%
similarity = topic_similarity(segments, result.embeddings, max_topics=CONFIG.figures.max_topics)
fig, ax = plot_topic_similarity(similarity)
save_figure(fig, FIGURES / "02_topic_similarity", footer=footer, formats=CONFIG.figures.formats,
            dpi=CONFIG.figures.dpi)
plt.close("all")
