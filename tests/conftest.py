"""Session fixtures shared by the test modules: a tiny corpus, a tiny encoder and its embeddings.

Built once per session and shared read-only (a test that changes one works on a copy), so that test
files stop building their own and a test's result never depends on which ran before it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tiny_models import TinyEncoder, build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight sentence-transformers model saved to a folder (built once per session)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def use_encoder():
    """The default encoder (multilingual USE v3 from its wheel), loaded once per session."""
    from analysis.encoders import MultilingualUSE

    return MultilingualUSE().load()


@pytest.fixture(scope="session")
def codebook():
    """The packaged codebook."""
    from analysis.themes import load_codebook

    return load_codebook()


@pytest.fixture(scope="session")
def sample_corpus():
    """The packaged sample corpus (68 articles in Arabic, French and English) built with the defaults."""
    from analysis.corpus import build_corpus
    from analysis.pipeline import SAMPLE_CORPUS

    return build_corpus(SAMPLE_CORPUS, progress=False)


@pytest.fixture(scope="session")
def tiny_encoder(codebook) -> TinyEncoder:
    """A deterministic encoder with no model: codebook concepts plus character trigrams."""
    return TinyEncoder(codebook)


@pytest.fixture(scope="session")
def sample_embeddings(sample_corpus, tiny_encoder) -> np.ndarray:
    """`tiny_encoder`'s embeddings of the sample corpus's segments, row i for segment i (read-only)."""
    embeddings = tiny_encoder.encode(sample_corpus.segments["text"].tolist())
    embeddings.flags.writeable = False
    return embeddings
