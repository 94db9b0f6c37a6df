"""Learning a WordPiece vocabulary from a corpus, from scratch (notebook 05 trains one; 09 uses it).

The recipe (Schuster & Nakajima's WordPiece, as described for BERT):

1. Split the corpus into words with BERT's basic tokenizer and COUNT them: all later work is
   on the word-frequency table, never on the text again.
2. Start from single characters: the first character of a word as itself, the others with the
   ``##`` continuation prefix (``hug`` -> ``h ##u ##g``). These form the initial vocabulary.
3. Repeatedly merge the adjacent pair whose merge raises the corpus likelihood under a
   unigram model of the pieces the most, ``count(ab) * log(count(ab) * N / (count(a) *
   count(b)))`` with N the number of symbols (held at its starting value), add the merged
   symbol to the vocabulary, until the vocabulary has `vocab_size` entries.

The often-quoted shortcut ``count(ab) / (count(a) * count(b))`` drops the leading ``count(ab)``:
it only measures how rarely the parts appear apart, so it spends the vocabulary on rare words
(on War and Peace + WikiText it never learns ``the`` in 8,000 entries, and held-out words need
about 2.5 pieces instead of 1.2). Notebook 05 shows the difference.

Hugging Face's ``WordPieceTrainer`` instead merges the most FREQUENT pair (BPE's rule) and keeps
the ``##`` prefix; notebook 05 compares the two vocabularies. The scores are kept in a heap with
lazy invalidation: whenever a pair's count or one of its symbols' counts changes, its new score
is pushed and stale heap entries are skipped when popped.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from bertlab.tokenization.basic import SPECIAL_TOKENS, BasicTokenizer

_NON_SPACE = re.compile(r"\S+")

Pair = tuple[str, str]


def count_words(
    texts: Iterable[str], do_lower_case: bool = True, max_word_chars: int = 100
) -> Counter:
    """Word frequencies after BERT's basic tokenization (whitespace chunks counted first)."""
    chunks: Counter = Counter()
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"texts must be strings, got {type(text).__name__}")
        chunks.update(_NON_SPACE.findall(text))
    basic = BasicTokenizer(do_lower_case=do_lower_case)
    words: Counter = Counter()
    for chunk, count in chunks.items():
        for word in basic.tokenize(chunk):
            if len(word) <= max_word_chars:
                words[word] += count
    return words


def _merge_symbols(a: str, b: str) -> str:
    return a + (b[2:] if b.startswith("##") else b)


