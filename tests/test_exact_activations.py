"""Exact activations: closed forms, derivatives, stability at large |x|, regrelu kinks."""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mforacle.exact.activations import exact_activation, mpf_of
from mforacle.model import Activation

DPS = 40
SPECS = ("tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5")


def _rel(a: mpmath.mpf, b: mpmath.mpf) -> mpmath.mpf:
    return abs(a - b) / max(abs(b), mpmath.mpf(10) ** -300)


def test_closed_form_values_at_zero_and_one() -> None:
    with mpmath.workdps(DPS):
        tol = mpmath.mpf(10) ** (2 - DPS)  # a few correctly rounded operations, relative 2^-prec
        one = mpmath.mpf(1)
        e = mpmath.e
        cases = {
            # name: (x, sigma, sigma', sigma'') written out by hand
            "tanh": (one, (e**2 - 1) / (e**2 + 1), 4 / (e + 1 / e) ** 2,
                     -2 * (e**2 - 1) / (e**2 + 1) * 4 / (e + 1 / e) ** 2),
            "erf": (0, 0, 2 / mpmath.sqrt(mpmath.pi), 0),
            "sigmoid": (one, e / (1 + e), e / (1 + e) ** 2, e * (1 - e) / (1 + e) ** 3),
            "softplus": (one, mpmath.log(1 + e), e / (1 + e), e / (1 + e) ** 2),
            "sin": (one, mpmath.sin(1), mpmath.cos(1), -mpmath.sin(1)),
            # regrelu:1/2 at x = 0: (x+η)²/(4η) = 1/8, (x+η)/(2η) = 1/2, 1/(2η) = 1
            "regrelu:0.5": (0, mpmath.mpf(1) / 8, mpmath.mpf(1) / 2, 1),
        }
        for spec, (x, s0, s1, s2) in cases.items():
            act = exact_activation(spec)
            x = mpmath.mpf(x)
            for got, want, what in ((act.sigma(x), s0, "sigma"), (act.d1(x), s1, "sigma'"),
                                    (act.d2(x), s2, "sigma''")):
                err = abs(got - want)
                assert err <= tol * max(1, abs(want)), (
                    f"{spec} {what}({x}) = {got}, closed form {want}, |diff| {err} > {tol}"
                )


@given(spec=st.sampled_from(SPECS), i=st.integers(-6 * 64, 6 * 64))
def test_derivatives_match_mpmath_diff(spec: str, i: int) -> None:
    """sigma' and sigma'' against mpmath.diff (numerical differentiation at extra precision).

    Error model: mpmath.diff raises its working precision and picks its step so the result is
    accurate to about the caller's precision; we allow 10 digits of slack: |diff| <= 10^-30
    (relative to max(1, |value|)) at 40 digits. regrelu is only C^1: points within 2^-20 of the
    kinks are excluded from the sigma'' check (the kinks are tested separately).
    """
    act = exact_activation(spec)
    with mpmath.workdps(DPS):
        x = mpmath.mpf(i) / 64
        tol = mpmath.mpf(10) ** -30
        d1 = mpmath.diff(act.sigma, x)
        assert abs(act.d1(x) - d1) <= tol * max(1, abs(d1)), (
            f"{spec}: sigma'({x}) = {act.d1(x)} but mpmath.diff gives {d1}"
        )
        near_kink = spec.startswith("regrelu") and min(abs(x - 0.5), abs(x + 0.5)) < 2**-20
        if not near_kink:
            d2 = mpmath.diff(act.d1, x)
            assert abs(act.d2(x) - d2) <= tol * max(1, abs(d2)), (
                f"{spec}: sigma''({x}) = {act.d2(x)} but mpmath.diff of sigma' gives {d2}"
            )


# Naive forms, evaluated at 3000 digits where they are accurate (their cancellation costs at
# most ~1400 digits for |x| <= 3000), as references for the stable forms at 30 digits.
NAIVE = {
    "sigmoid": (lambda x: 1 / (1 + mpmath.exp(-x)),
                lambda x: mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2),
    "softplus": (lambda x: mpmath.log(1 + mpmath.exp(x)), lambda x: 1 / (1 + mpmath.exp(-x))),
    "tanh": (mpmath.tanh, lambda x: 1 - mpmath.tanh(x) ** 2),
    "erf": (mpmath.erf, lambda x: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)),
}


@pytest.mark.parametrize("spec", sorted(NAIVE))
@pytest.mark.parametrize("x", [-3000, -800, -50, -1, 1, 50, 800, 3000])
def test_relative_accuracy_at_large_arguments(spec: str, x: int) -> None:
    """Stable forms keep full *relative* accuracy where the textbook form cancels.

    Error model: each value is a handful (< 10) of correctly rounded mpmath operations, each with
    relative error <= 2^-prec <= 10^-30 at 30 digits, so relative error <= 10^-29. The naive
    form at 30 digits would give e.g. softplus(-800) = log(1) = 0 (relative error 1).
    """
    act = exact_activation(spec)
    naive_s, naive_d1 = NAIVE[spec]
    with mpmath.workdps(3000):
        want_s, want_d1 = naive_s(mpmath.mpf(x)), naive_d1(mpmath.mpf(x))
    with mpmath.workdps(30):
        got_s, got_d1 = act.sigma(mpmath.mpf(x)), act.d1(mpmath.mpf(x))
    with mpmath.workdps(60):
        bound = mpmath.mpf(10) ** -29
        for got, want, what in ((got_s, want_s, "sigma"), (got_d1, want_d1, "sigma'")):
            if want == 0:  # erf' underflows nowhere in mpmath; kept for safety
                assert got == 0
                continue
            assert _rel(got, want) <= bound, (
                f"{spec} {what}({x}) = {got}, reference {mpmath.nstr(want, 20)}, "
                f"relative error {mpmath.nstr(_rel(got, want), 3)} > {bound}"
            )


