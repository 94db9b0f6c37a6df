"""`Pipeline`: any model folder bertlab writes, called in one line (notebook 14).

    from bertlab.serving import pipeline

    classify = pipeline("text-classification", model="runs/notebook10-sst2")
    classify("a gripping, funny film")        # {"label": "positive", "score": 0.98, "probabilities": {...}}
    tag = pipeline(model="runs/notebook11-conll")            # the task is read from config.json
    tag("Ada Lovelace was born in London.")   # [{"entity_group": "PER", "word": "Ada Lovelace", ...}, ...]
    read = pipeline(model="runs/notebook12-squad")
    read(question="Who built it?", context="...")   # {"answer": ..., "score": ..., "start": ..., "end": ...}
    fill = pipeline(model="runs/pretrained-small")          # a pretraining checkpoint: fill-mask
    embed = pipeline("sentence-embedding")                  # the offline MiniLM encoder: one vector a text

The shape is `transformers.pipeline`'s, and so are the outputs where `transformers` has
the task (tests/test_serving_pipeline.py checks them against it). Inputs are checked,
tokenized once, sorted by length and run in batches without gradients (`Pipeline.run`);
`backend="onnx"` runs the graph `bertlab export` wrote instead of PyTorch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from bertlab.batching import pad_batch
from bertlab.serving.backends import (
    MODEL_INPUTS,
    OnnxBackend,
    TaskGraph,
    TorchBackend,
    weights_digest,
)
from bertlab.serving.processing import STEPS, TASK_NAMES, TaskSteps

TASK_ALIASES = {
    "sentiment-analysis": "text-classification",
    "classification": "text-classification",
    "ner": "token-classification",
    "qa": "question-answering",
    "embedding": "sentence-embedding",
}
"""Other names for the tasks: `transformers`' aliases and bertlab's task names (`bertlab predict ner`)."""
ONNX_FILE = "model.onnx"
"""Where `bertlab export` writes the graph inside a model folder unless told otherwise."""
PASS_COST = 48
"""The fixed cost of one forward pass, in tokens' worth of compute. For MiniLM on one CPU thread,
one short text alone cost as much as 25 to 50 more tokens inside a large batch (two x86
machines; notebook 14 measures it on yours). `length_groups` pads no more than this a pass."""


def task_name(task: str) -> str:
    """The canonical task name (`transformers`' spelling) for a task or one of its aliases."""
    name = TASK_ALIASES.get(task, task)
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {task!r}: choose from {', '.join(TASK_NAMES)}")
    return name


class Pipeline:
    """Text in, answers out: a task's steps (`processing`) around a backend (`backends`).

    `pipe(text)` answers one input, `pipe([text, ...])` a list (a QA input is a dict with
    "question" and "context", or `pipe(question=..., context=...)`). `predict(items)` is
    the list form that the server's micro-batcher calls with the inputs of many requests.
    """

    pass_cost = PASS_COST
    """Padding tolerated in a forward pass before it is split (`length_groups`); set it per pipeline."""

    def __init__(self, steps: TaskSteps, backend, source: str = "") -> None:
        self.steps = steps
        self.backend = backend
        self.source = source
        self.tokenizer = steps.tokenizer
        self.config = steps.config

    @property
    def task(self) -> str:
        return self.steps.task

    @property
    def settings(self):
        return self.steps.settings

    def __repr__(self) -> str:
        return (
            f"Pipeline(task={self.task!r}, backend={self.backend.name!r}, source={self.source!r})"
        )

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(
        cls,
        folder: str | os.PathLike,
        *,
        task: str | None = None,
        backend: str = "torch",
        onnx_path: str | os.PathLike | None = None,
        device: str | None = None,
        threads: int | None = None,
        precision: str = "fp32",
        **settings: Any,
    ) -> Pipeline:
        """The pipeline of a model folder: its task from `config.json`, its settings from
        `training_info.json` (as `bertlab predict` reads them), `settings` overriding both.

        `backend="onnx"` runs `onnx_path` (default: FOLDER/model.onnx) with ONNX Runtime on the
        CPU and refuses a file exported from other weights than the folder's. `precision`
        ("fp32", "bf16", "fp16" on a GPU) is the torch backend's autocast.
        """
        from bertlab.auto import architecture_of, load_model
        from bertlab.finetune import load_tokenizer
        from bertlab.model import BertConfig

        architecture = architecture_of(folder)
        check_task(task, architecture, folder)
        steps_class, settings_class = STEPS[architecture]
        chosen = make_settings(
            settings_class, recorded_settings(folder), settings, task_of(architecture)
        )
        if backend == "torch":
            from bertlab.runtime import resolve_device

            graph = TaskGraph(load_model(folder))
            engine = TorchBackend(graph, resolve_device(device), precision)
        elif backend == "onnx":
            if precision != "fp32":
                raise ValueError(f"precision {precision} applies to the torch backend, not onnx")
            path = Path(onnx_path) if onnx_path is not None else Path(folder) / ONNX_FILE
            engine = OnnxBackend(path, threads)
            check_export_matches(engine, folder, architecture)
        else:
            raise ValueError(f"backend must be 'torch' or 'onnx', got {backend!r}")
        steps = steps_class(BertConfig.from_pretrained(folder), load_tokenizer(folder), chosen)
        return cls(steps, engine, source=str(folder))

    @classmethod
    def from_model(
        cls, model: nn.Module, tokenizer, *, task: str | None = None, device=None, **settings: Any
    ) -> Pipeline:
        """The pipeline of a model in memory (a notebook's freshly fine-tuned one), PyTorch backend.

        The model is put in eval mode (and on `device`, when given): call `.train()` to go on
        training it.
        """
        architecture = type(model).__name__
        if architecture not in STEPS:
            raise ValueError(f"no pipeline for {architecture}: use one of {list(STEPS)}")
        check_task(task, architecture, "the model")
        steps_class, settings_class = STEPS[architecture]
        chosen = make_settings(settings_class, {}, settings, task_of(architecture))
        if device is None:
            device = next(model.parameters()).device
        engine = TorchBackend(TaskGraph(model), device)
        return cls(steps_class(model.config, tokenizer, chosen), engine, source=architecture)

    # ------------------------------------------------------------------ running
    def __call__(self, inputs: Any = None, **keywords: Any):
        if inputs is None and self.task == "question-answering" and keywords:
            inputs = dict(keywords)
        elif keywords:
            raise TypeError(f"unexpected keyword arguments {sorted(keywords)}")
        if inputs is None:
            raise ValueError("no inputs: give a text, a list of texts (or question= and context=)")
        single = isinstance(inputs, (str, dict))
        results = self.predict([inputs] if single else list(inputs))
        return results[0] if single else results

    def predict(self, items: Sequence) -> list:
        """Answers for a list of inputs, in their order (a ValueError names the first bad one)."""
        if len(items) == 0:
            raise ValueError("no inputs: give at least one")
        checked = []
        for index, item in enumerate(items):
            try:
                checked.append(self.steps.check(item))
            except ValueError as error:
                raise ValueError(f"input {index}: {error}") from None
        features, context = self.steps.prepare(checked)
        return self.steps.finish(checked, context, self.run(features))

    def run(self, features: Sequence[dict]) -> list[dict[str, np.ndarray]]:
        """The graph's outputs for every feature, per-token outputs cut back to each row's length.

        Features are sorted by length and run in groups (`length_groups`), each padded to its
        longest row.
        """
        pad_id = self.tokenizer.require_token_id("pad_token", "batching")
        inputs = [{name: feature[name] for name in MODEL_INPUTS} for feature in features]
        lengths = [len(item["input_ids"]) for item in inputs]
        rows: list[dict[str, np.ndarray]] = [{} for _ in features]
        per_token = self.steps.per_token_outputs
        for indices in length_groups(lengths, self.settings.eval_batch_size, self.pass_cost):
            outputs = self.backend(pad_batch([inputs[i] for i in indices], pad_id))
            for row, index in enumerate(indices):
                rows[index] = {
                    name: value[row, : lengths[index]] if name in per_token else value[row]
                    for name, value in outputs.items()
                }
        return rows


def length_groups(lengths: Sequence[int], max_rows: int, pass_cost: int = 0) -> list[list[int]]:
    """Indices sorted by length, cut into forward passes of at most `max_rows` rows.

    A pass is padded to its longest row, so a short text next to a long one computes the
    short one's padding; a pass also has a fixed cost (each layer's launches and small
    matrix products), worth `pass_cost` tokens. Walking up the sorted lengths, a new pass
    starts when padding the current one to the next length would waste more tokens than a
    pass costs. `pass_cost=0` gives every distinct length its own pass; a very large one
    gives passes of `max_rows`, as `bertlab.batching.sorted_batches` does.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: list[list[int]] = []
    real = 0  # tokens of the current group, without padding
    for index in order:
        length = lengths[index]
        if groups and len(groups[-1]) < max_rows:
            padding = (len(groups[-1]) + 1) * length - (real + length)
            if padding <= pass_cost:
                groups[-1].append(index)
                real += length
                continue
        groups.append([index])
        real = length
    return groups


def pipeline(
    task: str | None = None,
    model: str | os.PathLike | nn.Module | None = None,
    tokenizer=None,
    **options: Any,
) -> Pipeline:
    """`transformers.pipeline`'s shape: `pipeline(task, model=FOLDER)` or `pipeline(model=FOLDER)`.

    `model` may also be a model in memory (then pass its `tokenizer`). Without a model,
    "sentence-embedding" uses the offline MiniLM encoder; other tasks need a fine-tuned folder.
    """
    if isinstance(model, nn.Module):
        if tokenizer is None:
            raise ValueError("a model in memory needs its tokenizer: pipeline(..., tokenizer=...)")
        return Pipeline.from_model(model, tokenizer, task=task, **options)
    if tokenizer is not None:
        raise ValueError("tokenizer= is for a model in memory; a folder brings its own vocab.txt")
    if model is None:
        if task is None or task_name(task) != "sentence-embedding":
            raise ValueError(
                "give model=FOLDER: a folder written by `bertlab finetune` or `bertlab pretrain` "
                "(only sentence-embedding has a default, the offline MiniLM encoder)"
            )
        from bertlab.hub import minilm_dir

        model = minilm_dir()
    return Pipeline.from_pretrained(model, task=task, **options)


# --------------------------------------------------------------------------- helpers


def task_of(architecture: str) -> str:
    return STEPS[architecture][0].task


def check_task(task: str | None, architecture: str, where) -> None:
    """A task asked for must be the one the folder's head was trained for."""
    if task is not None and task_name(task) != task_of(architecture):
        raise ValueError(
            f"{where}: holds a {architecture}, which does {task_of(architecture)}, not {task}"
        )


def recorded_settings(folder: str | os.PathLike) -> dict:
    """The settings `bertlab finetune` recorded in FOLDER/training_info.json ({} without one)."""
    path = Path(folder) / "training_info.json"
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    return (info.get("settings") if isinstance(info, dict) else None) or {}


def make_settings(settings_class: type, recorded: dict, given: dict, task: str):
    """The settings object: `given` over `recorded` over the defaults; unknown names refused."""
    names = {f.name for f in fields(settings_class)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown} for {task}: choose from {sorted(names)}")
    values = {key: value for key, value in recorded.items() if key in names}
    return settings_class(**{**values, **given})


def check_export_matches(engine: OnnxBackend, folder, architecture: str) -> None:
    """Refuse an ONNX file exported from another architecture or other weights than the folder's."""
    recorded = engine.metadata
    if recorded.get("bertlab_architecture") != architecture:
        raise ValueError(
            f"{engine.path}: exported from a {recorded.get('bertlab_architecture', 'unknown model')}, "
            f"{folder} holds a {architecture}"
        )
    if recorded.get("bertlab_weights_sha256") != weights_digest(folder):
        raise ValueError(
            f"{engine.path}: exported from other weights than {folder} holds now; export again "
            f"(`bertlab export --model {folder} --out {engine.path} --overwrite`)"
        )
