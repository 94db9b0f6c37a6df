"""The exercise framework (bertlab.exercises) and every notebook's exercises, quiz and solutions.

Three parts:
1. the framework on a test-local notebook "99" (a fake `bertlab.exercises.nb99` module that
   builds its exercises in Python; tests/test_exercises_texts.py reads one from a texts file):
   right, wrong and missing answers, the learner's exceptions, tolerances, order, errors;
2. every registered notebook module: each reference passes its checker and each listed mistake
   fails it (a checker that cannot fail is caught), feedback is one line, nothing leaks the
   answer before an attempt, every quiz is well formed;
3. the series is complete: every notebook has >= 3 auto-checked exercises, a quiz of 3-5
   questions, and a solution notebook that calls check(...) for each auto-checked exercise.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import bertlab.exercises as ex
from bertlab.exercises import (
    Case,
    ChoiceQuestion,
    Computed,
    ExerciseDefinitionError,
    FunctionExercise,
    Mistake,
    NumberQuestion,
    OpenExercise,
    Option,
    UnknownExerciseError,
    ValueExercise,
    check,
    compare,
    core,
    hint,
    quiz,
)
from bertlab.exercises import quizzes as quiz_module
from bertlab.testing import float_tolerance

ROOT = Path(__file__).resolve().parent.parent
NOT_ATTEMPTED = [core.NOT_GIVEN, None, ...]


# --- part 1: the framework, on a fake notebook 99 ------------------------------------------


def causal_mask(n: int) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool).tril()


def upper_mask(n: int) -> torch.Tensor:
    return torch.ones(n, n, dtype=torch.bool).triu()


def softmax_rows(x: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    z = x / temperature
    z = z - z.max(dim=-1, keepdim=True).values
    return z.exp() / z.exp().sum(dim=-1, keepdim=True)


def softmax_columns(x: torch.Tensor, *, temperature: float = 1.0) -> torch.Tensor:
    return torch.softmax(x / temperature, dim=0)


def softmax_inputs():
    generator = torch.Generator().manual_seed(0)
    return [
        (torch.randn(3, 5, generator=generator),),
        Case(args=(torch.randn(2, 4, generator=generator) * 20,), kwargs={"temperature": 2.0}),
    ]


FAKE_EXERCISES = [
    ValueExercise(
        "99.1",
        "Parameters of a 3x4 linear layer",
        hint="A weight per input-output pair, and a bias per output.",
        answer=Computed(lambda: sum(p.numel() for p in torch.nn.Linear(3, 4).parameters())),
        mistakes=[Mistake(12, "that forgets the four biases.")],
        explanation="Weights 3·4, plus 4 biases.",
    ),
    ValueExercise(
        "99.2",
        "Minimum of GELU",
        hint="Scan x in [-2, 0] on a fine grid.",
        answer=-0.16997,
        abs_tol=1e-3,
        mistakes=[Mistake(0.0, "zero is GELU's value at 0, not its minimum.")],
    ),
    ValueExercise(
        "99.3",
        "Tokens that start a word",
        hint="Pieces without ##.",
        answer=["un", "play", "able"],
        ordered=False,
        mistakes=[Mistake(["un", "##play", "##able"], "those are the pieces of one word.")],
    ),
    FunctionExercise(
        "99.4",
        "A causal mask",
        hint="torch.tril keeps the lower triangle.",
        reference=causal_mask,
        inputs=[1, 4, Case(args=(6,), label="n=6")],
        mistakes=[Mistake(upper_mask, "token i may look at j <= i, not j >= i.")],
    ),
    FunctionExercise(
        "99.5",
        "Softmax over the last dimension",
        hint="Subtract the row maximum before exp.",
        reference=softmax_rows,
        inputs=softmax_inputs,
        mistakes=[Mistake(softmax_columns, "the softmax runs over each row, dim=-1.")],
    ),
    OpenExercise(
        "99.6",
        "Why subtract the maximum",
        hint="What does exp(100) give in float32?",
        model_answer="exp overflows to inf beyond about 88 in float32; the shift changes nothing else.",
    ),
]

FAKE_QUIZ = [
    ChoiceQuestion(
        "Which dimension does attention's softmax run over?",
        [
            Option("The keys", right=True, why="each query's weights over the keys sum to 1."),
            Option("The queries", why="that would make each key's weights sum to 1."),
            Option("The heads", why="heads are independent; each has its own softmax."),
        ],
    ),
    NumberQuestion(
        "How many parameters has a 3x4 linear layer?",
        answer=16,
        tolerance=0,
        why="3·4 weights plus 4 biases.",
        mistakes={12: "that forgets the biases."},
    ),
    ChoiceQuestion(
        "Does BERT use a causal mask?",
        [
            Option("Yes, like GPT", why="myth: BERT's encoder sees both sides."),
            Option("No", right=True, why="every token attends to every other token."),
        ],
    ),
]


def fake_module(exercises=FAKE_EXERCISES, questions=FAKE_QUIZ, name="nb99"):
    module = types.ModuleType(f"bertlab.exercises.{name}")
    module.EXERCISES, module.QUIZ = list(exercises), list(questions)
    return module


@pytest.fixture
def notebook_99(monkeypatch):
    """Register the fake notebook 99 for one test, and forget it afterwards."""
    core.load_notebook.cache_clear()
    monkeypatch.setitem(sys.modules, "bertlab.exercises.nb99", fake_module())
    yield
    core.load_notebook.cache_clear()


def define(monkeypatch, exercises=FAKE_EXERCISES, questions=FAKE_QUIZ):
    core.load_notebook.cache_clear()
    monkeypatch.setitem(
        sys.modules, "bertlab.exercises.nb98", fake_module(exercises, questions, "nb98")
    )
    try:
        return core.load_notebook("98")
    finally:
        core.load_notebook.cache_clear()


def assert_one_line(result):
    assert "\n" not in str(result) and "\n" not in repr(result), repr(result)
    assert str(result).strip(), "empty feedback"


def test_importing_the_framework_stays_light():
    code = "import sys, bertlab.exercises; print(sorted({'torch', 'ipywidgets', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"importing bertlab.exercises imported {out.stdout}"


@pytest.mark.usefixtures("notebook_99")
def test_a_right_value_is_truthy_one_line_and_renders_as_html():
    result = check("99.1", 16)
    assert result and result.ok
    assert_one_line(result)
    assert str(result).startswith("✓ 99.1 Parameters of a 3x4 linear layer: right.")
    assert "Weights 3·4, plus 4 biases." in str(result)
    assert "✓ 99.1" in result._repr_html_() and result._repr_html_().count("<div") == 1
    assert check("99.1", 16.0) and check("99.1", np.int64(16)) and check("99.1", torch.tensor(16))


def test_a_computed_answer_is_computed_once_when_first_checked_and_never_shown():
    calls = []
    answer = Computed(lambda: calls.append(1) or 16)
    exercise = ValueExercise("98.1", "t", hint="h", answer=answer, mistakes=[Mistake(12, "w")])
    assert calls == [] and "16" not in repr(exercise) and "12" not in repr(exercise)
    assert exercise.check(16) and not exercise.check(12) and exercise.check(16.0)
    assert calls == [1]


@pytest.mark.usefixtures("notebook_99")
def test_a_listed_mistake_gets_its_explanation_and_never_the_answer():
    result = check("99.1", 12)
    assert not result
    assert_one_line(result)
    assert "forgets the four biases" in str(result) and "16" not in str(result)


@pytest.mark.usefixtures("notebook_99")
@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (17, "close, but too high"),
        (160, "too high by a factor of about 10^1"),
        (8, "too low by a factor of about 2"),
        (-16, "of the wrong sign, right size otherwise"),
        ("16", "got '16' (str), expected a number"),
    ],
)
def test_an_unlisted_wrong_value_says_what_is_off_without_the_answer(answer, says):
    result = check("99.1", answer)
    assert not result and says in str(result), str(result)
    without_yours = str(result).replace(repr(answer), "").replace(str(answer), "")
    assert "16" not in without_yours and "Weights" not in without_yours


@pytest.mark.usefixtures("notebook_99")
@pytest.mark.parametrize("answer", NOT_ATTEMPTED)
def test_no_answer_yet_shows_how_to_answer_and_no_answer(answer):
    for exercise_id in ("99.1", "99.4", "99.6"):
        result = check(exercise_id, answer)
        assert not result and "no answer yet" in str(result), str(result)
        assert_one_line(result)
        assert "16" not in str(result) and "model answer:" not in str(result)


@pytest.mark.usefixtures("notebook_99")
def test_a_found_value_is_right_within_its_absolute_tolerance():
    assert check("99.2", -0.1705)
    assert not check("99.2", -0.168)
    assert "zero is GELU's value at 0" in str(check("99.2", 0))


@pytest.mark.usefixtures("notebook_99")
def test_order_does_not_matter_when_the_exercise_says_so_and_lists_equal_tuples():
    assert check("99.3", ["able", "un", "play"]) and check("99.3", ("play", "able", "un"))
    assert check("99.3", {"able", "un", "play"})
    wrong = check("99.3", ["un", "play", "ible"])
    assert not wrong and "'ible' should not be there" in str(wrong) and "'able'" not in str(wrong)
    assert "2 items, expected 3" in str(check("99.3", ["un", "play"]))


@pytest.mark.usefixtures("notebook_99")
def test_a_right_function_passes_on_every_input():
    result = check("99.4", lambda n: torch.tril(torch.ones(n, n)).bool())
    assert result and "right on all 3 test inputs" in str(result)
    assert check("99.5", softmax_rows) and check(
        "99.5", lambda x, temperature=1.0: torch.softmax(x / temperature, -1)
    )


@pytest.mark.usefixtures("notebook_99")
def test_a_function_like_a_listed_mistake_gets_its_explanation():
    result = check("99.4", lambda n: torch.ones(n, n, dtype=torch.bool).triu())
    assert not result and "not j >= i" in str(result)
    assert "the softmax runs over each row" in str(check("99.5", softmax_columns))


@pytest.mark.usefixtures("notebook_99")
def test_a_wrong_function_is_told_the_input_and_what_differs():
    too_wide = check("99.4", lambda n: torch.ones(n, n + 1, dtype=torch.bool).tril())
    assert not too_wide and "on input (n=1): shape (1, 2), expected (1, 1)" in str(too_wide), str(
        too_wide
    )
    as_float = check("99.4", lambda n: torch.ones(n, n).tril())
    assert "a float tensor (torch.float32), expected a bool tensor" in str(as_float)
    no_return = check("99.4", lambda n: None)
    assert "missing `return`" in str(no_return)
    off = check("99.5", lambda x, temperature=1.0: torch.softmax(x, -1))
    assert not off and "on input (x=a float tensor of shape (2, 4), temperature=2.0)" in str(off), (
        str(off)
    )
    assert "values differ, first at index" in str(off) and "largest difference" in str(off)
    for result in (too_wide, as_float, no_return, off):
        assert_one_line(result)


@pytest.mark.usefixtures("notebook_99")
def test_the_learners_exception_is_feedback_not_a_traceback():
    def broken(n):
        raise ValueError("n must be positive\nsecond line of the message")

    result = check("99.4", broken)
    assert not result
    assert_one_line(result)
    assert "on input (n=1) it raised ValueError: n must be positive." in str(result)
    assert "raised IndexError" in str(check("99.4", lambda n: [][n]))


@pytest.mark.usefixtures("notebook_99")
def test_passing_a_value_where_a_function_is_expected_says_so():
    result = check("99.4", causal_mask(3))
    assert not result and "expected your function or class itself" in str(result)


@pytest.mark.usefixtures("notebook_99")
def test_an_answer_that_changes_its_input_in_place_does_not_spoil_the_next_check():
    def in_place(x, temperature=1.0):
        x /= temperature
        x -= x.max(dim=-1, keepdim=True).values
        x.exp_()
        return x / x.sum(dim=-1, keepdim=True)

    assert check("99.5", in_place)
    assert check("99.5", softmax_rows)


@pytest.mark.usefixtures("notebook_99")
def test_floats_are_compared_within_ulps_of_their_scale_from_bertlab_testing():
    x = softmax_inputs()[0][0]
    expected = softmax_rows(x)
    allowed = float_tolerance(expected)
    nudged = expected + 0.5 * allowed
    assert check(
        "99.5",
        lambda x, temperature=1.0: (
            nudged if x.shape == (3, 5) else softmax_rows(x, temperature=temperature)
        ),
    )
    assert not check(
        "99.5", lambda x, temperature=1.0: softmax_rows(x, temperature=temperature) + 4 * allowed
    )
    assert check(
        "99.5", lambda x, temperature=1.0: softmax_rows(x.double(), temperature=temperature).numpy()
    )


@pytest.mark.parametrize(
    ("actual", "expected", "verdict"),
    [
        (torch.tensor([float("nan"), 1.0]), torch.tensor([float("nan"), 1.0]), None),
        (torch.tensor([float("-inf"), 0.5]), torch.tensor([float("-inf"), 0.5]), None),
        (torch.tensor([0.0, 0.5]), torch.tensor([float("-inf"), 0.5]), "first at index (0,)"),
        (np.array([[1, 2], [3, 4]]), torch.tensor([[1, 2], [3, 4]]), None),
        ([[1.0, 2.0]], torch.tensor([[1.0, 2.0]]), None),
        (0.5, torch.tensor(0.5), None),
        (torch.tensor([1, 0]), torch.tensor([True, False]), "expected a bool tensor"),
        ({"b": [1, 2], "a": 1}, {"a": 1, "b": [1, 2]}, None),
        ({"a": 1}, {"a": 1, "b": 2}, "missing keys ['b']"),
        ({"a": 1, "b": (1, 3)}, {"a": 1, "b": [1, 2]}, "['b']: item 1: got 3, expected 2"),
        (["x", "y"], ("x", "y"), None),
    ],
)
def test_any_correct_form_is_right_and_a_wrong_one_is_named(actual, expected, verdict):
    found = compare.difference(actual, expected)
    assert found == verdict if verdict is None else verdict in found, found


@pytest.mark.usefixtures("notebook_99")
def test_an_open_question_shows_the_model_answer_only_after_an_attempt():
    for empty in ("", "   ", *NOT_ATTEMPTED):
        assert "overflows" not in str(check("99.6", empty))
    result = check("99.6", "Because exp of a large logit is inf.")
    assert result and "model answer: exp overflows to inf" in str(result)
    assert_one_line(result)


@pytest.mark.usefixtures("notebook_99")
def test_hint_prints_one_line(capsys):
    hint("99.2")
    out = capsys.readouterr().out
    assert out == "Hint for 99.2 Minimum of GELU: Scan x in [-2, 0] on a fine grid.\n"


@pytest.mark.usefixtures("notebook_99")
def test_unknown_ids_get_a_clear_error_with_the_notebooks_ids():
    with pytest.raises(
        UnknownExerciseError,
        match=r"notebook 99 has no exercise 99\.9; its exercises are 99\.1, 99\.2, 99\.3, 99\.4, 99\.5, 99\.6",
    ):
        check("99.9", 1)
    with pytest.raises(UnknownExerciseError, match=r"ids look like '04\.2'.*got '99-1'"):
        hint("99-1")
    with pytest.raises(
        UnknownExerciseError, match=r"notebook 97 has no exercises registered .*nb97\.py"
    ):
        check("97.1", 1)
    with pytest.raises(
        UnknownExerciseError, match="notebook names look like '04' or '08b', got '4'"
    ):
        quiz("4")


@pytest.mark.parametrize(
    ("exercises", "questions", "message"),
    [
        (
            [ValueExercise("98.1", "t", hint="h", answer=1, mistakes=[])],
            FAKE_QUIZ,
            "98.1 lists no mistakes",
        ),
        (
            [ValueExercise("97.1", "t", hint="h", answer=1, mistakes=[Mistake(2, "w")])],
            FAKE_QUIZ,
            "must look like '98.1'",
        ),
        (
            [ValueExercise("98.1", "t", hint=" ", answer=1, mistakes=[Mistake(2, "w")])],
            FAKE_QUIZ,
            "98.1 has no hint",
        ),
        (
            [ValueExercise("98.1", "t", hint="h", answer=1, mistakes=[Mistake(2, "")])],
            FAKE_QUIZ,
            "with a why",
        ),
        (
            [OpenExercise("98.1", "t", hint="h", model_answer="m")] * 2,
            FAKE_QUIZ,
            "98.1 is used twice",
        ),
        ([], FAKE_QUIZ[:2], "a quiz has 3-5 questions, got 2"),
        ([], FAKE_QUIZ * 2, "a quiz has 3-5 questions, got 6"),
        (
            [],
            [*FAKE_QUIZ[:2], ChoiceQuestion("q", [Option("a", "w", True), Option("b", "w", True)])],
            "question 3: a ChoiceQuestion has exactly one right option",
        ),
        (
            [],
            [*FAKE_QUIZ[:2], ChoiceQuestion("q", [Option("a", "w", True), Option("b", "")])],
            "every option needs a why",
        ),
        (
            [],
            [*FAKE_QUIZ[:2], NumberQuestion("q", 1.0, 0.1, "w", mistakes={1.05: "x"})],
            "within the tolerance",
        ),
        ([], [*FAKE_QUIZ[:2], NumberQuestion("q", 1.0, -1, "w")], "tolerance >= 0"),
    ],
)
def test_a_malformed_definition_is_refused_with_module_and_id(
    monkeypatch, exercises, questions, message
):
    with pytest.raises(ExerciseDefinitionError, match=re.escape(message)) as error:
        define(monkeypatch, exercises, questions)
    assert "bertlab.exercises.nb98" in str(error.value)


def test_a_reference_that_raises_is_an_error_of_the_definition_not_the_learners():
    exercise = FunctionExercise(
        "98.1", "t", hint="h", reference=lambda n: 1 / n, inputs=[0], mistakes=[Mistake(abs, "w")]
    )
    with pytest.raises(
        ExerciseDefinitionError, match="reference of exercise 98.1 raised ZeroDivisionError"
    ):
        exercise.check(lambda n: 0)


# --- part 1b: the quiz -----------------------------------------------------------------------


@pytest.mark.usefixtures("notebook_99")
def test_quiz_answers_are_graded_with_an_explanation_per_option():
    right = quiz("99", answers=["a", 16, "B"])
    assert right and str(right).count("✓ Right") == 3
    wrong = quiz("99", answers=["b", 12, "a"])
    assert not wrong
    assert str(wrong).splitlines() == [
        "1. ✗ Not quite: b) that would make each key's weights sum to 1.",
        "2. ✗ Not quite: that forgets the biases.",
        "3. ✗ Not quite: a) myth: BERT's encoder sees both sides.",
    ]
    assert "17 is too high; try again." in str(quiz("99", answers=["a", 17, "b"]))
    assert "answer with one letter from a to c" in str(quiz("99", answers=["z", 16, "b"]))
    assert "answer with one letter from a to c" in str(quiz("99", answers=["ab", 16, "b"]))
    with pytest.raises(ValueError, match="quiz 99 has 3 questions, got 2 answers"):
        quiz("99", answers=["a", 16])


@pytest.mark.usefixtures("notebook_99")
def test_quiz_prints_plain_text_outside_jupyter_without_the_answers(capsys):
    assert quiz("99") is None
    out = capsys.readouterr().out
    assert out.startswith("Quiz, notebook 99: answer with quiz(\"99\", answers=['a', 0.5, 'a'])")
    assert (
        "1. Which dimension does attention's softmax run over?\n   a) The keys\n   b) The queries"
        in out
    )
    assert "sum to 1" not in out and "myth" not in out


@pytest.mark.usefixtures("notebook_99")
def test_the_quiz_widget_switches_its_feedback_in_the_browser():
    from ipywidgets.widgets.widget import _instances  # every live widget, links included
    from ipywidgets.widgets.widget_link import DirectionalLink

    choice = quiz_module.choice_widget(FAKE_QUIZ[0])
    buttons, stack = choice.children
    assert buttons.options == ("a", "b", "c") and buttons.index is None
    assert stack.selected_index is None
    assert [
        child.value.startswith('<span style="color:#1a7f37">✓') for child in stack.children
    ] == [True, False, False]
    links = [w for w in _instances.values() if isinstance(w, DirectionalLink)]
    assert any(
        link.source == (buttons, "index") and link.target == (stack, "selected_index")
        for link in links
    )

    number = quiz_module.number_widget(FAKE_QUIZ[1])
    box, feedback = number.children
    box.value = "12"
    assert "forgets the biases" in feedback.value
    box.value = "16"
    assert "✓ Right" in feedback.value
    html = quiz_module.question_html(FAKE_QUIZ[0], 1)
    assert "The queries" in html and "sum to 1" not in html and "myth" not in html


NOTEBOOK_RUNNING_THE_QUIZ = [
    "import sys, types\n"
    "sys.path.insert(0, {tests!r})\n"
    "import test_exercises as t\n"
    "sys.modules['bertlab.exercises.nb99'] = t.fake_module()",
    "from bertlab.exercises import quiz\nquiz('99')",
]


@pytest.mark.slow
def test_a_quiz_run_by_nbclient_reads_in_a_static_html_page(tmp_path, notebook_99):
    """The state nbclient saves holds the link; the page without any widget script shows the questions."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    cells = [c.format(tests=str(ROOT / "tests")) for c in NOTEBOOK_RUNNING_THE_QUIZ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {model["model_name"] for model in state.values()}
    assert {"DirectionalLinkModel", "StackModel", "ToggleButtonsModel", "TextModel"} <= models
    outputs = notebook.cells[1].outputs
    assert [o["data"]["text/plain"] for o in outputs][1:3] == [
        "1. Which dimension does attention's softmax run over?\n   a) The keys\n   b) The queries\n   c) The heads",
        "[run this cell to answer question 1 here]",
    ]
    page, _ = HTMLExporter().from_notebook_node(notebook)
    visible = re.sub(r"<script.*?</script>", "", page, flags=re.S)
    assert (
        "Which dimension does attention&#39;s softmax run over?" in visible
        or "Which dimension does attention's softmax" in visible
    )
    assert "b) The queries</div>" in visible and "sum to 1" not in visible
    assert "DirectionalLinkModel" in page  # the saved state travels with the page
    (tmp_path / "quiz.html").write_text(page)


