"""Activations ``sigma``, ``sigma'``, ``sigma''`` vectorized in NumPy float64 (the fast path).

Independent of :mod:`mforacle.exact` by design: nothing here is shared with the mpmath path (the
only outside numerics is SciPy's ``erf``, see below). Every function takes a float64 array (any
shape) and returns one of the same shape, with no Python loop over elements.

Numerical choices (each keeps a small *relative* error for every finite input):

- ``tanh``: ``np.tanh``; ``sigma' = sech^2 x = 4e/(1+e)^2`` with ``e = exp(-2|x|)`` (``1 - tanh^2``
  would lose all relative accuracy for large ``|x|``); ``sigma'' = -2 tanh(x) sigma'``.
- ``sigmoid``: ``1/(1+e)`` or ``e/(1+e)`` with ``e = exp(-|x|)`` by sign, never overflowing;
  ``sigma' = e/(1+e)^2``; ``sigma'' = -tanh(x/2) sigma'``.
- ``softplus``: ``max(x, 0) + log1p(exp(-|x|))``; derivatives are the sigmoid's.
- ``sin``: ``sin, cos, -sin``.
- ``regrelu:ETA``: the three pieces by ``np.where``; ``sigma''`` is ``1/(2 eta)`` on the closed
  interval ``[-eta, eta]`` and 0 elsewhere (it jumps at ``±eta``; C^1 only). The value at the
  kinks is the project's convention (README), shared with the exact path.
- ``erf``: ``scipy.special.erf`` (see :func:`erf`): the Cephes ``erf`` of SciPy's special-function
  library, Cody's rational approximations with a fixed number of operations per element — the
  algorithm this module evaluated in NumPy until issue 13, bit for bit on ``|x| <= 1`` and within
  1.2 u elsewhere, 1.3–1.6× faster. Relative error below ``ERF_MAX_REL_ERROR = 6.5 u``
  (``u = 2**-53``): a first-order worst-case rounding analysis plus the approximations' own
  error; measured 3.3 u against mpmath (tests/test_fast_activations.py). ``erf'`` and ``erf''``
  inherit the accuracy of ``np.exp`` with an exactly split square, measured below 4 u.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mforacle.model import Activation

__all__ = ["ERF_MAX_REL_ERROR", "FastActivation", "erf", "erf_prime", "get"]

Array = np.ndarray

#: documented, tested bound on the relative error of :func:`erf`, in units of ``u = 2**-53``:
#: the a priori first-order bound 5.85 u (rounding, |x| <= 1) + 0.60 u (approximation) = 6.45 u,
#: rounded up; see :func:`erf`. Measured maximum 3.36 u (scipy.special.erf).
ERF_MAX_REL_ERROR = 6.5

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp splitting constant


# Rational approximations of the Cephes Math Library 2.2 (S. L. Moshier, 1992), file ndtr.c,
# arrays T, U (erf) and P, Q (erfc): the scheme of W. J. Cody, "Rational Chebyshev approximations
# for the error function", Math. Comp. 23 (1969) 631-637. Read from the copy in scipy/scipy,
# scipy/special/cephes/ndtr.c: the coefficients scipy.special.erf evaluates (erf() below), kept
# here for the error budget and its tests. Highest power first, as Cephes' polevl; U and Q have an
# implicit leading 1 (p1evl). Verified in mpmath (tests/test_fast_activations.py): evaluated
# exactly, xT/U is within 0.60 u of erf on [0, 1] and e^{-x^2} P/Q within 0.67 u of erfc on [1, 6];
# that test also shows that changing any one coefficient by enough to move its band by 2 u fails
# it, and a second transcription there pins every coefficient to the bit.
#   0 <= |x| <= 1:  erf x  = x T(x^2) / U(x^2),     T degree 4, U monic degree 5
#   1 <  |x| < 8:   erfc x = e^{-x^2} P(x) / Q(x),  P degree 8, Q monic degree 8
# (Cephes' third pair R/S serves erfc for |x| >= 8; erf is ±1 there and not needed.)
_ERF_T = (
    9.60497373987051638749e0,
    9.00260197203842689217e1,
    2.23200534594684319226e3,
    7.00332514112805075473e3,
    5.55923013010394962768e4,
)
_ERF_U = (  # 1.0 (implicit),
    3.35617141647503099647e1,
    5.21357949780152679795e2,
    4.59432382970980127987e3,
    2.26290000613890934246e4,
    4.92673942608635921086e4,
)
_ERFC_P = (
    2.46196981473530512524e-10,
    5.64189564831068821977e-1,
    7.46321056442269912687e0,
    4.86371970985681366614e1,
    1.96520832956077098242e2,
    5.26445194995477358631e2,
    9.34528527171957607540e2,
    1.02755188689515710272e3,
    5.57535335369399327526e2,
)
_ERFC_Q = (  # 1.0 (implicit),
    1.32281951154744992508e1,
    8.67072140885989742329e1,
    3.54937778887819891062e2,
    9.75708501743205489753e2,
    1.82390916687909736289e3,
    2.24633760818710981792e3,
    1.65666309194161350182e3,
    5.57535340817727675546e2,
)
#: approximation error (exact arithmetic, these float64 coefficients), in u, as budgeted in erf()
_ERF_TU_APPROX_U = 0.60  # relative to erf x, 0 < x <= 1 (measured 0.598, at x = 1)
_ERFC_PQ_APPROX_U = 0.67  # relative to erfc x, 1 <= x <= 6 (measured 0.665, at x = 1.019)
# Above 6, erfc x < 2.2e-17 < u/2 = 2^-54: the float64 nearest to erf x is ±1 exactly.


def _exp_minus_square(x: Array) -> Array:
    """``exp(-x^2)`` with ``x^2`` split exactly (Veltkamp), so its rounding does not grow with x."""
    x = np.minimum(np.abs(x), 40.0)  # exp(-1600) underflows to 0 anyway; avoids inf - inf
    hi = _SPLIT * x
    hi -= hi - x  # the upper 26 bits of x
    lo = x - hi
    rest = 2.0 * hi
    rest += lo
    rest *= lo  # 2 hi lo + lo^2, small
    np.negative(rest, out=rest)
    with np.errstate(over="ignore", invalid="ignore"):
        np.exp(rest, out=rest)
        hi *= hi  # exact: hi has at most 26 significant bits
        np.negative(hi, out=hi)
        np.exp(hi, out=hi)
    hi *= rest
    return hi


def erf(x: Array) -> Array:
    """The error function, vectorized, relative error below ``ERF_MAX_REL_ERROR * 2**-53``.

    Computed by ``scipy.special.erf``, which for float64 is Cephes' ``erf`` (SciPy's ``xsf``
    library, ``xsf/cephes/ndtr.h``; before it ``scipy/special/cephes/ndtr.c``): Cody's rational
    approximations (W. J. Cody, Math. Comp. 23 (1969) 631–637) with the coefficients
    :data:`_ERF_T`, :data:`_ERF_U`, :data:`_ERFC_P`, :data:`_ERFC_Q` transcribed below. Every
    polynomial has positive coefficients and a nonnegative argument, so Horner's rule has no
    cancellation:

    - ``|x| <= 1``: ``x T(x²) / U(x²)`` (``polevl``/``p1evl``, Horner);
    - ``|x| > 1``: ``±(1 − erfc|x|)``, ``erfc|x| = (e^{-x²} P(|x|)) / Q(|x|)`` with ``e^{-x²}``
      the C library ``exp`` of the rounded square (for ``|x| >= 8`` Cephes switches to a second
      pair R/S, where ``erfc < 2^-54`` and the result is ``±1`` either way; when ``e^{-x²}``
      underflows it returns ``±1``). ``NaN`` gives ``NaN``, ``±inf`` gives ``±1``.

    SciPy documents the accuracy Cephes measured: relative error peak 3.7e-16 (3.3 u), rms
    1.0e-16 on ``[0, 1]`` (30 000 trials); for ``erfc`` on ``[0, 26.64]`` peak 5.7e-14 relative
    to ``erfc`` (the ``x² u`` of the rounded square), which reaches ``erf`` damped by
    ``erfc/erf``. tests/test_fast_activations.py pins SciPy to this algorithm: bit-identical to
    a Horner evaluation of the transcribed coefficients on ``|x| <= 1``.

    Error budget, in units of ``u = 2**-53`` (relative to ``erf x``; first order, every rounding
    at its worst, weighted by how much of the final sum it touches; the weights are positive, so
    Horner's rule loses nothing to cancellation):

    - ``|x| <= 1``: Cody's approximation error of ``xT/U`` (evaluated in mpmath with these float64
      coefficients) at most 0.60 u; rounding of ``x²``, both Horner chains, the product and the
      quotient at most 5.85 u (worst at ``|x| = 1``): together 6.45 u.
    - ``1 < |x| < 6``: erfc's relative error is at most ``0.67 u`` (approximation) +
      ``(x² + 8) u`` (``x²`` rounded, then ``exp`` allowed 4 ulp) + the Horner chains, product
      and quotient; damped by ``erfc/erf <= 0.19`` plus ``u`` for ``1 − erfc``: at most 5.0 u
      (5.2 u in the older ``ndtr.c``, which formed ``erf(x) = 1 − (2 − erfc|x|)`` for ``x < −1``:
      one more rounding, at most ``u/erf`` ``<= 1.19 u`` absolute-to-relative, less 1 u saved).
    - ``|x| >= 6``: ``erfc < 2^-54``: the float64 nearest to erf is ``±1``, which is returned.

    ``ERF_MAX_REL_ERROR = 6.5`` is that bound rounded up. Measured (SciPy 1.17.1) against mpmath
    (40 digits) on a 5e-4 grid of ``[-7, 7]``, 20 000 random points of ``[-1, 1]`` and tiny
    arguments: at most 3.36 u (at ``x ≈ -0.570``), 1.16 u for ``|x| > 1``; the NumPy evaluation
    this replaced measured 3.31 u on 270 000 points of ``(0, 7]``, 1.6 u for ``|x| > 1``. The
    relative-error bound holds wherever ``erf x`` is a normal float64 (``|x| > 2e-308``).
    """
    from scipy import special  # imported on first use: SciPy's import costs ~0.2 s

    return special.erf(np.asarray(x, dtype=np.float64))


def _erf_activate(a: Array) -> Array:
    """The network kernel's erf: keep ``erf'(a)``, then ``a ← erf(a)`` in place."""
    from scipy import special

    aux = erf_prime(a)
    special.erf(a, out=a)
    return aux


#: elements per block in :func:`_blockwise`: the temporaries (a few blocks of 256 KiB) stay in
#: cache and come from the allocator's free lists, not fresh pages (measured: 2x faster on 1e6
#: points than whole-array temporaries, which page-fault on every allocation)
_BLOCK = 1 << 15


def _blockwise(f: Callable[[Array], Array], x: Array) -> Array:
    """``f`` (elementwise, on a 1-d float64 array) applied block by block; any shape."""
    x = np.asarray(x, dtype=np.float64)
    flat = x.ravel()
    if flat.size <= _BLOCK:
        return f(flat).reshape(x.shape)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _BLOCK):
        out[start : start + _BLOCK] = f(flat[start : start + _BLOCK])
    return out.reshape(x.shape)


def erf_prime(x: Array) -> Array:
    """``erf'(x) = (2/√π) e^{-x²}``."""
    return _blockwise(_erf_prime_flat, x)


