"""Sequence classification (notebook 10): batching helpers, the head, the CLI."""

from __future__ import annotations

import argparse

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.model import BertConfig
from bertlab.tasks import classification, ner, qa
from bertlab.tasks.common import (
    BucketedBatches,
    add_finetune_arguments,
    bucketed_batch_indices,
    dropout_overrides,
    freeze_embedding_table,
    pad_batch,
)
from bertlab.testing import DEEP, assert_close


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 64), min_size=1, max_size=300),
    batch_size=st.integers(1, 40),
    bucket_batches=st.integers(1, 8),
    seed=st.integers(0, 10),
)
def test_bucketing_covers_every_example_once(lengths, batch_size, bucket_batches, seed):
    batches = bucketed_batch_indices(lengths, batch_size, seed, bucket_batches)
    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= batch_size for batch in batches)


def test_bucketing_reduces_padding_on_real_lengths():
    generator = torch.Generator().manual_seed(0)
    lengths = (torch.randint(2, 60, (3200,), generator=generator)).tolist()

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    bucketed = padded(bucketed_batch_indices(lengths, 32, seed=0))
    shuffled = padded(bucketed_batch_indices(lengths, 32, seed=0, bucket_batches=1))
    assert bucketed < 0.7 * shuffled


def test_pad_batch_pads_lists_and_stacks_scalars():
    batch = pad_batch(
        [{"input_ids": [101, 7, 102], "labels": 1}, {"input_ids": [101, 102], "labels": 0}],
        pad_token_id=0,
    )
    assert batch["input_ids"].tolist() == [[101, 7, 102], [101, 102, 0]]
    assert batch["labels"].tolist() == [1, 0]
    tags = pad_batch([{"labels": [1, 2]}, {"labels": [3]}], pad_values={"labels": -100})
    assert tags["labels"].tolist() == [[1, 2], [3, -100]]


def test_bucketed_batches_reshuffle_each_epoch():
    features = [{"input_ids": [1] * (i % 7 + 1), "labels": i} for i in range(50)]
    batches = BucketedBatches(features, batch_size=8, seed=3, bucket_batches=2)
    first = [b["labels"].tolist() for b in batches]
    second = [b["labels"].tolist() for b in batches]
    assert first != second
    assert sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(50))
    assert len(batches) == 7


def test_finetune_arguments_have_defaults():
    parser = add_finetune_arguments(argparse.ArgumentParser(), max_length=64)
    args = parser.parse_args(["--out", "somewhere", "--lr", "2e-4"])
    assert (args.max_length, args.lr, args.batch_size, args.seed) == (64, 2e-4, 32, 0)
    assert args.model is None and args.train is None
    assert args.dropout is None and args.freeze_word_embeddings is False
    assert args.head_lr_multiplier == 1.0

    tuned = add_finetune_arguments(
        argparse.ArgumentParser(), dropout=0.0, freeze_word_embeddings=True
    )
    args = tuned.parse_args(["--out", "x"])
    assert args.dropout == 0.0 and args.freeze_word_embeddings is True
    args = tuned.parse_args(["--out", "x", "--dropout", "0.1", "--train-word-embeddings"])
    assert args.dropout == 0.1 and args.freeze_word_embeddings is False
    args = tuned.parse_args(["--out", "x", "--head-lr-multiplier", "10"])
    assert args.head_lr_multiplier == 10.0


def tiny_bert_config() -> BertConfig:
    return BertConfig(
        vocab_size=50,
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
    )


def test_each_task_head_is_named_by_its_prefixes():
    """--head-lr-multiplier reaches exactly the head's parameters in every task model."""
    for module, model_class, head in [
        (
            classification,
            classification.BertForSequenceClassification,
            {
                "bert.pooler.dense.weight",
                "bert.pooler.dense.bias",
                "classifier.weight",
                "classifier.bias",
            },
        ),
        (ner, ner.BertForTokenClassification, {"classifier.weight", "classifier.bias"}),
        (qa, qa.BertForQuestionAnswering, {"qa_outputs.weight", "qa_outputs.bias"}),
    ]:
        names = [name for name, _ in model_class(tiny_bert_config()).named_parameters()]
        assert {n for n in names if n.startswith(module.HEAD_PARAMETERS)} == head


def test_dropout_overrides_and_freezing_the_token_table():
    assert dropout_overrides(None) == {}
    assert dropout_overrides(0.0) == {
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }
    with pytest.raises(ValueError, match="--dropout must be in"):
        dropout_overrides(1.0)
    model = classification.BertForSequenceClassification(tiny_bert_config())
    freeze_embedding_table(model)
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["bert.embeddings.word_embeddings.weight"]


# --------------------------------------------------------------------------- the model
import json  # noqa: E402
import shutil  # noqa: E402
import warnings  # noqa: E402

