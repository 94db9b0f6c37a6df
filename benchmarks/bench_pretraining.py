"""Pretraining step throughput: bertlab's BertForPreTraining vs transformers', same weights.

One process, interleaved rounds, the same config and the same real batch (War and Peace
through bertlab's pipeline, 15% masked). A step is forward + backward + AdamW update.
bertlab runs its fused attention path and, as in `bertlab pretrain`, scores the
vocabulary only at the masked positions (`labelled_logits_only=True`); the row
"bertlab, all logits" shows the same model scoring every position, like transformers.

    python benchmarks/bench_pretraining.py [--rounds 5] [--batch-size 16] [--layers 4] ...
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import transformers

from bertlab.data.corpus import load_corpus
from bertlab.hub import minilm_dir
from bertlab.model import BertConfig
from bertlab.pretraining import BertForPreTraining
from bertlab.pretraining_data import (
    PretrainingCollator,
    PretrainingDataset,
    create_instances,
    tokenize_documents,
)
from bertlab.tokenization import BertTokenizer


def real_batch(batch_size: int, seq_length: int, vocab_size: int) -> dict[str, torch.Tensor]:
    tokenizer = BertTokenizer.from_pretrained(minilm_dir())
    documents = load_corpus(files=["war_and_peace.txt"])[:12]
    instances = create_instances(
        tokenize_documents(documents, tokenizer),
        cls_token_id=tokenizer.cls_token_id,
        sep_token_id=tokenizer.sep_token_id,
        max_seq_length=seq_length,
        short_seq_prob=0.0,
    )[:batch_size]
    dataset = PretrainingDataset(instances, tokenizer, max_predictions=round(0.15 * seq_length))
    batch = PretrainingCollator(tokenizer.pad_token_id)([dataset[i] for i in range(batch_size)])
    # a smaller vocabulary (as `bertlab pretrain` learns): fold the ids into it
    for key in ("input_ids", "labels"):
        batch[key] = torch.where(batch[key] >= 0, batch[key] % vocab_size, batch[key])
    return batch


def step_seconds(model, optimizer, batch, **extra) -> float:
    start = time.perf_counter()
    loss = model(**batch, **extra).loss
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-length", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=args.vocab_size,
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    ours = BertForPreTraining(config).train()
    with tempfile.TemporaryDirectory() as folder:
        ours.save_pretrained(folder)
        theirs = transformers.BertForPreTraining.from_pretrained(folder).train()
    batch = real_batch(args.batch_size, args.seq_length, args.vocab_size)
    tokens = int(batch["attention_mask"].sum())

    # same weights, same batch: the losses agree before timing
    with torch.no_grad():
        mine, reference = ours(**batch).loss, theirs(**batch).loss
    assert torch.allclose(mine, reference, atol=1e-4), (mine, reference)

    runs = {
        "bertlab (fused, masked-position logits)": (ours, {"labelled_logits_only": True}),
        "bertlab, all logits": (ours, {}),
        f"transformers ({theirs.config._attn_implementation})": (theirs, {}),
    }
    optimizers = {
        name: torch.optim.AdamW(model.parameters(), lr=1e-6) for name, (model, _) in runs.items()
    }
    for name, (model, extra) in runs.items():  # warm-up
        step_seconds(model, optimizers[name], batch, **extra)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, (model, extra) in runs.items():
            times[name].append(step_seconds(model, optimizers[name], batch, **extra))

    print(
        f"pretraining step (forward + backward + AdamW), batch {args.batch_size} x "
        f"{args.seq_length}, {args.layers} layers, hidden {args.hidden}, vocab "
        f"{args.vocab_size}, {torch.get_num_threads()} threads, {args.rounds} interleaved rounds"
    )
    reference = statistics.median(times[list(runs)[-1]])
    print("\n| model | median step (s) | tokens/s | vs transformers |\n|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} | {tokens / median:,.0f} | {reference / median:.2f}x |")


if __name__ == "__main__":
    main()
