"""The stages on a Dask cluster, for corpora too large for one process (`[compute] cluster`).

Absent a cluster, nothing here is imported and no Dask starts. With one, `analysis.pipeline`
hands these functions the stages' work: cleaning and segmenting blocks of documents, near
duplicates by MinHash bands with a shuffle, embedding in partitions through a shared cache, and a
topic model fitted on a reproducible sample with every other segment assigned in partitions.
Each calls the single-process functions of corpus / segment / encoders / topics on its partition,
so the rules stay defined once.
"""

from analysis.compute.cluster import ClusterError, close_clients, cluster_client, progress_over
from analysis.compute.corpus import build_corpus_partitioned, write_corpus_partitioned
from analysis.compute.dedupe import near_pairs_partitioned
from analysis.compute.embed import embed_partitioned
from analysis.compute.topics import fit_on_sample

__all__ = [
    "ClusterError",
    "build_corpus_partitioned",
    "close_clients",
    "cluster_client",
    "embed_partitioned",
    "fit_on_sample",
    "near_pairs_partitioned",
    "progress_over",
    "write_corpus_partitioned",
]
