"""Statistics behind the rate and training claims: slope fits, seed intervals, isotonic floors.

Everything here is plain NumPy plus mpmath (for Student-t quantiles); no scipy.

- :func:`t_quantile` — the Student-t quantile ``t_{p, dof}`` from the regularized incomplete
  beta function (mpmath), solved by bisection to 1e-12.
- :func:`fit_slope` — ordinary least squares of ``log(error)`` on ``log(ladder)``; the slope's
  confidence interval is ``slope ± t_{(1+c)/2, n-2} · SE`` with ``SE`` from the residuals (the
  textbook interval, valid when the log-errors scatter independently around a line). With two
  points the interval is undefined and reported as ``[-inf, inf]`` — callers needing an interval
  use at least three rungs.
- :func:`fit_slope_weighted` — weighted least squares when each point carries its own standard
  error (e.g. a mean over seeds): ``SE(slope) = 1/sqrt(Σ w (x - x̄_w)²)``, ``w = 1/se²``, and the
  interval uses ``t_{(1+c)/2, dof}`` with ``dof`` the seeds per point minus one (conservative
  against the normal quantile because the per-point variances are themselves estimated).
- :func:`mean_interval` — mean over seeds with a t interval.
- :func:`mean_square_log_se` — a mean of squares over seeds, and the standard error of its log
  (delta method), for width (``1/M``) fits.
- :func:`isotonic_regression` — weighted pool-adjacent-violators; :func:`monotone_floor` — the
  least weighted squared residual of any monotone function of a 1-d input (claim C5).
- :func:`detectable_deviation`, :func:`rate_power` — the *power* every rate verdict states
  (issue 13): the smallest deviation of the exponent from the claimed one that the verdict
  detects with probability at least :data:`POWER_PROBABILITY` (0.99).

**Power of a rate verdict.** A rate verdict fits an exponent ``p̂`` (the slope of log error vs
log ladder) with standard error ``SE`` and ``dof`` degrees of freedom, and accepts the claimed
exponent ``p₀`` iff ``p̂`` lies in the acceptance region ``[p₀ − a₋, p₀ + a₊]``: a confidence
interval decision has ``a = t_{(1+c)/2, dof} · SE`` (B3, C3.width at ``c = 0.999``), a fixed
order window ``a = 0.15`` (B1, B2, C3.depth). The fit's own model, the one its confidence
interval rests on, is ``p̂ = p + SE · T`` with ``T ~ t_dof`` (for the deterministic depth
ladders the residual scatter about the line plays the part of the noise). If the true exponent
is ``p₀ + δ``, ``δ > 0``, the verdict fails with probability at least
``P(p̂ > p₀ + a₊) = P(T > (a₊ − δ)/SE)``, which is ``>= β`` exactly when
``δ >= a₊ + t_{β, dof} · SE``; likewise for ``δ < 0`` with ``a₋``. So the stated power is

    δ* = a + t_{β, dof} · SE,   β = 0.99,

the smallest ``|δ|`` detected with probability ``>= β`` (the opposite tail only adds to the
probability, so the statement is conservative by at most ``P(T < −(2a + t_β SE)/SE)``). A
one-sided verdict (B3.<scheme>: slope ``<= −1 + a``) states it for the direction it tests
(a flatter exponent). Its *half-width* is ``t_{(1+c)/2, dof} · SE``, the confidence interval of
the exponent at the verdict's level; the default report keeps it ``<= 0.1`` for every rate
verdict, so ``δ* < 0.25`` and an exponent of −0.75 where −1 is claimed fails (docs/claims.md,
"Power"). ``tests/test_power.py`` checks the statement by simulation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mforacle.errors import InvalidArgument

#: Confidence of every statistical pass/fail decision over seeds (B3, C3.width). A report
#: carries about ten such verdicts; at 0.999 each, a correct implementation passes all of them
#: with probability at least 99 % (Bonferroni), so a statistical failure is strong evidence, not
#: an expected false alarm (at 0.95 each, one in three correct runs would fail something).
DECISION_CONFIDENCE = 0.999

#: The probability with which a verdict detects the deviation its power statement names.
POWER_PROBABILITY = 0.99

__all__ = [
    "DECISION_CONFIDENCE",
    "POWER_PROBABILITY",
    "Fit",
    "detectable_deviation",
    "fit_slope",
    "fit_slope_weighted",
    "isotonic_regression",
    "mean_interval",
    "mean_square_log_se",
    "monotone_floor",
    "power_note",
    "rate_power",
    "t_quantile",
]


def _check_confidence(confidence: float) -> float:
    if (
        isinstance(confidence, bool)
        or not isinstance(confidence, int | float)
        or not 0 < confidence < 1
    ):
        raise InvalidArgument(
            "confidence", confidence, "expected a number strictly between 0 and 1"
        )
    return float(confidence)


def t_quantile(p: float, dof: float) -> float:
    """The ``p``-quantile of Student's t with ``dof`` degrees of freedom (``dof = inf``: normal).

    Uses ``P(T <= t) = 1 - I_{dof/(dof+t²)}(dof/2, 1/2) / 2`` for ``t >= 0`` (mpmath's
    regularized incomplete beta at 30 digits) and bisection to 1e-14 relative; the lower tail by
    symmetry, with ``1 - p`` formed at 30 digits (in float64 it would cost up to
    ``1e-16/p`` relative accuracy in the far tail). Agrees with ``scipy.stats.t.ppf`` to 1e-11
    relative (tests/test_stats_scipy.py). Source: the t distribution's CDF, e.g. Abramowitz &
    Stegun 26.7.1 with 26.5.27.

    Raises:
        InvalidArgument: ``p`` is not strictly between 0 and 1, or ``dof`` is not positive.
    """
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p < 1:
        raise InvalidArgument("p", p, "expected a probability strictly between 0 and 1")
    if isinstance(dof, bool) or not isinstance(dof, int | float) or not dof > 0:
        raise InvalidArgument("dof", dof, "expected positive degrees of freedom")
    return _t_quantile(float(p), float(dof))


@functools.lru_cache(maxsize=256)
def _t_quantile(p: float, dof: float) -> float:
    """:func:`t_quantile` after validation, memoized: fits over many seeds ask for the same few
    levels and degrees of freedom (each costs a few dozen incomplete-beta evaluations)."""
    import mpmath

    if p == 0.5:
        return 0.0
    sign = -1.0 if p < 0.5 else 1.0
    with mpmath.workdps(30):
        upper = 1 - mpmath.mpf(p) if p < 0.5 else mpmath.mpf(p)  # in (1/2, 1), exact
        if math.isinf(dof):
            return sign * float(mpmath.sqrt(2) * mpmath.erfinv(2 * upper - 1))
        nu = mpmath.mpf(dof)

        def cdf(t: Any) -> Any:
            return (
                1
                - mpmath.betainc(nu / 2, mpmath.mpf(1) / 2, 0, nu / (nu + t * t), regularized=True)
                / 2
            )

        lo, hi = mpmath.mpf(0), mpmath.mpf(1)
        while cdf(hi) < upper:
            lo, hi = hi, hi * 2
        for _ in range(200):
            mid = (lo + hi) / 2
            if cdf(mid) < upper:
                lo = mid
            else:
                hi = mid
            if hi - lo < mpmath.mpf(10) ** -14 * max(1, hi):
                break
        return sign * float((lo + hi) / 2)


@dataclass(frozen=True)
class Fit:
    """A fitted line ``log(error) = intercept + slope · log(ladder)`` and the slope's interval."""

    slope: float
    intercept: float
    ci: tuple[float, float]
    confidence: float
    dof: float
    se: float
    method: str

    def to_json(self) -> dict[str, Any]:
        """The evidence convention of docs/ARCHITECTURE.md: slope, ci, intercept, confidence."""
        return {
            "slope": self.slope,
            "ci": [self.ci[0], self.ci[1]],
            "intercept": self.intercept,
            "confidence": self.confidence,
            "dof": self.dof,
            "se": self.se,
            "method": self.method,
        }

    def contains(self, value: float) -> bool:
        """Whether ``value`` lies in the slope's interval ``ci`` (ends included)."""
        return self.ci[0] <= value <= self.ci[1]


