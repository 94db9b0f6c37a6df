"""`bertlab export`: a model folder's tensor program as an ONNX file, checked against PyTorch.

Notebook 14. What export captures, and what it cannot:

- It records the tensor operations of ONE call of `backends.TaskGraph` on an example
  batch (PyTorch's TorchScript tracer, `torch.onnx.export(dynamo=False)`), with the batch
  and sequence axes left free. The weights go into the file.
- Python control flow is not recorded, only the branch the example took. The model's
  input checks (ids inside the vocabulary, at most 512 positions) vanish from the graph,
  and so does its "no padding, no mask" shortcut: the example batch therefore holds
  texts of different lengths, so that the masked path is the one recorded (an unpadded
  example would export a graph that ignores padding; notebook 14 shows it).
- The tokenizer and the decoding (labels, entity grouping, answer spans) stay in Python:
  the file maps ids to numbers, nothing more. The pipeline wraps it (`backend="onnx"`).
- Dropout and any other training-only behaviour are left out (the graph is traced in eval
  mode), and so are other outputs (attention weights, hidden states, NSP).

The exported file is checked before it replaces anything: ONNX Runtime's outputs on real
sentences must equal PyTorch's within `TOLERANCE`, and the predictions must be the same.
Why the TorchScript exporter and not the newer `torch.export`-based one (the default
since PyTorch 2.9): the model's input checks read tensor values in Python
(`int(ids.max())`), which `torch.export` refuses to trace.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from bertlab.files import atomic_write
from bertlab.serving.backends import MODEL_INPUTS, OnnxBackend, weights_digest
from bertlab.serving.pipeline import ONNX_FILE, Pipeline

TOLERANCE = 1e-4
"""Largest |ONNX Runtime - PyTorch| allowed on any output (the float32 rounding of two
different kernel libraries through a whole encoder is far below this)."""
OPSET = 17
"""ONNX opset: 17 is the first with a LayerNormalization operator."""

SAMPLES: dict[str, list] = {
    "text-classification": [
        "a gripping , funny and deeply moving film .",
        "the plot is thin and the jokes fall flat .",
        "not bad at all",
        "It is a long, slow and ultimately pointless exercise in style over substance.",
    ],
    "token-classification": [
        "Ada Lovelace worked with Charles Babbage in London .",
        "The European Commission said on Thursday it disagreed with German advice .",
        "Paris",
    ],
    "question-answering": [
        {
            "question": "Who built the lighthouse?",
            "context": "The Bell Rock Lighthouse, off the coast of Angus in Scotland, is the oldest "
            "surviving sea-washed lighthouse in the world. Robert Stevenson built it between "
            "1807 and 1810 on a reef that is covered by the sea for most of the day.",
        },
        {"question": "Where is it?", "context": "The lighthouse stands off the coast of Angus."},
    ],
    "fill-mask": [
        "The capital of France is [MASK] .",
        "She opened the [MASK] and walked into the garden.",
        "[MASK]",
    ],
    "sentence-embedding": [
        "A man is playing a guitar.",
        "The new movie is awesome and the actors are great.",
        "Hi",
    ],
}
"""Real sentences of different lengths for each task: the trace example and the parity check."""


def example_features(pipe: Pipeline) -> list[dict]:
    """The model inputs of the task's sample sentences (several lengths, so padding is traced)."""
    items = [pipe.steps.check(item) for item in SAMPLES[pipe.task]]
    features, _ = pipe.steps.prepare(items)
    return [{name: feature[name] for name in MODEL_INPUTS} for feature in features]


def padded_batch(pipe: Pipeline, features: list[dict]) -> dict[str, torch.Tensor]:
    from bertlab.batching import pad_batch

    batch = pad_batch(features, pipe.tokenizer.require_token_id("pad_token", "export"))
    if bool(batch["attention_mask"].all()):
        raise RuntimeError("the example batch has no padding: the traced graph would ignore masks")
    return batch


def trace_to_onnx(pipe: Pipeline, batch: dict[str, torch.Tensor], path: Path, opset: int) -> None:
    """Record the graph's operations on `batch` into `path`, batch and sequence axes free."""
    graph = pipe.backend.graph
    axes = {name: {0: "batch", 1: "sequence"} for name in MODEL_INPUTS}
    for name in graph.output_names:
        per_token = name in pipe.steps.per_token_outputs
        axes[name] = {0: "batch", 1: "sequence"} if per_token else {0: "batch"}
    with warnings.catch_warnings():
        # The tracer warns at every Python check it turns into a constant (see the module's
        # docstring), and PyTorch warns that this exporter is the older of its two.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            graph,
            tuple(batch[name] for name in MODEL_INPUTS),
            str(path),
            input_names=list(MODEL_INPUTS),
            output_names=list(graph.output_names),
            dynamic_axes=axes,
            opset_version=opset,
            dynamo=False,
        )


