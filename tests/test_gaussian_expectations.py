"""B4: the Stein / closed-form / trapezoidal expectations F_rho, J_rho are right.

References, each independent of the Stein algebra under test:
- brute-force Monte Carlo over xi (fixed, recorded seed), within 4.5 standard errors per
  component: a false alarm has probability 6.8e-6 per component, < 1e-3 over a whole run;
- tensor Gauss–Hermite quadrature in xi (r <= 2) in mpmath, whose own error is estimated by
  comparing two node counts;
- mpmath.quad (tanh-sinh, split at the regrelu kinks) for the one-dimensional moments.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mforacle.properties.strategies.discrete import dyadic, models
from mforacle.properties.strategies.limit import gaussian_paths

from mforacle.exact import gaussian as eg
from mforacle.exact.activations import exact_activation, mpf_of
from mforacle.fast import gaussian as fg
from mforacle.fast.activations import get as fast_act
from mforacle.measures import GaussianPath
from mforacle.model import Model

U = 2.0**-53
MC_SEED = 20240611  # fixed before the test was first run; recorded in every message
MC_SAMPLES = 40000
Z_CONF = 4.5


def _mc_F_J(model: Model, c: np.ndarray, A: np.ndarray, z: np.ndarray, seed: int):
    """Monte Carlo means and standard errors of f(z, theta) and d_z f(z, theta)."""
    d = model.d
    rng = np.random.default_rng(seed)
    xi = rng.standard_normal((MC_SAMPLES, A.shape[1]))
    th = c + xi @ A.T
    W, Uu, b = th[:, :d], th[:, d : 2 * d], th[:, 2 * d]
    pre = W @ z + b
    act = fast_act(model.activation)
    s0, s1 = act.both(pre)
    f = Uu * s0[:, None]
    Jz = s1[:, None, None] * Uu[:, :, None] * W[:, None, :]
    n = MC_SAMPLES
    root = math.sqrt(n)
    return f.mean(0), f.std(0, ddof=1) / root, Jz.mean(0), Jz.std(0, ddof=1) / root


@given(
    model=models(d=st.integers(1, 2), kappa=False),
    data=st.data(),
)
def test_stein_matches_monte_carlo(model: Model, data: st.DataObject) -> None:
    r = data.draw(st.integers(1, 2), label="r")
    meas = data.draw(gaussian_paths(model, r, 1), label="measure")
    t = data.draw(st.integers(0, 4), label="t*4") / 4
    z = np.array(data.draw(st.lists(dyadic(1.5, 4), min_size=model.d, max_size=model.d),
                           label="z"))
    rho = fg.GaussianPathArrays.of(meas).at(t)
    F, J = fg.drift_and_jacobian(model, rho, z[None])
    mF, sF, mJ, sJ = _mc_F_J(model, rho.c, rho.A, z, MC_SEED)
    # roundoff floor: the MC mean of 40000 terms and the moments carry ~1e-13 absolute error
    floor = 1e-12
    for name, got, mean, se in (("F", F[0], mF, sF), ("J", J[0], mJ, sJ)):
        diff = np.abs(got - mean)
        bound = Z_CONF * se + floor
        assert np.all(diff <= bound), (
            f"B4 {name}: Stein {got} vs Monte Carlo {mean} (seed {MC_SEED}, n={MC_SAMPLES}): "
            f"|diff| {diff} > {Z_CONF} sigma_MC + {floor} = {bound}; "
            f"activation {model.activation}, t={t}, z={z}, measure {meas.to_json()}"
        )


# --- tensor Gauss–Hermite reference in mpmath ----------------------------------------------------
_GH: dict[tuple[int, int], tuple[list, list]] = {}


def _gh_nodes(n: int) -> tuple[list, list]:
    """Gauss–Hermite nodes/weights (weight exp(-x^2)), Newton-polished at current precision."""
    key = (n, mpmath.mp.prec)
    if key in _GH:
        return _GH[key]
    x0, _ = np.polynomial.hermite.hermgauss(n)
    xs, ws = [], []
    for guess in x0:
        x = mpmath.mpf(guess)
        for _ in range(60):
            h0, h1 = mpmath.mpf(1), 2 * x  # H_0, H_1
            for k in range(1, n):
                h0, h1 = h1, 2 * x * h1 - 2 * k * h0
            # h1 = H_n(x), h0 = H_{n-1}(x); H_n' = 2n H_{n-1}
            dx = h1 / (2 * n * h0)
            x -= dx
            if abs(dx) < mpmath.mpf(2) ** (-mpmath.mp.prec + 4):
                break
        h0, h1 = mpmath.mpf(1), 2 * x
        for k in range(1, n - 1):
            h0, h1 = h1, 2 * x * h1 - 2 * k * h0
        hnm1 = h1 if n > 1 else mpmath.mpf(1)
        w = (mpmath.mpf(2) ** (n - 1) * mpmath.factorial(n) * mpmath.sqrt(mpmath.pi)
             / (n * n * hnm1**2))
        xs.append(x)
        ws.append(w)
    _GH[key] = (xs, ws)
    return xs, ws


def _tensor_F_J(model: Model, rho: eg.ExactMarginal, z, n: int):
    d, r = model.d, rho.A.shape[1]
    xs, ws = _gh_nodes(n)
    act = exact_activation(model.activation)
    F = [mpmath.mpf(0)] * d
    J = [[mpmath.mpf(0)] * d for _ in range(d)]
    norm = mpmath.pi ** (mpmath.mpf(r) / 2)
    grids = [()]
    for _ in range(r):
        grids = [(*g, i) for g in grids for i in range(n)]
    for idx in grids:
        xi = [mpmath.sqrt(2) * xs[i] for i in idx]
        w = mpmath.fprod(ws[i] for i in idx) / norm
        th = [rho.c[q] + mpmath.fsum(rho.A[q, j] * xi[j] for j in range(r)) for q in range(model.k)]
        pre = mpmath.fsum(th[i] * z[i] for i in range(d)) + th[2 * d]
        s0, s1 = act.sigma(pre), act.d1(pre)
        for i in range(d):
            F[i] += w * th[d + i] * s0
            for j in range(d):
                J[i][j] += w * s1 * th[d + i] * th[j]
    return F, J


@settings(max_examples=6)
@given(
    model=models(d=st.integers(1, 2), activation=st.sampled_from(["erf", "sin", "tanh"]),
                 kappa=False),
    data=st.data(),
)
def test_stein_matches_tensor_gauss_hermite(model: Model, data: st.DataObject) -> None:
    r = data.draw(st.integers(1, 2), label="r")
    meas = data.draw(gaussian_paths(model, r, 1, scale=0.25), label="measure")
    t = Fraction(data.draw(st.integers(0, 4), label="t*4"), 4)
    z = data.draw(st.lists(dyadic(1.0, 4), min_size=model.d, max_size=model.d), label="z")
    with mpmath.workdps(30):
        rho = eg.marginal(meas, t)
        zm = [mpmath.mpf(v) for v in z]
        F, J = eg.drift_and_jacobian(model, rho, zm, tol=mpmath.mpf(10) ** -28)
        n_lo, n_hi = (24, 32) if r == 2 else (40, 56)
        F1, J1 = _tensor_F_J(model, rho, zm, n_lo)
        F2, J2 = _tensor_F_J(model, rho, zm, n_hi)
        ref_err = max([abs(a - b) for a, b in zip(F1, F2, strict=True)]
                      + [abs(a - b) for ra, rb in zip(J1, J2, strict=True)
                         for a, b in zip(ra, rb, strict=True)])
        # the reference must itself be precise for this test to mean anything: a wrong Stein
        # term is of size |Cov(., Y)| |E_j| >= ~1e-4 on these cases, far above 1e-10
        assert ref_err < mpmath.mpf(10) ** -10, f"tensor GH reference not converged: {ref_err}"
        bound = ref_err + mpmath.mpf(10) ** -25
        worst = max([abs(F[i] - F2[i]) for i in range(model.d)]
                    + [abs(J[i, j] - J2[i][j]) for i in range(model.d) for j in range(model.d)])
        assert worst <= bound, (
            f"B4: Stein F/J vs tensor Gauss–Hermite (n={n_hi}) differ by {mpmath.nstr(worst, 5)} "
            f"> reference error {mpmath.nstr(ref_err, 5)} + 1e-25; activation "
            f"{model.activation}, t={t}, z={z}, measure {meas.to_json()}"
        )


@pytest.mark.parametrize("name", ["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5"])
def test_exact_moments_match_mpmath_quad(name: str) -> None:
    act = exact_activation(name)
    with mpmath.workdps(30):
        for m, v in [(Fraction(3, 10), Fraction(1, 2)), (Fraction(-6, 5), Fraction(4)),
                     (Fraction(1, 5), Fraction(30))]:
            E = eg.gaussian_moments(act, m, v, tol=mpmath.mpf(10) ** -26)
            mm, s = mpf_of(m), mpmath.sqrt(mpf_of(v))

            def phi(zz):
                return mpmath.exp(-zz * zz / 2) / mpmath.sqrt(2 * mpmath.pi)

            pts = [-mpmath.inf]
            if name.startswith("regrelu"):
                pts += sorted([(-mpmath.mpf(1) / 2 - mm) / s, (mpmath.mpf(1) / 2 - mm) / s])
            pts.append(mpmath.inf)
            ref = [mpmath.quad(lambda zz, f=f, mm=mm, s=s: phi(zz) * f(mm + s * zz), pts)
                   for f in (act.sigma, act.d1, act.d2)]
            if name.startswith("regrelu"):  # v E[sigma'''] = v (phi_v(-eta) - phi_v(eta)) / (2 eta)
                ref.append(mpf_of(v) * (mpmath.npdf(-0.5, mm, s) - mpmath.npdf(0.5, mm, s)))
            else:
                ref.append(s * mpmath.quad(
                    lambda zz, mm=mm, s=s: phi(zz) * zz * act.d2(mm + s * zz), pts))
            for j in range(4):
                # mpmath.quad reaches ~1e-27 here; the moments' tolerance is 1e-26
                assert abs(E[j] - ref[j]) <= mpmath.mpf(10) ** -24, (
                    f"{name}: moment {j} at m={m}, v={v}: {E[j]} vs quad {ref[j]}"
                )


@given(model=models(d=st.integers(1, 2), kappa=False), data=st.data())
def test_fast_moments_and_drift_match_exact(model: Model, data: st.DataObject) -> None:
    """A1 for the expectations: fast F, J within a float64 error model of the exact ones."""
    meas = data.draw(gaussian_paths(model, data.draw(st.integers(1, 2), label="r"), 1,
                                    scale=data.draw(st.sampled_from([0.25, 0.75, 2.0]),
                                                    label="scale")), label="measure")
    t = Fraction(data.draw(st.integers(0, 4), label="t*4"), 4)
    z = data.draw(st.lists(dyadic(1.5, 4), min_size=model.d, max_size=model.d), label="z")
    rho_f = fg.GaussianPathArrays.of(meas).at(float(t))
    F, J = fg.drift_and_jacobian(model, rho_f, np.array([z]))
    with mpmath.workdps(30):
        rho = eg.marginal(meas, t)
        Fe, Je = eg.drift_and_jacobian(model, rho, [mpmath.mpf(v) for v in z],
                                       tol=mpmath.mpf(10) ** -24)
        d = model.d
        m, _a, v, _cov = eg._pre(model, rho, [mpmath.mpf(vv) for vv in z])
        s = float(mpmath.sqrt(v))
    # Error model: each moment is a positive-weight sum over <= 2^11 nodes of terms bounded by
    # B = 1 + |m| + 10 s (|sigma^(j)| <= 1 + |y| for every activation here, |zeta| <= 10), so
    # its absolute error is <= (log2 n + 4 + 1) u B <= 16 u B (trapezoid error <= 2^-56/10);
    # F, J combine moments with coefficients |c|, |Cov|; the inputs c(t), A(t) are rounded once
    # (relative u) and propagate through m, v with the same magnitudes: a factor 4 covers it.
    B = 1 + abs(float(m)) + 10 * s
    coef = 1 + np.max(np.abs(rho_f.c)) + np.max(np.abs(rho_f.A)) * (1 + np.max(np.abs(z)))
    bound = 4 * 16 * U * B * coef**3
    diffF = max(abs(float(Fe[i]) - F[0, i]) for i in range(d))
    diffJ = max(abs(float(Je[i, j]) - J[0, i, j]) for i in range(d) for j in range(d))
    assert max(diffF, diffJ) <= bound, (
        f"A1 (expectations): fast vs exact |dF| = {diffF:.3g}, |dJ| = {diffJ:.3g} > {bound:.3g} "
        f"(64 u B coef^3, B={B:.3g}, coef={coef:.3g}); {model.activation}, t={t}, z={z}, "
        f"measure {meas.to_json()}"
    )


@pytest.mark.parametrize("name", ["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5"])
def test_degenerate_marginal_is_the_single_neuron(name: str) -> None:
    """v = 0 (A = 0): F = u sigma(w·z + b) and J = sigma' u w^T, in both paths."""
    model = Model.create(2, name)
    c = [["0.5"], ["-0.25"], ["1.5"], ["-0.75"], ["0.125"]]
    A = [[["0"]] for _ in range(5)]
    meas = GaussianPath.create(model, 1, c, A)
    z = np.array([0.25, -0.5])
    th = np.array([0.5, -0.25, 1.5, -0.75, 0.125])
    pre = np.array([th[:2] @ z + th[4]])
    act = fast_act(name)
    F_ref = th[2:4] * act.sigma(pre)[0]
    J_ref = act.dsigma(pre)[0] * np.outer(th[2:4], th[:2])
    F, J = fg.drift_and_jacobian(model, fg.GaussianPathArrays.of(meas).at(0.0), z[None])
    assert np.allclose(F[0], F_ref, rtol=8 * U, atol=8 * U), (F, F_ref)
    assert np.allclose(J[0], J_ref, rtol=8 * U, atol=8 * U), (J, J_ref)
    with mpmath.workdps(30):
        Fe, Je = eg.drift_and_jacobian(model, eg.marginal(meas, Fraction(0)),
                                       [mpmath.mpf(0.25), mpmath.mpf(-0.5)], tol=1e-25)
        assert max(abs(float(Fe[i]) - F_ref[i]) for i in range(2)) <= 8 * U
        assert max(abs(float(Je[i, j]) - J_ref[i, j]) for i in range(2) for j in range(2)) <= 8 * U


def test_negative_variance_is_rejected() -> None:
    with mpmath.workdps(20), pytest.raises(ValueError):
        eg.gaussian_moments("tanh", 0, -1, tol=1e-10)
