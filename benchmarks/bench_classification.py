"""Fine-tuning on SST-2: `bertlab finetune classification` vs a plain `transformers` loop.

The reference is the loop a tutorial would write: `transformers.BertForSequenceClassification`
on the same starting weights (MiniLM), its fast tokenizer, every text padded to the
recipe's max length (64), shuffled batches of the recipe's size (32),
`torch.optim.AdamW` at the recipe's peak learning rate, constant. bertlab's side is the
recipe the command runs (`harness.Recipe`): fused attention, dynamic padding with length
bucketing, fused AdamW with warmup + linear decay, gradient clipping, no dropout, a fixed
token table and a 10x learning rate for the pooler and classifier. The throughput table
also shows the recipe with `--dropout 0.1 --train-word-embeddings --head-lr-multiplier 1`
(the textbook recipe, which the plain loop follows), so the share of each change can be
read off.

1. Throughput (examples/s): interleaved rounds in one process, `--steps` steps per loop
   and round; the ratio to the plain loop is taken round by round.
2. Time to accuracy (`--seconds`, default 150): the plain loop and the recipe each train
   from fresh weights for the budget; the weights are copied at `--snapshots` fixed times
   and every copy is scored on the SST-2 dev sentences afterwards, as the command scores
   (scoring is not training time).
3. The command itself (`--target`, default 150): `bertlab finetune classification
   --max-seconds 150`, default flags; its summary (steps, examples, dev accuracy).

Run it alone on the machine (benchmarks/README.md):

    BERTLAB_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_classification.py
"""

from __future__ import annotations

import argparse
import copy
import random
import shlex

import torch
import transformers
from harness import (
    Recipe,
    Runner,
    add_target_flags,
    clock,
    finetune_command,
    interleaved_rounds,
    machine_line,
    markdown_table,
    padded_tokens_per_example,
    quiet_transformers,
    summary_lines,
    target_flags,
    throughput_table,
    training_clock,
)

from bertlab.runtime import set_seed

TEXTBOOK = ("--dropout", "0.1", "--train-word-embeddings", "--head-lr-multiplier", "1")
"""The flags that make the command train as the plain loop does (README)."""
THRESHOLDS = (80.0, 83.0, 85.0, 87.0)


