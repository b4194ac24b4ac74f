"""Feed an implementation under test to the claims of ``mforacle/claims`` (registry CLAIMS).

The claims call the harness :class:`~mforacle.protocol.Implementation` through their one
adapter, :class:`mforacle.claims.subject.ClaimSubject`, with the same timeout (or worker
process) caller as the conformance checks: a failed call raises inside the claim, which the
registry turns into an ``error`` verdict; a claim that needs a member the implementation lacks
is *not checked*. ``dtype`` is the implementation's, so the A claims' float error models use
that dtype's unit roundoff.

Which claims: for a third-party implementation, those that need something from it
(``ClaimSpec.needs`` non-empty); claims about mforacle's own code (``needs == ()``: the exact
path, the limit solvers, the particle flow) are run only when ``include_builtin`` is set
(``mforacle report``), which also lets C1/C2 check mforacle's particle flow (else *not checked*).

Dtypes, per claim (:data:`FLOAT64_ONLY`): A1, A3, A5 and A2's central-difference check take the
dtype's unit roundoff (:mod:`mforacle.dtypes`), so they run for any dtype. The others have
float64 error models written into their code, and for another dtype they are *not checked*
with the reason: A2.taylor (the fitted order is 2 only while the gradient's error term
``|⟨δ, Δ⟩|·h`` stays below ``c₂h²`` down to ``h = 2^-28``, i.e. for a float64 gradient),
B1–B5 and C1–C5 (allowances and references written with ``U = 2^-53`` in
``mforacle/claims/limit.py`` / ``training_runs.py``; not re-derived for other dtypes).
"""

from __future__ import annotations

import functools
from typing import Any

from mforacle.claims import CLAIMS, ClaimSubject
from mforacle.verdict import Verdict

from ..protocol import Implementation
from .calls import Caller
from .checks import PlannedCheck

__all__ = ["FLOAT64_ONLY", "float64_only_reason", "plan_claim_checks"]

#: claim ids (or verdict ids) whose error model is float64 only, with the reason
FLOAT64_ONLY: dict[str, str] = {
    "A2.taylor": "the Taylor-remainder order test needs a gradient error below c₂h at "
    "h = 2^-28 (float64); A2's central-difference check uses this dtype",
    "B": "the limit claims' allowances are float64 (U = 2^-53 in mforacle/claims/limit.py)",
    "C": "the training claims' allowances and references are float64 "
    "(U = 2^-53 in mforacle/claims/training_runs.py)",
}


def float64_only_reason(claim_id: str) -> str | None:
    """Why ``claim_id`` (``"C1"``, ``"A2.taylor"``) is float64 only, or ``None`` if it is not."""
    return FLOAT64_ONLY.get(claim_id) or FLOAT64_ONLY.get(claim_id[:1])


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
    """One planned check per claim of the registry (a claim may yield several verdicts); a
    claim with independent parts (:meth:`mforacle.claims.ClaimSpec.plan`) carries them, so
    :mod:`mforacle.scale` can run them as separate tasks."""
    subject = ClaimSubject(impl, caller, include_builtin=include_builtin)
    planned = []
    for spec in CLAIMS.values():
        if not spec.needs and not include_builtin:
            continue
        why = float64_only_reason(spec.id)
        skip = impl.dtype != "float64" and bool(why)

        def for_dtype(verdicts: list[Verdict]) -> list[Verdict]:
            if impl.dtype == "float64":
                return verdicts
            return [_float64_only(v, impl.dtype) for v in verdicts]

        def run(spec: Any = spec, why: str | None = why, skip: bool = skip) -> list[Verdict]:
            if skip:
                return [Verdict.not_checked(spec.id, spec.title, f"{why}; this is {impl.dtype}")]
            return for_dtype(spec.run(subject, profile))

        def finish(results: dict[str, Any], spec: Any = spec) -> list[Verdict]:
            return for_dtype(spec.finish(subject, profile, results))

        parts = () if skip else tuple(
            (p.key, functools.partial(spec.run_part, subject, profile, p))
            for p in spec.plan(subject, profile)
        )  # fmt: skip
        planned.append(
            PlannedCheck(
                f"claim::{spec.id}",
                spec.id,
                spec.title,
                None,
                run,
                parts=parts,
                finish=finish if parts else None,
            )
        )
    return planned
