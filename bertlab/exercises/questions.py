"""Quiz questions, and the rules a quiz must keep.

A quiz is pure data: the `[[question]]` tables of a notebook's texts file,
`bertlab/exercises/texts/nbNN.toml`, which definitions.py turns into `ChoiceQuestion` and
`NumberQuestion` objects; `core.load_notebook` checks them with `validate_quiz` when the
notebook is first used, and `quizzes.py` shows and grades them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bertlab.exercises.errors import ExerciseDefinitionError

__all__ = ["ChoiceQuestion", "NumberQuestion", "Option", "Question", "validate_quiz"]

LETTERS = "abcdefgh"
MIN_QUESTIONS, MAX_QUESTIONS = 3, 5


@dataclass(frozen=True)
class Option:
    """One answer of a multiple-choice question and `why` it is right or wrong (myths welcome)."""

    text: str
    why: str
    right: bool = False


@dataclass(frozen=True)
class ChoiceQuestion:
    """A question with lettered options, exactly one of them right."""

    prompt: str
    options: Sequence[Option]

    def grade(self, answer) -> tuple[bool, str]:
        letter = str(answer).strip().lower()
        if len(letter) != 1 or letter not in LETTERS[: len(self.options)]:
            return False, f"answer with one letter from a to {LETTERS[len(self.options) - 1]}"
        option = self.options[LETTERS.index(letter)]
        return option.right, _feedback(option.right, f"{letter}) {option.why}")


@dataclass(frozen=True)
class NumberQuestion:
    """A question whose answer is a number, right within `tolerance` (absolute).

    `why` explains the answer and is shown once it is right; `mistakes` maps wrong numbers a
    learner is likely to give to what they miss (each is shown when the answer is within
    `tolerance` of it). Other wrong answers hear only "too high" or "too low".
    """

    prompt: str
    answer: float
    tolerance: float
    why: str
    mistakes: Mapping[float, str] = field(default_factory=dict)

    def grade(self, answer) -> tuple[bool, str]:
        try:
            value = float(answer)
        except (TypeError, ValueError):
            return False, f"{answer!r} is not a number"
        if math.isclose(value, self.answer, rel_tol=0, abs_tol=self.tolerance):
            return True, _feedback(True, self.why)
        for wrong, why in self.mistakes.items():
            if math.isclose(value, wrong, rel_tol=0, abs_tol=self.tolerance):
                return False, _feedback(False, why)
        direction = "too high" if value > self.answer else "too low"
        return False, _feedback(False, f"{value:g} is {direction}; try again.")


Question = ChoiceQuestion | NumberQuestion


def _feedback(right: bool, text: str) -> str:
    return f"{'✓ Right' if right else '✗ Not quite'}: {text}"


def validate_quiz(questions: Sequence, where: str) -> None:
    """Raise ExerciseDefinitionError naming `where` and the question when a quiz is malformed."""
    if not questions:
        return  # a notebook module still being written has exercises but no quiz yet
    if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
        raise ExerciseDefinitionError(
            f"{where}: a quiz has {MIN_QUESTIONS}-{MAX_QUESTIONS} questions, got {len(questions)}"
        )
    for number, question in enumerate(questions, 1):
        problem = _question_problem(question)
        if problem:
            raise ExerciseDefinitionError(f"{where}, question {number}: {problem}")


def _question_problem(question) -> str | None:
    if isinstance(question, NumberQuestion):
        if not math.isfinite(question.answer) or not question.tolerance >= 0:
            return "a NumberQuestion needs a finite answer and a tolerance >= 0"
        if not question.why.strip():
            return "a NumberQuestion needs a why"
        if any(abs(wrong - question.answer) <= question.tolerance for wrong in question.mistakes):
            return "a listed mistake is within the tolerance of the answer"
        return None
    if not isinstance(question, ChoiceQuestion):
        return f"{question!r} is neither a ChoiceQuestion nor a NumberQuestion"
    if not 2 <= len(question.options) <= len(LETTERS):
        return f"a ChoiceQuestion has 2-{len(LETTERS)} options"
    if sum(option.right for option in question.options) != 1:
        return "a ChoiceQuestion has exactly one right option"
    if any(not option.why.strip() for option in question.options):
        return "every option needs a why (an explanation of why it is right or wrong)"
    if len({option.text for option in question.options}) != len(question.options):
        return "two options have the same text"
    return None
