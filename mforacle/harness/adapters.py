"""Adapters: turn a user's object (NumPy, PyTorch, JAX) into an :class:`Implementation`.

Every adapter hands the implementation its inputs rounded to the declared dtype (so the exact
reference is computed on exactly what the implementation saw) and returns NumPy arrays whose
dtype is the one the implementation produced (a float32 tensor stays float32; bfloat16 comes
back as float32, which holds it exactly). torch and jax are imported only when needed.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from ..dtypes import check_dtype, numpy_dtype
from ..errors import ImplementationError
from ..model import ACTIVATION_NAMES
from ..protocol import BATCH_MEMBERS, MEMBERS, OPTIONAL_MEMBERS, Implementation

__all__ = ["FRAMEWORKS", "adapt", "detect_framework"]

FRAMEWORKS = ("numpy", "torch", "jax")
#: the report's note when the JAX adapter switches on float64 for a float64 implementation
JAX_X64_NOTE = (
    "mforacle switched on jax_enable_x64 to run this float64 JAX implementation; your own "
    "scripts compute in float32 unless they do the same "
    "(jax.config.update('jax_enable_x64', True))"
)


def detect_framework(obj: Any) -> str:
    """``obj.framework`` if declared, ``torch`` for torch modules, else ``numpy``."""
    declared = getattr(obj, "framework", None)
    if isinstance(declared, str):
        if declared not in FRAMEWORKS:
            raise ImplementationError(
                f"framework {declared!r} unknown; expected one of {FRAMEWORKS}"
            )
        return declared
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(obj, torch.nn.Module):
        return "torch"
    return "numpy"


def _members(obj: Any) -> dict[str, Any]:
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return {"forward": obj, "name": getattr(obj, "__name__", "forward")}
    found = {m: getattr(obj, m, None) for m in (*MEMBERS, *BATCH_MEMBERS)}
    if found["forward"] is None and callable(obj) and not inspect.isclass(obj):
        found["forward"] = obj
    if not callable(found["forward"]):
        raise ImplementationError(
            f"{obj!r} has no callable 'forward(spec, theta, x)'; see mforacle.protocol"
        )
    for m in (*OPTIONAL_MEMBERS, *BATCH_MEMBERS):
        if found[m] is not None and not callable(found[m]):
            raise ImplementationError(f"{obj!r}.{m} is not callable")
    found["name"] = (
        getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__
    )
    return found


def adapt(
    obj: Any, *, dtype: str | None = None, framework: str | None = None, source: str = ""
) -> Implementation:
    """Wrap ``obj`` (see :mod:`mforacle.protocol`) as an :class:`Implementation`.

    ``dtype`` / ``framework`` override what the object declares. A class is instantiated with
    no arguments. Raises :class:`ImplementationError` if the object lacks ``forward``.
    """
    if isinstance(obj, Implementation):
        return obj
    if inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise ImplementationError(
                f"cannot instantiate {obj!r} with no arguments: {exc}"
            ) from exc
    fw = framework or detect_framework(obj)
    if fw not in FRAMEWORKS:
        raise ImplementationError(f"framework {fw!r} unknown; expected one of {FRAMEWORKS}")
    members = _members(obj)
    declared = dtype or getattr(obj, "dtype", None) or ("float32" if fw == "torch" else "float64")
    try:
        dt = check_dtype(declared)
    except Exception as exc:
        raise ImplementationError(str(exc)) from None
    acts = getattr(obj, "activations", None)
    activations = frozenset(ACTIVATION_NAMES if acts is None else acts)
    unknown = activations - set(ACTIVATION_NAMES)
    if unknown:
        raise ImplementationError(
            f"activations {sorted(unknown)} unknown; expected {ACTIVATION_NAMES}"
        )
    build = {"numpy": _numpy, "torch": _torch, "jax": _jax}[fw]
    calls = build(members, dt)
    notes = tuple(calls.pop("notes", None) or ())
    return Implementation(
        name=str(members["name"]),
        framework=fw,
        dtype=dt,
        activations=activations,
        supports_kappa=bool(getattr(obj, "supports_kappa", True)),
        source=source,
        output_dtype="float32" if dt == "bfloat16" else dt,
        notes=notes,
        **calls,
    )


# --- NumPy ---------------------------------------------------------------------------------


def _numpy(m: dict[str, Any], dtype: str) -> dict[str, Callable[..., Any] | None]:
    nd = numpy_dtype(dtype)

    def cast(*arrays: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(a).astype(nd) for a in arrays]

    def wrap(fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
        if fn is None:
            return None

        def call(spec: Any, *arrays: Any, **kw: Any) -> Any:
            args = cast(*arrays[:4]) + list(arrays[4:])
            return fn(spec, *args, **kw)

        return call

    lim = m.get("limit")

    def limit(spec: Any, measure: Any, x: Any, y: Any, w: Any, probes: Any) -> Any:
        xs = cast(x, y, w)
        return lim(spec, measure, *xs, [(t, np.asarray(th).astype(nd)) for t, th in probes])

    calls = {k: wrap(m.get(k)) for k in ("forward", "loss", "gradient", "train_step")}
    batch = {k: wrap(m.get(k)) for k in BATCH_MEMBERS}  # NumPy only: torch/JAX run one by one
    return {**calls, **batch, "limit": limit if lim is not None else None}


# --- PyTorch -------------------------------------------------------------------------------


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImplementationError(
            "this implementation uses PyTorch, which is not installed: "
            "pip install 'mforacle[torch]'"
        ) from exc
    return torch


def _torch(m: dict[str, Any], dtype: str) -> dict[str, Callable[..., Any] | None]:
    torch = _import_torch()
    tdt = getattr(torch, dtype)

    def T(a: Any, grad: bool = False) -> Any:
        t = torch.tensor(np.asarray(a, dtype=np.float64), dtype=tdt)
        return t.requires_grad_(True) if grad else t

    def out(t: Any) -> Any:
        if isinstance(t, tuple | list):
            return type(t)(out(v) for v in t)
        if isinstance(t, dict):
            return {k: out(v) for k, v in t.items()}
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu()
            if t.dtype == torch.bfloat16:
                t = t.float()
            return t.numpy()
        return t

    fwd, lss, grd, stp = m["forward"], m.get("loss"), m.get("gradient"), m.get("train_step")

    def forward(spec: Any, theta: Any, x: Any) -> Any:
        with torch.no_grad():
            return out(fwd(spec, T(theta), T(x)))

    def loss(spec: Any, theta: Any, x: Any, y: Any, w: Any) -> Any:
        with torch.no_grad():
            return out(lss(spec, T(theta), T(x), T(y), T(w)))

    def gradient(spec: Any, theta: Any, x: Any, y: Any, w: Any) -> Any:
        if grd is not None:
            return out(grd(spec, T(theta), T(x), T(y), T(w)))
        th, xx = T(theta, True), T(x, True)
        (g_theta,) = torch.autograd.grad(lss(spec, th, xx, T(y), T(w)), th)
        # grad_x[n] = dℓ_n/dx_n unweighted: with uniform weights 1/N, N·∂E/∂x_n.
        n = np.asarray(x).shape[0]
        xu = T(x, True)
        (g_x,) = torch.autograd.grad(lss(spec, T(theta), xu, T(y), T(np.full(n, 1.0 / n))), xu)
        return out(g_theta), out(g_x * n)

    def train_step(spec: Any, theta: Any, x: Any, y: Any, w: Any, lr: float) -> Any:
        return out(stp(spec, T(theta), T(x), T(y), T(w), lr))

    lim = m.get("limit")

    def limit(spec: Any, measure: Any, x: Any, y: Any, w: Any, probes: Any) -> Any:
        with torch.no_grad():
            return out(lim(spec, measure, T(x), T(y), T(w), [(t, T(th)) for t, th in probes]))

    return {
        "forward": forward,
        "loss": loss if lss is not None else None,
        "gradient": gradient if (grd is not None or lss is not None) else None,
        "train_step": train_step if stp is not None else None,
        "limit": limit if lim is not None else None,
    }


# --- JAX -----------------------------------------------------------------------------------


def _import_jax() -> Any:
    try:
        import jax
    except ImportError as exc:
        raise ImplementationError(
            "this implementation uses JAX, which is not installed: pip install 'mforacle[jax]'"
        ) from exc
    return jax


def _jax(m: dict[str, Any], dtype: str) -> dict[str, Callable[..., Any] | None]:
    jax = _import_jax()
    notes = []
    if dtype == "float64" and not getattr(jax.config, "jax_enable_x64", False):
        jax.config.update("jax_enable_x64", True)
        notes.append(JAX_X64_NOTE)
    jnp = jax.numpy
    jdt = getattr(jnp, dtype)

    def J(a: Any) -> Any:
        return jnp.asarray(np.asarray(a, dtype=np.float64), dtype=jdt)

    def out(t: Any) -> Any:
        if isinstance(t, tuple | list):
            return type(t)(out(v) for v in t)
        if isinstance(t, dict):
            return {k: out(v) for k, v in t.items()}
        if hasattr(t, "dtype") and str(t.dtype) == "bfloat16":
            return np.asarray(t.astype(jnp.float32))
        return np.asarray(t)

    fwd, lss, grd, stp = m["forward"], m.get("loss"), m.get("gradient"), m.get("train_step")
    lim = m.get("limit")

    def gradient(spec: Any, theta: Any, x: Any, y: Any, w: Any) -> Any:
        if grd is not None:
            return out(grd(spec, J(theta), J(x), J(y), J(w)))
        n = np.asarray(x).shape[0]
        g_theta = jax.grad(lambda t: lss(spec, t, J(x), J(y), J(w)))(J(theta))
        g_x = jax.grad(lambda xx: lss(spec, J(theta), xx, J(y), J(np.full(n, 1.0 / n))))(J(x))
        return out(g_theta), out(g_x * n)

    return {
        "notes": notes,
        "forward": lambda spec, th, x: out(fwd(spec, J(th), J(x))),
        "loss": (lambda spec, th, x, y, w: out(lss(spec, J(th), J(x), J(y), J(w))))
        if lss is not None
        else None,
        "gradient": gradient if (grd is not None or lss is not None) else None,
        "train_step": (lambda spec, th, x, y, w, lr: out(stp(spec, J(th), J(x), J(y), J(w), lr)))
        if stp is not None
        else None,
        "limit": (
            lambda spec, ms, x, y, w, pr: out(
                lim(spec, ms, J(x), J(y), J(w), [(t, J(th)) for t, th in pr])
            )
        )
        if lim is not None
        else None,
    }
