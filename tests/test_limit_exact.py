"""The exact limit solver against closed forms, A3 in the limit, and A4 (digits hold).

Every comparison's allowance is the solver's reported ``error_bound`` plus the reference's own
error (mpmath.quad's error estimate, or a central difference's estimated truncation error).
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from mforacle.caseio import read_case
from mforacle.errors import InvalidArgument
from mforacle.exact.activations import mpf_of
from mforacle.exact.limit import flow, solve
from mforacle.measures import GaussianPath, Probe
from mforacle.model import Model

EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "mforacle" / "examples"


# --- closed form 1: u ⟂ w structure, d = 2 ---------------------------------------------------
# theta = (w1, w2, u1, u2, b) with w1 = u2 = 0: dZ2/dt = 0, dZ1/dt = E[u1 erf(w2 x2 + b)](t),
# dp1/dt = 0, dp2/dt = -J12(t) p1 with J12 = E[erf'(Y) u1 w2]. Reference: nested mpmath.quad
# over xi and t, independent of the Stein formulas and of the ODE solver.
def _ortho_case():
    model = Model.create(2, "erf", ["1", "-0.5"], "0.25")
    c = [["0"], ["0.5", "0.25"], ["0.75", "-0.5"], ["0"], ["0.25"]]
    A = [[["0"]], [["0.25"]], [["0.5"]], [["0"]], [["0", "0.25"]]]
    return model, GaussianPath.create(model, 1, c, A)


def _ortho_reference(x, y, probe_t, probe_theta):
    def theta(xi, t):
        return (mpmath.mpf(0.5) + t / 4 + xi / 4, mpmath.mpf(0.75) - t / 2 + xi / 2,
                mpmath.mpf(0.25) + t * xi / 4)  # w2, u1, b

    def phi(xi):
        return mpmath.exp(-xi * xi / 2) / mpmath.sqrt(2 * mpmath.pi)

    def F1(t, x2):
        def f(xi):
            w2, u1, b = theta(xi, t)
            return phi(xi) * u1 * mpmath.erf(w2 * x2 + b)
        return mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf])

    def J12(t, x2):
        def f(xi):
            w2, u1, b = theta(xi, t)
            yv = w2 * x2 + b
            return phi(xi) * u1 * w2 * 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-yv * yv)
        return mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf])

    # Gauss–Legendre in t (24 nodes; the integrands are entire in t: error far below 1e-20)
    gl = mpmath.calculus.quadrature.GaussLegendre(mpmath.mp).calc_nodes(4, mpmath.mp.prec)

    def int_t(fn, lo, hi):
        lo, hi = mpmath.mpf(lo), mpmath.mpf(hi)
        return (hi - lo) / 2 * mpmath.fsum(w * fn((hi - lo) / 2 * u + (hi + lo) / 2)
                                           for u, w in gl)

    out = []
    for (x1, x2), yy in zip(x, y, strict=True):
        x1, x2, yy = mpmath.mpf(x1), mpmath.mpf(x2), mpmath.mpf(yy)
        Z1 = x1 + int_t(lambda t, x2=x2: F1(t, x2), 0, 1)
        Zp = x1 + int_t(lambda t, x2=x2: F1(t, x2), 0, probe_t)
        a, kap = [mpmath.mpf(1), mpmath.mpf(-0.5)], mpmath.mpf(0.25)
        g = a[0] * Z1 + a[1] * x2 + kap / 2 * (Z1**2 + x2**2)
        p1 = (g - yy) * (a[0] + kap * Z1)
        p2_1 = (g - yy) * (a[1] + kap * x2)
        p2_t = p2_1 + p1 * int_t(lambda t, x2=x2: J12(t, x2), probe_t, 1)
        out.append(dict(Z1=(Z1, x2), ell=(g - yy) ** 2 / 2, Zp=(Zp, x2), pp=(p1, p2_t)))
    return out


@pytest.mark.slow  # ~45 s (quadrature at 24 digits); the exact limit also meets the fast one in CI
def test_exact_solver_matches_closed_form_orthogonal_case() -> None:
    model, meas = _ortho_case()
    x = [["0.5", "-1"], ["-0.25", "0.75"]]
    y = ["0.25", "-0.5"]
    th = ["0.5", "-0.75", "1", "0.25", "0.125"]
    pt = Fraction(1, 2)
    res = solve(model, meas, x, y, None, [Probe.create(model, pt, th)], dps=20, tol="1e-14")
    assert res.converged
    with mpmath.workdps(24):
        ref = _ortho_reference([[float(Fraction(v)) for v in r] for r in x],
                               [float(Fraction(v)) for v in y], mpf_of(pt), th)
        energy = sum(r["ell"] for r in ref) / 2
        ref_err = mpmath.mpf(10) ** -18  # quad at 24 digits: far below the solver's tol
        d_e = abs(res.energy - energy)
        assert d_e <= res.error_bound["energy"] + ref_err, (
            f"energy {res.energy} vs closed form {energy}: {d_e} > {res.error_bound['energy']}"
        )
        for n, r in enumerate(ref):
            for i in range(2):
                dz = abs(res.Z1[n, i] - r["Z1"][i])
                assert dz <= res.error_bound["Z1"] + ref_err, (n, i, dz, res.error_bound["Z1"])
        # velocity at the probe from the reference Z(1/2), p(1/2)
        w, u, b = [mpf_of(Fraction(v)) for v in th[:2]], [mpf_of(Fraction(v)) for v in th[2:4]], \
            mpf_of(Fraction(th[4]))
        V = [mpmath.mpf(0)] * 5
        for r in ref:
            z, p = r["Zp"], r["pp"]
            pre = w[0] * z[0] + w[1] * z[1] + b
            s0, s1 = mpmath.erf(pre), 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-pre * pre)
            up = u[0] * p[0] + u[1] * p[1]
            for i in range(2):
                V[i] += s1 * up * z[i] / 2
                V[2 + i] += s0 * p[i] / 2
            V[4] += s1 * up / 2
        dv = max(abs(res.velocity[0, i] - V[i]) for i in range(5))
        assert dv <= res.error_bound["velocity"] + ref_err, (
            f"velocity {list(res.velocity[0])} vs closed form {V}: {dv}"
        )


# --- closed form 2: a linear ODE (regrelu above its kink, deterministic measure), d = 1 -------
W_, U_, B_ = Fraction(1, 2), Fraction(3, 4), Fraction(1)


def linear_case() -> tuple[Model, GaussianPath]:
    """dZ/dt = u (w Z + b) while w Z + b > eta: Z(t) = (x + b/w) e^{uwt} - b/w."""
    model = Model.create(1, "regrelu:0.5", ["1"], "0.25")
    meas = GaussianPath.create(model, 1, [[str(W_)], [str(U_)], [str(B_)]], [[["0"]]] * 3)
    return model, meas


def linear_reference(x: float, y: float, t: float):
    w, u, b = (mpmath.mpf(float(v)) for v in (W_, U_, B_))
    x, y, t = mpmath.mpf(x), mpmath.mpf(y), mpmath.mpf(t)
    Z1 = (x + b / w) * mpmath.exp(u * w) - b / w
    Zt = (x + b / w) * mpmath.exp(u * w * t) - b / w
    g = Z1 + Z1**2 / 8
    p1 = (g - y) * (1 + Z1 / 4)
    pt = p1 * mpmath.exp(u * w * (1 - t))
    return Z1, (g - y) ** 2 / 2, Zt, pt


def test_exact_solver_matches_linear_flow() -> None:
    model, meas = linear_case()
    xs, ys = [0.0, 0.5], [0.25, 2.0]
    th = (0.75, -0.5, 0.25)  # probe neuron, its own pre-activation crosses regions freely
    res = solve(model, meas, [[v] for v in xs], ys, None, [(Fraction(1, 4), th)],
                dps=25, tol="1e-18")
    with mpmath.workdps(30):
        refs = [linear_reference(xv, yv, 0.25) for xv, yv in zip(xs, ys, strict=True)]
        energy = sum(r[1] for r in refs) / 2
        assert abs(res.energy - energy) <= res.error_bound["energy"], (res.energy, energy)
        for n, r in enumerate(refs):
            assert abs(res.Z1[n, 0] - r[0]) <= res.error_bound["Z1"], (n, res.Z1[n, 0], r[0])
        Zq, pq = res.at(Fraction(1, 4))
        for n, r in enumerate(refs):
            assert abs(pq[n, 0] - r[3]) <= res.error_bound["p"], (n, pq[n, 0], r[3])
            assert abs(Zq[n, 0] - r[2]) <= res.error_bound["Z"], (n, Zq[n, 0], r[2])


def test_reported_digits_hold_at_higher_precision() -> None:
    """A4: recompute at dps 35 and a 10^6 smaller tol; the difference is within the bound."""
    case = read_case(EXAMPLES / "measure_erf_d1.json")
    d = case.data
    lo = solve(case.model, case.measure, d.x, d.y, d.weights, case.probes, dps=20, tol="1e-10")
    hi = solve(case.model, case.measure, d.x, d.y, d.weights, case.probes, dps=35, tol="1e-16")
    with mpmath.workdps(40):
        for name in ("energy", "Z1", "first_variation", "velocity"):
            a = np.atleast_1d(getattr(lo, name)).reshape(-1)
            b = np.atleast_1d(getattr(hi, name)).reshape(-1)
            diff = max(abs(u - v) for u, v in zip(a, b, strict=True))
            bound = lo.error_bound[name] + hi.error_bound[name]
            assert diff <= bound, f"A4 {name}: dps-20 result moved by {diff} > bound {bound}"
            # the bound must not be vacuous: it is at the requested tolerance
            assert lo.error_bound[name] <= mpmath.mpf("1e-10"), (name, lo.error_bound[name])


def test_adjoint_is_the_state_gradient_in_the_limit() -> None:
    """A3 in the limit: p(t) = d(terminal cost)/dZ(t), by central differences of the flow."""
    model = Model.create(2, "erf", ["0.75", "-0.5"], "-0.5")
    c = [["0.5", "-0.25"], ["0.25"], ["-0.5", "0.5"], ["0.75"], ["0.125", "0.25"]]
    A = [[["0.25"]], [["0.125", "0.125"]], [["0.25"]], [["0", "-0.25"]], [["0.25"]]]
    meas = GaussianPath.create(model, 1, c, A)
    x, y = [["0.5", "-0.25"]], ["0.375"]
    res = solve(model, meas, x, y, None, (), dps=30, tol="1e-15", segments=2)
    a = [mpmath.mpf(0.75), mpmath.mpf(-0.5)]
    kap = mpmath.mpf(-0.5)

    flow_bounds = []

    def ell(z, t) -> mpmath.mpf:
        Z1, bound = flow(model, meas, z, t, 1, dps=40, tol="1e-22")
        flow_bounds.append(bound)
        g = a[0] * Z1[0] + a[1] * Z1[1] + kap / 2 * (Z1[0] ** 2 + Z1[1] ** 2)
        return (g - mpmath.mpf(0.375)) ** 2 / 2

    h = mpmath.mpf("1e-4")
    for t in (Fraction(0), Fraction(1, 2)):
        Zt, pt = res.at(t)
        with mpmath.workdps(45):
            for i in range(2):
                def cd(step, i=i, Zt=Zt, t=t):
                    zp, zm = list(Zt[0]), list(Zt[0])
                    zp[i] += step
                    zm[i] -= step
                    return (ell(zp, t) - ell(zm, t)) / (2 * step)

                c1, c2, c4 = cd(h), cd(2 * h), cd(4 * h)
                r1 = (4 * c1 - c2) / 3  # Richardson: O(h^4)
                r2 = (4 * c2 - c4) / 3
                # truncation of r1 estimated by |r1 - r2| (r2's error is 16x r1's); the flow's
                # bound e enters the Richardson quotient as <= (4/3 + 1/6) e (|dl/dZ1| <= 1
                # here) / h, taken as 2 e / h; p's own reported bound
                e = max(flow_bounds)
                bound = res.error_bound["p"] + abs(r1 - r2) + 2 * e / h
                diff = abs(pt[0, i] - r1)
                assert diff <= bound, (
                    f"A3 limit: p({t})[{i}] = {pt[0, i]} vs central difference {r1}: "
                    f"{diff} > {bound}"
                )
                assert abs(r1 - r2) < mpmath.mpf("1e-12"), "difference quotient not converged"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"dps": 10}, "dps"),
        ({"dps": 20, "tol": "1e-30"}, "tol"),
        ({"dps": 20, "tol": "2"}, "tol"),
        ({"segments": 0}, "segments"),
    ],
)
def test_bad_solver_arguments_raise(kwargs, field) -> None:
    model, meas = linear_case()
    with pytest.raises(InvalidArgument) as err:
        solve(model, meas, [[0.0]], [0.0], None, (), **kwargs)
    assert err.value.field == field


def test_bad_problem_inputs_raise() -> None:
    model, meas = linear_case()
    other = Model.create(2, "tanh")
    with pytest.raises(InvalidArgument, match="measure"):
        solve(other, meas, [[0.0, 0.0]], [0.0])
    with pytest.raises(InvalidArgument, match="probes"):
        solve(model, meas, [[0.0]], [0.0], None, [("1.5", [0, 0, 0])])
    with pytest.raises(InvalidArgument, match="x"):
        solve(model, meas, [[float("nan")]], [0.0])
