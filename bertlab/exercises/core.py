"""Exercises a learner can check: the three kinds, the one-line result, and the lazy registry.

A notebook's exercises live in `bertlab/exercises/nbNN.py` as a module-level list `EXERCISES`
(and its quiz as `QUIZ`, see quizzes.py). Nothing is imported until a learner asks for an id of
that notebook, so `import bertlab.exercises` stays fast however heavy a notebook's checkers are.

The kinds (each takes `id`, `title`, `hint`, then what it needs):

- `ValueExercise`: the answer is a value (a number from a derivation, a list of tokens, a
  tensor). `answer` is the reference; feedback never quotes it.
- `FunctionExercise`: the answer is code (a function or a class). The checker calls the
  learner's answer and the `reference` on every one of `inputs` and compares the outputs.
- `OpenExercise`: a question answered in words; after an attempt (any non-empty string) the
  learner sees `model_answer`. Not auto-checked.

Every `ValueExercise` and `FunctionExercise` lists `mistakes`: wrong answers a learner is likely
to give, each with `why` it is wrong. A test (tests/test_exercises.py) proves that every checker
accepts its reference and rejects each mistake, so a checker that cannot fail is caught; and
when a learner's answer behaves like a listed mistake, the learner reads that `why`.
"""

from __future__ import annotations

import copy
import html
import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, ClassVar

from bertlab.exercises.compare import Tolerance, describe, difference
from bertlab.exercises.errors import ExerciseDefinitionError, UnknownExerciseError
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


class NotGiven:
    """The answer a learner has not written yet (`check("04.2")`, or `answer = ...`)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


# --- the result a learner sees -------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One line of feedback; truthy when the answer is right, so a solution can `assert` it."""

    ok: bool
    message: str
    exercise_id: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return self.message

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.ok else "#b35900"
        return f'<div style="color:{color}">{html.escape(self.message)}</div>'


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


# --- exercise kinds ------------------------------------------------------------------------


class Computed:
    """A value of a `ValueExercise` computed by the package when first checked, not typed in.

    `ValueExercise(answer=Computed(lambda: BertModel(large_config).num_parameters()), ...)`:
    the number comes from the code the notebook teaches, and the module still imports fast.
    Usable for a `Mistake`'s answer too.
    """

    def __init__(self, function: Callable[[], Any]):
        self.function = function

    @cached_property
    def value(self) -> Any:
        return self.function()

    def __repr__(self) -> str:
        return "Computed(...)"  # never the value: a repr must not give the answer away


def _resolved(value: Any) -> Any:
    return value.value if isinstance(value, Computed) else value


@dataclass(frozen=True)
class Mistake:
    """A wrong answer a learner is likely to give, and what is wrong with it (one sentence)."""

    answer: Any
    why: str


@dataclass(frozen=True)
class Case:
    """One test input of a `FunctionExercise`: positional and keyword arguments, and a label."""

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    @classmethod
    def of(cls, item: Any) -> Case:
        """A `Case` as is; a tuple as positional arguments; anything else as the one argument."""
        if isinstance(item, Case):
            return item
        return cls(args=item if isinstance(item, tuple) else (item,))

    def describe(self, function: Callable | None = None) -> str:
        """The label, else the arguments, named after `function`'s parameters when they bind."""
        if self.label:
            return self.label
        try:
            named = inspect.signature(function).bind(*self.args, **self.kwargs).arguments
        except (TypeError, ValueError):  # no function, or one whose signature does not fit
            named = None
        if named is not None:
            parts = [f"{name}={describe(value, 40)}" for name, value in named.items()]
        else:
            parts = [describe(arg, 40) for arg in self.args]
            parts += [f"{key}={describe(value, 30)}" for key, value in self.kwargs.items()]
        return f"({', '.join(parts)})"


