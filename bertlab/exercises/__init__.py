"""Exercises you can check, hints, and end-of-notebook quizzes for every notebook of the series.

For learners
------------
    from bertlab.exercises import check, hint, quiz

    check("08.2", 335_000_000)    # ✗ 08.2 Parameters of BERT-large: not yet: your 335,000,000 is ...
    hint("08.2")                  # prints the hint
    check("06.3", causal_mask)    # a code exercise: pass your function itself, no parentheses
    check("08.1", "Because ...")  # a question in words: after your attempt, a model answer
    quiz("04")                    # the notebook's quiz, with feedback as you click

`check` answers in one line whether your answer is right and, if not, what is off; it never
shows the answer before you have tried. For code it runs your function on a few test inputs
next to bertlab's reference and compares the outputs (floats within rounding, any order where
order does not matter); an exception in your code comes back as a line, not a traceback.
The result is truthy when right, so `assert check("06.3", causal_mask)` works.

For notebook authors: `bertlab/exercises/nbNN.py`
-------------------------------------------------
One module a notebook (nb04.py, nb08b.py) defines two lists; it is imported only when a learner
first asks for one of its ids, so it may import torch and bertlab freely:

    from bertlab.exercises.core import Case, Computed, FunctionExercise, Mistake, OpenExercise, ...
    from bertlab.exercises.questions import ChoiceQuestion, NumberQuestion, Option

    EXERCISES = [
        ValueExercise(
            "08.2", "Parameters of BERT-large",
            hint="Count one block (4 H×H attention matrices, 2 H×I FFN matrices, biases, 2 LayerNorms), ...",
            answer=Computed(_bert_large_parameters),  # computed by the package, not typed in
            mistakes=[Mistake(334_092_288, "that leaves out the pooler (an H×H layer and its bias).")],
            explanation="24 blocks of 12.6 M parameters each hold 90% of them.",   # shown when right
        ),
        FunctionExercise(
            "06.3", "A causal mask",
            hint="torch.tril keeps the lower triangle.",
            reference=_causal_mask,                    # a correct answer, written in this module
            inputs=[(1,), (4,), Case(args=(6,), label="n=6")],   # or a function returning them
            mistakes=[Mistake(_upper_triangle, "position i may see j <= i, not j >= i.")],
        ),
        OpenExercise(
            "08.1", "Why pre-LN breaks the pretrained weights",
            hint="What does each block's input look like to the weights that were trained?",
            model_answer="The weights were trained on post-LN inputs ...",
        ),
    ]
    QUIZ = [
        ChoiceQuestion("Where does BERT put its [CLS] vector?", [
            Option("At the first position", right=True, why="..."),
            Option("At the last position", why="Myth: that is GPT's last token, not BERT's [CLS]."),
        ]),
        NumberQuestion("How many heads has BERT-base?", answer=12, tolerance=0, why="...",
                       mistakes={64: "64 is the size of one head, 768 / 12."}),
    ]

Rules, each checked when the module loads (a clear error names the module and the id) and by
tests/test_exercises.py: ids are "NN.k" with the module's notebook number; every
ValueExercise and FunctionExercise lists at least one `Mistake` (a wrong answer and why it
is wrong), so the test can prove its checker rejects a wrong answer; the reference passes
its own checker; a quiz has 3-5 questions, a ChoiceQuestion exactly one right option and a
`why` for every option, a NumberQuestion a tolerance. `FunctionExercise(call=...)` runs an
answer that is a class (`call=lambda Adam, params: ...`), `compare=` replaces the default
comparison (compare.py), `ulps`/`abs_tol`/`scale` set the float tolerance (bertlab.testing).
A solution notebook, `solutions/NN_topic_solutions.ipynb`, asserts `check(...)` for every
auto-checked exercise (see solutions/README.md). A complete small example of every kind, with
the feedback each answer gets, is the fake notebook 99 of tests/test_exercises.py.

A notebook shows its exercises with the ids: "**Exercise 08.2** ... `check("08.2", n)`", and
ends with a code cell `quiz("08")`. Its outputs are the same on every run (nbval compares the
questions' text and skips the widget ids), so the cell needs no NBVAL_IGNORE_OUTPUT.
"""

from bertlab.exercises.core import (
    Case,
    CheckResult,
    Computed,
    Exercise,
    ExerciseDefinitionError,
    FunctionExercise,
    Mistake,
    OpenExercise,
    UnknownExerciseError,
    ValueExercise,
    available_notebooks,
    check,
    exercises,
    get_exercise,
    hint,
)
from bertlab.exercises.quizzes import ChoiceQuestion, NumberQuestion, Option, QuizResult, quiz

__all__ = [
    "Case",
    "CheckResult",
    "ChoiceQuestion",
    "Computed",
    "Exercise",
    "ExerciseDefinitionError",
    "FunctionExercise",
    "Mistake",
    "NumberQuestion",
    "OpenExercise",
    "Option",
    "QuizResult",
    "UnknownExerciseError",
    "ValueExercise",
    "available_notebooks",
    "check",
    "exercises",
    "get_exercise",
    "hint",
    "quiz",
]
