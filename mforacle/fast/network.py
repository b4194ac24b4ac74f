"""The discrete ResNet in NumPy float64: forward pass, loss, adjoint, gradients (the fast path).

Mirrors ``docs/model.md`` sections 1–2, vectorized over an **ensemble** of ``S``
networks (a leading seed axis), data points and neurons: the only Python loop is over layers.
Every entry point is the ensemble computation; the single-network functions (:func:`forward`,
:func:`loss`, :func:`loss_and_grad`, :func:`evaluate`) are its ``S = 1`` case, so a member of an
ensemble gets *bit for bit* the result it gets alone (every operation acts on each member's own
slices with the same shapes and strides: batched matmuls are one BLAS call per member, the
reductions run along a member's own axis; tests/test_ensembles.py checks it with
``np.array_equal``). With ``h = 1/(L·M)`` (one rounding: ``L·M`` is an exact integer),
``W_l, U_l ∈ R^{M×d}`` the rows ``w, u`` of layer ``l`` and ``b_l ∈ R^M``, per member::

    A_l     = z_l W_lᵀ + b_l                         (N, M)   pre-activations  a = w·z + b
    S_l     = σ(A_l)                                 (N, M)   kept for the backward pass
    z_{l+1} = z_l + h S_l U_l                        (N, d)
    g(z)    = a·z + (κ/2)|z|²,  ℓ_n = ½ (g(z_L,n) − y_n)²,  E = Σ_n ω_n ℓ_n
    q_L     = (g(z_L) − y) (a + κ z_L)
    G_l     = σ'(A_l) ⊙ (q_{l+1} U_lᵀ)               (N, M)   σ'(a) (u·q)
    q_l     = q_{l+1} + h G_l W_l
    ∂E/∂W_l = G_lᵀ (hω ⊙ z_l),  ∂E/∂U_l = S_lᵀ (hω ⊙ q_{l+1}),  ∂E/∂b_l = (hω)ᵀ G_l

``grad_x = q_0`` is each point's own (unweighted) ``∂ℓ_n/∂x_n``.

**σ' from the forward pass.** The forward pass keeps ``S_l`` and what the activation needs for
``σ'`` (:meth:`FastActivation.activate`): for ``tanh`` nothing, ``σ' = 1 − t²`` from ``t = S_l``
(the error model in :mod:`mforacle.tolerance` allows ``D = tanh²`` for exactly this form); for
``erf`` the array ``(2/√π) e^{−a²}``; for the others ``σ'(A_l)`` itself. No activation is
evaluated twice and the pre-activations are not recomputed.

**Memory.** ``O(S·L·N·d + S·L·M·k)`` for the trajectory and the gradient, plus the kept layer
arrays: ``c·S·L·N·M`` float64 with ``c = 1`` (tanh) or ``2`` (every other activation) — 134 MB
(tanh) / 268 MB (erf) at ``L = 128, N = 256, M = 512, S = 1``. An ensemble whose kept arrays
would exceed :data:`KEEP_BYTES` is run in chunks of members (results unchanged: members are
independent); if one member alone exceeds it, the backward pass recomputes each layer's
``S_l`` and ``σ'`` from ``z_l`` (the same operations, hence the same bits) and memory is
``O(L·N·d + L·M·k + N·M)`` as before. Independent of :mod:`mforacle.exact` by design.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mforacle.errors import InvalidArgument, NonFiniteResult
from mforacle.model import Model, float_data, float_theta
from mforacle.numbers import float_array

from .activations import FastActivation, get

__all__ = [
    "KEEP_BYTES",
    "EnsembleResult",
    "FastResult",
    "evaluate",
    "evaluate_ensemble",
    "float_thetas",
    "forward",
    "forward_ensemble",
    "loss",
    "loss_and_grad",
    "loss_and_grad_ensemble",
    "loss_ensemble",
]

#: upper limit, in bytes, on the layer arrays the forward pass keeps for the backward pass (see
#: the module docstring); above it ensembles run in chunks and single networks recompute.
KEEP_BYTES = 1 << 29


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


@dataclass(frozen=True)
class EnsembleResult:
    """:class:`FastResult` for ``S`` networks on the same data; member ``s`` is index ``s``."""

    loss: np.ndarray  # (S,)
    z: np.ndarray  # (S, L+1, N, d)
    q: np.ndarray  # (S, L+1, N, d)
    grad_theta: np.ndarray  # (S, L, M, k)
    grad_x: np.ndarray  # (S, N, d)

    @property
    def z_L(self) -> np.ndarray:
        """``(S, N, d)``."""
        return self.z[:, -1]

    def member(self, s: int) -> FastResult:
        """Member ``s`` as a :class:`FastResult` (views, no copies)."""
        return FastResult(float(self.loss[s]), self.z[s], self.q[s], self.grad_theta[s],
                          self.grad_x[s])

    def __len__(self) -> int:
        return int(self.loss.shape[0])


# --------------------------------------------------------------------------- the kernel
# Shapes inside the kernel: theta (S, L, M, k); z, q (L+1, S, N, d) (layer-major, so that each
# layer's (S, N, d) block is contiguous); kept layer arrays (S, N, M).


def _layer(
    act: FastActivation, th: np.ndarray, zl: np.ndarray, d: int
) -> tuple[np.ndarray, Any]:
    """``(σ(A_l), aux)`` for one layer of every member: ``th`` (S, M, k), ``zl`` (S, N, d)."""
    pre = np.matmul(zl, th[:, :, :d].transpose(0, 2, 1))  # (S, N, M)
    pre += th[:, None, :, 2 * d]
    aux = act.activate(pre)  # pre now holds σ(A_l)
    return pre, aux


def _forward(
    act: FastActivation, theta: np.ndarray, x: np.ndarray, d: int, keep: bool
) -> tuple[np.ndarray, list | None]:
    S, L, M, _ = theta.shape
    h = 1.0 / (L * M)
    z = np.empty((L + 1, S, *x.shape))
    z[0] = x
    kept: list | None = [] if keep else None
    for l in range(L):
        th = theta[:, l]
        s, aux = _layer(act, th, z[l], d)
        np.matmul(s, th[:, :, d : 2 * d], out=z[l + 1])
        z[l + 1] *= h
        z[l + 1] += z[l]
        if kept is not None:
            kept.append((s, aux))
    return z, kept


def _loss_and_terminal(
    model: Model, zL: np.ndarray, y: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per member ``E`` (S,) and ``q_L`` (S, N, d) from ``z_L`` (S, N, d). Reductions run along
    each member's own last axis (independent of ``S``)."""
    a = np.array([float(v) for v in model.a], dtype=np.float64)
    kappa = float(model.kappa)
    g = np.sum(zL * a, axis=-1)
    if kappa != 0.0:
        g += 0.5 * kappa * np.sum(zL * zL, axis=-1)
    r = g - y
    E = 0.5 * np.sum(w * (r * r), axis=-1)
    grad_g = a + kappa * zL if kappa != 0.0 else a
    return E, r[..., None] * grad_g


