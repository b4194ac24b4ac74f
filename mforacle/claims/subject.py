"""The implementation under test, as the claims call it: :class:`ClaimSubject`.

There is one implementation protocol in mforacle, the documented one (:mod:`mforacle.protocol`:
``forward``, ``loss``, ``gradient``, ``train_step``, ``limit``, ``dtype``, ``name``, ...).
:class:`ClaimSubject` is the claims' only adapter of it. It wraps either a normalized
:class:`mforacle.protocol.Implementation` (what the harness's adapters build, with a timeout
caller) or any object with the protocol's members taking NumPy arrays (mforacle's own fast
path, :data:`mforacle.builtin.FAST`, and the deliberately broken implementations of the tests),
and offers what the claims need, in terms of the exact :class:`mforacle.model.Model`:

- ``forward(model, theta, x) -> z_L (N, d)``, ``loss(...) -> E``,
  ``gradient(...) -> (grad_theta (L, M, k), grad_x (N, d) or None)``, and the two halves
  ``loss_and_grad`` (for :func:`mforacle.training.stable_step`) and ``grad_x``;
- ``train(model, theta0, x, y, weights, *, ds, steps) -> (steps + 1, L, M, k)``: ``steps`` calls
  of ``train_step`` with the learning rate ``lr = Δs·L·M`` (the paper's time ``s``,
  ``docs/model.md`` §3);
- ``dtype`` and its unit roundoff ``u`` (:mod:`mforacle.dtypes`), ``label`` (who computed a
  number, for :attr:`mforacle.verdict.Verdict.provenance`).

Every call goes through ``caller.call(member, fn, *args)`` (the harness passes its timeout caller
or its worker-process caller; default: a direct call). Inputs are rounded to the subject's dtype
(held in float64) and the uniform weights ``1/N`` are filled in; outputs are converted to
float64 and shape-checked. A call that fails, times out or returns the wrong shape raises
:class:`mforacle.errors.ImplementationError`, which the registry turns into an ``error`` verdict.
A member the implementation lacks is never replaced by mforacle's own code: the claim that
needs it is *not checked* (:meth:`ClaimSubject.lacks`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mforacle.dtypes import check_dtype, round_to_dtype, unit_roundoff
from mforacle.errors import ImplementationError, InvalidArgument
from mforacle.model import Model
from mforacle.protocol import MEMBERS, ModelSpec

__all__ = ["ClaimSubject", "builtin_subject"]


@dataclass(frozen=True)
class _Answer:
    ok: bool
    value: Any = None
    error: str = ""


class _DirectCaller:
    """Calls the member in this thread, no timeout; an exception propagates unchanged (with its
    traceback, for the ``error`` verdict and for tests)."""

    def call(self, what: str, fn: Any, *args: Any) -> _Answer:
        return _Answer(True, fn(*args))


class ClaimSubject:
    """The implementation under test, called through ``caller`` (module docstring).

    ``include_builtin``: also run the checks of mforacle's *own* code that ride with a claim
    (C1.flow and C2.flow on the built-in particle flow, A5.exact on the exact path). Only for
    mforacle's own fast path (``mforacle claims``, ``mforacle report``); a third-party subject
    gets those as *not checked* (the protocol has no particle flow) or not at all.
    """

    def __init__(self, impl: Any, caller: Any = None, *, include_builtin: bool = False) -> None:
        if isinstance(impl, ClaimSubject):
            raise InvalidArgument("impl", impl.label, "already a ClaimSubject")
        self.impl = impl
        self.caller = caller if caller is not None else _DirectCaller()
        self.name = str(getattr(impl, "name", None) or type(impl).__name__)
        self.source = str(getattr(impl, "source", "") or "")
        self.dtype = check_dtype(getattr(impl, "dtype", None) or "float64")
        self.u = unit_roundoff(self.dtype)
        self.include_builtin = bool(include_builtin)

    @classmethod
    def of(cls, obj: Any) -> ClaimSubject:
        """``obj`` itself if it is a subject, else a subject calling ``obj`` directly."""
        return obj if isinstance(obj, ClaimSubject) else cls(obj)

    @property
    def label(self) -> str:
        """Who computes this subject's numbers: its ``module:object`` source, else its name."""
        return self.source or self.name

    def __repr__(self) -> str:
        return f"ClaimSubject({self.label!r}, dtype={self.dtype!r})"

    # --- what it provides ----------------------------------------------------------------------
    def provides(self, member: str) -> bool:
        """Whether the implementation has the protocol member ``member`` (callable)."""
        if member not in MEMBERS:
            raise InvalidArgument("member", member, f"expected one of {list(MEMBERS)}")
        return callable(getattr(self.impl, member, None))

    def lacks(self, members: tuple[str, ...]) -> list[str]:
        """The members of ``members`` the implementation does not provide."""
        return [m for m in members if not self.provides(m)]

    # --- calls ---------------------------------------------------------------------------------
    def _call(self, member: str, *args: Any) -> Any:
        fn = getattr(self.impl, member, None)
        if not callable(fn):
            raise ImplementationError(f"{self.label} has no {member}")
        out = self.caller.call(member, fn, *args)
        if not out.ok:
            raise ImplementationError(out.error)
        return out.value

    def _r(self, a: Any) -> np.ndarray:
        return round_to_dtype(a, self.dtype)

    def _data(self, x: Any, y: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        xs = self._r(x)
        n = xs.shape[0]
        w = np.full(n, 1.0 / n) if weights is None else weights
        return xs, self._r(y), self._r(w)

    @staticmethod
    def _spec(model: Model) -> ModelSpec:
        return ModelSpec.from_model(model)

    def forward(self, model: Model, theta: Any, x: Any) -> np.ndarray:
        """``z_L`` of every data point, ``(N, d)``."""
        th, xs = self._r(theta), self._r(x)
        out = self._call("forward", self._spec(model), th, xs)
        return _array(out, (xs.shape[0], model.d), "forward")

    def loss(self, model: Model, theta: Any, x: Any, y: Any, weights: Any = None) -> float:
        """``E = Σ ω_n ½ (g(z_L(x_n)) − y_n)²``."""
        out = self._call("loss", self._spec(model), self._r(theta), *self._data(x, y, weights))
        return float(_array(out, (), "loss"))

    def gradient(
        self, model: Model, theta: Any, x: Any, y: Any, weights: Any = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """``(∂E/∂θ (L, M, k), ∂ℓ_n/∂x_n (N, d))``; the second is ``None`` if not returned."""
        th = self._r(theta)
        xs, ys, ws = self._data(x, y, weights)
        g = self._call("gradient", self._spec(model), th, xs, ys, ws)
        try:
            gt, gx = (g.get("grad_theta"), g.get("grad_x")) if isinstance(g, dict) else g
        except (TypeError, ValueError):
            raise ImplementationError(
                "gradient must return (grad_theta, grad_x) or a dict with those keys; "
                f"got {type(g).__name__}"
            ) from None
        if gt is None:
            raise ImplementationError("gradient returned no grad_theta")
        grad_theta = _array(gt, th.shape, "grad_theta")
        return grad_theta, None if gx is None else _array(gx, xs.shape, "grad_x")

    def loss_and_grad(
        self, model: Model, theta: Any, x: Any, y: Any, weights: Any = None
    ) -> tuple[float, np.ndarray]:
        """``(E, ∂E/∂θ)``: the signature :mod:`mforacle.training` takes."""
        return self.loss(model, theta, x, y, weights), self.gradient(model, theta, x, y, weights)[0]

    def grad_x(self, model: Model, theta: Any, x: Any, y: Any, weights: Any = None) -> np.ndarray:
        """Each point's own, unweighted ``∂ℓ_n/∂x_n``, ``(N, d)``.

        Raises:
            ImplementationError: ``gradient`` returned no ``grad_x``.
        """
        gx = self.gradient(model, theta, x, y, weights)[1]
        if gx is None:
            raise ImplementationError("gradient returned no grad_x")
        return gx

    def train_step(
        self, model: Model, theta: Any, x: Any, y: Any, weights: Any, lr: float
    ) -> np.ndarray:
        """One gradient-descent step with learning rate ``lr``: ``θ_next (L, M, k)``."""
        th = self._r(theta)
        out = self._call("train_step", self._spec(model), th, *self._data(x, y, weights), lr)
        return _array(out, th.shape, "train_step")

    def train(
        self,
        model: Model,
        theta0: Any,
        x: Any,
        y: Any,
        weights: Any = None,
        *,
        ds: float,
        steps: int,
    ) -> np.ndarray:
        """``Θ_0 … Θ_steps`` of GD in the paper's time: ``train_step`` with ``lr = Δs·L·M``."""
        theta = self._r(theta0)
        L, M = theta.shape[:2]
        out = [theta]
        for _ in range(int(steps)):
            theta = self.train_step(model, theta, x, y, weights, ds * L * M)
            out.append(theta)
        return np.stack(out)

    # --- S networks at once (the seed sweeps of B3 and C3.width) --------------------------------
    def losses(self, model: Model, thetas: Any, x: Any, y: Any, weights: Any = None) -> np.ndarray:
        """``E`` of each of ``S`` networks ``thetas (S, L, M, k)`` on shared data, ``(S,)``: one
        call of the implementation's ``loss_batch`` when it has one (:data:`mforacle.protocol.
        BATCH_MEMBERS`), else ``S`` calls of ``loss`` (the same numbers either way for an
        implementation that keeps the protocol's promise)."""
        th = self._r(thetas)
        fn = _batch_member(self.impl, "loss_batch")
        if fn is None:
            return np.array([self.loss(model, t, x, y, weights) for t in th], dtype=np.float64)
        out = self._call("loss_batch", self._spec(model), th, *self._data(x, y, weights))
        return _array(out, th.shape[:1], "loss_batch")

    def train_final(
        self,
        model: Model,
        theta0s: Any,
        x: Any,
        y: Any,
        weights: Any = None,
        *,
        ds: float,
        steps: int,
    ) -> np.ndarray:
        """``Θ_steps`` of GD (``lr = Δs·L·M``, as :meth:`train`) from each of ``S`` networks
        ``theta0s (S, L, M, k)``, ``(S, L, M, k)``: ``train_step_batch`` when the implementation
        has it, else ``train_step`` network by network."""
        th = self._r(theta0s)
        L, M = th.shape[1:3]
        fn = _batch_member(self.impl, "train_step_batch")
        if fn is None:
            return np.stack(
                [self.train(model, t, x, y, weights, ds=ds, steps=steps)[-1] for t in th]
            )
        spec, data = self._spec(model), self._data(x, y, weights)
        for _ in range(int(steps)):
            out = self._call("train_step_batch", spec, th, *data, ds * L * M)
            th = _array(out, th.shape, "train_step_batch")
        return th


def _batch_member(impl: Any, member: str) -> Any:
    fn = getattr(impl, member, None)
    return fn if callable(fn) else None


def _array(value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (a scalar may come as any size-1 array)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ImplementationError(f"{what}: not a float array ({exc})") from None
    if arr.shape != shape and not (shape == () and arr.size == 1):
        raise ImplementationError(f"{what}: shape {arr.shape}, expected {shape}")
    return arr.reshape(shape)


def builtin_subject() -> ClaimSubject:
    """mforacle's own fast path (:data:`mforacle.builtin.FAST`), with the checks of mforacle's
    own code included: what ``mforacle claims`` checks."""
    from mforacle.builtin import FAST

    return ClaimSubject(FAST, include_builtin=True)
