"""The mean-field ResNet written the way researchers write it: on torchdiffeq's ODE solvers.

Three implementations of mforacle's protocol (``docs/conformance.md``), each what a user of
torchdiffeq would write, checked as they are::

    mforacle check examples.torchdiffeq_resnet:EULER   --dtype float64
    mforacle check examples.torchdiffeq_resnet:ADJOINT --dtype float64
    mforacle check examples.torchdiffeq_resnet:DOPRI5  --dtype float64

``EULER``
    ``odeint(f, x, t, method="euler")`` on the grid ``t_l = l/L`` with the piecewise-constant
    field ``f(t, z) = (1/M) Σ_m u_{l,m} σ(w_{l,m}·z + b_{l,m})``, ``l = the grid index of t``.
    One Euler step is one residual block, so this *is* the discrete network (the step is
    ``dt = t_{l+1} − t_l`` as torchdiffeq computes it, which differs from ``1/L`` by rounding
    unless ``L`` is a power of two). Gradients by backpropagation through the solver.
``ADJOINT``
    The same forward pass, gradients by ``odeint_adjoint`` (the continuous adjoint integrated
    backward by Euler on the same grid). This is *not* the discrete network's gradient: the
    backward Euler sweep evaluates the field at the right end of each step, so the gradient
    differs from the exact discrete one by ``O(1/L)``. mforacle's gradient checks fail it, as they
    must; ``examples/node_findings.py`` measures how the difference shrinks with ``L`` and that
    ``L·M·∇θ`` approaches the limit's velocity field.
``DOPRI5``
    Only the mean-field limit (protocol member ``limit``; its ``forward`` is the Euler network):
    the Gaussian depth-path measure is replaced by ``n^r`` weighted particles at the tensor
    Gauss–Hermite nodes of ``ξ``; the limit ODE ``dZ/dt = Σ_j ω_j u_j(t) σ(w_j(t)·Z + b_j(t))``
    is solved by dopri5 (``rtol = atol = 1e-12``); ``p(t) = ∂E/∂Z(t)`` by autograd; the first
    variation and velocity at the probes by autograd in ``θ``. Its ``error_bound`` is its own
    estimate: four times the change when the node count and the tolerances are refined.

Requires ``pip install torch torchdiffeq`` (mforacle's ``node`` extra).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn
from torchdiffeq import odeint, odeint_adjoint

from .torch_resnet import sigma


class LayerField(nn.Module):
    """``f(t, z) = (1/M) Σ_m u σ(w·z + b)`` with the layer of the grid point ``t = l/L``."""

    def __init__(self, spec: Any, theta: torch.Tensor) -> None:
        super().__init__()
        self.spec = spec
        self.theta = theta  # (L, M, 2d+1), may require grad
        self.L, self.M = int(theta.shape[0]), int(theta.shape[1])

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        l = min(max(math.floor(float(t.detach()) * self.L + 0.5), 0), self.L - 1)
        d = self.spec.d
        W, U, b = self.theta[l, :, :d], self.theta[l, :, d : 2 * d], self.theta[l, :, 2 * d]
        return sigma(self.spec, z @ W.T + b) @ U / self.M


def _readout(spec: Any, z: torch.Tensor) -> torch.Tensor:
    a = torch.as_tensor(np.asarray(spec.a), dtype=z.dtype)
    return z @ a + spec.kappa / 2 * (z * z).sum(dim=-1)


class EulerResNet(nn.Module):
    """The discrete network as ``odeint(..., method="euler")``; backprop gradients."""

    framework = "torch"
    supports_kappa = True

    def __init__(self, dtype: str = "float64", adjoint: bool = False) -> None:
        super().__init__()
        self.dtype = dtype
        self.adjoint = adjoint
        self.name = "torchdiffeq-" + ("adjoint" if adjoint else "euler")

    def forward(self, spec: Any, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        L = int(theta.shape[0])
        t = torch.arange(L + 1, dtype=x.dtype) / L
        field = LayerField(spec, theta)
        if self.adjoint:
            zs = odeint_adjoint(field, x, t, method="euler", adjoint_params=(theta,))
        else:
            zs = odeint(field, x, t, method="euler")
        return zs[-1]

    def loss(self, spec: Any, theta: torch.Tensor, x, y, weights) -> torch.Tensor:
        r = _readout(spec, self(spec, theta, x)) - y
        return (weights * r * r / 2).sum()

    def train_step(self, spec: Any, theta: torch.Tensor, x, y, weights, lr) -> torch.Tensor:
        th = theta.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(self.loss(spec, th, x, y, weights), th)
        return (th - lr * g).detach()


# ---------------------------------------------------------------------------- the limit


def _hermite_particles(r: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor Gauss–Hermite nodes ``(n^r, r)`` and weights ``(n^r,)`` for ``ξ ~ N(0, I_r)``."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    grids = np.meshgrid(*([x] * r), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.prod(np.meshgrid(*([w] * r), indexing="ij"), axis=0).ravel()
    return nodes, weights


class ParticleField(nn.Module):
    """``F(Z, t) = Σ_j ω_j u_j(t) σ(w_j(t)·Z + b_j(t))``, ``θ_j(t) = c(t) + A(t) ξ_j``."""

    def __init__(
        self, spec: Any, measure: Any, n: int, nodes: Any = None, weights: Any = None
    ) -> None:
        """``n^r`` Gauss–Hermite particles, or the given ``nodes (J, r)`` and ``weights (J,)``."""
        super().__init__()
        self.spec = spec
        n_coef = max(len(p) for p in (*measure.c, *(q for row in measure.A for q in row)))

        def coefficients(poly: Any) -> list[float]:  # padded to n_coef, increasing powers
            return [float(v) for v in poly] + [0.0] * (n_coef - len(poly))

        self.c = torch.tensor([coefficients(p) for p in measure.c], dtype=torch.float64)
        self.A = torch.tensor(
            [[coefficients(p) for p in row] for row in measure.A], dtype=torch.float64
        )  # (k, r, n_coef)
        if nodes is None:
            nodes, weights = _hermite_particles(int(measure.r), n)
        self.xi = torch.tensor(nodes, dtype=torch.float64)
        self.omega = torch.tensor(weights, dtype=torch.float64)

    def particles(self, t: torch.Tensor) -> torch.Tensor:
        """``θ_j(t)``, shape ``(n^r, k)``."""
        powers = t ** torch.arange(self.c.shape[1], dtype=torch.float64)
        mean = self.c @ powers  # (k,)
        factor = self.A @ powers  # (k, r)
        return mean + self.xi @ factor.T

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        d = self.spec.d
        th = self.particles(t)
        W, U, b = th[:, :d], th[:, d : 2 * d], th[:, 2 * d]
        return (sigma(self.spec, z @ W.T + b) * self.omega) @ U


def _limit_once(
    spec, measure, x, y, weights, probes, n: int, tol: float, field: Any = None
) -> dict[str, Any]:
    field = ParticleField(spec, measure, n) if field is None else field
    x = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(y), dtype=torch.float64)
    w = torch.as_tensor(np.asarray(weights), dtype=torch.float64)

    def solve(z0: torch.Tensor, t0: float, t1: float) -> torch.Tensor:
        if t1 <= t0:
            return z0
        t = torch.tensor([t0, t1], dtype=torch.float64)
        return odeint(field, z0, t, method="dopri5", rtol=tol, atol=tol)[-1]

    def energy_from(z: torch.Tensor, t0: float) -> torch.Tensor:
        r = _readout(spec, solve(z, t0, 1.0)) - y
        return (w * r * r / 2).sum()

    out: dict[str, Any] = {}
    with torch.no_grad():
        z1 = solve(x, 0.0, 1.0)
    out["Z1"] = z1.numpy()
    out["energy"] = float(energy_from(x, 0.0).detach())
    fv, vel = [], []
    d = spec.d
    for t, theta in probes:
        t = float(t)
        with torch.no_grad():
            zt = solve(x, 0.0, t)
        zt = zt.clone().requires_grad_(True)
        (wp,) = torch.autograd.grad(energy_from(zt, t), zt)  # ω_n p(t; x_n), (N, d)
        th = torch.as_tensor(np.asarray(theta, dtype=np.float64)).clone().requires_grad_(True)
        f = sigma(spec, zt.detach() @ th[:d] + th[2 * d])[:, None] * th[d : 2 * d]  # (N, d)
        first_variation = (wp * f).sum()
        (v,) = torch.autograd.grad(first_variation, th)
        fv.append(float(first_variation.detach()))
        vel.append(v.numpy())
    out["first_variation"] = np.array(fv)
    out["velocity"] = np.array(vel).reshape(len(vel), 2 * d + 1)
    return out


class Dopri5Limit(EulerResNet):
    """The mean-field limit by dopri5 on Gauss–Hermite particles (``limit`` member)."""

    def __init__(self, nodes: int = 12, tol: float = 1e-12) -> None:
        super().__init__("float64")
        self.name = "torchdiffeq-dopri5-limit"
        self.nodes, self.tol = nodes, tol
        self.loss = None  # type: ignore[assignment]  # only the limit is on offer
        self.train_step = None  # type: ignore[assignment]

    def limit(self, spec: Any, measure: Any, x, y, weights, probes) -> dict[str, Any]:
        probes = [(float(t), np.asarray(th, dtype=np.float64)) for t, th in probes]
        with torch.enable_grad():  # the harness may call us under no_grad
            return self._limit(spec, measure, x, y, weights, probes)

    def _limit(self, spec: Any, measure: Any, x, y, weights, probes) -> dict[str, Any]:
        coarse = _limit_once(spec, measure, x, y, weights, probes, self.nodes, self.tol)
        fine = _limit_once(spec, measure, x, y, weights, probes, 2 * self.nodes, self.tol / 100)
        bound = {}
        for key in ("energy", "Z1", "first_variation", "velocity"):
            diff = np.abs(np.asarray(fine[key]) - np.asarray(coarse[key]))
            bound[key] = 4 * float(diff.max(initial=0.0)) + 1e-10
        fine["error_bound"] = bound
        return fine


EULER = EulerResNet("float64")
ADJOINT = EulerResNet("float64", adjoint=True)
DOPRI5 = Dopri5Limit()
