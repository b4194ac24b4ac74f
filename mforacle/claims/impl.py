"""What a claim needs from an implementation: a minimal, documented protocol, and the built-in one.

An *implementation* is any object with a ``name`` and some of the methods below (all float64
NumPy in and out; ``model`` is a :class:`mforacle.model.Model`, ``theta`` has shape
``(L, M, 2d+1)`` with rows ``(w, u, b)``, ``x (N, d)``, ``y (N,)``, ``weights (N,)`` or None):

``loss_and_grad(model, theta, x, y, weights) -> (E, ∂E/∂theta)``
    the loss ``E = Σ ω_n ½ (g(z_L(x_n)) − y_n)²`` and its gradient, shape ``(L, M, k)``.
``forward(model, theta, x) -> z_L``
    the network's final states, shape ``(N, d)``.
``grad_x(model, theta, x, y, weights) -> ∂ℓ_n/∂x_n``  (optional; claim A3)
    each point's own, *unweighted* input gradient (the adjoint ``q_0``), shape ``(N, d)``.
``dtype``  (optional attribute, default ``"float64"``)
    the arithmetic the implementation computes in; the A-claims' float error models use its
    unit roundoff (:data:`mforacle.tolerance.DTYPES`).
``train(model, theta0, x, y, weights, *, ds, steps) -> thetas``
    ``steps`` explicit steps of the paper's flow ``dΘ/ds = −L·M ∇E`` (λ ≡ 0) of size ``ds``,
    returning every state ``Θ_0 … Θ_steps``, shape ``(steps+1, L, M, k)``.
``flow(model, particles, x, y, weights, *, ds, steps) -> (s, E, D)``  (optional, limit side)
    the mean-field gradient-flow PDE carried by a weighted particle measure; returns arrays of
    the times, ``E(ρ(s))`` and ``∫∫|V|² dρ dt``.

A claim lists the methods it needs (``ClaimSpec.needs``); an implementation lacking one gets a
"not checked" verdict for that claim, never a failure. :func:`missing` says which are absent.
The third-party harness (``mforacle/harness/``) adapts other libraries to this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["METHODS", "FastPath", "FromTrainStep", "Implementation", "fast_path", "missing"]

METHODS = ("loss_and_grad", "forward", "train", "flow", "grad_x")


@runtime_checkable
class Implementation(Protocol):
    """The full protocol; an implementation may provide only the methods its claims need."""

    name: str

    def loss_and_grad(
        self,
        model: Any,
        theta: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None,
    ) -> tuple[float, np.ndarray]: ...

    def forward(self, model: Any, theta: np.ndarray, x: np.ndarray) -> np.ndarray: ...

    def train(
        self,
        model: Any,
        theta0: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None,
        *,
        ds: float,
        steps: int,
    ) -> np.ndarray: ...


def missing(impl: Any, needs: tuple[str, ...]) -> list[str]:
    """The methods of ``needs`` that ``impl`` does not provide (callable attributes)."""
    return [m for m in needs if not callable(getattr(impl, m, None))]


@dataclass(frozen=True)
class FastPath:
    """The built-in NumPy float64 path (``mforacle.fast`` + ``mforacle.training``)."""

    name: str = "mforacle.fast"

    def loss_and_grad(
        self,
        model: Any,
        theta: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> tuple[float, np.ndarray]:
        from mforacle.fast.network import loss_and_grad

        return loss_and_grad(model, theta, x, y, weights)

    def forward(self, model: Any, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        from mforacle.fast.network import forward

        return forward(model, theta, x)[-1]

    def grad_x(
        self,
        model: Any,
        theta: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> np.ndarray:
        from mforacle.fast.network import evaluate

        return evaluate(model, theta, x, y, weights).grad_x

    def train(
        self,
        model: Any,
        theta0: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        ds: float,
        steps: int,
    ) -> np.ndarray:
        from mforacle.training import gradient_descent

        hist = gradient_descent(model, theta0, x, y, weights, ds=ds, steps=steps, keep_thetas=True)
        return np.stack(hist.thetas)

    def flow(
        self,
        model: Any,
        particles: Any,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        ds: float,
        steps: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from mforacle.training import particle_flow

        hist = particle_flow(model, particles, x, y, weights, ds=ds, steps=steps)
        return hist.s, hist.loss, hist.dissipation


@dataclass(frozen=True)
class FromTrainStep:
    """Adapt an implementation that offers one GD step ``train_step(model, theta, x, y, w, lr)``
    (learning rate ``lr``) to :meth:`Implementation.train`: ``lr = ds·L·M``, the paper's time."""

    name: str
    loss_and_grad: Any
    train_step: Any
    forward: Any = None

    def train(
        self,
        model: Any,
        theta0: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        ds: float,
        steps: int,
    ) -> np.ndarray:
        theta = np.asarray(theta0, dtype=np.float64)
        L, M = theta.shape[0], theta.shape[1]
        out = [theta]
        for _ in range(steps):
            theta = np.asarray(
                self.train_step(model, theta, x, y, weights, ds * L * M), dtype=np.float64
            )
            out.append(theta)
        return np.stack(out)


def fast_path() -> FastPath:
    """The built-in implementation the ``mforacle claims`` command checks."""
    return FastPath()
