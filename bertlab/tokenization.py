"""BERT's tokenizer from scratch: basic tokenizer, WordPiece and the model-ready encoder.

Notebook 05 builds each stage step by step and checks it against the Hugging Face fast
tokenizer. The pipeline for one string is:

1. **Special tokens** written in the text (``[MASK]``, ``[SEP]``, ...) are cut out first and
   kept whole, exactly as the Hugging Face tokenizer does with its "added tokens".
2. **Cleaning**: NUL, U+FFFD and control/format characters are dropped; every whitespace
   character becomes a plain space.
3. **CJK**: each Chinese/Japanese/Korean ideograph gets spaces around it, so it is a word.
4. **Accents and case** (uncased models): NFD decomposition (with its canonical reordering of
   stacked combining marks), non-spacing marks (Mn) dropped, then lower-casing one character
   at a time. (Google lower-cases before NFD, Hugging Face after; we follow Hugging Face.)
5. **Splitting**: on whitespace, and every punctuation character becomes its own word.
6. **WordPiece**: each word is split greedily, longest vocabulary match first, later pieces
   carrying the ``##`` prefix; a word with no split, or longer than
   ``max_input_chars_per_word`` characters, becomes ``[UNK]``.

Every produced character remembers the original character it came from, so offsets always
point into the ORIGINAL string, through accent stripping and lower-casing.

**Max characters per word.** We follow the Hugging Face limit of 100 characters (Google's
``tokenization.py`` uses 200) because parity is measured against the Hugging Face tokenizer
that every later notebook compares with; a 101- to 200-character word is ``[UNK]`` for both.

**Unicode tables.** Python 3.11 ships Unicode 14 character data; the Rust ``tokenizers``
library classifies characters with older tables (roughly Unicode 8). To give identical ids we
apply the old classification for the few hundred characters whose category changed or that
were assigned since (the ``_HF_*`` tables below; a test checks every code point). Its
lower-casing, on the other hand, comes from Rust itself and knows the capital letters added in
Unicode 15-16 (``_HF_LOWER``). The Rust library also treats the CJK Extension-E block as
starting at U+2B920 (Google: U+2B820); we follow it.

**Speed.** Text is cut at whitespace into chunks, and each distinct chunk's pieces, offsets and
word numbers are computed once and cached; pure-ASCII chunks take a regular-expression fast
path. ``benchmarks/bench_tokenization.py`` compares tokens per second with the Rust tokenizer.
"""

from __future__ import annotations

import functools
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# --- character classes -------------------------------------------------------------------


def _ranges(spec: str) -> frozenset[int]:
    """Parse "61d 9fd 2e43-2e4f" into the set of code points it names."""
    points: set[int] = set()
    for item in spec.split():
        low, _, high = item.partition("-")
        points.update(range(int(low, 16), int(high or low, 16) + 1))
    return frozenset(points)


# Characters that Unicode 14 calls non-spacing marks but the Rust tables do not (kept, not
# stripped), and one the Rust tables still call a non-spacing mark (U+1734, now Mc).
_HF_NOT_MN = _ranges(
    "7fd 898-89f 8ca-8e1 9fe afa-aff b55 c04 c3c d00 d3b-d3c d81 eba 180f 1885-1886 1abf-1ace "
    "1df6-1dfb a82c a8c5 a8ff a9bd 10d24-10d27 10eab-10eac 10f46-10f50 10f82-10f85 11070 "
    "11073-11074 110c2 111c9 111cf 1123e 1133b 11438-1143f 11442-11444 11446 1145e 1182f-11837 "
    "11839-1183a 1193b-1193c 1193e 11943 119d4-119d7 119da-119db 119e0 11a01-11a0a 11a33-11a38 "
    "11a3b-11a3e 11a47 11a51-11a56 11a59-11a5b 11a8a-11a96 11a98-11a99 11c30-11c36 11c38-11c3d "
    "11c3f 11c92-11ca7 11caa-11cb0 11cb2-11cb3 11cb5-11cb6 11d31-11d36 11d3a 11d3c-11d3d "
    "11d3f-11d45 11d47 11d90-11d91 11d95 11d97 11ef3-11ef4 16f4f 16fe4 1cf00-1cf2d 1cf30-1cf46 "
    "1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 1e026-1e02a 1e130-1e136 1e2ae 1e2ec-1e2ef "
    "1e944-1e94a"
)
_HF_MN = _ranges("1734")
# Format characters assigned after the Rust tables: kept instead of dropped.
_HF_NOT_CONTROL = _ranges("890-891 8e2 110cd 13430-13438")
# Punctuation assigned (or re-categorised) after the Rust tables, and two the tables still call
# punctuation (U+166D is now So, U+111C9 now Mn).
_HF_NOT_PUNCT = _ranges(
    "61d 9fd a76 c77 c84 1b7d-1b7e 2e43-2e4f 2e52-2e5d 10ead 10f55-10f59 10f86-10f89 "
    "1144b-1144f 1145a-1145b 1145d 11660-1166c 116b9 1183b 11944-11946 119e2 11a3f-11a46 "
    "11a9a-11a9c 11a9e-11aa2 11c41-11c45 11c70-11c71 11ef7-11ef8 11fff 12ff1-12ff2 "
    "16e97-16e9a 16fe2 1e95e-1e95f"
)
_HF_PUNCT = _ranges("166d 111c9")
# A canonical decomposition added after the Rust normalisation tables.
_HF_NO_NFD = _ranges("11938")
# The other way round: capital letters added in Unicode 15-16, which Rust's own (newer)
# lower-casing knows and Python 3.11's does not.
_HF_LOWER = {
    **{
        chr(int(a, 16)): chr(int(b, 16))
        for a, b in (
            pair.split(":")
            for pair in "1c89:1c8a a7cb:264 a7cc:a7cd a7ce:a7cf a7d2:a7d3 a7d4:a7d5 a7da:a7db "
            "a7dc:19b".split()
        )
    },
    **{chr(code): chr(code + 0x20) for code in range(0x10D50, 0x10D66)},
    **{chr(code): chr(code + 0x1B) for code in range(0x16EA0, 0x16EB9)},
}