class ReferenceLoop:
    """The plain transformers loop: padded to max length, shuffled batches, constant-lr AdamW."""

    def __init__(self, recipe: Recipe, train, label_names: list[str], seed: int = 0) -> None:
        folder = recipe.checkpoint
        tokenizer = transformers.BertTokenizerFast.from_pretrained(folder)
        self.max_length = recipe.settings.max_length
        self.encoded = tokenizer(
            list(train.texts),
            truncation=True,
            max_length=self.max_length,
            padding="max_length",
            return_tensors="pt",
        )
        self.labels = torch.tensor(list(train.labels))
        self.batch_size = recipe.batch_size
        set_seed(seed)
        self.model = transformers.BertForSequenceClassification.from_pretrained(
            folder,
            num_labels=len(label_names),
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
        ).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=recipe.learning_rate)
        self.order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
        self.position = 0

    def step(self) -> int:
        """One optimizer step; returns the examples it used."""
        if self.position + self.batch_size > len(self.order):
            self.position = 0
        rows = self.order[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        batch = {key: value[rows] for key, value in self.encoded.items()}
        loss = self.model(**batch, labels=self.labels[rows]).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return len(rows)

    def run(self, seconds: float, snapshots: Snapshots) -> tuple[int, int]:
        """Train for `seconds` on the snapshots' clock; returns (examples, steps)."""
        examples = steps = 0
        snapshots.start()
        while snapshots.elapsed() < seconds:
            snapshots(self.model)
            examples += self.step()
            steps += 1
        return examples, steps


class Snapshots:
    """Copies of a model's weights every `every` seconds of `clock_kind` time since `start()`.

    Called before each step (the plain loop) or as the recipe's `eval_fn` after each step.
    """

    def __init__(self, every: float, clock_kind: str) -> None:
        self.every, self.read = every, clock(clock_kind)
        self.taken: list[tuple[float, dict]] = []
        self.started = 0.0

    def start(self) -> None:
        self.started = self.read()

    def elapsed(self) -> float:
        return self.read() - self.started

    def __call__(self, model) -> dict:
        elapsed = self.elapsed()
        if elapsed >= self.every * (len(self.taken) + 1):
            self.taken.append((elapsed, copy.deepcopy(model.state_dict())))
        return {}


def throughput(args, recipe: Recipe, train, names: list[str]) -> None:
    """Examples/s of the plain loop, the textbook recipe and the command's defaults."""
    textbook = Recipe("classification", *TEXTBOOK)
    reference = ReferenceLoop(recipe, train, names)
    textbook_model, _ = textbook.load_model(names)
    ours, tokenizer = recipe.load_model(names)
    features = recipe.features(tokenizer, train, ours)
    assert textbook.settings == recipe.settings  # so both tokenize the same way
    loops = {
        f"transformers, padded to {reference.max_length}": Runner(
            lambda _: sum(reference.step() for _ in range(args.steps))
        ),
        "bertlab, dropout 0.1, token table trained": textbook.runner(
            textbook_model, tokenizer, features, args.steps
        ),
        "bertlab defaults (dropout 0, token table fixed)": recipe.runner(
            ours, tokenizer, features, args.steps
        ),
    }
    timings = interleaved_rounds(loops, args.rounds, unit="examples")
    print()
    print(throughput_table(timings, "examples", reference=next(iter(loops))))
    real = sum(len(f["input_ids"]) for f in features) / len(features)
    bucketed = padded_tokens_per_example(
        features, recipe.batch_size, pad_token_id=tokenizer.pad_token_id
    )
    print(
        f"\nWordPieces per example: {real:.1f} real; computed: {reference.max_length} "
        f"(padded to the max length), {bucketed:.1f} (bertlab's length buckets)\n"
    )


def train_reference(args, recipe: Recipe, train, names, snapshots: Snapshots):
    loop = ReferenceLoop(recipe, train, names)
    examples, steps = loop.run(args.seconds, snapshots)
    snapshots.taken.append((snapshots.elapsed(), loop.model.state_dict()))
    return loop.model, examples, steps


def train_recipe(args, recipe: Recipe, train, names, snapshots: Snapshots):
    model, tokenizer = recipe.load_model(names)
    features = recipe.features(tokenizer, train, model)  # before the clock starts
    # Until the time runs out, as the plain loop: the command's one-epoch cap is never
    # reached in 150 s on SST-2 (over 2,000 steps); only a --train-rows sample would reach it.
    config = recipe.config(max_seconds=args.seconds, epochs=None, eval_every=1)
    with training_clock(args.clock):
        snapshots.start()
        history = recipe.finetune(model, tokenizer, train, config, features, eval_fn=snapshots)
    last = history.last
    snapshots.taken.append((last["seconds"], model.state_dict()))
    return model, int(last["examples"]), int(last["step"])


def race(args, recipe: Recipe, racer: Recipe, train, dev, names: list[str]) -> None:
    """Both sides train for `--seconds` from fresh weights; snapshots scored afterwards.

    The plain loop takes its batch size, learning rate and max length from `recipe` (the
    command's defaults); bertlab's side trains with `racer` (`--race-flags`); every
    snapshot is scored as the command with its default settings scores.
    """
    tokenizer = recipe.load_tokenizer()
    sides = {
        "transformers": lambda snapshots: train_reference(args, recipe, train, names, snapshots),
        "bertlab": lambda snapshots: train_recipe(args, racer, train, names, snapshots),
    }
    order = list(sides)
    random.Random(0).shuffle(order)
    results = {}
    for side in order:
        snapshots = Snapshots(args.seconds / args.snapshots, args.clock)
        model, examples, steps = sides[side](snapshots)
        curve = []
        for seconds, state in snapshots.taken:
            model.load_state_dict(state)
            curve.append((seconds, recipe.score(model, tokenizer, dev)["accuracy"]))
        results[side] = (steps, examples, curve)
        print(f"{side}: {steps} steps, {examples:,} examples, dev accuracy {curve[-1][1]:.2f}%")
    print(f"\n{args.seconds:g} s each ({args.clock} clock), scored on {len(dev)} dev sentences:\n")
    print_race(results)


def print_race(results: dict[str, tuple[int, int, list[tuple[float, float]]]]) -> None:
    """The race's table and, for each threshold, when each side first reached it."""
    rows = [
        [side, steps, f"{examples:,}", f"{curve[-1][1]:.2f}%"]
        for side, (steps, examples, curve) in results.items()
    ]
    print(markdown_table(["loop", "steps", "examples seen", "dev accuracy after the budget"], rows))
    print("\ntime to accuracy (first snapshot at or above the threshold):")
    for threshold in THRESHOLDS:
        cells = []
        for side, (_, _, curve) in results.items():
            hit = next((seconds for seconds, accuracy in curve if accuracy >= threshold), None)
            cells.append(f"{side} {'not reached' if hit is None else f'{hit:.0f} s'}")
        print(f"  {threshold:g}%: " + "; ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds")
    parser.add_argument("--steps", type=int, default=10, help="steps per loop and round")
    parser.add_argument("--seconds", type=float, default=150.0, help="race budget (0: skip)")
    parser.add_argument("--snapshots", type=int, default=5, help="snapshots per race budget")
    parser.add_argument(
        "--train-rows", type=int, default=None, help="throughput and race: the first N rows"
    )
    parser.add_argument(
        "--race-flags",
        default="",
        help='flags of the command for the race\'s bertlab side (e.g. "--dropout 0.1"; '
        "default: none, the command's defaults)",
    )
    add_target_flags(parser, seconds=150.0)
    args = parser.parse_args()

    quiet_transformers()
    print(machine_line())
    recipe = Recipe("classification")
    train = recipe.load_data("train", rows=args.train_rows)
    names = recipe.label_names(train)
    print(f"{train.source}: {len(train):,} training examples; recipe {recipe}\n")
    if args.rounds > 0:
        throughput(args, recipe, train, names)
    if args.seconds > 0:
        dev = recipe.load_data("dev", rows=args.eval_limit, label_names=names)
        racer = Recipe("classification", *shlex.split(args.race_flags))
        race(args, recipe, racer, train, dev, names)
    if args.target:
        result = finetune_command("classification", args.target, target_flags(args), args.clock)
        print(f"\n`bertlab finetune classification`, {args.target:g} s:\n{summary_lines(result)}")


if __name__ == "__main__":
    main()
