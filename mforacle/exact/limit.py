"""The continuous-depth mean-field limit for a Gaussian depth-path measure, in mpmath.

``docs/model.md`` section 4: forward ``dZ/dt = F_rho(Z, t)``, ``Z(0) = x``; backward
``dp/dt = -J_rho(Z, t)^T p``, ``p(1) = (g(Z(1)) - y) grad g(Z(1))``; energy
``E(rho) = sum_n omega_n (g(Z(1; x_n)) - y_n)^2 / 2``; first variation
``dE/drho(theta, t) = sum_n omega_n p(t; x_n) · f(Z(t; x_n), theta)`` and velocity
``V(theta, t) = sum_n omega_n d_theta f(Z(t; x_n), theta)^T p(t; x_n)``.
``F_rho`` and ``J_rho`` come from :mod:`mforacle.exact.gaussian` (Stein + closed forms / nested
trapezoid at working precision).

Method (documented choice): **Gragg–Bulirsch–Stoer extrapolation, applied globally.**
``[0, 1]`` is cut at ``i/segments`` and at every probe depth. On each segment the modified
midpoint rule with Gragg's smoothing step runs ``n`` substeps (``n = 2, 4, 6, ...``, all even),
forward for ``Z``, then backward from ``t = 1`` for the pair ``(Z, p)`` (the flow is reversible,
so ``Z`` is re-integrated alongside ``p`` instead of interpolated). Every output of one such pass
(energy, ``Z(1)``, ``Z`` and ``p`` at the segment nodes, first variation and velocity at the
probes) has an asymptotic expansion in even powers of ``1/n`` (Gragg 1965; Hairer–Nørsett–Wanner
I, II.9): each segment map's error expands in ``(H_seg/n)^2``, and compositions and smooth
functions of such maps keep an even expansion in ``1/n``. The passes ``n_1 < n_2 < ...`` are
combined by Aitken–Neville extrapolation to ``1/n^2 -> 0``; diagonal ``D_i`` has order ``2i+2``.

Error estimate, confirmed by a further refinement: ``delta_i = max |D_i - D_{i-1}|`` estimates the
error of ``D_{i-1}``. The solver stops at the first ``i >= 2`` with ``delta_i <= tol`` and
``delta_i <= delta_{i-1}`` (the table is in its convergent regime: the estimate of the previous
row is confirmed by this one), and reports ``D_i`` with ``error_bound = delta_i + tol/10^4``;
``D_i`` is one refinement beyond the value whose error ``delta_i`` measures. The ``tol/10^4``
term covers the quadrature (tolerance ``tol/10^6`` per expectation) and roundoff at the working
precision (``dps + 10`` digits). Bounds are absolute, per output group (``energy``, ``Z1``, ``Z``,
``p``, ``first_variation``, ``velocity``). ``tests/test_limit_exact.py`` recomputes at higher
precision and smaller tolerance and checks the reported digits hold (A4).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

from ..errors import InvalidArgument
from ..measures import GaussianPath, Probe
from ..model import Data, Model
from .activations import exact_activation, mpf_of
from .gaussian import ExactMarginal, drift, drift_and_jacobian, marginal

__all__ = ["ExactLimitResult", "check_limit_inputs", "flow", "solve"]

GUARD_DIGITS = 10
QUAD_FACTOR = Fraction(1, 10**6)  # quadrature tolerance relative to tol
FLOOR_FACTOR = Fraction(1, 10**4)  # quadrature + roundoff allowance in the bound, relative to tol


@dataclass(frozen=True)
class ExactLimitResult:
    """Outcome of :func:`solve`. Arrays are object arrays of ``mpf``; bounds are absolute."""

    dps: int
    tol: mpmath.mpf
    energy: mpmath.mpf
    Z1: np.ndarray  # (N, d)
    first_variation: np.ndarray  # (P,)
    velocity: np.ndarray  # (P, k)
    times: tuple[Fraction, ...]  # segment nodes 0 = t_0 < ... < t_T = 1
    Z: np.ndarray  # (T+1, N, d) at the segment nodes
    p: np.ndarray  # (T+1, N, d) adjoint at the segment nodes (per point, unweighted)
    error_bound: dict[str, mpmath.mpf] = field(default_factory=dict)
    substeps: tuple[int, ...] = ()  # n of every midpoint pass used
    converged: bool = True

    def at(self, t: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(Z(t), p(t))`` at a segment node ``t``."""
        tt = Fraction(t)
        if tt not in self.times:
            nodes = [str(s) for s in self.times]
            raise InvalidArgument("t", t, f"not a segment node; nodes are {nodes}")
        i = self.times.index(tt)
        return self.Z[i], self.p[i]


