"""Exact intake of user numbers and float64 intake of arrays, with validation.

This module holds no numerical algorithm: it only decides whether a value is an acceptable
finite real number and converts it, exactly, to a :class:`fractions.Fraction` (for the exact
path, which then rounds once to its working precision) or checks a float64 array (for the fast
path). Decimal strings are read exactly: ``"0.1"`` becomes ``Fraction(1, 10)``, not the nearest
double.
"""

from __future__ import annotations

import math
import numbers as _numbers
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import numpy as np

from .errors import InvalidArgument

__all__ = [
    "MAX_DECIMAL_EXPONENT",
    "MAX_DIGITS",
    "NUMBER_TEXT",
    "exact_array",
    "exact_scalar",
    "float_array",
    "format_exact",
    "shape_of",
]

#: The syntax of a number written as a string (``docs/case-format.md``, "Numbers"): optional
#: JSON whitespace around it, an optional sign, then a decimal with an optional exponent
#: (``1``, ``-0.25``, ``.5``, ``3.``, ``6.02e23``) or a rational ``p/q`` with ``q > 0``. ASCII
#: only: no ``_`` digit groups, no other scripts' digits. The JSON Schemas in ``mforacle/schema/``
#: use the same pattern (``tests/test_schema.py`` checks that they agree).
NUMBER_TEXT = re.compile(
    r"[ \t\n\r]*[+-]?(([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
    r"|[0-9]+/[0-9]*[1-9][0-9]*)[ \t\n\r]*"
)
_NON_FINITE_WORDS = frozenset({"inf", "infinity", "nan"})


#: Nonzero numbers must lie within ``10^-MAX_DECIMAL_EXPONENT <= |x| < 10^MAX_DECIMAL_EXPONENT``
#: (far wider than float64's 4.9e-324 .. 1.8e308): converting ``1e999999999`` to a Fraction
#: would build a billion-digit integer (a hang), so the range is checked before converting.
MAX_DECIMAL_EXPONENT = 1000
#: significant digits a decimal string (or integer) may have (the exact path's top --dps)
MAX_DIGITS = 10000
RANGE_TEXT = (
    f"allowed: 0 or 1e-{MAX_DECIMAL_EXPONENT} <= |x| < 1e+{MAX_DECIMAL_EXPONENT}, "
    f"at most {MAX_DIGITS} significant digits"
)
_LOG2_10 = 3.321928094887362
#: the largest numerator/denominator of an accepted Fraction (a MAX_DIGITS-digit decimal at
#: either end of the range has about this many bits)
_FRACTION_BITS = int((MAX_DIGITS + 2 * MAX_DECIMAL_EXPONENT) * _LOG2_10) + 64


def _out_of_range(field: str, shown: Any, what: str) -> InvalidArgument:
    return InvalidArgument(field, shown, f"{what}; {RANGE_TEXT}")


def _check_decimal(dec: Decimal, field: str, value: Any) -> None:
    """Raise unless the finite Decimal ``dec`` is within the allowed digits and range."""
    if dec.is_zero():
        return
    adjusted = dec.adjusted()  # floor(log10|x|)
    if not -MAX_DECIMAL_EXPONENT <= adjusted < MAX_DECIMAL_EXPONENT:
        raise _out_of_range(field, _shown(value), f"decimal exponent {adjusted}")
    digits = len(dec.as_tuple().digits)
    if digits > MAX_DIGITS:
        raise _out_of_range(field, _shown(value), f"{digits} significant digits")


def _check_int(n: int, field: str) -> None:
    bits = abs(n).bit_length()
    if bits > MAX_DECIMAL_EXPONENT * _LOG2_10:  # beyond 10^1000 (and beyond MAX_DIGITS)
        raise _out_of_range(field, f"<an integer of {bits} bits>", "magnitude too large")


def _check_binary_exponent(exponent2: int, field: str, value: Any) -> None:
    """``|x| ≈ 2^exponent2``: the same range, in binary."""
    if not -MAX_DECIMAL_EXPONENT * _LOG2_10 - 4 <= exponent2 <= MAX_DECIMAL_EXPONENT * _LOG2_10:
        raise _out_of_range(field, _shown(value), f"binary exponent {exponent2}")


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def _check_text(value: str, field: str) -> str:
    """The stripped text of a number string, or :class:`InvalidArgument` naming ``field``."""
    if len(value) > 1 << 20:
        raise _out_of_range(field, _shown(value), f"a number written with {len(value)} characters")
    text = value.strip()
    if text.lower().lstrip("+-") in _NON_FINITE_WORDS:
        raise InvalidArgument(field, value, "must be finite")
    if not NUMBER_TEXT.fullmatch(value):
        raise InvalidArgument(field, value, "not a decimal number")
    return text


