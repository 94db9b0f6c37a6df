"""Fine-tuning speed on SST-2: bertlab vs a plain `transformers` loop, same weights, data and batch.

The reference is the loop a tutorial would write: `transformers.BertForSequenceClassification`
on the MiniLM weights, every text padded to 64 WordPieces, shuffled batches of 32,
`torch.optim.AdamW(lr=1e-4)`. bertlab runs `bertlab.tasks.classification.fine_tune`
as `bertlab finetune classification` does by default: the same weights, batch size and
peak lr, fused attention, dynamic padding with length bucketing, fused AdamW with
warmup + linear decay, gradient clipping, no dropout, a fixed token table and a 10x
learning rate for the pooler and classifier (the throughput rounds leave that out: it
changes what a step learns, not what it costs). The throughput table also shows
bertlab with dropout 0.1 and the token table trained (the reference's recipe), so the
share of each change can be read off.

1. Throughput (examples/s), measured in one process, interleaved in rounds.
2. Time to accuracy: each side trains for `--seconds` (default 150, the notebook-10
   target); the weights are snapshotted at fixed times and every snapshot is scored
   on the 872 SST-2 dev sentences afterwards (scoring is not counted as training time).

The machine may be shared: compare the ratio and the examples seen, not the seconds.

    BERTLAB_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_classification.py
"""

from __future__ import annotations

import argparse
import copy
import random
import time

import torch
import transformers

from bertlab.data.classification import load_sst2
from bertlab.hub import minilm_dir
from bertlab.metrics.classification import accuracy
from bertlab.runtime import set_seed
from bertlab.tasks.classification import (
    BertForSequenceClassification,
    fine_tune,
    make_features,
    predict_probabilities,
)
from bertlab.tasks.common import dropout_overrides, load_tokenizer

BATCH, MAX_LENGTH, LR = 32, 64, 1e-4
LABELS = {"id2label": {0: "negative", 1: "positive"}}


class ReferenceLoop:
    """The plain transformers loop: padded to 64, shuffled batches, constant-lr AdamW."""

    def __init__(self, texts, labels, seed=0):
        folder = str(minilm_dir())
        tokenizer = transformers.BertTokenizerFast.from_pretrained(folder)
        self.encoded = tokenizer(
            texts, truncation=True, max_length=MAX_LENGTH, padding="max_length", return_tensors="pt"
        )
        self.labels = torch.tensor(labels)
        set_seed(seed)
        self.model = transformers.BertForSequenceClassification.from_pretrained(
            folder, num_labels=2
        ).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LR)
        self.order = torch.randperm(len(texts), generator=torch.Generator().manual_seed(seed))
        self.position = 0

    def step(self) -> int:
        if self.position + BATCH > len(self.order):
            self.position = 0
        rows = self.order[self.position : self.position + BATCH]
        self.position += BATCH
        batch = {key: value[rows] for key, value in self.encoded.items()}
        loss = self.model(**batch, labels=self.labels[rows]).loss
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()
        return len(rows)

    def run(self, seconds: float, snapshot_every: float | None = None):
        """Train for `seconds`; returns (examples, steps, [(seconds, examples, state_dict)])."""
        start, examples, steps, snapshots = time.perf_counter(), 0, 0, []
        next_snapshot = snapshot_every
        while (elapsed := time.perf_counter() - start) < seconds:
            if next_snapshot is not None and elapsed >= next_snapshot:
                snapshots.append((elapsed, examples, copy.deepcopy(self.model.state_dict())))
                next_snapshot += snapshot_every
            examples += self.step()
            steps += 1
        snapshots.append((time.perf_counter() - start, examples, self.model.state_dict()))
        return examples, steps, snapshots


def bertlab_model(seed=0, dropout=0.0):
    set_seed(seed)
    return BertForSequenceClassification.from_pretrained(
        minilm_dir(), **LABELS, **dropout_overrides(dropout)
    )


def bertlab_steps(model, tokenizer, train, steps: int, seed: int = 0, freeze=False) -> int:
    """`steps` optimizer steps of bertlab's fine_tune; returns the examples seen."""
    history = fine_tune(
        model,
        tokenizer,
        train,
        None,
        max_length=MAX_LENGTH,
        batch_size=BATCH,
        learning_rate=LR,
        max_steps=steps,
        epochs=None,
        progress=False,
        seed=seed,
        freeze_word_embeddings=freeze,
    )
    return history.last["examples"]