def _backward(
    act: FastActivation,
    theta: np.ndarray,
    z: np.ndarray,
    kept: list | None,
    qL: np.ndarray,
    w: np.ndarray,
    d: int,
    keep_q: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    S, L, M, k = theta.shape
    h = 1.0 / (L * M)
    grad = np.empty((S, L, M, k))
    q = np.empty_like(z) if keep_q else None
    qn = np.array(qL, dtype=np.float64)
    if q is not None:
        q[L] = qn
    wh = h * w  # ω_n h: one rounding per entry
    whc = wh[:, None]
    for l in range(L - 1, -1, -1):
        th = theta[:, l]
        W, U = th[:, :, :d], th[:, :, d : 2 * d]
        if kept is not None:
            s, aux = kept[l]
            kept[l] = None  # free as we go
        else:
            s, aux = _layer(act, th, z[l], d)
        G = np.matmul(qn, U.transpose(0, 2, 1))  # (S, N, M): u·q
        G *= act.derivative(s, aux)  # σ'(a) (u·q)
        np.matmul(s.transpose(0, 2, 1), whc * qn, out=grad[:, l, :, d : 2 * d])
        del s, aux
        np.matmul(G.transpose(0, 2, 1), whc * z[l], out=grad[:, l, :, :d])
        np.matmul(wh, G, out=grad[:, l, :, 2 * d])
        step = np.matmul(G, W)
        step *= h
        qn += step
        if q is not None:
            q[l] = qn
    return grad, qn, q


def _keep_per_member(act: FastActivation, theta_shape: tuple[int, ...], N: int) -> int:
    _S, L, M, _k = theta_shape
    return 8 * L * N * M * (1 if act.derivative_from_sigma else 2)


def _chunks(act: FastActivation, theta: np.ndarray, N: int) -> tuple[int, bool]:
    """Members per chunk and whether the layer arrays are kept (see :data:`KEEP_BYTES`)."""
    per = _keep_per_member(act, theta.shape, N)
    if per > KEEP_BYTES:
        return 1, False
    return max(1, KEEP_BYTES // per), True


def _run(
    model: Model,
    theta: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    *,
    backward: bool,
    keep_q: bool,
) -> dict[str, np.ndarray]:
    """The kernel over all members, chunked to respect :data:`KEEP_BYTES`."""
    act = get(model.activation)
    S = theta.shape[0]
    per_chunk, keep = _chunks(act, theta, x.shape[0])
    parts: list[dict[str, np.ndarray]] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, S, per_chunk):
            th = theta[start : start + per_chunk]
            z, kept = _forward(act, th, x, model.d, keep and backward)
            E, qL = _loss_and_terminal(model, z[-1], y, w)
            part = {"z": z, "loss": E}
            if backward:
                grad, q0, q = _backward(act, th, z, kept, qL, w, model.d, keep_q)
                part.update(grad_theta=grad, grad_x=q0)
                if q is not None:
                    part["q"] = q
            parts.append(part)
    if len(parts) == 1:
        return parts[0]
    axis = {"z": 1, "q": 1, "loss": 0, "grad_theta": 0, "grad_x": 0}
    return {key: np.concatenate([p[key] for p in parts], axis=axis[key]) for key in parts[0]}


# --------------------------------------------------------------------------- validation


def _finite(quantity: str, value: Any) -> None:
    """Raise :class:`NonFiniteResult` rather than return inf/NaN computed from finite inputs."""
    if not np.all(np.isfinite(value)):
        raise NonFiniteResult(quantity)


def float_thetas(model: Model, thetas: Any) -> np.ndarray:
    """Validate an ensemble of parameters: finite float64 of shape ``(S, L, M, 2d+1)``.

    Raises:
        InvalidArgument: wrong shape (``field = "thetas"``), a non-finite entry (its index), or
            ``S``, ``L`` or ``M`` zero.
    """
    th = float_array(thetas, "thetas", (None, None, None, model.k))
    if 0 in th.shape[:3]:
        raise InvalidArgument(
            "thetas", f"array of shape {th.shape}", "need S >= 1, L >= 1 and M >= 1"
        )
    return th


def _data(model: Model, x: Any, y: Any, weights: Any, validate: bool) -> tuple[Any, Any, Any]:
    if validate:
        return float_data(model, x, y, weights)
    ws = weights if weights is not None else np.full(x.shape[0], 1.0 / x.shape[0])
    return x, y, ws


def _check_model(model: Any) -> Model:
    if not isinstance(model, Model):
        raise InvalidArgument("model", model, "expected an mforacle.model.Model (use Model.create)")
    return model


# --------------------------------------------------------------------------- ensembles


def forward_ensemble(model: Model, thetas: Any, x: Any) -> np.ndarray:
    """The trajectories of ``S`` networks on shared inputs.

    Args:
        model: the :class:`~mforacle.model.Model` (``d``, activation).
        thetas: ``(S, L, M, 2d+1)`` parameters, one network per leading index.
        x: ``(N, d)`` inputs, shared by every member.

    Returns:
        ``(S, L+1, N, d)`` float64: ``z_0 .. z_L`` per member (model.md §1).

    Raises:
        InvalidArgument: malformed ``thetas`` or ``x`` (the field is named).
        NonFiniteResult: float64 overflow on finite inputs.
    """
    model = _check_model(model)
    th = float_thetas(model, thetas)
    xs = float_array(x, "x", (None, model.d))
    if xs.shape[0] == 0:
        raise InvalidArgument("x", x, "need at least one data point")
    act = get(model.activation)
    with np.errstate(over="ignore", invalid="ignore"):
        z, _ = _forward(act, th, xs, model.d, keep=False)
    _finite("z", z)
    return np.ascontiguousarray(z.transpose(1, 0, 2, 3))


def loss_ensemble(model: Model, thetas: Any, x: Any, y: Any, weights: Any = None) -> np.ndarray:
    """``E(Θ_s) = Σ_n ω_n ½ (g(z_L(x_n)) − y_n)²`` for each member: shape ``(S,)``.

    ``thetas`` ``(S, L, M, 2d+1)``; data ``x (N, d)``, ``y (N,)``, ``weights (N,)`` shared (model.md
    §2). Raises :class:`InvalidArgument` on malformed input, :class:`NonFiniteResult` on overflow.
    """
    model = _check_model(model)
    th = float_thetas(model, thetas)
    xs, ys, ws = float_data(model, x, y, weights)
    E = _run(model, th, xs, ys, ws, backward=False, keep_q=False)["loss"]
    _finite("loss", E)
    return E


def loss_and_grad_ensemble(
    model: Model, thetas: Any, x: Any, y: Any, weights: Any = None, *, validate: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``(E, ∂E/∂Θ)`` for each of ``S`` networks on shared data, as one array computation.

    Args:
        model: the model.
        thetas: ``(S, L, M, 2d+1)``.
        x, y, weights: ``(N, d)``, ``(N,)``, ``(N,)`` or ``None`` (uniform), shared.
        validate: ``False`` skips input checks for trusted callers (a training loop that
            validated once): arrays must then be float64 of the right shapes.

    Returns:
        ``E`` of shape ``(S,)`` and the gradients ``(S, L, M, 2d+1)``; member ``s`` equals
        :func:`loss_and_grad` of ``thetas[s]`` bit for bit (model.md §2).

    Raises:
        InvalidArgument: malformed input (field named). NonFiniteResult: float64 overflow.
    """
    model = _check_model(model)
    th = float_thetas(model, thetas) if validate else thetas
    xs, ys, ws = _data(model, x, y, weights, validate)
    out = _run(model, th, xs, ys, ws, backward=True, keep_q=False)
    _finite("loss", out["loss"])
    _finite("grad_theta", out["grad_theta"])
    return out["loss"], out["grad_theta"]


def evaluate_ensemble(
    model: Model, thetas: Any, x: Any, y: Any, weights: Any = None
) -> EnsembleResult:
    """Loss, trajectory, adjoint and gradients of ``S`` networks on shared data.

    ``thetas`` ``(S, L, M, 2d+1)``; returns an :class:`EnsembleResult` whose arrays carry the
    member index first (``z``, ``q`` ``(S, L+1, N, d)``, ``grad_theta`` ``(S, L, M, k)``,
    ``grad_x`` ``(S, N, d)``, ``loss`` ``(S,)``); member ``s`` equals :func:`evaluate` of
    ``thetas[s]`` bit for bit. Raises :class:`InvalidArgument` on malformed input and
    :class:`NonFiniteResult` on float64 overflow (model.md §1–2).
    """
    model = _check_model(model)
    th = float_thetas(model, thetas)
    xs, ys, ws = float_data(model, x, y, weights)
    out = _run(model, th, xs, ys, ws, backward=True, keep_q=True)
    for name, value in (("z_L", out["z"][-1]), ("loss", out["loss"]),
                        ("grad_theta", out["grad_theta"]), ("grad_x", out["grad_x"])):
        _finite(name, value)
    z = np.ascontiguousarray(out["z"].transpose(1, 0, 2, 3))
    q = np.ascontiguousarray(out["q"].transpose(1, 0, 2, 3))
    return EnsembleResult(out["loss"], z, q, out["grad_theta"], q[:, 0].copy())


# --------------------------------------------------------------------------- one network


def forward(model: Model, theta: Any, x: Any) -> np.ndarray:
    """The trajectory ``z_0 .. z_L`` for every input, shape ``(L+1, N, d)``.

    ``theta`` ``(L, M, 2d+1)``, ``x`` ``(N, d)``. The ``S = 1`` case of
    :func:`forward_ensemble`. Raises :class:`InvalidArgument`, :class:`NonFiniteResult`.
    """
    th = float_theta(_check_model(model), theta)
    return forward_ensemble(model, th[None], x)[0]


def loss(model: Model, theta: Any, x: Any, y: Any, weights: Any = None) -> float:
    """``E(Θ) = Σ_n ω_n ½ (g(z_L(x_n)) − y_n)²`` (model.md §2); ``S = 1`` of :func:`loss_ensemble`.

    Raises :class:`InvalidArgument`, :class:`NonFiniteResult`.
    """
    th = float_theta(_check_model(model), theta)
    return float(loss_ensemble(model, th[None], x, y, weights)[0])


def loss_and_grad(
    model: Model, theta: Any, x: Any, y: Any, weights: Any = None, *, validate: bool = True
) -> tuple[float, np.ndarray]:
    """``(E, ∂E/∂Θ)`` — the training step's work, without keeping the adjoint trajectory.

    ``theta`` ``(L, M, 2d+1)``; returns ``(float, (L, M, 2d+1))``. The ``S = 1`` case of
    :func:`loss_and_grad_ensemble`. ``validate=False`` skips input checks for trusted callers
    (a training loop that validated once): ``theta``, ``x``, ``y`` and ``weights`` must then
    already be float64 arrays of the right shapes. Raises :class:`InvalidArgument`,
    :class:`NonFiniteResult`.
    """
    model = _check_model(model)
    th = float_theta(model, theta) if validate else theta
    E, g = loss_and_grad_ensemble(model, th[None], x, y, weights, validate=validate)
    return float(E[0]), g[0]


def evaluate(model: Model, theta: Any, x: Any, y: Any, weights: Any = None) -> FastResult:
    """Loss, trajectory, adjoint, ``grad_theta = ∂E/∂Θ`` and ``grad_x[n] = ∂ℓ_n/∂x_n``.

    ``theta`` ``(L, M, 2d+1)``, ``x`` ``(N, d)``, ``y``, ``weights`` ``(N,)``; the ``S = 1``
    case of :func:`evaluate_ensemble` (model.md §1–2). Raises :class:`InvalidArgument`,
    :class:`NonFiniteResult`.
    """
    th = float_theta(_check_model(model), theta)
    return evaluate_ensemble(model, th[None], x, y, weights).member(0)
