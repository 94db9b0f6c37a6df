"""Shared fixtures: the real MiniLM checkpoint and the real datasets."""

from __future__ import annotations

from pathlib import Path

import pytest

from bertlab.hub import data_root, minilm_dir


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The offline MiniLM-L6-H384 checkpoint (bert-base-uncased vocabulary)."""
    return minilm_dir()


@pytest.fixture(scope="session")
def real_data() -> Path:
    """BERTLAB_DATA (CI sets it to ../shared/data); tests that need it skip without it."""
    root = data_root()
    if root is None:
        pytest.skip("BERTLAB_DATA is not set: real-data tests need the shared datasets")
    return root
