"""Checkers of notebook 02 (losses).

Each checker runs the learner's answer next to a reference written here (or PyTorch's) and
compares; the texts are in texts/nb02.toml, the solutions in solutions/02_losses_solutions.ipynb.
"""

from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F

from bertlab import functional as bf
from bertlab.exercises.kinds import Case

# --- 02.1: stable binary cross-entropy --------------------------------------------------------


def bce_with_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))


def bce_naive(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def bce_without_abs(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z))


def bce_inputs():
    generator = torch.Generator().manual_seed(2)
    z = torch.randn(40, generator=generator, dtype=torch.float64) * 5
    y = (torch.rand(40, generator=generator) > 0.5).double()
    extreme = torch.tensor([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
    return [
        Case(args=(z, y), label="40 random logits, labels 0/1"),
        Case(args=(extreme, torch.tensor([1.0, 1, 0, 1, 0, 0, 0])), label="logits of ±1000"),
        Case(args=(extreme, torch.full((7,), 0.3)), label="logits of ±1000, soft label 0.3"),
    ]


# --- 02.2: the gradient of cross-entropy ------------------------------------------------------


def cross_entropy_grad(logits, labels, *, mean_over_batch: bool = True) -> torch.Tensor:
    onehot = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    gradient = bf.softmax(logits) - onehot
    return gradient / len(labels) if mean_over_batch else gradient


cross_entropy_grad_summed = partial(cross_entropy_grad, mean_over_batch=False)


def softmax_over_batch(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return bf.softmax(logits) / len(labels)


def classification_inputs():
    generator = torch.Generator().manual_seed(3)
    cases = []
    for n, c, scale in [(4, 3, 1.0), (8, 5, 10.0), (1, 2, 100.0)]:
        logits = torch.randn(n, c, generator=generator, dtype=torch.float64) * scale
        labels = torch.randint(0, c, (n,), generator=generator)
        cases.append(
            Case(args=(logits, labels), label=f"{n} examples, {c} classes, scale {scale:g}")
        )
    return cases


# --- 02.3: where exp overflows ----------------------------------------------------------------


def first_overflow() -> dict[str, int]:
    found = {}
    for name in ("float32", "float16", "bfloat16"):
        dtype = getattr(torch, name)
        n = 1
        while torch.isfinite(torch.exp(torch.tensor(float(n), dtype=dtype))):
            n += 1
        found[name] = n
    return found


# --- 02.4: label smoothing --------------------------------------------------------------------


def smoothed_cross_entropy(logits, labels, eps, *, over_other_classes: bool = False):
    """F.cross_entropy(label_smoothing=eps) by hand: (1 - eps) x NLL + eps x the mean -log p
    over every class (or, the mistake, over the classes other than the label)."""
    log_p = bf.log_softmax(logits)
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)
    if over_other_classes:
        spread = -(log_p.sum(dim=1) + nll) / (logits.shape[1] - 1)  # mean -log p over k != y
    else:
        spread = -log_p.mean(dim=1)
    return ((1 - eps) * nll + eps * spread).mean()


smoothing_over_other_classes = partial(smoothed_cross_entropy, over_other_classes=True)


def no_smoothing(logits, labels, eps):
    return F.cross_entropy(logits, labels)


def torch_label_smoothing(logits, labels, eps):
    return F.cross_entropy(logits, labels, label_smoothing=eps)


def smoothing_inputs():
    cases = []
    for case, eps in zip(classification_inputs(), (0.1, 0.2, 0.05)):
        cases.append(Case(args=(*case.args, eps), label=f"{case.label}, eps {eps}"))
    return cases


# --- 02.5: the floor of a double softmax ------------------------------------------------------


def double_softmax_floor(classes: int = 3) -> float:
    """-log softmax(p)_y at its best, p one-hot: log(1 + (C - 1)/e)."""
    best = F.one_hot(torch.tensor([0]), classes).double()  # a perfect, certain model
    return F.cross_entropy(best, torch.tensor([0])).item()


def uniform_guess_loss(classes: int = 3) -> float:
    return math.log(classes)
