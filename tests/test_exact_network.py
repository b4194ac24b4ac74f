"""The exact discrete path against closed forms worked out by hand.

Every comparison allows the result's own confirmed ``error_bound`` (claim A4) and nothing else:
the references are computed at 60 digits (their own error, ~10^-58, is negligible against a
bound of ~10^-29) or exactly in Fractions. A separate check keeps the bound itself small
(at most ~10 units of the 30th digit for these well-conditioned cases), so a huge bound
cannot make the comparison vacuous.
"""

from __future__ import annotations

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from mforacle.caseio import read_case
from mforacle.exact.activations import mpf_of
from mforacle.exact.network import ExactResult, evaluate, forward, loss
from mforacle.model import Model

DPS = 30
REF_DPS = 60
EXAMPLES = __import__("pathlib").Path(__file__).resolve().parents[1] / "mforacle" / "examples"


def _assert_within(result: ExactResult, name: str, got: np.ndarray, want: np.ndarray) -> None:
    bound = result.error_bound[name]
    with mpmath.workdps(REF_DPS):
        err = max(abs(g - w) for g, w in zip(np.ravel(got), np.ravel(want), strict=True))
        scale = max(max(abs(w) for w in np.ravel(want)), 1)
        assert err <= bound, (
            f"{name}: |exact path - closed form| = {mpmath.nstr(err, 5)} exceeds the confirmed "
            f"bound {mpmath.nstr(bound, 5)}"
        )
        # the bound is ~ 10^(1-dps) |v| plus the computation's own (tiny) error here
        assert bound <= 10 * mpmath.mpf(10) ** (1 - DPS) * scale, (
            f"{name}: bound {mpmath.nstr(bound, 5)} is not tight for a well-conditioned case"
        )


def _hand_one_layer(model: Model, theta: np.ndarray, x, y, w_data, act) -> dict:
    """L = M = 1 written out (1/(L·M) = 1), for any d and a given (sigma, sigma') pair.

    z1 = x + u σ(α), α = w·x + b;  r = g(z1) − y;  q1 = r (a + κ z1);
    q0 = q1 + σ'(α) (u·q1) w;  ∂E/∂w = Σ ω σ'(α)(u·q1) x,  ∂E/∂u = Σ ω σ(α) q1,
    ∂E/∂b = Σ ω σ'(α)(u·q1);  E = Σ ω r²/2.
    """
    d = model.d
    sig, dsig = act
    with mpmath.workdps(REF_DPS):
        th = [mpf_of(v) for v in theta[0, 0]]
        w, u, b = th[:d], th[d:2 * d], th[2 * d]
        a = [mpf_of(v) for v in model.a]
        kap = mpf_of(model.kappa)
        E = mpmath.mpf(0)
        gw, gu, gb = [mpmath.mpf(0)] * d, [mpmath.mpf(0)] * d, mpmath.mpf(0)
        z_L, grad_x = [], []
        for n in range(len(y)):
            xn = [mpf_of(v) for v in x[n]]
            om = mpf_of(w_data[n])
            alpha = sum(w[i] * xn[i] for i in range(d)) + b
            z1 = [xn[i] + u[i] * sig(alpha) for i in range(d)]
            g = sum(a[i] * z1[i] for i in range(d)) + kap / 2 * sum(t * t for t in z1)
            r = g - mpf_of(y[n])
            E += om * r * r / 2
            q1 = [r * (a[i] + kap * z1[i]) for i in range(d)]
            uq = sum(u[i] * q1[i] for i in range(d))
            grad_x.append([q1[i] + dsig(alpha) * uq * w[i] for i in range(d)])
            z_L.append(z1)
            gw = [gw[i] + om * dsig(alpha) * uq * xn[i] for i in range(d)]
            gu = [gu[i] + om * sig(alpha) * q1[i] for i in range(d)]
            gb += om * dsig(alpha) * uq
        return {"loss": E, "z_L": np.array(z_L, dtype=object),
                "grad_x": np.array(grad_x, dtype=object),
                "grad_theta": np.array([[[*gw, *gu, gb]]], dtype=object)}


HAND_ACTS = {
    "tanh": (mpmath.tanh, lambda t: 1 / mpmath.cosh(t) ** 2),
    "sigmoid": (lambda t: 1 / (1 + mpmath.exp(-t)),
                lambda t: mpmath.exp(-t) / (1 + mpmath.exp(-t)) ** 2),
    "sin": (mpmath.sin, mpmath.cos),
}


def test_tiny_example_by_hand() -> None:
    """The bundled tiny.json (d = 2, tanh, L = M = 1) against the formulas written out."""
    case = read_case(EXAMPLES / "tiny.json")
    d = case.data
    r = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=DPS)
    want = _hand_one_layer(case.model, case.theta, d.x, d.y, d.weights, HAND_ACTS["tanh"])
    for name in ("loss", "z_L", "grad_theta", "grad_x"):
        got = np.array(r.loss) if name == "loss" else getattr(r, name)
        _assert_within(r, name, got, np.array(want[name]))


