"""Exercises and quiz of notebook 06 (attention).

References are built from `bertlab.attention` (tested against PyTorch in tests/test_attention.py);
the solutions are in solutions/06_attention_solutions.ipynb.
"""

from __future__ import annotations

import math

import torch

from bertlab.exercises.core import Case, FunctionExercise, Mistake, OpenExercise, ValueExercise
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 06.1: attention with a padding mask ------------------------------------------------------


def _attention(q, k, v, mask=None):
    from bertlab.attention import padding_mask_to_additive, scaled_dot_product_attention

    bias = None if mask is None else padding_mask_to_additive(mask.long(), q.dtype)
    return scaled_dot_product_attention(q, k, v, bias)


def _attention_unscaled(q, k, v, mask=None):
    return _attention(q * math.sqrt(q.shape[-1]), k, v, mask)


def _attention_softmax_over_queries(q, k, v, mask=None):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask.bool()[:, None, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-2)
    return weights @ v, weights


def _attention_inputs():
    generator = torch.Generator().manual_seed(6)
    cases = []
    for batch, heads, n, d, padded in [
        (1, 1, 4, 8, False),
        (2, 3, 6, 16, True),
        (3, 2, 5, 4, True),
    ]:
        q, k, v = (torch.randn(batch, heads, n, d, generator=generator) for _ in range(3))
        if padded:
            lengths = torch.randint(1, n + 1, (batch,), generator=generator)
            mask = torch.arange(n)[None, :] < lengths[:, None]
            cases.append(Case(args=(q, k, v, mask), label=f"[{batch}, {heads}, {n}, {d}], padded"))
        else:
            cases.append(Case(args=(q, k, v), label=f"[{batch}, {heads}, {n}, {d}], no mask"))
    return cases


# --- 06.2: a sliding-window mask ---------------------------------------------------------------


def _window_mask(n: int, w: int) -> torch.Tensor:
    positions = torch.arange(n)
    return (positions[:, None] - positions[None, :]).abs() <= w


def _window_mask_strict(n: int, w: int) -> torch.Tensor:
    positions = torch.arange(n)
    return (positions[:, None] - positions[None, :]).abs() < w


def _window_mask_causal(n: int, w: int) -> torch.Tensor:
    positions = torch.arange(n)
    distance = positions[:, None] - positions[None, :]
    return (distance >= 0) & (distance <= w)


