"""BERTopic assembled for multilingual news: fit, topic words per language, themes, save and load.

`fit_topics` fits BERTopic on the original segments (duplicates get their original's topic),
names every topic with its top words in each language present, maps it to a codebook theme and
returns the fitted BERTopic object itself, so every BERTopic method stays available.

One module per step, data flowing down the list:

- `scale`: UMAP/HDBSCAN settings scaled to the corpus, and the degraded path for tiny corpora;
- `clusters`: language centring before UMAP, outlier absorption after HDBSCAN, centroids;
- `model`: the unfitted BERTopic (reducer, clusterer, vectorizer, representation);
- `words`: topic words per language, display spellings, labels: the topic table;
- `fit`: `fit_topics`, the named steps from inputs to the topic and segment tables;
- `files`: topics.csv and topics.parquet, the only place word lists become text;
- `store`: save and load a fitted model (safetensors only).

Names are loaded on first use (PEP 562), so `import analysis.topics.files` does not import BERTopic.
"""

from __future__ import annotations

import importlib
from typing import Any

from analysis.bertopic_plugins import skip_unused_plugins

skip_unused_plugins()  # BERTopic, when first imported, without torch, transformers, spaCy

_EXPORTS = {
    "scale": ("TINY_CORPUS", "DegradedTopicModelWarning", "ModelScale", "scale_parameters"),
    "clusters": ("CENTRING_MIN_SEGMENTS", "centre_by_language", "needs_language_centring", "absorb_outliers", "centroids"),
    "model": ("MMR_DIVERSITY", "EncoderEmbedder", "DistinctiveWords", "build_topic_model"),
    "words": (
        "LABEL_MIN_LANGUAGE_SHARE",
        "LABEL_WORDS_PER_LANGUAGE",
        "OUTLIER_LABEL",
        "TOPIC_COLUMNS_START",
        "TOPIC_COLUMNS_END",
        "words_per_language",
        "surface_forms",
        "topic_table",
    ),
    "fit": ("SEGMENT_TOPIC_COLUMNS", "TopicResult", "fit_topics"),
    "files": ("write_topics_csv", "read_topics_csv", "read_topics", "as_word_list"),
    "store": ("UnsafeModelError", "save_topic_model", "load_topic_model", "check_safe_model_folder"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'analysis.topics' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"analysis.topics.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
