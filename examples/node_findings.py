"""Figures for docs/findings.md: torchdiffeq's adjoint gradient against the discrete network.

    python -m examples.node_findings [--ladder 4 8 16 32 64] [--M 8] [--seed 0]

Network: the bundled measure ``mforacle/examples/measure_tanh_d2.json`` sampled with the
*paths* scheme (``mforacle.sampling.sample_network``, seed 0), so layer ``l`` holds the particles
``θ_m(l/L) = c(l/L) + A(l/L) ξ_m`` and, at fixed ``M``, the network is the Euler discretization
of the ``M``-particle limit ODE. For each ``L`` it prints

- ``adjoint``: ``max|∇θ_adjoint − ∇θ_exact| / max|∇θ_exact|`` — torchdiffeq's ``odeint_adjoint``
  (Euler on ``t_l = l/L``) against the discrete network's exact gradient (mforacle's fast path,
  whose float64 error is far below these figures);
- ``adjoint inner``: the same over the layers ``1..L−2`` only (the first layer receives no
  gradient from the adjoint sweep and the last receives two contributions: the backward Euler
  step from ``t_{l+1}`` evaluates the piecewise-constant field at its right end, which belongs to
  the next layer);
- ``backprop``: the same for ``odeint`` with backpropagation through the solver;
- ``V(adjoint inner)`` (layers ``1..L−2``), ``V(exact)`` (all layers):
  ``max_{l,m} |L·M ∇θ_{l,m} − V_M(θ_{l,m}, l/L)|`` against the velocity field of the
  ``M``-particle measure, computed by dopri5 at ``rtol = 1e-12``
  (:class:`examples.torchdiffeq_resnet.ParticleField`) — paper §4: ``L·M ∂E/∂θ`` is the discrete
  counterpart of ``V``;
- ``|adj layer 0|``: the largest entry of the adjoint gradient of layer 0;

and the least-squares slope of each column against ``log L`` (order 1 means slope −1).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from mforacle.caseio import read_case
from mforacle.fast.network import loss_and_grad
from mforacle.protocol import ModelSpec
from mforacle.sampling import sample_network

from .torchdiffeq_resnet import ADJOINT, EULER, ParticleField, _readout, sigma

CASE = Path(__file__).resolve().parents[1] / "mforacle" / "examples" / "measure_tanh_d2.json"


def _torch_grad(impl, spec, theta, x, y, w) -> np.ndarray:
    th = torch.tensor(theta, requires_grad=True)
    T = torch.as_tensor
    (g,) = torch.autograd.grad(impl.loss(spec, th, T(x), T(y), T(w)), th)
    return g.numpy()


def _particle_velocity(spec, measure, xi, x, y, w, theta, L) -> np.ndarray:
    """``V_M(θ_{l,m}, l/L)`` for every neuron of ``theta (L, M, k)``: one solve per layer."""
    from torchdiffeq import odeint

    M = theta.shape[1]
    field = ParticleField(spec, measure, 0, nodes=xi, weights=np.full(M, 1.0 / M))
    X, Y, W = (torch.as_tensor(a) for a in (x, y, w))
    d = spec.d

    def solve(z0, t0, t1):
        if t1 <= t0:
            return z0
        ts = torch.tensor([t0, t1], dtype=torch.float64)
        return odeint(field, z0, ts, method="dopri5", rtol=1e-12, atol=1e-12)[-1]

    out = np.empty_like(theta)
    for l in range(L):
        t = l / L
        with torch.no_grad():
            zt = solve(X, 0.0, t)
        zt = zt.clone().requires_grad_(True)
        r = _readout(spec, solve(zt, t, 1.0)) - Y
        (wp,) = torch.autograd.grad((W * r * r / 2).sum(), zt)  # ω_n p(t; x_n)
        th = torch.tensor(theta[l], requires_grad=True)  # (M, k)
        a = zt.detach() @ th[:, :d].T + th[:, 2 * d]  # (N, M)
        fv = (sigma(spec, a)[:, :, None] * th[None, :, d : 2 * d] * wp[:, None, :]).sum()
        (v,) = torch.autograd.grad(fv, th)
        out[l] = v.numpy()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ladder", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    ap.add_argument("--M", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    case = read_case(CASE)
    model, measure = case.model, case.measure
    spec = ModelSpec.from_model(model)
    x = np.array([[float(v) for v in row] for row in case.data.x])
    y = np.array([float(v) for v in case.data.y])
    w = np.array([float(v) for v in case.data.weights])
    xi = np.random.default_rng(args.seed).standard_normal((args.M, measure.r))
    rows = []
    print(f"case {CASE.name}, M = {args.M}, paths scheme, seed {args.seed}")
    print(
        f"{'L':>4} {'adjoint':>10} {'adjoint inner':>14} {'backprop':>10} "
        f"{'V(adjoint inner)':>16} {'V(exact)':>10} {'|adj layer 0|':>14}"
    )
    for L in args.ladder:
        theta = sample_network(measure, L, args.M, seed=args.seed, scheme="paths")
        _, g = loss_and_grad(model, theta, x, y, w)
        g_adj = _torch_grad(ADJOINT, spec, theta, x, y, w)
        g_bp = _torch_grad(EULER, spec, theta, x, y, w)
        V = _particle_velocity(spec, measure, xi, x, y, w, theta, L)
        scale = np.abs(g).max()
        LM = L * args.M
        inner = slice(1, L - 1)  # layers that are neither the first nor the last
        row = (
            np.abs(g_adj - g).max() / scale,
            np.abs(g_adj[inner] - g[inner]).max() / scale,
            np.abs(g_bp - g).max() / scale,
            np.abs(LM * g_adj[inner] - V[inner]).max(),
            np.abs(LM * g - V).max(),
            float(np.abs(g_adj[0]).max()),
        )
        rows.append(row[:5])
        print(
            f"{L:>4} {row[0]:10.3e} {row[1]:14.3e} {row[2]:10.3e} {row[3]:16.3e} "
            f"{row[4]:10.3e} {row[5]:14.3e}"
        )
    logs = np.log(np.array(args.ladder, dtype=float))
    cols = np.array(rows).T
    slopes = [np.polyfit(logs, np.log(np.maximum(col, 1e-300)), 1)[0] for col in cols]
    print("slope vs log L: " + "  ".join(f"{s:+.2f}" for s in slopes))


if __name__ == "__main__":
    main()
