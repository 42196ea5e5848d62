"""Save and load a fitted topic model (safetensors only, never pickle), and the topics.csv edge."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from bertopic import BERTopic

from analysis.bertopic_plugins import LOAD_WITHOUT, absent
from analysis.encoders.base import Encoder
from analysis.themes import codebook_to_toml, load_codebook
from analysis.topics.files import TOPICS_PARQUET, read_topics
from analysis.topics.fit import TopicResult
from analysis.topics.model import EncoderEmbedder, quiet_bertopic
from analysis.vectorize import make_vectorizer

_BERTOPIC_FOLDER = "bertopic"


# What BERTopic's safetensors save writes; without the .safetensors files BERTopic.load falls back
# to torch.load of topic_embeddings.bin / ctfidf.bin, which unpickles whatever they hold.
_SAFE_BERTOPIC_FILES = (
    "config.json",
    "topics.json",
    "topic_embeddings.safetensors",
    "ctfidf.safetensors",
    "ctfidf_config.json",
)
_PICKLE_SUFFIXES = (".bin", ".pkl", ".pickle", ".pt", ".pth", ".joblib", ".ckpt")


class UnsafeModelError(ValueError):
    """A model folder that would be loaded with pickle (missing safetensors, or pickle files in it)."""



def _local_model_folder(identity: dict[str, Any]) -> str | None:
    """The encoder's model as a local folder string, when it is one: only such a pointer is safe
    to store for BERTopic, whose `load` would otherwise try the Hugging Face Hub."""
    for key in ("path", "folder", "name", "model"):
        value = identity.get(key)
        if isinstance(value, str) and value and Path(value).is_dir():
            return str(Path(value).resolve())
    return None


def save_topic_model(result: TopicResult, folder: str | Path) -> Path:
    """Write the model (safetensors; no pickle) and its tables into `folder`.

    Layout: bertopic/ (BERTopic's own safetensors save with c-TF-IDF), topics.parquet (word
    lists as list columns), segment_topics.parquet, config.json (TopicConfig and fit info), codebook.toml, encoder.json.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    encoder_identity = result.info.get("encoder", {})
    with quiet_bertopic():
        result.model.save(
            folder / _BERTOPIC_FOLDER,
            serialization="safetensors",
            save_ctfidf=True,
            save_embedding_model=_local_model_folder(encoder_identity) or False,
        )
    result.topics.to_parquet(folder / TOPICS_PARQUET, index=False)
    result.segment_topics.to_parquet(folder / "segment_topics.parquet", index=False)
    (folder / "config.json").write_text(
        json.dumps({"info": result.info}, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    (folder / "encoder.json").write_text(
        json.dumps(encoder_identity, indent=2, ensure_ascii=False, default=str), encoding="utf-8"
    )
    if result.codebook is None:
        raise ValueError("this TopicResult carries no codebook; build it with fit_topics or load_topic_model")
    (folder / "codebook.toml").write_text(codebook_to_toml(result.codebook), encoding="utf-8")
    return folder


def load_topic_model(folder: str | Path, *, encoder: Encoder | None = None) -> TopicResult:
    """Read what `save_topic_model` wrote, with no network access.

    The loaded BERTopic has no UMAP/HDBSCAN (they are not saved as safetensors): its `transform`
    assigns each document to the topic whose centroid embedding is most similar. Pass the same
    `encoder` to let it embed new texts itself; otherwise pass embeddings to `transform`.
    """
    folder = Path(folder)
    needed = [_BERTOPIC_FOLDER, TOPICS_PARQUET, "segment_topics.parquet", "config.json", "codebook.toml"]
    if not (folder / TOPICS_PARQUET).exists() and (folder / "topics.csv").exists():
        needed.remove(TOPICS_PARQUET)  # saved by an earlier version: its table is a CSV
    missing = [name for name in needed if not (folder / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{folder} is not a saved topic model: missing {missing}; save one with save_topic_model(result, folder)"
        )
    check_safe_model_folder(folder)
    model = _load_bertopic(folder / _BERTOPIC_FOLDER, encoder)
    # BERTopic restores a plain CountVectorizer without our normaliser and tokenizer; put them back.
    fresh = make_vectorizer(1, min_df=1)
    model.vectorizer_model.set_params(preprocessor=fresh.preprocessor, tokenizer=fresh.tokenizer)
    topics = read_topics(folder)
    segment_topics = pd.read_parquet(folder / "segment_topics.parquet")
    info = json.loads((folder / "config.json").read_text(encoding="utf-8"))["info"]
    info["loaded_from"] = str(folder)
    codebook = load_codebook(folder / "codebook.toml")
    return TopicResult(
        model=model, topics=topics, segment_topics=segment_topics, info=info, codebook=codebook
    )


def check_safe_model_folder(folder: Path) -> None:
    """Refuse a model folder that loading would unpickle: safetensors files missing, or pickles present.

    Pickle runs code when loaded; torch's weights-only default is one environment variable
    (TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1) away from running it, so this check does not rely on it.
    """
    bertopic_folder = folder / _BERTOPIC_FOLDER
    missing = [name for name in _SAFE_BERTOPIC_FILES if not (bertopic_folder / name).is_file()]
    pickles = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in _PICKLE_SUFFIXES
    )
    if missing or pickles:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)} in {bertopic_folder}")
        if pickles:
            problems.append(
                f"holds pickle-format files ({', '.join(pickles[:5])}) that loading could execute"
            )
        raise UnsafeModelError(
            f"{folder}: refused to load this topic model: {'; '.join(problems)}. save_topic_model writes "
            "safetensors only; refit the model, or remove files you did not put there yourself"
        )


def _load_bertopic(path: Path, encoder: Encoder | None) -> BERTopic:
    embedding_model = EncoderEmbedder(encoder) if encoder is not None else None
    saved = json.loads((path / "config.json").read_text(encoding="utf-8")).get("embedding_model")
    with quiet_bertopic(), absent(LOAD_WITHOUT):  # the package's embedder, never a sentence-transformers one
        if saved is None or Path(saved).is_dir():
            return BERTopic.load(str(path), embedding_model=embedding_model)
        # The stored local model folder is gone: BERTopic would look it up on the Hub. Load a
        # copy without the pointer instead (the folder itself is left untouched).
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / path.name
            shutil.copytree(path, copy)
            config = json.loads((copy / "config.json").read_text(encoding="utf-8"))
            config.pop("embedding_model")
            (copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
            return BERTopic.load(str(copy), embedding_model=embedding_model)
