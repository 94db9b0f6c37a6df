"""Sequence classification: a head on `[CLS]`, fine-tuning, evaluation, prediction, the CLI.

Notebook 10 teaches it on SST-2 (movie-review sentiment) and AG News (news topics).

- `BertForSequenceClassification`: BERT -> pooler (dense + tanh over `[CLS]`) ->
  dropout -> linear, with Hugging Face's names (`bert.*`, `classifier.*`), so
  checkpoints move both ways between bertlab and `transformers`.
- `MeanPoolingClassifier`: the frozen-feature baseline. BERT stays fixed; each
  text becomes the mean of its token vectors (padding excluded) and only a
  linear classifier is trained on those features.
- `make_features`: tokenize once; `bertlab.batching` pads each batch only to its
  longest text and batches texts of similar length together.
- `sentence_embeddings`, `semantic_search`: BERT as a sentence encoder, without a head
  (mean pooling vs `[CLS]` vs the pooler, cosine similarity), the use MiniLM was trained for.
- `evaluate`, `predict`, and the task protocol at the end: what the one fine-tuning
  recipe and the `bertlab finetune|evaluate|predict classification` commands need
  (`bertlab.finetune`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.batching import sorted_batches
from bertlab.data.classification import ClassificationDataset, load_classification_data
from bertlab.metrics import as_percent
from bertlab.metrics.classification import classification_report
from bertlab.model import (
    BertConfig,
    BertModel,
    BertModelOutput,
    BertWithClassifier,
    LogitsOutput,
    check_positive,
)
from bertlab.tasks import cli_defaults

MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")
HEAD_PARAMETERS = ("bert.pooler", "classifier")
"""Name prefixes of the head's parameters (`finetune(head_lr_multiplier=...)` speeds them up)."""


