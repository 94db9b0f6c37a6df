"""QA fine-tuning and evaluation throughput: `bertlab finetune qa` vs a plain `transformers` loop.

The reference is the loop notebook 12's issue quotes: `transformers.BertForQuestionAnswering`
on the same starting weights (MiniLM), Hugging Face's fast tokenizer, the recipe's training
windows (max length 256, stride 96) each padded to 256 (as `run_qa.py` pads by default),
shuffled batches of the recipe's size (16), AdamW at lr 1e-4 with weight decay 0.01,
gradients clipped at 1. bertlab trains on the same questions with the recipe of `bertlab
finetune qa` (`harness.Recipe`): dynamic padding, length bucketing, the fused attention
path, no dropout, a fixed token table and torch's fused AdamW; and the same with `--dropout
0.1 --train-word-embeddings --head-lr-multiplier 1` (the textbook recipe the plain loop
follows). Evaluation runs the model over the dev windows (max length 384, stride 128):
the plain way pads every window to 384 in file order, bertlab's (`bertlab.tasks.qa.run_model`,
what `evaluate` runs) batches windows of similar length. Every loop runs interleaved, round
by round, in one process, so machine load hits all alike; the ratios are what is reported.

`--target SECONDS` also runs `bertlab finetune qa --max-seconds SECONDS` itself and reports
its summary; the README's row is `--target 600 --eval-limit 600`.

    BERTLAB_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_qa.py [--rounds 4]
"""

from __future__ import annotations

import argparse

import torch
import transformers
from harness import (
    Recipe,
    Runner,
    add_target_flags,
    finetune_command,
    interleaved_rounds,
    machine_line,
    quiet_transformers,
    summary_lines,
    target_flags,
    throughput_table,
)

from bertlab.batching import pad_batch
from bertlab.tasks.qa import MODEL_INPUTS, prepare_eval_features, prepare_train_features, run_model

TEXTBOOK = ("--dropout", "0.1", "--train-word-embeddings", "--head-lr-multiplier", "1")
"""The flags that make the command train as the plain loop does (README)."""
ANSWER_POSITIONS = ("start_positions", "end_positions")
REFERENCE_LR = 1e-4
"""The plain loop's learning rate (the issue's value; bertlab's is the recipe's)."""


def padded_to(length: int, features: list[dict]) -> dict[str, torch.Tensor]:
    """One batch of model inputs (and answer positions, when training), each window padded to
    `length` (the plain way)."""
    rows = []
    for feature in features:
        row = {key: feature[key] + [0] * (length - len(feature[key])) for key in MODEL_INPUTS}
        row.update({key: feature[key] for key in ANSWER_POSITIONS if key in feature})
        rows.append(row)
    return pad_batch(rows)


class PlainLoop:
    """The reference: transformers' model on windows padded to the max length, plain AdamW."""

    def __init__(self, recipe: Recipe, examples, seed: int = 0) -> None:
        settings = recipe.settings
        tokenizer = transformers.BertTokenizerFast.from_pretrained(recipe.checkpoint)
        self.features = prepare_train_features(
            examples,
            tokenizer,
            settings.train_max_length,
            settings.train_doc_stride,
            settings.max_query_length,
        )
        self.length, self.batch_size = settings.train_max_length, recipe.batch_size
        self.model = transformers.BertForQuestionAnswering.from_pretrained(recipe.checkpoint)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=REFERENCE_LR, weight_decay=0.01
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.batches = self.padded_batches()

    def padded_batches(self):
        while True:
            order = torch.randperm(len(self.features), generator=self.generator).tolist()
            for start in range(0, len(order) - self.batch_size + 1, self.batch_size):
                rows = order[start : start + self.batch_size]
                yield padded_to(self.length, [self.features[i] for i in rows])

    def steps(self, count: int) -> int:
        """`count` optimizer steps; returns the windows they used."""
        self.model.train()
        windows = 0
        for _ in range(count):
            batch = next(self.batches)
            loss = self.model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            windows += batch["input_ids"].shape[0]
        return windows


