"""Certified enclosures of the mean-field limit: :mod:`mforacle.ball.gaussian` and
:mod:`mforacle.ball.limit` (issue 11, ``docs/limit.md``).

Every check is a *containment*: a ball the ball path returns must contain a value computed
independently — the mpmath exact path at higher precision, flint's certified ``acb.integral``,
or a closed form. Each kind of check also has a deliberately broken implementation (a weakened
error term) that it must catch: a containment test that nothing can fail proves nothing.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import pytest
from flint import acb, arb, ctx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mforacle.ball import gaussian as bg
from mforacle.ball import limit as bl
from mforacle.ball.activations import arb_of
from mforacle.ball.gaussian import drift_and_jacobian, gaussian_moments
from mforacle.ball.limit import enclose_point, solve
from mforacle.caseio import read_case
from mforacle.exact.activations import exact_activation
from mforacle.exact.gaussian import drift_and_jacobian as exact_drift_and_jacobian
from mforacle.exact.gaussian import gaussian_moments as exact_moments
from mforacle.exact.gaussian import marginal as exact_marginal
from mforacle.exact.limit import solve as exact_solve
from mforacle.measures import GaussianPath, Probe
from mforacle.model import Activation, Model

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "mforacle" / "examples"
ACTS = ["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5"]
QUADRATURE = ["tanh", "sigmoid", "softplus"]


def _arb(value: mpmath.mpf) -> arb:
    """An mpf as a tight Arb ball (its 160-digit decimal read at 600 bits): the balls it is
    compared with are far wider, so ``contains`` tests the value, not the conversion."""
    with ctx.workprec(600):
        return arb(mpmath.nstr(value, 160))


# ------------------------------------------------------------------------------------------
# 1. Gaussian moments
# ------------------------------------------------------------------------------------------
POINTS = [("0.3", "0.25"), ("-1.5", "4"), ("0.75", "1e-9"), ("2", "30")]


def _reference_moments(act: str, m: str, v: str, dps: int = 50) -> list[mpmath.mpf]:
    """E_0..E_3 by the exact path at ``dps`` digits (its K_3 = v E_3 divided back by v)."""
    with mpmath.workdps(dps):
        e0, e1, e2, k3 = exact_moments(Activation.parse(act), mpmath.mpf(m), mpmath.mpf(v),
                                       tol=mpmath.mpf(10) ** (6 - dps))
        return [+e0, +e1, +e2, k3 / mpmath.mpf(v)]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("m, v", POINTS)
def test_moments_enclose_the_exact_path(act: str, m: str, v: str) -> None:
    with ctx.workprec(120):
        E = gaussian_moments(act, arb(m), arb(v))
        ref = _reference_moments(act, m, v)
        for j in range(4):
            assert E[j].rad() < 1e-25, (act, m, v, j, E[j])
            assert E[j].contains(_arb(ref[j])), (act, m, v, j, E[j], ref[j])


@pytest.mark.parametrize("act", ACTS)
def test_degenerate_variance_gives_the_derivatives_at_the_mean(act: str) -> None:
    a = exact_activation(Activation.parse(act))
    with ctx.workprec(120), mpmath.workdps(40):
        E = gaussian_moments(act, arb("0.3"), arb(0))
        for j, f in enumerate((a.sigma, a.d1, a.d2)):
            assert E[j].contains(_arb(f(mpmath.mpf("0.3")))), (act, j)


def _acb_moment(act: str, j: int, m: arb, s: arb, Z: int = 14) -> arb:
    """``∫_{-Z}^{Z} σ^{(j)}(m + sζ) φ(ζ) dζ`` by flint's certified integration, widened by the
    Gaussian tail ``2 G φ(Z)/Z`` (``G = |m| + |s| Z + 2`` bounds ``|σ^{(j)}|`` on the tail for
    these activations): an enclosure independent of mforacle's quadrature."""

    def sig(y: acb) -> acb:
        if act == "tanh":
            T = y.tanh()
            return (T, 1 - T * T, -2 * T + 2 * T * T * T, -2 + 8 * T * T - 6 * T * T * T * T)[j]
        S = 1 / (1 + (-y).exp())
        k = j
        if act == "softplus":
            if j == 0:
                return (1 + y.exp()).log(analytic=True)
            k = j - 1
        return (S, S - S * S, S - 3 * S * S + 2 * S * S * S,
                S - 7 * S * S + 12 * S * S * S - 6 * S * S * S * S)[k]

    c = 1 / (2 * arb.pi()).sqrt()

    def f(x: acb, analytic: bool) -> acb:
        return sig(m + s * x) * (-(x * x) / 2).exp() * c

    val = acb.integral(f, -Z, Z).real
    phiZ = c * arb(-Z * Z / 2).exp()
    tail = 2 * (abs(m) + abs(s) * Z + 2) * phiZ / Z
    return val + arb(0, tail.upper())