def exact_scalar(value: Any, field: str) -> Fraction:
    """Return ``value`` as an exact Fraction, or raise :class:`InvalidArgument`.

    Accepts int, float, Fraction, Decimal, numpy scalars, mpmath ``mpf`` and decimal strings
    (``"1.5"``, ``"-2e-3"``, ``"3/4"``). Rejects booleans, NaN, infinities and anything else.
    """
    if isinstance(value, bool | np.bool_):
        raise InvalidArgument(field, value, "expected a real number, not a boolean")
    if isinstance(value, Fraction):
        if value:
            _check_binary_exponent(
                value.numerator.bit_length() - value.denominator.bit_length(), field, value
            )
            size = max(value.numerator.bit_length(), value.denominator.bit_length())
            if size > _FRACTION_BITS:
                raise _out_of_range(field, f"<a ratio of {size}-bit integers>", "too many digits")
        return value
    if isinstance(value, int | np.integer):
        _check_int(int(value), field)
        return Fraction(int(value))
    if isinstance(value, str):
        return _exact_text(value, field)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidArgument(field, value, "must be finite")
        _check_decimal(value, field, value)
        return Fraction(value)
    if isinstance(value, float | np.floating):
        try:
            return Fraction(float(value))
        except (ValueError, OverflowError):
            raise InvalidArgument(field, value, "must be finite") from None
    raw = getattr(value, "_mpf_", None)  # mpmath.mpf: (sign, mantissa, exponent, bitcount)
    if raw is not None:
        if not _is_finite_mpf(value):
            raise InvalidArgument(field, value, "must be finite")
        sign, man, exp, bc = raw  # the mantissa is unsigned; the sign is its own field
        if man:
            _check_binary_exponent(int(exp) + int(bc), field, "mpf")
        return (-1) ** int(sign) * Fraction(int(man)) * (Fraction(2) ** int(exp))

    if isinstance(value, _numbers.Real):
        try:
            return Fraction(float(value))
        except (ValueError, OverflowError):
            raise InvalidArgument(field, value, "must be finite") from None
    raise InvalidArgument(field, value, f"expected a real number, got {type(value).__name__}")


def _exact_text(value: str, field: str) -> Fraction:
    """A number string (:data:`NUMBER_TEXT`: ``"1.5"``, ``"-2e-3"``, ``"3/4"``), range-checked
    before it is converted (see :data:`MAX_DECIMAL_EXPONENT`)."""
    text = _check_text(value, field)
    if "/" in text:
        num, _, den = text.partition("/")
        for part in (num, den):  # each side within range before Fraction builds it
            _exact_text(part, field)
        try:
            return exact_scalar(Fraction(text), field)
        except (ValueError, ZeroDivisionError):
            raise InvalidArgument(field, value, "not a decimal number or ratio") from None
    try:
        dec = Decimal(text)
    except (ValueError, InvalidOperation):  # an exponent beyond what Decimal holds
        raise _out_of_range(field, _shown(value), "exponent out of range") from None
    if not dec.is_finite():  # pragma: no cover - _check_text refuses these
        raise InvalidArgument(field, value, "must be finite")
    _check_decimal(dec, field, value)
    return Fraction(dec)


def _is_finite_mpf(value: Any) -> bool:
    import mpmath

    return bool(mpmath.isfinite(value))


def shape_of(value: Any, field: str) -> tuple[int, ...]:
    """Shape of a rectangular nested sequence (or array); raises if ragged (naming the index).

    Linear in the number of entries (field names are only built for the error)."""
    shape = _shape(value)
    if shape is None:
        return _shape_named(value, field)  # ragged: find and name the first culprit
    return shape


_NESTED = frozenset({list, tuple, np.ndarray})


def _is_seq(value: Any) -> bool:
    if isinstance(value, list | tuple):
        return True
    return not isinstance(value, str | bytes | dict) and isinstance(value, Sequence)


def _shape(value: Any) -> tuple[int, ...] | None:
    """The shape, or ``None`` when ragged (or unsure: the named pass decides)."""
    if type(value) not in _NESTED:
        if isinstance(value, np.ndarray):
            return tuple(value.shape)
        return None if _is_seq(value) else ()
    if type(value) is np.ndarray:
        return tuple(value.shape)
    if len(value) == 0:
        return (0,)
    first = _shape(value[0])
    if first is None:
        return None
    if first == ():
        nested = _NESTED
        for v in value:
            if type(v) in nested:
                return None
        return (len(value),)
    for v in value:
        if _shape(v) != first:
            return None
    return (len(value), *first)


def _shape_named(value: Any, field: str) -> tuple[int, ...]:
    if isinstance(value, np.ndarray):
        return tuple(value.shape)
    if not _is_seq(value):
        return ()
    if len(value) == 0:
        return (0,)
    inner = [_shape_named(v, f"{field}[{i}]") for i, v in enumerate(value)]
    for i, s in enumerate(inner):
        if s != inner[0]:
            raise InvalidArgument(
                f"{field}[{i}]", value[i], f"ragged array: shape {s} differs from {inner[0]}"
            )
    return (len(value), *inner[0])


def _check_shape(
    field: str, value: Any, shape: tuple[int, ...], want: Sequence[int | None]
) -> None:
    if len(shape) != len(want) or any(
        w is not None and w != s for s, w in zip(shape, want, strict=False)
    ):
        pretty = "(" + ", ".join("*" if w is None else str(w) for w in want) + ")"
        raise InvalidArgument(field, f"array of shape {shape}", f"expected shape {pretty}")


