"""Claims C1 and C2 (``docs/claims.md`` §C): loss decay and the dissipation identity,
for the discrete network (GD in the time ``s``) and for the particle flow.

C1 is decided by the decrease first-order theory predicts, not by monotonicity alone (a step
that returns ``Θ`` unchanged never raises the loss, and must fail). With ``D_n = L·M|∇E(Θ_n)|²``
the dissipation, one explicit step of size ``Δs`` (learning rate ``η = Δs·L·M``) changes the
loss by (Taylor, mean-value remainder)::

    ΔE_n = E_{n+1} − E_n = −Δs·D_n + ½ η² ∇E_nᵀ H(ξ) ∇E_n .

- ``check_c1_discrete`` — held: ``|ΔE_n + Δs·D_n| <= (Δs/Δs*)·Δs·D_n + roundoff_n`` at every
  step, where ``Δs* = 1/(L·M·K)`` is the smallest stable step :func:`mforacle.training.
  stable_step` estimated along the run; ``½η²|∇Eᵀ H ∇E| <= η²K|∇E|² = (Δs/Δs*)·Δs·D`` under
  that function's stated assumption (``‖H‖ <= 2K`` on the segment). The run uses
  ``Δs <= ½ Δs*`` at every estimated state, so the allowance is at most ``½ Δs·D_n``: a no-op
  (``ΔE = 0``, defect ``Δs·D``) or an ascent (defect ``2Δs·D``) exceeds it wherever ``Δs·D_n``
  is above roundoff. ``roundoff_n``: both losses' float64 allowance
  (:func:`mforacle.claims.training_runs.loss_roundoff`) plus the update's own rounding
  ``2u Σ_i |∇E_i| (|Θ_i| + η|∇E_i|)``. Figure: the worst ``|defect| / allowed``, ``<= 1``.
- ``check_c1_flow`` — the particle flow: no stable step, but ``∇Eᵀ H ∇E = −½ dD/ds`` along a
  gradient flow, so the remainder is ``−¼Δs² dD/ds``; held ``|ΔE_n + Δs·D_n| <=
  ½Δs·max|D_{m+1} − D_m|`` over the neighbouring steps ``m = n−1, n, n+1`` (twice the
  estimate ``¼Δs·|ΔD|``) plus the solver's roundoff of both energies.
- ``check_c2_discrete`` / ``check_c2_flow`` — ``(E(s+Δs) − E(s))/Δs + D(s) = O(Δs)``; figure =
  ratio of the discrepancies when ``Δs`` halves, held to ``[2^0.85, 2^1.15]`` (order 1 ± 0.15,
  the window docs/claims.md uses for B1).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from mforacle.errors import InvalidArgument
from mforacle.stats import fit_slope
from mforacle.verdict import Verdict

from .subject import ClaimSubject
from .training_cases import FlowCase, TrainingCase, builtin_case, builtin_flow_case
from .training_runs import (
    Flow,
    U,
    flow_history,
    flow_name,
    flow_roundoff,
    loss_roundoff,
    losses_and_dissipation,
    needs,
    train_states,
    with_seed,
)

__all__ = [
    "ORDER_WINDOW",
    "check_c1_discrete",
    "check_c1_flow",
    "check_c2_discrete",
    "check_c2_flow",
    "dissipation_discrepancy",
    "run_c1",
    "run_c2",
]

#: Order-1 window for ``err(Δs)/err(Δs/2)``: slope 1 ± 0.15 as in docs/claims.md B1.
ORDER_WINDOW = (2.0**0.85, 2.0**1.15)


# --------------------------------------------------------------------------- C1


def _update_roundoff(theta: np.ndarray, g: np.ndarray, lr: float) -> float:
    """First-order change of ``E`` from rounding ``Θ − η∇E`` in float64 (two roundings per
    entry): ``2u Σ_i |∇E_i| (|Θ_i| + η|∇E_i|)``."""
    return 2 * U * float(np.sum(np.abs(g) * (np.abs(theta) + lr * np.abs(g))))


def check_c1_discrete(
    impl: Any, case: TrainingCase, *, steps: int = 40, fraction: float = 0.5, rechecks: int = 4
) -> Verdict:
    """C1 on a discrete network: GD at ``Δs <= fraction · stable_step`` decreases ``E`` by
    ``Δs·D_n`` to first order, within the derived second-order allowance (module docstring).

    The stability bound is local, so it is re-estimated at ``rechecks`` states along the run; if
    ``Δs`` exceeds ``fraction`` times the lowest estimate, the run is repeated with
    ``fraction`` times that estimate (the steps tried are in the evidence; after ``rechecks``
    repeats the claim is *not checked*). If a step violates its allowance, the stable step is
    re-estimated at that step's state: below the lowest estimate, the allowance's assumption
    failed and the claim is *not checked*. If ``Δs·D_n`` is below the roundoff allowance at
    every step, the prediction cannot be told from no change: *not checked*.
    """
    from mforacle.training import stable_step

    title = "GD below the computed stable step decreases the loss by Δs·L·M|∇E|² (first order)"
    impl = ClaimSubject.of(impl)
    if (v := needs("C1", title, impl)) is not None:
        return v
    if not 0 < fraction <= 0.5:
        raise InvalidArgument("fraction", fraction, "expected 0 < fraction <= 1/2")
    lg = impl.loss_and_grad

    def bound_at(theta: np.ndarray) -> float:
        return stable_step(case.model, theta, case.x, case.y, case.weights, loss_and_grad=lg)

    ds0 = bound_at(case.theta0)
    if not math.isfinite(ds0):
        return Verdict.not_checked("C1", title, "no curvature at Θ_0: the stable step is unbounded")
    idx = sorted({round(i * steps / rechecks) for i in range(1, rechecks + 1)})
    ds = fraction * ds0
    tried = []
    for attempt in range(rechecks + 1):
        thetas = train_states(impl, case, ds, steps)
        along = [bound_at(thetas[i]) if np.all(np.isfinite(thetas[i])) else 0.0 for i in idx]
        tried.append(ds)
        if ds <= fraction * min([ds0, *along]) or attempt == rechecks:
            break
        ds = fraction * min([ds0, *along])
    # Steps held to the allowance: up to the first state where the estimate fell below Δs/fraction
    # (all of them unless the estimate kept falling through every rerun, e.g. on an ascent).
    cut = next((j for j, b in enumerate(along) if ds > fraction * b), len(idx))
    held = steps if cut == len(idx) else idx[cut]
    lowest = min([ds0, *along[:cut]])
    pairs = [lg(case.model, th, case.x, case.y, case.weights) for th in thetas[: held + 1]]
    losses = np.array([e for e, _ in pairs])
    grads = [g for _, g in pairs]
    diss = np.array([case.LM * float(np.sum(g * g)) for g in grads])
    lr = ds * case.LM
    allow = np.array(
        [loss_roundoff(case.model, th, case.x, case.y, case.weights) for th in thetas[: held + 1]]
    )
    roundoff = allow[:-1] + allow[1:] + np.array(
        [_update_roundoff(th, g, lr) for th, g in zip(thetas[:held], grads[:-1], strict=True)]
    )
    predicted = -ds * diss[:-1]
    incr = np.diff(losses)
    defect = incr - predicted
    second = (ds / lowest) * ds * diss[:-1]
    allowed = second + roundoff
    ratio = np.abs(defect) / np.maximum(allowed, np.finfo(float).tiny)
    ratio = np.where(np.isfinite(ratio), ratio, math.inf)
    worst = int(np.argmax(ratio))
    evidence = {
        "case": case.to_json(),
        "ds": ds,
        "lr": lr,
        "steps_tried": tried,
        "steps_held": held,
        "stable_step_at_0": ds0,
        "stable_step_lowest": lowest,
        "fraction": fraction,
        "stable_step_along": dict(zip([float(i * ds) for i in idx], along, strict=True)),
        "history": {"s": (np.arange(held + 1) * ds).tolist(), "loss": losses.tolist()},
        "predicted_change": predicted.tolist(),
        "measured_change": incr.tolist(),
        "worst_step": {
            "n": worst,
            "measured_change": float(incr[worst]),
            "predicted_change": float(predicted[worst]),
            "allowed_defect": float(allowed[worst]),
        },
        "largest_increase": float(np.max(incr)),
    }
    if not np.any(ds * diss[:-1] > roundoff):
        return Verdict.not_checked(
            "C1",
            title,
            "the predicted decrease Δs·D is below the loss roundoff at every step: a step that "
            "changes nothing could not be told apart",
        )
    if ratio[worst] > 1 and np.all(np.isfinite(thetas[worst])):
        first = int(np.argmax(ratio > 1))
        at = bound_at(thetas[first])
        evidence["stable_step_at_first_violation"] = {"n": first, "bound": at}
        if at < lowest:
            return Verdict.not_checked(
                "C1",
                title,
                f"the defect first exceeded its allowance at step {first}, where the stable step "
                f"re-estimated there ({at:.3g}) is below the lowest estimate used ({lowest:.3g}): "
                "the allowance's assumption does not hold",
            )
    held_text = (
        f"{steps} steps"
        if held == steps
        else f"the first {held} of {steps} steps (the stable step estimated at step {held} fell "
        f"below Δs/{fraction:g})"
    )
    return Verdict.measured(
        "C1",
        title,
        float(ratio[worst]),
        "<=",
        1.0,
        error_model="|ΔE_n + Δs·D_n| <= (Δs/Δs*)·Δs·D_n + roundoff_n at every step: Taylor with "
        "the mean-value remainder ½η²∇EᵀH∇E <= η²K|∇E|² (η = Δs·L·M, K = 1/(L·M·Δs*), "
        "‖H‖ <= 2K on the segment as mforacle.training.stable_step states; Δs/Δs* <= 1/2), "
        "roundoff_n = float64 allowance of both losses (mforacle.claims.training_runs) + the "
        "update's rounding; figure: worst |defect| / allowed",
        reason=f"{held_text} at Δs = {ds:.3g} (<= {fraction}·stable_step at Θ_0 and along the "
        f"run); worst step {worst}: ΔE = {incr[worst]:.3g}, "
        f"predicted −Δs·D = {predicted[worst]:.3g}, allowed defect {allowed[worst]:.3g}",
        evidence=evidence,
        provenance={
            "measured": impl.label,
            "reference": impl.label,
            "bound": "mforacle.training.stable_step, mforacle.claims.training_runs.loss_roundoff",
        },
    )


def check_c1_flow(
    case: FlowCase,
    *,
    T: int = 17,
    n: int = 8,
    ds: float = 0.25,
    steps: int = 20,
    flow: Flow = None,
) -> Verdict:
    """C1 in the limit: ``E(ρ(s))`` of mforacle's particle flow (``flow``, default
    :func:`mforacle.training.particle_flow`: explicit Euler in ``s`` at the stated ``ds``,
    Gauss–Hermite particles on a depth grid of ``T`` points) decreases by ``Δs·D_n`` to first
    order, ``D = ∫∫|V|² dρ dt`` (module docstring). Figure: the worst ``|defect| / allowed``."""
    from mforacle.fast.limit import ParticleMeasure

    title = "the particle flow's E(ρ(s)) decreases by Δs·∫∫|V|² dρ dt (first order)"
    particles = ParticleMeasure.from_gaussian(case.model, case.measure, T, n)
    s, e, d = flow_history(case, particles, ds, steps, flow)
    allow = np.array([flow_roundoff(v, T) for v in e])
    incr = np.diff(e)
    predicted = -ds * d[:-1]
    defect = incr - predicted
    dd = np.abs(np.diff(d))
    near = np.array([np.max(dd[max(k - 1, 0) : k + 2]) for k in range(len(dd))])
    allowed = 0.5 * ds * near + allow[:-1] + allow[1:]
    ratio = np.abs(defect) / np.maximum(allowed, np.finfo(float).tiny)
    ratio = np.where(np.isfinite(ratio), ratio, math.inf)
    worst = int(np.argmax(ratio))
    evidence = {
        "case": case.to_json(),
        "T": T,
        "n": n,
        "ds": ds,
        "history": {"s": s.tolist(), "loss": e.tolist()},
        "dissipation": d.tolist(),
        "predicted_change": predicted.tolist(),
        "largest_increase": float(np.max(incr)),
    }
    prov = {"measured": flow_name(flow), "reference": flow_name(flow), "bound": flow_name(flow)}
    if not np.any(ds * d[:-1] > allow[:-1] + allow[1:]):
        return Verdict.not_checked(
            "C1.flow", title, "the predicted decrease Δs·D is below roundoff at every step"
        )
    return Verdict.measured(
        "C1.flow",
        title,
        float(ratio[worst]),
        "<=",
        1.0,
        error_model="|ΔE_n + Δs·D_n| <= ½Δs·max|D_{m+1} − D_m| (m = n−1, n, n+1) + roundoff: "
        "the Euler remainder is −¼Δs²dD/ds along a gradient flow (∇EᵀH∇E = −½dD/ds), "
        "allowed twice the neighbouring estimate; roundoff u(20T+50)max(1,|E|) of both energies",
        reason=f"{steps} steps at Δs = {ds:g}, T = {T}, {n} Gauss–Hermite nodes; worst step "
        f"{worst}: ΔE = {incr[worst]:.3g}, predicted {predicted[worst]:.3g}, allowed defect "
        f"{allowed[worst]:.3g}",
        evidence=evidence,
        provenance=prov,
    )


# --------------------------------------------------------------------------- C2


def _order_verdict(
    claim: str,
    title: str,
    ladder: list[float],
    errors: list[float],
    evidence: dict[str, Any],
    what: str,
    provenance: dict[str, str],
) -> Verdict:
    """Order 1 in ``Δs`` from discrepancies along a halving ladder. Passes only when every
    discrepancy is finite and positive, every ratio ``e_i/e_{i+1}`` is ``> 1`` (the discrepancy
    shrinks at each halving, not just at the last one) and the last ratio is in
    :data:`ORDER_WINDOW`. Figure: the last ratio; the reason lists all ratios."""
    ratios = [
        errors[i] / errors[i + 1] if errors[i + 1] > 0 else math.inf for i in range(len(errors) - 1)
    ]
    bad_errors = [
        f"discrepancy {e!r} at Δs {d:.3g}"
        for d, e in zip(ladder, errors, strict=True)
        if not (math.isfinite(e) and e > 0)
    ]
    not_shrinking = [
        f"ratio {r:.3g} at Δs {ladder[i]:.3g} → {ladder[i + 1]:.3g}"
        for i, r in enumerate(ratios)
        if not r > 1  # NaN is not > 1
    ]
    fit = fit_slope(ladder, errors) if not bad_errors else None
    evidence.update(
        {
            "ladder_name": "ds",
            "ladder": ladder,
            "errors": errors,
            "ratios": ratios,
            "fit": fit.to_json() if fit else None,
        }
    )
    v = Verdict.measured(
        claim,
        title,
        float(ratios[-1]),
        "in",
        [ORDER_WINDOW[0], ORDER_WINDOW[1]],
        error_model="explicit Euler in s: the discrepancy is O(Δs), so halving Δs halves it; "
        "every discrepancy finite > 0, every ratio > 1, the last in the window 2^(1±0.15) "
        "(fitted order 1 ± 0.15, as docs/claims.md B1)",
        reason=f"{what}; discrepancies {', '.join(f'{e:.3g}' for e in errors)} "
        f"for Δs {', '.join(f'{d:.3g}' for d in ladder)}; "
        f"ratios {', '.join(f'{r:.3g}' for r in ratios)}",
        evidence=evidence,
        provenance=provenance,
    )
    problems = bad_errors + [f"the discrepancy does not shrink: {t}" for t in not_shrinking]
    if problems:
        v = dataclasses.replace(v, status="fail", reason="; ".join(problems) + "; " + v.reason)
    return v


def dissipation_discrepancy(
    s: np.ndarray, loss: np.ndarray, diss: np.ndarray, ds: float, s_common: np.ndarray
) -> float:
    """``max |(E(s+Δs) − E(s))/Δs + D(s)| / max D`` over the times ``s_common`` of the grid."""
    idx = np.rint(s_common / ds).astype(int)
    fd = (loss[idx + 1] - loss[idx]) / ds
    scale = float(np.max(diss[idx]))
    if scale == 0:
        return 0.0
    return float(np.max(np.abs(fd + diss[idx]))) / scale


def check_c2_discrete(
    impl: Any,
    case: TrainingCase,
    *,
    horizon_steps: int = 8,
    halvings: int = 3,
    fraction: float = 0.5,
) -> Verdict:
    """C2 on a discrete network: ``dE/ds = −L·M|∇E|²`` to first order in ``Δs``.

    ``Δs_0 = fraction · stable_step(Θ_0)``, then ``Δs_0/2, …`` (``halvings`` times), each run to
    ``S = horizon_steps · Δs_0``. At the times ``s = j Δs_0 < S`` common to every run the relative
    discrepancy ``max |ΔE/Δs + L·M|∇E|²| / max L·M|∇E|²`` is measured; for the exact flow and an
    explicit step it is ``Δs (L·M)² ∇Eᵀ H ∇E / 2 + O(Δs²)``, so successive ratios tend to 2.
    """
    from mforacle.training import stable_step

    title = "energy dissipation dE/ds = −L·M|∇E|² to order Δs"
    impl = ClaimSubject.of(impl)
    if (v := needs("C2", title, impl)) is not None:
        return v
    ds0 = fraction * stable_step(
        case.model, case.theta0, case.x, case.y, case.weights, loss_and_grad=impl.loss_and_grad
    )
    if not math.isfinite(ds0):
        return Verdict.not_checked("C2", title, "no curvature at Θ_0: nothing to measure")
    s_common = np.arange(horizon_steps) * ds0
    loss0_roundoff = loss_roundoff(case.model, case.theta0, case.x, case.y, case.weights)
    ladder, errors, roundoff = [], [], []
    for h in range(halvings + 1):
        ds = ds0 / 2**h
        steps = horizon_steps * 2**h
        thetas = train_states(impl, case, ds, steps)
        losses, diss = losses_and_dissipation(impl, case, thetas)
        s = np.arange(steps + 1) * ds
        ladder.append(ds)
        errors.append(dissipation_discrepancy(s, losses, diss, ds, s_common))
        roundoff.append(2 * loss0_roundoff / ds / max(float(np.max(diss)), np.finfo(float).tiny))
    evidence = {
        "case": case.to_json(),
        "horizon": float(horizon_steps * ds0),
        "roundoff_share": roundoff,
        "note": "roundoff_share: the loss roundoff's contribution to each discrepancy; "
        "it must stay far below the discrepancies for the ratio to mean anything",
    }
    usable = all(math.isfinite(e) and e > 0 for e in errors)  # else _order_verdict fails it
    if usable and max(r / e for r, e in zip(roundoff, errors, strict=True)) > 0.1:
        return Verdict.not_checked(
            "C2",
            title,
            "loss roundoff is > 10% of the discrepancy; choose a larger Δs or a shorter ladder",
        )
    return _order_verdict(
        "C2",
        title,
        ladder,
        errors,
        evidence,
        f"L·M = {case.LM}, horizon s = {horizon_steps * ds0:.3g}",
        {"measured": impl.label, "reference": impl.label},
    )


def check_c2_flow(
    case: FlowCase,
    *,
    T: int = 9,
    n: int = 6,
    ds0: float = 0.2,
    horizon_steps: int = 4,
    halvings: int = 3,
    flow: Flow = None,
) -> Verdict:
    """C2 in the limit: ``dE(ρ(s))/ds = −∫∫|V|² dρ dt`` to order ``Δs`` (ratio of discrepancies
    when ``Δs`` halves, window ``2^(1±0.15)``) for mforacle's particle flow (``flow``, default
    :func:`mforacle.training.particle_flow`)."""
    from mforacle.fast.limit import ParticleMeasure

    title = "energy dissipation dE(ρ)/ds = −∫∫|V|² dρ dt to order Δs"
    particles = ParticleMeasure.from_gaussian(case.model, case.measure, T, n)
    s_common = np.arange(horizon_steps) * ds0
    ladder, errors = [], []
    for h in range(halvings + 1):
        ds = ds0 / 2**h
        s, e, d = flow_history(case, particles, ds, horizon_steps * 2**h, flow)
        ladder.append(ds)
        errors.append(dissipation_discrepancy(s, e, d, ds, s_common))
    evidence = {"case": case.to_json(), "T": T, "n": n, "horizon": horizon_steps * ds0}
    return _order_verdict(
        "C2.flow",
        title,
        ladder,
        errors,
        evidence,
        f"particles T = {T}, n = {n}, horizon s = {horizon_steps * ds0:g}",
        {"measured": flow_name(flow), "reference": flow_name(flow)},
    )


# --------------------------------------------------------------------------- built-in runs


#: why C1.flow and C2.flow are not checked for an implementation under test
NO_FLOW = (
    "the implementation protocol (mforacle.protocol) has no particle flow of the limit PDE; "
    "{claim} checks mforacle's own (mforacle.training.particle_flow): mforacle claims --claim {c}"
)


def _flow_not_checked(claim: str, title: str) -> Verdict:
    return Verdict.not_checked(claim, title, NO_FLOW.format(claim=claim, c=claim[:2]))


def run_c1(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    """C1 on the built-in discrete cases, then on (at most two) built-in flow cases: the flow
    is mforacle's own, checked only with ``subject.include_builtin`` (else *not checked*)."""
    out = [
        with_seed(check_c1_discrete(subject, case, steps=sizes.get("steps", 40)), seed)
        for case, seed in map(builtin_case, range(sizes.get("cases", 3)))
    ]
    if not subject.include_builtin:
        title = "the particle flow's E(ρ(s)) decreases by Δs·∫∫|V|² dρ dt (first order)"
        return [*out, _flow_not_checked("C1.flow", title)]
    out.extend(
        check_c1_flow(builtin_flow_case(i), steps=sizes.get("flow_steps", 20))
        for i in range(min(2, sizes.get("cases", 2)))
    )
    return out


def run_c2(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    """C2 on the built-in discrete cases, then on (at most two) built-in flow cases (the flow:
    only with ``subject.include_builtin``, as in :func:`run_c1`)."""
    halvings = sizes.get("halvings", 3)
    out = [
        with_seed(
            check_c2_discrete(
                subject, case, horizon_steps=sizes.get("horizon_steps", 8), halvings=halvings
            ),
            seed,
        )
        for case, seed in map(builtin_case, range(sizes.get("cases", 2)))
    ]
    if not subject.include_builtin:
        title = "energy dissipation dE(ρ)/ds = −∫∫|V|² dρ dt to order Δs"
        return [*out, _flow_not_checked("C2.flow", title)]
    out.extend(
        check_c2_flow(builtin_flow_case(i), halvings=halvings)
        for i in range(min(2, sizes.get("cases", 2)))
    )
    return out
