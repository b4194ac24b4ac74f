"""Statistics helpers: t quantiles against printed tables, slope fits, PAVA against brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mforacle.errors import InvalidArgument
from mforacle.stats import (
    fit_slope,
    fit_slope_weighted,
    isotonic_regression,
    mean_interval,
    mean_square_log_se,
    monotone_floor,
    t_quantile,
)

# Student-t two-sided 95% / 99% critical values as printed in standard tables (4 decimals).
T_TABLE = [
    (0.975, 1, 12.7062),
    (0.975, 2, 4.3027),
    (0.975, 3, 3.1824),
    (0.975, 5, 2.5706),
    (0.975, 10, 2.2281),
    (0.975, 30, 2.0423),
    (0.995, 4, 4.6041),
    (0.95, 7, 1.8946),
    (0.975, math.inf, 1.9600),
    (0.995, math.inf, 2.5758),
]


@pytest.mark.parametrize(("p", "dof", "expected"), T_TABLE)
def test_t_quantile_matches_table(p, dof, expected):
    got = t_quantile(p, dof)
    # table values are rounded to 4 decimals: |error| <= 5e-5 (+ bisection 1e-12)
    assert abs(got - expected) <= 5e-5, f"t_{p},{dof} = {got}, table {expected}"
    assert t_quantile(1 - p, dof) == pytest.approx(-got, abs=1e-12)


def test_t_quantile_validates():
    for bad in (0.0, 1.0, -0.1, True, "0.5"):
        with pytest.raises(InvalidArgument):
            t_quantile(bad, 3)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument):
        t_quantile(0.9, 0)


@settings(max_examples=20)
@given(slope=st.floats(-3, 3), intercept=st.floats(-5, 5), n=st.integers(3, 6))
def test_fit_slope_exact_line(slope, intercept, n):
    ladder = 2.0 ** np.arange(n)
    errors = np.exp(intercept) * ladder**slope
    fit = fit_slope(ladder, errors)
    # exact power law: only float64 roundoff of log/exp (~1e-15 relative) separates fit and truth
    assert fit.slope == pytest.approx(slope, abs=1e-9), fit
    assert fit.intercept == pytest.approx(intercept, abs=1e-8), fit
    assert fit.ci[0] - 1e-9 <= slope <= fit.ci[1] + 1e-9


def test_fit_slope_interval_covers_at_stated_rate():
    """Coverage of the 90% OLS interval over 400 noisy lines, fixed seed. With true coverage
    0.9 the count of hits is Binomial(400, 0.9): mean 360, sd 6; we require 340..380 (±3.3 sd),
    which a broken interval (e.g. normal quantile with 3 dof, coverage ~0.80) would miss."""
    rng = np.random.default_rng(12345)
    ladder = np.array([2.0, 4.0, 8.0, 16.0, 32.0])
    hits = 0
    for _ in range(400):
        noise = rng.normal(0.0, 0.1, ladder.size)
        fit = fit_slope(
            ladder, np.exp(1.0 - np.log(ladder) + noise), confidence=0.9
        )
        hits += fit.contains(-1.0)
    assert 340 <= hits <= 380, f"90% interval covered the true slope {hits}/400 times"


def test_fit_slope_two_points_and_validation():
    fit = fit_slope([1, 2], [1.0, 0.5])
    assert fit.slope == pytest.approx(-1.0)
    assert fit.ci == (-math.inf, math.inf)
    with pytest.raises(InvalidArgument):
        fit_slope([1], [1.0])
    with pytest.raises(InvalidArgument):
        fit_slope([1, 2], [1.0, 0.0])
    with pytest.raises(InvalidArgument):
        fit_slope([1, 1], [1.0, 2.0])
    with pytest.raises(InvalidArgument):
        fit_slope([1, 2], [1.0, 2.0], confidence=1.5)


def test_fit_slope_weighted_recovers_width_rate():
    """Per-seed errors with variance C/M: the MSE fit over seeds has slope -1 inside the CI."""
    rng = np.random.default_rng(7)
    ladder = [4, 8, 16, 32, 64]
    mses, ses = [], []
    for m in ladder:
        mse, se = mean_square_log_se(rng.normal(0.0, 1.0 / math.sqrt(m), 200))
        mses.append(mse)
        ses.append(se)
    fit = fit_slope_weighted(ladder, mses, ses, dof=199, confidence=0.99)
    assert fit.contains(-1.0), fit
    assert fit.ci[1] - fit.ci[0] < 0.5, fit


def test_mean_interval():
    m, (lo, hi) = mean_interval([1.0, 2.0, 3.0], confidence=0.95)
    assert m == 2.0
    assert hi - m == pytest.approx(4.3027 * 1.0 / math.sqrt(3), abs=1e-4)
    assert lo < m < hi
    with pytest.raises(InvalidArgument):
        mean_interval([1.0])


def _brute_isotonic(y, w):
    """Minimum over all splits into consecutive blocks whose weighted means are non-decreasing."""
    n = len(y)
    best = math.inf
    for cuts in itertools.product([0, 1], repeat=n - 1):
        blocks, start = [], 0
        for i, c in enumerate(cuts, start=1):
            if c:
                blocks.append((start, i))
                start = i
        blocks.append((start, n))
        means = [float(np.dot(w[a:b], y[a:b]) / w[a:b].sum()) for a, b in blocks]
        if any(means[i] > means[i + 1] + 1e-12 for i in range(len(means) - 1)):
            continue
        cost = sum(
            float(np.dot(w[a:b], (y[a:b] - mu) ** 2))
            for (a, b), mu in zip(blocks, means, strict=True)
        )
        best = min(best, cost)
    return best


@given(
    y=st.lists(st.integers(-8, 8), min_size=1, max_size=7).map(lambda v: np.array(v, float) / 4),
    data=st.data(),
)
def test_isotonic_is_monotone_and_optimal(y, data):
    w = np.array(
        data.draw(st.lists(st.integers(1, 5), min_size=y.size, max_size=y.size), label="w"), float
    )
    fit = isotonic_regression(y, w)
    assert np.all(np.diff(fit) >= -1e-12), fit
    cost = float(np.dot(w, (y - fit) ** 2))
    brute = _brute_isotonic(y, w)
    # both are short sums of squares of numbers of size <= 4: roundoff well below 1e-9
    assert cost == pytest.approx(brute, abs=1e-9), (y, w, fit, cost, brute)
    anti = isotonic_regression(y, w, increasing=False)
    assert np.all(np.diff(anti) <= 1e-12)
    assert float(np.dot(w, (y - anti) ** 2)) == pytest.approx(_brute_isotonic(-y, w), abs=1e-9)


def test_monotone_floor_cases():
    x = np.array([0.0, 1.0, 2.0, 3.0])
    assert monotone_floor(x, [0.0, 1.0, 2.0, 5.0]) == 0.0
    assert monotone_floor(x, [5.0, 2.0, 1.0, 0.0], increasing=False) == 0.0
    # y = (0, 1, 0, 1), uniform weights: best non-decreasing fit (0, .5, .5, 1) -> 1/4·½·(.25+.25)
    assert monotone_floor(x, [0.0, 1.0, 0.0, 1.0]) == pytest.approx(0.0625)
    # order of the data does not matter
    perm = [2, 0, 3, 1]
    assert monotone_floor(x[perm], np.array([0.0, 1.0, 0.0, 1.0])[perm]) == pytest.approx(0.0625)
    # tied inputs must share one output: floor = within-tie variance
    assert monotone_floor([1.0, 1.0], [0.0, 1.0]) == pytest.approx(0.5 * 0.5 * 0.25 * 2)
    with pytest.raises(InvalidArgument):
        monotone_floor([0.0, 1.0], [0.0])
