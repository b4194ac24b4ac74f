"""Generated problems as plain data: a discrete case and a limit (measure) case.

These are the values that the claims (:mod:`mforacle.claims`) and the hypothesis strategies
(``properties/strategies``, installed as :mod:`mforacle.properties.strategies`) pass around. They
hold float64 arrays whose every number is exactly representable, so :meth:`to_json` writes an
``mforacle-case/1`` object (``docs/case-format.md``) that reproduces the case exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

from .measures import GaussianPath, Probe
from .model import Model

if TYPE_CHECKING:
    from .caseio import Case

__all__ = ["DiscreteCase", "Magnitudes", "MeasureCase", "rescaled"]


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


@dataclass(frozen=True)
class Magnitudes:
    """Power-of-two exponents by which :func:`rescaled` scales a discrete case (exactly).

    ``z``: the scale of the states (it sets ``y``'s scale and whether ``kappa`` stays); inputs
    ``x`` are scaled by ``2^x``, the weights ``w`` by ``2^w`` (``w ≈ −z`` keeps the
    pre-activations ~1), ``u`` by ``2^u`` (``u = z``: the drift keeps the states' scale), the
    readout ``a`` by ``2^a``, the targets ``y`` by ``2^(z + a)`` (the readout's scale);
    ``kappa`` is dropped (0) when ``z > 0`` (``κ|z|²`` would overflow). All zero: the case as
    it is. Used by claim A1's extreme-magnitude cases and by the hypothesis strategy
    ``mforacle.properties.strategies.magnitudes``.
    """

    z: int = 0
    x: int = 0
    w: int = 0
    u: int = 0
    a: int = 0

    @property
    def y(self) -> int:
        """The exponent of the targets' scale, ``z + a``."""
        return self.z + self.a

    @property
    def label(self) -> str:
        """A short description, e.g. ``z·2^-990 x·2^-1060 w·2^990 u·2^-990 a·2^990``."""
        return f"z·2^{self.z} x·2^{self.x} w·2^{self.w} u·2^{self.u} a·2^{self.a}"


def rescaled(case: DiscreteCase, mag: Magnitudes) -> DiscreteCase:
    """``case`` with its numbers multiplied by the powers of two of ``mag``.

    Exact while the results stay within float64's range and keep their last bit at or above
    ``2^-1074`` (dyadics of <= 8 fraction bits scaled by ``2^e``, ``e >= -1066``); beyond that
    ``ldexp`` rounds, and a check must then treat the inputs as rounded.
    """
    d = case.model.d
    th = np.array(case.theta, dtype=np.float64)
    th[:, :, :d] = np.ldexp(th[:, :, :d], mag.w)
    th[:, :, d : 2 * d] = np.ldexp(th[:, :, d : 2 * d], mag.u)
    a = [Fraction(v) * Fraction(2) ** mag.a for v in case.model.a]
    kappa = 0 if mag.z > 0 else case.model.kappa
    model = Model.create(d, case.model.activation, a, kappa)
    x = np.ldexp(np.asarray(case.x, dtype=np.float64), mag.x)
    y = np.ldexp(np.asarray(case.y, dtype=np.float64), mag.y)
    return DiscreteCase(model, th, x, y, case.weights)
