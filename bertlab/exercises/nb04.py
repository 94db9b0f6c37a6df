"""Checkers of notebook 04 (optimization).

Each checker runs the learner's answer next to a reference written here (tests check the
references against torch.optim) and compares; the texts are in texts/nb04.toml, the solutions
in solutions/04_optimization_solutions.ipynb.
"""

from __future__ import annotations

from functools import partial

import torch

from bertlab.exercises.kinds import Case

STEEP_CURVATURE, MOMENTUM = 25.0, 0.9  # the notebook's quadratic (x² + 25 y²) / 2

# --- 04.2: momentum's speed limit -------------------------------------------------------------


def momentum_limit() -> float:
    """θ' = (1 + μ − ηλ)θ − μθ_prev is stable for 0 < ηλ < 2(1 + μ)."""
    return 2 * (1 + MOMENTUM) / STEEP_CURVATURE


# --- 04.3: Nesterov by hand -------------------------------------------------------------------


def nesterov_step(p, g, buf, lr, momentum, *, nesterov: bool = True, look_ahead_sign: int = 1):
    """One step of SGD with Nesterov momentum on plain tensors; `nesterov=False` steps by the
    buffer alone (classical momentum), `look_ahead_sign=-1` subtracts the look-ahead."""
    buf = g.clone() if buf is None else momentum * buf + g
    step = g + look_ahead_sign * momentum * buf if nesterov else buf
    return p - lr * step, buf


classical_momentum_step = partial(nesterov_step, nesterov=False)
look_ahead_wrong_sign = partial(nesterov_step, look_ahead_sign=-1)


def gradient_sequences():
    generator = torch.Generator().manual_seed(4)
    cases = []
    for steps, size, lr, momentum in [(8, 5, 0.1, 0.9), (12, 3, 0.05, 0.5), (5, 7, 0.3, 0.99)]:
        start = torch.randn(size, generator=generator, dtype=torch.float64)
        grads = torch.randn(steps, size, generator=generator, dtype=torch.float64)
        label = f"{steps} steps, lr {lr}, momentum {momentum}"
        cases.append(Case(args=(start, grads, lr, momentum), label=label))
    return cases


def run_nesterov(step, start, grads, lr, momentum):
    """The parameters after every step of `step` fed with the given gradients."""
    p, buf, trace = start.clone(), None, []
    for g in grads:
        p, buf = step(p, g.clone(), buf, lr, momentum)
        trace.append(torch.as_tensor(p).detach().clone())
    return torch.stack(trace)


# --- 04.4: Google's AdamWeightDecayOptimizer --------------------------------------------------


def bert_adam_step(
    p, g, m, v, lr, weight_decay, betas=(0.9, 0.999), eps=1e-6, *, bias_correction_step=None
):
    """Google's AdamWeightDecayOptimizer, one step: Adam's m and v, no bias correction (the
    slip `bias_correction_step=t` divides them by 1 - β^t), the decay added to the update."""
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat, t = m, v, bias_correction_step
    if t is not None:
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    update = m_hat / (v_hat.sqrt() + eps) + weight_decay * p  # decoupled: after m and v
    return p - lr * update, m, v


class BiasCorrected:
    """BERT's step with Adam's bias correction added back; counts its own steps (reset per run)."""

    def reset(self) -> None:
        self.t = 0

    def __call__(self, p, g, m, v, lr, weight_decay):
        self.t += 1
        return bert_adam_step(p, g, m, v, lr, weight_decay, bias_correction_step=self.t)


bias_corrected = BiasCorrected()


def l2_in_the_gradient(p, g, m, v, lr, weight_decay, betas=(0.9, 0.999), eps=1e-6):
    return bert_adam_step(p, g + weight_decay * p, m, v, lr, 0.0, betas, eps)


def run_bert_adam(step, start, grads, lr, weight_decay):
    if hasattr(step, "reset"):
        step.reset()
    p, m, v = start.clone(), torch.zeros_like(start), torch.zeros_like(start)
    for g in grads:
        p, m, v = step(p, g.clone(), m, v, lr, weight_decay)
    return p, m, v


def bert_adam_cases():
    generator = torch.Generator().manual_seed(5)
    cases = []
    for steps, size, lr, decay in [(1, 6, 1e-3, 0.01), (6, 6, 1e-2, 0.01), (10, 4, 0.1, 0.1)]:
        start = torch.randn(size, generator=generator)
        grads = torch.randn(steps, size, generator=generator) * 0.1
        label = f"{steps} steps, lr {lr}, weight_decay {decay}"
        cases.append(Case(args=(start, grads, lr, decay), label=label))
    return cases


# --- 04.5: clipping values --------------------------------------------------------------------


def clip_grad_value_reference(parameters, clip_value):
    torch.nn.utils.clip_grad_value_(parameters, clip_value)


def clip_by_norm(parameters, clip_value):
    torch.nn.utils.clip_grad_norm_(parameters, clip_value)


def clamp_above_only(parameters, clip_value):
    for p in parameters:
        p.grad.clamp_(max=clip_value)


def run_clipping(clip, grads, clip_value):
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(parameters, grads):
        p.grad = g.clone()
    clip(parameters, clip_value)
    return [p.grad for p in parameters]


def gradient_lists():
    generator = torch.Generator().manual_seed(6)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    return [
        Case(
            args=([torch.randn(s, generator=generator) * scale for s in shapes], clip),
            label=f"three gradients of scale {scale}, clip {clip}",
        )
        for scale, clip in [(1.0, 0.5), (5.0, 1.0), (0.1, 1.0)]
    ]
