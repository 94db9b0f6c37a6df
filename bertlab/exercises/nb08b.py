"""Exercises and quiz of notebook 08b (what the attention heads do).

References come from `bertlab.viz.head_roles` (tested in tests/test_viz.py); the solutions are
in solutions/08b_attention_heads_solutions.ipynb.
"""

from __future__ import annotations

import numpy as np

from bertlab.exercises.core import Case, FunctionExercise, Mistake, OpenExercise
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option


def _random_attention(heads: int, n: int, seed: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    scores = generator.normal(size=(heads, n, n)) * 2
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


def _attention_inputs():
    previous = np.eye(5, k=-1, dtype=np.float32)
    previous[0, 0] = 1.0  # [CLS] has no previous token: it looks at itself
    return [
        Case(args=(_random_attention(3, 6, 0),), label="3 random heads, 6 tokens"),
        Case(args=(_random_attention(12, 9, 1),), label="12 random heads, 9 tokens"),
        Case(args=(previous[None],), label="a perfect previous-token head"),
    ]


# --- 08b.1: the previous-token score -----------------------------------------------------------


def _previous_token_scores(weights: np.ndarray) -> np.ndarray:
    positions = np.arange(1, weights.shape[-1])
    return weights[:, positions, positions - 1].mean(-1)


def _next_token_scores(weights: np.ndarray) -> np.ndarray:
    positions = np.arange(weights.shape[-1] - 1)
    return weights[:, positions, positions + 1].mean(-1)


def _wrapped_around(weights: np.ndarray) -> np.ndarray:
    positions = np.arange(weights.shape[-1])
    return weights[:, positions, positions - 1].mean(-1)  # token 0 "looks back" at the last one


# --- 08b.2: attention entropy ------------------------------------------------------------------


def _entropy(weights: np.ndarray) -> np.ndarray:
    from bertlab.viz.head_roles import attention_entropy

    return attention_entropy(weights)


def _entropy_in_bits(weights: np.ndarray) -> np.ndarray:
    return _entropy(weights) / np.log(2)


def _entropy_nan_at_zero(weights: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(weights * np.log(weights)).sum(-1)


# --- 08b.3: word-level attention ---------------------------------------------------------------


def _word_attention(weights: np.ndarray, word_ids) -> np.ndarray:
    from bertlab.viz.head_roles import word_attention

    return word_attention(weights, word_ids)


def _word_attention_mean_keys(weights: np.ndarray, word_ids) -> np.ndarray:
    ids = np.array([-1 if w is None else w for w in word_ids])
    one_hot = (ids[:, None] == np.arange(ids.max() + 1)[None, :]).astype(weights.dtype)
    means = one_hot / one_hot.sum(0, keepdims=True)
    return np.swapaxes(np.swapaxes(weights @ means, -1, -2) @ means, -1, -2)


def _word_attention_sum_queries(weights: np.ndarray, word_ids) -> np.ndarray:
    ids = np.array([-1 if w is None else w for w in word_ids])
    one_hot = (ids[:, None] == np.arange(ids.max() + 1)[None, :]).astype(weights.dtype)
    return np.swapaxes(np.swapaxes(weights @ one_hot, -1, -2) @ one_hot, -1, -2)


def _word_inputs():
    return [
        Case(
            args=(_random_attention(2, 7, 3), [None, 0, 1, 1, 1, 2, None]),
            label="[CLS] the un ##aff ##able cat [SEP]",
        ),
        Case(args=(_random_attention(4, 5, 4), [None, 0, 0, 1, None]), label="two words"),
    ]


EXERCISES = [
    FunctionExercise(
        "08b.1",
        "The previous-token score",
        hint="For a [heads, n, n] array: the weight of query i on key i - 1, for i = 1 .. n-1 "
        "(token 0 has no previous token), averaged per head. Return a [heads] array.",
        reference=_previous_token_scores,
        inputs=_attention_inputs,
        mistakes=[
            Mistake(_next_token_scores, "that is the weight on the NEXT token (i + 1)."),
            Mistake(
                _wrapped_around,
                "token 0 has no previous token: with index -1 it reads the last column instead.",
            ),
        ],
        ulps=16,
    ),
    FunctionExercise(
        "08b.2",
        "Attention entropy",
        hint="-sum(w · ln w) over each row, in nats (natural log), counting 0 · ln 0 as 0. Return "
        "an array with the last dimension summed away.",
        reference=_entropy,
        inputs=[
            *(case.args for case in _attention_inputs()),
            (np.full((1, 4, 4), 0.25, np.float32),),
        ],
        mistakes=[
            Mistake(_entropy_in_bits, "use the natural logarithm (nats), as the notebook does."),
            Mistake(_entropy_nan_at_zero, "0 · ln 0 must count as 0, not NaN: mask the zeros."),
        ],
        ulps=64,
    ),
    FunctionExercise(
        "08b.3",
        "From word pieces to words",
        hint="Attention TO a word: sum over its pieces (keys). Attention FROM a word: mean over "
        "its pieces (queries). Drop [CLS]/[SEP] (word id None). Return [..., words, words].",
        reference=_word_attention,
        inputs=_word_inputs,
        mistakes=[
            Mistake(
                _word_attention_mean_keys,
                "attention to a word adds up over its pieces (a word split in three gets all three).",
            ),
            Mistake(
                _word_attention_sum_queries,
                "attention from a word is the mean over its pieces, so each row still sums to at most 1.",
            ),
        ],
        ulps=16,
        explanation="Clark et al.'s convention: rows of the word-level matrix still sum to at most 1.",
    ),
    OpenExercise(
        "08b.4",
        "Punctuation heads",
        hint="stats['punctuation'] holds each head's mean attention to punctuation tokens; plot it "
        "with plot_head_scores and look at the best head on a sentence.",
        model_answer="Some heads put a large share of their weight on commas and periods, most of "
        "it on the sentence's final punctuation mark, much as others park it on [CLS] or "
        "[SEP]: Clark et al. found the "
        "same in BERT-base and read it as a no-op (a place to put attention when the head has "
        "nothing to gather). Checking means comparing with a uniform baseline and looking at which "
        "tokens attend there, as the notebook did for [CLS].",
    ),
    OpenExercise(
        "08b.5",
        "Heads before pretraining",
        hint="BertModel(BertConfig.from_pretrained(minilm_dir(), attn_implementation='explicit')) "
        "has MiniLM's shape with random weights: collect its attention on the same sentences and "
        "compute head_statistics.",
        model_answer="No: with BERT's initialisation (weights drawn with std 0.02) the scores are "
        "tiny, the softmax is nearly uniform, and every head gives each token about 1/n, so the "
        "previous-token score of every head is close to the uniform value and no [CLS] sink "
        "exists. Every pattern in the notebook was learnt in pretraining.",
    ),
]

QUIZ = [
    ChoiceQuestion(
        "In MiniLM's middle layers, where does a large part of the attention go?",
        [
            Option(
                "Evenly over the meaningful words",
                why="A myth: the scores show a sink, not an even spread over content words.",
            ),
            Option("To [SEP]", why="That is BERT-base's sink (Clark et al.); MiniLM uses [CLS]."),
            Option(
                "To [CLS]",
                right=True,
                why="Yes: 43-50% per layer in layers 1-4, against 4% for uniform attention.",
            ),
        ],
    ),
    NumberQuestion(
        "What is the entropy, in nats, of a head that attends uniformly to 8 tokens?",
        answer=float(np.log(8)),
        tolerance=0.01,
        why="ln 8 ≈ 2.08: the largest entropy possible over 8 tokens.",
        mistakes={3.0: "that is log2(8), in bits: the notebook uses natural logarithms."},
    ),
    ChoiceQuestion(
        "Why score heads over hundreds of sentences instead of looking at one example?",
        [
            Option(
                "The views need many sentences to draw", why="They draw one sentence at a time."
            ),
            Option(
                "One sentence can show a pattern by chance; an average over many cannot",
                right=True,
                why="Yes: and a baseline (uniform, fixed offset) says whether the average is special.",
            ),
            Option(
                "Attention changes every time the model runs",
                why="In eval mode it is deterministic.",
            ),
        ],
    ),
    ChoiceQuestion(
        "What do attention weights tell you?",
        [
            Option(
                "Where information can flow in one layer, not what the model uses for its decision",
                right=True,
                why="Yes: treat them as clues to test, not as explanations.",
            ),
            Option(
                "Which words the model's prediction depends on",
                why="Values, later layers and residual paths also matter; a weight is not an attribution.",
            ),
            Option("The meaning of each token", why="They are mixing weights, not meanings."),
        ],
    ),
]
