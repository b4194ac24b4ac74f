"""Feed an implementation under test to the claims of ``properties/claims`` (registry CLAIMS).

:class:`ClaimsView` presents a harness :class:`Implementation` in the claims' protocol
(:mod:`properties.claims.impl`: ``forward(model, theta, x)``, ``loss_and_grad(model, theta, x,
y, weights)``, ``train(model, theta0, x, y, weights, *, ds, steps)``), with only the methods the
implementation can back — so a claim that needs a missing one is *not checked*. Calls go
through the same timeout :class:`Caller`; a failed call raises inside the claim, which the
registry turns into an ``error`` verdict.

Which claims: for a third-party implementation, those that need something from it
(``ClaimSpec.needs`` non-empty); claims about mforacle's own limit machinery (``needs == ()``)
are run only when ``include_builtin`` is set (``mforacle report``). The claims' error models are
float64 (their protocol is float64 NumPy), so for another dtype they are *not checked*.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from properties.verdict import Verdict

from ..errors import ImplementationError
from .adapters import round_to_dtype
from .calls import Caller
from .checks import PlannedCheck
from .protocol import Implementation, ModelSpec

__all__ = ["ClaimsView", "plan_claim_checks"]


class ClaimsView:
    """The claims' protocol on top of a harness implementation (methods set per capability)."""

    def __init__(self, impl: Implementation, caller: Caller) -> None:
        self.name = impl.name
        self._impl, self._caller = impl, caller
        if impl.forward is not None:
            self.forward = self._forward
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
        g = self._call("gradient", *args)
        gt = g["grad_theta"] if isinstance(g, dict) else g[0]
        return e, np.asarray(gt, dtype=np.float64)

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


def plan_claim_checks(
    impl: Implementation, caller: Caller, profile: str = "dev", *, include_builtin: bool = False
) -> list[PlannedCheck]:
    """One planned check per claim of the registry (a claim may yield several verdicts)."""
    try:
        from properties.claims import CLAIMS
    except ImportError:
        return []
    planned = []
    for spec in CLAIMS.values():
        if not spec.needs and not include_builtin:
            continue

        def run(spec: Any = spec) -> list[Verdict]:
            if impl.dtype != "float64":
                return [
                    Verdict.not_checked(
                        spec.id,
                        spec.title,
                        "the claims' error models are float64; "
                        f"this implementation is {impl.dtype}",
                    )
                ]
            return spec.run(ClaimsView(impl, caller), profile)

        planned.append(PlannedCheck(f"claim::{spec.id}", spec.id, spec.title, None, run))
    return planned
