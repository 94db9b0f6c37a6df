"""Classification metrics from scratch: accuracy, precision/recall/F1, macro-F1, confusion matrix.

Notebook 10 uses them and checks them against scikit-learn. Labels are integers
`0 .. num_labels-1`. As in scikit-learn, a class with no predictions has
precision 0 and a class with no examples has recall 0 (`zero_division=0`), and
the macro average takes every class into account, present or not.
"""

from __future__ import annotations

from collections.abc import Sequence


def _check(y_true: Sequence[int], y_pred: Sequence[int]) -> None:
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if len(y_true) == 0:
        raise ValueError("no labels to score")


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """The fraction of predictions equal to the gold label."""
    _check(y_true, y_pred)
    return sum(int(t) == int(p) for t, p in zip(y_true, y_pred)) / len(y_true)


def confusion_matrix(
    y_true: Sequence[int], y_pred: Sequence[int], num_labels: int | None = None
) -> list[list[int]]:
    """`matrix[gold][predicted]`: how often class `gold` was predicted as `predicted`."""
    _check(y_true, y_pred)
    if num_labels is None:
        num_labels = max(max(y_true), max(y_pred)) + 1
    matrix = [[0] * num_labels for _ in range(num_labels)]
    for gold, predicted in zip(y_true, y_pred):
        if not (0 <= gold < num_labels and 0 <= predicted < num_labels):
            raise ValueError(f"label out of range 0..{num_labels - 1}: ({gold}, {predicted})")
        matrix[int(gold)][int(predicted)] += 1
    return matrix


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def per_class_scores(
    y_true: Sequence[int], y_pred: Sequence[int], num_labels: int | None = None
) -> list[dict[str, float]]:
    """Precision, recall, F1 and support of every class, read off the confusion matrix.

    precision = TP / (TP + FP): of what was predicted as the class, how much was right;
    recall    = TP / (TP + FN): of the class's examples, how many were found;
    F1        = their harmonic mean.
    """
    matrix = confusion_matrix(y_true, y_pred, num_labels)
    scores = []
    for label, row in enumerate(matrix):
        true_positives = row[label]
        predicted = sum(matrix[gold][label] for gold in range(len(matrix)))
        support = sum(row)
        precision = _ratio(true_positives, predicted)
        recall = _ratio(true_positives, support)
        f1 = _ratio(2 * precision * recall, precision + recall)
        scores.append({"precision": precision, "recall": recall, "f1": f1, "support": support})
    return scores


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int], num_labels: int | None = None) -> float:
    """The unweighted mean of the per-class F1 scores: every class counts the same."""
    scores = per_class_scores(y_true, y_pred, num_labels)
    return sum(score["f1"] for score in scores) / len(scores)


def classification_report(
    y_true: Sequence[int], y_pred: Sequence[int], label_names: Sequence[str]
) -> dict:
    """Everything `bertlab evaluate classification` prints: accuracy, macro P/R/F1,
    per-class scores keyed by label name, and the confusion matrix."""
    scores = per_class_scores(y_true, y_pred, len(label_names))
    count = len(scores)
    return {
        "accuracy": accuracy(y_true, y_pred),
        "macro_f1": sum(score["f1"] for score in scores) / count,
        "macro_precision": sum(score["precision"] for score in scores) / count,
        "macro_recall": sum(score["recall"] for score in scores) / count,
        "per_class": {name: score for name, score in zip(label_names, scores)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, len(label_names)),
        "examples": len(y_true),
    }
