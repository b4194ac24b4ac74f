"""A correct NumPy implementation of the mean-field ResNet, in float64 or float32.

    mforacle check examples.numpy_resnet:IMPL                 # float64
    mforacle check examples.numpy_resnet:IMPL32               # float32 (declared)

Follows the protocol of ``mforacle.protocol``: ``forward``, ``loss``, ``gradient``
(hand-written adjoint) and ``train_step``. Every operation stays in ``self.dtype``. The small
methods (``_h``, ``_sigma``, ``_dsigma``, ``_grad_g``, ``_layers``, ``_matmul``) exist so tests
can derive deliberately wrong variants from this one.
"""

from __future__ import annotations

import math

import numpy as np

_erf = np.vectorize(math.erf, otypes=[np.float64])


class NumpyResNet:
    framework = "numpy"
    supports_kappa = True
    activations = ("tanh", "erf", "sigmoid", "softplus", "sin", "regrelu")

    def __init__(self, dtype: str = "float64") -> None:
        self.dtype = dtype
        self.name = f"numpy-resnet-{dtype}"
        self.dt = np.dtype(dtype)

    # --- pieces --------------------------------------------------------------------------
    def _h(self, L: int, M: int) -> float:
        return 1.0 / (L * M)

    def _layers(self, L: int) -> range:
        return range(L)

    def _matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a @ b

    def _sigma(self, spec, a: np.ndarray) -> np.ndarray:
        name = spec.activation_name
        if name == "tanh":
            return np.tanh(a)
        if name == "erf":
            return _erf(a).astype(self.dt)
        if name == "sigmoid":
            return 1 / (1 + np.exp(-a))
        if name == "softplus":
            return np.logaddexp(a, np.zeros_like(a))
        if name == "sin":
            return np.sin(a)
        eta = self.dt.type(spec.eta)
        mid = (a + eta) ** 2 / (4 * eta)
        return np.where(a > eta, a, np.where(a < -eta, np.zeros_like(a), mid))

    def _dsigma(self, spec, a: np.ndarray) -> np.ndarray:
        name = spec.activation_name
        if name == "tanh":
            return 1 - np.tanh(a) ** 2
        if name == "erf":
            return (self.dt.type(2 / math.sqrt(math.pi)) * np.exp(-(a * a))).astype(self.dt)
        if name in ("sigmoid", "softplus"):
            s = 1 / (1 + np.exp(-a))
            return s * (1 - s) if name == "sigmoid" else s
        if name == "sin":
            return np.cos(a)
        eta = self.dt.type(spec.eta)
        mid = (a + eta) / (2 * eta)
        return np.where(a > eta, np.ones_like(a), np.where(a < -eta, np.zeros_like(a), mid))

    def _grad_g(self, spec, z: np.ndarray) -> np.ndarray:
        return spec.a.astype(self.dt) + self.dt.type(spec.kappa) * z

    def _g(self, spec, z: np.ndarray) -> np.ndarray:
        a, kappa = spec.a.astype(self.dt), self.dt.type(spec.kappa)
        return self._matmul(z, a) + kappa / 2 * np.sum(z * z, axis=1)

    # --- protocol ------------------------------------------------------------------------
    def _trajectory(self, spec, theta: np.ndarray, x: np.ndarray) -> list[np.ndarray]:
        d = spec.d
        L, M, _ = theta.shape
        h = self.dt.type(self._h(L, M))
        z = [x.astype(self.dt)]
        for l in self._layers(L):
            W, U, b = theta[l, :, :d], theta[l, :, d : 2 * d], theta[l, :, 2 * d]
            A = self._matmul(z[-1], W.T) + b
            z.append(z[-1] + h * self._matmul(self._sigma(spec, A), U))
        return z

    def forward(self, spec, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
        return self._trajectory(spec, theta, x)[-1]

    def loss(self, spec, theta, x, y, weights):
        r = self._g(spec, self.forward(spec, theta, x)) - y
        return np.sum(weights * (r * r) / 2)

    def gradient(self, spec, theta, x, y, weights):
        d = spec.d
        L, M, k = theta.shape
        h = self.dt.type(self._h(L, M))
        z = self._trajectory(spec, theta, x)
        q = (self._g(spec, z[-1]) - y)[:, None] * self._grad_g(spec, z[-1])
        grad = np.zeros((L, M, k), dtype=self.dt)
        layers = list(self._layers(L))
        for step in range(L - 1, -1, -1):
            l = layers[step]
            W, U, b = theta[l, :, :d], theta[l, :, d : 2 * d], theta[l, :, 2 * d]
            A = self._matmul(z[step], W.T) + b
            G = self._dsigma(spec, A) * self._matmul(q, U.T)  # (N, M): σ'(a) (u·q)
            wG = weights[:, None] * G
            grad[l, :, :d] = h * self._matmul(wG.T, z[step])
            grad[l, :, d : 2 * d] = h * self._matmul((weights[:, None] * self._sigma(spec, A)).T, q)
            grad[l, :, 2 * d] = h * np.sum(wG, axis=0)
            q = q + h * self._matmul(G, W)
        return grad, q

    def train_step(self, spec, theta, x, y, weights, lr):
        g, _ = self.gradient(spec, theta, x, y, weights)
        return theta - self.dt.type(lr) * g


IMPL = NumpyResNet("float64")
IMPL32 = NumpyResNet("float32")
