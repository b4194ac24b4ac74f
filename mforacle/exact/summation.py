"""Exact summation of mpf terms, rounded once.

``exact_sum(terms)`` adds the terms' binary mantissas *exactly* in Python integers (shifted to
the smallest exponent among them) and rounds the exact total once to the working precision: the
correctly rounded sum, whatever the order of the terms.

``mpmath.fsum`` is not enough: it drops terms whose exponents lie more than about twice the
precision below the largest, in an order-dependent way, so a network with weights ~1e200 could
report a wrong loss with an error bound of 0 (the confirming run dropped the same term).

Terms more than ``SPAN_BITS`` (2^20) bits below the largest — e.g. ``tanh'(1e200) ≈ e^(−4e200)``
next to O(1) terms — would need integers of astronomical size. Their sum is below
``n·2^(top − SPAN_BITS)``; they are left out when that is less than ``2^−(prec+16)`` of the
result (they then cannot move it by more than a 2^−16 fraction of an ulp, and the choice
does not depend on the order of the terms). If the larger terms cancel so far that this cannot
be guaranteed, :class:`ExponentRangeError` is raised rather than a silently wrong sum.

**Raw variants** (the network's inner loops): :func:`exact_sum_raw` and :func:`exact_dot_raw`
take and return mpmath's raw ``(sign, man, exp, bc)`` tuples and an explicit precision, skipping
the ``mpf`` object layer (issue 13: that wrapping cost more than the arithmetic).
:func:`exact_dot_raw` forms the products ``x_i y_i`` *exactly* (integer mantissa products) and
sums them exactly with optional extra raw terms, rounding once: the correctly rounded value of
``Σ x_i y_i + Σ extra``, again independent of the order of the terms.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import add
from typing import Any

import mpmath
from mpmath.libmp import from_man_exp, fzero, round_nearest

from ..errors import MforacleError

__all__ = ["SPAN_BITS", "ExponentRangeError", "exact_dot_raw", "exact_sum", "exact_sum_raw"]

SPAN_BITS = 1 << 20


class ExponentRangeError(MforacleError, ArithmeticError):
    """The terms of a sum span too many binary orders of magnitude to add exactly."""


def _round_parts(parts: list[tuple[Any, int, int]], prec: int) -> tuple:
    """Round ``Σ man·2^exp`` over ``parts = [(signed man, exp, top)]`` once, to ``prec`` bits
    (nearest); ``top`` bounds the term's leading bit position (the span rule above)."""
    if not parts:
        return fzero
    floor = max(top for _m, _e, top in parts) - SPAN_BITS
    kept = [(m, e) for m, e, top in parts if top > floor]
    n_dropped = len(parts) - len(kept)
    low = min(e for _m, e in kept)
    total = sum(m << (e - low) for m, e in kept)
    if n_dropped:
        room = (total.bit_length() + low if total else floor) - floor  # log2 |total| / 2^floor
        if room < prec + 16 + n_dropped.bit_length():
            raise ExponentRangeError(
                f"a sum of {len(parts)} terms spans more than 2^20 binary orders of magnitude and "
                "its large terms cancel: it cannot be formed exactly"
            )
    return from_man_exp(total, low, prec, round_nearest)  # one correctly rounded conversion


def _round_signed(signs: Any, mans: Any, exps: Any, bcs: Any, prec: int) -> tuple:
    """Round ``Σ ±man·2^exp`` once (the common case: all terms within ``SPAN_BITS`` of each
    other, no term to drop) or hand over to :func:`_round_parts`."""
    low = min(exps)
    if max(map(add, exps, bcs)) - low > SPAN_BITS:
        spans = zip(signs, mans, exps, bcs, strict=True)
        return _round_parts([(-m if sg else m, e, e + bc) for sg, m, e, bc in spans], prec)
    terms = zip(signs, mans, exps, strict=True)
    total = sum([-(m << (e - low)) if sg else m << (e - low) for sg, m, e in terms])
    return from_man_exp(total, low, prec, round_nearest)  # one correctly rounded conversion


def exact_sum_raw(terms: Iterable[tuple], prec: int) -> tuple:
    """The exact sum of finite raw mpf tuples, correctly rounded (nearest) to ``prec`` bits."""
    nonzero = [t for t in terms if t[1]]
    if not nonzero:
        return fzero
    signs, mans, exps, bcs = zip(*nonzero, strict=True)
    return _round_signed(signs, mans, exps, bcs, prec)


def exact_dot_raw(xs: Iterable[tuple], ys: Iterable[tuple], prec: int,
                  extra: Iterable[tuple] = ()) -> tuple:
    """``Σ x_i y_i + Σ extra`` with exact products and one rounding to ``prec`` bits (raw tuples;
    ``xs`` and ``ys`` of equal length). The exponent of a product's leading bit is bounded by
    ``e1 + e2 + bc1 + bc2`` (exact or one too high): used only to decide the span rule."""
    terms = [
        (s1 ^ s2, m1 * m2, e1 + e2, b1 + b2)
        for (s1, m1, e1, b1), (s2, m2, e2, b2) in zip(xs, ys, strict=True)
        if m1 and m2
    ]
    terms += [t for t in extra if t[1]]
    if not terms:
        return fzero
    signs, mans, exps, bcs = zip(*terms, strict=True)
    return _round_signed(signs, mans, exps, bcs, prec)


def exact_sum(terms: Iterable[mpmath.mpf]) -> mpmath.mpf:
    """The exact sum of finite ``mpf`` terms, correctly rounded at the current precision."""
    raw = exact_sum_raw((mpmath.mpf(t)._mpf_ for t in terms), mpmath.mp.prec)
    return mpmath.mp.make_mpf(raw)
