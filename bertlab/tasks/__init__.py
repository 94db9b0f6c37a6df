"""Downstream tasks: classification (notebook 10), NER (11), extractive QA (12).

Each task module provides the same small protocol, written out once here as `TaskModule`:
the fine-tuning recipe (`bertlab.finetune`), the command line, the pipeline and the server
use only these names, so a new task that provides them works everywhere unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from torch import nn


class TaskModule(Protocol):
    """What `bertlab.finetune` needs from `bertlab.tasks.<task>` (a module, read as a protocol).

    `evaluate` and `predict` share one signature in every task: `settings` is the task's
    `Settings` (default None: its defaults), `progress` a bar label, True for a plain bar, or
    False for none (the default).
    """

    NAME: str
    MODEL_CLASS: type[nn.Module]
    HEAD_PARAMETERS: tuple[str, ...]
    PAD_VALUES: dict[str, int]
    DATASETS: tuple[str, ...]
    DATA_OPTIONS: tuple[str, ...]
    CLI_DEFAULTS: dict
    PREDICT_INPUT: str
    Settings: type
    load_data: Callable[..., Any]

    def label_names(self, train: Sequence, dev: Sequence | None) -> list[str]: ...

    def training_features(
        self, tokenizer, data: Sequence, settings: Any, label2id: dict[str, int]
    ) -> list[dict]: ...

    def evaluate(self, model: nn.Module, tokenizer, data: Sequence, settings, progress) -> dict:
        """Scores of `model` on labelled `data` (the task's own scale; `scores` turns them to %)."""

    def predict(
        self, model: nn.Module, tokenizer, inputs: Sequence, settings, progress
    ) -> list[dict]:
        """One JSON-ready dict per input (`PREDICT_INPUT` says what an input is)."""

    def scores(self, report: dict) -> tuple[dict[str, float], dict]:
        """The headline metrics in percent, and the rest of `report` as details."""


def cli_defaults(
    *,
    max_length: int,
    batch_size: int,
    lr: float,
    max_seconds: float,
    epochs: float,
    head_lr_multiplier: float = 10.0,
) -> dict:
    """A task's `CLI_DEFAULTS`: its own length, batch, learning rate and budget, plus the
    recipe every task shares (no dropout, frozen word embeddings; the head's learning rate
    10× the body's unless the task says otherwise)."""
    return dict(
        max_length=max_length,
        batch_size=batch_size,
        lr=lr,
        max_seconds=max_seconds,
        epochs=epochs,
        dropout=0.0,
        freeze_word_embeddings=True,
        head_lr_multiplier=head_lr_multiplier,
    )
