"""The fast (NumPy) limit: vs the exact path, vs closed forms, particles, the M = ∞ network."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mforacle.properties.strategies.discrete import activations, models
from mforacle.properties.strategies.limit import MeasureCase, measure_cases

from mforacle.errors import InvalidArgument
from mforacle.exact.limit import solve as exact_solve
from mforacle.fast.limit import (
    ParticleMeasure,
    first_variation_on_particles,
    mean_field_network,
    neuron_gradient,
    probe_values,
    solve,
    solve_particles,
    velocity_on_particles,
)
from mforacle.measures import GaussianPath
from mforacle.model import Model

U = 2.0**-53
GROUPS = ("energy", "Z1", "first_variation", "velocity")


@settings(max_examples=4)
@given(case=measure_cases(model=models(d=st.integers(1, 2), activation=activations(c2_only=True))))
def test_fast_matches_exact(case: MeasureCase) -> None:
    """A1 for the limit: |fast - exact| <= fast's step-doubling estimate + exact's bound.

    C^2 activations only: both solvers' error estimates assume a smooth right-hand side, and
    with regrelu a marginal whose variance of ``w·z + b`` vanishes (or is tiny against eta)
    makes ``F_rho`` only C^1 (documented limitation; the exact path then reports
    ``converged=False``)."""
    fast = solve(case.model, case.measure, case.x, case.y, case.weights, case.probes, steps=32)
    ex = exact_solve(case.model, case.measure, case.x, case.y, case.weights, case.probes,
                     dps=18, tol="1e-10")
    for name in GROUPS:
        a = np.atleast_1d(np.asarray(getattr(fast, name), dtype=np.float64)).reshape(-1)
        b = np.atleast_1d(getattr(ex, name)).reshape(-1).astype(np.float64)
        if a.size == 0:
            continue
        # + the float64 rounding of the exact value itself (u |b|)
        bound = fast.error_bound[name] + float(ex.error_bound[name]) + U * np.max(np.abs(b))
        diff = float(np.max(np.abs(a - b)))
        assert diff <= bound, (
            f"A1 limit {name}: fast (RK4, 32 steps) vs exact differ by {diff:.3g} > {bound:.3g} "
            f"(fast estimate {fast.error_bound[name]:.3g} + exact bound "
            f"{float(ex.error_bound[name]):.3g}); case {case.to_json()}"
        )


def _linear_case():
    model = Model.create(1, "regrelu:0.5", ["1"], "0.25")
    meas = GaussianPath.create(model, 1, [["0.5"], ["0.75"], ["1"]], [[["0"]]] * 3)
    return model, meas


def test_fast_matches_linear_flow() -> None:
    """dZ/dt = u (w Z + b): Z(1) = (x + b/w) e^{uw} - b/w, p(t) = p(1) e^{uw(1-t)}."""
    model, meas = _linear_case()
    xs, ys = np.array([[0.0], [0.5]]), np.array([0.25, 2.0])
    res = solve(model, meas, xs, ys, None, [(0.25, [0.75, -0.5, 0.25])], steps=16)
    w, u, b = 0.5, 0.75, 1.0
    Z1 = (xs[:, 0] + b / w) * math.exp(u * w) - b / w
    g = Z1 + Z1**2 / 8
    energy = float(np.mean((g - ys) ** 2 / 2))
    i = int(np.argmin(np.abs(res.times - 0.25)))
    pt = (g - ys) * (1 + Z1 / 4) * math.exp(u * w * 0.75)
    for name, got, want in (("energy", res.energy, energy), ("Z1", res.Z1[:, 0], Z1),
                            ("p", res.p[i, :, 0], pt)):
        diff = float(np.max(np.abs(np.asarray(got) - want)))
        # reference evaluated in float64: a few u relative
        bound = res.error_bound[name] + 8 * U * float(np.max(np.abs(want)))
        assert diff <= bound, f"{name}: {got} vs closed form {want}: {diff:.3g} > {bound:.3g}"


def _tanh_case():
    model = Model.create(2, "tanh", ["1", "0.5"], "0.25")
    c = [["0.25", "-0.25"], ["0.5"], ["0.375", "0.125"], ["-0.625"], ["0.25", "0.25"]]
    A = [[["0.25"], ["0"]], [["0.125"], ["0.25", "0.125"]], [["0.25"], ["0.25"]],
         [["0"], ["0.375"]], [["0.125"], ["0"]]]
    meas = GaussianPath.create(model, 2, c, A)
    x = np.array([[0.5, -1.0], [0.25, 0.75]])
    y = np.array([0.125, -0.25])
    return model, meas, x, y


def test_particles_converge_to_the_gaussian_limit_at_order_four() -> None:
    """Tensor Gauss–Hermite particles on a depth grid: order 4 in the grid step H = 2/(T-1)
    (fitted slope of log error vs log H in [3.5, 4.5]: the error expands as C4 H^4 + O(H^5)),
    and at the finest grid the particle energy agrees with the Gaussian-path solver within the
    refinement estimates of both."""
    model, meas, x, y = _tanh_case()
    n = 8  # Gauss–Hermite nodes per noise dimension (J = 64)
    ref = solve_particles(model, ParticleMeasure.from_gaussian(model, meas, 257, n), x, y)
    Ts = [9, 17, 33, 65]
    errs = []
    for T in Ts:
        sol = solve_particles(model, ParticleMeasure.from_gaussian(model, meas, T, n), x, y)
        errs.append(abs(sol.energy - ref.energy))
    H = [2 / (T - 1) for T in Ts]
    slope = float(np.polyfit(np.log(H), np.log(errs), 1)[0])
    print(f"particle grid order: H={H} errors={errs} slope={slope:.3f}")
    assert 3.5 <= slope <= 4.5, f"particle depth order: slope {slope:.3f} not in [3.5, 4.5]; " \
                                f"H={H}, errors={errs}"
    # ξ-quadrature: n vs n + 4 nodes estimates the Gauss–Hermite error at n
    ref2 = solve_particles(model, ParticleMeasure.from_gaussian(model, meas, 257, n + 4), x, y)
    gauss = solve(model, meas, x, y, steps=64)
    est = abs(ref.energy - ref2.energy) + errs[-1] * (2 / 256) ** 4 / H[-1] ** 4 * 2
    diff = abs(ref.energy - gauss.energy)
    bound = 2 * est + gauss.error_bound["energy"] + 64 * U
    assert diff <= bound, (f"particles (T=257, n={n}) vs Gaussian solver: {diff:.3g} > "
                           f"{bound:.3g} (GH estimate {abs(ref.energy - ref2.energy):.3g})")


def test_velocity_on_particles_matches_probes() -> None:
    """V on every particle equals probe_values at the same (theta, t) with the solution's Z, p."""
    model, meas, x, y = _tanh_case()
    parts = ParticleMeasure.from_gaussian(model, meas, 9, 3)
    sol = solve_particles(model, parts, x, y)
    V = velocity_on_particles(model, parts, sol)
    fv = first_variation_on_particles(model, parts, sol)
    assert V.shape == parts.nodes.shape and fv.shape == parts.nodes.shape[:2]
    for i in (0, 3, 8):
        f2, V2 = probe_values(model, sol.Z[i], sol.p[i], sol.weights, parts.nodes[i])
        assert np.array_equal(V[i], V2) and np.array_equal(fv[i], f2)
    # odd grid points (Hermite-interpolated Z, p) agree with a fine Gaussian solve within the
    # particle method's own refinement estimate (T vs 2T-1, n vs n+4)
    g = solve(model, meas, x, y, steps=64)
    j = int(np.argmin(np.abs(g.times - 3 / 8)))
    fine = solve_particles(model, ParticleMeasure.from_gaussian(model, meas, 17, 7), x, y)
    est = float(np.max(np.abs(sol.Z[3] - fine.Z[6]))) + float(np.max(np.abs(g.Z[j] - fine.Z[6])))
    diff = float(np.max(np.abs(sol.Z[3] - g.Z[j])))
    assert diff <= 2 * est + g.error_bound["Z"], (diff, est)


