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
"""

from __future__ import annotations

from collections.abc import Iterable

import mpmath

from ..errors import MforacleError

__all__ = ["SPAN_BITS", "ExponentRangeError", "exact_sum"]

SPAN_BITS = 1 << 20


class ExponentRangeError(MforacleError, ArithmeticError):
    """The terms of a sum span too many binary orders of magnitude to add exactly."""


def exact_sum(terms: Iterable[mpmath.mpf]) -> mpmath.mpf:
    """The exact sum of finite ``mpf`` terms, correctly rounded at the current precision."""
    parts = []
    for t in terms:
        sign, man, exp, bc = mpmath.mpf(t)._mpf_
        if man:
            parts.append((-man if sign else man, exp, exp + bc))
    if not parts:
        return mpmath.mpf(0)
    floor = max(top for _m, _e, top in parts) - SPAN_BITS
    kept = [(m, e) for m, e, top in parts if top > floor]
    n_dropped = len(parts) - len(kept)
    low = min(e for _m, e in kept)
    total = sum(m << (e - low) for m, e in kept)
    if n_dropped:
        room = (total.bit_length() + low if total else floor) - floor  # log2 |total| / 2^floor
        if room < mpmath.mp.prec + 16 + n_dropped.bit_length():
            raise ExponentRangeError(
                f"a sum of {len(parts)} terms spans more than 2^20 binary orders of magnitude and "
                "its large terms cancel: it cannot be formed exactly"
            )
    return mpmath.mpf((total, low))  # one correctly rounded conversion
