"""Extractive QA: the head against transformers, windows, answer spans, decoding (CLI: test_cli)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.batching import pad_batch
from bertlab.data.squad import SquadExample, read_squad
from bertlab.hub import SAMPLES_DIR
from bertlab.tasks import qa
from bertlab.testing import DEEP, assert_close


@pytest.fixture(scope="module")
def hf_tokenizer(minilm_path):
    return transformers.BertTokenizerFast.from_pretrained(str(minilm_path))


@pytest.fixture(scope="module")
def sample():
    return read_squad(SAMPLES_DIR / "squad_sample.json")


# --------------------------------------------------------------------------- model
def test_loss_and_logits_equal_transformers(minilm_path, tokenizer, sample, tmp_path):
    torch.manual_seed(0)
    ours = qa.BertForQuestionAnswering.from_pretrained(str(minilm_path))
    assert sorted(ours.loading_info["missing_keys"]) == ["qa_outputs.bias", "qa_outputs.weight"]
    ours.save_pretrained(tmp_path)
    reference = transformers.BertForQuestionAnswering.from_pretrained(
        tmp_path, attn_implementation="eager"
    )
    ours.eval()
    reference.eval()
    features = qa.prepare_train_features(sample, tokenizer, max_length=96, doc_stride=32)
    batch = pad_batch(features[:12])  # padded, several windows, some pointing at [CLS]
    with torch.no_grad():
        got, want = ours(**batch), reference(**batch)
    assert_close(got.start_logits, want.start_logits, ulps=DEEP)
    assert_close(got.end_logits, want.end_logits, ulps=DEEP)
    assert_close(got.loss, want.loss, ulps=DEEP)
    # positions beyond the sequence are ignored in both
    batch["start_positions"][0] = 10_000
    with torch.no_grad():
        assert_close(ours(**batch).loss, reference(**batch).loss, ulps=DEEP)


# --------------------------------------------------------------------------- features
def test_windows_equal_those_from_the_hugging_face_tokenizer(tokenizer, hf_tokenizer, sample):
    ours = qa.prepare_eval_features(sample, tokenizer, max_length=64, doc_stride=24)
    reference = qa.prepare_eval_features(sample, hf_tokenizer, max_length=64, doc_stride=24)
    assert len(ours) == len(reference) > len(sample)
    for a, b in zip(ours, reference):
        assert a == b


def test_window_layout_and_stride(tokenizer, sample):
    example = sample[0]
    windows = qa.encode_windows(example.question, example.context, tokenizer, 48, doc_stride=16)
    assert len(windows) >= 3
    for window in windows:
        ids = window["input_ids"]
        first, last = window["context_tokens"]
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        assert ids[first - 1] == tokenizer.sep_token_id and last == len(ids) - 2
        assert all(window["token_type_ids"][i] == 1 for i in range(first, last + 1))
        assert len(ids) <= 48
    for left, right in zip(windows, windows[1:]):  # consecutive windows share 16 tokens
        shared = left["offsets"][left["context_tokens"][1] - 15 : left["context_tokens"][1] + 1]
        start = right["context_tokens"][0]
        assert shared == right["offsets"][start : start + 16]


def test_long_questions_are_cut_to_max_query_length(tokenizer):
    question = " ".join(["why"] * 100)
    windows = qa.encode_windows(question, "Because it is.", tokenizer, max_query_length=64)
    assert windows[0]["context_tokens"][0] == 64 + 2


def test_answer_token_spans_cover_the_answers(tokenizer, sample):
    for example in sample:
        windows = qa.encode_windows(example.question, example.context, tokenizer, 64, 24)
        spans = [
            qa.answer_token_span(w, example.answer_starts[0], example.answers[0]) for w in windows
        ]
        inside = [w for w, span in zip(windows, spans) if span != (0, 0)]
        assert inside, example.id
        for window, (start, end) in zip(windows, spans):
            if (start, end) == (0, 0):
                continue
            text = example.context[window["offsets"][start][0] : window["offsets"][end][1]]
            assert text == example.answers[0], example.id


def test_each_context_token_has_exactly_one_max_context_window(tokenizer, sample):
    example = sample[0]
    windows = qa.encode_windows(example.question, example.context, tokenizer, 40, 20)
    flags = qa.max_context_flags(windows, doc_stride=20)
    owners: dict[tuple, int] = {}
    for window, row in zip(windows, flags):
        for position, flag in enumerate(row):
            if flag:
                key = window["offsets"][position]
                assert key not in owners
                owners[key] = 1
    every_token = {span for w in windows for span in w["offsets"] if span is not None}
    assert set(owners) == every_token


# --------------------------------------------------------------------------- decoding
class KeywordReader(torch.nn.Module):
    """A stand-in model that 'knows' the answer: high start/end scores on given token ids."""

    def __init__(self, start_id: int, end_id: int):
        super().__init__()
        self.start_id, self.end_id = start_id, end_id
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        start = (input_ids == self.start_id).float() * 10 + torch.linspace(0, 1, input_ids.shape[1])
        end = (input_ids == self.end_id).float() * 10 - torch.linspace(0, 1, input_ids.shape[1])
        return qa.QuestionAnsweringOutput(start_logits=start, end_logits=end)


def test_a_context_three_windows_long_yields_one_answer_from_the_right_window(tokenizer):
    filler = "The river flows past old mills and quiet farms. "  # 10 WordPieces
    context = filler * 11 + "The treasure lies under the oak tree. " + filler * 7
    question = "Where does the treasure lie?"
    example = SquadExample("q", "", context, question, (), ())
    options = qa.QASettings(max_length=96, doc_stride=32)  # 87 context tokens a window
    features = qa.prepare_eval_features([example], tokenizer, 96, 32)
    assert len(features) == 3
    oak, tree = tokenizer.convert_tokens_to_ids(["oak", "tree"])
    holding = [i for i, f in enumerate(features) if oak in f["input_ids"]]
    assert holding == [1, 2]  # the answer sits where windows 2 and 3 overlap
    answers = qa.answer_question(KeywordReader(oak, tree), tokenizer, question, context, options)
    assert answers[0]["text"] == "oak tree" and answers[0]["window"] == 1
    assert context[answers[0]["start"] : answers[0]["end"]] == "oak tree"
    assert [a["text"] for a in answers].count("oak tree") == 1  # seen in 2 windows, kept once
    # only window 2 may start it: there "oak" has 26 tokens of context on its short side, in 3 only 5
    owners = [i for i in holding if features[i]["max_context"][features[i]["input_ids"].index(oak)]]
    assert owners == [1]
    assert abs(sum(a["probability"] for a in answers) - 1) < 1e-6


def brute_force_best(features, starts, ends, max_answer_length):
    """Every (window, start, end) pair checked directly: the reference for the n-best search."""
    best = None
    for feature, s_logits, e_logits in zip(features, starts, ends):
        offsets, flags = feature["offsets"], feature["max_context"]
        for s in range(len(offsets)):
            for e in range(s, min(len(offsets), s + max_answer_length)):
                if offsets[s] is None or offsets[e] is None or not flags[s]:
                    continue
                score = s_logits[s] + e_logits[e]
                if best is None or score > best[0]:
                    best = (score, offsets[s][0], offsets[e][1])
    return best


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), max_answer_length=st.integers(1, 6))
def test_decoding_finds_the_best_valid_span(tokenizer, sample, seed, max_answer_length):
    """Random logits: the answer never starts in the question, ends before it starts, or is too long."""
    example = sample[seed % len(sample)]
    features = qa.prepare_eval_features([example], tokenizer, max_length=48, doc_stride=16)
    rng = np.random.default_rng(seed)
    starts = [rng.normal(size=len(f["input_ids"])).astype(np.float32) for f in features]
    ends = [rng.normal(size=len(f["input_ids"])).astype(np.float32) for f in features]
    for s in starts:
        s[1] = 50.0  # the best start score sits in the question
    n_best = max(len(f["input_ids"]) for f in features)  # wide enough to see every pair
    answers = qa.best_spans(example.context, features, starts, ends, n_best, max_answer_length)
    score, start, end = brute_force_best(features, starts, ends, max_answer_length)
    assert answers[0]["score"] == pytest.approx(float(score))
    assert (answers[0]["start"], answers[0]["end"]) == (start, end)
    assert [a["score"] for a in answers] == sorted((a["score"] for a in answers), reverse=True)


def test_decoding_with_the_default_n_best_respects_every_rule(tokenizer, sample):
    example = sample[3]
    features = qa.prepare_eval_features([example], tokenizer, max_length=64, doc_stride=24)
    rng = np.random.default_rng(1)
    starts = [rng.normal(size=len(f["input_ids"])) for f in features]
    ends = [rng.normal(size=len(f["input_ids"])) for f in features]
    for answer in qa.best_spans(example.context, features, starts, ends, max_answer_length=3):
        assert answer["end"] > answer["start"]
        assert len(tokenizer.tokenize(answer["text"])) <= 3
        assert example.context[answer["start"] : answer["end"]] == answer["text"]


# --------------------------------------------------------------------------- the CLI
def test_answer_html_highlights_the_best_span_and_escapes_text():
    context = "Ada <b>Lovelace</b> wrote the first program in 1843."
    start = context.index("1843")
    answers = [
        {"text": "1843", "score": 5.0, "probability": 0.7, "start": start, "end": start + 4},
        {"text": "Ada", "score": 1.0, "probability": 0.3, "start": 0, "end": 3},
    ]
    page = qa.answer_html(context, answers)
    assert '<mark style="background:#ffd54f">1843</mark>' in page
    assert "&lt;b&gt;Lovelace&lt;/b&gt;" in page and "<b>Lovelace</b>" not in page
    assert "<td>Ada</td><td>0.300</td>" in page
    assert "no valid span" in qa.answer_html(context, [])
