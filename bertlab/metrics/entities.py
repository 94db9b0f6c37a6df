"""Entity-level precision, recall and F1, the way CoNLL's `conlleval` (and seqeval) count.

Notebook 11 explains it. A predicted entity counts as correct only when its type,
first word and last word all equal a gold entity's. Tags are read leniently, like
conlleval: an `I-X` after `O` or after another type starts a new entity, so
IOB1 and IOB2 input give the same entities. This reproduces
`seqeval.metrics.classification_report` in its default mode (`mode=None`)
number for number, written from scratch; `tests/test_entity_metrics.py` checks it.

Three ways to summarise the entity types in one number, as seqeval reports them:

- micro: count every entity once, over all types (the CoNLL score; frequent types dominate);
- macro: the plain mean of the per-type scores (a rare type counts as much as a frequent one);
- weighted: the mean of the per-type scores weighted by each type's gold count (support).

The one difference from seqeval: with no entity type at all (every tag `O`), seqeval's
macro average is NaN (a mean of nothing); here it is 0.0, like every other empty case.
"""

from __future__ import annotations

from collections import defaultdict

AVERAGES = ("micro", "macro", "weighted")


def _split_tag(tag: str, suffix: bool) -> tuple[str, str]:
    """('B', 'PER') from 'B-PER' (or 'PER-B' with suffix=True); a missing type reads '_'."""
    if suffix:
        return tag[-1], tag[:-1].rsplit("-", maxsplit=1)[0] or "_"
    return tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"


def _chunk_ends(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Did an entity end on the previous word?"""
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _chunk_starts(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """Does an entity start on this word?"""
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag not in ("O", ".") and prev_type != type_


def get_entities(tags: list[str] | list[list[str]], suffix: bool = False) -> list[tuple]:
    """Entities as (type, first index, last index), like seqeval's `get_entities`.

    A list of sentences is read as one sequence with an `O` after every sentence,
    so an entity never runs from one sentence into the next.
    """
    if any(isinstance(item, list) for item in tags):
        tags = [tag for sentence in tags for tag in [*sentence, "O"]]
    entities = []
    prev_tag, prev_type, start = "O", "", 0
    for index, chunk in enumerate([*tags, "O"]):
        tag, type_ = _split_tag(chunk, suffix)
        if _chunk_ends(prev_tag, tag, prev_type, type_):
            entities.append((prev_type, start, index - 1))
        if _chunk_starts(prev_tag, tag, prev_type, type_):
            start = index
        prev_tag, prev_type = tag, type_
    return entities


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _scores(correct: int, predicted: int, gold: int) -> dict[str, float]:
    precision, recall = _ratio(correct, predicted), _ratio(correct, gold)
    return {"precision": precision, "recall": recall, "f1": _f1(precision, recall), "support": gold}


def _mean(scores: list[dict[str, float]], weights: list[int]) -> dict[str, float]:
    """precision, recall and F1 averaged over types with `weights` (0.0 when they sum to 0)."""
    total = sum(weights)
    averaged = {
        key: sum(weight * score[key] for weight, score in zip(weights, scores)) / total
        if total
        else 0.0
        for key in ("precision", "recall", "f1")
    }
    return {**averaged, "support": sum(score["support"] for score in scores)}


def averages(per_type: dict[str, dict[str, float]], micro: dict[str, float]) -> dict[str, dict]:
    """seqeval's three averages of per-type scores: micro (given), macro and weighted."""
    scores = list(per_type.values())
    return {
        "micro": micro,
        "macro": _mean(scores, [1] * len(scores)),
        "weighted": _mean(scores, [score["support"] for score in scores]),
    }


def entity_scores(
    y_true: list[list[str]], y_pred: list[list[str]], suffix: bool = False
) -> dict[str, dict[str, float] | float]:
    """Micro precision/recall/F1 over all entities, the same per type, and seqeval's averages.

    Returns `{"precision", "recall", "f1", "support", "per_type": {type: {...}},
    "micro": {...}, "macro": {...}, "weighted": {...}}` (the top-level scores are the
    micro ones); scores are fractions in [0, 1] (0.0 where a denominator is zero, like
    seqeval), each `{...}` holds precision, recall, f1 and support.
    """
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold sentences but {len(y_pred)} predicted ones")
    for number, (gold, predicted) in enumerate(zip(y_true, y_pred)):
        if len(gold) != len(predicted):
            raise ValueError(
                f"sentence {number}: {len(gold)} gold tags but {len(predicted)} predicted tags"
            )
    gold_by_type: dict[str, set] = defaultdict(set)
    predicted_by_type: dict[str, set] = defaultdict(set)
    for kind, start, end in get_entities(y_true, suffix):
        gold_by_type[kind].add((start, end))
    for kind, start, end in get_entities(y_pred, suffix):
        predicted_by_type[kind].add((start, end))
    per_type = {}
    totals = [0, 0, 0]
    for kind in sorted(set(gold_by_type) | set(predicted_by_type)):
        counts = (
            len(gold_by_type[kind] & predicted_by_type[kind]),
            len(predicted_by_type[kind]),
            len(gold_by_type[kind]),
        )
        per_type[kind] = _scores(*counts)
        totals = [total + count for total, count in zip(totals, counts)]
    micro = _scores(*totals)
    return {**micro, "per_type": per_type, **averages(per_type, micro)}


def _average_of(
    y_true: list[list[str]], y_pred: list[list[str]], key: str, average: str | None, suffix: bool
) -> float | dict[str, float]:
    if average not in (*AVERAGES, None):
        raise ValueError(f"average must be one of {AVERAGES} or None, got {average!r}")
    scores = entity_scores(y_true, y_pred, suffix)
    if average is None:
        return {kind: score[key] for kind, score in scores["per_type"].items()}
    return scores[average][key]


def f1_score(
    y_true: list[list[str]],
    y_pred: list[list[str]],
    average: str | None = "micro",
    suffix: bool = False,
) -> float | dict[str, float]:
    """Entity F1 as seqeval's `f1_score` (default mode): one average, or per type with None.

    `average=None` gives `{type: score}` in sorted type order, where seqeval gives an array
    in the same order.
    """
    return _average_of(y_true, y_pred, "f1", average, suffix)


def precision_score(
    y_true: list[list[str]],
    y_pred: list[list[str]],
    average: str | None = "micro",
    suffix: bool = False,
) -> float | dict[str, float]:
    """Entity precision as seqeval's `precision_score`; `average` as for `f1_score`."""
    return _average_of(y_true, y_pred, "precision", average, suffix)


def recall_score(
    y_true: list[list[str]],
    y_pred: list[list[str]],
    average: str | None = "micro",
    suffix: bool = False,
) -> float | dict[str, float]:
    """Entity recall as seqeval's `recall_score`; `average` as for `f1_score`."""
    return _average_of(y_true, y_pred, "recall", average, suffix)
