"""Named-entity data: CoNLL-2003 and WNUT-17 column files, and your own tagged sentences.

Notebook 11 uses them. Both benchmark formats hold one word a line with its tag in
the last column and a blank line between sentences:

    CoNLL-2003   `EU NNP B-NP B-ORG`      (token POS chunk NER, `-DOCSTART-` between documents)
    WNUT-17      `Empire<TAB>B-location`  (token, tag)

Your own data: JSON lines with a list of tokens and a list of tags a sentence
(`{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}`), or a CSV/TSV with a header
whose cells hold the tokens and the tags separated by spaces (or as a JSON list), or a
Hugging Face dataset (`hf:NAME[:CONFIG]`; a `ClassLabel` tag feature gives the names).
Tags are names, or integer ids with `label_names` to name them.

Tags are IOB: `O` outside, `B-TYPE` begins an entity, `I-TYPE` continues one. The
original CoNLL-2003 release used IOB1 (`B-` only where two entities of one type
touch); everything here is converted to IOB2 (every entity starts with `B-`), the
scheme models are trained on. A malformed line (wrong number of columns, a tag
that is not IOB, a tag outside `label_names`) raises `DataError` naming the file
and the line.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from bertlab.data.common import DataError, canonical_json, text_lines
from bertlab.data.tables import Row, Table, cell, load_split, read_table_file, table_from_hf
from bertlab.files import parse_json
from bertlab.hub import hub_download, lookup_dataset

FORMATS = ("auto", "conll2003", "wnut17")
IOB_TAG = re.compile(r"^(O|[BI]-\S+)$")
TAG_ID = re.compile(r"[0-9]+")
TOKENS_COLUMNS = ("tokens",)
TAGS_COLUMNS = ("tags", "ner_tags")

CONLL2003_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
"""The label order of the Hugging Face `conll2003` dataset (its `ner_tags` ids)."""

WNUT17_TYPES = ["corporation", "creative-work", "group", "location", "person", "product"]

# split -> file under BERTLAB_DATA
LOCAL_FILES = {
    "conll2003": {
        "train": "conll2003/train.txt",
        "valid": "conll2003/valid.txt",
        "test": "conll2003/test.txt",
    },
    "wnut17": {
        "train": "wnut17/wnut17train.conll",
        "dev": "wnut17/emerging.dev.conll",
        "test": "wnut17/emerging.test.annotated",
    },
}
BENCHMARK_SPLITS = {
    "conll2003": {"train": "train", "dev": "valid"},
    "wnut17": {"train": "train", "dev": "dev"},
}
SAMPLES = {"conll2003": "conll2003_sample.txt", "wnut17": "wnut17_sample.conll"}
# With internet: the tner copies on the Hugging Face Hub (JSON lines of tokens + tag ids).
HUB_REPOS = {"conll2003": "tner/conll2003", "wnut17": "tner/wnut2017"}
HUB_SPLITS = {"train": "train", "valid": "valid", "dev": "valid", "test": "test"}


@dataclass
class Sentence:
    """One sentence: its words and one IOB2 tag per word."""

    words: list[str]
    tags: list[str]

    def __len__(self) -> int:
        return len(self.words)


class NerDataset(list):
    """A list of `Sentence`s that remembers where it came from (`source`) and its tag names.

    `label_names`, fixed when loaded: the names given, then any tag of the sentences
    they lack; without names given, `label_list(sentences)`. A slice is a plain list.
    """

    def __init__(
        self,
        sentences: Iterable[Sentence] = (),
        source: str = "",
        label_names: Sequence[str] | None = None,
    ):
        super().__init__(sentences)
        self.source = source
        found = label_list(self)
        given = list(label_names) if label_names is not None else []
        self.label_names = given + [tag for tag in found if tag not in given]

    def fingerprint(self) -> str:
        """sha256 of the sentences (words and IOB2 tags) as canonical JSON."""
        content = [[sentence.words, sentence.tags] for sentence in self]
        return hashlib.sha256(canonical_json(content)).hexdigest()


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """Rewrite IOB1 tags as IOB2: an `I-X` that starts an entity becomes `B-X`.

    An entity starts at an `I-X` after `O`, at the sentence start, or after a tag
    of another type. IOB2 input comes back unchanged.
    """
    converted = []
    previous = "O"
    for tag in tags:
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        converted.append(tag)
        previous = tag
    return converted


def label_list(sentences: list[Sentence]) -> list[str]:
    """The tags used, `O` first, then `B-`/`I-` pairs by type in alphabetical order."""
    types = sorted({tag[2:] for sentence in sentences for tag in sentence.tags if tag != "O"})
    return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in ("B", "I")]


def _check_tag(where: str, tag: str, label_names: Sequence[str] | None) -> str:
    if not IOB_TAG.match(tag):
        raise DataError(f"{where}: tag {tag!r} is not IOB (expected O, B-TYPE or I-TYPE)")
    if label_names is not None and tag not in label_names:
        raise DataError(f"{where}: unknown tag {tag!r} (expected one of {list(label_names)})")
    return tag


# --------------------------------------------------------------------------- column files
def detect_format(path: str | Path) -> str:
    """`conll2003` (4 space-separated columns) or `wnut17` (2 tab-separated columns)."""
    return _detect_format(Path(path), text_lines(path))


def _detect_format(path: Path, lines: list[str]) -> str:
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            continue
        if "\t" in line and len(line.split("\t")) == 2:
            return "wnut17"
        if len(line.split()) == 4:
            return "conll2003"
        raise DataError(
            f"{path}:{number}: cannot tell the format: expected 4 space-separated columns "
            f"(CoNLL-2003) or 2 tab-separated columns (WNUT-17), got {line!r}"
        )
    raise DataError(f"{path}: no sentences in the file")


def read_conll(
    path: str | Path,
    format: str = "auto",
    to_iob2: bool = True,
    label_names: Sequence[str] | None = None,
) -> NerDataset:
    """Read a column file into sentences (tags converted to IOB2 unless `to_iob2=False`).

    With `label_names`, every tag of the file must be one of them.
    """
    path = Path(path)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    lines = text_lines(path)
    if format == "auto":
        format = _detect_format(path, lines)
    columns, what = (4, "space-separated") if format == "conll2003" else (2, "tab-separated")
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for number, line in enumerate([*lines, ""], start=1):
        if not line.strip() or line.startswith("-DOCSTART-"):
            if words:
                sentences.append(Sentence(words, iob1_to_iob2(tags) if to_iob2 else tags))
            words, tags = [], []
            continue
        fields = line.split() if format == "conll2003" else line.split("\t")
        if len(fields) != columns:
            raise DataError(
                f"{path}:{number}: expected {columns} {what} columns ({format}), "
                f"got {len(fields)}: {line!r}"
            )
        words.append(fields[0])
        tags.append(_check_tag(f"{path}:{number}", fields[-1].strip(), label_names))
    if not sentences:
        raise DataError(f"{path}: no sentences in the file")
    return NerDataset(sentences, str(path), label_names)


# --------------------------------------------------------------------------- your own data
def _sequence(row: Row, value, what: str) -> list:
    """A list of tokens or tags: a JSON list, or a table cell of space-separated items."""
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            value = parse_json(value, f"{row.where} ({what})", DataError)
        else:
            value = value.split()
    if not isinstance(value, list):
        raise DataError(f"{row.where}: the {what} should be a list, found {type(value).__name__}")
    return value


def _tag_name(row: Row, tag, id_names: Sequence[str] | None, label_names) -> str:
    """A tag as a name: names stay, integer ids (or digit strings) become `id_names[id]`."""
    if isinstance(tag, str) and TAG_ID.fullmatch(tag):
        tag = int(tag)
    if isinstance(tag, int) and not isinstance(tag, bool):
        if id_names is None:
            raise DataError(
                f"{row.where}: tag {tag} is an id: pass label_names (--label-names) to name the tags"
            )
        if not 0 <= tag < len(id_names):
            raise DataError(f"{row.where}: tag id {tag} is out of range 0-{len(id_names) - 1}")
        tag = id_names[tag]
    if not isinstance(tag, str):
        raise DataError(f"{row.where}: a tag should be a name or an id, found {type(tag).__name__}")
    return _check_tag(row.where, tag, label_names)


def _table_sentence(row: Row, words: list, tags: list, id_names, label_names) -> Sentence:
    if not words:
        raise DataError(f"{row.where}: a sentence without tokens")
    if len(words) != len(tags):
        raise DataError(f"{row.where}: {len(words)} tokens but {len(tags)} tags")
    for word in words:
        if not isinstance(word, str) or not word.strip():
            raise DataError(f"{row.where}: token {word!r} is not a non-empty string")
    names = [_tag_name(row, tag, id_names, label_names) for tag in tags]
    return Sentence(list(words), iob1_to_iob2(names))


def from_table(
    table: Table,
    tokens_column: str | None = None,
    tags_column: str | None = None,
    label_names: Sequence[str] | None = None,
) -> NerDataset:
    """Tagged sentences from rows with a tokens column and a tags column."""
    tokens_key = table.column(tokens_column, TOKENS_COLUMNS, "tokens_column (--tokens-column)")
    tags_key = table.column(tags_column, TAGS_COLUMNS, "tags_column (--tags-column)")
    id_names = table.class_names.get(tags_key) or label_names
    sentences = [
        _table_sentence(
            row,
            _sequence(row, cell(row, tokens_key), "tokens"),
            _sequence(row, cell(row, tags_key), "tags"),
            id_names,
            label_names,
        )
        for row in table.rows
    ]
    return NerDataset(sentences, table.source, label_names)


def from_hf_dataset(dataset, *, source: str = "a datasets.Dataset", **options) -> NerDataset:
    """A `datasets.Dataset` in memory as tagged sentences (ClassLabel tag names kept).

    `options` are `from_table`'s: `tokens_column`, `tags_column`, `label_names`.
    """
    return from_table(table_from_hf(dataset, source), **options)


def _is_table_file(path: Path, tokens_column: str | None, tags_column: str | None) -> bool:
    """JSONL and CSV are tables; a TSV is one when its first line names the columns."""
    if path.suffix in (".jsonl", ".csv"):
        return True
    if path.suffix != ".tsv":
        return False
    header = next((line for line in text_lines(path) if line.strip()), "").split("\t")
    return (tokens_column or TOKENS_COLUMNS[0]) in header and any(
        name in header for name in ([tags_column] if tags_column else TAGS_COLUMNS)
    )


def read_ner_file(
    path: str | Path,
    *,
    format: str = "auto",
    tokens_column: str | None = None,
    tags_column: str | None = None,
    label_names: Sequence[str] | None = None,
) -> NerDataset:
    """A file chosen by its suffix: JSONL/CSV/TSV with named columns, else a column file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    named = tokens_column is not None or tags_column is not None
    if format == "auto" and (named or _is_table_file(path, tokens_column, tags_column)):
        return from_table(read_table_file(path), tokens_column, tags_column, label_names)
    if named:
        raise ValueError(
            f"tokens_column and tags_column apply to .jsonl/.csv/.tsv files, not to {format} column files"
        )
    return read_conll(path, format=format, label_names=label_names)


