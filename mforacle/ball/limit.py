"""Certified enclosures of the mean-field limit (forward ODE, adjoint, energy, probes) in Arb.

``docs/model.md`` §4: ``dZ/dt = F_ρ(Z, t)``, ``Z(0) = x``; ``dp/dt = −J_ρ(Z, t)ᵀp``,
``p(1) = (g(Z(1)) − y)∇g(Z(1))``; ``E(ρ) = Σ ω_n (g(Z(1; x_n)) − y_n)²/2``;
``δE/δρ(θ, t) = Σ ω_n p(t; x_n)·f(Z(t; x_n), θ)``, ``V(θ, t) = Σ ω_n ∂_θf(Z, θ)ᵀp``.
Every returned number is an Arb ball that contains the true value.

**Method (documented choice): a-posteriori Taylor steps with Cauchy-bounded defects and a
logarithmic-norm Grönwall bound.** Each data point's ODE is integrated on its own; steps end at
every probe depth and at ``t = 1``. On a step ``[t_k, t_k + h]``:

1. *Approximation* (not rigorous, need not be): Taylor polynomials of degree ``n`` of ``Z`` and
   of the variational matrix ``W`` (``W' = J W``, ``W(t_k) = I``) of the ODE with the
   quadrature-discretized field ``F_h`` (:mod:`mforacle.ball.gaussian`), by Newton's iteration on
   power series (``arb_series``); coefficients are then rounded to exact binary numbers, so
   ``P`` and ``W`` are exact polynomials.
2. *Defect*, rigorous: ``δ(τ) = P'(τ) − F_h(P(τ), t_k + τ)`` is analytic; its Taylor
   coefficients ``d_j``, ``j < N``, are computed in ball arithmetic at the real point, and the
   rest is bounded by Cauchy's estimate ``|d_j| ≤ M_R/R^j`` with
   ``M_R ≥ sup_{|τ| ≤ R}|δ(τ)|`` from complex-ball (``acb``) evaluations covering the disk
   (finite enclosures also prove analyticity there: no pole, no branch cut touched). So
   ``∫_0^h |δ| ≤ Σ_{j<N} |d_j| h^{j+1}/(j+1) + h M_R q^N/(1 − q)``, ``q = h/R``. Same for
   ``δ_W = W' − J_h(P) W``.
3. *Grönwall*: with ``e = Z − P``, ``e' = J̄ e + (F − F_h)(P) − δ`` (``J̄`` the mean of the true
   ``J`` on ``[P, Z]``), so ``‖e(t)‖ ≤ e^{μh}‖e(t_k)‖ + e^{μ⁺h}(∫|δ| + ε_F h)``, where ``μ`` is
   an upper bound of the logarithmic 2-norm (Gershgorin on the symmetric part) of the true ``J``
   over the tube ``{P(τ) + B(0, r)}``, enclosed by real-ball evaluation with the quadrature
   error added, and ``ε_F`` bounds ``|F − F_h|`` on it. The tube radius ``r`` is accepted only
   if the resulting bound stays below it (continuity argument: ``Z`` cannot leave the tube).
4. *Adjoint* via the variational matrix: ``p(t_k) = Φ(t_{k+1}, t_k)ᵀ p(t_{k+1})`` with
   ``Φ = W(h) ± e_W``, ``e_W ≤ e^{μ⁺h}[(K_J e_Z + ε_J) h sup‖W‖ + ∫|δ_W|]``, where
   ``K_J = sup|σ''| (E|u|²)^{1/2} (E|w|⁴)^{1/2}`` bounds the z-Lipschitz constant of ``J``
   (Cauchy–Schwarz on ``∂_zJ[e] = E[σ''(Y)(w·e) u wᵀ]``) and ``ε_J`` the quadrature error.
   ``p`` is then propagated backward in ball arithmetic from the enclosure of ``p(1)``.
5. Energy, ``δE/δρ`` and ``V`` at the probes are ball formulas in the enclosures of ``Z`` and
   ``p`` at the probe depths.

Adaptivity: ``h`` from the size of the next Taylor coefficient, shrunk until the disk
evaluation is finite and the step's defect meets the per-unit-time target; ``N`` (the defect
series length) from ``M_R`` and ``q``. If a run misses ``tol``, it is repeated once or twice
with the target scaled by the observed overshoot.

What is *not* covered (raises :class:`NotCertified`): ``regrelu`` where ``Var(w·Z + b)``
reaches 0 next to a kink ``±η`` (its moments are only C¹ there; deep inside a piece the piece
polynomial plus a proved tail error is used instead), or a deterministic ``w·Z + b`` crossing a
kink; with ``r ≥ 2`` and a quadrature activation, a step that starts where ``Var(w·Z + b)``
vanishes without every component of ``a = A_wᵀz + A_b`` vanishing exactly there (the series of
``√v`` does not exist; the structural case ``A(t_k) = 0`` is handled as ``τ√(Σ(a_j/τ)²)``).

This module shares no numerical code with ``mforacle.exact`` or ``mforacle.fast``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
from flint import acb, arb, arb_series, ctx

from ..errors import InvalidArgument, MforacleError
from ..measures import GaussianPath, Probe
from ..model import Data, Model
from .activations import arb_of, sigma
from .gaussian import (
    QUADRATURE,
    GaussianField,
    Grid,
    Rule,
    choose_grid,
    choose_rule,
    grid_error,
    regrelu_piece_error,
    trapezoid_error,
)

__all__ = ["LIMIT_QUANTITIES", "BallLimitResult", "NotCertified", "PointEnclosure",
           "enclose_point", "solve"]

#: the limit's reported quantities, in the order of ``docs/case-format.md``
LIMIT_QUANTITIES = ("energy", "Z1", "first_variation", "velocity")

#: proved upper bounds of sup |σ''| on the real line (for the Lipschitz constant of J)
_SUP_D2 = {
    "tanh": Fraction(77, 100),  # 4/(3√3) = 0.7698
    "erf": Fraction(968, 1000),  # (4/√π)(2e)^{-1/2} = 0.9679
    "sigmoid": Fraction(963, 10000),  # 1/(6√3) = 0.09623
    "softplus": Fraction(1, 4),
    "sin": Fraction(1),
}

DEFAULT_ORDER = 24
MAX_SERIES = 120
DISK_RATIO = 3  # disk radius / half step


Poly = list[list[arb]]  # d polynomials (coefficient lists, lowest degree first)
PolyMat = list[list[list[arb]]]  # d x d polynomials
Form = Rule | Grid | None  # the quadrature of a step (None: closed-form moments)


class NotCertified(MforacleError):
    """The ball path cannot certify this case (see the module docstring for when)."""


# ------------------------------------------------------------------------------------------
# small helpers (ball arithmetic)
# ------------------------------------------------------------------------------------------
def _coeffs(s: arb_series, L: int) -> list[arb]:
    """The first ``L`` coefficients (zeros beyond the stored ones). Arb truncates every series
    operation at ``flint.ctx.cap``; a series known to fewer than ``L`` terms is refused."""
    if s.prec < L:
        raise ArithmeticError(f"series known to {s.prec} < {L} terms (flint.ctx.cap too small)")
    c = s.coeffs()
    return (list(c) + [arb(0)] * L)[:L]


def _horner(coeffs: Sequence[Any], x: Any) -> Any:
    acc = coeffs[-1] + 0 * x
    for c in reversed(coeffs[:-1]):
        acc = acc * x + c
    return acc


def _deriv(coeffs: Sequence[arb]) -> list[arb]:
    out = [coeffs[j] * j for j in range(1, len(coeffs))]
    return out or [arb(0)]


def _up(x: Any) -> arb:
    """Exact upper bound of ``|x|`` (arb or acb); ``inf`` when not finite."""
    if not x.is_finite():
        return arb("inf")
    return x.abs_upper()


def _norm_up(xs: Iterable[Any]) -> arb:
    acc = arb(0)
    for x in xs:
        u = _up(x)
        acc += u * u
    return acc.sqrt().upper()


def _lognorm_up(J: list[list[arb]]) -> arb:
    """Upper bound of the logarithmic 2-norm ``λ_max((J + Jᵀ)/2)`` (Gershgorin)."""
    d = len(J)
    best = None
    for i in range(d):
        val = J[i][i].upper()
        for l_ in range(d):
            if l_ != i:
                val = val + _up((J[i][l_] + J[l_][i]) / 2)
        best = val if best is None else best.max(val)
    assert best is not None
    return best.upper()


def _finite(xs: Iterable[Any]) -> bool:
    return all(x.is_finite() for x in xs)


def _fl(x: arb) -> float:
    """A float near ``x`` for heuristics only (never used in a bound)."""
    try:
        return float(x.mid())
    except (OverflowError, ValueError):
        return math.inf


@dataclass(frozen=True)
class _Tube:
    """Bounds over the real tube of a step: ``μ`` (log-norm of the true J), ``ε_F``, ``ε_J``
    (quadrature / piece errors), ``K_J`` (Lipschitz of J), ``sup‖W‖_F``, ``sup s``."""

    mu: arb
    epsF: arb
    epsJ: arb
    KJ: arb
    Wsup: arb
    s_hi: arb

    def join(self, other: _Tube) -> _Tube:
        """The bounds valid on both parts (entrywise maximum)."""
        return _Tube(*(a.max(b) for a, b in zip(
            (self.mu, self.epsF, self.epsJ, self.KJ, self.Wsup, self.s_hi),
            (other.mu, other.epsF, other.epsJ, other.KJ, other.Wsup, other.s_hi), strict=True)))


@dataclass
class _StepRecord:
    t0: Fraction
    t1: Fraction
    z1: list[arb]  # exact midpoint at t1
    e1: arb  # ‖Z(t1) − z1‖ ≤ e1
    Phi: list[list[arb]]  # ball enclosure of Φ(t1, t0)
    h: Fraction
    N: int


@dataclass
class _Stats:
    steps: int = 0
    rejected: int = 0
    max_N: int = 0
    quad_nodes: int = 0


class _Integrator:
    """Rigorous integration of one data point's forward and variational equations."""

    def __init__(self, field: GaussianField, target: arb, order: int, stats: _Stats,
                 progress: Callable[[str], None] | None, label: str) -> None:
        self.f = field
        self.target = target
        self.tf = _fl(target)
        self.n = order
        self.stats = stats
        self.progress = progress
        self.label = label
        self.d = field.d
        self.sup_d2 = (arb(1) / (2 * field.eta) if field.name == "regrelu"
                       else arb_of(_SUP_D2[field.name]))
        self._last_report = time.monotonic()
        self.h_next = 0.25

    # -- rule and piece at the start of a step ------------------------------------------------
    def _point_ms(self, t0a: arb, z0: list[Any]) -> tuple[arb, arb]:
        """``(m, s)`` (balls) at a state, ``s = √v`` (``|a|`` when r = 1)."""
        marg = self.f.marginal(t0a)
        _F, _J, aux = self.f.evaluate(z0, marg, want_J=False, kind="real",
                                      moments={0: arb(0), 1: arb(0)})
        v = aux["v"]
        if self.f.r == 1 and not self.f.degenerate:
            s = abs(aux["a"][0])
        else:
            s = v.sqrt() if v > 0 else arb(0, v.upper().max(arb(0)).sqrt().upper())
        return aux["m"], s

    def _form(self, t0a: arb, z0: list[arb], h_plan: float) -> Rule | Grid | None:
        """The quadrature used on a step planned to be ``≤ h_plan`` long: the y-grid when
        ``s`` stays away from 0 on it (large analytic neighbourhoods), else the ζ-rule."""
        f = self.f
        if f.name not in QUADRATURE or f.degenerate:
            return None
        eps = self.target * 1e-6
        m0, s0 = self._point_ms(t0a, z0)
        s0f, m0f = _fl(abs(s0)), abs(_fl(m0))
        rule0 = choose_rule(f.name, arb(1.25 * s0f + 0.05), arb(m0f + 1), eps)
        try:
            P6 = self._taylor(t0a, z0, 6, rule0, None)
        except (ValueError, ZeroDivisionError, NotCertified):
            return rule0
        tau = arb(h_plan / 2, h_plan / 2)
        zb = [_horner(p, tau) for p in P6]
        m, s = self._point_ms(t0a + tau, zb)
        if not (m.is_finite() and s.is_finite()):
            return rule0
        m_lo, m_hi = _fl(m.lower()), _fl(m.upper())
        s_lo, s_hi = _fl(abs(s).lower()), _fl(abs(s).upper())
        pad = 0.25 * (m_hi - m_lo) + 0.02
        m_lo, m_hi = m_lo - pad, m_hi + pad
        s_hi = 1.2 * s_hi + 0.01
        s_lo = 0.8 * s_lo
        rule = choose_rule(f.name, arb(s_hi), arb(max(abs(m_lo), abs(m_hi)) + 1), eps)
        if s_lo < 0.15 * s_hi or s_lo < 1e-3:
            self.stats.quad_nodes = max(self.stats.quad_nodes, 2 * rule.K + 1)
            return rule
        grid = choose_grid(f.model.activation, m_lo, m_hi, s_lo, s_hi, eps)
        if grid.J + 1 > 4 * (2 * rule.K + 1):
            self.stats.quad_nodes = max(self.stats.quad_nodes, 2 * rule.K + 1)
            return rule
        self.stats.quad_nodes = max(self.stats.quad_nodes, grid.J + 1)
        return grid

    def _piece(self, t0a: arb, z0: list[arb]) -> int | None:
        """regrelu: the piece whose polynomial (plus a proved tail error) replaces the closed
        form on this step — always when ``w·z + b`` is deterministic, else when the Gaussian
        sits so deep inside one piece that the tail error is negligible (this is where the
        closed form stops being analytic: ``Var Y → 0``). ``None``: the closed form."""
        if self.f.name != "regrelu":
            return None
        m, s = self._point_ms(t0a, z0)
        eta = self.f.eta
        if m < -eta:
            piece = -1
        elif m > eta:
            piece = 1
        elif m > -eta and m < eta:
            piece = 0
        else:
            piece = None
        if self.f.degenerate:
            if piece is None:
                raise NotCertified("regrelu: deterministic w·Z + b sits on a kink ±η")
            return piece
        if piece is None:
            return None
        errs = regrelu_piece_error(eta, piece, m, m, 1.5 * abs(s).upper() + arb("1e-30"))
        if max(errs.values()) <= self.target * 1e-6:
            return piece
        if not s > 0:
            raise NotCertified("regrelu: Var(w·Z + b) vanishes next to a kink ±η (the moments "
                               "are only C¹ there)")
        return None

    # -- approximation: Taylor polynomials by Newton's iteration on series -------------------
    def _series_FJ(self, t0a: arb, P: list[list[arb]], L: int, rule: Form,
                   piece: int | None) -> tuple[list[Any], list[list[Any]]]:
        marg = self.f.shifted(t0a, L)
        Ps = [arb_series(p[:L], prec=L) for p in P]
        F, J, _aux = self.f.evaluate(Ps, marg, want_J=True, kind="series", rule=rule,
                                     piece=piece)
        assert J is not None
        return F, J

    def _taylor(self, t0a: arb, z0: list[arb], L: int, rule: Form,
                piece: int | None) -> list[list[arb]]:
        d = self.d
        P = [[z0[i]] for i in range(d)]
        q = 1
        while q < L:
            q2 = min(2 * q, L)
            F, J = self._series_FJ(t0a, P, q2, rule, piece)
            Pp = [p + [arb(0)] * (q2 - len(p)) for p in P]
            r = []
            for i in range(d):
                Fi = _coeffs(F[i], q2)
                dP = [*_deriv(Pp[i]), arb(0)]
                r.append([Fi[j] - dP[j] for j in range(q2)])
            Jc = [[_coeffs(J[i][l_], q2) for l_ in range(d)] for i in range(d)]
            delta = [[arb(0)] * q2 for _ in range(d)]
            for j in range(q2 - 1):
                for i in range(d):
                    acc = r[i][j]
                    for k in range(1, j + 1):  # delta_0 = 0
                        for l_ in range(d):
                            acc += Jc[i][l_][j - k] * delta[l_][k]
                    delta[i][j + 1] = acc / (j + 1)
            P = [[(Pp[i][j] + delta[i][j]).mid() for j in range(q2)] for i in range(d)]
            q = q2
        if not all(_finite(p) for p in P):
            raise NotCertified("Taylor coefficients are not finite (Var Y vanishes at a step "
                               "start?)")
        return P

    def _fundamental(self, Jc: list[list[list[arb]]], L: int) -> list[list[list[arb]]]:
        """Taylor coefficients of ``W' = J W``, ``W(0) = I`` (exact midpoints), length L."""
        d = self.d
        W = [[[arb(1 if i == l_ else 0)] + [arb(0)] * (L - 1) for l_ in range(d)]
             for i in range(d)]
        for j in range(L - 1):
            for i in range(d):
                for l_ in range(d):
                    acc = arb(0)
                    for k in range(j + 1):
                        for m in range(d):
                            acc += Jc[i][m][k] * W[m][l_][j - k]
                    W[i][l_][j + 1] = (acc / (j + 1)).mid()
        return W

    # -- rigorous parts -------------------------------------------------------------------------
    def _disk(self, t0a: arb, P: Poly, dP: Poly, W: PolyMat, dW: PolyMat, c: arb, R: arb,
              rule: Form, piece: int | None) -> tuple[arb, arb] | None:
        """``(M_F, M_W)``: bounds of ``|δ|`` and ``‖δ_W‖_F`` on the disk ``|τ − c| ≤ R``,
        covered by ``g × g`` squares (``g = 2, 4, 8``: the first finite cover whose bound
        stops improving), or ``None`` when no cover gives finite enclosures (a possible
        singularity: analyticity is not proved)."""
        d = self.d
        best = None
        for g in (2, 4, 8):
            ok = True
            MF = arb(0)
            MW = arb(0)
            half = R / g
            for ix in range(g):
                for iy in range(g):
                    cx = c - R + (2 * ix + 1) * half
                    cy = -R + (2 * iy + 1) * half
                    # skip squares that miss the disk
                    dx = (abs(cx - c) - half).max(arb(0))
                    dy = (abs(cy) - half).max(arb(0))
                    if dx * dx + dy * dy > R * R:
                        continue
                    tau = acb(arb(cx.mid(), half.upper()), arb(cy.mid(), half.upper()))
                    z = [_horner(p, tau) for p in P]
                    marg = self.f.marginal(t0a + tau)
                    F, J, _aux = self.f.evaluate(z, marg, want_J=True, kind="complex",
                                                 rule=rule, piece=piece)
                    assert J is not None
                    dF = [_horner(dP[i], tau) - F[i] for i in range(d)]
                    Wv = [[_horner(W[i][l_], tau) for l_ in range(d)] for i in range(d)]
                    dWv = [[_horner(dW[i][l_], tau) for l_ in range(d)] for i in range(d)]
                    dlt = []
                    for i in range(d):
                        for l_ in range(d):
                            acc = dWv[i][l_]
                            for m in range(d):
                                acc = acc - J[i][m] * Wv[m][l_]
                            dlt.append(acc)
                    if not (_finite(dF) and _finite(dlt)):
                        ok = False
                        break
                    MF = MF.max(_norm_up(dF))
                    MW = MW.max(_norm_up(dlt))
                if not ok:
                    break
            if ok:
                M = MF.max(MW)
                if best is not None and not M * 1000 < best[0].max(best[1]):
                    return (MF.min(best[0]), MW.min(best[1]))
                best = (MF, MW) if best is None else (MF.min(best[0]), MW.min(best[1]))
                if _fl(M) < 1e3:
                    return best
        return best

    @staticmethod
    def _defect_integral(norms: list[arb], c: arb, M: arb, q: arb, N: int, ha: arb) -> arb:
        """Upper bound of ``∫_0^h ‖δ(τ)‖ dτ`` from the defect's Taylor coefficients at the
        midpoint ``c = h/2`` (their norms ``norms[j]``, ``j < N − 1``) and the Cauchy bound
        ``M ≥ sup_{|τ−c| = R}‖δ‖``, ``q = c/R``: ``Σ_j ‖d_j‖ 2c^{j+1}/(j+1)`` (the integral of
        ``|τ − c|^j``) plus ``h M q^{N−1}/(1 − q)`` for the coefficients from ``N − 1`` on
        (each ``≤ M/R^j``; the last computed coefficient of ``P'`` is incomplete, so it is
        left to this remainder)."""
        acc = arb(0)
        cp = c
        for j, nj in enumerate(norms):
            acc += nj * 2 * cp / (j + 1)
            cp = cp * c
        return (acc + ha * M * q ** (N - 1) / (1 - q)).upper()

    def _box(self, t0a: arb, P: Poly, W: PolyMat, h: arb, r: arb, rule: Form,
             piece: int | None, nsub: int = 4) -> _Tube | str | None:
        """Over the real tube ``{P(τ) + B(0, r)}``, ``τ ∈ [0, h]``: ``μ`` (log-norm of the true
        J), ``ε_F``, ``ε_J`` (quadrature), ``K_J`` (Lipschitz of J), ``sup‖W‖_F``, ``s_hi``."""
        d = self.d
        f = self.f
        tube: _Tube | None = None
        for k in range(nsub):
            tau = arb(((2 * k + 1) * h / (2 * nsub)).mid(), (h / (2 * nsub)).upper())
            z = [_horner(p, tau) + arb(0, r) for p in P]
            marg = f.marginal(t0a + tau)
            _F, J, aux = f.evaluate(z, marg, want_J=True, kind="real", rule=rule, piece=piece)
            assert J is not None
            m, v = aux["m"], aux["v"]
            if f.name == "regrelu":
                if f.degenerate:
                    eta = f.eta
                    inside = ((piece == -1 and m < -eta) or (piece == 1 and m > eta)
                              or (piece == 0 and m > -eta and m < eta))
                    if not inside:
                        return None
                elif piece is None and not v > 0:
                    return None
            if f.r == 1 and not f.degenerate:
                s_hi = _up(aux["a"][0])
            else:
                s_hi = v.upper().max(arb(0)).sqrt().upper()
            errs = None
            if rule is not None:
                if isinstance(rule, Grid):
                    if not v > 0:
                        return "replan"
                    sv = v.sqrt()
                    errs = grid_error(f.name, rule, m.lower(), m.upper(), sv.lower(),
                                      sv.upper())
                else:
                    errs = trapezoid_error(f.name, rule, s_hi, _up(m))
            elif f.name == "regrelu" and piece is not None and not f.degenerate:
                errs = regrelu_piece_error(f.eta, piece, m.lower(), m.upper(), s_hi)
            if errs is not None:
                if not all(e.is_finite() for e in errs.values()):
                    return "replan"
                Eerr = {j: arb(0, errs[j]) for j in range(4)}
                Ferr, Jerr, _ = f.evaluate(z, marg, want_J=True, kind="real", rule=rule,
                                           moments=Eerr)
                assert Jerr is not None
                Jt = [[J[i][l_] + Jerr[i][l_] for l_ in range(d)] for i in range(d)]
                eF = _norm_up(Ferr)
                eJ = _norm_up([x for row in Jerr for x in row])
            else:
                Jt = J
                eF = eJ = arb(0)
            if not all(_finite(row) for row in Jt):
                return None
            mu_k = _lognorm_up(Jt)
            KJ_k = self._lipschitz_J(marg)
            Wv = [_horner(W[i][l_], tau) for i in range(d) for l_ in range(d)]
            Ws = _norm_up(Wv)
            part = _Tube(mu_k, eF, eJ, KJ_k, Ws, s_hi)
            tube = part if tube is None else tube.join(part)
        return tube

    def _lipschitz_J(self, marg: Any) -> arb:
        """``sup|σ''| (E|u|²)^{1/2} (E|w|⁴)^{1/2}`` at the (ball) depth of ``marg``."""
        d, r = self.d, self.f.r
        c, A = marg.c, marg.A

        def val(x: Any) -> Any:
            return arb(0) if x is None else x

        Eu2 = arb(0)
        for i in range(d):
            Eu2 += val(c[d + i]) * val(c[d + i])
            for j in range(r):
                Eu2 += val(A[d + i][j]) * val(A[d + i][j])
        cw2 = arb(0)
        trS = arb(0)
        for i in range(d):
            cw2 += val(c[i]) * val(c[i])
            for j in range(r):
                trS += val(A[i][j]) * val(A[i][j])
        trS2 = arb(0)
        for i in range(d):
            for l_ in range(d):
                s_il = arb(0)
                for j in range(r):
                    s_il += val(A[i][j]) * val(A[l_][j])
                trS2 += s_il * s_il
        cSc = arb(0)
        for j in range(r):
            acc = arb(0)
            for i in range(d):
                acc += val(A[i][j]) * val(c[i])
            cSc += acc * acc
        Ew2 = cw2 + trS
        Ew4 = Ew2 * Ew2 + 2 * trS2 + 4 * cSc
        return (self.sup_d2 * Eu2.upper().sqrt() * Ew4.upper().sqrt()).upper()

    # -- one step -------------------------------------------------------------------------------
    def step(self, t0: Fraction, z0: list[arb], e0: arb, t_stop: Fraction,
             h_prev: Fraction | None) -> _StepRecord:
        d, n = self.d, self.n
        t0a = arb_of(t0)
        piece = self._piece(t0a, z0)
        h_plan = min(float(t_stop - t0), 0.25 if h_prev is None else self.h_next)
        for _attempt in range(8):
            form = self._form(t0a, z0, h_plan)
            try:
                P = self._taylor(t0a, z0, n + 2, form, piece)
                _F, J = self._series_FJ(t0a, P, n + 1, form, piece)
            except (ValueError, ZeroDivisionError) as exc:  # e.g. √v with v(t0) = 0
                raise NotCertified(f"no Taylor expansion at t = {float(t0):.6g}: {exc} (Var Y "
                                   "vanishes at a step start?)") from None
            Jc = [[_coeffs(J[i][l_], n + 1) for l_ in range(d)] for i in range(d)]
            W = self._fundamental(Jc, n + 1)
            Pn = [p[: n + 1] for p in P]
            h = self._initial_h(P, t0, t_stop, h_prev)
            h = min(h, self._quantize(h_plan, t0, t_stop))
            try:
                rec = self._attempt(t0, t0a, z0, e0, Pn, W, h, t_stop, form, piece, P)
            except (ValueError, ZeroDivisionError) as exc:
                raise NotCertified(f"step from t = {float(t0):.6g}: {exc} (Var Y vanishes "
                                   "inside the step?)") from None
            if isinstance(rec, _StepRecord):
                return rec
            # the quadrature form does not fit the step: plan a shorter one
            h_plan = 0.5 * float(rec)
        raise NotCertified(f"no certified step from t = {float(t0):.6g}")

    def _initial_h(self, P: Poly, t0: Fraction, t_stop: Fraction,
                   h_prev: Fraction | None) -> Fraction:
        n = self.n
        pn1 = max(abs(_fl(P[i][n + 1])) for i in range(self.d))
        pn = max(abs(_fl(P[i][n])) for i in range(self.d))
        hs = [1.0]
        if pn1 > 0:
            hs.append((self.tf / pn1) ** (1 / n))
        if pn > 0:
            hs.append((self.tf / pn) ** (1 / (n - 1)))
        h = 0.8 * min(hs)
        return self._quantize(h, t0, t_stop)

    @staticmethod
    def _quantize(h: float, t0: Fraction, t_stop: Fraction) -> Fraction:
        rest = t_stop - t0
        if h >= float(rest) * 0.999:
            return rest
        if h >= float(rest) * 0.5:  # two equal steps rather than a sliver at the end
            return rest / 2
        if not h > 0:
            h = 1e-300
        # a dyadic step keeps depths exact
        k = max(0, -math.floor(math.log2(h)) + 12)
        hq = Fraction(math.floor(h * 2**k), 2**k)
        return max(hq, Fraction(1, 2**k))

    def _attempt(self, t0: Fraction, t0a: arb, z0: list[arb], e0: arb, Pn: Poly, W: PolyMat,
                 h: Fraction, t_stop: Fraction, rule: Form, piece: int | None,
                 Pfull: Poly | None = None) -> _StepRecord | Fraction:
        d, n = self.d, self.n
        dP = [_deriv(p) for p in Pn]
        dW = [[_deriv(W[i][l_]) for l_ in range(d)] for i in range(d)]
        while True:
            if h < Fraction(1, 2**60):
                raise NotCertified(f"step size underflow at t = {float(t0):.6g}")
            ha = arb_of(h)
            c = ha / 2
            R = c * DISK_RATIO
            disk = self._disk(t0a, Pn, dP, W, dW, c, R, rule, piece)
            if disk is None:
                self.stats.rejected += 1
                h = self._quantize(float(h) / 2, t0, t_stop)
                continue
            MF, MW = disk
            q = c / R
            lq = -math.log(_fl(q))
            # tail target: well below the expected truncation defect (quality of the bound),
            # never below 1e-6 of the step's budget (cost)
            hf = float(h)
            series_est = max(_fl(_norm_up(p[n] for p in Pn)) * hf ** n,
                             _fl(_norm_up(p[n + 1] for p in Pfull)) * hf ** (n + 1)
                             if Pfull is not None else 0.0) * hf
            budget_f = self.tf * hf
            tail_target = min(1e-3 * budget_f, max(0.02 * series_est, 1e-6 * budget_f))
            need = [n + 2]
            for M in (MF, MW):
                Mf = _fl(M) * hf
                try:
                    ratio = Mf / (tail_target * (1 - _fl(q)))
                    need.append(math.ceil(math.log(ratio) / lq) + 2 if ratio > 1 else n + 2)
                except (OverflowError, ValueError, ZeroDivisionError):  # inf, nan: too wide
                    need.append(10**6)
            N = max(need)
            if N > MAX_SERIES:
                # accept the cap if the tail stays negligible against the budget
                worst = max(_fl(MF), _fl(MW)) * hf * _fl(q) ** (MAX_SERIES - 1) / (1 - _fl(q))
                if math.isfinite(worst) and worst <= 1e-3 * budget_f:
                    N = MAX_SERIES
                else:
                    self.stats.rejected += 1
                    h = self._quantize(float(h) * 0.6, t0, t_stop)
                    continue
            # rigorous defect series at the step's midpoint c
            u = arb_series([c, arb(1)], prec=N)
            Pc = [[x for x in _coeffs(_horner(p, u), N)] for p in Pn]
            marg = self.f.shifted(t0a + c, N)
            Ps = [arb_series(p, prec=N) for p in Pc]
            F, J, _aux = self.f.evaluate(Ps, marg, want_J=True, kind="series", rule=rule,
                                         piece=piece)
            assert J is not None
            dF = []
            for i in range(d):
                Fi = _coeffs(F[i], N)
                dPi = [*_coeffs(Ps[i].derivative(), N - 1), arb(0)]
                dF.append([dPi[j] - Fi[j] for j in range(N)])
            Ws = [[_horner(W[i][l_], u) for l_ in range(d)] for i in range(d)]
            dWs = []
            for i in range(d):
                for l_ in range(d):
                    acc = _horner(dW[i][l_], u)
                    for m in range(d):
                        acc = acc - J[i][m] * Ws[m][l_]
                    dWs.append(_coeffs(acc, N - 1))
            nF = [_norm_up(dF[i][j] for i in range(d)) for j in range(N - 1)]
            nW = [_norm_up(row[j] for row in dWs) for j in range(N - 1)]
            series_part = max(_fl(self._defect_integral(nF, c, arb(0), q, N, ha)),
                              _fl(self._defect_integral(nW, c, arb(0), q, N, ha)))
            D_F = self._defect_integral(nF, c, MF, q, N, ha)
            D_W = self._defect_integral(nW, c, MW, q, N, ha)
            budget = self.target * ha
            if not (D_F <= 2 * budget and D_W <= 2 * budget):
                self.stats.rejected += 1
                worst = max(_fl(D_F), _fl(D_W)) / _fl(budget)
                shrink = min(0.7, 0.9 * worst ** (-1 / (n + 1)))
                h = self._quantize(float(h) * shrink, t0, t_stop)
                continue
            # tube, bootstrap
            r = (4 * (e0 + D_F) + arb(2) ** (-ctx.prec + 20)).upper()
            box: _Tube | None = None
            e_sup = arb(0)
            for _ in range(6):
                got = self._box(t0a, Pn, W, ha, r, rule, piece)
                if isinstance(got, str):  # "replan": the quadrature form does not fit
                    self.stats.rejected += 1
                    return h
                if got is None:
                    break
                e_sup = ((got.mu.max(arb(0)) * ha).exp() * (e0 + D_F + got.epsF * ha)).upper()
                if e_sup <= r:
                    box = got
                    break
                r = (2 * e_sup).upper()
            if box is None:
                self.stats.rejected += 1
                h = self._quantize(float(h) / 2, t0, t_stop)
                continue
            mu, epsF, epsJ, KJ, Wsup = box.mu, box.epsF, box.epsJ, box.KJ, box.Wsup
            if not (epsF * ha <= budget and epsJ * ha <= budget):
                self.stats.rejected += 1
                return h  # the quadrature form is too coarse for this step: replan
            mup = mu.max(arb(0))
            growth = (mup * ha).exp()
            e1 = ((mu * ha).exp() * e0 + growth * (D_F + epsF * ha)).upper()
            eW = (growth * ((KJ * e_sup + epsJ) * ha * Wsup + D_W)).upper()
            # endpoint: exact midpoint + rounding radius
            Pend = [_horner(p, ha) for p in Pn]
            z1 = [x.mid() for x in Pend]
            e1 = (e1 + _norm_up(x - x.mid() for x in Pend)).upper()
            Phi = []
            for i in range(d):
                row = []
                for l_ in range(d):
                    row.append(_horner(W[i][l_], ha) + arb(0, eW))
                Phi.append(row)
            self.stats.steps += 1
            self.stats.max_N = max(self.stats.max_N, N)
            # next step: grow while the truncation defect is below the budget
            ratio = _fl(budget) / max(series_part, 1e-300)
            grow = min(4.0, max(1.0, 0.8 * ratio ** (1 / (n + 1))))
            self.h_next = float(h) * grow
            self._report(t0 + h, e1)
            return _StepRecord(t0, t0 + h, z1, e1, Phi, h, N)

    def _report(self, t: Fraction, e: arb) -> None:
        now = time.monotonic()
        if self.progress is not None and now - self._last_report > 2.0:
            self._last_report = now
            self.progress(f"{self.label}: t = {float(t):.4f}, steps {self.stats.steps}, "
                          f"bound on |Z - mid| {_fl(e):.2e}")

    def run(self, x0: list[arb], stops: Sequence[Fraction]) -> list[_StepRecord]:
        """Integrate from ``t = 0`` through every stop (the last is 1)."""
        z = [v.mid() for v in x0]
        e = _norm_up(v - v.mid() for v in x0)
        t = Fraction(0)
        recs: list[_StepRecord] = []
        h_prev = None
        for stop in stops:
            while t < stop:
                rec = self.step(t, z, e, stop, h_prev)
                recs.append(rec)
                t, z, e, h_prev = rec.t1, rec.z1, rec.e1, rec.h
        return recs


