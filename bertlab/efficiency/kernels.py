"""Faster kernels for the same arithmetic: fused attention and `torch.compile`.

Notebook 13 measures both:

- `attention_cost`: explicit attention (notebook 06 writes it out: scores, softmax,
  weighted sum) materialises the n x n scores and weights of every head; the fused
  kernel (`F.scaled_dot_product_attention`) computes the same output block by block
  and never holds them all. Time and peak memory are measured as n grows, each time
  the median of several calls after warm-up calls.
- `compile_encoder`: `torch.compile` traces each encoder layer into a graph and
  generates fused code for it (Inductor: C++ with OpenMP on a CPU, Triton on a GPU). The
  first call pays the compilation; the six layers share one compiled graph. Where it
  cannot run (no C++ compiler, an unsupported Python or platform), the eager model is
  returned with the reason.
"""

from __future__ import annotations

import copy
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from bertlab.attention import fused_attention, scaled_dot_product_attention
from bertlab.efficiency.measure import peak_bytes, time_call
from bertlab.efficiency.pruning import encoder_of


def attention_cost(
    lengths: Sequence[int],
    *,
    heads: int = 12,
    head_dim: int = 32,
    batch: int = 1,
    repeats: int = 5,
    seed: int = 0,
) -> list[dict[str, float]]:
    """Median time (ms) and peak memory (bytes) of explicit vs fused attention at each length.

    MiniLM's shape by default: 12 heads of 32 dimensions. Random queries, keys and values
    (the cost does not depend on the values).
    """
    generator = torch.Generator().manual_seed(seed)
    rows = []
    for n in lengths:
        q, k, v = (torch.randn(batch, heads, n, head_dim, generator=generator) for _ in range(3))
        rows.append({"length": n, **_explicit_and_fused(q, k, v, repeats)})
    return rows


def _explicit_and_fused(q, k, v, repeats: int) -> dict[str, float]:
    explicit = lambda: scaled_dot_product_attention(q, k, v)  # noqa: E731
    fused = lambda: fused_attention(q, k, v)  # noqa: E731
    return {
        "explicit ms": time_call(explicit, repeats=repeats).median * 1e3,
        "fused ms": time_call(fused, repeats=repeats).median * 1e3,
        "explicit bytes": peak_bytes(explicit),
        "fused bytes": peak_bytes(fused),
    }


# ----------------------------------------------------------------------------- torch.compile


@dataclass
class Compiled:
    """What `compile_encoder` did: the model to call, whether it is compiled, and why not."""

    model: nn.Module
    compiled: bool
    seconds: float  # the first call, which compiles (0 when not compiled)
    reason: str = ""


def compile_unavailable_reason() -> str:
    """Why `torch.compile` cannot work here ("" when it should)."""
    if not torch._dynamo.is_dynamo_supported():
        return f"TorchDynamo does not support Python {sys.version.split()[0]} on this platform"
    if not torch.cuda.is_available() and not any(
        shutil.which(cc) for cc in ("cc", "gcc", "clang", "cl")
    ):
        return "no C++ compiler found: Inductor compiles CPU kernels with one"
    return ""


def compile_encoder(
    model: nn.Module, example: Callable[[nn.Module], object], *, dynamic: bool | None = False
) -> Compiled:
    """A copy of `model` whose encoder layers are compiled, and the time its first call took.

    `example(model)` is that first call (e.g. a forward pass on one batch): it triggers the
    compilation. `dynamic=False` compiles for the shapes seen (a new sequence length
    compiles again); `dynamic=None` lets PyTorch switch to shape-generic code after the
    second shape. Any failure leaves the eager model, with the reason.
    """
    reason = compile_unavailable_reason()
    if reason:
        return Compiled(model, False, 0.0, reason)
    compiled = copy.deepcopy(model)
    encoder = encoder_of(compiled)
    encoder.layer = nn.ModuleList(torch.compile(layer, dynamic=dynamic) for layer in encoder.layer)
    start = time.perf_counter()
    try:
        with torch.no_grad():
            example(compiled)
    except Exception as error:  # compilation failed here: say why, keep going eagerly
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return Compiled(model, False, 0.0, f"{type(error).__name__}: {first_line}")
    return Compiled(compiled, True, time.perf_counter() - start)
