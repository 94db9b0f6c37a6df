"""Checkers of notebook 06 (attention).

References are built from `bertlab.attention` (tested against PyTorch in tests/test_attention.py);
the texts are in texts/nb06.toml, the solutions in solutions/06_attention_solutions.ipynb.
"""

from __future__ import annotations

import math

import torch

from bertlab.exercises.kinds import Case

# --- 06.1: attention with a padding mask ------------------------------------------------------


def attention(q, k, v, mask=None):
    from bertlab.attention import padding_mask_to_additive, scaled_dot_product_attention

    bias = None if mask is None else padding_mask_to_additive(mask.long(), q.dtype)
    return scaled_dot_product_attention(q, k, v, bias)


def attention_unscaled(q, k, v, mask=None):
    return attention(q * math.sqrt(q.shape[-1]), k, v, mask)


def attention_softmax_over_queries(q, k, v, mask=None):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask.bool()[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-2)
    return weights @ v, weights


def attention_inputs():
    generator = torch.Generator().manual_seed(6)
    cases = []
    for batch, heads, n, d, padded in [
        (1, 1, 4, 8, False),
        (2, 3, 6, 16, True),
        (3, 2, 5, 4, True),
    ]:
        q, k, v = (torch.randn(batch, heads, n, d, generator=generator) for _ in range(3))
        if padded:
            lengths = torch.randint(1, n + 1, (batch,), generator=generator)
            mask = torch.arange(n)[None, :] < lengths[:, None]
            cases.append(Case(args=(q, k, v, mask), label=f"[{batch}, {heads}, {n}, {d}], padded"))
        else:
            cases.append(Case(args=(q, k, v), label=f"[{batch}, {heads}, {n}, {d}], no mask"))
    return cases


# --- 06.2: a sliding-window mask ---------------------------------------------------------------


def _distances(n: int) -> torch.Tensor:
    """i - j for every query i (row) and key j (column)."""
    positions = torch.arange(n)
    return positions[:, None] - positions[None, :]


def window_mask(n: int, w: int) -> torch.Tensor:
    return _distances(n).abs() <= w


def window_mask_strict(n: int, w: int) -> torch.Tensor:
    return _distances(n).abs() < w


def window_mask_causal(n: int, w: int) -> torch.Tensor:
    distance = _distances(n)
    return (distance >= 0) & (distance <= w)


WINDOWS = [(1, 0), (5, 0), (6, 1), (8, 2), (4, 10)]  # (n, w)


# --- 06.3: heads as a reshape ------------------------------------------------------------------


def split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    batch, n, hidden = x.shape
    return x.view(batch, n, num_heads, hidden // num_heads).transpose(1, 2)


def split_heads_without_transpose(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    batch, n, hidden = x.shape
    return x.reshape(batch, num_heads, n, hidden // num_heads)


def split_inputs():
    generator = torch.Generator().manual_seed(3)
    return [
        (torch.randn(1, 5, 12, generator=generator), 3),
        (torch.randn(2, 7, 384, generator=generator), 12),
        (torch.randn(3, 4, 64, generator=generator), 1),
    ]
