"""Rigorous Gaussian moments and the Stein-reduced drift and Jacobian, in Arb ball arithmetic.

``docs/model.md`` §4–5, ``docs/limit.md`` ("How the ball path certifies"). For a state
``z`` and depth ``t`` under the Gaussian marginal ``ρ(·, t) = N(c(t), A(t)A(t)ᵀ)`` put
``Y = w·z + b ~ N(m, v)``, ``m = c_w·z + c_b``, ``a = A_wᵀz + A_b`` (r,), ``v = |a|²``,
``Cov(θ, Y) = A a`` and ``E_j = E[σ^{(j)}(Y)]``. Stein's identity (once for ``F``, twice for
``J``; the same reduction as the other paths, written here independently) gives::

    F = c_u E_0 + Cov_u E_1
    J = (c_u c_wᵀ + A_u A_wᵀ) E_1 + (c_u Cov_wᵀ + Cov_u c_wᵀ) E_2 + Cov_u Cov_wᵀ E_3

**The moments.**

- ``erf``: ``E_j = S^{-j} erf^{(j)}(m/S)``, ``S = √(1 + 2v)``; ``sin``: ``E_j = e^{-v/2}
  sin^{(j)}(m)``; ``regrelu:η``: truncated Gaussian moments on the three pieces (``Φ`` via
  ``erfc``), ``E_3 = (φ(α) − φ(β))/(2η s)``, ``α = (−η−m)/s``, ``β = (η−m)/s``. Exact formulas;
  Arb makes them rigorous.
- ``tanh``, ``sigmoid``, ``softplus``: the trapezoidal rule in ``ζ`` (``Y = m + sζ``,
  ``ζ ~ N(0,1)``), nodes ``ζ_i = i/n_q``, ``|i| ≤ K``, weights ``φ(ζ_i)/n_q``, with a
  *rigorous* error bound (:func:`trapezoid_error`): discretization by Trefethen–Weideman,
  *The exponentially convergent trapezoidal rule*, SIAM Rev. 56 (2014), Thm 5.1 —
  ``|T_h − I| ≤ 2M/(e^{2πa/h} − 1)`` for an integrand analytic in the strip ``|Im ζ| < a``
  with ``∫|f(x+iy)|dx ≤ M`` — using ``|φ(x+iy)| = φ(x)e^{y²/2}``, the strip ``|Im Y| < b``
  (tanh: ``b < π/2``, ``|tanh| ≤ max(1, tan b)``; sigmoid ``= (1 + tanh(y/2))/2``: ``b < π``;
  softplus: ``|log(1+e^Y)| ≤ softplus(Re Y) + π + log⁺(1/sin b)``), ``a = min(b/s, 2π/h)``;
  truncation ``|i| > K`` by ``∫_Z^∞ φ ≤ φ(Z)/Z`` and ``∫_Z^∞ xφ = φ(Z)`` (``Z = K/n_q ≥ 1``).
  ``σ^{(j)}`` are polynomials in ``T = tanh`` (resp. ``S = sigmoid``), so one exponential per
  node gives all four moments: tanh ``σ' = 1 − T²``, ``σ'' = −2T + 2T³``,
  ``σ''' = −2 + 8T² − 6T⁴``; sigmoid ``σ' = S − S²``, ``σ'' = S − 3S² + 2S³``,
  ``σ''' = S − 7S² + 12S³ − 6S⁴``; softplus ``σ^{(j)} = S^{(j−1)}``. The rule works for any
  ``v ≥ 0`` (large ``v`` costs ``~ s`` nodes; ``v → 0`` is harmless; ``v = 0`` gives
  ``σ^{(j)}(m)`` exactly).

**The rule's ODE.** The discretized moments ``Q_j(m, s)`` are even in ``s`` (symmetric nodes),
hence analytic in ``v``; for ``r = 1`` the signed ``s = a`` is used (no square root at all).
:class:`GaussianField` evaluates ``F``/``J`` in three arithmetics with one code path: real balls
(``arb``; with the quadrature error added, a rigorous enclosure of the *true* ``F``, ``J``),
truncated power series in ``t`` (``arb_series``, for Taylor coefficients along a trajectory)
and complex balls (``acb``, for Cauchy bounds; analytic branches are checked).

This module shares no numerical code with ``mforacle.exact`` or ``mforacle.fast``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from flint import arb, arb_series, ctx

from ..errors import InvalidArgument
from ..measures import GaussianPath
from ..model import Activation, Model
from .activations import arb_of, sigma

__all__ = [
    "QUADRATURE",
    "GaussianField",
    "Grid",
    "Rule",
    "choose_grid",
    "choose_rule",
    "drift",
    "drift_and_jacobian",
    "gaussian_moments",
    "grid_error",
    "make_grid",
    "regrelu_piece_error",
    "trapezoid_error",
]

#: activations whose moments come from the certified trapezoidal rule
QUADRATURE = ("tanh", "sigmoid", "softplus")

#: power sums ``Σ w X^k`` each moment needs (``"L"``: softplus itself)
_POWERS = {
    "tanh": {0: (1,), 1: (2,), 2: (1, 3), 3: (2, 4)},
    "sigmoid": {0: (1,), 1: (1, 2), 2: (1, 2, 3), 3: (1, 2, 3, 4)},
    "softplus": {0: ("L",), 1: (1,), 2: (1, 2), 3: (1, 2, 3)},
}

#: strip half-widths ``b`` (in ``Im Y``) tried by the error bound, as fractions of the limit
_B_FRACTIONS = (Fraction(1, 2), Fraction(3, 4), Fraction(7, 8), Fraction(15, 16))

#: proved sup over the real line of ``|σ^{(j)}|`` (loose, simple): truncation bounds
_SUP: dict[str, tuple[Fraction | int | None, ...]] = {
    "tanh": (1, 1, 1, 2),
    "sigmoid": (1, Fraction(1, 4), Fraction(1, 8), Fraction(1, 8)),
    "softplus": (None, 1, Fraction(1, 4), Fraction(1, 8)),
}


# ------------------------------------------------------------------------------------------
# the trapezoidal rule and its rigorous error bound
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rule:
    """Trapezoidal rule on ``ζ``: nodes ``i/n_q`` (``0 ≤ i ≤ K``, used as ``±``), weights
    ``φ(i/n_q)/n_q`` (balls at the precision they were made), ``wsum = Σ_{|i|≤K} w_i``."""

    n_q: int
    K: int
    zeta: tuple[arb, ...]
    w: tuple[arb, ...]
    wsum: arb

    @property
    def Z(self) -> Fraction:
        """Truncation point ``K/n_q``."""
        return Fraction(self.K, self.n_q)


_RULES: dict[tuple[int, int, int], Rule] = {}

#: the degenerate "rule" ``E[g(m + 0·ζ)] = g(m)``: one node, weight 1
POINT_RULE = Rule(1, 0, (arb(0),), (arb(1),), arb(1))


def make_rule(n_q: int, K: int) -> Rule:
    """The rule with step ``1/n_q`` and ``2K+1`` nodes at the current precision (cached)."""
    key = (n_q, K, ctx.prec)
    rule = _RULES.get(key)
    if rule is None:
        c = 1 / (2 * arb.pi()).sqrt() / n_q
        zeta = tuple(arb(i) / n_q for i in range(K + 1))
        w = tuple(c * (-(z * z) / 2).exp() for z in zeta)
        wsum = w[0] + 2 * sum(w[1:], arb(0))
        rule = Rule(n_q, K, zeta, w, wsum)
        _RULES[key] = rule
    return rule


def _strip_bounds(name: str, b: arb, m_hi: arb, s_hi: arb) -> tuple[arb, ...]:
    """``C_j`` with ``∫|σ^{(j)}(m + s(x+iy))| φ(x) dx ≤ C_j`` for ``|s y| ≤ b`` (j = 0..3)."""
    if name == "tanh":
        B = arb(1).max(b.tan())
        B2 = B * B
        return (B, 1 + B2, 2 * B + 2 * B2 * B, 2 + 8 * B2 + 6 * B2 * B2)
    Bs = (1 + arb(1).max((b / 2).tan())) / 2
    B2 = Bs * Bs
    sig = (Bs, Bs + B2, Bs + 3 * B2 + 2 * B2 * Bs, Bs + 7 * B2 + 12 * B2 * Bs + 6 * B2 * B2)
    if name == "sigmoid":
        return sig
    half_pi = arb.pi() / 2
    if b <= half_pi:
        extra = half_pi
    else:
        extra = arb.pi() + (1 / b.sin()).log().max(arb(0))
    c0 = m_hi + arb(2).log() + s_hi * (2 / arb.pi()).sqrt() + extra
    return (c0, sig[0], sig[1], sig[2])


def _disc_bound(name: str, g: arb, s_hi: arb, m_hi: arb,
                orders: Sequence[int]) -> dict[int, arb]:
    """Discretization part, for a grid in ``ζ`` no coarser than ``1/g``: the largest over
    ``orders`` of ``min_b 2 C_j(b) e^{a²/2} / (e^{2πag} − 1)``, ``a = min(b/s_hi, 2πg)``."""
    two_pi = 2 * arb.pi()
    a_cap = two_pi * g
    limit = arb.pi() / 2 if name == "tanh" else arb.pi()
    best: dict[int, arb] = {}
    for frac in _B_FRACTIONS:
        b = limit * frac.numerator / frac.denominator
        a = a_cap if s_hi == 0 else (b / s_hi).min(a_cap)
        C = _strip_bounds(name, b, m_hi, s_hi)
        factor = 2 * (a * a / 2).exp() / ((two_pi * a * g).exp() - 1)
        for j in orders:
            val = (factor * C[j]).upper()
            if j not in best or val < best[j]:
                best[j] = val
    return best


def _trunc_bound(name: str, Z: arb, s_hi: arb, m_hi: arb,
                 orders: Sequence[int]) -> dict[int, arb]:
    """Truncation part: nodes cover ``|ζ| ≤ Z`` (``Z ≥ 1``) for every ``(m, s)`` in range."""
    phiZ = (-(Z * Z) / 2).exp() / (2 * arb.pi()).sqrt()
    out = {}
    for j in orders:
        sup = _SUP[name][j]
        if sup is None:  # softplus itself grows linearly
            trunc = 2 * ((m_hi + arb(2).log()) * phiZ / Z + s_hi * phiZ)
        else:
            trunc = 2 * arb_of(sup) * phiZ / Z
        out[j] = trunc.upper()
    return out


def trapezoid_error(
    name: str, rule: Rule, s_hi: Any, m_hi: Any = 0, orders: Sequence[int] = (0, 1, 2, 3)
) -> dict[int, arb]:
    """Rigorous bounds ``|Q_j − E_j| ≤ ε_j`` of the ``ζ``-rule for ``σ^{(j)}`` (module
    docstring). Valid for every ``Y ~ N(m, s²)`` with ``|s| ≤ s_hi`` and ``|m| ≤ m_hi``
    (``m_hi`` matters only for softplus, ``j = 0``). Returns exact upper bounds.

    Raises:
        InvalidArgument: ``name`` is not one of :data:`QUADRATURE` or ``Z = K/n_q < 1``.
    """
    if name not in QUADRATURE:
        raise InvalidArgument("activation", name, f"expected one of {list(QUADRATURE)}")
    if rule.K < rule.n_q:
        raise InvalidArgument("rule", (rule.n_q, rule.K), "truncation point K/n_q must be >= 1")
    s_hi = abs(arb(s_hi)).upper()
    m_hi = abs(arb(m_hi)).upper()
    disc = _disc_bound(name, arb(rule.n_q), s_hi, m_hi, orders)
    trunc = _trunc_bound(name, arb(rule.K) / rule.n_q, s_hi, m_hi, orders)
    return {j: (disc[j] + trunc[j]).upper() for j in orders}


def _needed_Z(name: str, s_hi: arb, m_hi: arb, eps: arb, orders: Sequence[int]) -> int:
    """Smallest integer ``Z ≥ 1`` whose truncation bound is ``≤ eps``."""
    Z = 1
    while max(_trunc_bound(name, arb(Z), s_hi, m_hi, orders).values()) > eps and Z < 80:
        Z += 1
    return Z


def _smallest(pred: Callable[[int], bool], lo: int = 1) -> int:
    """Smallest integer ``n ≥ lo`` with ``pred(n)`` for a monotone ``pred`` (doubling, then
    bisection)."""
    hi = lo
    while not pred(hi):
        lo, hi = hi, hi * 2
        if hi > 1 << 24:
            raise InvalidArgument("eps", None, "quadrature would need more than 2^24 nodes")
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def choose_rule(
    name: str, s_hi: Any, m_hi: Any, eps: Any, orders: Sequence[int] = (0, 1, 2, 3)
) -> Rule:
    """The coarsest ``ζ``-rule (smallest ``n_q``, then ``K``) with ``trapezoid_error ≤ eps``
    for all ``orders`` on ``|s| ≤ s_hi``, ``|m| ≤ m_hi``. Cost grows like
    ``s_hi · log(1/eps)``.

    Raises:
        InvalidArgument: ``eps`` is not positive.
    """
    eps = arb(eps)
    if not eps > 0:
        raise InvalidArgument("eps", eps, "expected a positive tolerance")
    with ctx.workprec(64):
        s_hi = abs(arb(s_hi)).upper()
        m_hi = abs(arb(m_hi)).upper()
        half = eps / 2
        n_q = _smallest(lambda n: max(_disc_bound(name, arb(n), s_hi, m_hi, orders).values())
                        <= half)
        # the smallest K with K/n_q past the truncation point
        Zmax = _needed_Z(name, s_hi, m_hi, half, orders)
        K = _smallest(lambda k: max(_trunc_bound(name, arb(k) / n_q, s_hi, m_hi,
                                                 orders).values()) <= half,
                      lo=max(n_q, (Zmax - 1) * n_q))
    return make_rule(n_q, K)


# ------------------------------------------------------------------------------------------
# the y-grid form: nodes fixed in Y, Gaussian weights depend on (m, v) (entire in m)
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid:
    """Trapezoidal rule in ``y``: nodes ``y_j = (j0 + j) h_y``, ``0 ≤ j ≤ J``, with the values
    ``σ^{(k)}(y_j)`` (k = 0..3) as balls. Moments ``E_k ≈ h_y Σ_j φ_v(y_j − m) σ^{(k)}(y_j)``:
    the singularities of ``σ`` stay on fixed nodes, so the moments are entire in ``m`` and
    analytic in ``v`` off ``(−∞, 0]`` — far larger complex neighbourhoods than the
    ``ζ``-rule, whose far nodes put poles near the real axis when ``s`` varies."""

    hy: arb
    j0: int
    J: int
    ys: tuple[arb, ...]
    sig: tuple[tuple[arb, ...], ...]  # sig[k][j]

    @property
    def lo(self) -> arb:
        return self.ys[0]

    @property
    def hi(self) -> arb:
        return self.ys[-1]


_GRID_VALUES: dict[tuple[str, Fraction, int, int], tuple[arb, ...]] = {}


def _dyadic_step(h: float) -> Fraction:
    """A dyadic step ``≤ h`` of the form ``c 2^-e``, ``c ∈ {4, 5, 6, 7}/4`` (cache-friendly)."""
    import math

    e = math.floor(math.log2(h))
    base = Fraction(2) ** e
    for c in (7, 6, 5, 4):
        if base * Fraction(c, 4) <= Fraction(h):
            return base * Fraction(c, 4)
    return base


def make_grid(act: Activation, lo: Any, hi: Any, hy: Fraction) -> Grid:
    """Nodes ``j·hy`` covering ``[lo, hi]`` and ``σ^{(k)}`` there (cached per node)."""
    import math

    lo_f, hi_f = float(arb(lo).lower()), float(arb(hi).upper())
    j0 = math.floor(lo_f / hy)
    j1 = math.ceil(hi_f / hy)
    hya = arb_of(hy)
    ys: list[arb] = []
    sig: list[list[arb]] = [[], [], [], []]
    for j in range(j0, j1 + 1):
        y = hya * j
        ys.append(y)
        key = (str(act), hy, j, ctx.prec)
        vals = _GRID_VALUES.get(key)
        if vals is None:
            vals = tuple(sigma(act, y, k) for k in range(4))
            _GRID_VALUES[key] = vals
        for k in range(4):
            sig[k].append(vals[k])
    return Grid(hya, j0, j1 - j0, tuple(ys), tuple(tuple(v) for v in sig))


def grid_error(name: str, grid: Grid, m_lo: Any, m_hi: Any, s_lo: Any, s_hi: Any,
               orders: Sequence[int] = (0, 1, 2, 3)) -> dict[int, arb]:
    """Rigorous ``|Q_k − E_k| ≤ ε_k`` of the y-grid for every ``m ∈ [m_lo, m_hi]``,
    ``s ∈ [s_lo, s_hi]`` (``s_lo > 0``): the ``ζ``-grid step is at most ``h_y/s_lo``, the nodes
    cover ``|ζ| ≤ Z = min(m_lo − y_0, y_J − m_hi)/s_hi``. Infinite if ``Z < 1``."""
    m_lo, m_hi, s_lo, s_hi = (arb(x) for x in (m_lo, m_hi, s_lo, s_hi))
    s_lo = s_lo.lower()
    s_hi = s_hi.upper()
    if not s_lo > 0:
        return {j: arb("inf") for j in orders}
    Z = ((m_lo.lower() - grid.lo).min(grid.hi - m_hi.upper()) / s_hi).lower()
    if not Z >= 1:
        return {j: arb("inf") for j in orders}
    m_abs = abs(m_lo).max(abs(m_hi)).upper()
    disc = _disc_bound(name, s_lo / grid.hy, s_hi, m_abs, orders)
    trunc = _trunc_bound(name, Z, s_hi, m_abs, orders)
    return {j: (disc[j] + trunc[j]).upper() for j in orders}


def choose_grid(act: Activation, m_lo: float, m_hi: float, s_lo: float, s_hi: float,
                eps: Any, orders: Sequence[int] = (0, 1, 2, 3)) -> Grid:
    """The coarsest dyadic-step y-grid with :func:`grid_error` ``≤ eps`` on the given ranges.

    Raises:
        InvalidArgument: ``s_lo ≤ 0`` or ``eps ≤ 0``.
    """
    name = act.name
    if not s_lo > 0:
        raise InvalidArgument("s_lo", s_lo, "the y-grid needs Var Y bounded away from 0")
    eps = arb(eps)
    if not eps > 0:
        raise InvalidArgument("eps", eps, "expected a positive tolerance")
    with ctx.workprec(64):
        sh = arb(s_hi)
        m_abs = arb(max(abs(m_lo), abs(m_hi)))
        half = eps / 2
        # the ζ-step 1/g with g = s_lo/h_y: find the smallest admissible integer-ish g
        g = _smallest(lambda n: max(_disc_bound(name, arb(n) / 4, sh, m_abs, orders).values())
                      <= half)
        Z = _needed_Z(name, sh, m_abs, half, orders)
    hy = _dyadic_step(s_lo * 4 / g)
    return make_grid(act, m_lo - Z * s_hi - float(hy), m_hi + Z * s_hi + float(hy), hy)


def _grid_moments(grid: Grid, m: Any, v: Any, s: Any, orders: Sequence[int]) -> dict[int, Any]:
    """``h_y/(√(2π) s) Σ_j exp(−(y_j − m)²/(2v)) σ^{(k)}(y_j)`` (``s = √v > 0``)."""
    inv2v = 1 / (2 * v)
    acc: dict[int, Any] = {}
    for j, y in enumerate(grid.ys):
        x = y - m
        w = (-(x * x) * inv2v).exp()
        for k in orders:
            c = grid.sig[k][j]
            if c == 0:
                continue
            term = w * c
            acc[k] = term if k not in acc else acc[k] + term
    norm = grid.hy / ((2 * arb.pi()).sqrt() * s)
    zero = _zero(m)
    return {k: (acc[k] * norm if k in acc else zero) for k in orders}


# ------------------------------------------------------------------------------------------
# moments in any of the three arithmetics (arb, arb_series, acb)
# ------------------------------------------------------------------------------------------
def _zero(like: Any) -> Any:
    return like * 0


def _quad_moments(name: str, m: Any, s: Any, rule: Rule, orders: Sequence[int],
                  cplx: bool) -> dict[int, Any]:
    """The rule applied to ``σ^{(j)}(m + sζ)`` for ``j`` in ``orders`` (no error term)."""
    need: set[Any] = set()
    for j in orders:
        need.update(_POWERS[name][j])  # type: ignore[index]
    kmax = max((k for k in need if k != "L"), default=0)
    want_L = "L" in need
    acc: dict[Any, Any] = {}
    for i in range(rule.K + 1):
        ys: tuple[Any, ...]
        if i == 0:
            ys = (m,)
        else:
            sz = s * rule.zeta[i]
            ys = (m + sz, m - sz)
        local: dict[Any, Any] = {}
        for y in ys:
            if name == "tanh":
                X = 1 - 2 / ((2 * y).exp() + 1)
            else:
                e = y.exp()
                onep = e + 1
                X = 1 - 1 / onep
                if want_L:
                    L = onep.log(analytic=True) if cplx else onep.log()
                    local["L"] = L if "L" not in local else local["L"] + L
            pw = X
            for k in range(1, kmax + 1):
                if k > 1:
                    pw = pw * X
                if k in need:
                    local[k] = pw if k not in local else local[k] + pw
        wi = rule.w[i]
        for k, val in local.items():
            term = val * wi
            acc[k] = term if k not in acc else acc[k] + term
    S0 = rule.wsum
    P = acc
    out: dict[int, Any] = {}
    for j in orders:
        if name == "tanh":
            out[j] = (
                P[1] if j == 0 else
                S0 - P[2] if j == 1 else
                2 * P[3] - 2 * P[1] if j == 2 else
                8 * P[2] - 6 * P[4] - 2 * S0
            )
        elif name == "sigmoid":
            out[j] = (
                P[1] if j == 0 else
                P[1] - P[2] if j == 1 else
                P[1] - 3 * P[2] + 2 * P[3] if j == 2 else
                P[1] - 7 * P[2] + 12 * P[3] - 6 * P[4]
            )
        else:  # softplus
            out[j] = (
                P["L"] if j == 0 else
                P[1] if j == 1 else
                P[1] - P[2] if j == 2 else
                P[1] - 3 * P[2] + 2 * P[3]
            )
    return out


def _erf_moments(m: Any, v: Any, cplx: bool) -> dict[int, Any]:
    S2 = 1 + 2 * v
    S = S2.sqrt(analytic=True) if cplx else S2.sqrt()
    x = m / S
    d1 = (2 / arb.pi().sqrt()) * (-(x * x)).exp()
    return {0: x.erf(), 1: d1 / S, 2: -2 * x * d1 / S2, 3: (4 * x * x - 2) * d1 / (S2 * S)}


def _sin_moments(m: Any, v: Any) -> dict[int, Any]:
    damp = (-v / 2).exp()
    sm, cm = m.sin(), m.cos()
    e0, e1 = damp * sm, damp * cm
    return {0: e0, 1: e1, 2: -e0, 3: -e1}


def _regrelu_moments(m: Any, v: Any, s: Any, eta: arb) -> dict[int, Any]:
    """Piecewise closed form (``s = √v > 0``); ``Φ(x) = erfc(−x/√2)/2``."""
    r2 = arb(2).sqrt()
    inv_sqrt_2pi = 1 / (2 * arb.pi()).sqrt()
    al = (-eta - m) / s
    be = (eta - m) / s
    phia = (-(al * al) / 2).exp() * inv_sqrt_2pi
    phib = (-(be * be) / 2).exp() * inv_sqrt_2pi
    P_up = (be / r2).erfc() / 2  # 1 - Phi(be)
    P_low = (-al / r2).erfc() / 2  # Phi(al)
    P_mid = 1 - P_up - P_low
    D1_mid = s * (phia - phib)
    D2_mid = v * (P_mid + al * phia - be * phib)
    D1_up = s * phib
    k = m + eta
    e0 = (D2_mid + 2 * k * D1_mid + k * k * P_mid) / (4 * eta) + m * P_up + D1_up
    e1 = (D1_mid + k * P_mid) / (2 * eta) + P_up
    e2 = P_mid / (2 * eta)
    e3 = (phia - phib) / (2 * eta * s)
    return {0: e0, 1: e1, 2: e2, 3: e3}


def _regrelu_piece(m: Any, eta: arb, piece: int, v: Any = None) -> dict[int, Any]:
    """``E[σ_P^{(j)}(Y)]``, ``Y ~ N(m, v)``, for the polynomial ``σ_P`` of one regrelu piece
    (−1: ``0``; 0: ``(y+η)²/(4η)``; 1: ``y``) extended to the whole line — polynomials in
    ``(m, v)``, entire. ``v = None`` means ``v = 0`` (then ``σ_P^{(j)}(m)``)."""
    zero = _zero(m)
    if piece < 0:
        return {0: zero, 1: zero, 2: zero, 3: zero}
    if piece > 0:
        return {0: m, 1: zero + 1, 2: zero, 3: zero}
    t = m + eta
    e0 = t * t if v is None else t * t + v
    return {0: e0 / (4 * eta), 1: t / (2 * eta), 2: zero + 1 / (2 * eta), 3: zero}


def regrelu_piece_error(eta: arb, piece: int, m_lo: Any, m_hi: Any,
                        s_hi: Any) -> dict[int, arb]:
    """Rigorous ``|E σ^{(j)}(Y) − E σ_P^{(j)}(Y)| ≤ ε_j`` (``σ_P`` one piece's polynomial, see
    :func:`_regrelu_piece`) for every ``Y ~ N(m, s²)``, ``m ∈ [m_lo, m_hi]``, ``0 ≤ s ≤ s_hi``.

    ``σ − σ_P`` vanishes on the piece; off it ``|σ − σ_P| ≤ |y − k|`` (outer pieces, ``k`` the
    kink) or ``≤ (y − k)²/(4η)`` (middle); ``|σ' − σ_P'| ≤ 1`` resp. ``|y − k|/(2η)``;
    ``|σ'' − σ_P''| ≤ 1/(2η)``; and the third moment is the jumps of ``σ''`` weighted by the
    density, ``(φ_v(−η−m) − φ_v(η−m))/(2η)``. With ``β = dist(m, kink)/s`` and the Gaussian
    tails ``E[ζ^k 1{ζ>β}] ≤ φ(β)/β, φ(β), (β + 1/β)φ(β)`` (k = 0, 1, 2) every term is
    exponentially small once ``β`` is large: near ``Var Y = 0`` inside a piece, where the
    closed form is not analytic, the piece polynomial plus this error is. Infinite when the
    range touches a kink of the piece."""
    m_lo, m_hi, s_hi = arb(m_lo).lower(), arb(m_hi).upper(), arb(s_hi).upper()
    if piece == 0:
        dists = [(eta - m_hi).lower(), (m_lo + eta).lower()]  # to +η and to −η
    elif piece > 0:
        dists = [(m_lo - eta).lower()]
    else:
        dists = [(-eta - m_hi).lower()]
    if not all(dd > 0 for dd in dists):
        return {j: arb("inf") for j in range(4)}
    if s_hi == 0:
        return {j: arb(0) for j in range(4)}
    c = 1 / (2 * arb.pi()).sqrt()
    out = {j: arb(0) for j in range(4)}
    for dd in dists:
        beta = (dd / s_hi).lower()
        phi = c * (-(beta * beta) / 2).exp()
        tail0 = phi / beta
        if piece == 0:
            out[0] += s_hi * s_hi * (beta + 1 / beta) * phi / (4 * eta)
            out[1] += s_hi * phi / (2 * eta)
        else:
            out[0] += s_hi * phi
            out[1] += tail0
        out[2] += tail0 / (2 * eta)
        # the density at the kink, φ(dd/s)/s, grows with s up to s = dd: sup at min(s_hi, dd)
        if beta >= 1:
            out[3] += phi / (eta * s_hi)
        else:
            out[3] += c * arb(-0.5).exp() / (eta * dd)
    return {j: x.upper() for j, x in out.items()}


# ------------------------------------------------------------------------------------------
# the field F, J of a Gaussian depth path
# ------------------------------------------------------------------------------------------
def _poly_arb(coeffs: Sequence[Fraction]) -> list[arb] | None:
    if all(c == 0 for c in coeffs):
        return None
    return [arb_of(c) for c in coeffs]


def _horner(coeffs: list[arb], t: Any) -> Any:
    acc = coeffs[-1] + _zero(t)
    for c in reversed(coeffs[:-1]):
        acc = acc * t + c
    return acc


@dataclass
class Marginal:
    """``c(t)`` and ``A(t)`` in some arithmetic; ``None`` marks an identically zero entry."""

    c: list[Any]
    A: list[list[Any]]


def _lin(coefs: Sequence[Any], xs: Sequence[Any], const: Any) -> Any:
    """``Σ coefs_i xs_i + const`` skipping ``None`` (zero) entries; ``None`` if all vanish."""
    acc = const
    for c, x in zip(coefs, xs, strict=True):
        if c is None:
            continue
        term = c * x
        acc = term if acc is None else acc + term
    return acc


class GaussianField:
    """``F_ρ(z, t)`` and ``J_ρ(z, t)`` of a Gaussian depth path, in ``arb`` / ``arb_series`` /
    ``acb`` arithmetic (one code path; see the module docstring).

    ``degenerate``: the ``w`` and ``b`` rows of ``A`` vanish identically, so ``v ≡ 0`` and
    ``E_j = σ^{(j)}(m)`` exactly (no quadrature).
    """

    def __init__(self, model: Model, measure: GaussianPath) -> None:
        if not isinstance(model, Model):
            raise InvalidArgument("model", model, "expected an mforacle.model.Model")
        if not isinstance(measure, GaussianPath) or measure.k != model.k:
            raise InvalidArgument("measure", measure, f"expected a GaussianPath with k = {model.k}")
        self.model, self.measure = model, measure
        self.d, self.r = model.d, measure.r
        self.name = model.activation.name
        eta = model.activation.eta
        #: regrelu's half-width (unused, 0, for the other activations)
        self.eta: arb = arb_of(eta) if eta is not None else arb(0)
        self._c = [_poly_arb(p) for p in measure.c]
        self._A = [[_poly_arb(p) for p in row] for row in measure.A]
        d = self.d
        self.degenerate = all(self._A[i][j] is None for i in [*range(d), 2 * d]
                              for j in range(self.r))
        self.max_degree = max(len(p) for p in list(measure.c) + [q for row in measure.A
                                                                 for q in row]) - 1

    # -- the marginal -----------------------------------------------------------------------
    def marginal(self, t: Any) -> Marginal:
        """``c(t)``, ``A(t)`` at ``t`` (arb, acb or arb_series)."""
        c = [None if p is None else _horner(p, t) for p in self._c]
        A = [[None if p is None else _horner(p, t) for p in row] for row in self._A]
        return Marginal(c, A)

    def shifted(self, t0: arb, length: int) -> Marginal:
        """The marginal as power series in ``τ`` at ``t = t0 + τ`` (exact Taylor shift)."""
        return self.marginal(arb_series([t0, arb(1)], prec=length))

    # -- F and J ----------------------------------------------------------------------------
    def evaluate(self, z: Sequence[Any], marg: Marginal, *, want_J: bool, kind: str,
                 rule: Rule | Grid | None = None, eps: dict[int, arb] | None = None,
                 piece: int | None = None, moments: dict[int, Any] | None = None,
                 ) -> tuple[list[Any], list[list[Any]] | None, dict]:
        """``(F, J, aux)`` at state ``z`` (d,) under ``marg``.

        ``kind``: ``"real"`` (arb balls), ``"series"`` (arb_series) or ``"complex"`` (acb). For
        quadrature activations ``rule`` is required; ``eps`` (real only) inflates each moment
        by its quadrature error so that ``F``, ``J`` enclose the *true* drift and Jacobian.
        ``piece`` selects the regrelu piece in the degenerate (``v ≡ 0``) case; ``moments``
        replaces the computed ``E_j`` (e.g. by pure error balls, to propagate quadrature
        errors through the Stein coefficients). ``aux`` holds
        ``m``, ``v``, ``s``, ``c_u``, ``cov_u``, ``cov_w`` for error bounds.
        """
        d, r = self.d, self.r
        c, A = marg.c, marg.A
        zero = _zero(z[0])
        m = _lin(c[:d], z, c[2 * d])
        m = zero if m is None else m + zero
        orders = (0, 1, 2, 3) if want_J else (0, 1)
        cplx = kind == "complex"
        if self.degenerate:
            a = [zero] * r
            v = zero
            s = zero
            cov_u = [None] * d
            cov_w = [None] * d
        else:
            a = []
            for j in range(r):
                aj = _lin([A[i][j] for i in range(d)], z, A[2 * d][j])
                a.append(zero if aj is None else aj + zero)
            v = a[0] * a[0]
            for j in range(1, r):
                v = v + a[j] * a[j]
            cov_u = [_lin(A[d + i], a, None) for i in range(d)]
            cov_w = [_lin(A[i], a, None) for i in range(d)]
            s = None
        if moments is not None:
            E = moments
        else:
            E = self._moments(m, v, a, s, orders, kind, cplx, rule, eps, piece)
        c_u = c[d: 2 * d]
        F = []
        for i in range(d):
            f = None
            if c_u[i] is not None:
                f = c_u[i] * E[0]
            if cov_u[i] is not None:
                term = cov_u[i] * E[1]
                f = term if f is None else f + term
            F.append(zero if f is None else f)
        J = None
        if want_J:
            J = []
            for i in range(d):
                row = []
                for l_ in range(d):
                    k1 = None
                    if c_u[i] is not None and c[l_] is not None:
                        k1 = c_u[i] * c[l_]
                    for j in range(r):
                        if A[d + i][j] is not None and A[l_][j] is not None:
                            term = A[d + i][j] * A[l_][j]
                            k1 = term if k1 is None else k1 + term
                    val = None if k1 is None else k1 * E[1]
                    k2 = None
                    if c_u[i] is not None and cov_w[l_] is not None:
                        k2 = c_u[i] * cov_w[l_]
                    if cov_u[i] is not None and c[l_] is not None:
                        term = cov_u[i] * c[l_]
                        k2 = term if k2 is None else k2 + term
                    if k2 is not None:
                        term = k2 * E[2]
                        val = term if val is None else val + term
                    cu, cw = cov_u[i], cov_w[l_]
                    if cu is not None and cw is not None:
                        term = cu * cw * E[3]
                        val = term if val is None else val + term
                    row.append(zero if val is None else val)
                J.append(row)
        aux = {"m": m, "v": v, "a": a, "c_u": c_u, "cov_u": cov_u, "cov_w": cov_w, "E": E}
        return F, J, aux

    def _moments(self, m: Any, v: Any, a: list[Any], s: Any, orders: Sequence[int], kind: str,
                 cplx: bool, rule: Rule | Grid | None, eps: dict[int, arb] | None,
                 piece: int | None) -> dict[int, Any]:
        name = self.name
        if name == "erf":
            E = _erf_moments(m, v, cplx)
        elif name == "sin":
            E = _sin_moments(m, v)
        elif name == "regrelu":
            if self.degenerate:
                if piece is None:
                    raise InvalidArgument("piece", piece, "regrelu with v = 0 needs a piece")
                E = _regrelu_piece(m, self.eta, piece)
            elif piece is not None:  # piece polynomial (its error is added by the caller)
                E = _regrelu_piece(m, self.eta, piece, v)
            else:
                s = self._s(v, a, kind, analytic=True)
                E = _regrelu_moments(m, v, s, self.eta)
        else:
            if self.degenerate:
                E = _quad_moments(name, m, _zero(m), POINT_RULE, orders, cplx)
            elif isinstance(rule, Grid):
                s = self._s(v, a, kind, analytic=True)
                E = _grid_moments(rule, m, v, s, orders)
            else:
                if rule is None:
                    raise InvalidArgument("rule", rule, f"{name} needs a quadrature rule")
                s = self._s(v, a, kind, analytic=False)
                E = _quad_moments(name, m, s, rule, orders, cplx)
        if eps is not None:
            E = {j: E[j] + arb(0, eps[j]) if j in eps else E[j] for j in E}
        return E

    def _s(self, v: Any, a: list[Any], kind: str, analytic: bool) -> Any:
        """``s`` with ``s² = v``: the signed ``a`` when ``r = 1`` (quadrature: even in ``s``);
        else the square root (series: principal, or ``τ √(Σ (a_j/τ)²)`` when every ``a_j``
        vanishes exactly at the expansion point — a measure whose spread starts from 0 there;
        complex: analytic branch checked when the formula is odd in ``s`` — regrelu; real: of
        the non-negative part)."""
        if self.r == 1 and not analytic:
            return a[0]
        if kind == "complex":
            return v.sqrt(analytic=analytic)
        if kind == "real":
            if v > 0:
                return v.sqrt()
            hi = v.upper().max(arb(0)).sqrt().upper()
            return arb(hi / 2, hi / 2)
        heads = [aj.coeffs()[0] if aj.coeffs() else arb(0) for aj in a]
        if all(h == 0 and h.is_exact() for h in heads):
            L = v.prec
            b = [arb_series(aj.coeffs()[1:] or [0], prec=L - 1) for aj in a]
            q = b[0] * b[0]
            for bj in b[1:]:
                q = q + bj * bj
            root = q.sqrt()
            return arb_series([arb(0), *root.coeffs()], prec=L)
        return v.sqrt()


# ------------------------------------------------------------------------------------------
# public one-shot functions (real balls, rigorous)
# ------------------------------------------------------------------------------------------
def _to_arb(x: Any, field: str) -> arb:
    if isinstance(x, arb):
        return x
    if isinstance(x, bool):
        raise InvalidArgument(field, x, "expected a real number or an arb ball")
    if isinstance(x, int | Fraction):
        return arb_of(x)
    if isinstance(x, float):
        return arb(x)
    raise InvalidArgument(field, x, "expected a real number or an arb ball")


def _default_eps() -> arb:
    return arb(2) ** (-(ctx.prec - 8))


def gaussian_moments(activation: Activation | str, m: Any, v: Any, *,
                     eps: Any = None) -> tuple[arb, arb, arb, arb]:
    """Balls containing ``E[σ^{(j)}(Y)]``, ``Y ~ N(m, v)``, ``j = 0..3``, for every ``(m, v)``
    in the input balls (``docs/limit.md``; module docstring for the formulas).

    ``m``, ``v``: arb balls or exact numbers; ``v ≥ 0``. Computed at the current Arb precision
    (``flint.ctx.prec``); ``eps`` is the quadrature target (default ``2^{8-prec}``). ``v = 0``
    (exactly) gives ``σ^{(j)}(m)``. ``regrelu`` at ``v = 0`` with ``m`` on a kink has no
    ``σ'''``: ``E_3`` is the whole line; a ``v`` ball that touches 0 gives Taylor bounds.

    Raises:
        InvalidArgument: unknown activation, non-numeric input, or ``v`` certainly negative.
    """
    act = activation if isinstance(activation, Activation) else Activation.parse(activation)
    m = _to_arb(m, "m")
    v = _to_arb(v, "v")
    if v < 0:
        raise InvalidArgument("v", v, "variance must be >= 0")
    name = act.name
    if v == 0 and v.is_exact():
        return tuple(sigma(act, m, j) for j in range(4))  # type: ignore[return-value]
    if name == "erf":
        E = _erf_moments(m, v, False)
    elif name == "sin":
        E = _sin_moments(m, v)
    elif name == "regrelu":
        assert act.eta is not None
        eta = arb_of(act.eta)
        if v > 0:
            E = _regrelu_moments(m, v, v.sqrt(), eta)
        else:  # v touches 0: Taylor bounds around m (σ'' ∈ [0, 1/(2η)])
            v_hi = v.upper().max(arb(0))
            s_hi = v_hi.sqrt()
            half = 1 / (2 * eta)
            E = {0: sigma(act, m, 0) + arb(v_hi * half / 4, v_hi * half / 4),
                 1: sigma(act, m, 1) + arb(0, (s_hi * (2 / arb.pi()).sqrt() * half).upper()),
                 2: arb(half / 2, half / 2),
                 3: arb(0, "inf")}
    else:
        eps = _default_eps() if eps is None else arb(eps)
        if v > 0:
            s = v.sqrt()
        else:
            hi = v.upper().max(arb(0)).sqrt().upper()
            s = arb(hi / 2, hi / 2)
        s_hi = abs(s).upper()
        m_hi = abs(m).upper()
        rule = choose_rule(name, s_hi, m_hi, eps)
        E = _quad_moments(name, m, s, rule, (0, 1, 2, 3), False)
        err = trapezoid_error(name, rule, s_hi, m_hi)
        E = {j: E[j] + arb(0, err[j]) for j in E}
    return E[0], E[1], E[2], E[3]


def _check_zt(model: Model, z: Any, t: Any) -> tuple[list[arb], arb]:
    if not isinstance(z, Sequence) or len(z) != model.d:
        raise InvalidArgument("z", z, f"expected d = {model.d} entries")
    zz = [_to_arb(x, f"z[{i}]") for i, x in enumerate(z)]
    return zz, _to_arb(t, "t")


def drift_and_jacobian(model: Model, measure: GaussianPath, z: Any, t: Any, *,
                       eps: Any = None) -> tuple[list[arb], list[list[arb]]]:
    """Balls containing ``F_ρ(z, t)`` (d,) and ``J_ρ(z, t)`` (d, d) for every ``(z, t)`` in the
    input balls (Stein form above; quadrature errors included). Current Arb precision.

    Raises:
        InvalidArgument: wrong shapes or non-numeric input; regrelu with ``Var Y`` touching 0
            on a kink.
    """
    field = GaussianField(model, measure)
    zz, tt = _check_zt(model, z, t)
    marg = field.marginal(tt)
    rule = errs = None
    piece = None
    if field.name in QUADRATURE and not field.degenerate:
        _F, _J, aux = field.evaluate(zz, marg, want_J=False, kind="real", rule=POINT_RULE)
        v = aux["v"]
        s_hi = v.upper().max(arb(0)).sqrt().upper() if field.r > 1 else abs(aux["a"][0]).upper()
        m_hi = abs(aux["m"]).upper()
        e = _default_eps() if eps is None else arb(eps)
        rule = choose_rule(field.name, s_hi, m_hi, e)
        errs = trapezoid_error(field.name, rule, s_hi, m_hi)
    if field.name == "regrelu" and field.degenerate:
        m = _lin(marg.c[: model.d], zz, marg.c[2 * model.d])
        m = arb(0) if m is None else m
        eta = field.eta
        if m < -eta:
            piece = -1
        elif m > eta:
            piece = 1
        elif m > -eta and m < eta:
            piece = 0
        else:
            raise InvalidArgument("z", z, "regrelu: w·z + b is deterministic and on a kink ±η")
    F, J, _aux = field.evaluate(zz, marg, want_J=True, kind="real", rule=rule, eps=errs,
                                piece=piece)
    assert J is not None
    return F, J


def drift(model: Model, measure: GaussianPath, z: Any, t: Any, *, eps: Any = None) -> list[arb]:
    """Balls containing ``F_ρ(z, t)`` (d,); see :func:`drift_and_jacobian`."""
    return drift_and_jacobian(model, measure, z, t, eps=eps)[0]
