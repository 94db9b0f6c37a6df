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

For notebook authors: `nbNN.py` and `texts/nbNN.toml`
-----------------------------------------------------
Texts are data, checkers are code: a notebook's exercises are two files, bound by name.

- `bertlab/exercises/nbNN.py` (nb04.py, nb08b.py) is the checking code: the reference answer of
  each code exercise, the functions that build its test inputs or compute a value's answer, and
  the wrong answers a learner is likely to give. It is imported only when a learner first asks
  for one of its ids, so it may import torch and bertlab freely. A wrong answer that is the
  reference with one thing changed is written as that (the tests check that without its
  keywords such a partial is right):

    def causal_mask(n: int, *, upper: bool = False) -> torch.Tensor:
        ones = torch.ones(n, n, dtype=torch.bool)
        return ones.triu() if upper else ones.tril()

    upper_triangle = partial(causal_mask, upper=True)   # the reference, but upper
    mask_sizes = [1, 4, Case(args=(6,), label="n=6")]   # test inputs: arguments, or Cases

- `bertlab/exercises/texts/nbNN.toml` holds all a learner reads (titles, hints, explanations,
  each mistake's why, model answers, the whole quiz) and each exercise's settings, so that a
  teacher can edit or translate a hint or a quiz (the series' source articles are Chinese)
  without touching the code, and a reader of nbNN.py sees only the checking logic:

    [[exercise]]
    id = "06.3"
    title = "A causal mask"
    hint = "torch.tril keeps the lower triangle."
    reference = "causal_mask"           # a function of nb06.py, by name
    inputs = "mask_sizes"               # a function that returns the test inputs, or a list

    [[exercise.mistake]]                # a wrong answer (here a function) and why it is wrong
    answer = "upper_triangle"
    why = "position i may see j <= i, not j >= i."

    [[exercise]]
    id = "08.2"
    title = "Parameters of BERT-large"
    hint = "Count one block (4 H×H attention matrices, 2 H×I FFN matrices, biases, 2 LayerNorms)."
    computed = "large_parameters"       # computed when first checked (or answer = a value)
    explanation = "24 blocks of 12.6 M parameters each hold 90% of them."   # shown when right

    [[exercise.mistake]]
    answer = 334_092_288                # a value exercise's wrong answers are values (or computed)
    why = "that leaves out the pooler (an H×H layer and its bias)."

    [[exercise]]
    id = "08.1"
    title = "Why pre-LN breaks the pretrained weights"
    hint = "What does each block's input look like to the weights that were trained?"
    model_answer = "The weights were trained on post-LN inputs ..."

    [[question]]                        # the quiz: choice questions and number questions
    prompt = "How many heads has BERT-base?"
    answer = 12
    tolerance = 0
    why = "768 / 64: twelve heads of 64 dimensions."

    [[question.mistake]]
    answer = 64
    why = "64 is the size of one head, 768 / 12."

A choice question has `[[question.option]]` tables (`text`, `why`, `right = true` on one);
definitions.py lists every key. Rules, each checked when the notebook is first used (a clear
error names the file, the exercise id or question, and the key) and by tests/test_exercises.py:
ids are "NN.k" with the module's notebook number; every value and code exercise lists at least
one mistake (a wrong answer and why it is wrong), so the test can prove its checker rejects a
wrong answer; the reference passes its own checker; a quiz has 3-5 questions, a choice question
exactly one right option and a `why` for every option, a number question a tolerance. `call`
names a function that runs an answer that is a class (`def run_adam(Adam, params): ...`),
`compare` one that replaces the default comparison (compare.py), `ulps`/`abs_tol`/`scale` set
the float tolerance (bertlab.testing). A solution notebook, `solutions/NN_topic_solutions.ipynb`,
asserts `check(...)` for every auto-checked exercise (see solutions/README.md). The objects the
files make (kinds.py, questions.py) can also be built in Python: the fake notebook 99 of
tests/test_exercises.py shows every kind with the feedback each answer gets.

A notebook shows its exercises with the ids: "**Exercise 08.2** ... `check("08.2", n)`", and
ends with a code cell `quiz("08")`. Its outputs are the same on every run (nbval compares the
questions' text and skips the widget ids), so the cell needs no NBVAL_IGNORE_OUTPUT.
"""

from bertlab.exercises import core
from bertlab.exercises.core import *  # noqa: F403 - the package exports core's names (below)
from bertlab.exercises.quizzes import ChoiceQuestion, NumberQuestion, Option, QuizResult, quiz

# What a learner or a test imports: core's names, but load_notebook (a tool of the package's
# own), and the quiz's.
__all__ = [name for name in core.__all__ if name != "load_notebook"]
__all__ += ["ChoiceQuestion", "NumberQuestion", "Option", "QuizResult", "quiz"]
