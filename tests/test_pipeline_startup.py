"""What a run imports and loads before it needs it: the sample run's start-up (issue 15, item 1).

BERTopic's import would pull sentence-transformers, transformers, spaCy and torch, and the USE model
was loaded for a handful of short texts although every vector was in the cache; both cost most of a
warm run on the sample (benchmarks/results/sample_speed.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np

HEAVY = ("torch", "sentence_transformers", "transformers", "spacy")


def _python(code: str, **env: str) -> dict:
    """Run `code` in a fresh interpreter (this worktree's package) and return the JSON it prints."""
    import os

    root = Path(__file__).resolve().parents[1]
    environment = {key: value for key, value in os.environ.items() if key != "ANALYSIS_BERTOPIC_PLUGINS"}
    environment.update(PYTHONPATH=str(root), **env)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                          cwd=root, check=False, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_topic_stage_imports_bertopic_without_torch_and_leaves_everything_importable():
    found = _python(
        """
import json, sys
import analysis.topics.fit, analysis.topics.store  # what the topic stage and a run read-back import
import bertopic, bertopic.representation as representation, bertopic._save_utils as save_utils
heavy = [m for m in HEAVY if m in sys.modules]
left_marked = [name for name, module in sys.modules.items() if module is None]
placeholder = type(representation.TextGeneration).__name__
import torch
from bertopic.backend._multimodal import MultiModalBackend
print(json.dumps({"heavy": heavy, "left_marked": left_marked, "placeholder": placeholder,
                  "torch_later": torch.__version__, "has_torch": save_utils._has_torch,
                  "multimodal": MultiModalBackend.__name__}))
""".replace("HEAVY", repr(HEAVY))
    )
    assert found["heavy"] == []  # none of them imported by the topic stage's imports
    assert found["placeholder"] == "NotInstalled"  # BERTopic's own placeholder for a plug-in it lacks
    assert found["left_marked"] == []  # no "absent" marker stays behind
    assert found["torch_later"] and found["multimodal"] == "MultiModalBackend"  # still importable after
    assert found["has_torch"] is False  # BERTopic's pytorch `.bin` format is off; safetensors is used


def test_the_plugins_stay_when_asked_for():
    found = _python(
        """
import json, sys
from analysis.bertopic_plugins import skip_unused_plugins
print(json.dumps({"arranged": skip_unused_plugins(), "bertopic": "bertopic" in sys.modules}))
""",
        ANALYSIS_BERTOPIC_PLUGINS="all",
    )
    assert found == {"arranged": False, "bertopic": False}


def test_the_default_encoder_gives_its_identity_without_loading_torch():
    found = _python(
        """
import json, sys
from analysis.encoders import load_encoder
encoder = load_encoder("use-multilingual-v3")
identity = encoder.identity
print(json.dumps({"dimension": identity["dimension"], "torch": "torch" in sys.modules,
                  "loaded": getattr(encoder, "network_", None) is not None}))
"""
    )
    assert found == {"dimension": 512, "torch": False, "loaded": False}


class CountingEncoder:
    """Deterministic vectors from the text's characters; counts the texts it was asked to encode."""

    identity: ClassVar[dict[str, object]] = {"name": "counting-test", "kind": "test", "dimension": 8}

    def __init__(self) -> None:
        self.asked: list[str] = []

    def encode(self, texts):
        self.asked.extend(texts)
        rows = np.array([[(sum(map(ord, t)) * (k + 1)) % 97 + 1 for k in range(8)] for t in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_cached_encoder_reads_what_an_earlier_run_embedded_and_encodes_only_new_texts(tmp_path):
    from analysis.encoders import CachedEncoder

    first_inner = CountingEncoder()
    first = CachedEncoder(first_inner, tmp_path)
    texts = ["infrastructure numérique", "البنية التحتية", "data centres", "data centres"]
    vectors = first.encode(texts)
    assert first_inner.asked == texts[:3]  # the repeated text once
    np.testing.assert_array_equal(vectors, first_inner.encode(texts))

    later_inner = CountingEncoder()  # the next run: a new process, a new encoder, the same cache
    later = CachedEncoder(later_inner, tmp_path)
    np.testing.assert_array_equal(later.encode(texts[::-1]), vectors[::-1])
    assert later_inner.asked == []  # every vector came from the cache: the model is never loaded
    mixed = later.encode(["data centres", "souveraineté"])
    assert later_inner.asked == ["souveraineté"]
    np.testing.assert_array_equal(mixed[0], vectors[2])
    assert later.encode([]).shape == (0, 8) and later.identity == CountingEncoder.identity