@pytest.mark.parametrize("act", QUADRATURE)
@pytest.mark.parametrize("m, v", [("0.3", "0.25"), ("-0.5", "100")])
def test_moments_overlap_certified_integration(act: str, m: str, v: str) -> None:
    """Two rigorous enclosures (mforacle's trapezoid with its strip bound, Arb's adaptive
    Gauss–Legendre) of the same number must overlap; large ``v`` included."""
    with ctx.workprec(100):
        E = gaussian_moments(act, arb(m), arb(v))
        for j in range(4):
            ref = _acb_moment(act, j, arb(m), arb(v).sqrt())
            assert E[j].overlaps(ref), (act, m, v, j, E[j], ref)
            assert E[j].rad() < 1e-20


def test_a_weakened_quadrature_bound_is_caught(monkeypatch) -> None:
    """Shrink the trapezoidal rule's error bound 10^12-fold: with a coarse target (1e-4) the
    rule's true error is then outside the reported ball for some moment."""
    cases = [(act, m, v) for act in QUADRATURE for m, v in POINTS[:2]]

    def all_contained() -> bool:
        with ctx.workprec(120):
            for act, m, v in cases:
                E = gaussian_moments(act, arb(m), arb(v), eps=arb("1e-4"))
                ref = _reference_moments(act, m, v)
                if not all(E[j].contains(_arb(ref[j])) for j in range(4)):
                    return False
        return True

    assert all_contained()
    disc, trunc = bg._disc_bound, bg._trunc_bound
    monkeypatch.setattr(bg, "_disc_bound", lambda *a: {j: x * arb("1e-12")
                                                       for j, x in disc(*a).items()})
    monkeypatch.setattr(bg, "_trunc_bound", lambda *a: {j: x * arb("1e-12")
                                                        for j, x in trunc(*a).items()})
    assert not all_contained()


# ------------------------------------------------------------------------------------------
# 2. drift and Jacobian
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("act", ACTS)
def test_drift_and_jacobian_enclose_the_exact_path(act: str) -> None:
    model = Model.create(2, act, ["1", "0.5"], "0")
    c = [["0.25", "-0.25"], ["0.5"], ["0.375", "0.125"], ["-0.625"], ["0.25", "0.25"]]
    A = [[["0.25"], ["0"]], [["0.125"], ["0.25", "0.125"]], [["0.25"], ["0.25"]],
         [["0"], ["0.375"]], [["0.125"], ["0"]]]
    meas = GaussianPath.create(model, 2, c, A)
    z, t = ["0.5", "-1"], Fraction(3, 8)
    with ctx.workprec(120), mpmath.workdps(45):
        F, J = drift_and_jacobian(model, meas, [arb(v) for v in z], t)
        Fe, Je = exact_drift_and_jacobian(model, exact_marginal(meas, t),
                                          [mpmath.mpf(v) for v in z], tol=mpmath.mpf(10) ** -40)
        for i in range(2):
            assert F[i].contains(_arb(Fe[i])), (act, i)
            for l_ in range(2):
                assert J[i][l_].contains(_arb(Je[i, l_])), (act, i, l_)
                assert J[i][l_].rad() < 1e-25


