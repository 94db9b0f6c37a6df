"""Text-classification data: SST-2, AG News, and your own texts with labels.

Notebook 10 loads SST-2 (movie-review sentiment) and AG News (news topics);
`load_classification_data` is the one entry point for both and for the user's own
data. The benchmark files are found by `bertlab.hub.lookup_dataset` (an explicit path,
else `BERTLAB_DATA`, else the Hugging Face Hub, else the small sample in `data/`).

- SST-2 (GLUE): a TSV with the header `sentence<TAB>label`, label 0 = negative,
  1 = positive, no quoting.
- AG News: a CSV without header, `class (1-4), title, description`, quoted.
  Only the official test split (7,600 rows) is used here, split into train and
  dev with a fixed seed, stratified by class.
- Your own: a CSV or TSV with a header row, or JSON lines, with a text column and a
  label column (`text` and `label` unless you name others), or a Hugging Face dataset.

Labels of your own data, any number of classes:

- an integer (or a cell of digits) is a class id: class `i` is named `label_names[i]`,
  or "i" without `label_names`;
- anything else is a class name: with `label_names` it must be one of them (their
  order gives the ids); without, the classes are the distinct names, sorted.

Load the train split first and pass its `label_names` when you load dev, so that both
number the classes the same way. Malformed rows raise `DataError` with file and line.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bertlab.data.common import DataError, canonical_json, check_split, csv_rows, text_lines
from bertlab.data.tables import Row, Table, cell, load_split, read_table_file, table_from_hf
from bertlab.hub import hub_download, lookup_dataset

SST2_LABELS = ("negative", "positive")
AG_NEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")
AG_NEWS_DEV_FRACTION = 0.2
AG_NEWS_SPLIT_SEED = 0
SAMPLE_DEV_ROWS = 10
"""The last rows of the SST-2 sample serve as its dev split."""
TEXT_COLUMNS = ("text", "sentence")
LABEL_COLUMNS = ("label",)
CLASS_ID = re.compile(r"[0-9]+")


@dataclass
class ClassificationDataset:
    """Texts with integer labels and the label names (label `i` is `label_names[i]`)."""

    texts: list[str]
    labels: list[int]
    label_names: list[str]
    source: str = ""
    line_numbers: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.texts[index], self.labels[index]

    def subset(self, indices: Sequence[int], source: str | None = None) -> ClassificationDataset:
        """The rows at `indices`, in that order."""
        return ClassificationDataset(
            [self.texts[i] for i in indices],
            [self.labels[i] for i in indices],
            list(self.label_names),
            source if source is not None else self.source,
            [self.line_numbers[i] for i in indices] if self.line_numbers else [],
        )

    def label_counts(self) -> dict[str, int]:
        """How many rows each class has: the first thing to look at (class balance)."""
        counts = dict.fromkeys(self.label_names, 0)
        for label in self.labels:
            counts[self.label_names[label]] += 1
        return counts

    def fingerprint(self) -> str:
        """sha256 of the examples (texts and label names) as canonical JSON, whatever the file."""
        rows = [[text, self.label_names[label]] for text, label in zip(self.texts, self.labels)]
        content = {"label_names": self.label_names, "rows": rows}
        return hashlib.sha256(canonical_json(content)).hexdigest()


# --------------------------------------------------------------------------- the benchmark formats
def read_sst2_tsv(
    path: str | Path, label_names: Sequence[str] = SST2_LABELS
) -> ClassificationDataset:
    """Read a GLUE SST-2 `train.tsv`/`dev.tsv` file (header `sentence<TAB>label`)."""
    path = Path(path)
    if len(label_names) != 2:
        raise ValueError(f"SST-2 has 2 classes, but label_names has {len(label_names)}")
    lines = text_lines(path)
    header = lines[0].split("\t")
    if header != ["sentence", "label"]:
        raise DataError(f"{path}:1: expected the header 'sentence<TAB>label', found {header}")
    texts, labels, numbers = [], [], []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        columns = line.split("\t")
        if len(columns) != 2:
            raise DataError(
                f"{path}:{number}: expected 2 tab-separated columns (sentence, label), "
                f"found {len(columns)}"
            )
        sentence, label = columns
        if label not in ("0", "1"):
            raise DataError(f"{path}:{number}: unknown label {label!r} (expected 0 or 1)")
        texts.append(_text(f"{path}:{number}", sentence))
        labels.append(int(label))
        numbers.append(number)
    if not texts:
        raise DataError(f"{path}: only a header line, no rows")
    return ClassificationDataset(texts, labels, list(label_names), str(path), numbers)


def read_ag_news_csv(
    path: str | Path, label_names: Sequence[str] | None = None
) -> ClassificationDataset:
    """Read an AG News CSV (`"class","title","description"`, classes 1-4, no header).

    The text is the title, a space, then the
    description; the dataset's backslashes (escaped newlines) become spaces.
    Class names come from `classes.txt` beside the file when present.
    """
    path = Path(path)
    if label_names is None:
        classes = path.parent / "classes.txt"
        if classes.exists():
            label_names = [name.strip() for name in text_lines(classes) if name.strip()]
        else:
            label_names = list(AG_NEWS_LABELS)
    known = {str(i + 1): i for i in range(len(label_names))}
    texts, labels, numbers = [], [], []
    for number, row in csv_rows(path, ","):
        if len(row) != 3:
            raise DataError(
                f"{path}:{number}: expected 3 columns (class, title, description), found {len(row)}"
            )
        label, title, description = row
        if label.strip() not in known:
            raise DataError(
                f"{path}:{number}: unknown class {label!r} (expected 1-{len(label_names)})"
            )
        text = f"{title.strip()} {description.strip()}".replace("\\", " ")
        texts.append(_text(f"{path}:{number}", " ".join(text.split())))
        labels.append(known[label.strip()])
        numbers.append(number)
    return ClassificationDataset(texts, labels, list(label_names), str(path), numbers)


def _text(where: str, value) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: the text should be a string, found {type(value).__name__}")
    if not value.strip():
        raise DataError(f"{where}: empty text")
    return value.strip()


# --------------------------------------------------------------------------- your own data
def _label_value(row: Row, value) -> int | str:
    """A label as given: an int id (JSON, Hugging Face) or a stripped string (a name, or digits)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        kind = "nothing" if value is None else f"a {type(value).__name__}"
        raise DataError(f"{row.where}: the label should be a name or an integer id, found {kind}")
    if isinstance(value, int) and value < 0:
        raise DataError(f"{row.where}: label {value} is not a class id (ids count from 0)")
    if isinstance(value, str) and not value.strip():
        raise DataError(f"{row.where}: missing label")
    return value.strip() if isinstance(value, str) else value


