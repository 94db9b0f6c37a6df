"""Seeds and devices: the two things every notebook sets first.

Notebook 01 introduces them; every later notebook calls `set_seed` in its
first code cell so that a rerun gives the same numbers on the same machine.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) with one number."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when a GPU is present, else the CPU. Nothing in bertlab needs a GPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
