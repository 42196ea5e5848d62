"""Multilingual topic modelling and trend analysis of news.

Stages, each a module, data flowing one way: `corpus` → `encoders` (embeddings, cached) → `topics` (with `themes`) →
`tables` → `figures` → `report`; `pipeline` chains them and `cli` exposes them.
"""

from analysis.numba_cache import set_cache_dir as _set_numba_cache_dir

__version__ = "0.2.0"

_set_numba_cache_dir()  # before numba is first imported: UMAP compiles once per machine
