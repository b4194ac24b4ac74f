"""The problems the training claims C1–C5 run on, and the built-in seeded instances.

- :class:`TrainingCase` — a discrete network ``Θ_0`` (L, M, k), data, model (C1, C2);
- :class:`FlowCase` — a Gaussian depth-path measure ``ρ_ini`` with data (C1.flow … C5);
- ``builtin_*`` — the fixed cases the registry runs: small, dyadic, reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mforacle.errors import InvalidArgument
from mforacle.model import Model, float_data, float_theta

__all__ = [
    "BUILTIN_CASES",
    "FlowCase",
    "TrainingCase",
    "builtin_case",
    "builtin_flow_case",
    "builtin_nonmonotone_case",
    "builtin_reachable_case",
]


@dataclass(frozen=True)
class TrainingCase:
    """A discrete training problem: model, initial network ``theta0``, data (float64)."""

    model: Model
    theta0: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None = None

    @classmethod
    def create(cls, model: Model, theta0: Any, x: Any, y: Any, weights: Any = None) -> TrainingCase:
        if not isinstance(model, Model):
            raise InvalidArgument("model", model, "expected a mforacle.model.Model")
        th = float_theta(model, theta0)
        xs, ys, ws = float_data(model, x, y, weights)
        return cls(model, th, xs, ys, None if weights is None else ws)

    @property
    def LM(self) -> int:
        return int(self.theta0.shape[0] * self.theta0.shape[1])

    def to_json(self) -> dict[str, Any]:
        """The ``mforacle-case/1`` object of the initial state (floats are written exactly)."""
        from mforacle.caseio import Case
        from mforacle.model import Data, check_theta

        data = Data.create(self.model, self.x, self.y, self.weights)
        return Case(self.model, data, theta=check_theta(self.model, self.theta0)).to_json()


@dataclass(frozen=True)
class FlowCase:
    """A mean-field training problem: model, Gaussian depth-path ``ρ_ini``, data."""

    model: Model
    measure: Any  # mforacle.measures.GaussianPath
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None = None

    def to_json(self) -> dict[str, Any]:
        from mforacle.caseio import Case
        from mforacle.model import Data

        data = Data.create(self.model, self.x, self.y, self.weights)
        return Case(self.model, data, measure=self.measure).to_json()


#: (seed, d, activation, a, kappa, L, M, N) of the built-in discrete training cases, in order.
BUILTIN_CASES = (
    (101, 1, "tanh", [1.0], 0.0, 3, 4, 4),
    (102, 2, "erf", [1.0, -0.5], 0.25, 4, 8, 5),
    (103, 2, "softplus", [0.5, 1.0], 0.0, 2, 6, 6),
    (104, 1, "sin", [-1.0], -0.5, 3, 3, 3),
    (105, 2, "sigmoid", [1.0, 1.0], 0.0, 5, 4, 4),
    (106, 3, "tanh", [0.25, -1.0, 0.5], 0.0, 2, 8, 6),
    (107, 1, "erf", [0.5], 0.25, 8, 4, 5),
    (108, 2, "tanh", [-1.0, 0.25], 0.0, 6, 6, 3),
)


def builtin_case(i: int) -> tuple[TrainingCase, int]:
    """The ``i``-th built-in case (weights N(0, 1) rounded to 1/64, inputs in [-1.5, 1.5]) and
    its seed."""
    seed, d, act, a, kappa, L, M, N = BUILTIN_CASES[i % len(BUILTIN_CASES)]
    rng = np.random.default_rng(seed)
    model = Model.create(d, act, a, kappa)
    theta = np.round(rng.normal(size=(L, M, 2 * d + 1)) * 64) / 64
    x = np.round(rng.uniform(-1.5, 1.5, size=(N, d)) * 64) / 64
    y = np.round(rng.uniform(-1.0, 1.0, size=N) * 64) / 64
    return TrainingCase.create(model, theta, x, y), seed


def builtin_flow_case(i: int) -> FlowCase:
    """Small built-in limit cases (r = 1, linear-in-t paths; dyadic numbers)."""
    from mforacle.measures import GaussianPath

    cases = [
        (
            Model.create(1, "tanh", [1]),
            [[0.5, 0.25], [0, 0.5], [0.125]],
            [[[0.5]], [[0.75, -0.25]], [[0.25]]],
            [[-1.0], [0.0], [0.5], [1.0]],
            [-0.5, 0.25, 0.0, 0.75],
        ),
        (
            Model.create(2, "erf", [1, -0.5], 0.25),
            [[0.5], [-0.25, 0.5], [0.25], [0.5], [0.0]],
            [[[0.5]], [[0.25]], [[0.5, 0.25]], [[-0.5]], [[0.25]]],
            [[-1.0, 0.5], [0.5, 0.5], [0.25, -1.0]],
            [0.5, -0.25, 0.25],
        ),
    ]
    model, c, A, x, y = cases[i % len(cases)]
    return FlowCase(
        model, GaussianPath.create(model, 1, c, A), np.array(x, float), np.array(y, float)
    )


def builtin_reachable_case() -> FlowCase:
    """d = 2, four distinct inputs: zero loss reachable (docs/model.md §6)."""
    from mforacle.measures import GaussianPath

    model = Model.create(2, "tanh", [1, 0.5])
    c = [[0.0], [0.0], [0.0], [0.0], [0.0]]
    A = [[[1.0]], [[0.5]], [[1.0]], [[-0.5]], [[0.5]]]
    measure = GaussianPath.create(model, 1, c, A)
    x = np.array([[-1.0, 0.5], [0.5, 1.0], [1.0, -0.5], [0.0, -1.0]])
    y = np.array([0.5, -0.5, 0.75, -0.25])
    return FlowCase(model, measure, x, y)


def builtin_nonmonotone_case(i: int) -> FlowCase:
    """d = 1, κ = 0, labels not monotone in x; ``a_1 = +1`` for even ``i``, ``−1`` for odd."""
    from mforacle.measures import GaussianPath

    sign = 1.0 if i % 2 == 0 else -1.0
    model = Model.create(1, "tanh", [sign])
    measure = GaussianPath.create(model, 1, [[0.25], [0.0], [0.0]], [[[0.75]], [[1.0]], [[0.5]]])
    x = np.array([[-1.0], [-0.25], [0.5], [1.0]])
    y = np.array([-0.5, 0.5, 0.0, 0.75]) * sign
    return FlowCase(model, measure, x, y)