# --- part 2: every registered notebook module ------------------------------------------------


def leaks(exercise) -> list[str]:
    """Spellings of a value answer that feedback before (or after a wrong) attempt must not show."""
    answer = exercise.reference_answer()
    if not isinstance(exercise, ValueExercise) or not isinstance(answer, int | float | str):
        return []
    spellings = {str(answer), f"{answer:,}" if isinstance(answer, int) else str(answer)}
    if isinstance(answer, float):
        spellings |= {f"{answer:.6g}", f"{answer:.4g}"}
    return [s for s in spellings if len(s) >= 3]


@pytest.mark.parametrize("notebook", ex.available_notebooks())
def test_every_reference_passes_and_every_mistake_fails(notebook):
    problems = []
    for exercise in ex.exercises(notebook):
        right = exercise.check(exercise.reference_answer())
        if not right:
            problems.append(f"{exercise.id}: its reference fails its checker: {right}")
        for wrong_answer in exercise.wrong_answers():
            wrong = exercise.check(wrong_answer)
            if wrong:
                problems.append(
                    f"{exercise.id}: a wrong answer passes, the checker cannot fail: {wrong}"
                )
            if any(s in str(wrong) for s in leaks(exercise)):
                problems.append(
                    f"{exercise.id}: feedback on a wrong answer shows the answer: {wrong}"
                )
        for result in (right, *map(exercise.check, exercise.wrong_answers())):
            if "\n" in str(result) or not str(result).strip():
                problems.append(f"{exercise.id}: feedback is not one line: {str(result)!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("notebook", ex.available_notebooks())
def test_nothing_shows_the_answer_before_an_attempt(notebook, capsys):
    problems = []
    for exercise in ex.exercises(notebook):
        before = str(exercise.check())
        hint(exercise.id)
        shown = before + capsys.readouterr().out + exercise.title
        if exercise.check():
            problems.append(f"{exercise.id}: passes without an answer")
        if "\n" in before:
            problems.append(f"{exercise.id}: feedback without an answer is not one line")
        if isinstance(exercise, OpenExercise) and exercise.model_answer in before:
            problems.append(f"{exercise.id}: the model answer shows before an attempt")
        problems += [
            f"{exercise.id}: {s!r} shows before an attempt" for s in leaks(exercise) if s in shown
        ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("notebook", ex.available_notebooks())
def test_every_quiz_question_has_one_right_answer_and_explains_every_wrong_one(notebook):
    questions = core.load_notebook(notebook).quiz
    assert 3 <= len(questions) <= 5, f"quiz {notebook} has {len(questions)} questions"
    for number, question in enumerate(questions, 1):
        if isinstance(question, NumberQuestion):
            assert question.tolerance >= 0 and question.why.strip(), f"question {number}"
            assert question.grade(question.answer)[0], f"question {number}: the answer is not right"
            continue
        assert sum(option.right for option in question.options) == 1, f"question {number}"
        assert all(option.why.strip() for option in question.options), f"question {number}"
        html = quiz_module.question_html(question, number)
        assert not any(option.why in html for option in question.options), (
            f"question {number} leaks"
        )


# --- part 3: the series is complete ----------------------------------------------------------


def notebook_names() -> list[str]:
    return sorted(path.stem for path in (ROOT / "notebooks").glob("[0-9][0-9]*_*.ipynb"))


def code_of(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "code")


def missing_pieces(stem: str) -> list[str]:
    """What notebooks/<stem>.ipynb still lacks of its exercises, quiz and solution notebook."""
    notebook = stem.split("_")[0]
    missing = [] if notebook in ex.available_notebooks() else [f"bertlab/exercises/nb{notebook}.py"]
    if not missing:
        missing += registered_pieces_missing(stem, notebook)
    missing += solution_pieces_missing(stem, notebook)
    return missing


def registered_pieces_missing(stem: str, notebook: str) -> list[str]:
    registered = core.load_notebook(notebook)
    checked = [e.id for e in registered.exercises.values() if e.auto_checked]
    missing = []
    if len(checked) < 3:
        missing.append(f"auto-checked exercises: {len(checked)} registered, at least 3 needed")
    if not 3 <= len(registered.quiz) <= 5:
        missing.append(f"a quiz of 3-5 questions ({len(registered.quiz)} registered)")
    path = ROOT / "notebooks" / f"{stem}.ipynb"
    if not re.search(rf"quiz\(\s*[\"']{notebook}[\"']\s*\)", code_of(path)):
        missing.append(f'a code cell calling quiz("{notebook}") in notebooks/{stem}.ipynb')
    unnamed = [i for i in registered.exercises if i not in path.read_text()]
    if unnamed:
        missing.append(f"notebooks/{stem}.ipynb never names exercises {', '.join(unnamed)}")
    return missing


def solution_pieces_missing(stem: str, notebook: str) -> list[str]:
    solutions = ROOT / "solutions" / f"{stem}_solutions.ipynb"
    if not solutions.exists():
        others = sorted(p.name for p in (ROOT / "solutions").glob(f"{notebook}_*.ipynb"))
        misnamed = f" (found {', '.join(others)}: rename it)" if others else ""
        return [f"solutions/{solutions.name}{misnamed}"]
    if notebook not in ex.available_notebooks():
        return []
    code = code_of(solutions)
    checked = [e.id for e in ex.exercises(notebook) if e.auto_checked]
    unchecked = [i for i in checked if not re.search(rf"check\(\s*[\"']{re.escape(i)}[\"']", code)]
    return (
        [f"{solutions.name} never calls check(...) for {', '.join(unchecked)}"] if unchecked else []
    )


@pytest.mark.parametrize("stem", notebook_names())
def test_every_notebook_has_checked_exercises_a_quiz_and_a_solution_notebook(stem):
    missing = missing_pieces(stem)
    assert not missing, f"notebooks/{stem}.ipynb is missing: " + "; ".join(missing)


def test_a_function_answer_that_returns_nothing_gets_one_line_not_a_traceback():
    result = check("07b.2", lambda x, p: None)
    assert not result
    assert "return a tensor shaped like x, not NoneType" in str(result)


def test_every_solution_notebook_closes_with_its_chapters_references_and_links():
    """tools/solution_references.py copies each chapter's References into its solution notebook;
    --check fails (exit 1) when one was edited in the chapter and not copied."""
    import subprocess
    import sys

    tool = ROOT / "tools" / "solution_references.py"
    checked = subprocess.run([sys.executable, str(tool), "--check"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for solution in sorted((ROOT / "solutions").glob("*_solutions.ipynb")):
        last = "".join(json.loads(solution.read_text(encoding="utf-8"))["cells"][-1]["source"])
        assert last.startswith("## References") and "https://" in last, solution.name
        assert "back to the chapter" in last, solution.name