class _PairStatistics:
    """The corpus as symbol sequences, with the counts and the heap of pair scores.

    `best_pair` pops the highest-scoring pair (ties: the alphabetically first); `merge`
    rewrites every word that holds it and pushes the new score of every pair it touched.
    """

    def __init__(self, counts: Counter, min_pair_frequency: int) -> None:
        self.min_frequency = min_pair_frequency
        words = sorted(counts)  # a fixed order makes the result deterministic
        self.frequency = [counts[word] for word in words]
        self.split = [[word[0]] + ["##" + char for char in word[1:]] for word in words]
        self.symbol_count: Counter = Counter()
        self.pair_count: Counter = Counter()
        self.where: dict[Pair, set[int]] = defaultdict(set)  # the words that hold a pair
        self.pairs_of: dict[str, set[Pair]] = defaultdict(set)  # mergeable pairs of a symbol
        for index, symbols in enumerate(self.split):
            f = self.frequency[index]
            for symbol in symbols:
                self.symbol_count[symbol] += f
            for pair in zip(symbols, symbols[1:]):
                self.pair_count[pair] += f
                self.where[pair].add(index)
        for pair, count in self.pair_count.items():
            if count >= min_pair_frequency:
                self.pairs_of[pair[0]].add(pair)
                self.pairs_of[pair[1]].add(pair)
        self.total = sum(self.symbol_count.values())
        self._rebuild_heap()

    def score(self, pair: Pair) -> float:
        joint = self.pair_count[pair]
        parts = self.symbol_count[pair[0]] * self.symbol_count[pair[1]]
        return joint * math.log(joint * self.total / parts)

    def _rebuild_heap(self) -> None:
        self.heap = [
            (-self.score(pair), pair)
            for pair, count in self.pair_count.items()
            if count >= self.min_frequency
        ]
        heapq.heapify(self.heap)

    def best_pair(self) -> Pair | None:
        """The pair to merge next, or None when no pair is frequent enough."""
        while self.heap:
            negative_score, pair = heapq.heappop(self.heap)
            if self.pair_count.get(pair, 0) >= self.min_frequency and -negative_score == self.score(
                pair
            ):
                return pair
            # else a stale entry: a fresher one was pushed when the counts changed
        return None

    def _merge_in_word(self, index: int, a: str, b: str, merged: str, changed: set[Pair]) -> None:
        """Rewrite word `index` with every ``a b`` replaced by `merged`, updating the counts."""
        symbols = self.split[index]
        old_pairs = list(zip(symbols, symbols[1:]))
        if len(symbols) < 2 or (a, b) not in old_pairs:
            return
        f = self.frequency[index]
        new_symbols: list[str] = []
        position = 0
        while position < len(symbols):
            if (
                position + 1 < len(symbols)
                and symbols[position] == a
                and symbols[position + 1] == b
            ):
                new_symbols.append(merged)
                position += 2
            else:
                new_symbols.append(symbols[position])
                position += 1
        for old in old_pairs:
            self.pair_count[old] -= f
            changed.add(old)
        for symbol in symbols:
            self.symbol_count[symbol] -= f
        for symbol in new_symbols:
            self.symbol_count[symbol] += f
        for new in zip(new_symbols, new_symbols[1:]):
            self.pair_count[new] += f
            self.where[new].add(index)
            changed.add(new)
        self.split[index] = new_symbols

    def merge(self, pair: Pair) -> str:
        """Merge `pair` everywhere; returns the merged symbol."""
        a, b = pair
        merged = _merge_symbols(a, b)
        changed: set[Pair] = set()
        for index in list(self.where.pop(pair, ())):
            self._merge_in_word(index, a, b, merged, changed)
        # Every pair whose count, or whose symbols' counts, changed gets its new score pushed.
        # (pairs_of only tracks pairs frequent enough to be merged.)
        for symbol in (a, b):
            live = {
                p for p in self.pairs_of[symbol] if self.pair_count.get(p, 0) >= self.min_frequency
            }
            self.pairs_of[symbol] = live
            changed.update(live)
        for pair_changed in changed:
            count = self.pair_count.get(pair_changed, 0)
            if count <= 0:
                self.pair_count.pop(pair_changed, None)
            elif count >= self.min_frequency:
                left, right = pair_changed
                self.pairs_of[left].add(pair_changed)
                self.pairs_of[right].add(pair_changed)
                heapq.heappush(self.heap, (-self.score(pair_changed), pair_changed))
        for symbol in (a, b):
            if self.symbol_count[symbol] <= 0:
                self.pairs_of.pop(symbol, None)
        if len(self.heap) > 4 * len(self.pair_count) + 50_000:  # mostly stale entries
            self._rebuild_heap()
        return merged


def train_wordpiece_vocab(
    texts: Iterable[str],
    vocab_size: int = 8000,
    *,
    do_lower_case: bool = True,
    min_pair_frequency: int = 2,
    special_tokens: Iterable[str] = SPECIAL_TOKENS,
    max_word_chars: int = 100,
    word_counts: Counter | None = None,
) -> list[str]:
    """Learn a WordPiece vocabulary: special tokens, every character (both as a word start and
    as a ``##`` continuation), then merged pieces in the order they were learnt.

    Deterministic: ties between equal scores go to the alphabetically first pair. Pairs seen
    fewer than `min_pair_frequency` times are never merged. Pass `word_counts` (from
    `count_words`) to skip counting. Save with `save_vocab` into ``vocab.txt``; both
    ``BertTokenizer.from_pretrained`` and ``transformers`` load it.
    """
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    counts = (
        word_counts
        if word_counts is not None
        else count_words(texts, do_lower_case, max_word_chars)
    )
    vocab: list[str] = list(dict.fromkeys(special_tokens))
    alphabet = sorted({char for word in counts for char in word})
    vocab += alphabet + ["##" + char for char in alphabet]
    known = set(vocab)
    statistics = _PairStatistics(counts, min_pair_frequency)
    while len(vocab) < vocab_size:
        pair = statistics.best_pair()
        if pair is None:
            break
        merged = statistics.merge(pair)
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
    return vocab


def save_vocab(vocab: list[str], path) -> None:
    """Write one token a line (the vocab.txt format)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(token + "\n" for token in vocab))
