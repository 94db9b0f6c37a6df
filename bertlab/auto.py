"""bertlab's AutoModel: load any folder bertlab (or `transformers`) saved as the class it was saved from.

`config.json` names the class in `architectures` (`save_pretrained` writes it). The
command line (`bertlab evaluate | predict | serve`), the `Pipeline` of notebook 14 and
notebook 13's efficiency tools all load models through `load_model`, so each kind of
folder is handled in one place:

    bare encoder (MiniLM)          BertModel
    notebook-09 pretraining        BertForPreTraining, BertForMaskedLM
    notebook-10 classification     BertForSequenceClassification
    notebook-11 NER                BertForTokenClassification
    notebook-12 QA                 BertForQuestionAnswering
    notebook-13 pruned or int8     the same classes, rebuilt as config.json records
                                   (`bertlab.efficiency.folders`)
"""

from __future__ import annotations

import json
import os
from typing import Any

from torch import nn

from bertlab.checkpoints import check_complete
from bertlab.hub import resolve_file
from bertlab.model import BertModel
from bertlab.pretraining import BertForMaskedLM, BertForPreTraining
from bertlab.tasks.classification import BertForSequenceClassification
from bertlab.tasks.ner import BertForTokenClassification
from bertlab.tasks.qa import BertForQuestionAnswering

ARCHITECTURES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        BertModel,
        BertForPreTraining,
        BertForMaskedLM,
        BertForSequenceClassification,
        BertForTokenClassification,
        BertForQuestionAnswering,
    )
}
"""The classes `load_model` builds, by the name `config.json` records in `architectures`."""


def architecture_of(folder_or_hub_id: str | os.PathLike) -> str:
    """The class named in `config.json`'s `architectures` (a bare `BertModel` when absent)."""
    path = resolve_file(folder_or_hub_id, "config.json")
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: not a valid config.json ({error})") from error
    names = values.get("architectures") if isinstance(values, dict) else None
    name = (names or ["BertModel"])[0]
    if name not in ARCHITECTURES:
        raise ValueError(
            f"{path}: architectures is {names}; bertlab builds {', '.join(ARCHITECTURES)}"
        )
    return name


def load_model(folder_or_hub_id: str | os.PathLike, **config_overrides: Any) -> nn.Module:
    """The model saved in a folder, as its own class, in eval mode.

    Strict: every weight of the model must come from the checkpoint and every tensor in
    the checkpoint must find its place, so a config that does not match its weights
    (fewer or more layers, another architecture's file) is an error, not a silent
    re-initialisation.
    """
    architecture = architecture_of(folder_or_hub_id)
    from bertlab.efficiency.folders import is_compressed, load_compressed  # notebook 13

    if is_compressed(resolve_file(folder_or_hub_id, "config.json")):
        return load_compressed(ARCHITECTURES[architecture], folder_or_hub_id, **config_overrides)
    model = ARCHITECTURES[architecture].from_pretrained(folder_or_hub_id, **config_overrides)
    check_complete(model, folder_or_hub_id, architecture)
    return model
