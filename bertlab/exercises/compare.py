"""How a checker compares a learner's answer with the reference: what counts as equal, what is off.

`difference(actual, expected)` returns None when the two are equal in any correct form, or one
short phrase that says what is off ("shape (3, 4), expected (3, 3)", "item 2: too high"). The
rules a learner can rely on:

- numbers: integers exactly; floats within `ulps` units in the last place of the expected value
  in float32 (`bertlab.testing`, the rule every test of the project uses), or within `abs_tol`
  when the exercise sets one (a value found by a search, say); 42.0 equals 42;
- tensors and NumPy arrays (either one for the other, or a nested list for a tensor): the same
  shape, the same kind (bool, integer or float), float values within `ulps` of the largest
  expected magnitude (or `scale`), NaN where NaN is expected;
- lists and tuples are the same thing; with `ordered=False` (and always for sets) any order is
  right; dictionaries compare key by key;
- anything else with `==`.

With `reveal=False` (answers that are values: a number the learner derives) the phrase never
quotes the expected value, only the learner's; with `reveal=True` (the output of the learner's
function on a test input) it may, because the answer there is the code, not the output.

This module imports torch only when it meets a tensor or an array.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Set
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

__all__ = ["Tolerance", "describe", "difference"]


@dataclass(frozen=True)
class Tolerance:
    """How close a float must be: `abs_tol` when given, else `ulps` float32 ulps of `scale`.

    `ulps` defaults to bertlab.testing.DEEP (looked up when first needed, so that importing
    this module does not import torch); `scale` to the largest expected magnitude. Float32
    even for float64 values: a learner's answer may well have been computed in float32.
    """

    ulps: float | None = None
    abs_tol: float | None = None
    scale: float | None = None

    def allowed(self, expected) -> float:
        if self.abs_tol is not None:
            return self.abs_tol
        import torch

        from bertlab.testing import DEEP, float_tolerance

        ulps = DEEP if self.ulps is None else self.ulps
        expected = torch.as_tensor(expected, dtype=torch.float64)
        scale = self.scale
        if scale is None:  # the largest finite magnitude: a NaN or an inf expected is no scale
            finite = expected[expected.isfinite()].abs()
            scale = float(finite.max()) if finite.numel() else 0.0
        return float_tolerance(expected, ulps, dtype=torch.float32, scale=scale)


def difference(
    actual: Any,
    expected: Any,
    tolerance: Tolerance = Tolerance(),
    ordered: bool = True,
    reveal: bool = True,
) -> str | None:
    """None when `actual` equals `expected` (in any correct form), else what is off, in a phrase."""
    if _is_array(expected):
        return _array_difference(actual, expected, tolerance, reveal)
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return _exact_difference(actual, expected, reveal)
    if isinstance(expected, Real):
        return _number_difference(actual, expected, tolerance, reveal)
    if isinstance(expected, Mapping):
        return _mapping_difference(actual, expected, tolerance, ordered, reveal)
    if isinstance(expected, Set):
        return _sequence_difference(actual, list(expected), tolerance, False, reveal)
    if isinstance(expected, list | tuple):
        return _sequence_difference(actual, expected, tolerance, ordered, reveal)
    return _exact_difference(actual, expected, reveal)


def describe(value: Any, width: int = 60) -> str:
    """A short, one-line picture of a value for feedback: tensors by shape unless tiny."""
    if _is_array(value):
        tensor = _as_tensor(value)
        if 0 < tensor.numel() <= 6:
            values = ", ".join(_number(x) for x in tensor.flatten().tolist())
            return _clip(f"{_kind_name(tensor)} [{values}]", width)
        return f"{_kind_name(tensor)} of shape {tuple(tensor.shape)}"
    if isinstance(value, float):
        return _number(value)
    if callable(value) and hasattr(value, "__name__"):
        return f"{'class' if isinstance(value, type) else 'function'} {value.__name__}"
    return _clip(" ".join(repr(value).split()), width)


# --- numbers -------------------------------------------------------------------------------


def _number_difference(actual, expected, tolerance: Tolerance, reveal: bool) -> str | None:
    number = _as_number(actual)
    if number is None or isinstance(number, bool):
        return _wrong_type(actual, "a number")
    actual = number
    if isinstance(expected, Integral) and tolerance.abs_tol is None:
        if actual == expected:
            return None
    elif math.isclose(actual, expected, rel_tol=0, abs_tol=tolerance.allowed(expected)):
        return None
    if math.isnan(actual):
        return "got NaN: a 0/0, an inf - inf or a log of a negative number upstream?"
    if reveal:
        return f"got {_number(actual)}, expected {_number(expected)}"
    return f"your {_number(actual)} is {_how_far(actual, expected)}"


def _how_far(actual: float, expected: float) -> str:
    """Direction and rough size of a miss, without giving the expected value away."""
    if expected == 0 or actual == 0:
        return "not the answer"
    if (actual > 0) != (expected > 0):
        return "of the wrong sign" + (", right size otherwise" if _near(-actual, expected) else "")
    ratio = actual / expected
    direction = "too high" if abs(actual) > abs(expected) else "too low"
    powers = math.log10(abs(ratio))
    if abs(powers) >= 0.9 and abs(powers - round(powers)) < 0.05:
        return f"{direction} by a factor of about 10^{abs(round(powers))}: check units and powers of ten"
    if abs(ratio - 2) < 0.02 or abs(ratio - 0.5) < 0.01:
        return f"{direction} by a factor of about 2: a missing 1/2 or something counted twice?"
    if abs(1 - abs(ratio)) < 0.1:
        return f"close, but {direction} (within 10%)"
    return direction


def _near(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-6)


def _as_number(value):
    """A Python number from an int, a float, a NumPy scalar or a one-element array; else None."""
    if _is_array(value):
        tensor = _as_tensor(value)
        return tensor.item() if tensor.numel() == 1 else None
    if isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    return float(value) if isinstance(value, Real) else None


def _number(x) -> str:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, Integral):
        return f"{x:,}" if abs(x) >= 10_000 else str(x)
    text = f"{x:.6g}"
    return text if any(c in text for c in ".ein") else text + ".0"  # 2.0, not 2, for a float


# --- tensors and arrays --------------------------------------------------------------------


def _is_array(value) -> bool:
    torch, numpy = sys.modules.get("torch"), sys.modules.get("numpy")
    return (torch is not None and isinstance(value, torch.Tensor)) or (
        numpy is not None and isinstance(value, numpy.ndarray | numpy.generic)
    )


def _as_tensor(value):
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return torch.as_tensor(value)


def _kind(tensor) -> str:
    if tensor.dtype == _torch().bool:
        return "bool"
    return "float" if tensor.is_floating_point() or tensor.is_complex() else "integer"


def _kind_name(tensor) -> str:
    return {"bool": "a bool tensor", "integer": "an integer tensor", "float": "a float tensor"}[
        _kind(tensor)
    ]


def _torch():
    import torch

    return torch


def _array_difference(actual, expected, tolerance: Tolerance, reveal: bool) -> str | None:
    expected = _as_tensor(expected)
    if _is_array(actual) or isinstance(actual, list | tuple | Real):
        try:
            actual = _as_tensor(actual)
        except (TypeError, ValueError, RuntimeError):  # a list of strings, of ragged lists...
            pass
    if not _is_array(actual):
        return _wrong_type(actual, f"a tensor of shape {tuple(expected.shape)}")
    if actual.shape != expected.shape:
        return f"shape {tuple(actual.shape)}, expected {tuple(expected.shape)}"
    if _kind(actual) != _kind(expected) and not (
        _kind(expected) == "float" and _kind(actual) == "integer"
    ):
        return f"{_kind_name(actual)} ({actual.dtype}), expected {_kind_name(expected)}"
    if _kind(expected) == "float":
        return _float_array_difference(actual, expected, tolerance, reveal)
    wrong = actual.to(expected.dtype) != expected
    return _first_mismatch(wrong, actual, expected, reveal) if wrong.any() else None


def _float_array_difference(actual, expected, tolerance: Tolerance, reveal: bool) -> str | None:
    torch = _torch()
    actual64, expected64 = actual.to(torch.float64), expected.to(torch.float64)
    allowed = tolerance.allowed(expected64)
    both_nan = actual64.isnan() & expected64.isnan()
    same_inf = actual64.isinf() & (actual64 == expected64)
    gap = (actual64 - expected64).abs()
    wrong = ~(both_nan | same_inf | (gap <= allowed))
    if not wrong.any():
        return None
    message = _first_mismatch(wrong, actual64, expected64, reveal)
    largest = gap[wrong & ~gap.isnan()]
    if reveal and largest.numel():
        message += f" (largest difference {float(largest.max()):.3g}, allowed {allowed:.2g})"
    return message


def _first_mismatch(wrong, actual, expected, reveal: bool) -> str:
    index = tuple(int(i) for i in wrong.nonzero()[0])
    where = f"{int(wrong.sum())} of {wrong.numel()} values differ, first at index {index}"
    mine = _number(actual[index].item())
    if reveal:
        return f"{where}: got {mine}, expected {_number(expected[index].item())}"
    return f"{where}, where yours is {mine}"


# --- containers and the rest ---------------------------------------------------------------


def _sequence_difference(actual, expected, tolerance, ordered: bool, reveal: bool) -> str | None:
    if isinstance(actual, Set):
        actual, ordered = list(actual), False
    if _is_array(actual):
        actual = actual.tolist()
    if not isinstance(actual, list | tuple):
        return _wrong_type(actual, f"a list of {len(expected)} items")
    if len(actual) != len(expected):
        return f"{len(actual)} items, expected {len(expected)}"
    if not ordered:
        return _unordered_difference(list(actual), list(expected), tolerance, reveal)
    for position, (mine, theirs) in enumerate(zip(actual, expected)):
        problem = difference(mine, theirs, tolerance, ordered, reveal)
        if problem:
            return f"item {position}: {problem}"
    return None


def _unordered_difference(actual: list, expected: list, tolerance, reveal: bool) -> str | None:
    """Match every expected item with a distinct equal one of `actual`, in any order."""
    unmatched = list(actual)
    for item in expected:
        match = next(
            (
                i
                for i, mine in enumerate(unmatched)
                if difference(mine, item, tolerance, False) is None
            ),
            None,
        )
        if match is None:
            extra = [describe(mine, 30) for mine in unmatched]
            missing = f"; {describe(item, 30)} is missing" if reveal else ""
            return f"{', '.join(extra)} should not be there{missing} (order does not matter)"
        unmatched.pop(match)
    return None


def _mapping_difference(actual, expected, tolerance, ordered, reveal) -> str | None:
    if not isinstance(actual, Mapping):
        return _wrong_type(actual, "a dict")
    missing = [key for key in expected if key not in actual]
    extra = [key for key in actual if key not in expected]
    if missing or extra:
        parts = [f"missing keys {missing}"] if missing else []
        parts += [f"unexpected keys {extra}"] if extra else []
        return ", ".join(parts)
    for key in expected:
        problem = difference(actual[key], expected[key], tolerance, ordered, reveal)
        if problem:
            return f"[{key!r}]: {problem}"
    return None


def _exact_difference(actual, expected, reveal: bool) -> str | None:
    try:
        equal = bool(actual == expected)
    except Exception:  # noqa: BLE001 - an object whose == fails is simply not equal
        equal = False
    if equal:
        return None
    if actual is None:
        return "got None: a missing `return`?"
    if reveal:
        return f"got {describe(actual, 40)}, expected {describe(expected, 40)}"
    return f"your {describe(actual, 40)} is not the answer"


def _wrong_type(actual, wanted: str) -> str:
    if actual is None:
        return f"got None, expected {wanted}: a missing `return`?"
    return f"got {describe(actual, 40)} ({type(actual).__name__}), expected {wanted}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
