"""Checkers of notebook 13 (efficiency).

The references come from the package where it has them (`distillation_loss`, the head
layout `prune_heads` cuts, `multiply_adds_per_token`), tested in tests/test_efficiency.py;
the texts are in texts/nb13.toml, the solutions in solutions/13_efficiency_solutions.ipynb.
"""

from __future__ import annotations

from functools import partial

import torch
import torch.nn.functional as F

from bertlab.exercises.kinds import Case

FP16_MAX = 65504.0
LARGEST_GRADIENT = 3.2  # the exercise's run: the largest |gradient| entry, in fp32

# --- 13.1: the largest safe loss scale ------------------------------------------------------


def largest_safe_scale() -> int:
    """The largest power of two S with LARGEST_GRADIENT x S still finite in fp16."""
    scale = 1
    while LARGEST_GRADIENT * scale * 2 <= FP16_MAX:
        scale *= 2
    return scale


# --- 13.2: symmetric int8 quantization of one row --------------------------------------------


def quantize_row(w: torch.Tensor, *, levels: int = 127, rounded: bool = True):
    """Symmetric int8: scale = max|w| / 127, q = round(w / scale) clamped to [-127, 127]; the
    slips: `levels=128` (then q reaches -128), `rounded=False` (.to(int8) cuts toward zero)."""
    scale = float(w.abs().max()) / levels
    q = torch.round(w / scale).clamp(-levels, 127) if rounded else w / scale
    return q.to(torch.int8), scale


scale_by_128 = partial(quantize_row, levels=128)
truncated = partial(quantize_row, rounded=False)


def as_integers_and_scale(quantize, w):
    q, scale = quantize(w)
    return torch.as_tensor(q).to(torch.int64), float(scale)


def weight_rows():
    generator = torch.Generator().manual_seed(13)
    rows = [torch.randn(16, generator=generator) * 0.05 for _ in range(2)]
    outlier = torch.randn(16, generator=generator) * 0.05
    outlier[3] = 0.9  # one large weight stretches the scale of its whole row
    return [Case(args=(row,), label=f"row {i}") for i, row in enumerate([*rows, outlier])]


# --- 13.3: the distillation loss -------------------------------------------------------------


def distillation_loss(student, teacher, labels, temperature, alpha):
    from bertlab.efficiency import distillation

    return distillation.distillation_loss(student, teacher, labels, temperature, alpha)


def distillation_by_hand(
    student, teacher, labels, temperature, alpha, *, t_squared=True, kl_reversed=False, cold=False
):
    """distillation_loss written out: α·T²·KL(teacher ‖ student), both at temperature T, plus
    (1 - α)·cross-entropy. The slips: no T², KL(student ‖ teacher), the teacher's logits not
    divided by T (`cold`)."""
    student_t = F.log_softmax(student / temperature, -1)
    teacher_t = F.log_softmax(teacher if cold else teacher / temperature, -1)
    pair = (teacher_t, student_t) if kl_reversed else (student_t, teacher_t)
    soft = F.kl_div(*pair, log_target=True, reduction="batchmean")
    weight = alpha * temperature**2 if t_squared else alpha
    return weight * soft + (1 - alpha) * F.cross_entropy(student, labels)


without_t_squared = partial(distillation_by_hand, t_squared=False)
reversed_kl = partial(distillation_by_hand, kl_reversed=True)
cold_teacher = partial(distillation_by_hand, cold=True)


def logit_cases():
    generator = torch.Generator().manual_seed(31)
    cases = []
    for rows, classes, temperature, alpha in [(4, 2, 1.0, 0.5), (6, 3, 2.0, 0.5), (5, 4, 4.0, 0.9)]:
        student = torch.randn(rows, classes, generator=generator) * 2
        teacher = torch.randn(rows, classes, generator=generator) * 3
        labels = torch.randint(0, classes, (rows,), generator=generator)
        label = f"{rows} texts, {classes} classes, T = {temperature}, alpha = {alpha}"
        cases.append(Case(args=(student, teacher, labels, temperature, alpha), label=label))
    return cases


# --- 13.4: which features belong to the heads you keep ---------------------------------------


def _features_of(heads, head_dim: int) -> torch.Tensor:
    """The features of these heads: head h owns [h * head_dim, (h + 1) * head_dim)."""
    return torch.cat([torch.arange(h * head_dim, (h + 1) * head_dim) for h in heads])


def kept_features(num_heads: int, head_dim: int, remove) -> torch.Tensor:
    return _features_of([h for h in range(num_heads) if h not in set(remove)], head_dim)


def interleaved(num_heads: int, head_dim: int, remove) -> torch.Tensor:
    kept = [h for h in range(num_heads) if h not in set(remove)]
    return torch.tensor(sorted(h + k * num_heads for h in kept for k in range(head_dim)))


def removed_instead(num_heads: int, head_dim: int, remove) -> torch.Tensor:
    return _features_of(sorted(remove), head_dim)


HEADS_TO_REMOVE = [
    (12, 32, [0]),
    (12, 32, [3, 7, 11]),
    Case(args=(4, 8, [1, 2]), label="4 heads of 8"),
]


# --- 13.5: what pruning half the heads can buy -----------------------------------------------


def half_heads_speedup(length=32, hidden=384, ffn=1536, *, ffn_matrices: int = 2) -> float:
    """Multiply-adds per token of a MiniLM layer with 12 heads over one with 6 (of 32 dims)
    (the slip `ffn_matrices=1`: the feed-forward network counted as one matrix)."""

    def per_token(width: int) -> int:  # width: heads kept x head size
        projections = 3 * hidden * width + width * hidden  # Q, K, V and the output projection
        return projections + ffn_matrices * hidden * ffn + 2 * length * width

    return per_token(hidden) / per_token(hidden // 2)


one_ffn_matrix = partial(half_heads_speedup, ffn_matrices=1)
