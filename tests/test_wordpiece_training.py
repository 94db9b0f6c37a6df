"""The from-scratch WordPiece vocabulary learner (bertlab.wordpiece_training)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from bertlab.tokenization import SPECIAL_TOKENS, BertTokenizer, train_wordpiece_vocab
from bertlab.wordpiece_training import count_words, save_vocab

TOY = [
    "the cat sat on the mat with the hat",
    "that hat is the best hat, the cat thinks",
    "hugging huggable hugs: the hug that hugs back!",
    "Café, CAFÉ and café are one word after lower-casing and accent stripping.",
] * 3


def naive_train(counts: Counter, vocab_size: int, min_pair_frequency: int = 2) -> list[str]:
    """The textbook loop: rescore every pair after every merge (slow, obviously right)."""
    vocab = list(SPECIAL_TOKENS)
    alphabet = sorted({c for w in counts for c in w})
    vocab += alphabet + ["##" + c for c in alphabet]
    splits = {w: [w[0]] + ["##" + c for c in w[1:]] for w in sorted(counts)}
    total = sum(len(s) * counts[w] for w, s in splits.items())
    while len(vocab) < vocab_size:
        symbols, pairs = Counter(), Counter()
        for w, s in splits.items():
            for x in s:
                symbols[x] += counts[w]
            for p in zip(s, s[1:]):
                pairs[p] += counts[w]
        eligible = [p for p, c in pairs.items() if c >= min_pair_frequency]
        if not eligible:
            break

        def key(p, pairs=pairs, symbols=symbols):
            c = pairs[p]
            return (-(c * math.log(c * total / (symbols[p[0]] * symbols[p[1]]))), p)

        a, b = min(eligible, key=key)
        merged = a + (b[2:] if b.startswith("##") else b)
        for w, s in splits.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            splits[w] = out
        if merged not in vocab:
            vocab.append(merged)
    return vocab


def test_matches_the_naive_textbook_loop():
    counts = count_words(TOY)
    assert train_wordpiece_vocab(TOY, 120) == naive_train(counts, 120)


def test_matches_naive_loop_on_real_prose(real_data):
    text = (real_data / "corpus" / "war_and_peace.txt").read_text(encoding="utf-8")[:30_000]
    lines = text.splitlines()
    counts = count_words(lines)
    assert train_wordpiece_vocab(lines, 250) == naive_train(counts, 250)


@pytest.fixture(scope="module")
def prose_vocab(real_data):
    text = (real_data / "corpus" / "war_and_peace.txt").read_text(encoding="utf-8")
    lines = text.splitlines()[:8_000]
    return lines, train_wordpiece_vocab(lines, 1500)


def test_deterministic_and_complete(prose_vocab):
    lines, vocab = prose_vocab
    assert len(vocab) == 1500
    assert len(set(vocab)) == len(vocab)
    assert vocab[:5] == list(SPECIAL_TOKENS)
    assert train_wordpiece_vocab(lines, 1500) == vocab
    characters = {c for word in count_words(lines) for c in word}
    for c in characters:
        assert c in vocab and "##" + c in vocab, c


def test_every_training_word_round_trips(prose_vocab, tmp_path):
    lines, vocab = prose_vocab
    save_vocab(vocab, tmp_path / "vocab.txt")
    tok = BertTokenizer.from_pretrained(tmp_path / "vocab.txt")
    for word in count_words(lines):
        pieces = tok.wordpiece.tokenize(word)
        assert "[UNK]" not in pieces, word
        assert pieces[0] + "".join(p[2:] for p in pieces[1:]) == word
        assert all(p.startswith("##") for p in pieces[1:])


def test_learnt_vocab_loads_in_transformers_identically(prose_vocab, tmp_path):
    transformers = pytest.importorskip("transformers")
    lines, vocab = prose_vocab
    tok = BertTokenizer(vocab)
    tok.save_pretrained(tmp_path)
    reference = transformers.AutoTokenizer.from_pretrained(tmp_path)
    sample = lines[-400:]
    kwargs = {"return_offsets_mapping": True}
    mine, theirs = tok(sample, **kwargs), reference(sample, **kwargs)
    assert mine["input_ids"] == theirs["input_ids"]
    assert mine["offset_mapping"] == [[tuple(p) for p in row] for row in theirs["offset_mapping"]]


def test_close_to_the_tokenizers_trainer(prose_vocab):
    tokenizers = pytest.importorskip("tokenizers")
    lines, vocab = prose_vocab
    trainer = tokenizers.BertWordPieceTokenizer(lowercase=True)
    trainer.train_from_iterator(lines, vocab_size=1500, show_progress=False)
    theirs = set(trainer.get_vocab())
    overlap = len(theirs & set(vocab)) / len(theirs)
    assert overlap > 0.6, overlap


def test_bad_input():
    with pytest.raises(ValueError, match="vocab_size"):
        train_wordpiece_vocab(TOY, 0)
    with pytest.raises(TypeError, match="int"):
        train_wordpiece_vocab(["fine", 3], 100)
