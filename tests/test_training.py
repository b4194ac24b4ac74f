"""mforacle.training: GD in the paper's time, the stable step, the particle flow."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, note

from mforacle.errors import InvalidArgument
from mforacle.fast.network import loss_and_grad
from mforacle.model import Model
from mforacle.training import gradient_descent, stable_step
from properties.strategies.training import step_fractions, training_cases

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
    """Duplicating every neuron (M -> 2M) leaves the network function unchanged (model.md §6) and
    halves each neuron's gradient while L·M doubles, so the GD trajectory in s is the same.
    A trainer missing the L·M factor would move the duplicated network half as fast."""
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


@given(case=training_cases(), fraction=step_fractions())
def test_a_step_below_stable_step_decreases_the_loss(case, fraction):
    """One GD step at Δs = f·stable_step lowers E (or leaves it within roundoff)."""
    from properties.claims.training import loss_roundoff

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
    norm = float(np.max(np.abs(np.linalg.eigvalsh(H))))
    got = stable_step(case.model, th, case.x, case.y, case.weights, iterations=100)
    LM = th.shape[0] * th.shape[1]
    # power iteration after k steps underestimates ‖H‖ by at most max_δ δ(1-δ)^(2k) <= 1/(2ek)
    # relative (eigenvalue ratio 1-δ); FD Hessian entries carry ~1e-10 relative error
    k = 100
    tol = 1 / (2 * math.e * k) + 1e-6
    assert got <= 1.0 / (LM * norm) * (1 + tol), (got, 1.0 / (LM * norm), tol)
