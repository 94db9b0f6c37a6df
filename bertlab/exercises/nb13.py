"""Exercises and quiz of notebook 13 (efficiency).

The references come from the package where it has them (`distillation_loss`, the head
layout `prune_heads` cuts, `multiply_adds_per_token`), tested in tests/test_efficiency.py;
the solutions are in solutions/13_efficiency_solutions.ipynb.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

FP16_MAX = 65504.0
LARGEST_GRADIENT = 3.2  # the exercise's run: the largest |gradient| entry, in fp32

# --- 13.1: the largest safe loss scale ------------------------------------------------------


def _largest_safe_scale() -> int:
    """The largest power of two S with LARGEST_GRADIENT x S still finite in fp16."""
    scale = 1
    while LARGEST_GRADIENT * scale * 2 <= FP16_MAX:
        scale *= 2
    return scale


# --- 13.2: symmetric int8 quantization of one row --------------------------------------------


def _quantize_row(w: torch.Tensor) -> tuple[torch.Tensor, float]:
    scale = float(w.abs().max()) / 127
    return torch.round(w / scale).clamp(-127, 127).to(torch.int8), scale


def _scale_by_128(w: torch.Tensor) -> tuple[torch.Tensor, float]:
    scale = float(w.abs().max()) / 128
    return torch.round(w / scale).clamp(-128, 127).to(torch.int8), scale


def _truncated(w: torch.Tensor) -> tuple[torch.Tensor, float]:
    scale = float(w.abs().max()) / 127
    return (w / scale).to(torch.int8), scale


def _as_integers_and_scale(quantize, w):
    q, scale = quantize(w)
    return torch.as_tensor(q).to(torch.int64), float(scale)


def _weight_rows():
    generator = torch.Generator().manual_seed(13)
    rows = [torch.randn(16, generator=generator) * 0.05 for _ in range(2)]
    outlier = torch.randn(16, generator=generator) * 0.05
    outlier[3] = 0.9  # one large weight stretches the scale of its whole row
    return [Case(args=(row,), label=f"row {i}") for i, row in enumerate([*rows, outlier])]


# --- 13.3: the distillation loss -------------------------------------------------------------


def _distillation_loss(student, teacher, labels, temperature, alpha):
    from bertlab.efficiency.distillation import distillation_loss

    return distillation_loss(student, teacher, labels, temperature, alpha)


def _without_t_squared(student, teacher, labels, temperature, alpha):
    soft = F.kl_div(
        F.log_softmax(student / temperature, -1),
        F.log_softmax(teacher / temperature, -1),
        log_target=True,
        reduction="batchmean",
    )
    return alpha * soft + (1 - alpha) * F.cross_entropy(student, labels)


def _reversed_kl(student, teacher, labels, temperature, alpha):
    soft = F.kl_div(
        F.log_softmax(teacher / temperature, -1),
        F.log_softmax(student / temperature, -1),
        log_target=True,
        reduction="batchmean",
    )
    return alpha * temperature**2 * soft + (1 - alpha) * F.cross_entropy(student, labels)


def _cold_teacher(student, teacher, labels, temperature, alpha):
    return _distillation_loss(student, teacher * temperature, labels, temperature, alpha)


def _logit_cases():
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


def _kept_features(num_heads: int, head_dim: int, remove) -> torch.Tensor:
    kept = [h for h in range(num_heads) if h not in set(remove)]
    return torch.cat([torch.arange(h * head_dim, (h + 1) * head_dim) for h in kept])


def _interleaved(num_heads: int, head_dim: int, remove) -> torch.Tensor:
    kept = [h for h in range(num_heads) if h not in set(remove)]
    return torch.tensor(sorted(h + k * num_heads for h in kept for k in range(head_dim)))


def _removed_instead(num_heads: int, head_dim: int, remove) -> torch.Tensor:
    return torch.cat([torch.arange(h * head_dim, (h + 1) * head_dim) for h in sorted(remove)])


# --- 13.5: what pruning half the heads can buy -----------------------------------------------


def _half_heads_speedup(length: int = 32, hidden: int = 384, ffn: int = 1536) -> float:
    """Multiply-adds per token of a MiniLM layer with 12 heads over one with 6 (of 32 dims)."""

    def per_token(width: int) -> int:  # width: heads kept x head size
        projections = 3 * hidden * width + width * hidden  # Q, K, V and the output projection
        return projections + 2 * hidden * ffn + 2 * length * width

    return per_token(hidden) / per_token(hidden // 2)


EXERCISES = [
    ValueExercise(
        "13.1",
        "The largest safe loss scale",
        hint="The scaled gradients must stay below fp16's largest number, and the scale is a "
        "power of two (why?).",
        answer=Computed(_largest_safe_scale),
        mistakes=[
            Mistake(32768, "3.2 x 32768 is above 65504: that gradient becomes inf in fp16."),
            Mistake(65536, "GradScaler starts there, and backs off after the first overflow."),
            Mistake(
                20470,
                "65504 / 3.2 is the limit, but a scaler uses powers of two: multiplying by 2^k "
                "only changes the exponent, so scaling back is exact.",
            ),
        ],
        explanation="3.2 x 2^14 = 52,429 fits under 65,504; one more doubling overflows.",
    ),
    FunctionExercise(
        "13.2",
        "Symmetric int8 quantization of a weight row",
        hint="scale = max|w| / 127; q = round(w / scale), clamped to [-127, 127], as int8.",
        reference=_quantize_row,
        inputs=_weight_rows,
        call=_as_integers_and_scale,
        mistakes=[
            Mistake(_scale_by_128, "divide by 127: with 128 the largest weight needs q = 128."),
            Mistake(_truncated, "round to the nearest integer; .to(torch.int8) cuts toward zero."),
        ],
        explanation="Dequantized, q x scale is within scale / 2 of w; one outlier stretches the "
        "scale of its row, which is why PyTorch keeps one scale per output row.",
    ),
    FunctionExercise(
        "13.3",
        "The distillation loss",
        hint="F.kl_div(log p_student,T, log p_teacher,T, log_target=True, reduction='batchmean'), "
        "times alpha x T², plus (1 - alpha) x the cross-entropy on the labels.",
        reference=_distillation_loss,
        inputs=_logit_cases,
        mistakes=[
            Mistake(
                _without_t_squared, "multiply the soft term by T²: its gradients shrink like 1/T²."
            ),
            Mistake(
                _reversed_kl, "KL(teacher ‖ student): the teacher's distribution is the target."
            ),
            Mistake(
                _cold_teacher,
                "divide the teacher's logits by T too: both distributions are softened.",
            ),
        ],
        explanation="bertlab.efficiency.distillation.distillation_loss is the same formula.",
    ),
    FunctionExercise(
        "13.4",
        "Which features belong to the heads you keep",
        hint="split_heads views [batch, seq, hidden] as [batch, seq, heads, head_dim]: head h "
        "owns a contiguous block of head_dim features.",
        reference=_kept_features,
        inputs=[
            (12, 32, [0]),
            (12, 32, [3, 7, 11]),
            Case(args=(4, 8, [1, 2]), label="4 heads of 8"),
        ],
        mistakes=[
            Mistake(
                _interleaved, "the heads are contiguous blocks, not every num_heads-th feature."
            ),
            Mistake(_removed_instead, "return the features to keep, not those to remove."),
        ],
        explanation="These are the rows prune_heads keeps in Q, K and V, and the columns it keeps "
        "in the output projection.",
    ),
    ValueExercise(
        "13.5",
        "What pruning half the heads can buy",
        hint="Per token and layer: Q, K, V and the output projection (4 x 384 x width), the FFN "
        "(2 x 384 x 1536) and attention's two products with the other tokens (2 x length x width).",
        answer=Computed(_half_heads_speedup),
        abs_tol=0.005,
        mistakes=[
            Mistake(
                2.0,
                "only attention shrinks; the feed-forward network, two thirds of the "
                "work, stays as it is.",
            ),
            Mistake(
                Computed(lambda: _half_heads_speedup(ffn=1536 // 2)),
                "the feed-forward network has two matrices, 384 to 1536 and back.",
            ),
        ],
        explanation="About 1.2x: an upper bound on the speed-up, before the LayerNorms, GELUs and "
        "Python overhead that pruning does not shrink.",
    ),
    OpenExercise(
        "13.6",
        "When do zeros make a model faster?",
        hint="What does a dense matrix-multiply kernel do with a 0? What would have to change?",
        model_answer=(
            "A dense kernel multiplies every entry, zero or not, so unstructured sparsity saves "
            "nothing (measured in the notebook). Zeros pay only with a format and a kernel that "
            "skip them: sparse formats (CSR) with kernels that win at very high sparsity (often "
            "above 90%, and rarely at BERT's 50-70% on a CPU), or structure the hardware knows: "
            "2:4 sparsity (two zeros in every four weights) runs on NVIDIA Ampere's sparse "
            "tensor cores at up to twice the dense rate. Removing whole rows, columns, heads or "
            "layers (structured pruning) makes the matrices smaller, which every kernel exploits."
        ),
    ),
]

QUIZ = [
    ChoiceQuestion(
        "What is mixed-precision training?",
        [
            Option(
                "arithmetic that mixes floating-point and integer numbers",
                why="myth 11: every tensor stays a float; integers belong to int8 quantization.",
            ),
            Option(
                "matrix products in fp16 or bf16 while fp32 master weights receive the updates",
                right=True,
                why="autocast picks the dtype per operation; the optimizer updates fp32 weights.",
            ),
            Option(
                "half of the layers in fp16, the other half in fp32",
                why="the split is by operation (products vs reductions), not by layer.",
            ),
        ],
    ),
    NumberQuestion(
        "How many exponent bits does bfloat16 have?",
        answer=8,
        tolerance=0,
        why="as many as fp32, so bf16 covers fp32's range, with only 7 mantissa bits.",
        mistakes={5: "5 is fp16's exponent, hence its range of about 6e-8 to 65504."},
    ),
    ChoiceQuestion(
        "Why does fp16 training need a loss scale and bf16 training not?",
        [
            Option(
                "bf16 has fp32's exponent range, so small gradients do not underflow",
                right=True,
                why="fp16's smallest subnormal is 2^-24 ≈ 6e-8; bf16 goes down to about 1e-40.",
            ),
            Option(
                "bf16 has more mantissa bits than fp16",
                why="it has fewer (7 vs 10): bf16 is less precise, but has the range.",
            ),
            Option(
                "bf16 is only used for inference",
                why="bf16 autocast trains too (`bertlab finetune --precision bf16`).",
            ),
        ],
    ),
    ChoiceQuestion(
        "In dynamic int8 quantization, when are the activations quantized?",
        [
            Option(
                "at run time, with a scale measured on each batch",
                right=True,
                why="that is what 'dynamic' means; only the weights are quantized ahead of time.",
            ),
            Option(
                "ahead of time, with scales from calibration data",
                why="that is static quantization, which needs representative inputs.",
            ),
            Option(
                "never: only the weights are int8",
                why="then the product could not run on int8 units.",
            ),
        ],
    ),
    NumberQuestion(
        "Gradient accumulation over 4 micro-batches of 8 examples gives the gradient of a batch of "
        "how many examples?",
        answer=32,
        tolerance=0,
        why="4 x 8: each micro-batch's loss is divided by 4 before backward, so the sum is the mean.",
        mistakes={8: "8 is one micro-batch; the step sees all four."},
    ),
]
