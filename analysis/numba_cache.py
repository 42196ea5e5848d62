"""Numba's compiled code kept on disk, so UMAP and pynndescent compile once per machine, not per run.

UMAP's own numba functions are not marked `cache=True`, so every new process compiled them again:
on the 68-article sample that was most of the topic stage (a 212-row UMAP fit took 290 s under
load 10 on 2 cores, 5.6 s in the next process once cached; benchmarks/results/sample_speed.md).
`enable` switches caching on for every numba function of the libraries named in
CACHED_LIBRARIES that is not cached yet; numba then writes each compiled signature under
NUMBA_CACHE_DIR (set by `analysis/__init__.py` to ~/.cache/analysis/numba unless already set) and
reloads it, checked against the source file's timestamp, in later processes.

`enable` can only reach functions compiled on first call. Two of umap's (`tau_rand_int`,
`tau_rand` in umap/utils.py) are compiled when umap is imported, from an explicit signature, before
anything can switch them: 1-3 s of every run's start-up. `import_umap` imports umap with caching
the default of `numba.njit` meanwhile, so those load from the disk cache as well. It also keeps
`cffi` from numba while its typing context is first built: numba's cffi support (cffi functions
called from jitted code, which UMAP never does) imports pycparser, 1-4 s per process; in such a
process numba cannot type cffi functions.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

CACHED_LIBRARIES = ("umap", "pynndescent")
NUMBA_CACHE_ENV = "NUMBA_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where compiled functions go when NUMBA_CACHE_DIR is not set: beside the embedding cache."""
    return Path.home() / ".cache" / "analysis" / "numba"


def set_cache_dir() -> None:
    """NUMBA_CACHE_DIR for this process, unless the user set one (numba reads it when first imported)."""
    os.environ.setdefault(NUMBA_CACHE_ENV, str(default_cache_dir()))


def import_umap() -> ModuleType:
    """`umap`, imported (when it is not yet) with `cache=True` the default of numba.njit meanwhile."""
    if "umap" in sys.modules:
        return sys.modules["umap"]
    import numba

    plain = numba.njit

    def cached_njit(*args: Any, **options: Any) -> Any:
        options.setdefault("cache", True)
        return plain(*args, **options)

    from analysis.bertopic_plugins import absent

    numba.njit = cached_njit
    try:
        with absent(["cffi"]):  # numba's cffi typing (unused by UMAP) would parse C headers: ~1 s
            import umap
    finally:
        numba.njit = plain
    return umap


@functools.cache
def enable() -> int:
    """Turn on disk caching for the loaded numba functions of CACHED_LIBRARIES; how many were switched.

    Call it after importing UMAP and before its first fit (a function compiled before is not
    cached in this process, only from the next one on). Runs once per process.
    """
    import_umap()  # loads umap's and pynndescent's modules, whose functions are switched
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    switched = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".", 1)[0] not in CACHED_LIBRARIES:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache):
                value.enable_caching()
                switched += 1
    return switched
