"""SQuAD v1.1 exact match and F1, written from the official evaluation script's formulas.

Notebook 12 uses these and checks them against the official script's functions.

The official v1.1 script normalises both strings the same way (lower-case,
drop ASCII punctuation, drop the articles "a", "an", "the", collapse
whitespace), then scores

- exact match: 1 when the normalised strings are equal, else 0;
- F1: the harmonic mean of precision and recall over the bag of normalised
  tokens shared by prediction and gold (0 when nothing is shared, which
  includes an empty prediction or an empty gold answer);

and takes, for each question, the best score over its gold answers. Corpus
scores are means over questions, in percent; a question with no prediction
scores 0.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation, remove articles, collapse whitespace (in that order)."""
    text = text.lower()
    text = "".join(char for char in text if char not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when prediction and gold are equal after `normalize_answer`, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Token-level F1 between the normalised prediction and gold answer."""
    predicted_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    shared = sum((Counter(predicted_tokens) & Counter(gold_tokens)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(predicted_tokens)
    recall = shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(metric, prediction: str, golds: Iterable[str]) -> float:
    """The best score of `prediction` against any of the gold answers."""
    golds = list(golds)
    if not golds:
        raise ValueError("a question needs at least one gold answer")
    return max(metric(prediction, gold) for gold in golds)


def squad_scores(
    predictions: Mapping[str, str], golds: Mapping[str, Iterable[str]]
) -> dict[str, float]:
    """Corpus exact match and F1 in percent, as the official v1.1 script reports them.

    `golds` maps every question id to its gold answer texts; `predictions` maps
    question ids to predicted text. A question without a prediction scores 0.
    """
    if not golds:
        raise ValueError("no gold questions to score")
    unknown = set(predictions) - set(golds)
    if unknown:
        raise ValueError(f"predictions for unknown question ids, e.g. {sorted(unknown)[0]!r}")
    total_em = total_f1 = 0.0
    for question_id, answers in golds.items():
        if question_id not in predictions:
            continue
        prediction = predictions[question_id]
        total_em += best_over_golds(exact_match, prediction, answers)
        total_f1 += best_over_golds(f1, prediction, answers)
    return {"exact_match": 100.0 * total_em / len(golds), "f1": 100.0 * total_f1 / len(golds)}
