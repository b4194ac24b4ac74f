"""The discrete ResNet in ball arithmetic (Arb): rigorous enclosures of everything it computes.

Same mathematics as ``docs/model.md`` §1–2, written against Arb matrices (``arb_mat``)
instead of loops, one layer at a time, all data points at once (columns)::

    A_l   = W_l Z_l + b_l 1ᵀ                     (M × N)   pre-activations a = w·z + b
    Z_l+1 = Z_l + U_lᵀ σ(A_l) / (L·M)           (d × N)   forward
    r     = g(Z_L) − y,  g(z) = a·z + (κ/2)|z|²  (N)
    E     = Σ_n ω_n r_n² / 2
    Q_L   = (a 1ᵀ + κ Z_L) diag(r)               (d × N)   adjoint, per point, unweighted
    C_l   = σ'(A_l) ∘ (U_l Q_l+1)                (M × N)   σ'(a) (u·q)
    Q_l   = Q_l+1 + W_lᵀ C_l / (L·M)
    ∂E/∂W_l = C_l Ω Z_lᵀ / (L·M),  ∂E/∂U_l = σ(A_l) Ω Q_l+1ᵀ / (L·M),  ∂E/∂b_l = C_l ω / (L·M)
    ∂ℓ/∂x = Q_0

(``Ω = diag(ω)``; rows of ``W_l``, ``U_l`` are the neurons' ``w``, ``u``.)

**What is rigorous.** Every number is an Arb ball ``[m ± r]`` and every Arb operation returns a
ball that contains the exact result of the operation applied to *any* points of its operand
balls (Johansson 2017). The inputs enter as balls that contain the exact rational inputs
(:func:`~mforacle.ball.activations.arb_of`: exact for dyadic rationals, ``p/q`` otherwise), and
``σ^{(j)}`` is enclosed by :func:`~mforacle.ball.activations.sigma`. By induction over the
operations each output ball contains the true value of the network's quantity for the exact
inputs: ``|true − m| ≤ r``. Nothing here is an estimate; the only approximation is the width of
the balls.

**Precision.** :func:`evaluate` starts at ``⌈dps·log2 10⌉ + GUARD_BITS`` bits. The request is
met when, for each quantity (``loss``, ``z_L``, ``grad_theta``, ``grad_x``), the largest radius
is at most ``10^-dps`` times the largest ``|midpoint|`` (``dps`` correct digits relative to the
quantity's scale). If not (cancellation, huge weights, arguments Arb cannot reduce at that
precision), the computation is repeated at ``max(2p, p + deficit + GUARD_BITS)`` bits, where
``deficit`` is the measured shortfall in bits, up to ``max_prec`` (default
``PREC_CAP_FACTOR ×`` the starting precision). The balls stay valid at every precision; the
result says which precisions were tried and whether the request was met.

Source: ``docs/model.md`` §1–2; F. Johansson, *Arb: efficient arbitrary-precision
midpoint-radius interval arithmetic*, IEEE Trans. Computers 66 (2017). Shares no numerical code
with ``mforacle.exact`` or ``mforacle.fast``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import flint
import numpy as np
from flint import arb, arb_mat

from ..errors import InvalidArgument
from ..model import Data, Model, check_theta
from ..numbers import exact_array
from .activations import arb_of, sigma, straddles_kink

__all__ = [
    "GUARD_BITS",
    "MAX_DPS",
    "PREC_CAP_FACTOR",
    "QUANTITIES",
    "BallResult",
    "arb_to_fraction",
    "evaluate",
    "forward",
    "initial_prec",
    "max_abs_mid",
    "max_radius",
]

#: Bits above the requested digits at the first attempt.
GUARD_BITS = 32
#: Default cap on the working precision: this many times the starting precision.
PREC_CAP_FACTOR = 16
#: Largest ``dps`` accepted.
MAX_DPS = 10000
#: The quantities with a per-quantity error bound.
QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")


@dataclass(frozen=True)
class BallResult:
    """What :func:`evaluate` computed; arrays are NumPy object arrays of ``flint.arb`` balls.

    Each ball contains the true value of its quantity for the exact inputs. ``error_bound`` maps
    ``loss``, ``z_L``, ``grad_theta``, ``grad_x`` to the largest radius over the entries (an
    exact ``arb``): a rigorous absolute bound on ``|midpoint − true|``. ``prec`` is the working
    precision (bits) of the reported run, ``attempts`` the ``(prec, met)`` pairs tried in order,
    ``met`` whether the request (radius ≤ ``10^-dps`` × the largest ``|midpoint|``, per
    quantity) was met, ``max_prec`` the cap. ``kinks`` counts pre-activation balls that straddled
    a ``regrelu`` kink (their ``σ'`` took the hull of both branches) in the reported run.
    """

    dps: int
    prec: int
    loss: arb
    z: np.ndarray  # (L+1, N, d)
    q: np.ndarray  # (L+1, N, d)
    grad_theta: np.ndarray  # (L, M, k)
    error_bound: dict[str, arb] = field(default_factory=dict)
    met: bool = False
    attempts: tuple[tuple[int, bool], ...] = ()
    max_prec: int = 0
    kinks: int = 0

    @property
    def z_L(self) -> np.ndarray:
        """Final states ``z_L``, shape ``(N, d)``."""
        return self.z[-1]

    @property
    def grad_x(self) -> np.ndarray:
        """``∂ℓ_n/∂x_n = q_0``, shape ``(N, d)``, unweighted."""
        return self.q[0]

    def radius_digits(self) -> dict[str, float | None]:
        """Per quantity, ``-log10(max radius / max |midpoint|)``: the correct digits, relative to
        the quantity's scale, that the enclosure guarantees (``inf`` for exact balls; ``None``
        when every midpoint is 0 but a radius is not, or a radius is infinite)."""
        out: dict[str, float | None] = {}
        with flint.ctx.workprec(64):
            for name in QUANTITIES:
                values = self.get(name)
                rad, peak = max_radius(values), max_abs_mid(values)
                if rad == 0:
                    out[name] = float("inf")
                elif not rad.is_finite() or peak == 0:
                    out[name] = None
                else:
                    out[name] = float(-(rad / peak).log_base(10).upper().mid())
        return out

    def get(self, name: str) -> np.ndarray:
        """Quantity ``name`` (one of :data:`QUANTITIES`) as an object array (``loss``: 0-d)."""
        if name == "loss":
            out = np.empty((), dtype=object)
            out[()] = self.loss
            return out
        if name not in QUANTITIES:
            raise InvalidArgument("name", name, f"expected one of {list(QUANTITIES)}")
        return getattr(self, name)


def initial_prec(dps: int) -> int:
    """Starting working precision in bits for ``dps`` decimal digits: ``⌈dps·log2 10⌉ + 32``."""
    return -(-dps * 33220 // 10000) + GUARD_BITS  # log2(10) < 3.3220


def _check_dps(dps: Any) -> int:
    if isinstance(dps, bool) or not isinstance(dps, int | np.integer):
        raise InvalidArgument("dps", dps, "expected an integer number of decimal digits")
    if not 1 <= int(dps) <= MAX_DPS:
        raise InvalidArgument("dps", dps, f"must be between 1 and {MAX_DPS}")
    return int(dps)


def _check_model(model: Any) -> Model:
    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected an mforacle.model.Model (use Model.create)")
    return model


# --------------------------------------------------------------------------------------------
# One run at one precision (inside flint.ctx.workprec).
# --------------------------------------------------------------------------------------------


@dataclass
class _Raw:
    loss: arb | None
    Z: list[arb_mat]  # L+1 of (d × N)
    Q: list[arb_mat]  # L+1 of (d × N), Q[l] = q_l
    grad: list[tuple[arb_mat, arb_mat, arb_mat]]  # per layer (gW M×d, gU M×d, gb M×1)
    kinks: int


def _mat(rows: int, cols: int, entries: list[arb]) -> arb_mat:
    return arb_mat(rows, cols, entries)


def _layers(theta: np.ndarray, d: int) -> list[tuple[arb_mat, arb_mat, list[arb]]]:
    """``(W_l, U_l, b_l)`` per layer: ``W_l, U_l`` are ``M × d`` (rows = neurons)."""
    out = []
    for layer in theta:
        M = layer.shape[0]
        rows = [[arb_of(v) for v in neuron] for neuron in layer]
        W = _mat(M, d, [r[i] for r in rows for i in range(d)])
        U = _mat(M, d, [r[d + i] for r in rows for i in range(d)])
        out.append((W, U, [r[2 * d] for r in rows]))
    return out


def _run(model: Model, theta: np.ndarray, data: Data | np.ndarray, prec: int,
         backward: bool = True) -> _Raw:
    """Forward (and, with ``backward``, loss, adjoint, gradients) at ``prec`` bits."""
    act = model.activation
    d = model.d
    L, M, _k = theta.shape
    x = data.x if isinstance(data, Data) else data
    N = x.shape[0]
    lm = L * M
    kinked = act.name == "regrelu"
    with flint.ctx.workprec(prec):
        layers = _layers(theta, d)
        Z = [_mat(d, N, [arb_of(x[n][i]) for i in range(d) for n in range(N)])]
        S, D1 = [], []  # σ(A_l), σ'(A_l) as flat row-major M × N lists
        kinks = 0
        for W, U, b in layers:
            A = (W * Z[-1]).entries()
            pre = [A[j] + b[j // N] for j in range(M * N)]
            s = [sigma(act, v, 0) for v in pre]
            if backward:
                D1.append([sigma(act, v, 1) for v in pre])
            if kinked:
                kinks += sum(straddles_kink(act, v) for v in pre)
            S.append(s)
            Z.append(Z[-1] + (U.transpose() * _mat(M, N, s)) / lm)
        if not backward:
            return _Raw(None, Z, [], [], kinks)
        assert isinstance(data, Data)
        a = [arb_of(v) for v in model.a]
        kappa = arb_of(model.kappa)
        omega = [arb_of(v) for v in data.weights]
        zL = Z[L].entries()  # d × N row-major: zL[i*N + n]
        ga = (_mat(1, d, a) * Z[L]).entries()
        r = []
        for n in range(N):
            sq = zL[n] * zL[n]
            for i in range(1, d):
                sq += zL[i * N + n] * zL[i * N + n]
            r.append(ga[n] + kappa * sq / 2 - arb_of(data.y[n]))
        loss = omega[0] * r[0] * r[0]
        for n in range(1, N):
            loss += omega[n] * r[n] * r[n]
        loss = loss / 2
        Q: list[arb_mat] = [None] * (L + 1)  # type: ignore[list-item]
        Q[L] = _mat(d, N, [r[n] * (a[i] + kappa * zL[i * N + n])
                           for i in range(d) for n in range(N)])
        grad: list = [None] * L
        ones = _mat(N, 1, [arb(1)] * N)
        for l in range(L - 1, -1, -1):
            W, U, _b = layers[l]
            P = (U * Q[l + 1]).entries()
            c = [D1[l][j] * P[j] for j in range(M * N)]
            Q[l] = Q[l + 1] + (W.transpose() * _mat(M, N, c)) / lm
            Cw = _mat(M, N, [c[j] * omega[j % N] for j in range(M * N)])
            Sw = _mat(M, N, [S[l][j] * omega[j % N] for j in range(M * N)])
            grad[l] = ((Cw * Z[l].transpose()) / lm, (Sw * Q[l + 1].transpose()) / lm,
                       (Cw * ones) / lm)
        return _Raw(loss, Z, Q, grad, kinks)


# --------------------------------------------------------------------------------------------
# Packaging and the precision loop.
# --------------------------------------------------------------------------------------------


def _trajectory(mats: list[arb_mat], N: int, d: int) -> np.ndarray:
    out = np.empty((len(mats), N, d), dtype=object)
    for l, m in enumerate(mats):
        e = m.entries()
        for i in range(d):
            for n in range(N):
                out[l, n, i] = e[i * N + n]
    return out


def _grad_array(grad: list, M: int, d: int) -> np.ndarray:
    out = np.empty((len(grad), M, 2 * d + 1), dtype=object)
    for l, (gW, gU, gb) in enumerate(grad):
        ew, eu, eb = gW.entries(), gU.entries(), gb.entries()
        for m in range(M):
            for i in range(d):
                out[l, m, i] = ew[m * d + i]
                out[l, m, d + i] = eu[m * d + i]
            out[l, m, 2 * d] = eb[m]
    return out


def _arb_max(values: Any) -> arb:
    """The largest of exact (radius-0) non-negative balls, or 0 for none."""
    best = arb(0)
    for v in values:
        if v > best:
            best = v
    return best


def max_radius(values: np.ndarray) -> arb:
    """Largest radius over an object array of balls (exact ``arb``, an upper bound)."""
    return _arb_max(v.rad() for v in np.asarray(values, dtype=object).reshape(-1))


def max_abs_mid(values: np.ndarray) -> arb:
    """Largest ``|midpoint|`` over an object array of balls (exact ``arb``)."""
    return _arb_max(abs(v.mid()) for v in np.asarray(values, dtype=object).reshape(-1))


def _shortfall_bits(values: np.ndarray, dps: int) -> int | None:
    """Bits by which the largest radius exceeds ``10^-dps · max|mid|``: ``≤ 0`` when met,
    ``None`` when it cannot be measured (a radius is infinite or the midpoints are all 0)."""
    rad = max_radius(values)
    if rad == 0:
        return 0
    target = (max_abs_mid(values) * arb(10) ** (-dps)).lower()
    if not rad.is_finite() or not target > 0:
        return None
    if rad <= target:
        return 0
    ratio = (rad / target).upper()
    man, exp = ratio.mid().man_exp()
    return max(1, int(man).bit_length() + int(exp))


def _validate(model: Any, theta: Any, x: Any, y: Any, weights: Any, dps: Any,
              max_prec: Any) -> tuple[Model, np.ndarray, Data, int, int, int]:
    model = _check_model(model)
    dps = _check_dps(dps)
    th = check_theta(model, theta)
    data = Data.create(model, x, y, weights)
    start = initial_prec(dps)
    if max_prec is None:
        cap = PREC_CAP_FACTOR * start
    elif isinstance(max_prec, bool) or not isinstance(max_prec, int | np.integer):
        raise InvalidArgument("max_prec", max_prec, "expected an integer number of bits")
    elif int(max_prec) < start:
        raise InvalidArgument("max_prec", max_prec,
                              f"must be at least the starting precision {start} bits")
    else:
        cap = int(max_prec)
    return model, th, data, dps, start, cap


def evaluate(
    model: Model,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    dps: int = 30,
    max_prec: int | None = None,
) -> BallResult:
    """Certified loss, trajectory, adjoint and gradients of a discrete network.

    ``theta``: ``(L, M, 2d+1)``; ``x``: ``(N, d)``; ``y``: ``(N,)``; ``weights``: ``(N,)`` or
    ``None`` (uniform ``1/N``). Numbers are read exactly (decimal strings, floats, Fractions).
    Every returned ball contains the true value (module docstring). The working precision is
    raised until each quantity's largest radius is at most ``10^-dps`` × its largest
    ``|midpoint|`` or ``max_prec`` bits (default ``PREC_CAP_FACTOR ×`` the start) is reached;
    ``met`` says which. Arrays: ``z, q`` ``(L+1, N, d)``, ``grad_theta`` ``(L, M, 2d+1)``,
    ``grad_x`` ``(N, d)``, ``z_L`` ``(N, d)``.

    Raises:
        InvalidArgument: a malformed model, shape, number, weights, ``dps`` (1..10000) or
            ``max_prec`` (an integer ≥ the starting precision).
    """
    model, th, data, dps, prec, cap = _validate(model, theta, x, y, weights, dps, max_prec)
    _L, M, _k = th.shape
    N, d = data.n, model.d
    attempts: list[tuple[int, bool]] = []
    while True:
        raw = _run(model, th, data, prec)
        z = _trajectory(raw.Z, N, d)
        q = _trajectory(raw.Q, N, d)
        loss_arr = np.empty((), dtype=object)
        loss_arr[()] = raw.loss
        values = {"loss": loss_arr, "z_L": z[-1], "grad_theta": _grad_array(raw.grad, M, d),
                  "grad_x": q[0]}
        short = [_shortfall_bits(values[name], dps) for name in QUANTITIES]
        met = all(s == 0 for s in short)
        attempts.append((prec, met))
        if met or prec >= cap:
            break
        known = [s for s in short if s is not None]
        step = max(known) + GUARD_BITS if len(known) == len(short) else prec
        prec = min(cap, max(2 * prec, prec + step))
    assert raw.loss is not None
    return BallResult(
        dps=dps,
        prec=prec,
        loss=raw.loss,
        z=z,
        q=q,
        grad_theta=values["grad_theta"],
        error_bound={name: max_radius(values[name]) for name in QUANTITIES},
        met=met,
        attempts=tuple(attempts),
        max_prec=cap,
        kinks=raw.kinks,
    )


def forward(model: Model, theta: Any, x: Any, *, prec: int = 128) -> np.ndarray:
    """Enclosures of the trajectory ``z_0..z_L`` of every input, shape ``(L+1, N, d)``, computed
    once at ``prec`` bits (no precision loop; use :func:`evaluate` for a requested accuracy).

    Raises:
        InvalidArgument: a malformed model, shape or number, or ``prec`` not an integer ≥ 2.
    """
    model = _check_model(model)
    th = check_theta(model, theta)
    xs = exact_array(x, "x", (None, model.d))
    if xs.shape[0] == 0:
        raise InvalidArgument("x", x, "need at least one data point")
    if isinstance(prec, bool) or not isinstance(prec, int | np.integer) or prec < 2:
        raise InvalidArgument("prec", prec, "expected an integer number of bits >= 2")
    raw = _run(model, th, xs, int(prec), backward=False)
    return _trajectory(raw.Z, xs.shape[0], model.d)


def arb_to_fraction(value: arb) -> Fraction:
    """An exact ball (e.g. a midpoint or a radius) as a Fraction.

    Raises:
        InvalidArgument: ``value`` has a positive radius or is not finite.
    """
    if not isinstance(value, arb) or not value.is_exact() or not value.is_finite():
        raise InvalidArgument("value", value, "expected an exact, finite arb")
    man, exp = value.man_exp()
    man, exp = int(man), int(exp)
    return Fraction(man * 2**exp) if exp >= 0 else Fraction(man, 2**-exp)
