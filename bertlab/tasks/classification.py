"""Sequence classification: a head on `[CLS]`, fine-tuning, evaluation, prediction, the CLI.

Notebook 10 teaches it on SST-2 (movie-review sentiment) and AG News (news topics).

- `BertForSequenceClassification`: BERT -> pooler (dense + tanh over `[CLS]`) ->
  dropout -> linear, with Hugging Face's names (`bert.*`, `classifier.*`), so
  checkpoints move both ways between bertlab and `transformers`.
- `MeanPoolingClassifier`: the frozen-feature baseline. BERT stays fixed; each
  text becomes the mean of its token vectors (padding excluded) and only a
  linear classifier is trained on those features.
- `make_features` / `BucketedBatches`: tokenize once, pad each batch only to its
  longest text, and batch texts of similar length together.
- `fine_tune`, `evaluate`, `predict`, and the `bertlab finetune|evaluate|predict
  classification` commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from bertlab.data.classification import (
    ClassificationDataset,
    load_ag_news,
    load_sst2,
    read_classification_file,
)
from bertlab.metrics.classification import classification_report
from bertlab.model import BertConfig, BertModel, BertPreTrainedModel, ModelOutput
from bertlab.tasks.common import (
    BucketedBatches,
    add_finetune_arguments,
    dropout_overrides,
    freeze_embedding_table,
    load_for_finetuning,
    load_tokenizer,
    resolve_checkpoint,
    save_finetuned,
    sorted_batches,
)

DATASETS = {"sst2": load_sst2, "ag_news": load_ag_news}
MODEL_INPUTS = ("input_ids", "token_type_ids", "attention_mask")
HEAD_PARAMETERS = ("bert.pooler", "classifier")
"""Name prefixes of the parameters `fine_tune(head_lr_multiplier=...)` speeds up."""


# --------------------------------------------------------------------------- models
@dataclass
class SequenceClassifierOutput(ModelOutput):
    """Hugging Face's `SequenceClassifierOutput`: loss (with labels), logits, extras."""

    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None
    hidden_states: tuple[torch.Tensor, ...] | None = None
    attentions: tuple[torch.Tensor, ...] | None = None


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for classes; mean squared error for one output (regression, e.g. STS-B)."""
    if logits.shape[-1] == 1:
        return F.mse_loss(logits.squeeze(-1), labels.to(logits.dtype))
    return F.cross_entropy(logits, labels)


class BertForSequenceClassification(BertPreTrainedModel):
    """BERT with a classifier on the pooled `[CLS]` vector (Hugging Face's layout and names)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=True)
        dropout = config.classifier_dropout
        self.dropout = nn.Dropout(config.hidden_dropout_prob if dropout is None else dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> SequenceClassifierOutput:
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
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
        self.config = encoder.config

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


def training_batches(
    features: Sequence[dict], batch_size: int, seed: int = 0, pad_token_id: int = 0
) -> BucketedBatches:
    """Shuffled, length-bucketed, dynamically padded batches (one new order per epoch)."""
    return BucketedBatches(features, batch_size, pad_token_id=pad_token_id, seed=seed)


# --------------------------------------------------------------------------- inference
@torch.no_grad()
def predict_probabilities(
    model: nn.Module, features: Sequence[dict], batch_size: int = 64, pad_token_id: int = 0
) -> torch.Tensor:
    """Softmax probabilities, [n, num_labels], in the features' order (batches sorted by length)."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    probabilities = None
    for indices, batch in sorted_batches(features, batch_size, pad_token_id):
        inputs = {key: batch[key].to(device) for key in MODEL_INPUTS if key in batch}
        logits = model(**inputs).logits.float().cpu()
        if probabilities is None:
            probabilities = torch.empty(len(features), logits.shape[-1])
        probabilities[indices] = logits.softmax(-1)
    model.train(was_training)
    return probabilities


def label_names_of(model: nn.Module) -> list[str]:
    """The label names stored in the model's config (`id2label`)."""
    id2label = model.config.id2label
    return [id2label[i] if i in id2label else id2label[str(i)] for i in range(len(id2label))]


def evaluate(
    model: nn.Module,
    tokenizer,
    dataset: ClassificationDataset,
    max_length: int = 128,
    batch_size: int = 64,
) -> dict:
    """Accuracy, macro-F1, per-class P/R/F1 and the confusion matrix on `dataset`.

    Also returns `predictions` and `probabilities` (lists, dataset order) so a
    notebook can look at the mistakes.
    """
    features = make_features(tokenizer, dataset.texts, None, max_length)
    probabilities = predict_probabilities(model, features, batch_size, tokenizer.pad_token_id)
    predictions = probabilities.argmax(-1).tolist()
    report = classification_report(dataset.labels, predictions, dataset.label_names)
    report["predictions"] = predictions
    report["probabilities"] = probabilities.tolist()
    return report


def predict(
    model: nn.Module, tokenizer, texts: Sequence[str], max_length: int = 128, batch_size: int = 64
) -> list[dict]:
    """For each text: the predicted label name and the probability of every label."""
    names = label_names_of(model)
    features = make_features(tokenizer, texts, None, max_length)
    probabilities = predict_probabilities(model, features, batch_size, tokenizer.pad_token_id)
    results = []
    for text, row in zip(texts, probabilities.tolist()):
        best = max(range(len(row)), key=row.__getitem__)
        probs = {name: round(p, 6) for name, p in zip(names, row)}
        results.append({"text": text, "label": names[best], "probabilities": probs})
    return results


# --------------------------------------------------------------------------- fine-tuning
def fine_tune(
    model: BertForSequenceClassification,
    tokenizer,
    train: ClassificationDataset | Sequence[dict],
    dev: ClassificationDataset | None = None,
    *,
    max_length: int = 64,
    batch_size: int = 32,
    eval_every: int | None = None,
    freeze_word_embeddings: bool = False,
    head_lr_multiplier: float = 1.0,
    eval_fn=None,
    **training_options,
):
    """Fine-tune with `bertlab.training.train` on bucketed, dynamically padded batches.

    `train` is a dataset (tokenized here) or features already made by `make_features`.
    `training_options` go to `TrainingConfig` (learning_rate, max_seconds,
    max_steps, epochs, seed, ...). `freeze_word_embeddings` keeps the 30,522 x
    hidden token table fixed: the optimizer then skips a third or more of the
    parameters, which saves time and changes accuracy little.
    `head_lr_multiplier` multiplies the learning rate of the pooler and the
    classifier (`HEAD_PARAMETERS`): the classifier starts random, and a pooler the
    checkpoint's training did not use is little better (MiniLM was trained with
    mean pooling; its pooler weights are smaller than at initialisation, notebook 10).
    The dev set is evaluated every `eval_every` steps and at the end, unless an
    `eval_fn(model) -> dict` of your own is given. Returns the `History`.
    """
    from bertlab.training import TrainingConfig
    from bertlab.training import train as run_training

    if freeze_word_embeddings:
        freeze_embedding_table(model)
    options = {
        "learning_rate": 1e-4,
        "lr_multipliers": dict.fromkeys(HEAD_PARAMETERS, head_lr_multiplier),
        **training_options,
    }
    config = TrainingConfig(eval_every=eval_every, **options)
    if isinstance(train, ClassificationDataset):
        features = make_features(tokenizer, train.texts, train.labels, max_length)
    else:  # already tokenized: a list of feature dicts from make_features
        features = list(train)
    batches = training_batches(features, batch_size, config.seed, tokenizer.pad_token_id)

    if eval_fn is None and dev is not None:

        def eval_fn(trained):
            report = evaluate(trained, tokenizer, dev, max_length, batch_size=128)
            return {"dev_accuracy": report["accuracy"], "dev_macro_f1": report["macro_f1"]}

    return run_training(model, batches, config, eval_fn=eval_fn)


# --------------------------------------------------------------------------- CLI
def add_cli_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    """Flags of `bertlab finetune|evaluate|predict classification`."""
    if command == "finetune":
        add_finetune_arguments(
            parser,
            max_length=64,
            batch_size=32,
            lr=1e-4,
            max_seconds=150.0,
            dropout=0.0,
            freeze_word_embeddings=True,
            head_lr_multiplier=10.0,
        )
        parser.add_argument(
            "--dataset",
            choices=sorted(DATASETS),
            default="sst2",
            help="the dataset used where --train/--dev are not given (default: sst2)",
        )
        parser.add_argument(
            "--eval-every", type=int, default=None, help="evaluate on --dev every N steps"
        )
    elif command == "evaluate":
        parser.add_argument("--model", required=True, help="a fine-tuned classification folder")
        parser.add_argument(
            "--data",
            default=None,
            help="a .tsv (SST-2 format) or .csv (AG News format) file "
            "(default: the dev split of --dataset)",
        )
        parser.add_argument("--dataset", choices=sorted(DATASETS), default="sst2")
        parser.add_argument("--max-length", type=int, default=128)
        parser.add_argument("--batch-size", type=int, default=64)
    elif command == "predict":
        parser.add_argument("--model", required=True, help="a fine-tuned classification folder")
        parser.add_argument("texts", nargs="+", help="the texts to classify")
        parser.add_argument("--max-length", type=int, default=128)
    else:
        raise ValueError(f"unknown command {command!r}")


def _dataset(path: str | None, name: str, split: str) -> ClassificationDataset:
    if path is not None:
        return read_classification_file(path)
    return DATASETS[name](split)


def _load_task_model(folder: str):
    checkpoint = resolve_checkpoint(folder)
    model = BertForSequenceClassification.from_pretrained(str(checkpoint))
    return model, load_tokenizer(checkpoint)


def _check_labels(model: nn.Module, dataset: ClassificationDataset, where: str) -> None:
    names = label_names_of(model)
    if len(names) != len(dataset.label_names):
        raise ValueError(
            f"{where}: the model has {len(names)} labels {names}, "
            f"the data has {len(dataset.label_names)} {dataset.label_names}"
        )


def run_cli(command: str, args: argparse.Namespace) -> dict:
    """Run one command; the returned dict is printed as JSON by `bertlab.cli`."""
    if command == "finetune":
        return _run_finetune(args)
    if command == "evaluate":
        model, tokenizer = _load_task_model(args.model)
        dataset = _dataset(args.data, args.dataset, "dev")
        _check_labels(model, dataset, dataset.source)
        report = evaluate(model, tokenizer, dataset, args.max_length, args.batch_size)
        del report["probabilities"], report["predictions"]
        return {"data": dataset.source, **report}
    if command == "predict":
        model, tokenizer = _load_task_model(args.model)
        return {"predictions": predict(model, tokenizer, args.texts, args.max_length)}
    raise ValueError(f"unknown command {command!r}")


def _run_finetune(args: argparse.Namespace) -> dict:
    train_set = _dataset(args.train, args.dataset, "train")
    dev_set = _dataset(args.dev, args.dataset, "dev")
    if dev_set.label_names != train_set.label_names:
        raise ValueError(
            f"{dev_set.source}: labels {dev_set.label_names} differ from "
            f"{train_set.source}: {train_set.label_names}"
        )
    names = train_set.label_names
    model, tokenizer = load_for_finetuning(
        args.model,
        BertForSequenceClassification,
        id2label=dict(enumerate(names)),
        label2id={name: i for i, name in enumerate(names)},
        ignore_mismatched_sizes=True,
        **dropout_overrides(args.dropout),
    )
    budget = {"max_seconds": args.max_seconds, "max_steps": args.max_steps, "epochs": args.epochs}
    print(
        f"fine-tuning on {len(train_set):,} texts from {train_set.source} ({budget})",
        file=sys.stderr,
    )
    start = time.perf_counter()
    history = fine_tune(
        model,
        tokenizer,
        train_set,
        None,
        max_length=args.max_length,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        freeze_word_embeddings=args.freeze_word_embeddings,
        head_lr_multiplier=args.head_lr_multiplier,
        progress=sys.stderr.isatty(),
        **budget,
    )
    train_seconds = time.perf_counter() - start
    report = evaluate(model, tokenizer, dev_set, args.max_length)
    last = history.last
    summary = {
        "out": str(Path(args.out)),
        "train": train_set.source,
        "dev": dev_set.source,
        "steps": int(last.get("step", 0)),
        "examples_seen": int(last.get("examples", 0)),
        "train_seconds": round(train_seconds, 1),
        "stop_reason": history.stop_reason,
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        "per_class": report["per_class"],
        "confusion_matrix": report["confusion_matrix"],
    }
    save_finetuned(args.out, model, tokenizer, extra={"arguments": vars(args), **summary})
    return summary
