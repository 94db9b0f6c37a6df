"""What every benchmark in this folder shares, written once.

- **Interleaved rounds** (`interleaved_rounds`): every loop runs in the same process, one
  after the other, round after round, the order reversed every other round, after one
  untimed warm-up call each; so a burst of load on the machine hits all of them alike.
  `throughput_table` prints the median rate of each loop and its ratio to the reference,
  taken within each round (the median of those ratios, and every round's ratio).
- **Clocks** (`CLOCKS`, `clock`, `training_clock`): a budget in wall seconds, or in CPU
  seconds of this process divided by torch's thread count (`--clock cpu`: on a busy machine
  150 s then means 150 s of work on every thread, what 150 idle seconds would give).
- **The command itself** (`run_command`): `bertlab ...` run in this process through
  `bertlab.cli.main`, its JSON summary returned; `finetune_command` runs
  `bertlab finetune <task>` for a time budget in a temporary folder.
- **The recipe** (`Recipe`): the model, tokenizer, settings and `TrainingConfig` exactly as
  `bertlab finetune <task>` builds them from its flags (the same parser, the task's
  `CLI_DEFAULTS`, `bertlab.commands.training_config`), and steps of
  `bertlab.finetune.finetune` with them. A benchmark never retypes the recipe: it passes
  the same flags a user would (`Recipe("ner", "--dropout", "0.1")`).

The figures only mean something on a machine with nothing else running (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from unittest import mock

import torch

import bertlab.training
from bertlab import commands
from bertlab.batching import BucketedBatches
from bertlab.finetune import finetune, get_task, load_for_finetuning, load_tokenizer
from bertlab.hub import minilm_dir
from bertlab.training import History, TrainingConfig

CLOCKS = ("wall", "cpu")
CPU_FLAGS = ("--device", "cpu", "--quiet")
"""Given before a benchmark's own flags (a later `--device` wins): the references run on
the CPU, so bertlab does too, and no progress lines interleave with the tables."""


# ----------------------------------------------------------------------------- clocks


def cpu_seconds() -> float:
    """CPU time of this process (all threads) over torch's thread count."""
    return time.process_time() / torch.get_num_threads()


def clock(kind: str) -> Callable[[], float]:
    """The clock a budget is counted on: "wall" (time.perf_counter) or "cpu" (`cpu_seconds`)."""
    if kind not in CLOCKS:
        raise ValueError(f"unknown clock {kind!r}: choose from {', '.join(CLOCKS)}")
    return time.perf_counter if kind == "wall" else cpu_seconds


@contextlib.contextmanager
def training_clock(kind: str):
    """Within this block, `bertlab.training.train` counts `max_seconds` on the `kind` clock.

    The training loop reads its budget through `bertlab.training.Clock`; this swaps in a
    Clock that reads `clock(kind)` instead of wall time. Nothing else changes.
    """
    read = clock(kind)

    class BudgetClock(bertlab.training.Clock):
        def __init__(self, seconds_before: float) -> None:
            self.seconds_before = seconds_before
            self.start = read()

        def __call__(self) -> float:
            return self.seconds_before + (read() - self.start)

    with mock.patch.object(bertlab.training, "Clock", BudgetClock):
        yield


def add_clock_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="wall",
        help="what a time budget counts: wall seconds, or this process's CPU seconds over "
        "torch's thread count (default: %(default)s)",
    )


def add_target_flags(parser: argparse.ArgumentParser, seconds: float | None) -> None:
    """--target (run the command itself for a time budget), --target-flags, --eval-limit, --clock."""
    parser.add_argument(
        "--target",
        type=float,
        default=seconds,
        metavar="SECONDS",
        help="run `bertlab finetune` itself for this many seconds and report its summary "
        "(0: skip; default: %(default)s)",
    )
    parser.add_argument(
        "--target-flags",
        default="",
        help='more flags for that command, as one string (e.g. "--lr 3e-4")',
    )
    parser.add_argument(
        "--eval-limit",
        type=int,
        default=None,
        help="score on the first N dev examples only (default: all of them)",
    )
    add_clock_flag(parser)


def target_flags(args: argparse.Namespace) -> list[str]:
    """The command's flags that `add_target_flags` describes."""
    flags = ["--eval-limit", str(args.eval_limit)] if args.eval_limit else []
    return flags + shlex.split(args.target_flags)


def quiet_transformers() -> None:
    """No load reports or progress bars from `transformers` between the tables."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def machine_line() -> str:
    """torch's version, threads and the load average: printed above every result."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average {load}"


# ----------------------------------------------------------------------------- interleaved rounds


@dataclass
class Runner:
    """One loop of a benchmark: `run(round_index)` does the timed work and returns how many
    units (examples, tokens, ...) it processed; `before()`, if given, runs untimed first."""

    run: Callable[[int], int]
    before: Callable[[], None] | None = None