def test_sigmoid_second_derivative_relative_accuracy() -> None:
    """sigma'' of sigmoid (and softplus''' = sigmoid'') at |x| = 800: relative error <= 10^-29."""
    act = exact_activation("sigmoid")
    for x in (-800, -3, 3, 800):
        with mpmath.workdps(3000):
            X = mpmath.mpf(x)
            s = 1 / (1 + mpmath.exp(-X))
            want = s * (1 - s) * (1 - 2 * s)
        with mpmath.workdps(30):
            got = act.d2(mpmath.mpf(x))
        with mpmath.workdps(60):
            assert _rel(got, want) <= mpmath.mpf(10) ** -29, (x, got, want)


@pytest.mark.parametrize("eta", ["0.125", "0.5", "1", "3/7"])
def test_regrelu_pieces_and_kinks(eta: str) -> None:
    """regrelu:η at and around ±η: sigma, sigma' continuous; sigma'' = 1/(2η) at the kinks.

    The value of sigma'' at ±η is the documented convention (middle piece, closed interval).
    """
    act = exact_activation(Activation.parse(f"regrelu:{eta}"))
    with mpmath.workdps(DPS):
        e = mpf_of(Fraction(eta))
        tiny = mpmath.mpf(10) ** -30
        tol = mpmath.mpf(10) ** (2 - DPS)
        assert act.sigma(-e) == 0 and act.d1(-e) == 0
        assert abs(act.sigma(e) - e) <= tol and abs(act.d1(e) - 1) <= tol
        assert abs(act.d2(e) - 1 / (2 * e)) <= tol and abs(act.d2(-e) - 1 / (2 * e)) <= tol
        assert act.d2(e + tiny) == 0 and act.d2(-e - tiny) == 0
        assert act.sigma(-e - 1) == 0 and act.sigma(e + 1) == e + 1 and act.d1(e + 1) == 1
        # continuity of sigma (Lipschitz 1) and sigma' (Lipschitz 1/(2η)) across the kinks;
        # tol (absolute) covers rounding k ± tiny and the pieces' few operations (~10^-40 each)
        for k in (-e, e):
            jump0 = abs(act.sigma(k + tiny) - act.sigma(k - tiny))
            jump1 = abs(act.d1(k + tiny) - act.d1(k - tiny))
            assert jump0 <= 2 * tiny + tol, (eta, k, jump0)
            assert jump1 <= 2 * tiny / (2 * e) + tol, (eta, k, jump1)
        # middle piece, written out: x = η/2 -> (3η/2)²/(4η) = 9η/16, sigma' = 3/4
        assert abs(act.sigma(e / 2) - 9 * e / 16) <= tol
        assert abs(act.d1(e / 2) - mpmath.mpf(3) / 4) <= tol


def test_eta_is_rounded_at_the_active_precision() -> None:
    """eta = 1/3 is converted at whatever precision is active, not frozen at first use.

    sigma(0) = η/4 = 1/12: correct to ~80 digits at 80 digits, and only to ~20 at 20 digits.
    """
    act = exact_activation("regrelu:1/3")
    with mpmath.workdps(20):
        low = act.sigma(mpmath.mpf(0))
    with mpmath.workdps(80):
        high = act.sigma(mpmath.mpf(0))
        assert abs(high - mpmath.mpf(1) / 12) <= mpmath.mpf(10) ** -78
        assert abs(low - high) > mpmath.mpf(10) ** -40  # low really was rounded at 20 digits


@pytest.mark.parametrize("spec", ["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5"])
@pytest.mark.parametrize("dps", [15, 45, 90])
def test_sigma_and_d1_agree_with_sigma_and_d1_within_an_ulp(spec: str, dps: int) -> None:
    """The shared-work pair used by the network (tanh: one cosh/sinh) is within one unit in the
    last place of the truth (the separate functions at 30 more digits), also at huge and tiny
    arguments."""
    act = exact_activation(spec)
    texts = ["0", "1e-300", "-0.3", "0.5", "2.75", "-19.5", "40", "-1e5", "1e200"]
    if spec == "erf":  # erf'(x) = c e^{-x²}: x² rounded at the working precision loses all
        texts = texts[:-2]  # relative accuracy of e^{-x²} once x² > 2^prec (a separate matter)
    for text in texts:
        with mpmath.workdps(dps):
            x = mpmath.mpf(text)
            s, ds = act.sigma_and_d1(x)
            ulp = mpmath.mpf(2) ** (1 - mpmath.mp.prec)
        with mpmath.workdps(dps + 30):
            want_s, want_ds = act.sigma(x), act.d1(x)
        for got, want in ((s, want_s), (ds, want_ds)):
            tol = ulp * abs(want) * (1 if want else 0)
            assert abs(got - want) <= tol, (spec, dps, text, got, want)


def test_sigma_and_d1_check_catches_a_wrong_pair(monkeypatch) -> None:
    """Deliberately broken: sech (not sech²) as tanh's derivative must fail the comparison."""
    act = exact_activation("tanh")
    with mpmath.workdps(30):
        x = mpmath.mpf("0.5")
        s, _ = act.sigma_and_d1(x)
        broken = mpmath.sech(x)
        assert abs(broken - act.d1(x)) > mpmath.mpf(2) ** (1 - mpmath.mp.prec) * act.d1(x)
        assert s == act.sigma(x) or abs(s - act.sigma(x)) <= mpmath.mpf(2) ** -90
