"""Claims C1 and C2 (``docs/claims.md`` §C): monotone loss decay and the dissipation
identity, for the discrete network (GD in the time ``s``) and for the particle flow.

- ``check_c1_discrete`` — GD with ``Δs`` below :func:`mforacle.training.stable_step` never raises
  the loss: figure = ``E_{n+1} − E_n`` at the step closest to its bound, the loss's float64
  roundoff allowance
  (:func:`mforacle.claims.training_runs.loss_roundoff`).
- ``check_c1_flow`` — the particle flow's ``E(ρ(s))`` is non-increasing (same figure, with the
  particle solver's roundoff model).
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

from .training_cases import FlowCase, TrainingCase, builtin_case, builtin_flow_case
from .training_runs import (
    flow_history,
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


def check_c1_discrete(
    impl: Any, case: TrainingCase, *, steps: int = 40, fraction: float = 0.5, rechecks: int = 4
) -> Verdict:
    """C1 on a discrete network: GD at ``Δs = fraction · stable_step`` never raises ``E``.

    The stability bound is local, so it is re-estimated at ``rechecks`` states along the run; if
    it fell below the step there, the run is repeated with ``fraction`` times that lower bound
    (the steps tried are in the evidence). It is also re-estimated at the first state from which
    the loss rose: if the step exceeds the bound *there*, the bound's
    assumption failed and the claim is "not checked" (the increase does not contradict it).
    Figure: ``E_{n+1} − E_n`` at the step maximizing ``(E_{n+1} − E_n) / a_n``, held to that
    step's ``a_n``, the sum of both losses' roundoff allowances (so every step is checked).
    """
    from mforacle.training import stable_step

    title = "GD below the computed stable step never raises the loss"
    if (v := needs("C1", title, impl)) is not None:
        return v
    if not 0 < fraction <= 1:
        raise InvalidArgument("fraction", fraction, "expected 0 < fraction <= 1")
    lg = impl.loss_and_grad

    def bound_at(theta: np.ndarray) -> float:
        return stable_step(case.model, theta, case.x, case.y, case.weights, loss_and_grad=lg)

    ds0 = bound_at(case.theta0)
    if not math.isfinite(ds0):
        return Verdict.not_checked("C1", title, "no curvature at Θ_0: the stable step is unbounded")
    # The bound is local: curvature can grow along the run. If the bound re-estimated at the
    # recheck states falls below the step, rerun with fraction·(that bound), so the step used is
    # below the computed bound at every state where it was estimated (at most `rechecks` reruns).
    idx = sorted({round(i * steps / rechecks) for i in range(1, rechecks + 1)})
    ds = fraction * ds0
    tried = []
    for _ in range(rechecks + 1):
        thetas = train_states(impl, case, ds, steps)
        along = [bound_at(thetas[i]) for i in idx]
        tried.append(ds)
        lowest = min([ds0, *along])
        if ds <= lowest:
            break
        ds = fraction * lowest
    losses, _ = losses_and_dissipation(impl, case, thetas)
    allow = np.array([loss_roundoff(case.model, th, case.x, case.y, case.weights) for th in thetas])
    incr = np.diff(losses)
    pair_allow = allow[:-1] + allow[1:]
    ratio = incr / np.maximum(pair_allow, np.finfo(float).tiny)
    worst = int(np.argmax(ratio))
    evidence = {
        "case": case.to_json(),
        "ds": ds,
        "steps_tried": tried,
        "stable_step_at_0": ds0,
        "fraction": fraction,
        "stable_step_along": dict(zip([float(i * ds) for i in idx], along, strict=True)),
        "history": {"s": (np.arange(steps + 1) * ds).tolist(), "loss": losses.tolist()},
        "worst_step": {
            "n": worst,
            "increase": float(incr[worst]),
            "allowance": float(pair_allow[worst]),
        },
    }
    if ratio[worst] > 1:
        first = int(np.argmax(ratio > 1))
        at = bound_at(thetas[first])
        evidence["stable_step_at_first_increase"] = {"n": first, "bound": at}
        if at < ds:
            return Verdict.not_checked(
                "C1",
                title,
                f"the loss first rose at step {first}, where the step {ds:.3g} "
                f"exceeds the stable bound {at:.3g} re-estimated there; the bound's assumption "
                "does not hold",
            )
    return Verdict.measured(
        "C1",
        title,
        float(incr[worst]),
        "<=",
        float(pair_allow[worst]),
        error_model="E_{n+1} − E_n at the step closest to violating it, held to the float64 "
        "roundoff allowance of both losses (γ = 2(L+d+N+4)u per residual; "
        "mforacle.claims.training_runs); every step is checked",
        reason=f"{steps} steps at Δs = {ds:.3g} (≤ {fraction}·stable_step at Θ_0 and at "
        f"{len(idx)} states along the run); "
        f"worst ΔE = {incr[worst]:.3g} at step {worst}",
        evidence=evidence,
    )


def check_c1_flow(
    impl: Any, case: FlowCase, *, T: int = 17, n: int = 8, ds: float = 0.25, steps: int = 20
) -> Verdict:
    """C1 in the limit: ``E(ρ(s))`` of the particle flow (explicit Euler in ``s`` at the stated
    ``ds``, Gauss–Hermite particles on a depth grid of ``T`` points) never increases. No stable
    step is computed for the flow: ``ds`` is a stated input, recorded in the evidence."""
    from mforacle.fast.limit import ParticleMeasure

    title = "the particle flow's E(ρ(s)) is non-increasing"
    particles = ParticleMeasure.from_gaussian(case.model, case.measure, T, n)
    s, e, _ = flow_history(impl, case, particles, ds, steps)
    allow = np.array([flow_roundoff(v, T) for v in e])
    incr = np.diff(e)
    ratio = incr / (allow[:-1] + allow[1:])
    worst = int(np.argmax(ratio))
    return Verdict.measured(
        "C1.flow",
        title,
        float(incr[worst]),
        "<=",
        float(allow[worst] + allow[worst + 1]),
        error_model="E(s_{n+1}) − E(s_n) at the step closest to violating it, held to the "
        "particle solver's roundoff allowance u(20T+50)max(1,|E|) of both energies; every step "
        "is checked",
        reason=f"{steps} steps at Δs = {ds:g}, T = {T}, {n} Gauss–Hermite nodes; "
        f"worst ΔE = {incr[worst]:.3g} at step {worst}",
        evidence={
            "case": case.to_json(),
            "T": T,
            "n": n,
            "ds": ds,
            "history": {"s": s.tolist(), "loss": e.tolist()},
        },
    )


# --------------------------------------------------------------------------- C2


def _order_verdict(
    claim: str,
    title: str,
    ladder: list[float],
    errors: list[float],
    evidence: dict[str, Any],
    what: str,
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
    )


def check_c2_flow(
    impl: Any,
    case: FlowCase,
    *,
    T: int = 9,
    n: int = 6,
    ds0: float = 0.2,
    horizon_steps: int = 4,
    halvings: int = 3,
) -> Verdict:
    """C2 in the limit: ``dE(ρ(s))/ds = −∫∫|V|² dρ dt`` to order ``Δs`` (ratio of discrepancies
    when ``Δs`` halves, window ``2^(1±0.15)``)."""
    from mforacle.fast.limit import ParticleMeasure

    title = "energy dissipation dE(ρ)/ds = −∫∫|V|² dρ dt to order Δs"
    particles = ParticleMeasure.from_gaussian(case.model, case.measure, T, n)
    s_common = np.arange(horizon_steps) * ds0
    ladder, errors = [], []
    for h in range(halvings + 1):
        ds = ds0 / 2**h
        s, e, d = flow_history(impl, case, particles, ds, horizon_steps * 2**h)
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
    )


# --------------------------------------------------------------------------- built-in runs


def run_c1(impl: Any, sizes: dict[str, Any]) -> list[Verdict]:
    """C1 on the built-in discrete cases, then on (at most two) built-in flow cases."""
    out = [
        with_seed(check_c1_discrete(impl, case, steps=sizes.get("steps", 40)), seed)
        for case, seed in map(builtin_case, range(sizes.get("cases", 3)))
    ]
    out.extend(
        check_c1_flow(impl, builtin_flow_case(i), steps=sizes.get("flow_steps", 20))
        for i in range(min(2, sizes.get("cases", 2)))
    )
    return out


def run_c2(impl: Any, sizes: dict[str, Any]) -> list[Verdict]:
    """C2 on the built-in discrete cases, then on (at most two) built-in flow cases."""
    halvings = sizes.get("halvings", 3)
    out = [
        with_seed(
            check_c2_discrete(
                impl, case, horizon_steps=sizes.get("horizon_steps", 8), halvings=halvings
            ),
            seed,
        )
        for case, seed in map(builtin_case, range(sizes.get("cases", 2)))
    ]
    out.extend(
        check_c2_flow(impl, builtin_flow_case(i), halvings=halvings)
        for i in range(min(2, sizes.get("cases", 2)))
    )
    return out
