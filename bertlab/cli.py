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

EXTRA_COMMANDS: dict[str, str] = {
    "export": "bertlab.serving.export",
    "serve": "bertlab.serving.server",
    "quantize": "bertlab.efficiency.cli",
}
"""More commands: name -> the module whose `add_command(subparsers)` adds it. Each command's
parser sets `run`, a function of the parsed arguments that returns the JSON to print."""


def build_parser() -> argparse.ArgumentParser:
    from bertlab.commands import add_task_commands
    from bertlab.pretraining import add_pretrain_command

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