def exact_array(value: Any, field: str, want: Sequence[int | None]) -> np.ndarray:
    """Validate a nested sequence of numbers into an object array of Fractions.

    ``want`` gives the expected shape; ``None`` entries are free. Each element is checked
    with :func:`exact_scalar`, whose error names the element's index.

    Raises:
        InvalidArgument: the shape differs from ``want``, or an element is not a finite number
            in the accepted range (the message names its index).
    """
    shape = shape_of(value, field)
    _check_shape(field, value, shape, want)
    flat_in = np.asarray(value, dtype=object).reshape(-1) if shape else [value]
    out = np.empty(len(flat_in), dtype=object)
    for i, v in enumerate(flat_in):
        t = type(v)
        if t is Fraction:
            out[i] = v
        elif (t is float or t is np.float64) and math.isfinite(v):  # the common case, quickly
            out[i] = Fraction(float(v))
        else:  # everything else; the element's index is named only in an error (slow)
            try:
                out[i] = exact_scalar(v, field)
            except InvalidArgument as exc:
                idx = np.unravel_index(i, shape) if shape else ()
                where = field + "".join(f"[{j}]" for j in idx)
                raise InvalidArgument(where, exc.value, exc.reason) from None
    return out.reshape(shape)


def float_array(value: Any, field: str, want: Sequence[int | None]) -> np.ndarray:
    """Validate an array-like as a finite float64 array of the expected shape.

    Strings must follow :data:`NUMBER_TEXT` and are converted with correct rounding (Python's
    ``float``; ``p/q`` through :class:`~fractions.Fraction`); booleans are refused, as in
    :func:`exact_scalar`. NaN, Inf or a magnitude beyond float64's range raise, naming the first
    offending index.
    """
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiu":
        arr = np.asarray(value, dtype=np.float64)
        _check_shape(field, value, arr.shape, want)
    else:
        shape = shape_of(value, field)
        _check_shape(field, value, shape, want)
        leaves = np.asarray(value, dtype=object).reshape(-1) if shape else [value]
        if any(isinstance(v, str | bool | np.bool_) for v in leaves):
            out = np.empty(len(leaves), dtype=np.float64)
            for i, v in enumerate(leaves):
                where = field + "".join(f"[{j}]" for j in np.unravel_index(i, shape))
                out[i] = _float_scalar(v, where)
            arr = out.reshape(shape)
        else:
            try:
                arr = np.asarray(value, dtype=np.float64)
            except OverflowError:  # an integer beyond float64's range
                arr = np.array([_float_scalar(v, field) for v in leaves]).reshape(shape)
            except (TypeError, ValueError):
                exact_array(value, field, want)  # raises with the index of the bad element
                raise
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InvalidArgument(field + "".join(f"[{j}]" for j in idx), arr[idx], "must be finite")
    return arr


def _float_scalar(value: Any, field: str) -> float:
    """One number to the nearest float64 (``inf`` beyond its range), validated as intake."""
    try:
        if isinstance(value, str):
            text = _check_text(value, field)
            return float(_exact_text(text, field)) if "/" in text else float(text)
        return float(exact_scalar(value, field))
    except OverflowError:
        return float("inf")


def format_exact(value: Any, digits: int) -> str:
    """Decimal string of ``value`` (mpf, Fraction, int, float) to ``digits`` significant digits.

    Uses scientific notation (``"3.3333333333333333333e-2"``) so that the string is read back
    exactly by :func:`exact_scalar` and by any language's decimal parser.
    """
    import mpmath

    with mpmath.workdps(digits + 10):
        if isinstance(value, Fraction):
            x = mpmath.mpf(value.numerator) / value.denominator
        else:
            x = mpmath.mpf(value)
        return mpmath.nstr(x, digits, strip_zeros=True, min_fixed=1, max_fixed=0)


def exact_text(value: Fraction, digits: int = 40) -> str:
    """The shortest exact decimal string of ``value`` when one exists, else ``digits`` digits."""
    from decimal import Decimal, localcontext

    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return format_exact(value, digits)
    with localcontext() as ctx:
        ctx.prec = len(str(abs(value.numerator))) + max(twos, fives) + 5
        text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def fractions_to_float64(values: Any, field: str = "case") -> np.ndarray:
    """Exact numbers (Fractions) to the nearest float64, elementwise; a magnitude beyond
    float64's range raises :class:`InvalidArgument` instead of ``OverflowError``."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(arr.shape, dtype=np.float64)
    for idx in np.ndindex(*arr.shape):
        try:
            out[idx] = float(Fraction(arr[idx]))  # correctly rounded
        except OverflowError:
            where = field + "".join(f"[{i}]" for i in idx)
            raise InvalidArgument(
                where, exact_text(Fraction(arr[idx]), 6),
                "exceeds float64's range (|x| > 1.8e308); evaluate with the exact path",
            ) from None
    return out
