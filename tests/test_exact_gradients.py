"""Claims A2 (gradients are derivatives of the loss) and A3 (the adjoint is the state gradient).

Three independent references for ``grad_theta``: high-precision central differences, sympy's
symbolic derivative of the loss built from the formulas, and the Taylor-remainder test. One for
``grad_x = q_0``: central differences in ``x`` of each point's own loss.

Error model of a central difference ``D(h) = (E(θ+h e) − E(θ−h e)) / (2h)`` with the loss
evaluated at ``FD_DPS`` digits:

- roundoff: each loss value is off by at most its confirmed bound ``B_E`` (A4; the bound is
  confirmed at θ and applied at θ ± h, where the rounding behaviour is the same to first order:
  we double it for that), so ``|ΔD| ≤ 2 B_E / h``;
- truncation: ``|D(h) − E'| ≤ h K₂`` whenever ``E'`` is Lipschitz with constant ``2 K₂`` along
  the line (true for every activation, including the C¹ regrelu whose σ' is Lipschitz);
  ``K₂ = 10^6`` is a stated, generous prior on the second derivatives of these tiny networks
  (weights ≤ 2, |x| ≤ 1.5, L, M ≤ 2: products of a few O(1) factors). With ``h = 10^-40`` the
  term is 10^-34, far below the 10^-29 the compared gradient is itself known to.

The compared gradient at ``DPS`` digits carries its own confirmed bound. So the assertion is
``|grad − D(h)| ≤ bound_grad + 2 B_E / h + h K₂``: ~10^-29 at 30 digits, while any error in the
formulas (a sign, a 1/(L·M)) is O(|grad|).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import mpmath
import numpy as np
import sympy as sp
from hypothesis import event, given, settings
from hypothesis import strategies as st
from mforacle.properties.strategies import discrete_cases, dyadic, models

from mforacle.exact.activations import mpf_of
from mforacle.exact.network import evaluate, loss
from mforacle.model import Model

DPS = 30
FD_DPS = 100
H = Fraction(1, 10**40)  # perturbations are exact Fractions: no rounding on the way in
K2 = 10**6

tiny_cases = discrete_cases(
    model=models(d=st.integers(1, 2)), L=st.integers(1, 2), M=st.integers(1, 2), N=st.integers(1, 3)
)


def _perturbed(theta: np.ndarray, idx: tuple[int, ...], step: Fraction) -> np.ndarray:
    out = np.array(theta, dtype=object)
    out[idx] = out[idx] + step
    return out


@given(case=tiny_cases)
def test_grad_theta_against_central_differences(case) -> None:
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    r = evaluate(m, th, x, y, w, dps=DPS)
    centre = evaluate(m, th, x, y, w, dps=FD_DPS)
    theta_q = np.vectorize(Fraction, otypes=[object])(th)  # floats -> exact Fractions
    with mpmath.workdps(FD_DPS + 10):
        h = mpf_of(H)
        tol = r.error_bound["grad_theta"] + 2 * centre.error_bound["loss"] / h + h * K2
        for idx in np.ndindex(*th.shape):
            up = loss(m, _perturbed(theta_q, idx, H), x, y, w, dps=FD_DPS)
            down = loss(m, _perturbed(theta_q, idx, -H), x, y, w, dps=FD_DPS)
            fd = (up - down) / (2 * h)
            err = abs(r.grad_theta[idx] - fd)
            assert err <= tol, (
                f"grad_theta{list(idx)} = {r.grad_theta[idx]} vs central difference {fd}: "
                f"|diff| {mpmath.nstr(err, 3)} > {mpmath.nstr(tol, 3)} "
                f"(bound_grad + 2 B_E/h + h K2), activation {m.activation}, shape {th.shape}"
            )


@given(case=tiny_cases)
def test_grad_x_against_central_differences(case) -> None:
    """A3: q_0 = ∂ℓ_n/∂x_n (unweighted) against differences of the point's own loss ℓ_n."""
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    r = evaluate(m, th, x, y, w, dps=DPS)
    with mpmath.workdps(FD_DPS + 10):
        h = mpf_of(H)
        for n in range(len(y)):
            own = evaluate(m, th, x[n : n + 1], y[n : n + 1], dps=FD_DPS)  # ℓ_n, weight 1
            tol = r.error_bound["grad_x"] + 2 * own.error_bound["loss"] / h + h * K2
            for i in range(m.d):
                xs = [Fraction(v) for v in x[n]]
                up, down = list(xs), list(xs)
                up[i] += H
                down[i] -= H
                fd = (loss(m, th, [up], [y[n]], dps=FD_DPS)
                      - loss(m, th, [down], [y[n]], dps=FD_DPS)) / (2 * h)
                err = abs(r.grad_x[n, i] - fd)
                assert err <= tol, (
                    f"grad_x[{n}][{i}] = {r.grad_x[n, i]} vs central difference {fd}: "
                    f"|diff| {mpmath.nstr(err, 3)} > {mpmath.nstr(tol, 3)}, "
                    f"activation {m.activation}"
                )