# ------------------------------------------------------------------------------------------
# the public solver
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BallLimitResult:
    """Certified enclosures (Arb balls) of the limit's outputs.

    ``Z``/``p``: per depth in ``times`` (0, the probe depths, 1), lists over data points of
    d-vectors of balls. ``error_bound[field]``: an upper bound of the largest radius in that
    field. ``converged``: every bound is ``≤ tol``.
    """

    prec: int
    tol: Fraction
    d: int
    energy: arb
    Z1: list[list[arb]]  # (N, d)
    first_variation: list[arb]  # (P,)
    velocity: list[list[arb]]  # (P, k)
    times: tuple[Fraction, ...]
    Z: dict[Fraction, list[list[arb]]]
    p: dict[Fraction, list[list[arb]]]
    error_bound: dict[str, arb] = field(default_factory=dict)
    converged: bool = True
    stats: dict[str, Any] = field(default_factory=dict)

    def get(self, name: str) -> np.ndarray:
        """Quantity ``name`` as an object array of balls: ``energy`` shape ``()``, ``Z1``
        ``(N, d)``, ``first_variation`` ``(P,)``, ``velocity`` ``(P, k)``.

        Raises:
            InvalidArgument: ``name`` is not one of :data:`LIMIT_QUANTITIES`.
        """
        if name not in LIMIT_QUANTITIES:
            raise InvalidArgument("name", name, f"expected one of {list(LIMIT_QUANTITIES)}")
        value = getattr(self, name)
        if name == "energy":
            out = np.empty((), dtype=object)
            out[()] = value
            return out
        shape = {"Z1": (len(value), self.d), "first_variation": (len(value),),
                 "velocity": (len(value), 2 * self.d + 1)}[name]
        arr = np.empty(shape, dtype=object)
        for idx in np.ndindex(*arr.shape):
            v = value
            for i in idx:
                v = v[i]
            arr[idx] = v
        return arr