# ------------------------------------------------------------------------------------------
# 3. the limit: closed forms
# ------------------------------------------------------------------------------------------
def _linear_case() -> tuple[Model, GaussianPath]:
    """regrelu:1/2 with deterministic w = 1/2, b = 2 and u = 1/4 + t/4 + ξ/2: for z > -3,
    Y = z/2 + 2 > η, σ(Y) = Y and Cov(u, Y) = 0, so F = (1/4 + t/4)(z/2 + 2) — linear in z —
    and z + 4 = (x + 4) exp(G(t)), G(t) = t/8 + t²/16; J = (1/4 + t/4)/2,
    p(t) = p(1) exp(G(1) − G(t))."""
    model = Model.create(1, "regrelu:0.5", ["1"], "0.25")
    meas = GaussianPath.create(model, 1, [["0.5"], ["0.25", "0.25"], ["2"]],
                               [[["0"]], [["0.5"]], [["0"]]])
    return model, meas


def _linear_truth(x: arb, y: arb, t: arb) -> tuple[arb, arb, arb]:
    def G(s: arb) -> arb:
        return s / 8 + s * s / 16

    Z1 = (x + 4) * G(arb(1)).exp() - 4
    Zt = (x + 4) * G(t).exp() - 4
    res = Z1 + arb("0.125") * Z1 * Z1 - y
    p1 = res * (1 + arb("0.25") * Z1)
    return Zt, p1 * (G(arb(1)) - G(t)).exp(), res * res / 2


def _regrelu(x: arb, j: int) -> arb:
    if x > 0.5:
        return x if j == 0 else arb(1)
    if x < -0.5:
        return arb(0)
    return (x + 0.5) * (x + 0.5) / 2 if j == 0 else x + 0.5  # η = 1/2: (x+η)²/(4η), (x+η)/(2η)


def test_linear_drift_closed_form_is_enclosed() -> None:
    model, meas = _linear_case()
    xs, ys = [Fraction(-1), Fraction(1, 2)], [Fraction(1, 4), Fraction(-1, 2)]
    probes = [Probe.create(model, "0.375", ["0.5", "-1", "0.25"]),
              Probe.create(model, "1", ["-0.25", "0.5", "1"])]
    r = solve(model, meas, [[v] for v in xs], ys, None, probes, tol="1e-18")
    with ctx.workprec(200):
        energy = arb(0)
        for n, (x, y) in enumerate(zip(xs, ys, strict=True)):
            Z1, _p, loss = _linear_truth(arb_of(x), arb_of(y), arb(1))
            assert r.Z1[n][0].contains(Z1), (n, r.Z1[n][0], Z1)
            energy += loss / 2
        assert r.energy.contains(energy)
        for k, pr in enumerate(probes):
            t = arb_of(pr.t)
            w, u, b = (arb_of(v) for v in pr.theta)
            fv = arb(0)
            vel = [arb(0)] * 3
            for x, y in zip(xs, ys, strict=True):
                Zt, pt, _ = _linear_truth(arb_of(x), arb_of(y), t)
                pre = w * Zt + b
                s0, s1 = _regrelu(pre, 0), _regrelu(pre, 1)
                fv += u * pt * s0 / 2
                vel = [vel[0] + s1 * u * pt * Zt / 2, vel[1] + s0 * pt / 2,
                       vel[2] + s1 * u * pt / 2]
            assert r.first_variation[k].contains(fv), (k, r.first_variation[k], fv)
            for j in range(3):
                assert r.velocity[k][j].contains(vel[j]), (k, j)
    assert max(float(b) for b in r.error_bound.values()) < 1e-18