@pytest.mark.parametrize("act", sorted(HAND_ACTS))
@pytest.mark.parametrize("kappa", ["0", "0.75"])
def test_one_neuron_d1_by_hand(act: str, kappa: str) -> None:
    """d = 1, L = M = 1, two weighted points, with and without the curved readout."""
    model = Model.create(1, act, ["-1.5"], kappa)
    theta = [[["0.7", "-1.3", "0.2"]]]
    x, y, w = [["0.4"], ["-1.1"]], ["0.3", "-0.2"], ["0.3", "0.7"]
    r = evaluate(model, theta, x, y, w, dps=DPS)
    th = np.array([[[Fraction(v) for v in theta[0][0]]]], dtype=object)
    want = _hand_one_layer(model, th, [[Fraction(v[0])] for v in x], [Fraction(v) for v in y],
                           [Fraction(v) for v in w], HAND_ACTS[act])
    for name in ("loss", "z_L", "grad_theta", "grad_x"):
        got = np.array(r.loss) if name == "loss" else getattr(r, name)
        _assert_within(r, name, got, np.array(want[name]))


# ---- regrelu in its linear piece: the network is affine in z, solved exactly in Fractions ----

F = Fraction
ETA = F(1, 2)
L_LIN, M_LIN = 3, 2
# (w, u, b) of the two neurons, shared by all three layers; w, u >= 0 and b >= 3/4 keep every
# pre-activation w·z + b above eta = 1/2 (asserted below), so f(z, θ) = u (w·z + b).
NEURONS = [((F(1, 2), F(1, 4)), (F(1, 4), F(1, 8)), F(1)),
           ((F(1, 4), F(3, 4)), (F(1, 8), F(1, 2)), F(3, 4))]
X_LIN = [(F(1, 2), F(1)), (F(1, 4), F(3, 10))]
Y_LIN = [F(1), F(-1, 2)]
W_LIN = [F(3, 10), F(7, 10)]
A_LIN, KAPPA_LIN = (F(1), F(-1, 2)), F(1, 4)


def _matvec(B, v):
    return tuple(sum(B[i][j] * v[j] for j in range(2)) for i in range(2))


def _linear_closed_form() -> dict:
    """z_L = B^L x + Σ_{j<L} B^j c, B = I + (1/(LM)) Σ u wᵀ, c = (1/(LM)) Σ u b.

    The adjoint is q_l = (Bᵀ)^{L-l} q_L, so grad_x = q_0 = (Bᵀ)^L q_L.

    The gradients in θ follow from f = u (w·z + b): ∂_w (qᵀf) = (u·q) z, ∂_u (qᵀf) = (w·z + b) q,
    ∂_b (qᵀf) = u·q, each weighted by ω_n/(L·M). All in exact rational arithmetic.
    """
    lm = L_LIN * M_LIN
    B = [[F(int(i == j)) + sum(u[i] * w[j] for w, u, _ in NEURONS) / lm for j in range(2)]
         for i in range(2)]
    Bt = [[B[j][i] for j in range(2)] for i in range(2)]
    c = tuple(sum(u[i] * b for _, u, b in NEURONS) / lm for i in range(2))
    out = {"z_L": [], "grad_x": [], "loss": F(0)}
    grads = [[[F(0)] * 5 for _ in NEURONS] for _ in range(L_LIN)]
    for x, y, om in zip(X_LIN, Y_LIN, W_LIN, strict=True):
        zs = [x]
        for _ in range(L_LIN):
            for w, _u, b in NEURONS:  # the precondition: every pre-activation above eta
                pre = w[0] * zs[-1][0] + w[1] * zs[-1][1] + b
                assert pre > ETA, f"pre-activation {pre} not above eta: closed form invalid"
            zs.append(tuple(a + cc for a, cc in zip(_matvec(B, zs[-1]), c, strict=True)))
        zl = zs[-1]
        # closed form z_L = B^L x + Σ_j B^j c, checked against the recursion
        p, acc = x, (F(0), F(0))
        for _ in range(L_LIN):
            p = _matvec(B, p)
        bj = c
        for _ in range(L_LIN):
            acc = tuple(s + t for s, t in zip(acc, bj, strict=True))
            bj = _matvec(B, bj)
        assert tuple(s + t for s, t in zip(p, acc, strict=True)) == zl
        r = sum(A_LIN[i] * zl[i] for i in range(2)) + KAPPA_LIN / 2 * sum(t * t for t in zl) - y
        out["loss"] += om * r * r / 2
        q = [None] * (L_LIN + 1)
        q[L_LIN] = tuple(r * (A_LIN[i] + KAPPA_LIN * zl[i]) for i in range(2))
        for l in range(L_LIN - 1, -1, -1):
            q[l] = _matvec(Bt, q[l + 1])
        out["z_L"].append(zl)
        out["grad_x"].append(q[0])
        for l in range(L_LIN):
            for m, (w, u, b) in enumerate(NEURONS):
                uq = u[0] * q[l + 1][0] + u[1] * q[l + 1][1]
                pre = w[0] * zs[l][0] + w[1] * zs[l][1] + b
                g = [uq * zs[l][0], uq * zs[l][1], pre * q[l + 1][0], pre * q[l + 1][1], uq]
                grads[l][m] = [grads[l][m][j] + om * g[j] / lm for j in range(5)]
    out["grad_theta"] = grads
    return out


