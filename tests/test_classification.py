"""Sequence classification (notebook 10): batching helpers, the head, the CLI."""

from __future__ import annotations

# --------------------------------------------------------------------------- the model
import shutil  # noqa: E402
import warnings  # noqa: E402

import pytest
import torch
import transformers  # noqa: E402
from sklearn import metrics as sk  # noqa: E402

from bertlab.checkpoints import save_folder  # noqa: E402
from bertlab.data.classification import load_sst2, read_sst2_tsv  # noqa: E402
from bertlab.finetune import load_for_finetuning, load_tokenizer  # noqa: E402
from bertlab.hub import SAMPLES_DIR, SampleDataWarning  # noqa: E402
from bertlab.model import BertModel  # noqa: E402
from bertlab.tasks.classification import (  # noqa: E402
    POOLINGS,
    BertForSequenceClassification,
    ClassificationSettings,
    MeanPoolingClassifier,
    embed_features,
    evaluate,
    fit_linear_probe,
    make_features,
    mean_pool,
    semantic_search,
    sentence_embeddings,
)
from bertlab.testing import DEEP, assert_close

SAMPLE = SAMPLES_DIR / "sst2_sample.tsv"
SETTINGS = ClassificationSettings(max_length=64)


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
        evaluate(model, tokenizer, read_sst2_tsv(SAMPLE), SETTINGS)["probabilities"]
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
    report = evaluate(model, load_tokenizer(folder), dataset, SETTINGS)
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
    names = ["World", "Sports", "Business"]
    model, tokenizer = load_for_finetuning("classification", minilm_path, label_names=names)
    assert model.loading_info["missing_keys"] == ["classifier.weight", "classifier.bias"]
    out = save_folder(tmp_path / "model", model, tokenizer)
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(out).eval()
    assert reference.config.id2label == dict(enumerate(names))
    texts, _ = real_sentences(6)
    batch = transformers.AutoTokenizer.from_pretrained(out)(
        texts, padding=True, return_tensors="pt"
    )
    assert batch["input_ids"].tolist() == tokenizer(texts, padding=True)["input_ids"]
    with torch.no_grad():
        assert_close(model.eval()(**batch).logits, reference(**batch).logits, ulps=DEEP)
    # A task checkpoint is itself a starting point: a new head for a new label set.
    again, _ = load_for_finetuning("classification", out, label_names=["no", "yes"])
    mismatched = {key for key, *_ in again.loading_info["mismatched_keys"]}
    assert mismatched == {"classifier.weight", "classifier.bias"}


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json: no such file"):
        load_for_finetuning("classification", tmp_path)
    with pytest.raises(FileNotFoundError, match="no such checkpoint folder"):
        load_for_finetuning("classification", tmp_path / "absent")


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
    report = evaluate(model, tokenizer, dataset, SETTINGS)
    assert report["accuracy"] >= 0.9  # separable training data, linear probe fits it


# --------------------------------------------------------------------------- sentence embeddings
def model_card_embeddings(minilm_path, texts):
    """all-MiniLM-L6-v2's model card recipe with transformers: mean pooling, then L2 norm."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_path))
    model = transformers.AutoModel.from_pretrained(str(minilm_path)).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.no_grad():
        output = model(**batch)
    mask = batch["attention_mask"].unsqueeze(-1).float()
    mean = (output.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
    return {
        "mean": torch.nn.functional.normalize(mean, dim=1),
        "cls": torch.nn.functional.normalize(output.last_hidden_state[:, 0], dim=1),
        "pooler": torch.nn.functional.normalize(output.pooler_output, dim=1),
    }


def test_sentence_embeddings_equal_the_model_cards_recipe(minilm_path, minilm, tokenizer):
    texts, _ = real_sentences(12)
    expected = model_card_embeddings(minilm_path, texts)
    got = sentence_embeddings(minilm, tokenizer, texts, ClassificationSettings(eval_batch_size=5))
    assert set(got) == set(POOLINGS)
    for pooling in POOLINGS:
        assert got[pooling].shape == (12, 384)
        assert_close(got[pooling], expected[pooling], ulps=DEEP)
    raw = sentence_embeddings(minilm, tokenizer, texts[:3], normalize=False)
    assert_close(raw["mean"] / raw["mean"].norm(dim=1, keepdim=True), got["mean"][:3], ulps=DEEP)


def test_sentence_embeddings_of_a_task_model_and_of_one_without_pooler(minilm_path, tokenizer):
    from bertlab.tasks.ner import BertForTokenClassification

    texts, _ = real_sentences(4)
    classifier, _ = load_for_finetuning("classification", minilm_path, label_names=["a", "b"])
    direct = sentence_embeddings(classifier.bert, tokenizer, texts)
    through_head = sentence_embeddings(classifier.train(), tokenizer, texts)
    for pooling in POOLINGS:
        assert torch.equal(direct[pooling], through_head[pooling])
    assert classifier.training  # left as it was found
    tagger = BertForTokenClassification.from_pretrained(minilm_path, num_labels=3)
    assert set(sentence_embeddings(tagger, tokenizer, texts)) == {"mean", "cls"}


def test_semantic_search_returns_the_most_similar_rows_best_first(minilm, tokenizer):
    texts, _ = real_sentences(20)
    vectors = sentence_embeddings(minilm, tokenizer, texts)["mean"]
    similarities, indices = semantic_search(vectors[:5] * 3.0, vectors, top_k=4)
    expected = vectors[:5] @ vectors.T
    order = expected.argsort(dim=1, descending=True)[:, :4]
    assert indices.tolist() == order.tolist()
    assert indices[:, 0].tolist() == list(range(5))  # each sentence is its own best match
    assert_close(similarities, expected.gather(1, order), ulps=DEEP)
    assert semantic_search(vectors[:1], vectors[:2], top_k=10)[1].shape == (1, 2)
    with pytest.raises(ValueError, match="queries have 384 dimensions, the corpus 16"):
        semantic_search(vectors[:1], torch.randn(3, 16))
    with pytest.raises(ValueError, match="top_k must be at least 1, got 0"):
        semantic_search(vectors[:1], vectors, top_k=0)
    with pytest.raises(ValueError, match="nothing to embed"):
        sentence_embeddings(minilm, tokenizer, [])
