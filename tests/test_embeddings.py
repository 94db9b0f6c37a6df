"""Sinusoidal encodings, and BertEmbeddings vs transformers' (notebook 07)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.embeddings import BertEmbeddings, sinusoidal_encoding

transformers = pytest.importorskip("transformers")


def test_sinusoidal_matches_the_paper_formula():
    table = sinusoidal_encoding(50, 16)
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_sinusoidal_offsets_are_rotations():
    """PE[p + k] is a fixed linear map (rotation per frequency) of PE[p], for every p."""
    table = sinusoidal_encoding(40, 8).double()
    k = 3
    solution = torch.linalg.lstsq(table[:30], table[k : 30 + k]).solution
    torch.testing.assert_close(table[10:30] @ solution, table[10 + k : 30 + k], atol=1e-5, rtol=0)


def test_sinusoidal_needs_even_dim():
    with pytest.raises(ValueError, match="dim must be even"):
        sinusoidal_encoding(10, 7)


@pytest.fixture(scope="module")
def pair():
    config = transformers.BertConfig(
        vocab_size=100, hidden_size=24, max_position_embeddings=32, type_vocab_size=2
    )
    theirs = transformers.models.bert.modeling_bert.BertEmbeddings(config).eval()
    ours = BertEmbeddings(100, 24, 32, 2, config.layer_norm_eps).eval()
    with torch.no_grad():
        for parameter in theirs.parameters():
            parameter.normal_()
    missing, unexpected = ours.load_state_dict(theirs.state_dict(), strict=False)
    assert not missing and set(unexpected) <= {"position_ids"}
    return ours, theirs


@settings(max_examples=20, deadline=None)
@given(
    ids=st.lists(st.integers(0, 99), min_size=1, max_size=32),
    types=st.lists(st.integers(0, 1), min_size=32, max_size=32),
)
def test_bert_embeddings_equal_transformers(pair, ids, types):
    ours, theirs = pair
    input_ids = torch.tensor([ids])
    token_type_ids = torch.tensor([types[: len(ids)]])
    with torch.no_grad():
        expected = theirs(input_ids=input_ids, token_type_ids=token_type_ids)
        got = ours(input_ids, token_type_ids)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


def test_real_minilm_embeddings(minilm_path):
    from bertlab.model import BertModel

    model = BertModel.from_pretrained(minilm_path)
    reference = transformers.BertModel.from_pretrained(minilm_path).eval()
    ids = torch.tensor([[101, 7592, 2088, 102, 2129, 2024, 2017, 102]])
    types = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]])
    with torch.no_grad():
        torch.testing.assert_close(
            model.embeddings(ids, types),
            reference.embeddings(input_ids=ids, token_type_ids=types),
            atol=1e-6,
            rtol=0,
        )


def test_bad_ids_name_the_argument(pair):
    ours, _ = pair
    with pytest.raises(IndexError, match=r"input_ids contains id 100, outside \[0, 99\]"):
        ours(torch.tensor([[1, 100]]))
    with pytest.raises(IndexError, match="token_type_ids contains id 2"):
        ours(torch.tensor([[1, 2]]), torch.tensor([[0, 2]]))
    with pytest.raises(ValueError, match="sequence length 33.*max_position_embeddings=32"):
        ours(torch.ones(1, 33, dtype=torch.long))
