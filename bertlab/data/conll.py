"""Readers for named-entity column files: CoNLL-2003 (4 columns) and WNUT-17 (2 columns).

Notebook 11 uses them. Both formats hold one word a line with its tag in the last
column and a blank line between sentences:

    CoNLL-2003   `EU NNP B-NP B-ORG`      (token POS chunk NER, `-DOCSTART-` between documents)
    WNUT-17      `Empire<TAB>B-location`  (token, tag)

Tags are IOB: `O` outside, `B-TYPE` begins an entity, `I-TYPE` continues one. The
original CoNLL-2003 release used IOB1 (`B-` only where two entities of one type
touch); everything here is converted to IOB2 (every entity starts with `B-`), the
scheme models are trained on. A malformed line (wrong number of columns, a tag
that is not IOB) raises `ValueError` naming the file and the line.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from bertlab.hub import find_dataset_file, hub_download, hub_is_offline, sample_file

FORMATS = ("auto", "conll2003", "wnut17")
IOB_TAG = re.compile(r"^(O|[BI]-\S+)$")

CONLL2003_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
"""The label order of the Hugging Face `conll2003` dataset (its `ner_tags` ids)."""

WNUT17_TYPES = ["corporation", "creative-work", "group", "location", "person", "product"]

# split -> (file under BERTLAB_DATA, sample in data/)
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


def detect_format(path: str | Path) -> str:
    """`conll2003` (4 space-separated columns) or `wnut17` (2 tab-separated columns)."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("-DOCSTART-"):
                continue
            if "\t" in line and len(line.split("\t")) == 2:
                return "wnut17"
            if len(line.split()) == 4:
                return "conll2003"
            raise ValueError(
                f"{path}:{number}: cannot tell the format: expected 4 space-separated columns "
                f"(CoNLL-2003) or 2 tab-separated columns (WNUT-17), got {line!r}"
            )
    raise ValueError(f"{path}: no sentences in the file")


def read_conll(path: str | Path, format: str = "auto", to_iob2: bool = True) -> list[Sentence]:
    """Read a column file into sentences (tags converted to IOB2 unless `to_iob2=False`)."""
    path = Path(path)
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if format == "auto":
        format = detect_format(path)
    columns = 4 if format == "conll2003" else 2
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []

    def close_sentence() -> None:
        if words:
            sentences.append(Sentence(list(words), iob1_to_iob2(tags) if to_iob2 else list(tags)))
            words.clear()
            tags.clear()

    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                close_sentence()
                continue
            if line.startswith("-DOCSTART-"):
                close_sentence()
                continue
            fields = line.split() if format == "conll2003" else line.split("\t")
            if len(fields) != columns:
                what = "space-separated" if format == "conll2003" else "tab-separated"
                raise ValueError(
                    f"{path}:{number}: expected {columns} {what} columns ({format}), "
                    f"got {len(fields)}: {line!r}"
                )
            word, tag = fields[0], fields[-1].strip()
            if not IOB_TAG.match(tag):
                raise ValueError(
                    f"{path}:{number}: tag {tag!r} is not IOB (expected O, B-TYPE or I-TYPE)"
                )
            words.append(word)
            tags.append(tag)
    close_sentence()
    return sentences


def _read_hub_json_lines(name: str, split: str) -> list[Sentence]:
    repo = HUB_REPOS[name]
    labels = json.loads(hub_download(repo, "dataset/label.json", "dataset").read_text())
    id2label = {index: label for label, index in labels.items()}
    data_file = hub_download(repo, f"dataset/{HUB_SPLITS[split]}.json", "dataset")
    sentences = []
    for line in data_file.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            tags = [id2label[index] for index in record["tags"]]
            sentences.append(Sentence(record["tokens"], iob1_to_iob2(tags)))
    return sentences


def load_ner_dataset(name: str, split: str, path: str | Path | None = None) -> list[Sentence]:
    """One split of `conll2003` (train/valid/test) or `wnut17` (train/dev/test).

    Resolution: explicit `path`, else `BERTLAB_DATA`, else the Hub (online), else
    the small sample in `data/` (with a visible warning).
    """
    if name not in LOCAL_FILES:
        raise ValueError(f"unknown NER dataset {name!r}: choose from {sorted(LOCAL_FILES)}")
    if split not in LOCAL_FILES[name]:
        raise ValueError(f"{name} has splits {sorted(LOCAL_FILES[name])}, not {split!r}")
    found = find_dataset_file(LOCAL_FILES[name][split], path)
    if found is not None:
        return read_conll(found, format=name)
    if not hub_is_offline():
        try:
            return _read_hub_json_lines(name, split)
        except ConnectionError as error:
            print(f"bertlab: {error}; falling back to the sample in data/")
    return read_conll(sample_file(SAMPLES[name]), format=name)


def load_conll2003(split: str = "train", path: str | Path | None = None) -> list[Sentence]:
    """CoNLL-2003 English NER (PER, ORG, LOC, MISC) in IOB2."""
    return load_ner_dataset("conll2003", split, path)


def load_wnut17(split: str = "train", path: str | Path | None = None) -> list[Sentence]:
    """WNUT-17 emerging entities in social media (6 types) in IOB2."""
    return load_ner_dataset("wnut17", split, path)


def label_list(sentences: list[Sentence]) -> list[str]:
    """The tags used, `O` first, then `B-`/`I-` pairs by type in alphabetical order."""
    types = sorted({tag[2:] for sentence in sentences for tag in sentence.tags if tag != "O"})
    return ["O"] + [f"{prefix}-{kind}" for kind in types for prefix in ("B", "I")]
