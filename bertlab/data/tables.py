"""The user's own data as tables with named columns, and the one rule of every `load_*_data`.

Every task accepts, besides its benchmark, the two generic layouts

- a CSV or TSV file with a header row (`.csv`, `.tsv`), and
- JSON lines, one object a line (`.jsonl`),

and a Hugging Face dataset (`hf:NAME[:CONFIG]`, or a `datasets.Dataset` in memory),
all read as a `Table`: rows of named columns, each row remembering where it came from.
The task modules (`classification`, `conll`, `squad`) turn a `Table` into their own
examples; `load_split` is the order in which they look for data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bertlab.data.common import DataError, check_split, csv_rows, text_lines
from bertlab.files import parse_json

TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None}
HF_PREFIX = "hf:"
HF_DEV_SPLITS = ("validation", "valid", "dev", "val", "test")
"""The split a Hugging Face dataset's "dev" means: the first of these it has."""


@dataclass
class Row:
    """One record with named columns, and where it came from ("file.csv:12", "hf:x train row 3")."""

    where: str
    record: dict
    line: int = 0


@dataclass
class Table:
    """Rows with named columns, from a CSV/TSV/JSONL file or a Hugging Face dataset."""

    source: str
    columns: list[str]
    rows: list[Row]
    class_names: dict[str, list[str]] = field(default_factory=dict)
    """Per column, the names of a Hugging Face `ClassLabel` feature (ids -> names)."""

    def column(self, requested: str | None, defaults: Sequence[str], option: str) -> str:
        """The column to read: `requested` when given, else the first default present."""
        found = self.optional_column(requested, defaults)
        if found is None:
            wanted = requested or defaults[0]
            raise DataError(
                f"{self.source}: no column {wanted!r} (columns: {', '.join(self.columns)}); "
                f"name yours with {option}"
            )
        return found

    def optional_column(self, requested: str | None, defaults: Sequence[str]) -> str | None:
        if requested is not None:
            if requested not in self.columns:
                raise DataError(
                    f"{self.source}: no column {requested!r} (columns: {', '.join(self.columns)})"
                )
            return requested
        return next((name for name in defaults if name in self.columns), None)


def cell(row: Row, column: str):
    """The value of `column` in `row`; a JSON line without that key is an error."""
    if column not in row.record:
        raise DataError(f"{row.where}: missing {column!r}")
    return row.record[column]


def read_csv_table(path: str | os.PathLike, delimiter: str) -> Table:
    """A CSV/TSV file whose first row names the columns (csv-module quoting, as Excel writes)."""
    path = Path(path)
    rows = csv_rows(path, delimiter)
    (header_line, header), body = rows[0], rows[1:]
    header = [name.strip() for name in header]
    if "" in header or len(set(header)) != len(header):
        raise DataError(f"{path}:{header_line}: the header {header} has an empty or repeated name")
    if not body:
        raise DataError(f"{path}: only a header line, no rows")
    what = "tab" if delimiter == "\t" else "comma"
    table = Table(str(path), header, [])
    for number, cells in body:
        if len(cells) != len(header):
            raise DataError(
                f"{path}:{number}: expected {len(header)} {what}-separated columns "
                f"({', '.join(header)}), found {len(cells)}"
            )
        table.rows.append(Row(f"{path}:{number}", dict(zip(header, cells)), number))
    return table


def read_jsonl_table(path: str | os.PathLike) -> Table:
    """JSON lines: one object a line; the keys are the columns (a line may lack some)."""
    path = Path(path)
    table = Table(str(path), [], [])
    for number, line in enumerate(text_lines(path), start=1):
        if not line.strip():
            continue
        record = parse_json(line, f"{path}:{number}", DataError)
        if not isinstance(record, dict):
            raise DataError(
                f"{path}:{number}: expected one JSON object a line, found {type(record).__name__}"
            )
        table.columns += [key for key in record if key not in table.columns]
        table.rows.append(Row(f"{path}:{number}", record, number))
    return table


def read_table_file(path: str | os.PathLike) -> Table:
    """A `.csv`, `.tsv` or `.jsonl` file as a `Table`, chosen by the suffix."""
    path = Path(path)
    if path.suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: expected a .csv, .tsv or .jsonl file with named columns")
    delimiter = TABLE_SUFFIXES[path.suffix]
    return read_jsonl_table(path) if delimiter is None else read_csv_table(path, delimiter)


def is_hf_spec(path) -> bool:
    """True for "hf:NAME" or "hf:NAME:CONFIG", the way a path names a Hugging Face dataset."""
    return isinstance(path, str) and path.startswith(HF_PREFIX)


def table_from_hf(dataset, source: str = "a datasets.Dataset") -> Table:
    """An in-memory `datasets.Dataset` as a `Table`; `ClassLabel` features give class names."""
    class_names = {}
    for name, feature in dataset.features.items():
        names = getattr(feature, "names", None) or getattr(
            getattr(feature, "feature", None), "names", None
        )
        if names:
            class_names[name] = list(names)
    rows = [Row(f"{source} row {i}", record) for i, record in enumerate(dataset.to_list())]
    if not rows:
        raise DataError(f"{source}: no rows")
    return Table(source, list(dataset.column_names), rows, class_names)


def load_hf_table(spec: str, split: str) -> Table:
    """`hf:NAME[:CONFIG]` through `datasets.load_dataset` (a Hub id or a local folder of files).

    "dev" is the dataset's first split among validation, valid, dev, val, test.
    """
    check_split(split)
    name, _, config = spec.removeprefix(HF_PREFIX).partition(":")
    if not name:
        raise ValueError(f"{spec!r}: expected hf:NAME or hf:NAME:CONFIG")
    try:
        import datasets
    except ImportError:
        raise ImportError(
            f"{spec}: reading a Hugging Face dataset needs the datasets package "
            "(pip install datasets)"
        ) from None
    try:
        splits = datasets.load_dataset(name, config or None)
    except Exception as error:  # offline, unknown name, bad config: many error types
        reason = " ".join(str(error).split())
        raise DataError(f"{spec}: cannot load ({type(error).__name__}: {reason})") from error
    wanted = ("train",) if split == "train" else HF_DEV_SPLITS
    chosen = next((name for name in wanted if name in splits), None)
    if chosen is None:
        raise DataError(f"{spec}: no {split} split (it has {', '.join(splits)})")
    return table_from_hf(splits[chosen], f"{spec} {chosen}")


def load_split(split: str, path, columns: dict, *, benchmark, from_table, read_file):
    """The one rule every `load_*_data` follows (notebooks 10-12, `bertlab finetune --data`).

    - `path=None`: `benchmark()`, the task's benchmark through `bertlab.hub.lookup_dataset`;
      `columns` (the `*_column` names) describe your own data, so none may be given;
    - `path="hf:NAME[:CONFIG]"`: `from_table(load_hf_table(path, split))`;
    - any other path: `read_file(path)`.

    `from_table` and `read_file` come with the columns already bound (`functools.partial`).
    """
    check_split(split)
    given = [name for name, value in columns.items() if value is not None]
    if path is None:
        if given:
            raise ValueError(
                f"{' and '.join(given)} name the columns of your own data: pass a path"
            )
        return benchmark()
    if is_hf_spec(path):
        return from_table(load_hf_table(path, split))
    return read_file(path)
