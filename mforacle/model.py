"""The model's specification: dimension, activation, readout, data, parameters.

These are validated *descriptions*, exact and arithmetic-free: numbers are kept as
:class:`fractions.Fraction`. Each path (``mforacle.exact`` in mpmath, ``mforacle.fast`` in
NumPy) turns them into its own arithmetic; no numerical code lives here.

Conventions (``docs/model.md`` section 1): a neuron is ``theta = (w, u, b)`` with
``w, u`` in ``R^d`` and ``b`` real, stored as ``theta[..., 0:d] = w``, ``theta[..., d:2d] = u``,
``theta[..., 2d] = b``; a network is an array of shape ``(L, M, 2d+1)``. The readout is
``g(z) = a·z + (kappa/2)|z|^2``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .dtypes import unit_roundoff
from .errors import InvalidArgument
from .numbers import exact_array, exact_scalar, exact_text, float_array, format_exact

__all__ = [
    "ACTIVATION_NAMES",
    "Activation",
    "Data",
    "Model",
    "check_theta",
    "describe_entry",
    "float_data",
    "float_theta",
    "normalized_weights",
    "weight_sum_tolerance",
]

ACTIVATION_NAMES = ("tanh", "erf", "sigmoid", "softplus", "sin", "regrelu")

#: Weights must sum to one within ``N * WEIGHT_SUM_ULPS * u`` (:func:`weight_sum_tolerance`,
#: ``u = 2**-53`` for a case): the float64 roundoff of summing ``N`` weights that were each
#: rounded once. Both paths then use the weights as given.
WEIGHT_SUM_ULPS = 4


def weight_sum_tolerance(n: int, dtype: str = "float64") -> Fraction:
    """How far from one the sum of ``n`` weights, each rounded once to ``dtype``, may be:
    ``n · WEIGHT_SUM_ULPS · u(dtype)`` (exact).

    Raises:
        InvalidArgument: ``dtype`` is not an arithmetic of :mod:`mforacle.dtypes`.
    """
    return n * WEIGHT_SUM_ULPS * Fraction(unit_roundoff(dtype))


@dataclass(frozen=True)
class Activation:
    """An activation ``sigma`` by name; ``regrelu`` carries its half-width ``eta > 0``.

    ``regrelu:ETA`` is the regularized ReLU of the companion paper: ``(x+eta)^2/(4 eta)`` on
    ``[-eta, eta]``, ``x`` above, ``0`` below. It is C^1 only (``sigma''`` jumps at ``±eta``).
    """

    name: str
    eta: Fraction | None = None

    def __post_init__(self) -> None:
        if self.name not in ACTIVATION_NAMES:
            raise InvalidArgument(
                "model.activation",
                self.name,
                f"unknown activation; expected one of {list(ACTIVATION_NAMES)}",
            )
        if self.name == "regrelu":
            if self.eta is None or self.eta <= 0:
                shown = self.name if self.eta is None else f"regrelu:{self.eta}"
                raise InvalidArgument(
                    "model.activation", shown, "regrelu needs a positive ETA, as 'regrelu:0.1'"
                )
        elif self.eta is not None:
            raise InvalidArgument("model.activation", str(self), f"{self.name} takes no parameter")

    @classmethod
    def parse(cls, spec: Any) -> Activation:
        """Parse ``"tanh"``, ``"regrelu:0.1"``, or pass an :class:`Activation` through."""
        if isinstance(spec, Activation):
            return spec
        if not isinstance(spec, str):
            raise InvalidArgument("model.activation", spec, "expected a string such as 'tanh'")
        name, sep, param = spec.strip().partition(":")
        if name == "regrelu":
            if not sep:
                raise InvalidArgument(
                    "model.activation", spec, "regrelu needs ETA, as 'regrelu:0.1'"
                )
            return cls("regrelu", exact_scalar(param, "model.activation"))
        if sep:
            raise InvalidArgument("model.activation", spec, f"{name!r} takes no parameter")
        return cls(name)

    @property
    def is_c2(self) -> bool:
        """Whether ``sigma`` is twice continuously differentiable (``regrelu`` is not)."""
        return self.name != "regrelu"

    def __str__(self) -> str:
        if self.name == "regrelu":
            assert self.eta is not None
            return f"regrelu:{exact_text(self.eta)}"
        return self.name


@dataclass(frozen=True)
class Model:
    """State dimension ``d``, activation, and readout ``g(z) = a·z + (kappa/2)|z|^2``."""

    d: int
    activation: Activation
    a: tuple[Fraction, ...]
    kappa: Fraction = Fraction(0)

    @classmethod
    def create(cls, d: Any, activation: Any = "tanh", a: Any = None, kappa: Any = 0) -> Model:
        """Validated constructor. ``a`` defaults to ``(1, 0, ..., 0)``."""
        if isinstance(d, bool) or not isinstance(d, int | np.integer) or int(d) < 1:
            raise InvalidArgument("model.d", d, "expected a positive integer")
        d = int(d)
        act = Activation.parse(activation)
        if a is None:
            a_vec: tuple[Fraction, ...] = (Fraction(1),) + (Fraction(0),) * (d - 1)
        else:
            a_vec = tuple(exact_array(a, "model.readout.a", (d,)).tolist())
        return cls(d, act, a_vec, exact_scalar(kappa, "model.readout.kappa"))

    @property
    def k(self) -> int:
        """Parameters per neuron, ``2d + 1``."""
        return 2 * self.d + 1

    def to_json(self) -> dict[str, Any]:
        return {
            "d": self.d,
            "activation": str(self.activation),
            "readout": {
                "a": [exact_text(v) for v in self.a],
                "kappa": exact_text(self.kappa),
            },
        }


@dataclass(frozen=True)
class Data:
    """Labelled data ``(x_n, y_n)`` with weights ``omega_n`` (exact Fractions, validated)."""

    x: np.ndarray  # (N, d) object array of Fraction
    y: np.ndarray  # (N,)
    weights: np.ndarray  # (N,)

    @classmethod
    def create(cls, model: Model, x: Any, y: Any, weights: Any = None) -> Data:
        xs = exact_array(x, "x", (None, model.d))
        n = xs.shape[0]
        if n == 0:
            raise InvalidArgument("x", x, "need at least one data point")
        ys = exact_array(y, "y", (n,))
        if weights is None:
            ws = np.array([Fraction(1, n)] * n, dtype=object)
        else:
            ws = exact_array(weights, "weights", (n,))
            _check_weights(ws.tolist(), n)
        return cls(xs, ys, ws)

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def normalized_weights(weights: Any, n: int, dtype: str = "float64") -> tuple[np.ndarray, Fraction]:
    """``(ω / s, s)`` with ``s = Σ ω`` (exact Fractions): weights that an implementation received
    rounded to ``dtype`` (``(n,)``, non-negative, summing to one within
    :func:`weight_sum_tolerance` for ``dtype``) as weights summing to exactly one and the scale
    ``s``. Every weighted quantity is linear in ``ω`` (``E = Σ ω_n ℓ_n``, its gradient, the limit's
    energy, first variation and velocity), so its value for ``ω`` is ``s`` times its value for
    ``ω / s``; ``z_L`` and the unweighted ``grad_x`` do not depend on ``ω``.

    ``weights=None`` means uniform weights ``1/n`` (then ``s = 1``).

    Raises:
        InvalidArgument: a weight is negative, or the sum is off by more than the tolerance.
    """
    if weights is None:
        return np.array([Fraction(1, n)] * n, dtype=object), Fraction(1)
    ws = exact_array(weights, "weights", (n,))
    for i, w in enumerate(ws):
        if w < 0:
            raise InvalidArgument(f"weights[{i}]", w, "weights must be non-negative")
    total = sum(ws.tolist(), Fraction(0))
    tol = weight_sum_tolerance(n, dtype)
    if abs(total - 1) > tol:
        raise InvalidArgument(
            "weights",
            float(total),
            f"weights rounded to {dtype} must sum to 1 (within {float(tol):.1e})",
        )
    return np.array([w / total for w in ws], dtype=object), total


def _check_weights(ws: list[Any], n: int) -> None:
    for i, w in enumerate(ws):
        if w < 0:
            shown = format_exact(w, 6)
            raise InvalidArgument(f"weights[{i}]", shown, "weights must be non-negative")
    total = sum(ws)
    tol = weight_sum_tolerance(n)
    if abs(total - 1) > tol:
        raise InvalidArgument(  # the sum as text: it may lie beyond float64's range
            "weights", format_exact(total, 17), f"weights must sum to 1 (within {float(tol):.1e})"
        )


def describe_entry(quantity: str, index: Any, d: int) -> str:
    """An array entry in the model's terms (0-based): ``theta`` / ``grad_theta`` / ``train_step``
    ``[l, m, j]`` -> ``layer l, neuron m, w[j]`` (``u[j − d]``, ``b`` for ``j = 2d``); ``z_L`` /
    ``grad_x`` ``[n, i]`` -> ``data point n, coordinate i``; anything else: the index as given."""
    idx = [int(i) for i in index]
    if quantity in ("theta", "grad_theta", "train_step") and len(idx) == 3:
        layer, neuron, j = idx
        part = f"w[{j}]" if j < d else (f"u[{j - d}]" if j < 2 * d else "b")
        return f"layer {layer}, neuron {neuron}, {part}"
    if quantity in ("z_L", "grad_x", "x") and len(idx) == 2:
        return f"data point {idx[0]}, coordinate {idx[1]}"
    return str(idx)


def check_theta(model: Model, theta: Any) -> np.ndarray:
    """Validate parameters of shape ``(L, M, 2d+1)`` into an object array of Fractions."""
    th = exact_array(theta, "theta", (None, None, model.k))
    if th.shape[0] == 0 or th.shape[1] == 0:
        raise InvalidArgument("theta", f"array of shape {th.shape}", "need L >= 1 and M >= 1")
    return th


def float_theta(model: Model, theta: Any) -> np.ndarray:
    """Validate parameters as a finite float64 array of shape ``(L, M, 2d+1)``."""
    th = float_array(theta, "theta", (None, None, model.k))
    if th.shape[0] == 0 or th.shape[1] == 0:
        raise InvalidArgument("theta", f"array of shape {th.shape}", "need L >= 1 and M >= 1")
    return th


def float_data(
    model: Model, x: Any, y: Any, weights: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate data as float64 arrays ``x (N, d)``, ``y (N,)``, ``weights (N,)``."""
    xs = float_array(x, "x", (None, model.d))
    n = xs.shape[0]
    if n == 0:
        raise InvalidArgument("x", x, "need at least one data point")
    ys = float_array(y, "y", (n,))
    if weights is None:
        ws = np.full(n, 1.0 / n)
    else:
        ws = float_array(weights, "weights", (n,))
        if (ws < 0).any():
            i = int(np.argmax(ws < 0))
            raise InvalidArgument(f"weights[{i}]", ws[i], "weights must be non-negative")
        tol = float(weight_sum_tolerance(n))
        if abs(float(np.sum(ws)) - 1.0) > tol:
            raise InvalidArgument(
                "weights", float(np.sum(ws)), f"weights must sum to 1 (within {tol:.1e})"
            )
    return xs, ys, ws
