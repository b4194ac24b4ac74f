"""Generated problems as plain data: a discrete case and a limit (measure) case.

These are the values that the claims (:mod:`mforacle.claims`) and the hypothesis strategies
(``properties/strategies``, installed as :mod:`mforacle.properties.strategies`) pass around. They
hold float64 arrays whose every number is exactly representable, so :meth:`to_json` writes an
``mforacle-case/1`` object (``docs/case-format.md``) that reproduces the case exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .measures import GaussianPath, Probe
from .model import Model

if TYPE_CHECKING:
    from .caseio import Case

__all__ = ["DiscreteCase", "MeasureCase"]


@dataclass(frozen=True)
class DiscreteCase:
    """A discrete problem: ``theta (L, M, k)``, ``x (N, d)``, ``y (N,)``, ``weights (N,)|None``."""

    model: Model
    theta: np.ndarray
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None = None

    def to_case(self) -> Case:
        """The validated :class:`mforacle.caseio.Case` (raises ``InvalidArgument`` if invalid)."""
        from .caseio import Case
        from .model import Data, check_theta

        return Case(
            self.model,
            Data.create(self.model, self.x, self.y, self.weights),
            theta=check_theta(self.model, self.theta),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``mforacle-case/1`` object (exact decimal strings) that reproduces this case."""
        return self.to_case().to_json()

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(L, M, k)`` of ``theta``."""
        L, M, k = self.theta.shape
        return L, M, k


@dataclass(frozen=True)
class MeasureCase:
    """A limit problem: a Gaussian depth-path measure, data and probes ``(t, θ)``."""

    model: Model
    measure: GaussianPath
    x: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    probes: tuple[Probe, ...]

    def to_case(self) -> Case:
        """The validated :class:`mforacle.caseio.Case` (raises ``InvalidArgument`` if invalid)."""
        from .caseio import Case
        from .model import Data

        return Case(
            self.model,
            Data.create(self.model, self.x, self.y, self.weights),
            measure=self.measure,
            probes=self.probes,
        )

    def to_json(self) -> dict[str, Any]:
        """The ``mforacle-case/1`` object (exact decimal strings) that reproduces this case."""
        return self.to_case().to_json()