# --------------------------------------------------------------------------- benchmarks
def _read_hub_json_lines(
    name: str, split: str, label_names: Sequence[str] | None
) -> list[Sentence]:
    repo = HUB_REPOS[name]
    labels = json.loads(hub_download(repo, "dataset/label.json", "dataset").read_text())
    id2label = {index: label for label, index in labels.items()}
    data_file = hub_download(repo, f"dataset/{HUB_SPLITS[split]}.json", "dataset")
    sentences = []
    for number, line in enumerate(text_lines(data_file), start=1):
        if line.strip():
            record = json.loads(line)
            where = f"{repo} {split}:{number}"
            tags = [_check_tag(where, id2label[index], label_names) for index in record["tags"]]
            sentences.append(Sentence(record["tokens"], iob1_to_iob2(tags)))
    return sentences


def load_ner_dataset(
    name: str, split: str, path: str | Path | None = None, label_names: Sequence[str] | None = None
) -> NerDataset:
    """One split of `conll2003` (train/valid/test) or `wnut17` (train/dev/test).

    Found by `bertlab.hub.lookup_dataset`: explicit `path`, else `BERTLAB_DATA`, else
    the Hub (online), else the small sample in `data/` (with a visible warning).
    """
    if name not in LOCAL_FILES:
        raise ValueError(f"unknown NER dataset {name!r}: choose from {sorted(LOCAL_FILES)}")
    if split not in LOCAL_FILES[name]:
        raise ValueError(f"{name} has splits {sorted(LOCAL_FILES[name])}, not {split!r}")
    sentences, source = lookup_dataset(
        f"{name} {split}",
        LOCAL_FILES[name][split],
        lambda file: read_conll(file, format=name, label_names=label_names),
        path=path,
        from_hub=lambda: _read_hub_json_lines(name, split, label_names),
        hub_name=f"{HUB_REPOS[name]} {HUB_SPLITS[split]}",
        sample=SAMPLES[name],
    )
    return NerDataset(sentences, source, label_names)


