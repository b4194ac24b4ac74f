"""Sample a discrete network ``theta`` (L, M, k) from a Gaussian depth-path measure (seeded).

``theta(t) = c(t) + A(t) xi`` with ``xi ~ N(0, I_r)`` (``docs/model.md`` section 5).
Layer ``l`` (``l = 0, ..., L-1``) uses the depth **``t_l = l/L``**: it is the layer that applies
the Euler step from ``z_l`` to ``z_{l+1}``, the discrete counterpart of ``F_rho(z(t_l), t_l)``.

Two schemes:

- ``"paths"`` (the paper's initialization): one ``xi_m`` per neuron, shared by all layers,
  ``theta_{l,m} = c(l/L) + A(l/L) xi_m``;
- ``"independent"``: a fresh ``xi_{l,m}`` for every layer and neuron.

Randomness comes from ``numpy.random.default_rng(seed)``. For ``"paths"`` the draw is
``rng.standard_normal((M, r))``; for ``"independent"`` it is ``rng.standard_normal((L, M, r))``
(so a seed fixes the network completely, and the schemes use different streams of draws).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidArgument
from .measures import GaussianPath

__all__ = ["SCHEMES", "layer_depths", "sample_network"]

SCHEMES = ("paths", "independent")


def _int(value: Any, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise InvalidArgument(name, value, f"expected an integer >= {least}")
    return int(value)


def layer_depths(L: int) -> np.ndarray:
    """The depths ``t_l = l/L``, ``l = 0..L-1``, at which the layers sample the measure."""
    L = _int(L, "L", 1)
    return np.arange(L) / L


def _path_arrays(measure: GaussianPath, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``c(t)`` (T, k) and ``A(t)`` (T, k, r) at the depths ``ts`` (float64, Horner)."""
    T = len(ts)
    c = np.zeros((T, measure.k))
    A = np.zeros((T, measure.k, measure.r))
    for i, p in enumerate(measure.c):
        for coef in reversed(p):
            c[:, i] = c[:, i] * ts + float(coef)
    for i, row in enumerate(measure.A):
        for j, p in enumerate(row):
            for coef in reversed(p):
                A[:, i, j] = A[:, i, j] * ts + float(coef)
    return c, A


def sample_network(
    measure: GaussianPath, L: int, M: int, *, seed: int, scheme: str = "paths"
) -> np.ndarray:
    """A float64 network ``theta`` of shape ``(L, M, k)`` sampled from ``measure``."""
    if not isinstance(measure, GaussianPath):
        raise InvalidArgument("measure", measure, "expected an mforacle.measures.GaussianPath")
    L = _int(L, "L", 1)
    M = _int(M, "M", 1)
    seed = _int(seed, "seed", 0)
    if scheme not in SCHEMES:
        raise InvalidArgument("scheme", scheme, f"expected one of {list(SCHEMES)}")
    rng = np.random.default_rng(seed)
    c, A = _path_arrays(measure, layer_depths(L))
    if scheme == "paths":
        xi = rng.standard_normal((M, measure.r))
        noise = np.einsum("lkr,mr->lmk", A, xi)
    else:
        xi = rng.standard_normal((L, M, measure.r))
        noise = np.einsum("lkr,lmr->lmk", A, xi)
    return c[:, None, :] + noise
