"""Rigorous enclosures of ``σ^{(j)}(x)``, ``j = 0..3``, on Arb balls (``shared/spec/model.md`` §1).

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
sin all ``[-1, 1]``; ``σ ∈ [-1, 1]`` for tanh and erf, ``[0, 1]`` for sigmoid, ``≥ 0`` for
softplus.

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

Source: ``shared/spec/model.md`` §1 (the activations); Arb's ball semantics, F. Johansson,
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
    if isinstance(value, bool) or not isinstance(value, int | Fraction):
        raise InvalidArgument("value", value, "expected an int or a Fraction")
    v = Fraction(value)
    p, q = v.numerator, v.denominator
    if q & (q - 1) == 0:  # q = 2^k
        return arb((fmpz(p), -(q.bit_length() - 1)))
    return arb(fmpq(fmpz(p), fmpz(q)))


def _range(lo: Fraction | arb, hi: Fraction | arb) -> arb:
    a = lo if isinstance(lo, arb) else arb_of(lo)
    b = hi if isinstance(hi, arb) else arb_of(hi)
    return a.union(b)


def _clip(value: arb, bound: arb | None) -> arb:
    """``value`` intersected with a proved range ``bound`` (or ``bound`` if ``value`` is lost)."""
    if bound is None:
        return value
    if not value.is_finite():
        return bound
    return value.intersection(bound)


def _is_wide(x: arb) -> bool:
    """More than 2^-20 relative (or absolute, near 0) uncertainty: use the monotone endpoints."""
    if x.is_exact():
        return False
    return bool(x.rad() > (abs(x.mid()) + 1) * arb((1, -20)))


def _monotone(f: Callable[[arb], arb], x: arb, bound: arb | None) -> arb:
    """Enclosure of a non-decreasing ``f`` on the ball ``x``: the hull of the endpoint values."""
    if _is_wide(x):
        value = f(x.lower()).union(f(x.upper()))
    else:
        value = f(x)
    return _clip(value, bound)


def _direct(f: Callable[[arb], arb], x: arb, bound: arb | None) -> arb:
    return _clip(f(x), bound)


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


def _tanh_d2(x: arb) -> arb:
    return -2 * x.tanh() * x.sech() ** 2


def _tanh_d3(x: arb) -> arb:
    s2 = x.sech() ** 2
    t = x.tanh()
    return -2 * s2 * (s2 - 2 * t * t)


def _erf_d1(x: arb) -> arb:
    return _two_over_sqrt_pi() * (-(x * x)).exp()


def _erf_d2(x: arb) -> arb:
    return -2 * x * _erf_d1(x)


def _erf_d3(x: arb) -> arb:
    return (4 * x * x - 2) * _erf_d1(x)


def _smooth(name: str, x: arb, j: int) -> arb:
    F = Fraction
    if name == "tanh":
        if j == 0:
            return _monotone(arb.tanh, x, _range(F(-1), F(1)))
        if j == 1:
            return _direct(lambda t: t.sech() ** 2, x, _range(F(0), F(1)))
        if j == 2:
            return _direct(_tanh_d2, x, _range(F(-1), F(1)))
        return _direct(_tanh_d3, x, _range(F(-2), F(2)))
    if name == "erf":
        if j == 0:
            return _monotone(arb.erf, x, _range(F(-1), F(1)))
        if j == 1:
            return _direct(_erf_d1, x, _range(arb(0), _two_over_sqrt_pi()))
        if j == 2:
            return _direct(_erf_d2, x, _range(F(-1), F(1)))
        return _direct(_erf_d3, x, _range(-2 * _two_over_sqrt_pi(), 2 * _two_over_sqrt_pi()))
    if name == "sigmoid":
        return _sigmoid_order(x, j)
    if name == "softplus":
        if j == 0:
            return _monotone(_softplus, x, _range(F(0), x.upper().max(arb(0)) + 1))
        return _sigmoid_order(x, j - 1)
    # sin
    if j == 0:
        f: Callable[[arb], arb] = arb.sin
    elif j == 1:
        f = arb.cos
    elif j == 2:
        f = lambda t: -t.sin()  # noqa: E731
    else:
        f = lambda t: -t.cos()  # noqa: E731
    return _direct(f, x, _range(F(-1), F(1)))


def _sigmoid_order(x: arb, j: int) -> arb:
    F = Fraction
    if j == 0:
        return _monotone(_sigmoid, x, _range(F(0), F(1)))
    if j == 1:
        return _direct(_sigmoid_d1, x, _range(F(0), F(1, 4)))
    if j == 2:
        return _direct(_sigmoid_d2, x, _range(F(-1, 8), F(1, 8)))
    return _direct(_sigmoid_d3, x, _range(F(-1, 8), F(1, 24)))


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
        values.append((x + eta) ** 2 / (4 * eta) if j == 0 else (x + eta) / (2 * eta))
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