_ASCII_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_EXTRA_WHITESPACE = "\t\n\r\u2028\u2029"


def is_whitespace(char: str) -> bool:
    """Space separators (Zs), tab, newline, carriage return, line/paragraph separators."""
    return char in _EXTRA_WHITESPACE or unicodedata.category(char) == "Zs"


def is_control(char: str) -> bool:
    """Control, format, private-use and surrogate characters (dropped by cleaning).

    Tab, newline and carriage return count as whitespace instead; unassigned code points
    (Cn) are kept, as the Rust tokenizer keeps them.
    """
    if char in "\t\n\r" or ord(char) in _HF_NOT_CONTROL:
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs")


def is_punctuation(char: str) -> bool:
    """ASCII symbols (``$``, ``+``, ``^``, ... count too) and every Unicode P* character."""
    if char in _ASCII_PUNCT:
        return True
    code = ord(char)
    if code in _HF_PUNCT:
        return True
    return unicodedata.category(char).startswith("P") and code not in _HF_NOT_PUNCT


def is_chinese_char(code: int) -> bool:
    """CJK Unified Ideographs (and extensions, compatibility ideographs): one word each."""
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0x2A700 <= code <= 0x2B73F
        or 0x2B740 <= code <= 0x2B81F
        or 0x2B920 <= code <= 0x2CEAF
        or 0xF900 <= code <= 0xFAFF
        or 0x2F800 <= code <= 0x2FA1F
    )


def _is_nonspacing_mark(char: str) -> bool:
    code = ord(char)
    if code in _HF_MN:
        return True
    return unicodedata.category(char) == "Mn" and code not in _HF_NOT_MN


def _combining_class(char: str) -> int:
    return 0 if ord(char) in _HF_NOT_MN else unicodedata.combining(char)


@functools.lru_cache(maxsize=65536)
def _nfd(char: str) -> str:
    return char if ord(char) in _HF_NO_NFD else unicodedata.normalize("NFD", char)


def _canonical_order(marks: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """NFD's last step: within each run of combining marks, sort stably by combining class.

    Items are (character, inserted-by-decomposition); the flag travels with the character."""
    classes = [_combining_class(char) for char, _ in marks]
    if not any(classes):
        return marks
    ordered, position = [], 0
    while position < len(marks):
        if classes[position] == 0:
            ordered.append(marks[position])
            position += 1
            continue
        end = position
        while end < len(marks) and classes[end]:
            end += 1
        ordered.extend(marks[k] for k in sorted(range(position, end), key=classes.__getitem__))
        position = end
    return ordered


_WHITESPACE_CHARS = _EXTRA_WHITESPACE + "".join(
    chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) == "Zs"
)
# A "chunk" is a maximal run of non-whitespace characters; we cache each chunk's analysis.
_CHUNK = re.compile("[^" + re.escape(_WHITESPACE_CHARS) + "]+")
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_PUNCT_CLASS = "!-/:-@\\[-`{-~"
_ASCII_WORD_OR_PUNCT = re.compile(f"[^{_ASCII_PUNCT_CLASS}]+|[{_ASCII_PUNCT_CLASS}]")


# --- basic tokenizer ---------------------------------------------------------------------


