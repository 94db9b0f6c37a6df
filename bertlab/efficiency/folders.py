"""Loading the folders notebook 13 writes: models with pruned heads, int8-quantized models.

`bertlab.auto.load_model` hands a folder here when its config.json says it holds one of
them (`is_compressed`). The model is rebuilt the way it was made: the architecture from
config.json at full size, its heads pruned as `pruned_heads` records, its layers
quantized as `bertlab_quantization` records, and only then are the weights loaded,
strictly (every tensor must find its place).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from bertlab.efficiency.pruning import PRUNED_HEADS, apply_pruned_heads
from bertlab.efficiency.quantization import RECORD_KEY, rebuild_quantized


def is_compressed(config_path: str | os.PathLike) -> bool:
    """True when config.json records pruned heads or a quantization."""
    values = json.loads(Path(config_path).read_text(encoding="utf-8"))
    return bool(values.get(PRUNED_HEADS)) or RECORD_KEY in values


def load_compressed(
    model_class: type, folder: str | os.PathLike, **config_overrides: Any
) -> nn.Module:
    """The pruned and/or quantized model saved in `folder`, in eval mode."""
    from bertlab.checkpoints import (
        check_complete,
        find_weights_file,
        load_state_dict_into,
        read_state_dict,
    )

    config = model_class.config_class.from_pretrained(folder, **config_overrides)
    model = apply_pruned_heads(model_class(config)).eval()
    if RECORD_KEY in config.extra:
        return rebuild_quantized(model, folder)
    weights = find_weights_file(folder)
    model.loading_info = load_state_dict_into(model, read_state_dict(weights), source=str(weights))
    check_complete(model, folder, model_class.__name__)
    return model