@torch.inference_mode()
def plain_evaluation(model, features: list[dict], batch_size: int, length: int) -> int:
    """The plain way to run evaluation: windows padded to `length`, in file order."""
    model.eval()
    for start in range(0, len(features), batch_size):
        model(**padded_to(length, features[start : start + batch_size]))
    return len(features)


def training_throughput(args, recipe: Recipe, examples):
    """Windows/s of the plain loop, the textbook recipe and the command's defaults.

    Returns the plain loop's and the defaults' models (and the tokenizer) for evaluation."""
    textbook = Recipe("qa", *TEXTBOOK)
    assert textbook.settings == recipe.settings  # so both read the same windows
    ours, tokenizer = recipe.load_model()
    textbook_model, _ = textbook.load_model()
    features = recipe.features(tokenizer, examples, ours)
    plain = PlainLoop(recipe, examples)
    loops = {
        "transformers": Runner(lambda _: plain.steps(args.steps)),
        "bertlab, dropout 0.1, token table trained": textbook.runner(
            textbook_model, tokenizer, features, args.steps
        ),
        "bertlab defaults": recipe.runner(ours, tokenizer, features, args.steps),
    }
    settings = recipe.settings
    print(
        f"training: windows <= {settings.train_max_length} (stride {settings.train_doc_stride}), "
        f"batch {recipe.batch_size}, {args.steps} steps per loop and round"
    )
    timings = interleaved_rounds(loops, args.rounds, unit="windows")
    print()
    print(throughput_table(timings, "windows", reference="transformers"))
    return plain.model, ours, tokenizer


def evaluation_throughput(args, recipe: Recipe, plain_model, ours, tokenizer) -> None:
    """Windows/s of the model pass over the dev windows: padded to the max vs bertlab's."""
    settings = recipe.settings
    dev = recipe.load_data("dev", rows=args.eval_questions)
    windows = prepare_eval_features(
        dev, tokenizer, settings.max_length, settings.doc_stride, settings.max_query_length
    )
    print(
        f"\nevaluation: {len(windows)} windows <= {settings.max_length} of {len(dev)} questions, "
        f"batch {settings.eval_batch_size}"
    )
    batch_size, pad_token_id = settings.eval_batch_size, tokenizer.pad_token_id
    evaluations = {
        "transformers": Runner(
            lambda _: plain_evaluation(plain_model, windows, batch_size, settings.max_length)
        ),
        "bertlab": Runner(lambda _: len(run_model(ours, windows, batch_size, pad_token_id)[0])),
    }
    timings = interleaved_rounds(evaluations, args.eval_rounds, unit="windows")
    print()
    print(throughput_table(timings, "windows", reference="transformers"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=4, help="interleaved training rounds (0: skip both phases)"
    )
    parser.add_argument("--steps", type=int, default=5, help="training steps per loop and round")
    parser.add_argument("--train-rows", type=int, default=1200, help="training questions used")
    parser.add_argument(
        "--eval-rounds", type=int, default=2, help="interleaved evaluation rounds (0: skip)"
    )
    parser.add_argument("--eval-questions", type=int, default=150, help="dev questions evaluated")
    add_target_flags(parser, seconds=0.0)
    args = parser.parse_args()

    quiet_transformers()
    print(machine_line())
    recipe = Recipe("qa")
    examples = recipe.load_data("train", rows=args.train_rows)
    print(f"{examples.source}: {len(examples):,} training questions; recipe {recipe}\n")
    if args.rounds > 0:
        plain_model, ours, tokenizer = training_throughput(args, recipe, examples)
        if args.eval_rounds > 0:
            evaluation_throughput(args, recipe, plain_model, ours, tokenizer)
    if args.target:
        result = finetune_command("qa", args.target, target_flags(args), args.clock)
        print(f"\n`bertlab finetune qa`, {args.target:g} s:\n{summary_lines(result)}")


if __name__ == "__main__":
    main()