def dev_accuracy(model, features, labels) -> float:
    probabilities = predict_probabilities(model, features, batch_size=128)
    return accuracy(labels, probabilities.argmax(-1).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds")
    parser.add_argument("--steps", type=int, default=10, help="steps per side and round")
    parser.add_argument("--seconds", type=float, default=150.0, help="time-to-accuracy budget")
    parser.add_argument("--snapshots", type=int, default=5, help="snapshots per budget")
    parser.add_argument("--train-rows", type=int, default=None, help="use the first N rows")
    parser.add_argument(
        "--dropout", type=float, default=0.0, help="time-to-accuracy: bertlab's dropout"
    )
    parser.add_argument(
        "--train-word-embeddings",
        action="store_true",
        help="time-to-accuracy: bertlab trains the token table too",
    )
    parser.add_argument(
        "--head-lr-multiplier",
        type=float,
        default=10.0,
        help="time-to-accuracy: bertlab's pooler + classifier learning rate over --lr",
    )
    args = parser.parse_args()

    train, dev = load_sst2("train"), load_sst2("dev")
    if args.train_rows:
        train = train.subset(range(min(args.train_rows, len(train))))
    tokenizer = load_tokenizer(minilm_dir())
    train_features = make_features(tokenizer, train.texts, train.labels, MAX_LENGTH)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; SST-2 train {len(train):,}"
    )

    # 1. Throughput, interleaved: each round runs every loop for the same number of steps.
    reference = ReferenceLoop(train.texts, train.labels)
    same_recipe, ours = bertlab_model(dropout=0.1), bertlab_model()
    loops = {
        "transformers, padded to 64": lambda r: sum(reference.step() for _ in range(args.steps)),
        "bertlab, dropout 0.1, token table trained": lambda r: bertlab_steps(
            same_recipe, tokenizer, train_features, args.steps, r
        ),
        "bertlab defaults (dropout 0, token table fixed)": lambda r: bertlab_steps(
            ours, tokenizer, train_features, args.steps, r, freeze=True
        ),
    }
    rates = {name: [] for name in loops}
    for round_index in range(args.rounds):
        cells = []
        for name, run in loops.items():
            start, cpu = time.perf_counter(), time.process_time()
            examples = run(round_index)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            rates[name].append(examples / wall)
            cells.append(f"{name}: {examples / wall:.1f} ex/s ({examples / cpu:.1f}/CPU-s)")
        print(f"round {round_index}: " + " | ".join(cells), flush=True)
    names = list(loops)
    print("\n| loop | examples/s (mean of rounds) | ratio to transformers (per round) |")
    print("|---|---|---|")
    for name in names:
        ratios = [ours_ / ref for ours_, ref in zip(rates[name], rates[names[0]])]
        print(
            f"| {name} | {sum(rates[name]) / len(rates[name]):.1f} | "
            f"{sum(rates[name]) / sum(rates[names[0]]):.2f} "
            f"({', '.join(f'{r:.2f}' for r in ratios)}) |",
            flush=True,
        )
    if args.seconds <= 0:
        return

    # 2. Time to accuracy under the same wall-clock budget, from fresh weights.
    dev_features = make_features(tokenizer, dev.texts, None, 128)
    every = args.seconds / args.snapshots
    results = {}
    order = ["transformers", "bertlab"]
    random.Random(0).shuffle(order)
    for side in order:
        cpu = time.process_time()
        if side == "transformers":
            loop = ReferenceLoop(train.texts, train.labels)
            examples, steps, snapshots = loop.run(args.seconds, every)
            scorer = loop.model
        else:
            scorer = bertlab_model(dropout=args.dropout)
            snapshots = []
            start = [None]

            def snap(trained, snapshots=snapshots, start=start):
                now = time.perf_counter()
                start[0] = start[0] or now
                if now - start[0] >= every * (len(snapshots) + 1):
                    snapshots.append((now - start[0], None, copy.deepcopy(trained.state_dict())))
                return {}

            history = fine_tune(
                scorer,
                tokenizer,
                train_features,
                None,
                max_length=MAX_LENGTH,
                batch_size=BATCH,
                learning_rate=LR,
                max_seconds=args.seconds,
                epochs=None,
                progress=False,
                eval_every=1,
                eval_fn=snap,
                log_every=10**9,
                freeze_word_embeddings=not args.train_word_embeddings,
                head_lr_multiplier=args.head_lr_multiplier,
            )
            last = history.last
            examples, steps = last["examples"], last["step"]
            snapshots.append((last["seconds"], examples, scorer.state_dict()))
        curve = []
        for seconds, seen, state in snapshots:
            scorer.load_state_dict(state)
            curve.append((seconds, seen, dev_accuracy(scorer, dev_features, dev.labels)))
        results[side] = (examples, steps, curve)
        print(
            f"{side}: {steps} steps, {examples:,} examples in {args.seconds:g} s; "
            f"dev accuracy {curve[-1][2]:.4f}",
            flush=True,
        )
    print("\n| loop | steps | examples seen | dev accuracy after the budget |\n|---|---|---|---|")
    for side, (examples, steps, curve) in results.items():
        print(f"| {side} | {steps} | {examples:,} | {curve[-1][2]:.4f} |")
    print("\ntime to accuracy (first snapshot at or above the threshold):")
    for threshold in (0.80, 0.83, 0.85, 0.87):
        cells = []
        for side, (_, _, curve) in results.items():
            hit = next((s for s, _, acc in curve if acc >= threshold), None)
            cells.append(f"{side} {'not reached' if hit is None else f'{hit:.0f} s'}")
        print(f"  {threshold:.0%}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
