"""Attention written out vs PyTorch's fused kernel and nn.MultiheadAttention (notebook 06)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from bertlab.attention import (
    BertSelfAttention,
    causal_mask_to_additive,
    fused_attention,
    padding_mask_to_additive,
    scaled_dot_product_attention,
)


def random_qkv(batch: int, heads: int, seq: int, head_dim: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, seq, head_dim, generator=generator) for _ in range(3)]


def random_padding_mask(batch: int, seq: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, seq + 1, (batch,), generator=generator)
    return (torch.arange(seq)[None, :] < lengths[:, None]).long()


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),
    heads=st.integers(1, 4),
    seq=st.integers(1, 12),
    head_dim=st.sampled_from([1, 4, 8, 16]),
    seed=st.integers(0, 10_000),
    masked=st.booleans(),
)
def test_explicit_and_fused_equal_torch_sdpa(batch, heads, seq, head_dim, seed, masked):
    q, k, v = random_qkv(batch, heads, seq, head_dim, seed)
    bias = (
        padding_mask_to_additive(random_padding_mask(batch, seq, seed), q.dtype) if masked else None
    )
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    explicit, weights = scaled_dot_product_attention(q, k, v, bias)
    torch.testing.assert_close(explicit, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(fused_attention(q, k, v, bias), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(batch, heads, seq), atol=1e-6, rtol=0)


def test_padded_keys_get_zero_weight():
    q, k, v = random_qkv(2, 3, 6, 8)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]])
    _, weights = scaled_dot_product_attention(q, k, v, padding_mask_to_additive(mask, q.dtype))
    assert (weights[1, :, :, 3:] == 0).all()
    assert (weights[1, :, :, :3] > 0).all()
    bias = padding_mask_to_additive(mask, torch.float32)
    assert bias.shape == (2, 1, 1, 6)
    assert bias[1, 0, 0, 5] == torch.finfo(torch.float32).min and bias[1, 0, 0, 0] == 0
    assert not torch.signbit(bias[1, 0, 0, 0])  # +0, not -0 (it printed as "-0" in notebook 06)
    assert padding_mask_to_additive(mask.bool(), torch.bfloat16).dtype == torch.bfloat16


@pytest.mark.parametrize("seq", [1, 2, 7, 33])
def test_causal_mask_equals_torch_is_causal(seq):
    q, k, v = random_qkv(2, 3, seq, 8, seed=seq)
    bias = causal_mask_to_additive(seq, q.dtype)
    assert bias.shape == (1, 1, seq, seq)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    explicit, weights = scaled_dot_product_attention(q, k, v, bias)
    torch.testing.assert_close(explicit, expected, atol=1e-6, rtol=0)
    assert (weights.triu(diagonal=1) == 0).all()  # no query sees a later key
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, seq), atol=1e-6, rtol=0)


def test_causal_mask_bad_length():
    with pytest.raises(ValueError, match="seq_len must be at least 1"):
        causal_mask_to_additive(0, torch.float32)


@pytest.mark.parametrize("implementation", ["explicit", "fused"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_self_attention_equals_nn_multihead_attention(implementation, seed):
    torch.manual_seed(seed)
    hidden, heads, batch, seq = 32, 4, 3, 7
    ours = BertSelfAttention(hidden, heads, implementation=implementation).eval()
    reference = nn.MultiheadAttention(hidden, heads, batch_first=True).eval()
    output_projection = nn.Linear(hidden, hidden)
    with torch.no_grad():
        reference.in_proj_weight.copy_(
            torch.cat([ours.query.weight, ours.key.weight, ours.value.weight])
        )
        reference.in_proj_bias.copy_(torch.cat([ours.query.bias, ours.key.bias, ours.value.bias]))
        output_projection.load_state_dict(reference.out_proj.state_dict())
    x = torch.randn(batch, seq, hidden)
    mask = random_padding_mask(batch, seq, seed)
    with torch.no_grad():
        expected, expected_weights = reference(
            x, x, x, key_padding_mask=mask == 0, need_weights=True, average_attn_weights=False
        )
        context, weights = ours(x, padding_mask_to_additive(mask, x.dtype), output_attentions=True)
        context_only, no_weights = ours(x, padding_mask_to_additive(mask, x.dtype))
    torch.testing.assert_close(output_projection(context), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=0)
    torch.testing.assert_close(output_projection(context_only), expected, atol=1e-6, rtol=0)
    assert no_weights is None if implementation == "fused" else no_weights is not None


def test_heads_are_reshapes():
    attention = BertSelfAttention(12, 3)
    x = torch.arange(2 * 5 * 12, dtype=torch.float32).view(2, 5, 12)
    split = attention.split_heads(x)
    assert split.shape == (2, 3, 5, 4)
    torch.testing.assert_close(split[1, 2, 4], x[1, 4, 8:12])
    torch.testing.assert_close(attention.merge_heads(split), x)


def test_dropout_only_in_training():
    torch.manual_seed(0)
    attention = BertSelfAttention(16, 2, dropout=0.5, implementation="explicit")
    x = torch.randn(1, 6, 16)
    attention.eval()
    a, _ = attention(x)
    b, _ = attention(x)
    torch.testing.assert_close(a, b)
    attention.train()
    c, _ = attention(x)
    assert not torch.allclose(a, c)


def test_low_precision_mask_stays_finite():
    attention = BertSelfAttention(16, 2).to(torch.bfloat16)
    x = torch.randn(2, 5, 16, dtype=torch.bfloat16)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    out, _ = attention(x, padding_mask_to_additive(mask, torch.float32))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"hidden_size \(30\).*num_attention_heads \(4\)"):
        BertSelfAttention(30, 4)
    with pytest.raises(ValueError, match="attn_implementation"):
        BertSelfAttention(32, 4, implementation="flash")
    with pytest.raises(ValueError, match=r"attention_mask must have shape \[batch, seq\]"):
        padding_mask_to_additive(torch.ones(2, 1, 5), torch.float32)
