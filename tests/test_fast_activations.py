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
from mforacle.fast import activations as fast_act_module
from mforacle.fast.activations import ERF_MAX_REL_ERROR, erf, erf_prime, get

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
        return 1 / (2 * e) if abs(x) <= e else 0  # the convention at the kinks (README)

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


def _erf_rel_errors(xs: np.ndarray) -> np.ndarray:
    """``|erf(x) − erf_mp(x)| / |erf_mp(x)|`` in units of u (0 where erf x = 0 and 0 returned)."""
    vals = erf(xs)
    out = np.empty(xs.size)
    with mpmath.workdps(40):
        for i, (x, v) in enumerate(zip(xs, vals, strict=True)):
            t = mpmath.erf(mpmath.mpf(float(x)))
            if t == 0:
                assert v == 0.0, (x, v)
                out[i] = 0.0
            else:
                out[i] = float(abs(mpmath.mpf(float(v)) - t) / abs(t)) / U
    return out


#: the band edges of erf (|x| = 1, 6), old ones (1.5, 2, 3, 4) and their float64 neighbours
_EDGES = np.array([1.0, 1.5, 2.0, 3.0, 4.0, 6.0])
_EDGE_POINTS = np.concatenate([s * e for s in (1.0, -1.0) for e in
                               (_EDGES, np.nextafter(_EDGES, 0), np.nextafter(_EDGES, 10))])


def test_erf_relative_error_bound_on_dense_grid() -> None:
    """Error model: the a priori bound ERF_MAX_REL_ERROR·u (activations.erf's docstring) on
    every point of a 5e-4-spaced grid of [-7, 7], 2 000 seeded draws in [-1, 1] (the band with
    the largest error), tiny arguments, and every band edge with both float64 neighbours."""
    rng = np.random.default_rng(11)
    xs = np.concatenate([np.linspace(-7, 7, 28001), rng.uniform(-1, 1, 2000),
                         10.0 ** rng.uniform(-300, -1, 200), _EDGE_POINTS])
    rel = _erf_rel_errors(xs)
    i = int(np.argmax(rel))
    assert rel[i] <= ERF_MAX_REL_ERROR, (
        f"erf relative error {rel[i]:.3f} u at x = {xs[i]!r} > ERF_MAX_REL_ERROR = "
        f"{ERF_MAX_REL_ERROR} u")
    edges = _erf_rel_errors(_EDGE_POINTS)
    assert edges.max() <= ERF_MAX_REL_ERROR, (
        f"band edge x = {_EDGE_POINTS[int(np.argmax(edges))]!r}: {edges.max():.3f} u")


@settings(max_examples=200)  # cheap: one float each
@given(x=st.floats(-40, 40, allow_subnormal=False).filter(lambda v: abs(v) > 1e-300))
def test_erf_hypothesis_points(x: float) -> None:
    v = float(erf(np.array([x]))[0])
    with mpmath.workdps(40):
        t = mpmath.erf(mpmath.mpf(x))
        rel = float(abs(mpmath.mpf(v) - t) / abs(t)) / U
    assert rel <= ERF_MAX_REL_ERROR, f"erf({x!r}) = {v!r}, true {mpmath.nstr(t, 20)}: {rel:.3f} u"