# ---- sympy: the loss built symbolically from the formulas, differentiated symbolically ----


def _sympy_sigma(model: Model, theta_values: dict) -> Callable:
    """sigma as a sympy function of the pre-activation.

    regrelu (C¹, piecewise polynomial): the piece is chosen by the pre-activation's exact
    rational value at the evaluation point (a Piecewise makes sympy's derivative ~100x slower).
    Inside a piece this is σ itself; exactly at a kink both adjacent pieces share σ and σ',
    and the gradient of E involves only σ and σ', so either piece gives the true gradient.
    """
    act = model.activation
    if act.name == "tanh":
        return sp.tanh
    if act.name == "erf":
        return sp.erf
    if act.name == "sin":
        return sp.sin
    if act.name == "sigmoid":
        return lambda a: 1 / (1 + sp.exp(-a))
    if act.name == "softplus":
        return lambda a: sp.log(1 + sp.exp(a))
    eta = sp.Rational(act.eta.numerator, act.eta.denominator)

    def regrelu(a: sp.Expr) -> sp.Expr:
        value = a.xreplace(theta_values)
        assert value.is_Rational, value
        if value < -eta:
            return sp.Integer(0)
        if value <= eta:
            return (a + eta) ** 2 / (4 * eta)
        return a

    return regrelu


def _rat(v) -> sp.Rational:
    f = Fraction(v)
    return sp.Rational(f.numerator, f.denominator)


def _sympy_gradient(case) -> tuple[list, list]:
    """E(θ) built from docs/model.md §1 with sympy, and its derivative in every θ entry."""
    m = case.model
    d = m.d
    L, M, k = case.theta.shape
    syms = sp.symbols(f"t0:{L * M * k}", real=True)
    th = np.array(syms, dtype=object).reshape(L, M, k)
    values = {s: _rat(v) for s, v in zip(syms, case.theta.reshape(-1), strict=True)}
    sigma = _sympy_sigma(m, values)
    a_vec = [_rat(v) for v in m.a]
    kappa = _rat(m.kappa)
    weights = case.weights if case.weights is not None else [Fraction(1, len(case.y))] * len(case.y)
    E = 0
    for n in range(len(case.y)):
        z = [_rat(v) for v in case.x[n]]
        for l in range(L):
            acts = [sigma(sum(th[l, mm, i] * z[i] for i in range(d)) + th[l, mm, 2 * d])
                    for mm in range(M)]
            z = [z[i] + sp.Rational(1, L * M) * sum(th[l, mm, d + i] * acts[mm] for mm in range(M))
                 for i in range(d)]
        g = sum(a_vec[i] * z[i] for i in range(d)) + kappa / 2 * sum(t**2 for t in z)
        E += _rat(weights[n]) * sp.Rational(1, 2) * (g - _rat(case.y[n])) ** 2
    grads = [sp.diff(E, s) for s in syms]
    return list(syms), grads


@settings(max_examples=5)  # sympy differentiation is the slow part (~2 s at L=M=d=N=2)
@given(case=discrete_cases(model=models(d=st.integers(1, 2)), L=st.integers(1, 2),
                           M=st.integers(1, 2), N=st.integers(1, 2)))
def test_grad_theta_against_sympy(case) -> None:
    """Symbolic derivative evaluated at 60 digits (its rounding: ~10^-55 for these sizes)."""
    m, th = case.model, case.theta
    r = evaluate(m, th, case.x, case.y, case.weights, dps=DPS)
    syms, grads = _sympy_gradient(case)
    fn = sp.lambdify(syms, grads, modules="mpmath", cse=True)
    with mpmath.workdps(60):
        vals = fn(*[mpf_of(Fraction(float(v))) for v in th.reshape(-1)])
        tol = r.error_bound["grad_theta"] + mpmath.mpf(10) ** -50
        for idx, want in zip(np.ndindex(*th.shape), vals, strict=True):
            err = abs(r.grad_theta[idx] - want)
            assert err <= tol, (
                f"grad_theta{list(idx)} = {r.grad_theta[idx]} vs sympy {mpmath.nstr(want, 35)}: "
                f"|diff| {mpmath.nstr(err, 3)} > {mpmath.nstr(tol, 3)}, activation {m.activation}"
            )


