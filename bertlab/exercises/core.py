"""The exercises a learner checks: `check`, `hint`, and the registry of the notebooks.

A notebook's exercises are two files: `bertlab/exercises/nbNN.py`, the checking code
(references, test inputs, the wrong answers a learner is likely to give), and
`bertlab/exercises/texts/nbNN.toml`, the texts and settings (titles, hints, each wrong answer's
why, the quiz), which names the module's functions: texts are data, checkers are code, so a
teacher can edit or translate the texts without touching the code (definitions.py reads the
file; kinds.py defines what it builds). Nothing is imported until a learner asks for an id of
that notebook, so `import bertlab.exercises` stays fast however heavy a notebook's checkers are.

Every exercise is checked when its notebook is first used (and by tests/test_exercises.py): its
id is "NN.k" with the module's notebook number; a `ValueExercise` or `FunctionExercise` lists at
least one mistake, each with a why, so a test can prove its checker rejects a wrong answer.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bertlab.exercises.definitions import read_texts
from bertlab.exercises.errors import ExerciseDefinitionError, UnknownExerciseError
from bertlab.exercises.kinds import (
    NOT_GIVEN,
    Case,
    CheckResult,
    Computed,
    Exercise,
    FunctionExercise,
    Mistake,
    OpenExercise,
    ValueExercise,
    one_line,
)
from bertlab.exercises.questions import validate_quiz

__all__ = [
    "Case",
    "CheckResult",
    "Computed",
    "Exercise",
    "ExerciseDefinitionError",
    "FunctionExercise",
    "Mistake",
    "OpenExercise",
    "UnknownExerciseError",
    "ValueExercise",
    "available_notebooks",
    "check",
    "exercises",
    "get_exercise",
    "hint",
    "load_notebook",
]

ID_PATTERN = re.compile(r"^(\d\d[a-z]?)\.(\d+[a-z]?)$")
NOTEBOOK_PATTERN = re.compile(r"^\d\d[a-z]?$")


# --- the registry: one module and one texts file a notebook, read on first use -------------


@dataclass(frozen=True)
class NotebookExercises:
    """What a notebook registers: its exercises by id, and its quiz."""

    notebook: str
    exercises: dict[str, Exercise]
    quiz: tuple


def available_notebooks() -> list[str]:
    """Notebooks that have an exercise module ("01", ..., "08b"), found without importing them."""
    names = (info.name for info in pkgutil.iter_modules([str(Path(__file__).parent)]))
    return sorted(
        name[2:] for name in names if name[:2] == "nb" and NOTEBOOK_PATTERN.match(name[2:])
    )


@cache
def load_notebook(notebook: str) -> NotebookExercises:
    """Import `bertlab.exercises.nb<notebook>`, read its texts file, validate what they define."""
    if not NOTEBOOK_PATTERN.match(str(notebook)):
        raise UnknownExerciseError(
            f"notebook names look like '04' or '08b', got {notebook!r}; "
            f"notebooks with exercises: {', '.join(available_notebooks()) or 'none yet'}"
        )
    name = f"bertlab.exercises.nb{notebook}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
        raise UnknownExerciseError(
            f"notebook {notebook} has no exercises registered (no bertlab/exercises/nb{notebook}.py); "
            f"notebooks with exercises: {', '.join(available_notebooks()) or 'none yet'}"
        ) from None
    return _validated(notebook, module)


def _validated(notebook: str, module) -> NotebookExercises:
    """The notebook's exercises and quiz, checked before a learner sees them."""
    exercises, quiz, where, quiz_where = _definitions(module)
    registered: dict[str, Exercise] = {}
    for exercise in exercises:
        _validate_exercise(exercise, notebook, where)
        if exercise.id in registered:
            raise ExerciseDefinitionError(f"{where}: exercise id {exercise.id} is used twice")
        registered[exercise.id] = exercise
    validate_quiz(quiz, quiz_where)
    return NotebookExercises(notebook, registered, tuple(quiz))


def _definitions(module) -> tuple[list, list, str, str]:
    """Exercises, quiz, and where each is defined (for errors): from the module's texts file, or
    from `EXERCISES` and `QUIZ` lists when the module builds its objects itself (as the fake
    notebooks of tests/test_exercises.py do)."""
    if hasattr(module, "EXERCISES") or hasattr(module, "QUIZ"):
        exercises, quiz = list(getattr(module, "EXERCISES", [])), list(getattr(module, "QUIZ", []))
        return exercises, quiz, f"{module.__name__}.EXERCISES", f"{module.__name__}.QUIZ"
    exercises, quiz, name = read_texts(module)
    return exercises, quiz, name, name


def _validate_exercise(exercise: Any, notebook: str, where: str) -> None:
    if not isinstance(exercise, Exercise):
        raise ExerciseDefinitionError(f"{where}: {exercise!r} is not an Exercise")
    match = ID_PATTERN.match(exercise.id)
    if not match or match.group(1) != notebook:
        raise ExerciseDefinitionError(
            f"{where}: exercise id {exercise.id!r} must look like '{notebook}.1' (notebook {notebook})"
        )
    for name in ("title", "hint"):
        if not str(getattr(exercise, name)).strip():
            raise ExerciseDefinitionError(f"{where}: exercise {exercise.id} has no {name}")
    if exercise.auto_checked and not getattr(exercise, "mistakes", ()):
        raise ExerciseDefinitionError(
            f"{where}: exercise {exercise.id} lists no mistakes: give at least one wrong answer "
            "with why it is wrong, so a test can prove the checker rejects it"
        )
    if None in (getattr(exercise, name, "") for name in ("answer", "reference", "model_answer")):
        raise ExerciseDefinitionError(f"{where}: exercise {exercise.id} has no reference answer")
    for mistake in getattr(exercise, "mistakes", ()):
        if not isinstance(mistake, Mistake) or not mistake.why.strip():
            raise ExerciseDefinitionError(
                f"{where}: exercise {exercise.id}: each mistake is a Mistake(answer, why) with a why"
            )


def exercises(notebook: str) -> list[Exercise]:
    """The exercises of a notebook, in the order its module lists them."""
    return list(load_notebook(notebook).exercises.values())


def get_exercise(exercise_id: str) -> Exercise:
    """The exercise with this id; a clear error listing the notebook's ids when there is none."""
    match = ID_PATTERN.match(str(exercise_id))
    if not match:
        raise UnknownExerciseError(
            f"exercise ids look like '04.2' (notebook 04, exercise 2), got {exercise_id!r}"
        )
    registered = load_notebook(match.group(1)).exercises
    if exercise_id not in registered:
        raise UnknownExerciseError(
            f"notebook {match.group(1)} has no exercise {exercise_id}; "
            f"its exercises are {', '.join(registered) or 'none yet'}"
        )
    return registered[exercise_id]


def check(exercise_id: str, answer: Any = NOT_GIVEN) -> CheckResult:
    """Check your answer to an exercise: one line that says whether it is right, and what is off.

    `answer` is a value, or your function itself for a code exercise (`check("06.3", causal_mask)`).
    The result is truthy when right: `assert check("06.3", causal_mask)`.
    """
    return get_exercise(exercise_id).check(answer)


def hint(exercise_id: str) -> None:
    """Print the hint of an exercise."""
    exercise = get_exercise(exercise_id)
    print(one_line(f"Hint for {exercise.id} {exercise.title}: {exercise.hint}"))