def test_erf_special_values_and_shapes() -> None:
    """±0 keep their sign; |x| >= 6 (huge, ±inf) gives ±1 exactly (erfc 6 < 2^-54, so ±1 is
    the correctly rounded value); NaN propagates through σ, σ', σ''; σ''(±inf) = 0 (its
    limit); 0-d and Python-float inputs give 0-d results equal to the 1-d ones; any shape
    and stride is evaluated elementwise."""
    z = erf(np.array([0.0, -0.0]))
    assert z[0] == 0.0 and z[1] == 0.0 and not np.signbit(z[0]) and np.signbit(z[1]), z
    big = np.array([np.nextafter(6.0, 0), 6.0, 6.5, 40.0, 1e308, np.inf])
    for sgn in (1.0, -1.0):
        out = erf(sgn * big)
        np.testing.assert_array_equal(out, sgn * np.ones_like(big), err_msg=f"sign {sgn}")
    fa = get("erf")
    for label, f in (("sigma", fa.sigma), ("dsigma", fa.dsigma), ("d2sigma", fa.d2sigma)):
        assert np.isnan(f(np.array([np.nan]))[0]), label
    with np.errstate(all="raise", under="ignore"):
        np.testing.assert_array_equal(fa.d2sigma(np.array([np.inf, -np.inf])), [0.0, 0.0])
        np.testing.assert_array_equal(fa.dsigma(np.array([np.inf, -np.inf])), [0.0, 0.0])
    for x0 in (0.5, -2.5, 7.0):
        one = erf(np.array([x0]))[0]
        for arg in (np.float64(x0), np.array(x0), x0):
            r = erf(arg)
            assert np.shape(r) == () and r == one, (arg, r, one)
    grid = np.linspace(-7, 7, 60).reshape(3, 4, 5)
    flat = erf(grid.ravel())
    np.testing.assert_array_equal(erf(grid), flat.reshape(3, 4, 5))
    np.testing.assert_array_equal(erf(grid.transpose(2, 0, 1)),
                                  flat.reshape(3, 4, 5).transpose(2, 0, 1))
    np.testing.assert_array_equal(erf(grid.ravel()[::7]), flat[::7])
    # arrays longer than one block (evaluated block by block) equal the whole-array evaluation
    n = 5 * (fast_act_module._BLOCK // 2 + 3)  # two full blocks and a partial one
    xs = np.linspace(-7, 7, n)[np.random.default_rng(3).permutation(n)].reshape(5, -1)
    np.testing.assert_array_equal(erf_prime(xs),
                                  fast_act_module._erf_prime_flat(xs.ravel()).reshape(5, -1))


# --- the Cephes coefficients ------------------------------------------------------------------
# A second transcription, from Cephes 2.2 ndtr.c (copy in scipy/scipy,
# scipy/special/cephes/ndtr.c), highest power first; U and Q without their leading 1.
_CEPHES = {
    "_ERF_T": ("9.60497373987051638749E0", "9.00260197203842689217E1",
               "2.23200534594684319226E3", "7.00332514112805075473E3",
               "5.55923013010394962768E4"),
    "_ERF_U": ("3.35617141647503099647E1", "5.21357949780152679795E2",
               "4.59432382970980127987E3", "2.26290000613890934246E4",
               "4.92673942608635921086E4"),
    "_ERFC_P": ("2.46196981473530512524E-10", "5.64189564831068821977E-1",
                "7.46321056442269912687E0", "4.86371970985681366614E1",
                "1.96520832956077098242E2", "5.26445194995477358631E2",
                "9.34528527171957607540E2", "1.02755188689515710272E3",
                "5.57535335369399327526E2"),
    "_ERFC_Q": ("1.32281951154744992508E1", "8.67072140885989742329E1",
                "3.54937778887819891062E2", "9.75708501743205489753E2",
                "1.82390916687909736289E3", "2.24633760818710981792E3",
                "1.65666309194161350182E3", "5.57535340817727675546E2"),
}


def test_erf_coefficients_match_second_transcription_bit_for_bit() -> None:
    for name, texts in _CEPHES.items():
        coef = getattr(fast_act_module, name)
        assert len(coef) == len(texts), (name, len(coef), len(texts))
        for k, (c, t) in enumerate(zip(coef, texts, strict=True)):
            assert c == float(t), f"{name}[{k}] = {c!r}, Cephes {t} -> {float(t)!r}"


def _mp_poly(t, coef, leading_one: bool):
    acc = mpmath.mpf(1) if leading_one else mpmath.mpf(0)
    for c in coef:
        acc = acc * t + mpmath.mpf(c)
    return acc


# grids for the exact-arithmetic check: include the ends, where the weights of the highest and
# lowest powers peak (every weight c_k t^k / P(t) of a positive polynomial is monotone or unimodal
# in t; 201 points resolve it)
_XS_TU = [mpmath.mpf(2) ** -20] + [mpmath.mpf(k) / 200 for k in range(1, 201)]
_XS_PQ = [1 + mpmath.mpf(k) / 40 for k in range(201)]


def _approx_errors(T, U_, P, Q) -> tuple[float, float]:
    """Max relative errors (in u), in exact arithmetic (40 digits), of ``x T(x²)/U(x²)`` against
    erf on (0, 1] and of ``e^{-x²} P(x)/Q(x)`` against erfc on [1, 6]."""
    with mpmath.workdps(40):
        e1 = max(abs(x * _mp_poly(x * x, T, False) / _mp_poly(x * x, U_, True) / mpmath.erf(x)
                     - 1) for x in _XS_TU)
        e2 = max(abs(mpmath.exp(-x * x) * _mp_poly(x, P, False) / _mp_poly(x, Q, True)
                     / mpmath.erfc(x) - 1) for x in _XS_PQ)
        return float(e1) / U, float(e2) / U


def _within_budget(errs: tuple[float, float]) -> bool:
    A = fast_act_module
    return errs[0] <= A._ERF_TU_APPROX_U and errs[1] <= A._ERFC_PQ_APPROX_U


def _weights(coef, leading_one: bool, xs, square: bool) -> list[float]:
    """``max_x c_k t^(n-k) / P(t)`` over the grid, for every coefficient (t = x² or x)."""
    out = []
    with mpmath.workdps(30):
        n = len(coef) if leading_one else len(coef) - 1
        for k, c in enumerate(coef):
            p = n - k - 1 if leading_one else n - k
            out.append(float(max(abs(mpmath.mpf(c)) * (x * x if square else x) ** p
                                 / _mp_poly(x * x if square else x, coef, leading_one)
                                 for x in xs)))
    return out


def test_erf_coefficients_against_mpmath_and_every_perturbation_fails() -> None:
    """Error model: with the float64 coefficients evaluated exactly, x T/U is within
    ``_ERF_TU_APPROX_U`` u of erf on (0, 1] and e^{-x²} P/Q within ``_ERFC_PQ_APPROX_U`` u of
    erfc on [1, 6]: the approximation budget used to derive ERF_MAX_REL_ERROR. Then, one
    coefficient at a time, a change by ``δ = 3u / w`` (w: that coefficient's largest weight in
    its polynomial on the grid; after rounding to float64 the band moves by at least 2 u where
    w peaks) must break that budget. For the constant terms (w ≈ 1) this is 1–2 ulps of the
    coefficient; for the highest powers δ ≤ 2.3e-12, except P's x^8 coefficient 2.5e-10
    (weight 3e-10: δ = 1e-6)."""
    A = fast_act_module
    base = _approx_errors(A._ERF_T, A._ERF_U, A._ERFC_P, A._ERFC_Q)
    assert _within_budget(base), (
        f"Cephes rationals off by {base[0]:.3f} u (erf, budget {A._ERF_TU_APPROX_U}) and "
        f"{base[1]:.3f} u (erfc, budget {A._ERFC_PQ_APPROX_U})")
    names = ("_ERF_T", "_ERF_U", "_ERFC_P", "_ERFC_Q")
    weights = {
        "_ERF_T": _weights(A._ERF_T, False, _XS_TU, True),
        "_ERF_U": _weights(A._ERF_U, True, _XS_TU, True),
        "_ERFC_P": _weights(A._ERFC_P, False, _XS_PQ, False),
        "_ERFC_Q": _weights(A._ERFC_Q, True, _XS_PQ, False),
    }
    undetected = []
    for name in names:
        for k, w in enumerate(weights[name]):
            delta = 3 * U / w
            for sign in (1.0, -1.0):
                coefs = {n: list(getattr(A, n)) for n in names}
                coefs[name][k] = float(mpmath.mpf(coefs[name][k]) * (1 + sign * delta))
                errs = _approx_errors(*(coefs[n] for n in names))
                if _within_budget(errs):
                    undetected.append((name, k, sign * delta, errs))
    assert not undetected, f"perturbations not detected (name, k, δ, errors in u): {undetected}"


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


def _tanh_network_derivative_excess(derivative) -> float:
    """Worst ``|σ̂' − sech² x| / (c u (sech² x + tanh² x))`` of the network's derivative-from-σ
    over a dense grid, ``c = DEFAULT_ACTIVATION_ULPS``: the form mforacle.tolerance allows for
    σ' formed from tanh's output (``D = tanh²``)."""
    from mforacle.tolerance import DEFAULT_ACTIVATION_ULPS

    xs = np.concatenate([np.linspace(-25.0, 25.0, 5001), [0.0, 1e-300, 5e-9, -19.1, 19.1]])
    d = derivative(np.tanh(xs), None)
    worst = 0.0
    with mpmath.workdps(40):
        for x, v in zip(xs, d, strict=True):
            t = mpmath.tanh(mpmath.mpf(float(x)))
            true = 1 - t * t
            allowed = DEFAULT_ACTIVATION_ULPS * U * (true + t * t) + FLOOR
            worst = max(worst, float(abs(mpmath.mpf(float(v)) - true) / allowed))
    return worst


def test_tanh_derivative_from_sigma_within_the_error_model() -> None:
    """The network kernel forms tanh' = 1 − t² from the kept t = tanh(a) (issue 13): within
    ``c u (|σ'| + tanh²)`` of the truth, the allowance mforacle.tolerance states for this form.
    A derivative formed as 1 − t (the deliberately broken variant) is far outside it."""
    act = get("tanh")
    assert act.derivative_from_sigma
    assert _tanh_network_derivative_excess(act.derivative) <= 1.0
    assert _tanh_network_derivative_excess(lambda t, aux: 1.0 - np.abs(t)) > 1.0


@pytest.mark.parametrize("spec", SPECS)
def test_activate_hooks_give_sigma_and_its_derivative(spec: str) -> None:
    """``activate`` overwrites a with σ(a) and ``derivative`` gives σ'(a): the network's view
    equals sigma/dsigma (bit for bit where σ' is kept; tanh within the model, above)."""
    fa = get(spec)
    a = np.linspace(-6.0, 6.0, 1201)
    s = a.copy()
    aux = fa.activate(s)
    assert np.array_equal(s, fa.sigma(a))
    d = fa.derivative(s, aux)
    if not fa.derivative_from_sigma:
        assert np.array_equal(d, fa.dsigma(a))
    else:
        assert np.max(np.abs(d - fa.dsigma(a))) <= 8 * U


def _horner(t, coef, leading_one: bool):
    """Cephes' polevl / p1evl in NumPy: the evaluation order the erf budget analyses."""
    acc = t + coef[0] if leading_one else coef[0] * t + coef[1]
    for c in coef[1:] if leading_one else coef[2:]:
        acc = acc * t + c
    return acc


def test_scipy_erf_is_the_analysed_algorithm() -> None:
    """erf() is scipy.special.erf; its error budget (ERF_MAX_REL_ERROR) is derived for Cody's
    rationals with the transcribed coefficients evaluated by Horner's rule. On |x| <= 1 SciPy's
    result is bit-identical to that evaluation here, so SciPy runs that very algorithm (a
    different erf, e.g. a perturbed coefficient — the broken variant — is not)."""
    A = fast_act_module
    rng = np.random.default_rng(13)
    xs = np.concatenate([np.linspace(-1.0, 1.0, 40001), rng.uniform(-1.0, 1.0, 40000)])
    t = xs * xs
    ours = xs * _horner(t, A._ERF_T, False) / _horner(t, A._ERF_U, True)
    assert np.array_equal(erf(xs), ours)
    broken_T = list(A._ERF_T)
    broken_T[4] = float(np.nextafter(broken_T[4], np.inf))
    broken = xs * _horner(t, broken_T, False) / _horner(t, A._ERF_U, True)
    assert not np.array_equal(erf(xs), broken)
