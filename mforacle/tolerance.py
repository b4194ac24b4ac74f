r"""Derived error model: how far may a correct floating-point implementation be from the truth?

Question answered: an implementation of ``docs/model.md`` §1–2 computes in an arithmetic
with unit roundoff ``u`` (float64: ``2**-53``, float32: ``2**-24``), reading the case's numbers
rounded once to that arithmetic, summing in *any* order, computing ``σ`` and ``σ'`` with a small
relative error. How far may its ``loss``, ``z_L``, ``grad_theta``, ``grad_x`` be from the exact
values? :func:`bounds` returns absolute, max-over-entries bounds; :func:`entrywise_bounds` the
per-entry arrays. Nothing here is a numerical *path*: the model evaluates a float64 trajectory
of its own (plain NumPy, not :mod:`mforacle.fast`, not :mod:`mforacle.exact`) only to know the
magnitudes that enter the bound.

Derivation (running error analysis, Higham, *Accuracy and Stability of Numerical Algorithms*,
§3.1 and §3.3). Standard model ``fl(a ∘ b) = (a ∘ b)(1 + δ)``, ``|δ| <= u``; for any sum of
``n`` products in any order, ``|fl(Σ x_i y_i) − Σ x_i y_i| <= γ_n Σ |x_i y_i|`` with
``γ_n = n u / (1 − n u)``. An input rounded once adds one more ``u`` (``r = 1`` below; ``r = 0``
when the inputs are exactly representable and ``inputs_rounded=False``). Scaling by
``h = 1/(L·M)`` is allowed up to 3 roundings (``1/L`` then ``/M``, or ``1/(LM)`` then a product).
The activation's own error is a documented parameter: ``|σ̂(a) − σ(a)| <= c u (|σ(a)|)`` and
``|σ̂'(a) − σ'(a)| <= c u (|σ'(a)| + D(a))`` with ``c = activation_rel_error`` (default
:data:`DEFAULT_ACTIVATION_ULPS`) and ``D`` an allowance for derivatives formed from the output
(``1 − tanh²``: ``D = tanh²``; ``s(1 − s)``: ``D = s``). ``K1 = sup|σ'|``, ``K2 = sup|σ''|`` (the
Lipschitz constant of ``σ'``, also for the C¹ ``regrelu``) turn input errors into output errors
by the mean value theorem. Below ``e_·`` are componentwise bounds on absolute errors, ``|v|`` is
a magnitude of a true value (taken as the float64 value plus twice its bound, so that the
implementation's and this module's own rounding are both covered), all per data point ``n``.

Forward, layer ``l`` (``e_z0 = r u |x|``)::

    δa_m  = γ_{d+1+r} (Σ_j |w_mj||z_j| + |b_m|) + Σ_j |w_mj| e_zj
    δs_m  = (|σ'(a_m)| + K2 δa_m) δa_m + c u (|σ(a_m)| + K1 δa_m)       [+ r u η |σ'| regrelu]
    e_z'  = e_z + h [γ_{M+r+3} Σ_m |u_m||σ(a_m)| + Σ_m |u_m| δs_m] + u |z'|

— the identity part of the layer Jacobian carries ``e_z`` over, the ``h σ' u wᵀ`` part acts
through ``δa``; this is ``e_{l+1} <= |J_l| e_l + local_l`` componentwise. Readout and loss::

    δg  = γ_{d+4+2r} (Σ|a_i z_i| + |κ|/2 |z|²) + Σ (|a_i| + |κ||z_i|) e_zi + |κ|/2 |e_z|²
    δρ  = δg + u |ρ| + r u |y|                                            (ρ = g − y)
    δℓ  = |ρ| δρ + δρ²/2 + γ_2 ρ²/2
    δE  = γ_{N+2+r} Σ ω ℓ + Σ ω δℓ

Backward (adjoint), ``q_L = ρ ∇g``, ``∇g = a + κ z``::

    δ∇g = γ_{2+2r} (|a| + |κ||z|) + |κ| e_z;   δq_L = |ρ| δ∇g + |∇g| δρ + u |ρ||∇g|
    δp_m  = γ_{d+r} Σ_i |u_mi||q_i| + Σ_i |u_mi| δq_i                    (p = u·q)
    δσ'_m = K2 δa_m + c u (|σ'(a_m)| + D(a_m))                           [+ r u/2 regrelu]
    δG_m  = |σ'| δp + |p| δσ' + δσ' δp + u |σ'||p|                        (G = σ'(a) p)
    δq    = δq' + h [γ_{M+r+3} Σ_m |G_m||w_m| + Σ_m δG_m |w_m|] + u |q|

Gradients, summed over data with weights ``ω`` (``N`` terms, two products, ``h``)::

    δ∂w_mj = h [γ_{N+r+5} Σ_n ω |G||z_j| + Σ_n ω (δG |z_j| + |G| e_zj + δG e_zj)]
    δ∂u_mi = h [γ_{N+r+5} Σ_n ω |σ(a)||q_i| + Σ_n ω (δs |q_i| + |σ| δq_i + δs δq_i)]
    δ∂b_m  = h [γ_{N+r+4} Σ_n ω |G| + Σ_n ω δG]

and ``grad_x = q_0`` gets ``δq_0``. The bound is rigorous to first order in ``u`` and keeps the
second-order products it meets; it is a worst case over summation orders and rounding signs, so
observed errors are typically 10–10³ times smaller (tests/test_tolerance.py measures the ratio).

Gradual underflow (Higham §2.1, eq. (2.8)): every multiplication, division or scaling obeys
``|fl(a ∘ b) − a ∘ b| <= u |a ∘ b| + η`` with ``η`` half the smallest positive subnormal of the
arithmetic (:data:`ARITHMETICS`: float64 ``2^-1075``, float32 ``2^-150``, bfloat16 ``2^-134``,
float16 ``2^-25``); additions and subtractions that underflow are exact. An input is rounded
within ``u|x| + η``, and ``σ``, ``σ'`` within ``c u |σ| + c η``. Each such ``η`` is an absolute
error added where it is made and carried by the same Jacobian sums as the relative terms. With
``U(v) = max(1, |v|)`` (the most a later product with ``v`` can enlarge an error; ``h``, ``ω``,
``½ <= 1`` never do), the terms added to the lines above are::

    e_z0   += r η
    δa_m   += (1+γ_{d+1+r}) [d η + r η (Σ_j U(z_j) + 1)]
    δs_m   += c η  [+ r η regrelu];    δσ'_m += c η  [+ r η / (2 η_σ) regrelu]
    e_z'   += (1+γ_{M+r+3}) (4η + rη) Σ_m U(u_m) U(σ(a_m))        (h·u·σ: 1 product, 3 scalings)
    δg     += (1+γ_{d+4+2r}) [(1+r) η Σ U(z_i) + [κ≠0] (3+r) η U(κ) Σ U(z_i)²];   δρ += r η
    δE     += (1+γ_{N+2+r}) (3+r) η Σ_n U(ρ_n)²                     (ω·½·ρ·ρ, rounding of ω)
    δ∇g    += (1+γ_{2+2r}) ([κ≠0] (η + r η U(z)) + r η);           δq_L += η
    δp_m   += (1+γ_{d+r}) [d η + r η Σ_i U(q_i)];   δG_m += η
    δq     += (1+γ_{M+r+3}) (4η + rη) Σ_m U(G_m) U(w_m)
    δ∂w_mj += (1+γ_{N+r+5}) (5η + rη) Σ_n U(G) U(z_j);   δ∂u_mi: the same with U(σ) U(q_i);
    δ∂b_m  += (1+γ_{N+r+4}) (4η + rη) Σ_n U(G)

(each η of a chain of products is multiplied by at most the factors that follow it). These terms
are invisible unless a quantity, or a factor of a product, falls below the smallest normal
number ``2^emin``; there they are the whole bound (a loss ``~1e-620`` computes as 0.0 in float64,
and ``|0.0 − E| <= δE`` holds only because of them). Being worst cases over the order of the
products, they can exceed the error of one particular order by ~10× in that range.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .dtypes import ARITHMETICS, UNDERFLOW_EXPONENT, UNIT_ROUNDOFF
from .dtypes import unit_roundoff as dtype_unit_roundoff
from .errors import InvalidArgument
from .model import Model, float_data, float_theta

__all__ = [
    "ARITHMETICS",
    "DEFAULT_ACTIVATION_ULPS",
    "DTYPES",
    "UNDERFLOW_EXPONENT",
    "bounds",
    "entrywise_bounds",
    "gamma",
    "underflow_unit",
    "unit_roundoff",
]

#: unit roundoff by arithmetic name (the table of :mod:`mforacle.dtypes`)
DTYPES: dict[str, float] = UNIT_ROUNDOFF

#: default relative accuracy of ``σ`` and ``σ'``, in units of ``u``: library functions are within
#: a few ulp; mforacle's own float64 ``erf`` is within 6.5 u (mforacle/fast/activations.py).
DEFAULT_ACTIVATION_ULPS = 8.0

Array = np.ndarray


def unit_roundoff(dtype: str | float) -> float:
    """``u`` for a dtype name in :data:`DTYPES`, or a given positive number passed through."""
    if isinstance(dtype, str):
        return dtype_unit_roundoff(dtype)
    u = float(dtype)
    if not (0.0 < u < 0.5):
        raise InvalidArgument("unit_roundoff", dtype, "must be in (0, 1/2)")
    return u


def gamma(n: int, u: float) -> float:
    """``γ_n = n u / (1 − n u)``; raises if ``n u >= 1/2`` (no meaningful bound)."""
    if n * u >= 0.5:
        raise InvalidArgument(
            "unit_roundoff", u, f"n·u = {n * u:.3g} >= 1/2: no error bound for n = {n}"
        )
    return n * u / (1.0 - n * u)


def underflow_unit(dtype: str | float) -> Fraction:
    """The gradual-underflow unit ``η`` of an arithmetic, exactly (a power of two).

    ``dtype`` is a name in :data:`ARITHMETICS` or that arithmetic's unit roundoff ``u``
    (``2**-53`` → float64). ``η = 2**(emin − p)`` is half the smallest positive subnormal: with
    gradual underflow and round to nearest every operation satisfies
    ``|fl(a ∘ b) − a ∘ b| <= u |a ∘ b| + η`` (Higham, *Accuracy and Stability of Numerical
    Algorithms*, 2nd ed., §2.1, eq. (2.8)). float64's ``η = 2**-1075`` is not itself a float64
    number, hence the exact :class:`~fractions.Fraction`; the model rounds each of its η-terms
    up to a float64 number (so float64's per-operation term is ``2**-1074 = 2η``; that factor
    also covers the model's own float64 operations on terms that small, each of which may round
    down by ``<= 2**-1075``).

    Raises:
        InvalidArgument: ``dtype`` names no known arithmetic, or ``u`` is none of theirs (pass
            ``underflow=`` to :func:`entrywise_bounds` for another arithmetic).
    """
    if isinstance(dtype, str):
        if dtype not in UNDERFLOW_EXPONENT:
            raise InvalidArgument(
                "dtype", dtype, f"unknown dtype; expected one of {sorted(UNDERFLOW_EXPONENT)}"
            )
        name = dtype
    else:
        matches = [n for n, uu in DTYPES.items() if uu == float(dtype)]
        if not matches:
            raise InvalidArgument(
                "underflow",
                None,
                f"no arithmetic in the table has unit roundoff {float(dtype)!r} "
                f"({sorted(DTYPES)}); pass underflow= (half the smallest positive subnormal)",
            )
        name = matches[0]
    return Fraction(2) ** UNDERFLOW_EXPONENT[name]


@dataclass(frozen=True)
class _Underflow:
    """Absolute error terms of gradual underflow, per operation of each kind, as float64 numbers
    rounded up.

    ``inputs``: the absolute part of rounding one input number (``r η``); ``product``: one
    multiplication, division or scaling (``η``; an addition or subtraction whose result is
    subnormal is exact, Higham (2.8), so sums carry none of their own); ``activation``: one
    evaluation of ``σ`` or ``σ'`` (``c η``: the relative allowance ``c u |σ|`` is at least
    ``c/2`` ulps, and ``c/2`` ulps of a subnormal result are ``c η``).
    """

    inputs: float
    product: float
    activation: float


def _float_up(q: Fraction) -> float:
    """The smallest float64 number ``>= q`` (``q >= 0``, below the overflow threshold)."""
    f = float(q)
    return math.nextafter(f, math.inf) if Fraction(f) < q else f


def _underflow_terms(eta: Fraction, ulps: float, r: int) -> _Underflow:
    return _Underflow(
        inputs=r * _float_up(eta),
        product=_float_up(eta),
        activation=_float_up(Fraction(ulps) * eta),
    )


def _at_least_one(a: Array) -> Array:
    """``max(1, |a|)`` entrywise: the factor an underflow error picks up from a later product
    with ``a`` (factors ``<= 1`` — ``h``, ``ω``, ``1/2`` — never enlarge it)."""
    return np.maximum(1.0, np.abs(a))


def _eta_pre(uf: _Underflow, zabs: Array, d: int, g_a: float) -> Array:
    """Underflow in ``a_m = Σ_j w_mj z_j + b_m``: ``d`` products, and the rounding of ``w_mj``
    (times ``|z_j|``) and ``b_m``. Shape ``(N, 1)``, the same for every neuron."""
    return (1 + g_a) * (
        d * uf.product + uf.inputs * (_at_least_one(zabs).sum(axis=1, keepdims=True) + 1.0)
    )


def _eta_chain(coef: float, left: Array, right: Array) -> Array:
    """``coef Σ_m max(1,|left_m|) max(1,|right_m|)`` as a matrix product ``(left, right)`` —
    the underflow of products ``h·x·y`` summed over ``m``, each of whose roundings is
    multiplied by at most the remaining factors. ``coef`` is folded in first so that the
    product of two huge magnitudes does not overflow needlessly."""
    return (coef * _at_least_one(left)) @ _at_least_one(right)


def _eta_readout(uf: _Underflow, zLabs: Array, kappa: float, g_g: float) -> Array:
    """Underflow in ``g = Σ a_i z_i + (κ/2)|z|²``, shape ``(N,)``: the products ``a_i z_i`` and
    the rounding of ``a_i`` (times ``|z_i|``); if ``κ ≠ 0`` the chain ``κ·½·z_i·z_i`` (3
    roundings, each times at most the remaining factors) and the rounding of ``κ``
    (times ``|z|²/2``)."""
    zs = _at_least_one(zLabs)
    out = (uf.product + uf.inputs) * zs.sum(axis=1)
    if kappa != 0:
        coef = (3 * uf.product + uf.inputs) * max(1.0, abs(kappa))
        out = out + ((coef * zs) * zs).sum(axis=1)
    return (1 + g_g) * out


def _eta_loss(uf: _Underflow, rabs: Array, g_E: float) -> float:
    """Underflow in ``E = Σ_n ω_n ½ ρ_n²``: per point the chain ``ω·½·ρ·ρ`` (3 roundings, each
    times at most the remaining factors, ``ω, ½ <= 1``) and the rounding of ``ω_n`` (times
    ``ρ²/2``)."""
    rs = _at_least_one(rabs)
    return float((1 + g_E) * (((3 * uf.product + uf.inputs) * rs) * rs).sum())


def _eta_gradient(
    uf: _Underflow, Gabs: Array, sabs: Array, zabs: Array, qabs: Array, g_w: float, g_b: float
) -> Array:
    """Underflow in one layer's gradient ``(M, k)``: ``h Σ_n ω_n G z_j`` and ``h Σ_n ω_n σ q_i``
    are chains of two products and up to three roundings of the scaling ``h`` (5 operations),
    ``h Σ_n ω_n G`` has 4; plus the rounding of ``ω_n``."""
    wcoef = (1 + g_w) * (5 * uf.product + uf.inputs)
    bcoef = (1 + g_b) * (4 * uf.product + uf.inputs)
    return np.concatenate(
        [
            _eta_chain(wcoef, Gabs.T, zabs),
            _eta_chain(wcoef, sabs.T, qabs),
            (bcoef * _at_least_one(Gabs)).sum(axis=0)[:, None],
        ],
        axis=1,
    )


@dataclass(frozen=True)
class _Act:
    sigma: Callable[[Array], Array]
    dsigma: Callable[[Array], Array]
    K1: float  # sup |σ'|
    K2: float  # sup |σ''|
    from_output: Callable[[Array], Array]  # D(a): allowance for σ' formed from σ's output
    eta: float = 0.0


def _zero(a: Array) -> Array:
    return np.zeros_like(a)


def _activation(model: Model) -> _Act:
    act = model.activation
    name = act.name
    if name == "tanh":
        return _Act(
            np.tanh,
            lambda a: 1.0 / np.cosh(np.minimum(np.abs(a), 350.0)) ** 2,
            1.0,
            4.0 / (3.0 * math.sqrt(3.0)),
            lambda a: np.tanh(a) ** 2,
        )
    if name == "sigmoid":

        def sig(a: Array) -> Array:
            return 0.5 * (1.0 + np.tanh(0.5 * a))

        return _Act(sig, lambda a: sig(a) * sig(-a), 0.25, math.sqrt(3.0) / 18.0, sig)
    if name == "softplus":

        def sp(a: Array) -> Array:
            return np.maximum(a, 0.0) + np.log1p(np.exp(-np.abs(a)))

        return _Act(sp, lambda a: 0.5 * (1.0 + np.tanh(0.5 * a)), 1.0, 0.25, _zero)
    if name == "sin":
        return _Act(np.sin, np.cos, 1.0, 1.0, _zero)
    if name == "erf":
        erf = np.frompyfunc(math.erf, 1, 1)
        c = 2.0 / math.sqrt(math.pi)
        return _Act(
            lambda a: erf(a).astype(np.float64),
            lambda a: c * np.exp(-a * a),
            c,
            c * math.sqrt(2.0) * math.exp(-0.5),
            _zero,
        )
    if name == "regrelu":
        assert act.eta is not None
        eta = float(act.eta)

        def rr(a: Array) -> Array:
            half = 0.5 * (np.clip(a, -eta, eta) + eta)  # (a+η)²/(4η) = half·(half/η): no
            return np.where(a > eta, a, half * (half / eta))  # square to underflow/overflow

        return _Act(
            rr, lambda a: np.clip((a + eta) / (2 * eta), 0.0, 1.0), 1.0, 1.0 / (2 * eta), _zero, eta
        )
    raise InvalidArgument("model.activation", str(act), "no error model for this activation")


@np.errstate(over="ignore", invalid="ignore")  # overflowing magnitudes give an inf bound
def entrywise_bounds(
    model: Model,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    unit_roundoff: float = UNIT_ROUNDOFF["float64"],
    activation_rel_error: float | None = None,
    inputs_rounded: bool = True,
    underflow: float | None = None,
) -> dict[str, Any]:
    """Per-entry absolute error bounds: ``loss`` (float), ``z_L`` (N, d), ``grad_theta``
    (L, M, k), ``grad_x`` (N, d). See the module docstring for the derivation.

    ``activation_rel_error`` is the activation's accuracy in units of ``u`` (default
    :data:`DEFAULT_ACTIVATION_ULPS`); ``inputs_rounded=False`` declares that every input is
    exactly representable in the arithmetic (e.g. dyadic test cases), dropping the input
    roundings. ``underflow`` is the arithmetic's gradual-underflow unit ``η`` (default: from
    :func:`underflow_unit` for the arithmetic with this ``unit_roundoff``).

    Raises:
        InvalidArgument: a bad case (the field is named), ``unit_roundoff`` outside ``(0, 1/2)``,
            ``activation_rel_error`` or ``underflow`` not finite and ``>= 0``, or no default
            ``underflow`` for this ``unit_roundoff``.
    """
    u = _check_u(unit_roundoff)
    eta_u = _check_underflow(u, underflow)
    ulps = DEFAULT_ACTIVATION_ULPS if activation_rel_error is None else float(activation_rel_error)
    if not (math.isfinite(ulps) and ulps >= 0):
        raise InvalidArgument(
            "activation_rel_error", activation_rel_error, "must be finite and >= 0"
        )
    th = float_theta(model, theta)
    xs, ys, ws = float_data(model, x, y, weights)
    act = _activation(model)
    L, M, k = th.shape
    N, d = xs.shape
    r = 1 if inputs_rounded else 0
    cu = ulps * u
    uf = _underflow_terms(eta_u, ulps, r)
    h = 1.0 / (L * M)
    g_a, g_sum = gamma(d + 1 + r, u), gamma(M + r + 3, u)
    a_vec = np.array([float(v) for v in model.a])
    kappa = float(model.kappa)

    # forward: float64 values and their error bounds, layer by layer
    z = np.empty((L + 1, N, d))
    ez = np.empty((L + 1, N, d))
    z[0], ez[0] = xs, r * u * np.abs(xs) + uf.inputs
    for l in range(L):
        W, U, b = th[l, :, :d], th[l, :, d : 2 * d], th[l, :, 2 * d]
        aW, aU = np.abs(W), np.abs(U)
        zabs = np.abs(z[l]) + 2 * ez[l]
        pre = z[l] @ W.T + b
        da = g_a * (zabs @ aW.T + np.abs(b)) + ez[l] @ aW.T + _eta_pre(uf, zabs, d, g_a)
        s, ds = act.sigma(pre), act.dsigma(pre)
        sabs = np.abs(s)
        dsig = (
            (np.abs(ds) + act.K2 * da) * da
            + cu * (sabs + act.K1 * da)
            + r * u * act.eta * np.abs(ds)
            + uf.activation
            + uf.inputs * (act.eta > 0)
        )
        sabs = sabs + 2 * dsig
        z[l + 1] = z[l] + h * (s @ U)
        ez[l + 1] = ez[l] + h * (g_sum * (sabs @ aU) + dsig @ aU)
        ez[l + 1] += _eta_chain((1 + g_sum) * (4 * uf.product + uf.inputs), sabs, aU)
        ez[l + 1] += u * (np.abs(z[l + 1]) + 2 * ez[l + 1])

    # readout and loss
    zL, eL = z[L], ez[L]
    zLabs = np.abs(zL) + 2 * eL
    g = zL @ a_vec + 0.5 * kappa * np.sum(zL * zL, axis=1)
    dg = (
        gamma(d + 4 + 2 * r, u) * (zLabs @ np.abs(a_vec))
        + eL @ np.abs(a_vec)
        + _eta_readout(uf, zLabs, kappa, gamma(d + 4 + 2 * r, u))
    )
    if kappa != 0:  # (with κ = 0 these would be 0·inf = NaN where a magnitude overflows)
        dg = dg + abs(kappa) * (
            gamma(d + 4 + 2 * r, u) * 0.5 * np.sum(zLabs**2, axis=1)
            + np.sum(zLabs * eL, axis=1)
            + 0.5 * np.sum(eL**2, axis=1)
        )
    rho = g - ys
    drho = dg + u * (np.abs(rho) + dg) + r * u * np.abs(ys) + uf.inputs
    rabs = np.abs(rho) + 2 * drho
    dl = rabs * drho + 0.5 * drho**2 + gamma(2, u) * 0.5 * rabs**2
    dE = gamma(N + 2 + r, u) * float(ws @ (0.5 * rabs**2)) + float(ws @ dl)
    dE += _eta_loss(uf, rabs, gamma(N + 2 + r, u))

    # adjoint
    grad_g = a_vec + kappa * zL
    dgrad_g = gamma(2 + 2 * r, u) * (np.abs(a_vec) + abs(kappa) * zLabs) + abs(kappa) * eL
    dgrad_g = dgrad_g + (1 + gamma(2 + 2 * r, u)) * (
        (kappa != 0) * (uf.product + uf.inputs * _at_least_one(zLabs)) + uf.inputs
    )
    gabs = np.abs(grad_g) + 2 * dgrad_g
    q = rho[:, None] * grad_g
    dq = rabs[:, None] * dgrad_g + gabs * drho[:, None] + u * rabs[:, None] * gabs + uf.product
    g_p = gamma(d + r, u)
    g_w, g_b = gamma(N + r + 5, u), gamma(N + r + 4, u)
    hw = h * ws[:, None]
    grad_bound = np.empty((L, M, k))
    for l in range(L - 1, -1, -1):
        W, U, b = th[l, :, :d], th[l, :, d : 2 * d], th[l, :, 2 * d]
        aW, aU = np.abs(W), np.abs(U)
        zabs = np.abs(z[l]) + 2 * ez[l]
        pre = z[l] @ W.T + b
        da = g_a * (zabs @ aW.T + np.abs(b)) + ez[l] @ aW.T + _eta_pre(uf, zabs, d, g_a)
        s, ds = act.sigma(pre), act.dsigma(pre)
        dsig = (
            (np.abs(ds) + act.K2 * da) * da
            + cu * (np.abs(s) + act.K1 * da)
            + r * u * act.eta * np.abs(ds)
            + uf.activation
            + uf.inputs * (act.eta > 0)
        )
        sabs = np.abs(s) + 2 * dsig
        ddsig = act.K2 * da + cu * (np.abs(ds) + act.from_output(pre)) + r * u * 0.5 * (act.eta > 0)
        ddsig = ddsig + uf.activation + (uf.inputs / (2 * act.eta) if act.eta > 0 else 0.0)
        dsabs = np.abs(ds) + 2 * ddsig
        qabs = np.abs(q) + 2 * dq
        p = q @ U.T
        dp = g_p * (qabs @ aU.T) + dq @ aU.T
        dp = dp + (1 + g_p) * (
            d * uf.product + uf.inputs * _at_least_one(qabs).sum(axis=1, keepdims=True)
        )
        pabs = np.abs(p) + 2 * dp
        G = ds * p
        dG = dsabs * dp + pabs * ddsig + ddsig * dp + u * dsabs * pabs + uf.product
        Gabs = np.abs(G) + 2 * dG
        # gradients of layer l use z_l, sigma(a_l), G_l and q_{l+1}
        grad_bound[l, :, :d] = (
            g_w * ((hw * Gabs).T @ zabs) + (hw * dG).T @ (zabs + ez[l]) + (hw * Gabs).T @ ez[l]
        )
        grad_bound[l, :, d : 2 * d] = (
            g_w * ((hw * sabs).T @ qabs) + (hw * dsig).T @ (qabs + dq) + (hw * sabs).T @ dq
        )
        grad_bound[l, :, 2 * d] = g_b * (hw * Gabs).sum(axis=0) + (hw * dG).sum(axis=0)
        grad_bound[l] += _eta_gradient(uf, Gabs, sabs, zabs, qabs, g_w, g_b)
        q_new = q + h * (G @ W)
        dq = dq + h * (g_sum * (Gabs @ aW) + dG @ aW)
        dq += _eta_chain((1 + g_sum) * (4 * uf.product + uf.inputs), Gabs, aW)
        dq += u * (np.abs(q_new) + 2 * dq)
        q = q_new
    out = {"loss": dE, "z_L": ez[L].copy(), "grad_theta": grad_bound, "grad_x": dq}
    # a bound whose magnitudes overflowed is inf ("no bound"), never NaN (0·inf on the way)
    out = {key: np.where(np.isnan(val), np.inf, val) for key, val in out.items()}
    out["loss"] = float(out["loss"])
    return out


def bounds(
    model: Model,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    unit_roundoff: float = UNIT_ROUNDOFF["float64"],
    activation_rel_error: float | None = None,
    inputs_rounded: bool = True,
    underflow: float | None = None,
) -> dict[str, float]:
    """Absolute error bounds, max over entries: keys ``loss``, ``z_L``, ``grad_theta``, ``grad_x``.

    ``unit_roundoff``: ``DTYPES["float32"]`` etc.; ``underflow``: that arithmetic's ``η``
    (default from :func:`underflow_unit`). See :func:`entrywise_bounds` (and its ``Raises``).
    """
    eb = entrywise_bounds(
        model,
        theta,
        x,
        y,
        weights,
        unit_roundoff=unit_roundoff,
        activation_rel_error=activation_rel_error,
        inputs_rounded=inputs_rounded,
        underflow=underflow,
    )
    return {key: float(np.max(val)) for key, val in eb.items()}


def _check_u(u: Any) -> float:
    try:
        val = float(u)
    except (TypeError, ValueError):
        raise InvalidArgument("unit_roundoff", u, "expected a number such as 2**-53") from None
    if not (0.0 < val < 0.5):
        raise InvalidArgument("unit_roundoff", u, "must be in (0, 1/2)")
    return val


def _check_underflow(u: float, underflow: Any) -> Fraction:
    if underflow is None:
        return underflow_unit(u)
    try:
        val = Fraction(underflow)
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgument(
            "underflow", underflow, "expected a number such as 2**-1075"
        ) from None
    if not (0 <= val < 1):
        raise InvalidArgument("underflow", underflow, "must be >= 0 and < 1")
    return val