@dataclass
class Timing:
    """One timed call: units done, wall seconds and CPU seconds (all threads)."""

    units: int
    wall: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.units / self.wall

    @property
    def cpu_rate(self) -> float:
        return self.units / self.cpu if self.cpu > 0 else float("nan")


def timed(runner: Runner, round_index: int) -> Timing:
    if runner.before is not None:
        runner.before()
    wall, cpu = time.perf_counter(), time.process_time()
    units = runner.run(round_index)
    return Timing(units, time.perf_counter() - wall, time.process_time() - cpu)


def interleaved_rounds(
    runners: dict[str, Runner | Callable[[int], int]],
    rounds: int,
    warmup: bool = True,
    unit: str = "units",
) -> dict[str, list[Timing]]:
    """Time every runner once per round, in one process; returns name -> one Timing a round.

    Rounds alternate the order (first to last, then last to first), so neither side always
    runs right after the other; each runner is called once untimed first (round -1) when
    `warmup`, so first-call costs (allocations, caches, lazy imports) stay out of the figures.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    runners = {name: r if isinstance(r, Runner) else Runner(r) for name, r in runners.items()}
    if warmup:
        for runner in runners.values():
            timed(runner, -1)
    timings: dict[str, list[Timing]] = {name: [] for name in runners}
    names = list(runners)
    for round_index in range(rounds):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            timings[name].append(timed(runners[name], round_index))
        cells = [f"{name} {timings[name][-1].rate:,.1f}" for name in names]
        print(f"round {round_index}: {unit}/s: " + " | ".join(cells), flush=True)
    return timings


def ratios(timings: Sequence[Timing], reference: Sequence[Timing]) -> list[float]:
    """Rate over the reference's rate, round by round."""
    return [ours.rate / theirs.rate for ours, theirs in zip(timings, reference)]


def median_ratio(timings: Sequence[Timing], reference: Sequence[Timing]) -> float:
    return statistics.median(ratios(timings, reference))


def throughput_table(
    timings: dict[str, list[Timing]], unit: str, reference: str | dict[str, str]
) -> str:
    """Markdown: each loop's median rate (wall and CPU) and its ratio to its reference.

    `reference` names the reference loop, or maps each compared loop to its own reference
    (loops that map to nothing are references themselves).
    """
    one_reference = isinstance(reference, str)
    references = dict.fromkeys(timings, reference) if one_reference else reference
    rows = []
    for name, values in timings.items():
        against = references.get(name)
        if against is None or against == name:
            ratio = "reference"
        else:
            per_round = ", ".join(f"{r:.2f}" for r in ratios(values, timings[against]))
            ratio = f"{median_ratio(values, timings[against]):.2f}x ({per_round})"
            ratio += "" if one_reference else f" vs {against}"
        rows.append(
            [
                name,
                f"{statistics.median(t.rate for t in values):,.1f}",
                f"{statistics.median(t.cpu_rate for t in values):,.1f}",
                ratio,
            ]
        )
    to = f"to {reference}" if one_reference else "to the reference"
    header = [
        "loop",
        f"{unit}/s (median)",
        f"{unit}/CPU-s (median)",
        f"ratio {to} (median; rounds)",
    ]
    return markdown_table(header, rows)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def padded_tokens_per_example(features: Sequence[dict], batch_size: int, **batching) -> float:
    """What one epoch of `BucketedBatches(features, batch_size, **batching)` computes per example."""
    batches = BucketedBatches(features, batch_size, **batching)
    return sum(batch["input_ids"].numel() for batch in batches) / len(features)


# ----------------------------------------------------------------------------- the command


def run_command(argv: Sequence[str]) -> dict[str, Any]:
    """`bertlab ARGV` in this process: the JSON summary it prints, as a dict.

    Progress and errors go to standard error as usual; a non-zero exit raises RuntimeError.
    """
    from bertlab.cli import main

    printed = io.StringIO()
    with mock.patch.object(sys, "argv", ["bertlab", *argv]), contextlib.redirect_stdout(printed):
        status = main(list(argv))
    if status != 0:
        raise RuntimeError(f"`bertlab {' '.join(argv)}` exited with status {status}")
    return json.loads(printed.getvalue())


