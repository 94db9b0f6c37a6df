"""How bertlab compares floating-point results: tolerances from the dtype and the scale.

Two correct float32 computations of the same quantity rarely agree to the last bit:
a matrix product or a softmax that adds its terms in another order (another kernel,
another CPU, another thread count) rounds differently. The difference is a few
*units in the last place* (ulps) of the numbers being added, so a fair tolerance is

    atol = ulps x eps(dtype) x (largest magnitude in the reference)

never a fixed 1e-5 tuned on one machine: BERT's hidden states reach about 10, where
one float32 ulp is about 1e-6, so 1e-5 is only ten ulps there. Bit-equality is asserted
only where the operations are the same (`ulps=0`). Notebook 06 meets this first,
when the fused attention kernel agrees with the written-out one "within rounding".

Measured through the six MiniLM layers on real sentences, fused vs explicit attention
differed by at most 33 ulps of the largest hidden value, and the task heads' logits
and losses vs `transformers` by at most 13 (oneDNN capped at AVX2 and uncapped with
AMX, ATen's generic, AVX2 and AVX-512 kernels, 1 and 2 threads, on one Xeon). `DEEP`
leaves a factor of eight for CPUs we have not tried; a real bug (a wrong mask, a
missing residual, heads in the wrong order) moves values by 0.1 or more, thousands of
times further.
"""

from __future__ import annotations

import torch

__all__ = ["DEEP", "SHALLOW", "assert_close", "float_tolerance"]

SHALLOW = 16
"""ulps for one layer or one reduction computed in another order."""
DEEP = 256
"""ulps for a stack of layers (a whole encoder, a training step) computed in another order."""


def float_tolerance(
    expected: torch.Tensor,
    ulps: float = DEEP,
    dtype: torch.dtype | None = None,
    scale: float | None = None,
) -> float:
    """`ulps` units in the last place of `scale` (default: the largest magnitude in `expected`).

    Pass `scale` when the result is much smaller than the numbers that were summed to make
    it (a gradient that is a difference of large terms): the rounding comes from those.
    """
    expected = torch.as_tensor(expected)
    dtype = dtype or (expected.dtype if expected.is_floating_point() else torch.float32)
    if scale is None:
        scale = float(expected.detach().abs().max()) if expected.numel() else 0.0
    return ulps * torch.finfo(dtype).eps * scale


def assert_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    ulps: float = DEEP,
    msg: str | None = None,
    dtype: torch.dtype | None = None,
    scale: float | None = None,
) -> None:
    """Assert `actual` equals `expected` within `ulps` ulps of its scale (`ulps=0`: bit-equal)."""
    actual, expected = torch.as_tensor(actual), torch.as_tensor(expected)
    atol = float_tolerance(expected, ulps, dtype, scale) if ulps else 0.0
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0, msg=msg)
