"""The `bertlab` command: pretrain, fine-tune, evaluate and predict from a shell.

    bertlab pretrain --corpus PATH --max-seconds N --out DIR
    bertlab finetune {classification,ner,qa} --train FILE --dev FILE --model DIR_OR_ID --out DIR
    bertlab evaluate {classification,ner,qa} --model DIR --data FILE
    bertlab predict  {classification,ner,qa} --model DIR ...

Each command lives beside the code it drives: the module named in COMMANDS
defines `add_cli_arguments(command, parser)` and `run_cli(command, args)`.
`run_cli` returns a dict of results (metrics, paths) that is printed as JSON
on standard output; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

TASKS = ("classification", "ner", "qa")
COMMANDS = {
    "pretrain": "bertlab.pretraining",
    **{task: f"bertlab.tasks.{task}" for task in TASKS},
}
HELP = {
    "pretrain": "pretrain a small BERT with MLM + NSP on a text corpus (notebook 09)",
    "finetune": "fine-tune a BERT checkpoint on a task (notebooks 10-12)",
    "evaluate": "evaluate a fine-tuned checkpoint; prints metrics as JSON",
    "predict": "run a fine-tuned checkpoint on a few inputs; prints JSON",
}


def _module(name: str):
    return importlib.import_module(COMMANDS[name])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bertlab", description="BERT from the ground up.")
    commands = parser.add_subparsers(dest="command", required=True)
    pretrain = commands.add_parser("pretrain", help=HELP["pretrain"])
    _module("pretrain").add_cli_arguments("pretrain", pretrain)
    for command in ("finetune", "evaluate", "predict"):
        task_parser = commands.add_parser(command, help=HELP[command])
        tasks = task_parser.add_subparsers(dest="task", required=True)
        for task in TASKS:
            _module(task).add_cli_arguments(command, tasks.add_parser(task))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    name = "pretrain" if args.command == "pretrain" else args.task
    try:
        result = _module(name).run_cli(args.command, args)
    except (FileNotFoundError, ValueError, ConnectionError) as error:
        print(f"bertlab {args.command}: error: {error}", file=sys.stderr)
        return 2
    if result is not None:
        print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
