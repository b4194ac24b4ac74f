"""The mean-field limit in NumPy float64: Gaussian paths, weighted particles, the M = ∞ network.

Equations (``docs/model.md`` section 4): ``dZ/dt = F_rho(Z, t)``, ``Z(0) = x``;
``dp/dt = -J_rho(Z, t)^T p``, ``p(1) = (g(Z(1)) - y) grad g(Z(1))``;
``dE/drho(theta, t) = sum_n omega_n p_n(t) · f(Z_n(t), theta)``,
``V(theta, t) = sum_n omega_n d_theta f(Z_n(t), theta)^T p_n(t)``. Everything is vectorized over
data points (and probes / particles); written separately from :mod:`mforacle.exact.limit`.

1. Gaussian depth-path measures -- :func:`solve`
   ``solve(model, measure, x, y, weights=None, probes=(), *, steps=64, estimate_error=True)``
   -> :class:`FastLimitResult` (``energy``, ``Z1`` (N, d), ``first_variation`` (P,),
   ``velocity`` (P, k), ``times`` (T,), ``Z``/``p`` (T, N, d), ``error_bound`` dict).
   Classical RK4 (order 4) on the grid ``{i/steps} ∪ {probe depths}``, forward for ``Z``, then
   backward from ``t = 1`` for the pair ``(Z, p)`` (the flow is reversible; order 4 for ``p``
   too: a matching-order scheme, not the discrete adjoint). ``F_rho``, ``J_rho`` from
   :mod:`mforacle.fast.gaussian`. Error estimate (``estimate_error=True``): a second solve on
   the grid with every interval halved; ``error_bound = 2 |Q_h - Q_{h/2}| + roundoff`` per
   output group, roundoff ``= u (20 S + 50) max(1, |Q|)`` for ``S`` steps (a few rounding
   errors per stage, amplified by at most ~e over the unit interval). Derivation: if halving
   the step at least halves the error (true in the asymptotic regime of any convergent method;
   RK4 divides it by ~16), ``err(Q_h) <= |Q_h - Q_{h/2}| + err(Q_h)/2``, i.e.
   ``err(Q_h) <= 2 |Q_h - Q_{h/2}|``. The reported values are the coarser ``Q_h``. Not a
   rigorous bound outside the asymptotic regime; tests check it against the exact path.

2. Weighted particles -- the object the PDE trainer moves along characteristics (stable API)
   ``ParticleMeasure.create(model, nodes, weights)``: ``nodes`` float64 (T, J, k) = the particles
   ``theta_j(t_i)`` on the uniform depth grid ``t_i = i/(T-1)``, ``T`` odd and ``>= 3``;
   ``weights`` (J,) non-negative, summing to 1, fixed forever. ``ParticleMeasure.from_gaussian(
   model, measure, T, n)`` pushes the tensor Gauss–Hermite nodes of ``xi`` (``n`` per dimension,
   ``J = n^r``) through ``c(t_i) + A(t_i) xi``.
   ``solve_particles(model, particles, x, y, weights=None)`` -> :class:`ParticleSolution`
   (``energy``, ``times`` (T,), ``Z``, ``p`` (T, N, d), and the float64 data). The ODEs only ever
   evaluate ``F_rho``, ``J_rho`` at grid depths: RK4 with step ``H = 2/(T-1)`` from ``t_{2i}`` to
   ``t_{2i+2}``, its two middle stages at the grid node ``t_{2i+1}`` (order 4). ``Z`` and ``p``
   at odd nodes come from the cubic Hermite interpolant of the two neighbours and their
   derivatives (``(y_0 + y_1)/2 + H (y_0' - y_1')/8``, error ``O(H^4)``): order 4 everywhere.
   ``p`` is integrated backward together with ``Z`` (matching order-4 scheme).
   ``velocity_on_particles(model, particles, solution)`` -> (T, J, k): ``V(theta_j(t_i), t_i)``;
   ``first_variation_on_particles(model, particles, solution)`` -> (T, J).

3. The M = ∞ network -- :func:`mean_field_network`
   ``z_{l+1} = z_l + F_rho(z_l, l/L)/L`` (what a network sampled from the measure tends to as
   ``M -> ∞``), its exact discrete adjoint ``q_l = q_{l+1} + J_rho(z_l, l/L)^T q_{l+1}/L``, and
   :func:`neuron_gradient` ``L·M·dE/dtheta_{l,m} = sum_n omega_n d_theta f(z_l, theta)^T q_{l+1}``
   for any ``theta`` placed in layer ``l``. Converges to the limit at order 1 in ``L``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..dtypes import UNIT_ROUNDOFF
from ..errors import InvalidArgument
from ..measures import GaussianPath, Probe
from ..model import Model, float_data
from ..numbers import float_array
from .activations import get
from .gaussian import GaussianPathArrays, drift, drift_and_jacobian

__all__ = [
    "FastLimitResult",
    "MeanFieldNetwork",
    "ParticleEnsembleSolution",
    "ParticleMeasure",
    "ParticleSolution",
    "first_variation_on_particles",
    "mean_field_network",
    "neuron_gradient",
    "probe_values",
    "solve",
    "solve_particle_ensemble",
    "solve_particles",
    "velocity_on_particle_ensemble",
    "velocity_on_particles",
]

U = UNIT_ROUNDOFF["float64"]


# --- shared pieces ----------------------------------------------------------------------------
def _readout(model: Model, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.array([float(v) for v in model.a])
    kap = float(model.kappa)
    g = Z @ a + 0.5 * kap * np.einsum("nd,nd->n", Z, Z)
    return g, a + kap * Z


def _terminal(model: Model, Z1: np.ndarray, y: np.ndarray, omega: np.ndarray):
    g, grad = _readout(model, Z1)
    res = g - y
    return float(np.dot(omega, 0.5 * res * res)), res[:, None] * grad


def probe_values(
    model: Model, Z: np.ndarray, p: np.ndarray, omega: np.ndarray, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(dE/drho, V)`` at parameters ``theta`` (P, k) for states ``Z``, adjoints ``p`` (N, d).

    ``dE/drho = sum_n omega_n p_n · u sigma(w·Z_n + b)`` (P,), and ``V`` (P, k) is its gradient
    in ``theta = (w, u, b)``. The same formula gives the M = ∞ network's neuron gradient with
    ``(Z, p) = (z_l, q_{l+1})``.
    """
    d = model.d
    theta = np.atleast_2d(theta)
    W, Uu, b = theta[:, :d], theta[:, d : 2 * d], theta[:, 2 * d]
    pre = Z @ W.T + b  # (N, P)
    s0, s1 = get(model.activation).both(pre)
    up = p @ Uu.T  # (N, P)
    fv = omega @ (up * s0)
    g1 = omega[:, None] * s1 * up  # (N, P)
    V = np.empty((theta.shape[0], model.k))
    V[:, :d] = g1.T @ Z
    V[:, d : 2 * d] = (omega[:, None] * s0).T @ p
    V[:, 2 * d] = g1.sum(axis=0)
    return fv, V


