"""Exercises and quiz of notebook 12 (question answering).

The checkers compare with the package (`bertlab.metrics.squad`) or with a reference written here;
the solutions are in solutions/12_question_answering_solutions.ipynb.
"""

from __future__ import annotations

import math

import numpy as np

from bertlab.exercises.core import (
    Case,
    Computed,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
)
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

# --- 12.1: how many windows -----------------------------------------------------------------------

CONTEXT_PIECES, QUESTION_PIECES, MAX_LENGTH, DOC_STRIDE = 1000, 12, 384, 128


def _windows(context: int, question: int, max_length: int, shared: int) -> int:
    """Hugging Face's overflow rule: each window holds max_length - question - 3 context pieces,
    and the next one starts `shared` pieces before the previous one ended."""
    per_window = max_length - question - 3
    if context <= per_window:
        return 1
    return 1 + math.ceil((context - per_window) / (per_window - shared))


# --- 12.2: the best span in one window ------------------------------------------------------------


def _best_span(start_logits, end_logits, max_answer_length):
    best, best_score = (0, 0), -math.inf
    for start in range(len(start_logits)):
        for end in range(start, min(start + max_answer_length, len(end_logits))):
            score = start_logits[start] + end_logits[end]
            if score > best_score:
                best, best_score = (start, end), score
    return best


def _independent_argmax(start_logits, end_logits, max_answer_length):
    return int(np.argmax(start_logits)), int(np.argmax(end_logits))


def _no_length_limit(start_logits, end_logits, max_answer_length):
    return _best_span(start_logits, end_logits, len(start_logits))


def _span_cases() -> list[Case]:
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


def _em_f1() -> tuple[float, float]:
    from bertlab.metrics.squad import best_over_golds, exact_match, f1

    return best_over_golds(exact_match, _PREDICTION, _GOLDS), best_over_golds(
        f1, _PREDICTION, _GOLDS
    )


def _f1_against_last_gold() -> tuple[float, float]:
    from bertlab.metrics.squad import f1

    return 0.0, f1(_PREDICTION, _GOLDS[-1])


def _mean_over_golds() -> tuple[float, float]:
    from bertlab.metrics.squad import f1

    return 0.0, sum(f1(_PREDICTION, gold) for gold in _GOLDS) / len(_GOLDS)


EXERCISES = [
    ValueExercise(
        "12.1",
        "How many windows?",
        hint="Each window holds 384 - 12 - 3 context pieces; the next one starts 128 pieces before "
        "the previous one ends, so it moves on by the difference.",
        answer=Computed(lambda: _windows(CONTEXT_PIECES, QUESTION_PIECES, MAX_LENGTH, DOC_STRIDE)),
        mistakes=[
            Mistake(
                Computed(lambda: _windows(CONTEXT_PIECES, QUESTION_PIECES, MAX_LENGTH, 0)),
                "that is without overlap; consecutive windows share 128 pieces.",
            ),
            Mistake(
                Computed(
                    lambda: (
                        1 + math.ceil((CONTEXT_PIECES - (MAX_LENGTH - QUESTION_PIECES - 3)) / 128)
                    )
                ),
                "the stride is what two windows share (Hugging Face's meaning), not how far the "
                "next one moves.",
            ),
        ],
        explanation="369 context pieces a window, moving on by 241: windows start at 0, 241, 482 "
        "and 723, and the fourth reaches the end.",
    ),
    FunctionExercise(
        "12.2",
        "The best span in one window",
        hint="Two loops: start over all positions, end from start to start + max_answer_length - 1.",
        reference=_best_span,
        inputs=_span_cases,
        mistakes=[
            Mistake(
                _independent_argmax,
                "the best start and the best end taken apart can give end < start.",
            ),
            Mistake(_no_length_limit, "spans longer than max_answer_length are not allowed."),
        ],
    ),
    ValueExercise(
        "12.3",
        "Exact match and F1 by hand",
        hint="Normalise (lower-case, drop punctuation and a/an/the), compare with each gold answer, "
        "keep the best score for each metric.",
        answer=Computed(_em_f1),
        mistakes=[
            Mistake(Computed(_f1_against_last_gold), "take the best score over all gold answers."),
            Mistake(
                Computed(_mean_over_golds), "the official script takes the maximum, not the mean."
            ),
        ],
        explanation="EM 0 (an extra word); F1 against 'Denver Broncos': precision 2/3, recall 1, "
        "F1 0.8.",
    ),
    OpenExercise(
        "12.4",
        "Without the max-context rule",
        hint="Small windows with a large overlap see many tokens twice.",
        model_answer=(
            "Without the rule, a token seen in two windows may start an answer in the window where "
            "it sits at the edge with little context on one side; those scores are less reliable, "
            "and such a candidate sometimes wins. With windows of 128 sharing 48, the best answer "
            "changes for a few questions with long paragraphs, and F1 moves by a point or so, "
            "usually down; with windows of 384 most paragraphs fit one window and nothing changes."
        ),
    ),
    OpenExercise(
        "12.5",
        "Answer length",
        hint="Which spans does a start far from its end make possible?",
        model_answer=(
            "At 5 tokens, long gold answers (titles, phrases, lists) can no longer be produced and "
            "their F1 drops; at 100, spans running from an early start to a late end over "
            "unrelated text become possible, and an untrained or weak model picks them because two "
            "high scores anywhere add up. Gold SQuAD answers are short (a few tokens), so 30 keeps "
            "almost all of them and rules out the nonsense."
        ),
    ),
]

