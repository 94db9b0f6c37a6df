"""BERT's tokenization algorithm: the basic tokenizer and WordPiece (notebook 05 builds both).

The pipeline for one string:

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

The character classes come from `unicode_tables` (Python's ``unicodedata`` plus the code
points where the Rust tables differ).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bertlab.tokenization.unicode_tables import (
    decompose_with_origins,
    is_chinese_char,
    is_control,
    is_nonspacing_mark,
    is_punctuation,
    is_whitespace,
    lower,
)

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
"""BERT's special tokens, in the order a new vocabulary lists them."""


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
        if self.strip_accents and is_nonspacing_mark(char):
            result = ""
        elif self.do_lower_case:
            result = lower(char)
        self._finish_cache[char] = result
        return result

    def normalize_char(self, char: str) -> str:
        """What one original character becomes: '' (dropped), ' ' (a separator) or text."""
        return "".join(char for char, _ in self.normalized_stream(char))

    def normalized_stream(self, text: str) -> list[tuple[str, int]]:
        """Every normalised character with the index of the original character it came from."""
        stream = [(c, index) for index, char in enumerate(text) for c in self._clean_char(char)]
        if self.strip_accents:
            stream = decompose_with_origins(stream)
        return [(f, index) for c, index in stream for f in self._finish_char(c)]

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


class WordpieceTokenizer:
    """Greedy longest-match-first WordPiece over a vocabulary (notebook 05 draws the split).

    `split` cuts ONE word into ``(piece, start, end)`` with character positions inside the
    word; a word longer than `max_input_chars_per_word` characters, or one with no complete
    split, is a single `unk_token` covering the whole word. `tokenize` takes text, as Google's
    ``tokenization.py`` does: it splits on whitespace first, then splits each word.
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
        """The pieces of one word, each with its (start, end) character positions."""
        length = len(word)
        if length > self.max_input_chars_per_word:
            return [(self.unk_token, 0, length)]
        if word in self.vocab:
            return [(word, 0, length)]
        pieces = []
        start = 0
        vocab = self.vocab
        while start < length:
            # No vocabulary entry is longer than longest_piece: skip the hopeless candidates.
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

    def tokenize(self, text: str) -> list[str]:
        """The pieces of whitespace-separated text (one word is the simplest case)."""
        return [piece for word in text.split() for piece, _, _ in self.split(word)]
