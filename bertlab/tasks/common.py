"""Where notebooks 10-12 first found the shared fine-tuning pieces; they now live in
`bertlab.finetune` (the recipe), `bertlab.batching` (dynamic padding, length buckets)
and `bertlab.checkpoints` (saving). Kept so that code written against it still runs."""

from bertlab.batching import BucketedBatches, bucketed_batch_indices, pad_batch, sorted_batches
from bertlab.finetune import (
    dropout_overrides,
    freeze_embedding_table,
    load_for_finetuning,
    load_tokenizer,
)

__all__ = [
    "BucketedBatches",
    "bucketed_batch_indices",
    "dropout_overrides",
    "freeze_embedding_table",
    "load_for_finetuning",
    "load_tokenizer",
    "pad_batch",
    "sorted_batches",
]
