"""Checkers of notebook 07b (LayerNorm, dropout, residual connections).

References are written here in a few lines (or are torch's: F.layer_norm); the wrong answers
are checked to be those references with one thing changed. The texts are in texts/nb07b.toml,
the solutions in solutions/07b_building_blocks_solutions.ipynb.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.exercises.helpers import without_gradients  # noqa: F401 - the call of 07b.3
from bertlab.exercises.kinds import Case

# --- 07b.1: LayerNorm ---------------------------------------------------------------------------


def layer_norm(x, gamma, beta, eps):
    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def layer_norm_by_hand(x, gamma, beta, eps, *, correction: int = 0, eps_in_root: bool = True):
    """F.layer_norm written out; the keywords make the slips of torch.var's default correction
    (dividing by H - 1) and of ε added outside the square root."""
    mean = x.mean(-1, keepdim=True)
    variance = x.var(-1, keepdim=True, correction=correction)
    std = torch.sqrt(variance + eps) if eps_in_root else variance.sqrt() + eps
    return gamma * (x - mean) / std + beta


layer_norm_unbiased = partial(layer_norm_by_hand, correction=1)
layer_norm_eps_outside = partial(layer_norm_by_hand, eps_in_root=False)


def layer_norm_no_affine(x, gamma, beta, eps):
    return F.layer_norm(x, x.shape[-1:], None, None, eps)


def norm_inputs():
    generator = torch.Generator().manual_seed(71)
    cases = []
    for shape, eps in [((4, 8), 1e-12), ((2, 5, 16), 1e-5), ((3, 6), 0.5)]:
        x = torch.randn(*shape, generator=generator) * 3 + 1
        gamma = torch.rand(shape[-1], generator=generator) + 0.5
        beta = torch.randn(shape[-1], generator=generator) * 0.1
        cases.append(Case(args=(x, gamma, beta, eps), label=f"x {list(shape)}, eps {eps:g}"))
    return cases


# --- 07b.2: dropout -----------------------------------------------------------------------------


def dropout(x, p):
    keep = torch.empty_like(x).bernoulli_(1 - p)
    return x * (keep / (1 - p))


def dropout_unscaled(x, p):
    return x * torch.empty_like(x).bernoulli_(1 - p)


def dropout_keeps_p(x, p):
    keep = torch.empty_like(x).bernoulli_(p)
    return x * keep / p if p > 0 else x


def dropout_scaled_down(x, p):
    return x * torch.empty_like(x).bernoulli_(1 - p) * (1 - p)


def run_dropout(answer, x, p):
    return x, p, answer(x.clone(), p)


def compare_dropout(actual, expected) -> str | None:
    """Each output is 0 or x / (1 - p), and about a fraction p are 0 (the draws are random)."""
    x, p, output = actual
    if not isinstance(output, torch.Tensor):
        return f"return a tensor shaped like x, not {type(output).__name__}"
    if output.shape != x.shape:
        return f"the output has shape {tuple(output.shape)}, the input {tuple(x.shape)}"
    zero = output == 0
    scaled = x / (1 - p)
    if not torch.allclose(output[~zero], scaled[~zero], rtol=1e-5, atol=1e-6):
        return "the entries you keep must be x / (1 - p)"
    spread = 6 * math.sqrt(p * (1 - p) / x.numel()) + 1e-9
    dropped = zero.float().mean().item()
    if abs(dropped - p) > spread:
        return f"you dropped {dropped:.1%} of the entries with p = {p}"
    return None


def dropout_inputs():
    generator = torch.Generator().manual_seed(72)
    return [
        Case(args=(torch.randn(200, 200, generator=generator), 0.1), label="p = 0.1"),
        Case(args=(torch.randn(100, 300, generator=generator), 0.5), label="p = 0.5"),
        Case(args=(torch.randn(50, 50, generator=generator), 0.0), label="p = 0"),
    ]


# --- 07b.3: the post-LN residual block ----------------------------------------------------------


def post_ln(x, sublayer, norm):
    return norm(x + sublayer(x))


def pre_ln(x, sublayer, norm):
    return x + sublayer(norm(x))


def no_residual(x, sublayer, norm):
    return norm(sublayer(x))


def block_inputs():
    cases = []
    for seed, (batch, n, hidden) in enumerate([(1, 4, 8), (2, 3, 16)]):
        torch.manual_seed(seed)
        sublayer = nn.Sequential(
            nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden)
        )
        norm = nn.LayerNorm(hidden)
        with torch.no_grad():
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_(0, 0.1)
        x = torch.randn(batch, n, hidden)
        cases.append(Case(args=(x, sublayer, norm), label=f"[{batch}, {n}, {hidden}]"))
    return cases


# --- 07b.4: RMSNorm -----------------------------------------------------------------------------


def rms_norm(x, gamma, eps, *, dim: int = -1):
    return gamma * x / torch.sqrt(x.pow(2).mean(dim, keepdim=True) + eps)


def rms_norm_centred(x, gamma, eps):
    return layer_norm(x, gamma, torch.zeros_like(gamma), eps)


rms_norm_wrong_axis = partial(rms_norm, dim=0)


def rms_inputs():
    return [(x, gamma, eps) for x, gamma, _, eps in (case.args for case in norm_inputs())]