@dataclass(frozen=True)
class Exercise:
    """What every exercise has: an id like "04.2", a title, a hint, and what to say when right."""

    id: str
    title: str
    _: KW_ONLY
    hint: str
    explanation: str = field(default="", repr=False)  # shown when right, so it may tell the answer
    auto_checked: ClassVar[bool] = True

    def check(self, answer: Any = NOT_GIVEN) -> CheckResult:
        if _not_attempted(answer):
            return self._result(False, f"no answer yet. {self._how_to_answer()}")
        return self._check(answer)

    def reference_answer(self) -> Any:
        """An answer the checker must accept (tests and solution notebooks use it)."""
        raise NotImplementedError

    def wrong_answers(self) -> list[Any]:
        """Answers the checker must reject (tests use them)."""
        raise NotImplementedError

    def _check(self, answer: Any) -> CheckResult:
        raise NotImplementedError

    def _how_to_answer(self) -> str:
        return f'Write it, then run check("{self.id}", your_answer); hint("{self.id}") helps.'

    def _result(self, ok: bool, text: str) -> CheckResult:
        mark = "✓" if ok else "✗"
        return CheckResult(ok, _one_line(f"{mark} {self.id} {self.title}: {text}"), self.id)

    def _right(self, text: str = "right.") -> CheckResult:
        return self._result(True, f"{text} {self.explanation}".strip())


def _not_attempted(answer: Any) -> bool:
    return answer is NOT_GIVEN or answer is None or answer is Ellipsis


@dataclass(frozen=True, kw_only=True)
class ValueExercise(Exercise):
    """The answer is a value; compared with `answer` by the rules of compare.py, never quoted.

    `ordered=False` accepts any order; `abs_tol` replaces the float32-ulps tolerance for a
    value found approximately (a minimum found on a grid, a rate read off a plot).
    """

    answer: Any = field(repr=False)  # a learner's repr() of the exercise must not show it
    mistakes: Sequence[Mistake] = field(repr=False)
    ordered: bool = True
    ulps: float | None = None  # None: bertlab.testing.DEEP
    abs_tol: float | None = None

    def reference_answer(self) -> Any:
        return _resolved(self.answer)

    def wrong_answers(self) -> list[Any]:
        return [_resolved(mistake.answer) for mistake in self.mistakes]

    def _check(self, answer: Any) -> CheckResult:
        problem = self._difference(answer, self.reference_answer())
        if problem is None:
            return self._right()
        for mistake in self.mistakes:
            if self._difference(answer, _resolved(mistake.answer)) is None:
                return self._result(False, f"not yet: {mistake.why}")
        return self._result(False, f"not yet: {problem}.")

    def _difference(self, answer: Any, expected: Any) -> str | None:
        tolerance = Tolerance(ulps=self.ulps, abs_tol=self.abs_tol)
        return difference(answer, expected, tolerance, self.ordered, reveal=False)