def finetune_command(
    task: str, seconds: float, flags: Sequence[str] = (), clock_kind: str = "wall"
) -> dict[str, Any]:
    """`bertlab finetune TASK --max-seconds SECONDS FLAGS` into a temporary folder; its summary."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{task}-") as folder:
        argv = ["finetune", task, "--out", str(Path(folder) / "model"), *CPU_FLAGS]
        argv += ["--max-seconds", f"{seconds:g}", *flags]
        print(f"running: bertlab {' '.join(argv)} (budget on the {clock_kind} clock)", flush=True)
        with training_clock(clock_kind):
            return run_command(argv)


def summary_lines(result: dict[str, Any]) -> str:
    """The part of a finetune summary a benchmark reports: steps, examples, data, metrics.

    The summary's `training.seconds` is the command's wall time for tokenizing the training
    data and training; the budget itself is what `stop_reason` names.
    """
    training = result["training"]
    shown = {
        "training": {
            key: training[key]
            for key in ("steps", "examples_seen", "seconds", "stop_reason")
            if key in training
        },
        "data": {split: value.get("source") for split, value in result["data"].items()},
        "metrics": result["metrics"],
    }
    return json.dumps(shown, indent=2)


# ----------------------------------------------------------------------------- the recipe


class Recipe:
    """`bertlab finetune TASK FLAGS` as a library: what the command builds, piece by piece.

    The flags go through the command's own parser, so every default is the command's
    (the task's `CLI_DEFAULTS`, warmup, weight decay, seed); `config()` is
    `bertlab.commands.training_config` and `finetune()` is `bertlab.finetune.finetune`
    with the command's batch size, frozen token table and head learning-rate multiplier.
    """

    def __init__(self, task: str, *flags: str) -> None:
        from bertlab.cli import build_parser

        self.task = get_task(task)
        self.flags = flags
        argv = ["finetune", task, "--out", "unused-benchmark-folder", *CPU_FLAGS, *flags]
        self.args = build_parser().parse_args(argv)
        self.settings = commands.settings_from(self.args, self.task)

    def __repr__(self) -> str:
        return f"Recipe({self.task.NAME!r}{''.join(f', {flag!r}' for flag in self.flags)})"

    @property
    def checkpoint(self) -> str:
        """The starting weights (`--model`, else the offline MiniLM folder)."""
        return str(self.args.model or minilm_dir())

    @property
    def batch_size(self) -> int:
        return self.args.batch_size

    @property
    def learning_rate(self) -> float:
        return self.args.lr

    def load_data(self, split: str, rows: int | None = None, label_names=None):
        """The command's train or dev data (`--train`/`--dev`, else the benchmark), first `rows`."""
        path = self.args.train if split == "train" else self.args.dev
        return commands.load_split(self.task, split, path, self.args, label_names, limit=rows)

    def label_names(self, train, dev=None) -> list[str] | None:
        return self.task.label_names(train, dev)

    def load_model(self, label_names: list[str] | None = None):
        """(model, tokenizer) as the command starts them: --model, --dropout, seeded by --seed."""
        return load_for_finetuning(
            self.task,
            self.args.model,
            label_names=label_names,
            dropout=self.args.dropout,
            seed=self.args.seed,
        )

    def load_tokenizer(self):
        """The tokenizer the command uses: the one saved with the starting weights."""
        return load_tokenizer(self.checkpoint)

    def features(self, tokenizer, data, model) -> list[dict]:
        """The training features the command makes (tokenized once, unpadded)."""
        return self.task.training_features(tokenizer, data, self.settings, model.config.label2id)

    def config(self, **changes: Any) -> TrainingConfig:
        """The command's TrainingConfig, with `changes` (e.g. a step budget) applied."""
        config = commands.training_config(self.args, self.task, Path(self.args.out))
        return replace(config, **changes)

    def finetune(
        self, model, tokenizer, data, config: TrainingConfig, features=None, eval_fn=None
    ) -> History:
        """`bertlab.finetune.finetune` with the command's batch size and recipe flags."""
        return finetune(
            self.task,
            model,
            tokenizer,
            data,
            config,
            settings=self.settings,
            batch_size=self.args.batch_size,
            freeze_word_embeddings=self.args.freeze_word_embeddings,
            head_lr_multiplier=self.args.head_lr_multiplier,
            features=features,
            eval_fn=eval_fn,
        )

    def score(self, model, tokenizer, data) -> dict[str, float]:
        """The headline metrics (percent) the command reports, scored as it scores them."""
        headline, _ = self.task.scores(self.task.evaluate(model, tokenizer, data, self.settings))
        return headline

    def train_steps(self, model, tokenizer, features: list[dict], steps: int, seed: int) -> int:
        """`steps` optimizer steps of the recipe on ready-made features; returns examples seen.

        Each call starts a fresh optimizer and schedule, as a short run of the command does;
        `seed` picks the batch order, so successive rounds see different batches.
        """
        config = self.config(
            max_steps=steps, max_seconds=None, epochs=None, seed=seed, progress=False
        )
        history = self.finetune(model, tokenizer, None, config, features=features)
        return int(history.last["examples"])

    def runner(self, model, tokenizer, features: list[dict], steps: int) -> Runner:
        """A `Runner` doing `steps` recipe steps per round (a new batch order every round)."""
        return Runner(
            lambda round_index: self.train_steps(
                model, tokenizer, features, steps, seed=round_index + 1
            )
        )
