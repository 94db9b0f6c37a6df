"""What every fine-tuning task shares: flags, loading a checkpoint, saving, and batching.

Notebooks 10-12 (classification, NER, QA) all start from "any BERT checkpoint"
(a bare `BertModel` such as MiniLM, the notebook-09 pretraining checkpoint, an
already fine-tuned task model, or a Hub id when online), add a task head, train
under a budget and save a self-contained folder that `transformers` can load.

Batching lives here too because it is the same trick for every task: pad each
batch only to its own longest sequence (dynamic padding) and put sequences of
similar length in the same batch (length bucketing), so little compute is spent
on `[PAD]` tokens. Notebook 10 measures what that buys.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch

from bertlab.hub import hub_download

CHECKPOINT_FILES = ("config.json", "model.safetensors", "vocab.txt")
"""What a checkpoint folder holds; a Hub id is resolved by downloading these."""


# --------------------------------------------------------------------------- CLI flags
def add_finetune_arguments(
    parser: argparse.ArgumentParser,
    *,
    max_length: int = 128,
    batch_size: int = 32,
    lr: float = 1e-4,
    max_seconds: float | None = 300.0,
    dropout: float | None = None,
    freeze_word_embeddings: bool = False,
    head_lr_multiplier: float = 1.0,
) -> argparse.ArgumentParser:
    """The flags every `bertlab finetune <task>` command takes (tasks pick their defaults)."""
    parser.add_argument("--train", help="training file (default: BERTLAB_DATA, then the sample)")
    parser.add_argument("--dev", help="evaluation file (default: BERTLAB_DATA, then the sample)")
    parser.add_argument(
        "--model",
        default=None,
        help="any BERT checkpoint folder (bare BertModel, pretraining or task checkpoint) or a "
        "Hub id when online (default: the offline MiniLM weights)",
    )
    parser.add_argument(
        "--max-seconds", type=float, default=max_seconds, help="training time budget in seconds"
    )
    parser.add_argument("--max-steps", type=int, default=None, help="training step budget")
    parser.add_argument("--epochs", type=float, default=1.0, help="at most this many epochs")
    parser.add_argument("--out", required=True, help="output folder for the fine-tuned model")
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--lr", type=float, default=lr, help="peak AdamW learning rate")
    parser.add_argument("--max-length", type=int, default=max_length, help="WordPieces per input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dropout",
        type=float,
        default=dropout,
        help="dropout probability while fine-tuning (hidden and attention; default: "
        + ("the checkpoint's" if dropout is None else f"{dropout:g}")
        + "). Dropout fights overfitting, which a budget under one epoch does not reach, "
        "and it costs about a fifth of each CPU step",
    )
    freeze = parser.add_mutually_exclusive_group()
    freeze.add_argument(
        "--freeze-word-embeddings",
        dest="freeze_word_embeddings",
        action="store_true",
        default=freeze_word_embeddings,
        help="keep the 30,522-row token table fixed: faster steps, little change in accuracy"
        + (" (the default)" if freeze_word_embeddings else ""),
    )
    freeze.add_argument(
        "--train-word-embeddings", dest="freeze_word_embeddings", action="store_false"
    )
    parser.add_argument(
        "--head-lr-multiplier",
        type=float,
        default=head_lr_multiplier,
        help="the task head's learning rate = this x --lr: a freshly initialised head can learn "
        f"faster than the pretrained encoder under it (default: {head_lr_multiplier:g})",
    )
    return parser


def dropout_overrides(dropout: float | None) -> dict[str, float]:
    """Config entries that set every dropout of a BERT model to `dropout` (None: keep them)."""
    if dropout is None:
        return {}
    if not 0 <= dropout < 1:
        raise ValueError(f"--dropout must be in [0, 1), got {dropout}")
    return {"hidden_dropout_prob": dropout, "attention_probs_dropout_prob": dropout}


def freeze_embedding_table(model) -> None:
    """Stop training the token table (`bert.embeddings.word_embeddings`).

    The table holds 30,522 x hidden numbers, about half of MiniLM. In a short
    fine-tuning run most rows are never looked up, yet AdamW would still update
    all of them (the weight decay alone touches every row); fixing them makes
    each step cheaper. The positional and segment tables and every layer still train.
    """
    model.bert.embeddings.word_embeddings.weight.requires_grad_(False)


def default_model_dir() -> Path:
    """The offline MiniLM checkpoint: the default starting point of every CLI command."""
    from bertlab.hub import minilm_dir

    return minilm_dir()


# --------------------------------------------------------------------------- loading / saving
def resolve_checkpoint(model_name_or_dir: str | os.PathLike) -> Path:
    """A local checkpoint folder for a folder path or a Hugging Face Hub id.

    A Hub id (`google-bert/bert-base-uncased`) is fetched with `bertlab.hub.hub_download`,
    which fails with a clear message offline.
    """
    local = Path(model_name_or_dir).expanduser()
    if local.is_dir():
        if not (local / "config.json").exists():
            raise FileNotFoundError(f"{local}: not a BERT checkpoint folder (no config.json)")
        return local
    name = str(model_name_or_dir)
    if local.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise FileNotFoundError(f"{name}: no such checkpoint folder")
    files = [hub_download(name, filename) for filename in CHECKPOINT_FILES]
    return files[0].parent


def load_tokenizer(checkpoint_dir: str | os.PathLike):
    """The WordPiece tokenizer saved with a checkpoint (its `vocab.txt`)."""
    from bertlab.tokenization import BertTokenizer

    folder = Path(checkpoint_dir)
    if not (folder / "vocab.txt").exists():
        raise FileNotFoundError(f"{folder}: no vocab.txt, so no tokenizer to load")
    return BertTokenizer.from_pretrained(str(folder))


def load_for_finetuning(
    model_name_or_dir: str | os.PathLike | None, model_class, **config_overrides
):
    """(model, tokenizer) for fine-tuning: any BERT checkpoint + a fresh or reloaded task head.

    `model_class` is a task head such as `BertForSequenceClassification`; its
    `from_pretrained` accepts bare `BertModel` keys or `bert.`-prefixed keys and
    initialises the missing head (see `model.loading_info`). `config_overrides`
    (e.g. `num_labels`, `id2label`, `label2id`) are written into the config.
    None means the offline MiniLM weights.
    """
    folder = resolve_checkpoint(model_name_or_dir or default_model_dir())
    model = model_class.from_pretrained(str(folder), **config_overrides)
    return model, load_tokenizer(folder)


def save_finetuned(out_dir: str | os.PathLike, model, tokenizer, extra: dict | None = None) -> Path:
    """Write a self-contained checkpoint: config.json (with labels), weights, vocab, tokenizer config.

    The folder loads in `transformers.AutoModelFor...` and `AutoTokenizer` as well as in bertlab.
    `extra` (metrics, the command line) goes to `training_info.json` beside it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    if extra is not None:
        (out / "training_info.json").write_text(json.dumps(extra, indent=2) + "\n")
    return out


