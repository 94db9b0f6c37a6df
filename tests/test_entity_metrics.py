"""Entity-level precision/recall/F1 (bertlab.metrics.entities) against seqeval's default mode."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
from seqeval.metrics.sequence_labeling import get_entities as seqeval_get_entities

from bertlab.metrics.entities import entity_scores, get_entities

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
    assert entity_scores([["O", "O"]], [["O", "O"]]) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
        "per_type": {},
    }


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="sentence 1: 2 gold tags but 1 predicted"):
        entity_scores([["O"], ["O", "O"]], [["O"], ["O"]])