def _positive_ladder(ladder: Any, errors: Any) -> tuple[np.ndarray, np.ndarray]:
    lad = np.asarray(ladder, dtype=np.float64)
    err = np.asarray(errors, dtype=np.float64)
    if lad.ndim != 1 or err.shape != lad.shape:
        raise InvalidArgument(
            "errors", err.shape, f"expected one error per ladder rung ({lad.shape})"
        )
    if lad.size < 2:
        raise InvalidArgument("ladder", lad.tolist(), "need at least two rungs to fit a slope")
    if not (np.all(np.isfinite(lad)) and np.all(lad > 0)):
        raise InvalidArgument("ladder", lad.tolist(), "rungs must be positive and finite")
    if not (np.all(np.isfinite(err)) and np.all(err > 0)):
        raise InvalidArgument(
            "errors", err.tolist(), "errors must be positive and finite to take logs"
        )
    if np.unique(lad).size < 2:
        raise InvalidArgument("ladder", lad.tolist(), "need at least two distinct rungs")
    return np.log(lad), np.log(err)


def fit_slope(ladder: Any, errors: Any, confidence: float = 0.95) -> Fit:
    """OLS slope of ``log(errors)`` vs ``log(ladder)`` with a t interval from the residuals.

    ``ladder`` and ``errors``: 1-d, equal lengths ``n >= 2``, positive and finite (any units:
    the slope is dimensionless). The interval is ``slope ± t_{(1+c)/2, n-2} · SE`` with ``SE²``
    the residual variance over ``Σ(x - x̄)²`` (textbook OLS, e.g. Weisberg, *Applied Linear
    Regression*, §2.8); with two points it is ``(-inf, inf)``. Matches
    ``scipy.stats.linregress`` (tests/test_stats_scipy.py).

    Raises:
        InvalidArgument: fewer than two (distinct) rungs, shapes that differ, a rung or error
            that is not positive and finite, or ``confidence`` outside ``(0, 1)``.
    """
    conf = _check_confidence(confidence)
    x, y = _positive_ladder(ladder, errors)
    n = x.size
    xm, ym = x.mean(), y.mean()
    sxx = float(np.sum((x - xm) ** 2))
    slope = float(np.sum((x - xm) * (y - ym)) / sxx)
    intercept = float(ym - slope * xm)
    if n <= 2:
        return Fit(
            slope,
            intercept,
            (-math.inf, math.inf),
            conf,
            0,
            math.inf,
            "ols (2 points: no interval)",
        )
    resid = y - (intercept + slope * x)
    s2 = float(np.sum(resid**2)) / (n - 2)
    se = math.sqrt(s2 / sxx)
    t = t_quantile((1 + conf) / 2, n - 2)
    return Fit(
        slope,
        intercept,
        (slope - t * se, slope + t * se),
        conf,
        n - 2,
        se,
        "ols, t interval from residuals",
    )