@dataclass(frozen=True, kw_only=True)
class FunctionExercise(Exercise):
    """The answer is code: run on every input next to `reference`, outputs compared.

    `inputs` is a list (or a function returning one, for inputs that take a moment to build):
    each item is a tuple of positional arguments, a `Case`, or the single argument itself.
    `call(answer, *args, **kwargs)` turns an answer into an output; the default calls it, and
    an exercise whose answer is a class (an optimizer, a layer) passes its own. Arguments are
    copied for every call, so an answer that changes its inputs in place cannot spoil the next.
    `compare(actual, expected)` may replace compare.difference: None when right, else a phrase.
    `scale` sets the magnitude the ulps are counted in (see bertlab.testing.float_tolerance).
    A reference that draws random numbers takes its seed or generator as an input (or `call`
    seeds before each run): the learner's code and the reference must see the same draws.
    """

    reference: Callable = field(repr=False)
    inputs: Sequence | Callable[[], Sequence] = field(repr=False)
    mistakes: Sequence[Mistake] = field(repr=False)
    call: Callable | None = None
    compare: Callable[[Any, Any], str | None] | None = None
    ordered: bool = True
    ulps: float | None = None  # None: bertlab.testing.DEEP
    abs_tol: float | None = None
    scale: float | None = None

    def reference_answer(self) -> Any:
        return self.reference

    def wrong_answers(self) -> list[Any]:
        return [mistake.answer for mistake in self.mistakes]

    def _how_to_answer(self) -> str:
        return f'Write it, then run check("{self.id}", your_function); hint("{self.id}") helps.'

    def cases(self) -> list[Case]:
        items = self.inputs() if callable(self.inputs) else self.inputs
        cases = [Case.of(item) for item in items]
        if not cases:
            raise ExerciseDefinitionError(f"exercise {self.id} has no test inputs")
        return cases

    def _check(self, answer: Any) -> CheckResult:
        if not callable(answer):
            return self._result(
                False,
                f"expected your function or class itself (its name, no parentheses), "
                f"got {describe(answer, 40)}.",
            )
        cases = self.cases()
        outputs = [self._run(answer, case) for case in cases]
        for case, output in zip(cases, outputs):
            where = case.describe(None if self.call else self.reference)
            if isinstance(output, _Raised):
                return self._result(False, f"on input {where} it raised {output}.")
            problem = self._difference(output, self._run(self.reference, case))
            if problem:
                why = self._matching_mistake(outputs, cases)
                return self._result(False, f"not yet: {why or f'on input {where}: {problem}.'}")
        return self._right(f"right on all {len(cases)} test inputs.")

    def _run(self, answer: Callable, case: Case) -> Any:
        args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
        try:
            if self.call is not None:
                return self.call(answer, *args, **kwargs)
            return answer(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - the learner's error becomes feedback
            return _Raised(error)

    def _difference(self, actual: Any, expected: Any) -> str | None:
        if isinstance(expected, _Raised):
            raise ExerciseDefinitionError(
                f"the reference of exercise {self.id} raised {expected}"
            ) from expected.error
        if self.compare is not None:
            return self.compare(actual, expected)
        tolerance = Tolerance(ulps=self.ulps, abs_tol=self.abs_tol, scale=self.scale)
        return difference(actual, expected, tolerance, self.ordered, reveal=True)

    def _matching_mistake(self, outputs: list, cases: list[Case]) -> str | None:
        """The `why` of the listed mistake whose outputs equal the learner's on every input."""
        for mistake in self.mistakes:
            theirs = [self._run(mistake.answer, case) for case in cases]
            if all(
                not isinstance(mine, _Raised)
                and not isinstance(other, _Raised)
                and self._difference(mine, other) is None
                for mine, other in zip(outputs, theirs)
            ):
                return mistake.why
        return None


class _Raised:
    """An exception the learner's code raised, kept as feedback instead of a traceback."""

    def __init__(self, error: Exception):
        self.error = error

    def __str__(self) -> str:
        message = str(self.error).strip().splitlines()
        return (
            f"{type(self.error).__name__}: {message[0]}" if message else type(self.error).__name__
        )


@dataclass(frozen=True, kw_only=True)
class OpenExercise(Exercise):
    """A question answered in words: after an attempt, the learner compares with `model_answer`."""

    model_answer: str = field(repr=False)
    auto_checked: ClassVar[bool] = False

    def reference_answer(self) -> Any:
        return self.model_answer

    def wrong_answers(self) -> list[Any]:
        return ["", "   "]

    def _how_to_answer(self) -> str:
        return (
            f'Write your answer in words, then run check("{self.id}", "your answer") '
            "to compare it with a model answer."
        )

    def _check(self, answer: Any) -> CheckResult:
        if not isinstance(answer, str) or not answer.strip():
            return self._result(False, f"no answer yet. {self._how_to_answer()}")
        return self._result(True, f"compare yours with this model answer: {self.model_answer}")


# --- the registry: one module a notebook, imported on first use --------------------------


@dataclass(frozen=True)
class NotebookExercises:
    """What `bertlab/exercises/nbNN.py` registers: its exercises by id, and its quiz."""

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
    """Import `bertlab.exercises.nb<notebook>` and validate what it registers."""
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
    """The module's exercises and quiz, checked before a learner sees them."""
    where = f"{module.__name__}.EXERCISES"
    registered: dict[str, Exercise] = {}
    for exercise in getattr(module, "EXERCISES", []):
        _validate_exercise(exercise, notebook, where)
        if exercise.id in registered:
            raise ExerciseDefinitionError(f"{where}: exercise id {exercise.id} is used twice")
        registered[exercise.id] = exercise
    quiz = tuple(getattr(module, "QUIZ", ()))
    validate_quiz(quiz, f"{module.__name__}.QUIZ")
    return NotebookExercises(notebook, registered, quiz)


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
    print(_one_line(f"Hint for {exercise.id} {exercise.title}: {exercise.hint}"))