QUIZ = [
    ChoiceQuestion(
        "How does BERT read a SQuAD question and its paragraph?",
        [
            Option(
                "as one sequence, [CLS] question [SEP] context [SEP]",
                right=True,
                why="every context token attends to the question in every layer.",
            ),
            Option(
                "question and answer encoded apart, then concatenated",
                why="myth 4: the answer is found in the context, not encoded.",
            ),
            Option(
                "the question alone, then a search in the paragraph",
                why="the paragraph is part of the input; the answer is a span of it.",
            ),
        ],
    ),
    ChoiceQuestion(
        "A training window does not contain the whole answer. What is it trained to predict?",
        [
            Option("nothing: such windows are dropped", why="they are kept, pointing at [CLS]."),
            Option(
                "the nearest context token",
                why="that would teach the model to answer with the wrong words.",
            ),
            Option(
                "start and end at position 0, [CLS]",
                right=True,
                why="run_squad.py's rule: [CLS] stands for 'not in this window'.",
            ),
        ],
    ),
    ChoiceQuestion(
        "How is a candidate span scored in the n-best search?",
        [
            Option(
                "start logit of its first token + end logit of its last token",
                right=True,
                why="the sum of the two log-scores, as run_squad.py ranks them.",
            ),
            Option(
                "the mean of the start logits over the span",
                why="only the first token's start and the last token's end scores count.",
            ),
            Option(
                "its length",
                why="length only limits which spans are allowed (max_answer_length).",
            ),
        ],
    ),
    ChoiceQuestion(
        "What is the max-context rule for?",
        [
            Option(
                "it keeps the longest answer",
                why="answers are limited in length, not preferred long.",
            ),
            Option(
                "a token seen in two windows may start an answer only in the window where it has "
                "the most context",
                right=True,
                why="scores at a window's edge are less reliable; run_squad.py's "
                "_check_is_max_context.",
            ),
            Option(
                "it picks the window with the highest loss",
                why="decoding uses no loss; it compares scores of valid spans.",
            ),
        ],
    ),
    NumberQuestion(
        "The prediction is 'The Eiffel Tower.' and the gold answer 'Eiffel Tower'. What is the "
        "exact match (0 or 1)?",
        answer=1,
        tolerance=0,
        why="normalisation drops case, punctuation and the article 'the'.",
        mistakes={0: "the official script normalises both strings before comparing them."},
    ),
]
