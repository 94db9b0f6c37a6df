"""THE fine-tuning recipe: any BERT checkpoint + a task head, trained under a budget.

Notebooks 10, 11 and 12 call the same two functions, and so does the command line
(`bertlab finetune classification|ner|qa`, in `bertlab.cli`):

    model, tokenizer = load_for_finetuning("ner", "path/to/checkpoint", label_names=tags)
    history = finetune("ner", model, tokenizer, train_sentences,
                       TrainingConfig(learning_rate=2e-4, max_steps=300), dev_data=dev)

A task is a module of `bertlab.tasks` that provides the same small protocol: its model
class and head (`MODEL_CLASS`, `HEAD_PARAMETERS`), the padding of its labels
(`PAD_VALUES`), its settings (`Settings`), its data (`load_data`, `label_names`,
`training_features`), and `evaluate`, `predict`, `scores`, `CLI_DEFAULTS`.

The recipe adds three choices a CPU budget rewards (notebook 10's appendix measures them):
`freeze_word_embeddings` (the 30,522-row token table is half of MiniLM; most rows are never
looked up in a short run), `head_lr_multiplier` (a freshly initialised head learns faster
than the pretrained encoder under it) and `dropout` (it fights overfitting, which a
budget under one epoch does not reach, and it costs about a fifth of a CPU step).
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from types import ModuleType
from typing import Any

from torch import nn

from bertlab.batching import BucketedBatches
from bertlab.hub import minilm_dir, resolve_file
from bertlab.runtime import set_seed
from bertlab.tasks import TaskModule, classification, ner, qa
from bertlab.tokenization import BertTokenizer
from bertlab.training import History, TrainingConfig, train

TASKS: dict[str, TaskModule] = {"classification": classification, "ner": ner, "qa": qa}
OTHER_HEADS = ("cls.", "classifier.", "qa_outputs.", "bert.pooler.", "pooler.")
"""Weights a starting checkpoint may hold for another head: left behind, and reported."""

logger = logging.getLogger("bertlab")


def get_task(task: str | ModuleType) -> ModuleType:
    """The task module for a name ("classification", "ner", "qa") or the module itself."""
    if isinstance(task, ModuleType):
        return task
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: choose from {', '.join(TASKS)}")
    return TASKS[task]


def task_of_model(model: nn.Module) -> ModuleType | None:
    """The task a loaded model is trained for (None for an encoder or a pretraining model)."""
    return next((t for t in TASKS.values() if isinstance(model, t.MODEL_CLASS)), None)


def dropout_overrides(dropout: float | None) -> dict[str, float]:
    """Config entries that set every dropout of a BERT model to `dropout` (None: keep them)."""
    if dropout is None:
        return {}
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    return {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}


def load_tokenizer(folder_or_hub_id: str | os.PathLike) -> BertTokenizer:
    """The WordPiece tokenizer saved with a checkpoint (its `vocab.txt`)."""
    resolve_file(folder_or_hub_id, "vocab.txt")  # a clear error when it is missing
    return BertTokenizer.from_pretrained(folder_or_hub_id)


def load_for_finetuning(
    task: str | ModuleType,
    checkpoint: str | os.PathLike | None = None,
    *,
    label_names: list[str] | None = None,
    dropout: float | None = None,
    seed: int | None = None,
    **config_overrides: Any,
) -> tuple[nn.Module, BertTokenizer]:
    """(model, tokenizer): any BERT checkpoint with the task's head on top.

    `checkpoint` is a folder or a Hub id (None: the offline MiniLM weights): a bare
    encoder, a pretraining checkpoint, or a model fine-tuned before. The encoder's
    weights must all be there; the head is new (and says so) unless the checkpoint
    already has one of the same shape. `seed`, when given, is set before any weight is
    created, so the new head starts the same way every time.
    """
    task = get_task(task)
    folder = checkpoint if checkpoint is not None else minilm_dir()
    if label_names is not None:
        config_overrides["id2label"] = dict(enumerate(label_names))
        config_overrides["label2id"] = {name: i for i, name in enumerate(label_names)}
        config_overrides.setdefault("ignore_mismatched_sizes", True)
    if seed is not None:
        set_seed(seed)
    model = task.MODEL_CLASS.from_pretrained(
        folder, **dropout_overrides(dropout), **config_overrides
    )
    check_starting_point(model, folder, task)
    return model, load_tokenizer(folder)


def check_starting_point(model: nn.Module, folder, task: ModuleType) -> None:
    """The encoder must load whole; only the head may be new, only other heads left behind."""
    info = model.loading_info
    head = tuple(task.HEAD_PARAMETERS)
    missing = [key for key in info["missing_keys"] if not key.startswith(head)]
    stray = [k for k in info["unexpected_keys"] if not k.startswith(OTHER_HEADS)]
    if missing or stray:
        from bertlab.checkpoints import check_complete

        model.loading_info = {**info, "missing_keys": missing, "unexpected_keys": stray}
        check_complete(model, folder)
    if info["unexpected_keys"]:
        logger.warning(
            "%s: left behind (another head's weights): %s",
            folder,
            ", ".join(info["unexpected_keys"]),
        )


def freeze_embedding_table(model: nn.Module) -> None:
    """Stop training the token table (`bert.embeddings.word_embeddings`).

    The table holds 30,522 x hidden numbers, about half of MiniLM. In a short run most
    rows are never looked up, yet AdamW would still update all of them (the weight
    decay alone touches every row); fixing them makes each step cheaper. The position
    and segment tables and every layer still train.
    """
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)


def finetune(
    task: str | ModuleType,
    model: nn.Module,
    tokenizer: BertTokenizer,
    train_data,
    config: TrainingConfig,
    *,
    dev_data=None,
    settings=None,
    batch_size: int = 32,
    freeze_word_embeddings: bool = False,
    head_lr_multiplier: float = 1.0,
    features: list[dict] | None = None,
    eval_fn=None,
) -> History:
    """Fine-tune `model` on `train_data` with `bertlab.training.train`; returns the History.

    The data is tokenized once (`task.training_features`, or pass `features` made
    earlier), then batched by `BucketedBatches`: each batch holds inputs of similar
    length, padded only to its longest. With `dev_data`, the task's headline metrics
    (percent) are logged every `config.eval_every` steps and at the end, unless you
    give an `eval_fn(model) -> dict` of your own.
    """
    task = get_task(task)
    settings = settings or task.Settings()
    if freeze_word_embeddings:
        freeze_embedding_table(model)
    multipliers = {
        **dict.fromkeys(task.HEAD_PARAMETERS, head_lr_multiplier),
        **config.lr_multipliers,
    }
    config = replace(config, lr_multipliers=multipliers)
    if features is None:
        features = task.training_features(tokenizer, train_data, settings, model.config.label2id)
    batches = BucketedBatches(
        features,
        batch_size,
        pad_token_id=tokenizer.require_token_id("pad_token", "batching"),
        pad_values=task.PAD_VALUES,
        seed=config.seed,
    )
    if eval_fn is None and dev_data is not None:

        def eval_fn(trained: nn.Module) -> dict[str, float]:
            headline, _ = task.scores(task.evaluate(trained, tokenizer, dev_data, settings))
            return {f"dev_{name}": value for name, value in headline.items()}

    return train(model, batches, config, eval_fn=eval_fn)
