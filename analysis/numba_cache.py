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

pynndescent declares the signatures of about 30 functions, which numba compiles (or loads from the
disk cache) when the module is imported: 20 s of a first run on a new machine and 2 s of every later
one, although UMAP calls pynndescent only on 4,096 rows or more. While umap (and pynndescent through
it) is imported, a function given signatures becomes a `_Deferred` dispatcher: it compiles exactly
those signatures, then stops compiling, as numba does at import, but on its first call or the first
time a jitted caller is typed. Same signatures, same conversions, same machine code; only the time.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
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

    from analysis.bertopic_plugins import absent

    plain = numba.njit
    numba.njit = cached_deferred_njit(plain)
    try:
        with absent(["cffi"]):  # numba's cffi typing (unused by UMAP) would parse C headers: ~1 s
            import umap
    finally:
        numba.njit = plain
    return umap


def cached_deferred_njit(plain: Any) -> Any:
    """`plain` (numba.njit) with `cache=True` by default and declared signatures compiled on first use."""
    from numba.core import sigutils

    def njit(*args: Any, **options: Any) -> Any:
        options.setdefault("cache", True)
        if args and (isinstance(args[0], list) or sigutils.is_signature(args[0])):
            signatures, lazy = args[0], plain(*args[1:], **options)
            return lambda func: _Deferred(lazy(func), signatures).dispatcher
        return plain(*args, **options)

    return njit


class _Deferred:
    """A lazy numba dispatcher that compiles its declared signatures, and only those, when first used.

    numba's eager form (`njit(signatures)(func)`) compiles each signature, then disables compiling, so
    that a call with other argument types is converted to a declared signature or refused. Here the
    same two steps run on the first call from Python (`_compile_for_args`, which numba's dispatcher
    calls when no compiled version matches, and whose result it calls) or the first time another jitted function that calls it
    is typed (`get_call_template`); the call is then dispatched as the eager dispatcher would.
    """

    def __init__(self, dispatcher: Any, signatures: Any) -> None:
        self.dispatcher = dispatcher
        self.signatures = list(signatures) if isinstance(signatures, list) else [signatures]
        self.lock = threading.Lock()
        self.call_template = dispatcher.get_call_template
        dispatcher._compile_for_args = self.first_call
        dispatcher.get_call_template = self.typed_call

    def compile_declared(self) -> None:
        from numba.core import typeinfer

        with self.lock:
            if self.signatures is None:
                return
            with typeinfer.register_dispatcher(self.dispatcher):  # as numba's eager decorator does
                for signature in self.signatures:
                    self.dispatcher.compile(signature)
                self.dispatcher.disable_compile()
            self.signatures = None

    def first_call(self, *args: Any, **kws: Any) -> Any:
        """What numba's dispatcher calls with the arguments: the declared versions compiled, it gets
        back the dispatcher itself to call, which picks (or converts to) one of them."""
        self.compile_declared()
        return self.dispatcher

    def typed_call(self, args: Any, kws: Any) -> Any:
        self.compile_declared()
        return self.call_template(args, kws)


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
