"""Classification metrics (notebook 10) equal scikit-learn's on the same predictions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as sk

from bertlab.metrics.classification import (
    accuracy,
    classification_report,
    confusion_matrix,
    macro_f1,
    per_class_scores,
)


@st.composite
def predictions(draw):
    num_labels = draw(st.integers(2, 6))
    size = draw(st.integers(1, 60))
    labels = st.integers(0, num_labels - 1)
    y_true = draw(st.lists(labels, min_size=size, max_size=size))
    y_pred = draw(st.lists(labels, min_size=size, max_size=size))
    return num_labels, y_true, y_pred


@settings(max_examples=80, deadline=None)
@given(predictions())
def test_metrics_equal_scikit_learn(case):
    num_labels, y_true, y_pred = case
    labels = list(range(num_labels))
    assert accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert (
        confusion_matrix(y_true, y_pred, num_labels)
        == sk.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    )
    assert macro_f1(y_true, y_pred, num_labels) == pytest.approx(
        sk.f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    )
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    ours = per_class_scores(y_true, y_pred, num_labels)
    assert [s["precision"] for s in ours] == pytest.approx(precision.tolist())
    assert [s["recall"] for s in ours] == pytest.approx(recall.tolist())
    assert [s["f1"] for s in ours] == pytest.approx(f1.tolist())
    assert [s["support"] for s in ours] == support.tolist()


def test_report_on_a_known_case():
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    report = classification_report(y_true, y_pred, ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert report["macro_recall"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert report["macro_f1"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro"))


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="y_true has 2 labels but y_pred has 1"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="no labels"):
        accuracy([], [])
    with pytest.raises(ValueError, match="out of range"):
        confusion_matrix([0, 3], [0, 1], num_labels=2)
