"""``mforacle.stats`` against SciPy, an independent implementation of the same statistics.

mforacle's runtime keeps its own small implementations (mpmath for the t quantile, NumPy for the
fits; no SciPy in the CLI's dependencies); SciPy is a test dependency that cross-checks each:

- ``t_quantile`` vs ``scipy.stats.t.ppf`` and, for ``dof = inf``, ``scipy.stats.norm.ppf``;
- ``fit_slope`` vs ``scipy.stats.linregress`` on the logs (slope, intercept, standard error) with
  the interval ``slope ± t.ppf((1+c)/2, n-2)·stderr``;
- ``fit_slope_weighted`` vs ``scipy.optimize.curve_fit`` with ``sigma`` = the per-point SEs and
  ``absolute_sigma=True`` (the slope's SE from the weighted normal equations);
- ``mean_interval`` vs ``scipy.stats.t.interval`` with ``scipy.stats.sem``;
- ``isotonic_regression`` and ``monotone_floor`` (distinct inputs) vs
  ``scipy.optimize.isotonic_regression``.

Tolerances: ``t_quantile`` bisects to 1e-14 relative at 30 digits; SciPy's ``t.ppf`` (Boost) is
accurate to a few ulps, so agreement to 1e-11 relative leaves a wide margin while a wrong degrees
of freedom (``dof ± 1``), the normal quantile in place of t, or a one-sided level moves the value
by 1e-3 or more (:func:`test_the_comparison_catches_off_by_one_dof`). The fits are short float64
sums (n <= 12 points of size <= 40): their roundoff is below 1e-12 relative; we allow 1e-9 (and
SciPy's own rounding where its formula cancels: see the slope's standard error).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mforacle.stats import (
    fit_slope,
    fit_slope_weighted,
    isotonic_regression,
    mean_interval,
    monotone_floor,
    t_quantile,
)

scipy_stats = pytest.importorskip("scipy.stats", reason="SciPy is a test dependency")
scipy_optimize = pytest.importorskip("scipy.optimize")

T_REL = 1e-11
FIT_REL = 1e-9
EPS = 2.0**-52

PROBABILITIES = [0.5 + 1e-6, 0.55, 0.75, 0.9, 0.95, 0.975, 0.99, 0.995, 0.9995, 1 - 1e-7]
DOFS = [0.5, 1, 1.5, 2, 3, 4.25, 5, 10, 30, 100, 1e4, 1e7]


@pytest.mark.parametrize("dof", DOFS)
def test_t_quantile_matches_scipy(dof):
    for p in PROBABILITIES:
        want = float(scipy_stats.t.ppf(p, dof))
        assert t_quantile(p, dof) == pytest.approx(want, rel=T_REL), (p, dof)
        assert t_quantile(1 - p, dof) == pytest.approx(-want, rel=T_REL), (1 - p, dof)


def test_normal_quantile_matches_scipy():
    for p in [*PROBABILITIES, 0.6, 0.8, 0.999]:
        want = float(scipy_stats.norm.ppf(p))
        assert t_quantile(p, math.inf) == pytest.approx(want, rel=T_REL), p
        assert t_quantile(1 - p, math.inf) == pytest.approx(-want, rel=T_REL), p


@given(
    p=st.floats(1e-6, 1 - 1e-6).filter(lambda p: abs(p - 0.5) > 1e-9),
    dof=st.floats(0.5, 1e6),
)
def test_t_quantile_matches_scipy_anywhere(p, dof):
    assert t_quantile(p, dof) == pytest.approx(float(scipy_stats.t.ppf(p, dof)), rel=T_REL)


def test_the_comparison_catches_off_by_one_dof():
    """The deliberately wrong quantiles (dof ± 1, the normal in place of t, a one-sided level)
    differ from SciPy by far more than the tolerance, at every level a verdict uses."""
    for dof in (2, 3, 5, 10, 30):
        for conf in (0.95, 0.99, 0.999):
            p = (1 + conf) / 2
            want = float(scipy_stats.t.ppf(p, dof))
            for wrong in (
                t_quantile(p, dof + 1),
                t_quantile(p, dof - 1),
                t_quantile(p, math.inf),
                t_quantile(conf, dof),
            ):
                assert abs(wrong - want) > 1e3 * T_REL * want, (dof, conf, wrong, want)


def _ladder_errors(draw_seed: int, n: int, slope: float, noise: float):
    rng = np.random.default_rng(draw_seed)
    ladder = 2.0 ** np.arange(1, n + 1)
    errors = np.exp(0.3 + slope * np.log(ladder) + rng.normal(0.0, noise, n))
    return ladder, errors


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(3, 12),
    slope=st.floats(-3, 3),
    noise=st.floats(1e-3, 1.0),
    confidence=st.sampled_from([0.9, 0.95, 0.99, 0.999]),
)
def test_fit_slope_matches_linregress(seed, n, slope, noise, confidence):
    ladder, errors = _ladder_errors(seed, n, slope, noise)
    fit = fit_slope(ladder, errors, confidence=confidence)
    ref = scipy_stats.linregress(np.log(ladder), np.log(errors))
    assert fit.slope == pytest.approx(ref.slope, rel=FIT_REL, abs=1e-12)
    assert fit.intercept == pytest.approx(ref.intercept, rel=FIT_REL, abs=1e-12)
    # linregress forms stderr from sqrt((1 - r²)·...): r² is within a few ulps, so 1 - r² (and
    # with it stderr) carries a relative error of about 4ε/(1 - r²) (1e-8 when the noise is tiny)
    se_rel = FIT_REL + 4 * EPS / max(1 - ref.rvalue**2, EPS)
    assert fit.se == pytest.approx(ref.stderr, rel=se_rel)
    assert fit.dof == n - 2
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, n - 2)) * fit.se
    assert fit.ci[0] == pytest.approx(ref.slope - half, rel=FIT_REL, abs=1e-12)
    assert fit.ci[1] == pytest.approx(ref.slope + half, rel=FIT_REL, abs=1e-12)


@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(3, 10),
    dof=st.integers(1, 500),
    confidence=st.sampled_from([0.95, 0.99, 0.999]),
)
def test_fit_slope_weighted_matches_curve_fit(seed, n, dof, confidence):
    rng = np.random.default_rng(seed)
    ladder, errors = _ladder_errors(seed, n, -1.0, 0.1)
    log_se = rng.uniform(0.02, 0.5, n)
    fit = fit_slope_weighted(ladder, errors, log_se, dof=dof, confidence=confidence)
    x, y = np.log(ladder), np.log(errors)
    popt, pcov = scipy_optimize.curve_fit(
        lambda x, a, b: a * x + b,
        x,
        y,
        p0=(-1.0, 0.0),
        sigma=log_se,
        absolute_sigma=True,
        jac=lambda x, a, b: np.stack([x, np.ones_like(x)], axis=1),  # exact: linear model
    )
    # curve_fit iterates (Levenberg–Marquardt) to its default xtol/ftol 1.5e-8 on the parameters
    assert fit.slope == pytest.approx(popt[0], rel=1e-7, abs=1e-7)
    assert fit.intercept == pytest.approx(popt[1], rel=1e-7, abs=1e-7)
    se = math.sqrt(pcov[0, 0])  # (JᵀWJ)⁻¹ at the exact Jacobian: a closed form, no iteration
    assert fit.se == pytest.approx(se, rel=FIT_REL)
    half = float(scipy_stats.t.ppf((1 + confidence) / 2, dof)) * se
    assert fit.ci[1] - fit.ci[0] == pytest.approx(2 * half, rel=FIT_REL)


@given(
    values=st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30).filter(
        lambda v: max(v) - min(v) > 1e-3
    ),
    confidence=st.sampled_from([0.9, 0.95, 0.99, 0.999]),
)
def test_mean_interval_matches_scipy(values, confidence):
    m, (lo, hi) = mean_interval(values, confidence=confidence)
    v = np.asarray(values)
    ref_lo, ref_hi = scipy_stats.t.interval(
        confidence, v.size - 1, loc=v.mean(), scale=scipy_stats.sem(v)
    )
    scale = max(1.0, float(np.abs(v).max()))
    assert m == pytest.approx(float(v.mean()), abs=FIT_REL * scale)
    assert lo == pytest.approx(ref_lo, abs=FIT_REL * scale * 10)
    assert hi == pytest.approx(ref_hi, abs=FIT_REL * scale * 10)


@given(
    y=st.lists(st.floats(-10, 10), min_size=1, max_size=40),
    data=st.data(),
    increasing=st.booleans(),
)
def test_isotonic_regression_matches_scipy(y, data, increasing):
    w = data.draw(st.lists(st.floats(0.1, 10), min_size=len(y), max_size=len(y)), label="w")
    ours = isotonic_regression(y, w, increasing=increasing)
    ref = scipy_optimize.isotonic_regression(y, weights=w, increasing=increasing).x
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)


@given(
    n=st.integers(1, 30),
    seed=st.integers(0, 2**32 - 1),
    increasing=st.booleans(),
)
def test_monotone_floor_matches_scipy_without_ties(n, seed, increasing):
    rng = np.random.default_rng(seed)
    x = rng.permutation(n).astype(float)  # distinct inputs, shuffled
    y = rng.normal(size=n)
    w = rng.uniform(0.1, 1.0, n)
    order = np.argsort(x)
    fit = scipy_optimize.isotonic_regression(y[order], weights=w[order], increasing=increasing).x
    want = 0.5 * float(np.dot(w[order], (y[order] - fit) ** 2))
    assert monotone_floor(x, y, w, increasing=increasing) == pytest.approx(want, abs=1e-10)
