"""``σ^{(j)}`` on Arb balls encloses every value on the ball (``mforacle.ball.activations``).

The reference is independent of the formulas under test: ``mpmath.diff`` (numerical
differentiation at 60 digits) of mpmath's own ``σ`` for the smooth activations, the piecewise
definition for ``regrelu``. Points: both endpoints, the midpoint and interior points of balls
from radius 0 to radius 10 (wide balls exercise the monotone-endpoint and global-range
refinements). Allowed slack: ``10^-25 (1 + |v|)`` for the reference's own error, far below any
radius that could hide a wrong formula (a sign flip is caught: mutation test).
"""

from __future__ import annotations

from fractions import Fraction

import flint
import mpmath
import pytest
from flint import arb

from mforacle.ball import activations as A
from mforacle.errors import InvalidArgument
from mforacle.model import Activation

SMOOTH = {
    "tanh": mpmath.tanh,
    "erf": mpmath.erf,
    "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)),
    "softplus": lambda t: mpmath.log1p(mpmath.exp(t)),
    "sin": mpmath.sin,
}
CENTERS = ["0", "0.3", "-1.7", "4.25", "-12", "35"]
RADII = [Fraction(0), Fraction(1, 2**100), Fraction(1, 10**10), Fraction(1, 2), Fraction(10)]


def _mpf(v: arb) -> mpmath.mpf:
    man, exp = v.man_exp()
    return mpmath.mpf((int(man), int(exp)))


def _contains(ball: arb, v: mpmath.mpf) -> bool:
    if not ball.rad().is_finite():
        return True
    slack = mpmath.mpf(10) ** -25 * (1 + abs(v))
    return abs(v - _mpf(ball.mid())) <= _mpf(ball.rad()) + slack


def _points(c: Fraction, r: Fraction) -> list[Fraction]:
    return [c - r, c - r / 3, c, c + r / 7, c + r]


def _ball(c: Fraction, r: Fraction) -> arb:
    return A.arb_of(c) + (arb(0, A.arb_of(r)) if r else arb(0))


def _smooth_violations(name: str) -> list[str]:
    act = Activation.parse(name)
    f = SMOOTH[name]
    out = []
    with flint.ctx.workprec(128), mpmath.workdps(60):
        for c_text in CENTERS:
            c = Fraction(c_text)
            for r in RADII:
                x = _ball(c, r)
                for j in range(4):
                    enc = A.sigma(act, x, j)
                    for p in _points(c, r):
                        v = mpmath.diff(f, mpmath.mpf(p.numerator) / p.denominator, j)
                        if not _contains(enc, v):
                            out.append(f"{name} j={j} x={c}±{float(r):.2g} at {float(p)}: "
                                       f"{mpmath.nstr(v, 15)} not in {enc.str(15)}")
    return out


@pytest.mark.parametrize("name", list(SMOOTH))
def test_smooth_derivatives_are_enclosed_on_balls(name: str) -> None:
    bad = _smooth_violations(name)
    assert not bad, "\n".join(bad[:5])


def test_a_wrong_sign_is_caught(monkeypatch) -> None:
    """Mutant: tanh'' with its sign flipped must leave the enclosure."""
    f, mono, key = A._FORMULAS[("tanh", 2)]
    monkeypatch.setitem(A._FORMULAS, ("tanh", 2), (lambda t: -f(t), mono, key))
    assert _smooth_violations("tanh")


@pytest.mark.parametrize("name", list(SMOOTH))
def test_wide_balls_stay_within_the_global_ranges(name: str) -> None:
    """A ball [0 ± 1000] gives the proved global range, not a blown-up ``f(m) ± r·sup|f'|``."""
    act = Activation.parse(name)
    with flint.ctx.workprec(64):
        for j in range(4):
            enc = A.sigma(act, arb(0, 1000), j)
            if name == "softplus" and j == 0:
                assert enc.upper() <= 1002
            else:
                assert abs(enc).upper() <= 3, (name, j, enc)


