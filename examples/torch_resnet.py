"""A correct PyTorch implementation of the mean-field ResNet (gradients by autograd).

    mforacle check examples.torch_resnet:IMPL                 # float32 (torch's default)
    mforacle check examples.torch_resnet:IMPL --dtype float64

``TorchResNet`` is an ``nn.Module`` whose ``forward(spec, theta, x)`` returns ``z_L`` and whose
``loss`` returns the weighted loss; mforacle's torch adapter hands it tensors of the declared
dtype and takes ``grad_theta`` and ``grad_x`` from autograd. ``train_step`` is a plain SGD step.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def sigma(spec, a: torch.Tensor) -> torch.Tensor:
    name = spec.activation_name
    if name == "tanh":
        return torch.tanh(a)
    if name == "erf":
        return torch.special.erf(a)
    if name == "sigmoid":
        return torch.sigmoid(a)
    if name == "softplus":
        # log(1 + e^a), stable for every a. Not torch.nn.functional.softplus(a): above its
        # threshold (20) it returns a itself, off by log1p(e^-a) ~ 2e-9 — a float64 error.
        return torch.logaddexp(a, torch.zeros_like(a))
    if name == "sin":
        return torch.sin(a)
    eta = spec.eta
    mid = (a + eta) ** 2 / (4 * eta)
    return torch.where(a > eta, a, torch.where(a < -eta, torch.zeros_like(a), mid))


class TorchResNet(nn.Module):
    framework = "torch"
    supports_kappa = True
    name = "torch-resnet"

    def __init__(self, dtype: str = "float32") -> None:
        super().__init__()
        self.dtype = dtype

    def forward(self, spec, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        d = spec.d
        L, M, _ = theta.shape
        z = x
        for l in range(L):
            W, U, b = theta[l, :, :d], theta[l, :, d : 2 * d], theta[l, :, 2 * d]
            z = z + sigma(spec, z @ W.T + b) @ U / (L * M)
        return z

    def loss(self, spec, theta, x, y, weights):
        z = self(spec, theta, x)
        a = torch.as_tensor(spec.a, dtype=z.dtype)
        g = z @ a + spec.kappa / 2 * (z * z).sum(dim=1)
        return (weights * (g - y) ** 2 / 2).sum()

    def train_step(self, spec, theta, x, y, weights, lr):
        th = theta.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(self.loss(spec, th, x, y, weights), th)
        return (th - lr * g).detach()


IMPL = TorchResNet()
_ = math  # (kept for users extending sigma with closed forms)
