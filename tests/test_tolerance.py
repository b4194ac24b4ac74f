"""The derived error model (mforacle/tolerance.py): it must hold, and it must not be vacuous.

Both directions are checked against the exact path (mpmath, 30 digits) on fixed Gaussian cases
(seeds 0, 1, 2 — the first three, not chosen by outcome):

- float64 (the fast path): every entry's error is within its bound; the max-entry bound is at
  most ``RATIO_MAX = 1e4`` times the max-entry observed error (a worst case over summation
  orders and rounding signs exceeds the typical random-walk error by ~sqrt(n) to n, n the
  operation count per entry: here n <= ~60, so 1e4 leaves room without being vacuous), and
  below 1e-9 relative to the quantity's size.
- float32 (a small float32 implementation written below): within the float32 bound, and
  clearly outside the float64 bound — the model tells the two arithmetics apart.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from mforacle import tolerance
from mforacle.errors import InvalidArgument
from mforacle.exact import network as exact_network
from mforacle.fast import network as fast_network
from mforacle.model import Model

QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")
RATIO_MAX = 1e4
SEEDS = (0, 1, 2)
ACTS = ("tanh", "sin", "softplus")


def _case(seed: int, act: str):
    rng = np.random.default_rng(seed)
    d, L, M, N = 3, 8, 16, 6
    model = Model.create(d, act, [1.0, -0.5, 0.25], 0.25)
    theta = rng.normal(size=(L, M, 2 * d + 1))
    x, y = rng.normal(size=(N, d)), rng.normal(size=N)
    w = rng.uniform(0.5, 1.5, N)
    w /= w.sum()
    return model, theta, x, y, w


def _float32_evaluate(model: Model, theta, x, y, w) -> dict[str, np.ndarray]:
    """A plain float32 implementation (σ' formed from the output, as many libraries do)."""
    f = np.float32
    th, x32, y32, w32 = (np.asarray(v, dtype=f) for v in (theta, x, y, w))
    a = np.array([float(v) for v in model.a], dtype=f)
    kappa = f(float(model.kappa))
    L, M, _ = th.shape
    d = model.d
    h = f(1) / f(L * M)
    name = model.activation.name
    sig = {
        "tanh": np.tanh,
        "sin": np.sin,
        "softplus": lambda t: np.maximum(t, f(0)) + np.log1p(np.exp(-np.abs(t))),
    }[name]
    dsig = {
        "tanh": lambda t: f(1) - np.tanh(t) ** 2,
        "sin": np.cos,
        "softplus": lambda t: f(1) / (f(1) + np.exp(-t)),
    }[name]
    zs = [x32]
    for l in range(L):
        pre = zs[-1] @ th[l, :, :d].T + th[l, :, 2 * d]
        zs.append(zs[-1] + h * (sig(pre) @ th[l, :, d : 2 * d]))
    zL = zs[-1]
    r = zL @ a + kappa / f(2) * np.sum(zL * zL, axis=1) - y32
    loss = np.sum(w32 * f(0.5) * r * r)
    q = r[:, None] * (a + kappa * zL)
    grad = np.empty(th.shape, dtype=f)
    for l in range(L - 1, -1, -1):
        W, U = th[l, :, :d], th[l, :, d : 2 * d]
        pre = zs[l] @ W.T + th[l, :, 2 * d]
        G = dsig(pre) * (q @ U.T)
        grad[l, :, :d] = h * ((w32[:, None] * G).T @ zs[l])
        grad[l, :, d : 2 * d] = h * ((w32[:, None] * sig(pre)).T @ q)
        grad[l, :, 2 * d] = h * (w32 @ G)
        q = q + h * (G @ W)
    assert loss.dtype == f and grad.dtype == f and q.dtype == f
    return {"loss": np.array([loss]), "z_L": zL, "grad_theta": grad, "grad_x": q}


def _errors(exact, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    ref = {
        "loss": np.array([exact.loss], dtype=object),
        "z_L": exact.z[-1],
        "grad_theta": exact.grad_theta,
        "grad_x": exact.grad_x,
    }
    out = {}
    with mpmath.workdps(40):
        for key in QUANTITIES:
            v = np.asarray(values[key], dtype=np.float64)
            out[key] = np.array(
                [
                    float(abs(mpmath.mpf(float(a)) - b))
                    for a, b in zip(v.ravel(), ref[key].ravel(), strict=True)
                ]
            ).reshape(v.shape)
    return out


@pytest.fixture(
    scope="module", params=[(s, a) for s in SEEDS for a in ACTS], ids=lambda p: f"seed{p[0]}-{p[1]}"
)
def case_and_exact(request):
    model, theta, x, y, w = _case(*request.param)
    exact = exact_network.evaluate(model, theta, x, y, w, dps=30)
    return (model, theta, x, y, w), exact


def test_float64_bound_holds_and_is_not_vacuous(case_and_exact) -> None:
    (model, theta, x, y, w), exact = case_and_exact
    fast = fast_network.evaluate(model, theta, x, y, w)
    vals = {
        "loss": np.array([fast.loss]),
        "z_L": fast.z_L,
        "grad_theta": fast.grad_theta,
        "grad_x": fast.grad_x,
    }
    err = _errors(exact, vals)
    eb = tolerance.entrywise_bounds(model, theta, x, y, w)  # inputs are float64 values: exact
    for key in QUANTITIES:
        bound = np.asarray(eb[key]).reshape(err[key].shape)
        own = float(exact.error_bound[key])
        worst = int(np.argmax(err[key] / (bound + own)))
        assert np.all(err[key] <= bound + own), (
            f"{key}: error {err[key].ravel()[worst]:.3e} > float64 bound {bound.ravel()[worst]:.3e}"
        )
        ratio = bound.max() / err[key].max()
        assert ratio <= RATIO_MAX, (
            f"{key}: bound {bound.max():.3e} is {ratio:.2e} x observed {err[key].max():.3e}"
        )
        size = np.abs(vals[key]).max()
        assert bound.max() < 1e-9 * size, f"{key}: bound {bound.max():.3e} vs size {size:.3e}"


def test_float32_within_float32_bound_outside_float64_bound(case_and_exact) -> None:
    (model, theta, x, y, w), exact = case_and_exact
    vals = _float32_evaluate(model, theta, x, y, w)
    err = _errors(exact, vals)
    b32 = tolerance.entrywise_bounds(
        model, theta, x, y, w, unit_roundoff=tolerance.DTYPES["float32"]
    )
    b64 = tolerance.bounds(model, theta, x, y, w, unit_roundoff=tolerance.DTYPES["float64"])
    for key in QUANTITIES:
        bound = np.asarray(b32[key]).reshape(err[key].shape)
        worst = int(np.argmax(err[key] / bound))
        assert np.all(err[key] <= bound), (
            f"{key}: float32 error {err[key].ravel()[worst]:.3e} > "
            f"float32 bound {bound.ravel()[worst]:.3e}"
        )
        assert bound.max() / err[key].max() <= RATIO_MAX, (
            f"{key}: float32 bound {bound.max():.3e} vs observed {err[key].max():.3e}"
        )
        assert err[key].max() > b64[key], (
            f"{key}: float32 error {err[key].max():.3e} within the float64 bound {b64[key]:.3e}"
        )


def test_bound_scales_with_unit_roundoff() -> None:
    model, theta, x, y, w = _case(0, "tanh")
    b64 = tolerance.bounds(model, theta, x, y, w, unit_roundoff=2.0**-53)
    b32 = tolerance.bounds(model, theta, x, y, w, unit_roundoff=2.0**-24)
    for key in QUANTITIES:
        assert 0 < b64[key] < b32[key]
        assert b32[key] / b64[key] == pytest.approx(2.0**29, rel=0.01), key  # first order in u


def test_gamma_and_dtypes() -> None:
    assert tolerance.gamma(3, 2.0**-53) == pytest.approx(3 * 2.0**-53, rel=1e-15)
    assert tolerance.unit_roundoff("float32") == 2.0**-24
    assert set(tolerance.DTYPES) >= {"float64", "float32"}
    with pytest.raises(InvalidArgument) as info:
        tolerance.gamma(2**30, 2.0**-24)
    assert info.value.field == "unit_roundoff"
    with pytest.raises(InvalidArgument) as info:
        tolerance.unit_roundoff("float128x")
    assert info.value.field == "dtype"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"unit_roundoff": -1.0}, "unit_roundoff"),
        ({"unit_roundoff": "abc"}, "unit_roundoff"),
        ({"activation_rel_error": math.nan}, "activation_rel_error"),
    ],
)
def test_bad_parameters_raise_named_field(kwargs, field) -> None:
    model, theta, x, y, w = _case(0, "tanh")
    with pytest.raises(InvalidArgument) as info:
        tolerance.bounds(model, theta, x, y, w, **kwargs)
    assert info.value.field == field


def test_bad_case_raises_named_field() -> None:
    model, theta, x, y, w = _case(0, "tanh")
    theta = theta.copy()
    theta[1, 2, 3] = np.nan
    with pytest.raises(InvalidArgument) as info:
        tolerance.bounds(model, theta, x, y, w)
    assert info.value.field == "theta[1][2][3]"
