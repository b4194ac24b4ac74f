"""mforacle's own fast path as an implementation of the protocol (``mforacle.builtin:FAST``).

``mforacle report`` checks it through exactly the same harness as anyone else's code, and
``mforacle claims`` through the same claims adapter (:class:`mforacle.claims.subject.
ClaimSubject`): this module only maps the documented protocol (:mod:`mforacle.protocol`) onto
:mod:`mforacle.fast`. Tests build deliberately broken implementations by subclassing
:class:`FastPathImplementation` and overriding one member.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["FAST", "FastPathImplementation"]


class FastPathImplementation:
    """NumPy float64; every activation, kappa != 0, gradients by the adjoint, GD steps, and the
    limit by RK4 with its step-doubling error bound (:func:`mforacle.fast.limit.solve`)."""

    name = "mforacle.fast"
    framework = "numpy"
    dtype = "float64"
    supports_kappa = True

    def forward(self, spec: Any, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        from mforacle.fast.network import forward

        return forward(spec.model, theta, x)[-1]

    def loss(
        self, spec: Any, theta: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray
    ) -> float:
        from mforacle.fast.network import loss

        return loss(spec.model, theta, x, y, weights)

    def gradient(
        self, spec: Any, theta: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        from mforacle.fast.network import evaluate

        r = evaluate(spec.model, theta, x, y, weights)
        return r.grad_theta, r.grad_x

    def train_step(
        self,
        spec: Any,
        theta: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        lr: float,
    ) -> np.ndarray:
        from mforacle.fast.network import loss_and_grad

        _, g = loss_and_grad(spec.model, theta, x, y, weights)
        return theta - lr * g

    def loss_batch(
        self, spec: Any, thetas: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray
    ) -> np.ndarray:
        """``E`` of each of ``S`` networks, ``(S,)``: :func:`mforacle.fast.network.loss_ensemble`
        (member ``s`` equals :meth:`loss` of ``thetas[s]`` bit for bit)."""
        from mforacle.fast.network import loss_ensemble

        return loss_ensemble(spec.model, thetas, x, y, weights)

    def train_step_batch(
        self,
        spec: Any,
        thetas: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        lr: float,
    ) -> np.ndarray:
        """One GD step of each of ``S`` networks, ``(S, L, M, k)`` (member ``s`` equals
        :meth:`train_step` of ``thetas[s]`` bit for bit)."""
        from mforacle.fast.network import loss_and_grad_ensemble

        _, g = loss_and_grad_ensemble(spec.model, thetas, x, y, weights)
        return thetas - lr * g

    def limit(
        self,
        spec: Any,
        measure: Any,
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray,
        probes: list[tuple[float, np.ndarray]],
    ) -> dict[str, Any]:
        from mforacle.fast.limit import solve

        r = solve(spec.model, measure, x, y, weights, probes, steps=64)
        keys = ("energy", "Z1", "first_variation", "velocity")
        return {
            "energy": r.energy,
            "Z1": r.Z1,
            "first_variation": r.first_variation,
            "velocity": r.velocity,
            "error_bound": {k: r.error_bound[k] for k in keys},
        }


FAST = FastPathImplementation()