def load_conll2003(split: str = "train", path: str | Path | None = None) -> NerDataset:
    """CoNLL-2003 English NER (PER, ORG, LOC, MISC) in IOB2."""
    return load_ner_dataset("conll2003", split, path)


def load_wnut17(split: str = "train", path: str | Path | None = None) -> NerDataset:
    """WNUT-17 emerging entities in social media (6 types) in IOB2."""
    return load_ner_dataset("wnut17", split, path)


def load_ner_data(
    split: str,
    path: str | None = None,
    *,
    dataset: str = "conll2003",
    format: str = "auto",
    tokens_column: str | None = None,
    tags_column: str | None = None,
    label_names: Sequence[str] | None = None,
) -> NerDataset:
    """One split of NER data: a benchmark by name, a file, or a Hugging Face dataset.

    - `path=None`: the benchmark `dataset` (conll2003: train/valid; wnut17: train/dev);
    - `path="hf:NAME[:CONFIG]"`: `datasets.load_dataset(NAME, CONFIG)`, train or validation;
    - any other path: `read_ner_file` (JSONL/CSV/TSV with named columns, or a column file
      in the `format` given or detected).

    With `label_names` (pass the train split's when you load dev), every tag must be one of them.
    """
    columns = {"tokens_column": tokens_column, "tags_column": tags_column}
    return load_split(
        split,
        path,
        columns,
        benchmark=lambda: _benchmark(dataset, split, label_names),
        from_table=partial(from_table, **columns, label_names=label_names),
        read_file=partial(read_ner_file, format=format, **columns, label_names=label_names),
    )


def _benchmark(dataset: str, split: str, label_names: Sequence[str] | None) -> NerDataset:
    if dataset not in BENCHMARK_SPLITS:
        raise ValueError(f"unknown dataset {dataset!r}: choose from {sorted(BENCHMARK_SPLITS)}")
    return load_ner_dataset(dataset, BENCHMARK_SPLITS[dataset][split], label_names=label_names)
