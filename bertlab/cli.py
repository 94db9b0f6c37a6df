"""The `bertlab` command: pretrain, fine-tune, evaluate and predict from a shell.

    bertlab --version
    bertlab pretrain --corpus PATH --out DIR [--max-seconds N | --max-steps N]
    bertlab finetune {classification,ner,qa} [--train FILE --dev FILE] [--model DIR] --out DIR
    bertlab evaluate {classification,ner,qa} --model DIR [--data FILE]
    bertlab predict  {classification,ner,qa} --model DIR [TEXT ... | --file FILE | < FILE]

Every command prints its result as JSON on standard output and its progress on
standard error. Bad input ends the command with one line naming the culprit
(a file and line, a key, a flag) and exit status 2; a failure during or after a run
exits with status 1 and says what was kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from bertlab import __version__

EXTRA_COMMANDS: dict[str, str] = {}
"""Commands other modules add: name -> module with `add_command(subparsers)`."""


def build_parser() -> argparse.ArgumentParser:
    from bertlab.commands import add_task_commands

    parser = argparse.ArgumentParser(
        prog="bertlab", description="BERT from the ground up: the command line of the notebooks."
    )
    parser.add_argument("--version", action="version", version=f"bertlab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_pretrain_command(commands)
    add_task_commands(commands)
    for module in EXTRA_COMMANDS.values():
        __import__(module, fromlist=["add_command"]).add_command(commands)
    return parser


# ----------------------------------------------------------------------------- pretrain


def add_pretrain_command(commands) -> None:
    from dataclasses import fields

    from bertlab.commands import add_model_running_flags, positive_number, probability, whole_number
    from bertlab.pretraining import PretrainingSetup

    description = "pretrain a small BERT with MLM + NSP on a text corpus (notebook 09)"
    parser = commands.add_parser("pretrain", help=description, description=description)
    add = parser.add_argument
    add(
        "--corpus",
        help="a text file or a folder of them (default: BERTLAB_DATA/corpus, else a sample)",
    )
    add("--out", required=True, help="output folder (config.json, vocab.txt, model.safetensors)")
    add(
        "--overwrite",
        action="store_true",
        help="replace a non-empty --out (once the new model is saved)",
    )
    add(
        "--max-seconds",
        type=positive_number,
        default=None,
        help="training time budget (default: 300 unless --max-steps is given)",
    )
    add(
        "--max-steps", type=whole_number, default=None, help="optimizer step budget (default: none)"
    )
    add(
        "--lr", type=positive_number, default=5e-4, help="peak learning rate (default: %(default)s)"
    )
    add(
        "--warmup-ratio",
        type=probability,
        default=0.1,
        help="share of the budget for warmup (default: %(default)s)",
    )
    add(
        "--accumulation-steps",
        type=whole_number,
        default=1,
        help="micro-batches per step (default: %(default)s)",
    )
    add(
        "--eval-every",
        type=whole_number,
        default=None,
        help="evaluate every N steps (default: at the end)",
    )
    add(
        "--save-every", type=whole_number, default=None, help="checkpoint every N steps (resumable)"
    )
    add("--resume", action="store_true", help="resume from OUT/checkpoint")
    add(
        "--seed",
        type=int,
        default=0,
        help="seeds the vocabulary sample, instances, masks and weights",
    )
    add("--no-progress", dest="quiet_progress", action="store_true", help=argparse.SUPPRESS)
    for setting in fields(PretrainingSetup):
        flag = "--" + setting.name.replace("_", "-")
        if setting.type in ("bool",):
            add(flag, action="store_true", help=f"{setting.name.replace('_', ' ')}")
        elif setting.name == "vocab":
            add(flag, default=None, help="an existing vocab.txt or folder instead of learning one")
        elif setting.name == "short_seq_prob":
            add(
                flag,
                type=probability,
                default=setting.default,
                help="probability of a shorter target sequence (default: %(default)s)",
            )
        else:
            add(
                flag,
                type=whole_number,
                default=setting.default,
                help=f"{setting.name.replace('_', ' ')} (default: %(default)s)",
            )
    add_model_running_flags(parser)
    parser.set_defaults(run=run_pretrain)


def run_pretrain(args: argparse.Namespace) -> dict:
    from dataclasses import fields
    from pathlib import Path

    from bertlab.commands import check_output_folder, log
    from bertlab.pretraining import PretrainingSetup, pretrain
    from bertlab.training import TrainingConfig

    args.model = None
    out = check_output_folder(args)
    setup = PretrainingSetup(**{f.name: getattr(args, f.name) for f in fields(PretrainingSetup)})
    seconds = args.max_seconds if args.max_seconds or args.max_steps else 300.0
    training = TrainingConfig(
        learning_rate=args.lr,
        warmup_ratio=args.warmup_ratio,
        max_steps=args.max_steps,
        max_seconds=seconds,
        epochs=None,
        accumulation_steps=args.accumulation_steps,
        precision=args.precision,
        eval_every=args.eval_every,
        seed=args.seed,
        progress=not (args.quiet or args.quiet_progress),
        output_dir=Path(out),
        save_every=args.save_every,
        resume=args.resume,
        device=args.device,
    )
    return pretrain(args.corpus, out, setup, training, log=lambda message: log(args, message))


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    run: Callable[[argparse.Namespace], dict] = args.run
    where = f"bertlab {args.command}" + (f" {args.task}" if getattr(args, "task", None) else "")
    try:
        result = run(args)
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, LookupError, ImportError) as error:
        print(f"{where}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except RuntimeError as error:
        print(f"{where}: failed: {one_line(error)}", file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    return 0


def one_line(error: BaseException) -> str:
    """The error's message as one line (a KeyError's quotes removed)."""
    text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


if __name__ == "__main__":
    sys.exit(main())
