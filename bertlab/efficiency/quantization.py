"""Dynamic int8 quantization: 8-bit weights, integer matrix products, a model 4x smaller.

Notebook 13 applies it to the fine-tuned SST-2 model. An int8 number `q` stands for the
real number `scale * (q - zero_point)`:

- every `nn.Linear` of the encoder and the pooler gets int8 weights, one scale per output
  row (per channel); at run time each batch of activations is quantized with a scale
  measured on that batch ("dynamic"), the product is computed on 8-bit integers with
  32-bit sums, and the result is scaled back to fp32. This is where the time goes, and
  where integer arithmetic pays;
- the token-embedding table (30,522 x 384, half of MiniLM) is a lookup, not a product,
  so there is no arithmetic to speed up; it is stored in 8 bits per number (a scale and
  an offset per row) to make the model small;
- LayerNorm, softmax, GELU, the position and segment tables, the biases and the task
  head (`classifier`, `qa_outputs`: a few hundred numbers that decide the answer) stay
  in fp32: they are cheap, and the normalisations are sensitive to rounding.

The work is done by `torch.ao.quantization.quantize_dynamic` (its kernels use the CPU's
8-bit dot-product instructions: VNNI, AMX). PyTorch marks that API deprecated in favour
of the separate `torchao` package; it is used here because it ships with torch.

A quantized folder (`save_quantized`, or `bertlab quantize --model DIR --out DIR`) keeps
config.json and the tokenizer, records how it was quantized under
`bertlab_quantization` in config.json, and stores the int8 numbers with their scales as
plain tensors in `model_int8.safetensors` (no pickle). `bertlab.auto.load_model` sees the
record and rebuilds the same quantized model (`rebuild_quantized`).
"""

from __future__ import annotations

import copy
import json
import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

RECORD_KEY = "bertlab_quantization"
"""config.json entry that marks a quantized folder and says how it was quantized."""
WEIGHTS_NAME = "model_int8.safetensors"
TASK_HEADS = ("classifier", "qa_outputs")
"""Linear layers kept in fp32: a task's final layer is tiny and decides the output."""


@contextmanager
def _quiet_torch_ao():
    """torch.ao warns that it is deprecated on every call; say it once, in the docstring above."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # torch.ao, torch.jit
        warnings.filterwarnings("ignore", message=".*quantiz.*deprecated.*")
        yield


def quantization_plan(
    model: nn.Module, embeddings: bool = True, keep: tuple[str, ...] = TASK_HEADS
) -> dict[str, str]:
    """{module name: "linear" or "embedding"} for the modules `quantize_dynamic_int8` converts."""
    plan = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear) and not name.startswith(keep):
            plan[name] = "linear"
        elif embeddings and isinstance(module, nn.Embedding) and name.endswith("word_embeddings"):
            plan[name] = "embedding"
    return plan


def apply_plan(model: nn.Module, plan: dict[str, str]) -> nn.Module:
    """Replace the planned modules of `model` (in place) by their int8 versions."""
    with _quiet_torch_ao():
        from torch.ao import quantization as tq

        qconfigs = {
            "linear": tq.per_channel_dynamic_qconfig,
            "embedding": tq.float_qparams_weight_only_qconfig,
        }
        return tq.quantize_dynamic(
            model, {name: qconfigs[kind] for name, kind in plan.items()}, inplace=True
        )


def quantize_dynamic_int8(
    model: nn.Module, *, embeddings: bool = True, keep: tuple[str, ...] = TASK_HEADS
) -> nn.Module:
    """An int8 copy of `model` for CPU inference (the original is left as it is).

    `embeddings=False` keeps the token table in fp32 (the model is then about 1.6x smaller
    instead of 4x); `keep` names the Linear layers to leave in fp32.
    """
    if is_quantized(model):
        raise ValueError("the model is already quantized")
    plan = quantization_plan(model, embeddings, keep)
    if not plan:
        raise ValueError(f"{type(model).__name__} has no nn.Linear layer to quantize")
    quantized = apply_plan(copy.deepcopy(model).cpu().eval(), plan)
    quantized.config = copy.deepcopy(model.config)
    quantized.config.extra[RECORD_KEY] = {
        "method": "dynamic int8 (torch.ao.quantization.quantize_dynamic)",
        "linear": "int8 weights, one scale per output row; activations quantized per batch",
        "embedding": "8-bit weights only, a scale and an offset per row",
        "modules": plan,
        "engine": torch.backends.quantized.engine,
        "torch": torch.__version__,
    }
    return quantized


def is_quantized(model: nn.Module) -> bool:
    return RECORD_KEY in getattr(getattr(model, "config", None), "extra", {})


def quantized_modules(model: nn.Module) -> list[tuple[str, str, str]]:
    """(name, kind, stored as) of every module: what is quantized and what is not (notebook 13)."""
    rows = []
    for name, module in model.named_modules():
        if hasattr(module, "weight") and callable(module.weight):  # a quantized module
            weight = module.weight()
            rows.append((name, type(module).__name__, str(weight.dtype).removeprefix("torch.")))
        elif isinstance(module, (nn.Linear, nn.Embedding, nn.LayerNorm)):
            rows.append(
                (name, type(module).__name__, str(module.weight.dtype).removeprefix("torch."))
            )
    return rows


# ----------------------------------------------------------------------------- saving


def quantized_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every number the quantized model holds, as plain tensors safetensors can store.

    A quantized weight becomes three tensors: `.weight_int` (its 8-bit integers),
    `.weight_scales` and `.weight_zero_points` (one per row); everything else is saved
    under its own name.
    """
    plan = model.config.extra[RECORD_KEY]["modules"]
    tensors: dict[str, torch.Tensor] = {}
    for name, module in model.named_modules():
        if name in plan:
            weight = module.weight()
            tensors[f"{name}.weight_int"] = weight.int_repr()
            tensors[f"{name}.weight_scales"] = weight.q_per_channel_scales()
            tensors[f"{name}.weight_zero_points"] = weight.q_per_channel_zero_points()
            if plan[name] == "linear" and module.bias() is not None:
                tensors[f"{name}.bias"] = module.bias().detach()
        elif not any(name.startswith(f"{quantized}.") for quantized in plan):
            for key, value in [
                *module.named_parameters(recurse=False),
                *module.named_buffers(recurse=False),
            ]:
                tensors[f"{name}.{key}" if name else key] = value.detach()
    return {key: value.contiguous().cpu() for key, value in tensors.items()}


