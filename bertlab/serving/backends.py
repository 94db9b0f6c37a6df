"""The model as a tensor program (ids in, numbers out), run by PyTorch or by ONNX Runtime.

Notebook 14. A pipeline is three steps: tokenize the text (Python), run the network
(tensors), turn the numbers back into labels, entities or answers (Python). Only the
middle step is a tensor program, so only it can be exported to ONNX; `TaskGraph` is
exactly that step, the same module for both backends:

    TaskGraph(model)(input_ids, attention_mask, token_type_ids) -> (logits,)                 classification, NER
                                                                 -> (start_logits, end_logits) QA
                                                                 -> (logits,)                 fill-mask
                                                                 -> (sentence_embedding,)     a bare encoder

`TorchBackend` runs it with PyTorch, `OnnxBackend` runs the exported file with ONNX
Runtime; both take a padded batch and return the same named NumPy arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bertlab.tasks.classification import mean_pool

MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
"""The graph's inputs, in this order, all int64 [batch, sequence]."""


def _logits(output, attention_mask):
    return (output.logits,)


def _span_logits(output, attention_mask):
    return output.start_logits, output.end_logits


def _vocabulary_logits(output, attention_mask):
    return (output.prediction_logits,)


def _sentence_embedding(output, attention_mask):
    return (mean_pool(output.last_hidden_state, attention_mask),)


GRAPH_OUTPUTS: dict[str, tuple[tuple[str, ...], Callable]] = {
    "BertForSequenceClassification": (("logits",), _logits),
    "BertForTokenClassification": (("logits",), _logits),
    "BertForQuestionAnswering": (("start_logits", "end_logits"), _span_logits),
    "BertForMaskedLM": (("logits",), _logits),
    "BertForPreTraining": (("logits",), _vocabulary_logits),  # the MLM head; NSP is not served
    "BertModel": (("sentence_embedding",), _sentence_embedding),
}
"""For each class `bertlab.auto.load_model` builds: the graph's output names and how to pick them."""


class TaskGraph(nn.Module):
    """A loaded model reduced to what serving needs: three int64 tensors in, a tuple of tensors out.

    Positional inputs and tuple outputs are what ONNX export records (a dataclass output or
    keyword arguments have no ONNX form), and the torch backend runs the very same module.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        architecture = type(model).__name__
        if architecture not in GRAPH_OUTPUTS:
            raise ValueError(
                f"no serving graph for {architecture}: use one of {list(GRAPH_OUTPUTS)}"
            )
        self.model = model
        self.architecture = architecture
        self.output_names, self._select = GRAPH_OUTPUTS[architecture]

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        output = self.model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        return self._select(output, attention_mask)


class TorchBackend:
    """Runs a `TaskGraph` with PyTorch: no gradients, eval mode, on `device`.

    `precision` "bf16" (CPU or GPU) or "fp16" (GPU) runs under autocast, as `--precision` does
    for `bertlab predict`; the outputs come back as float32 either way.
    """

    name = "torch"

    def __init__(
        self, graph: TaskGraph, device: torch.device | str = "cpu", precision: str = "fp32"
    ) -> None:
        from bertlab.training import PRECISIONS

        self.device = torch.device(device)
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError("precision fp16 needs a CUDA GPU (use bf16 on the CPU)")
        self.precision = precision
        self.graph = graph.eval().to(self.device)
        self.output_names = graph.output_names

    @torch.inference_mode()
    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        from bertlab.training import autocast

        with autocast(self.precision, self.device):
            outputs = self.graph(*(batch[name].to(self.device) for name in MODEL_INPUTS))
        return {
            name: tensor.float().cpu().numpy() for name, tensor in zip(self.output_names, outputs)
        }


class OnnxBackend:
    """Runs an exported graph (`bertlab export`) with ONNX Runtime's CPU provider.

    `threads` sets ONNX Runtime's intra-op threads (None: its default, one per core).
    `metadata` holds what `bertlab.serving.export` recorded: the task, the architecture
    and the SHA-256 of the weights the file was exported from.
    """

    name = "onnx"

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no such ONNX file (write it with `bertlab export --model DIR --out {path}`)"
            )
        options = onnxruntime.SessionOptions()
        options.log_severity_level = (
            4  # its errors come back as exceptions; no second copy on stderr
        )
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ONNX Runtime raises its own exception types
            raise ValueError(f"{path}: ONNX Runtime cannot load it ({error})") from None
        self.path = path
        self.input_names = [given.name for given in self.session.get_inputs()]
        self.output_names = [output.name for output in self.session.get_outputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)

    def __call__(self, batch: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        feed = {name: batch[name].numpy().astype(np.int64, copy=False) for name in self.input_names}
        return dict(zip(self.output_names, self.session.run(None, feed)))


def weights_digest(folder: str | os.PathLike) -> str:
    """SHA-256 of a folder's weights file: an exported graph records it, so a stale export is
    caught when the folder is fine-tuned again."""
    import hashlib

    from bertlab.checkpoints import find_weights_file

    digest = hashlib.sha256()
    with open(find_weights_file(folder), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
