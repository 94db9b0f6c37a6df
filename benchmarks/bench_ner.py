"""NER fine-tuning on CoNLL-2003: `bertlab finetune ner` vs a plain `transformers` loop.

    python benchmarks/bench_ner.py                        # throughput ratios (needs BERTLAB_DATA)
    python benchmarks/bench_ner.py --target 150 --clock cpu   # + the command itself, 150 s
    python benchmarks/bench_ner.py --target 150 --clock cpu --reference-target   # + the plain loop

The plain loop is what a first attempt looks like: Hugging Face's
`BertForTokenClassification` with its default attention and dropout (0.1), labels on
first sub-tokens (the same features bertlab trains on), randomly shuffled batches of
the recipe's size padded to their longest sentence, `torch.optim.AdamW` at lr 1e-4 with
weight decay 0.01, gradients clipped at 1. Two bertlab loops run beside it, from the same
starting weights, both the recipe of `bertlab finetune ner` (`harness.Recipe`): its defaults
(fused attention, length bucketing: sentences of similar length share a batch, so almost
no `[PAD]` is computed; no dropout, a fixed token table, torch's fused AdamW), and the
same with `--dropout 0.1 --train-word-embeddings` (the textbook recipe the plain loop
follows). They run in alternating rounds in one process; the ratio is what is reported.

`--target` runs the command itself for that budget and reports its summary (steps,
sentences, entity F1 on the valid split); `--reference-target` also trains the plain loop
for the same budget (lr warmed up over the first 10% and decayed linearly, as the
command's schedule) and scores it the way the command scores.

On a busy machine a wall-clock budget measures the neighbours as much as the code.
`--clock cpu` counts the budget in CPU time of this process divided by torch's thread
count: 150 s on two threads means 300 core-seconds, what 150 s on two idle cores provides
(threads waiting on each other still count, so this is conservative).
"""

from __future__ import annotations

import argparse
import itertools

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
    padded_tokens_per_example,
    quiet_transformers,
    summary_lines,
    target_flags,
    throughput_table,
)

from bertlab.batching import BucketedBatches
from bertlab.runtime import set_seed
from bertlab.tasks.ner import IGNORE_INDEX

TEXTBOOK = ("--dropout", "0.1", "--train-word-embeddings", "--head-lr-multiplier", "1")
"""The flags that make the command train as the plain loop does (README)."""
REFERENCE_LR = 1e-4
"""The plain loop's peak learning rate (a tutorial's value; bertlab's is the recipe's)."""


class PlainLoop:
    """The reference: transformers' model, shuffled batches padded to their longest, AdamW."""

    def __init__(self, recipe: Recipe, features: list[dict], names: list[str], seed=0) -> None:
        set_seed(seed)
        self.model = transformers.BertForTokenClassification.from_pretrained(
            recipe.checkpoint,
            num_labels=len(names),
            id2label=dict(enumerate(names)),
            label2id={name: i for i, name in enumerate(names)},
        )
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=REFERENCE_LR, weight_decay=0.01
        )
        batches = BucketedBatches(
            features,
            recipe.batch_size,
            pad_values={"labels": IGNORE_INDEX},
            seed=seed,
            bucket_batches=0,
        )
        self.batches = itertools.chain.from_iterable(itertools.repeat(batches))

    def steps(self, count: int) -> int:
        """`count` optimizer steps; returns the sentences they used."""
        self.model.train()
        sentences = 0
        for _ in range(count):
            batch = next(self.batches)
            loss = self.model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            sentences += batch["input_ids"].shape[0]
        return sentences

    def train_for(self, seconds: float, clock_kind: str) -> tuple[int, int]:
        """Train for `seconds` with warmup (10%) + linear decay over the time; (steps, sentences)."""
        read = clock(clock_kind)
        start, steps, sentences = read(), 0, 0
        while (elapsed := read() - start) < seconds:
            progress = elapsed / seconds
            for group in self.optimizer.param_groups:
                group["lr"] = REFERENCE_LR * min(progress / 0.1, (1 - progress) / 0.9)
            sentences += self.steps(1)
            steps += 1
        return steps, sentences


def throughput(args, recipe: Recipe, train, names: list[str]) -> None:
    """Sentences/s of the plain loop, the textbook recipe and the command's defaults."""
    textbook = Recipe("ner", *TEXTBOOK)
    ours, tokenizer = recipe.load_model(names)
    textbook_model, _ = textbook.load_model(names)
    features = recipe.features(tokenizer, train, ours)
    assert textbook.settings == recipe.settings  # so both tokenize the same way
    plain = PlainLoop(recipe, features, names)
    loops = {
        "transformers": Runner(lambda _: plain.steps(args.steps)),
        "bertlab, dropout 0.1, token table trained": textbook.runner(
            textbook_model, tokenizer, features, args.steps
        ),
        "bertlab defaults": recipe.runner(ours, tokenizer, features, args.steps),
    }
    timings = interleaved_rounds(loops, args.rounds, unit="sentences")
    print()
    print(throughput_table(timings, "sentences", reference="transformers"))
    pad = {"pad_token_id": tokenizer.pad_token_id, "pad_values": recipe.task.PAD_VALUES}
    shuffled = padded_tokens_per_example(features, recipe.batch_size, bucket_batches=0, **pad)
    bucketed = padded_tokens_per_example(features, recipe.batch_size, **pad)
    print(
        f"\nWordPieces computed per sentence: {shuffled:.1f} (shuffled batches, the plain loop), "
        f"{bucketed:.1f} (bertlab's length buckets)\n"
    )


def reference_target(args, recipe: Recipe, train, dev, names: list[str]) -> None:
    """The plain loop for the target budget, then scored on the dev data as the command scores."""
    model, tokenizer = recipe.load_model(names)
    features = recipe.features(tokenizer, train, model)
    plain = PlainLoop(recipe, features, names)
    steps, sentences = plain.train_for(args.target, args.clock)
    scores = recipe.score(plain.model, tokenizer, dev)
    print(
        f"\nplain transformers loop, {args.target:g} s ({args.clock} clock): {steps} steps, "
        f"{sentences:,} sentences; on {len(dev):,} dev sentences: "
        + ", ".join(f"{name} {value:.2f}" for name, value in scores.items())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (0: skip)")
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps per loop and round")
    parser.add_argument("--train-rows", type=int, default=None, help="use the first N sentences")
    parser.add_argument(
        "--reference-target", action="store_true", help="also train the plain loop for --target"
    )
    add_target_flags(parser, seconds=0.0)
    args = parser.parse_args()

    quiet_transformers()
    print(machine_line())
    recipe = Recipe("ner")
    train = recipe.load_data("train", rows=args.train_rows)
    dev = recipe.load_data("dev", rows=args.eval_limit, label_names=recipe.label_names(train))
    names = recipe.label_names(train, dev)
    print(f"{train.source}: {len(train):,} training sentences; recipe {recipe}\n")
    if args.rounds > 0:
        throughput(args, recipe, train, names)
    if args.target:
        result = finetune_command("ner", args.target, target_flags(args), args.clock)
        print(f"\n`bertlab finetune ner`, {args.target:g} s:\n{summary_lines(result)}")
        if args.reference_target:
            reference_target(args, recipe, train, dev, names)


if __name__ == "__main__":
    main()