def _probe(model: Model, p: Any, i: int) -> Probe:
    if isinstance(p, Probe):
        if len(p.theta) != model.k:
            raise InvalidArgument(f"probes[{i}].theta", p.theta, f"expected k = {model.k} entries")
        return p
    if isinstance(p, dict):
        return Probe.create(model, p.get("t"), p.get("theta"), f"probes[{i}]")
    if isinstance(p, Sequence) and len(p) == 2:
        return Probe.create(model, p[0], p[1], f"probes[{i}]")
    raise InvalidArgument(
        f"probes[{i}]", p, "expected a Probe, {'t':..., 'theta':...} or (t, theta)"
    )


def check_limit_inputs(
    model: Model, measure: GaussianPath, x: Any, y: Any, weights: Any, probes: Iterable[Any]
) -> tuple[Data, tuple[Probe, ...]]:
    """Validate a limit problem (exact data, probes); raises :class:`InvalidArgument`."""
    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected an mforacle.model.Model")
    if not isinstance(measure, GaussianPath):
        raise InvalidArgument("measure", measure, "expected an mforacle.measures.GaussianPath")
    if measure.k != model.k:
        raise InvalidArgument(
            "measure.k", measure.k, f"measure is for k = {measure.k}, model has k = {model.k}"
        )
    data = Data.create(model, x, y, weights)
    return data, tuple(_probe(model, p, i) for i, p in enumerate(probes))


