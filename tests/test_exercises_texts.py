"""The texts files of the exercises (bertlab/exercises/texts/nbNN.toml, read by definitions.py).

A fake notebook 96, a module of plain functions and a texts file in a temporary folder, shows
that a file defines exercises and a quiz that work like the Python-built ones of
tests/test_exercises.py, and that every kind of mistake in a file (a missing why, a name the
module lacks, an unknown key, malformed TOML...) is refused with a message naming the file,
the exercise or question, and the key. Then, for the real notebooks: every module reads its
texts from its file, the files ship with the package, and every wrong answer written as
`partial(reference, keyword=...)` is right without its keywords, as its name promises.
"""

from __future__ import annotations

import functools
import importlib
import sys
import tomllib
import types
from pathlib import Path

import pytest

import bertlab.exercises as ex
from bertlab.exercises import (
    Computed,
    ExerciseDefinitionError,
    FunctionExercise,
    OpenExercise,
    ValueExercise,
    check,
    core,
    definitions,
    hint,
    quiz,
)

ROOT = Path(__file__).resolve().parent.parent

TEXTS = '''
# A comment, as a teacher may leave one.
[[exercise]]
id = "96.1"
title = "Squares"
hint = "x times x."
reference = "square"
inputs = "NUMBERS"
explanation = "Squares grow fast."

[[exercise.mistake]]
answer = "double"
why = "that is x + x, not x times x."

[[exercise]]
id = "96.2"
title = "Parameters of a 3x4 linear layer"
hint = "A weight per input-output pair, and a bias per output."
computed = "parameters"
abs_tol = 0.5

[[exercise.mistake]]
answer = 12
why = "that forgets the four biases."

[[exercise.mistake]]
computed = "weights_only"
why = "that too forgets the four biases."

[[exercise]]
id = "96.3"
title = "Why subtract the maximum"
hint = "What does exp(100) give in float32?"
model_answer = """
exp overflows to inf beyond about 88 in float32; \\
the shift changes nothing else."""

[[question]]
prompt = "Which dimension does attention's softmax run over?"

[[question.option]]
text = "The keys"
right = true
why = "each query's weights over the keys sum to 1."

[[question.option]]
text = "The queries"
why = "that would make each key's weights sum to 1."

[[question]]
prompt = "How many parameters has a 3x4 linear layer?"
answer = 16
tolerance = 0
why = "3·4 weights plus 4 biases."

[[question.mistake]]
answer = 12
why = "that forgets the biases."

[[question]]
prompt = "Does BERT use a causal mask?"

[[question.option]]
text = "Yes, like GPT"
why = "myth: BERT's encoder sees both sides."

[[question.option]]
text = "No"
right = true
why = "every token attends to every other token."
'''


def fake_module(texts_path: Path) -> types.ModuleType:
    """bertlab.exercises.nb96: the checking code of the fake notebook, its texts in a file."""
    module = types.ModuleType("bertlab.exercises.nb96")
    module.TEXTS = texts_path
    module.NUMBERS = [3, 5, -4]
    module.square = lambda x: x * x
    module.double = lambda x: 2 * x
    module.parameters = lambda: 3 * 4 + 4
    module.weights_only = functools.partial(int.__mul__, 3, 4)
    return module


def load(monkeypatch, tmp_path: Path, texts: str = TEXTS) -> core.NotebookExercises:
    path = tmp_path / "nb96.toml"
    path.write_text(texts, encoding="utf-8")
    monkeypatch.setitem(sys.modules, "bertlab.exercises.nb96", fake_module(path))
    core.load_notebook.cache_clear()
    return core.load_notebook("96")


@pytest.fixture(autouse=True)
def forget_loaded_notebooks():
    core.load_notebook.cache_clear()
    yield
    core.load_notebook.cache_clear()


# --- a notebook defined by a texts file ------------------------------------------------------


