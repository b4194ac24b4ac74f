"""The discrete ResNet in mpmath: forward pass, loss, adjoint and gradients (docs/model.md §1–2).

Plain loops, one line per formula of ``docs/model.md``::

    z_0 = x,   z_{l+1} = z_l + (1/(L·M)) Σ_m u_{l,m} σ(w_{l,m}·z_l + b_{l,m})
    E = Σ_n ω_n ½ (g(z_L(x_n)) − y_n)²,        g(z) = a·z + (κ/2)|z|²
    q_L = (g(z_L) − y) ∇g(z_L),
    q_l = q_{l+1} + (1/(L·M)) Σ_m σ'(a_{l,m}) (u_{l,m}·q_{l+1}) w_{l,m}
    ∂E/∂w = (1/(L·M)) Σ_n ω_n σ'(a) (u·q_{l+1}) z_l,   ∂E/∂u = (1/(L·M)) Σ_n ω_n σ(a) q_{l+1},
    ∂E/∂b = (1/(L·M)) Σ_n ω_n σ'(a) (u·q_{l+1}),       ∂ℓ/∂x = q_0 (unweighted)

**Sums.** Every sum over neurons, data points or coordinates is
:func:`~mforacle.exact.summation.exact_sum` (exact integer accumulation of the mantissas, one
rounding) and the factor ``1/(L·M)`` is applied once, after the sum, as a division by the integer
``L·M``. The sum is therefore the correctly rounded exact sum whatever the order of its terms and
however different their magnitudes (``mpmath.fsum`` drops terms far below the largest, in an
order-dependent way). Hence two invariances hold *bit for bit* (claim A5): permuting the neurons
of a layer leaves every sum unchanged, and duplicating every neuron (``M → 2M``) doubles the
exact sum while ``L·M`` doubles, so ``round(2S)/(2LM)`` and ``round(S)/(LM)`` are the same
correctly rounded quotient.

**Precision and the error bound (claim A4).** Inputs are validated (exact Fractions) and
converted to ``mpf`` inside ``mpmath.workdps(...)``; the global ``mp.dps`` is never touched.
:func:`evaluate` computes at ``dps + guard`` digits and, with ``confirm=True``, again at about
twice that. The algorithm's rounding error is proportional to the unit roundoff ``u`` (every
operation is a correctly rounded mpmath operation and the inputs are rounded at the working
precision), so the error of the second run is smaller by a factor ~``10^-(dps+guard)``, and

    |v − true| ≤ |v − v_hi| + |v_hi − true| ≈ |v − v_hi| (1 + 10^-(dps+guard)).

The reported bound for each quantity (``loss``, ``z_L``, ``grad_theta``, ``grad_x``; absolute,
max over entries) is ``SAFETY · max|v − v_hi| + 10^(1−dps) · max|v|``: the first term is the
computation's error with a safety factor ``SAFETY = 4`` covering the first-order argument above
(it would have to be wrong by a factor ~10^dps/4 to break), the second covers reporting the value
at ``dps`` significant digits (binary rounding at ``dps`` digits, ≤ 10^-dps relative, plus decimal
printing to ``dps`` digits, ≤ ½·10^(1−dps) relative). If the first term exceeds the second (an
ill-conditioned case lost more than the guard digits), the computation is repeated with four
times the guard digits, at most ``MAX_ATTEMPTS`` times; the bound stays honest either way.
This is a confirmed estimate, not a rigorous enclosure (that would need interval arithmetic).
``confirm=False`` skips the recomputation and returns an *empty* ``error_bound``: nothing is
claimed. Values (and ``z``, ``q``) are reported rounded to ``dps`` digits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import mpmath
import numpy as np

from ..errors import InvalidArgument
from ..model import Data, Model, check_theta
from ..numbers import exact_array
from .activations import ExactActivation, exact_activation, mpf_of
from .summation import exact_sum

__all__ = [
    "GUARD_DIGITS",
    "MAX_DPS",
    "SAFETY",
    "ExactResult",
    "check_dps",
    "evaluate",
    "forward",
    "loss",
]

#: Extra working digits above the reported ``dps``.
GUARD_DIGITS = 15
#: Safety factor on the measured difference between the two precisions (see module doc).
SAFETY = 4
#: How many times the computation is repeated with more guard digits before giving up.
MAX_ATTEMPTS = 3
#: Largest ``dps`` accepted.
MAX_DPS = 10000

QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")


@dataclass(frozen=True)
class ExactResult:
    """What :func:`evaluate` computed; arrays are NumPy object arrays of ``mpf``.

    ``error_bound`` maps ``loss``, ``z_L``, ``grad_theta``, ``grad_x`` to an absolute bound
    (max over entries) on the distance between the reported value and the true one; it is empty
    when the result was not confirmed (``confirm=False``). ``working_dps`` is the precision the
    reported values were computed at, ``confirm_dps`` that of the confirming run (0 if none).
    """

    dps: int
    loss: mpmath.mpf
    z: np.ndarray  # (L+1, N, d)
    q: np.ndarray  # (L+1, N, d)
    grad_theta: np.ndarray  # (L, M, k)
    grad_x: np.ndarray  # (N, d)
    error_bound: dict[str, mpmath.mpf] = field(default_factory=dict)
    working_dps: int = 0
    confirm_dps: int = 0

    @property
    def z_L(self) -> np.ndarray:
        """Final states ``z_L``, shape ``(N, d)``."""
        return self.z[-1]


def check_dps(dps: Any, field_name: str = "dps", low: int = 1, high: int = MAX_DPS) -> int:
    """Validate a number of decimal digits: an integer in ``[low, high]``."""
    if isinstance(dps, bool) or not isinstance(dps, int | np.integer):
        raise InvalidArgument(field_name, dps, "expected an integer number of decimal digits")
    if not low <= int(dps) <= high:
        raise InvalidArgument(field_name, dps, f"must be between {low} and {high}")
    return int(dps)


def _check_model(model: Any) -> Model:
    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected an mforacle.model.Model (use Model.create)")
    return model


# --------------------------------------------------------------------------------------------
# The computation at one precision. All functions below run inside mpmath.workdps(...).
# Vectors are Python lists of mpf; a neuron is the triple (w, u, b).
# --------------------------------------------------------------------------------------------


def _dot(a: list[mpmath.mpf], b: list[mpmath.mpf]) -> mpmath.mpf:
    return exact_sum(ai * bi for ai, bi in zip(a, b, strict=True))


def _neurons(theta: np.ndarray, d: int) -> list[list[tuple[list, list, mpmath.mpf]]]:
    """Fractions -> mpf at the current precision, split into (w, u, b) per neuron."""
    out = []
    for layer in theta:
        row = []
        for th in layer:
            v = [mpf_of(t) for t in th]
            row.append((v[0:d], v[d : 2 * d], v[2 * d]))
        out.append(row)
    return out


def _forward_point(
    sigma: ExactActivation, layers: list, x: list[mpmath.mpf], lm: int
) -> tuple[list[list[mpmath.mpf]], list[list[mpmath.mpf]]]:
    """Trajectory ``z_0..z_L`` of one input and the pre-activations ``a_{l,m} = w·z_l + b``."""
    z = [x]
    pre = []
    for layer in layers:
        zl = z[-1]
        a_l = [_dot(w, zl) + b for (w, _u, b) in layer]
        s_l = [sigma.sigma(a) for a in a_l]
        nxt = [
            zl[i] + exact_sum(u[i] * s for (_w, u, _b), s in zip(layer, s_l, strict=True)) / lm
            for i in range(len(zl))
        ]
        pre.append(a_l)
        z.append(nxt)
    return z, pre


def _readout(a: list[mpmath.mpf], kappa: mpmath.mpf, z: list[mpmath.mpf]) -> mpmath.mpf:
    """``g(z) = a·z + (κ/2)|z|²``."""
    return _dot(a, z) + kappa * exact_sum(zi * zi for zi in z) / 2


@dataclass
class _Raw:
    loss: mpmath.mpf
    z: list  # [n][l][i]
    q: list  # [n][l][i]
    grad_theta: list  # [l][m][j]


def _compute(model: Model, theta: np.ndarray, data: Data, wdps: int, backward: bool = True) -> _Raw:
    """Forward, loss, adjoint and gradients at ``wdps`` digits (plain loops, docs/model.md §1–2).

    ``backward=False`` stops after the loss (``q`` and ``grad_theta`` are then empty).
    """
    d = model.d
    L, M = theta.shape[0], theta.shape[1]
    lm = L * M
    sigma = exact_activation(model.activation)
    with mpmath.workdps(wdps):
        layers = _neurons(theta, d)
        a_vec = [mpf_of(v) for v in model.a]
        kappa = mpf_of(model.kappa)
        omega = [mpf_of(v) for v in data.weights]
        zs, qs, pres, terms = [], [], [], []
        for n in range(data.n):
            x = [mpf_of(v) for v in data.x[n]]
            y = mpf_of(data.y[n])
            z, pre = _forward_point(sigma, layers, x, lm)
            r = _readout(a_vec, kappa, z[L]) - y  # g(z_L) - y
            terms.append(omega[n] * r * r)
            zs.append(z)
            pres.append(pre)
            if not backward:
                continue
            # adjoint: q_L = (g - y) ∇g(z_L), ∇g(z) = a + κ z
            q = [None] * (L + 1)
            q[L] = [r * (a_vec[i] + kappa * z[L][i]) for i in range(d)]
            for l in range(L - 1, -1, -1):
                layer, qn = layers[l], q[l + 1]
                # ∂_z f^T q = σ'(a) (u·q) w
                coef = [sigma.d1(a) * _dot(u, qn)
                        for (_w, u, _b), a in zip(layer, pre[l], strict=True)]
                q[l] = [
                    qn[i] + exact_sum(w[i] * c
                                        for (w, _u, _b), c in zip(layer, coef, strict=True)) / lm
                    for i in range(d)
                ]
            qs.append(q)
        loss_value = exact_sum(terms) / 2
        grad: list = []
        for l in range(L if backward else 0):
            g_l = []
            for m in range(M):
                _w, u, _b = layers[l][m]
                s = [sigma.sigma(pres[n][l][m]) for n in range(data.n)]
                # ω_n σ'(a) (u·q_{l+1}): shared factor of ∂E/∂w and ∂E/∂b
                c = [omega[n] * sigma.d1(pres[n][l][m]) * _dot(u, qs[n][l + 1])
                     for n in range(data.n)]
                gw = [exact_sum(c[n] * zs[n][l][i] for n in range(data.n)) / lm for i in range(d)]
                gu = [
                    exact_sum(omega[n] * s[n] * qs[n][l + 1][i] for n in range(data.n)) / lm
                    for i in range(d)
                ]
                gb = exact_sum(c) / lm
                g_l.append([*gw, *gu, gb])
            grad.append(g_l)
        return _Raw(loss_value, zs, qs, grad)


# --------------------------------------------------------------------------------------------
# Packaging, rounding to dps, error bounds.
# --------------------------------------------------------------------------------------------


def _obj_array(nested: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    for idx in np.ndindex(*shape):
        v = nested
        for i in idx:
            v = v[i]
        out[idx] = v
    return out


def _arrays(raw: _Raw, L: int, N: int, d: int, M: int, k: int) -> dict[str, np.ndarray]:
    """The raw lists as object arrays (values kept at the precision they were computed at)."""
    z = _obj_array([[[raw.z[n][l][i] for i in range(d)] for n in range(N)] for l in range(L + 1)],
                   (L + 1, N, d))
    q = _obj_array([[[raw.q[n][l][i] for i in range(d)] for n in range(N)] for l in range(L + 1)],
                   (L + 1, N, d))
    g = _obj_array(raw.grad_theta, (L, M, k))
    loss_arr = np.empty((), dtype=object)
    loss_arr[()] = raw.loss
    return {"loss": loss_arr, "z": z, "q": q, "z_L": z[-1], "grad_theta": g, "grad_x": q[0]}


def _max_abs(arr: np.ndarray) -> mpmath.mpf:
    return max((abs(v) for v in arr.reshape(-1)), default=mpmath.mpf(0))


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> mpmath.mpf:
    return max((abs(x - y) for x, y in zip(a.reshape(-1), b.reshape(-1), strict=True)),
               default=mpmath.mpf(0))


def _round(arr: np.ndarray, dps: int) -> np.ndarray:
    with mpmath.workdps(dps):
        out = np.empty(arr.shape, dtype=object)
        for idx in np.ndindex(*arr.shape):
            out[idx] = +arr[idx]
        return out


def _round_up(value: mpmath.mpf, dps: int) -> mpmath.mpf:
    """``value`` rounded *upward* to ``dps`` digits (a bound must not shrink when rounded)."""
    from mpmath.libmp import dps_to_prec, mpf_pos

    return mpmath.mp.make_mpf(mpf_pos(value._mpf_, dps_to_prec(dps), "u"))


def _prepare(model: Any, theta: Any, x: Any, y: Any, weights: Any, dps: Any) -> tuple:
    model = _check_model(model)
    dps = check_dps(dps)
    th = check_theta(model, theta)
    data = Data.create(model, x, y, weights)
    return model, th, data, dps


def evaluate(
    model: Model,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    dps: int = 30,
    confirm: bool = True,
) -> ExactResult:
    """Loss, trajectory, adjoint and gradients of a discrete network, reported at ``dps`` digits.

    ``theta``: ``(L, M, 2d+1)``; ``x``: ``(N, d)``; ``y``: ``(N,)``; ``weights``: ``(N,)`` or
    ``None`` (uniform). Numbers are read exactly (decimal strings, floats, Fractions, mpf). With
    ``confirm=True`` (default) the result is recomputed at about twice the working precision and
    ``error_bound`` holds the bound derived in the module docstring; ``confirm=False`` does one
    computation and leaves ``error_bound`` empty.
    """
    model, th, data, dps = _prepare(model, theta, x, y, weights, dps)
    if not isinstance(confirm, bool):
        raise InvalidArgument("confirm", confirm, "expected True or False")
    L, M, k = th.shape
    N, d = data.n, model.d
    guard = GUARD_DIGITS
    bound: dict[str, mpmath.mpf] = {}
    confirm_dps = 0
    for _attempt in range(MAX_ATTEMPTS if confirm else 1):
        wdps = dps + guard
        vals = _arrays(_compute(model, th, data, wdps), L, N, d, M, k)
        if not confirm:
            break
        confirm_dps = 2 * wdps
        hi = _arrays(_compute(model, th, data, confirm_dps), L, N, d, M, k)
        with mpmath.workdps(confirm_dps):
            computed = {q: SAFETY * _max_abs_diff(vals[q], hi[q]) for q in QUANTITIES}
            reported = {q: mpmath.mpf(10) ** (1 - dps) * _max_abs(vals[q]) for q in QUANTITIES}
            bound = {q: computed[q] + reported[q] for q in QUANTITIES}
        if all(computed[q] <= reported[q] for q in QUANTITIES):
            break
        guard *= 4  # lost more digits than the guard: retry (the last attempt's values stand)
    out = {name: _round(vals[name], dps) for name in ("z", "q", "grad_theta")}
    with mpmath.workdps(dps):
        loss_value = +vals["loss"][()]
    bound = {q: _round_up(b, dps) for q, b in bound.items()}
    return ExactResult(
        dps=dps,
        loss=loss_value,
        z=out["z"],
        q=out["q"],
        grad_theta=out["grad_theta"],
        grad_x=out["q"][0],
        error_bound=bound,
        working_dps=wdps,
        confirm_dps=confirm_dps,
    )


def forward(model: Model, theta: Any, x: Any, *, dps: int = 30) -> np.ndarray:
    """Trajectory ``z_0..z_L`` of every input, shape ``(L+1, N, d)``, rounded to ``dps`` digits.

    Computed at ``dps + GUARD_DIGITS`` digits without confirmation (use :func:`evaluate` for a
    confirmed error bound).
    """
    model = _check_model(model)
    dps = check_dps(dps)
    th = check_theta(model, theta)
    xs = exact_array(x, "x", (None, model.d))
    if xs.shape[0] == 0:
        raise InvalidArgument("x", x, "need at least one data point")
    L, M, _k = th.shape
    N = xs.shape[0]
    sigma = exact_activation(model.activation)
    with mpmath.workdps(dps + GUARD_DIGITS):
        layers = _neurons(th, model.d)
        trajs = [_forward_point(sigma, layers, [mpf_of(v) for v in xs[n]], L * M)[0]
                 for n in range(N)]
    z = _obj_array([[trajs[n][l] for n in range(N)] for l in range(L + 1)], (L + 1, N, model.d))
    return _round(z, dps)


def loss(
    model: Model, theta: Any, x: Any, y: Any, weights: Any = None, *, dps: int = 30
) -> mpmath.mpf:
    """The loss ``E`` at ``dps`` digits (computed at ``dps + GUARD_DIGITS``, not confirmed)."""
    model, th, data, dps = _prepare(model, theta, x, y, weights, dps)
    raw = _compute(model, th, data, dps + GUARD_DIGITS, backward=False)
    with mpmath.workdps(dps):
        return +raw.loss
