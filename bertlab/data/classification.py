"""Text-classification datasets: SST-2 (movie-review sentiment) and AG News (news topics).

Notebook 10 loads both. Each loader resolves its file the same way as every
bertlab loader: an explicit path, else `BERTLAB_DATA`, else the Hugging Face
Hub (online only), else the small sample written for this project in `data/`
(with a visible warning). Malformed rows are rejected with the file and line.

- SST-2 (GLUE): a TSV with the header `sentence<TAB>label`, label 0 = negative,
  1 = positive, no quoting.
- AG News: a CSV without header, `class (1-4), title, description`, quoted.
  Only the official test split (7,600 rows) is used here, split into train and
  dev with a fixed seed, stratified by class.
"""

from __future__ import annotations

import csv
import os
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bertlab.hub import find_dataset_file, hub_download, hub_is_offline, sample_file

SST2_LABELS = ("negative", "positive")
AG_NEWS_LABELS = ("World", "Sports", "Business", "Sci/Tech")
AG_NEWS_DEV_FRACTION = 0.2
AG_NEWS_SPLIT_SEED = 0
SAMPLE_DEV_ROWS = 10
"""The last rows of the SST-2 sample serve as its dev split."""


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


# --------------------------------------------------------------------------- file formats
def read_sst2_tsv(path: str | os.PathLike) -> ClassificationDataset:
    """Read a GLUE SST-2 `train.tsv`/`dev.tsv` file (header `sentence<TAB>label`)."""
    path = Path(path)
    texts, labels, lines = [], [], []
    with open(path, encoding="utf-8", newline="") as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
        if header != ["sentence", "label"]:
            raise ValueError(f"{path}:1: expected the header 'sentence<TAB>label', found {header}")
        for number, line in enumerate(handle, start=2):
            line = line.rstrip("\r\n")
            if not line:
                continue
            columns = line.split("\t")
            if len(columns) != 2:
                raise ValueError(
                    f"{path}:{number}: expected 2 tab-separated columns (sentence, label), "
                    f"found {len(columns)}"
                )
            sentence, label = columns
            if label not in ("0", "1"):
                raise ValueError(f"{path}:{number}: unknown label {label!r} (expected 0 or 1)")
            texts.append(sentence.strip())
            labels.append(int(label))
            lines.append(number)
    return ClassificationDataset(texts, labels, list(SST2_LABELS), str(path), lines)


def read_ag_news_csv(
    path: str | os.PathLike, label_names: Sequence[str] | None = None
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
            label_names = [
                name.strip() for name in classes.read_text().splitlines() if name.strip()
            ]
        else:
            label_names = list(AG_NEWS_LABELS)
    known = {str(i + 1): i for i in range(len(label_names))}
    texts, labels, lines = [], [], []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        for row in reader:
            number, start = start, reader.line_num + 1
            if not row:
                continue
            if len(row) != 3:
                raise ValueError(
                    f"{path}:{number}: expected 3 columns (class, title, description), "
                    f"found {len(row)}"
                )
            label, title, description = row
            if label.strip() not in known:
                raise ValueError(
                    f"{path}:{number}: unknown class {label!r} (expected 1-{len(label_names)})"
                )
            text = f"{title.strip()} {description.strip()}".replace("\\", " ")
            texts.append(" ".join(text.split()))
            labels.append(known[label.strip()])
            lines.append(number)
    return ClassificationDataset(texts, labels, list(label_names), str(path), lines)


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


def _check_split(split: str) -> None:
    if split not in ("train", "dev"):
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}")


# --------------------------------------------------------------------------- the Hub
def _read_hub_parquet(repo_id: str, filename: str) -> list[dict]:
    try:
        import pyarrow.parquet as parquet
    except ImportError as error:
        raise ImportError(
            f"reading {repo_id} from the Hub needs pyarrow (pip install pyarrow); "
            "or set BERTLAB_DATA to the datasets folder"
        ) from error
    return parquet.read_table(hub_download(repo_id, filename, repo_type="dataset")).to_pylist()


def _from_hub(loader):
    """Run a Hub loader when online; None (with a warning) when that is not possible."""
    if hub_is_offline():
        return None
    try:
        return loader()
    except (ConnectionError, ImportError) as error:
        warnings.warn(f"could not load from the Hugging Face Hub: {error}", stacklevel=3)
        return None


def _sst2_from_hub(split: str) -> ClassificationDataset:
    hub_split = {"train": "train", "dev": "validation"}[split]
    rows = _read_hub_parquet("nyu-mll/glue", f"sst2/{hub_split}-00000-of-00001.parquet")
    # GLUE's train has 67,349 rows; BERTLAB_DATA keeps the first 65,349 of them.
    return ClassificationDataset(
        [row["sentence"].strip() for row in rows],
        [int(row["label"]) for row in rows],
        list(SST2_LABELS),
        f"hub:nyu-mll/glue/sst2/{hub_split}",
    )


def _ag_news_from_hub() -> ClassificationDataset:
    rows = _read_hub_parquet("fancyzhx/ag_news", "data/test-00000-of-00001.parquet")
    return ClassificationDataset(
        [" ".join(row["text"].replace("\\", " ").split()) for row in rows],
        [int(row["label"]) for row in rows],
        list(AG_NEWS_LABELS),
        "hub:fancyzhx/ag_news/test",
    )


# --------------------------------------------------------------------------- loaders
def load_sst2(split: str = "train", path: str | os.PathLike | None = None) -> ClassificationDataset:
    """SST-2 `train` (65,349 rows in BERTLAB_DATA) or `dev` (872 rows).

    With neither a path, `BERTLAB_DATA` nor the Hub, the project's 40-row sample
    `data/sst2_sample.tsv` is used: its last 10 rows are the dev split.
    """
    _check_split(split)
    found = find_dataset_file(f"sst2/{split}.tsv", path)
    if found is not None:
        return read_sst2_tsv(found)
    dataset = _from_hub(lambda: _sst2_from_hub(split))
    if dataset is not None:
        return dataset
    sample = read_sst2_tsv(sample_file("sst2_sample.tsv"))
    cut = len(sample) - SAMPLE_DEV_ROWS
    rows = range(cut) if split == "train" else range(cut, len(sample))
    return sample.subset(list(rows), f"{sample.source} ({split} rows)")


def load_ag_news(
    split: str = "train",
    path: str | os.PathLike | None = None,
    dev_fraction: float = AG_NEWS_DEV_FRACTION,
    seed: int = AG_NEWS_SPLIT_SEED,
) -> ClassificationDataset:
    """AG News `train` or `dev`: the official 7,600-row test CSV, split 80/20 by class.

    The split is fixed by `seed`, so train and dev never overlap between calls.
    """
    _check_split(split)
    found = find_dataset_file("ag_news/test.csv", path)
    if found is not None:
        dataset = read_ag_news_csv(found)
    else:
        dataset = _from_hub(_ag_news_from_hub)
        if dataset is None:
            dataset = read_ag_news_csv(sample_file("ag_news_sample.csv"))
    train, dev = stratified_split(dataset, dev_fraction, seed)
    return train if split == "train" else dev


def read_classification_file(path: str | os.PathLike) -> ClassificationDataset:
    """Read a file in either supported format, chosen by its extension (.tsv: SST-2, .csv: AG News).

    This is what the CLI uses for `--train`, `--dev` and `--data`.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".tsv":
        return read_sst2_tsv(path)
    if path.suffix == ".csv":
        return read_ag_news_csv(path)
    raise ValueError(f"{path}: expected a .tsv (SST-2 format) or .csv (AG News format) file")
