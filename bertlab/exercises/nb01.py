"""Exercises and quiz of notebook 01 (neurons and activations).

Each checker runs the learner's answer next to a reference written here and compares; the
solutions are in solutions/01_neurons_solutions.ipynb.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bertlab import functional as bf
from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 01.1: tanh from the sigmoid ------------------------------------------------------------


def _tanh_from_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return 2 * bf.sigmoid(2 * x) - 1


def _tanh_half_argument(x: torch.Tensor) -> torch.Tensor:
    return 2 * bf.sigmoid(x) - 1


def _sigmoid_unshifted(x: torch.Tensor) -> torch.Tensor:
    return bf.sigmoid(2 * x)


def _activation_inputs():
    generator = torch.Generator().manual_seed(1)
    return [
        Case(args=(torch.linspace(-6, 6, 121, dtype=torch.float64),), label="x = linspace(-6, 6)"),
        Case(args=(torch.randn(50, generator=generator) * 3,), label="50 float32 values"),
        Case(
            args=(torch.tensor([-30.0, -1e-3, 0.0, 1e-3, 30.0]),), label="[-30, -1e-3, 0, 1e-3, 30]"
        ),
    ]


# --- 01.2: GELU's derivative ------------------------------------------------------------------


def _gelu_derivative(x: torch.Tensor) -> torch.Tensor:
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


def _gelu_cdf_only(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def _gelu_derivative_missing_x(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf(x / math.sqrt(2))) + torch.exp(-0.5 * x * x) / math.sqrt(
        2 * math.pi
    )


# --- 01.3: GELU's minimum ---------------------------------------------------------------------


def _gelu_minimum() -> tuple[float, float]:
    """Newton's method on GELU' = Φ + xφ = 0, from x = -1 (GELU'' = φ(x)(2 - x²))."""
    x = torch.tensor(-1.0, dtype=torch.float64)
    for _ in range(50):
        pdf = torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        x = x - bf.gelu_grad(x) / (pdf * (2 - x * x))
    return round(x.item(), 6), round(bf.gelu(x).item(), 6)


# --- 01.4: collapse two linear layers ---------------------------------------------------------


def _collapse(first: nn.Linear, second: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    return second.weight @ first.weight, second.weight @ first.bias + second.bias


def _collapse_biases_added(first: nn.Linear, second: nn.Linear):
    return second.weight @ first.weight, first.bias + second.bias


def _collapse_second_bias_only(first: nn.Linear, second: nn.Linear):
    return second.weight @ first.weight, second.bias


def _call_collapse(collapse, first: nn.Linear, second: nn.Linear):
    with torch.no_grad():
        weight, bias = collapse(first, second)
    return torch.as_tensor(weight).detach(), torch.as_tensor(bias).detach()


def _linear_pairs():
    torch.manual_seed(0)  # nn.Linear draws its initial weights from torch's global generator
    sizes = [(3, 4, 2), (5, 5, 5), (2, 8, 1)]
    return [
        Case(args=(nn.Linear(a, b), nn.Linear(b, c)), label=f"Linear({a}, {b}), Linear({b}, {c})")
        for a, b, c in sizes
    ]


# --- 01.5: XOR --------------------------------------------------------------------------------


def _best_xor_accuracy() -> float:
    """Search a grid of neurons (directions and offsets): no line gets all four XOR points."""
    points = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    angles = torch.linspace(0, 2 * math.pi, 721)
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)
    offsets = torch.linspace(-2, 2, 401)
    z = (points @ directions.T).unsqueeze(-1) + offsets  # (4 points, angles, offsets)
    correct = ((z > 0).long() == labels[:, None, None]).float().mean(0)
    return correct.max().item()


EXERCISES = [
    FunctionExercise(
        "01.1",
        "tanh from the sigmoid",
        hint="Write σ(2x) with e^{-2x}, then multiply numerator and denominator of tanh by e^{-x}.",
        reference=_tanh_from_sigmoid,
        inputs=_activation_inputs,
        mistakes=[
            Mistake(_tanh_half_argument, "that is tanh(x/2): the sigmoid's argument is 2x."),
            Mistake(_sigmoid_unshifted, "σ(2x) lies in (0, 1); stretch and shift it: 2σ(2x) − 1."),
        ],
        explanation="tanh is a sigmoid stretched to (−1, 1), which is why its slope at 0 is 4× σ'(0).",
    ),
    FunctionExercise(
        "01.2",
        "GELU's derivative",
        hint="Product rule on x·Φ(x), and Φ'(x) = φ(x) = e^{-x²/2}/√(2π).",
        reference=_gelu_derivative,
        inputs=_activation_inputs,
        mistakes=[
            Mistake(_gelu_cdf_only, "that is Φ(x) alone: the product rule adds x·φ(x)."),
            Mistake(_gelu_derivative_missing_x, "the second term of the product rule is x·φ(x)."),
        ],
        explanation="Φ(x) + xφ(x); it exceeds 1 near x ≈ 1.4, where GELU is steeper than ReLU.",
    ),
    ValueExercise(
        "01.3",
        "GELU's minimum",
        hint="Set GELU'(x) = Φ(x) + xφ(x) to 0 (or scan x in [-2, 0] on a fine grid).",
        answer=Computed(_gelu_minimum),
        abs_tol=1e-3,
        mistakes=[
            Mistake((0.0, 0.0), "GELU crosses 0 at x = 0, but dips below it for negative x."),
            Mistake(
                Computed(lambda: (-1.0, round(bf.gelu(torch.tensor(-1.0)).item(), 6))),
                "GELU(−1) is close, but the minimum is a little to the right of −1.",
            ),
        ],
        explanation="About −0.17 at x ≈ −0.75: the only negative values GELU lets through are small.",
    ),
    FunctionExercise(
        "01.4",
        "Collapse a linear stack",
        hint="Expand W2(W1 x + b1) + b2 and read off the weight and the bias.",
        reference=_collapse,
        inputs=_linear_pairs,
        call=_call_collapse,
        mistakes=[
            Mistake(_collapse_biases_added, "the first bias passes through W2 too: W2 b1 + b2."),
            Mistake(
                _collapse_second_bias_only, "the first bias does not vanish: it becomes W2 b1."
            ),
        ],
        explanation="W = W2 W1, b = W2 b1 + b2: depth without activations buys nothing.",
    ),
    ValueExercise(
        "01.5",
        "XOR",
        hint="A line can cut the unit square's corners in few ways: try to get all four right.",
        answer=Computed(_best_xor_accuracy),
        abs_tol=1e-6,
        mistakes=[
            Mistake(
                0.5, "a line can do better than chance: it can put three corners on their side."
            ),
            Mistake(1.0, "no line puts (0,1), (1,0) on one side and (0,0), (1,1) on the other."),
        ],
        explanation="3 of 4: XOR is the classic problem no single neuron solves; a hidden layer does.",
    ),
    OpenExercise(
        "01.6",
        "Sharper, not different",
        hint="Where is 10·(w·x + b) = 0? What does σ do to a logit ten times larger?",
        model_answer=(
            "The boundary 10(w·x + b) = 0 is the same line, so the accuracy does not change. "
            "Every logit is ten times larger: the sigmoid's output jumps from near 0 to near 1 "
            "across the line. Points on the right side get a loss near 0, but each misclassified "
            "point now costs about ten times more (BCE grows like |z| on the wrong side), so the "
            "mean loss goes up (from about 0.12 to about 0.61 for the notebook's neuron). That is "
            "why gradient descent does not scale the weights up without bound while some points "
            "are on the wrong side."
        ),
    ),
]

QUIZ = [
    ChoiceQuestion(
        "Two nn.Linear layers with no activation between them compute...",
        [
            Option(
                "a curved decision boundary",
                why="curves need a non-linearity between the layers; without one it is one line.",
            ),
            Option(
                "one linear map, the same as a single nn.Linear",
                right=True,
                why="W2(W1x + b1) + b2 = (W2W1)x + (W2b1 + b2), checked in the notebook.",
            ),
            Option(
                "the same map as with a ReLU between them",
                why="the ReLU makes the map piecewise linear; the notebook's least-squares fit "
                "shows no single linear map matches it.",
            ),
        ],
    ),
    NumberQuestion(
        "What is the largest value of the sigmoid's derivative σ'(z)?",
        answer=0.25,
        tolerance=1e-3,
        why="σ'(z) = σ(z)(1 − σ(z)) peaks at z = 0, where σ = 1/2: 1/2 · 1/2 = 1/4.",
        mistakes={
            1.0: "1 is tanh's slope at 0, four times the sigmoid's.",
            0.5: "0.5 is σ(0), the value; the slope is σ(0)(1 − σ(0)).",
        },
    ),
    ChoiceQuestion(
        "Which function does Hugging Face's BertModel compute for hidden_act='gelu'?",
        [
            Option(
                "the tanh approximation of GELU",
                why="that is 'gelu_new' (Google's code switched to it; Hugging Face's 'gelu' did not).",
            ),
            Option(
                "ReLU, as in the Transformer's feed-forward network",
                why="myth: BERT's feed-forward layers use GELU, not ReLU.",
            ),
            Option(
                "the exact GELU, x·Φ(x) with erf",
                right=True,
                why="the tanh approximation is 'gelu_new' / 'gelu_pytorch_tanh'.",
            ),
        ],
    ),
    ChoiceQuestion(
        "In the neuron widget you switch the activation from sigmoid to ReLU. The black boundary line...",
        [
            Option(
                "stays where it is",
                right=True,
                why="for sigmoid, tanh, ReLU and GELU, f(z) > f(0) exactly where z > 0: the line is z = 0.",
            ),
            Option(
                "moves towards class 0",
                why="the line is where z = w·x + b = 0, which the activation does not change.",
            ),
            Option(
                "bends into a curve",
                why="one neuron's output depends on x only through z = w·x + b: its level sets are lines.",
            ),
        ],
    ),
]
