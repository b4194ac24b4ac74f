"""Power by default (issue 13 item 2): every rate verdict states the smallest deviation ``δ*`` of
the exponent it detects with probability >= 0.99 (mforacle/stats.py, "Power"), and in the dev
profile an exponent of −0.75 where −1 is claimed fails every rate verdict.

The power statement is checked by simulation: synthetic experiments with a known exponent
``−1 + δ`` and noise like the real one (per-seed errors N(0, C·M^(−1+δ)) for the seed
statistics of B3 and C3.width, i.i.d. scatter of the log errors for the deterministic depth
ladders of B1, B2, C3.depth), run through the verdicts' own decision code. At ``δ = δ*`` the
verdict must fail in at least 99 % of the experiments: with ``K`` = 400 experiments the misses
are Binomial(400, <= 0.01) under the statement, so more than 12 (probability < 0.001) refutes
it. At ``δ`` = the acceptance half-width the detection rate must be near one half (the
statement is not vacuously conservative), and at ``δ = 0`` the false-alarm rate near 0.001.
The random generator's seed is fixed so the test reproduces; it was not chosen to pass.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mforacle.claims import CLAIMS
from mforacle.claims.limit import ORDER_SLOPE, _order_verdicts, b3_decisions, b3_verdicts
from mforacle.claims.theorem6 import _width_scheme, c3_depth_verdict, check_c3_width
from mforacle.claims.training_cases import builtin_flow_case
from mforacle.errors import InvalidArgument
from mforacle.stats import (
    DECISION_CONFIDENCE,
    POWER_PROBABILITY,
    detectable_deviation,
    fit_slope,
    rate_power,
    t_quantile,
)

K = 400  # simulated experiments per point
MAX_MISSES = 12  # P(Binomial(400, 0.01) > 12) < 0.001


def _binomial_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k + 1, n + 1))


def test_the_miss_allowance_is_what_the_docstring_says():
    assert _binomial_tail(MAX_MISSES, K, 1 - POWER_PROBABILITY) < 0.001


# --------------------------------------------------------------------------- the formula


def test_detectable_deviation_is_margin_plus_t_quantile_times_se():
    assert detectable_deviation(0.01, 100, 0.05) == pytest.approx(
        0.05 + t_quantile(0.99, 100) * 0.01
    )
    assert detectable_deviation(0.01, 0, 0.05) == math.inf  # no error estimate: no power
    assert detectable_deviation(math.inf, 5, 0.15) == math.inf
    p = rate_power(claimed=-1.0, se=0.02, dof=999, acceptance=(-1.066, -0.934))
    t999 = t_quantile(0.9995, 999)
    assert p["half_width"] == pytest.approx(t999 * 0.02)
    assert p["detectable_deviation"] == pytest.approx(0.066 + t_quantile(0.99, 999) * 0.02)
    one = rate_power(
        claimed=-1.0, se=0.02, dof=9, acceptance=(-math.inf, -0.9), direction="flatter"
    )
    assert set(one["by_direction"]) == {"flatter"}
    with pytest.raises(InvalidArgument):
        rate_power(claimed=-1.0, se=0.02, dof=9, acceptance=(-0.9, -0.8))
    with pytest.raises(InvalidArgument):
        detectable_deviation(-1.0, 9, 0.1)


# --------------------------------------------------------------------------- seed statistics


def _b3_sim(rng, ladder, n, delta, C=0.05):
    """Per-seed errors of one synthetic B3 experiment: N(0, C·M^(−1+δ)) per rung (the real
    errors are close to normal at these widths, kurtosis ≈ 3)."""
    return [rng.standard_normal(n) * math.sqrt(C * M ** (-1 + delta)) for M in ladder]


def _b3_outcomes(rng, ladder, n, delta):
    """(B3.<scheme> failed, B3.<scheme>.power failed, stated δ* of each) over K experiments."""
    out = []
    for _ in range(K):
        dec = b3_decisions(ladder, _b3_sim(rng, ladder, n, delta), confidence=DECISION_CONFIDENCE)
        one = dec["fit"]["slope"] > dec["bound"]
        lo, hi = dec["window"]
        two = not lo <= dec["fit_with_correction"]["slope"] <= hi
        out.append(
            (
                one,
                two,
                dec["power"]["detectable_deviation"],
                dec["power_with_correction"]["detectable_deviation"],
                dec["power"]["half_width"],
                dec["power_with_correction"]["half_width"],
            )
        )
    return np.array(out, dtype=float)


def test_b3_power_statement_holds_by_simulation():
    sizes = CLAIMS["B3"].sizes_for("dev")
    ladder, n = sizes["ladder"], sizes["seeds"]
    rng = np.random.default_rng(20261130)
    null = _b3_outcomes(rng, ladder, n, 0.0)
    # the stated power barely varies between experiments (SE comes from the seeds' spread)
    d1, d2 = np.median(null[:, 2]), np.median(null[:, 3])
    h1, h2 = np.median(null[:, 4]), np.median(null[:, 5])
    assert np.ptp(null[:, 3]) < 0.2 * d2
    # δ = 0: false alarms at about 1 − 0.999 (≤ 3 of 400: P(Bin(400, 0.001) > 3) < 0.001)
    assert null[:, 0].sum() <= 3 and null[:, 1].sum() <= 3
    # δ = δ*: detected in >= 99 % of the experiments (one-sided and two-sided verdicts)
    at1 = _b3_outcomes(rng, ladder, n, d1)
    at2 = _b3_outcomes(rng, ladder, n, d2)
    assert K - at1[:, 0].sum() <= MAX_MISSES, (d1, at1[:, 0].mean())
    assert K - at2[:, 1].sum() <= MAX_MISSES, (d2, at2[:, 1].mean())
    # δ = the acceptance half-width: about half detected; δ* − (t_0.99 − t_0.9)·SE: about 90 %
    # (so δ* is the smallest such deviation, not a vacuously large one)
    edge1, edge2 = _b3_outcomes(rng, ladder, n, h1), _b3_outcomes(rng, ladder, n, h2)
    assert 0.3 < edge1[:, 0].mean() < 0.7 and 0.3 < edge2[:, 1].mean() < 0.7
    se2 = h2 / t_quantile((1 + DECISION_CONFIDENCE) / 2, n - 1)
    below = _b3_outcomes(
        rng, ladder, n, d2 - (t_quantile(0.99, n - 1) - t_quantile(0.9, n - 1)) * se2
    )
    assert 0.8 < below[:, 1].mean() < 0.97


def _c3_runs(rng, ladder, n, delta, ref=0.1, C=0.004):
    """Synthetic C3.width runs (3, n) per rung: E(Θ(s)) = ref + N(0, C·M^(−1+δ)), E(Θ(0)) one
    unit above (trained), roundoff allowance 0."""
    out = []
    for M in ladder:
        e1 = ref + rng.standard_normal(n) * math.sqrt(C * M ** (-1 + delta))
        out.append(np.stack([e1 + 1.0, e1, np.zeros(n)]))
    return out


def test_c3_width_power_statement_holds_by_simulation():
    sizes = CLAIMS["C3"].sizes_for("dev")
    ladder, n = sizes["width_ladder"], sizes["seeds"]
    rng = np.random.default_rng(20261131)

    def outcomes(delta):
        got = []
        for _ in range(K):
            sch = _width_scheme(ladder, _c3_runs(rng, ladder, n, delta), 0.1, DECISION_CONFIDENCE)
            lo, hi = sch["window"]
            got.append((not lo <= sch["fit"]["slope"] <= hi, sch["power"]["detectable_deviation"],
                        sch["power"]["half_width"]))  # fmt: skip
        return np.array(got, dtype=float)

    null = outcomes(0.0)
    assert null[:, 0].sum() <= 3
    d, h = np.median(null[:, 1]), np.median(null[:, 2])
    assert K - outcomes(d)[:, 0].sum() <= MAX_MISSES
    assert K - outcomes(-d)[:, 0].sum() <= MAX_MISSES  # two-sided: steeper too
    assert 0.3 < outcomes(h)[:, 0].mean() < 0.7


def test_order_window_power_statement_holds_by_simulation():
    """B1, B2, C3.depth: slope in [−1.15, −0.85]; the residual scatter is the noise model."""
    ladder = CLAIMS["B1"].sizes_for("dev")["ladder"]
    rng = np.random.default_rng(20261132)
    sigma = 0.02  # scatter of the log errors about the line
    x = np.log(np.asarray(ladder, float))

    def outcomes(delta):
        got = []
        for _ in range(K):
            errs = np.exp(-2.0 + (-1 + delta) * x + sigma * rng.standard_normal(x.size))
            fit = fit_slope(ladder, errs, DECISION_CONFIDENCE)
            p = rate_power(claimed=-1.0, se=fit.se, dof=fit.dof, acceptance=ORDER_SLOPE)
            got.append((not ORDER_SLOPE[0] <= fit.slope <= ORDER_SLOPE[1],
                        p["detectable_deviation"]))  # fmt: skip
        return np.array(got, dtype=float)

    # the stated δ* varies with the estimated SE (4 residual dof); at its median the verdict
    # detects the deviation in >= 99 % of the experiments (t_{0.99, dof} covers the SE's
    # uncertainty: the statement is conservative here, by design)
    null = outcomes(0.0)
    d = float(np.median(null[:, 1]))
    assert 0.15 < d < 0.25
    assert K - outcomes(d)[:, 0].sum() <= MAX_MISSES
    assert K - outcomes(-d)[:, 0].sum() <= MAX_MISSES
    assert 0.3 < outcomes(0.15)[:, 0].mean() < 0.7  # at the window's edge: about half


# --------------------------------------------------------------------------- −0.75 fails


def test_an_exponent_of_minus_three_quarters_fails_every_rate_verdict():
    """Synthetic data with exponent −0.75 (the dev profile's ladders, seeds and noise) through
    each rate verdict's own code: B1 (and B2, the same decision), C3.depth, B3 ×2 (with their
    .power exponents) and C3.width ×2 all fail."""
    rng = np.random.default_rng(20261133)
    case = builtin_flow_case(0)

    lad = CLAIMS["B1"].sizes_for("dev")["ladder"]
    errs = [0.3 * L**-0.75 * (1 + 0.5 / L) for L in lad]  # with a next-order term
    for claim in ("B1", "B2"):
        vs = _order_verdicts(claim, "t", lad, errs, 0.0, {"case": None}, "w", with_ratio=True,
                             provenance={})  # fmt: skip
        assert [v.status for v in vs] == ["fail", "fail"], [v.summary() for v in vs]

    dl = CLAIMS["C3"].sizes_for("dev")["depth_ladder"]
    v = c3_depth_verdict(case, ladder=dl, losses=[0.2 + 0.01 * L**-0.75 for L in dl],
                         reference=(0.2, 0.0), M=4, seed=0, s=1.0, ds=0.05, T_ref=129)  # fmt: skip
    assert v.status == "fail" and abs(v.figure + 0.75) < 0.01, v.summary()

    b3 = CLAIMS["B3"].sizes_for("dev")
    e_inf = 0.3
    losses = {
        scheme: [e_inf + e for e in _b3_sim(rng, b3["ladder"], b3["seeds"], 0.25)]
        for scheme in ("paths", "independent")
    }
    vs = b3_verdicts(case, ladder=b3["ladder"], L=4, e_inf=e_inf, losses=losses,
                     seed_list=[], implementation="synthetic")  # fmt: skip
    assert len(vs) == 4 and all(v.status == "fail" for v in vs), [v.summary() for v in vs]

    c3 = CLAIMS["C3"].sizes_for("dev")
    runs = {
        s: _c3_runs(rng, c3["width_ladder"], c3["seeds"], 0.25) for s in ("paths", "independent")
    }
    vs = check_c3_width(
        _Trains(),
        case,
        ladder=c3["width_ladder"],
        seeds=c3["seeds"],
        runs=runs,
        reference=(0.1, 0.0),
    )
    assert [v.claim for v in vs] == ["C3.width", "C3.width.independent"]
    assert all(v.status == "fail" for v in vs), [v.summary() for v in vs]


class _Trains:
    """A subject that has what C3.width needs (the runs are given: it is never called)."""

    name = "synthetic"

    def forward(self, *a):
        raise AssertionError("not called")

    loss = train_step = forward


def test_dev_profile_rate_verdicts_are_within_a_tenth():
    """The acceptance half-width at 99.9 % of every rate verdict the dev profile states is
    <= 0.1, from the expected SE of its design (per-rung SE of log MSE ≈ sqrt(2/n) for normal
    errors, the weights of the fits): a design check, before any data."""
    for claim, ladder_key in (("B3", "ladder"), ("C3", "width_ladder")):
        sizes = CLAIMS[claim].sizes_for("dev")
        x = np.log(np.asarray(sizes[ladder_key], float))
        n = sizes["seeds"]
        w = np.full(x.size, n / 2.0)  # 1/SE² with SE = sqrt(2/n)
        se2 = 1 / math.sqrt(np.sum(w * (x - np.average(x, weights=w)) ** 2))
        X = np.stack([np.ones_like(x), x, np.exp(-x)], axis=1)
        se3 = math.sqrt(np.linalg.inv(X.T @ (w[:, None] * X))[1, 1])
        t = t_quantile((1 + DECISION_CONFIDENCE) / 2, n - 1)
        assert t * se2 <= 0.1, (claim, t * se2)
        if claim == "B3":  # the .power verdicts fit the D/M term too
            assert t * se3 <= 0.1, (claim, t * se3)
