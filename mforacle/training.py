"""Training in the paper's time ``s`` (``docs/model.md`` §3–4): discrete GD and the PDE.

**Discrete network.** ``dΘ/ds = −L·M ∇E(Θ) − λ(s) Θ``. One explicit step of size ``Δs``::

    Θ_{n+1} = Θ_n − Δs (L·M ∇E(Θ_n) + λ(s_n) Θ_n),        s_n = n Δs

which for ``λ ≡ 0`` is plain gradient descent with learning rate ``h = Δs·L·M``. The history
records, at ``s_n``, the loss ``E(Θ_n)`` and the dissipation ``D_n = L·M |∇E(Θ_n)|²``, the
right-hand side of ``dE/ds = −L·M |∇E|²`` (claims C1, C2).

**Stable step (claim C1).** Write ``G = L·M ∇E`` (the rescaled gradient) and take ``λ ≡ 0``.
Taylor's theorem with the mean-value form of the remainder gives, for some ``ξ`` on the segment
``[Θ, Θ − Δs G]``::

    E(Θ − Δs G) − E(Θ) = −Δs |G|²/(L·M) + ½ Δs² Gᵀ H(ξ) G
                       ≤ −(Δs |G|²/(L·M)) (1 − ½ Δs · L·M · K),     K ≥ sup_segment ‖H‖₂,

so any ``Δs < 2/(L·M·K)`` strictly decreases ``E`` unless ``G = 0``. :func:`stable_step`
estimates ``K₀ = ‖H(Θ)‖₂`` by power iteration on Hessian–vector products (central differences
of the gradient) and returns ``Δs* = 1/(L·M·K)`` with ``K = max(K₀, K_seg)``, where ``K_seg`` is
the largest secant curvature ``|G(Θ − τΔs*G) − G(Θ)| / (L·M·τΔs*|G|)`` measured along the
segment the step would travel (``τ = ½, 1``). The factor 2 between ``Δs*`` and the sufficient
``2/(L·M·K)`` is the stated margin: the step provably decreases the loss **provided the Hessian
norm on the segment stays below twice the estimate** ``K`` (it is an estimate — power iteration
converges from below and the secant samples are finitely many — not an enclosure). A bound for a
whole run is the minimum over the states visited; the C1 check recomputes it along the run.

**PDE by particles.** ``∂_s ρ = ∇_θ·(ρ (V + λθ))`` is pure transport at each depth ``t``, so a
weighted particle measure (nodes ``θ_j(t_i)`` on a uniform depth grid, weights fixed) is carried
exactly by its characteristics ``dθ/ds = −V(θ, t) − λ(s) θ``; :func:`particle_flow` integrates
them with the same explicit Euler step and records ``E(ρ(s))`` and ``∫∫|V|² dρ dt``.

Everything here is float64 (the fast path); all inputs are validated before any work.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import InvalidArgument
from .model import Model, float_data, float_theta

__all__ = [
    "EnsembleHistory",
    "FlowEnsembleHistory",
    "FlowHistory",
    "LossAndGrad",
    "TrainingHistory",
    "gradient_descent",
    "gradient_descent_ensemble",
    "particle_flow",
    "particle_flow_ensemble",
    "stable_step",
]

LossAndGrad = Callable[..., tuple[float, np.ndarray]]
Lam = float | Callable[[float], float] | None


@dataclass(frozen=True)
class TrainingHistory:
    """What :func:`gradient_descent` saw, at the recorded steps ``s = n·Δs``."""

    s: np.ndarray  # (R,) times of the recorded states
    loss: np.ndarray  # (R,) E(Θ(s))
    dissipation: np.ndarray  # (R,) L·M |∇E(Θ(s))|²
    theta: np.ndarray  # final Θ, (L, M, k)
    ds: float
    steps: int
    thetas: tuple[np.ndarray, ...] = ()  # recorded states when keep_thetas=True
    lam: tuple[float, ...] = ()  # λ(s_n) used at each step (empty: λ ≡ 0)

    def to_json(self) -> dict[str, Any]:
        return _history_json(self)


@dataclass(frozen=True)
class FlowHistory:
    """What :func:`particle_flow` saw: ``E(ρ(s))`` and ``∫∫|V|² dρ dt`` at each recorded ``s``."""

    s: np.ndarray
    loss: np.ndarray
    dissipation: np.ndarray
    particles: Any  # the final particle measure
    ds: float
    steps: int
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return _history_json(self)


def _history_json(h: TrainingHistory | FlowHistory) -> dict[str, Any]:
    """The recorded ``s``, loss and dissipation, with ``ds`` and ``steps`` (JSON-able)."""
    return {
        "s": h.s.tolist(),
        "loss": h.loss.tolist(),
        "dissipation": h.dissipation.tolist(),
        "ds": h.ds,
        "steps": h.steps,
    }


# --------------------------------------------------------------------------- validation


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidArgument(name, value, "expected a positive finite number")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise InvalidArgument(name, value, "expected a positive finite number")
    return v


def _check_count(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < minimum:
        raise InvalidArgument(name, value, f"expected an integer >= {minimum}")
    return int(value)


def _check_lam(lam: Lam) -> Callable[[float], float] | None:
    if lam is None:
        return None
    if callable(lam):
        return lam
    v = lam
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise InvalidArgument(
            "lam", lam, "expected None, a number >= 0, or a function s -> λ(s) >= 0"
        )
    const = float(v)
    return lambda s: const


def _lam_at(fn: Callable[[float], float], s: float) -> float:
    v = fn(s)
    if (
        isinstance(v, bool)
        or not isinstance(v, int | float | np.floating)
        or not math.isfinite(v)
        or v < 0
    ):
        raise InvalidArgument("lam", v, f"λ({s:g}) must be a finite number >= 0")
    return float(v)


def _check_run(
    ds: Any, steps: Any, record_every: Any, lam: Lam
) -> tuple[float, int, int, Callable[[float], float] | None]:
    """The validated ``(Δs, steps, record_every, λ)`` of a training run."""
    return (
        _check_positive("ds", ds),
        _check_count("steps", steps, 0),
        _check_count("record_every", record_every, 1),
        _check_lam(lam),
    )


def _check_model(model: Any) -> Model:
    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected a mforacle.model.Model")
    return model


def _default_loss_and_grad() -> LossAndGrad:
    from .fast.network import loss_and_grad

    return loss_and_grad


# --------------------------------------------------------------------------- discrete GD


def _descend(
    lg_batch: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    theta: np.ndarray,
    step: float,
    n_steps: int,
    every: int,
    lam_fn: Callable[[float], float] | None,
    keep_thetas: bool,
    ds: Any,
) -> tuple[list[float], list[np.ndarray], list[np.ndarray], list[np.ndarray], list[float],
           np.ndarray]:
    """The explicit Euler loop on an ensemble ``theta`` (S, L, M, k); see the module docstring.

    Every operation is elementwise or reduces along one member's own axis, so each member's
    trajectory does not depend on the others (nor on ``S``).
    """
    S, L, M, _ = theta.shape
    LM = float(L * M)
    rec_s: list[float] = []
    rec_loss: list[np.ndarray] = []
    rec_diss: list[np.ndarray] = []
    rec_theta: list[np.ndarray] = []
    lams: list[float] = []
    for n in range(n_steps + 1):
        e, g = lg_batch(theta)
        s_n = n * step
        if n % every == 0 or n == n_steps:
            rec_s.append(s_n)
            rec_loss.append(np.asarray(e, dtype=np.float64))
            rec_diss.append(LM * np.sum((g * g).reshape(S, -1), axis=1))
            if keep_thetas:
                rec_theta.append(theta.copy())
        if n == n_steps:
            break
        update = LM * g
        if lam_fn is not None:
            lv = _lam_at(lam_fn, s_n)
            lams.append(lv)
            update = update + lv * theta
        theta = theta - step * update
        finite = np.isfinite(theta.reshape(S, -1)).all(axis=1)
        if not finite.all():
            bad = int(np.argmin(finite))
            who = f" (member {bad})" if S > 1 else ""
            raise InvalidArgument(
                "ds", ds, f"training diverged (non-finite parameters){who} at step {n + 1}"
            )
    return rec_s, rec_loss, rec_diss, rec_theta, lams, theta


def gradient_descent(
    model: Model,
    theta0: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    ds: float,
    steps: int,
    lam: Lam = None,
    record_every: int = 1,
    keep_thetas: bool = False,
    loss_and_grad: LossAndGrad | None = None,
) -> TrainingHistory:
    """``steps`` explicit steps ``Θ ← Θ − Δs (L·M ∇E(Θ) + λ(s) Θ)`` from ``theta0`` (L, M, k).

    Records ``s``, ``E`` and ``L·M|∇E|²`` at steps ``0, record_every, 2·record_every, …`` and
    always at the last step. ``loss_and_grad(model, theta, x, y, weights) -> (E, ∇E)`` defaults
    to :func:`mforacle.fast.network.loss_and_grad`; with the default, this is the ``S = 1``
    case of :func:`gradient_descent_ensemble` (bit for bit). Deterministic: no randomness.
    Source: model.md §3 (the time ``s``).

    Raises:
        InvalidArgument: malformed model, parameters, data, ``ds``, ``steps``,
            ``record_every`` or ``lam``; or a run that diverges (non-finite parameters).
    """
    model = _check_model(model)
    theta = float_theta(model, theta0).copy()
    xs, ys, ws = float_data(model, x, y, weights)
    step, n_steps, every, lam_fn = _check_run(ds, steps, record_every, lam)
    if loss_and_grad is None:
        lg_batch = _fast_batch(model, xs, ys, ws)
    else:
        lg = loss_and_grad

        def lg_batch(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            e, g = lg(model, th[0], xs, ys, ws)
            return np.array([float(e)]), np.asarray(g, dtype=np.float64)[None]

    rec_s, rec_loss, rec_diss, rec_theta, lams, final = _descend(
        lg_batch, theta[None], step, n_steps, every, lam_fn, keep_thetas, ds
    )
    return TrainingHistory(
        np.array(rec_s),
        np.array([float(e[0]) for e in rec_loss]),
        np.array([float(v[0]) for v in rec_diss]),
        final[0],
        step,
        n_steps,
        tuple(t[0] for t in rec_theta),
        tuple(lams),
    )


@dataclass(frozen=True)
class EnsembleHistory:
    """What :func:`gradient_descent_ensemble` saw for ``S`` networks at the recorded steps."""

    s: np.ndarray  # (R,) times of the recorded states
    loss: np.ndarray  # (R, S) E(Θ_s(s))
    dissipation: np.ndarray  # (R, S) L·M |∇E(Θ_s(s))|²
    theta: np.ndarray  # final Θ, (S, L, M, k)
    ds: float
    steps: int
    thetas: np.ndarray | None = None  # (R, S, L, M, k) recorded states when keep_thetas=True
    lam: tuple[float, ...] = ()

    @property
    def final_loss(self) -> np.ndarray:
        """``E(Θ_s(steps·Δs))`` per member, ``(S,)``."""
        return self.loss[-1]

    def member(self, s: int) -> TrainingHistory:
        """Member ``s`` as the :class:`TrainingHistory` :func:`gradient_descent` returns."""
        return TrainingHistory(
            self.s.copy(),
            self.loss[:, s].copy(),
            self.dissipation[:, s].copy(),
            self.theta[s],
            self.ds,
            self.steps,
            () if self.thetas is None else tuple(self.thetas[:, s]),
            self.lam,
        )


def _fast_batch(
    model: Model, xs: np.ndarray, ys: np.ndarray, ws: np.ndarray
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    from .fast.network import loss_and_grad_ensemble

    def lg_batch(th: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return loss_and_grad_ensemble(model, th, xs, ys, ws, validate=False)

    return lg_batch


def gradient_descent_ensemble(
    model: Model,
    theta0s: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    ds: float,
    steps: int,
    lam: Lam = None,
    record_every: int = 1,
    keep_thetas: bool = False,
) -> EnsembleHistory:
    """:func:`gradient_descent` of ``S`` networks at once, on shared data, by the fast path.

    ``theta0s``: ``(S, L, M, 2d+1)`` (e.g. :func:`mforacle.sampling.sample_networks`). Each step
    is one :func:`mforacle.fast.network.loss_and_grad_ensemble` call and elementwise updates;
    member ``s`` of the result equals :func:`gradient_descent` of ``theta0s[s]`` bit for bit
    (:meth:`EnsembleHistory.member`). ``loss`` and ``dissipation`` are ``(R, S)``; the seed
    sweeps of claims B3 and C3 need ``final_loss`` (``record_every=steps`` records only the two
    ends). Source: model.md §3.

    Raises:
        InvalidArgument: as :func:`gradient_descent`; a diverging member is named.
    """
    from .fast.network import float_thetas

    model = _check_model(model)
    theta = float_thetas(model, theta0s).copy()
    xs, ys, ws = float_data(model, x, y, weights)
    step, n_steps, every, lam_fn = _check_run(ds, steps, record_every, lam)
    rec_s, rec_loss, rec_diss, rec_theta, lams, final = _descend(
        _fast_batch(model, xs, ys, ws), theta, step, n_steps, every, lam_fn, keep_thetas, ds
    )
    return EnsembleHistory(
        np.array(rec_s),
        np.stack(rec_loss),
        np.stack(rec_diss),
        final,
        step,
        n_steps,
        np.stack(rec_theta) if keep_thetas else None,
        tuple(lams),
    )


def stable_step(
    model: Model,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    iterations: int = 30,
    seed: int = 0,
    loss_and_grad: LossAndGrad | None = None,
) -> float:
    """A step ``Δs*`` below which one GD step (``λ ≡ 0``) decreases the loss; see the module doc.

    ``Δs* = 1/(L·M·K)``, ``K = max(‖H(Θ)‖₂ by power iteration, secant curvature along the
    step)``: half the sufficient ``2/(L·M·K)``, the margin covering Hessian growth up to 2x on
    the segment. ``seed`` fixes the power iteration's start vector. Returns ``inf`` when the
    Hessian vanishes numerically (no curvature: any step decreases a linear function).
    """
    model = _check_model(model)
    th = float_theta(model, theta)
    xs, ys, ws = float_data(model, x, y, weights)
    n_it = _check_count("iterations", iterations, 1)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise InvalidArgument("seed", seed, "expected an integer")
    lg = loss_and_grad or _default_loss_and_grad()
    L, M, _ = th.shape
    LM = float(L * M)

    def grad(t: np.ndarray) -> np.ndarray:
        return np.asarray(lg(model, t, xs, ys, ws)[1], dtype=np.float64)

    g0 = grad(th)
    scale = max(1.0, float(np.max(np.abs(th))))
    eps = 2.0**-17 * scale  # ~ u^(1/3): balances truncation O(eps²) and roundoff O(u/eps)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal(th.shape)
    v /= np.linalg.norm(v)
    k0 = 0.0
    for _ in range(n_it):
        hv = (grad(th + eps * v) - grad(th - eps * v)) / (2 * eps)
        nrm = float(np.linalg.norm(hv))
        if nrm == 0.0:
            break
        k0 = nrm
        v = hv / nrm
    gnorm = float(np.linalg.norm(g0))
    k = k0
    if gnorm > 0 and k > 0:
        G = LM * g0
        trial = 1.0 / (LM * k)
        for tau in (0.5, 1.0):
            dtheta = tau * trial * G
            ksec = float(np.linalg.norm(grad(th - dtheta) - g0)) / float(np.linalg.norm(dtheta))
            k = max(k, ksec)
    if k == 0.0:
        return math.inf
    return 1.0 / (LM * k)


# --------------------------------------------------------------------------- particle flow


def _simpson_weights(T: int) -> np.ndarray:
    """Composite Simpson weights on ``t_i = i/(T-1)``, ``T`` odd (order 4, as the depth solver)."""
    w = np.ones(T)
    w[1:-1:2] = 4.0
    w[2:-1:2] = 2.0
    return w / (3.0 * (T - 1))


def particle_flow(
    model: Model,
    measure_or_particles: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    ds: float,
    steps: int,
    lam: Lam = None,
    record_every: int = 1,
    T: int | None = None,
    n: int | None = None,
) -> FlowHistory:
    """The gradient-flow PDE carried by weighted particles, explicit Euler in ``s``.

    ``measure_or_particles`` is a :class:`mforacle.fast.limit.ParticleMeasure` (nodes
    ``θ_j(t_i)`` on the uniform depth grid ``t_i = i/(T−1)``, weights ``ω_j``), or a
    :class:`mforacle.measures.GaussianPath` together with ``T`` (odd) and ``n`` (Gauss–Hermite
    nodes per noise dimension). Each step moves every node along its characteristic,
    ``θ_j(t_i) ← θ_j(t_i) − Δs (V(θ_j(t_i), t_i) + λ(s) θ_j(t_i))``, weights unchanged, with ``V``
    from :func:`mforacle.fast.limit.velocity_on_particles`. Records ``E(ρ(s))`` and the
    dissipation ``∫_0^1 Σ_j ω_j |V(θ_j(t), t)|² dt`` (composite Simpson in ``t``, order 4 like
    the depth solver). Deterministic.
    """
    from .fast.limit import ParticleMeasure
    from .measures import GaussianPath

    model = _check_model(model)
    if isinstance(measure_or_particles, GaussianPath):
        if T is None or n is None:
            raise InvalidArgument(
                "T, n", (T, n), "a GaussianPath needs the depth grid T and nodes n"
            )
        particles = ParticleMeasure.from_gaussian(model, measure_or_particles, T, n)
    elif isinstance(measure_or_particles, ParticleMeasure):
        if T is not None or n is not None:
            raise InvalidArgument("T, n", (T, n), "T and n apply only to a GaussianPath")
        particles = measure_or_particles
        if particles.nodes.shape[2] != model.k:
            raise InvalidArgument(
                "particles.nodes", particles.nodes.shape, f"model has k = {model.k}"
            )
    else:
        raise InvalidArgument(
            "measure_or_particles",
            measure_or_particles,
            "expected a ParticleMeasure or a GaussianPath",
        )
    xs, ys, ws = float_data(model, x, y, weights)
    step, n_steps, every, lam_fn = _check_run(ds, steps, record_every, lam)
    rec_s, rec_loss, rec_diss, nodes = _flow(
        model, particles.nodes[None].copy(), particles.weights[None], xs, ys, ws, step, n_steps,
        every, lam_fn, ds,
    )
    return FlowHistory(
        np.array(rec_s),
        np.array([float(e[0]) for e in rec_loss]),
        np.array([float(v[0]) for v in rec_diss]),
        ParticleMeasure(nodes[0], particles.weights),
        step,
        n_steps,
        {"T": int(nodes.shape[1]), "J": int(nodes.shape[2])},
    )


def _flow(
    model: Model,
    nodes: np.ndarray,
    om: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    ws: np.ndarray,
    step: float,
    n_steps: int,
    every: int,
    lam_fn: Callable[[float], float] | None,
    ds: Any,
) -> tuple[list[float], list[np.ndarray], list[np.ndarray], np.ndarray]:
    """The explicit Euler loop of the particle flow on an ensemble ``nodes`` (S, T, J, k) with
    weights ``om`` (S, J); per-member operations only (each member independent of ``S``)."""
    from .fast.limit import solve_particle_ensemble, velocity_on_particle_ensemble

    S, T = nodes.shape[:2]
    simpson = _simpson_weights(T)[:, None]
    rec_s: list[float] = []
    rec_loss: list[np.ndarray] = []
    rec_diss: list[np.ndarray] = []
    for k in range(n_steps + 1):
        sol = solve_particle_ensemble(model, nodes, om, xs, ys, ws)
        V = velocity_on_particle_ensemble(model, nodes, sol)
        s_k = k * step
        if k % every == 0 or k == n_steps:
            rec_s.append(s_k)
            rec_loss.append(sol.energy.copy())
            per_depth = np.matmul(np.sum(V * V, axis=-1), om[:, :, None])  # (S, T, 1)
            rec_diss.append(np.matmul(per_depth.transpose(0, 2, 1), simpson)[:, 0, 0])
        if k == n_steps:
            break
        update = V
        if lam_fn is not None:
            update = V + _lam_at(lam_fn, s_k) * nodes
        nodes = nodes - step * update
        finite = np.isfinite(nodes.reshape(S, -1)).all(axis=1)
        if not finite.all():
            bad = int(np.argmin(finite))
            who = f" (member {bad})" if S > 1 else ""
            raise InvalidArgument(
                "ds", ds, f"particle flow diverged (non-finite nodes){who} at step {k + 1}"
            )
    return rec_s, rec_loss, rec_diss, nodes


@dataclass(frozen=True)
class FlowEnsembleHistory:
    """What :func:`particle_flow_ensemble` saw for ``S`` particle measures."""

    s: np.ndarray  # (R,)
    loss: np.ndarray  # (R, S) E(ρ_s(s))
    dissipation: np.ndarray  # (R, S)
    nodes: np.ndarray  # final nodes (S, T, J, k)
    weights: np.ndarray  # (S, J), unchanged
    ds: float
    steps: int

    def member(self, s: int) -> FlowHistory:
        """Member ``s`` as the :class:`FlowHistory` :func:`particle_flow` returns."""
        from .fast.limit import ParticleMeasure

        return FlowHistory(
            self.s.copy(),
            self.loss[:, s].copy(),
            self.dissipation[:, s].copy(),
            ParticleMeasure(self.nodes[s], self.weights[s]),
            self.ds,
            self.steps,
            {"T": int(self.nodes.shape[1]), "J": int(self.nodes.shape[2])},
        )


def particle_flow_ensemble(
    model: Model,
    particles: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    ds: float,
    steps: int,
    lam: Lam = None,
    record_every: int = 1,
) -> FlowEnsembleHistory:
    """:func:`particle_flow` of ``S`` particle measures at once, on shared data.

    ``particles``: a non-empty sequence of :class:`mforacle.fast.limit.ParticleMeasure` with
    the same ``(T, J)`` (e.g. the ``M`` paths of each seed, as claim C3.depth builds them).
    Member ``s`` of the result equals :func:`particle_flow` of ``particles[s]`` bit for bit
    (:meth:`FlowEnsembleHistory.member`); ``loss``, ``dissipation`` are ``(R, S)``. Source:
    model.md §4 (transport along characteristics).

    Raises:
        InvalidArgument: an empty or mixed sequence, members of different shapes, malformed
            data or run parameters, or a diverging member (named).
    """
    from .fast.limit import ParticleMeasure

    model = _check_model(model)
    if isinstance(particles, ParticleMeasure) or not isinstance(particles, list | tuple) or not (
        particles
    ):
        raise InvalidArgument("particles", particles,
                              "expected a non-empty list of ParticleMeasure")
    for i, pm in enumerate(particles):
        if not isinstance(pm, ParticleMeasure):
            raise InvalidArgument(f"particles[{i}]", pm, "expected a ParticleMeasure")
        if pm.nodes.shape != particles[0].nodes.shape or pm.nodes.shape[2] != model.k:
            raise InvalidArgument(f"particles[{i}].nodes", pm.nodes.shape,
                                  f"expected shape {particles[0].nodes.shape} with k = {model.k}")
    xs, ys, ws = float_data(model, x, y, weights)
    step, n_steps, every, lam_fn = _check_run(ds, steps, record_every, lam)
    nodes = np.stack([pm.nodes for pm in particles])
    om = np.stack([pm.weights for pm in particles])
    rec_s, rec_loss, rec_diss, final = _flow(
        model, nodes, om, xs, ys, ws, step, n_steps, every, lam_fn, ds
    )
    return FlowEnsembleHistory(
        np.array(rec_s), np.stack(rec_loss), np.stack(rec_diss), final, om, step, n_steps
    )
