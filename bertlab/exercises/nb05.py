"""Checkers of notebook 05 (tokenization).

The references are written here from the notebook's own building blocks and checked against
`bertlab.tokenization` (itself identical to Hugging Face's tokenizer); the texts are in
texts/nb05.toml, the solutions in solutions/05_tokenization_solutions.ipynb.
"""

from __future__ import annotations

import unicodedata

CASED_TEXTS = [
    "Café Ærøskøbing, naïve!",
    "Dvořák's «Nový svět» premièred in NEW YORK, 1893.",
    "BERT（双向编码器表示）由谷歌于2018年发布。",
    "Tab\there,\nnew line,\u00a0no-break\u200bzero\ufffdwidth\x00!",
    "Don't SHOUT: it's $3.50 + tax (20%)...",
]

# --- 05.1: a cased basic tokenizer ------------------------------------------------------------


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(
        low <= code <= high
        for low, high in [
            (0x4E00, 0x9FFF),
            (0x3400, 0x4DBF),
            (0x20000, 0x2A6DF),
            (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F),
            (0x2B820, 0x2CEAF),
            (0xF900, 0xFAFF),
            (0x2F800, 0x2FA1F),
        ]
    )


def _is_punctuation(char: str) -> bool:
    return (char.isascii() and not char.isalnum() and not char.isspace()) or (
        unicodedata.category(char).startswith("P")
    )


def _clean(char: str) -> str:
    if char in "\x00\ufffd":
        return ""
    if char in "\t\n\r" or unicodedata.category(char) == "Zs":
        return " "
    if unicodedata.category(char) in ("Cc", "Cf", "Co"):
        return ""
    return char


def _split(text: str) -> list[str]:
    words, current = [], ""
    for char in text:
        if char == " " or _is_cjk(char) or _is_punctuation(char):
            words.append(current)
            current = ""
            if char != " ":
                words.append(char)
        else:
            current += char
    words.append(current)
    return [word for word in words if word]


def basic_tokenize_cased(text: str) -> list[str]:
    return _split("".join(_clean(char) for char in text))


def lower_cased_anyway(text: str) -> list[str]:
    return basic_tokenize_cased(text.lower())


def accents_stripped(text: str) -> list[str]:
    decomposed = unicodedata.normalize("NFD", text)
    return basic_tokenize_cased("".join(c for c in decomposed if unicodedata.category(c) != "Mn"))


def whitespace_only(text: str) -> list[str]:
    return text.split()


# --- 05.2: words back from pieces -------------------------------------------------------------


def merge_pieces(tokens: list[str]) -> list[str]:
    words: list[str] = []
    for token in tokens:
        if token.startswith("##") and words:
            words[-1] += token[2:]
        else:
            words.append(token)
    return words


def hashes_stripped(tokens: list[str]) -> list[str]:
    return [token.removeprefix("##") for token in tokens]


def pieces_dropped(tokens: list[str]) -> list[str]:
    return [token for token in tokens if not token.startswith("##")]


def _minilm_tokenizer():
    from bertlab.hub import minilm_dir
    from bertlab.tokenization import BertTokenizer

    return BertTokenizer.from_pretrained(minilm_dir())


def piece_inputs():
    tokenizer = _minilm_tokenizer()
    texts = [
        "Tokenization is unbelievably fun!",
        "electroencephalography, hyperparameters and lol",
        "Who wrote Hamlet?",
    ]
    cases = [(tokenizer.tokenize(text),) for text in texts]
    cases.append((tokenizer.convert_ids_to_tokens(tokenizer(texts[0])["input_ids"]),))
    cases.append(([],))
    return cases


# --- 05.3: a sentence pair by hand ------------------------------------------------------------


def encode_pair(pieces_a, pieces_b, vocab):
    tokens = ["[CLS]", *pieces_a, "[SEP]", *pieces_b, "[SEP]"]
    types = [0] * (len(pieces_a) + 2) + [1] * (len(pieces_b) + 1)
    return [vocab[token] for token in tokens], types


def last_sep_in_segment_a(pieces_a, pieces_b, vocab):
    ids, types = encode_pair(pieces_a, pieces_b, vocab)
    return ids, types[:-1] + [0]


def cls_at_the_end(pieces_a, pieces_b, vocab):
    tokens = [*pieces_a, "[SEP]", *pieces_b, "[SEP]", "[CLS]"]
    types = [0] * (len(pieces_a) + 1) + [1] * (len(pieces_b) + 2)
    return [vocab[token] for token in tokens], types


def pair_inputs():
    tokenizer = _minilm_tokenizer()
    pairs = [
        ("Where was the match played?", "The final was played at Wembley Stadium in London."),
        ("Who won?", "Arsenal won 2-1."),
        ("Is it raining?", "No."),
    ]
    return [(tokenizer.tokenize(a), tokenizer.tokenize(b), tokenizer.vocab) for a, b in pairs]