def _probes(model: Model, probes: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
    ts, ths = [], []
    for i, pr in enumerate(probes):
        if isinstance(pr, Probe):
            t, th = pr.t, pr.theta
        elif isinstance(pr, dict):
            t, th = pr.get("t"), pr.get("theta")
        elif isinstance(pr, Sequence) and len(pr) == 2:
            t, th = pr
        else:
            raise InvalidArgument(f"probes[{i}]", pr, "expected a Probe, dict or (t, theta)")
        tt = float(float_array(t, f"probes[{i}].t", ()))
        if not 0.0 <= tt <= 1.0:
            raise InvalidArgument(f"probes[{i}].t", t, "depth t must lie in [0, 1]")
        th_f = float_array(th, f"probes[{i}].theta", (model.k,))
        ts.append(tt)
        ths.append(th_f)
    return np.array(ts), np.array(ths).reshape(len(ths), model.k)


def _check_measure(model: Model, measure: Any) -> GaussianPathArrays:
    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected an mforacle.model.Model")
    if not isinstance(measure, GaussianPath):
        raise InvalidArgument("measure", measure, "expected an mforacle.measures.GaussianPath")
    if measure.k != model.k:
        raise InvalidArgument("measure.k", measure.k, f"model has k = {model.k}")
    return GaussianPathArrays.of(measure)


def _positive_int(value: Any, name: str, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise InvalidArgument(name, value, f"expected an integer >= {least}")
    return int(value)


# --- 1. Gaussian depth paths ------------------------------------------------------------------
@dataclass(frozen=True)
class FastLimitResult:
    """Outcome of :func:`solve` (float64). ``error_bound``: estimated absolute error per group."""

    energy: float
    Z1: np.ndarray  # (N, d)
    first_variation: np.ndarray  # (P,)
    velocity: np.ndarray  # (P, k)
    times: np.ndarray  # (T,)
    Z: np.ndarray  # (T, N, d)
    p: np.ndarray  # (T, N, d)
    steps: int
    error_bound: dict[str, float] = field(default_factory=dict)


def _rk4_pass(model, path, times, X, y, omega, probe_t, probe_theta):
    d = model.d

    def fwd(t, Z):
        return drift(model, path.at(t), Z)

    def bwd(t, Y):
        F, J = drift_and_jacobian(model, path.at(t), Y[:, :d])
        return np.concatenate([F, -np.einsum("nij,ni->nj", J, Y[:, d:])], axis=1)

    def step(f, t0, t1, Y):
        h = t1 - t0
        k1 = f(t0, Y)
        k2 = f(t0 + h / 2, Y + (h / 2) * k1)
        k3 = f(t0 + h / 2, Y + (h / 2) * k2)
        k4 = f(t1, Y + h * k3)
        return Y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4)

    T = len(times)
    Zs = np.empty((T, *X.shape))
    Zs[0] = X
    for i in range(T - 1):
        Zs[i + 1] = step(fwd, times[i], times[i + 1], Zs[i])
    energy, P1 = _terminal(model, Zs[-1], y, omega)
    ps = np.empty_like(Zs)
    ps[-1] = P1
    Yb = np.concatenate([Zs[-1], P1], axis=1)
    for i in range(T - 1, 0, -1):
        Yb = step(bwd, times[i], times[i - 1], Yb)
        ps[i - 1] = Yb[:, d:]
    P = len(probe_t)
    fv, vel = np.empty(P), np.empty((P, model.k))
    for j in range(P):
        i = int(np.argmin(np.abs(times - probe_t[j])))
        f_, v_ = probe_values(model, Zs[i], ps[i], omega, probe_theta[j : j + 1])
        fv[j], vel[j] = f_[0], v_[0]
    return energy, Zs, ps, fv, vel


def solve(
    model: Model,
    measure: GaussianPath,
    x: Any,
    y: Any,
    weights: Any = None,
    probes: Iterable[Any] = (),
    *,
    steps: int = 64,
    estimate_error: bool = True,
) -> FastLimitResult:
    """The limit for a Gaussian depth-path ``measure``: RK4 with ``steps`` uniform steps (+ probe
    depths), order 4; see the module docstring for the error estimate."""
    path = _check_measure(model, measure)
    X, yv, omega = float_data(model, x, y, weights)
    probe_t, probe_theta = _probes(model, probes)
    steps = _positive_int(steps, "steps")
    times = np.unique(np.concatenate([np.arange(steps + 1) / steps, probe_t]))
    energy, Zs, ps, fv, vel = _rk4_pass(model, path, times, X, yv, omega, probe_t, probe_theta)
    bound: dict[str, float] = {}
    if estimate_error:
        fine = np.sort(np.concatenate([times, (times[:-1] + times[1:]) / 2]))
        e2, Z2, p2, fv2, vel2 = _rk4_pass(model, path, fine, X, yv, omega, probe_t, probe_theta)
        S = len(fine) - 1
        pairs = {
            "energy": (np.array([energy]), np.array([e2])),
            "Z1": (Zs[-1], Z2[-1]),
            "Z": (Zs, Z2[::2]),
            "p": (ps, p2[::2]),
            "first_variation": (fv, fv2),
            "velocity": (vel, vel2),
        }
        for k, (a, b) in pairs.items():
            if a.size == 0:
                bound[k] = 0.0
                continue
            scale = max(1.0, float(np.max(np.abs(a))))
            bound[k] = 2.0 * float(np.max(np.abs(a - b))) + U * (20 * S + 50) * scale
    return FastLimitResult(energy, Zs[-1].copy(), fv, vel, times, Zs, ps, steps, bound)


# --- 2. weighted particles --------------------------------------------------------------------
@dataclass(frozen=True)
class ParticleMeasure:
    """Particles ``theta_j(t_i)``: ``nodes`` (T, J, k) at ``t_i = i/(T-1)``, ``weights`` (J,)."""

    nodes: np.ndarray
    weights: np.ndarray

    @classmethod
    def create(cls, model: Model, nodes: Any, weights: Any) -> ParticleMeasure:
        nd = float_array(nodes, "nodes", (None, None, model.k))
        T, J = nd.shape[:2]
        if T < 3 or T % 2 == 0:
            raise InvalidArgument("nodes", f"array of shape {nd.shape}",
                                  "need an odd number T >= 3 of depth grid points")
        if J < 1:
            raise InvalidArgument("nodes", f"shape {nd.shape}", "need at least one particle")
        w = float_array(weights, "weights", (J,))
        if (w < 0).any():
            i = int(np.argmax(w < 0))
            raise InvalidArgument(f"weights[{i}]", w[i], "weights must be non-negative")
        tol = 4 * J * U
        if abs(float(w.sum()) - 1.0) > tol:
            raise InvalidArgument(
                "weights", float(w.sum()), f"weights must sum to 1 (within {tol:.1e})"
            )
        return cls(nd, w)

    @classmethod
    def from_gaussian(cls, model: Model, measure: GaussianPath, T: int, n: int) -> ParticleMeasure:
        """Tensor Gauss–Hermite nodes of ``xi`` (``n`` per dimension) pushed through the path."""
        path = _check_measure(model, measure)
        T = _positive_int(T, "T", 3)
        n = _positive_int(n, "n")
        if T % 2 == 0:
            raise InvalidArgument("T", T, "need an odd number of depth grid points")
        x1, w1 = np.polynomial.hermite.hermgauss(n)
        xi1, om1 = np.sqrt(2.0) * x1, w1 / np.sqrt(np.pi)
        r = measure.r
        grids = np.meshgrid(*([xi1] * r), indexing="ij")
        xi = np.stack([g.reshape(-1) for g in grids], axis=1)  # (n^r, r)
        om = np.ones(1)
        for _ in range(r):
            om = np.outer(om, om1).reshape(-1)
        om = om / om.sum()
        nodes = np.empty((T, xi.shape[0], model.k))
        for i in range(T):
            rho = path.at(i / (T - 1))
            nodes[i] = rho.c + xi @ rho.A.T
        return cls(nodes, om)

    @property
    def times(self) -> np.ndarray:
        T = self.nodes.shape[0]
        return np.arange(T) / (T - 1)


@dataclass(frozen=True)
class ParticleSolution:
    """``Z``, ``p`` (T, N, d) on the particles' depth grid, the energy, and the data used."""

    energy: float
    times: np.ndarray
    Z: np.ndarray
    p: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray

    @property
    def Z1(self) -> np.ndarray:
        return self.Z[-1]


def _particle_fj(model: Model, theta: np.ndarray, om: np.ndarray, Z: np.ndarray, jac: bool):
    """``F_ρ`` (S, N, d) and, with ``jac``, ``J_ρ`` (S, N, d, d) for an ensemble of particle
    sets ``theta`` (S, J, k) with weights ``om`` (S, J) at states ``Z`` (S, N, d). Matmuls only
    (one BLAS call per member slice), so each member's values do not depend on ``S``."""
    d = model.d
    W, Uu, b = theta[..., :d], theta[..., d : 2 * d], theta[..., 2 * d]
    pre = np.matmul(Z, W.transpose(0, 2, 1))  # (S, N, J)
    pre += b[:, None, :]
    s0, s1 = get(model.activation).both(pre)
    s0 *= om[:, None, :]
    F = np.matmul(s0, Uu)  # (S, N, d)
    if not jac:
        return F, None
    s1 *= om[:, None, :]
    A = s1[:, :, None, :] * Uu.transpose(0, 2, 1)[:, None, :, :]  # (S, N, d, J): ω σ' u_i
    J = np.matmul(A, W[:, None, :, :])  # (S, N, d, d): Σ_j ω σ' u_i w_k
    return F, J


@dataclass(frozen=True)
class ParticleEnsembleSolution:
    """:class:`ParticleSolution` of ``S`` particle measures on shared data (member first)."""

    energy: np.ndarray  # (S,)
    times: np.ndarray  # (T,)
    Z: np.ndarray  # (S, T, N, d)
    p: np.ndarray  # (S, T, N, d)
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray

    def member(self, s: int) -> ParticleSolution:
        """The solution of ensemble member ``s`` (``0 <= s < S``), bit-identical to solving that
        measure alone (docs/ARCHITECTURE.md, ensembles)."""
        return ParticleSolution(float(self.energy[s]), self.times, self.Z[s], self.p[s], self.x,
                                self.y, self.weights)


def _check_particle_ensemble(model: Model, nodes: Any, weights: Any) -> tuple[np.ndarray,
                                                                              np.ndarray]:
    nd = float_array(nodes, "nodes", (None, None, None, model.k))
    S, T, J = nd.shape[:3]
    if S < 1 or J < 1 or T < 3 or T % 2 == 0:
        raise InvalidArgument("nodes", f"array of shape {nd.shape}",
                              "need S >= 1 members, an odd T >= 3 and J >= 1 particles")
    w = float_array(weights, "weights", (S, J))
    return nd, w


def solve_particle_ensemble(
    model: Model, nodes: Any, particle_weights: Any, x: Any, y: Any, weights: Any = None
) -> ParticleEnsembleSolution:
    """:func:`solve_particles` for ``S`` particle measures at once, on shared data.

    Args:
        nodes: ``(S, T, J, k)``, member ``s``'s particles ``θ_j(t_i)``, ``t_i = i/(T−1)``.
        particle_weights: ``(S, J)``, each row a :class:`ParticleMeasure`'s weights (not
            re-validated: build the members with :meth:`ParticleMeasure.create`).
        x, y, weights: the data ``(N, d)``, ``(N,)``, ``(N,)`` or ``None``.

    Returns member ``s`` equal bit for bit to :func:`solve_particles` of member ``s`` (which is
    the ``S = 1`` case). Raises :class:`InvalidArgument` on malformed input. Source: model.md
    §4 (the same order-4 scheme as :func:`solve_particles`).
    """
    nodes_, om = _check_particle_ensemble(model, nodes, particle_weights)
    X, yv, omega = float_data(model, x, y, weights)
    S, T = nodes_.shape[:2]
    H = 2.0 / (T - 1)
    d = model.d
    Z = np.empty((T, S, *X.shape))
    dZ = np.empty_like(Z)
    Z[0] = X

    def F(i, z):
        return _particle_fj(model, nodes_[:, i], om, z, False)[0]

    for i in range(0, T - 1, 2):
        k1 = F(i, Z[i])
        k2 = F(i + 1, Z[i] + H / 2 * k1)
        k3 = F(i + 1, Z[i] + H / 2 * k2)
        k4 = F(i + 2, Z[i] + H * k3)
        dZ[i] = k1
        Z[i + 2] = Z[i] + H / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    dZ[T - 1] = F(T - 1, Z[T - 1])
    for i in range(1, T - 1, 2):
        Z[i] = (Z[i - 1] + Z[i + 1]) / 2 + H / 8 * (dZ[i - 1] - dZ[i + 1])
    energy, P1 = _terminal_ensemble(model, Z[-1], yv, omega)

    def G(i, Y):
        f, J = _particle_fj(model, nodes_[:, i], om, Y[..., :d], True)
        Jp = np.matmul(Y[..., None, d:], J)[..., 0, :]  # (S, N, d): J_ρᵀ p
        return np.concatenate([f, -Jp], axis=-1)

    p = np.empty_like(Z)
    dp = np.empty_like(Z)
    p[-1] = P1
    Y = np.concatenate([Z[-1], P1], axis=-1)
    for i in range(T - 1, 0, -2):
        k1 = G(i, Y)
        k2 = G(i - 1, Y - H / 2 * k1)
        k3 = G(i - 1, Y - H / 2 * k2)
        k4 = G(i - 2, Y - H * k3)
        dp[i] = k1[..., d:]
        Y = Y - H / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        p[i - 2] = Y[..., d:]
    dp[0] = G(0, Y)[..., d:]
    for i in range(1, T - 1, 2):
        p[i] = (p[i - 1] + p[i + 1]) / 2 + H / 8 * (dp[i - 1] - dp[i + 1])
    times = np.arange(T) / (T - 1)
    return ParticleEnsembleSolution(energy, times, np.ascontiguousarray(Z.transpose(1, 0, 2, 3)),
                                    np.ascontiguousarray(p.transpose(1, 0, 2, 3)), X, yv, omega)


def _terminal_ensemble(model: Model, Z1: np.ndarray, y: np.ndarray, omega: np.ndarray):
    """Per member energy (S,) and ``p(1)`` (S, N, d); reductions along each member's own last
    axis (independent of ``S``)."""
    a = np.array([float(v) for v in model.a])
    kap = float(model.kappa)
    g = np.sum(Z1 * a, axis=-1) + 0.5 * kap * np.sum(Z1 * Z1, axis=-1)
    res = g - y
    return np.sum(omega * (0.5 * res * res), axis=-1), res[..., None] * (a + kap * Z1)


def solve_particles(
    model: Model, particles: ParticleMeasure, x: Any, y: Any, weights: Any = None
) -> ParticleSolution:
    """Forward ``Z`` and backward ``p`` for a particle measure on its depth grid (order 4).

    The ``S = 1`` case of :func:`solve_particle_ensemble`. Raises :class:`InvalidArgument`.
    """
    if not isinstance(particles, ParticleMeasure):
        raise InvalidArgument("particles", particles, "expected a ParticleMeasure")
    if particles.nodes.shape[2] != model.k:
        raise InvalidArgument("particles.nodes", particles.nodes.shape, f"model has k = {model.k}")
    sol = solve_particle_ensemble(model, particles.nodes[None], particles.weights[None], x, y,
                                  weights)
    return sol.member(0)


def velocity_on_particle_ensemble(
    model: Model, nodes: np.ndarray, solution: ParticleEnsembleSolution
) -> np.ndarray:
    """``V(θ_j(t_i), t_i)`` for every member, particle and grid depth: ``(S, T, J, k)``.

    ``nodes`` ``(S, T, J, k)`` as given to :func:`solve_particle_ensemble`; member ``s`` equals
    :func:`velocity_on_particles` of member ``s`` bit for bit. Matmuls per member slice only.
    """
    d = model.d
    omega = solution.weights
    S, T, J, k = nodes.shape
    out = np.empty((S, T, J, k))
    act = get(model.activation)
    for i in range(T):
        th = nodes[:, i]
        W, Uu = th[..., :d], th[..., d : 2 * d]
        Z, p = solution.Z[:, i], solution.p[:, i]  # (S, N, d)
        pre = np.matmul(Z, W.transpose(0, 2, 1))
        pre += th[:, None, :, 2 * d]
        s0, s1 = act.both(pre)  # (S, N, J)
        up = np.matmul(p, Uu.transpose(0, 2, 1))
        g1 = s1 * up
        g1 *= omega[:, None]
        s0 *= omega[:, None]
        np.matmul(g1.transpose(0, 2, 1), Z, out=out[:, i, :, :d])
        np.matmul(s0.transpose(0, 2, 1), p, out=out[:, i, :, d : 2 * d])
        np.matmul(np.ones(Z.shape[1]), g1, out=out[:, i, :, 2 * d])
    return out


def velocity_on_particles(
    model: Model, particles: ParticleMeasure, solution: ParticleSolution
) -> np.ndarray:
    """``V(theta_j(t_i), t_i)`` for every particle and grid depth: (T, J, k).

    The ``S = 1`` case of :func:`velocity_on_particle_ensemble`."""
    ens = ParticleEnsembleSolution(np.array([solution.energy]), solution.times,
                                   solution.Z[None], solution.p[None], solution.x, solution.y,
                                   solution.weights)
    return velocity_on_particle_ensemble(model, particles.nodes[None], ens)[0]


def first_variation_on_particles(
    model: Model, particles: ParticleMeasure, solution: ParticleSolution
) -> np.ndarray:
    """``dE/drho(theta_j(t_i), t_i)``: (T, J)."""
    return np.stack([
        probe_values(model, solution.Z[i], solution.p[i], solution.weights, particles.nodes[i])[0]
        for i in range(particles.nodes.shape[0])
    ])


# --- 3. the M = ∞ network ---------------------------------------------------------------------
@dataclass(frozen=True)
class MeanFieldNetwork:
    """Depth-``L`` network with exact expectations per layer: ``z``, ``q`` (L+1, N, d)."""

    L: int
    energy: float
    z: np.ndarray
    q: np.ndarray
    weights: np.ndarray

    @property
    def z_L(self) -> np.ndarray:
        return self.z[-1]


def mean_field_network(
    model: Model, measure: GaussianPath, x: Any, y: Any, weights: Any = None, *, L: int
) -> MeanFieldNetwork:
    """``z_{l+1} = z_l + F_rho(z_l, l/L)/L`` and its exact adjoint (explicit Euler, order 1)."""
    path = _check_measure(model, measure)
    X, yv, omega = float_data(model, x, y, weights)
    L = _positive_int(L, "L")
    z = np.empty((L + 1, *X.shape))
    z[0] = X
    Js = []
    for l in range(L):
        F, J = drift_and_jacobian(model, path.at(l / L), z[l])
        Js.append(J)
        z[l + 1] = z[l] + F / L
    energy, qL = _terminal(model, z[-1], yv, omega)
    q = np.empty_like(z)
    q[-1] = qL
    for l in range(L - 1, -1, -1):
        q[l] = q[l + 1] + np.einsum("nij,ni->nj", Js[l], q[l + 1]) / L
    return MeanFieldNetwork(L, energy, z, q, omega)


def neuron_gradient(model: Model, net: MeanFieldNetwork, l: int, theta: Any) -> np.ndarray:
    """``L·M·dE/dtheta_{l,m} = sum_n omega_n d_theta f(z_l, theta)^T q_{l+1}``: (P, k)."""
    if isinstance(l, bool) or not isinstance(l, int | np.integer) or not 0 <= l < net.L:
        raise InvalidArgument("l", l, f"expected a layer index in [0, {net.L - 1}]")
    th = float_array(np.atleast_2d(np.asarray(theta, dtype=np.float64)), "theta", (None, model.k))
    return probe_values(model, net.z[l], net.q[l + 1], net.weights, th)[1]