import transformers  # noqa: E402
from sklearn import metrics as sk  # noqa: E402

from bertlab.cli import main as bertlab_main  # noqa: E402
from bertlab.data.classification import load_sst2, read_sst2_tsv  # noqa: E402
from bertlab.hub import SAMPLES_DIR, SampleDataWarning  # noqa: E402
from bertlab.model import BertModel  # noqa: E402
from bertlab.tasks.classification import (  # noqa: E402
    BertForSequenceClassification,
    MeanPoolingClassifier,
    embed_features,
    evaluate,
    fit_linear_probe,
    make_features,
    mean_pool,
)
from bertlab.tasks.common import load_for_finetuning, load_tokenizer, save_finetuned  # noqa: E402

SAMPLE = SAMPLES_DIR / "sst2_sample.tsv"


def real_sentences(count: int = 12):
    """SST-2 dev sentences when BERTLAB_DATA is set, else the project's sample."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SampleDataWarning)
        dev = load_sst2("dev")
    return dev.texts[:count], dev.labels[:count]


@pytest.fixture(scope="module")
def hf_checkpoint(minilm_path, tmp_path_factory):
    """MiniLM with a seeded 2-label classifier, saved by transformers (eager attention)."""
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification.from_pretrained(
        str(minilm_path), num_labels=2, attn_implementation="eager"
    )
    folder = tmp_path_factory.mktemp("hf_classifier")
    model.save_pretrained(folder)
    shutil.copy(minilm_path / "vocab.txt", folder)
    return folder, model.eval()


@pytest.mark.parametrize("attention", ["explicit", "fused"])
def test_loss_and_logits_equal_transformers(hf_checkpoint, attention):
    folder, reference = hf_checkpoint
    ours = BertForSequenceClassification.from_pretrained(folder, attn_implementation=attention)
    assert ours.loading_info["missing_keys"] == []
    tokenizer = load_tokenizer(folder)
    texts, labels = real_sentences()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    labels = torch.tensor(labels)
    with torch.no_grad():
        expected = reference(**batch, labels=labels)
        got = ours.eval()(**batch, labels=labels)
    assert_close(got.logits, expected.logits, ulps=DEEP)
    assert_close(got.loss, expected.loss, ulps=DEEP)


def test_gradients_equal_transformers_without_dropout(minilm_path, hf_checkpoint):
    folder, _ = hf_checkpoint
    reference = transformers.BertForSequenceClassification.from_pretrained(
        folder, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    ).train()
    ours = BertForSequenceClassification.from_pretrained(
        folder, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    ).train()
    texts, labels = real_sentences(8)
    batch = load_tokenizer(folder)(texts, padding=True, return_tensors="pt")
    reference(**batch, labels=torch.tensor(labels)).loss.backward()
    ours(**batch, labels=torch.tensor(labels)).loss.backward()
    for name in (
        "classifier.weight",
        "bert.pooler.dense.weight",
        "bert.encoder.layer.0.attention.self.query.weight",
    ):
        assert_close(ours.get_parameter(name).grad, reference.get_parameter(name).grad, ulps=DEEP)


def test_dynamic_padding_changes_nothing(hf_checkpoint):
    folder, _ = hf_checkpoint
    model = BertForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = load_tokenizer(folder)
    texts, labels = real_sentences()
    features = make_features(tokenizer, texts, labels, max_length=64)
    padded = tokenizer(
        texts, truncation=True, max_length=64, padding="max_length", return_tensors="pt"
    )
    probabilities = torch.tensor(
        evaluate(model, tokenizer, read_sst2_tsv(SAMPLE), 64)["probabilities"]
    )
    with torch.no_grad():
        full = model(**padded).logits
        one_by_one = torch.cat(
            [
                model(**{k: torch.tensor([f[k]]) for k in ("input_ids", "attention_mask")}).logits
                for f in features
            ]
        )
    assert_close(one_by_one, full, ulps=DEEP)
    assert probabilities.shape == (40, 2)


def test_evaluate_metrics_equal_scikit_learn(hf_checkpoint):
    folder, _ = hf_checkpoint
    model = BertForSequenceClassification.from_pretrained(folder)
    dataset = read_sst2_tsv(SAMPLE)
    report = evaluate(model, load_tokenizer(folder), dataset, max_length=64)
    predictions = report["predictions"]
    assert predictions == torch.tensor(report["probabilities"]).argmax(-1).tolist()
    assert report["accuracy"] == pytest.approx(sk.accuracy_score(dataset.labels, predictions))
    assert report["macro_f1"] == pytest.approx(
        sk.f1_score(dataset.labels, predictions, average="macro", labels=[0, 1], zero_division=0)
    )
    assert (
        report["confusion_matrix"]
        == sk.confusion_matrix(dataset.labels, predictions, labels=[0, 1]).tolist()
    )


def test_task_checkpoint_round_trips_through_transformers(minilm_path, tmp_path):
    labels = {"id2label": {0: "World", 1: "Sports", 2: "Business"}}
    model, tokenizer = load_for_finetuning(minilm_path, BertForSequenceClassification, **labels)
    assert model.loading_info["missing_keys"] == ["classifier.weight", "classifier.bias"]
    out = save_finetuned(tmp_path / "model", model, tokenizer)
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert reference.config.id2label == labels["id2label"]
    texts, _ = real_sentences(6)
    batch = transformers.AutoTokenizer.from_pretrained(out)(
        texts, padding=True, return_tensors="pt"
    )
    assert batch["input_ids"].tolist() == tokenizer(texts, padding=True)["input_ids"]
    with torch.no_grad():
        assert_close(model.eval()(**batch).logits, reference(**batch).logits, ulps=DEEP)
    # A task checkpoint is itself a starting point: a new head for a new label set.
    again, _ = load_for_finetuning(
        out, BertForSequenceClassification, num_labels=2, ignore_mismatched_sizes=True
    )
    mismatched = {key for key, *_ in again.loading_info["mismatched_keys"]}
    assert mismatched == {"classifier.weight", "classifier.bias"}


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_for_finetuning(tmp_path, BertForSequenceClassification)
    with pytest.raises(FileNotFoundError, match="no such checkpoint folder"):
        load_for_finetuning(tmp_path / "absent", BertForSequenceClassification)


def test_mean_pooling_baseline(minilm_path):
    encoder = BertModel.from_pretrained(minilm_path)
    tokenizer = load_tokenizer(minilm_path)
    hidden = torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    torch.testing.assert_close(
        mean_pool(hidden, mask), torch.stack([hidden[0, :2].mean(0), hidden[1].mean(0)])
    )
    dataset = read_sst2_tsv(SAMPLE)
    model = MeanPoolingClassifier(encoder, num_labels=2)
    assert [name for name, p in model.named_parameters() if p.requires_grad] == [
        "classifier.weight",
        "classifier.bias",
    ]
    features = make_features(tokenizer, dataset.texts, dataset.labels, 64)
    vectors = embed_features(model, features)
    single = model.embed(torch.tensor([features[3]["input_ids"]]))
    assert_close(vectors[3:4], single, ulps=DEEP)
    losses = fit_linear_probe(model, vectors, dataset.labels, steps=100)
    assert losses[-1] < 0.5 * losses[0]
    report = evaluate(model, tokenizer, dataset, 64)
    assert report["accuracy"] >= 0.9  # separable training data, linear probe fits it


# --------------------------------------------------------------------------- the CLI
def test_cli_finetune_evaluate_predict(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "run"
    code = bertlab_main(
        [
            "finetune",
            "classification",
            "--train",
            str(SAMPLE),
            "--dev",
            str(SAMPLE),
            "--max-steps",
            "2",
            "--batch-size",
            "8",
            "--max-length",
            "32",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["steps"] == 2 and summary["examples_seen"] == 16
    assert {"accuracy", "macro_f1", "confusion_matrix"} <= set(summary)
    assert {p.name for p in out.iterdir()} >= {
        "config.json",
        "vocab.txt",
        "tokenizer_config.json",
        "model.safetensors",
    }

    assert (
        bertlab_main(["evaluate", "classification", "--model", str(out), "--data", str(SAMPLE)])
        == 0
    )
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == pytest.approx(summary["accuracy"])
    assert evaluated["macro_f1"] == pytest.approx(summary["macro_f1"])

    assert (
        bertlab_main(["predict", "classification", "--model", str(out), "a fine film", "dull"]) == 0
    )
    predictions = json.loads(capsys.readouterr().out)["predictions"]
    assert [p["text"] for p in predictions] == ["a fine film", "dull"]
    assert all(set(p["probabilities"]) == {"negative", "positive"} for p in predictions)
    assert all(sum(p["probabilities"].values()) == pytest.approx(1, abs=1e-5) for p in predictions)

    ours, tokenizer = load_for_finetuning(out, BertForSequenceClassification)
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert reference.config.id2label == {0: "negative", 1: "positive"}
    batch = tokenizer(["a fine film", "dull and far too long"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert_close(ours.eval()(**batch).logits, reference(**batch).logits, ulps=DEEP)
    expected = reference(**tokenizer(["dull"], return_tensors="pt")).logits.softmax(-1)[0, 1].item()
    assert predictions[1]["probabilities"]["positive"] == pytest.approx(expected, abs=1e-5)


def test_cli_bad_input_is_reported(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("sentence\tlabel\nfine \t7\n")
    code = bertlab_main(
        ["finetune", "classification", "--train", str(bad), "--out", str(tmp_path / "x")]
    )
    assert code == 2
    assert "bad.tsv:2: unknown label '7'" in capsys.readouterr().err