def record_metadata(path: Path, values: dict[str, str]) -> None:
    """Store `values` in the ONNX file's metadata (read back by `OnnxBackend.metadata`)."""
    import onnx

    model = onnx.load(str(path))
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def compare_backends(pipe: Pipeline, onnx_pipe: Pipeline, items: list) -> dict:
    """Both backends on the same inputs: the largest output difference, and the predictions."""
    checked = [pipe.steps.check(item) for item in items]
    features, context = pipe.steps.prepare(checked)
    torch_rows, onnx_rows = pipe.run(features), onnx_pipe.run(features)
    largest = max(
        float(np.abs(torch_row[name] - onnx_row[name]).max())
        for torch_row, onnx_row in zip(torch_rows, onnx_rows)
        for name in torch_row
    )
    same = _same_predictions(
        pipe.steps.finish(checked, context, torch_rows),
        pipe.steps.finish(checked, context, onnx_rows),
    )
    return {"inputs": len(items), "max_abs_diff": largest, "same_predictions": same}


def _same_predictions(a: list, b: list) -> bool:
    """Equal labels, entity spans, answers or tokens (scores and vectors may differ by rounding)."""

    def key(result):
        if isinstance(result, dict):
            return tuple(
                (k, key(v))
                for k, v in sorted(result.items())
                if k not in ("score", "probabilities")
            )
        if isinstance(result, list):
            return tuple(key(item) for item in result)
        if isinstance(result, np.ndarray):
            return ()
        return result

    return key(a) == key(b)


def export_onnx(
    folder: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    opset: int = OPSET,
    overwrite: bool = False,
) -> dict:
    """Export FOLDER's model to ONNX (default FOLDER/model.onnx), check it, and summarise.

    The file is written beside `out`, loaded in ONNX Runtime and compared with PyTorch on
    the task's sample sentences; only a file within `TOLERANCE` with the same predictions
    replaces `out`. A RuntimeError says what differed otherwise.
    """
    folder = Path(folder)
    out = Path(out) if out is not None else folder / ONNX_FILE
    if out.is_dir():
        raise ValueError(f"--out {out}: is a folder; give a file name such as {out / ONNX_FILE}")
    if out.exists() and not overwrite:
        raise ValueError(f"--out {out}: exists; pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise ValueError(f"--out {out}: the folder {out.parent} does not exist")
    started = time.perf_counter()
    pipe = Pipeline.from_pretrained(folder, device="cpu")
    batch = padded_batch(pipe, example_features(pipe))
    metadata = {
        "bertlab_task": pipe.task,
        "bertlab_architecture": pipe.backend.graph.architecture,
        "bertlab_weights_sha256": weights_digest(folder),
    }
    parity = {}

    def write_checked(temp: Path) -> None:
        trace_to_onnx(pipe, batch, temp, opset)
        record_metadata(temp, metadata)
        onnx_pipe = Pipeline(pipe.steps, OnnxBackend(temp), source=str(temp))
        parity.update(compare_backends(pipe, onnx_pipe, SAMPLES[pipe.task]))
        if parity["max_abs_diff"] > TOLERANCE or not parity["same_predictions"]:
            raise RuntimeError(
                f"ONNX Runtime differs from PyTorch (largest difference {parity['max_abs_diff']:.3g}, "
                f"tolerance {TOLERANCE}; same predictions: {parity['same_predictions']}); "
                f"nothing was written to {out}"
            )

    atomic_write(out, write_checked)
    return {
        "command": "export",
        "model": str(folder),
        "out": str(out),
        "format": "onnx",
        "opset": opset,
        **metadata,
        "inputs": {name: ["batch", "sequence"] for name in MODEL_INPUTS},
        "outputs": list(pipe.backend.graph.output_names),
        "bytes": out.stat().st_size,
        "parity": {**parity, "tolerance": TOLERANCE},
        "seconds": round(time.perf_counter() - started, 1),
    }


# --------------------------------------------------------------------------- the command


def add_command(commands: argparse._SubParsersAction) -> None:
    """`bertlab export --model DIR --format onnx [--out FILE] [--opset N] [--overwrite]`."""
    description = "export a model folder's network to ONNX, checked against PyTorch (notebook 14)"
    parser = commands.add_parser("export", help=description, description=description)
    parser.add_argument("--model", required=True, help="a model folder bertlab wrote")
    parser.add_argument(
        "--format",
        choices=("onnx",),
        default="onnx",
        help="the format to write (default: onnx, the only one)",
    )
    parser.add_argument("--out", help=f"the file to write (default: MODEL/{ONNX_FILE})")
    parser.add_argument(
        "--opset",
        type=int,
        choices=range(14, 21),
        default=OPSET,
        metavar="14..20",
        help="ONNX opset version (default: %(default)s)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> dict:
    return export_onnx(args.model, args.out, opset=args.opset, overwrite=args.overwrite)