# --------------------------------------------------------------------------- models
@dataclass
class SequenceClassifierOutput(LogitsOutput):
    """Hugging Face's `SequenceClassifierOutput`: loss (with labels), logits, extras."""


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classes; mean squared error for one output (regression, e.g. STS-B)."""
    if logits.shape[-1] == 1:
        return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
    return F.cross_entropy(logits, labels)


class BertForSequenceClassification(BertWithClassifier):
    """BERT with a classifier on the pooled `[CLS]` vector (Hugging Face's layout and names)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config, add_pooling_layer=True)

    def head_output(
        self, outputs: BertModelOutput, labels: torch.Tensor | None = None
    ) -> SequenceClassifierOutput:
        """The pooled `[CLS]` vector -> dropout -> classifier; cross-entropy with `labels` [batch]."""
        logits = self.classifier(self.dropout(outputs.pooler_output))
        loss = classification_loss(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss, logits, outputs.hidden_states, outputs.attentions)


def mean_pool(hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """The average of the token vectors of each text, padding excluded: [batch, hidden]."""
    mask = attention_mask.unsqueeze(-1).to(hidden_states.dtype)
    return (hidden_states * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class MeanPoolingClassifier(nn.Module):
    """Frozen-feature baseline: a fixed BERT, mean pooling over the attention mask, a linear layer.

    Only `classifier` is trained (`fit_linear_probe`); the encoder runs without
    gradients. Its outputs look like `BertForSequenceClassification`'s, so
    `evaluate` and `predict` work on both.
    """

    def __init__(self, encoder: BertModel, num_labels: int) -> None:
        super().__init__()
        self.bert = encoder.requires_grad_(False)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)
        self.config = BertConfig.from_dict(encoder.config.to_dict(), num_labels=num_labels)

    @torch.no_grad()
    def embed(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Mean-pooled sentence vectors, [batch, hidden] (the encoder in eval mode)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        was_training = self.bert.training
        self.bert.eval()
        hidden = self.bert(input_ids, attention_mask, token_type_ids).last_hidden_state
        self.bert.train(was_training)
        return mean_pool(hidden, attention_mask)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput:
        logits = self.classifier(self.embed(input_ids, attention_mask, token_type_ids))
        loss = classification_loss(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss, logits)


def embed_features(
    model: MeanPoolingClassifier, features: Sequence[dict], batch_size: int = 64
) -> torch.Tensor:
    """Mean-pooled vectors of every feature, in the features' order: [n, hidden]."""
    vectors = torch.empty(len(features), model.config.hidden_size)
    for indices, batch in sorted_batches(features, batch_size):
        vectors[indices] = model.embed(
            batch["input_ids"], batch["attention_mask"], batch.get("token_type_ids")
        )
    return vectors


def fit_linear_probe(
    model: MeanPoolingClassifier,
    vectors: torch.Tensor,
    labels: Sequence[int],
    *,
    steps: int = 300,
    lr: float = 1e-2,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> list[float]:
    """Train the linear layer on precomputed vectors (full batch, AdamW); returns the losses.

    The vectors are standardised inside the layer's weights afterwards, so the
    model still takes raw token ids.
    """
    torch.manual_seed(seed)
    mean, std = vectors.mean(0), vectors.std(0).clamp(min=1e-6)
    inputs = (vectors - mean) / std
    targets = torch.as_tensor(list(labels))
    layer = nn.Linear(vectors.shape[1], model.classifier.out_features)
    optimizer = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(layer(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():  # fold the standardisation in: W (x - m) / s + b
        weight = layer.weight / std
        model.classifier.weight.copy_(weight)
        model.classifier.bias.copy_(layer.bias - weight @ mean)
    return losses


# --------------------------------------------------------------------------- features
def make_features(
    tokenizer,
    texts: Sequence[str],
    labels: Sequence[int] | None = None,
    max_length: int = 128,
) -> list[dict]:
    """Tokenize once, truncate to `max_length`, no padding (each batch pads itself later)."""
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length)
    features = []
    for i in range(len(texts)):
        feature = {key: list(encoded[key][i]) for key in MODEL_INPUTS}
        if labels is not None:
            feature["labels"] = int(labels[i])
        features.append(feature)
    return features


# --------------------------------------------------------------------------- inference
@dataclass
class ClassificationSettings:
    """How texts are cut and batched for this task (the `--max-length`, `--eval-batch-size` flags)."""

    max_length: int = 128
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        check_positive(self, "max_length", "eval_batch_size")
        if self.max_length < 2:
            raise ValueError(
                f"max_length must leave room for [CLS] and [SEP], got {self.max_length}"
            )


@torch.no_grad()
def predict_probabilities(
    model: nn.Module,
    features: Sequence[dict],
    batch_size: int = 64,
    pad_token_id: int = 0,
    progress: bool | str = False,
) -> torch.Tensor:
    """Softmax probabilities, [n, num_labels], in the features' order (batches sorted by length)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    probabilities = None
    for indices, batch in sorted_batches(features, batch_size, pad_token_id, progress=progress):
        inputs = {key: batch[key].to(device) for key in MODEL_INPUTS if key in batch}
        logits = model(**inputs).logits.float().cpu()
        if probabilities is None:
            probabilities = torch.empty(len(features), logits.shape[-1])
        probabilities[indices] = logits.softmax(-1)
    model.train(was_training)
    if probabilities is None:
        raise ValueError("nothing to classify: the list of texts is empty")
    return probabilities


def label_names_of(model: nn.Module) -> list[str]:
    """The label names stored in the model's config (`id2label`)."""
    id2label = model.config.id2label
    return [id2label[i] if i in id2label else id2label[str(i)] for i in range(len(id2label))]


def evaluate(
    model, tokenizer, dataset: ClassificationDataset, settings=None, progress=False
) -> dict:
    """Accuracy, macro-F1, per-class P/R/F1 and the confusion matrix on `dataset` (0-1 scale).

    Also returns `predictions` and `probabilities` (lists, dataset order) so a
    notebook can look at the mistakes.
    """
    settings = settings or ClassificationSettings()
    check_labels_match(model, dataset)
    features = make_features(tokenizer, dataset.texts, None, settings.max_length)
    probabilities = predict_probabilities(
        model, features, settings.eval_batch_size, tokenizer.pad_token_id, progress
    )
    predictions = probabilities.argmax(-1).tolist()
    report = classification_report(dataset.labels, predictions, dataset.label_names)
    report["predictions"] = predictions
    report["probabilities"] = probabilities.tolist()
    return report


def check_labels_match(model: nn.Module, dataset: ClassificationDataset) -> None:
    """The model must have been trained for the data's labels (same names, same order).

    A model whose labels are unnamed (`LABEL_0`, `LABEL_1`, ... as Hugging Face names them)
    only needs as many classes as the data.
    """
    names = label_names_of(model)
    unnamed = names == [f"LABEL_{i}" for i in range(len(names))]
    if (len(names) != len(dataset.label_names)) if unnamed else names != list(dataset.label_names):
        raise ValueError(
            f"{dataset.source or 'the data'}: its labels are {list(dataset.label_names)}, "
            f"the model predicts {names}"
        )


def predict(model, tokenizer, texts: Sequence[str], settings=None, progress=False) -> list[dict]:
    """For each text: the predicted label name and the probability of every label."""
    settings = settings or ClassificationSettings()
    names = label_names_of(model)
    features = make_features(tokenizer, texts, None, settings.max_length)
    probabilities = predict_probabilities(
        model, features, settings.eval_batch_size, tokenizer.pad_token_id, progress
    )
    results = []
    for text, row in zip(texts, probabilities.tolist()):
        best = max(range(len(row)), key=row.__getitem__)
        probs = {name: round(p, 6) for name, p in zip(names, row)}
        results.append({"text": text, "label": names[best], "probabilities": probs})
    return results


# --------------------------------------------------------------------------- sentence embeddings
POOLINGS = ("mean", "cls", "pooler")
"""The three ways to turn BERT's token vectors into one sentence vector (notebook 10)."""


@torch.inference_mode()
def sentence_embeddings(
    model: nn.Module,
    tokenizer,
    texts: Sequence[str],
    settings: ClassificationSettings | None = None,
    normalize: bool = True,
) -> dict[str, torch.Tensor]:
    """One vector per text for each pooling, {"mean", "cls", "pooler"} -> [n, hidden], one pass.

    `mean` averages the final token vectors over the attention mask (what all-MiniLM-L6-v2
    was trained to produce, then L2-normalised: its model card's recipe), `cls` is the final
    vector of `[CLS]`, `pooler` is `tanh(W h_CLS + b)` (absent, so left out, when the model
    has no pooler). `model` is a `BertModel` or any task model holding one as `.bert`. With
    `normalize`, every vector has length 1, so a dot product is the cosine similarity.
    """
    if not texts:
        raise ValueError("nothing to embed: the list of texts is empty")
    settings = settings or ClassificationSettings()
    encoder = getattr(model, "bert", model)
    was_training = encoder.training
    encoder.eval()
    device = next(encoder.parameters()).device
    features = make_features(tokenizer, texts, None, settings.max_length)
    vectors: dict[str, torch.Tensor] = {}
    for indices, batch in sorted_batches(
        features, settings.eval_batch_size, tokenizer.pad_token_id
    ):
        batch = {key: value.to(device) for key, value in batch.items()}
        output = encoder(**batch)
        pooled = {
            "mean": mean_pool(output.last_hidden_state, batch["attention_mask"]),
            "cls": output.last_hidden_state[:, 0],
            "pooler": output.pooler_output,
        }
        for name, values in pooled.items():
            if values is None:
                continue
            if name not in vectors:
                vectors[name] = torch.empty(len(features), values.shape[-1])
            vectors[name][indices] = values.float().cpu()
    encoder.train(was_training)
    if normalize:
        vectors = {name: F.normalize(values, dim=-1) for name, values in vectors.items()}
    return vectors


def semantic_search(
    queries: torch.Tensor, corpus: torch.Tensor, top_k: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """The `top_k` corpus rows most similar to each query by cosine: (similarities, indices).

    Both are [n_queries, top_k], best first. Rows need not be normalised beforehand.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    if queries.shape[-1] != corpus.shape[-1]:
        raise ValueError(
            f"queries have {queries.shape[-1]} dimensions, the corpus {corpus.shape[-1]}: "
            "embed both with the same model"
        )
    similarities = F.normalize(queries, dim=-1) @ F.normalize(corpus, dim=-1).T
    return similarities.topk(min(top_k, corpus.shape[0]), dim=-1)


# --------------------------------------------------------------------------- the task protocol
# What `bertlab.finetune` (the one recipe and its command line) needs from every task.

NAME = "classification"
MODEL_CLASS = BertForSequenceClassification
Settings = ClassificationSettings
PAD_VALUES: dict[str, int] = {}
DATASETS = ("sst2", "ag_news")
DATA_OPTIONS = ("dataset", "text_column", "label_column", "label_names")
CLI_DEFAULTS = cli_defaults(max_length=64, batch_size=32, lr=1e-4, max_seconds=150.0, epochs=1.0)
"""Defaults measured to learn the most per CPU second with MiniLM (README, notebook 10)."""
load_data = load_classification_data
PREDICT_INPUT = "text"
"""Each input to `predict` is one text."""


def label_names(train: ClassificationDataset, dev: ClassificationDataset | None) -> list[str]:
    """The head's labels: the training data's classes (the dev data must use the same)."""
    if dev is not None and list(dev.label_names) != list(train.label_names):
        raise ValueError(
            f"{dev.source}: labels {list(dev.label_names)} differ from "
            f"{train.source}: {list(train.label_names)}"
        )
    return list(train.label_names)


def training_features(
    tokenizer, dataset: ClassificationDataset, settings: ClassificationSettings, label2id=None
) -> list[dict]:
    """Tokenized texts with their labels, unpadded (each batch pads itself)."""
    return make_features(tokenizer, dataset.texts, dataset.labels, settings.max_length)


def scores(report: dict) -> tuple[dict[str, float], dict]:
    """The headline metrics in percent, and the rest of the report (per class, confusion)."""
    report = as_percent(report)
    headline = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
    details = {key: report[key] for key in ("per_class", "confusion_matrix") if key in report}
    return headline, details
