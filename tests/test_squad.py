"""SQuAD v1.1 reader and EM/F1 metrics, checked against the official evaluation script."""

from __future__ import annotations

import json
import random
import re
import string
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.data.squad import SquadFormatError, gold_answers, load_squad, read_squad
from bertlab.hub import SAMPLES_DIR, SampleDataWarning
from bertlab.metrics.squad import exact_match, f1, normalize_answer, squad_scores

# ---------------------------------------------------------------------------
# The official SQuAD v1.1 evaluation script (evaluate-v1.1.py), its functions
# verbatim. It is not on PyPI, so the reference lives here.
# ---------------------------------------------------------------------------


def official_normalize_answer(s):
    """Lower text and remove punctuation, articles and extra whitespace."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    def lower(text):
        return text.lower()

    return white_space_fix(remove_articles(remove_punc(lower(s))))


def official_f1_score(prediction, ground_truth):
    prediction_tokens = official_normalize_answer(prediction).split()
    ground_truth_tokens = official_normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    f1 = (2 * precision * recall) / (precision + recall)
    return f1


def official_exact_match_score(prediction, ground_truth):
    return official_normalize_answer(prediction) == official_normalize_answer(ground_truth)


def official_metric_max_over_ground_truths(metric_fn, prediction, ground_truths):
    scores_for_ground_truths = []
    for ground_truth in ground_truths:
        score = metric_fn(prediction, ground_truth)
        scores_for_ground_truths.append(score)
    return max(scores_for_ground_truths)


def official_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    message = "Unanswered question " + qa["id"] + " will receive score 0."
                    print(message, file=sys.stderr)
                    continue
                ground_truths = list(map(lambda x: x["text"], qa["answers"]))
                prediction = predictions[qa["id"]]
                exact_match += official_metric_max_over_ground_truths(
                    official_exact_match_score, prediction, ground_truths
                )
                f1 += official_metric_max_over_ground_truths(
                    official_f1_score, prediction, ground_truths
                )

    exact_match = 100.0 * exact_match / total
    f1 = 100.0 * f1 / total

    return {"exact_match": exact_match, "f1": f1}


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------

WORDS = [
    "a",
    "an",
    "the",
    "The",
    "A",
    "AN",
    "cat",
    "Cat",
    "théâtre",
    "naïve",
    "Straße",
    "İstanbul",
    "東京",
    "1,345,596",
    "U.S.",
    "don't",
    "an-the",
    "the.",
    "(a)",
    "42",
    "",
    "ſ",
    "ǅ",
    "ΣΑΣ",
]
SEPARATORS = [" ", "  ", "\t", "\n", "\u00a0", "\u3000", ",", ".", "-", "'", "!", "…", "", " the "]
answers = st.one_of(
    st.text(max_size=20),
    st.text(alphabet=string.punctuation + string.ascii_letters[:6] + " \t", max_size=20),
    st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=8).map(
        lambda pairs: "".join(w + s for w, s in pairs)
    ),
)


@settings(max_examples=1200, deadline=None)
@given(prediction=answers, gold=answers)
def test_em_and_f1_equal_the_official_formulas(prediction, gold):
    assert normalize_answer(prediction) == official_normalize_answer(prediction)
    assert exact_match(prediction, gold) == float(official_exact_match_score(prediction, gold))
    assert f1(prediction, gold) == official_f1_score(prediction, gold)  # same formula, same float


@settings(max_examples=300, deadline=None)
@given(prediction=answers, golds=st.lists(answers, min_size=1, max_size=4))
def test_best_over_golds_and_corpus_scores_equal_the_official_script(prediction, golds):
    dataset = [
        {
            "paragraphs": [
                {
                    "qas": [
                        {"id": "q1", "answers": [{"text": g} for g in golds]},
                        {"id": "q2", "answers": [{"text": "unanswered"}]},
                    ]
                }
            ]
        }
    ]
    ours = squad_scores({"q1": prediction}, {"q1": golds, "q2": ["unanswered"]})
    assert ours == pytest.approx(official_evaluate(dataset, {"q1": prediction}), abs=1e-12)


def test_normalisation_examples():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("an apple, a pear and the plum") == "apple pear and plum"
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words
    assert f1("", "") == 0.0  # v1.1: empty vs empty shares no token
    assert exact_match("", "") == 1.0
    assert f1("the cat sat", "cat sat down") == pytest.approx(2 * (2 / 2) * (2 / 3) / (1 + 2 / 3))


def test_unknown_prediction_ids_are_reported():
    with pytest.raises(ValueError, match="unknown question ids"):
        squad_scores({"nope": "x"}, {"q": ["x"]})


def test_scores_equal_the_official_script_on_real_spans(real_data):
    """Real dev questions, with predictions cut from the real contexts around the gold span."""
    path = real_data / "squad_v1.1" / "dev.json"
    dataset = json.loads(path.read_text())["data"]
    examples = read_squad(path)
    rng = random.Random(0)
    predictions = {}
    for example in examples:
        start, text = example.answer_starts[0], example.answers[0]
        exact = rng.random() < 0.4
        left = start if exact else max(0, start + rng.randint(-15, 10))
        right = start + len(text) if exact else max(left, start + len(text) + rng.randint(-10, 15))
        if rng.random() < 0.9:  # leave some questions unanswered
            predictions[example.id] = example.context[left:right]
    ours = squad_scores(predictions, gold_answers(examples))
    official = official_evaluate(dataset, predictions)
    assert ours["exact_match"] == pytest.approx(official["exact_match"], abs=1e-9)
    assert ours["f1"] == pytest.approx(official["f1"], abs=1e-9)
    assert 5 < ours["exact_match"] < ours["f1"] < 90


# ---------------------------------------------------------------------------
# Reader
# ---------------------------------------------------------------------------


def test_sample_follows_the_official_layout():
    examples = read_squad(SAMPLES_DIR / "squad_sample.json")
    assert len(examples) >= 15
    for example in examples:
        for text, start in zip(example.answers, example.answer_starts):
            assert example.context[start : start + len(text)] == text


def test_real_files_read_and_validate(real_data):
    train = load_squad("train")
    dev = load_squad("dev")
    assert (len(train), len(dev)) == (7235, 1746)
    assert all(len(e.answers) >= 1 for e in dev)
    assert not {e.id for e in train} & {e.id for e in dev}


def test_sample_fallback_warns(monkeypatch):
    monkeypatch.delenv("BERTLAB_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.warns(SampleDataWarning):
        examples = load_squad("dev")
    assert examples[0].id == "bertlab-sample-001"


def _write(tmp_path, document) -> str:
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def _document(answer_start=0, **qa_overrides):
    qa = {
        "id": "q-42",
        "question": "Who?",
        "answers": [{"text": "Ada", "answer_start": answer_start}],
    }
    qa.update(qa_overrides)
    return {
        "version": "1.1",
        "data": [
            {"title": "T", "paragraphs": [{"context": "Ada wrote the first program.", "qas": [qa]}]}
        ],
    }


def test_misplaced_answer_start_names_the_question_id(tmp_path):
    path = _write(tmp_path, _document(answer_start=4))
    with pytest.raises(
        SquadFormatError,
        match=r"bad\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers\[0\] "
        r"\(question id q-42\): answer_start 4 points at 'wro'",
    ):
        read_squad(path)


def test_missing_key_names_file_and_key(tmp_path):
    document = _document()
    del document["data"][0]["paragraphs"][0]["qas"][0]["question"]
    with pytest.raises(
        SquadFormatError,
        match=r"bad\.json: data\[0\]\.paragraphs\[0\]\.qas\[0\]: missing key 'question'",
    ):
        read_squad(_write(tmp_path, document))
    with pytest.raises(SquadFormatError, match="missing key 'data'"):
        read_squad(_write(tmp_path, {"version": "1.1"}))


def test_wrong_types_and_duplicate_ids_are_reported(tmp_path):
    with pytest.raises(SquadFormatError, match=r"answer_start should be int, got str"):
        read_squad(_write(tmp_path, _document(answer_start="0")))
    document = _document()
    qas = document["data"][0]["paragraphs"][0]["qas"]
    qas.append(dict(qas[0]))
    with pytest.raises(SquadFormatError, match="'q-42' appears twice"):
        read_squad(_write(tmp_path, document))


def test_malformed_json_names_file_and_line(tmp_path):
    with pytest.raises(SquadFormatError, match=r"bad\.json: not valid JSON \(line 2"):
        read_squad(_write(tmp_path, '{"data": [\n  {"title": }]}'))
