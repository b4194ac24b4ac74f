"""Feed an implementation under test to the claims of ``mforacle/claims`` (registry CLAIMS).

:class:`ClaimsView` presents a harness :class:`Implementation` in the claims' protocol
(:mod:`mforacle.claims.impl`: ``forward(model, theta, x)``, ``loss_and_grad(model, theta, x,
y, weights)``, ``train(model, theta0, x, y, weights, *, ds, steps)``), with only the methods the
implementation can back — so a claim that needs a missing one is *not checked*. Calls go
through the same timeout :class:`Caller`; a failed call raises inside the claim, which the
registry turns into an ``error`` verdict.

``grad_x`` (claim A3) is the second output of the implementation's ``gradient``; ``dtype`` is
the implementation's, so the A claims' float error models use that dtype's unit roundoff.

Which claims: for a third-party implementation, those that need something from it
(``ClaimSpec.needs`` non-empty); claims about mforacle's own limit machinery (``needs == ()``)
are run only when ``include_builtin`` is set (``mforacle report``).

Dtypes, per claim (:data:`FLOAT64_ONLY`): A1, A3, A5 and A2's central-difference check take the
dtype's unit roundoff (:mod:`mforacle.tolerance`), so they run for any dtype. The others have
float64 error models written into their code, and for another dtype they are *not checked*
with the reason: A2.taylor (the fitted order is 2 only while the gradient's error term
``|⟨δ, Δ⟩|·h`` stays below ``c₂h²`` down to ``h = 2^-28``, i.e. for a float64 gradient),
B1–B5 and C1–C5 (allowances and references written with ``U = 2^-53`` in
``mforacle/claims/limit.py`` / ``training.py``; not re-derived for other dtypes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mforacle.verdict import Verdict

from ..errors import ImplementationError
from .adapters import round_to_dtype
from .calls import Caller
from .checks import PlannedCheck
from .protocol import Implementation, ModelSpec

__all__ = ["FLOAT64_ONLY", "ClaimsView", "float64_only_reason", "plan_claim_checks"]

#: claim ids (or verdict ids) whose error model is float64 only, with the reason
FLOAT64_ONLY: dict[str, str] = {
    "A2.taylor": "the Taylor-remainder order test needs a gradient error below c₂h at "
    "h = 2^-28 (float64); A2's central-difference check uses this dtype",
    "B": "the limit claims' allowances are float64 (U = 2^-53 in mforacle/claims/limit.py)",
    "C": "the training claims' allowances and references are float64 "
    "(U = 2^-53 in mforacle/claims/training.py)",
}


def float64_only_reason(claim_id: str) -> str | None:
    """Why ``claim_id`` (``"C1"``, ``"A2.taylor"``) is float64 only, or ``None`` if it is not."""
    return FLOAT64_ONLY.get(claim_id) or FLOAT64_ONLY.get(claim_id[:1])


class ClaimsView:
    """The claims' protocol on top of a harness implementation (methods set per capability)."""

    def __init__(self, impl: Implementation, caller: Caller) -> None:
        self.name = impl.name
        self.dtype = impl.dtype
        self._impl, self._caller = impl, caller
        if impl.forward is not None:
            self.forward = self._forward
        if impl.gradient is not None:
            self.grad_x = self._grad_x
        if impl.loss is not None and impl.gradient is not None:
            self.loss_and_grad = self._loss_and_grad
            if impl.train_step is not None:
                self.train = self._train

    def _call(self, member: str, *args: Any) -> Any:
        out = self._caller.call(member, getattr(self._impl, member), *args)
        if not out.ok:
            raise ImplementationError(out.error)
        return out.value

    def _r(self, a: Any) -> np.ndarray:
        return round_to_dtype(a, self._impl.dtype)

    def _w(self, x: Any, weights: Any) -> np.ndarray:
        n = np.shape(x)[0]
        return self._r(np.full(n, 1.0 / n) if weights is None else weights)

    def _forward(self, model: Any, theta: Any, x: Any) -> np.ndarray:
        spec = ModelSpec.from_model(model)
        return np.asarray(self._call("forward", spec, self._r(theta), self._r(x)), np.float64)

    def _loss_and_grad(
        self, model: Any, theta: Any, x: Any, y: Any, weights: Any = None
    ) -> tuple[float, np.ndarray]:
        spec = ModelSpec.from_model(model)
        args = (spec, self._r(theta), self._r(x), self._r(y), self._w(x, weights))
        e = float(np.asarray(self._call("loss", *args)))
        return e, self._gradient(args, 0)

    def _gradient(self, args: tuple[Any, ...], which: int) -> np.ndarray:
        g = self._call("gradient", *args)
        try:
            part = g[("grad_theta", "grad_x")[which]] if isinstance(g, dict) else g[which]
        except (KeyError, IndexError, TypeError):
            raise ImplementationError(
                "gradient must return (grad_theta, grad_x) or a dict with those keys; "
                f"got {type(g).__name__}"
            ) from None
        return np.asarray(part, dtype=np.float64)

    def _grad_x(self, model: Any, theta: Any, x: Any, y: Any, weights: Any = None) -> np.ndarray:
        spec = ModelSpec.from_model(model)
        args = (spec, self._r(theta), self._r(x), self._r(y), self._w(x, weights))
        return self._gradient(args, 1)

    def _train(
        self, model: Any, theta0: Any, x: Any, y: Any, weights: Any = None, *, ds: float, steps: int
    ) -> np.ndarray:
        spec = ModelSpec.from_model(model)
        theta = self._r(theta0)
        L, M = theta.shape[:2]
        out = [theta]
        w = self._w(x, weights)
        for _ in range(int(steps)):
            theta = np.asarray(
                self._call("train_step", spec, theta, self._r(x), self._r(y), w, ds * L * M),
                dtype=np.float64,
            )
            out.append(theta)
        return np.stack(out)


def _float64_only(v: Verdict, dtype: str) -> Verdict:
    """``v`` itself, or *not checked* if its own error model is float64 only (A2.taylor)."""
    why = FLOAT64_ONLY.get(v.claim)
    if why is None:
        return v
    out = Verdict.not_checked(v.claim, v.title, f"{why}; this is {dtype}")
    out.evidence.update(v.evidence)
    out.evidence.update(figure_measured=v.figure, status_if_float64_model=v.status)
    return out


def plan_claim_checks(
    impl: Implementation, caller: Caller, profile: str = "dev", *, include_builtin: bool = False
) -> list[PlannedCheck]:
    """One planned check per claim of the registry (a claim may yield several verdicts)."""
    try:
        from mforacle.claims import CLAIMS
    except ImportError:
        return []
    planned = []
    for spec in CLAIMS.values():
        if not spec.needs and not include_builtin:
            continue

        def run(spec: Any = spec) -> list[Verdict]:
            why = float64_only_reason(spec.id)
            if impl.dtype != "float64" and why:
                return [Verdict.not_checked(spec.id, spec.title, f"{why}; this is {impl.dtype}")]
            verdicts = spec.run(ClaimsView(impl, caller), profile)
            if impl.dtype == "float64":
                return verdicts
            return [_float64_only(v, impl.dtype) for v in verdicts]

        planned.append(PlannedCheck(f"claim::{spec.id}", spec.id, spec.title, None, run))
    return planned
