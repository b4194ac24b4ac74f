"""Running an implementation's trainer for the claims C1–C5, and the roundoff models used there.

The implementation is a :class:`mforacle.claims.subject.ClaimSubject` (its ``train`` makes
``train_step`` calls with ``lr = Δs·L·M``); the particle flow of the limit PDE is mforacle's own
(:func:`mforacle.training.particle_flow`, or a stand-in a test passes as ``flow``), since the
implementation protocol has no flow.

Roundoff allowance of a computed loss (:func:`loss_roundoff`, used by C1 and C2): with
``r_n = g(z_L,n) − y_n``, ``δE ≤ Σ ω_n |r_n| δr_n`` (first order) and
``δr_n ≤ γ (Σ_i |a_i z_i| + |κ| |z|²/2 + |y_n|)`` with ``γ = 2 (L + d + N + 4) u``: one
rounding per layer update, per readout coordinate and per data-point sum along the dependency
chain, doubled for the state's condition number (each mean-field layer is the identity plus
``O(1/L)``, so the flow map's condition is ``O(1)``). A loss *difference* may then be off by the
sum of both allowances.

Roundoff of a particle-solver energy (:func:`flow_roundoff`): the limit module's model
``u (20 S + 50) max(1, |E|)`` for ``S = T`` depth stages (``mforacle.fast.limit``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mforacle.dtypes import UNIT_ROUNDOFF
from mforacle.model import Model, float_data
from mforacle.verdict import Verdict

from .subject import ClaimSubject
from .training_cases import FlowCase, TrainingCase

__all__ = [
    "TRAIN",
    "U",
    "builtin_flow_final",
    "flow_history",
    "flow_name",
    "flow_roundoff",
    "loss_roundoff",
    "loss_roundoffs",
    "losses_and_dissipation",
    "needs",
    "reference_loss",
    "train_final_loss",
    "train_losses",
    "train_states",
    "with_seed",
]

U = UNIT_ROUNDOFF["float64"]
#: The protocol members every discrete training claim needs.
TRAIN = ("loss", "gradient", "train_step")


def needs(
    claim: str, title: str, subject: ClaimSubject, methods: tuple[str, ...] = TRAIN
) -> Verdict | None:
    """A "not checked" verdict if ``subject`` lacks one of ``methods``, else ``None``."""
    gone = subject.lacks(methods)
    if gone:
        return Verdict.not_checked(claim, title, f"implementation lacks {', '.join(gone)}")
    return None


def with_seed(v: Verdict, seed: int) -> Verdict:
    """``v`` with ``seed`` recorded in its evidence (unless it already lists seeds)."""
    v.evidence.setdefault("seeds", [seed])
    return v


def loss_roundoff(
    model: Model, theta: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None
) -> float:
    """The float64 roundoff allowance of ``E(theta)`` (module doc), computed with the fast path."""
    from mforacle.fast.network import forward

    xs, ys, ws = float_data(model, x, y, weights)
    z = forward(model, theta, xs)[-1]
    a = np.array([float(v) for v in model.a])
    kappa = float(model.kappa)
    g = z @ a + 0.5 * kappa * np.sum(z * z, axis=1)
    scale = np.abs(z) @ np.abs(a) + 0.5 * abs(kappa) * np.sum(z * z, axis=1) + np.abs(ys)
    L = theta.shape[0]
    gamma = 2.0 * (L + model.d + xs.shape[0] + 4) * U
    return float(np.sum(ws * np.abs(g - ys) * gamma * scale))


def loss_roundoffs(
    model: Model, thetas: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None
) -> np.ndarray:
    """:func:`loss_roundoff` of each of ``S`` networks ``thetas (S, L, M, k)``, ``(S,)``
    (the fast path's ensemble forward pass; the same allowance, vectorized over members)."""
    from mforacle.fast.network import forward_ensemble

    xs, ys, ws = float_data(model, x, y, weights)
    z = forward_ensemble(model, thetas, xs)[:, -1]  # (S, N, d)
    a = np.array([float(v) for v in model.a])
    kappa = float(model.kappa)
    zz = np.sum(z * z, axis=2)
    g = np.sum(z * a, axis=2) + 0.5 * kappa * zz
    scale = np.sum(np.abs(z) * np.abs(a), axis=2) + 0.5 * abs(kappa) * zz + np.abs(ys)
    gamma = 2.0 * (thetas.shape[1] + model.d + xs.shape[0] + 4) * U
    return np.sum(ws * np.abs(g - ys) * gamma * scale, axis=1)


def flow_roundoff(e: float, T: int) -> float:
    """Float64 roundoff of a particle-solver energy ``e`` on ``T`` depth points (module doc)."""
    return U * (20 * T + 50) * max(1.0, abs(e))


def train_states(subject: ClaimSubject, case: TrainingCase, ds: float, steps: int) -> np.ndarray:
    """The ``steps + 1`` states ``Θ_0 … Θ_steps`` of the subject's GD from ``case.theta0``,
    ``(steps + 1, L, M, k)``."""
    return subject.train(case.model, case.theta0, case.x, case.y, case.weights, ds=ds, steps=steps)


def losses_and_dissipation(
    subject: ClaimSubject, case: TrainingCase, thetas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``E(Θ_n)`` and ``D_n = L·M |∇E(Θ_n)|²`` from the subject's ``loss`` and ``gradient``."""
    es, ds_ = [], []
    for th in thetas:
        e, g = subject.loss_and_grad(case.model, th, case.x, case.y, case.weights)
        es.append(e)
        ds_.append(case.LM * float(np.sum(g * g)))
    return np.array(es), np.array(ds_)


def train_final_loss(
    subject: ClaimSubject, case: FlowCase, theta0: np.ndarray, ds: float, steps: int
) -> float:
    """``E(Θ(s))`` after ``steps`` GD steps of the subject from ``theta0`` on ``case``'s data."""
    tc = TrainingCase.create(case.model, theta0, case.x, case.y, case.weights)
    thetas = train_states(subject, tc, ds, steps)
    return subject.loss(case.model, thetas[-1], case.x, case.y, case.weights)


def train_losses(
    subject: ClaimSubject, case: FlowCase, theta0: np.ndarray, ds: float, steps: int
) -> tuple[float, float, float]:
    """``(E(Θ(0)), E(Θ(s)), allowance)`` for ``steps`` GD steps of the subject from ``theta0``;
    ``allowance`` is the float64 roundoff of the two losses (:func:`loss_roundoff`): a change of
    the loss below it is no evidence that the subject trained at all."""
    tc = TrainingCase.create(case.model, theta0, case.x, case.y, case.weights)
    thetas = train_states(subject, tc, ds, steps)
    m, x, y, w = case.model, case.x, case.y, case.weights
    e0, e1 = subject.loss(m, thetas[0], x, y, w), subject.loss(m, thetas[-1], x, y, w)
    if not np.all(np.isfinite(thetas[-1])):
        return e0, e1, 0.0
    return e0, e1, loss_roundoff(m, thetas[0], x, y, w) + loss_roundoff(m, thetas[-1], x, y, w)


#: ``flow(model, particles, x, y, weights, *, ds, steps) -> FlowHistory``-like (``.s``, ``.loss``,
#: ``.dissipation``): the particle flow under test (default :func:`mforacle.training.
#: particle_flow`; tests pass broken ones)
Flow = Any


def flow_name(flow: Flow = None) -> str:
    """Who computes the particle flow: ``mforacle.training.particle_flow`` or the given one."""
    from mforacle.verdict import code_name

    if flow is None:
        from mforacle.training import particle_flow as flow
    return code_name(flow)


def flow_history(
    case: FlowCase, particles: Any, ds: float, steps: int, flow: Flow = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, E, D)`` of the particle flow of the limit PDE: mforacle's own
    :func:`mforacle.training.particle_flow` unless ``flow`` is given."""
    if flow is None:
        from mforacle.training import particle_flow as flow
    h = flow(case.model, particles, case.x, case.y, case.weights, ds=ds, steps=steps)
    return np.asarray(h.s, float), np.asarray(h.loss, float), np.asarray(h.dissipation, float)


def builtin_flow_final(case: FlowCase, particles: Any, ds: float, steps: int) -> float:
    """``E(ρ(s))`` at ``s = steps·ds`` by the built-in particle flow (never the implementation:
    this is a reference)."""
    from mforacle.training import particle_flow

    h = particle_flow(
        case.model,
        particles,
        case.x,
        case.y,
        case.weights,
        ds=ds,
        steps=steps,
        record_every=max(steps, 1),
    )
    return float(h.loss[-1])


def reference_loss(
    case: FlowCase, fine: Any, coarse: Any, ds: float, steps: int
) -> tuple[float, float]:
    """The reference ``E(ρ(s))`` on the ``fine`` particle measure and its error estimate
    ``|E_fine − E_coarse|`` (the coarse measure has about half the depth points/nodes; for a
    convergent discretization this overestimates the fine one's error)."""
    e_fine = builtin_flow_final(case, fine, ds, steps)
    return e_fine, abs(e_fine - builtin_flow_final(case, coarse, ds, steps))
