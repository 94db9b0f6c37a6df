"""What attention heads do, measured over many sentences.

Notebook 08b uses these to find heads that look at [CLS] or [SEP], at the
previous or next token, and heads that link a determiner with its noun, in the
spirit of Clark et al. (2019), "What Does BERT Look At?". Every score is an
average over real sentences, so a single example cannot mislead.

Attention here is a NumPy array `[layers, heads, n, n]` for one sentence (row =
the token that attends, column = the token attended to), cropped to its real
tokens: padding is never counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bertlab.viz.attention_views import NO_ATTENTIONS_HELP

PUNCTUATION = {".", ",", ";", ":", "!", "?", "'", '"', "-", "(", ")"}


@dataclass
class SentenceAttention:
    """One sentence's attention `[layers, heads, n, n]`, its tokens and word ids."""

    weights: np.ndarray
    tokens: list[str]
    word_ids: list[int | None]


def collect_attention(
    model,
    tokenizer,
    texts: Sequence[str] | Sequence[Sequence[str]],
    is_split_into_words: bool = False,
    batch_size: int = 16,
    max_length: int = 128,
) -> list[SentenceAttention]:
    """Run `model` over `texts` in padded batches; return each sentence's attention, unpadded."""
    results: list[SentenceAttention | None] = [None] * len(texts)
    # Similar lengths batched together: less padding to compute and throw away.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(texts), batch_size):
            indices = order[start : start + batch_size]
            batch = [texts[i] for i in indices]
            encoding = tokenizer(
                batch,
                is_split_into_words=is_split_into_words,
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            inputs = {k: encoding[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            with torch.no_grad():
                attentions = model(**inputs, output_attentions=True).attentions
            if attentions is None:
                raise ValueError(
                    f"{type(model).__name__} returned no attentions: {NO_ATTENTIONS_HELP}"
                )
            stacked = torch.stack(attentions, dim=1).float().numpy()  # [batch, L, H, n, n]
            lengths = encoding["attention_mask"].sum(dim=1).tolist()
            for row, (index, length) in enumerate(zip(indices, lengths)):
                ids = encoding["input_ids"][row, :length].tolist()
                results[index] = SentenceAttention(
                    weights=stacked[row, :, :, :length, :length],
                    tokens=tokenizer.convert_ids_to_tokens(ids),
                    word_ids=list(encoding.word_ids(row))[:length],
                )
    finally:
        model.train(was_training)
    return results


def attention_entropy(weights: np.ndarray) -> np.ndarray:
    """Entropy (nats) of every attention row: `[..., n, n] -> [..., n]`. Uniform over n is log n."""
    safe = np.where(weights > 0, weights, 1.0)
    return -(weights * np.log(safe)).sum(axis=-1)


def head_statistics(sentences: Sequence[SentenceAttention]) -> dict[str, np.ndarray]:
    """Per-head averages `[layers, heads]` over every attending token of every sentence.

    - "[CLS]", "[SEP]", "punctuation": attention mass on those tokens;
    - "previous", "next", "itself": weight on the token one before / after / itself;
    - "entropy": how spread out a head's attention is (nats; 0 = one token).
    """
    if not sentences:
        raise ValueError("head_statistics needs at least one sentence")
    totals: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}

    def add(name: str, per_query: np.ndarray) -> None:
        # per_query: [layers, heads, queries]
        totals[name] = totals.get(name, 0) + per_query.sum(axis=-1)
        counts[name] = counts.get(name, 0) + per_query.shape[-1]

    for sentence in sentences:
        w = sentence.weights
        n = w.shape[-1]
        tokens = np.array(sentence.tokens)
        add("[CLS]", w[..., :, tokens == "[CLS]"].sum(-1))
        add("[SEP]", w[..., :, tokens == "[SEP]"].sum(-1))
        add("punctuation", w[..., :, np.isin(tokens, list(PUNCTUATION))].sum(-1))
        positions = np.arange(n)
        add("itself", w[..., positions, positions])
        add("previous", w[..., positions[1:], positions[1:] - 1])
        add("next", w[..., positions[:-1], positions[:-1] + 1])
        add("entropy", attention_entropy(w))
    return {name: totals[name] / counts[name] for name in totals}


def word_attention(weights: np.ndarray, word_ids: Sequence[int | None]) -> np.ndarray:
    """Word-to-word attention `[..., words, words]` from word-piece attention.

    As in Clark et al.: attention *to* a word is the sum over its pieces, attention
    *from* a word the mean over its pieces; [CLS]/[SEP] (word id None) are dropped.
    """
    ids = np.array([-1 if w is None else w for w in word_ids])
    n_words = ids.max() + 1
    if n_words <= 0:
        raise ValueError("word_ids has no words (only special tokens)")
    one_hot = (ids[:, None] == np.arange(n_words)[None, :]).astype(weights.dtype)  # [n, W]
    summed_keys = weights @ one_hot  # [..., n, W]
    means = one_hot / one_hot.sum(axis=0, keepdims=True)
    return np.swapaxes(np.swapaxes(summed_keys, -1, -2) @ means, -1, -2)


# ------------------------------------------------------------ a syntax probe


@dataclass
class TaggedSentence:
    """Words with their part-of-speech and chunk tags (CoNLL-2003 columns 1-3)."""

    words: list[str]
    pos: list[str]
    chunks: list[str]


def read_pos_chunks(path: str | Path) -> list[TaggedSentence]:
    """Read the `word POS chunk NER` columns of a CoNLL-2003 file (documents and NER ignored)."""
    sentences: list[TaggedSentence] = []
    words: list[str] = []
    pos: list[str] = []
    chunks: list[str] = []
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields or fields[0] == "-DOCSTART-":
                if words:
                    sentences.append(TaggedSentence(words, pos, chunks))
                    words, pos, chunks = [], [], []
                continue
            if len(fields) != 4:
                raise ValueError(
                    f"{path}:{number}: expected 4 columns (word POS chunk NER): {line!r}"
                )
            words.append(fields[0])
            pos.append(fields[1])
            chunks.append(fields[2])
    if words:
        sentences.append(TaggedSentence(words, pos, chunks))
    return sentences


def noun_phrases(chunks: Sequence[str]) -> list[tuple[int, int]]:
    """(first, last) word index of every NP chunk; IOB1 and IOB2 chunk tags both work."""
    spans = []
    start = None
    for i, tag in enumerate(list(chunks) + ["O"]):
        kind = tag[2:] if tag != "O" else None
        begins = tag.startswith("B-") or (
            tag.startswith("I-") and (i == 0 or chunks[i - 1][2:] != kind)
        )
        if start is not None and (begins or kind != "NP"):
            spans.append((start, i - 1))
            start = None
        if kind == "NP" and (begins or start is None):
            start = i
    return spans


def determiner_noun_pairs(sentence: TaggedSentence) -> list[tuple[int, int]]:
    """(determiner, noun) word pairs: a DT inside an NP chunk and the chunk's last word, a noun.

    The last word of an English noun phrase is usually its head noun ("the
    quick brown *fox*"); this approximates the dependency relation `det`.
    """
    pairs = []
    for first, last in noun_phrases(sentence.chunks):
        if not sentence.pos[last].startswith("NN"):
            continue
        for i in range(first, last):
            if sentence.pos[i] == "DT":
                pairs.append((i, last))
    return pairs


def relation_accuracy(
    word_weights: Sequence[np.ndarray], pairs: Sequence[Sequence[tuple[int, int]]]
) -> np.ndarray:
    """Per head `[layers, heads]`: how often the `source` word attends most to its `target`.

    `word_weights[s]` is sentence s's `[layers, heads, W, W]` word attention and
    `pairs[s]` its (source, target) word pairs. The source word itself is left
    out of the argmax (a head that looks at the word itself says nothing here).
    """
    hits, total = 0, 0
    for weights, sentence_pairs in zip(word_weights, pairs):
        for source, target in sentence_pairs:
            row = weights[..., source, :].copy()
            row[..., source] = -np.inf
            hits = hits + (row.argmax(axis=-1) == target)
            total += 1
    if total == 0:
        raise ValueError("no (source, target) pairs to score")
    return hits / total


def offset_baseline(pairs: Sequence[Sequence[tuple[int, int]]], max_offset: int = 5):
    """The best fixed-offset guess (target = source + k) and how often it is right."""
    flat = [(s, t) for sentence_pairs in pairs for s, t in sentence_pairs]
    scores = {
        k: np.mean([t - s == k for s, t in flat])
        for k in range(-max_offset, max_offset + 1)
        if k != 0
    }
    best = max(scores, key=scores.get)
    return best, float(scores[best])
