"""Forward throughput: bertlab's BertModel vs transformers.BertModel on the same MiniLM weights.

Batch 32 x 128 real tokens (AG News articles), fp32, CPU, one process, torch.inference_mode.
The four models run interleaved, round after round (`harness.interleaved_rounds`), so noise
hits all alike; the table shows median rates and, round by round, the ratio of each
bertlab path to its transformers counterpart (> 1 means bertlab is faster):

- bertlab "fused"    vs transformers "sdpa"  (target >= 1.0)
- bertlab "explicit" vs transformers "eager" (target >= 0.9)

The largest difference between the outputs of each pair is printed too.

Run it alone on the machine (benchmarks/README.md):
`BERTLAB_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_encoder.py`.
"""

from __future__ import annotations

import argparse
import csv

import torch
import transformers
from harness import (
    interleaved_rounds,
    machine_line,
    median_ratio,
    quiet_transformers,
    throughput_table,
)

from bertlab.hub import find_dataset_file, minilm_dir
from bertlab.model import BertModel

PAIRS = {"bertlab fused": "transformers sdpa", "bertlab explicit": "transformers eager"}
"""Each bertlab attention path and the transformers path it is compared with."""
TARGETS = {"bertlab fused": 1.0, "bertlab explicit": 0.9}


def real_batch(batch_size: int, seq_len: int) -> dict[str, torch.Tensor]:
    """AG News articles, four joined per row so that most rows fill all `seq_len` tokens."""
    path = find_dataset_file("ag_news/test.csv")
    if path is None:
        raise SystemExit("set BERTLAB_DATA to the shared datasets folder (needs ag_news/test.csv)")
    with path.open(encoding="utf-8", newline="") as file:
        articles = [f"{title}. {body}" for _, title, body in csv.reader(file)]
    texts = [" ".join(articles[4 * i : 4 * i + 4]) for i in range(batch_size)]
    tokenizer = transformers.BertTokenizerFast.from_pretrained(minilm_dir())
    return dict(
        tokenizer(
            texts, truncation=True, max_length=seq_len, padding="max_length", return_tensors="pt"
        )
    )


def load_models() -> dict[str, torch.nn.Module]:
    folder = minilm_dir()
    models = {
        "bertlab fused": BertModel.from_pretrained(folder, attn_implementation="fused"),
        "transformers sdpa": transformers.BertModel.from_pretrained(
            folder, attn_implementation="sdpa"
        ),
        "bertlab explicit": BertModel.from_pretrained(folder, attn_implementation="explicit"),
        "transformers eager": transformers.BertModel.from_pretrained(
            folder, attn_implementation="eager"
        ),
    }
    return {name: model.eval() for name, model in models.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args()

    quiet_transformers()
    print(machine_line())
    batch = real_batch(args.batch_size, args.seq_len)
    models = load_models()

    def forward(model):
        def run(_round_index: int) -> int:
            model(**batch)
            return args.batch_size

        return run

    with torch.inference_mode():
        outputs = {name: model(**batch).last_hidden_state for name, model in models.items()}
        runners = {name: forward(model) for name, model in models.items()}
        timings = interleaved_rounds(runners, args.rounds, unit="sequences")

    tokens = int(batch["attention_mask"].sum())
    print(
        f"\nbatch {args.batch_size} x {args.seq_len} ({tokens} real tokens), fp32, "
        f"{args.rounds} interleaved rounds\n"
    )
    print(throughput_table(timings, "sequences", reference=PAIRS))
    print()
    for ours, theirs in PAIRS.items():
        ratio = median_ratio(timings[ours], timings[theirs])
        print(f"speed ratio {ours} / {theirs}: {ratio:.3f}x (target >= {TARGETS[ours]})")
    for ours, theirs in [*PAIRS.items(), ("bertlab fused", "transformers eager")]:
        difference = (outputs[ours] - outputs[theirs]).abs().max().item()
        print(f"max |difference| last_hidden_state, {ours} vs {theirs}: {difference:.2e}")


if __name__ == "__main__":
    main()