def test_z_independent_drift_with_quadrature_activation() -> None:
    """tanh with deterministic w = 0 and a random bias b = 1/4 + ξ/2, u = 1/2 + t/2 + ξ/4:
    F(t) = c_u(t) E[tanh b] + Cov(u, b) E[tanh' b] does not depend on z, so
    Z(1) = x + (3/4) E[tanh b] + (1/8) E[tanh' b] and p(t) ≡ p(1); the two expectations come
    from Arb's certified integration (independent of mforacle's quadrature)."""
    model = Model.create(1, "tanh", ["1"], "0")
    meas = GaussianPath.create(model, 1, [["0"], ["0.5", "0.5"], ["0.25"]],
                               [[["0"]], [["0.25"]], [["0.5"]]])
    x, y = Fraction(1, 2), Fraction(1, 4)
    r = solve(model, meas, [[x]], [y], None, [Probe.create(model, "0", ["1", "1", "0"])],
              tol="1e-16")
    with ctx.workprec(120):
        e0 = _acb_moment("tanh", 0, arb("0.25"), arb("0.5"))
        e1 = _acb_moment("tanh", 1, arb("0.25"), arb("0.5"))
        Z1 = arb_of(x) + arb("0.75") * e0 + arb("0.125") * e1
        assert r.Z1[0][0].overlaps(Z1), (r.Z1[0][0], Z1)
        p = Z1 - arb_of(y)  # g(z) = z: p(1) = g - y, constant in t
        assert r.p[Fraction(0)][0][0].overlaps(p)
        # V_u at t = 0, θ = (1, 1, 0): σ(w x + b) p = tanh(1/2) p
        assert r.velocity[0][1].overlaps(arb("0.5").tanh() * p)
        assert r.Z1[0][0].rad() < 1e-16


def test_autonomous_flow_time_integral_is_one() -> None:
    """For a t-independent measure in d = 1 with F > 0, the time to reach Z(1) from x is
    ``∫_x^{Z(1)} dz/F(z) = 1``. With F written out here for erf (its closed form) and integrated
    by Arb, the enclosure [lo, hi] of Z(1) must satisfy T(lo) ≤ 1 ≤ T(hi)."""
    model = Model.create(1, "erf", ["1"], "0")
    meas = GaussianPath.create(model, 1, [["0.5"], ["0.75"], ["0.25"]],
                               [[["0.25"]], [["0.5"]], [["0.375"]]])
    x = Fraction(-1, 2)
    r = solve(model, meas, [[x]], ["0"], None, [], tol="1e-20")
    Z1 = r.Z1[0][0]
    assert Z1.rad() < 1e-20
    with ctx.workprec(160):
        def F(z: acb) -> acb:
            m = z / 2 + arb("0.25")
            a = z / 4 + arb("0.375")
            S = (1 + 2 * a * a).sqrt()
            e1 = 2 / arb.pi().sqrt() * (-(m * m) / (S * S)).exp() / S
            return arb("0.75") * (m / S).erf() + arb("0.5") * a * e1

        def T(z: arb) -> arb:
            return acb.integral(lambda s, _an: 1 / F(s), arb_of(x), z).real

        lo, hi = Z1.lower(), Z1.upper()
        assert not T(lo) > 1 and not T(hi) < 1, (T(lo), T(hi))
        # and the enclosure is tight: a slightly wider interval is decided
        assert T(lo - arb("1e-15")) < 1 < T(hi + arb("1e-15"))


# ------------------------------------------------------------------------------------------
# 4. the adjoint: p(0) contains difference quotients of the terminal cost
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["measure_erf_d1", "measure_tanh_d2"])
def test_adjoint_contains_difference_quotients(name: str) -> None:
    """``p(0; x) = ∇_x ℓ``: by the mean value theorem ``(ℓ(x + h e_i) − ℓ(x))/h = ∂_iℓ(ξ)`` for
    some ``ξ`` on the segment, so the enclosure of ``p_i(0)`` over the segment (one box run)
    contains the difference quotient of two point runs' loss enclosures."""
    case = read_case(str(EXAMPLES / f"{name}.json"))
    d = case.model.d
    x, y = list(case.data.x[0]), case.data.y[0]
    h = Fraction(1, 2**20)
    with ctx.workprec(160):
        base = enclose_point(case.model, case.measure, x, y, tol="1e-18")
        for i in range(d):
            xh = list(x)
            xh[i] += h
            moved = enclose_point(case.model, case.measure, xh, y, tol="1e-18")
            box = [arb_of(v) for v in x]
            box[i] = arb(arb_of(x[i] + h / 2), arb_of(h / 2))
            seg = enclose_point(case.model, case.measure, box, y, tol="1e-10")
            quotient = (moved.loss - base.loss) / arb_of(h)
            assert quotient.rad() < 1e-9
            assert seg.p[Fraction(0)][i].overlaps(quotient), (i, seg.p[Fraction(0)][i], quotient)
            # a wrong adjoint (scaled by 1 + 1e-4) is told apart
            assert not (seg.p[Fraction(0)][i] * (1 + arb("1e-4"))).overlaps(quotient)


