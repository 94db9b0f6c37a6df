"""Checkers of notebook 08b (what the attention heads do).

References come from `bertlab.viz.head_roles` (tested in tests/test_viz.py); the texts are in
texts/nb08b.toml, the solutions in solutions/08b_attention_heads_solutions.ipynb.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from bertlab.exercises.kinds import Case


def _random_attention(heads: int, n: int, seed: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    scores = generator.normal(size=(heads, n, n)) * 2
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return (weights / weights.sum(-1, keepdims=True)).astype(np.float32)


def attention_inputs():
    previous = np.eye(5, k=-1, dtype=np.float32)
    previous[0, 0] = 1.0  # [CLS] has no previous token: it looks at itself
    return [
        Case(args=(_random_attention(3, 6, 0),), label="3 random heads, 6 tokens"),
        Case(args=(_random_attention(12, 9, 1),), label="12 random heads, 9 tokens"),
        Case(args=(previous[None],), label="a perfect previous-token head"),
    ]


# --- 08b.1: the previous-token score -----------------------------------------------------------


def previous_token_scores(weights: np.ndarray) -> np.ndarray:
    positions = np.arange(1, weights.shape[-1])
    return weights[:, positions, positions - 1].mean(-1)


def next_token_scores(weights: np.ndarray) -> np.ndarray:
    positions = np.arange(weights.shape[-1] - 1)
    return weights[:, positions, positions + 1].mean(-1)


def wrapped_around(weights: np.ndarray) -> np.ndarray:
    positions = np.arange(weights.shape[-1])
    return weights[:, positions, positions - 1].mean(-1)  # token 0 "looks back" at the last one


# --- 08b.2: attention entropy ------------------------------------------------------------------


def entropy(weights: np.ndarray) -> np.ndarray:
    from bertlab.viz.head_roles import attention_entropy

    return attention_entropy(weights)


def entropy_in_bits(weights: np.ndarray) -> np.ndarray:
    return entropy(weights) / np.log(2)


def entropy_nan_at_zero(weights: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -(weights * np.log(weights)).sum(-1)


def entropy_inputs():
    uniform = np.full((1, 4, 4), 0.25, np.float32)
    return [*(case.args for case in attention_inputs()), (uniform,)]


# --- 08b.3: word-level attention ---------------------------------------------------------------


def word_attention(weights: np.ndarray, word_ids) -> np.ndarray:
    from bertlab.viz import head_roles

    return head_roles.word_attention(weights, word_ids)


def word_attention_by_hand(weights, word_ids, *, keys: str = "sum", queries: str = "mean"):
    """word_attention written out: attention to a word pools its pieces as keys by `keys`, from
    a word pools them as queries by `queries` ("sum" or "mean"; Clark et al.: sum, then mean)."""
    ids = np.array([-1 if w is None else w for w in word_ids])
    one_hot = (ids[:, None] == np.arange(ids.max() + 1)[None, :]).astype(weights.dtype)
    pool = {"sum": one_hot, "mean": one_hot / one_hot.sum(0, keepdims=True)}
    return np.swapaxes(np.swapaxes(weights @ pool[keys], -1, -2) @ pool[queries], -1, -2)


word_attention_mean_keys = partial(word_attention_by_hand, keys="mean")
word_attention_sum_queries = partial(word_attention_by_hand, queries="sum")


def word_inputs():
    return [
        Case(
            args=(_random_attention(2, 7, 3), [None, 0, 1, 1, 1, 2, None]),
            label="[CLS] the un ##aff ##able cat [SEP]",
        ),
        Case(args=(_random_attention(4, 5, 4), [None, 0, 0, 1, None]), label="two words"),
    ]
