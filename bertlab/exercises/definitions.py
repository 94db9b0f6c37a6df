"""A notebook's texts file, `bertlab/exercises/texts/nbNN.toml`, bound by name to `nbNN.py`.

Texts are data, checkers are code. The texts file holds all a learner reads (titles, hints,
explanations, the `why` of each mistake, model answers, the whole quiz) and each exercise's
settings (tolerances, order); `nbNN.py` holds the checking code (references, test inputs, wrong
answers), and the file names its functions. So a teacher can edit or translate a quiz or a hint
(the series' source articles are Chinese) without touching the code, and a reader of `nbNN.py`
sees only the checking logic. A file reads like this (texts/nb13.toml):

    [[exercise]]                      # one table an exercise, in the notebook's order
    id = "13.3"
    title = "The distillation loss"
    hint = "F.kl_div(...), times alpha x T², plus (1 - alpha) x the cross-entropy on the labels."
    reference = "distillation_loss"   # a function of nb13.py
    inputs = "logit_cases"            # a function of nb13.py that returns the test inputs
    explanation = "..."               # shown once the answer is right (optional)

    [[exercise.mistake]]              # a wrong answer a learner is likely to give
    answer = "without_t_squared"      # ... here a function of nb13.py
    why = "multiply the soft term by T²: its gradients shrink like 1/T²."

- A function exercise (`reference`) names its `inputs` (a function, or a list of nbNN.py), may
  name `call` and `compare` functions and set `ordered`, `ulps`, `abs_tol`, `scale`
  (kinds.FunctionExercise says what each does); each mistake's `answer` names a function.
- A value exercise has `answer = <any TOML value>` or `computed = "<function>"` (a value the
  package computes when first checked), and so has each of its mistakes; it may set `ordered`,
  `ulps`, `abs_tol`.
- An open question has a `model_answer` instead.
- `[[question]]` tables make the quiz, in order: a `prompt`, then `[[question.option]]` tables
  (`text`, `why`, and `right = true` on the right one), or a number's `answer`, `tolerance`,
  `why` and `[[question.mistake]]` tables (`answer`, `why`).

Anything else (an unknown or missing key, a name nbNN.py lacks, a malformed file) raises
ExerciseDefinitionError naming the file, the exercise or question, and the key. The rules on
what the texts say (a why for every mistake, one right option) are core.py's and questions.py's.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import bertlab.exercises.kinds as kinds
from bertlab.exercises.errors import ExerciseDefinitionError
from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option, Question

__all__ = ["read_texts", "texts_path"]

TEXTS = Path(__file__).parent / "texts"
ROOT = Path(__file__).parents[2]  # the folder that holds bertlab/, to name a file shortly

# The keys of an exercise of each kind, besides id, title, hint and explanation: required, optional.
EXERCISE_KEYS: dict[type[kinds.Exercise], tuple[tuple[str, ...], tuple[str, ...]]] = {
    kinds.OpenExercise: (("model_answer",), ()),
    kinds.FunctionExercise: (
        ("reference", "inputs"),
        ("call", "compare", "ordered", "ulps", "abs_tol", "scale", "mistake"),
    ),
    kinds.ValueExercise: ((), ("answer", "computed", "ordered", "ulps", "abs_tol", "mistake")),
}
# What a key holds wherever it stands ("answer" depends on the table, so it is checked there).
KEY_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("id", "title", "hint", "explanation", "model_answer", "why"), (str,)),
    **dict.fromkeys(("prompt", "text"), (str,)),
    **dict.fromkeys(("reference", "inputs", "call", "compare", "computed"), (str,)),
    **dict.fromkeys(("ordered", "right"), (bool,)),
    **dict.fromkeys(("ulps", "abs_tol", "scale", "tolerance"), (int, float)),
    **dict.fromkeys(("exercise", "question", "mistake", "option"), (list,)),
}
# The keys an exercise object takes as the file writes them (the others are bound or built).
AS_WRITTEN = ("title", "hint", "explanation", "model_answer", "ordered", "ulps", "abs_tol", "scale")
TYPE_NAMES = {str: "text", bool: "true or false", int: "a number", list: "a list of tables"}


def texts_path(module: ModuleType) -> Path:
    """The texts file of a notebook module: its `TEXTS` if it sets one, else texts/<name>.toml."""
    return Path(getattr(module, "TEXTS", TEXTS / f"{module.__name__.rpartition('.')[2]}.toml"))


def read_texts(module: ModuleType) -> tuple[list[kinds.Exercise], list[Question], str]:
    """The exercises and quiz of a notebook module's texts file, and the file's name for errors."""
    path = texts_path(module)
    source = _Source(_short(path), module)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExerciseDefinitionError(
            f"{source.name}: no such file, and {module.__name__} needs it for its texts"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ExerciseDefinitionError(f"{source.name}: not valid TOML: {error}") from error
    source.check_keys(data, "the file", (), ("exercise", "question"))
    exercises = [source.exercise(t, n) for n, t in enumerate(data.get("exercise", []), 1)]
    questions = [source.question(t, n) for n, t in enumerate(data.get("question", []), 1)]
    return exercises, questions, source.name


def _short(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


@dataclass(frozen=True)
class _Source:
    """A texts file being read: its name for error messages, and the module its names bind to."""

    name: str
    module: ModuleType

    def error(self, where: str, problem: str) -> ExerciseDefinitionError:
        return ExerciseDefinitionError(f"{self.name}: {where}: {problem}")

    def check_keys(self, table: Any, where: str, required: tuple, optional: tuple) -> None:
        """No unknown key, no missing one, and each of the type its name says."""
        if not isinstance(table, dict):
            raise self.error(where, f"expected a table, got {table!r}")
        allowed = (*required, *optional)
        for key, value in table.items():
            if key not in allowed:
                raise self.error(where, f"unknown key {key!r} (it may have {', '.join(allowed)})")
            types = KEY_TYPES.get(key, ())  # none for "answer": its table's reader checks it
            wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
            if types and wrong:
                raise self.error(where, f"{key} must be {TYPE_NAMES[types[0]]}, got {value!r}")
        for key in required:
            if key not in table:
                raise self.error(where, f"missing key {key!r}")

    def bound(self, table: dict, key: str, where: str, *, or_list: bool = False) -> Any:
        """The function of the module that `table[key]` names (or a list, where one will do)."""
        name = table[key]
        if not isinstance(name, str):
            raise self.error(where, f"{key} must name a function of {self.module.__name__}")
        if not hasattr(self.module, name):
            raise self.error(where, f"{key} = {name!r}, but {self.module.__name__} has no {name!r}")
        found = getattr(self.module, name)
        if not (callable(found) or (or_list and isinstance(found, list | tuple))):
            raise self.error(where, f"{key} = {name!r} is not a function of {self.module.__name__}")
        return found

    def value(self, table: dict, where: str) -> Any:
        """A value exercise's `answer`, or the Computed its `computed` function returns."""
        if ("answer" in table) == ("computed" in table):
            raise self.error(
                where, "give either answer (a value) or computed (a function that returns it)"
            )
        if "computed" in table:
            return kinds.Computed(self.bound(table, "computed", where))
        return table["answer"]

    def exercise(self, table: Any, number: int) -> kinds.Exercise:
        """The exercise an `[[exercise]]` table defines, its kind told by its keys (_kind)."""
        named = isinstance(table, dict) and isinstance(table.get("id"), str)
        where = f"exercise {table['id']}" if named else f"exercise number {number}"
        kind = _kind(table)
        required, optional = EXERCISE_KEYS[kind]
        self.check_keys(
            table, where, ("id", "title", "hint", *required), ("explanation", *optional)
        )
        fields = {key: table[key] for key in AS_WRITTEN if key in table}
        if kind is kinds.FunctionExercise:
            for key in ("reference", "inputs", "call", "compare"):
                if key in table:
                    fields[key] = self.bound(table, key, where, or_list=key == "inputs")
        if kind is kinds.ValueExercise:
            fields["answer"] = self.value(table, where)
        if kind is not kinds.OpenExercise:
            mistakes = enumerate(table.get("mistake", []), 1)
            fields["mistakes"] = [
                self.mistake(kind, m, f"{where}, mistake {n}") for n, m in mistakes
            ]
        return kind(table["id"], **fields)

    def mistake(self, kind: type[kinds.Exercise], table: Any, where: str) -> kinds.Mistake:
        if kind is kinds.FunctionExercise:
            self.check_keys(table, where, ("answer", "why"), ())
            return kinds.Mistake(self.bound(table, "answer", where), table["why"])
        self.check_keys(table, where, ("why",), ("answer", "computed"))
        return kinds.Mistake(self.value(table, where), table["why"])

    def question(self, table: Any, number: int) -> Question:
        """A choice question (it has options) or a number question (it has an answer)."""
        where = f"question {number}"
        if isinstance(table, dict) and "option" in table:
            self.check_keys(table, where, ("prompt", "option"), ())
            options = enumerate(table["option"], 1)
            return ChoiceQuestion(
                table["prompt"], [self.option(o, f"{where}, option {n}") for n, o in options]
            )
        self.check_keys(table, where, ("prompt", "answer", "tolerance", "why"), ("mistake",))
        mistakes: dict[float, str] = {}
        for n, mistake in enumerate(table.get("mistake", []), 1):
            self.check_keys(mistake, f"{where}, mistake {n}", ("answer", "why"), ())
            mistakes[self.number(mistake, f"{where}, mistake {n}")] = mistake["why"]
        return NumberQuestion(
            table["prompt"], self.number(table, where), table["tolerance"], table["why"], mistakes
        )

    def option(self, table: Any, where: str) -> Option:
        self.check_keys(table, where, ("text", "why"), ("right",))
        return Option(table["text"], table["why"], table.get("right", False))

    def number(self, table: dict, where: str) -> float:
        answer = table["answer"]
        if isinstance(answer, bool) or not isinstance(answer, int | float):
            raise self.error(where, f"answer must be a number, got {answer!r}")
        return answer


def _kind(table: Any) -> type[kinds.Exercise]:
    """An exercise's kind, from its keys: model_answer (words), reference (code), else a value."""
    if isinstance(table, dict) and "model_answer" in table:
        return kinds.OpenExercise
    if isinstance(table, dict) and "reference" in table:
        return kinds.FunctionExercise
    return kinds.ValueExercise
