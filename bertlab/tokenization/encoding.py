"""The Hugging Face call rules, as functions: inputs, truncation, windows, padding, outputs.

Notebook 05 shows what each rule does to a question/context pair. `BertTokenizer.__call__`
runs them in this order on rows of tokens (`Encoding`):

1. `read_inputs`: one text, a pair, or batches of them (or pre-split words).
2. `call_strategies`: Hugging Face's rules for which truncation and padding apply (for
   instance, ``max_length`` alone turns truncation on).
3. `truncate`: cut each input to ``max_length`` tokens; with ``return_overflowing_tokens``
   the rest comes back as further windows overlapping by ``stride`` tokens, in the order
   the Rust ``tokenizers`` library gives them; from the end when ``truncation_side="left"``.
4. `with_special_tokens`: ``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]``.
5. `padding_length` and `pad_rows`: to the longest row or to ``max_length``, rounded up to
   ``pad_to_multiple_of``, on the right or the left.
6. `model_inputs` and `as_tensors`: the dict of lists (or tensors) the model takes, wrapped
   in a `BatchEncoding` that also answers alignment questions (which word, which characters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, NamedTuple


@dataclass(slots=True, eq=False)
class Encoding:
    """One model input row under construction: parallel lists, one entry per token
    (like the Rust library's ``tokenizers.Encoding``)."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    words: list[int | None]
    type_ids: list[int]
    sequence: list[int | None]
    special: list[int]
    attention: list[int] | None = None

    def __post_init__(self) -> None:
        if self.attention is None:
            self.attention = [1] * len(self.ids)

    @classmethod
    def special_token(cls, token_id: int, type_id: int) -> Encoding:
        """A [CLS] or [SEP]: no characters, no word, no sequence."""
        return cls([token_id], [(0, 0)], [None], [type_id], [None], [1])

    @classmethod
    def padding(cls, count: int, pad_id: int) -> Encoding:
        """`count` [PAD] tokens, masked out of attention."""
        none = [None] * count
        return cls(
            [pad_id] * count, [(0, 0)] * count, none, [0] * count, none, [1] * count, [0] * count
        )

    def slice(self, start: int, stop: int) -> Encoding:
        return Encoding(
            self.ids[start:stop],
            self.offsets[start:stop],
            self.words[start:stop],
            self.type_ids[start:stop],
            self.sequence[start:stop],
            self.special[start:stop],
            self.attention[start:stop],
        )

    def __add__(self, other: Encoding) -> Encoding:
        return Encoding(
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


# --- 1. inputs ------------------------------------------------------------------------------


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


def read_inputs(text, text_pair, is_split_into_words: bool) -> tuple[bool, list, list | None]:
    """(batched?, texts, pair texts or None) from the forms the tokenizer call accepts."""
    batched, texts = _as_batch(text, is_split_into_words, "text")
    if text_pair is None:
        return batched, texts, None
    pair_batched, pairs = _as_batch(text_pair, is_split_into_words, "text_pair")
    if pair_batched != batched or len(pairs) != len(texts):
        raise ValueError(
            f"text has {len(texts)} item(s) but text_pair has {len(pairs)}: "
            "give one pair text per text"
        )
    return batched, texts, pairs


# --- 2. which truncation and padding --------------------------------------------------------

_TRUNCATIONS = ("longest_first", "only_first", "only_second")
NO_LENGTH_LIMIT = 1 << 30
"""A ``model_max_length`` this large means "no known limit" (Hugging Face writes 1e30)."""


def check_side(side: str, name: str) -> str:
    if side not in ("left", "right"):
        raise ValueError(f"{name}={side!r}: use 'left' or 'right'")
    return side


def call_strategies(
    padding, truncation, max_length, pad_to_multiple_of, model_max_length: int
) -> tuple[str | None, str | None, int | None]:
    """(padding mode, truncation strategy, max_length) as Hugging Face decides them.

    Padding: None, "longest" (True) or "max_length". Truncation: None, "longest_first"
    (True), "only_first" or "only_second"; ``max_length`` alone turns it on. A missing
    ``max_length`` is the model's when padding to it or truncating.
    """
    if truncation is None and max_length is not None and padding in (False, None):
        truncation = "longest_first"  # Hugging Face does the same (with a warning)
    if padding in (False, None, "do_not_pad"):
        pad_mode = None
    elif padding in (True, "longest", "max_length"):
        pad_mode = "longest" if padding in (True, "longest") else "max_length"
    else:
        raise ValueError(f"padding={padding!r}: use False, True, 'longest' or 'max_length'")
    if truncation in (None, False, "do_not_truncate"):
        strategy = None
    elif truncation is True or truncation in _TRUNCATIONS:
        strategy = "longest_first" if truncation is True else truncation
    else:
        raise ValueError(
            f"truncation={truncation!r}: use True, False, 'longest_first', 'only_first' "
            "or 'only_second'"
        )
    if max_length is None and (pad_mode == "max_length" or strategy is not None):
        if model_max_length >= NO_LENGTH_LIMIT:  # no known limit: neither pad nor cut to it
            pad_mode = None if pad_mode == "max_length" else pad_mode
            strategy = None
        else:
            max_length = model_max_length
    if pad_to_multiple_of is not None and (
        not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1
    ):
        raise ValueError(f"pad_to_multiple_of={pad_to_multiple_of!r}: use a positive integer")
    if strategy and pad_mode and pad_to_multiple_of and max_length % pad_to_multiple_of:
        raise ValueError(  # as Hugging Face: the truncated rows could not be padded evenly
            f"truncation and padding are both on, but the truncation length {max_length} is "
            f"not a multiple of pad_to_multiple_of={pad_to_multiple_of}"
        )
    return pad_mode, strategy, max_length


# --- 3. truncation and windows --------------------------------------------------------------


@dataclass(frozen=True)
class Truncation:
    """How to cut rows: strategy (None = off), the total length, the window overlap, the side."""

    strategy: str | None
    max_length: int | None
    stride: int = 0
    side: str = "right"


def windows(encoding: Encoding, max_len: int, stride: int, side: str = "right") -> list[Encoding]:
    """Cut to `max_len` tokens; the rest as overlapping windows (Rust ``Encoding::truncate``).

    The kept window comes first: the start of the text (side "right") or its end ("left").
    """
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
    step, spans = max_len - stride, []
    if side == "right":
        for start in range(0, length, step):
            spans.append((start, min(start + max_len, length)))
            if spans[-1][1] == length:
                break
    else:
        for stop in range(length, 0, -step):
            spans.append((max(stop - max_len, 0), stop))
            if spans[-1][0] == 0:
                break
    return [encoding.slice(start, stop) for start, stop in spans]


def _longest_first_lengths(n1: int, n2: int, limit: int) -> tuple[int, int]:
    """How many tokens each text of a pair keeps (Rust ``truncate_encodings``): the longer
    text gives way first; when both must, they share the room equally."""
    swap = n1 > n2
    if swap:
        n1, n2 = n2, n1
    n2 = n1 if n1 > limit else max(n1, limit - n1)
    if n1 + n2 > limit:
        n1 = limit // 2
        n2 = n1 + limit % 2
    return (n2, n1) if swap else (n1, n2)


def truncate(first: Encoding, pair: Encoding | None, rule: Truncation, n_added: int) -> list:
    """[(first window, pair window), ...]: the kept row first, then the overflow rows in
    the order the Hugging Face tokenizer gives them."""
    if rule.strategy is None:
        return [(first, pair)]
    limit = rule.max_length - n_added
    if limit < 0:
        raise ValueError(
            f"max_length={rule.max_length} leaves no room after the {n_added} special tokens"
        )
    total = len(first) + (len(pair) if pair is not None else 0)
    first_windows, pair_windows = [first], [pair]
    if limit == 0:
        first_windows = windows(first, 0, rule.stride)
        if pair is not None:
            pair_windows = windows(pair, 0, rule.stride)
    elif total > limit and rule.strategy == "longest_first":
        if pair is None:
            first_windows = windows(first, limit, rule.stride, rule.side)
        else:
            n1, n2 = _longest_first_lengths(len(first), len(pair), limit)
            first_windows = windows(first, n1, rule.stride, rule.side)
            pair_windows = windows(pair, n2, rule.stride, rule.side)
    elif total > limit:
        if rule.strategy == "only_second" and pair is None:
            raise ValueError("truncation='only_second' needs a text_pair")
        target = first if rule.strategy == "only_first" else pair
        to_remove = total - limit
        if len(target) <= to_remove:
            raise ValueError(
                f"cannot truncate to max_length={rule.max_length} with {rule.strategy!r}: the "
                f"{'first' if rule.strategy == 'only_first' else 'second'} text has only "
                f"{len(target)} tokens but {to_remove} must go"
            )
        cut = windows(target, len(target) - to_remove, rule.stride, rule.side)
        if rule.strategy == "only_first":
            first_windows = cut
        else:
            pair_windows = cut
    if pair is None:
        return [(window, None) for window in first_windows]
    # Combination order of the Rust merge: (a1,b0) (a1,b1).. (a2,b0).. then (a0,b1)..
    rows = [(first_windows[0], pair_windows[0])]
    for a in first_windows[1:]:
        rows.extend((a, b) for b in pair_windows)
    rows.extend((first_windows[0], b) for b in pair_windows[1:])
    return rows


# --- 4. special tokens ----------------------------------------------------------------------


def with_special_tokens(first: Encoding, pair: Encoding | None, cls_id: int, sep_id: int):
    """``[CLS] A [SEP]`` or ``[CLS] A [SEP] B [SEP]`` (the final [SEP] has type id 1)."""
    row = Encoding.special_token(cls_id, 0) + first + Encoding.special_token(sep_id, 0)
    if pair is not None:
        row = row + pair + Encoding.special_token(sep_id, 1)
    return row


# --- 5. padding -----------------------------------------------------------------------------


def padding_length(
    lengths: Sequence[int], pad_mode: str | None, max_length: int | None, multiple_of: int | None
) -> int | None:
    """The length rows are padded to (None: no padding), rounded up to `multiple_of`."""
    if pad_mode is None:
        return None
    target = max(lengths, default=0) if pad_mode == "longest" else max_length
    if multiple_of and target % multiple_of:
        target += multiple_of - target % multiple_of
    return target


def pad_rows(rows: list[Encoding], length: int, pad_id: int, side: str) -> list[Encoding]:
    """Every row shorter than `length` gets [PAD] tokens on the given side."""
    padded = []
    for row in rows:
        missing = length - len(row)
        if missing <= 0:
            padded.append(row)
        elif side == "right":
            padded.append(row + Encoding.padding(missing, pad_id))
        else:
            padded.append(Encoding.padding(missing, pad_id) + row)
    return padded


def _tensor_kind(value) -> str | None:
    """ "pt" for a torch tensor, "np" for a numpy array, None for plain Python values."""
    module = type(value).__module__
    return "pt" if module.startswith("torch") else "np" if module.startswith("numpy") else None


def read_features(encoded_inputs) -> tuple[dict, bool, str | None]:
    """``tokenizer.pad``'s inputs as (a dict of plain lists, batched?, tensor kind found)."""
    if isinstance(encoded_inputs, list | tuple) and encoded_inputs:
        if not isinstance(encoded_inputs[0], Mapping):
            raise TypeError(
                "pad() takes an encoding (a dict of lists), or a list of encodings; got a list "
                f"of {type(encoded_inputs[0]).__name__}"
            )
        keys = list(encoded_inputs[0])
        for number, example in enumerate(encoded_inputs):
            if set(example) != set(keys):
                raise ValueError(
                    f"pad(): encoding {number} has the keys {sorted(example)}, but encoding 0 "
                    f"has {sorted(keys)}"
                )
        encoded_inputs = {key: [example[key] for example in encoded_inputs] for key in keys}
    if not isinstance(encoded_inputs, Mapping):
        raise TypeError(
            f"pad() takes a dict or a list of dicts, got {type(encoded_inputs).__name__}"
        )
    if "input_ids" not in encoded_inputs:
        raise ValueError(f"pad() needs 'input_ids' among its inputs; got {list(encoded_inputs)}")
    ids = encoded_inputs["input_ids"]
    first = ids[0] if len(ids) else None
    kind = _tensor_kind(ids) or _tensor_kind(first)
    features = {}
    for key, value in encoded_inputs.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, list | tuple):
            value = [v.tolist() if hasattr(v, "tolist") else v for v in value]
        features[key] = value
    batched = bool(features["input_ids"]) and isinstance(features["input_ids"][0], list | tuple)
    if batched:
        rows = len(features["input_ids"])
        for key, value in features.items():
            if not isinstance(value, list | tuple) or len(value) != rows:
                found = len(value) if isinstance(value, list | tuple) else type(value).__name__
                raise ValueError(f"pad(): {key!r} has {found} rows but 'input_ids' has {rows}")
    return features, batched, kind


# Hugging Face's pad values for the keys `pad_features` knows; other keys are left alone.
PAD_VALUES = {"token_type_ids": 0, "special_tokens_mask": 1, "attention_mask": 0}


def pad_features(
    features: dict, length: int | None, pad_id: int | None, side: str, attention_mask: bool
) -> dict:
    """One row of already-encoded features padded to `length` (``tokenizer.pad`` does this).

    The attention mask is created when asked for and absent, dropped when not asked for.
    """
    features = dict(features)
    ids = list(features["input_ids"])
    if not attention_mask:
        features.pop("attention_mask", None)
    elif "attention_mask" not in features:
        features["attention_mask"] = [1] * len(ids)
    missing = 0 if length is None else length - len(ids)
    if missing > 0:
        for key, value in [("input_ids", pad_id), *PAD_VALUES.items()]:
            if key in features:
                fill = [value] * missing
                row = list(features[key])
                features[key] = row + fill if side == "right" else fill + row
    return features


# --- 6. outputs -----------------------------------------------------------------------------


def model_inputs(rows: list[Encoding], keys: Sequence[str], sample_map: list[int]) -> dict:
    """The output dict: for each requested key, one list a row."""
    data: dict[str, Any] = {}
    for key in keys:
        if key == "overflow_to_sample_mapping":
            data[key] = sample_map
        else:
            attribute = _ROW_ATTRIBUTES[key]
            data[key] = list(map(attrgetter(attribute), rows))
    return data


_ROW_ATTRIBUTES = {
    "input_ids": "ids",
    "token_type_ids": "type_ids",
    "attention_mask": "attention",
    "special_tokens_mask": "special",
    "offset_mapping": "offsets",
}


def as_tensors(data: dict, return_tensors: str | None) -> dict:
    """Lists to ``torch`` tensors ("pt") or ``numpy`` arrays ("np"); None leaves lists."""
    if return_tensors is None:
        return data
    if return_tensors not in ("pt", "np"):
        raise ValueError(f"return_tensors={return_tensors!r}: use None, 'pt' or 'np'")
    for key, value in data.items():
        lengths = {len(row) for row in value if isinstance(row, list | tuple)}
        if len(lengths) > 1:
            raise ValueError(
                f"cannot make one tensor of {key!r}: its rows have different lengths "
                f"({min(lengths)} to {max(lengths)}); use padding=True (or 'max_length')"
            )
    if return_tensors == "np":
        import numpy

        return {key: numpy.array(value, dtype=numpy.int64) for key, value in data.items()}
    import torch

    return {key: torch.tensor(value, dtype=torch.long) for key, value in data.items()}


class CharSpan(NamedTuple):
    """Characters ``start`` to ``end`` (exclusive) of the original text (as in Hugging Face)."""

    start: int
    end: int


class TokenSpan(NamedTuple):
    """Tokens ``start`` to ``end`` (exclusive) of an encoded row (as in Hugging Face)."""

    start: int
    end: int


class BatchEncoding(dict):
    """The tokenizer's output: a dict of model inputs that also knows how tokens align with
    words and characters (notebooks 05, 11 and 12 use it for labels and answer spans).

    Keys follow Hugging Face (``input_ids``, ``token_type_ids``, ``attention_mask``, optional
    ``offset_mapping``, ``special_tokens_mask``, ``overflow_to_sample_mapping``); keys are also
    readable as attributes (``enc.input_ids``). The alignment methods take Hugging Face's
    arguments: ``method(index)`` for the first row, ``method(batch_index, index)`` for any
    row, and return None where nothing corresponds (a special or padding token, a space).
    """

    def __init__(
        self,
        data: dict | None = None,
        encodings: list[Encoding] | None = None,
        n_sequences: int | None = None,
        id_to_token: dict[int, str] | None = None,
    ) -> None:
        super().__init__(data or {})
        self._encodings = encodings
        self._n_sequences = n_sequences
        self._id_to_token = id_to_token

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def n_sequences(self) -> int | None:
        """1 for single texts, 2 for pairs (None after `BertTokenizer.pad`)."""
        return self._n_sequences

    def to(self, device) -> BatchEncoding:
        """Move tensors to a device (after ``return_tensors="pt"``)."""
        for key, value in self.items():
            if hasattr(value, "to"):
                self[key] = value.to(device)
        return self

    # one row's tokens, words and sequences

    def _row(self, batch_index: int, method: str) -> Encoding:
        if self._encodings is None:
            raise ValueError(
                f"{method}() needs the tokenizer's alignment, which this BatchEncoding does not "
                "hold (it came from pad() or was built from a dict), as in Hugging Face"
            )
        if not -len(self._encodings) <= batch_index < len(self._encodings):
            raise IndexError(
                f"{method}(): batch index {batch_index} is out of range for "
                f"{len(self._encodings)} row(s)"
            )
        return self._encodings[batch_index]

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row `batch_index`."""
        return [self._id_to_token[i] for i in self._row(batch_index, "tokens").ids]

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token of row `batch_index`, the index of the word it came from (None for
        special and padding tokens). With a pair, words of the second text count from 0."""
        return list(self._row(batch_index, "word_ids").words)

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """For each token, 0 (first text), 1 (second text) or None (special or padding)."""
        return list(self._row(batch_index, "sequence_ids").sequence)

    def _sequence_range(self, row: Encoding, sequence_index: int) -> range:
        """Where text `sequence_index` lies in the row; the whole row for a sequence the row
        does not have (as the Rust library does)."""
        if sequence_index < 0:
            raise ValueError(f"sequence_index={sequence_index}: use 0 or 1")
        if sequence_index >= (self._n_sequences or 1):
            return range(len(row))
        where = [i for i, s in enumerate(row.sequence) if s == sequence_index]
        return range(where[0], where[-1] + 1) if where else range(0)

    @staticmethod
    def _two_forms(batch_or_index: int, index: int | None, name: str) -> tuple[int, int]:
        """``f(index)`` means row 0; ``f(batch_index, index)`` any row."""
        batch_index, index = (0, batch_or_index) if index is None else (batch_or_index, index)
        if index < 0 and name != "token":
            raise ValueError(f"{name} index {index} is negative")
        return batch_index, index

    # token -> ...

    def _token(self, batch_or_token_index, token_index, method) -> tuple[Encoding, int | None]:
        batch_index, token_index = self._two_forms(batch_or_token_index, token_index, "token")
        row = self._row(batch_index, method)
        if token_index < 0:
            token_index += len(row)
        return row, token_index if 0 <= token_index < len(row) else None

    def _text_token(self, batch_or_token_index, token_index, method) -> tuple[Encoding, int | None]:
        """`_token`, with None also for special and padding tokens (they belong to no text)."""
        row, token = self._token(batch_or_token_index, token_index, method)
        return row, None if token is None or row.sequence[token] is None else token

    def token_to_sequence(
        self, batch_or_token_index: int, token_index: int | None = None
    ) -> int | None:
        """0 or 1: which text the token belongs to; None for special and padding tokens."""
        row, token = self._token(batch_or_token_index, token_index, "token_to_sequence")
        return None if token is None else row.sequence[token]

    def token_to_word(
        self, batch_or_token_index: int, token_index: int | None = None
    ) -> int | None:
        """The index of the word (in its own text) the token belongs to, or None."""
        row, token = self._text_token(batch_or_token_index, token_index, "token_to_word")
        return None if token is None else row.words[token]

    def token_to_chars(
        self, batch_or_token_index: int, token_index: int | None = None
    ) -> CharSpan | None:
        """The characters of the original text the token covers, or None."""
        row, token = self._text_token(batch_or_token_index, token_index, "token_to_chars")
        return None if token is None else CharSpan(*row.offsets[token])

    # word -> ...

    def word_to_tokens(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> TokenSpan | None:
        """The tokens of word `word_index` of text `sequence_index`, or None if it has none."""
        batch_index, word = self._two_forms(batch_or_word_index, word_index, "word")
        row = self._row(batch_index, "word_to_tokens")
        start = end = None
        for position in self._sequence_range(row, sequence_index):
            found = row.words[position]
            if found is not None and found > word:
                break  # words only increase (the Rust library stops here too)
            if found == word:
                start = position if start is None else start
                end = position + 1
        return None if start is None else TokenSpan(start, end)

    def word_to_chars(
        self, batch_or_word_index: int, word_index: int | None = None, sequence_index: int = 0
    ) -> CharSpan | None:
        """The characters of word `word_index` of text `sequence_index`. None when the word
        has no tokens (Hugging Face raises a TypeError there)."""
        batch_index, word = self._two_forms(batch_or_word_index, word_index, "word")
        span = self.word_to_tokens(batch_index, word, sequence_index)
        if span is None:
            return None
        offsets = self._encodings[batch_index].offsets
        return CharSpan(offsets[span.start][0], offsets[span.end - 1][1])

    # character -> ...

    def char_to_token(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """The token that covers character `char_index` of text `sequence_index`, or None."""
        batch_index, char = self._two_forms(batch_or_char_index, char_index, "char")
        row = self._row(batch_index, "char_to_token")
        for position in self._sequence_range(row, sequence_index):
            start, end = row.offsets[position]
            if start <= char < end:
                return position
        return None

    def char_to_word(
        self, batch_or_char_index: int, char_index: int | None = None, sequence_index: int = 0
    ) -> int | None:
        """The word that character `char_index` of text `sequence_index` belongs to, or None."""
        batch_index, char = self._two_forms(batch_or_char_index, char_index, "char")
        token = self.char_to_token(batch_index, char, sequence_index)
        return None if token is None else self.token_to_word(batch_index, token)