def _check_precision(dps: Any, tol: Any) -> tuple[int, Fraction]:
    if isinstance(dps, bool) or not isinstance(dps, int | np.integer) or not 15 <= int(dps) <= 1000:
        raise InvalidArgument("dps", dps, "expected an integer number of digits in [15, 1000]")
    dps = int(dps)
    if tol is None:
        return dps, Fraction(1, 10 ** (dps // 2))
    from ..numbers import exact_scalar

    t = exact_scalar(tol, "tol")
    if not Fraction(1, 10 ** (dps - 5)) <= t < 1:
        raise InvalidArgument("tol", tol, f"expected 1e-{dps - 5} <= tol < 1 at dps={dps}")
    return dps, t


def _gragg(f: Callable, t0: Fraction, t1: Fraction, y0: np.ndarray, n: int) -> np.ndarray:
    """Modified midpoint rule with ``n`` (even) substeps and Gragg's smoothing, t0 -> t1."""
    h = (t1 - t0) / n
    hm = mpf_of(h)
    z_prev = y0
    z = y0 + hm * f(t0, y0)
    for i in range(1, n):
        z_prev, z = z, z_prev + 2 * hm * f(t0 + i * h, z)
    return (z + z_prev + hm * f(t1, z)) / 2


class _Problem:
    """The right-hand sides at one precision, with marginals cached per (exact) depth."""

    def __init__(self, model: Model, measure: GaussianPath, qtol: mpmath.mpf) -> None:
        self.model, self.measure, self.qtol = model, measure, qtol
        self._rho: dict[Fraction, ExactMarginal] = {}

    def rho(self, t: Fraction) -> ExactMarginal:
        if t not in self._rho:
            self._rho[t] = marginal(self.measure, t)
        return self._rho[t]

    def forward(self, t: Fraction, Z: np.ndarray) -> np.ndarray:
        rho = self.rho(t)
        return np.array([drift(self.model, rho, z, tol=self.qtol) for z in Z], dtype=object)

    def backward(self, t: Fraction, Y: np.ndarray) -> np.ndarray:
        """Right-hand side of the pair: Y = (N, 2d) with Z in [:, :d], p in [:, d:]."""
        d, rho = self.model.d, self.rho(t)
        out = np.empty_like(Y)
        for n in range(Y.shape[0]):
            F, J = drift_and_jacobian(self.model, rho, Y[n, :d], tol=self.qtol)
            out[n, :d] = F
            out[n, d:] = -(J.T.dot(Y[n, d:]))
        return out


def _readout(model: Model, z: np.ndarray) -> tuple[mpmath.mpf, np.ndarray]:
    a = [mpf_of(v) for v in model.a]
    kap = mpf_of(model.kappa)
    g = sum((a[i] * z[i] for i in range(model.d)), mpmath.mpf(0)) + kap / 2 * sum(
        (zi * zi for zi in z), mpmath.mpf(0)
    )
    grad = np.array([a[i] + kap * z[i] for i in range(model.d)], dtype=object)
    return g, grad


def _probe_values(model, act, Zt, pt, omega, theta):
    d = model.d
    w, u, b = theta[:d], theta[d : 2 * d], theta[2 * d]
    fv = mpmath.mpf(0)
    vel = np.array([mpmath.mpf(0)] * model.k, dtype=object)
    for n in range(len(omega)):
        z, p = Zt[n], pt[n]
        pre = sum((w[i] * z[i] for i in range(d)), mpmath.mpf(0)) + b
        s0, s1 = act.sigma(pre), act.d1(pre)
        up = sum((u[i] * p[i] for i in range(d)), mpmath.mpf(0))
        fv += omega[n] * up * s0
        for i in range(d):
            vel[i] += omega[n] * s1 * up * z[i]
            vel[d + i] += omega[n] * s0 * p[i]
        vel[2 * d] += omega[n] * s1 * up
    return fv, vel


def _one_pass(prob: _Problem, model, data_mp, probes_mp, times, n):
    """All outputs of one midpoint pass with ``n`` substeps per segment, flattened by group."""
    X, Yl, omega = data_mp
    N, d = X.shape
    Zs = [X.copy()]
    for k in range(len(times) - 1):
        Zs.append(_gragg(prob.forward, times[k], times[k + 1], Zs[-1], n))
    Z1 = Zs[-1]
    energy = mpmath.mpf(0)
    P1 = np.empty((N, d), dtype=object)
    for i in range(N):
        g, grad = _readout(model, Z1[i])
        energy += omega[i] * (g - Yl[i]) ** 2 / 2
        P1[i] = (g - Yl[i]) * grad
    ps = [None] * len(times)
    ps[-1] = P1
    Yb = np.concatenate([Z1, P1], axis=1)
    for k in range(len(times) - 1, 0, -1):
        Yb = _gragg(prob.backward, times[k], times[k - 1], Yb, n)
        ps[k - 1] = Yb[:, d:].copy()
    act = exact_activation(model.activation)
    fvs, vels = [], []
    for t, theta in probes_mp:
        i = times.index(t)
        fv, vel = _probe_values(model, act, Zs[i], ps[i], omega, theta)
        fvs.append(fv)
        vels.append(vel)
    return {
        "energy": np.array([energy], dtype=object),
        "Z1": Z1.reshape(-1),
        "Z": np.array(Zs, dtype=object).reshape(-1),
        "p": np.array(ps, dtype=object).reshape(-1),
        "first_variation": np.array(fvs, dtype=object),
        "velocity": np.array(vels, dtype=object).reshape(-1),
    }


def _extrapolate(run: Callable[[int], dict[str, np.ndarray]], tol: mpmath.mpf, max_rows: int,
                 progress: Callable[[str], None] | None = None):
    """Aitken–Neville in ``1/n^2`` over ``n = 2, 4, 6, ...``; returns (diag, deltas, ns, ok).
    ``progress`` (optional) gets one line per row of the table."""
    keys: list[str] = []
    ns: list[int] = []
    table: list[list[np.ndarray]] = []
    diag_prev = None
    delta_prev = None
    for i in range(max_rows):
        n = 2 * (i + 1)
        out = run(n)
        if not keys:
            keys = list(out)
        vec = np.concatenate([out[k] for k in keys])
        sizes = [len(out[k]) for k in keys]
        ns.append(n)
        row = [vec]
        for j in range(1, i + 1):
            ratio = mpmath.mpf(ns[i]) ** 2 / mpmath.mpf(ns[i - j]) ** 2 - 1
            row.append(row[j - 1] + (row[j - 1] - table[i - 1][j - 1]) / ratio)
        table.append(row)
        diag = row[-1]
        if diag_prev is not None:
            diff = [abs(a - b) for a, b in zip(diag, diag_prev, strict=True)]
            deltas, pos = {}, 0
            for k, sz in zip(keys, sizes, strict=True):
                deltas[k] = max(diff[pos : pos + sz], default=mpmath.mpf(0))
                pos += sz
            delta = max(deltas.values())
            if progress is not None:
                progress(f"extrapolation row {i + 1}/{max_rows} (n = {n}): last difference "
                         f"{mpmath.nstr(delta, 3)}, target {mpmath.nstr(tol, 3)}")
            if i >= 2 and delta <= tol and (delta_prev is None or delta <= delta_prev):
                return _split(diag, keys, sizes), deltas, tuple(ns), True
            delta_prev = delta
        diag_prev = diag
    return _split(diag, keys, sizes), deltas, tuple(ns), False


def _split(vec, keys, sizes):
    out, pos = {}, 0
    for k, sz in zip(keys, sizes, strict=True):
        out[k] = vec[pos : pos + sz]
        pos += sz
    return out


def _times(segments: int, probe_ts: Iterable[Fraction]) -> list[Fraction]:
    if isinstance(segments, bool) or not isinstance(segments, int | np.integer) or segments < 1:
        raise InvalidArgument("segments", segments, "expected a positive integer")
    ts = {Fraction(i, int(segments)) for i in range(int(segments) + 1)} | set(probe_ts)
    return sorted(ts)


def solve(
    model: Model,
    measure: GaussianPath,
    x: Any,
    y: Any,
    weights: Any = None,
    probes: Iterable[Any] = (),
    *,
    dps: int = 30,
    tol: Any = None,
    segments: int = 2,
    max_rows: int = 12,
    progress: Callable[[str], None] | None = None,
) -> ExactLimitResult:
    """Solve the limit ODEs for ``measure`` and data; energy, ``Z(1)``, probes' ``dE/drho``, ``V``.

    ``tol`` (default ``10^-(dps//2)``) is the absolute target for every output; ``segments``
    fixes the base cut of ``[0, 1]`` (probe depths are added); ``max_rows`` caps the
    extrapolation table (``converged`` is False, and the bound says how far it got, if the cap
    was reached). Inputs are read exactly; computation runs at ``dps + 10`` digits.
    ``progress`` (optional ``callable(str)``) receives one line per extrapolation row.
    """
    data, probe_list = check_limit_inputs(model, measure, x, y, weights, probes)
    dps, tol_q = _check_precision(dps, tol)
    times = _times(segments, [p.t for p in probe_list])
    with mpmath.workdps(dps + GUARD_DIGITS):
        tol_m = mpf_of(tol_q)
        prob = _Problem(model, measure, mpf_of(tol_q * QUAD_FACTOR))
        X = np.vectorize(mpf_of, otypes=[object])(data.x)
        Yl = [mpf_of(v) for v in data.y]
        omega = [mpf_of(v) for v in data.weights]
        probes_mp = [(p.t, [mpf_of(v) for v in p.theta]) for p in probe_list]
        vals, deltas, ns, ok = _extrapolate(
            lambda n: _one_pass(prob, model, (X, Yl, omega), probes_mp, times, n), tol_m, max_rows,
            progress,
        )
        floor = mpf_of(tol_q * FLOOR_FACTOR)
        N, d, T = data.n, model.d, len(times)
        return ExactLimitResult(
            dps=dps,
            tol=tol_m,
            energy=vals["energy"][0],
            Z1=vals["Z1"].reshape(N, d),
            first_variation=vals["first_variation"],
            velocity=vals["velocity"].reshape(len(probe_list), model.k),
            times=tuple(times),
            Z=vals["Z"].reshape(T, N, d),
            p=vals["p"].reshape(T, N, d),
            error_bound={k: v + floor for k, v in deltas.items()},
            substeps=ns,
            converged=ok,
        )


def flow(
    model: Model,
    measure: GaussianPath,
    z0: Any,
    t0: Any,
    t1: Any = 1,
    *,
    dps: int = 30,
    tol: Any = None,
    max_rows: int = 12,
) -> tuple[np.ndarray, mpmath.mpf]:
    """``Z(t1)`` of the limit ODE started from ``Z(t0) = z0`` (one state, d,), with its bound.

    Same method as :func:`solve` (one Gragg–Bulirsch–Stoer segment). ``z0`` entries may be
    ``mpf`` at higher precision than ``dps`` (they are read exactly).
    """
    from ..numbers import exact_array, exact_scalar

    dps, tol_q = _check_precision(dps, tol)
    z = exact_array(z0, "z0", (model.d,))
    a, b = exact_scalar(t0, "t0"), exact_scalar(t1, "t1")
    if not (0 <= a <= 1 and 0 <= b <= 1):
        raise InvalidArgument("t0, t1", (t0, t1), "depths must lie in [0, 1]")
    with mpmath.workdps(dps + GUARD_DIGITS):
        prob = _Problem(model, measure, mpf_of(tol_q * QUAD_FACTOR))
        Z0 = np.array([[mpf_of(v) for v in z]], dtype=object)

        def run(n: int) -> dict[str, np.ndarray]:
            return {"Z": _gragg(prob.forward, a, b, Z0, n).reshape(-1)}

        vals, deltas, _ns, _ok = _extrapolate(run, mpf_of(tol_q), max_rows)
        return vals["Z"], deltas["Z"] + mpf_of(tol_q * FLOOR_FACTOR)
