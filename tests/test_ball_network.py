"""The ball path (Arb) encloses the truth: containment, radius quality, precision escalation.

Containment is checked against an *independent* evaluation: the mpmath exact path at three
times the digits (45 against the ball's 15), compared in mpmath (not Arb) at ≥ 600 bits. An
entry is contained when ``|v − m| ≤ r + e``, ``v`` the mpmath value, ``[m ± r]`` the ball and
``e`` the mpmath run's own confirmed bound (~10^-44 relative to the quantity): ``e`` is 10^30
times smaller than the ball's radius, so the check is decided by the radius alone. A deliberately
shrunk radius (the activation's error term dropped) must be caught by the same check.

Radius quality: the rigorous bound (largest radius) over the true error of the midpoints at the
requested 30 digits, the truth taken from a 90-digit run; held within ``[1, 100]`` (below 1
would be a containment failure). The figures are printed in the run summary.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from flint import arb
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mforacle.properties.strategies import discrete_cases

from mforacle.ball import activations as ball_activations
from mforacle.ball import network as ball_network
from mforacle.cases import DiscreteCase
from mforacle.errors import InvalidArgument
from mforacle.exact import network as exact_network
from mforacle.exact.summation import ExponentRangeError
from mforacle.model import Model

QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")
BALL_DPS = 15
HI_DPS = 3 * BALL_DPS
TRANSFORMS = ("plain", "decimal", "huge", "tiny", "saturated")


def _mpf_of_arb(value: arb) -> mpmath.mpf:
    """An exact arb (midpoint, radius) as an mpf, exactly (the caller's precision suffices)."""
    if not value.is_finite():
        return mpmath.mpf("inf")
    man, exp = value.man_exp()
    return mpmath.mpf((int(man), int(exp)))


def _values(result, q: str) -> np.ndarray:
    out = np.empty((), dtype=object)
    if q == "loss":
        out[()] = result.loss
        return out
    return np.asarray(getattr(result, q), dtype=object)


def containment_violations(ball, hi) -> list[str]:
    """Entries whose mpmath value ``v`` (run ``hi``) is not within ``r + e`` of the midpoint."""
    out = []
    with mpmath.workprec(max(4 * ball.prec, 600)):
        for q in QUANTITIES:
            balls, vals = ball.get(q), _values(hi, q)
            e = hi.error_bound[q]
            for idx in np.ndindex(*vals.shape):
                b, v = balls[idx], vals[idx]
                r = _mpf_of_arb(b.rad())
                if mpmath.isinf(r):
                    continue  # the whole line: contains everything
                gap = abs(v - _mpf_of_arb(b.mid()))
                if gap > r + e:
                    out.append(f"{q}{list(idx)}: |v - m| = {mpmath.nstr(gap, 5)} > r + e = "
                               f"{mpmath.nstr(r + e, 5)} (v = {mpmath.nstr(v, 25)}, "
                               f"ball {b.str(25)})")
    return out


def _transform(case: DiscreteCase, kind: str) -> tuple:
    """The case's numbers as Fractions, moved into a harder regime."""
    th = np.vectorize(Fraction, otypes=[object])(case.theta)
    x = np.vectorize(Fraction, otypes=[object])(case.x)
    y = np.vectorize(Fraction, otypes=[object])(case.y)
    d = case.model.d
    if kind == "decimal":  # non-dyadic decimals: Arb holds them as balls, not exactly
        th, x, y = th * Fraction(4, 5), x * Fraction(7, 10), y * Fraction(3, 10)
    elif kind == "huge":  # w ~ 1e300: pre-activations ~1e300, saturated or huge
        th[..., :d] *= Fraction(10) ** 300
    elif kind == "tiny":  # subnormal inputs and 1e-300 biases
        x = x * Fraction(1, 2**1074)
        th[..., 2 * d] *= Fraction(1, 10**300)
    elif kind == "saturated":
        th = th * 32
    return case.model, th, x, y, case.weights


def _evaluate_both(model, th, x, y, w):
    ball = ball_network.evaluate(model, th, x, y, w, dps=BALL_DPS)
    try:
        hi = exact_network.evaluate(model, th, x, y, w, dps=HI_DPS)
    except ExponentRangeError:  # the mpmath path cannot form this sum: no reference, no verdict
        assume(False)
    return ball, hi


@settings(max_examples=max(40, settings().max_examples))  # cheap: ~0.1 s an example
@given(case=discrete_cases(), kind=st.sampled_from(TRANSFORMS))
def test_every_entry_of_every_quantity_is_enclosed(case: DiscreteCase, kind: str) -> None:
    model, th, x, y, w = _transform(case, kind)
    ball, hi = _evaluate_both(model, th, x, y, w)
    bad = containment_violations(ball, hi)
    assert not bad, f"{kind}: {len(bad)} entries outside their ball:\n" + "\n".join(bad[:5])
    assert all(v.is_finite() for v in ball.error_bound.values()) or not ball.met


@pytest.mark.parametrize("act", ["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5"])
@pytest.mark.parametrize("kind", TRANSFORMS)
def test_enclosed_for_every_activation_and_regime(act: str, kind: str) -> None:
    """Every activation in every regime, on one fixed small case (d=2, L=2, M=3, N=3)."""
    rng = np.random.default_rng(7)  # fixed once for the module; not chosen by outcome
    model = Model.create(2, act, [1, -0.5], 0.25)
    th = np.round(rng.normal(size=(2, 3, 5)) * 64) / 64
    x, y = np.round(rng.normal(size=(3, 2)) * 64) / 64, np.round(rng.normal(size=3) * 64) / 64
    case = DiscreteCase(model, th, x, y, None)
    ball, hi = _evaluate_both(*_transform(case, kind))
    bad = containment_violations(ball, hi)
    assert not bad, "\n".join(bad[:5])


def test_regrelu_kinks_are_enclosed_and_counted() -> None:
    """Pre-activations on the kinks ±η (b = ±η, x = 0), with η = 0.1 (not dyadic: its ball and
    the pre-activation's overlap, so the derivative takes the hull of both branches)."""
    model = Model.create(1, "regrelu:0.1", [1], 0)
    th = [[["1", "1", "0.1"], ["2", "-1", "-0.1"]], [["0.5", "1", "0.1"], ["1", "1", "0.3"]]]
    x, y = [["0"], ["0.25"]], ["0.5", "-0.125"]
    ball, hi = _evaluate_both(model, th, x, y, None)
    assert ball.kinks >= 2
    assert not containment_violations(ball, hi)


def test_a_dropped_activation_error_term_is_caught(monkeypatch) -> None:
    """Mutant: σ returns its midpoint with radius 0 (the activation's error term — its own
    rounding and the propagated input radius — is dropped). On a case where that term dominates
    (non-dyadic x, |w|·|u| = 900, σ' ≈ 1) the containment check must fail."""
    model = Model.create(1, "tanh", [1], 0)
    th, x, y = [[["30", "30", "-3.05"]]], [["0.1"], ["0.3"]], ["0.2", "0.1"]
    ball, hi = _evaluate_both(model, th, x, y, None)
    assert not containment_violations(ball, hi)
    real = ball_activations.sigma

    def shrunk(act, v, j):
        return arb(real(act, v, j).mid())

    monkeypatch.setattr(ball_network, "sigma", shrunk)
    ball, hi = _evaluate_both(model, th, x, y, None)
    assert containment_violations(ball, hi), "the shrunk radius was not caught"


# ------------------------------------------------------------------------ radius quality


def _quality_case(act: str, seed: int, decimal: bool):
    rng = np.random.default_rng(seed)
    d, L, M, N = 3, 8, 8, 4
    model = Model.create(d, act, [1, -0.5, 0.25], 0.25)
    th = rng.normal(size=(L, M, 2 * d + 1))
    x, y = rng.normal(size=(N, d)), rng.normal(size=N)
    if decimal:  # decimal strings with 6 digits: not dyadic
        th, x, y = (np.vectorize(lambda v: f"{v:.6f}", otypes=[object])(a) for a in (th, x, y))
    return model, th, x, y


def _ratios(model, th, x, y) -> dict[str, float]:
    lo = ball_network.evaluate(model, th, x, y, dps=30)
    hi = ball_network.evaluate(model, th, x, y, dps=90)
    out = {}
    with mpmath.workprec(1200):
        for q in QUANTITIES:
            err = max(abs(_mpf_of_arb(a.mid()) - _mpf_of_arb(b.mid())) + _mpf_of_arb(b.rad())
                      for a, b in zip(lo.get(q).reshape(-1), hi.get(q).reshape(-1), strict=True))
            out[q] = float(_mpf_of_arb(lo.error_bound[q]) / err)
    return out


@pytest.mark.parametrize("act", ["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5"])
def test_radius_within_a_factor_100_of_the_true_error(act: str, measured) -> None:
    """Well-conditioned (Gaussian θ, x, y; d=3, L=M=8, N=4), floats and 6-digit decimals."""
    worst = {}
    for decimal in (False, True):
        r = _ratios(*_quality_case(act, 11, decimal))
        for q, v in r.items():
            worst[q] = max(worst.get(q, 0.0), v)
            assert 1.0 <= v <= 100.0, f"{q}: bound / true error = {v:.3g} (decimal={decimal})"
    measured(f"ball radius quality {act:12s} (rigorous bound / true error at 30 digits): "
             + ", ".join(f"{q} {v:.2g}" for q, v in worst.items()))


# ------------------------------------------------------------------ ill-conditioned cases


def _cancelling_case():
    """y equal to the model output to 40 digits: the loss cancels ~80 digits."""
    model = Model.create(1, "tanh", [1], 0)
    th, x = [[["0.1", "0.2", "0.3"]]], [["0.5"]]
    z = ball_network.evaluate(model, th, x, ["0"], dps=60).z_L[0, 0]
    return model, th, x, [z.mid().str(40, radius=False, more=True)]


def test_cancellation_raises_the_precision_and_stays_enclosed(measured) -> None:
    model, th, x, y = _cancelling_case()
    ball = ball_network.evaluate(model, th, x, y, dps=BALL_DPS)
    assert ball.met and len(ball.attempts) > 1, ball.attempts
    hi = exact_network.evaluate(model, th, x, y, dps=HI_DPS)
    assert not containment_violations(ball, hi)
    measured(f"ball precision escalation, loss cancelling ~80 digits at dps {BALL_DPS}: "
             f"bits {[p for p, _ in ball.attempts]}")


def test_a_precision_cap_is_reported_and_the_enclosure_still_holds() -> None:
    model, th, x, y = _cancelling_case()
    start = ball_network.initial_prec(BALL_DPS)
    ball = ball_network.evaluate(model, th, x, y, dps=BALL_DPS, max_prec=start)
    assert not ball.met and ball.attempts == ((start, False),) and ball.max_prec == start
    hi = exact_network.evaluate(model, th, x, y, dps=HI_DPS)
    assert not containment_violations(ball, hi)


def test_huge_weights_sin_needs_more_bits_and_gets_them() -> None:
    """sin(1e300·z): Arb cannot reduce the argument at 82 bits; the loop raises the precision
    (to ~1000+ bits) until the radius meets 10^-15 relative."""
    model = Model.create(1, "sin", [1], 0)
    th, x, y = [[["1e300", "1", "0"]]], [["0.75"]], ["0.5"]
    ball = ball_network.evaluate(model, th, x, y, dps=BALL_DPS)
    assert ball.met and ball.prec > 1000, ball.attempts
    hi = exact_network.evaluate(model, th, x, y, dps=HI_DPS)
    assert not containment_violations(ball, hi)


# ------------------------------------------------------------------------- API and errors


def test_forward_encloses_the_trajectory() -> None:
    model = Model.create(2, "erf", None, 0)
    th = [[["0.1", "0.2", "0.3", "0.4", "0.5"]], [["-0.3", "0.2", "0.1", "0.7", "-0.5"]]]
    z = ball_network.forward(model, th, [["0.5", "-1"]], prec=100)
    ex = exact_network.forward(model, th, [["0.5", "-1"]], dps=50)
    assert z.shape == (3, 1, 2)
    with mpmath.workprec(400):
        for idx in np.ndindex(z.shape):
            gap = abs(ex[idx] - _mpf_of_arb(z[idx].mid()))
            assert gap <= _mpf_of_arb(z[idx].rad()) + mpmath.mpf(10) ** -48


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"dps": 0}, "dps"), ({"dps": 1.5}, "dps"), ({"dps": True}, "dps"),
     ({"max_prec": 10}, "max_prec"), ({"max_prec": "big"}, "max_prec")],
)
def test_bad_arguments_name_their_field(kwargs, field) -> None:
    model = Model.create(1, "tanh")
    with pytest.raises(InvalidArgument) as info:
        ball_network.evaluate(model, [[["1", "1", "0"]]], [["1"]], ["0"], **kwargs)
    assert info.value.field == field


def test_bad_model_and_inputs_are_rejected_before_any_work() -> None:
    with pytest.raises(InvalidArgument, match="model"):
        ball_network.evaluate("tanh", [[["1", "1", "0"]]], [["1"]], ["0"])
    with pytest.raises(InvalidArgument, match=r"theta\[0\]\[0\]\[1\]"):
        ball_network.evaluate(Model.create(1), [[["1", "nan", "0"]]], [["1"]], ["0"])
    with pytest.raises(InvalidArgument, match="prec"):
        ball_network.forward(Model.create(1), [[["1", "1", "0"]]], [["1"]], prec=1)


def test_arb_to_fraction_is_exact_and_refuses_balls() -> None:
    assert ball_network.arb_to_fraction(arb((3, -1074))) == Fraction(3, 2**1074)
    assert ball_network.arb_to_fraction(arb(5)) == 5
    with pytest.raises(InvalidArgument):
        ball_network.arb_to_fraction(arb(1, 1))
