"""BertTokenizer: the vocabulary, loading and saving, the tokenizer call, decoding (notebook 05).

``tok(text, text_pair=None, truncation=..., max_length=..., padding=..., stride=...,
return_overflowing_tokens=..., return_offsets_mapping=..., is_split_into_words=...,
return_tensors=None|"pt"|"np", ...)`` gives ids, token_type_ids, attention masks and offsets
identical to ``transformers``' fast BERT tokenizer (tests/test_tokenization*.py check it on
real text). The algorithm is in `basic.py`, the call rules in `encoding.py`.

**Speed.** Text is cut at whitespace into chunks, and each distinct chunk's pieces, offsets and
word numbers are computed once and cached; pure-ASCII chunks take a regular-expression fast
path. ``benchmarks/bench_tokenization.py`` compares tokens per second with the Rust tokenizer.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from bertlab.files import atomic_write_text
from bertlab.hub import resolve_file
from bertlab.tokenization.basic import BasicTokenizer, WordpieceTokenizer
from bertlab.tokenization.encoding import (
    NO_LENGTH_LIMIT,
    BatchEncoding,
    Encoding,
    Truncation,
    as_tensors,
    call_strategies,
    check_side,
    model_inputs,
    pad_features,
    pad_rows,
    padding_length,
    read_features,
    read_inputs,
    truncate,
    with_special_tokens,
)

_WHITESPACE_CHARS = "\t\n\r\u2028\u2029" + "".join(
    chr(code) for code in range(0x3001) if unicodedata.category(chr(code)) == "Zs"
)
# A "chunk" is a maximal run of non-whitespace characters; we cache each chunk's analysis.
_CHUNK = re.compile("[^" + re.escape(_WHITESPACE_CHARS) + "]+")
_ASCII_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_PUNCT_CLASS = "!-/:-@\\[-`{-~"  # the ASCII punctuation of unicode_tables, as ranges
_ASCII_WORD_OR_PUNCT = re.compile(f"[^{_ASCII_PUNCT_CLASS}]+|[{_ASCII_PUNCT_CLASS}]")

# The Rust WordPiece decoder's clean-up, applied to each token after its joining space.
_DECODE_CLEANUP = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" do not", " don't"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)
_CONFIG_KEYS = (
    "do_lower_case",
    "tokenize_chinese_chars",
    "strip_accents",
    "model_max_length",
    "padding_side",
    "truncation_side",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)


# --- the vocabulary -----------------------------------------------------------------------


def _refuse_blank_and_duplicate_lines(
    tokens: list[str], source: str, unit: str = "line", first: int = 1
) -> None:
    """Token ids are line numbers, so every line must hold a different, non-empty token.

    Errors name the `unit` ("line", counted from 1, or "id", from 0) of each culprit."""
    blank = [number for number, token in enumerate(tokens, first) if not token]
    if blank:
        raise ValueError(
            f"{source}: blank {unit}(s) {_some(blank)}; every line of vocab.txt must hold a "
            "token, since a token's id is its line number (a stray empty line shifts every "
            "later id). Remove the blank entries (and retrain or re-export if ids shift)."
        )
    first_seen: dict[str, int] = {}
    clashes = []
    for number, token in enumerate(tokens, first):
        if token in first_seen:
            clashes.append(f"{token!r} on {unit}s {first_seen[token]} and {number}")
        first_seen.setdefault(token, number)
    if clashes:
        raise ValueError(
            f"{source}: duplicate token(s): {_some(clashes)}. Token ids are line numbers, so a "
            "token listed twice has two ids: Hugging Face keeps the later one and leaves the "
            "earlier id with no token (never produced, decoded to nothing), and saving that "
            "vocabulary writes one line fewer, shifting every later id (its save_vocabulary "
            "warns that the vocabulary may be corrupted). Remove the duplicate lines."
        )


def _some(items: list, shown: int = 10) -> str:
    """The first few items of a list, and how many more there are."""
    text = ", ".join(map(str, items[:shown]))
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")


def load_vocab(path: str | os.PathLike) -> dict[str, int]:
    """Read a vocab.txt (one token a line, id = line number) with clear errors.

    Refused, naming the file and the place: a file that is not UTF-8 (byte offset and line),
    an empty file, blank lines and duplicate tokens (line numbers).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"vocabulary file not found: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}: not UTF-8 text: byte {error.start} (line {line}) is "
            f"{data[error.start : error.start + 1]!r} ({error.reason}); vocab.txt must be UTF-8"
        ) from None
    # As Python (and Hugging Face) read text files: \n, \r\n and \r end a line.
    tokens = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()  # the newline that ends the last line
    if not tokens:
        raise ValueError(f"vocabulary file is empty: {path}")
    _refuse_blank_and_duplicate_lines(tokens, str(path))
    return {token: index for index, token in enumerate(tokens)}