def _erf_prime_flat(x: Array) -> Array:
    e = _exp_minus_square(x)
    e *= _TWO_OVER_SQRT_PI
    return e


@dataclass(frozen=True)
class FastActivation:
    """``sigma``, ``sigma'``, ``sigma''`` and a combined ``(sigma, sigma')`` for one activation.

    For the network kernel (:mod:`mforacle.fast.network`), which evaluates each activation once:
    ``activate(a)`` overwrites the float64 array ``a`` with ``σ(a)`` and returns what
    ``derivative(σ(a), aux)`` needs to give ``σ'(a)`` later (``None`` when ``σ'`` is formed from
    ``σ`` alone: ``derivative_from_sigma``). ``derivative`` returns an array the caller may not
    modify.
    """

    name: str
    sigma: Callable[[Array], Array]
    dsigma: Callable[[Array], Array]
    d2sigma: Callable[[Array], Array]
    both: Callable[[Array], tuple[Array, Array]]
    activate: Callable[[Array], Array | None] = None  # type: ignore[assignment]
    derivative: Callable[[Array, Array | None], Array] = None  # type: ignore[assignment]
    derivative_from_sigma: bool = False

    def __post_init__(self) -> None:
        if self.activate is None:  # generic: keep σ'(a) from the forward pass
            both = self.both

            def activate(a: Array) -> Array:
                s, ds = both(a)
                a[...] = s
                return ds

            object.__setattr__(self, "activate", activate)
            object.__setattr__(self, "derivative", _kept_derivative)