def test_a_texts_file_defines_exercises_and_a_quiz_bound_to_the_module(
    monkeypatch, tmp_path, capsys
):
    registered = load(monkeypatch, tmp_path)
    kinds = [type(e) for e in registered.exercises.values()]
    assert kinds == [FunctionExercise, ValueExercise, OpenExercise]
    assert str(check("96.1", lambda x: x**2)) == (
        "✓ 96.1 Squares: right on all 3 test inputs. Squares grow fast."
    )
    assert str(check("96.1", lambda x: x + x)).endswith("not yet: that is x + x, not x times x.")
    assert "on input (x=3): got 7, expected 9" in str(check("96.1", lambda x: x * x - 2))
    assert check("96.2", 16) and check("96.2", 16.4)
    assert str(check("96.2", 12)).endswith("not yet: that forgets the four biases.")
    assert isinstance(registered.exercises["96.2"].answer, Computed)  # computed when first checked
    assert str(check("96.3", "It overflows.")).endswith(
        "model answer: exp overflows to inf beyond about 88 in float32; the shift changes nothing else."
    )
    hint("96.1")
    assert capsys.readouterr().out == "Hint for 96.1 Squares: x times x.\n"
    graded = quiz("96", answers=["b", 12, "b"])
    assert str(graded).splitlines() == [
        "1. ✗ Not quite: b) that would make each key's weights sum to 1.",
        "2. ✗ Not quite: that forgets the biases.",
        "3. ✓ Right: b) every token attends to every other token.",
    ]


# --- a bad texts file: the error names the file, the exercise or question, and the key -------


def edited(old: str, new: str) -> str:
    assert TEXTS.count(old) == 1, old
    return TEXTS.replace(old, new)


BAD_FILES = [
    pytest.param(
        edited('why = "that is x + x, not x times x."\n', ""),
        ["exercise 96.1, mistake 1: missing key 'why'"],
        id="a mistake without a why",
    ),
    pytest.param(
        edited('why = "that is x + x, not x times x."', 'why = " "'),
        ["exercise 96.1: each mistake is a Mistake(answer, why) with a why"],
        id="an empty why",
    ),
    pytest.param(
        edited('answer = "double"', 'answer = "dubble"'),
        ["exercise 96.1, mistake 1: answer = 'dubble', but bertlab.exercises.nb96 has no 'dubble'"],
        id="a wrong answer the module lacks",
    ),
    pytest.param(
        edited('reference = "square"', 'reference = "squared"'),
        ["exercise 96.1: reference = 'squared', but bertlab.exercises.nb96 has no 'squared'"],
        id="a reference the module lacks",
    ),
    pytest.param(
        edited('computed = "weights_only"', 'computed = "weights"'),
        ["exercise 96.2, mistake 2: computed = 'weights', but bertlab.exercises.nb96 has no"],
        id="a computed value the module lacks",
    ),
    pytest.param(
        edited('reference = "square"', 'reference = "NUMBERS"'),
        ["exercise 96.1: reference = 'NUMBERS' is not a function of bertlab.exercises.nb96"],
        id="a name that is not a function",
    ),
    pytest.param(
        edited('answer = "double"', "answer = 2"),
        ["exercise 96.1, mistake 1: answer must name a function of bertlab.exercises.nb96"],
        id="a code exercise's wrong answer that is a value",
    ),
    pytest.param(
        edited('title = "Squares"', 'title = "Squares'),
        ["not valid TOML: ", "(at line 5, column"],
        id="malformed TOML",
    ),
    pytest.param(
        edited('hint = "x times x."', 'hnit = "x times x."'),
        ["exercise 96.1: unknown key 'hnit' (it may have id, title, hint, reference, inputs, "],
        id="an unknown key",
    ),
    pytest.param(
        edited('title = "Squares"\n', ""),
        ["exercise 96.1: missing key 'title'"],
        id="a missing title",
    ),
    pytest.param(
        edited("abs_tol = 0.5", 'abs_tol = "0.5"'),
        ["exercise 96.2: abs_tol must be a number, got '0.5'"],
        id="a setting of the wrong type",
    ),
    pytest.param(
        edited('computed = "parameters"', 'computed = "parameters"\nanswer = 16'),
        ["exercise 96.2: give either answer (a value) or computed (a function that returns it)"],
        id="both an answer and a computed one",
    ),
    pytest.param(
        edited('why = "that would make each key\'s weights sum to 1."\n', ""),
        ["question 1, option 2: missing key 'why'"],
        id="an option without a why",
    ),
    pytest.param(
        edited('text = "Yes, like GPT"', 'text = "Yes, like GPT"\nright = true'),
        [", question 3: a ChoiceQuestion has exactly one right option"],
        id="two right options",
    ),
    pytest.param(
        edited("tolerance = 0\n", ""),
        ["question 2: missing key 'tolerance'"],
        id="a number question without a tolerance",
    ),
    pytest.param(
        edited("answer = 16\n", 'answer = "16"\n'),
        ["question 2: answer must be a number, got '16'"],
        id="a number question whose answer is text",
    ),
    pytest.param(
        "[[exercises]]\n" + TEXTS.split("[[exercise]]", 2)[1],
        ["the file: unknown key 'exercises' (it may have exercise, question)"],
        id="a misspelt table",
    ),
]


