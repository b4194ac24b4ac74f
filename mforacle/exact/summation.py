"""Exact summation of mpf terms, rounded once.

``exact_sum(terms)`` adds the terms' binary mantissas *exactly* in Python integers (shifted to
the smallest exponent among them) and rounds the exact total once to the working precision. The
result is the correctly rounded exact sum, whatever the order of the terms and however far apart
their magnitudes are.

``mpmath.fsum`` is not enough here: it drops terms whose exponents lie more than about twice the
precision below the largest, in an order-dependent way, so a network with weights ~1e200 could
report a wrong loss with an error bound of 0 (the confirming run drops the same term).
"""

from __future__ import annotations

from collections.abc import Iterable

import mpmath

__all__ = ["exact_sum"]


def exact_sum(terms: Iterable[mpmath.mpf]) -> mpmath.mpf:
    """The exact sum of finite ``mpf`` terms, correctly rounded at the current precision."""
    parts = []
    for t in terms:
        sign, man, exp, _bc = mpmath.mpf(t)._mpf_
        if man:
            parts.append((-man if sign else man, exp))
    if not parts:
        return mpmath.mpf(0)
    low = min(exp for _man, exp in parts)
    total = sum(man << (exp - low) for man, exp in parts)
    return mpmath.mpf((total, low))  # one correctly rounded conversion