def fit_slope_weighted(
    ladder: Any, errors: Any, log_se: Any, *, dof: float, confidence: float = 0.95
) -> Fit:
    """Weighted LSQ of ``log(errors)`` on ``log(ladder)``; ``log_se`` are the per-point SEs of
    ``log(errors)`` (e.g. from seeds). The slope interval is ``± t_{(1+c)/2, dof} · SE``.

    Shapes: ``ladder``, ``errors``, ``log_se`` 1-d of one length. Weights ``w = 1/log_se²``;
    ``SE(slope) = 1/sqrt(Σ w (x - x̄_w)²)`` (known per-point variances: the weighted normal
    equations, as ``scipy.optimize.curve_fit(..., absolute_sigma=True)``).

    Raises:
        InvalidArgument: the ladder or errors as in :func:`fit_slope`, or ``log_se`` not one
            positive finite SE per rung.
    """
    conf = _check_confidence(confidence)
    x, y = _positive_ladder(ladder, errors)
    se_pts = np.asarray(log_se, dtype=np.float64)
    if se_pts.shape != x.shape or not (np.all(np.isfinite(se_pts)) and np.all(se_pts > 0)):
        raise InvalidArgument("log_se", se_pts.tolist(), "expected one positive finite SE per rung")
    w = 1.0 / se_pts**2
    xm = float(np.sum(w * x) / np.sum(w))
    ym = float(np.sum(w * y) / np.sum(w))
    sxx = float(np.sum(w * (x - xm) ** 2))
    slope = float(np.sum(w * (x - xm) * (y - ym)) / sxx)
    intercept = ym - slope * xm
    se = 1.0 / math.sqrt(sxx)
    t = t_quantile((1 + conf) / 2, dof)
    return Fit(
        slope,
        intercept,
        (slope - t * se, slope + t * se),
        conf,
        dof,
        se,
        "weighted lsq, per-point SE from seeds, t interval",
    )