@pytest.mark.parametrize(("texts", "says"), BAD_FILES)
def test_a_bad_texts_file_is_refused_naming_the_file_the_exercise_and_the_key(
    monkeypatch, tmp_path, texts, says
):
    with pytest.raises(ExerciseDefinitionError) as error:
        load(monkeypatch, tmp_path, texts)
    message = str(error.value)
    assert message.startswith(str(tmp_path / "nb96.toml")), message
    for part in says:
        assert part in message, message


def test_malformed_toml_is_wrapped_with_the_file_name(monkeypatch, tmp_path):
    with pytest.raises(ExerciseDefinitionError, match=r"nb96\.toml: not valid TOML") as error:
        load(monkeypatch, tmp_path, edited('id = "96.1"', 'id = "96.1'))
    assert isinstance(error.value.__cause__, tomllib.TOMLDecodeError)


def test_a_module_without_its_texts_file_is_refused_naming_the_file(monkeypatch):
    module = types.ModuleType(
        "bertlab.exercises.nb96"
    )  # no TEXTS: texts/nb96.toml, which is not there
    monkeypatch.setitem(sys.modules, "bertlab.exercises.nb96", module)
    with pytest.raises(
        ExerciseDefinitionError,
        match=r"^bertlab/exercises/texts/nb96\.toml: no such file, and bertlab\.exercises\.nb96 needs it",
    ):
        check("96.1", 1)


# --- the notebooks' own texts files ------------------------------------------------------------


@pytest.mark.parametrize("notebook", ex.available_notebooks())
def test_every_notebook_module_has_its_texts_in_its_file(notebook):
    module = importlib.import_module(f"bertlab.exercises.nb{notebook}")
    assert not hasattr(module, "EXERCISES") and not hasattr(module, "QUIZ"), (
        f"nb{notebook}.py builds its exercises in Python; they belong in its texts file"
    )
    path = definitions.texts_path(module)
    assert path == ROOT / "bertlab" / "exercises" / "texts" / f"nb{notebook}.toml"
    exercises, questions, name = definitions.read_texts(module)
    assert name == f"bertlab/exercises/texts/nb{notebook}.toml"
    assert exercises and questions


def test_the_texts_files_ship_with_the_package():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["bertlab"]
    shipped = {p for pattern in patterns for p in (ROOT / "bertlab").glob(pattern)}
    texts = set((ROOT / "bertlab" / "exercises" / "texts").glob("*.toml"))
    assert texts and texts <= shipped


def without_keywords(answer):
    """A wrong answer written as partial(f, ..., keyword=...) as f itself, without the slip."""
    if isinstance(answer, functools.partial) and answer.keywords:
        return functools.partial(answer.func, *answer.args)
    return None


@pytest.mark.parametrize("notebook", ex.available_notebooks())
def test_a_wrong_answer_written_as_a_partial_is_right_without_its_keywords(notebook):
    """`scale_by_128 = partial(quantize_row, levels=128)` promises 'the reference, but with
    levels=128': without the keyword it must pass the checker."""
    problems, seen = [], 0
    for exercise in ex.exercises(notebook):
        for mistake in getattr(exercise, "mistakes", ()):
            answer = mistake.answer
            if isinstance(answer, Computed):
                base = without_keywords(answer.function)
                right = base is not None and exercise.check(base())
            else:
                base = without_keywords(answer)
                right = base is not None and exercise.check(base)
            if base is None:
                continue
            seen += 1
            if not right:
                problems.append(f"{exercise.id}: {mistake.why!r} without its keywords is wrong")
    assert not problems, "\n".join(problems)
    if notebook in {"02", "03", "04", "07b", "08", "08b", "09", "10", "11", "12", "13", "14"}:
        assert seen, f"notebook {notebook} writes its slips as partials"


def test_definitions_documents_every_key_a_texts_file_may_have():
    keys = set(definitions.KEY_TYPES) | {"answer"}
    undocumented = [
        key
        for key in keys
        if not any(f in definitions.__doc__ for f in (f"`{key}`", f"{key} =", f"{key}]]"))
    ]
    assert not undocumented, f"definitions.py's docstring does not show {undocumented}"