# ---- Taylor remainder: |E(Θ+hΔ) − E(Θ) − h⟨∇E, Δ⟩| ∝ h² ----------------------------------

TAYLOR_DPS = 80
LADDER = [Fraction(1, 10**e) for e in range(8, 17)]  # h = 1e-8 ... 1e-16, exact


@given(case=discrete_cases(model=models(d=st.integers(1, 2), activation=st.sampled_from(
           ["tanh", "erf", "sigmoid", "softplus", "sin"])),
           L=st.integers(1, 3), M=st.integers(1, 2), N=st.integers(1, 3)),
       data=st.data())
def test_taylor_remainder_is_second_order(case, data) -> None:
    """Fitted slope of log r(h) vs log h over h = 1e-8..1e-16 is 2 (C² activations only).

    r(h) = c₂h² + c₃h³ + ρ with c₂ = ΔᵀHΔ/2 and roundoff ρ ≤ ~10^-75 at 80 digits (≪ c₂·10^-32).
    The local slope is 2 + O((c₃/c₂) h), so over h ≤ 1e-8 the fit lies in [1.99, 2.01] unless
    |c₃/c₂| > 10^6. A gradient wrong by δ gives r ≈ |⟨δ, Δ⟩| h: slope 1. The upper side is
    only asserted when c₂ is not degenerate (|c₂| ≥ 10^-6, estimated gradient-free from
    second differences); if c₂ ≈ 0 the remainder is O(h³) and the slope is 3, still ≥ 1.99.
    """
    m, th = case.model, case.theta
    delta = np.array(data.draw(st.lists(dyadic(1.0, 6), min_size=th.size, max_size=th.size)
                               .filter(lambda v: any(v)), label="direction Δ"),
                     dtype=np.float64).reshape(th.shape)
    r0 = evaluate(m, th, case.x, case.y, case.weights, dps=TAYLOR_DPS, confirm=False)
    th_q = np.vectorize(Fraction, otypes=[object])(th)
    d_q = np.vectorize(Fraction, otypes=[object])(delta)
    with mpmath.workdps(TAYLOR_DPS + 10):
        slope_dir = mpmath.fsum(g * mpf_of(dd) for g, dd in zip(r0.grad_theta.ravel(),
                                                                d_q.ravel(), strict=True))

        def E(h: Fraction) -> mpmath.mpf:
            return loss(m, th_q + h * d_q, case.x, case.y, case.weights, dps=TAYLOR_DPS)

        rem = [abs(E(h) - r0.loss - mpf_of(h) * slope_dir) for h in LADDER]
        # roundoff floor of r(h): loss values rounded to 80 digits and an 80-digit h⟨∇E,Δ⟩,
        # with 10^5 slack. Points at the floor carry no slope information.
        noise = mpmath.mpf(10) ** (5 - TAYLOR_DPS) * max(1, abs(r0.loss), abs(slope_dir))
        used = [(h, v) for h, v in zip(LADDER, rem, strict=True) if v > 1000 * noise]
        if len(used) < 3:
            # E is flat along Δ to ~1e-70 (e.g. Δ only moves b of a neuron with u = 0): then
            # r(h) <= 1000·noise for all h *is* the check — a directional derivative wrong by δ
            # would give r(1e-8) ≈ δ·1e-8, so δ <= 1e-64 here.
            event("Taylor: E flat along Δ")
            assert max(rem) <= 1000 * noise, f"remainders {rem} above the noise {noise}"
            return
        xs = [mpmath.log10(mpf_of(h)) for h, _ in used]
        ys = [mpmath.log10(v) for _, v in used]
        xm, ym = mpmath.fsum(xs) / len(xs), mpmath.fsum(ys) / len(ys)
        fit = (mpmath.fsum((a - xm) * (b - ym) for a, b in zip(xs, ys, strict=True))
               / mpmath.fsum((a - xm) ** 2 for a in xs))
        h0 = LADDER[0]
        c2 = (E(h0) + E(-h0) - 2 * r0.loss) / (2 * mpf_of(h0) ** 2)
        msg = (f"Taylor remainder slope {mpmath.nstr(fit, 6)}, c2 ~ {mpmath.nstr(c2, 3)}, "
               f"remainders {[mpmath.nstr(v, 3) for v in rem]}, activation {m.activation}")
        assert fit >= 1.99, msg
        if abs(c2) >= mpmath.mpf(10) ** -6:
            assert fit <= 2.01, msg
