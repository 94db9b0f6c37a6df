"""BatchEncoding's alignment methods against transformers' fast tokenizer, on real text.

``token_to_word``, ``token_to_sequence``, ``token_to_chars``, ``word_to_tokens``,
``word_to_chars``, ``char_to_token`` and ``char_to_word``: every token, word and character
index of every row (and a few past the end), both call forms (``f(i)`` and ``f(batch, i)``),
sequence index 0, 1 and 2, for SQuAD question/context windows (left-padded), pre-split WNUT-17
tweets, SST-2 sentences and pairs without special tokens.
"""

from __future__ import annotations

import csv
import json
import os

import pytest

from bertlab.tokenization import BertTokenizer, CharSpan, TokenSpan

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def hf(minilm_path):
    return transformers.BertTokenizerFast.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def tok(minilm_path):
    return BertTokenizer.from_pretrained(minilm_path)


@pytest.fixture(scope="module")
def sst2_dev(real_data):
    with open(real_data / "sst2" / "dev.tsv", encoding="utf-8", newline="") as handle:
        return [row["sentence"] for row in csv.DictReader(handle, delimiter="\t")]


@pytest.fixture(scope="module")
def squad_pairs(real_data):
    squad = json.loads((real_data / "squad_v1.1" / "dev.json").read_text(encoding="utf-8"))
    paragraphs = squad["data"][1]["paragraphs"][:3]
    return [qa["question"] for p in paragraphs for qa in p["qas"][:2]], [
        p["context"] for p in paragraphs for _ in p["qas"][:2]
    ]


@pytest.fixture(scope="module")
def tweets(real_data):
    sentences, words = [], []
    path = real_data / "wnut17" / "emerging.dev.conll"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            words.append(line.split("\t")[0])
        elif words:
            sentences.append(words)
            words = []
    return sentences[:40]


def reference_word_to_chars(theirs, *args):
    try:
        return theirs.word_to_chars(*args)
    except TypeError:  # transformers 5.23 calls CharSpan(*None) when the word has no tokens
        return None


def assert_alignment_identical(mine, theirs, n_chars: int, char_step: int = 1) -> int:
    """Compare every alignment method on every index; returns the number of comparisons."""
    checks = 0
    for row in range(len(theirs["input_ids"])):
        n_tokens = len(theirs["input_ids"][row])
        for token in range(n_tokens + 2):
            for method in ("token_to_word", "token_to_sequence", "token_to_chars"):
                expected = getattr(theirs, method)(row, token)
                assert getattr(mine, method)(row, token) == expected, (method, row, token)
                if row == 0:
                    assert getattr(mine, method)(token) == getattr(theirs, method)(token)
                checks += 1
        # Negative token indexes count from the end (transformers 5.23 crashes on them).
        assert mine.token_to_word(row, -1) == mine.token_to_word(row, n_tokens - 1)
        words = [w for w in theirs.word_ids(row) if w is not None]
        for sequence in (0, 1, 2):
            for word in range(max(words, default=0) + 2):
                span = mine.word_to_tokens(row, word, sequence)
                assert span == theirs.word_to_tokens(row, word, sequence), (row, word, sequence)
                assert span is None or type(span) is TokenSpan
                chars = mine.word_to_chars(row, word, sequence)
                assert chars == reference_word_to_chars(theirs, row, word, sequence)
                assert chars is None or type(chars) is CharSpan
                checks += 2
            for char in range(0, n_chars + 2, char_step):
                for method in ("char_to_token", "char_to_word"):
                    expected = getattr(theirs, method)(row, char, sequence)
                    assert getattr(mine, method)(row, char, sequence) == expected, (
                        method,
                        row,
                        char,
                        sequence,
                    )
                    checks += 1
    return checks


def test_squad_windows_left_padded(tok, hf, squad_pairs):
    questions, contexts = squad_pairs
    kwargs = {
        "truncation": "only_second",
        "max_length": 96,
        "stride": 24,
        "return_overflowing_tokens": True,
        "padding": True,
        "padding_side": "left",
    }
    mine, theirs = tok(questions, contexts, **kwargs), hf(questions, contexts, **kwargs)
    assert len(theirs["input_ids"]) > len(questions)
    longest = max(len(text) for text in contexts)
    assert assert_alignment_identical(mine, theirs, longest, char_step=3) > 10_000


def test_pre_split_tweets_with_and_without_special_tokens(tok, hf, tweets):
    longest = max(len(word) for words in tweets for word in words)
    for add_special_tokens in (True, False):
        kwargs = {"is_split_into_words": True, "padding": True}
        kwargs["add_special_tokens"] = add_special_tokens
        mine, theirs = tok(tweets, **kwargs), hf(tweets, **kwargs)
        assert_alignment_identical(mine, theirs, longest)


def test_sentences_pairs_and_singles(tok, hf, sst2_dev):
    texts, pairs = sst2_dev[:15], sst2_dev[15:30]
    longest = max(len(text) for text in texts + pairs)
    for inputs, kwargs in (
        ((texts,), {"padding": True}),
        ((texts, pairs), {"add_special_tokens": False, "padding": True}),
        ((texts, pairs), {"truncation": "longest_first", "max_length": 16}),
        ((["", "", texts[0]], ["", pairs[0], ""]), {}),
    ):
        mine, theirs = tok(*inputs, **kwargs), hf(*inputs, **kwargs)
        assert assert_alignment_identical(mine, theirs, longest) > 0
    single, reference = tok(texts[0]), hf(texts[0])  # one text, not a batch
    for token in range(len(reference["input_ids"])):
        assert single.token_to_chars(token) == reference.token_to_chars(token)
    assert single.char_to_word(3) == reference.char_to_word(3)
    assert single.n_sequences == reference.n_sequences == 1
    assert tok(texts[0], pairs[0]).n_sequences == 2


def test_alignment_errors_are_clear(tok, sst2_dev):
    encoding = tok(sst2_dev[:2])
    with pytest.raises(IndexError, match="batch index 5 is out of range for 2 row"):
        encoding.token_to_word(5, 0)
    with pytest.raises(ValueError, match="word index -1 is negative"):
        encoding.word_to_tokens(0, -1)
    with pytest.raises(ValueError, match="char index -2 is negative"):
        encoding.char_to_token(0, -2)
    with pytest.raises(ValueError, match="sequence_index=-1"):
        encoding.char_to_token(0, 0, -1)
    padded = tok.pad(dict(encoding))  # as in Hugging Face, pad() keeps no alignment
    with pytest.raises(ValueError, match="word_ids.*pad"):
        padded.word_ids(0)
