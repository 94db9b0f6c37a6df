"""Measuring what a technique buys: time, memory, size on disk and accuracy.

Notebook 13 compares every way of making BERT cheaper with the same four rulers, and
`benchmarks/bench_efficiency.py` prints them as one table:

- `time_call`: warm-up calls first (caches, lazy initialisation, a compiler's first
  run), then the median of several timed calls; the quartiles say how noisy the
  machine was. A single timing on a shared machine says little. `interleaved_medians`
  times two or more ways of doing the same thing in turns, for a fair ratio.
- `fit_power_law`: the slope of log(time) against log(size): 1 for linear growth, 2 for
  quadratic (attention over the sequence length).
- `PeakMemory`: the most bytes the tensors created during a call held at once. It
  watches every PyTorch operator (a `TorchDispatchMode`), so the numbers are the same
  on every run; scratch memory a single kernel allocates inside itself is not seen.
- `weight_bytes`, `folder_bytes`: the model in memory and on disk.
- `multiply_adds_per_token`: the work a token costs, the count pruning and distillation cut.
- `batches_of`, `predict_labels`: the batches `bertlab evaluate` would make, and the
  predicted labels over them.
"""

from __future__ import annotations

import math
import statistics
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from bertlab.batching import sorted_batches

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")


# ----------------------------------------------------------------------------- time


@dataclass
class Timing:
    """Seconds of each timed call; `median` is the number to report, the quartiles its spread."""

    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.seconds) < 2:
            return self.seconds[0], self.seconds[0]
        q1, _, q3 = statistics.quantiles(self.seconds, n=4, method="inclusive")
        return q1, q3

    def __str__(self) -> str:
        q1, q3 = self.quartiles
        return f"{self.median * 1e3:.2f} ms (quartiles {q1 * 1e3:.2f}-{q3 * 1e3:.2f})"


def time_call(fn: Callable[[], object], *, warmup: int = 2, repeats: int = 7) -> Timing:
    """Call `fn` `warmup` times untimed, then `repeats` times timed (under `torch.no_grad`)."""
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1, got {warmup} and {repeats}")
    seconds = []
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - start)
    return Timing(seconds)


def interleaved_medians(
    calls: dict[str, Callable[[], object]], *, warmup: int = 2, repeats: int = 7
) -> dict[str, float]:
    """Median seconds of each call, timed in turns (a, b, a, b, ...) so that a burst of load on
    the machine hits all of them alike: the way to compare two ways of doing the same thing."""
    seconds: dict[str, list[float]] = {name: [] for name in calls}
    with torch.no_grad():
        for round_index in range(warmup + repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                if round_index >= warmup:
                    seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def fit_power_law(sizes: Sequence[float], values: Sequence[float]) -> tuple[float, float]:
    """(slope, factor) of the least-squares line log(value) = slope * log(size) + log(factor)."""
    if len(sizes) != len(values) or len(sizes) < 2:
        raise ValueError("fit_power_law needs at least two (size, value) pairs of equal count")
    if min(sizes) <= 0 or min(values) <= 0:
        raise ValueError("fit_power_law needs positive sizes and values (it works on logarithms)")
    xs, ys = [math.log(s) for s in sizes], [math.log(v) for v in values]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum(
        (x - mean_x) ** 2 for x in xs
    )
    return slope, math.exp(mean_y - slope * mean_x)


# ----------------------------------------------------------------------------- memory


class PeakMemory(TorchDispatchMode):
    """Bytes of tensor storage created inside the `with` block: `peak` (at once) and `total`.

        with PeakMemory() as memory:
            model(**batch)
        memory.peak  # e.g. the n x n attention weights of the explicit path

    Each operator's outputs are counted when they are created and released when their
    storage is freed. Tensors that existed before the block (the weights) are not counted;
    views share their base's storage and are counted once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.live = self.peak = self.total = 0
        self._watched: dict[int, weakref.ref] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        for value in tree_flatten(output)[0]:
            if isinstance(value, torch.Tensor) and value.device.type != "meta":
                self._watch(value)
        return output

    def _watch(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key, size = storage.data_ptr(), storage.nbytes()
        if size == 0 or key in self._watched:
            return
        self.live += size
        self.total += size
        self.peak = max(self.peak, self.live)

        def freed(_, key=key, size=size) -> None:
            self.live -= size
            self._watched.pop(key, None)

        self._watched[key] = weakref.ref(storage, freed)


def peak_bytes(fn: Callable[[], object]) -> int:
    """The peak of `PeakMemory` over one call of `fn` (under `torch.no_grad`)."""
    with torch.no_grad(), PeakMemory() as memory:
        fn()
    return memory.peak


def weight_bytes(model: nn.Module) -> int:
    """Bytes the model's weights take in memory (int8 weights of a quantized model count 1 each)."""
    total = 0
    for value in model.state_dict().values():
        for tensor in tree_flatten(value)[0]:
            if isinstance(tensor, torch.Tensor):
                total += tensor.numel() * tensor.element_size()
            elif hasattr(tensor, "unpack"):  # the packed weights of a dynamic int8 Linear
                weight, bias = tensor.unpack()
                total += weight.numel() * weight.element_size()
                total += bias.numel() * bias.element_size() if bias is not None else 0
    return total


def folder_bytes(folder: str | Path, pattern: str = "*.safetensors") -> int:
    """Bytes of the weight files in a saved model folder (or of one file, e.g. an ONNX export)."""
    if Path(folder).is_file():
        return Path(folder).stat().st_size
    files = list(Path(folder).glob(pattern))
    if not files:
        raise FileNotFoundError(f"{folder}: no file matches {pattern}")
    return sum(path.stat().st_size for path in files)


def multiply_adds_per_token(model: nn.Module, length: int) -> int:
    """Multiply-adds one token costs in the encoder at sequence length `length`.

    Every Linear layer of the encoder (its weight's size), plus attention's two products
    with the other tokens (scores Q·Kᵀ and the weighted sum of V: 2 x length x the
    width of the heads left). Embedding lookups cost none; the pooler and the head run
    once per text, not per token. The count that pruning and distillation shrink.
    """
    base = getattr(model, "bert", model)
    total = 0
    for layer in base.encoder.layer:
        attention = layer.attention.self
        total += sum(
            m.in_features * m.out_features for m in layer.modules() if isinstance(m, nn.Linear)
        )
        total += 2 * length * attention.num_heads * attention.head_dim
    return total


# ----------------------------------------------------------------------------- speed, accuracy


def length_order(features: Sequence[dict]) -> list[int]:
    """The order `batches_of` (like `bertlab.batching.sorted_batches`) puts the features in."""
    return sorted(range(len(features)), key=lambda i: len(features[i]["input_ids"]))


def batches_of(features: Sequence[dict], batch_size: int, pad_token_id: int = 0) -> list[dict]:
    """Padded batches in order of length (the way `evaluate` runs), made once so that timing
    measures the model, not the padding."""
    return [
        {key: batch[key] for key in MODEL_INPUTS if key in batch}
        for _, batch in sorted_batches(features, batch_size, pad_token_id)
    ]


@torch.no_grad()
def predict_labels(model: nn.Module | Callable, batches: Sequence[dict]) -> list[int]:
    """The argmax label of every example, in the batches' order."""
    labels: list[int] = []
    for batch in batches:
        labels += model(**batch).logits.float().argmax(-1).tolist()
    return labels
