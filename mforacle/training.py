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
    "FlowHistory",
    "LossAndGrad",
    "TrainingHistory",
    "gradient_descent",
    "particle_flow",
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
    """``steps`` explicit steps ``Θ ← Θ − Δs (L·M ∇E(Θ) + λ(s) Θ)`` from ``theta0``.

    Records ``s``, ``E`` and ``L·M|∇E|²`` at steps ``0, record_every, 2·record_every, …`` and
    always at the last step. ``loss_and_grad(model, theta, x, y, weights) -> (E, ∇E)`` defaults
    to :func:`mforacle.fast.network.loss_and_grad`. Deterministic: no randomness is used.
    """
    model = _check_model(model)
    theta = float_theta(model, theta0).copy()
    xs, ys, ws = float_data(model, x, y, weights)
    step, n_steps, every, lam_fn = _check_run(ds, steps, record_every, lam)
    lg = loss_and_grad or _default_loss_and_grad()
    L, M, _ = theta.shape
    LM = float(L * M)

    rec_s: list[float] = []
    rec_loss: list[float] = []
    rec_diss: list[float] = []
    rec_theta: list[np.ndarray] = []
    lams: list[float] = []
    for n in range(n_steps + 1):
        e, g = lg(model, theta, xs, ys, ws)
        g = np.asarray(g, dtype=np.float64)
        s_n = n * step
        if n % every == 0 or n == n_steps:
            rec_s.append(s_n)
            rec_loss.append(float(e))
            rec_diss.append(LM * float(np.sum(g * g)))
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
        if not np.all(np.isfinite(theta)):
            raise InvalidArgument(
                "ds", ds, f"training diverged (non-finite parameters) at step {n + 1}"
            )
    return TrainingHistory(
        np.array(rec_s),
        np.array(rec_loss),
        np.array(rec_diss),
        theta,
        step,
        n_steps,
        tuple(rec_theta),
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
    from .fast.limit import ParticleMeasure, solve_particles, velocity_on_particles
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
    nodes = particles.nodes.copy()
    om = particles.weights
    simpson = _simpson_weights(nodes.shape[0])
    rec_s: list[float] = []
    rec_loss: list[float] = []
    rec_diss: list[float] = []
    for k in range(n_steps + 1):
        current = ParticleMeasure(nodes, om)
        sol = solve_particles(model, current, xs, ys, ws)
        V = velocity_on_particles(model, current, sol)
        s_k = k * step
        if k % every == 0 or k == n_steps:
            rec_s.append(s_k)
            rec_loss.append(float(sol.energy))
            rec_diss.append(float(simpson @ (np.sum(V * V, axis=2) @ om)))
        if k == n_steps:
            break
        update = V
        if lam_fn is not None:
            update = V + _lam_at(lam_fn, s_k) * nodes
        nodes = nodes - step * update
        if not np.all(np.isfinite(nodes)):
            raise InvalidArgument(
                "ds", ds, f"particle flow diverged (non-finite nodes) at step {k + 1}"
            )
    return FlowHistory(
        np.array(rec_s),
        np.array(rec_loss),
        np.array(rec_diss),
        ParticleMeasure(nodes, om),
        step,
        n_steps,
        {"T": int(nodes.shape[0]), "J": int(nodes.shape[1])},
    )
