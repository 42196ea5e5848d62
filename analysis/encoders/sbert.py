"""sentence-transformers models: a hub name or a local folder, failing fast and clearly offline.

Any sentence-transformers model can replace the default encoder (`--model NAME|FOLDER`). Hub names
are loaded from the local Hugging Face cache only when the hub does not answer within a few
seconds, so an offline machine fails in well under a second rather than after minutes of retries,
with a message saying how to provide the model.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from analysis.encoders.base import EncoderUnavailableError

MODEL_ENV = "ANALYSIS_MODEL"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".onnx", ".xml", ".h5", ".msgpack")
_HUB_PROBE_SECONDS = 3.0


class SentenceTransformerEncoder:
    """A sentence-transformers model from the hub or a local folder, loaded on first use.

    As in scikit-learn, the constructor only stores its arguments; `load()` (called by `encode`,
    `identity` and `load_encoder`) reads the weights and raises `EncoderUnavailableError` when it
    cannot. Hub names are loaded from the local Hugging Face cache only when the hub does not answer
    within a few seconds, so that an offline machine fails in seconds rather than after minutes
    of retries.
    """

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        batch_size: int = 32,
        max_length: int | None = None,
        prefix: str = "",
        show_progress_bar: bool | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.max_length = max_length
        self.prefix = prefix
        self.show_progress_bar = show_progress_bar

    def load(self) -> SentenceTransformerEncoder:
        if getattr(self, "model_", None) is not None:
            return self
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        from sentence_transformers import SentenceTransformer

        folder = _local_folder(self.model)
        local_only = folder is None and not hub_reachable()
        try:
            model = SentenceTransformer(
                str(folder) if folder else self.model,
                device=self.device or _auto_device(),
                local_files_only=local_only,
            )
        except Exception as exc:  # transformers raises OSError, ValueError, KeyError… for the same cause
            detail = (str(exc).strip().splitlines() or [""])[0].rstrip(".")
            if local_only:
                reason = (
                    "the Hugging Face Hub is unreachable and the model is not in the local cache "
                    f"{_hf_cache_dir()} ({type(exc).__name__}: {detail})"
                )
            else:
                reason = f"loading failed ({type(exc).__name__}: {detail})"
            raise EncoderUnavailableError(_how_to_provide(self.model, reason)) from exc
        if self.max_length is not None:
            model.max_seq_length = self.max_length
        self.model_ = model
        self.folder_ = folder
        return self

    @property
    def identity(self) -> dict[str, Any]:
        self.load()
        identity = {
            "name": str(self.folder_) if self.folder_ else self.model,
            "kind": "sentence-transformers",
            "dimension": int(_embedding_dimension(self.model_)),
            "max_length": int(self.model_.max_seq_length or 0),
            "prefix": self.prefix,
        }
        if self.folder_:
            identity["weights_fingerprint"] = _weights_fingerprint(self.folder_)
        return identity

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        if len(texts) == 0:
            return np.zeros((0, _embedding_dimension(self.model_)), dtype=np.float32)
        texts = [self.prefix + text for text in texts]
        show = self.show_progress_bar
        if show is None:
            show = len(texts) > 4 * self.batch_size
        vectors = self.model_.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=show,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def _embedding_dimension(model: Any) -> int:
    getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return getter()


def _auto_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _local_folder(model: str) -> Path | None:
    """The model as a local folder, None for a hub name; a path-like name that is missing is an error."""
    path = Path(model).expanduser()
    if path.is_dir():
        weights = [p for p in path.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file()]
        if not weights:
            raise EncoderUnavailableError(
                _how_to_provide(model, f"the folder {path} holds no model weights (*.safetensors or *.bin)")
            )
        return path.resolve()
    if path.exists():
        raise EncoderUnavailableError(_how_to_provide(model, f"{path} is a file, not a model folder"))
    looks_like_path = model.startswith(("/", ".", "~")) or model.count("/") > 1 or "\\" in model
    if looks_like_path:
        raise EncoderUnavailableError(_how_to_provide(model, f"the folder {path} does not exist"))
    return None


def _hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def hub_reachable(timeout: float = _HUB_PROBE_SECONDS) -> bool:
    """Whether the Hugging Face Hub answers within `timeout` seconds (False when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    request = urllib.request.Request(endpoint + "/api/models?limit=1", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True  # it answered
    except (OSError, ValueError):
        return False


def _how_to_provide(model: str, reason: str) -> str:
    return (
        f"cannot load the encoder model {model!r}: {reason}.\n"
        "Provide it in one of these ways:\n"
        f"  1. on a machine with internet: `huggingface-cli download {model}` (or `hf download {model}`),\n"
        "     then copy the Hugging Face cache (~/.cache/huggingface, or the folder named by $HF_HOME)\n"
        "     to this machine at the same place or point $HF_HOME at it;\n"
        "  2. or save the model to a local folder (SentenceTransformer(NAME).save(PATH)) and pass it:\n"
        f'     `--model PATH`, `[embed] model = "PATH"` in the config file, or ${MODEL_ENV}=PATH;\n'
        "  3. or use the default multilingual encoder, which ships inside a Python package and needs no\n"
        "     download: `--model use-multilingual-v3` (or leave [embed] model unset)."
    )


def _weights_fingerprint(folder: Path) -> str:
    """Names, sizes and the first and last MiB of each weights file: changes when the weights do."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.suffix in _WEIGHT_SUFFIXES and p.is_file()):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder).as_posix()}:{size}".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()[:16]
