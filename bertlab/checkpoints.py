"""Loading and saving BERT checkpoints by name, in Hugging Face's layout.

Notebook 08 loads the real MiniLM checkpoint into the model built from scratch.
The mapping from a checkpoint's keys to the model's is small:

- legacy LayerNorm names ``gamma``/``beta`` become ``weight``/``bias``;
- the ``bert.`` prefix is added or stripped, so a bare ``BertModel`` checkpoint
  (keys like ``encoder.layer.0...``) and a task checkpoint (``bert.encoder...``,
  ``classifier.weight``) both load into any bertlab model;
- keys the model lacks are reported as unexpected, keys the checkpoint lacks
  (a new task head) keep their initialisation and are reported as missing.

Weights are read with ``safetensors`` or ``torch.load(weights_only=True)``:
never an arbitrary unpickle.

Saving and loading whole folders lives here too, once for every command:

- every file goes through ``bertlab.files`` (``atomic_write``, ``replace_folder``): written
  beside the target and renamed into place, so a run killed mid-save never leaves a mix
  of new weights and an old config where a good model was;
- ``save_folder`` writes a self-contained model folder (config, weights, vocabulary,
  ``training_info.json``) that bertlab and ``transformers`` both load;
- ``check_complete`` refuses a folder whose weights do not fit the model its config
  describes (``bertlab.auto.load_model``, bertlab's AutoModel, uses it).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from bertlab.files import atomic_write, atomic_write_json, replace_folder
from bertlab.hub import resolve_file

logger = logging.getLogger("bertlab")

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
IGNORED_KEY_SUFFIXES = ("embeddings.position_ids",)
"""Buffers older checkpoints saved that carry no learned weights."""


def find_weights_file(folder_or_hub_id: str | os.PathLike) -> Path:
    """The first of model.safetensors / pytorch_model.bin that exists (locally or on the Hub)."""
    folder = Path(folder_or_hub_id).expanduser()
    if folder.is_dir():
        for name in WEIGHT_FILES:
            if (folder / name).exists():
                return folder / name
        if (folder / "model.safetensors.index.json").exists():
            raise NotImplementedError(f"{folder}: sharded checkpoints are not supported")
        raise FileNotFoundError(f"{folder}: holds none of {', '.join(WEIGHT_FILES)}")
    try:
        return resolve_file(folder_or_hub_id, WEIGHT_FILES[0])
    except FileNotFoundError:
        return resolve_file(folder_or_hub_id, WEIGHT_FILES[1])


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a safetensors or PyTorch weight file into a {name: tensor} dict on the CPU."""
    path = Path(path)
    if path.suffix == ".safetensors":
        return load_file(str(path), device="cpu")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a weights-only PyTorch state dict ({error})") from error
    if not isinstance(state, dict):
        raise ValueError(f"{path}: expected a dict of tensors, got {type(state).__name__}")
    return state


def rename_legacy_key(key: str) -> str:
    """Old TensorFlow-converted checkpoints call LayerNorm's parameters gamma and beta."""
    if key.endswith(".gamma"):
        return key[: -len("gamma")] + "weight"
    if key.endswith(".beta"):
        return key[: -len("beta")] + "bias"
    return key


def match_keys(
    checkpoint_keys: list[str], model_keys: set[str], prefix: str = "bert"
) -> tuple[dict[str, str], list[str]]:
    """Map each checkpoint key to a model key: same name, with ``prefix.`` added, or stripped.

    Returns ({model_key: checkpoint_key}, unexpected checkpoint keys).
    """
    mapping: dict[str, str] = {}
    unexpected: list[str] = []
    for original in checkpoint_keys:
        key = rename_legacy_key(original)
        candidates = [key, f"{prefix}.{key}"]
        if key.startswith(prefix + "."):
            candidates.append(key[len(prefix) + 1 :])
        target = next((c for c in candidates if c in model_keys), None)
        if target is None:
            if not key.endswith(IGNORED_KEY_SUFFIXES):
                unexpected.append(original)
        elif target not in mapping:
            mapping[target] = original
    return mapping, unexpected


