"""Dynamic padding and length bucketing (bertlab.batching, notebook 10)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bertlab.batching import BucketedBatches, bucketed_batch_indices, pad_batch, sorted_batches


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


def test_sorted_batches_visit_everything_shortest_first():
    features = [{"input_ids": [1] * n} for n in (5, 2, 9, 2, 7)]
    seen = list(sorted_batches(features, 2))
    assert [indices for indices, _ in seen] == [[1, 3], [0, 4], [2]]
    assert seen[1][1]["input_ids"].shape == (2, 7)


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_batch_sizes_and_empty_data_are_refused(size):
    with pytest.raises(ValueError, match="batch_size must be a whole number >= 1"):
        BucketedBatches([{"input_ids": [1]}], size)
    with pytest.raises(ValueError, match="batch_size"):
        list(sorted_batches([{"input_ids": [1]}], size))


def test_empty_data_is_refused():
    with pytest.raises(ValueError, match="no training examples"):
        BucketedBatches([], 4)
    with pytest.raises(ValueError, match="at least one feature"):
        pad_batch([])