def _as_mpf(nested) -> np.ndarray:
    with mpmath.workdps(REF_DPS):
        arr = np.array(nested, dtype=object)
        return np.vectorize(mpf_of, otypes=[object])(arr)


def test_regrelu_linear_regime_closed_form() -> None:
    """regrelu with w·z + b > eta everywhere: z_L, loss, grad_x, grad_theta from exact rationals."""
    model = Model.create(2, f"regrelu:{ETA}", [str(v) for v in A_LIN], str(KAPPA_LIN))
    theta = [[[*w, *u, b] for w, u, b in NEURONS] for _ in range(L_LIN)]
    x = [[str(v) for v in p] for p in X_LIN]  # "3/10" is read exactly, as a Fraction
    r = evaluate(model, theta, x, [str(v) for v in Y_LIN], [str(v) for v in W_LIN], dps=DPS)
    want = _linear_closed_form()
    _assert_within(r, "loss", np.array(r.loss), _as_mpf(want["loss"]))
    _assert_within(r, "z_L", r.z_L, _as_mpf(want["z_L"]))
    _assert_within(r, "grad_x", r.grad_x, _as_mpf(want["grad_x"]))
    _assert_within(r, "grad_theta", r.grad_theta, _as_mpf(want["grad_theta"]))


# ---- structure of the result -------------------------------------------------------------


def test_result_shapes_rounding_and_consistency() -> None:
    case = read_case(EXAMPLES / "regrelu_kappa.json")
    d = case.data
    r = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=DPS)
    L, M, k = case.theta.shape
    N, dim = d.n, case.model.d
    assert r.z.shape == (L + 1, N, dim) and r.q.shape == (L + 1, N, dim)
    assert r.grad_theta.shape == (L, M, k) and r.grad_x.shape == (N, dim)
    assert r.z_L.shape == (N, dim)
    assert all(r.z_L[n, i] == r.z[L, n, i] for n in range(N) for i in range(dim))
    assert all(r.grad_x[n, i] == r.q[0, n, i] for n in range(N) for i in range(dim))
    assert set(r.error_bound) == {"loss", "z_L", "grad_theta", "grad_x"}
    assert r.dps == DPS and r.working_dps > DPS and r.confirm_dps >= 2 * r.working_dps
    with mpmath.workdps(DPS):  # reported values are rounded to dps digits
        for v in [r.loss, *r.z.ravel(), *r.q.ravel(), *r.grad_theta.ravel()]:
            assert isinstance(v, mpmath.mpf) and +v == v
    # z_0 is x rounded to dps digits (x = -1.5 etc. are exact)
    with mpmath.workdps(DPS):
        assert all(r.z[0, n, i] == mpf_of(d.x[n, i]) for n in range(N) for i in range(dim))
    # forward() and loss() are the same computation (same working precision) without confirmation
    z = forward(case.model, case.theta, d.x, dps=DPS)
    assert all(a == b for a, b in zip(z.ravel(), r.z.ravel(), strict=True))
    assert loss(case.model, case.theta, d.x, d.y, d.weights, dps=DPS) == r.loss


def test_confirm_false_claims_nothing_and_global_precision_untouched() -> None:
    case = read_case(EXAMPLES / "sin.json")
    d = case.data
    before = mpmath.mp.prec
    r = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=35, confirm=False)
    assert r.error_bound == {} and r.confirm_dps == 0
    assert mpmath.mp.prec == before
    confirmed = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=35)
    assert r.loss == confirmed.loss  # same working precision -> same digits
    assert mpmath.mp.prec == before


def test_default_weights_are_uniform() -> None:
    case = read_case(EXAMPLES / "sigmoid.json")  # no weights in the file: uniform
    d = case.data
    r1 = evaluate(case.model, case.theta, d.x, d.y, dps=DPS, confirm=False)
    r2 = evaluate(case.model, case.theta, d.x, d.y, ["0.5", "0.5"], dps=DPS, confirm=False)
    assert r1.loss == r2.loss
    assert all(a == b for a, b in zip(r1.grad_theta.ravel(), r2.grad_theta.ravel(), strict=True))
