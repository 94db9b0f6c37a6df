"""Shared fixtures: the real MiniLM checkpoint and tokenizer, a tiny BERT, the real datasets."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from bertlab.hub import data_root, minilm_dir
from bertlab.model import BertConfig

# Property tests draw the same examples on every run and every machine (CI must not pass or
# fail by luck), and a slow CPU never turns into a failure (no per-example deadline).
settings.register_profile("bertlab", derandomize=True, deadline=None)
settings.load_profile("bertlab")


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    """The offline MiniLM-L6-H384 checkpoint (bert-base-uncased vocabulary)."""
    return minilm_dir()


@pytest.fixture(scope="session")
def tokenizer(minilm_path):
    """MiniLM's WordPiece tokenizer (the bert-base-uncased vocabulary), loaded once."""
    from bertlab.tokenization import BertTokenizer

    return BertTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="session")
def minilm(minilm_path):
    """The real MiniLM encoder (fused attention), loaded once; do not train it in a test."""
    from bertlab.model import BertModel

    return BertModel.from_pretrained(minilm_path)


def make_tiny_config(**overrides) -> BertConfig:
    """A BERT small enough to train in milliseconds (vocabulary 60 unless overridden)."""
    values = dict(
        vocab_size=60,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    return BertConfig(**{**values, **overrides})


@pytest.fixture(scope="session")
def tiny_config():
    """`tiny_config(**overrides)` builds a tiny BertConfig."""
    return make_tiny_config


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, tokenizer) -> Path:
    """A folder holding a tiny random BERT encoder with MiniLM's vocabulary: every command
    runs on it in a second, and two runs can be compared weight for weight."""
    import torch

    from bertlab.checkpoints import save_folder
    from bertlab.model import BertModel

    torch.manual_seed(0)
    config = make_tiny_config(vocab_size=tokenizer.vocab_size, max_position_embeddings=512)
    folder = tmp_path_factory.mktemp("tiny") / "tiny-bert"
    return save_folder(folder, BertModel(config), tokenizer)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """BERTLAB_DATA (CI sets it to ../shared/data); tests that need it skip without it."""
    root = data_root()
    if root is None:
        pytest.skip("BERTLAB_DATA is not set: real-data tests need the shared datasets")
    return root
