"""Multilingual topic modelling and trend analysis of news.

Stages, each a module, data flowing one way: `corpus` → `encoders` (embeddings, cached) → `topics` (with `themes`) →
`tables` → `figures` → `report`; `pipeline` chains them and `cli` exposes them.
"""

__version__ = "0.2.0"
