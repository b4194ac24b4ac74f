"""The mean-field ResNet in JAX: plain ``jax.numpy`` and on diffrax's ODE solvers.

    mforacle check examples.jax_resnet:IMPL          --dtype float64   # jnp loop, jax.grad
    mforacle check examples.jax_resnet:DIFFRAX_EULER --dtype float64   # diffrax.Euler on l/L

``IMPL``
    the residual blocks as a ``jax.lax.scan`` over layers; mforacle's JAX adapter takes
    ``grad_theta`` and ``grad_x`` from ``jax.grad`` of ``loss``.
``DIFFRAX_EULER``
    ``diffrax.diffeqsolve`` with ``diffrax.Euler()`` and step ``dt0 = 1/L`` from ``t0 = 0`` to
    ``t1 = 1``, the field selecting layer ``l = round(t·L)``: one Euler step is one block, so
    this is the discrete network; gradients by ``jax.grad`` through the solver
    (``diffrax.RecursiveCheckpointAdjoint``, i.e. discretize-then-optimize).

For float64 the adapter switches on ``jax_enable_x64`` (and the report says so); a script of
your own stays float32 unless it does the same. Requires ``pip install jax`` (and ``diffrax``
for the second implementation).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


def sigma(spec: Any, a: Any) -> Any:
    name = spec.activation_name
    if name == "tanh":
        return jnp.tanh(a)
    if name == "erf":
        return jax.scipy.special.erf(a)
    if name == "sigmoid":
        return jax.nn.sigmoid(a)
    if name == "softplus":
        return jnp.logaddexp(a, 0.0)
    if name == "sin":
        return jnp.sin(a)
    eta = spec.eta
    return jnp.where(a > eta, a, jnp.where(a < -eta, 0.0, (a + eta) ** 2 / (4 * eta)))


def _readout(spec: Any, z: Any) -> Any:
    return z @ jnp.asarray(spec.a, dtype=z.dtype) + spec.kappa / 2 * (z * z).sum(axis=-1)


class JaxResNet:
    framework = "jax"
    supports_kappa = True

    def __init__(self, dtype: str = "float64") -> None:
        self.dtype = dtype
        self.name = "jax-resnet"

    def forward(self, spec: Any, theta: Any, x: Any) -> Any:
        d = spec.d
        L, M, _ = theta.shape

        def block(z: Any, th: Any) -> tuple[Any, None]:
            W, U, b = th[:, :d], th[:, d : 2 * d], th[:, 2 * d]
            return z + sigma(spec, z @ W.T + b) @ U / (L * M), None

        z, _ = jax.lax.scan(block, x, theta)
        return z

    def loss(self, spec: Any, theta: Any, x: Any, y: Any, weights: Any) -> Any:
        r = _readout(spec, self.forward(spec, theta, x)) - y
        return (weights * r * r / 2).sum()


class DiffraxEuler(JaxResNet):
    def __init__(self, dtype: str = "float64") -> None:
        super().__init__(dtype)
        self.name = "diffrax-euler"

    def forward(self, spec: Any, theta: Any, x: Any) -> Any:
        import diffrax

        d = spec.d
        L, M, _ = theta.shape

        def field(t: Any, z: Any, th: Any) -> Any:
            l = jnp.clip(jnp.floor(t * L + 0.5).astype(jnp.int32), 0, L - 1)
            W, U, b = th[l, :, :d], th[l, :, d : 2 * d], th[l, :, 2 * d]
            return sigma(spec, z @ W.T + b) @ U / M

        sol = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.Euler(),
            t0=0.0,
            t1=1.0,
            dt0=1.0 / L,
            y0=x,
            args=theta,
            saveat=diffrax.SaveAt(t1=True),
            max_steps=L + 1,
        )
        return sol.ys[-1]


IMPL = JaxResNet("float64")
DIFFRAX_EULER = DiffraxEuler("float64")
