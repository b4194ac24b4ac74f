"""The discrete ResNet in NumPy float64: forward pass, loss, adjoint, gradients (the fast path).

Mirrors ``docs/model.md`` sections 1–2, vectorized over data points and neurons (the only
Python loop is over layers). With ``h = 1/(L·M)`` (one rounding: ``L·M`` is an exact integer),
``W_l, U_l ∈ R^{M×d}`` the rows ``w, u`` of layer ``l`` and ``b_l ∈ R^M``:

    A_l     = z_l W_lᵀ + b_l                         (N, M)   pre-activations  a = w·z + b
    z_{l+1} = z_l + h σ(A_l) U_l                     (N, d)
    g(z)    = a·z + (κ/2)|z|²,  ℓ_n = ½ (g(z_L,n) − y_n)²,  E = Σ_n ω_n ℓ_n
    q_L     = (g(z_L) − y) (a + κ z_L)
    G_l     = σ'(A_l) ⊙ (q_{l+1} U_lᵀ)               (N, M)   σ'(a) (u·q)
    q_l     = q_{l+1} + h G_l W_l
    ∂E/∂W_l = h (ω ⊙ G_l)ᵀ z_l,  ∂E/∂U_l = h (ω ⊙ σ(A_l))ᵀ q_{l+1},  ∂E/∂b_l = h Σ_n ω_n G_l,n

``grad_x = q_0`` is each point's own (unweighted) ``∂ℓ_n/∂x_n``. Memory is ``O(L·N·d + L·M·k)``:
the trajectory ``z`` is kept, the ``(N, M)`` temporaries of a layer are recomputed in the
backward pass and dropped. Independent of :mod:`mforacle.exact` by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mforacle.errors import InvalidArgument, NonFiniteResult
from mforacle.model import Model, float_data, float_theta
from mforacle.numbers import float_array

from .activations import FastActivation, get

__all__ = ["FastResult", "evaluate", "forward", "loss", "loss_and_grad"]


@dataclass(frozen=True)
class FastResult:
    """Everything the fast path computes for one case (float64 arrays)."""

    loss: float
    z: np.ndarray  # (L+1, N, d) trajectory z_0..z_L
    q: np.ndarray  # (L+1, N, d) adjoint q_0..q_L, per point, unweighted
    grad_theta: np.ndarray  # (L, M, k)
    grad_x: np.ndarray  # (N, d)

    @property
    def z_L(self) -> np.ndarray:
        return self.z[-1]


def _readout(model: Model) -> tuple[np.ndarray, float]:
    return np.array([float(v) for v in model.a], dtype=np.float64), float(model.kappa)


def _forward(act: FastActivation, theta: np.ndarray, x: np.ndarray, d: int) -> np.ndarray:
    L, M, _ = theta.shape
    h = 1.0 / (L * M)
    z = np.empty((L + 1, *x.shape))
    z[0] = x
    for l in range(L):
        th = theta[l]
        pre = z[l] @ th[:, :d].T
        pre += th[:, 2 * d]
        np.matmul(act.sigma(pre), th[:, d : 2 * d], out=z[l + 1])
        z[l + 1] *= h
        z[l + 1] += z[l]
    return z


def _loss_and_terminal(
    model: Model, zL: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    a, kappa = _readout(model)
    g = zL @ a
    if kappa != 0.0:
        g += 0.5 * kappa * np.einsum("nd,nd->n", zL, zL)
    r = g - y
    E = float(0.5 * np.dot(w, r * r))
    grad_g = a + kappa * zL if kappa != 0.0 else np.broadcast_to(a, zL.shape)
    return E, r[:, None] * grad_g


def _backward(
    act: FastActivation,
    theta: np.ndarray,
    z: np.ndarray,
    qL: np.ndarray,
    w: np.ndarray,
    d: int,
    keep_q: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    L, M, k = theta.shape
    h = 1.0 / (L * M)
    grad = np.empty((L, M, k))
    q = np.empty_like(z) if keep_q else None
    qn = np.array(qL, dtype=np.float64)
    if q is not None:
        q[L] = qn
    wh = (h * w)[:, None]  # ω_n h: one rounding per entry
    for l in range(L - 1, -1, -1):
        th = theta[l]
        W, U = th[:, :d], th[:, d : 2 * d]
        pre = z[l] @ W.T
        pre += th[:, 2 * d]
        s, ds = act.both(pre)
        G = qn @ U.T
        G *= ds  # σ'(a) (u·q)
        s *= wh
        np.matmul(s.T, qn, out=grad[l, :, d : 2 * d])  # h Σ_n ω_n σ(a) q
        step = G @ W
        G *= wh
        np.matmul(G.T, z[l], out=grad[l, :, :d])  # h Σ_n ω_n σ'(a)(u·q) z
        grad[l, :, 2 * d] = G.sum(axis=0)
        step *= h
        qn += step
        if q is not None:
            q[l] = qn
    return grad, qn, q


def _finite(quantity: str, value: Any) -> None:
    """Raise :class:`NonFiniteResult` rather than return inf/NaN computed from finite inputs."""
    if not np.all(np.isfinite(value)):
        raise NonFiniteResult(quantity)


def _validated(
    model: Model, theta: Any, x: Any, y: Any, weights: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    th = float_theta(model, theta)
    xs, ys, ws = float_data(model, x, y, weights)
    return th, xs, ys, ws


def forward(model: Model, theta: Any, x: Any) -> np.ndarray:
    """The trajectory ``z_0 .. z_L`` for every input, shape ``(L+1, N, d)``."""
    th = float_theta(model, theta)
    xs = float_array(x, "x", (None, model.d))
    if xs.shape[0] == 0:
        raise InvalidArgument("x", x, "need at least one data point")
    with np.errstate(over="ignore", invalid="ignore"):
        z = _forward(get(model.activation), th, xs, model.d)
    _finite("z", z)
    return z


def loss(model: Model, theta: Any, x: Any, y: Any, weights: Any = None) -> float:
    """``E(Θ) = Σ_n ω_n ½ (g(z_L(x_n)) − y_n)²``."""
    th, xs, ys, ws = _validated(model, theta, x, y, weights)
    with np.errstate(over="ignore", invalid="ignore"):
        z = _forward(get(model.activation), th, xs, model.d)
        E = _loss_and_terminal(model, z[-1], ys, ws)[0]
    _finite("loss", E)
    return E


def loss_and_grad(
    model: Model, theta: Any, x: Any, y: Any, weights: Any = None, *, validate: bool = True
) -> tuple[float, np.ndarray]:
    """``(E, ∂E/∂Θ)`` — the training step's work, without keeping the adjoint trajectory.

    ``validate=False`` skips input checks for trusted callers (a training loop that validated
    once): ``theta``, ``x``, ``y`` and ``weights`` must then already be float64 arrays of the
    right shapes, with ``weights`` given explicitly.
    """
    if validate:
        th, xs, ys, ws = _validated(model, theta, x, y, weights)
    else:
        th, xs, ys = theta, x, y
        ws = weights if weights is not None else np.full(xs.shape[0], 1.0 / xs.shape[0])
    act = get(model.activation)
    with np.errstate(over="ignore", invalid="ignore"):
        z = _forward(act, th, xs, model.d)
        E, qL = _loss_and_terminal(model, z[-1], ys, ws)
        grad, _, _ = _backward(act, th, z, qL, ws, model.d, keep_q=False)
    _finite("loss", E)
    _finite("grad_theta", grad)
    return E, grad


def evaluate(model: Model, theta: Any, x: Any, y: Any, weights: Any = None) -> FastResult:
    """Loss, trajectory, adjoint, ``grad_theta = ∂E/∂Θ`` and ``grad_x[n] = ∂ℓ_n/∂x_n``."""
    th, xs, ys, ws = _validated(model, theta, x, y, weights)
    act = get(model.activation)
    with np.errstate(over="ignore", invalid="ignore"):
        z = _forward(act, th, xs, model.d)
        E, qL = _loss_and_terminal(model, z[-1], ys, ws)
        grad, q0, q = _backward(act, th, z, qL, ws, model.d, keep_q=True)
    assert q is not None
    for name, value in (("z_L", z[-1]), ("loss", E), ("grad_theta", grad), ("grad_x", q0)):
        _finite(name, value)
    return FastResult(loss=E, z=z, q=q, grad_theta=grad, grad_x=q0.copy())
