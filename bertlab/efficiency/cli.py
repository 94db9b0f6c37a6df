"""`bertlab quantize --model DIR --out DIR`: an int8 copy of a fine-tuned model folder.

    bertlab quantize --model runs/sst2 --out runs/sst2-int8
    bertlab evaluate classification --model runs/sst2-int8
    bertlab predict classification --model runs/sst2-int8 "a gripping, funny film"

The output folder is what `bertlab.efficiency.quantization.save_quantized` writes
(config.json with the record of how it was quantized, the int8 weights in safetensors,
the tokenizer, training_info.json); `evaluate`, `predict` and `bertlab.auto.load_model`
load it as the quantized model. It runs on the CPU (PyTorch's int8 kernels are CPU kernels).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bertlab.efficiency.measure import folder_bytes
from bertlab.efficiency.quantization import RECORD_KEY, quantize_dynamic_int8, save_quantized

QUANTIZABLE = (
    "BertModel",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
)
"""Pretraining models are left out: their output layer shares its weights with the token table."""


def add_command(commands: argparse._SubParsersAction) -> None:
    description = "quantize a model folder to int8 for CPU inference (notebook 13)"
    parser = commands.add_parser("quantize", help=description, description=description)
    parser.add_argument(
        "--model", required=True, help="a model folder (e.g. from bertlab finetune)"
    )
    parser.add_argument("--out", required=True, help="the folder to write the int8 model to")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out (once the new one is saved)",
    )
    parser.add_argument(
        "--embeddings",
        choices=("int8", "fp32"),
        default="int8",
        help="store the token-embedding table in 8 bits (4x smaller model) or keep it in fp32 "
        "(default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on standard error")
    parser.set_defaults(run=run_quantize, resume=False)


def check_model_folder(model: str) -> Path:
    """--model must be a local folder holding a model bertlab can quantize."""
    from bertlab.auto import architecture_of

    folder = Path(model).expanduser()
    if not folder.exists():
        raise FileNotFoundError(f"--model {model}: no such folder")
    if not folder.is_dir():
        raise ValueError(f"--model {model}: is a file; give the model's folder")
    if not (folder / "config.json").exists():
        raise ValueError(
            f"--model {model}: not a model folder (it has no config.json); "
            "give a folder that bertlab finetune or save_pretrained wrote"
        )
    if RECORD_KEY in json.loads((folder / "config.json").read_text(encoding="utf-8")):
        raise ValueError(f"--model {model}: is already quantized (config.json has {RECORD_KEY})")
    architecture = architecture_of(folder)
    if architecture not in QUANTIZABLE:
        raise ValueError(
            f"--model {model}: config.json says {architecture}; bertlab quantizes "
            f"{', '.join(QUANTIZABLE)} (fine-tune the model first)"
        )
    return folder


def run_quantize(args: argparse.Namespace) -> dict[str, Any]:
    from bertlab.auto import load_model
    from bertlab.commands import check_output_folder, log
    from bertlab.finetune import load_tokenizer

    folder = check_model_folder(args.model)
    out = check_output_folder(args)
    model, tokenizer = load_model(folder), load_tokenizer(folder)
    log(args, f"quantizing {folder} to int8")
    quantized = quantize_dynamic_int8(model, embeddings=args.embeddings == "int8")
    source_info = folder / "training_info.json"
    info = {
        "command": "bertlab " + " ".join(sys.argv[1:]),
        "quantized_from": str(folder),
        "quantization": quantized.config.extra[RECORD_KEY],
        "source_training_info": json.loads(source_info.read_text(encoding="utf-8"))
        if source_info.exists()
        else None,
    }
    save_quantized(out, quantized, tokenizer, info)
    before, after = folder_bytes(folder), folder_bytes(out)
    return {
        "command": "quantize",
        "model": str(folder),
        "out": str(out),
        "quantized_modules": len(info["quantization"]["modules"]),
        "bytes": {"before": before, "after": after, "ratio": round(before / after, 2)},
    }
