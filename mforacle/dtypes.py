"""The floating-point arithmetics an implementation may compute in: names, unit roundoffs, rounding.

This is the one place that defines them; the error models (:mod:`mforacle.tolerance`), the
implementation protocol (:mod:`mforacle.protocol`), the claims and the harness all read them
from here. Unit roundoff ``u = 2^-p`` for a ``p``-bit significand, round to nearest (Higham,
*Accuracy and Stability of Numerical Algorithms*, §2.1; IEEE 754 binary64/32/16; bfloat16 has
8 significand bits).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidArgument

__all__ = [
    "ARITHMETICS",
    "DTYPES",
    "UNDERFLOW_EXPONENT",
    "UNIT_ROUNDOFF",
    "check_dtype",
    "numpy_dtype",
    "round_to_dtype",
    "unit_roundoff",
]

#: the arithmetics, as ``(p, emin)``: a ``p``-bit significand (hidden bit included) and smallest
#: normal number ``2**emin`` (IEEE 754-2019 Table 3.5; bfloat16: float32's exponent with an 8-bit
#: significand). Everything per dtype is derived from this one table.
ARITHMETICS: dict[str, tuple[int, int]] = {
    "float64": (53, -1022),
    "float32": (24, -126),
    "float16": (11, -14),
    "bfloat16": (8, -126),
}

#: unit roundoff of each arithmetic (round to nearest): ``2^-p`` for a ``p``-bit significand
UNIT_ROUNDOFF: dict[str, float] = {name: 2.0**-p for name, (p, _) in ARITHMETICS.items()}

#: gradual-underflow unit ``η = 2**(emin − p)`` per arithmetic, as the exponent (half the smallest
#: positive subnormal; float64: ``2**-1075``, float32: ``2**-150``, bfloat16: ``2**-134``,
#: float16: ``2**-25``)
UNDERFLOW_EXPONENT: dict[str, int] = {name: emin - p for name, (p, emin) in ARITHMETICS.items()}

#: the arithmetic names an implementation may declare
DTYPES: tuple[str, ...] = tuple(UNIT_ROUNDOFF)


def check_dtype(dtype: Any, field_name: str = "dtype") -> str:
    """The dtype name of ``dtype`` (``"float32"``, ``np.float32`` and ``torch.float32`` all work).

    Raises:
        InvalidArgument: ``dtype`` names none of :data:`DTYPES`.
    """
    text = str(dtype).removeprefix("torch.").removeprefix("<class 'numpy.").rstrip("'>")
    if text not in UNIT_ROUNDOFF:
        raise InvalidArgument(field_name, dtype, f"unknown dtype; expected one of {list(DTYPES)}")
    return text


def unit_roundoff(dtype: str) -> float:
    """``u`` of the arithmetic ``dtype`` (:data:`UNIT_ROUNDOFF`).

    Raises:
        InvalidArgument: ``dtype`` names none of :data:`DTYPES`.
    """
    return UNIT_ROUNDOFF[check_dtype(dtype)]


def numpy_dtype(dtype: str) -> np.dtype:
    """The NumPy dtype arrays of ``dtype`` are handed over in (float32 for bfloat16, which NumPy
    lacks: such arrays hold values already rounded to bfloat16)."""
    return np.dtype("float32" if check_dtype(dtype) == "bfloat16" else dtype)


def round_to_dtype(arr: Any, dtype: str) -> np.ndarray:
    """``arr`` (any shape) rounded to ``dtype`` (nearest, ties to even), returned as float64.

    Raises:
        InvalidArgument: ``dtype`` names none of :data:`DTYPES`.
    """
    a = np.asarray(arr, dtype=np.float64)
    if check_dtype(dtype) == "bfloat16":
        bits = a.astype(np.float32).view(np.uint32).astype(np.uint64)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return rounded.astype(np.uint32).view(np.float32).astype(np.float64)
    return a.astype(numpy_dtype(dtype)).astype(np.float64)
