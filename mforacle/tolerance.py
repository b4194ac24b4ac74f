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
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import InvalidArgument
from .model import Model, float_data, float_theta

__all__ = [
    "DEFAULT_ACTIVATION_ULPS",
    "DTYPES",
    "bounds",
    "entrywise_bounds",
    "gamma",
    "unit_roundoff",
]

#: unit roundoff of common arithmetics (round to nearest)
DTYPES: dict[str, float] = {
    "float64": 2.0**-53,
    "float32": 2.0**-24,
    "bfloat16": 2.0**-8,
    "float16": 2.0**-11,
}

#: default relative accuracy of ``σ`` and ``σ'``, in units of ``u``: library functions are within
#: a few ulp; mforacle's own float64 ``erf`` is within 6.5 u (mforacle/fast/activations.py).
DEFAULT_ACTIVATION_ULPS = 8.0

Array = np.ndarray


def unit_roundoff(dtype: str | float) -> float:
    """``u`` for a dtype name in :data:`DTYPES`, or a given positive number passed through."""
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise InvalidArgument(
                "dtype", dtype, f"unknown dtype; expected one of {sorted(DTYPES)}"
            )
        return DTYPES[dtype]
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
            return np.where(a > eta, a, np.where(a < -eta, 0.0, (a + eta) ** 2 / (4 * eta)))

        return _Act(
            rr, lambda a: np.clip((a + eta) / (2 * eta), 0.0, 1.0), 1.0, 1.0 / (2 * eta), _zero, eta
        )
    raise InvalidArgument("model.activation", str(act), "no error model for this activation")


