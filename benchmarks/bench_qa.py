"""QA fine-tuning and evaluation throughput: bertlab vs a plain `transformers` loop (notebook 12).

The reference is the loop the issue quotes: `transformers.BertForQuestionAnswering`
on the MiniLM weights, Hugging Face's fast tokenizer, windows of max length 256 with
stride 96 padded to 256 (as `run_qa.py` pads by default), batch 16, AdamW lr 1e-4.
bertlab trains on the same windows as `bertlab finetune qa` does by default: dynamic
padding, length bucketing, the fused attention path, no dropout, a fixed token table
and torch's fused AdamW. Both run on the same SQuAD questions, interleaved round by
round in one process, so machine load hits both alike; we report the ratio.

    BERTLAB_DATA=../shared/data HF_HUB_OFFLINE=1 python benchmarks/bench_qa.py [--rounds 4]
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
import transformers

from bertlab.data.squad import load_squad
from bertlab.hub import minilm_dir
from bertlab.optim import decay_parameter_groups
from bertlab.tasks.common import (
    BucketedBatches,
    dropout_overrides,
    freeze_embedding_table,
    load_tokenizer,
    pad_batch,
)
from bertlab.tasks.qa import (
    BertForQuestionAnswering,
    prepare_eval_features,
    prepare_train_features,
    run_model,
)

MAX_LENGTH, STRIDE, BATCH, LR = 256, 96, 16, 1e-4


def reference_batches(features):
    """The plain loop's batches: every window padded to MAX_LENGTH, in a shuffled order."""
    inputs = ("input_ids", "token_type_ids", "attention_mask")
    padded = [{**f, **{k: f[k] + [0] * (MAX_LENGTH - len(f[k])) for k in inputs}} for f in features]
    order = torch.randperm(len(features), generator=torch.Generator().manual_seed(0)).tolist()
    while True:
        for start in range(0, len(order) - BATCH + 1, BATCH):
            yield pad_batch([padded[i] for i in order[start : start + BATCH]])


def timed_steps(model, optimizer, batches, steps: int) -> tuple[float, int]:
    model.train()
    windows = 0
    start = time.perf_counter()
    for _ in range(steps):
        batch = next(batches)
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        windows += batch["input_ids"].shape[0]
    return time.perf_counter() - start, windows


@torch.inference_mode()
def reference_eval(model, features, batch_size=64, length=384) -> float:
    """The plain way to evaluate: windows padded to `length`, in file order."""
    model.eval()
    start = time.perf_counter()
    for i in range(0, len(features), batch_size):
        chunk = features[i : i + batch_size]
        batch = pad_batch(
            [
                {
                    k: f[k] + [0] * (length - len(f[k]))
                    for k in ("input_ids", "token_type_ids", "attention_mask")
                }
                for f in chunk
            ]
        )
        model(**batch)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5, help="training steps per round and side")
    parser.add_argument("--eval-questions", type=int, default=150)
    args = parser.parse_args()
    torch.manual_seed(0)

    folder = minilm_dir()
    hf_tokenizer = transformers.BertTokenizerFast.from_pretrained(str(folder))
    tokenizer = load_tokenizer(folder)
    train_examples = load_squad("train")[:1200]
    dev_examples = load_squad("dev")[: args.eval_questions]

    ours = BertForQuestionAnswering.from_pretrained(str(folder), **dropout_overrides(0.0))
    freeze_embedding_table(ours)
    reference = transformers.BertForQuestionAnswering.from_pretrained(str(folder))
    ours_features = prepare_train_features(train_examples, tokenizer, MAX_LENGTH, STRIDE)
    reference_features = prepare_train_features(train_examples, hf_tokenizer, MAX_LENGTH, STRIDE)
    ours_batches = itertools.chain.from_iterable(
        itertools.repeat(BucketedBatches(ours_features, BATCH, pad_token_id=tokenizer.pad_token_id))
    )
    reference_iter = reference_batches(reference_features)
    ours_optimizer = torch.optim.AdamW(
        decay_parameter_groups(ours, 0.01), lr=LR, eps=1e-6, fused=True
    )
    reference_optimizer = torch.optim.AdamW(reference.parameters(), lr=LR, weight_decay=0.01)

    timed_steps(ours, ours_optimizer, ours_batches, 1)  # warm-up
    timed_steps(reference, reference_optimizer, reference_iter, 1)
    totals = {"ours": [0.0, 0], "reference": [0.0, 0]}
    for _ in range(args.rounds):
        for name, model, optimizer, batches in (
            ("reference", reference, reference_optimizer, reference_iter),
            ("ours", ours, ours_optimizer, ours_batches),
        ):
            seconds, windows = timed_steps(model, optimizer, batches, args.steps)
            totals[name][0] += seconds
            totals[name][1] += windows

    eval_features = prepare_eval_features(dev_examples, tokenizer)
    eval_times = {"ours": 0.0, "reference": 0.0}
    for _ in range(2):
        eval_times["reference"] += reference_eval(reference, eval_features)
        start = time.perf_counter()
        run_model(ours, eval_features, 64, tokenizer.pad_token_id)
        eval_times["ours"] += time.perf_counter() - start

    rate = {name: windows / seconds for name, (seconds, windows) in totals.items()}
    eval_rate = {name: 2 * len(eval_features) / seconds for name, seconds in eval_times.items()}
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, threads {torch.get_num_threads()}"
    )
    print(
        f"train: {args.rounds} interleaved rounds x {args.steps} steps of batch {BATCH}, windows <= {MAX_LENGTH}"
    )
    print("| phase | transformers (windows/s) | bertlab (windows/s) | ratio |")
    print("|---|---|---|---|")
    print(
        f"| training | {rate['reference']:.1f} | {rate['ours']:.1f} | {rate['ours'] / rate['reference']:.2f}x |"
    )
    print(
        f"| evaluation ({len(eval_features)} windows <= 384) | {eval_rate['reference']:.1f} | "
        f"{eval_rate['ours']:.1f} | {eval_rate['ours'] / eval_rate['reference']:.2f}x |"
    )


if __name__ == "__main__":
    main()