def test_mean_field_network_adjoint_is_exact() -> None:
    """q_0 of the M = ∞ network = d loss_n / d x_n (Richardson central differences, float64)."""
    model, meas, x, y = _tanh_case()
    net = mean_field_network(model, meas, x, y, L=16)
    h = 1e-3

    def loss_n(n, xn):
        xx = x.copy()
        xx[n] = xn
        r = mean_field_network(model, meas, xx, y, L=16)
        gz = r.z[-1] @ np.array([1.0, 0.5]) + 0.125 * np.sum(r.z[-1] ** 2, axis=1)
        return 0.5 * (gz[n] - y[n]) ** 2

    for n in range(2):
        for i in range(2):
            def cd(step, n=n, i=i):
                e = np.zeros(2)
                e[i] = step
                return (loss_n(n, x[n] + e) - loss_n(n, x[n] - e)) / (2 * step)

            r1 = (4 * cd(h) - cd(2 * h)) / 3
            r2 = (4 * cd(2 * h) - cd(4 * h)) / 3
            # truncation of r1 <= |r1 - r2| (r2's is 16x larger); roundoff of the quotients:
            # 2 u max(loss) (1 + 1/4 + ...) / h, over-estimated as 8 u / h
            bound = abs(r1 - r2) + 8 * U / h
            assert abs(net.q[0, n, i] - r1) <= bound, (n, i, net.q[0, n, i], r1, bound)


