"""Fast-path activations against mpmath references written here (not mforacle.exact).

Error model: for each function f in {σ, σ', σ''} and input x, the float64 value must satisfy
``|f̂(x) − f(x)| <= C u |f(x)| + A`` with ``u = 2**-53``, ``C`` the documented relative accuracy
(``ERF_MAX_REL_ERROR`` for erf; 8 ulp for compositions of 2–4 correctly-rounded-to-1-ulp
library calls: e.g. ``4e/(1+e)²`` is exp, add, square, divide, multiply) and ``A`` the
absolute floor where a subnormal or a cancellation-free ``0`` is the honest answer
(``A = 1e-300``), plus for ``sin``/``cos`` the argument itself (exact) so C applies directly.
"""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mforacle.errors import InvalidArgument
from mforacle.fast.activations import ERF_MAX_REL_ERROR, erf, get

U = 2.0**-53
LIB_ULPS = 8.0
FLOOR = 1e-300


def _mp_refs(name: str, eta: float | None = None):
    """(σ, σ', σ'') as mpmath callables, written from the definitions."""
    if name == "tanh":
        return (mpmath.tanh, lambda x: mpmath.sech(x) ** 2,
                lambda x: -2 * mpmath.tanh(x) * mpmath.sech(x) ** 2)
    if name == "sigmoid":
        s = lambda x: 1 / (1 + mpmath.exp(-x))  # noqa: E731
        return (s, lambda x: s(x) * s(-x), lambda x: s(x) * s(-x) * (1 - 2 * s(x)))
    if name == "softplus":
        s = lambda x: 1 / (1 + mpmath.exp(-x))  # noqa: E731
        return (lambda x: mpmath.log1p(mpmath.exp(x)), s, lambda x: s(x) * s(-x))
    if name == "sin":
        return (mpmath.sin, mpmath.cos, lambda x: -mpmath.sin(x))
    if name == "erf":
        c = 2 / mpmath.sqrt(mpmath.pi)
        return (mpmath.erf, lambda x: c * mpmath.exp(-x * x),
                lambda x: -2 * x * c * mpmath.exp(-x * x))
    assert name == "regrelu" and eta is not None
    e = mpmath.mpf(eta)

    def f0(x):
        return x if x > e else (0 if x < -e else (x + e) ** 2 / (4 * e))

    def f1(x):
        return 1 if x > e else (0 if x < -e else (x + e) / (2 * e))

    def f2(x):
        return 1 / (2 * e) if abs(x) < e else 0

    return f0, f1, f2


def _max_rel_excess(fast, ref, xs: np.ndarray, ulps: float) -> tuple[float, float]:
    """The worst ``|fast − ref| / (ulps u |ref| + FLOOR)`` and the x where it occurs."""
    vals = fast(xs)
    worst, at = 0.0, float("nan")
    with mpmath.workdps(40):
        for x, v in zip(xs, vals, strict=True):
            t = ref(mpmath.mpf(float(x)))
            r = float(abs(mpmath.mpf(float(v)) - t) / (ulps * U * abs(t) + FLOOR))
            if r > worst:
                worst, at = r, float(x)
    return worst, at


SPECS = ["tanh", "sigmoid", "softplus", "sin", "erf", "regrelu:0.125", "regrelu:1"]