def load_quantized_tensors(model: nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Put `quantized_tensors`' output back into a model rebuilt by `apply_plan` (strict)."""
    plan = model.config.extra[RECORD_KEY]["modules"]
    expected = set(quantized_tensors(model))
    missing, unexpected = sorted(expected - set(tensors)), sorted(set(tensors) - expected)
    if missing or unexpected:
        raise ValueError(
            f"{source}: the int8 weights do not fit the model config.json describes "
            f"(missing: {missing[:4]}, unexpected: {unexpected[:4]})"
        )
    modules = dict(model.named_modules())
    for name, kind in plan.items():
        weight = torch._make_per_channel_quantized_tensor(
            tensors[f"{name}.weight_int"],
            tensors[f"{name}.weight_scales"],
            tensors[f"{name}.weight_zero_points"],
            0,
        )
        if kind == "linear":
            modules[name].set_weight_bias(weight, tensors.get(f"{name}.bias"))
        else:
            modules[name].set_weight(weight)
    with torch.no_grad():
        for key, value in tensors.items():
            if key in _quantized_keys(plan):
                continue
            module, _, attribute = key.rpartition(".")
            target = getattr(modules[module], attribute)
            if target.shape != value.shape:
                raise ValueError(
                    f"{source}: {key} has shape {tuple(value.shape)}, "
                    f"the model expects {tuple(target.shape)}"
                )
            target.copy_(value)


def _quantized_keys(plan: dict[str, str]) -> set[str]:
    suffixes = ("weight_int", "weight_scales", "weight_zero_points", "bias")
    return {f"{name}.{suffix}" for name in plan for suffix in suffixes}


def save_quantized(
    folder: str | Path, model: nn.Module, tokenizer=None, info: dict | None = None
) -> Path:
    """A quantized model folder: config.json (with the record), model_int8.safetensors, tokenizer."""
    from bertlab.files import atomic_write, atomic_write_json, replace_folder

    if not is_quantized(model):
        raise ValueError("save_quantized needs a model from quantize_dynamic_int8")
    tensors = quantized_tensors(model)
    metadata = {"format": "pt", RECORD_KEY: json.dumps(model.config.extra[RECORD_KEY])}

    def write(partial: Path) -> None:
        model.config.extra["architectures"] = [type(model).__name__]
        model.config.save_pretrained(partial)
        atomic_write(partial / WEIGHTS_NAME, lambda temp: save_file(tensors, str(temp), metadata))
        if tokenizer is not None:
            tokenizer.save_pretrained(partial)
        if info is not None:
            atomic_write_json(partial / "training_info.json", info)

    return replace_folder(folder, write)


def rebuild_quantized(model: nn.Module, folder: str | Path) -> nn.Module:
    """The quantized model saved in `folder`, from the fp32 model its config describes."""
    record = model.config.extra[RECORD_KEY]
    path = Path(folder) / WEIGHTS_NAME
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: config.json says the model is quantized, but the file is missing"
        )
    apply_plan(model.eval(), record["modules"])
    load_quantized_tensors(model, load_file(str(path)), str(path))
    return model
