"""Exercises and quiz of notebook 07b (LayerNorm, dropout, residual connections).

References are written here in a few lines and checked against torch (F.layer_norm, F.dropout)
by tests/test_exercises.py through their mistakes; the solutions are in
solutions/07b_building_blocks_solutions.ipynb.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.exercises.core import Case, FunctionExercise, Mistake, OpenExercise
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 07b.1: LayerNorm ---------------------------------------------------------------------------


def _layer_norm(x, gamma, beta, eps):
    return F.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _layer_norm_unbiased(x, gamma, beta, eps):
    mean = x.mean(-1, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(x.var(-1, keepdim=True) + eps) + beta


def _layer_norm_eps_outside(x, gamma, beta, eps):
    mean = x.mean(-1, keepdim=True)
    std = x.var(-1, keepdim=True, correction=0).sqrt()
    return gamma * (x - mean) / (std + eps) + beta


def _layer_norm_no_affine(x, gamma, beta, eps):
    return F.layer_norm(x, x.shape[-1:], None, None, eps)


def _norm_inputs():
    generator = torch.Generator().manual_seed(71)
    cases = []
    for shape, eps in [((4, 8), 1e-12), ((2, 5, 16), 1e-5), ((3, 6), 0.5)]:
        x = torch.randn(*shape, generator=generator) * 3 + 1
        gamma = torch.rand(shape[-1], generator=generator) + 0.5
        beta = torch.randn(shape[-1], generator=generator) * 0.1
        cases.append(Case(args=(x, gamma, beta, eps), label=f"x {list(shape)}, eps {eps:g}"))
    return cases


# --- 07b.2: dropout -----------------------------------------------------------------------------


def _dropout(x, p):
    keep = torch.empty_like(x).bernoulli_(1 - p)
    return x * (keep / (1 - p))


def _dropout_unscaled(x, p):
    return x * torch.empty_like(x).bernoulli_(1 - p)


def _dropout_keeps_p(x, p):
    keep = torch.empty_like(x).bernoulli_(p)
    return x * keep / p if p > 0 else x


def _dropout_scaled_down(x, p):
    return x * torch.empty_like(x).bernoulli_(1 - p) * (1 - p)


def _run_dropout(answer, x, p):
    return x, p, answer(x.clone(), p)


def _compare_dropout(actual, expected) -> str | None:
    """Each output is 0 or x / (1 - p), and about a fraction p are 0 (the draws are random)."""
    x, p, output = actual
    output = torch.as_tensor(output)
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


def _dropout_inputs():
    generator = torch.Generator().manual_seed(72)
    return [
        Case(args=(torch.randn(200, 200, generator=generator), 0.1), label="p = 0.1"),
        Case(args=(torch.randn(100, 300, generator=generator), 0.5), label="p = 0.5"),
        Case(args=(torch.randn(50, 50, generator=generator), 0.0), label="p = 0"),
    ]


# --- 07b.3: the post-LN residual block ----------------------------------------------------------


def _post_ln(x, sublayer, norm):
    return norm(x + sublayer(x))


def _pre_ln(x, sublayer, norm):
    return x + sublayer(norm(x))


def _no_residual(x, sublayer, norm):
    return norm(sublayer(x))


def _block_inputs():
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


def _without_gradients(answer, *args):
    with torch.no_grad():
        return answer(*args)


# --- 07b.4: RMSNorm -----------------------------------------------------------------------------


def _rms_norm(x, gamma, eps):
    return gamma * x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def _rms_norm_centred(x, gamma, eps):
    return _layer_norm(x, gamma, torch.zeros_like(gamma), eps)


def _rms_norm_wrong_axis(x, gamma, eps):
    return gamma * x / torch.sqrt(x.pow(2).mean(0, keepdim=True) + eps)


def _rms_inputs():
    return [(x, gamma, eps) for x, gamma, _, eps in (case.args for case in _norm_inputs())]


EXERCISES = [
    FunctionExercise(
        "07b.1",
        "LayerNorm by hand",
        hint="Mean and variance over the last dimension only; the variance divides by H "
        "(correction=0); ε goes inside the square root; then × gamma + beta.",
        reference=_layer_norm,
        inputs=_norm_inputs,
        mistakes=[
            Mistake(
                _layer_norm_unbiased,
                "torch.var divides by H - 1 by default: LayerNorm divides by H.",
            ),
            Mistake(_layer_norm_eps_outside, "ε is added to the variance, inside the square root."),
            Mistake(_layer_norm_no_affine, "finish with gamma * normalised + beta."),
        ],
        ulps=64,
    ),
    FunctionExercise(
        "07b.2",
        "Dropout by hand",
        hint="In training: keep each entry with probability 1 - p (torch.empty_like(x)."
        "bernoulli_(1 - p)), multiply the kept ones by 1 / (1 - p). Your function takes (x, p).",
        reference=_dropout,
        inputs=_dropout_inputs,
        call=_run_dropout,
        compare=_compare_dropout,
        mistakes=[
            Mistake(
                _dropout_unscaled, "scale the kept entries by 1 / (1 - p), so the mean stays x."
            ),
            Mistake(_dropout_keeps_p, "p is the probability to DROP an entry: keep with 1 - p."),
            Mistake(_dropout_scaled_down, "divide by 1 - p, do not multiply: the survivors grow."),
        ],
        explanation="The draws are random, so the checker tests what must hold whatever they are: "
        "every entry is 0 or x / (1 - p), and about a fraction p of them is 0.",
    ),
    FunctionExercise(
        "07b.3",
        "The post-LN residual block",
        hint="Post-LN: add the sub-layer's output to its input, then normalise the sum.",
        reference=_post_ln,
        inputs=_block_inputs,
        call=_without_gradients,
        mistakes=[
            Mistake(
                _pre_ln,
                "that is pre-LN (normalise, sub-layer, add); BERT normalises after the sum.",
            ),
            Mistake(
                _no_residual, "add the input back before the LayerNorm: that sum is the residual."
            ),
        ],
        ulps=16,
    ),
    FunctionExercise(
        "07b.4",
        "RMSNorm, LayerNorm's successor",
        hint="Zhang and Sennrich (2019): no mean subtracted and no beta; divide by the root of "
        "the mean of x² over the last dimension (+ ε inside the root), times gamma.",
        reference=_rms_norm,
        inputs=_rms_inputs,
        mistakes=[
            Mistake(_rms_norm_centred, "RMSNorm does not subtract the mean: that is LayerNorm."),
            Mistake(
                _rms_norm_wrong_axis,
                "normalise each token over its own features: the last dimension.",
            ),
        ],
        ulps=64,
        explanation="T5 and LLaMA use it: one reduction fewer than LayerNorm; Zhang and Sennrich found it "
        "about as accurate and faster.",
    ),
    OpenExercise(
        "07b.5",
        "Pre-LN in the deep stack",
        hint="Let the wiring receive the block as a function, so that it can apply it to LN(h): "
        "h + f(LN(h)). Add it to the plot of section 4.",
        model_answer="Pre-LN keeps the identity path free of any normalisation: the gradient "
        "reaches the bottom almost undiminished (within a small factor over 32 layers), while the "
        "activations grow slowly with depth because the residual stream itself is never "
        "normalised (each block adds a normalised-size contribution). That is why pre-LN models "
        "train without a warm-up and usually end with one last LayerNorm.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "Over which numbers does BERT's LayerNorm compute its mean and variance?",
        [
            Option(
                "The same feature over the whole batch",
                why="That is batch normalisation; LayerNorm does not depend on the other examples.",
            ),
            Option(
                "The hidden-size values of one token",
                right=True,
                why="Yes: each token is normalised on its own, independently of the batch.",
            ),
            Option("All the tokens of the sentence", why="Tokens are normalised one by one."),
        ],
    ),
    NumberQuestion(
        "With dropout p = 0.1 in training mode, an input value of 0.9 becomes either 0 or what?",
        answer=1.0,
        tolerance=1e-6,
        why="0.9 / (1 - 0.1) = 1.0: survivors are scaled so that the mean stays 0.9.",
        mistakes={
            0.9: "survivors are scaled by 1 / (1 - p).",
            0.81: "divide by 1 - p, do not multiply.",
        },
    ),
    ChoiceQuestion(
        "What does dropout do when the model is in eval mode?",
        [
            Option(
                "Drops with probability p, as in training", why="Then predictions would be random."
            ),
            Option(
                "Scales everything by 1 - p",
                why="That was the original paper's test-time rule; "
                "with inverted dropout the scaling happens in training.",
            ),
            Option(
                "Nothing: the input passes unchanged",
                right=True,
                why="Yes: call model.eval() to evaluate.",
            ),
        ],
    ),
    ChoiceQuestion(
        "Why do residual connections help a deep stack train?",
        [
            Option("They add parameters", why="A residual connection has no parameters at all."),
            Option(
                "The identity path carries the gradient to the lower layers unchanged",
                right=True,
                why="Yes: dy/dx = I + df/dx, so the gradient never has to pass through every block.",
            ),
            Option(
                "They normalise the activations",
                why="That is LayerNorm's job; residuals alone let the activations grow.",
            ),
        ],
    ),
]
