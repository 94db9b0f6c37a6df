"""The command line's building blocks: flag types, common flags, the output-folder check.

`bertlab.commands` (finetune, evaluate, predict) and `bertlab.pretraining` (pretrain) build
their flags from these, so every command refuses bad values the same way: one line naming
the flag (`argument --batch-size: must be >= 1, got 0`) and exit status 2, before any work.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from bertlab.files import recover_folder
from bertlab.training import CHECKPOINT_NAME

PRECISIONS = ("fp32", "bf16", "fp16")


def whole_number(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _number(text: str, allowed, description: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and allowed(value)):  # NaN and infinity are never allowed
        raise argparse.ArgumentTypeError(f"must be {description}, got {text}")
    return value


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0 (NaN and infinity refused)."""
    return _number(text, lambda value: value > 0, "a finite number > 0")


def non_negative_number(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    return _number(text, lambda value: value >= 0, "a finite number >= 0")


def probability(text: str) -> float:
    """An argparse type: a number in [0, 1)."""
    return _number(text, lambda value: 0 <= value < 1, "in [0, 1)")


def label_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names) or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"expected distinct comma-separated names, got {text!r}")
    return names


# ----------------------------------------------------------------------------- flags


def add_model_running_flags(parser: argparse.ArgumentParser) -> None:
    """--device and --precision: every command that runs a model takes them."""
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the model runs: a CUDA GPU when present with auto (default: %(default)s)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="fp32, or autocast to bf16 (CPU or GPU) or fp16 (GPU only; training adds loss "
        "scaling) (default: %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress on standard error")


def check_output_folder(args: argparse.Namespace) -> Path:
    """--out may be written: not the starting model, not a file, not a model we would lose."""
    out = Path(args.out).expanduser()
    if args.model is not None and Path(args.model).expanduser().resolve() == out.resolve():
        raise ValueError(f"--out {args.out} is the starting --model: write to another folder")
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if args.resume:
        if not recover_folder(out / CHECKPOINT_NAME):
            raise ValueError(
                f"--resume: nothing to resume, {out / CHECKPOINT_NAME} does not exist "
                "(a run with --save-every N writes it)"
            )
    elif out.exists() and any(out.iterdir()) and not args.overwrite:
        raise ValueError(
            f"--out {out}: exists and is not empty; pass --overwrite to replace it "
            "(the old model stays until the new one is saved), or --resume"
        )
    parent = out.parent if not out.exists() else out
    while not parent.exists():
        parent = parent.parent
    if not os_writable(parent):
        raise ValueError(f"--out {out}: {parent} is not writable")
    return out


def os_writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def log(args: argparse.Namespace, message: str) -> None:
    if not args.quiet:
        print(message, file=sys.stderr, flush=True)