class BasicTokenizer:
    """Cleaning, CJK spacing, accent stripping, lower-casing and punctuation splitting.

    Notebook 05 builds each step on real sentences. `split_with_origins` is the workhorse:
    it returns each word together with, for every character of the word, the index of the
    original character it came from (so offsets survive accent stripping and lower-casing).
    """

    def __init__(
        self,
        do_lower_case: bool = True,
        tokenize_chinese_chars: bool = True,
        strip_accents: bool | None = None,
        never_split: Iterable[str] = (),
    ) -> None:
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        # As in Hugging Face: accents are stripped when asked, or by default when lower-casing.
        self.strip_accents = do_lower_case if strip_accents is None else strip_accents
        self.never_split = tuple(never_split)
        self._special = (
            re.compile("|".join(map(re.escape, sorted(self.never_split, key=len, reverse=True))))
            if self.never_split
            else None
        )
        self._clean_cache: dict[str, str] = {}
        self._finish_cache: dict[str, str] = {}

    def _clean_char(self, char: str) -> str:
        """Cleaning and CJK spacing of one original character."""
        cached = self._clean_cache.get(char)
        if cached is not None:
            return cached
        if char in "\x00\ufffd" or is_control(char):
            result = ""
        elif is_whitespace(char):
            result = " "
        elif self.tokenize_chinese_chars and is_chinese_char(ord(char)):
            result = f" {char} "
        else:
            result = char
        self._clean_cache[char] = result
        return result

    def _finish_char(self, char: str) -> str:
        """Accent dropping and lower-casing of one decomposed character."""
        cached = self._finish_cache.get(char)
        if cached is not None:
            return cached
        result = char
        if self.strip_accents and _is_nonspacing_mark(char):
            result = ""
        elif self.do_lower_case:
            # One character at a time: no final-sigma rule, as in Rust.
            result = _HF_LOWER.get(char) or char.lower()
        self._finish_cache[char] = result
        return result

    def normalize_char(self, char: str) -> str:
        """What one original character becomes: '' (dropped), ' ' (a separator) or text."""
        return "".join(char for char, _ in self.normalized_stream(char))

    def normalized_stream(self, text: str) -> list[tuple[str, int]]:
        """Every normalised character with the index of the original character it came from."""
        stream = [(c, index) for index, char in enumerate(text) for c in self._clean_char(char)]
        if self.strip_accents:
            stream = self._decompose(stream)
        return [(f, index) for c, index in stream for f in self._finish_char(c)]

    @staticmethod
    def _decompose(stream: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """NFD with origins tracked as the Rust library does: a character produced by a
        decomposition is "inserted" (takes the origin of the last consumed character), the
        others consume the input in order, even after canonical reordering moved them."""
        marks: list[tuple[str, bool]] = []
        for char, _ in stream:
            decomposed = _nfd(char)
            marks.append((decomposed[0], False))
            marks.extend((extra, True) for extra in decomposed[1:])
        if len(marks) == len(stream) and not any(unicodedata.combining(c) for c, _ in marks):
            return [(char, origin) for (char, _), (_, origin) in zip(marks, stream)]
        marks = _canonical_order(marks)
        result, consumed = [], 0
        for char, inserted in marks:
            if not inserted:
                consumed += 1
            result.append((char, stream[max(consumed - 1, 0)][1]))
        return result

    def normalize(self, text: str) -> str:
        """The cleaned, CJK-spaced, accent-stripped, lower-cased text (before splitting)."""
        return "".join(char for char, _ in self.normalized_stream(text))

    def split_with_origins(self, text: str) -> list[tuple[str, list[int]]]:
        """Split text (no special tokens inside) into words, each with its origin indices."""
        words: list[tuple[str, list[int]]] = []
        current: list[str] = []
        origins: list[int] = []
        for produced, index in self.normalized_stream(text):
            if produced == " ":
                if current:
                    words.append(("".join(current), origins))
                    current, origins = [], []
            elif is_punctuation(produced):
                if current:
                    words.append(("".join(current), origins))
                    current, origins = [], []
                words.append((produced, [index]))
            else:
                current.append(produced)
                origins.append(index)
        if current:
            words.append(("".join(current), origins))
        return words

    def split_specials(self, text: str) -> list[tuple[int, int, bool]]:
        """(start, end, is_special) segments: `never_split` tokens are cut out whole."""
        if self._special is None or not self._special.search(text):
            return [(0, len(text), False)]
        segments = []
        position = 0
        for match in self._special.finditer(text):
            if match.start() > position:
                segments.append((position, match.start(), False))
            segments.append((match.start(), match.end(), True))
            position = match.end()
        if position < len(text):
            segments.append((position, len(text), False))
        return segments

    def tokenize(self, text: str) -> list[str]:
        """Words and punctuation marks after normalisation (special tokens kept whole)."""
        tokens = []
        for start, end, special in self.split_specials(text):
            if special:
                tokens.append(text[start:end])
            else:
                tokens.extend(word for word, _ in self.split_with_origins(text[start:end]))
        return tokens


# --- WordPiece ---------------------------------------------------------------------------


class WordpieceTokenizer:
    """Greedy longest-match-first WordPiece over a vocabulary (Notebook 05 draws the split).

    `split` returns ``(piece, start, end)`` with character positions inside the word; a word
    longer than `max_input_chars_per_word` characters, or one with no complete split, is a
    single `unk_token` covering the whole word.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        unk_token: str = "[UNK]",
        max_input_chars_per_word: int = 100,
        prefix: str = "##",
    ) -> None:
        self.vocab = vocab
        self.unk_token = unk_token
        self.max_input_chars_per_word = max_input_chars_per_word
        self.prefix = prefix
        self.longest_piece = max((len(token) for token in vocab), default=1)

    def split(self, word: str) -> list[tuple[str, int, int]]:
        length = len(word)
        if length > self.max_input_chars_per_word:
            return [(self.unk_token, 0, length)]
        if word in self.vocab:
            return [(word, 0, length)]
        pieces = []
        start = 0
        vocab = self.vocab
        while start < length:
            end = min(length, start + self.longest_piece)
            piece = None
            while start < end:
                candidate = word[start:end] if start == 0 else self.prefix + word[start:end]
                if candidate in vocab:
                    piece = candidate
                    break
                end -= 1
            if piece is None:
                return [(self.unk_token, 0, length)]
            pieces.append((piece, start, end))
            start = end
        return pieces

    def tokenize(self, word: str) -> list[str]:
        return [piece for piece, _, _ in self.split(word)]


# --- encodings and the batch container ----------------------------------------------------


class _Encoding:
    """One model input row under construction: parallel lists, one entry per token."""

    __slots__ = ("ids", "offsets", "words", "type_ids", "sequence", "special", "attention")

    def __init__(self, ids, offsets, words, type_ids, sequence, special, attention=None):
        self.ids = ids
        self.offsets = offsets
        self.words = words
        self.type_ids = type_ids
        self.sequence = sequence
        self.special = special
        self.attention = [1] * len(ids) if attention is None else attention

    def slice(self, start: int, stop: int) -> _Encoding:
        return _Encoding(
            self.ids[start:stop],
            self.offsets[start:stop],
            self.words[start:stop],
            self.type_ids[start:stop],
            self.sequence[start:stop],
            self.special[start:stop],
            self.attention[start:stop],
        )

    def __add__(self, other: _Encoding) -> _Encoding:
        return _Encoding(
            self.ids + other.ids,
            self.offsets + other.offsets,
            self.words + other.words,
            self.type_ids + other.type_ids,
            self.sequence + other.sequence,
            self.special + other.special,
            self.attention + other.attention,
        )

    def __len__(self) -> int:
        return len(self.ids)


class BatchEncoding(dict):
    """The tokenizer's output: a dict of model inputs plus per-row word and sequence ids.

    Keys follow Hugging Face (``input_ids``, ``token_type_ids``, ``attention_mask``, optional
    ``offset_mapping``, ``special_tokens_mask``, ``overflow_to_sample_mapping``); keys are also
    readable as attributes (``enc.input_ids``).
    """

    def __init__(
        self, data: dict, word_ids=None, sequence_ids=None, tokens=None, offsets=None
    ) -> None:
        super().__init__(data)
        self._word_ids = word_ids or []
        self._sequence_ids = sequence_ids or []
        self._tokens = tokens or []
        self._offset_rows = offsets or []

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token of row `batch_index`, the index of the word it came from (None for
        special and padding tokens). With a pair, words of the second text count from 0."""
        return list(self._word_ids[batch_index])

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, 0 (first text), 1 (second text) or None (special or padding)."""
        return list(self._sequence_ids[batch_index])

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row `batch_index`."""
        return list(self._tokens[batch_index])

    def char_to_token(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """The token that covers character `char_index` of the given text, or None."""
        if char_index is None:
            batch_index, char_index = 0, batch_or_char_index
        else:
            batch_index = batch_or_char_index
        offsets = self._offset_rows[batch_index]
        for position, (sequence, (start, end)) in enumerate(
            zip(self._sequence_ids[batch_index], offsets)
        ):
            if sequence == sequence_index and start <= char_index < end:
                return position
        return None

    def to(self, device) -> BatchEncoding:
        """Move tensors to a device (after ``return_tensors="pt"``)."""
        for key, value in self.items():
            if hasattr(value, "to"):
                self[key] = value.to(device)
        return self


# --- BERT tokenizer ----------------------------------------------------------------------


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """Read a vocab.txt (one token a line, id = line number) with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file not found: {path}")
    vocab: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for index, line in enumerate(handle):
            vocab[line.rstrip("\r\n")] = index
    if not vocab:
        raise ValueError(f"vocabulary file is empty: {path}")
    return vocab


class BertTokenizer:
    """BERT's WordPiece tokenizer with the Hugging Face call conventions, in pure Python.

    ``tok(text, text_pair=None, truncation=..., max_length=..., padding=..., stride=...,
    return_overflowing_tokens=..., return_offsets_mapping=..., is_split_into_words=...,
    return_tensors=None|"pt")`` gives ids, token_type_ids, attention masks and offsets identical
    to ``transformers``' fast BERT tokenizer (tests/test_tokenization.py checks it on real
    text). Notebook 05 explains every stage.
    """

    def __init__(
        self,
        vocab: dict[str, int] | Sequence[str],
        do_lower_case: bool = True,
        tokenize_chinese_chars: bool = True,
        strip_accents: bool | None = None,
        max_input_chars_per_word: int = 100,
        model_max_length: int = 512,
        unk_token: str = "[UNK]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        cls_token: str = "[CLS]",
        mask_token: str = "[MASK]",
        source: str = "vocab",
    ) -> None:
        if not isinstance(vocab, dict):
            vocab = {token: index for index, token in enumerate(vocab)}
        if not vocab:
            raise ValueError(f"{source}: the vocabulary is empty")
        specials = [unk_token, sep_token, pad_token, cls_token, mask_token]
        missing = [token for token in specials if token not in vocab]
        if missing:
            raise ValueError(f"{source}: the vocabulary lacks the special tokens {missing}")
        self.vocab = dict(vocab)
        self.ids_to_tokens = {index: token for token, index in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        self.model_max_length = model_max_length
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        self.unk_token_id = self.vocab[unk_token]
        self.sep_token_id = self.vocab[sep_token]
        self.pad_token_id = self.vocab[pad_token]
        self.cls_token_id = self.vocab[cls_token]
        self.mask_token_id = self.vocab[mask_token]
        self.all_special_tokens = [pad_token, unk_token, cls_token, sep_token, mask_token]
        self.all_special_ids = [self.vocab[token] for token in self.all_special_tokens]
        self.basic = BasicTokenizer(
            do_lower_case, tokenize_chinese_chars, strip_accents, never_split=specials
        )
        self.wordpiece = WordpieceTokenizer(self.vocab, unk_token, max_input_chars_per_word)
        self._chunk_cache: dict[str, tuple] = {}
        self._cache_limit = 200_000

    # construction and saving

    @classmethod
    def from_pretrained(cls, path_or_name: str | os.PathLike, **overrides) -> BertTokenizer:
        """Load from a vocab.txt file, a folder holding one, or (online) a Hub model id.

        A folder's ``tokenizer_config.json`` supplies ``do_lower_case`` and friends when present.
        """
        path = Path(path_or_name).expanduser()
        config: dict = {}
        if path.is_dir():
            vocab_file = path / "vocab.txt"
            if not vocab_file.is_file():
                raise FileNotFoundError(f"{path} holds no vocab.txt")
            config_file = path / "tokenizer_config.json"
            if config_file.is_file():
                config = json.loads(config_file.read_text(encoding="utf-8"))
        elif path.is_file():
            vocab_file = path
        elif str(path_or_name).count("/") <= 1 and not str(path_or_name).startswith((".", "/")):
            from bertlab.hub import hub_download

            try:
                vocab_file = hub_download(str(path_or_name), "vocab.txt")
            except ConnectionError as error:
                raise ConnectionError(
                    f"{path_or_name!r} is not a local file or folder, and the Hub is unreachable: "
                    f"{error}"
                ) from error
            try:
                config_file = hub_download(str(path_or_name), "tokenizer_config.json")
                config = json.loads(Path(config_file).read_text(encoding="utf-8"))
            except ConnectionError:
                config = {}
        else:
            raise FileNotFoundError(f"vocabulary file or folder not found: {path}")
        kwargs = {
            key: config[key]
            for key in (
                "do_lower_case",
                "tokenize_chinese_chars",
                "strip_accents",
                "model_max_length",
                "unk_token",
                "sep_token",
                "pad_token",
                "cls_token",
                "mask_token",
            )
            if config.get(key) is not None
        }
        if isinstance(kwargs.get("model_max_length"), int | float):
            kwargs["model_max_length"] = int(min(kwargs["model_max_length"], 1 << 30))
        kwargs.update(overrides)
        return cls(load_vocab(vocab_file), source=str(vocab_file), **kwargs)

    def save_pretrained(self, directory: str | os.PathLike) -> tuple[str, str]:
        """Write vocab.txt and tokenizer_config.json (loadable by transformers.AutoTokenizer)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        by_id = sorted(self.vocab.items(), key=lambda item: item[1])
        vocab_file = directory / "vocab.txt"
        vocab_file.write_text("".join(token + "\n" for token, _ in by_id), encoding="utf-8")
        config = {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": self.do_lower_case,
            "tokenize_chinese_chars": self.tokenize_chinese_chars,
            "strip_accents": self.strip_accents,
            "model_max_length": self.model_max_length,
            "unk_token": self.unk_token,
            "sep_token": self.sep_token,
            "pad_token": self.pad_token,
            "cls_token": self.cls_token,
            "mask_token": self.mask_token,
        }
        config_file = directory / "tokenizer_config.json"
        config_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return str(vocab_file), str(config_file)

    # vocabulary helpers

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.vocab)

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def convert_tokens_to_ids(self, tokens: str | Iterable[str]) -> int | list[int]:
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        return [self.vocab.get(token, self.unk_token_id) for token in tokens]

    def convert_ids_to_tokens(
        self, ids: int | Iterable[int], skip_special_tokens: bool = False
    ) -> str | list[str]:
        if isinstance(ids, int):
            return self.ids_to_tokens[ids]
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        special = set(self.all_special_ids) if skip_special_tokens else ()
        return [self.ids_to_tokens[int(i)] for i in ids if int(i) not in special]

    # tokenizing one string

    def _analyze_chunk(self, chunk: str) -> tuple:
        """Ids, offsets (relative to the chunk) and word numbers of one whitespace-free run."""
        ids, offsets, words = [], [], []
        vocab = self.vocab
        if chunk.isascii() and not _ASCII_CONTROL.search(chunk):
            text = chunk.lower() if self.basic.do_lower_case else chunk
            word_list = [
                (match.group(), range(match.start(), match.end()))
                for match in _ASCII_WORD_OR_PUNCT.finditer(text)
            ]
        else:
            word_list = self.basic.split_with_origins(chunk)
        for number, (word, origins) in enumerate(word_list):
            for piece, start, end in self.wordpiece.split(word):
                ids.append(vocab[piece])
                offsets.append((origins[start], origins[end - 1] + 1))
                words.append(number)
        entry = (ids, offsets, words, len(word_list))
        if len(self._chunk_cache) >= self._cache_limit:
            self._chunk_cache.clear()
        self._chunk_cache[chunk] = entry
        return entry

    def _encode_string(self, text: str, type_id: int, word_index: int | None = None):
        """Token ids, offsets and word numbers of one string (no [CLS]/[SEP] added)."""
        ids: list[int] = []
        offsets: list[tuple[int, int]] = []
        words: list[int] = []
        word_count = 0
        cache = self._chunk_cache
        for seg_start, seg_end, special in self.basic.split_specials(text):
            if special:
                ids.append(self.vocab[text[seg_start:seg_end]])
                offsets.append((seg_start, seg_end))
                words.append(word_count)
                word_count += 1
                continue
            for match in _CHUNK.finditer(text, seg_start, seg_end):
                chunk = match.group()
                entry = cache.get(chunk) or self._analyze_chunk(chunk)
                chunk_ids = entry[0]
                ids.extend(chunk_ids)
                base = match.start()
                if len(chunk_ids) == 1:
                    start, end = entry[1][0]
                    offsets.append((start + base, end + base))
                    words.append(word_count)
                else:
                    offsets.extend([(start + base, end + base) for start, end in entry[1]])
                    words.extend([word + word_count for word in entry[2]])
                word_count += entry[3]
        if word_index is not None:
            words = [word_index] * len(ids)
        return ids, offsets, words

    def _encode_input(self, text, type_id: int, is_split_into_words: bool) -> _Encoding:
        if is_split_into_words:
            ids, offsets, words = [], [], []
            for index, word in enumerate(text):
                word_ids, word_offsets, word_words = self._encode_string(word, type_id, index)
                ids += word_ids
                offsets += word_offsets
                words += word_words
        else:
            ids, offsets, words = self._encode_string(text, type_id)
        n = len(ids)
        return _Encoding(ids, offsets, words, [type_id] * n, [type_id] * n, [0] * n)

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False):
        """The WordPiece token strings of `text` (no [CLS]/[SEP] unless asked)."""
        encoding = self(text, pair, add_special_tokens=add_special_tokens)
        return self.convert_ids_to_tokens(encoding["input_ids"])

    def encode(self, text, text_pair=None, add_special_tokens: bool = True, **kwargs) -> list:
        """Just the input ids (same options as calling the tokenizer)."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    # decoding

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Token ids back to text: ``##`` pieces are glued to the previous piece, and
        ``.``, ``,``, ``!``, ``?`` attach to the word before (as Hugging Face decodes)."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        if isinstance(ids, int):
            ids = [ids]
        tokens = self.convert_ids_to_tokens(ids, skip_special_tokens=skip_special_tokens)
        parts = []
        for index, token in enumerate(tokens):
            if index > 0:
                token = token[2:] if token.startswith("##") else " " + token
            if token in (" .", " ?", " !", " ,"):
                token = token[1:]
            parts.append(token)
        return "".join(parts)

    def batch_decode(self, sequences, skip_special_tokens: bool = False) -> list[str]:
        if hasattr(sequences, "tolist"):
            sequences = sequences.tolist()
        return [self.decode(ids, skip_special_tokens) for ids in sequences]

    # the main call

    def __call__(
        self,
        text,
        text_pair=None,
        *,
        add_special_tokens: bool = True,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        padding: bool | str = False,
        stride: int = 0,
        return_overflowing_tokens: bool = False,
        return_offsets_mapping: bool = False,
        return_special_tokens_mask: bool = False,
        is_split_into_words: bool = False,
        return_tensors: str | None = None,
    ) -> BatchEncoding:
        """Tokenize one text, a pair, or batches of them, like the Hugging Face fast tokenizer.

        `truncation`: False/None (off, but on as longest-first when only `max_length` is given,
        as in Hugging Face), True/"longest_first", "only_first" or "only_second". `padding`:
        False, True/"longest" (to the longest row) or "max_length". With
        `return_overflowing_tokens`, the truncated-away tokens come back as further rows
        (windows overlapping by `stride` tokens) and ``overflow_to_sample_mapping`` says which
        input each row came from.
        """
        batched, texts = self._as_batch(text, is_split_into_words, "text")
        pairs = None
        if text_pair is not None:
            pair_batched, pairs = self._as_batch(text_pair, is_split_into_words, "text_pair")
            if pair_batched != batched or len(pairs) != len(texts):
                raise ValueError(
                    f"text has {len(texts)} item(s) but text_pair has {len(pairs)}: "
                    "give one pair text per text"
                )
        strategy, max_length = self._truncation_strategy(truncation, max_length, padding)
        pad_mode = self._padding_mode(padding)
        n_added = (3 if pairs is not None else 2) if add_special_tokens else 0

        rows: list[_Encoding] = []
        sample_map: list[int] = []
        for index, first in enumerate(texts):
            encoding = self._encode_input(first, 0, is_split_into_words)
            pair = (
                None if pairs is None else self._encode_input(pairs[index], 1, is_split_into_words)
            )
            windows = self._truncate(encoding, pair, strategy, max_length, stride, n_added)
            if not return_overflowing_tokens:
                windows = windows[:1]
            for first_window, pair_window in windows:
                rows.append(self._add_special_tokens(first_window, pair_window, add_special_tokens))
                sample_map.append(index)

        return self._finish(
            rows,
            sample_map,
            pad_mode,
            max_length,
            return_offsets_mapping,
            return_special_tokens_mask,
            return_overflowing_tokens,
            return_tensors,
            batched,
        )

    @staticmethod
    def _as_batch(value, is_split_into_words: bool, name: str) -> tuple[bool, list]:
        """(was it a batch?, list of inputs); clear errors for wrong types."""
        if is_split_into_words:
            if not isinstance(value, list | tuple):
                raise TypeError(
                    f"{name} must be a list of words (or a list of such lists) with "
                    f"is_split_into_words=True, got {type(value).__name__}"
                )
            if value and isinstance(value[0], list | tuple):
                items, batched = list(value), True
            else:
                items, batched = [value], False
            for row, words in enumerate(items):
                for position, word in enumerate(words):
                    if not isinstance(word, str):
                        raise TypeError(
                            f"{name}: word {position} of batch item {row} is a "
                            f"{type(word).__name__}, expected str"
                        )
            return batched, items
        if isinstance(value, str):
            return False, [value]
        if isinstance(value, list | tuple):
            for position, item in enumerate(value):
                if not isinstance(item, str):
                    raise TypeError(
                        f"{name}: batch item {position} is a {type(item).__name__}, expected str"
                    )
            return True, list(value)
        raise TypeError(f"{name} must be a str or a list of str, got {type(value).__name__}")

    def _truncation_strategy(self, truncation, max_length, padding) -> tuple[str | None, int]:
        if truncation is None and max_length is not None and padding in (False, None):
            truncation = "longest_first"  # Hugging Face does the same (with a warning)
        if truncation in (None, False, "do_not_truncate"):
            return None, max_length
        if truncation is True:
            truncation = "longest_first"
        if truncation not in ("longest_first", "only_first", "only_second"):
            raise ValueError(
                f"truncation={truncation!r}: use True, False, 'longest_first', 'only_first' "
                "or 'only_second'"
            )
        return truncation, self.model_max_length if max_length is None else max_length

    @staticmethod
    def _padding_mode(padding) -> str | None:
        if padding in (False, None, "do_not_pad"):
            return None
        if padding in (True, "longest"):
            return "longest"
        if padding == "max_length":
            return "max_length"
        raise ValueError(f"padding={padding!r}: use False, True, 'longest' or 'max_length'")

    @staticmethod
    def _windows(encoding: _Encoding, max_len: int, stride: int) -> list[_Encoding]:
        """Cut to `max_len` tokens; the rest as overlapping windows (Rust `truncate`)."""
        length = len(encoding)
        if max_len >= length:
            return [encoding]
        if max_len == 0:
            return [encoding.slice(0, 0), encoding]
        if stride >= max_len:
            raise ValueError(
                f"stride={stride} must be smaller than the room left for this text ({max_len} "
                "tokens, after the special tokens and the other text)"
            )
        windows = []
        for start in range(0, length, max_len - stride):
            stop = min(start + max_len, length)
            windows.append(encoding.slice(start, stop))
            if stop == length:
                break
        return windows

    def _truncate(self, first, pair, strategy, max_length, stride, n_added):
        """[(first window, pair window), ...]: the kept row first, then the overflow rows in
        the order the Hugging Face tokenizer gives them."""
        if strategy is None:
            return [(first, pair)]
        limit = max_length - n_added
        if limit < 0:
            raise ValueError(
                f"max_length={max_length} leaves no room after the {n_added} special tokens"
            )
        total = len(first) + (len(pair) if pair is not None else 0)
        first_windows, pair_windows = [first], [pair]
        if limit == 0:
            first_windows = self._windows(first, 0, stride)
            if pair is not None:
                pair_windows = self._windows(pair, 0, stride)
        elif total > limit:
            to_remove = total - limit
            if strategy == "longest_first":
                if pair is None:
                    first_windows = self._windows(first, total - to_remove, stride)
                else:
                    n1, n2 = len(first), len(pair)
                    swap = n1 > n2
                    if swap:
                        n1, n2 = n2, n1
                    n2 = n1 if n1 > limit else max(n1, limit - n1)
                    if n1 + n2 > limit:
                        n1 = limit // 2
                        n2 = n1 + limit % 2
                    if swap:
                        n1, n2 = n2, n1
                    first_windows = self._windows(first, n1, stride)
                    pair_windows = self._windows(pair, n2, stride)
            else:
                if strategy == "only_second" and pair is None:
                    raise ValueError("truncation='only_second' needs a text_pair")
                target = first if strategy == "only_first" else pair
                if len(target) <= to_remove:
                    raise ValueError(
                        f"cannot truncate to max_length={max_length} with {strategy!r}: the "
                        f"{'first' if strategy == 'only_first' else 'second'} text has only "
                        f"{len(target)} tokens but {to_remove} must go"
                    )
                windows = self._windows(target, len(target) - to_remove, stride)
                if strategy == "only_first":
                    first_windows = windows
                else:
                    pair_windows = windows
        if pair is None:
            return [(window, None) for window in first_windows]
        # Combination order of the Rust merge: (a1,b0) (a1,b1).. (a2,b0).. then (a0,b1)..
        rows = [(first_windows[0], pair_windows[0])]
        for a in first_windows[1:]:
            rows.extend((a, b) for b in pair_windows)
        rows.extend((first_windows[0], b) for b in pair_windows[1:])
        return rows

    def _add_special_tokens(self, first: _Encoding, pair: _Encoding | None, add: bool):
        def special(token_id: int, type_id: int) -> _Encoding:
            return _Encoding([token_id], [(0, 0)], [None], [type_id], [None], [1])

        if not add:
            return first if pair is None else first + pair
        row = special(self.cls_token_id, 0) + first + special(self.sep_token_id, 0)
        if pair is not None:
            row = row + pair + special(self.sep_token_id, 1)
        return row

    def _finish(
        self,
        rows,
        sample_map,
        pad_mode,
        max_length,
        return_offsets,
        return_special_mask,
        return_overflowing,
        return_tensors,
        batched,
    ) -> BatchEncoding:
        if pad_mode is not None:
            if pad_mode == "max_length":
                target = self.model_max_length if max_length is None else max_length
            else:
                target = max((len(row) for row in rows), default=0)
            padded = []
            for row in rows:
                missing = target - len(row)
                if missing > 0:
                    row = row + _Encoding(
                        [self.pad_token_id] * missing,
                        [(0, 0)] * missing,
                        [None] * missing,
                        [0] * missing,
                        [None] * missing,
                        [1] * missing,
                        [0] * missing,
                    )
                padded.append(row)
            rows = padded
        data: dict[str, Any] = {
            "input_ids": [row.ids for row in rows],
            "token_type_ids": [row.type_ids for row in rows],
            "attention_mask": [row.attention for row in rows],
        }
        if return_special_mask:
            data["special_tokens_mask"] = [row.special for row in rows]
        if return_offsets:
            data["offset_mapping"] = [row.offsets for row in rows]
        if return_overflowing:
            data["overflow_to_sample_mapping"] = sample_map
        word_ids = [row.words for row in rows]
        sequence_ids = [row.sequence for row in rows]
        tokens = [[self.ids_to_tokens[i] for i in row.ids] for row in rows]
        if return_tensors == "pt":
            import torch

            lengths = {len(row) for row in rows}
            if len(lengths) > 1:
                raise ValueError(
                    "rows have different lengths: use padding=True (or 'max_length') "
                    "with return_tensors='pt'"
                )
            data = {key: torch.tensor(value, dtype=torch.long) for key, value in data.items()}
        elif return_tensors is not None:
            raise ValueError(f"return_tensors={return_tensors!r}: only None and 'pt' are supported")
        elif not batched and not return_overflowing:
            data = {key: value[0] for key, value in data.items()}
        offsets = [row.offsets for row in rows]
        return BatchEncoding(data, word_ids, sequence_ids, tokens, offsets)


def train_wordpiece_vocab(texts: Iterable[str], vocab_size: int = 8000, **options) -> list[str]:
    """Learn a WordPiece vocabulary from texts: see `bertlab.wordpiece_training`."""
    from bertlab.wordpiece_training import train_wordpiece_vocab as train

    return train(texts, vocab_size, **options)
