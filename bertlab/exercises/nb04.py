"""Exercises and quiz of notebook 04 (optimization).

Each checker runs the learner's answer next to a reference written here (tests check the
references against torch.optim) and compares; the solutions are in
solutions/04_optimization_solutions.ipynb.
"""

from __future__ import annotations

import torch

from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

STEEP_CURVATURE, MOMENTUM = 25.0, 0.9  # the notebook's quadratic (x² + 25 y²) / 2

# --- 04.2: momentum's speed limit -------------------------------------------------------------


def _momentum_limit() -> float:
    """θ' = (1 + μ − ηλ)θ − μθ_prev is stable for 0 < ηλ < 2(1 + μ)."""
    return 2 * (1 + MOMENTUM) / STEEP_CURVATURE


# --- 04.3: Nesterov by hand -------------------------------------------------------------------


def _nesterov_step(p, g, buf, lr, momentum):
    buf = g.clone() if buf is None else momentum * buf + g
    return p - lr * (g + momentum * buf), buf


def _classical_momentum_step(p, g, buf, lr, momentum):
    buf = g.clone() if buf is None else momentum * buf + g
    return p - lr * buf, buf


def _look_ahead_wrong_sign(p, g, buf, lr, momentum):
    buf = g.clone() if buf is None else momentum * buf + g
    return p - lr * (g - momentum * buf), buf


def _gradient_sequences():
    generator = torch.Generator().manual_seed(4)
    cases = []
    for steps, size, lr, momentum in [(8, 5, 0.1, 0.9), (12, 3, 0.05, 0.5), (5, 7, 0.3, 0.99)]:
        start = torch.randn(size, generator=generator, dtype=torch.float64)
        grads = torch.randn(steps, size, generator=generator, dtype=torch.float64)
        label = f"{steps} steps, lr {lr}, momentum {momentum}"
        cases.append(Case(args=(start, grads, lr, momentum), label=label))
    return cases


def _run_nesterov(step, start, grads, lr, momentum):
    """The parameters after every step of `step` fed with the given gradients."""
    p, buf, trace = start.clone(), None, []
    for g in grads:
        p, buf = step(p, g.clone(), buf, lr, momentum)
        trace.append(torch.as_tensor(p).detach().clone())
    return torch.stack(trace)


# --- 04.4: Google's AdamWeightDecayOptimizer --------------------------------------------------


def _bert_adam_step(p, g, m, v, lr, weight_decay, betas=(0.9, 0.999), eps=1e-6):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    update = m / (v.sqrt() + eps) + weight_decay * p  # decoupled: after m and v
    return p - lr * update, m, v


class _BiasCorrected:
    """The slip of adding Adam's bias correction back; it counts its own steps (reset per run)."""

    def reset(self) -> None:
        self.t = 0

    def __call__(self, p, g, m, v, lr, weight_decay, betas=(0.9, 0.999), eps=1e-6):
        beta1, beta2 = betas
        self.t += 1
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1**self.t), v / (1 - beta2**self.t)
        return p * (1 - lr * weight_decay) - lr * m_hat / (v_hat.sqrt() + eps), m, v


def _l2_in_the_gradient(p, g, m, v, lr, weight_decay, betas=(0.9, 0.999), eps=1e-6):
    return _bert_adam_step(p, g + weight_decay * p, m, v, lr, 0.0, betas, eps)


def _run_bert_adam(step, start, grads, lr, weight_decay):
    if hasattr(step, "reset"):
        step.reset()
    p, m, v = start.clone(), torch.zeros_like(start), torch.zeros_like(start)
    for g in grads:
        p, m, v = step(p, g.clone(), m, v, lr, weight_decay)
    return p, m, v


