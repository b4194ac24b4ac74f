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

**Ensembles.** :func:`sample_networks` draws one network per seed and returns them stacked,
``(S, L, M, k)``: the input of :func:`mforacle.fast.network.loss_and_grad_ensemble` and
:func:`mforacle.training.gradient_descent_ensemble`. Member ``s`` is bit for bit
:func:`sample_network` of ``seeds[s]`` (which is the ``S = 1`` case): the noise
``Σ_j A_{kj}(t_l) ξ_j`` is accumulated elementwise in the order ``j = 0, 1, …``, never through a
reduction whose order could depend on ``S``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidArgument
from .measures import GaussianPath

__all__ = ["SCHEMES", "layer_depths", "sample_network", "sample_networks"]

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
    """A float64 network ``theta`` of shape ``(L, M, k)`` sampled from ``measure``.

    ``seed``: an integer ``>= 0`` for ``numpy.random.default_rng``; ``scheme``: ``"paths"`` or
    ``"independent"`` (module docstring; model.md §5). The ``S = 1`` case of
    :func:`sample_networks`.

    Raises:
        InvalidArgument: ``measure`` not a GaussianPath, ``L`` or ``M`` not an integer ``>= 1``,
            ``seed`` not an integer ``>= 0``, or an unknown ``scheme``.
    """
    return sample_networks(measure, L, M, seeds=[_int(seed, "seed", 0)], scheme=scheme)[0]


def sample_networks(
    measure: GaussianPath, L: int, M: int, *, seeds: Any, scheme: str = "paths"
) -> np.ndarray:
    """``S`` networks, one per seed, stacked: float64 of shape ``(S, L, M, k)``.

    Member ``s`` equals :func:`sample_network` ``(measure, L, M, seed=seeds[s], scheme=scheme)``
    bit for bit (model.md §5; see the module docstring).

    Raises:
        InvalidArgument: as :func:`sample_network`; ``seeds`` must be a non-empty sequence of
            integers ``>= 0`` (the offending one is named ``seeds[i]``).
    """
    if not isinstance(measure, GaussianPath):
        raise InvalidArgument("measure", measure, "expected an mforacle.measures.GaussianPath")
    L = _int(L, "L", 1)
    M = _int(M, "M", 1)
    if isinstance(seeds, str | bytes) or not hasattr(seeds, "__len__") or len(seeds) == 0:
        raise InvalidArgument("seeds", seeds, "expected a non-empty sequence of integers >= 0")
    seed_list = [_int(sd, f"seeds[{i}]", 0) for i, sd in enumerate(seeds)]
    if scheme not in SCHEMES:
        raise InvalidArgument("scheme", scheme, f"expected one of {list(SCHEMES)}")
    shape = (M, measure.r) if scheme == "paths" else (L, M, measure.r)
    # one generator per seed is the documented stream; the rest is array arithmetic
    xi = np.stack([np.random.default_rng(sd).standard_normal(shape) for sd in seed_list])
    if scheme == "paths":
        xi = xi[:, None]  # (S, 1, M, r): shared by every layer
    c, A = _path_arrays(measure, layer_depths(L))
    out = np.broadcast_to(c[None, :, None, :], (len(seed_list), L, M, measure.k)).copy()
    noise = np.zeros_like(out)
    for j in range(measure.r):  # noise dimensions, in order: Σ_j A[:, :, j] ξ_j
        noise += A[None, :, None, :, j] * xi[..., j, None]
    out += noise
    return out
