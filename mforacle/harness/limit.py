"""Limit quantities: an implementation's mean-field limit against an independent reference.

Optional protocol member (see :mod:`mforacle.protocol`)::

    limit(spec, measure, x, y, weights, probes) -> {"energy", "Z1", "first_variation",
                                                    "velocity", "error_bound": {...}}

``measure`` is the exact :class:`mforacle.measures.GaussianPath` (Fraction coefficients,
``mean_at(t)``, ``factor_at(t)``, ``to_json()``); ``x``, ``y``, ``weights`` arrays in the
declared dtype; ``probes`` a list of ``(t, theta)`` (``t`` a float, ``theta`` ``(k,)``).
Returned: ``energy`` ``E(ρ)``, ``Z1`` ``(N, d)``, ``first_variation`` ``δE/δρ`` at the probes
``(P,)`` and ``velocity`` ``V`` ``(P, k)`` (``docs/model.md`` §4), any subset; and
``error_bound`` — the implementation's own statement of its absolute error per field
(discretization *and* roundoff; a limit solver has a step error no float model can derive).

Each field is decided by ``max |impl − ref| <= error_bound_impl[q] + error_bound_ref[q]`` (+ the
reading error of decimals printed in a narrower dtype, file mode). The reference is the
certified ball solver (:mod:`mforacle.ball.limit`, Arb) for every activation: its values are
the balls' midpoints and ``error_bound_ref`` their largest radius — a proved bound, not an
estimate (issue 11; before, the exact GBS estimate for closed-form moments and RK4's
step-doubling estimate otherwise). A field the implementation does not return, or returns
without a stated bound, is *not checked* (the measured difference is in the reason).

Cases: the bundled measure examples :data:`LIMIT_CASES` (dyadic inputs: exact in float64,
float32, float16, so one reference serves all dtypes; otherwise the reference is recomputed on
the inputs rounded to the dtype).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

from mforacle.verdict import Verdict

from ..caseio import Case, read_case
from ..dtypes import UNIT_ROUNDOFF, round_to_dtype, unit_roundoff
from ..errors import InvalidArgument
from ..model import normalized_weights
from ..protocol import Implementation, ModelSpec
from .calls import Caller, Outcome
from .checks import (
    COMPARE_DPS,
    PlannedCheck,
    _diff,
    _nonfinite,
    _validate,
    scale_exact,
    scaled_bound,
)

__all__ = [
    "CLOSED_FORM",
    "FAST_REFERENCE_STEPS",
    "LIMIT_CASES",
    "LIMIT_CLAIM_IDS",
    "LIMIT_QUANTITIES",
    "LimitCase",
    "LimitReference",
    "build_limit_suite",
    "plan_limit_checks",
]

LIMIT_QUANTITIES = ("energy", "Z1", "first_variation", "velocity")
LIMIT_CLAIM_IDS = {
    "energy": "H6.energy",
    "Z1": "H7.Z1",
    "first_variation": "H8.first_variation",
    "velocity": "H9.velocity",
}
TITLES = {
    "energy": "limit energy E(ρ) matches the reference limit",
    "Z1": "limit final states Z(1) match the reference limit",
    "first_variation": "first variation δE/δρ at the probes matches the reference limit",
    "velocity": "velocity V(θ, t) at the probes matches the reference limit",
}
#: bundled measure cases (mforacle/examples/<file>.json) and their suite ids
LIMIT_CASES = {"limit/erf-d1": "measure_erf_d1", "limit/regrelu-d1": "measure_regrelu_d1"}
#: activations whose Gaussian moments have closed forms (the exact GBS reference is cheap)
CLOSED_FORM = ("erf", "sin", "regrelu")
FAST_REFERENCE_STEPS = 256
EXACT_DPS, EXACT_TOL = 20, "1e-13"
#: target radius of the certified reference (mforacle.ball.limit); it usually delivers less
BALL_TOL = "1e-13"


@dataclass
class LimitReference:
    """Reference values (mpf object arrays) with absolute error bounds per field."""

    energy: Any
    Z1: np.ndarray
    first_variation: np.ndarray
    velocity: np.ndarray
    error_bound: dict[str, float]
    method: str
    #: the code that computed it (Verdict.provenance)
    source: str = "mforacle.exact.limit"

    def get(self, q: str) -> Any:
        return getattr(self, q)

    @classmethod
    def compute(
        cls,
        case: Case,
        x: Any,
        y: Any,
        weights: Any,
        probes: list[tuple[Any, Any]],
        *,
        weights_dtype: str = "float64",
    ) -> LimitReference:
        """The reference on exactly these inputs (exact GBS, or fast RK4 — module docstring).

        ``weights`` may be rounded to ``weights_dtype`` (their sum then off one by that dtype's
        roundoff): the solver runs on ``ω/s`` and the energy, first variation and velocity (all
        linear in ``ω``) are scaled by ``s`` (:func:`mforacle.model.normalized_weights`)."""
        ws, s = normalized_weights(weights, len(y), weights_dtype)
        ref = cls._normalized(case, x, y, ws, probes)
        if s == 1:
            return ref
        for q in ("energy", "first_variation", "velocity"):
            value = getattr(ref, q)
            ref.error_bound[q] = scaled_bound(ref.error_bound[q], value, s)
            setattr(ref, q, scale_exact(value, s))
        return ref

    @classmethod
    def _normalized(
        cls, case: Case, x: Any, y: Any, weights: Any, probes: list[tuple[Any, Any]]
    ) -> LimitReference:
        model, measure = case.model, case.measure
        assert measure is not None
        q = np.vectorize(lambda v: Fraction(v), otypes=[object])
        from flint import ctx

        from ..ball.limit import solve as ball_solve

        pr = [(Fraction(t), list(q(np.asarray(th)))) for t, th in probes]
        r = ball_solve(model, measure, q(x), q(y), q(weights), pr, tol=BALL_TOL)
        values: dict[str, Any] = {}
        bounds: dict[str, float] = {}
        with ctx.workprec(r.prec + 32), mpmath.workprec(r.prec + 32):
            for name in LIMIT_QUANTITIES:
                balls = r.get(name)
                mids = np.empty(balls.shape, dtype=object)
                for idx in np.ndindex(*balls.shape):
                    man, exp = balls[idx].mid().man_exp()
                    mids[idx] = mpmath.mpf((int(man), int(exp)))  # exact: same binary number
                values[name] = mids[()] if name == "energy" else mids
                rad = max((float(b.rad().upper()) for b in balls.reshape(-1)), default=0.0)
                bounds[name] = rad * (1 + 2.0**-50)  # float rounding of the radius, upward
        return cls(
            values["energy"],
            values["Z1"],
            values["first_variation"],
            values["velocity"],
            bounds,
            f"certified ball enclosure (Arb, rigorous bound; mforacle.ball.limit, tol {BALL_TOL})",
            "mforacle.ball.limit",
        )

    def to_json(self, digits: int = 25) -> dict[str, Any]:
        """``mforacle-result/1`` fields; printing at ``digits`` adds ``10^(1-digits)·max|v|``."""
        from ..caseio import RESULT_FORMAT, numbers_to_text

        out: dict[str, Any] = {"format": RESULT_FORMAT, "path": "reference", "method": self.method}
        bound = {}
        for q in LIMIT_QUANTITIES:
            v = np.asarray(self.get(q), dtype=object)
            out[q] = numbers_to_text(self.get(q), digits)
            peak = max((float(abs(e)) for e in v.ravel()), default=0.0)
            bound[q] = repr(self.error_bound[q] + 10.0 ** (1 - digits) * peak * 1.0000001)
        out["error_bound"] = bound
        # the ball reference's bound (plus the printing allowance) is a proof
        out["error_bound_kind"] = ("rigorous" if self.source.startswith("mforacle.ball")
                                   else "estimate")
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> LimitReference:
        method = str(obj.get("method", "stored reference"))
        code = ("mforacle.exact.limit" if method.startswith("exact") else
                "mforacle.ball.limit" if "ball" in method else "mforacle.fast.limit")
        with mpmath.workdps(COMPARE_DPS):
            mp = np.vectorize(lambda s: mpmath.mpf(s), otypes=[object])
            return cls(
                mpmath.mpf(obj["energy"]),
                mp(np.asarray(obj["Z1"], dtype=object)),
                mp(np.asarray(obj["first_variation"], dtype=object)),
                mp(np.asarray(obj["velocity"], dtype=object)),
                {q: float(obj["error_bound"][q]) for q in LIMIT_QUANTITIES},
                method,
                f"{code} (stored with the exported suite)",
            )


@dataclass
class LimitCase:
    """One measure case of the suite, with its (lazily computed) reference."""

    id: str
    case: Case
    tags: tuple[str, ...] = ("limit",)
    reference: LimitReference | None = None
    #: references on the inputs rounded to a dtype, when rounding changed them
    rounded: dict[str, LimitReference] = field(default_factory=dict)

    def float_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        f = np.vectorize(float, otypes=[np.float64])
        d = self.case.data
        probes = [(float(p.t), f(np.asarray(p.theta, dtype=object))) for p in self.case.probes]
        return f(d.x), f(d.y), f(d.weights), probes

    def ensure_reference(self) -> LimitReference:
        if self.reference is None:
            d = self.case.data
            probes = [(p.t, np.asarray(p.theta, dtype=object)) for p in self.case.probes]
            self.reference = LimitReference.compute(self.case, d.x, d.y, d.weights, probes)
        return self.reference


def build_limit_suite() -> list[LimitCase]:
    """The bundled measure cases of :data:`LIMIT_CASES` (no references yet)."""
    root = Path(__file__).resolve().parents[1] / "examples"
    return [LimitCase(cid, read_case(root / f"{name}.json")) for cid, name in LIMIT_CASES.items()]


class _LimitRun:
    """Inputs as the implementation sees them (rounded to its dtype), the reference on those
    inputs, and one memoized call of ``limit``."""

    def __init__(self, impl: Implementation, lc: LimitCase, caller: Caller) -> None:
        self.impl, self.lc, self.caller = impl, lc, caller
        x, y, w, probes = lc.float_inputs()
        dt = impl.dtype
        self.x, self.y, self.w = (round_to_dtype(a, dt) for a in (x, y, w))
        self.probes = [(t, round_to_dtype(th, dt)) for t, th in probes]
        d = lc.case.data
        seen = [self.x, self.y, self.w, *(th for _, th in self.probes)]
        exact = [d.x, d.y, d.weights, *(np.asarray(p.theta, dtype=object) for p in lc.case.probes)]
        self.exact_inputs = all(
            all(Fraction(float(a)) == b for a, b in zip(np.ravel(s), np.ravel(e), strict=True))
            for s, e in zip(seen, exact, strict=True)
        )
        self._ref: LimitReference | None = None
        self._out: Outcome | None = None

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        n, d, k, p = self.x.shape[0], self.lc.case.model.d, self.lc.case.model.k, len(self.probes)
        return {"energy": (), "Z1": (n, d), "first_variation": (p,), "velocity": (p, k)}

    def reference(self) -> LimitReference:
        if self._ref is None:
            if self.exact_inputs:
                self._ref = self.lc.ensure_reference()
            else:  # the implementation saw rounded inputs (e.g. 1/3): the reference uses them
                dt = self.impl.dtype
                if dt not in self.lc.rounded:
                    self.lc.rounded[dt] = LimitReference.compute(
                        self.lc.case, self.x, self.y, self.w, self.probes, weights_dtype=dt
                    )
                self._ref = self.lc.rounded[dt]
        return self._ref

    def output(self) -> Outcome:
        if self._out is None:
            spec = ModelSpec.from_model(self.lc.case.model)
            args = (spec, self.lc.case.measure, self.x, self.y, self.w, self.probes)
            out = self.caller.call("limit", self.impl.limit, *args)
            if out.ok and not isinstance(out.value, dict):
                out = Outcome(
                    False,
                    error=f"limit must return a dict (energy, Z1, first_variation, velocity, "
                    f"error_bound); got {type(out.value).__name__}",
                )
            self._out = out
        return self._out


def _stated_bound(value: dict[str, Any], q: str) -> float | None:
    eb = value.get("error_bound")
    if not isinstance(eb, dict) or q not in eb:
        return None
    try:
        b = float(eb[q])
    except (TypeError, ValueError):
        return None
    return b if np.isfinite(b) and b >= 0 else None


def _check_limit(run: _LimitRun, q: str) -> Verdict:
    """The verdict on limit quantity ``q`` of one measure case, with its provenance."""
    v = _decide_limit(run, q)
    if v.status == "not checked":
        return v
    prov = {"measured": run.impl.source or run.impl.name}
    if v.figure is not None and run._ref is not None:
        prov["reference"] = run._ref.source
    return dataclasses.replace(v, provenance=prov)


def _decide_limit(run: _LimitRun, q: str) -> Verdict:
    claim, title = LIMIT_CLAIM_IDS[q], TITLES[q]
    if run.impl.limit is None:
        return Verdict.not_checked(claim, title, "the implementation does not provide limit")
    why = run.impl.supports(run.lc.case.model)
    if why:
        return Verdict.not_checked(claim, title, why)
    ev: dict[str, Any] = {
        "case_id": run.lc.id,
        "case": run.lc.case.to_json(),
        "dtype": run.impl.dtype,
        "implementation": run.impl.source or run.impl.name,
        "inputs_exact_in_dtype": run.exact_inputs,
    }
    try:  # first: inputs that round to an invalid case (weights 1/3 in float32) are not run
        ref = run.reference()
    except InvalidArgument as exc:
        return Verdict.not_checked(
            claim, title, f"no reference for the case rounded to {run.impl.dtype}: {exc}"
        )
    out = run.output()
    if not out.ok:
        ev["traceback"] = out.detail
        return Verdict.errored(claim, title, out.error, ev)
    if q not in out.value:
        return Verdict.not_checked(claim, title, f"limit returned no {q!r}")
    arr, reason = _validate(out.value[q], run.shapes[q], run.impl, q)
    if arr is None:
        return Verdict.errored(claim, title, reason, ev)
    ref_q = ref.get(q)
    bad = _nonfinite(arr)
    diff = None if bad else _diff(arr, ref_q)
    mags = None if diff is None else np.vectorize(lambda v: float(abs(v)), otypes=[float])(diff)
    figure = float("nan") if mags is None else float(np.max(mags, initial=0.0))
    stated = _stated_bound(out.value, q)
    if stated is None:
        return Verdict.not_checked(
            claim,
            title,
            f"limit states no error_bound[{q!r}] (measured max |impl − ref| = {figure:.3g}, "
            f"reference {ref.method})",
        )
    bound = stated + ref.error_bound[q]
    extra = ""
    if run.impl.output_rounding and not bad:
        u = unit_roundoff(run.impl.dtype)
        u64 = UNIT_ROUNDOFF["float64"]
        reading = (run.impl.output_rounding * u + u64) * float(np.max(np.abs(arr))) * 1.001
        bound += reading
        ev["reading_error"] = reading
        extra = f" + reading the decimal output ({run.impl.output_rounding:g}u + 2^-53)·max|v|"
    ev.update(stated_error_bound=stated, reference_error_bound=ref.error_bound[q])
    ev["reference"] = ref.method
    model_text = (
        f"the implementation's stated error_bound[{q}] ({stated:.3g}) + the reference's "
        f"({ref.method}) bound {ref.error_bound[q]:.3g}{extra}"
    )
    if bad:
        return Verdict.measured(
            claim, title, figure, "<=", bound, error_model=model_text, reason=bad, evidence=ev
        )
    where = ""
    if mags is not None and mags.ndim:
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(mags)), mags.shape))
        where = f" at {list(worst)}"
        ev.update(
            worst_index=list(worst),
            impl_value=float(arr[worst]),
            reference_value=mpmath.nstr(np.asarray(ref_q, dtype=object)[worst], 20),
        )
    else:
        ev.update(impl_value=float(arr), reference_value=mpmath.nstr(ref_q, 20))
    return Verdict.measured(
        claim,
        title,
        figure,
        "<=",
        bound,
        error_model=model_text,
        reason=f"max |impl − ref|{where}",
        evidence=ev,
    )


def plan_limit_checks(
    impl: Implementation, suite: list[LimitCase], caller: Caller | None = None
) -> list[PlannedCheck]:
    """Every (measure case, quantity) check; nothing runs (no reference is computed) until
    ``.run()``, and not at all for an implementation without ``limit``."""
    caller = caller or Caller()
    planned: list[PlannedCheck] = []
    for lc in suite:
        holder: dict[str, _LimitRun] = {}

        def get_run(lc: LimitCase = lc, holder: dict[str, _LimitRun] = holder) -> _LimitRun:
            if "run" not in holder:
                holder["run"] = _LimitRun(impl, lc, caller)
            return holder["run"]

        for q in LIMIT_QUANTITIES:

            def run_one(q: str = q, get_run: Callable[[], _LimitRun] = get_run) -> Verdict:
                return _check_limit(get_run(), q)

            planned.append(
                PlannedCheck(f"{lc.id}::{q}", LIMIT_CLAIM_IDS[q], TITLES[q], lc.id, run_one)
            )
    return planned