def _bert_adam_cases():
    generator = torch.Generator().manual_seed(5)
    cases = []
    for steps, size, lr, decay in [(1, 6, 1e-3, 0.01), (6, 6, 1e-2, 0.01), (10, 4, 0.1, 0.1)]:
        start = torch.randn(size, generator=generator)
        grads = torch.randn(steps, size, generator=generator) * 0.1
        label = f"{steps} steps, lr {lr}, weight_decay {decay}"
        cases.append(Case(args=(start, grads, lr, decay), label=label))
    return cases


# --- 04.5: clipping values --------------------------------------------------------------------


def _clip_grad_value_reference(parameters, clip_value):
    torch.nn.utils.clip_grad_value_(parameters, clip_value)


def _clip_by_norm(parameters, clip_value):
    torch.nn.utils.clip_grad_norm_(parameters, clip_value)


def _clamp_above_only(parameters, clip_value):
    for p in parameters:
        p.grad.clamp_(max=clip_value)


def _run_clipping(clip, grads, clip_value):
    parameters = [torch.nn.Parameter(torch.zeros_like(g)) for g in grads]
    for p, g in zip(parameters, grads):
        p.grad = g.clone()
    clip(parameters, clip_value)
    return [p.grad for p in parameters]


def _gradient_lists():
    generator = torch.Generator().manual_seed(6)
    shapes = [(3, 4), (4,), (2, 2, 2)]
    return [
        Case(
            args=([torch.randn(s, generator=generator) * scale for s in shapes], clip),
            label=f"three gradients of scale {scale}, clip {clip}",
        )
        for scale, clip in [(1.0, 0.5), (5.0, 1.0), (0.1, 1.0)]
    ]


EXERCISES = [
    OpenExercise(
        "04.1",
        "Weight decay and L2",
        hint="Differentiate λ/2·‖θ‖²; then follow λθ through Adam's m/√v.",
        model_answer=(
            "The gradient of L + λ/2·‖θ‖² is ∇L + λθ, so an SGD step is θ − η(∇L + λθ) = "
            "(1 − ηλ)θ − η∇L: exactly weight decay by (1 − ηλ) followed by the plain step. In Adam "
            "the λθ term enters m and v and is divided by √v: a weight with large loss gradients "
            "(large v) is barely decayed, one with small gradients is decayed by about η per step "
            "whatever λ is. The decay then depends on the loss's gradient scale, not on λ alone; "
            "AdamW restores the SGD behaviour by shrinking θ outside the Adam step."
        ),
    ),
    ValueExercise(
        "04.2",
        "Momentum's speed limit",
        hint="Look for solutions θ_t = r^t: stable when both roots of r² − (1 + μ − ηλ)r + μ = 0 "
        "have |r| < 1.",
        answer=Computed(_momentum_limit),
        abs_tol=0.003,
        mistakes=[
            Mistake(0.08, "2/25 is plain GD's limit; momentum raises it to 2(1 + μ)/λ."),
            Mistake(
                0.8, "2/(λ(1 − μ)) is not the stability limit: the condition is ηλ < 2(1 + μ)."
            ),
        ],
        explanation="2(1 + μ)/λ = 0.152, nearly twice plain GD's 2/λ = 0.08.",
    ),
    FunctionExercise(
        "04.3",
        "Nesterov by hand",
        hint="buf = g on the first step, else momentum·buf + g; then step by g + momentum·buf.",
        reference=_nesterov_step,
        inputs=_gradient_sequences,
        call=_run_nesterov,
        mistakes=[
            Mistake(
                _classical_momentum_step,
                "that is classical momentum (step by buf); Nesterov steps by g + momentum·buf.",
            ),
            Mistake(
                _look_ahead_wrong_sign,
                "the look-ahead adds momentum·buf to g, it does not subtract it.",
            ),
        ],
        explanation="Exactly torch.optim.SGD(momentum=μ, nesterov=True), rewritten around the look-ahead point.",
    ),
    FunctionExercise(
        "04.4",
        "BERT's optimizer",
        hint="Adam's m and v without dividing by 1 − β^t; then update = m/(√v + eps) + weight_decay·p.",
        reference=_bert_adam_step,
        inputs=_bert_adam_cases,
        call=_run_bert_adam,
        mistakes=[
            Mistake(_BiasCorrected(), "Google's AdamWeightDecayOptimizer has no bias correction."),
            Mistake(
                _l2_in_the_gradient,
                "the decay is decoupled: add weight_decay·p to the update, not to the gradient.",
            ),
        ],
        explanation="Google's update: no bias correction, decoupled decay, eps 1e-6.",
    ),
    FunctionExercise(
        "04.5",
        "Clipping values, not the norm",
        hint="Each entry on its own: p.grad.clamp_(-clip_value, clip_value) for every parameter.",
        reference=_clip_grad_value_reference,
        inputs=_gradient_lists,
        call=_run_clipping,
        mistakes=[
            Mistake(
                _clip_by_norm, "that rescales by the global norm; clip by value clamps each entry."
            ),
            Mistake(_clamp_above_only, "clamp from below too: every entry into [−c, c]."),
        ],
        explanation="Large entries are cut and small ones kept, so the direction changes; BERT clips the norm.",
    ),
]

