"""Entity-level precision, recall and F1, the way CoNLL's `conlleval` (and seqeval) count.

Notebook 11 explains it. A predicted entity counts as correct only when its type,
first word and last word all equal a gold entity's. Tags are read leniently, like
conlleval: an `I-X` after `O` or after another type starts a new entity, so
IOB1 and IOB2 input give the same entities. This reproduces
`seqeval.metrics.classification_report` in its default mode (`mode=None`)
number for number, written from scratch; `tests/test_entity_metrics.py` checks it.
"""

from __future__ import annotations

from collections import defaultdict


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


def entity_scores(
    y_true: list[list[str]], y_pred: list[list[str]], suffix: bool = False
) -> dict[str, dict[str, float] | float]:
    """Micro precision/recall/F1 over all entities plus the same per type.

    Returns `{"precision", "recall", "f1", "support", "per_type": {type: {...}}}`;
    scores are fractions in [0, 1] (0.0 where a denominator is zero, like seqeval).
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
    return {**_scores(*totals), "per_type": per_type}


def f1_score(y_true: list[list[str]], y_pred: list[list[str]]) -> float:
    """Micro-averaged entity F1 (seqeval's `f1_score` in default mode)."""
    return entity_scores(y_true, y_pred)["f1"]


def precision_score(y_true: list[list[str]], y_pred: list[list[str]]) -> float:
    return entity_scores(y_true, y_pred)["precision"]


def recall_score(y_true: list[list[str]], y_pred: list[list[str]]) -> float:
    return entity_scores(y_true, y_pred)["recall"]
