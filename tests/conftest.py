"""Session fixtures shared by the test modules."""

from __future__ import annotations

from pathlib import Path

import pytest
from tiny_models import build_tiny_model


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight sentence-transformers model saved to a folder (built once per session)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def use_encoder():
    """The default encoder (multilingual USE v3 from its wheel), loaded once per session."""
    from analysis.encoders import MultilingualUSE

    return MultilingualUSE().load()
