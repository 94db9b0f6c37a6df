"""Token classification (bertlab.tasks.ner) against transformers, plus windows (CLI: test_cli)."""

from __future__ import annotations

import pytest
import torch
import transformers

from bertlab.batching import pad_batch
from bertlab.data.conll import CONLL2003_LABELS, read_conll
from bertlab.hub import SAMPLES_DIR
from bertlab.metrics.entities import entity_scores
from bertlab.tasks.ner import (
    IGNORE_INDEX,
    BertForTokenClassification,
    NerSettings,
    encode_sentences,
    encode_words,
    entities_html,
    predict_entities,
    predict_tags,
    split_words,
)
from bertlab.testing import DEEP, assert_close

LABEL2ID = {label: i for i, label in enumerate(CONLL2003_LABELS)}
LABELS = {"id2label": dict(enumerate(CONLL2003_LABELS)), "label2id": LABEL2ID}


@pytest.fixture(scope="module")
def sentences():
    return read_conll(SAMPLES_DIR / "conll2003_sample.txt")


@pytest.fixture(scope="module")
def model(minilm_path):
    torch.manual_seed(0)
    return BertForTokenClassification.from_pretrained(str(minilm_path), **LABELS).eval()


def test_labels_sit_on_first_pieces_like_the_hugging_face_recipe(minilm_path, tokenizer, sentences):
    # The recipe of Hugging Face's run_ner.py, with its own fast tokenizer.
    reference = transformers.BertTokenizerFast.from_pretrained(str(minilm_path))
    features = encode_sentences(tokenizer, sentences, LABEL2ID)
    for sentence, feature in zip(sentences, features):
        encoding = reference(sentence.words, is_split_into_words=True)
        labels, previous = [], None
        for word in encoding.word_ids():
            first = word is not None and word != previous
            labels.append(LABEL2ID[sentence.tags[word]] if first else IGNORE_INDEX)
            previous = word
        assert feature["input_ids"] == encoding["input_ids"]
        assert feature["labels"] == labels


def test_loss_and_logits_equal_transformers(minilm_path, tokenizer, sentences, model):
    reference = transformers.BertForTokenClassification.from_pretrained(
        str(minilm_path), num_labels=len(CONLL2003_LABELS), attn_implementation="eager"
    ).eval()
    reference.classifier.load_state_dict(model.classifier.state_dict())
    batch = pad_batch(encode_sentences(tokenizer, sentences[:12], LABEL2ID), 0, {"labels": -100})
    assert (batch["input_ids"] == 0).any(), "the batch should contain padding"
    ours, theirs = model(**batch), reference(**batch)
    assert_close(ours.loss, theirs.loss, ulps=DEEP)
    assert_close(ours.logits, theirs.logits, ulps=DEEP)
    # gradients of the loss agree too
    model.zero_grad()
    reference.zero_grad()
    model(**batch).loss.backward()
    reference(**batch).loss.backward()
    assert_close(model.classifier.weight.grad, reference.classifier.weight.grad, ulps=DEEP)
    model.zero_grad()


def test_a_sentence_longer_than_the_maximum_gets_a_label_for_every_word(tokenizer, model):
    words = ("Ms. Lindqvist-Okafor visited Reykjavik , Ouagadougou and Wellington . " * 12).split()
    features, windows = encode_words(tokenizer, [words], max_length=24)
    assert len(features) > 1 and all(len(f["input_ids"]) <= 24 for f in features)
    covered = [word for window in windows for word in window.first_words]
    assert covered == list(range(len(words)))  # every word exactly once, in order
    tags = predict_tags(model, tokenizer, [words], NerSettings(max_length=24))[0]
    assert len(tags) == len(words) and set(tags) <= set(CONLL2003_LABELS)
    # a window holding the whole sentence gives the same result as one model call
    short = words[:9]
    assert predict_tags(model, tokenizer, [short], NerSettings(max_length=24)) == predict_tags(
        model, tokenizer, [short], NerSettings(max_length=512)
    )


def test_words_without_pieces_and_empty_sentences_still_get_tags(tokenizer, model):
    sentences = [[], ["\u200b", "Paris"], ["x" * 300]]  # zero-width space has no WordPiece
    tags = predict_tags(model, tokenizer, sentences, NerSettings(max_length=16))
    assert [len(t) for t in tags] == [0, 2, 1]


def test_raw_text_entities_and_their_html(model, tokenizer):
    text = "Angela Merkel met Emmanuel Macron in Paris."
    assert [w for w, _, _ in split_words(text)][-2:] == ["Paris", "."]
    entities = predict_entities(model, tokenizer, text)
    for entity in entities:
        assert text[entity["start"] : entity["end"]] == entity["text"]
    html = entities_html(text, [{"type": "LOC", "text": "Paris", "start": 37, "end": 42}])
    assert "Paris<sup" in html and html.count("<span") == 1


def test_entity_scores_equal_seqeval_on_real_predictions(model, tokenizer, sentences):
    from seqeval.metrics import classification_report

    predicted = predict_tags(model, tokenizer, [s.words for s in sentences])
    gold = [s.tags for s in sentences]
    ours = entity_scores(gold, predicted)
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    assert ours["f1"] == report["micro avg"]["f1-score"]
    for average in ("macro", "weighted"):
        assert ours[average]["f1"] == pytest.approx(report[f"{average} avg"]["f1-score"], rel=1e-12)
    for kind, scores in ours["per_type"].items():
        assert scores["f1"] == report[kind]["f1-score"]
