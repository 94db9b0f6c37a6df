"""Checkers of notebook 12 (question answering).

The checkers compare with the package (`bertlab.metrics.squad`) or with a reference written here;
the texts are in texts/nb12.toml, the solutions in solutions/12_question_answering_solutions.ipynb.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from bertlab.exercises.kinds import Case

# --- 12.1: how many windows -----------------------------------------------------------------------

CONTEXT_PIECES, QUESTION_PIECES, MAX_LENGTH, DOC_STRIDE = 1000, 12, 384, 128


def windows(
    context: int = CONTEXT_PIECES,
    question: int = QUESTION_PIECES,
    max_length: int = MAX_LENGTH,
    shared: int = DOC_STRIDE,
    *,
    stride_is_the_step: bool = False,
) -> int:
    """Hugging Face's overflow rule: each window holds max_length - question - 3 context pieces,
    and the next one starts `shared` pieces before the previous one ended (the slip
    `stride_is_the_step`: it moves on by `shared`)."""
    per_window = max_length - question - 3
    if context <= per_window:
        return 1
    step = shared if stride_is_the_step else per_window - shared
    return 1 + math.ceil((context - per_window) / step)


windows_without_overlap = partial(windows, shared=0)
windows_moving_by_the_stride = partial(windows, stride_is_the_step=True)


# --- 12.2: the best span in one window ------------------------------------------------------------


def best_span(start_logits, end_logits, max_answer_length):
    best, best_score = (0, 0), -math.inf
    for start in range(len(start_logits)):
        for end in range(start, min(start + max_answer_length, len(end_logits))):
            score = start_logits[start] + end_logits[end]
            if score > best_score:
                best, best_score = (start, end), score
    return best


def independent_argmax(start_logits, end_logits, max_answer_length):
    return int(np.argmax(start_logits)), int(np.argmax(end_logits))


def no_length_limit(start_logits, end_logits, max_answer_length):
    return best_span(start_logits, end_logits, len(start_logits))


def span_cases() -> list[Case]:
    rng = np.random.default_rng(12)
    cases = []
    for length, limit in [(12, 3), (40, 30), (25, 1), (60, 5)]:
        starts = rng.normal(size=length).round(3)
        ends = rng.normal(size=length).round(3)
        ends[0] += (
            4.0  # a strong end before every start: the independent argmax breaks end >= start
        )
        starts[-limit - 2 :] += 1.0
        ends[-1] += 1.5
        label = f"{length} tokens, max_answer_length {limit}"
        cases.append(Case(args=(starts.tolist(), ends.tolist(), limit), label=label))
    return cases


# --- 12.3: exact match and F1 by hand ----------------------------------------------------------------

_PREDICTION = "Denver Broncos team"
_GOLDS = ("Denver Broncos", "Broncos")


def em_f1() -> tuple[float, float]:
    from bertlab.metrics.squad import best_over_golds, exact_match, f1

    return best_over_golds(exact_match, _PREDICTION, _GOLDS), best_over_golds(
        f1, _PREDICTION, _GOLDS
    )


def f1_against_last_gold() -> tuple[float, float]:
    from bertlab.metrics.squad import f1

    return 0.0, f1(_PREDICTION, _GOLDS[-1])


def mean_over_golds() -> tuple[float, float]:
    from bertlab.metrics.squad import f1

    return 0.0, sum(f1(_PREDICTION, gold) for gold in _GOLDS) / len(_GOLDS)
