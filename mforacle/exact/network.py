"""The discrete ResNet in mpmath: forward pass, loss, adjoint and gradients (docs/model.md §1–2).

Plain loops, one line per formula of ``docs/model.md``::

    z_0 = x,   z_{l+1} = z_l + (1/(L·M)) Σ_m u_{l,m} σ(w_{l,m}·z_l + b_{l,m})
    E = Σ_n ω_n ½ (g(z_L(x_n)) − y_n)²,        g(z) = a·z + (κ/2)|z|²
    q_L = (g(z_L) − y) ∇g(z_L),
    q_l = q_{l+1} + (1/(L·M)) Σ_m σ'(a_{l,m}) (u_{l,m}·q_{l+1}) w_{l,m}
    ∂E/∂w = (1/(L·M)) Σ_n ω_n σ'(a) (u·q_{l+1}) z_l,   ∂E/∂u = (1/(L·M)) Σ_n ω_n σ(a) q_{l+1},
    ∂E/∂b = (1/(L·M)) Σ_n ω_n σ'(a) (u·q_{l+1}),       ∂ℓ/∂x = q_0 (unweighted)

**Sums.** Every sum over neurons, data points or coordinates is one exact integer accumulation
of the mantissas, rounded once (:func:`~mforacle.exact.summation.exact_dot_raw` /
``exact_sum_raw``): the products of a dot product are formed *exactly* (integer mantissa
products, no rounding) and the bias of a pre-activation joins the same sum, ``a = round(w·z +
b)``. The factor ``1/(L·M)`` is applied once, after the sum, as a division by the integer
``L·M``. Each sum is therefore the correctly rounded exact value whatever the order of its
terms and however different their magnitudes (``mpmath.fsum`` drops terms far below the
largest, in an order-dependent way). Hence two invariances hold *bit for bit* (claim A5):
permuting the neurons of a layer leaves every sum unchanged, and duplicating every neuron
(``M → 2M``) doubles the exact sum while ``L·M`` doubles, so ``round(2S)/(2LM)`` and
``round(S)/(LM)`` are the same correctly rounded quotient.

**Cost** (issue 13). Values are mpmath's raw ``(sign, man, exp, bc)`` tuples and operations
are ``mpmath.libmp`` functions at the working precision (what the ``mpf`` operators call,
without their object layer); ``σ(a)`` and ``σ'(a)`` are evaluated once per neuron and data
point per precision pass (:meth:`ExactActivation.sigma_and_d1`) and ``σ'(a)(u·q)`` is kept from
the adjoint for the gradients. ``python -m mforacle.bench`` compares it with a straightforward
scalar mpmath implementation of the same formulas (docs/bench.md).

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
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np
from mpmath.libmp import (
    from_int,
    from_rational,
    mpf_add,
    mpf_div,
    mpf_mul,
    mpf_shift,
    mpf_sub,
    round_nearest,
)

from ..errors import InvalidArgument
from ..model import Data, Model, check_theta
from ..numbers import exact_array
from .activations import ExactActivation, exact_activation
from .summation import exact_dot_raw, exact_sum_raw

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
# The computation at one precision. Values are mpmath's raw (sign, man, exp, bc) tuples and every
# operation is a libmp function at the explicit precision ``prec`` (rounding to nearest), which
# is what the mpf operators do, without their object layer. A neuron is the triple (w, u, b).
# --------------------------------------------------------------------------------------------


def _raw_of(value: Fraction | int, prec: int) -> tuple:
    """A Fraction (or int) as the correctly rounded raw mpf at ``prec`` bits."""
    v = Fraction(value)
    return from_rational(v.numerator, v.denominator, prec, round_nearest)


def _neurons(theta: np.ndarray, d: int, prec: int) -> list[list[tuple[list, list, tuple]]]:
    """Fractions -> raw mpf at ``prec``, split into (w, u, b) per neuron."""
    out = []
    for layer in theta:
        row = []
        for th in layer:
            v = [_raw_of(t, prec) for t in th]
            row.append((v[0:d], v[d : 2 * d], v[2 * d]))
        out.append(row)
    return out


def _activation_pairs(sigma: ExactActivation, pre: list, prec: int) -> tuple[list, list]:
    """``σ(a)`` and ``σ'(a)`` of every pre-activation, each evaluated once (raw, at ``prec``)."""
    make = mpmath.mp.make_mpf
    s, ds = [], []
    for a in pre:
        v, dv = sigma.sigma_and_d1(make(a))
        s.append(v._mpf_)
        ds.append(dv._mpf_)
    return s, ds


def _columns(layers: list, part: int) -> list:
    """Per layer and coordinate ``i``, the neurons' ``w_i`` (``part = 0``) or ``u_i`` (1)."""
    d = len(layers[0][0][0])
    return [[[neuron[part][i] for neuron in layer] for i in range(d)] for layer in layers]


def _forward_point(
    sigma: ExactActivation, layers: list, u_cols: list, x: list, lm: tuple, prec: int,
    derivative: bool,
) -> tuple[list, list, list]:
    """Trajectory ``z_0..z_L`` of one input, and per layer ``σ(a_{l,m})``, ``σ'(a_{l,m})``.

    ``a = w·z + b`` is one exact sum (products exact, ``b`` included) rounded once; ``z_{l+1,i}
    = z_{l,i} + round(Σ_m u_{m,i} σ(a_m)) / (L·M)``.
    """
    z = [x]
    sig, dsig = [], []
    d = len(x)
    for layer, ucol in zip(layers, u_cols, strict=True):
        zl = z[-1]
        pre = [exact_dot_raw(w, zl, prec, (b,)) for (w, _u, b) in layer]
        if derivative:
            s_l, ds_l = _activation_pairs(sigma, pre, prec)
        else:
            make = mpmath.mp.make_mpf
            s_l, ds_l = [sigma.sigma(make(a))._mpf_ for a in pre], []
        nxt = [
            mpf_add(zl[i], mpf_div(exact_dot_raw(ucol[i], s_l, prec), lm, prec, round_nearest),
                    prec, round_nearest)
            for i in range(d)
        ]
        sig.append(s_l)
        dsig.append(ds_l)
        z.append(nxt)
    return z, sig, dsig


