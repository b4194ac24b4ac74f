"""Rigorous enclosures of ``σ^{(j)}(x)``, ``j = 0..3``, on Arb balls (``docs/model.md`` §1).

``sigma(act, x, j)`` returns an :class:`flint.arb` ball that contains ``σ^{(j)}(ξ)`` for **every**
``ξ`` in the ball ``x``, at the current Arb working precision (``flint.ctx.prec``; callers wrap it
in ``flint.ctx.workprec(...)``). Arb's elementary functions are rigorous: ``f([m ± r])`` is
``f(m)`` with its rounding error plus ``r · sup|f'|`` over the ball, so every formula below is an
enclosure whatever the width of ``x``. Two refinements keep wide balls (saturated or huge
pre-activations, ill-conditioned cases) from blowing up:

- a *monotone* function is evaluated at the two endpoints of the ball, whose hull is the exact
  range (``tanh``, ``erf``, ``sigmoid``, ``softplus`` and their monotone derivatives);
- every result is intersected with a proved global range of ``σ^{(j)}`` (table below), so an
  argument Arb cannot reduce (``sin(1e300)`` at low precision) still gives ``[-1, 1]``.

=========  ==================  =====================  ======================  ==================
name       σ                   σ'                     σ''                     σ'''
=========  ==================  =====================  ======================  ==================
tanh       tanh x              sech² x                −2 tanh x sech² x       −2σ′(σ′ − 2tanh² x)
erf        erf x               (2/√π) e^{−x²}         −2x σ'                  (4x² − 2) σ'
sigmoid    s(x) (two forms)    s(x) s(−x)             −σ' tanh(x/2)           σ' (1 − 6σ')
softplus   max(x,0)+log1p(e^{−|x|})  s(x)             s'(x)                   s''(x)
sin        sin x               cos x                  −sin x                  −cos x
regrelu:η  0 | (x+η)²/(4η) | x  0 | (x+η)/(2η) | 1   0 | 1/(2η) | 0           0 away from ±η
=========  ==================  =====================  ======================  ==================

Global ranges used for the intersection (each a simple proved bound, looser than the sharp one):
tanh ``σ' ∈ [0,1]``, ``|σ''| ≤ 1``, ``|σ'''| ≤ 2``; erf ``σ' ∈ [0, 2/√π]``, ``|σ''| ≤ 1``,
``|σ'''| ≤ 4/√π``; sigmoid ``σ' ∈ [0, 1/4]``, ``|σ''| ≤ 1/8``, ``σ''' ∈ [−1/8, 1/24]``;
(used as ``[−1/8, 1/16]``); sin all ``[-1, 1]``; ``σ ∈ [-1, 1]`` for tanh and erf, ``[0, 1]``
for sigmoid, ``≥ 0`` for softplus.

**Regularized ReLU and its kinks at ``±η``.** ``σ`` and ``σ'`` are continuous and
non-decreasing, so their enclosure is the hull of the values at the ball's two endpoints (a
point on a kink is evaluated by every piece that may contain it; the pieces agree there). ``σ''``
jumps at the kinks; at a kink *point* it takes the middle piece's value ``1/(2η)`` (the exact
path's convention: the middle piece is the closed interval ``[−η, η]``), and a ball with positive
radius that touches a kink encloses **both one-sided values**: the hull of ``0`` and ``1/(2η)``.
``σ'''`` is ``0`` on a ball that stays away from both kinks; at a kink ``σ''`` jumps, so ``σ'''``
does not exist there as a number (its distributional derivative has a Dirac mass ``±δ/(2η)``):
for a ball that contains or may contain a kink, ``sigma(..., 3)`` returns the whole real line
``[0 ± inf]``, which is the only honest enclosure. :func:`straddles_kink` tells the caller
whether a ball touches a kink (``η`` itself is a ball when it is not a dyadic rational, so
"may touch" counts as touching).

Source: ``docs/model.md`` §1 (the activations); Arb's ball semantics, F. Johansson,
*Arb: efficient arbitrary-precision midpoint-radius interval arithmetic*, IEEE TC 66 (2017).
This module shares no code with ``mforacle.exact`` or ``mforacle.fast``.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from flint import arb, fmpq, fmpz

from ..errors import InvalidArgument
from ..model import Activation

__all__ = ["MAX_ORDER", "arb_of", "sigma", "straddles_kink"]

#: Highest derivative order :func:`sigma` encloses.
MAX_ORDER = 3

_INF_BALL = arb(0, "inf")


def arb_of(value: Fraction | int) -> arb:
    """An exact rational as an Arb ball that contains it, at the current precision.

    A dyadic rational (denominator a power of two: every float64, every integer) becomes an
    *exact* ball ``man·2^exp`` (radius 0, whatever its size: Arb's exponents are unbounded);
    any other Fraction becomes Arb's rigorous ball around ``p/q`` (radius about one ulp).

    Raises:
        InvalidArgument: ``value`` is not an int or a Fraction.
    """
    if type(value) is Fraction:
        p, q = value.numerator, value.denominator
    elif isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise InvalidArgument("value", value, "expected an int or a Fraction")
    else:
        p, q = value.numerator, value.denominator
    if q & (q - 1) == 0:  # q = 2^k
        return arb((fmpz(p), 1 - q.bit_length()))
    return arb(fmpq(fmpz(p), fmpz(q)))


def _dyadic(num: int, den: int = 1) -> arb:
    """An exact dyadic constant (``den`` a power of two), independent of the precision."""
    assert den & (den - 1) == 0
    return arb((fmpz(num), 1 - den.bit_length()))


def _range(lo: arb, hi: arb) -> arb:
    return lo.union(hi)


#: Proved global ranges of σ^{(j)} (module docstring), as exact dyadic balls. Upper bounds on
#: 2/√π = 1.12838 and 4/√π = 2.25676: 289/256 = 1.12890625 and 578/256 = 2.2578125.
_RANGES: dict[tuple[str, int], arb] = {
    ("tanh", 0): _range(_dyadic(-1), _dyadic(1)),
    ("tanh", 1): _range(_dyadic(0), _dyadic(1)),
    ("tanh", 2): _range(_dyadic(-1), _dyadic(1)),
    ("tanh", 3): _range(_dyadic(-2), _dyadic(2)),
    ("erf", 0): _range(_dyadic(-1), _dyadic(1)),
    ("erf", 1): _range(_dyadic(0), _dyadic(289, 256)),
    ("erf", 2): _range(_dyadic(-1), _dyadic(1)),
    ("erf", 3): _range(_dyadic(-578, 256), _dyadic(578, 256)),
    ("sigmoid", 0): _range(_dyadic(0), _dyadic(1)),
    ("sigmoid", 1): _range(_dyadic(0), _dyadic(1, 4)),
    ("sigmoid", 2): _range(_dyadic(-1, 8), _dyadic(1, 8)),
    ("sigmoid", 3): _range(_dyadic(-1, 8), _dyadic(1, 16)),
    ("sin", 0): _range(_dyadic(-1), _dyadic(1)),
}


def _clip(value: arb, bound: arb | None) -> arb:
    """``value`` intersected with a proved range ``bound`` (or ``bound`` if ``value`` is lost).

    Only done for a result with fewer than 20 bits of relative accuracy: an accurate ball gains
    nothing from it.
    """
    if bound is None or value.rel_accuracy_bits() >= 20:
        return value
    if not value.is_finite():
        return bound
    return value.intersection(bound)


def _is_wide(x: arb) -> bool:
    """Fewer than 20 bits of relative accuracy: use the monotone endpoints instead."""
    return x.rel_accuracy_bits() < 20


# --- the smooth activations: formulas, evaluated on balls ----------------------------------
def _two_over_sqrt_pi() -> arb:
    return 2 / arb.const_sqrt_pi()


def _sigmoid(x: arb) -> arb:
    """``1/(1+e^{-x})``, in the form whose exponential cannot overflow for the ball's sign."""
    if x.mid() >= 0:
        return 1 / (1 + (-x).exp())
    e = x.exp()
    return e / (1 + e)


def _sigmoid_d1(x: arb) -> arb:
    return _sigmoid(x) * _sigmoid(-x)


def _sigmoid_d2(x: arb) -> arb:
    return -_sigmoid_d1(x) * (x / 2).tanh()


def _sigmoid_d3(x: arb) -> arb:
    s1 = _sigmoid_d1(x)
    return s1 * (1 - 6 * s1)


def _softplus(x: arb) -> arb:
    if x.mid() >= 0:
        return x + (-x).exp().log1p()
    return x.exp().log1p()


# Squares are products ``s * s``: Arb's power ``s ** 2`` goes through ``exp(2 log s)`` and is
# NaN for a ball that contains 0 (``sech`` of a huge argument is such a ball).


def _tanh_d1(x: arb) -> arb:
    s = x.sech()
    return s * s


def _tanh_d2(x: arb) -> arb:
    s = x.sech()
    return -2 * x.tanh() * (s * s)


def _tanh_d3(x: arb) -> arb:
    s = x.sech()
    s2 = s * s
    t = x.tanh()
    return -2 * s2 * (s2 - 2 * t * t)


def _erf_d1(x: arb) -> arb:
    return _two_over_sqrt_pi() * (-(x * x)).exp()


def _erf_d2(x: arb) -> arb:
    return -2 * x * _erf_d1(x)


def _erf_d3(x: arb) -> arb:
    return (4 * x * x - 2) * _erf_d1(x)


def _neg_sin(x: arb) -> arb:
    return -x.sin()


def _neg_cos(x: arb) -> arb:
    return -x.cos()


#: (name, j) -> (formula, non-decreasing?, key of its range in _RANGES)
_FORMULAS: dict[tuple[str, int], tuple[Callable[[arb], arb], bool, tuple[str, int]]] = {
    ("tanh", 0): (arb.tanh, True, ("tanh", 0)),
    ("tanh", 1): (_tanh_d1, False, ("tanh", 1)),
    ("tanh", 2): (_tanh_d2, False, ("tanh", 2)),
    ("tanh", 3): (_tanh_d3, False, ("tanh", 3)),
    ("erf", 0): (arb.erf, True, ("erf", 0)),
    ("erf", 1): (_erf_d1, False, ("erf", 1)),
    ("erf", 2): (_erf_d2, False, ("erf", 2)),
    ("erf", 3): (_erf_d3, False, ("erf", 3)),
    ("sigmoid", 0): (_sigmoid, True, ("sigmoid", 0)),
    ("sigmoid", 1): (_sigmoid_d1, False, ("sigmoid", 1)),
    ("sigmoid", 2): (_sigmoid_d2, False, ("sigmoid", 2)),
    ("sigmoid", 3): (_sigmoid_d3, False, ("sigmoid", 3)),
    ("softplus", 1): (_sigmoid, True, ("sigmoid", 0)),
    ("softplus", 2): (_sigmoid_d1, False, ("sigmoid", 1)),
    ("softplus", 3): (_sigmoid_d2, False, ("sigmoid", 2)),
    ("sin", 0): (arb.sin, False, ("sin", 0)),
    ("sin", 1): (arb.cos, False, ("sin", 0)),
    ("sin", 2): (_neg_sin, False, ("sin", 0)),
    ("sin", 3): (_neg_cos, False, ("sin", 0)),
}


def _smooth(name: str, x: arb, j: int) -> arb:
    if name == "softplus" and j == 0:
        # non-decreasing, 0 < softplus(x) <= max(x, 0) + log 2
        if _is_wide(x):
            value = _softplus(x.lower()).union(_softplus(x.upper()))
        else:
            value = _softplus(x)
        return _clip(value, _dyadic(0).union(x.upper().max(_dyadic(0)) + 1))
    f, monotone, key = _FORMULAS[(name, j)]
    if monotone and _is_wide(x):
        value = f(x.lower()).union(f(x.upper()))
    else:
        value = f(x)
    return _clip(value, _RANGES[key])


# --- regularized ReLU ------------------------------------------------------------------------
def _pieces(x: arb, eta: arb) -> tuple[bool, bool, bool]:
    """Which of the pieces ``x < −η``, ``−η ≤ x ≤ η``, ``x > η`` the ball ``x`` may meet.

    Arb's comparisons are certain: ``a < b`` is True only if it holds for all points of the
    balls, so a piece is excluded only when that is proved.
    """
    low = not (x >= -eta)
    mid = not (x < -eta or x > eta)
    high = not (x <= eta)
    return low, mid, high


def straddles_kink(act: Activation, x: arb) -> bool:
    """Whether the ball ``x`` touches (or, ``η`` being a ball, may touch) a kink ``±η`` of
    ``regrelu`` with positive radius, i.e. meets two pieces; always False for smooth ``σ``.

    Raises:
        InvalidArgument: ``act`` is not an :class:`~mforacle.model.Activation` or ``x`` not an arb.
    """
    act = _check(act, x)
    if act.name != "regrelu":
        return False
    assert act.eta is not None
    return sum(_pieces(x, arb_of(act.eta))) > 1


def _regrelu_point(x: arb, eta: arb, j: int) -> arb:
    """``σ`` or ``σ'`` at a (narrow) ball: the hull over the pieces it may meet (continuous)."""
    low, mid, high = _pieces(x, eta)
    values = []
    if low:
        values.append(arb(0))
    if mid:
        t = x + eta
        values.append(t * t / (4 * eta) if j == 0 else t / (2 * eta))
    if high:
        values.append(+x if j == 0 else arb(1))
    out = values[0]
    for v in values[1:]:
        out = out.union(v)
    return out


def _regrelu(x: arb, eta: arb, j: int) -> arb:
    if j <= 1:
        # non-decreasing and continuous: the hull of the two endpoint values is the range
        if x.is_exact():
            return _regrelu_point(x, eta, j)
        return _regrelu_point(x.lower(), eta, j).union(_regrelu_point(x.upper(), eta, j))
    low, mid, high = _pieces(x, eta)
    if j == 2:
        # a kink point belongs to the closed middle piece (value 1/(2η)); a ball with positive
        # radius on a kink meets two pieces and gets the hull of both one-sided values
        values = ([arb(0)] if low or high else []) + ([1 / (2 * eta)] if mid else [])
        out = values[0]
        for v in values[1:]:
            out = out.union(v)
        return out
    # j == 3: zero strictly inside a piece; no number at a kink (σ'' jumps there)
    if sum((low, mid, high)) > 1 or _touches(x, eta):
        return _INF_BALL
    return arb(0)


def _touches(x: arb, eta: arb) -> bool:
    """Whether the ball may contain ``−η`` or ``η`` (a kink point)."""
    return bool(x.overlaps(-eta) or x.overlaps(eta))


def _check(act: Activation, x: arb) -> Activation:
    if not isinstance(act, Activation):
        raise InvalidArgument("act", act, "expected an mforacle.model.Activation")
    if not isinstance(x, arb):
        raise InvalidArgument("x", x, "expected a flint.arb ball")
    return act


def sigma(act: Activation, x: arb, j: int) -> arb:
    """A ball containing ``σ^{(j)}(ξ)`` for every ``ξ`` in the ball ``x`` (``j = 0..3``).

    Evaluated at the current Arb precision (``flint.ctx.prec``). Scalar in, scalar out.
    For ``regrelu`` at a kink see the module docstring (``σ''``: hull of both one-sided values;
    ``σ'''``: the whole real line).

    Raises:
        InvalidArgument: ``act`` is not an Activation, ``x`` not an arb, or ``j`` not in 0..3.
    """
    act = _check(act, x)
    if isinstance(j, bool) or not isinstance(j, int) or not 0 <= j <= MAX_ORDER:
        raise InvalidArgument("j", j, f"derivative order must be an integer in 0..{MAX_ORDER}")
    if act.name == "regrelu":
        assert act.eta is not None
        return _regrelu(x, arb_of(act.eta), j)
    return _smooth(act.name, x, j)