def _as_id(value: int | str) -> int | None:
    if isinstance(value, int):
        return value
    return int(value) if CLASS_ID.fullmatch(value) else None


def class_ids(
    rows: Sequence[Row], values: Sequence[int | str], label_names: Sequence[str] | None
) -> tuple[list[int], list[str]]:
    """(class ids, class names) from labels given as ids or names (see the module docstring)."""
    if label_names is not None:
        names = list(label_names)
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"label_names must be distinct and not empty, got {names}")
        index = {name: i for i, name in enumerate(names)}
        ids = []
        for row, value in zip(rows, values):
            label = index.get(value) if isinstance(value, str) else None
            label = _as_id(value) if label is None else label
            if label is None or label >= len(names):
                raise DataError(f"{row.where}: unknown label {value!r} (expected one of {names})")
            ids.append(label)
        return ids, names
    as_ids = [_as_id(value) for value in values]
    if all(label is not None for label in as_ids):
        return as_ids, [str(i) for i in range(max(as_ids) + 1)]
    if any(label is not None for label in as_ids):
        first_id = next(i for i, label in enumerate(as_ids) if label is not None)
        first_name = next(i for i, label in enumerate(as_ids) if label is None)
        raise DataError(
            f"{rows[first_name].where}: label {values[first_name]!r} is a name, but "
            f"{rows[first_id].where} has the class id {values[first_id]!r}: "
            "use names or ids throughout, or pass label_names (--label-names)"
        )
    names = sorted(set(values))
    index = {name: i for i, name in enumerate(names)}
    return [index[value] for value in values], names


