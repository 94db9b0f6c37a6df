"""Optimizers, the learning-rate schedule and gradient clipping, written out.

Notebook 04 builds each update rule step by step and checks it against
`torch.optim` step for step. The classes here follow torch's update rules
exactly (same formulas, same order of operations), so they can train real
models, and they subclass `torch.optim.Optimizer` only for its bookkeeping
(`param_groups`, `state`, `zero_grad`, `state_dict`), which also makes them
work with `torch.optim.lr_scheduler.LambdaLR`.

The training loop (`bertlab.training`) uses `decay_parameter_groups`,
`linear_warmup_decay` and `clip_grad_norm_` from this module.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "clip_grad_norm_",
    "decay_parameter_groups",
    "linear_warmup_decay",
    "no_decay_parameter_names",
]


def _check_non_negative(name: str, value: float) -> None:
    if not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")


class _Optimizer(torch.optim.Optimizer):
    """torch's `step(closure)` protocol, written once; each optimizer's `update` is its rule for
    one parameter that has a gradient (the rule notebook 04 writes out)."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(p, p.grad, group)
        return loss

    def update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        raise NotImplementedError


class SGD(_Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    For each parameter `p` with gradient `g` (torch semantics):

        g = g + weight_decay * p                  # L2 penalty folded into the gradient
        buf = g                       (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        step = g + momentum * buf  if nesterov else buf
        p = p - lr * step

    With `momentum=0` this is plain gradient descent `p -= lr * g`.
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ):
        numbers = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
        }
        for name, value in numbers.items():
            _check_non_negative(name, value)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, {**numbers, "nesterov": nesterov})

    def update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        """SGD's rule for one parameter `p` with gradient `g`."""
        momentum = group["momentum"]
        if group["weight_decay"] != 0:
            g = g.add(p, alpha=group["weight_decay"])
        if momentum != 0:
            state = self.state[p]
            if "momentum_buffer" not in state:
                buf = g.clone()
                state["momentum_buffer"] = buf
            else:
                buf = state["momentum_buffer"]
                buf.mul_(momentum).add_(g, alpha=1 - group["dampening"])
            g = g.add(buf, alpha=momentum) if group["nesterov"] else buf
        p.add_(g, alpha=-group["lr"])


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2015) with torch's L2-style `weight_decay`.

    For each parameter at step t = 1, 2, ...:

        g = g + weight_decay * p            # L2: the penalty goes through m and v
        m = beta1 * m + (1 - beta1) * g      # first moment (momentum)
        v = beta2 * v + (1 - beta2) * g**2   # second moment (per-weight scale)
        m_hat = m / (1 - beta1**t);  v_hat = v / (1 - beta2**t)   # bias correction
        p = p - lr * m_hat / (sqrt(v_hat) + eps)

    (Evaluated in torch's order: `lr / bc1 * m / (sqrt(v) / sqrt(bc2) + eps)`.)
    """

    _decoupled = False
    default_weight_decay = 0.0

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float | None = None,
    ):
        """`weight_decay=None` is the class's `default_weight_decay`: 0 for Adam, 0.01 for AdamW."""
        if weight_decay is None:
            weight_decay = self.default_weight_decay
        _check_non_negative("lr", lr)
        _check_non_negative("eps", eps)
        _check_non_negative("weight_decay", weight_decay)
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
        super().__init__(
            params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        )

    def update(self, p: torch.Tensor, g: torch.Tensor, group: dict) -> None:
        """Adam's (or AdamW's) rule for one parameter `p` with gradient `g`."""
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if wd != 0:
            if self._decoupled:
                p.mul_(1 - lr * wd)  # AdamW: shrink the weight directly
            else:
                g = g.add(p, alpha=wd)  # Adam: L2 penalty in the gradient
        state = self.state[p]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        denom = (v.sqrt() / math.sqrt(bias_correction2)).add_(group["eps"])
        p.addcdiv_(m, denom, value=-lr / bias_correction1)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    The only change from `Adam`: instead of adding `weight_decay * p` to the
    gradient (where Adam's per-weight scaling then weakens it for weights with
    large gradients), every weight is shrunk directly before the Adam step:

        p = p * (1 - lr * weight_decay)

    Google's BERT code decays weights this way too (its `AdamWeightDecayOptimizer`,
    which also drops Adam's bias correction and uses eps 1e-6; notebook 04 writes it
    out); Hugging Face's BERT recipes use AdamW. Default weight decay 0.01, as in
    torch and the BERT recipes.
    """

    _decoupled = True
    default_weight_decay = 0.01


def _is_layer_norm(module: nn.Module) -> bool:
    return isinstance(module, nn.LayerNorm) or "LayerNorm" in type(module).__name__


def no_decay_parameter_names(model: nn.Module) -> list[str]:
    """Names of the trainable parameters that should not be weight-decayed.

    Biases and LayerNorm weights: decaying them towards zero only hurts (a
    LayerNorm gain of 0 switches its features off). This is the rule of
    Google's BERT code and of Hugging Face's Trainer.
    """
    names = []
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            if name == "bias" or _is_layer_norm(module):
                names.append(f"{module_name}.{name}" if module_name else name)
    return names


def decay_parameter_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two torch-style parameter groups: decayed weights, and biases + LayerNorm without decay.

    Pass the result to any optimizer: `AdamW(decay_parameter_groups(model, 0.01), lr=2e-5)`.
    Frozen parameters (`requires_grad=False`) are left out; tied parameters appear once.
    Notebook 04 shows which names end up in each group.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_non_negative("weight_decay", weight_decay)
    no_decay = set(no_decay_parameter_names(model))
    decay_params, no_decay_params = [], []
    for name, param in model.named_parameters():  # yields each shared parameter once
        if not param.requires_grad:
            continue
        (no_decay_params if name in no_decay else decay_params).append(param)
    if not decay_params and not no_decay_params:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    return [
        {"params": decay_params, "weight_decay": float(weight_decay)},
        {"params": no_decay_params, "weight_decay": 0.0},
    ]


def linear_warmup_decay(step: int, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate multiplier: 0 -> 1 linearly over `warmup_steps`, then 1 -> 0 at `total_steps`.

    Same numbers as `transformers.get_linear_schedule_with_warmup`; use it with
    `torch.optim.lr_scheduler.LambdaLR(opt, lambda s: linear_warmup_decay(s, w, t))`.
    Notebook 04 plots it.
    """
    if warmup_steps < 0 or total_steps < 0:
        raise ValueError(
            f"warmup_steps and total_steps must be >= 0, got {warmup_steps} and {total_steps}"
        )
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


def clip_grad_norm_(
    parameters: torch.Tensor | Iterable[torch.Tensor], max_norm: float
) -> torch.Tensor:
    """Rescale all gradients together so that their global L2 norm is at most `max_norm`.

    The global norm is the norm of all gradients concatenated into one vector.
    If it exceeds `max_norm`, every gradient is multiplied by the same factor
    `max_norm / (norm + 1e-6)`, so the update keeps its direction and only gets
    shorter. Parameters are never touched. Returns the norm before clipping,
    like `torch.nn.utils.clip_grad_norm_`. Notebook 04 demonstrates it.
    """
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    _check_non_negative("max_norm", max_norm)
    if not grads:
        return torch.tensor(0.0)
    per_tensor = torch.stack([torch.linalg.vector_norm(g.detach(), 2.0) for g in grads])
    total_norm = torch.linalg.vector_norm(per_tensor, 2.0)
    clip_coef = torch.clamp(max_norm / (total_norm + 1e-6), max=1.0)
    with torch.no_grad():
        for g in grads:
            g.mul_(clip_coef.to(g.device, g.dtype))
    return total_norm