# --------------------------------------------------------------------------- batching
def pad_batch(
    features: Sequence[dict], pad_token_id: int = 0, pad_values: dict | None = None
) -> dict[str, torch.Tensor]:
    """Stack a list of feature dicts into tensors, padding lists to the batch's longest one.

    This is dynamic padding: a batch of short sentences costs little even when
    `max_length` is large. Keys holding lists are padded (`input_ids` with
    `pad_token_id`, `attention_mask`/`token_type_ids` with 0, others with
    `pad_values[key]`, e.g. -100 for token labels); scalar keys are stacked.
    """
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
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
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


class BucketedBatches:
    """A re-iterable of padded batches for the training loop: one shuffled epoch per iteration.

    `features` is a list of dicts of lists (e.g. `input_ids`, `attention_mask`,
    `token_type_ids`) plus scalars (`labels`); each epoch uses a new shuffle
    (seed + epoch). `bucket_batches=0` turns bucketing off (plain shuffling).
    """

    def __init__(
        self,
        features: Sequence[dict],
        batch_size: int,
        *,
        pad_token_id: int = 0,
        pad_values: dict | None = None,
        seed: int = 0,
        bucket_batches: int = 50,
        length_key: str = "input_ids",
    ):
        self.features = features
        self.batch_size = batch_size
        self.pad_token_id = pad_token_id
        self.pad_values = pad_values
        self.seed = seed
        self.bucket_batches = bucket_batches
        self.lengths = [len(feature[length_key]) for feature in features]
        self.epoch = 0

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
) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
    """(indices, batch) pairs in order of length: the fastest way to run inference on a set."""
    order = sorted(range(len(features)), key=lambda i: len(features[i][length_key]))
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        yield indices, pad_batch([features[i] for i in indices], pad_token_id, pad_values)


def timed_batches(batches: Iterable, max_seconds: float | None) -> Iterator:
    """Yield from `batches` until `max_seconds` have passed (None: no limit)."""
    start = time.perf_counter()
    for batch in batches:
        if max_seconds is not None and time.perf_counter() - start >= max_seconds:
            return
        yield batch
