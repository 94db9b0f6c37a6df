"""Batches that waste little compute on `[PAD]`: dynamic padding and length bucketing.

Notebook 10 measures what this buys; every task (10-12) and pretraining (09) batch
their examples with it, and notebook 13 builds on it.

- `pad_batch`: stack a list of feature dicts into tensors, padding each list only to the
  longest one in this batch (dynamic padding), not to a fixed maximum length.
- `bucketed_batch_indices` / `BucketedBatches`: shuffled training batches in which
  examples have similar lengths, so each batch pads to nearly the same length.
- `sorted_batches`: inference in order of length, the fastest way through a data set.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field

import torch

from bertlab.runtime import Progress


def pad_batch(
    features: Sequence[dict], pad_token_id: int = 0, pad_values: dict | None = None
) -> dict[str, torch.Tensor]:
    """Stack feature dicts into tensors, padding lists to the batch's longest one.

    Keys holding lists are padded (`input_ids` with `pad_token_id`, `attention_mask` and
    `token_type_ids` with 0, others with `pad_values[key]`, e.g. -100 for token labels
    the loss must skip); scalar keys are stacked.
    """
    if not features:
        raise ValueError("pad_batch needs at least one feature")
    if pad_token_id is None:
        raise ValueError("padding needs a [PAD] token id, and the tokenizer's vocabulary has none")
    pad_values = {"input_ids": pad_token_id, **(pad_values or {})}
    batch = {}
    for key in features[0]:
        values = [feature[key] for feature in features]
        if isinstance(values[0], (list, tuple)):
            width = max(len(value) for value in values)
            fill = pad_values.get(key, 0)
            values = [list(value) + [fill] * (width - len(value)) for value in values]
        batch[key] = torch.tensor(values)
    return batch


def bucketed_batch_indices(
    lengths: Sequence[int], batch_size: int, seed: int = 0, bucket_batches: int = 50
) -> list[list[int]]:
    """Shuffled batches of indices in which examples have similar lengths.

    Shuffle, cut into chunks of `bucket_batches * batch_size` examples, sort each
    chunk by length, cut it into batches, then shuffle the batches. The order
    stays random, but each batch pads to nearly the same length.
    """
    _check_batch_size(batch_size)
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = batch_size * max(1, bucket_batches)
    batches = []
    for start in range(0, len(order), chunk):
        ordered = sorted(order[start : start + chunk], key=lambda index: lengths[index])
        batches += [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    rng.shuffle(batches)
    return batches


@dataclass(eq=False)
class BucketedBatches:
    """A re-iterable of padded batches for the training loop: one shuffled epoch per iteration.

    `features` is a list of dicts of lists (e.g. `input_ids`, `attention_mask`,
    `token_type_ids`) plus scalars (`labels`); each epoch uses a new shuffle
    (seed + epoch). `bucket_batches=0` turns bucketing off (plain shuffling).
    """

    features: Sequence[dict] = field(repr=False)
    batch_size: int
    _: KW_ONLY
    pad_token_id: int = 0
    pad_values: dict | None = None
    seed: int = 0
    bucket_batches: int = 50
    length_key: str = "input_ids"
    epoch: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        _check_batch_size(self.batch_size)
        if not self.features:
            raise ValueError("no training examples: the features list is empty")
        self.lengths = [len(feature[self.length_key]) for feature in self.features]

    def __len__(self) -> int:
        return -(-len(self.features) // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Pick the epoch whose order the next iteration yields (the training loop calls this)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        seed = self.seed + self.epoch
        self.epoch += 1
        if self.bucket_batches:
            batches = bucketed_batch_indices(
                self.lengths, self.batch_size, seed, self.bucket_batches
            )
        else:
            order = list(range(len(self.features)))
            random.Random(seed).shuffle(order)
            batches = [
                order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)
            ]
        for indices in batches:
            yield pad_batch([self.features[i] for i in indices], self.pad_token_id, self.pad_values)


def sorted_batches(
    features: Sequence[dict],
    batch_size: int,
    pad_token_id: int = 0,
    pad_values: dict | None = None,
    length_key: str = "input_ids",
    progress: bool | str = False,
) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
    """(indices, batch) pairs in order of length: the fastest way to run inference on a set.

    `progress` (True or a description such as "evaluating") shows how far it has come.
    """
    _check_batch_size(batch_size)
    order = sorted(range(len(features)), key=lambda i: len(features[i][length_key]))
    starts = range(0, len(order), batch_size)
    shown = Progress(
        len(starts),
        progress if isinstance(progress, str) else "inference",
        "batch",
        enabled=bool(progress),
    )
    for start in starts:
        indices = order[start : start + batch_size]
        yield indices, pad_batch([features[i] for i in indices], pad_token_id, pad_values)
        shown.update()
    shown.close()


def _check_batch_size(batch_size: int) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