def mean_interval(values: Any, confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean of ``values`` (one per seed, 1-d) and its two-sided t interval
    ``mean ± t_{(1+c)/2, n-1} · sd/sqrt(n)`` (as ``scipy.stats.t.interval`` with the SEM).

    Raises:
        InvalidArgument: fewer than two values, a non-finite value, or ``confidence`` outside
            ``(0, 1)``.
    """
    conf = _check_confidence(confidence)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2 or not np.all(np.isfinite(v)):
        raise InvalidArgument(
            "values", v.tolist()[:8], "need at least two finite values (one per seed)"
        )
    m = float(v.mean())
    half = t_quantile((1 + conf) / 2, v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, (m - half, m + half)


def mean_square_log_se(errors: Any) -> tuple[float, float]:
    """``(MSE, SE of log MSE)`` for per-seed errors ``e_i`` (1-d): ``MSE = mean(e_i²)``, and by
    the delta method ``SE(log MSE) ≈ sd(e_i²) / (sqrt(n) · MSE)``.

    Raises:
        InvalidArgument: fewer than two errors, a non-finite one, or all of them zero.
    """
    e = np.asarray(errors, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)):
        raise InvalidArgument("errors", e.tolist()[:8], "need at least two finite per-seed errors")
    sq = e**2
    mse = float(sq.mean())
    if mse == 0:
        raise InvalidArgument("errors", e.tolist()[:8], "all errors are zero: no log to fit")
    return mse, float(sq.std(ddof=1)) / (math.sqrt(e.size) * mse)


def isotonic_regression(y: Any, weights: Any = None, *, increasing: bool = True) -> np.ndarray:
    """Weighted least-squares monotone fit of ``y`` in the given order (pool adjacent violators).

    Minimizes ``Σ w_i (y_i - f_i)²`` over ``f_1 <= f_2 <= ...`` (``increasing``) or
    ``f_1 >= f_2 >= ...``. Zero-weight points take their block's value. Shapes: ``y`` and
    ``weights`` 1-d of one length; returns the fit, same shape. Matches
    ``scipy.optimize.isotonic_regression`` (tests/test_stats_scipy.py).

    Raises:
        InvalidArgument: ``y`` empty, not 1-d or not finite; ``weights`` not one finite
            non-negative weight per label.
    """
    ys = np.asarray(y, dtype=np.float64)
    if ys.ndim != 1 or ys.size == 0 or not np.all(np.isfinite(ys)):
        raise InvalidArgument(
            "y", ys.tolist()[:8], "expected a non-empty 1-d array of finite labels"
        )
    ws = np.full(ys.size, 1.0) if weights is None else np.asarray(weights, dtype=np.float64)
    if ws.shape != ys.shape or not np.all(np.isfinite(ws)) or np.any(ws < 0):
        raise InvalidArgument(
            "weights", ws.tolist()[:8], "expected one finite non-negative weight per label"
        )
    if not increasing:
        return -isotonic_regression(-ys, ws, increasing=True)
    # blocks: value, weight, length
    vals: list[float] = []
    wts: list[float] = []
    lens: list[int] = []
    for yi, wi in zip(ys.tolist(), ws.tolist(), strict=True):
        vals.append(yi)
        wts.append(wi)
        lens.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            w2 = wts[-2] + wts[-1]
            v2 = (
                (wts[-2] * vals[-2] + wts[-1] * vals[-1]) / w2
                if w2 > 0
                else (vals[-2] + vals[-1]) / 2
            )
            vals[-2:] = [v2]
            wts[-2:] = [w2]
            lens[-2:] = [lens[-2] + lens[-1]]
    return np.repeat(np.array(vals), lens)


def monotone_floor(x: Any, y: Any, weights: Any = None, *, increasing: bool = True) -> float:
    """``min over monotone f of Σ ω_n ½ (f(x_n) - y_n)²`` for 1-d inputs ``x``.

    Equal inputs must share one output, so tied ``x`` are pooled first (their weighted mean
    label, the within-tie residual added to the floor), then PAVA runs on the pooled labels
    sorted by ``x``. Shapes: ``x``, ``y``, ``weights`` (default uniform ``1/N``) of ``N``
    entries. Used by claim C5 (docs/claims.md: the zero-loss negative control).

    Raises:
        InvalidArgument: ``y`` or ``weights`` not one per input, a negative or non-finite
            weight, or a non-finite input or label.
    """
    xs = np.asarray(x, dtype=np.float64).reshape(-1)
    ys = np.asarray(y, dtype=np.float64)
    if ys.shape != xs.shape:
        raise InvalidArgument("y", ys.shape, f"expected one label per input ({xs.shape})")
    ws = (
        np.full(xs.size, 1.0 / max(xs.size, 1))
        if weights is None
        else np.asarray(weights, dtype=np.float64)
    )
    if ws.shape != xs.shape or np.any(ws < 0) or not np.all(np.isfinite(ws)):
        raise InvalidArgument(
            "weights", ws.tolist()[:8], "expected one finite non-negative weight per input"
        )
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise InvalidArgument("x", xs.tolist()[:8], "inputs and labels must be finite")
    order = np.argsort(xs, kind="stable")
    xs, ys, ws = xs[order], ys[order], ws[order]
    pooled_y, pooled_w, floor = [], [], 0.0
    i = 0
    while i < xs.size:
        j = i
        while j + 1 < xs.size and xs[j + 1] == xs[i]:
            j += 1
        wb = ws[i : j + 1]
        yb = ys[i : j + 1]
        tw = float(wb.sum())
        mean = float(np.dot(wb, yb) / tw) if tw > 0 else float(yb.mean())
        floor += 0.5 * float(np.dot(wb, (yb - mean) ** 2))
        pooled_y.append(mean)
        pooled_w.append(tw)
        i = j + 1
    fit = isotonic_regression(pooled_y, pooled_w, increasing=increasing)
    floor += 0.5 * float(np.dot(pooled_w, (np.array(pooled_y) - fit) ** 2))
    return floor


def detectable_deviation(
    se: float, dof: float, margin: float, probability: float = POWER_PROBABILITY
) -> float:
    """``δ* = margin + t_{probability, dof} · se``: the smallest deviation of the true exponent
    beyond the acceptance region's edge at distance ``margin`` from the claimed exponent that
    the verdict detects with at least ``probability`` (module docstring, "Power"). A fit with no
    error estimate (``dof <= 0`` or ``se = inf``: two rungs) detects nothing: ``inf``.

    Raises:
        InvalidArgument: ``se`` or ``margin`` negative or NaN, ``probability`` not strictly
            between 0 and 1.
    """
    for name, v in (("se", se), ("margin", margin)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
            raise InvalidArgument(name, v, "expected a number >= 0")
    p = _check_confidence(probability)
    if not (dof > 0 and math.isfinite(se) and math.isfinite(margin)):
        return math.inf
    return float(margin) + t_quantile(p, dof) * float(se)


def rate_power(
    *,
    claimed: float,
    se: float,
    dof: float,
    acceptance: tuple[float, float],
    confidence: float = DECISION_CONFIDENCE,
    direction: str = "both",
    probability: float = POWER_PROBABILITY,
) -> dict[str, Any]:
    """The power statement of a rate verdict, for its evidence (module docstring, "Power").

    ``acceptance = (lo, hi)``: the exponents the verdict accepts (``lo = -inf`` for a one-sided
    test of a flatter exponent); ``direction``: ``"both"``, ``"flatter"`` (deviations ``δ > 0``
    only) or ``"steeper"``. Returns ``detectable_deviation`` (``δ*``, the larger of the two
    directions tested), ``half_width`` (``t_{(1+c)/2, dof} · SE``, the exponent's confidence
    half-width at ``confidence``), and the inputs.

    Raises:
        InvalidArgument: an unknown ``direction``, ``claimed`` outside ``acceptance``, or the
            arguments of :func:`detectable_deviation`.
    """
    if direction not in ("both", "flatter", "steeper"):
        raise InvalidArgument("direction", direction, "expected 'both', 'flatter' or 'steeper'")
    lo, hi = float(acceptance[0]), float(acceptance[1])
    if not lo <= claimed <= hi:
        raise InvalidArgument("acceptance", [lo, hi], f"must contain the claimed {claimed}")
    conf = _check_confidence(confidence)
    deltas = {}
    if direction in ("both", "flatter"):
        deltas["flatter"] = detectable_deviation(se, dof, hi - claimed, probability)
    if direction in ("both", "steeper"):
        deltas["steeper"] = detectable_deviation(se, dof, claimed - lo, probability)
    return {
        "claimed": float(claimed),
        "detectable_deviation": max(deltas.values()),
        "by_direction": deltas,
        "probability": float(probability),
        "half_width": (
            t_quantile((1 + conf) / 2, dof) * float(se)
            if dof > 0 and math.isfinite(se)
            else math.inf
        ),
        "confidence": conf,
        "se": float(se),
        "dof": float(dof),
        "acceptance": [lo, hi],
        "direction": direction,
        "formula": "δ* = a + t_{0.99, dof}·SE, a = distance from the claimed exponent to the "
        "edge of the acceptance region (mforacle/stats.py, 'Power')",
    }


def power_note(power: dict[str, Any]) -> str:
    """One line for a verdict's reason: ``power: |δ| >= 0.071 detected w.p. >= 0.99; 99.9%
    half-width 0.046``."""
    arrow = {"both": "|δ|", "flatter": "δ (flatter)", "steeper": "−δ (steeper)"}[power["direction"]]
    return (
        f"power: {arrow} >= {power['detectable_deviation']:.3f} detected w.p. >= "
        f"{power['probability']:g}; {power['confidence']:.1%} half-width {power['half_width']:.3f}"
    )