def _kept_derivative(s: Array, aux: Array | None) -> Array:
    assert aux is not None
    return aux


def _tanh_both(x: Array) -> tuple[Array, Array]:
    e = np.exp(-2.0 * np.abs(x))
    return np.tanh(x), 4.0 * e / (1.0 + e) ** 2


def _tanh_activate(a: Array) -> None:
    np.tanh(a, out=a)


def _tanh_derivative(t: Array, aux: Array | None) -> Array:
    """``1 − t²`` from ``t = tanh(a)``: absolute error at most ``(3 t² + |σ'|) u`` beyond
    tanh's own ``2 t² c_tanh u`` (the error model's ``D = tanh²`` allowance,
    :mod:`mforacle.tolerance`); unlike ``sech²`` it is 0, not tiny, for ``|a| > 19``."""
    d = t * t
    np.subtract(1.0, d, out=d)
    return d


def _tanh_d2(x: Array) -> Array:
    t, d = _tanh_both(x)
    return -2.0 * t * d


def _sigmoid_parts(x: Array) -> tuple[Array, Array, Array]:
    e = np.exp(-np.abs(x))
    inv = 1.0 / (1.0 + e)
    s = np.where(x >= 0, inv, e * inv)
    return s, e * inv * inv, e


def _sigmoid(x: Array) -> Array:
    return _sigmoid_parts(x)[0]


