"""mforacle.training: GD in the paper's time, the stable step, the particle flow."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, note
from mforacle.properties.strategies.training import step_fractions, training_cases

from mforacle.errors import InvalidArgument
from mforacle.fast.network import loss_and_grad
from mforacle.model import Model
from mforacle.training import gradient_descent, stable_step

U = 2.0**-53


def _case():
    rng = np.random.default_rng(3)
    model = Model.create(2, "tanh", [1, -0.5])
    return model, rng.normal(size=(3, 4, 5)), rng.normal(size=(5, 2)), rng.normal(size=5)


def test_validation_is_typed_and_early():
    model, th, x, y = _case()
    calls = []

    def lg(*a):
        calls.append(1)
        return loss_and_grad(*a)

    bad = [
        dict(ds=0.0, steps=1),
        dict(ds=-1.0, steps=1),
        dict(ds=math.nan, steps=1),
        dict(ds=True, steps=1),
        dict(ds=0.1, steps=-1),
        dict(ds=0.1, steps=1.5),
        dict(ds=0.1, steps=1, record_every=0),
        dict(ds=0.1, steps=1, lam=-0.1),
    ]
    for kw in bad:
        with pytest.raises(InvalidArgument):
            gradient_descent(model, th, x, y, loss_and_grad=lg, **kw)
    with pytest.raises(InvalidArgument):
        gradient_descent(model, th[..., :3], x, y, ds=0.1, steps=1, loss_and_grad=lg)
    with pytest.raises(InvalidArgument):
        gradient_descent("tanh", th, x, y, ds=0.1, steps=1, loss_and_grad=lg)
    with pytest.raises(InvalidArgument):
        gradient_descent(model, th, x, y[:2], ds=0.1, steps=1, loss_and_grad=lg)
    with pytest.raises(InvalidArgument, match="lam"):
        gradient_descent(model, th, x, y, ds=0.1, steps=2, lam=lambda s: -1.0)
    assert calls == [], "validation must happen before any work"
    with pytest.raises(InvalidArgument):
        stable_step(model, th, x, y, iterations=0)


def test_one_step_is_gd_with_learning_rate_ds_LM():
    model, th, x, y = _case()
    ds, lam = 0.05, 0.3
    e0, g0 = loss_and_grad(model, th, x, y)
    hist = gradient_descent(model, th, x, y, ds=ds, steps=1, lam=lam)
    LM = th.shape[0] * th.shape[1]
    expect = th - ds * (LM * g0 + lam * th)
    # same float operations in the same order: identical up to one rounding per entry
    np.testing.assert_allclose(hist.theta, expect, rtol=4 * U, atol=0)
    assert hist.loss[0] == e0
    assert hist.dissipation[0] == pytest.approx(LM * np.sum(g0 * g0), rel=4 * U * g0.size)
    assert list(hist.s) == [0.0, ds]


def test_recording_and_determinism():
    model, th, x, y = _case()
    h1 = gradient_descent(model, th, x, y, ds=0.05, steps=7, record_every=3, keep_thetas=True)
    h2 = gradient_descent(model, th, x, y, ds=0.05, steps=7, record_every=3)
    assert np.allclose(h1.s, [0, 0.15, 0.3, 0.35], rtol=0, atol=1e-15), h1.s
    assert len(h1.thetas) == 4
    assert np.array_equal(h1.theta, h2.theta) and np.array_equal(h1.loss, h2.loss)


def test_time_dependent_weight_decay_shrinks_a_critical_point():
    """At zero data gradient (all u = 0 and labels equal to the readout of x: ∇E = 0 for u, and
    w, b get no gradient because u = 0) only weight decay acts: Θ_{n} = Π (1 − Δs λ(s_j)) Θ_0."""
    model = Model.create(1, "tanh", [1])
    th = np.zeros((2, 2, 3))
    th[..., 0] = 0.5
    th[..., 2] = -0.25
    x = np.array([[0.5], [1.0]])
    y = x[:, 0].copy()
    lam = lambda s: 1.0 / (1.0 + s)  # noqa: E731
    h = gradient_descent(model, th, x, y, ds=0.1, steps=5, lam=lam)
    factor = np.prod([1 - 0.1 * lam(0.1 * j) for j in range(5)])
    np.testing.assert_allclose(h.theta, factor * th, rtol=16 * U)
    assert np.all(h.loss == 0.0)


def test_rescaled_time_is_width_invariant():
    """Duplicating every neuron (M -> 2M) leaves the network function unchanged
    (docs/model.md §6.2) and halves each neuron's gradient while L·M doubles, so the GD
    trajectory in s is the same. A trainer missing the L·M factor would move the duplicated
    network half as fast."""
    model, th, x, y = _case()
    h1 = gradient_descent(model, th, x, y, ds=0.1, steps=20)
    h2 = gradient_descent(model, np.concatenate([th, th], axis=1), x, y, ds=0.1, steps=20)
    # both runs are ~20 steps of O(1)-conditioned float64 updates: agreement to ~1e-12 relative
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-11, atol=0)
    np.testing.assert_allclose(h2.theta[:, :4], h1.theta, rtol=1e-10, atol=1e-13)


def test_stable_step_on_quadratic_is_exact():
    """E = ½ Σ h_i θ_i²: Hessian diag(h), so Δs* = 1/(L·M·max h) (finite differences of a linear
    gradient are exact up to roundoff; power iteration converges to the top eigenvalue)."""
    model = Model.create(1, "tanh")
    h = np.linspace(0.5, 3.0, 2 * 3 * 3).reshape(2, 3, 3)

    def quad(model, theta, x, y, w):
        return 0.5 * float(np.sum(h * theta**2)), h * theta

    th = np.ones((2, 3, 3))
    got = stable_step(model, th, [[0.0]], [0.0], iterations=200, loss_and_grad=quad)
    assert got == pytest.approx(1.0 / (6 * 3.0), rel=1e-6), got


def test_stable_step_needs_the_curvature_along_the_step():
    """E = Σ_i (exp(−θ_i) + b θ_i) at Θ = 0: ‖H(Θ)‖ = 1, but the curvature e^(−θ) grows
    along the descent direction. The power-iteration estimate alone (K₀ = 1) gives
    Δs₀ = 1/(L·M), a step that moves every entry by −(b − 1) = −4 and *raises* E. The guarantee
    of the module doc needs Δs·L·M·sup_segment ‖H‖ <= 2, and on the segment from 0 to
    −(b − 1)·Δs·L·M the sup is exactly e^((b−1)·Δs·L·M): the secant part of stable_step must
    bring Δs down until that holds (it gives K ≈ (e⁴ − 1)/4, Δs·L·M ≈ 0.075, sup ≈ 1.35)."""
    model = Model.create(1, "tanh")
    b = 5.0
    shape = (2, 3, 3)
    LM = shape[0] * shape[1]

    def lg(model, theta, x, y, w):
        return float(np.sum(np.exp(-theta) + b * theta)), b - np.exp(-theta)

    th = np.zeros(shape)
    e0 = lg(model, th, None, None, None)[0]
    # the case needs the segment part: the step from the Hessian at Θ alone raises E
    ds_power = 1.0 / (LM * 1.0)
    raised = gradient_descent(model, th, [[0.0]], [0.0], ds=ds_power, steps=1, loss_and_grad=lg)
    assert raised.loss[1] > e0, (raised.loss, "the test case no longer exercises the segment")
    got = stable_step(model, th, [[0.0]], [0.0], loss_and_grad=lg)
    h = got * LM  # learning rate: each entry moves by −(b − 1)·h
    sup_h = math.exp((b - 1) * h)
    assert h * sup_h <= 2.0, (got, h, sup_h, "Taylor's sufficient condition fails on the segment")
    step = gradient_descent(model, th, [[0.0]], [0.0], ds=got, steps=1, loss_and_grad=lg)
    assert step.loss[1] < e0, (step.loss, got)


@given(case=training_cases(), fraction=step_fractions())
def test_a_step_below_stable_step_decreases_the_loss(case, fraction):
    """One GD step at Δs = f·stable_step lowers E (or leaves it within roundoff)."""
    from mforacle.claims.training import loss_roundoff

    ds = fraction * stable_step(case.model, case.theta0, case.x, case.y, case.weights)
    note(f"ds = {ds}")
    if not math.isfinite(ds):
        return
    h = gradient_descent(case.model, case.theta0, case.x, case.y, case.weights, ds=ds, steps=1)
    allow = loss_roundoff(case.model, case.theta0, case.x, case.y, case.weights) + loss_roundoff(
        case.model, h.theta, case.x, case.y, case.weights
    )
    assert h.loss[1] - h.loss[0] <= allow, (h.loss, allow, ds, case.to_json())


@given(case=training_cases(L=1, M=2, N=2))
def test_stable_step_is_below_full_hessian_bound(case):
    """Δs* <= 1/(L·M·‖H(Θ)‖₂) with H the full Hessian from central differences of the gradient
    (tiny networks: k·L·M <= 10 parameters). Power iteration and the secant can only raise K."""
    th = case.theta0
    n = th.size
    eps = 2.0**-17
    H = np.empty((n, n))
    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        gp = loss_and_grad(case.model, th + e.reshape(th.shape), case.x, case.y, case.weights)[1]
        gm = loss_and_grad(case.model, th - e.reshape(th.shape), case.x, case.y, case.weights)[1]
        H[:, i] = (gp - gm).ravel() / (2 * eps)
    H = (H + H.T) / 2
    lam, vecs = np.linalg.eigh(H)
    top = int(np.argmax(np.abs(lam)))
    norm = float(abs(lam[top]))
    k = 300
    got = stable_step(case.model, th, case.x, case.y, case.weights, iterations=k, seed=0)
    LM = th.shape[0] * th.shape[1]
    # Power iteration from v0 (stable_step's start: default_rng(seed).standard_normal) after k
    # steps underestimates ‖H‖ by at most (1/c1² − 1) max_δ δ(1−δ)^(2k) <= (1/c1² − 1)/(2ek)
    # relative, c1 = <v0, top eigenvector>; FD Hessian entries carry ~1e-8 relative error.
    v0 = np.random.default_rng(0).standard_normal(th.shape).ravel()
    c1 = float(v0 @ vecs[:, top]) / float(np.linalg.norm(v0))
    tol = (1 / max(c1 * c1, 1e-300) - 1) / (2 * math.e * k) + 1e-6
    note(f"c1 = {c1}, eigenvalues {lam}")
    assert got <= 1.0 / (LM * norm) * (1 + tol), (got, 1.0 / (LM * norm), tol)


# --------------------------------------------------------------------------- particle flow


def _flow_case():
    from mforacle.claims.training import builtin_flow_case

    return builtin_flow_case(0)


def test_particle_flow_validation():
    from mforacle.fast.limit import ParticleMeasure
    from mforacle.training import particle_flow

    c = _flow_case()
    pm = ParticleMeasure.from_gaussian(c.model, c.measure, 5, 3)
    with pytest.raises(InvalidArgument):
        particle_flow(c.model, c.measure, c.x, c.y, ds=0.1, steps=1)  # T, n missing
    with pytest.raises(InvalidArgument):
        particle_flow(c.model, pm, c.x, c.y, ds=0.1, steps=1, T=5)
    with pytest.raises(InvalidArgument):
        particle_flow(c.model, "rho", c.x, c.y, ds=0.1, steps=1)
    with pytest.raises(InvalidArgument):
        particle_flow(c.model, pm, c.x, c.y, ds=-0.1, steps=1)


def test_particle_flow_weights_fixed_and_energy_matches_gaussian_solver():
    """At s = 0 the Gauss–Hermite particle energy matches the Stein/quadrature solver of the
    Gaussian measure (independent code: mforacle.fast.limit.solve) to the particle reference's
    own error (n = 24 nodes: ~1e-8 here; depth error O(T^-4) ~1e-10); weights never change."""
    from mforacle.fast.limit import solve
    from mforacle.training import particle_flow

    c = _flow_case()
    h = particle_flow(c.model, c.measure, c.x, c.y, ds=0.1, steps=3, T=33, n=24)
    e_ref = solve(c.model, c.measure, c.x, c.y, steps=128).energy
    assert abs(h.loss[0] - e_ref) < 1e-7, (h.loss[0], e_ref)
    assert h.particles.weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.all(np.diff(h.loss) < 0), h.loss


def test_particle_flow_converges_as_particles_and_depth_grid_refine():
    """E(ρ(s)) at s = 1 on a ladder of (T, n): differences to the finest rung shrink
    monotonically, and the two finest rungs agree to < 1e-6 (quadrature in ξ is spectral for
    tanh, depth RK4 is order 4)."""
    from mforacle.training import particle_flow

    c = _flow_case()
    ladder = [(5, 4), (9, 8), (17, 16), (33, 24), (65, 32)]
    finals = [
        particle_flow(c.model, c.measure, c.x, c.y, ds=0.1, steps=10, T=T, n=n).loss[-1]
        for T, n in ladder
    ]
    diffs = [abs(e - finals[-1]) for e in finals[:-1]]
    assert all(a > b for a, b in itertools.pairwise(diffs)), diffs
    assert diffs[-1] < 1e-6, diffs


def test_particle_flow_in_s_converges_at_order_one():
    """Explicit Euler in s: E(ρ(S)) with Δs, Δs/2, Δs/4 — differences halve (ratio in
    2^(1±0.15), the B1 window)."""
    from mforacle.training import particle_flow

    c = _flow_case()
    e = [
        particle_flow(c.model, c.measure, c.x, c.y, ds=0.2 / 2**h, steps=5 * 2**h, T=9, n=6).loss[
            -1
        ]
        for h in range(4)
    ]
    d = [abs(e[i] - e[i + 1]) for i in range(3)]
    assert 2**0.85 <= d[1] / d[2] <= 2**1.15, (e, d)
