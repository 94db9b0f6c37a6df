"""End-of-notebook quizzes: 3-5 questions with immediate feedback and an explanation per option.

A notebook's questions are the `[[question]]` tables of its texts file (texts/nbNN.toml, read
by definitions.py). `quiz("04")` shows them. In Jupyter each question is two outputs: the question and its
lettered options as plain HTML (so any static viewer, GitHub or `nbconvert --to html` without
a widget renderer, shows a readable quiz that gives nothing away), then a row of letter buttons
(an ipywidget) above the feedback. The feedback of a multiple-choice question is switched in
the browser (`jsdlink` from the buttons to a `Stack` of explanations): "Javascript links persist
when embedding widgets in html web pages without a kernel" (ipywidgets, Widget Events), so a
page that renders the saved widget state with @jupyter-widgets/html-manager answers clicks
too. A numeric question is checked by the kernel when the learner presses Enter.

Without ipywidgets or outside a Jupyter kernel `quiz("04")` prints the questions, and
`quiz("04", answers=["b", 0.08, "a"])` grades answers anywhere (a letter per multiple-choice
question, a number per numeric one); the result is truthy when all are right.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bertlab.exercises.core import load_notebook
from bertlab.exercises.errors import UnknownExerciseError
from bertlab.exercises.questions import (
    LETTERS,
    ChoiceQuestion,
    NumberQuestion,
    Option,
    Question,
    validate_quiz,
)

__all__ = ["ChoiceQuestion", "NumberQuestion", "Option", "QuizResult", "quiz", "validate_quiz"]

RIGHT_COLOR, WRONG_COLOR = "#1a7f37", "#b35900"
# --- text: the fallback, and grading anywhere ----------------------------------------------


@dataclass(frozen=True)
class QuizResult:
    """Feedback on a whole quiz, one line a question; truthy when every answer is right."""

    lines: tuple[str, ...]
    ok: bool

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        return "\n".join(self.lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = (
            f'<div style="color:{RIGHT_COLOR if "✓" in line else WRONG_COLOR}">{html.escape(line)}</div>'
            for line in self.lines
        )
        return "".join(rows)


def grade_quiz(notebook: str, answers: Sequence) -> QuizResult:
    """Grade one answer per question: a letter for a choice, a number for a numeric question."""
    questions = _questions(notebook)
    if len(answers) != len(questions):
        raise ValueError(
            f"quiz {notebook} has {len(questions)} questions, got {len(answers)} answers"
        )
    graded = [question.grade(answer) for question, answer in zip(questions, answers)]
    lines = tuple(f"{number}. {text}" for number, (_, text) in enumerate(graded, 1))
    return QuizResult(lines, all(right for right, _ in graded))


def question_text(question: Question, number: int) -> str:
    lines = [f"{number}. {' '.join(question.prompt.split())}"]
    if isinstance(question, ChoiceQuestion):
        lines += [
            f"   {letter}) {option.text}" for letter, option in zip(LETTERS, question.options)
        ]
    else:
        lines.append("   (a number)")
    return "\n".join(lines)


def quiz_text(notebook: str) -> str:
    questions = _questions(notebook)
    example = ", ".join("'a'" if isinstance(q, ChoiceQuestion) else "0.5" for q in questions)
    header = f'Quiz, notebook {notebook}: answer with quiz("{notebook}", answers=[{example}])'
    return "\n\n".join([header, *(question_text(q, n) for n, q in enumerate(questions, 1))])


# --- HTML and widgets -----------------------------------------------------------------------


def _inline_html(text: str) -> str:
    """Escape text for HTML, keeping `code` spans as <code> (prompts and options use them)."""
    escaped = html.escape(" ".join(text.split()))
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def question_html(question: Question, number: int) -> str:
    """The question and its lettered options, with nothing that gives the answer away."""
    prompt = f"<p><b>{number}.</b> {_inline_html(question.prompt)}</p>"
    if isinstance(question, ChoiceQuestion):
        body = "".join(
            f'<div style="margin-left:1.5em">{letter}) {_inline_html(option.text)}</div>'
            for letter, option in zip(LETTERS, question.options)
        )
    else:
        body = "<p><i>Answer with a number.</i></p>"
    return f'<div class="bertlab-quiz-question" style="margin-top:0.8em">{prompt}{body}</div>'


def _feedback_html(text: str) -> str:
    color = RIGHT_COLOR if text.startswith("✓") else WRONG_COLOR
    return f'<span style="color:{color}">{_inline_html(text)}</span>'


def choice_widget(question: ChoiceQuestion):
    """Letter buttons above a Stack of explanations, switched in the browser by a jsdlink."""
    import ipywidgets as widgets

    letters = list(LETTERS[: len(question.options)])
    buttons = widgets.ToggleButtons(
        options=letters, value=None, style={"button_width": "2.6em"}, tooltips=letters
    )
    explanations = [
        widgets.HTMLMath(_feedback_html(question.grade(letter)[1])) for letter in letters
    ]
    stack = widgets.Stack(explanations, selected_index=None)
    widgets.jsdlink((buttons, "index"), (stack, "selected_index"))
    return widgets.VBox([buttons, stack])


def number_widget(question: NumberQuestion):
    """A text box; the kernel grades it when the learner presses Enter."""
    import ipywidgets as widgets

    box = widgets.Text(placeholder="a number, then Enter", continuous_update=False)
    feedback = widgets.HTMLMath()

    def grade(change) -> None:
        if change["new"].strip():
            feedback.value = _feedback_html(question.grade(change["new"])[1])

    box.observe(grade, names="value")
    return widgets.VBox([box, feedback])


def _display_widget_quiz(notebook: str) -> None:
    from IPython.display import display

    questions = _questions(notebook)
    kinds = {type(question) for question in questions}
    how = [
        text
        for kind, text in [
            (ChoiceQuestion, "pick a letter"),
            (NumberQuestion, "type a number and press Enter"),
        ]
        if kind in kinds
    ]
    intro = f"Quiz, notebook {notebook}: {' or '.join(how)}."
    display({"text/plain": intro, "text/html": f"<p><b>{html.escape(intro)}</b></p>"}, raw=True)
    for number, question in enumerate(questions, 1):
        display(
            {
                "text/plain": question_text(question, number),
                "text/html": question_html(question, number),
            },
            raw=True,
        )
        widget = (
            choice_widget(question)
            if isinstance(question, ChoiceQuestion)
            else number_widget(question)
        )
        bundle = widget._repr_mimebundle_()
        bundle["text/plain"] = f"[run this cell to answer question {number} here]"  # same every run
        display(bundle, raw=True)


def _in_jupyter_with_widgets() -> bool:
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _questions(notebook: str) -> tuple:
    questions = load_notebook(notebook).quiz
    if not questions:
        raise UnknownExerciseError(f"notebook {notebook} has no quiz yet")
    return questions


def quiz(notebook: str, answers: Sequence | None = None) -> QuizResult | None:
    """Show the quiz of a notebook (`quiz("04")`), or grade `answers`, one a question."""
    if answers is not None:
        return grade_quiz(notebook, answers)
    if _in_jupyter_with_widgets():
        _display_widget_quiz(notebook)
    else:
        print(quiz_text(notebook))
    return None
