"""Degenerate Gaussians (v = 0): the moments are the activation's values at the mean, and they
are the limit of the moments as v -> 0 (gaps found by mutation testing)."""

import mpmath
import numpy as np
import pytest

from mforacle.exact.activations import exact_activation
from mforacle.exact.gaussian import gaussian_moments as exact_moments
from mforacle.fast.gaussian import gaussian_moments as fast_moments
from mforacle.model import Activation

SPECS = ["tanh", "sigmoid", "softplus", "sin", "erf", "regrelu:0.5"]
MEANS = ["-0.75", "-0.25", "0.1", "0.3", "1.5"]  # regrelu: below, inside (three), above


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("m", MEANS)
def test_v0_moments_are_sigma_and_derivatives_at_the_mean(spec, m):
    act = Activation.parse(spec)
    sig = exact_activation(act)
    with mpmath.workdps(30):
        mm = mpmath.mpf(m)
        got = exact_moments(act, mm, mpmath.mpf(0), tol=mpmath.mpf(10) ** -25)
        want = (sig.sigma(mm), sig.d1(mm), sig.d2(mm), 0)
        for j in range(4):
            assert abs(got[j] - want[j]) <= mpmath.mpf(10) ** -25, (spec, m, j, got[j], want[j])
    fast = fast_moments(act, np.array([float(m)]), np.array([0.0]))
    for j in range(4):
        # float64: the value itself rounded, and the activation's own accuracy (<= 8 u)
        assert abs(fast[j][0] - float(want[j])) <= 16 * 2**-53 * max(1.0, abs(float(want[j]))), (
            spec, m, j, fast[j][0], float(want[j]))


@pytest.mark.parametrize("spec", SPECS)
def test_moments_are_continuous_as_v_goes_to_0(spec):
    """E[σ^(j)(Y)] = σ^(j)(m) + v σ^(j+2)(m)/2 + O(v²): at v = 1e-12 the moments differ from
    the v = 0 values by at most ~1e-12 times a bound on σ^(j+2) (≤ 10 here; regrelu's middle
    piece is quadratic, so E0 moves by v/(4η) and E1, E2 not at all away from the kinks)."""
    act = Activation.parse(spec)
    with mpmath.workdps(40):
        for m in ("-0.25", "0.3"):
            mm = mpmath.mpf(m)
            a = exact_moments(act, mm, mpmath.mpf(0), tol=mpmath.mpf(10) ** -30)
            b = exact_moments(act, mm, mpmath.mpf("1e-12"), tol=mpmath.mpf(10) ** -30)
            for j in range(3):
                assert abs(a[j] - b[j]) <= 10 * mpmath.mpf("1e-12"), (spec, m, j, a[j], b[j])


def test_particle_grid_times_are_the_depths_of_the_nodes():
    """ParticleMeasure.times[i] is the depth t_i at which nodes[i] sit (t from 0 to 1)."""
    from mforacle.fast.limit import ParticleMeasure
    from mforacle.measures import GaussianPath
    from mforacle.model import Model

    model = Model.create(1, "tanh")
    # c(t) = (t, 2t, -t): the nodes' mean at depth t reveals t; A = 0.1 (constant)
    measure = GaussianPath.create(model, 1, [["0", "1"], ["0", "2"], ["0", "-1"]],
                                  [[["0.1"]], [["0.1"]], [["0.1"]]])
    pm = ParticleMeasure.from_gaussian(model, measure, 9, 4)
    t = pm.times
    assert t[0] == 0 and t[-1] == 1 and len(t) == 9
    mean = pm.nodes.mean(axis=1)  # symmetric Gauss–Hermite nodes: the mean is c(t)
    np.testing.assert_allclose(mean[:, 0], t, atol=1e-15)