@pytest.mark.parametrize("spec", SPECS)
def test_sigma_and_derivatives_against_mpmath(spec: str) -> None:
    name, _, eta = spec.partition(":")
    refs = _mp_refs(name, float(eta) if eta else None)
    fa = get(spec)
    rng = np.random.default_rng(7)  # fixed; the grid below covers the edges deterministically
    xs = np.concatenate([rng.uniform(-8, 8, 300), np.linspace(-3, 3, 121),
                         [0.0, 1e-8, -1e-8, 0.125, -0.125, 1.0, -1.0, 30.0, -30.0, 700.0, -700.0]])
    if name == "sin":
        xs = xs[np.abs(xs) < 100]
    for label, f, ref in (("sigma", fa.sigma, refs[0]), ("dsigma", fa.dsigma, refs[1]),
                          ("d2sigma", fa.d2sigma, refs[2])):
        worst, at = _max_rel_excess(f, ref, xs, LIB_ULPS)
        assert worst <= 1.0, (f"{spec} {label}: error {worst:.3g} × ({LIB_ULPS} u |f| + {FLOOR}) "
                              f"at x = {at!r}")
    s, ds = fa.both(xs)
    np.testing.assert_array_equal(s, fa.sigma(xs))
    np.testing.assert_array_equal(ds, fa.dsigma(xs))


def test_erf_relative_error_bound_on_many_points() -> None:
    """Documented bound ERF_MAX_REL_ERROR·u on 6 000 points in [-7, 7] and the band edges."""
    rng = np.random.default_rng(11)
    edges = np.array([1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
    xs = np.concatenate([rng.uniform(-7, 7, 4000), rng.uniform(-1.6, 1.6, 2000),
                         edges, -edges, np.nextafter(edges, 0), np.nextafter(edges, 10), [0.0]])
    vals = erf(xs)
    worst, at = 0.0, float("nan")
    with mpmath.workdps(40):
        for x, v in zip(xs, vals, strict=True):
            t = mpmath.erf(mpmath.mpf(float(x)))
            if t == 0:
                assert v == 0.0
                continue
            r = float(abs(mpmath.mpf(float(v)) - t) / abs(t)) / U
            if r > worst:
                worst, at = r, float(x)
    assert worst <= ERF_MAX_REL_ERROR, (
        f"erf relative error {worst:.3f} u at x = {at!r} > {ERF_MAX_REL_ERROR} u")


@settings(max_examples=200)  # cheap: one float each
@given(x=st.floats(-40, 40, allow_subnormal=False).filter(lambda v: abs(v) > 1e-300))
def test_erf_hypothesis_points(x: float) -> None:
    v = float(erf(np.array([x]))[0])
    with mpmath.workdps(40):
        t = mpmath.erf(mpmath.mpf(x))
        rel = float(abs(mpmath.mpf(v) - t) / abs(t)) / U
    assert rel <= ERF_MAX_REL_ERROR, f"erf({x!r}) = {v!r}, true {mpmath.nstr(t, 20)}: {rel:.3f} u"


@pytest.mark.parametrize("spec", SPECS)
def test_large_arguments_no_overflow_and_shapes(spec: str) -> None:
    fa = get(spec)
    xs = np.array([[-1e300, -800.0, -40.0], [40.0, 800.0, 1e300]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            for f in (fa.sigma, fa.dsigma, fa.d2sigma):
                if spec == "sin":
                    continue  # sin of 1e300 is finite but meaningless; checked elsewhere
                out = f(xs)
                assert out.shape == xs.shape
                assert np.all(np.isfinite(out)), (spec, out)
    if spec == "sigmoid":
        assert fa.sigma(np.array([800.0]))[0] == 1.0 and fa.sigma(np.array([-800.0]))[0] == 0.0
        assert fa.dsigma(np.array([-40.0]))[0] > 0  # e^-40, not a cancelled 0
    if spec == "softplus":
        assert fa.sigma(np.array([800.0]))[0] == 800.0
        assert fa.sigma(np.array([-40.0]))[0] == pytest.approx(np.exp(-40.0), rel=4 * U)
    if spec == "tanh":
        assert fa.dsigma(np.array([20.0]))[0] == pytest.approx(4 * np.exp(-40.0), rel=1e-15)


def test_unknown_activation_raises_named_field() -> None:
    with pytest.raises(InvalidArgument) as info:
        get("relu")
    assert info.value.field == "model.activation"
    with pytest.raises(InvalidArgument) as info:
        get("regrelu:-1")
    assert info.value.field == "model.activation"
