"""Sequence classification (notebook 10): batching helpers, the head, the CLI."""

from __future__ import annotations

import argparse

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.tasks.common import (
    BucketedBatches,
    add_finetune_arguments,
    bucketed_batch_indices,
    pad_batch,
)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 64), min_size=1, max_size=300),
    batch_size=st.integers(1, 40),
    bucket_batches=st.integers(1, 8),
    seed=st.integers(0, 10),
)
def test_bucketing_covers_every_example_once(lengths, batch_size, bucket_batches, seed):
    batches = bucketed_batch_indices(lengths, batch_size, seed, bucket_batches)
    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(batch) <= batch_size for batch in batches)


def test_bucketing_reduces_padding_on_real_lengths():
    generator = torch.Generator().manual_seed(0)
    lengths = (torch.randint(2, 60, (3200,), generator=generator)).tolist()

    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    bucketed = padded(bucketed_batch_indices(lengths, 32, seed=0))
    shuffled = padded(bucketed_batch_indices(lengths, 32, seed=0, bucket_batches=1))
    assert bucketed < 0.7 * shuffled


def test_pad_batch_pads_lists_and_stacks_scalars():
    batch = pad_batch(
        [{"input_ids": [101, 7, 102], "labels": 1}, {"input_ids": [101, 102], "labels": 0}],
        pad_token_id=0,
    )
    assert batch["input_ids"].tolist() == [[101, 7, 102], [101, 102, 0]]
    assert batch["labels"].tolist() == [1, 0]
    tags = pad_batch([{"labels": [1, 2]}, {"labels": [3]}], pad_values={"labels": -100})
    assert tags["labels"].tolist() == [[1, 2], [3, -100]]


def test_bucketed_batches_reshuffle_each_epoch():
    features = [{"input_ids": [1] * (i % 7 + 1), "labels": i} for i in range(50)]
    batches = BucketedBatches(features, batch_size=8, seed=3, bucket_batches=2)
    first = [b["labels"].tolist() for b in batches]
    second = [b["labels"].tolist() for b in batches]
    assert first != second
    assert sorted(sum(first, [])) == sorted(sum(second, [])) == list(range(50))
    assert len(batches) == 7


def test_finetune_arguments_have_defaults():
    parser = add_finetune_arguments(argparse.ArgumentParser(), max_length=64)
    args = parser.parse_args(["--out", "somewhere", "--lr", "2e-4"])
    assert (args.max_length, args.lr, args.batch_size, args.seed) == (64, 2e-4, 32, 0)
    assert args.model is None and args.train is None
