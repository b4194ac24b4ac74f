"""Strategies for training claims (C1–C5): cases, stable step fractions, reachable data.

- :func:`training_cases` — a :class:`~mforacle.claims.training.TrainingCase` with a C²
  activation (the C1/C2 arguments use a Lipschitz Hessian), ``L·M >= 2`` (so a missing ``L·M``
  factor is visible) and dyadic numbers.
- :func:`step_fractions` — fractions in ``(0, 1]`` of :func:`mforacle.training.stable_step`.
- :func:`reachable_datasets` — data on which zero loss is reachable (``docs/model.md``
  §6): distinct inputs in ``d >= 2``, or, in ``d = 1``, labels monotone in ``x`` in the direction
  the readout allows (increasing if ``a_1 > 0``, decreasing if ``a_1 < 0``, with ``κ = 0``).
- :func:`nonmonotone_datasets_1d` — ``d = 1`` data whose labels are not monotone in ``x`` in that
  direction, so the monotone floor (claim C5) is positive.
- :func:`small_gaussian_paths` — small Gaussian depth-path measures
  (:func:`mforacle.properties.strategies.limit.gaussian_paths`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from mforacle.errors import InvalidArgument
from mforacle.measures import GaussianPath
from mforacle.model import Model

from .discrete import dyadic, models, networks

__all__ = [
    "nonmonotone_datasets_1d",
    "reachable_datasets",
    "small_gaussian_paths",
    "step_fractions",
    "training_cases",
]


def step_fractions(low: float = 0.05) -> st.SearchStrategy[float]:
    """Fractions ``f`` in ``[low, 1]`` (dyadic): train at ``Δs = f · stable_step``."""
    if not 0 < low <= 1:
        raise InvalidArgument("low", low, "expected 0 < low <= 1")
    return st.integers(int(np.ceil(low * 64)), 64).map(lambda i: i / 64)


@st.composite
def training_cases(
    draw: st.DrawFn,
    d: st.SearchStrategy[int] | int = st.integers(1, 2),
    L: st.SearchStrategy[int] | int = st.integers(1, 3),
    M: st.SearchStrategy[int] | int = st.integers(2, 4),
    N: st.SearchStrategy[int] | int = st.integers(2, 4),
    scale: float = 1.5,
) -> Any:
    """A discrete training case with a C² activation and ``L·M >= 2``."""
    from mforacle.claims.training import TrainingCase

    from .discrete import activations, datasets

    model = draw(models(d, activations(c2_only=True)), label="model")
    theta = draw(networks(model, L, M, scale), label="theta0")
    if theta.shape[0] * theta.shape[1] < 2:
        raise InvalidArgument("L, M", theta.shape[:2], "training cases need L·M >= 2")
    x, y, w = draw(datasets(model, N, min_separation=0.25), label="data")
    return TrainingCase.create(model, theta, x, y, w)


def _distinct_points(draw: st.DrawFn, d: int, n: int, sep: float) -> list[list[float]]:
    pts: list[list[float]] = []
    for i in range(n):
        p = draw(
            st.lists(dyadic(1.5, 4), min_size=d, max_size=d).filter(
                lambda q: all(
                    max(abs(a - b) for a, b in zip(q, o, strict=True)) >= sep for o in pts
                )
            ),
            label=f"x[{i}]",
        )
        pts.append(p)
    return pts


@st.composite
def reachable_datasets(
    draw: st.DrawFn, model: Model, N: st.SearchStrategy[int] | int = st.integers(2, 4)
) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` where zero loss is reachable: distinct inputs (d >= 2) or monotone labels (d = 1).

    In ``d = 1`` the labels are sorted with the inputs, increasing if ``a_1 > 0`` and decreasing
    if ``a_1 < 0``, and strictly so (the limit's output map is strictly monotone)."""
    n = draw(N, label="N") if isinstance(N, st.SearchStrategy) else N
    pts = _distinct_points(draw, model.d, n, 0.25)
    y = draw(st.lists(dyadic(1.0, 4), min_size=n, max_size=n, unique=True), label="y")
    if model.d == 1:
        if model.kappa != 0:
            raise InvalidArgument(
                "model.kappa", model.kappa, "d = 1 reachable data needs kappa = 0"
            )
        order = np.argsort([p[0] for p in pts])
        ys = sorted(y, reverse=model.a[0] < 0)
        y = [0.0] * n
        for rank, i in enumerate(order):
            y[int(i)] = ys[rank]
    return np.array(pts, dtype=np.float64), np.array(y, dtype=np.float64)


@st.composite
def nonmonotone_datasets_1d(
    draw: st.DrawFn, model: Model, N: st.SearchStrategy[int] | int = st.integers(3, 6)
) -> tuple[np.ndarray, np.ndarray]:
    """``d = 1`` data whose labels are *not* monotone in ``x`` in the readout's direction."""
    if model.d != 1 or model.kappa != 0:
        raise InvalidArgument("model", model.to_json(), "needs d = 1 and kappa = 0")
    n = draw(N, label="N") if isinstance(N, st.SearchStrategy) else N
    if n < 2:
        raise InvalidArgument("N", n, "need at least two points for a non-monotone labelling")
    x = sorted(p[0] for p in _distinct_points(draw, 1, n, 0.25))
    increasing = model.a[0] > 0

    def violates(ys: list[float]) -> bool:
        steps = np.diff(ys)
        return bool(np.any(steps < 0)) if increasing else bool(np.any(steps > 0))

    y = draw(st.lists(dyadic(1.0, 3), min_size=n, max_size=n).filter(violates), label="y")
    return np.array(x, dtype=np.float64).reshape(-1, 1), np.array(y, dtype=np.float64)


def small_gaussian_paths(
    model: Model, r: int = 1, degree: int = 1
) -> st.SearchStrategy[GaussianPath]:
    """Small Gaussian depth-path measures ``θ(t) = c(t) + A(t) ξ`` (``r`` noise dims, polynomial
    ``degree`` in ``t``, ``A`` entries in ``[-0.75, 0.75]``): :func:`.limit.gaussian_paths`."""
    from .limit import gaussian_paths

    return gaussian_paths(model, r=r, degree=degree)