@pytest.mark.parametrize("name", list(SMOOTH))
def test_huge_arguments_are_enclosed(name: str) -> None:
    """±1e300 (exact integers): values against mpmath, which reduces such arguments exactly."""
    act = Activation.parse(name)
    f = SMOOTH[name]
    with flint.ctx.workprec(4000), mpmath.workprec(1200):  # 10^300 needs 697 bits, exactly
        for s in (1, -1):
            x = A.arb_of(s * 10**300)
            for j in range(2):
                enc = A.sigma(act, x, j)
                big = mpmath.mpf(s * 10**300)
                if name == "sin":
                    v = mpmath.sin(big) if j == 0 else mpmath.cos(big)
                elif j == 0:
                    v = f(big)
                elif name == "softplus":  # softplus' = sigmoid
                    v = SMOOTH["sigmoid"](big)
                else:  # the derivative of a saturated σ: below e^{-1e300}, i.e. 0 to 60 digits
                    v = mpmath.mpf(0)
                assert _contains(enc, v) or (j == 1 and abs(enc).upper() < arb(10) ** -1000), (
                    name, s, j, enc)


# ------------------------------------------------------------------------- regrelu


def _regrelu_ref(eta: Fraction, p: Fraction, j: int) -> list[Fraction]:
    """Every value σ^{(j)} takes at the point p: both one-sided σ'' at a kink, the middle
    piece's value at the kink point itself (the convention)."""
    if j == 0:
        return [Fraction(0) if p < -eta else p if p > eta else (p + eta) ** 2 / (4 * eta)]
    if j == 1:
        return [Fraction(0) if p < -eta else Fraction(1) if p > eta else (p + eta) / (2 * eta)]
    if j == 2:
        return [Fraction(0) if p < -eta or p > eta else 1 / (2 * eta)]
    return [Fraction(0)]


@pytest.mark.parametrize("eta", ["0.5", "0.1", "1"])
def test_regrelu_is_enclosed_including_the_kinks(eta: str) -> None:
    act = Activation.parse(f"regrelu:{eta}")
    e = Fraction(eta)
    centers = [Fraction(0), e, -e, e / 3, 2 * e, -3 * e, Fraction(5)]
    with flint.ctx.workprec(128), mpmath.workdps(60):
        for c in centers:
            for r in RADII:
                x = _ball(c, r)
                for j in range(3):
                    enc = A.sigma(act, x, j)
                    for p in _points(c, r):
                        for v in _regrelu_ref(e, p, j):
                            assert _contains(enc, mpmath.mpf(v.numerator) / v.denominator), (
                                eta, c, r, j, p, enc)


def test_regrelu_second_derivative_on_a_straddling_ball_holds_both_branches() -> None:
    act = Activation.parse("regrelu:0.5")
    with flint.ctx.workprec(64):
        x = arb(0.5, 0.01)  # straddles the kink at +η
        enc = A.sigma(act, x, 2)
        assert enc.contains(0) and enc.contains(1) and A.straddles_kink(act, x)
        point = arb(0.5)  # exactly on the kink: the middle piece's value 1/(2η) = 1
        assert A.sigma(act, point, 2) == 1 and not A.straddles_kink(act, point)
        assert A.sigma(act, arb(0.75), 2) == 0 and A.sigma(act, arb(0.25), 2) == 1


def test_regrelu_third_derivative_is_zero_off_the_kinks_and_unbounded_on_them() -> None:
    act = Activation.parse("regrelu:0.5")
    with flint.ctx.workprec(64):
        for x in (arb(0), arb(0.2, 0.1), arb(3, 1), arb(-2, 1)):
            assert A.sigma(act, x, 3) == 0
        for x in (arb(0.5), arb(-0.5), arb(0.4, 0.2), arb(0, 10)):
            assert not A.sigma(act, x, 3).rad().is_finite()


def test_smooth_activations_never_straddle() -> None:
    with flint.ctx.workprec(64):
        assert not A.straddles_kink(Activation.parse("tanh"), arb(0, 100))


def test_arb_of_is_exact_for_dyadics_and_encloses_the_rest() -> None:
    with flint.ctx.workprec(64):
        assert A.arb_of(Fraction(3, 2**1074)).is_exact()
        assert A.arb_of(10**400).is_exact()
        tenth = A.arb_of(Fraction(1, 10))
        assert not tenth.is_exact()
        with mpmath.workdps(50):
            assert _contains(tenth, mpmath.mpf(1) / 10)


@pytest.mark.parametrize(
    ("args", "field"),
    [(("tanh", arb(1), 0), "act"), ((Activation("tanh"), 1.0, 0), "x"),
     ((Activation("tanh"), arb(1), 4), "j"), ((Activation("tanh"), arb(1), True), "j")],
)
def test_bad_arguments(args, field) -> None:
    with pytest.raises(InvalidArgument) as info:
        A.sigma(*args)
    assert info.value.field == field
    with pytest.raises(InvalidArgument):
        A.arb_of(0.5)