# --- 06.3: heads as a reshape ------------------------------------------------------------------


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    batch, n, hidden = x.shape
    return x.view(batch, n, num_heads, hidden // num_heads).transpose(1, 2)


def _split_heads_without_transpose(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    batch, n, hidden = x.shape
    return x.reshape(batch, num_heads, n, hidden // num_heads)


def _split_inputs():
    generator = torch.Generator().manual_seed(3)
    return [
        (torch.randn(1, 5, 12, generator=generator), 3),
        (torch.randn(2, 7, 384, generator=generator), 12),
        (torch.randn(3, 4, 64, generator=generator), 1),
    ]


EXERCISES = [
    FunctionExercise(
        "06.1",
        "Attention with a padding mask",
        hint="scores = q @ k.transpose(-1, -2) / sqrt(d_k); where mask is False set the score to "
        "-inf (or the dtype's min) for every query; softmax over the last dimension (the keys); "
        "return (weights @ v, weights). mask is [batch, n], True for real tokens.",
        reference=_attention,
        inputs=_attention_inputs,
        mistakes=[
            Mistake(_attention_unscaled, "divide the scores by sqrt(d_k), the size of one head."),
            Mistake(
                _attention_softmax_over_queries,
                "the softmax runs over the keys (the last dimension): each query's weights sum to 1.",
            ),
        ],
        ulps=16,
    ),
    FunctionExercise(
        "06.2",
        "A sliding-window mask",
        hint="Token i may see token j when |i - j| <= w: build the distance matrix from "
        "torch.arange(n) with broadcasting. Return a bool [n, n] tensor, True where allowed.",
        reference=_window_mask,
        inputs=[(1, 0), (5, 0), (6, 1), (8, 2), (4, 10)],
        mistakes=[
            Mistake(_window_mask_strict, "a window of w includes distance w itself: use <=."),
            Mistake(
                _window_mask_causal,
                "this window looks both ways, to the w tokens before and the w tokens after.",
            ),
        ],
        explanation="Longformer combines such local windows with a few global tokens, so the "
        "cost grows as n·w instead of n².",
    ),
    FunctionExercise(
        "06.3",
        "Heads as a reshape",
        hint="[batch, n, hidden] -> view as [batch, n, heads, head_dim] -> swap dimensions 1 "
        "and 2.",
        reference=_split_heads,
        inputs=_split_inputs,
        mistakes=[
            Mistake(
                _split_heads_without_transpose,
                "the shape is right but the numbers are not: a head is a slice of every token's "
                "vector, so view as [batch, n, heads, head_dim] first, then transpose.",
            ),
        ],
        ulps=0,
    ),
    ValueExercise(
        "06.4",
        "Where n² takes over in BERT-large",
        hint="A layer costs 24·n·H² FLOPs for its linear layers (with I = 4H) and 4·n²·H for the "
        "two attention products. BERT-large has H = 1024.",
        answer=6 * 1024,
        mistakes=[
            Mistake(4608, "that is BERT-base (H = 768): BERT-large has H = 1024."),
            Mistake(1024, "set 24·n·H² equal to 4·n²·H and solve for n: n = 6H."),
        ],
        explanation="n = 6H: 6,144 tokens, twelve times BERT's limit of 512.",
    ),
    OpenExercise(
        "06.5",
        "Without the scaling",
        hint="Recompute the weights of section 1 as softmax(q @ k.T) and compare the row of 'cat'.",
        model_answer="Without dividing by sqrt(32) ≈ 5.7 the scores are 5.7 times larger, so the "
        "softmax is much sharper: the largest weights of 'cat' grow and the small ones shrink "
        "towards 0. The head looks at fewer tokens, and its gradients through the softmax shrink.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "Why are the scores divided by $\\sqrt{d_k}$?",
        [
            Option("So that the weights sum to 1", why="The softmax already does that."),
            Option(
                "To save computation", why="It costs one more operation; it is about the scale."
            ),
            Option(
                "To keep their variance near 1 whatever the head size, so the softmax does not "
                "saturate",
                right=True,
                why="Yes: q·k has variance d_k for unit-variance entries; sqrt(d_k) undoes that.",
            ),
        ],
    ),
    ChoiceQuestion(
        "What weight does a `[PAD]` key get after BERT's additive mask and the softmax?",
        [
            Option(
                "A small positive number",
                why="The mask makes the score so negative that its exponential is exactly 0.",
            ),
            Option("Exactly 0", right=True, why="Yes: exp(-3.4e38) rounds to 0 in float32."),
            Option("1/n, like every other key", why="That would mean no mask at all."),
        ],
    ),
    NumberQuestion(
        "Doubling the sequence length multiplies the memory of the attention weights by how much?",
        answer=4,
        tolerance=0,
        why="The weights are n × n per head: (2n)² = 4n².",
        mistakes={2: "the weights are an n × n matrix, not a vector of n."},
    ),
    ChoiceQuestion(
        "Does BERT's self-attention use a causal mask?",
        [
            Option(
                "No: every token attends to every other; BERT masks some *input* tokens instead",
                right=True,
                why="Yes: the [MASK] tokens of pretraining are inputs; the attention is unmasked.",
            ),
            Option(
                "Yes, in its decoder",
                why="A myth: BERT has no decoder. GPT's decoder is the one with a causal mask.",
            ),
            Option(
                "Yes, during pretraining only",
                why="The attention is the same in pretraining and fine-tuning: only padding is masked.",
            ),
        ],
    ),
    ChoiceQuestion(
        "Compared with one head of size 384, twelve heads of size 32 cost...",
        [
            Option(
                "twelve times the parameters",
                why="The Q, K, V projections are the same 384 × 384 matrices.",
            ),
            Option(
                "the same parameters and FLOPs, twelve times the attention-weight memory",
                right=True,
                why="Yes: the projections are the same matrices, the products the same size; only "
                "the n × n weights are kept twelve times.",
            ),
            Option(
                "twelve times the FLOPs",
                why="12 · n · n · 32 = n · n · 384 multiply-adds either way.",
            ),
        ],
    ),
]