def test_neuron_gradient_matches_finite_difference_of_a_wide_network() -> None:
    """neuron_gradient = d/d(eps) of the M = ∞ network's loss when a point mass eps·delta_theta
    is added to layer l, divided by eps: F_l += eps f(z, theta) (central difference)."""
    model, meas, x, y = _tanh_case()
    L, l = 8, 3
    theta = np.array([0.5, -0.25, 0.75, 0.5, -0.125])
    net = mean_field_network(model, meas, x, y, L=L)
    G = neuron_gradient(model, net, l, theta)[0]
    from mforacle.fast.activations import get
    from mforacle.fast.gaussian import GaussianPathArrays, drift

    path = GaussianPathArrays.of(meas)
    act = get("tanh")

    def energy(eps, dtheta):
        th = theta + dtheta
        z = x.copy()
        for k in range(L):
            F = drift(model, path.at(k / L), z)
            if k == l:
                pre = np.array(z @ th[:2] + th[4])
                F = F + eps * th[2:4] * act.sigma(pre)[:, None]
            z = z + F / L
        g = z @ np.array([1.0, 0.5]) + 0.125 * np.sum(z**2, axis=1)
        return float(np.mean(0.5 * (g - y) ** 2))

    # G = L d^2E/(d eps d theta): the neuron's mass eps enters layer l's step as eps f / L.
    def mixed(eps, h, k):
        e = np.zeros(5)
        e[k] = h
        return L * (energy(eps, e) - energy(eps, -e) - energy(-eps, e) + energy(-eps, -e)) \
            / (4 * eps * h)

    eps = h = 1e-3
    for k in range(5):
        v1, v2 = mixed(eps, h, k), mixed(2 * eps, 2 * h, k)
        # truncation C (eps^2 + h^2): v2's is 4x v1's, so |v1 - v2| >= 3 |trunc(v1)|; roundoff
        # of the four energies (each <= 1, relative error a few u): 4 * 4u L / (4 eps h)
        bound = abs(v1 - v2) + 4 * U * L / (eps * h)
        assert abs(v1 - G[k]) <= bound, (
            f"B2 (M=inf): neuron_gradient[{k}] = {G[k]} vs mixed difference {v1}: "
            f"{abs(v1 - G[k]):.3g} > {bound:.3g}"
        )


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda m, g: ParticleMeasure.create(m, np.zeros((4, 2, m.k)), [0.5, 0.5]), "nodes"),
        (lambda m, g: ParticleMeasure.create(m, np.zeros((3, 2, m.k)), [1.5, -0.5]), "weights[1]"),
        (lambda m, g: ParticleMeasure.create(m, np.zeros((3, 2, m.k)), [0.5, 0.6]), "weights"),
        (lambda m, g: solve(m, g, [[0.0, 0.0]], [0.0], steps=0), "steps"),
        (lambda m, g: mean_field_network(m, g, [[0.0, 0.0]], [0.0], L=0), "L"),
        (lambda m, g: ParticleMeasure.from_gaussian(m, g, 4, 3), "T"),
        (lambda m, g: solve(m, g, [[0.0, 0.0]], [0.0], None, [(1.5, [0] * 5)]), "probes[0].t"),
    ],
)
def test_bad_inputs_raise(call, field) -> None:
    model, meas, _x, _y = _tanh_case()
    with pytest.raises(InvalidArgument) as err:
        call(model, meas)
    assert err.value.field == field


def test_neuron_gradient_rejects_bad_layer() -> None:
    model, meas, x, y = _tanh_case()
    net = mean_field_network(model, meas, x, y, L=4)
    with pytest.raises(InvalidArgument):
        neuron_gradient(model, net, 4, np.zeros(5))


def test_fraction_probes_are_accepted() -> None:
    model, meas, x, y = _tanh_case()
    r = solve(model, meas, x, y, None, [(Fraction(1, 3), [Fraction(1, 2)] * 5)], steps=8,
              estimate_error=False)
    assert r.velocity.shape == (1, 5) and r.error_bound == {}
    with mpmath.workdps(15):
        assert np.any(np.isclose(r.times, 1 / 3))