def _probe(model: Model, p: Any, i: int) -> Probe:
    if isinstance(p, Probe):
        if len(p.theta) != model.k:
            raise InvalidArgument(f"probes[{i}].theta", p.theta, f"expected k = {model.k} entries")
        return p
    if isinstance(p, dict):
        return Probe.create(model, p.get("t"), p.get("theta"), f"probes[{i}]")
    if isinstance(p, Sequence) and len(p) == 2:
        return Probe.create(model, p[0], p[1], f"probes[{i}]")
    raise InvalidArgument(f"probes[{i}]", p,
                          "expected a Probe, {'t':..., 'theta':...} or (t, theta)")


def _check_inputs(model: Any, measure: Any, x: Any, y: Any, weights: Any,
                  probes: Iterable[Any]) -> tuple[Data, tuple[Probe, ...]]:
    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected an mforacle.model.Model")
    if not isinstance(measure, GaussianPath):
        raise InvalidArgument("measure", measure, "expected an mforacle.measures.GaussianPath")
    if measure.k != model.k:
        raise InvalidArgument("measure.k", measure.k,
                              f"measure is for k = {measure.k}, model has k = {model.k}")
    data = Data.create(model, x, y, weights)
    return data, tuple(_probe(model, p, i) for i, p in enumerate(probes))


