"""What every bertlab reader shares: one error type, strict UTF-8 text, fingerprints.

Readers validate their input and stop at the first problem with ONE line that names
the file and the line (or the JSON key path): `DataError`, a `ValueError`. `tables.py`
reads the user's own data on top of these helpers; `fingerprint` gives the sha256 that
training_info.json records.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path

SPLITS = ("train", "dev")


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