def load_state_dict_into(
    model: nn.Module,
    state: dict[str, torch.Tensor],
    ignore_mismatched_sizes: bool = False,
    source: str = "checkpoint",
) -> dict[str, list]:
    """Copy ``state`` into ``model`` by name; return the loading report.

    Every shape is checked before anything is copied, so a checkpoint that does
    not fit the config raises (naming the key and both shapes) and never leaves
    a half-loaded model.
    """
    params = model.state_dict()
    prefix = getattr(model, "base_model_prefix", "bert")
    mapping, unexpected = match_keys(list(state), set(params), prefix)
    mismatched = [
        (original, tuple(state[original].shape), tuple(params[target].shape))
        for target, original in mapping.items()
        if state[original].shape != params[target].shape
    ]
    if mismatched and not ignore_mismatched_sizes:
        lines = "\n".join(
            f"  {key!r} has shape {found}, the model expects {expected}"
            for key, found, expected in mismatched
        )
        raise ValueError(
            f"{source}: the checkpoint does not fit this config (nothing was loaded):\n{lines}\n"
            "Check config.json, or pass ignore_mismatched_sizes=True to re-initialise these."
        )
    skipped = {original for original, _, _ in mismatched}
    loaded = {target: original for target, original in mapping.items() if original not in skipped}
    with torch.no_grad():
        for target, original in loaded.items():
            params[target].copy_(state[original].to(params[target].dtype))
    # A tied weight (e.g. the MLM decoder sharing the word embeddings) is loaded through its twin.
    loaded_storage = {params[t].data_ptr() for t in loaded}
    missing = [
        key for key in params if key not in loaded and params[key].data_ptr() not in loaded_storage
    ]
    return {
        "missing_keys": missing,
        "unexpected_keys": unexpected,
        "mismatched_keys": mismatched,
    }


def load_pretrained(
    model_class: type,
    folder_or_hub_id: str | os.PathLike,
    ignore_mismatched_sizes: bool = False,
    **config_overrides: Any,
):
    """``model_class.from_pretrained``: config, fresh model, weights, report in ``loading_info``."""
    config = model_class.config_class.from_pretrained(folder_or_hub_id, **config_overrides)
    model = model_class(config)
    weights = find_weights_file(folder_or_hub_id)
    info = load_state_dict_into(
        model, read_state_dict(weights), ignore_mismatched_sizes, source=str(weights.name)
    )
    model.loading_info = info
    if info["missing_keys"]:
        logger.warning(
            "%s: newly initialised (not in the checkpoint): %s",
            model_class.__name__,
            ", ".join(info["missing_keys"]),
        )
    if info["mismatched_keys"]:
        logger.warning(
            "%s: re-initialised because the shapes differ: %s",
            model_class.__name__,
            ", ".join(f"{k} {found}->{expected}" for k, found, expected in info["mismatched_keys"]),
        )
    model.eval()
    return model


def state_dict_for_saving(model: nn.Module) -> dict[str, torch.Tensor]:
    """Contiguous CPU tensors with no shared storage (safetensors refuses tied weights,
    so the second name of a tied pair gets its own copy; loaders re-tie them)."""
    seen: set[tuple[int, int]] = set()
    tensors = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        storage = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if storage in seen:
            tensor = tensor.clone()
        seen.add((tensor.untyped_storage().data_ptr(), tensor.storage_offset()))
        tensors[key] = tensor.contiguous()
    return tensors


def save_pretrained(model: nn.Module, folder: str | os.PathLike) -> Path:
    """Write ``config.json`` (with ``architectures``) and ``model.safetensors`` to ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = model.config
    config.extra["architectures"] = [type(model).__name__]
    tensors = state_dict_for_saving(model)
    atomic_write(
        folder / "model.safetensors", lambda temp: save_file(tensors, str(temp), {"format": "pt"})
    )
    config.save_pretrained(folder)
    return folder


def save_folder(
    folder: str | os.PathLike,
    model: nn.Module,
    tokenizer=None,
    info: dict | None = None,
    keep: Sequence[str] = ("checkpoint",),
    extra: Callable[[Path], Any] | None = None,
) -> Path:
    """A self-contained model folder, replaced as a whole: config.json (labels included),
    model.safetensors, the tokenizer's files and ``training_info.json`` (``info``).

    It loads in bertlab (``load_model``) and in ``transformers`` (``AutoModel...``,
    ``AutoTokenizer``). ``extra(folder)`` may add files of its own before the swap. Every
    command that writes a model writes it through here.
    """

    def write(partial: Path) -> None:
        model.save_pretrained(partial)
        if tokenizer is not None:
            tokenizer.save_pretrained(partial)
        if info is not None:
            atomic_write_json(partial / "training_info.json", info)
        if extra is not None:
            extra(partial)

    return replace_folder(folder, write, keep)


def check_complete(model: nn.Module, source, architecture: str | None = None) -> None:
    """Raise ValueError naming what is missing or left over after loading ``source``."""
    info = model.loading_info
    missing, unexpected = info["missing_keys"], info["unexpected_keys"]
    if not missing and not unexpected:
        return
    what = architecture or type(model).__name__
    lines = [f"{source}: the weights do not fit the {what} that config.json describes"]
    layers = sorted({int(m.group(1)) for k in unexpected if (m := re.search(r"layer\.(\d+)\.", k))})
    if layers:
        lines.append(
            f"  the weights hold encoder layers up to {layers[-1]}, config.json says "
            f"num_hidden_layers={model.config.num_hidden_layers}"
        )
    if missing:
        lines.append(f"  missing from the weights: {_some(missing)}")
    if unexpected:
        lines.append(f"  in the weights but not in the model: {_some(unexpected)}")
    raise ValueError("\n".join(lines))


def _some(keys: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")