def _vocab_dict(vocab: Mapping[str, int] | Sequence[str], source: str) -> dict[str, int]:
    """A token -> id dict whose ids are exactly 0..n-1 (so save_pretrained writes the same ids)."""
    if isinstance(vocab, Mapping):
        vocab = dict(vocab)
        by_id = sorted(vocab.values())
        if by_id != list(range(len(vocab))):
            seen, problems = set(), []
            for token_id in by_id:
                if token_id in seen:
                    problems.append(f"id {token_id} is used twice")
                seen.add(token_id)
            problems += [f"id {i} is missing" for i in range(len(vocab)) if i not in seen]
            raise ValueError(
                f"{source}: the ids must be 0 to {len(vocab) - 1}, one per token (they are the "
                f"lines of vocab.txt): {_some(problems)}"
            )
        return vocab
    tokens = list(vocab)
    _refuse_blank_and_duplicate_lines(tokens, source, unit="id", first=0)
    return {token: index for index, token in enumerate(tokens)}


# --- the tokenizer --------------------------------------------------------------------------


class BertTokenizer:
    """BERT's WordPiece tokenizer with the Hugging Face call conventions, in pure Python.

    A vocabulary must hold the unknown, [CLS] and [SEP] tokens. Like Google's and Hugging
    Face's tokenizers it loads without [PAD] or [MASK]: then ``pad_token_id`` or
    ``mask_token_id`` is None, and only padding (or masking, through `require_token_id`)
    fails, with a message that says so.
    """

    model_input_names = ["input_ids", "token_type_ids", "attention_mask"]
    pad_token_type_id = 0

    def __init__(
        self,
        vocab: Mapping[str, int] | Sequence[str],
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
        padding_side: str = "right",
        truncation_side: str = "right",
        source: str = "vocab",
    ) -> None:
        self.source = source
        self.vocab = _vocab_dict(vocab, source)
        if not self.vocab:
            raise ValueError(f"{source}: the vocabulary is empty")
        missing = [token for token in (unk_token, sep_token, cls_token) if token not in self.vocab]
        if missing:
            raise ValueError(
                f"{source}: the vocabulary lacks the special tokens {missing}: every input is "
                "framed as [CLS] ... [SEP] and a word WordPiece cannot split becomes the unknown "
                "token (only the pad and mask tokens may be missing)"
            )
        self.ids_to_tokens = {index: token for token, index in self.vocab.items()}
        self.do_lower_case = do_lower_case
        self.tokenize_chinese_chars = tokenize_chinese_chars
        self.strip_accents = strip_accents
        self.model_max_length = model_max_length
        self.padding_side = check_side(padding_side, "padding_side")
        self.truncation_side = check_side(truncation_side, "truncation_side")
        self.unk_token, self.sep_token, self.pad_token = unk_token, sep_token, pad_token
        self.cls_token, self.mask_token = cls_token, mask_token
        self.unk_token_id = self.vocab[unk_token]
        self.sep_token_id = self.vocab[sep_token]
        self.cls_token_id = self.vocab[cls_token]
        self.pad_token_id = self.vocab.get(pad_token)  # None: this vocabulary cannot pad
        self.mask_token_id = self.vocab.get(mask_token)  # None: nor mask
        specials = [pad_token, unk_token, cls_token, sep_token, mask_token]
        self.all_special_tokens = [token for token in specials if token in self.vocab]
        self.all_special_ids = [self.vocab[token] for token in self.all_special_tokens]
        self.basic = BasicTokenizer(
            do_lower_case, tokenize_chinese_chars, strip_accents, self.all_special_tokens
        )
        self.wordpiece = WordpieceTokenizer(self.vocab, unk_token, max_input_chars_per_word)
        self._chunk_cache: dict[str, tuple] = {}
        self._cache_limit = 200_000

    def require_token_id(self, name: str, purpose: str) -> int:
        """The id of special token `name` ("pad_token", "mask_token", ...), or an error that
        says `purpose` needs it and the vocabulary lacks it."""
        token_id = getattr(self, f"{name}_id")
        if token_id is None:
            token = getattr(self, name)
            raise ValueError(
                f"{purpose} needs the {name.replace('_', ' ')} {token!r}, which the vocabulary "
                f"({self.source}) lacks: add it as a new last line of vocab.txt (other ids stay), "
                f"or pass {name}=<a token the vocabulary has> when loading the tokenizer"
            )
        return token_id

    # construction and saving

    @classmethod
    def from_pretrained(cls, path_or_name: str | os.PathLike, **overrides) -> BertTokenizer:
        """Load from a vocab.txt file, a folder holding one, or (online) a Hub model id.

        `bertlab.hub.resolve_file` decides between a local folder and a Hub id (the project's
        one rule). A ``tokenizer_config.json`` beside the vocabulary supplies
        ``do_lower_case`` and friends; keyword arguments override it.
        """
        path = Path(path_or_name).expanduser()
        if path.is_file():
            vocab_file, config = path, {}
        else:
            vocab_file = resolve_file(path_or_name, "vocab.txt")
            config = _read_tokenizer_config(path_or_name)
        kwargs = {key: config[key] for key in _CONFIG_KEYS if config.get(key) is not None}
        if isinstance(kwargs.get("model_max_length"), int | float):
            kwargs["model_max_length"] = int(min(kwargs["model_max_length"], NO_LENGTH_LIMIT))
        kwargs.update(overrides)
        return cls(load_vocab(vocab_file), source=str(vocab_file), **kwargs)

    def save_pretrained(self, directory: str | os.PathLike) -> tuple[str, str]:
        """Write vocab.txt and tokenizer_config.json (loadable by transformers.AutoTokenizer)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        by_id = sorted(self.vocab.items(), key=lambda item: item[1])
        vocab_file = directory / "vocab.txt"
        atomic_write_text(vocab_file, "".join(token + "\n" for token, _ in by_id))
        config = {"tokenizer_class": "BertTokenizer"}
        config.update({key: getattr(self, key) for key in _CONFIG_KEYS})
        if self.model_max_length >= NO_LENGTH_LIMIT:
            config["model_max_length"] = int(1e30)  # what Hugging Face writes for "no limit"
        config_file = directory / "tokenizer_config.json"
        atomic_write_text(config_file, json.dumps(config, indent=2) + "\n")
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

    def _token_of(self, token_id: int) -> str:
        token = self.ids_to_tokens.get(token_id)
        if token is None:
            size = len(self.vocab)
            raise ValueError(
                f"token id {token_id} is out of range: the vocabulary ({self.source}) has {size} "
                f"tokens, ids 0 to {size - 1}"
            )
        return token

    def convert_ids_to_tokens(
        self, ids: int | Iterable[int], skip_special_tokens: bool = False
    ) -> str | list[str]:
        """Ids to token strings; an id outside the vocabulary is an error that names it."""
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        if isinstance(ids, int):
            return self._token_of(ids)
        special = set(self.all_special_ids) if skip_special_tokens else ()
        return [self._token_of(i) for i in map(int, ids) if i not in special]

    # tokenizing one string: the cached fast path

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

    def _encode_input(self, text, type_id: int, is_split_into_words: bool) -> Encoding:
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
        return Encoding(ids, offsets, words, [type_id] * n, [type_id] * n, [0] * n)

    def tokenize(self, text: str, pair: str | None = None, add_special_tokens: bool = False):
        """The WordPiece token strings of `text` (no [CLS]/[SEP] unless asked)."""
        encoding = self(text, pair, add_special_tokens=add_special_tokens)
        return self.convert_ids_to_tokens(encoding["input_ids"])

    def encode(self, text, text_pair=None, add_special_tokens: bool = True, **kwargs) -> list:
        """Just the input ids (same options as calling the tokenizer)."""
        return self(text, text_pair, add_special_tokens=add_special_tokens, **kwargs)["input_ids"]

    # decoding

    @staticmethod
    def convert_tokens_to_string(tokens: Iterable[str]) -> str:
        """Tokens back to text as Hugging Face's WordPiece decoder does: ``##`` pieces glue to
        the previous piece, and ``.``, ``,``, ``!``, ``?`` attach to the word before."""
        parts = []
        for index, token in enumerate(tokens):
            if index > 0:
                token = token[2:] if token.startswith("##") else " " + token
            for dirty, clean in _DECODE_CLEANUP:
                token = token.replace(dirty, clean)
            parts.append(token)
        return "".join(parts)

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        """Token ids back to text (see `convert_tokens_to_string`); an id outside the
        vocabulary is an error that names it and the vocabulary size."""
        ids = ids.tolist() if hasattr(ids, "tolist") else ids
        if isinstance(ids, int):
            ids = [ids]
        tokens = self.convert_ids_to_tokens(ids, skip_special_tokens=skip_special_tokens)
        return self.convert_tokens_to_string(tokens)

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
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        truncation_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
    ) -> BatchEncoding:
        """Tokenize one text, a pair, or batches of them, like the Hugging Face fast tokenizer.

        `truncation`: False/None (off, but on as longest-first when only `max_length` is given,
        as in Hugging Face), True/"longest_first", "only_first" or "only_second". `padding`:
        False, True/"longest" (to the longest row) or "max_length", rounded up to a multiple
        of `pad_to_multiple_of`. With `return_overflowing_tokens`, the truncated-away tokens
        come back as further rows (windows overlapping by `stride` tokens) and
        ``overflow_to_sample_mapping`` says which input each row came from. `padding_side` and
        `truncation_side` ("right" or "left") default to the attributes of the same names;
        Hugging Face reads `truncation_side` from the attribute only (its call ignores it).
        `return_token_type_ids=False` / `return_attention_mask=False` leave those keys out.
        """
        batched, texts, pairs = read_inputs(text, text_pair, is_split_into_words)
        pad_mode, strategy, max_length = call_strategies(
            padding, truncation, max_length, pad_to_multiple_of, self.model_max_length
        )
        truncation_side = check_side(truncation_side or self.truncation_side, "truncation_side")
        padding_side = check_side(padding_side or self.padding_side, "padding_side")
        rule = Truncation(strategy, max_length, stride, truncation_side)
        rows, sample_map = self._encode_rows(
            texts, pairs, rule, add_special_tokens, is_split_into_words, return_overflowing_tokens
        )
        if pad_mode is not None:
            lengths = [len(row.ids) for row in rows] if pad_mode == "longest" else []
            length = padding_length(lengths, pad_mode, max_length, pad_to_multiple_of)
            pad_id = self.require_token_id("pad_token", "padding")
            rows = pad_rows(rows, length, pad_id, padding_side)
        keys = ["input_ids"]
        keys += ["token_type_ids"] if return_token_type_ids is not False else []
        keys += ["attention_mask"] if return_attention_mask is not False else []
        keys += ["special_tokens_mask"] if return_special_tokens_mask else []
        keys += ["offset_mapping"] if return_offsets_mapping else []
        keys += ["overflow_to_sample_mapping"] if return_overflowing_tokens else []
        data = as_tensors(model_inputs(rows, keys, sample_map), return_tensors)
        if return_tensors is None and not batched and not return_overflowing_tokens:
            data = {key: value[0] for key, value in data.items()}
        return BatchEncoding(data, rows, 1 if pairs is None else 2, self.ids_to_tokens)

    def _encode_rows(
        self,
        texts,
        pairs,
        rule: Truncation,
        add_special_tokens: bool,
        is_split_into_words: bool,
        keep_overflow: bool,
    ):
        """The rows of the batch (overflow windows included when asked) and, for each row,
        the index of the input it came from."""
        n_added = (3 if pairs is not None else 2) if add_special_tokens else 0
        rows: list[Encoding] = []
        sample_map: list[int] = []
        for index, text in enumerate(texts):
            first = self._encode_input(text, 0, is_split_into_words)
            pair = (
                None if pairs is None else self._encode_input(pairs[index], 1, is_split_into_words)
            )
            windows = truncate(first, pair, rule, n_added)
            for first_window, pair_window in windows if keep_overflow else windows[:1]:
                if add_special_tokens:
                    row = with_special_tokens(
                        first_window, pair_window, self.cls_token_id, self.sep_token_id
                    )
                else:
                    row = first_window if pair_window is None else first_window + pair_window
                rows.append(row)
                sample_map.append(index)
        return rows, sample_map

    def pad(
        self,
        encoded_inputs,
        padding: bool | str = True,
        max_length: int | None = None,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        verbose: bool = True,
    ) -> BatchEncoding:
        """Pad encodings made earlier, as Hugging Face's ``tokenizer.pad`` (a collate function).

        `encoded_inputs`: one encoding (a dict of lists), a batch as a dict of lists of rows,
        or a list of encodings; lists, tensors or arrays. ``input_ids`` get the pad id,
        ``token_type_ids`` 0, ``special_tokens_mask`` 1, the attention mask 0 (it is created
        when absent); other keys are left as they are. Tensors in give tensors out.
        """
        features, batched, tensor_kind = read_features(encoded_inputs)
        pad_mode, _, max_length = call_strategies(
            padding, False, max_length, pad_to_multiple_of, self.model_max_length
        )
        side = check_side(padding_side or self.padding_side, "padding_side")
        pad_id = self.require_token_id("pad_token", "padding") if pad_mode else None
        if batched:
            rows = [dict(zip(features, values)) for values in zip(*features.values())]
        else:
            rows = [features] if features["input_ids"] else []
        length = padding_length(
            [len(row["input_ids"]) for row in rows], pad_mode, max_length, pad_to_multiple_of
        )
        mask = return_attention_mask is not False
        rows = [pad_features(row, length, pad_id, side, mask) for row in rows]
        if not rows:
            return BatchEncoding(features)
        data = {key: [row[key] for row in rows] for key in rows[0]} if batched else rows[0]
        return BatchEncoding(as_tensors(data, return_tensors or tensor_kind))


def _read_tokenizer_config(path_or_name) -> dict:
    """The folder's (or Hub repository's) tokenizer_config.json; {} when it has none."""
    try:
        config_file = resolve_file(path_or_name, "tokenizer_config.json")
    except (FileNotFoundError, ConnectionError):
        return {}
    try:
        config = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"{config_file}: not a valid JSON file ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{config_file}: expected a JSON object, got {type(config).__name__}")
    return config
