"""Pretraining instances and masking, following Google's `create_pretraining_data.py`.

Notebook 09 builds these step by step. From documents of sentences:

1. `create_instances` packs consecutive sentences of one document into a chunk of
   about `max_seq_length - 3` tokens (with probability `short_seq_prob` a shorter,
   random target length, so the model also sees short inputs), cuts the chunk at a
   random sentence boundary into A and B, and with probability 1/2 replaces B by text
   from a random *other* document: next-sentence label 0 = IsNext, 1 = NotNext.
   Pairs that are too long are truncated by `truncate_seq_pair`: the longer side
   loses one token at a time, at its front or its back with equal probability.
2. `mask_tokens` picks exactly `min(max_predictions, max(1, round(0.15 * len(tokens))))`
   positions among the non-special tokens (`len(tokens)` counts `[CLS]`/`[SEP]`, as
   Google does), and replaces each by `[MASK]` (80%), a random vocabulary token (10%) or
   leaves it unchanged (10%). Labels hold the original id at those positions and -100
   elsewhere. With `whole_word=True`, all the WordPiece pieces of a word are chosen
   together. Masking once when the data is built is "static" (BERT); masking again in
   every epoch is "dynamic" (RoBERTa): `PretrainingDataset(dynamic=True)`.
3. `PretrainingCollator` pads a list of instances into tensors for
   `BertForPreTraining(**batch)`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from torch.utils.data import DataLoader, Dataset

from bertlab.batching import pad_batch

__all__ = [
    "PretrainingBatches",
    "PretrainingCollator",
    "PretrainingDataset",
    "PretrainingInstance",
    "create_instances",
    "mask_tokens",
    "tokenize_documents",
    "truncate_seq_pair",
]

IS_NEXT, NOT_NEXT = 0, 1


@dataclass
class PretrainingInstance:
    """One unmasked example: `[CLS] A [SEP] B [SEP]`, its segment ids and the NSP label."""

    input_ids: list[int]
    token_type_ids: list[int]
    next_sentence_label: int  # 0 = IsNext (B follows A), 1 = NotNext (B is random)


def tokenize_documents(documents: Sequence[Sequence[str]], tokenizer) -> list[list[list[int]]]:
    """Token ids of every sentence of every document (empty sentences and documents dropped)."""
    tokenized = []
    for document in documents:
        sentences = []
        for sentence in document:
            ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(sentence))
            if ids:
                sentences.append(ids)
        if sentences:
            tokenized.append(sentences)
    return tokenized


def truncate_seq_pair(
    tokens_a: list[int], tokens_b: list[int], max_num_tokens: int, rng: random.Random
) -> None:
    """Shorten the pair in place to `max_num_tokens`: always cut the longer side, at its
    front or back at random (Google's rule: cutting only the end would bias the model)."""
    while len(tokens_a) + len(tokens_b) > max_num_tokens:
        longer = tokens_a if len(tokens_a) > len(tokens_b) else tokens_b
        if rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()


def _validate_documents(documents: Sequence[Sequence[Sequence[int]]]) -> None:
    if not documents:
        raise ValueError("the corpus is empty: no document with any token")
    if len(documents) < 2:
        raise ValueError(
            "the corpus has a single document: next-sentence prediction needs at least two "
            "(a NotNext sentence B is taken from another document)"
        )
    if all(len(document) < 2 for document in documents):
        raise ValueError(
            f"all {len(documents)} documents have a single sentence: next-sentence prediction "
            "needs documents of two or more sentences (is the text split into sentences?)"
        )


def _instances_from_document(
    documents: Sequence[Sequence[Sequence[int]]],
    index: int,
    max_seq_length: int,
    short_seq_prob: float,
    cls_id: int,
    sep_id: int,
    rng: random.Random,
) -> list[PretrainingInstance]:
    """Google's `create_instances_from_document`, on token ids."""
    document = documents[index]
    max_num_tokens = max_seq_length - 3  # [CLS], [SEP], [SEP]
    target_length = max_num_tokens
    if rng.random() < short_seq_prob:
        target_length = rng.randint(2, max_num_tokens)
    instances = []
    chunk: list[Sequence[int]] = []
    chunk_length = 0
    i = 0
    while i < len(document):
        chunk.append(document[i])
        chunk_length += len(document[i])
        if i == len(document) - 1 or chunk_length >= target_length:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            tokens_a = [t for segment in chunk[:a_end] for t in segment]
            tokens_b: list[int] = []
            if len(chunk) == 1 or rng.random() < 0.5:
                label = NOT_NEXT
                target_b_length = target_length - len(tokens_a)
                for _ in range(10):  # Google's way of picking another document
                    other = rng.randint(0, len(documents) - 1)
                    if other != index:
                        break
                random_document = documents[other]
                start = rng.randint(0, len(random_document) - 1)
                for segment in random_document[start:]:
                    tokens_b.extend(segment)
                    if len(tokens_b) >= target_b_length:
                        break
                i -= len(chunk) - a_end  # the unused sentences start the next chunk
            else:
                label = IS_NEXT
                tokens_b = [t for segment in chunk[a_end:] for t in segment]
            truncate_seq_pair(tokens_a, tokens_b, max_num_tokens, rng)
            if tokens_a and tokens_b:
                input_ids = [cls_id, *tokens_a, sep_id, *tokens_b, sep_id]
                token_types = [0] * (len(tokens_a) + 2) + [1] * (len(tokens_b) + 1)
                instances.append(PretrainingInstance(input_ids, token_types, label))
            chunk, chunk_length = [], 0
        i += 1
    return instances


def create_instances(
    documents: Sequence[Sequence[Sequence[int]]],
    *,
    cls_token_id: int,
    sep_token_id: int,
    max_seq_length: int = 128,
    short_seq_prob: float = 0.1,
    dupe_factor: int = 1,
    seed: int = 12345,
) -> list[PretrainingInstance]:
    """Sentence-pair instances from tokenized documents (lists of sentences of token ids).

    `dupe_factor` passes over the corpus give different chunkings (Google used 10).
    The instances are shuffled. Raises ValueError for a corpus NSP cannot use.
    """
    if max_seq_length < 5:
        raise ValueError(f"max_seq_length must be at least 5, got {max_seq_length}")
    _validate_documents(documents)
    rng = random.Random(seed)
    instances = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            instances.extend(
                _instances_from_document(
                    documents,
                    index,
                    max_seq_length,
                    short_seq_prob,
                    cls_token_id,
                    sep_token_id,
                    rng,
                )
            )
    if not instances:
        raise ValueError(
            "the corpus yielded no pretraining instance (are the documents long enough?)"
        )
    rng.shuffle(instances)
    return instances


def mask_tokens(
    input_ids: Sequence[int],
    *,
    rng: random.Random,
    vocab_size: int,
    mask_token_id: int,
    special_ids: set[int] | frozenset[int],
    masked_lm_prob: float = 0.15,
    max_predictions: int = 20,
    is_continuation: Sequence[bool] | None = None,
) -> tuple[list[int], list[int]]:
    """Google's `create_masked_lm_predictions` on ids: returns (masked input ids, labels).

    `is_continuation[i]` is True when token i is a `##` piece (whole-word masking groups it
    with the piece before). Labels are -100 at every position that is not predicted.
    """
    candidates: list[list[int]] = []
    for position, token in enumerate(input_ids):
        if token in special_ids:
            continue
        if is_continuation is not None and candidates and is_continuation[position]:
            candidates[-1].append(position)  # Google's rule (a "##" piece that opens B after
        else:  # a front truncation joins the last word of A, across the [SEP])
            candidates.append([position])
    rng.shuffle(candidates)
    num_to_predict = min(max_predictions, max(1, round(len(input_ids) * masked_lm_prob)))
    masked = list(input_ids)
    labels = [-100] * len(input_ids)
    predicted = 0
    for group in candidates:
        if predicted >= num_to_predict:
            break
        if predicted + len(group) > num_to_predict:
            continue  # a whole word that does not fit: try a shorter one
        for position in group:
            if rng.random() < 0.8:
                masked[position] = mask_token_id
            elif rng.random() < 0.5:
                pass  # keep the original token (10%)
            else:
                masked[position] = rng.randint(0, vocab_size - 1)  # random token (10%)
            labels[position] = input_ids[position]
            predicted += 1
    return masked, labels


class PretrainingDataset(Dataset):
    """Instances with their masks: fixed once (`dynamic=False`, BERT) or redrawn every
    epoch (`dynamic=True`, RoBERTa; the training loop calls `set_epoch`)."""

    def __init__(
        self,
        instances: Sequence[PretrainingInstance],
        tokenizer,
        *,
        masked_lm_prob: float = 0.15,
        max_predictions: int = 20,
        whole_word: bool = False,
        dynamic: bool = False,
        seed: int = 0,
    ) -> None:
        if not instances:
            raise ValueError("no pretraining instances to build a dataset from")
        self.instances = list(instances)
        vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else tokenizer.vocab
        self.vocab_size = len(vocab)
        self.mask_token_id = tokenizer.require_token_id("mask_token", "masking")
        self.special_ids = frozenset(
            i
            for i in (tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id)
            if i is not None
        )
        self.continuation = None
        if whole_word:
            self.continuation = [False] * self.vocab_size
            for token, index in vocab.items():
                if token.startswith("##"):
                    self.continuation[index] = True
        self.masked_lm_prob = masked_lm_prob
        self.max_predictions = max_predictions
        self.dynamic = dynamic
        self.seed = seed
        self.epoch = 0
        self._static = None if dynamic else [self._mask(i, 0) for i in range(len(self.instances))]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _mask(self, index: int, epoch: int) -> dict[str, Any]:
        instance = self.instances[index]
        rng = random.Random(f"{self.seed}-{epoch}-{index}")  # reproducible, independent streams
        continuation = (
            [self.continuation[t] for t in instance.input_ids] if self.continuation else None
        )
        input_ids, labels = mask_tokens(
            instance.input_ids,
            rng=rng,
            vocab_size=self.vocab_size,
            mask_token_id=self.mask_token_id,
            special_ids=self.special_ids,
            masked_lm_prob=self.masked_lm_prob,
            max_predictions=self.max_predictions,
            is_continuation=continuation,
        )
        return {
            "input_ids": input_ids,
            "token_type_ids": instance.token_type_ids,
            "labels": labels,
            "next_sentence_label": instance.next_sentence_label,
        }

    def __len__(self) -> int:
        return len(self.instances)

    def __getitem__(self, index: int) -> dict[str, Any]:
        if self._static is not None:
            return self._static[index]
        return self._mask(index, self.epoch)


class PretrainingCollator:
    """Pad examples to the longest in the batch: input_ids, token_type_ids, attention_mask,
    labels (-100 on padding), next_sentence_label. `labelled_logits_only=True` adds the flag
    that makes `BertForPreTraining` score only the masked positions (faster, same loss)."""

    def __init__(self, pad_token_id: int, labelled_logits_only: bool = False) -> None:
        self.pad_token_id = pad_token_id
        self.labelled_logits_only = labelled_logits_only

    def __call__(self, examples: Sequence[dict[str, Any]]) -> dict[str, Any]:
        features = [
            {
                "input_ids": e["input_ids"],
                "token_type_ids": e["token_type_ids"],
                "attention_mask": [1] * len(e["input_ids"]),
                "labels": e["labels"],
                "next_sentence_label": e["next_sentence_label"],
            }
            for e in examples
        ]
        batch: dict[str, Any] = pad_batch(features, self.pad_token_id, {"labels": -100})
        if self.labelled_logits_only:
            batch["labelled_logits_only"] = True
        return batch


class PretrainingBatches:
    """Re-iterable shuffled batches over a `PretrainingDataset`, for `bertlab.training.train`.

    Shuffling draws from torch's global RNG, which the training loop seeds, saves and
    restores, so a resumed run sees the same batches. `set_epoch` reaches the dataset
    (dynamic masking).
    """

    def __init__(
        self,
        dataset: PretrainingDataset,
        batch_size: int,
        collator: PretrainingCollator,
        shuffle: bool = True,
    ) -> None:
        self.dataset = dataset
        self.loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collator
        )

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        return iter(self.loader)
