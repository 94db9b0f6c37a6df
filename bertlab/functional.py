"""Activations with their derivatives, and losses computed from logits.

Notebook 01 plots the activations and their derivatives; notebook 02 builds
the losses and shows why they must start from logits (log-sum-exp). Every
function takes and returns torch tensors and equals its `torch.nn.functional`
counterpart (tests/test_functional.py checks that).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "ACTIVATIONS",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "gelu",
    "gelu_grad",
    "gelu_tanh",
    "gelu_tanh_grad",
    "linear",
    "linear_grad",
    "log_softmax",
    "logsumexp",
    "mse_loss",
    "relu",
    "relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "softmax",
    "tanh",
    "tanh_grad",
]

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


# --- activations and their derivatives (notebook 01) ------------------------------------------


def linear(x: torch.Tensor) -> torch.Tensor:
    """The identity: a neuron without a non-linearity."""
    return x.clone()


def linear_grad(x: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(x)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """σ(x) = 1 / (1 + e^-x), written so that e^-x never overflows (e^x / (1 + e^x) for x < 0).

    Each branch exponentiates a clamped input (e^-x for x >= 0, e^x for x < 0, both in (0, 1]),
    rather than e^-|x|: the values are the same, but autograd through |x| would give a slope
    of 0 at x = 0 instead of σ'(0) = 1/4.
    """
    positive = 1 / (1 + torch.exp(-x.clamp(min=0)))
    e = torch.exp(x.clamp(max=0))
    return torch.where(x >= 0, positive, e / (1 + e))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """σ'(x) = σ(x)(1 − σ(x)); at most 1/4, which is why deep sigmoid nets learn slowly."""
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """tanh(x) = 2σ(2x) − 1: a sigmoid stretched to (−1, 1) and centred at 0."""
    return torch.tanh(x)


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    return 1 - torch.tanh(x) ** 2


def relu(x: torch.Tensor) -> torch.Tensor:
    """max(0, x)."""
    return torch.clamp(x, min=0)


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """1 for x > 0, else 0 (torch also uses 0 at exactly x = 0)."""
    return (x > 0).to(x.dtype)


def gelu(x: torch.Tensor) -> torch.Tensor:
    """GELU, exact form: x · Φ(x) = x · ½(1 + erf(x/√2)).

    Hugging Face's BERT (`hidden_act="gelu"`) uses this one.
    """
    return x * 0.5 * (1 + torch.erf(x / _SQRT_2))


def gelu_grad(x: torch.Tensor) -> torch.Tensor:
    """d/dx x·Φ(x) = Φ(x) + x·φ(x), φ the standard normal density."""
    cdf = 0.5 * (1 + torch.erf(x / _SQRT_2))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))).

    Google's original BERT code used this (it was cheaper on TPUs in 2018);
    `torch.nn.functional.gelu(x, approximate="tanh")`.
    """
    return 0.5 * x * (1 + torch.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))


def gelu_tanh_grad(x: torch.Tensor) -> torch.Tensor:
    inner = _SQRT_2_OVER_PI * (x + 0.044715 * x**3)
    t = torch.tanh(inner)
    d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x**2)
    return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * d_inner


#: name -> (function, derivative), in the order notebook 01 plots them.
ACTIVATIONS = {
    "linear": (linear, linear_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "gelu": (gelu, gelu_grad),
    "gelu_tanh": (gelu_tanh, gelu_tanh_grad),
}


# --- softmax and log-sum-exp (notebook 02) ----------------------------------------------------


def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log Σ exp(x) along `dim`, stably: m + log Σ exp(x − m) with m = max(x).

    After subtracting the maximum, the largest exponent is e^0 = 1, so nothing
    overflows however large the logits are, and the sum is at least 1, so the
    log never sees 0.
    """
    m = x.amax(dim=dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))  # all -inf rows stay -inf
    return (m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))).squeeze(dim)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log softmax(x) = x − logsumexp(x)."""
    return x - logsumexp(x, dim=dim).unsqueeze(dim)


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """exp(x − max) / Σ exp(x − max): the stable softmax."""
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


# --- losses (notebook 02) ---------------------------------------------------------------------


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _check_same_shape(name: str, a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name}: input shape {tuple(a.shape)} != target shape {tuple(b.shape)}")


def mse_loss(input: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error (y − ŷ)²: the regression loss."""
    _check_same_shape("mse_loss", input, target)
    return _reduce((input - target) ** 2, reduction)


def binary_cross_entropy_with_logits(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """−[y log σ(z) + (1 − y) log(1 − σ(z))], computed from the logit z without forming σ(z).

    Algebra turns it into max(z, 0) − z·y + log(1 + e^−|z|): no exp overflows,
    and no log(0) when σ(z) rounds to exactly 0 or 1. The last term is computed per sign
    of z (as in `sigmoid`), so that autograd gives the exact gradient σ(z) − y at z = 0 too.
    """
    _check_same_shape("binary_cross_entropy_with_logits", logits, target)
    softplus_of_minus_abs = torch.where(
        logits >= 0,
        torch.log1p(torch.exp(-logits.clamp(min=0))),
        torch.log1p(torch.exp(logits.clamp(max=0))),
    )  # log(1 + e^-|z|)
    loss = logits.clamp(min=0) - logits * target + softplus_of_minus_abs
    return _reduce(loss, reduction)


def cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> torch.Tensor:
    """Multi-class cross-entropy from logits: −log softmax(z)[y] = logsumexp(z) − z_y.

    `logits` has shape (N, C) (or (C,) for one example), `target` holds class
    indices of shape (N,). Targets equal to `ignore_index` (−100, as in torch and
    Hugging Face, which marks padding and non-first sub-tokens) contribute
    nothing, and the mean is over the remaining ones.
    """
    if logits.dim() == 1:
        logits, target = logits.unsqueeze(0), target.reshape(1)
    if logits.dim() != 2:
        raise ValueError(f"cross_entropy: logits must be (N, C), got shape {tuple(logits.shape)}")
    if target.shape != logits.shape[:1] or target.dtype not in (torch.int64, torch.int32):
        raise ValueError(
            f"cross_entropy: target must be class indices of shape ({logits.shape[0]},), "
            f"got {target.dtype} of shape {tuple(target.shape)}"
        )
    keep = target != ignore_index
    valid = target[keep]
    if ((valid < 0) | (valid >= logits.shape[1])).any():
        raise ValueError(f"cross_entropy: target outside [0, {logits.shape[1]}): {valid.tolist()}")
    safe_target = torch.where(keep, target, torch.zeros_like(target)).long()
    picked = logits.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    loss = torch.where(keep, logsumexp(logits, dim=1) - picked, torch.zeros_like(picked))
    if reduction == "mean":
        return loss.sum() / keep.sum()  # nan when every target is ignored, like torch
    return _reduce(loss, reduction)
