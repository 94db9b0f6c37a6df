"""Seeds, devices and progress: what every notebook and command sets up first.

Notebook 01 introduces seeds and devices; every later notebook calls `set_seed` in
its first code cell so that a rerun gives the same numbers on the same machine.
`get_rng_state`/`set_rng_state` let the training loop (notebook 09) save and restore
every random stream, and `Progress` shows how far a long loop has come.
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


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


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """ "auto" or None: `default_device()`; "cpu"; "cuda" (an error when no GPU is present)."""
    if isinstance(name, torch.device):
        return name
    if name in (None, "auto"):
        return default_device()
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: no CUDA GPU is available here (use 'cpu' or 'auto')")
    return device


def get_rng_state() -> dict[str, Any]:
    """Every random stream bertlab uses (Python, NumPy, torch, CUDA), as tensors and tuples."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `get_rng_state` returned."""
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Progress:
    """A tqdm bar on a terminal or in a notebook; plain lines every few seconds otherwise.

    With standard error going to a file (CI, `2> log`), a bar would print nothing
    useful; a line like `training: 120/400 step (30%), 41 s, loss=0.41` every
    `every_seconds` shows the same progress.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        initial: int = 0,
        enabled: bool = True,
        every_seconds: float = 10.0,
        stream=None,
    ) -> None:
        self.total, self.desc, self.unit, self.count = total, desc, unit, initial
        self.enabled, self.every_seconds = enabled, every_seconds
        self.stream = stream or sys.stderr
        self.start = self.last_line = time.perf_counter()
        self.notes: dict[str, str] = {}
        self.bar = None
        if enabled and _interactive(self.stream):
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream)

    def update(self, n: int = 1) -> None:
        self.count += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled and time.perf_counter() - self.last_line >= self.every_seconds:
            self._line()

    def note(self, **values: str) -> None:
        """Values shown beside the count (the latest loss, a metric)."""
        self.notes.update(values)
        if self.bar is not None:
            self.bar.set_postfix(self.notes)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled and self.count:
            self._line()
        self.enabled = False

    def _line(self) -> None:
        self.last_line = time.perf_counter()
        done = f"{self.count}/{self.total}" if self.total else f"{self.count}"
        share = f" ({100 * self.count / self.total:.0f}%)" if self.total else ""
        notes = "".join(f", {k}={v}" for k, v in self.notes.items())
        seconds = self.last_line - self.start
        print(
            f"{self.desc}: {done} {self.unit}{share}, {seconds:.0f} s{notes}",
            file=self.stream,
            flush=True,
        )


def _interactive(stream) -> bool:
    """A terminal, or a Jupyter notebook (where tqdm draws a widget)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if type(shell).__name__ == "ZMQInteractiveShell":
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
