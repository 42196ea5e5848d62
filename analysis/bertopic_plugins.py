"""BERTopic imported without the plug-ins the package never uses (torch, transformers, spaCy).

`import bertopic` pulls sentence-transformers (through its multimodal backend), transformers
(text-generation and zero-shot representations), spaCy (part-of-speech representation) and torch
(its `.bin` model format): most of the sample run's start-up (`python -X importtime`; numbers in
benchmarks/results/sample_speed.md). The package passes its own embedder
(`analysis.topics.model.EncoderEmbedder`) and representation and saves with safetensors only, so
none of them is used. BERTopic imports each of these in a `try: … except ImportError` and falls
back to its own placeholder (which prints the install hint when used); a `None` entry in
`sys.modules` makes Python raise exactly that error.

`skip_unused_plugins` arranges that for BERTopic's first import in this process only: the entries
exist while `bertopic` itself is being imported and are removed right after, so torch,
transformers and sentence-transformers stay importable (the sentence-transformers encoder works in
the same process). What changes in such a process: `bertopic.representation.TextGeneration`,
`ZeroShotClassification`, `VisualRepresentation`, `PartOfSpeech` and
`bertopic.backend.MultiModalBackend` are BERTopic's placeholders, and BERTopic's own `.bin`
(pytorch) format and its Hugging Face Hub push and load are off. Whoever needs them imports `bertopic` before `analysis.topics`,
or sets ANALYSIS_BERTOPIC_PLUGINS=all. `absent(LOAD_WITHOUT)` does the same around `BERTopic.load`
(reading a run folder back: the `figures` command, resumed runs).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Iterable, Iterator
from types import ModuleType

from analysis import numba_cache

UNUSED_PLUGINS = {
    # module being imported: the modules it may import that read as absent meanwhile
    "bertopic": (
        "bertopic.backend._multimodal",  # sentence-transformers, torch
        "bertopic.representation._textgeneration",  # transformers
        "bertopic.representation._zeroshot",  # transformers
        "bertopic.representation._visual",  # transformers
        "bertopic.representation._pos",  # spaCy
    ),
    # torch only while this one module runs: scipy and others look torch up in sys.modules
    "bertopic._save_utils": (
        "torch",  # the pytorch `.bin` format only
        "huggingface_hub",  # pushing to and loading from the Hugging Face Hub (the package is offline)
    ),
}
KEEP_ALL_ENV = "ANALYSIS_BERTOPIC_PLUGINS"


@contextlib.contextmanager
def absent(names: Iterable[str]) -> Iterator[None]:
    """Within the block, importing any of `names` not imported yet raises ModuleNotFoundError."""
    marked = [name for name in names if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # type: ignore[assignment]  (Python's "absent module" marker)
    try:
        yield
    finally:
        for name in marked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


# BERTopic.load always imports sentence-transformers to wrap an (empty) SentenceTransformer model,
# which the embedder passed in then replaces; with the import failing it takes its BaseEmbedder.
LOAD_WITHOUT = ("sentence_transformers",)


class _WithoutPlugins(importlib.abc.Loader):
    """A module's own loader, run while the modules in `absent` read as not installed."""

    def __init__(self, loader: importlib.abc.Loader, absent: tuple[str, ...]) -> None:
        self.loader = loader
        self.absent = absent

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        if module.__name__ == "bertopic":
            numba_cache.import_umap()  # BERTopic imports umap: with all its numba functions cached
        with absent(self.absent):
            self.loader.exec_module(module)
        module.__loader__ = self.loader
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader


class _BertopicFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of UNUSED_PLUGINS once each, as the path finder would, and wraps their loaders."""

    def __init__(self) -> None:
        self.pending = dict(UNUSED_PLUGINS)

    def find_spec(
        self, name: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        absent = self.pending.pop(name, None)
        if absent is None:
            return None
        if not self.pending:
            sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)  # type: ignore[arg-type]
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutPlugins(spec.loader, absent)
        return spec


def skip_unused_plugins() -> bool:
    """Import BERTopic, when it first is, without UNUSED_PLUGINS; whether that was arranged.

    Cheap: it only registers a finder; nothing is imported until something imports `bertopic`.
    """
    if "bertopic" in sys.modules or os.environ.get(KEEP_ALL_ENV) == "all":
        return False
    if not any(isinstance(finder, _BertopicFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _BertopicFinder())
    return True