# ------------------------------------------------------------------------------------------
# 5. a deliberately weakened remainder term is caught
# ------------------------------------------------------------------------------------------
def test_a_weakened_defect_remainder_is_caught(monkeypatch) -> None:
    """The Taylor remainder of each step is bounded by the defect integral (series part +
    Cauchy tail). At a low order the enclosure is tight (radius about twice the true error on
    the linear closed form), so a remainder 100 times too small is caught; so is an integrator
    that trusts its Taylor polynomial (no remainder at all)."""
    model, meas = _linear_case()

    def contains() -> bool:
        r = solve(model, meas, [["-1"]], ["0.25"], None, [], tol="1e-8", order=8)
        with ctx.workprec(200):
            Z1, _p, _l = _linear_truth(arb(-1), arb("0.25"), arb(1))
            return bool(r.Z1[0][0].contains(Z1))

    assert contains()
    orig = bl._Integrator._defect_integral
    for weakened in (lambda *a: orig(*a) / 100, lambda *a: arb(0)):
        monkeypatch.setattr(bl._Integrator, "_defect_integral", staticmethod(weakened))
        assert not contains()


# ------------------------------------------------------------------------------------------
# 6. generated Gaussian depth paths against the exact path
# ------------------------------------------------------------------------------------------
def _require(condition: bool) -> None:
    assert condition


def _containment(model, meas, x, y, probes, *, ball_tol, exact_tol, exact_dps, order=8,
                 require=assume):
    """Ball enclosures contain the exact path's values (``require``: ``assume`` under hypothesis
    — a draw whose reference is unconfirmed or too coarse decides nothing — else an assert)."""
    r = solve(model, meas, x, y, None, probes, tol=ball_tol, order=order)
    e = exact_solve(model, meas, x, y, None, probes, dps=exact_dps, tol=exact_tol)
    require(e.converged)  # an unconfirmed reference decides nothing
    slack = max(float(v) for v in e.error_bound.values())
    with ctx.workprec(200):
        pairs = [(r.energy, e.energy)]
        pairs += [(r.Z1[i][j], e.Z1[i, j]) for i in range(len(x)) for j in range(model.d)]
        pairs += [(r.first_variation[i], e.first_variation[i]) for i in range(len(probes))]
        pairs += [(r.velocity[i][j], e.velocity[i, j]) for i in range(len(probes))
                  for j in range(model.k)]
        # the check decides something only if some ball is far wider than the reference's error
        require(max(float(b.rad()) for b, _v in pairs) > 100 * slack)
        for ball, val in pairs:
            if ball.rad() > 100 * slack:
                # the exact value's own error is far below the radius: strict containment
                assert ball.contains(_arb(val)), (ball, val)
            else:  # a (nearly) exact ball, e.g. a vanishing drift: the intervals must meet
                assert ball.overlaps(_arb(val) + arb(0, slack)), (ball, val, slack)


@st.composite
def _small_cases(draw, act: str):
    from mforacle.properties.strategies.limit import gaussian_paths
    from mforacle.properties.strategies.limit import probes as probe_st

    d = draw(st.integers(1, 2))
    model = Model.create(d, act, [Fraction(draw(st.integers(1, 4)), 4)] * d,
                         Fraction(draw(st.integers(-2, 2)), 8))
    meas = draw(gaussian_paths(model, r=draw(st.integers(1, min(2, model.k))),
                               degree=draw(st.integers(0, 2))))
    # a nontrivial drift: some randomness in w·z + b and some mean or spread in u
    rows_wb = [*range(d), 2 * d]
    assume(any(c for i in rows_wb for p in meas.A[i] for c in p))
    assume(any(c for i in range(d, 2 * d) for c in meas.c[i])
           or any(c for i in range(d, 2 * d) for p in meas.A[i] for c in p))
    x = [[Fraction(draw(st.integers(-8, 8)), 8) for _ in range(d)]]
    y = [Fraction(draw(st.integers(-8, 8)), 8)]
    pr = draw(probe_st(model, st.integers(0, 1)))
    return model, meas, x, y, pr


