"""What every bertlab reader shares: one error type, strict UTF-8, tables with named columns.

Readers validate their input and stop at the first problem with ONE line that names
the file and the line (or the JSON key path): `DataError`, a `ValueError`. The helpers
here read the two generic layouts every task accepts for the user's own data,

- a CSV or TSV file with a header row (`.csv`, `.tsv`), and
- JSON lines, one object a line (`.jsonl`),

and a Hugging Face dataset (`hf:NAME[:CONFIG]`, or a `datasets.Dataset` in memory),
all as a `Table`: rows of named columns, each row remembering where it came from.
The task modules (`classification`, `conll`, `squad`) turn a `Table` into their own
examples. `fingerprint` gives the sha256 that training_info.json records.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "dev")
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".jsonl": None}
HF_PREFIX = "hf:"
HF_DEV_SPLITS = ("validation", "valid", "dev", "val", "test")
"""The split a Hugging Face dataset's "dev" means: the first of these it has."""


class DataError(ValueError):
    """Input data that cannot be used; the message names the file and line, or the key."""


def check_split(split: str) -> None:
    """Every loader takes `split="train"` or `"dev"`; each maps it to its dataset's own names."""
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'dev', got {split!r}")


# --------------------------------------------------------------------------- text files
def read_text(path: str | os.PathLike, allow_empty: bool = False) -> str:
    """The whole file as text: strict UTF-8 (a leading BOM is dropped), and not empty."""
    path = Path(path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[error.start]:02x} at column {column}); "
            "save the file as UTF-8"
        ) from None
    text = text.removeprefix("\ufeff")
    if not text.strip() and not allow_empty:
        raise DataError(f"{path}: the file is empty")
    return text


def text_lines(path: str | os.PathLike, allow_empty: bool = False) -> list[str]:
    """The lines of a UTF-8 file, without their line ends (`\\n` or `\\r\\n`)."""
    # split("\n"), not splitlines(): U+2028 and friends can sit inside a token or a JSON string.
    return [line.removesuffix("\r") for line in read_text(path, allow_empty).split("\n")]


def csv_rows(path: str | os.PathLike, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) for every non-blank CSV/TSV record; a quoted cell may span lines."""
    path = Path(path)
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter)
    rows, start = [], 1
    try:
        for cells in reader:
            number, start = start, reader.line_num + 1
            if any(cell.strip() for cell in cells):
                rows.append((number, cells))
    except csv.Error as error:
        raise DataError(f"{path}:{reader.line_num}: {error}") from None
    return rows


# --------------------------------------------------------------------------- tables
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
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"{path}:{number}: not valid JSON ({error.msg} at column {error.colno})"
            ) from None
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


# --------------------------------------------------------------------------- fingerprints
def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot fingerprint a {type(value).__name__}")


def canonical_json(records) -> bytes:
    """One byte string per content: sorted keys, no spaces, UTF-8 (dataclasses as dicts)."""
    text = json.dumps(
        records,
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
        default=_plain,
    )
    return text.encode("utf-8")


def fingerprint(path_or_records) -> str:
    """The sha256 (hex) of a file's bytes, of a folder's files, or of records as canonical JSON.

    A dataset object with its own `fingerprint()` method (every bertlab dataset) uses it:
    the hash of the examples actually loaded, so train and dev cut from one file differ.
    """
    if isinstance(path_or_records, (str, os.PathLike)):
        path = Path(path_or_records)
        if path.is_file():
            return _file_sha256(path)
        if not path.is_dir():
            raise FileNotFoundError(f"{path}: no such file or folder")
        digest = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(f"{file.relative_to(path).as_posix()}\0{_file_sha256(file)}\n".encode())
        return digest.hexdigest()
    if hasattr(path_or_records, "fingerprint"):
        return path_or_records.fingerprint()
    return hashlib.sha256(canonical_json(path_or_records)).hexdigest()


def _file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
