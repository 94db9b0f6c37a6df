"""Mixed precision: what fp16 and bf16 are, and why training keeps fp32 master weights.

Notebook 13 teaches it in this order:

- `FORMATS`, `format_table`, `bit_fields`: a float is a sign, an exponent (the range) and
  a mantissa (the precision). fp16 keeps 5 exponent bits and 10 mantissa bits; bf16 keeps
  fp32's 8 exponent bits (the same range) and only 7 mantissa bits.
- `stale_updates`: why the weights stay in fp32 ("master weights"): a small update
  added to a bf16 weight of 1.0 rounds back to 1.0 and is lost; in fp32 it adds up.
- `gradient_underflow`: why fp16 needs loss scaling: gradients below 2^-24 become 0 in
  fp16; multiplying the loss by S (and the gradients back by 1/S in fp32) keeps them,
  unless S is so large that some overflow to infinity, which is what a dynamic scaler
  (`torch.amp.GradScaler`) watches for.
- `operator_dtypes`: myth 11 of the series ("mixed precision mixes float and integer
  arithmetic"): every operator of a bf16 autocast forward pass, with the dtypes it
  computes in; the only integers are the token ids that index the embedding tables.
- `cpu_bf16_support`: whether this CPU has bf16 units (AMX, AVX-512 BF16), which decides
  whether bf16 autocast is faster than fp32 on it at all.
"""

from __future__ import annotations

import copy
import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from bertlab.training import autocast

FORMATS = {torch.float32: (8, 23), torch.float16: (5, 10), torch.bfloat16: (8, 7)}
"""(exponent bits, mantissa bits) of each float format; one more bit holds the sign."""


def format_table() -> list[dict[str, float | int | str]]:
    """One row a format: its bits, largest value, smallest normal and subnormal, precision."""
    rows = []
    for dtype, (exponent, mantissa) in FORMATS.items():
        info = torch.finfo(dtype)
        rows.append(
            {
                "format": str(dtype).removeprefix("torch."),
                "bits": 1 + exponent + mantissa,
                "exponent bits": exponent,
                "mantissa bits": mantissa,
                "largest": info.max,
                "smallest normal": info.smallest_normal,
                "smallest subnormal": info.smallest_normal * info.eps,
                "eps (gap after 1.0)": info.eps,
            }
        )
    return rows


def bit_fields(value: float, dtype: torch.dtype) -> tuple[str, str, str]:
    """(sign, exponent, mantissa) bits of `value` rounded to `dtype`, as strings of 0 and 1."""
    if dtype not in FORMATS:
        raise ValueError(f"dtype must be one of {[str(d) for d in FORMATS]}, got {dtype}")
    exponent, mantissa = FORMATS[dtype]
    width = 1 + exponent + mantissa
    as_int = torch.int32 if width == 32 else torch.int16
    pattern = int(torch.tensor([value], dtype=torch.float32).to(dtype).view(as_int)[0])
    bits = format(pattern & (2**width - 1), f"0{width}b")
    return bits[0], bits[1 : 1 + exponent], bits[1 + exponent :]


def stale_updates(
    dtype: torch.dtype, start: float = 1.0, update: float = 1e-3, steps: int = 100
) -> tuple[float, float]:
    """Add `update` to a weight `steps` times: (value kept in `dtype`, value kept in fp32 and
    rounded to `dtype` only for use). The second is what fp32 master weights do."""
    weight = torch.tensor(start, dtype=dtype)
    master = torch.tensor(start, dtype=torch.float32)
    for _ in range(steps):
        weight = weight + torch.tensor(update, dtype=dtype)
        master = master + update
    return float(weight), float(master.to(dtype))


def parameter_gradients(
    model: nn.Module, batch: Mapping, scale: float, prefix: str
) -> torch.Tensor:
    """The gradients of every parameter whose name starts with `prefix`, as one fp32 vector,
    after a backward pass of `scale` x loss and a division by `scale` in fp32."""
    model.zero_grad(set_to_none=True)
    (model(**batch).loss * scale).backward()
    grads = [
        p.grad.float().flatten()
        for name, p in model.named_parameters()
        if name.startswith(prefix) and p.grad is not None
    ]
    model.zero_grad(set_to_none=True)
    return torch.cat(grads) / scale


def gradient_underflow(
    model: nn.Module,
    batch: Mapping,
    scales: Sequence[float] = (1.0, 2.0**10, 2.0**16),
    prefix: str = "bert.encoder",
) -> list[dict[str, float]]:
    """What happens to the real gradients of `prefix`'s weights in an fp16 backward pass.

    The reference is the same backward pass in fp32. For each loss scale S: the share of
    gradient entries that are non-zero in fp32 but 0 in fp16 (underflow), and the share
    that became infinite or NaN (overflow: S too large). Dropout is off in both passes.
    """
    reference = copy.deepcopy(model).float().eval()
    half = copy.deepcopy(model).half().eval()
    exact = parameter_gradients(reference, batch, 1.0, prefix)
    nonzero = exact != 0
    rows = []
    for scale in scales:
        grads = parameter_gradients(half, batch, scale, prefix)
        rows.append(
            {
                "loss scale": scale,
                "underflowed to 0": float(((grads == 0) & nonzero).float().mean()),
                "overflowed": float((~torch.isfinite(grads)).float().mean()),
            }
        )
    return rows


# ----------------------------------------------------------------------------- myth 11


class OperatorDtypes(TorchDispatchMode):
    """Counts every operator called inside the block by (name, dtypes of its tensor inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        dtypes = sorted(
            {
                str(value.dtype).removeprefix("torch.")
                for value in tree_flatten((args, kwargs or {}))[0]
                if isinstance(value, torch.Tensor)
            }
        )
        self.calls[(func.overloadpacket.__name__, ", ".join(dtypes))] += 1
        return func(*args, **(kwargs or {}))


@torch.no_grad()
def operator_dtypes(
    model: nn.Module, batch: Mapping, precision: str = "bf16", device: str = "cpu"
) -> Counter:
    """{(operator, input dtypes): calls} of one forward pass under `precision` autocast."""
    model.eval()
    with autocast(precision, torch.device(device)), OperatorDtypes() as census:
        model(**batch)
    return census.calls


# ----------------------------------------------------------------------------- the CPU

CPU_FLAGS = {
    "amx_bf16": "AMX tiles multiply bf16 matrices (Intel Sapphire Rapids and later)",
    "avx512_bf16": "AVX-512 BF16 dot-product instructions (Intel Cooper Lake, AMD Zen 4 and later)",
    "bf16": "ARMv8.6 BF16 instructions",
    "avx512f": "AVX-512, without bf16 arithmetic",
}


def cpu_bf16_support(cpuinfo: str | None = None) -> dict[str, object]:
    """The CPU's bf16-relevant flags (from /proc/cpuinfo on Linux) and what they predict.

    `verdict` is "fast" (AMX: bf16 matrix units), "some" (bf16 dot-product instructions),
    "none" (bf16 is converted to fp32 to compute: expect no gain, maybe a loss) or
    "unknown" (no /proc/cpuinfo: not Linux).
    """
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else ""
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    found = {flag: meaning for flag, meaning in CPU_FLAGS.items() if flag in flags}
    if not cpuinfo:
        verdict = "unknown"
    elif "amx_bf16" in found:
        verdict = "fast"
    elif "avx512_bf16" in found or "bf16" in found:
        verdict = "some"
    else:
        verdict = "none"
    return {
        "machine": platform.machine(),
        "flags": found,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "verdict": verdict,
    }
