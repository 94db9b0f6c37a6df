"""Writing files so that a crash never destroys what was there: atomically, with normal permissions.

Every file bertlab writes (configs, vocabularies, weights, checkpoints, summaries) goes
through here. The idea is old and simple: write the new version beside the target
under a temporary name, then rename it into place. A rename is atomic on one file
system, so a reader, or a run killed at any moment, sees either the old file or the
new one, never half of each. `replace_folder` does the same for a whole folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "parse_json",
    "recover_folder",
    "replace_folder",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(temporary_path)``, then rename the file to ``path``.

    An interrupted write never leaves a corrupt file in place of a good one, and the
    file gets the usual permissions (a temporary file starts readable by its owner only).
    """
    path = Path(path)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temp))
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """``atomic_write`` of a bytes object."""
    return atomic_write(path, lambda temp: temp.write_bytes(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """``atomic_write`` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, value: Any) -> Path:
    """``atomic_write`` of indented JSON (UTF-8, non-ASCII kept readable)."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"))


def parse_json(text: str, where: str, error: type[Exception] = ValueError) -> Any:
    """`json.loads`, whose error says where: `where: not valid JSON (line 2, column 5: ...)`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as bad:
        position = f"line {bad.lineno}, column {bad.colno}"
        raise error(f"{where}: not valid JSON ({position}: {bad.msg})") from None


def _previous(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.previous"


def recover_folder(folder: str | os.PathLike) -> bool:
    """Finish or undo a ``replace_folder`` that a kill interrupted; True if ``folder`` exists.

    The kill can fall between its two renames: then the folder is missing and its
    previous version waits beside it, and comes back. Half-written folders go.
    """
    folder = Path(folder)
    previous = _previous(folder)
    if previous.exists():
        if folder.exists():
            shutil.rmtree(previous)
        else:
            previous.rename(folder)
    for stray in folder.parent.glob(f".{folder.name}.partial-*"):
        shutil.rmtree(stray, ignore_errors=True)
    return folder.exists()


def replace_folder(
    folder: str | os.PathLike, write: Callable[[Path], Any], keep: Sequence[str] = ()
) -> Path:
    """Write a whole folder atomically: ``write(temporary_folder)``, then swap it in.

    Entries named in ``keep`` (e.g. a training ``checkpoint``) are carried over from the
    old folder by hard links (or copies), so the old folder stays whole until the swap.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    recover_folder(folder)
    partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.partial-"))
    try:
        os.chmod(partial, 0o777 & ~_umask())
        write(partial)
        for name in keep:
            if (folder / name).exists() and not (partial / name).exists():
                shutil.copytree(folder / name, partial / name, copy_function=_link_or_copy)
        if folder.exists():
            folder.rename(_previous(folder))
        partial.rename(folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(_previous(folder), ignore_errors=True)
    return folder


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
