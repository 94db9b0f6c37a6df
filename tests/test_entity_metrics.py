"""Entity-level precision/recall/F1 (bertlab.metrics.entities) against seqeval's default mode."""

from __future__ import annotations

import math
import random
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities as seqeval_get_entities

from bertlab.data.conll import load_conll2003, load_wnut17
from bertlab.metrics import entities
from bertlab.metrics.entities import entity_scores, get_entities
from bertlab.testing import SHALLOW, assert_close

# IOB1 and IOB2 tags, other schemes' letters, odd separators ('_', no type, extra '-').
TAGS = st.sampled_from(
    ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "B-ORG", "B-MISC", "I-MISC"]
    + ["E-PER", "S-LOC", "B", "I", "I_PER", "B_PER", "B-PER-X", "I-", "X-LOC", "."]
)
IOB_TAGS = st.sampled_from(["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG", "B-ORG"])


@st.composite
def paired_sentences(draw, tags=TAGS):
    # seqeval refuses an empty list of sentences, so at least one (possibly empty) sentence
    lengths = draw(st.lists(st.integers(0, 12), min_size=1, max_size=6))
    gold = [draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths]
    pred = [draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths]
    return gold, pred


def seqeval_scores(gold, pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # seqeval warns about odd tags and zero divisions
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
        micro = {
            "precision": precision_score(gold, pred),
            "recall": recall_score(gold, pred),
            "f1": f1_score(gold, pred),
        }
    per_type = {key: value for key, value in report.items() if not key.endswith(" avg")}
    return micro, per_type


def assert_same_as_seqeval(gold, pred):
    ours = entity_scores(gold, pred)
    micro, per_type = seqeval_scores(gold, pred)
    for key in ("precision", "recall", "f1"):
        assert ours[key] == micro[key], key  # exactly equal, not approximately
    assert set(ours["per_type"]) == set(per_type)
    for kind, scores in per_type.items():
        mine = ours["per_type"][kind]
        assert mine["precision"] == scores["precision"]
        assert mine["recall"] == scores["recall"]
        assert mine["f1"] == scores["f1-score"]
        assert mine["support"] == scores["support"]
    assert_averages_as_seqeval(gold, pred, ours)


def assert_same_float(ours: float, theirs: float) -> None:
    """Equal up to summation order: a mean over types adds its terms in numpy's order
    (pairwise from 8 terms on), ours adds them left to right; the values are in [0, 1]."""
    expected = torch.tensor(float(theirs), dtype=torch.float64)
    assert_close(torch.tensor(ours, dtype=torch.float64), expected, ulps=SHALLOW, scale=1.0)


def assert_averages_as_seqeval(gold, pred, ours):
    """The report's micro/macro/weighted rows, and the average= option of the three functions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(gold, pred, output_dict=True, zero_division=0)
    for average in ("micro", "macro", "weighted"):
        theirs = report[f"{average} avg"]
        if average == "macro" and not ours["per_type"]:
            # seqeval's mean of no types is NaN; bertlab's is 0.0 (module docstring)
            assert math.isnan(theirs["f1-score"]) and ours["macro"]["f1"] == 0.0
            continue
        for key, their_key in (
            ("precision", "precision"),
            ("recall", "recall"),
            ("f1", "f1-score"),
        ):
            assert_same_float(ours[average][key], theirs[their_key])
        assert ours[average]["support"] == theirs["support"]
    seqeval_functions = {"precision": precision_score, "recall": recall_score, "f1": f1_score}
    ours_functions = {
        "precision": entities.precision_score,
        "recall": entities.recall_score,
        "f1": entities.f1_score,
    }
    for key, theirs_function in seqeval_functions.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            per_type = theirs_function(gold, pred, average=None)
            weighted = theirs_function(gold, pred, average="weighted")
        assert list(ours_functions[key](gold, pred, average=None).values()) == list(per_type)
        assert_same_float(ours_functions[key](gold, pred, average="weighted"), weighted)


@settings(max_examples=700, deadline=None)
@given(paired_sentences())
def test_equals_seqeval_on_any_tags(pair):
    gold, pred = pair
    assert_same_as_seqeval(gold, pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert get_entities(gold) == seqeval_get_entities(gold)
        assert get_entities(gold, suffix=True) == seqeval_get_entities(gold, suffix=True)


@settings(max_examples=400, deadline=None)
@given(paired_sentences(IOB_TAGS))
def test_equals_seqeval_on_iob_tags(pair):
    assert_same_as_seqeval(*pair)


@pytest.mark.parametrize(
    ("tags", "entities"),
    [
        (["B-PER", "I-PER", "O", "B-LOC"], [("PER", 0, 1), ("LOC", 3, 3)]),
        (["I-PER", "I-PER", "O"], [("PER", 0, 1)]),  # IOB1: I- opens an entity
        (["O", "I-LOC", "B-LOC"], [("LOC", 1, 1), ("LOC", 2, 2)]),
        (["B-PER", "I-LOC", "I-LOC"], [("PER", 0, 0), ("LOC", 1, 2)]),  # type change = new entity
        (["B-PER", "I_PER"], [("PER", 0, 0), ("_PER", 1, 1)]),  # '_' is not a separator
        ([], []),
    ],
)
def test_broken_and_iob1_sequences(tags, entities):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert get_entities(tags) == entities == seqeval_get_entities(tags)


def test_sentences_do_not_join():
    # an entity at the end of one sentence and I- at the start of the next stay two entities
    assert get_entities([["O", "B-PER"], ["I-PER", "O"]]) == [("PER", 1, 1), ("PER", 3, 3)]


def test_empty_and_all_outside_give_zero():
    assert entity_scores([], [])["f1"] == 0.0
    zero = {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert entity_scores([["O", "O"]], [["O", "O"]]) == {
        **zero,
        "per_type": {},
        "micro": zero,
        "macro": zero,
        "weighted": zero,
    }


def test_averages_by_hand():
    # PER: 2 gold, both found; LOC: 1 gold, missed, and one wrong LOC predicted
    gold = [["B-PER", "O", "B-PER", "B-LOC"]]
    pred = [["B-PER", "O", "B-PER", "O"]]
    pred_wrong_loc = [["B-PER", "B-LOC", "B-PER", "O"]]
    scores = entity_scores(gold, pred)
    assert scores["per_type"]["PER"]["f1"] == 1.0 and scores["per_type"]["LOC"]["f1"] == 0.0
    assert scores["macro"]["f1"] == 0.5  # each type counts once
    assert scores["weighted"]["f1"] == 2 / 3  # PER has 2 of the 3 gold entities
    assert scores["micro"]["f1"] == scores["f1"] == 2 * 1.0 * (2 / 3) / (1 + 2 / 3)
    assert entities.precision_score(gold, pred_wrong_loc, average=None) == {"LOC": 0.0, "PER": 1.0}
    assert entities.recall_score(gold, pred, average="macro") == 0.5
    with pytest.raises(ValueError, match="average must be one of"):
        entities.f1_score(gold, pred, average="samples")


def _with_mistakes(sentences: list[list[str]], types: list[str], seed: int) -> list[list[str]]:
    """Real gold tags with the mistakes a tagger makes: a wrong type, a missed entity, a
    boundary one word off, a spurious entity; about one entity in four is changed."""
    rng = random.Random(seed)
    predicted = []
    for tags in sentences:
        tags = list(tags)
        for kind, start, end in get_entities(tags):
            mistake = rng.random()
            if mistake < 0.08:
                wrong = rng.choice([t for t in types if t != kind])
                tags[start : end + 1] = [f"B-{wrong}"] + [f"I-{wrong}"] * (end - start)
            elif mistake < 0.16:
                tags[start : end + 1] = ["O"] * (end - start + 1)
            elif mistake < 0.24 and end + 1 < len(tags) and tags[end + 1] == "O":
                tags[end + 1] = f"I-{kind}"
        if tags and rng.random() < 0.05:
            position = rng.randrange(len(tags))
            if tags[position] == "O":
                tags[position] = f"B-{rng.choice(types)}"
        predicted.append(tags)
    return predicted


def test_averages_equal_seqeval_on_real_tag_sequences(real_data):
    """All of CoNLL-2003 valid (4 types) and WNUT-17 dev (6 types), with tagger-like mistakes."""
    for sentences, seed in ((load_conll2003("valid"), 0), (load_wnut17("dev"), 1)):
        gold = [sentence.tags for sentence in sentences]
        types = sorted({kind for kind, _, _ in get_entities(gold)})
        predicted = _with_mistakes(gold, types, seed)
        scores = entity_scores(gold, predicted)
        assert 0.5 < scores["f1"] < 0.95 and scores["macro"]["f1"] != scores["micro"]["f1"]
        assert_same_as_seqeval(gold, predicted)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])
