"""The minimal interface an implementation under test provides.

An implementation is any Python object (a module, an instance, a class with a no-argument
constructor, or a bare function) with these members; only ``forward`` is required::

    forward(spec, theta, x) -> z_L                                  # (N, d)   REQUIRED
    loss(spec, theta, x, y, weights) -> E                           # scalar   optional
    gradient(spec, theta, x, y, weights) -> (grad_theta, grad_x)    # optional (or a dict)
    train_step(spec, theta, x, y, weights, lr) -> theta_next        # optional: one GD step
    limit(spec, measure, x, y, weights, probes) -> dict             # optional: M = L = ∞
    loss_batch(spec, thetas, x, y, weights) -> E                    # (S,)     optional batch
    train_step_batch(spec, thetas, x, y, weights, lr) -> thetas     # (S, L, M, 2d+1)  batch
    dtype = "float64"            # its arithmetic: float64 | float32 | float16 | bfloat16
    activations = ("tanh", ...)  # supported activation names (default: all of them)
    supports_kappa = True        # whether the readout's kappa may be != 0
    framework = "numpy"          # numpy | torch | jax (detected for torch modules)
    name = "my-resnet"

``spec`` is a :class:`ModelSpec` (``d``, ``activation``, ``eta``, readout ``a`` and ``kappa``).
Arrays follow ``docs/model.md``: ``theta (L, M, 2d+1)`` with rows ``(w, u, b)``,
``x (N, d)``, ``y (N,)``, ``weights (N,)`` summing to one; ``E = Σ ω_n ½(g(z_L(x_n)) − y_n)²``
with ``g(z) = a·z + (κ/2)|z|²``; ``grad_theta = ∂E/∂theta``; ``grad_x[n] = ∂ℓ_n/∂x_n``
*unweighted*. Arrays are handed over in the declared dtype, as NumPy arrays (``numpy``), torch
tensors (``torch``; ``gradient`` may be left out when ``loss`` is given: autograd supplies it)
or JAX arrays (``jax``; likewise with ``jax.grad``). A missing optional member makes the checks
that need it *not checked*; it never fails a run.

The *batch* members (:data:`BATCH_MEMBERS`) take ``S`` networks stacked on a leading axis,
``thetas (S, L, M, 2d+1)``, with shared data; member ``s`` of the result must be what ``loss`` /
``train_step`` give for ``thetas[s]``. They are a speed-up only: the claims' seed sweeps (B3,
C3.width) call them when present, else ``loss`` / ``train_step`` once per network; nothing is
ever *not checked* for their absence. mforacle's own fast path provides them (its ensembles,
bit-identical to one network at a time).

``limit`` (the mean-field limit of a Gaussian depth-path measure) returns a dict with any of
``energy``, ``Z1``, ``first_variation``, ``velocity`` and its own ``error_bound`` per field; see
:mod:`mforacle.harness.limit`. It gets NumPy arrays (torch tensors / JAX arrays for those
frameworks) for ``x``, ``y``, ``weights``, the probes' ``theta``, and the exact measure.

The adapters (:mod:`mforacle.harness.adapters`) turn such an object into an
:class:`Implementation`, whose callables take and return float64-convertible NumPy arrays; the
claims (:mod:`mforacle.claims`) call it through one adapter, :class:`mforacle.claims.subject.
ClaimSubject`. mforacle's own fast path is an implementation of this protocol too
(:mod:`mforacle.builtin`). This is the only implementation protocol in mforacle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .dtypes import DTYPES, check_dtype
from .model import ACTIVATION_NAMES, Model

__all__ = [
    "BATCH_MEMBERS",
    "DTYPES",
    "MEMBERS",
    "OPTIONAL_MEMBERS",
    "Implementation",
    "ModelSpec",
    "check_dtype",
]

OPTIONAL_MEMBERS = ("loss", "gradient", "train_step", "limit")
#: optional members for ``S`` networks at once (module docstring); never required by a claim
BATCH_MEMBERS = ("loss_batch", "train_step_batch")
#: every callable member of the protocol, ``forward`` first (the one that is required)
MEMBERS = ("forward", *OPTIONAL_MEMBERS)


@dataclass(frozen=True)
class ModelSpec:
    """What an implementation is told about the model (plain floats, exact in float64)."""

    d: int
    activation: str  # "tanh", ..., "regrelu:0.1"
    activation_name: str  # "tanh", ..., "regrelu"
    eta: float | None  # regrelu's half-width, else None
    a: np.ndarray  # (d,) float64
    kappa: float
    model: Model  # the exact description, for implementations that want it

    @classmethod
    def from_model(cls, model: Model) -> ModelSpec:
        eta = model.activation.eta
        return cls(
            d=model.d,
            activation=str(model.activation),
            activation_name=model.activation.name,
            eta=None if eta is None else float(eta),
            a=np.array([float(v) for v in model.a], dtype=np.float64),
            kappa=float(model.kappa),
            model=model,
        )


@dataclass
class Implementation:
    """An implementation normalized by an adapter: NumPy in, NumPy out, ``None`` = absent.

    ``forward(spec, theta, x)``, ``loss(spec, theta, x, y, w)``,
    ``gradient(spec, theta, x, y, w) -> (grad_theta, grad_x)``,
    ``train_step(spec, theta, x, y, w, lr)``, ``limit(spec, measure, x, y, w, probes)``;
    inputs are NumPy arrays already rounded to ``dtype`` (held in float64 for ``bfloat16``);
    outputs are converted back by the adapter and validated by the checks (shape, dtype,
    finiteness).
    """

    name: str
    framework: str
    dtype: str
    forward: Callable[..., Any] | None
    loss: Callable[..., Any] | None = None
    gradient: Callable[..., Any] | None = None
    train_step: Callable[..., Any] | None = None
    limit: Callable[..., Any] | None = None
    loss_batch: Callable[..., Any] | None = None  # batch members (module docstring)
    train_step_batch: Callable[..., Any] | None = None
    activations: frozenset[str] = field(default_factory=lambda: frozenset(ACTIVATION_NAMES))
    supports_kappa: bool = True
    source: str = ""  # the "module.path:object" it was loaded from, for reproduction commands
    #: the dtype the outputs must have (None: any float dtype at least as wide as ``dtype``)
    output_dtype: str | None = None
    #: outputs read back from decimal text may sit up to this many units of roundoff of
    #: ``dtype`` (relative) away from the value computed (file mode: shortest round-trip
    #: decimals of a float32 value are within half an ulp of it); added to the bounds
    output_rounding: float = 0.0
    #: what mforacle changed to run it (e.g. switched on JAX's float64), for the report
    notes: tuple[str, ...] = ()

    def supports(self, model: Model) -> str | None:
        """``None`` if this implementation covers ``model``, else the reason it does not."""
        if model.activation.name not in self.activations:
            return f"activation {model.activation} not declared supported"
        if model.kappa != 0 and not self.supports_kappa:
            return "kappa != 0 not declared supported"
        return None

    def provides(self, member: str) -> bool:
        return getattr(self, member) is not None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "framework": self.framework,
            "dtype": self.dtype,
            "source": self.source,
            "provides": ["forward", *[m for m in OPTIONAL_MEMBERS if self.provides(m)]],
            "activations": sorted(self.activations),
            "supports_kappa": self.supports_kappa,
            **({"notes": list(self.notes)} if self.notes else {}),
        }