def from_table(
    table: Table,
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: Sequence[str] | None = None,
) -> ClassificationDataset:
    """A classification dataset from rows with a text column and a label column."""
    text_key = table.column(text_column, TEXT_COLUMNS, "text_column (--text-column)")
    label_key = table.column(label_column, LABEL_COLUMNS, "label_column (--label-column)")
    texts = [_text(row.where, cell(row, text_key)) for row in table.rows]
    values = [_label_value(row, cell(row, label_key)) for row in table.rows]
    class_label = table.class_names.get(label_key)
    if class_label and label_names is not None:  # Hugging Face ClassLabel ids -> their names
        values = [
            class_label[v] if isinstance(v, int) and v < len(class_label) else v for v in values
        ]
    ids, names = class_ids(table.rows, values, class_label if label_names is None else label_names)
    numbers = [row.line for row in table.rows] if table.rows[0].line else []
    return ClassificationDataset(texts, ids, names, table.source, numbers)


def from_hf_dataset(
    dataset, *, source: str = "a datasets.Dataset", **options
) -> ClassificationDataset:
    """A `datasets.Dataset` in memory as a classification dataset (ClassLabel names kept).

    `options` are `from_table`'s: `text_column`, `label_column`, `label_names`.
    """
    return from_table(table_from_hf(dataset, source), **options)


def _looks_like_ag_news(path: Path) -> bool:
    """No header, three cells, a class number first: `"3","Wall St. Bears ...","..."`."""
    cells = next(csv.reader([text_lines(path)[0]]), [])
    return len(cells) == 3 and bool(CLASS_ID.fullmatch(cells[0].strip()))