def _readout(a: list, kappa: tuple, z: list, prec: int) -> tuple:
    """``g(z) = a·z + (κ/2)|z|²`` (raw)."""
    sq = mpf_mul(kappa, exact_dot_raw(z, z, prec), prec, round_nearest)
    return mpf_add(exact_dot_raw(a, z, prec), mpf_shift(sq, -1), prec, round_nearest)


@dataclass
class _Raw:
    loss: mpmath.mpf
    z: list  # [n][l][i]
    q: list  # [n][l][i]
    grad_theta: list  # [l][m][j]


def _compute(model: Model, theta: np.ndarray, data: Data, wdps: int, backward: bool = True) -> _Raw:
    """Forward, loss, adjoint and gradients at ``wdps`` digits (docs/model.md §1–2).

    ``backward=False`` stops after the loss (``q`` and ``grad_theta`` are then empty). Each
    activation and its derivative are evaluated once per neuron and data point; the adjoint's
    ``σ'(a)(u·q)`` is kept for the gradients.
    """
    d = model.d
    L, M = theta.shape[0], theta.shape[1]
    sigma = exact_activation(model.activation)
    with mpmath.workdps(wdps):
        prec = mpmath.mp.prec
        rnd = round_nearest
        lm = from_int(L * M)
        layers = _neurons(theta, d, prec)
        # per layer, the columns u_{·,i} and w_{·,i} (sums over neurons run down a column)
        w_cols, u_cols = _columns(layers, 0), _columns(layers, 1)
        a_vec = [_raw_of(v, prec) for v in model.a]
        kappa = _raw_of(model.kappa, prec)
        omega = [_raw_of(v, prec) for v in data.weights]
        zs, qs, sigs, coefs, terms = [], [], [], [], []
        for n in range(data.n):
            x = [_raw_of(v, prec) for v in data.x[n]]
            y = _raw_of(data.y[n], prec)
            z, sig, dsig = _forward_point(sigma, layers, u_cols, x, lm, prec, backward)
            r = mpf_sub(_readout(a_vec, kappa, z[L], prec), y, prec, rnd)  # g(z_L) - y
            terms.append(mpf_mul(omega[n], mpf_mul(r, r, prec, rnd), prec, rnd))
            zs.append(z)
            if not backward:
                continue
            # adjoint: q_L = (g - y) ∇g(z_L), ∇g(z) = a + κ z
            q = [None] * (L + 1)
            q[L] = [mpf_mul(r, mpf_add(a_vec[i], mpf_mul(kappa, z[L][i], prec, rnd), prec, rnd),
                            prec, rnd) for i in range(d)]
            coef_n = [None] * L
            for l in range(L - 1, -1, -1):
                layer, qn = layers[l], q[l + 1]
                # ∂_z f^T q = σ'(a) (u·q) w
                coef = [mpf_mul(ds, exact_dot_raw(u, qn, prec), prec, rnd)
                        for (_w, u, _b), ds in zip(layer, dsig[l], strict=True)]
                q[l] = [mpf_add(qn[i], mpf_div(exact_dot_raw(w_cols[l][i], coef, prec), lm, prec,
                                               rnd), prec, rnd) for i in range(d)]
                coef_n[l] = coef
            qs.append(q)
            sigs.append(sig)
            coefs.append(coef_n)
        loss_value = mpf_shift(exact_sum_raw(terms, prec), -1)
        grad: list = []
        N = data.n
        for l in range(L if backward else 0):
            g_l = []
            z_cols = [[zs[n][l][i] for n in range(N)] for i in range(d)]
            q_cols = [[qs[n][l + 1][i] for n in range(N)] for i in range(d)]
            for m in range(M):
                # ω_n σ'(a)(u·q_{l+1}) and ω_n σ(a): the data-point factors of the sums below
                c = [mpf_mul(omega[n], coefs[n][l][m], prec, rnd) for n in range(N)]
                s = [mpf_mul(omega[n], sigs[n][l][m], prec, rnd) for n in range(N)]
                gw = [mpf_div(exact_dot_raw(c, z_cols[i], prec), lm, prec, rnd) for i in range(d)]
                gu = [mpf_div(exact_dot_raw(s, q_cols[i], prec), lm, prec, rnd) for i in range(d)]
                gb = mpf_div(exact_sum_raw(c, prec), lm, prec, rnd)
                g_l.append([*gw, *gu, gb])
            grad.append(g_l)
        make = mpmath.mp.make_mpf
        return _Raw(
            make(loss_value),
            [[[make(v) for v in zl] for zl in z] for z in zs],
            [[[make(v) for v in ql] for ql in q] for q in qs],
            [[[make(v) for v in row] for row in g_l] for g_l in grad],
        )


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
        prec = mpmath.mp.prec
        layers = _neurons(th, model.d, prec)
        make = mpmath.mp.make_mpf
        trajs = []
        for n in range(N):
            x = [_raw_of(v, prec) for v in xs[n]]
            z = _forward_point(sigma, layers, _columns(layers, 1), x, from_int(L * M), prec,
                               False)[0]
            trajs.append([[make(v) for v in zl] for zl in z])
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