@pytest.mark.parametrize("act", ["erf", "sin", "regrelu:0.5"])
@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_cases_closed_form_moments(act: str, data) -> None:
    model, meas, x, y, pr = data.draw(_small_cases(act))
    _containment(model, meas, x, y, pr, ball_tol="1e-6", exact_tol="1e-14", exact_dps=22,
                 order=6)


@pytest.mark.parametrize("act", QUADRATURE)
@settings(max_examples=1, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_cases_quadrature_moments(act: str, data) -> None:
    model, meas, x, y, pr = data.draw(_small_cases(act))
    _containment(model, meas, x, y, pr, ball_tol="1e-5", exact_tol="1e-11", exact_dps=18,
                 order=6)


@pytest.mark.slow
@pytest.mark.parametrize("act", ACTS)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_cases_thorough(act: str, data) -> None:
    model, meas, x, y, pr = data.draw(_small_cases(act))
    _containment(model, meas, x, y, pr, ball_tol="1e-9", exact_tol="1e-18", exact_dps=28,
                 order=8)


# ------------------------------------------------------------------------------------------
# 7. where Var(w·z + b) vanishes
# ------------------------------------------------------------------------------------------
def test_regrelu_fixed_point_at_zero_variance() -> None:
    """regrelu with a = (z − 1)/8: at x = 1 the variance of w·z + b is 0 and the drift vanishes,
    so Z ≡ 1. The closed form is not analytic there; the middle piece's polynomial plus its
    proved tail error is, and the enclosure is exact."""
    model = Model.create(1, "regrelu:0.5", ["0.25"], "0")
    meas = GaussianPath.create(model, 1, [["0"], ["0"], ["0"]],
                               [[["0.125"]], [["0.125"]], [["-0.125"]]])
    r = solve(model, meas, [["1"]], ["0"], None, [], tol="1e-12")
    assert r.Z1[0][0].contains(arb(1)) and r.Z1[0][0].rad() < 1e-20


def test_spread_starting_from_zero_with_two_noise_dimensions() -> None:
    """tanh, r = 2, A(t) = t·A₁: every component of a vanishes at t = 0 (s = τ√(...)), and the
    enclosure meets the exact path's value."""
    model = Model.create(1, "tanh", ["1"], "0")
    meas = GaussianPath.create(
        model, 2, [["0.5"], ["0.75", "-0.5"], ["0.25"]],
        [[["0", "0.5"], ["0", "0.25"]], [["0", "0.25"], ["0"]], [["0", "0.375"], ["0", "-0.25"]]])
    _containment(model, meas, [["0.5"]], ["0.25"], [], ball_tol="1e-6", exact_tol="1e-11",
                 exact_dps=18, order=6, require=_require)


@pytest.mark.parametrize("piece, m", [(0, "0.1"), (1, "1.5"), (-1, "-1.25")])
@pytest.mark.parametrize("s", ["0.02", "0.05", "0.12"])
def test_regrelu_piece_error_bounds_the_true_difference(piece: int, m: str, s: str) -> None:
    """The piece polynomial's Gaussian moments differ from regrelu's by at most the stated
    tail error (checked against the exact closed form at 150 digits: the tails are ~1e-50 and
    the closed form's Φ(β) − Φ(α) cancels)."""
    with ctx.workprec(600):
        eta = arb("0.5")
        v = arb(s) * arb(s)
        errs = bg.regrelu_piece_error(eta, piece, arb(m), arb(m), arb(s))
        poly = bg._regrelu_piece(arb(m), eta, piece, v)
        ref = _reference_moments("regrelu:0.5", m, str(Fraction(s) ** 2), dps=150)
        for j in range(4):
            diff = abs(poly[j] - _arb(ref[j]))
            assert diff.upper() <= errs[j], (piece, m, s, j, diff, errs[j])
