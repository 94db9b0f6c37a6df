"""What the checkers of several notebooks share (nbNN.py modules import it; it imports torch)."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import torch

__all__ = ["meta_parameters", "without_gradients"]


def without_gradients(answer: Callable, *args: Any) -> Any:
    """The answer's output with autograd off: a `call` for answers that run modules."""
    with torch.no_grad():
        return answer(*args)


def meta_parameters(build: Callable[[], torch.nn.Module], *parts: str) -> int:
    """How many parameters the module `build()` has, or only its `parts` (dotted attribute names),
    counted on the meta device: the sizes without the memory or the time of real weights."""
    with torch.device("meta"):
        module = build()
    modules = [attrgetter(part)(module) for part in parts] or [module]
    return sum(parameter.numel() for part in modules for parameter in part.parameters())