def entrywise_bounds(
    model: Model,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    unit_roundoff: float = 2.0**-53,
    activation_rel_error: float | None = None,
    inputs_rounded: bool = True,
) -> dict[str, Any]:
    """Per-entry absolute error bounds: ``loss`` (float), ``z_L`` (N, d), ``grad_theta``
    (L, M, k), ``grad_x`` (N, d). See the module docstring for the derivation.

    ``activation_rel_error`` is the activation's accuracy in units of ``u`` (default
    :data:`DEFAULT_ACTIVATION_ULPS`); ``inputs_rounded=False`` declares that every input is
    exactly representable in the arithmetic (e.g. dyadic test cases), dropping the input
    roundings.
    """
    u = _check_u(unit_roundoff)
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
    h = 1.0 / (L * M)
    g_a, g_sum = gamma(d + 1 + r, u), gamma(M + r + 3, u)
    a_vec = np.array([float(v) for v in model.a])
    kappa = float(model.kappa)

    # forward: float64 values and their error bounds, layer by layer
    z = np.empty((L + 1, N, d))
    ez = np.empty((L + 1, N, d))
    z[0], ez[0] = xs, r * u * np.abs(xs)
    for l in range(L):
        W, U, b = th[l, :, :d], th[l, :, d : 2 * d], th[l, :, 2 * d]
        aW, aU = np.abs(W), np.abs(U)
        zabs = np.abs(z[l]) + 2 * ez[l]
        pre = z[l] @ W.T + b
        da = g_a * (zabs @ aW.T + np.abs(b)) + ez[l] @ aW.T
        s, ds = act.sigma(pre), act.dsigma(pre)
        sabs = np.abs(s)
        dsig = (
            (np.abs(ds) + act.K2 * da) * da
            + cu * (sabs + act.K1 * da)
            + r * u * act.eta * np.abs(ds)
        )
        sabs = sabs + 2 * dsig
        z[l + 1] = z[l] + h * (s @ U)
        ez[l + 1] = ez[l] + h * (g_sum * (sabs @ aU) + dsig @ aU)
        ez[l + 1] += u * (np.abs(z[l + 1]) + 2 * ez[l + 1])

    # readout and loss
    zL, eL = z[L], ez[L]
    zLabs = np.abs(zL) + 2 * eL
    g = zL @ a_vec + 0.5 * kappa * np.sum(zL * zL, axis=1)
    dg = (
        gamma(d + 4 + 2 * r, u)
        * (zLabs @ np.abs(a_vec) + 0.5 * abs(kappa) * np.sum(zLabs**2, axis=1))
        + eL @ np.abs(a_vec)
        + abs(kappa) * np.sum(zLabs * eL, axis=1)
        + 0.5 * abs(kappa) * np.sum(eL**2, axis=1)
    )
    rho = g - ys
    drho = dg + u * (np.abs(rho) + dg) + r * u * np.abs(ys)
    rabs = np.abs(rho) + 2 * drho
    dl = rabs * drho + 0.5 * drho**2 + gamma(2, u) * 0.5 * rabs**2
    dE = gamma(N + 2 + r, u) * float(ws @ (0.5 * rabs**2)) + float(ws @ dl)

    # adjoint
    grad_g = a_vec + kappa * zL
    dgrad_g = gamma(2 + 2 * r, u) * (np.abs(a_vec) + abs(kappa) * zLabs) + abs(kappa) * eL
    gabs = np.abs(grad_g) + 2 * dgrad_g
    q = rho[:, None] * grad_g
    dq = rabs[:, None] * dgrad_g + gabs * drho[:, None] + u * rabs[:, None] * gabs
    g_p = gamma(d + r, u)
    g_w, g_b = gamma(N + r + 5, u), gamma(N + r + 4, u)
    hw = h * ws[:, None]
    grad_bound = np.empty((L, M, k))
    for l in range(L - 1, -1, -1):
        W, U, b = th[l, :, :d], th[l, :, d : 2 * d], th[l, :, 2 * d]
        aW, aU = np.abs(W), np.abs(U)
        zabs = np.abs(z[l]) + 2 * ez[l]
        pre = z[l] @ W.T + b
        da = g_a * (zabs @ aW.T + np.abs(b)) + ez[l] @ aW.T
        s, ds = act.sigma(pre), act.dsigma(pre)
        dsig = (
            (np.abs(ds) + act.K2 * da) * da
            + cu * (np.abs(s) + act.K1 * da)
            + r * u * act.eta * np.abs(ds)
        )
        sabs = np.abs(s) + 2 * dsig
        ddsig = act.K2 * da + cu * (np.abs(ds) + act.from_output(pre)) + r * u * 0.5 * (act.eta > 0)
        dsabs = np.abs(ds) + 2 * ddsig
        qabs = np.abs(q) + 2 * dq
        p = q @ U.T
        dp = g_p * (qabs @ aU.T) + dq @ aU.T
        pabs = np.abs(p) + 2 * dp
        G = ds * p
        dG = dsabs * dp + pabs * ddsig + ddsig * dp + u * dsabs * pabs
        Gabs = np.abs(G) + 2 * dG
        # gradients of layer l use z_l, sigma(a_l), G_l and q_{l+1}
        grad_bound[l, :, :d] = (
            g_w * ((hw * Gabs).T @ zabs) + (hw * dG).T @ (zabs + ez[l]) + (hw * Gabs).T @ ez[l]
        )
        grad_bound[l, :, d : 2 * d] = (
            g_w * ((hw * sabs).T @ qabs) + (hw * dsig).T @ (qabs + dq) + (hw * sabs).T @ dq
        )
        grad_bound[l, :, 2 * d] = g_b * (hw * Gabs).sum(axis=0) + (hw * dG).sum(axis=0)
        q_new = q + h * (G @ W)
        dq = dq + h * (g_sum * (Gabs @ aW) + dG @ aW)
        dq += u * (np.abs(q_new) + 2 * dq)
        q = q_new
    return {"loss": dE, "z_L": ez[L].copy(), "grad_theta": grad_bound, "grad_x": dq}


def bounds(
    model: Model,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    unit_roundoff: float = 2.0**-53,
    activation_rel_error: float | None = None,
    inputs_rounded: bool = True,
) -> dict[str, float]:
    """Absolute error bounds, max over entries: keys ``loss``, ``z_L``, ``grad_theta``, ``grad_x``.

    ``unit_roundoff``: ``DTYPES["float32"]`` etc. See :func:`entrywise_bounds`.
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
