"""Checkers of notebook 01 (neurons and activations).

Each checker runs the learner's answer next to a reference written here and compares; the texts
(hints, the why of each wrong answer, the quiz) are in texts/nb01.toml, and the solutions in
solutions/01_neurons_solutions.ipynb.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from bertlab import functional as bf
from bertlab.exercises.kinds import Case

# --- 01.1: tanh from the sigmoid ------------------------------------------------------------


def tanh_from_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return 2 * bf.sigmoid(2 * x) - 1


def tanh_half_argument(x: torch.Tensor) -> torch.Tensor:
    return 2 * bf.sigmoid(x) - 1


def sigmoid_unshifted(x: torch.Tensor) -> torch.Tensor:
    return bf.sigmoid(2 * x)


def activation_inputs():
    generator = torch.Generator().manual_seed(1)
    return [
        Case(args=(torch.linspace(-6, 6, 121, dtype=torch.float64),), label="x = linspace(-6, 6)"),
        Case(args=(torch.randn(50, generator=generator) * 3,), label="50 float32 values"),
        Case(
            args=(torch.tensor([-30.0, -1e-3, 0.0, 1e-3, 30.0]),), label="[-30, -1e-3, 0, 1e-3, 30]"
        ),
    ]


# --- 01.2: GELU's derivative ------------------------------------------------------------------


def normal_cdf(x: torch.Tensor) -> torch.Tensor:
    """Φ(x); GELU(x) = x·Φ(x)."""
    return 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def normal_pdf(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = Φ'(x)."""
    return torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def gelu_derivative(x: torch.Tensor) -> torch.Tensor:
    return normal_cdf(x) + x * normal_pdf(x)


def gelu_derivative_missing_x(x: torch.Tensor) -> torch.Tensor:
    return normal_cdf(x) + normal_pdf(x)


# --- 01.3: GELU's minimum ---------------------------------------------------------------------


def gelu_minimum() -> tuple[float, float]:
    """Newton's method on GELU' = Φ + xφ = 0, from x = -1 (GELU'' = φ(x)(2 - x²))."""
    x = torch.tensor(-1.0, dtype=torch.float64)
    for _ in range(50):
        x = x - bf.gelu_grad(x) / (normal_pdf(x) * (2 - x * x))
    return round(x.item(), 6), round(bf.gelu(x).item(), 6)


def gelu_at_minus_one() -> tuple[float, float]:
    return -1.0, round(bf.gelu(torch.tensor(-1.0)).item(), 6)


# --- 01.4: collapse two linear layers ---------------------------------------------------------


def collapse(first: nn.Linear, second: nn.Linear) -> tuple[torch.Tensor, torch.Tensor]:
    return second.weight @ first.weight, second.weight @ first.bias + second.bias


def collapse_biases_added(first: nn.Linear, second: nn.Linear):
    return second.weight @ first.weight, first.bias + second.bias


def collapse_second_bias_only(first: nn.Linear, second: nn.Linear):
    return second.weight @ first.weight, second.bias


def call_collapse(answer, first: nn.Linear, second: nn.Linear):
    with torch.no_grad():
        weight, bias = answer(first, second)
    return torch.as_tensor(weight).detach(), torch.as_tensor(bias).detach()


def linear_pairs():
    torch.manual_seed(0)  # nn.Linear draws its initial weights from torch's global generator
    sizes = [(3, 4, 2), (5, 5, 5), (2, 8, 1)]
    return [
        Case(args=(nn.Linear(a, b), nn.Linear(b, c)), label=f"Linear({a}, {b}), Linear({b}, {c})")
        for a, b, c in sizes
    ]


# --- 01.5: XOR --------------------------------------------------------------------------------


def best_xor_accuracy() -> float:
    """Search a grid of neurons (directions and offsets): no line gets all four XOR points."""
    points = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    labels = torch.tensor([0, 0, 1, 1])
    angles = torch.linspace(0, 2 * math.pi, 721)
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)
    offsets = torch.linspace(-2, 2, 401)
    z = (points @ directions.T).unsqueeze(-1) + offsets  # (4 points, angles, offsets)
    correct = ((z > 0).long() == labels[:, None, None]).float().mean(0)
    return correct.max().item()