QUIZ = [
    NumberQuestion(
        "BERT's pretraining warmed up over its first 10,000 of 1,000,000 steps. What fraction of "
        "training is that (as a number, e.g. 0.5)?",
        answer=0.01,
        tolerance=1e-4,
        why="1%; 10% (warmup_proportion = 0.1) is the default of Google's fine-tuning script.",
        mistakes={
            0.1: "0.1 is the fine-tuning default (warmup_proportion), not pretraining's warmup."
        },
    ),
    ChoiceQuestion(
        "Gradient clipping by global norm, as BERT does it with max norm 1.0...",
        [
            Option(
                "clips the parameters into [−1, 1]",
                why="myth: clipping acts on the gradients; the parameters are untouched.",
            ),
            Option(
                "rescales all gradients by one factor when their joint norm exceeds 1",
                right=True,
                why="the update keeps its direction and only gets shorter.",
            ),
            Option(
                "clamps every gradient entry into [−1, 1]",
                why="that is clip_grad_value_, which changes the direction (exercise 04.5).",
            ),
        ],
    ),
    ChoiceQuestion(
        "What is Adam with betas = (0, 0)?",
        [
            Option(
                "sign descent: every coordinate moves by about lr in the direction of −sign(g)",
                right=True,
                why="m = g and v = g², so m/√v = g/|g| = sign(g).",
            ),
            Option(
                "plain SGD", why="Adam still divides by √v = |g|, so the gradient's size is lost."
            ),
            Option("SGD with momentum 0.9", why="β1 = 0 keeps no memory of past gradients."),
        ],
    ),
    ChoiceQuestion(
        "Which weight decay trained BERT?",
        [
            Option(
                "L2 in the gradient, like torch.optim.Adam(weight_decay=0.01)",
                why="the code's comment says exactly that this is not the correct way with Adam.",
            ),
            Option("none", why="both the paper and the code use a weight decay of 0.01."),
            Option(
                "the paper says 'L2 weight decay'; Google's code decays decoupled, as AdamW does",
                right=True,
                why="AdamWeightDecayOptimizer adds 0.01·param to the update, outside m and v.",
            ),
        ],
    ),
    NumberQuestion(
        "With a constant gradient and betas (0.9, 0.999), Adam without bias correction takes a first "
        "step how many times larger than with it? Two decimals.",
        answer=0.1 / 0.001**0.5,
        tolerance=0.01,
        why="m₁/√v₁ = (1 − β1)g/√((1 − β2)g²) = 0.1/√0.001 ≈ 3.16, against 1 with the correction.",
        mistakes={
            1.0: "1 is the corrected step; without the correction m and v are both too small, "
            "by different factors."
        },
    ),
]