def _check_tol(tol: Any, dps: Any) -> tuple[Fraction, int]:
    from ..numbers import exact_scalar

    if dps is not None and (isinstance(dps, bool) or not isinstance(dps, int)
                            or not 15 <= dps <= 1000):
        raise InvalidArgument("dps", dps, "expected an integer number of digits in [15, 1000]")
    if tol is None:
        t = Fraction(1, 10 ** ((dps or 30) // 2))
    else:
        t = exact_scalar(tol, "tol")
        if not 0 < t < 1:
            raise InvalidArgument("tol", tol, "expected 0 < tol < 1")
    bits_tol = math.ceil(-math.log2(float(t))) if t > Fraction(1, 10**300) else 1000
    prec = max(64, bits_tol + 48)
    if dps is not None:
        prec = max(prec, math.ceil(dps * 3.3219280948873626) + 16)
        if bits_tol > prec - 16:
            raise InvalidArgument("tol", tol, f"tol is below what dps={dps} digits can carry")
    return t, prec


def _readout(model: Model, z: list[arb]) -> tuple[arb, list[arb]]:
    a = [arb_of(v) for v in model.a]
    kap = arb_of(model.kappa)
    g = arb(0)
    sq = arb(0)
    for i in range(model.d):
        g += a[i] * z[i]
        sq += z[i] * z[i]
    g += kap / 2 * sq
    return g, [a[i] + kap * z[i] for i in range(model.d)]


def _max_rad(xs: Iterable[arb]) -> arb:
    out = arb(0)
    for x in xs:
        out = out.max(x.rad())
    return out.upper()


def _trajectory(model: Model, fieldobj: GaussianField, x0: list[arb], y: arb,
                stops: Sequence[Fraction], target: arb, order: int, stats: _Stats,
                progress: Callable[[str], None] | None, label: str,
                ) -> tuple[dict[Fraction, list[arb]], dict[Fraction, list[arb]], arb]:
    """Enclosures of ``Z`` and ``p`` at ``0`` and every stop for all starts in the balls
    ``x0``, and of the residual ``g(Z(1)) − y``."""
    d = model.d
    integ = _Integrator(fieldobj, target, order, stats, progress, label)
    recs = integ.run(x0, stops)
    balls = {Fraction(0): list(x0)}
    for rec in recs:
        balls[rec.t1] = [z + arb(0, rec.e1) for z in rec.z1]
    Z1 = balls[Fraction(1)]
    g, grad = _readout(model, Z1)
    res = g - y
    p = [res * gi for gi in grad]
    pballs = {Fraction(1): p}
    for rec in reversed(recs):
        p = [sum((rec.Phi[m][i] * p[m] for m in range(d)), arb(0)) for i in range(d)]
        pballs[rec.t0] = p
    if progress is not None:
        progress(f"{label}: {len(recs)} steps, |Z(1) - mid| <= {_fl(recs[-1].e1):.2e}")
    return ({t: balls[t] for t in [Fraction(0), *stops]},
            {t: pballs[t] for t in [Fraction(0), *stops]}, res)


@dataclass(frozen=True)
class PointEnclosure:
    """Enclosures along the trajectories from a *box* of initial values (one data point).

    ``Z[t]``, ``p[t]``: balls (d,) containing ``Z(t; x)`` and ``p(t; x)`` for every ``x`` in
    the initial box, at ``t`` in ``times``; ``loss``: ``(g(Z(1; x)) − y)²/2``.
    """

    times: tuple[Fraction, ...]
    Z: dict[Fraction, list[arb]]
    p: dict[Fraction, list[arb]]
    loss: arb
    prec: int


def enclose_point(model: Model, measure: GaussianPath, x0: Sequence[Any], y: Any, *,
                  times: Iterable[Any] = (), tol: Any = None, order: int = DEFAULT_ORDER,
                  progress: Callable[[str], None] | None = None) -> PointEnclosure:
    """Certified enclosures of ``Z(t; x)``, ``p(t; x)`` and the loss for **every** ``x`` in
    the box ``x0`` (d entries: ``flint.arb`` balls or exact numbers), at ``0``, the depths
    ``times`` and ``1`` (the adjoint with ``p(1) = (g(Z(1)) − y)∇g(Z(1))``). Same method as
    :func:`solve`; the error analysis covers every start in the box (the initial radius is
    the error at ``t = 0``), so for ``d = 1`` the mean value theorem puts every difference
    quotient of the loss over the box inside ``p(0)``.

    Raises:
        InvalidArgument: malformed inputs.
        NotCertified: a step could not be certified.
    """
    from ..numbers import exact_scalar

    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected an mforacle.model.Model")
    if not isinstance(measure, GaussianPath) or measure.k != model.k:
        raise InvalidArgument("measure", measure, f"expected a GaussianPath with k = {model.k}")
    if not isinstance(x0, Sequence) or len(x0) != model.d:
        raise InvalidArgument("x0", x0, f"expected d = {model.d} entries")
    tol_q, prec = _check_tol(tol, None)
    ts = sorted({exact_scalar(t, "times") for t in times} | {Fraction(1)})
    if ts[0] <= 0 or ts[-1] > 1:
        raise InvalidArgument("times", list(times), "depths must lie in (0, 1]")
    old_cap = ctx.cap
    ctx.cap = MAX_SERIES + 8
    try:
        with ctx.workprec(prec):
            xs = [v if isinstance(v, arb) else arb_of(exact_scalar(v, f"x0[{i}]"))
                  for i, v in enumerate(x0)]
            yy = y if isinstance(y, arb) else arb_of(exact_scalar(y, "y"))
            balls, pballs, res = _trajectory(model, GaussianField(model, measure), xs, yy, ts,
                                             arb_of(tol_q) / 20, order, _Stats(), progress,
                                             "point")
            return PointEnclosure(tuple([Fraction(0), *ts]), balls, pballs, res * res / 2,
                                  prec)
    finally:
        ctx.cap = old_cap


def _one_run(model: Model, measure: GaussianPath, data: Data, probe_list: tuple[Probe, ...],
             prec: int, target: arb, order: int,
             progress: Callable[[str], None] | None) -> tuple[Any, ...]:
    fieldobj = GaussianField(model, measure)
    d, k = model.d, model.k
    stops = sorted({p.t for p in probe_list if p.t > 0} | {Fraction(1)})
    times = tuple([Fraction(0), *stops])
    stats = _Stats()
    Zt: dict[Fraction, list[list[arb]]] = {t: [] for t in times}
    pt: dict[Fraction, list[list[arb]]] = {t: [] for t in times}
    energy = arb(0)
    omega = [arb_of(w) for w in data.weights]
    for nidx in range(data.n):
        x0 = [arb_of(v) for v in data.x[nidx]]
        balls, pballs, res = _trajectory(model, fieldobj, x0, arb_of(data.y[nidx]), stops,
                                         target, order, stats, progress,
                                         f"point {nidx + 1}/{data.n}")
        energy += omega[nidx] * res * res / 2
        for t in times:
            Zt[t].append(balls[t])
            pt[t].append(pballs[t])
    act = model.activation
    fvs, vels = [], []
    for pr in probe_list:
        th = [arb_of(v) for v in pr.theta]
        w, u, b = th[:d], th[d: 2 * d], th[2 * d]
        fv = arb(0)
        vel = [arb(0)] * k
        for nidx in range(data.n):
            z, p = Zt[pr.t][nidx], pt[pr.t][nidx]
            pre = b + sum((w[i] * z[i] for i in range(d)), arb(0))
            s0, s1 = sigma(act, pre, 0), sigma(act, pre, 1)
            up = sum((u[i] * p[i] for i in range(d)), arb(0))
            fv += omega[nidx] * up * s0
            for i in range(d):
                vel[i] += omega[nidx] * s1 * up * z[i]
                vel[d + i] += omega[nidx] * s0 * p[i]
            vel[2 * d] += omega[nidx] * s1 * up
        fvs.append(fv)
        vels.append(vel)
    return energy, Zt, pt, fvs, vels, times, stats


def solve(model: Model, measure: GaussianPath, x: Any, y: Any, weights: Any = None,
          probes: Iterable[Any] = (), *, tol: Any = None, dps: int | None = None,
          order: int = DEFAULT_ORDER, max_runs: int = 3,
          progress: Callable[[str], None] | None = None) -> BallLimitResult:
    """Certified enclosures of the limit for ``measure`` and data (module docstring).

    ``tol`` (default ``10^-(dps//2)``, ``dps`` default 30) is the target for every output's
    radius; the working precision is ``max(64, log2(1/tol) + 48)`` bits (at least ``dps``
    digits when given). ``order`` is the Taylor degree. ``progress`` receives one-line messages
    (at most one every two seconds) during long runs.

    Returns:
        :class:`BallLimitResult`: ``energy`` (ball), ``Z1`` (N, d), ``first_variation`` (P,),
        ``velocity`` (P, k), ``Z``/``p`` at the stop depths, ``error_bound`` per field.

    Raises:
        InvalidArgument: malformed inputs.
        NotCertified: a step could not be certified (module docstring).
    """
    data, probe_list = _check_inputs(model, measure, x, y, weights, probes)
    tol_q, prec = _check_tol(tol, dps)
    if isinstance(order, bool) or not isinstance(order, int) or not 6 <= order <= 60:
        raise InvalidArgument("order", order, "expected an integer Taylor degree in [6, 60]")
    t_start = time.monotonic()
    old_cap = ctx.cap
    ctx.cap = MAX_SERIES + 8  # Arb truncates every series operation at ctx.cap
    try:
        return _solve(model, measure, data, probe_list, tol_q, prec, order, max_runs, progress,
                      t_start)
    finally:
        ctx.cap = old_cap


def _solve(model: Model, measure: GaussianPath, data: Data, probe_list: tuple[Probe, ...],
           tol_q: Fraction, prec: int, order: int, max_runs: int,
           progress: Callable[[str], None] | None, t_start: float) -> BallLimitResult:
    with ctx.workprec(prec):
        tol_a = arb_of(tol_q)
        target = tol_a / 20
        for run in range(max_runs):
            energy, Zt, pt, fvs, vels, times, stats = _one_run(
                model, measure, data, probe_list, prec, target, order, progress)
            Z1 = Zt[Fraction(1)]
            bounds = {
                "energy": _max_rad([energy]),
                "Z1": _max_rad(z for row in Z1 for z in row),
                "first_variation": _max_rad(fvs),
                "velocity": _max_rad(v for row in vels for v in row),
            }
            worst = max(bounds.values())
            if worst <= tol_a or run == max_runs - 1:
                break
            factor = max(_fl(worst / tol_a), 2.0) * 4
            if progress is not None:
                progress(f"bounds {_fl(worst):.2e} > tol {float(tol_q):.1e}: rerun with a "
                         f"target {factor:.1f} times smaller")
            target = target / arb(factor)
        return BallLimitResult(
            prec=prec, tol=tol_q, d=model.d, energy=energy, Z1=Z1, first_variation=fvs,
            velocity=vels, times=times, Z=Zt, p=pt, error_bound=bounds,
            converged=bool(worst <= tol_a),
            stats={"steps": stats.steps, "rejected": stats.rejected, "max_N": stats.max_N,
                   "quad_nodes": stats.quad_nodes, "runs": run + 1, "order": order,
                   "seconds": round(time.monotonic() - t_start, 3)},
        )


def _stderr_progress(msg: str) -> None:
    print(f"mforacle limit --path ball: {msg}", file=sys.stderr, flush=True)
