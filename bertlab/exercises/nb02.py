"""Exercises and quiz of notebook 02 (losses).

Each checker runs the learner's answer next to a reference written here (or PyTorch's) and
compares; the solutions are in solutions/02_losses_solutions.ipynb.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from bertlab import functional as bf
from bertlab.exercises.core import Case, Computed, FunctionExercise, Mistake, ValueExercise
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 02.1: stable binary cross-entropy --------------------------------------------------------


def _bce_with_logits(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))


def _bce_naive(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    p = torch.sigmoid(z)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


def _bce_without_abs(z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z))


def _bce_inputs():
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


def _cross_entropy_grad(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    onehot = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return (bf.softmax(logits) - onehot) / len(labels)


def _cross_entropy_grad_summed(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    onehot = F.one_hot(labels, logits.shape[-1]).to(logits.dtype)
    return bf.softmax(logits) - onehot


def _softmax_over_batch(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return bf.softmax(logits) / len(labels)


def _classification_inputs():
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


def _first_overflow() -> dict[str, int]:
    found = {}
    for name in ("float32", "float16", "bfloat16"):
        dtype = getattr(torch, name)
        n = 1
        while torch.isfinite(torch.exp(torch.tensor(float(n), dtype=dtype))):
            n += 1
        found[name] = n
    return found


# --- 02.4: label smoothing --------------------------------------------------------------------


def _smoothed_cross_entropy(logits, labels, eps):
    log_p = bf.log_softmax(logits)
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)
    return ((1 - eps) * nll - eps * log_p.mean(dim=1)).mean()


def _smoothing_over_other_classes(logits, labels, eps):
    log_p = bf.log_softmax(logits)
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)
    others = -(log_p.sum(dim=1) + nll) / (logits.shape[1] - 1)  # mean -log p over k != y
    return ((1 - eps) * nll + eps * others).mean()


def _no_smoothing(logits, labels, eps):
    return F.cross_entropy(logits, labels)


def _torch_label_smoothing(logits, labels, eps):
    return F.cross_entropy(logits, labels, label_smoothing=eps)


def _smoothing_inputs():
    cases = []
    for case, eps in zip(_classification_inputs(), (0.1, 0.2, 0.05)):
        cases.append(Case(args=(*case.args, eps), label=f"{case.label}, eps {eps}"))
    return cases


# --- 02.5: the floor of a double softmax ------------------------------------------------------


def _double_softmax_floor(classes: int = 3) -> float:
    """-log softmax(p)_y at its best, p one-hot: log(1 + (C - 1)/e)."""
    best = F.one_hot(torch.tensor([0]), classes).double()  # a perfect, certain model
    return F.cross_entropy(best, torch.tensor([0])).item()


EXERCISES = [
    FunctionExercise(
        "02.1",
        "Stable binary cross-entropy",
        hint="max(z, 0) − z·y + log(1 + e^{−|z|}): the exponent −|z| is never positive.",
        reference=_bce_with_logits,
        inputs=_bce_inputs,
        mistakes=[
            Mistake(_bce_naive, "σ(z) rounds to 0 or 1 for large |z|, and log(0) is −inf."),
            Mistake(_bce_without_abs, "e^{−z} overflows for z = −1000: use e^{−|z|}."),
        ],
        explanation="The form inside F.binary_cross_entropy_with_logits: no exp overflows, no log sees 0.",
    ),
    FunctionExercise(
        "02.2",
        "The gradient of cross-entropy",
        hint="For one example ∂CE/∂z_k = softmax(z)_k − [k = y]; the mean over N divides by N.",
        reference=_cross_entropy_grad,
        inputs=_classification_inputs,
        mistakes=[
            Mistake(_cross_entropy_grad_summed, "the loss is a mean over the batch: divide by N."),
            Mistake(
                _softmax_over_batch, "subtract the one-hot of the label: softmax(z) − onehot(y)."
            ),
        ],
        explanation="The same softmax − onehot drives every BERT head's training.",
    ),
    ValueExercise(
        "02.3",
        "Where exp overflows",
        hint="Loop n = 1, 2, ... until torch.exp(torch.tensor(float(n), dtype=...)) is inf.",
        answer=Computed(_first_overflow),
        mistakes=[
            Mistake(
                {"float32": 89, "float16": 12, "bfloat16": 12},
                "bfloat16 keeps float32's 8 exponent bits: it overflows where float32 does.",
            ),
            Mistake(
                {"float32": 88, "float16": 11, "bfloat16": 88},
                "e^88 and e^11 are still finite; the first infinite ones come one later.",
            ),
        ],
        explanation=(
            "float32 and bfloat16 share 8 exponent bits (largest ~3.4e38 = e^88.7); float16 has 5 "
            "(largest 65,504 = e^11.09). That narrow range is also why float16 training needs loss "
            "scaling (small gradients underflow to 0) and bfloat16 training usually does not."
        ),
    ),
    FunctionExercise(
        "02.4",
        "Label smoothing",
        hint="CE with a soft target q is −Σ_k q_k log p_k; with q = (1−ε)onehot + ε/C it splits in two.",
        reference=_torch_label_smoothing,
        inputs=_smoothing_inputs,
        mistakes=[
            Mistake(
                _smoothing_over_other_classes,
                "the ε/C goes to every class, the true one included, not to the C − 1 others.",
            ),
            Mistake(_no_smoothing, "that ignores eps: the target must be (1−ε)·onehot + ε/C."),
        ],
        explanation="(1 − ε)·CE + ε·mean_k(−log p_k), exactly F.cross_entropy(label_smoothing=ε).",
    ),
    ValueExercise(
        "02.5",
        "The floor of a double softmax",
        hint="The best the probabilities can be is one-hot; apply softmax to (1, 0, 0) and take −log.",
        answer=Computed(_double_softmax_floor),
        abs_tol=1e-3,
        mistakes=[
            Mistake(0.0, "a double softmax never reaches 0: softmax(1, 0, 0) is far from one-hot."),
            Mistake(
                Computed(lambda: math.log(3)),
                "log 3 is a uniform guess; a certain, right model does better, but not down to 0.",
            ),
        ],
        explanation="log(1 + (C − 1)/e) ≈ 0.551 for C = 3: the gradient keeps pushing, forever.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "What does F.cross_entropy expect as its input?",
        [
            Option(
                "probabilities from softmax",
                why="myth: that applies softmax twice; the loss can then never approach 0.",
            ),
            Option(
                "log-probabilities from log_softmax",
                why="that is F.nll_loss's input; cross_entropy = nll_loss(log_softmax(z)).",
            ),
            Option("raw logits", right=True, why="it applies log-softmax itself, stably."),
        ],
    ),
    NumberQuestion(
        "A 5-class classifier that gives every class the same probability: what is its "
        "cross-entropy (natural log)? Two decimals.",
        answer=math.log(5),
        tolerance=0.01,
        why="−log(1/5) = log 5 ≈ 1.61: the loss of an untrained classifier, a useful baseline.",
        mistakes={0.2: "0.2 is the probability of the right class; the loss is −log of it."},
    ),
    ChoiceQuestion(
        "Where do BERT's fine-tuning tasks use the label −100 (ignore this position)?",
        [
            Option(
                "QA: the question tokens",
                why="QA has one start and one end index per window, each a cross-entropy over all "
                "positions, question included.",
            ),
            Option(
                "NER: padding and the second and later WordPieces of each word",
                right=True,
                why="one label per word, on its first piece; the rest are ignored.",
            ),
            Option(
                "sentence classification: every token except [CLS]",
                why="classification has one label per sequence, not per token: nothing to ignore.",
            ),
        ],
    ),
    ChoiceQuestion(
        "Why does a stable softmax subtract the largest logit first?",
        [
            Option(
                "so that no exp overflows; softmax is unchanged by the shift",
                right=True,
                why="e^{z−m} ≤ 1, and the e^{−m} cancels between numerator and denominator.",
            ),
            Option(
                "so that the probabilities sum to 1",
                why="dividing by the sum does that, shifted or not.",
            ),
            Option(
                "to make the model more confident",
                why="the shift changes no probability at all.",
            ),
        ],
    ),
]