def read_classification_file(
    path: str | Path,
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: Sequence[str] | None = None,
) -> ClassificationDataset:
    """Read a file chosen by its suffix: SST-2 TSV, AG News CSV, or your own CSV/TSV/JSONL.

    A `.tsv` with the header `sentence<TAB>label` is SST-2, a `.csv` whose first row is
    `class,title,description` with a numeric class is AG News, unless you name columns.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    named = text_column is not None or label_column is not None
    if path.suffix == ".tsv" and not named and text_lines(path)[0] == "sentence\tlabel":
        return read_sst2_tsv(path, SST2_LABELS if label_names is None else label_names)
    if path.suffix == ".csv" and not named and _looks_like_ag_news(path):
        return read_ag_news_csv(path, label_names)
    if path.suffix not in (".tsv", ".csv", ".jsonl"):
        raise DataError(
            f"{path}: expected a .tsv, .csv or .jsonl file (SST-2 TSV, AG News CSV, "
            "or your own with named columns)"
        )
    return from_table(read_table_file(path), text_column, label_column, label_names)


# --------------------------------------------------------------------------- splits
def stratified_split(
    dataset: ClassificationDataset, dev_fraction: float, seed: int
) -> tuple[ClassificationDataset, ClassificationDataset]:
    """Split into (train, dev) with the same class balance in both, reproducibly."""
    if not 0 < dev_fraction < 1:
        raise ValueError(f"dev_fraction must be between 0 and 1, got {dev_fraction}")
    rng = random.Random(seed)
    train, dev = [], []
    for label in range(len(dataset.label_names)):
        rows = [i for i, y in enumerate(dataset.labels) if y == label]
        rng.shuffle(rows)
        cut = round(len(rows) * dev_fraction)
        dev += rows[:cut]
        train += rows[cut:]
    rng.shuffle(train)
    rng.shuffle(dev)
    return dataset.subset(train), dataset.subset(dev)


# --------------------------------------------------------------------------- the Hub
def _read_hub_parquet(repo_id: str, filename: str) -> list[dict]:
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise ImportError(
            f"reading {repo_id} from the Hub needs pyarrow (pip install pyarrow)"
        ) from error
    return parquet.read_table(hub_download(repo_id, filename, repo_type="dataset")).to_pylist()


def _sst2_from_hub(split: str) -> ClassificationDataset:
    hub_split = {"train": "train", "dev": "validation"}[split]
    rows = _read_hub_parquet("nyu-mll/glue", f"sst2/{hub_split}-00000-of-00001.parquet")
    # GLUE's train has 67,349 rows; BERTLAB_DATA keeps the first 65,349 of them.
    return ClassificationDataset(
        [row["sentence"].strip() for row in rows],
        [int(row["label"]) for row in rows],
        list(SST2_LABELS),
    )


def _ag_news_from_hub() -> ClassificationDataset:
    rows = _read_hub_parquet("fancyzhx/ag_news", "data/test-00000-of-00001.parquet")
    return ClassificationDataset(
        [" ".join(row["text"].replace("\\", " ").split()) for row in rows],
        [int(row["label"]) for row in rows],
        list(AG_NEWS_LABELS),
    )


# --------------------------------------------------------------------------- loaders
def _sst2_sample_rows(path: Path, split: str) -> ClassificationDataset:
    sample = read_sst2_tsv(path)
    cut = len(sample) - SAMPLE_DEV_ROWS
    rows = range(cut) if split == "train" else range(cut, len(sample))
    return sample.subset(list(rows))


def load_sst2(split: str = "train", path: str | Path | None = None) -> ClassificationDataset:
    """SST-2 `train` (65,349 rows in BERTLAB_DATA) or `dev` (872 rows).

    With neither a path, `BERTLAB_DATA` nor the Hub, the project's 40-row sample
    `data/sst2_sample.tsv` is used: its last 10 rows are the dev split.
    """
    check_split(split)
    dataset, source = lookup_dataset(
        f"sst2 {split}",
        f"sst2/{split}.tsv",
        read_sst2_tsv,
        path=path,
        from_hub=lambda: _sst2_from_hub(split),
        hub_name=f"nyu-mll/glue sst2 {split}",
        sample="sst2_sample.tsv",
        read_sample=lambda sample: _sst2_sample_rows(sample, split),
    )
    dataset.source = source
    return dataset


def load_ag_news(
    split: str = "train",
    path: str | Path | None = None,
    dev_fraction: float = AG_NEWS_DEV_FRACTION,
    seed: int = AG_NEWS_SPLIT_SEED,
) -> ClassificationDataset:
    """AG News `train` or `dev`: the official 7,600-row test CSV, split 80/20 by class.

    The split is fixed by `seed`, so train and dev never overlap between calls.
    """
    check_split(split)
    everything, source = lookup_dataset(
        "ag_news",
        "ag_news/test.csv",
        read_ag_news_csv,
        path=path,
        from_hub=_ag_news_from_hub,
        hub_name="fancyzhx/ag_news test",
        sample="ag_news_sample.csv",
    )
    train, dev = stratified_split(everything, dev_fraction, seed)
    chosen = train if split == "train" else dev
    if not chosen:
        raise DataError(f"{source}: the {split} split is empty ({len(everything)} rows in all)")
    chosen.source = f"{source}, {split} split ({dev_fraction:.0%} dev, seed {seed})"
    return chosen


BENCHMARKS = {"sst2": load_sst2, "ag_news": load_ag_news}


def load_classification_data(
    split: str,
    path: str | None = None,
    *,
    dataset: str = "sst2",
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: Sequence[str] | None = None,
) -> ClassificationDataset:
    """One split of classification data: a benchmark by name, a file, or a Hugging Face dataset.

    - `path=None`: the benchmark `dataset` (sst2 or ag_news) through the lookup rule;
      `label_names`, when given, must be the benchmark's own (a dev/train check);
    - `path="hf:NAME[:CONFIG]"`: `datasets.load_dataset(NAME, CONFIG)`, its train split
      or its validation split for "dev"; ClassLabel features give the label names;
    - any other path: a file, read by `read_classification_file`.
    """
    columns = {"text_column": text_column, "label_column": label_column}
    return load_split(
        split,
        path,
        columns,
        benchmark=lambda: _benchmark(dataset, split, label_names),
        from_table=partial(from_table, **columns, label_names=label_names),
        read_file=partial(read_classification_file, **columns, label_names=label_names),
    )


def _benchmark(
    dataset: str, split: str, label_names: Sequence[str] | None
) -> ClassificationDataset:
    if dataset not in BENCHMARKS:
        raise ValueError(f"unknown dataset {dataset!r}: choose from {sorted(BENCHMARKS)}")
    data = BENCHMARKS[dataset](split)
    if label_names is not None and list(label_names) != data.label_names:
        raise DataError(
            f"{data.source}: the labels are {data.label_names}, not {list(label_names)}"
        )
    return data
