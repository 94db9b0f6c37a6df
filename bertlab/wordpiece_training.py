"""Learning a WordPiece vocabulary from a corpus, from scratch (Notebook 05 trains one; 09 uses it).

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

from bertlab.tokenization import SPECIAL_TOKENS, BasicTokenizer

_NON_SPACE = re.compile(r"\S+")


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
    `count_words`) to skip counting. Save with ``"\\n".join(vocab)`` into ``vocab.txt``; both
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
    for char in alphabet:
        vocab.append(char)
    for char in alphabet:
        vocab.append("##" + char)
    known = set(vocab)

    words = sorted(counts)  # a fixed order makes the result deterministic
    frequency = [counts[word] for word in words]
    split = [[word[0]] + ["##" + char for char in word[1:]] for word in words]

    symbol_count: Counter = Counter()
    pair_count: Counter = Counter()
    where: dict[tuple[str, str], set[int]] = defaultdict(set)
    pairs_of: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for index, symbols in enumerate(split):
        f = frequency[index]
        for symbol in symbols:
            symbol_count[symbol] += f
        for pair in zip(symbols, symbols[1:]):
            pair_count[pair] += f
            where[pair].add(index)
    for pair, count in pair_count.items():
        if count >= min_pair_frequency:
            pairs_of[pair[0]].add(pair)
            pairs_of[pair[1]].add(pair)
    log, heappush = math.log, heapq.heappush

    total = sum(symbol_count.values())

    def score(pair: tuple[str, str]) -> float:
        joint = pair_count[pair]
        return joint * math.log(joint * total / (symbol_count[pair[0]] * symbol_count[pair[1]]))

    heap = [
        (-score(pair), pair) for pair, count in pair_count.items() if count >= min_pair_frequency
    ]
    heapq.heapify(heap)

    while len(vocab) < vocab_size and heap:
        negative_score, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) < min_pair_frequency or -negative_score != score(pair):
            continue  # stale entry: a fresher one was pushed when the counts changed
        a, b = pair
        merged = _merge_symbols(a, b)
        changed_pairs: set[tuple[str, str]] = set()
        for index in list(where.pop(pair, ())):
            symbols = split[index]
            if len(symbols) < 2:
                continue
            f = frequency[index]
            old_pairs = list(zip(symbols, symbols[1:]))
            if pair not in old_pairs:
                continue
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
                pair_count[old] -= f
                changed_pairs.add(old)
            for symbol in symbols:
                symbol_count[symbol] -= f
            for symbol in new_symbols:
                symbol_count[symbol] += f
            for new in zip(new_symbols, new_symbols[1:]):
                pair_count[new] += f
                where[new].add(index)
                changed_pairs.add(new)
            split[index] = new_symbols
        if merged not in known:
            vocab.append(merged)
            known.add(merged)
        # Every pair whose count, or whose symbols' counts, changed gets its new score pushed.
        # (pairs_of only tracks pairs frequent enough to be merged.)
        for symbol in (a, b):
            live = {p for p in pairs_of[symbol] if pair_count.get(p, 0) >= min_pair_frequency}
            pairs_of[symbol] = live
            changed_pairs.update(live)
        for changed in changed_pairs:
            count = pair_count.get(changed, 0)
            if count <= 0:
                pair_count.pop(changed, None)
            elif count >= min_pair_frequency:
                left, right = changed
                pairs_of[left].add(changed)
                pairs_of[right].add(changed)
                gain = count * log(count * total / (symbol_count[left] * symbol_count[right]))
                heappush(heap, (-gain, changed))
        for symbol in (a, b):
            if symbol_count[symbol] <= 0:
                pairs_of.pop(symbol, None)
        if len(heap) > 4 * len(pair_count) + 50_000:  # mostly stale entries: rebuild
            heap = [(-score(p), p) for p, c in pair_count.items() if c >= min_pair_frequency]
            heapq.heapify(heap)
    return vocab


def save_vocab(vocab: list[str], path) -> None:
    """Write one token a line (the vocab.txt format)."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(token + "\n" for token in vocab))