def _sigmoid_both(x: Array) -> tuple[Array, Array]:
    s, d, _ = _sigmoid_parts(x)
    return s, d


def _sigmoid_d1(x: Array) -> Array:
    return _sigmoid_parts(x)[1]


def _sigmoid_d2(x: Array) -> Array:
    return -np.tanh(0.5 * x) * _sigmoid_parts(x)[1]


def _softplus(x: Array) -> Array:
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _softplus_both(x: Array) -> tuple[Array, Array]:
    e = np.exp(-np.abs(x))
    sp = np.maximum(x, 0.0) + np.log1p(e)
    inv = 1.0 / (1.0 + e)
    return sp, np.where(x >= 0, inv, e * inv)


def _erf_both(x: Array) -> tuple[Array, Array]:
    return erf(x), erf_prime(x)


def _erf_d2(x: Array) -> Array:
    # erf'(x) is exactly 0 in float64 beyond |x| = 40, so clipping x there changes nothing but
    # ±inf (which gives 0, the limit, instead of inf * 0 = NaN).
    return -2.0 * np.clip(x, -40.0, 40.0) * erf_prime(x)


def _regrelu(eta: float) -> FastActivation:
    two_eta = 2.0 * eta

    def sigma(x: Array) -> Array:
        # (x+η)²/(4η) as half·(half/η), half = (x+η)/2: squaring first would underflow (η tiny)
        # or overflow (η huge); this form errs by <= 4u relative for any η.
        half = 0.5 * (np.clip(x, -eta, eta) + eta)
        return np.where(x > eta, x, np.where(x < -eta, 0.0, half * (half / eta)))

    def dsigma(x: Array) -> Array:
        return np.clip((x + eta) / two_eta, 0.0, 1.0)

    def d2sigma(x: Array) -> Array:
        return np.where(np.abs(x) <= eta, 1.0 / two_eta, 0.0)  # closed interval: as the exact path

    def both(x: Array) -> tuple[Array, Array]:
        return sigma(x), dsigma(x)

    return FastActivation(f"regrelu:{eta!r}", sigma, dsigma, d2sigma, both)


_TABLE: dict[str, FastActivation] = {
    "tanh": FastActivation(
        "tanh",
        np.tanh,
        lambda x: _tanh_both(x)[1],
        _tanh_d2,
        _tanh_both,
        _tanh_activate,
        _tanh_derivative,
        True,
    ),
    "sigmoid": FastActivation("sigmoid", _sigmoid, _sigmoid_d1, _sigmoid_d2, _sigmoid_both),
    "softplus": FastActivation("softplus", _softplus, _sigmoid, _sigmoid_d1, _softplus_both),
    "sin": FastActivation(
        "sin", np.sin, np.cos, lambda x: -np.sin(x), lambda x: (np.sin(x), np.cos(x))
    ),
    "erf": FastActivation(
        "erf", erf, erf_prime, _erf_d2, _erf_both, _erf_activate, _kept_derivative
    ),
}


def get(activation: Activation | str) -> FastActivation:
    """The float64 functions of an :class:`~mforacle.model.Activation` (or its spec string)."""
    act = Activation.parse(activation)
    if act.name == "regrelu":
        assert act.eta is not None
        return _regrelu(float(act.eta))
    return _TABLE[act.name]
