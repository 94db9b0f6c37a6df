"""Forward throughput: bertlab's BertModel vs transformers.BertModel on the same MiniLM weights.

Batch 32 x 128 real tokens (AG News articles), fp32, CPU, one process, torch.inference_mode.
The four models run interleaved, round after round, so noise on a shared machine hits all
alike; the table shows medians and the ratios (transformers time / bertlab time, so > 1
means bertlab is faster):

- bertlab "fused"    vs transformers "sdpa"  (target >= 1.0)
- bertlab "explicit" vs transformers "eager" (target >= 0.9)

Run: `BERTLAB_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_encoder.py`.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time

import torch
import transformers

from bertlab.hub import find_dataset_file, minilm_dir
from bertlab.model import BertModel


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    args = parser.parse_args()

    batch = real_batch(args.batch_size, args.seq_len)
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
    for model in models.values():
        model.eval()

    outputs, times = {}, {name: [] for name in models}
    with torch.inference_mode():
        for name, model in models.items():  # warm-up, and the outputs for the parity check
            outputs[name] = model(**batch).last_hidden_state
        for _ in range(args.rounds):
            for name, model in models.items():
                start = time.perf_counter()
                model(**batch)
                times[name].append(time.perf_counter() - start)

    parity = {
        "fused vs sdpa": outputs["bertlab fused"] - outputs["transformers sdpa"],
        "explicit vs eager": outputs["bertlab explicit"] - outputs["transformers eager"],
        "fused vs eager": outputs["bertlab fused"] - outputs["transformers eager"],
    }
    tokens = int(batch["attention_mask"].sum())
    print(
        f"batch {args.batch_size} x {args.seq_len} ({tokens} real tokens), fp32, "
        f"{torch.get_num_threads()} threads, {args.rounds} interleaved rounds\n"
    )
    print("| model | median forward (ms) | sequences/s |\n|---|---|---|")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, seconds in medians.items():
        print(f"| {name} | {1000 * seconds:.1f} | {args.batch_size / seconds:.1f} |")
    fused_ratio = medians["transformers sdpa"] / medians["bertlab fused"]
    explicit_ratio = medians["transformers eager"] / medians["bertlab explicit"]
    print(
        f"\nspeed ratio bertlab fused / transformers sdpa:     {fused_ratio:.3f}x (target >= 1.0)"
    )
    print(
        f"speed ratio bertlab explicit / transformers eager: {explicit_ratio:.3f}x (target >= 0.9)"
    )
    for name, difference in parity.items():
        print(f"max |difference| last_hidden_state, {name}: {difference.abs().max().item():.2e}")


if __name__ == "__main__":
    main()
