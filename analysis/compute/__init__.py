"""The stages on a Dask cluster, for corpora too large for one process (`[compute] cluster`).

Absent a cluster, nothing here is imported and no Dask starts. With one, `analysis.pipeline`
hands these functions the stages' work: reading, cleaning and segmenting blocks of documents on
the workers, exact and near duplicates by shuffles across blocks, embedding in partitions through a
shared cache, and a topic model fitted on a reproducible sample with every other segment assigned
in partitions and the topic words counted over all of them.
Each calls the single-process functions of corpus / segment / encoders / topics on its partition,
so the rules stay defined once.
"""

import importlib
from typing import Any

# name → module: imported on first use, so a worker that runs one stage's tasks never imports the
# others' libraries (BERTopic and torch take a minute to import on a loaded machine)
_HOMES = {
    "ClusterError": "cluster",
    "cluster_client": "cluster",
    "close_clients": "cluster",
    "progress_over": "cluster",
    "build_corpus_partitioned": "corpus",
    "partition_corpus": "corpus",
    "PartitionedCorpus": "corpus",
    "find_duplicates": "duplicates",
    "write_corpus_partitioned": "corpus",
    "near_pairs_partitioned": "dedupe",
    "embed_partitioned": "embed",
    "fit_on_sample": "topics",
    "topic_table_partitioned": "words",
    "partitioned_block_counter": "coherence",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'analysis.compute' has no attribute {name!r}")
    return getattr(importlib.import_module(f"analysis.compute.{_HOMES[name]}"), name)
