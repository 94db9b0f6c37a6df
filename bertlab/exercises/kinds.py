"""What an exercise is: the three kinds, a learner's wrong answers, and the one-line result.

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

A notebook does not build these objects itself: definitions.py builds them from its texts file
and the functions of its module (see core.py).
"""

from __future__ import annotations

import copy
import html
import inspect
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from bertlab.exercises.compare import Tolerance, describe, difference
from bertlab.exercises.errors import ExerciseDefinitionError

__all__ = [
    "Case",
    "CheckResult",
    "Computed",
    "Exercise",
    "FunctionExercise",
    "Mistake",
    "OpenExercise",
    "ValueExercise",
]


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


def one_line(text: str) -> str:
    """Text on one line, its runs of white space made single spaces."""
    return " ".join(str(text).split())


# --- exercise kinds ------------------------------------------------------------------------


class Computed:
    """A value of a `ValueExercise` computed by the package when first checked, not typed in.

    `computed = "large_parameters"` in a texts file makes `Computed(nb08.large_parameters)`:
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
        return CheckResult(ok, one_line(f"{mark} {self.id} {self.title}: {text}"), self.id)

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
