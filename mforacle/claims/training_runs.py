"""Running an implementation's trainer for the claims C1–C5, and the roundoff models used there.

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

from mforacle.errors import InvalidArgument
from mforacle.model import Model, float_data
from mforacle.verdict import Verdict

from .impl import missing
from .training_cases import FlowCase, TrainingCase

__all__ = [
    "TRAIN",
    "U",
    "builtin_flow_final",
    "flow_history",
    "flow_roundoff",
    "loss_roundoff",
    "losses_and_dissipation",
    "needs",
    "reference_loss",
    "train_final_loss",
    "train_states",
    "with_seed",
]

U = 2.0**-53
#: The implementation methods every discrete training claim needs.
TRAIN = ("train", "loss_and_grad")


def needs(claim: str, title: str, impl: Any, methods: tuple[str, ...] = TRAIN) -> Verdict | None:
    """A "not checked" verdict if ``impl`` lacks one of ``methods``, else ``None``."""
    gone = missing(impl, methods)
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


def flow_roundoff(e: float, T: int) -> float:
    """Float64 roundoff of a particle-solver energy ``e`` on ``T`` depth points (module doc)."""
    return U * (20 * T + 50) * max(1.0, abs(e))


def train_states(impl: Any, case: TrainingCase, ds: float, steps: int) -> np.ndarray:
    """The ``steps + 1`` states of ``impl.train`` from ``case.theta0``, shape-checked."""
    thetas = np.asarray(
        impl.train(case.model, case.theta0, case.x, case.y, case.weights, ds=ds, steps=steps),
        dtype=np.float64,
    )
    want = (steps + 1, *case.theta0.shape)
    if thetas.shape != want:
        raise InvalidArgument("train", thetas.shape, f"expected states of shape {want}")
    return thetas


def losses_and_dissipation(
    impl: Any, case: TrainingCase, thetas: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``E(Θ_n)`` and ``D_n = L·M |∇E(Θ_n)|²`` from the implementation's ``loss_and_grad``."""
    es, ds_ = [], []
    for th in thetas:
        e, g = impl.loss_and_grad(case.model, th, case.x, case.y, case.weights)
        g = np.asarray(g, dtype=np.float64)
        es.append(float(e))
        ds_.append(case.LM * float(np.sum(g * g)))
    return np.array(es), np.array(ds_)


def train_final_loss(impl: Any, case: FlowCase, theta0: np.ndarray, ds: float, steps: int) -> float:
    """``E(Θ(s))`` after ``steps`` steps of ``impl.train`` from ``theta0`` on ``case``'s data."""
    tc = TrainingCase.create(case.model, theta0, case.x, case.y, case.weights)
    thetas = train_states(impl, tc, ds, steps)
    return float(impl.loss_and_grad(case.model, thetas[-1], case.x, case.y, case.weights)[0])


def flow_history(
    impl: Any, case: FlowCase, particles: Any, ds: float, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, E, D)`` of the particle flow: the implementation's ``flow`` if it has one, else the
    built-in :func:`mforacle.training.particle_flow`."""
    fn = getattr(impl, "flow", None)
    if callable(fn):
        s, e, d = fn(case.model, particles, case.x, case.y, case.weights, ds=ds, steps=steps)
    else:
        from mforacle.training import particle_flow

        h = particle_flow(case.model, particles, case.x, case.y, case.weights, ds=ds, steps=steps)
        s, e, d = h.s, h.loss, h.dissipation
    return np.asarray(s, float), np.asarray(e, float), np.asarray(d, float)


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
