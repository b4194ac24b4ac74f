"""Claims B1–B5 (the mean-field limit, ``docs/claims.md`` §B) as checks.

B1, B2, B4 and B5 check mforacle's *own* limit code (:mod:`mforacle.fast.limit`,
:mod:`mforacle.fast.gaussian`): the implementation protocol (:mod:`mforacle.protocol`) has no
``M = ∞`` network of finite depth, no Stein expectations and no particle measures, so these
claims run for ``mforacle claims`` / ``mforacle report`` only (a third-party limit is checked by
the harness's H6–H9 against the same references). The code under test is passed as functions,
all float64 NumPy (``measure`` a :class:`mforacle.measures.GaussianPath`, ``particles`` a
:class:`mforacle.fast.limit.ParticleMeasure`); the defaults are mforacle's, and the tests pass
deliberately broken ones:

``mean_field(model, measure, x, y, weights, *, L) -> net``  (:func:`fast_mean_field`)
    the ``M = ∞`` network ``z_{l+1} = z_l + F_ρ(z_l, l/L)/L`` with ``net.energy``, ``net.z_L``;
``neuron_gradient(model, net, l, theta) -> (P, k)``  (:func:`fast_neuron_gradient`)
    ``L·M·∂E/∂θ`` of neurons ``theta`` placed in layer ``l`` of that network (B2);
``drift_and_jacobian(model, measure, t, z) -> (F (B, d), J (B, d, d))``  (B4);
``particle_energy(model, particles, x, y, weights) -> E``  and
``first_variation(model, particles, x, y, weights, nodes) -> (T, J')``
    ``δE/δρ(nodes[i, j], t_i)`` for the particle measure ``ρ`` (B5).

B3 checks the implementation under test: its ``loss`` of sampled networks (a
:class:`mforacle.claims.subject.ClaimSubject`). References are
never taken from the implementation under test: the limit ``E(ρ)``, ``Z(1)``, ``V`` come from the
*certified* ball solver (:mod:`mforacle.ball.limit`: Arb enclosures, the reference error is a
proved bound; every activation) — or, on request (``reference="exact"`` / ``"fast"``), the
exact GBS solver (confirmed estimate) or the RK4 solver with its step-halving bound — stated in
each verdict.

- ``check_b1`` — depth: ``|E_L^∞ − E(ρ)|`` and ``max|z_L − Z(1)|`` over ``L``: fitted slope
  of log error vs log L in ``[−1.15, −0.85]`` (explicit Euler is order 1), and the last ratio
  ``err(L)/err(2L)`` in ``[2^0.85, 2^1.15]``.
- ``check_b2`` — ``L·M·∂E/∂θ_{l,m}`` at layer ``l = tL`` vs ``V(θ, t)``: same window.
- ``check_b3`` — width: over seeds, ``MSE(M) = mean_s (E(Θ_{L,M}^s) − E_L^∞)²`` with the
  implementation's discrete loss; weighted fit of log MSE vs log M (per-rung SE by the delta
  method); pass iff −1 lies in the slope's ``confidence`` interval (t, seeds − 1 dof). For both
  schemes, *paths* (``C/M``) and *independent layers* (``C/(L·M)``; their ratio is evidence).
- ``check_b4`` — ``F_ρ``, ``J_ρ`` vs Monte Carlo over ``ξ`` (seeded) at depths ``t`` and states
  ``z``: figure = max ``|Stein − MC| / (SE + floor)`` over all ``K`` components, bound = the
  normal quantile ``z_{1−α/(2K)}`` (two-sided, Bonferroni, ``α = 1 − confidence``); and vs tensor
  Gauss–Hermite in ``ξ`` (``B4.quadrature``) within the quadrature's own error estimate.
- ``check_b5`` — ``d/dε E(ρ + ε(ν − ρ))|₀`` (central differences of the particle energy) vs
  ``∫∫ δE/δρ d(ν − ρ) dt`` (Simpson in ``t``), both on depth grids ``T`` and ``2T − 1``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mforacle.dtypes import UNIT_ROUNDOFF
from mforacle.errors import InvalidArgument
from mforacle.model import Model
from mforacle.stats import (
    DECISION_CONFIDENCE,
    fit_slope,
    fit_slope_weighted,
    mean_square_log_se,
    t_quantile,
)
from mforacle.verdict import Verdict, code_name

from .subject import ClaimSubject
from .training import FlowCase, builtin_flow_case

__all__ = [
    "ORDER_RATIO",
    "ORDER_SLOPE",
    "check_b1",
    "check_b2",
    "check_b3",
    "check_b4",
    "check_b5",
    "fast_drift_and_jacobian",
    "fast_first_variation",
    "fast_mean_field",
    "fast_neuron_gradient",
    "fast_particle_energy",
]

U = UNIT_ROUNDOFF["float64"]
#: order-1 windows: slope −1 ± 0.15 and ratio 2^(1 ± 0.15) (docs/claims.md B1)
ORDER_SLOPE = (-1.15, -0.85)
ORDER_RATIO = (2.0**0.85, 2.0**1.15)
#: activations whose Gaussian moments have closed forms (cheap exact limit solves)
CLOSED_FORM = ("erf", "sin", "regrelu")


def fast_mean_field(model: Model, measure: Any, x: Any, y: Any, weights: Any, *, L: int) -> Any:
    """The ``M = ∞`` network of depth ``L`` (:func:`mforacle.fast.limit.mean_field_network`)."""
    from mforacle.fast.limit import mean_field_network

    return mean_field_network(model, measure, x, y, weights, L=L)


def fast_neuron_gradient(model: Model, net: Any, l: int, theta: Any) -> np.ndarray:
    """``L·M·∂E/∂θ`` of probe neurons in layer ``l`` (:func:`mforacle.fast.limit.
    neuron_gradient`), ``(P, k)``."""
    from mforacle.fast.limit import neuron_gradient

    return neuron_gradient(model, net, l, theta)


def fast_drift_and_jacobian(
    model: Model, measure: Any, t: float, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``F_ρ(z, t)`` ``(B, d)`` and ``J_ρ(z, t)`` ``(B, d, d)`` by Stein's identity
    (:func:`mforacle.fast.gaussian.drift_and_jacobian`)."""
    from mforacle.fast.gaussian import GaussianPathArrays, drift_and_jacobian

    return drift_and_jacobian(model, GaussianPathArrays.of(measure).at(float(t)), z)


def fast_particle_energy(model: Model, particles: Any, x: Any, y: Any, weights: Any) -> float:
    """``E(ρ)`` of a particle measure (:func:`mforacle.fast.limit.solve_particles`)."""
    from mforacle.fast.limit import solve_particles

    return float(solve_particles(model, particles, x, y, weights).energy)


def fast_first_variation(
    model: Model, particles: Any, x: Any, y: Any, weights: Any, nodes: np.ndarray
) -> np.ndarray:
    """``δE/δρ(nodes[i, j], t_i)``, ``(T, J')`` (:func:`mforacle.fast.limit.probe_values`)."""
    from mforacle.fast.limit import probe_values, solve_particles

    sol = solve_particles(model, particles, x, y, weights)
    return np.stack(
        [
            probe_values(model, sol.Z[i], sol.p[i], sol.weights, nodes[i])[0]
            for i in range(nodes.shape[0])
        ]
    )


# --------------------------------------------------------------------------- references


def limit_reference(
    case: FlowCase, probes: list[tuple[float, np.ndarray]], method: str | None = None
) -> dict[str, Any]:
    """``E(ρ)``, ``Z(1)``, ``V`` at ``probes`` and their error bounds, from an independent
    solver: the certified ball solver (default, every activation: Arb enclosures, the bound is
    a proof), exact GBS (``method="exact"``, confirmed estimate) or fast RK4 (``"fast"``)."""
    method = method or "ball"
    if method == "ball":
        from fractions import Fraction

        from flint import ctx

        from mforacle.ball.limit import solve as ball_solve

        pr = [
            (Fraction(t).limit_denominator(1 << 20), [Fraction(float(v)) for v in th])
            for t, th in probes
        ]
        r = ball_solve(case.model, case.measure, case.x, case.y, case.weights, pr, tol="1e-13")
        out: dict[str, Any] = {
            "method": "certified ball enclosure (Arb, mforacle.ball.limit, tol 1e-13)",
            "code": "mforacle.ball.limit",
            "error_bound": {},
        }
        with ctx.workprec(r.prec + 32):
            for q in ("energy", "Z1", "velocity"):
                balls = r.get(q)
                vals = np.array([float(b.mid()) for b in balls.reshape(-1)]).reshape(balls.shape)
                # the float of the midpoint is within half an ulp of it: add that, rounded up
                bound = max((float((b.rad() + abs(b.mid() - float(b.mid()))).upper())
                             for b in balls.reshape(-1)), default=0.0)
                out[q] = float(vals) if q == "energy" else vals
                out["error_bound"][q] = bound * (1 + 2.0**-50)
        out["velocity"] = np.asarray(out["velocity"], float).reshape(len(probes), case.model.k)
        return out
    if method == "exact":
        from fractions import Fraction

        from mforacle.exact.limit import solve

        pr = [
            (Fraction(t).limit_denominator(1 << 20), [Fraction(float(v)) for v in th])
            for t, th in probes
        ]
        r = solve(case.model, case.measure, case.x, case.y, case.weights, pr, dps=20, tol="1e-13")
        f = np.vectorize(float, otypes=[np.float64])
        return {
            "method": "exact GBS (mpmath, 20 digits, tol 1e-13)",
            "code": "mforacle.exact.limit",
            "energy": float(r.energy),
            "Z1": f(r.Z1),
            "velocity": f(r.velocity).reshape(len(probes), case.model.k),
            "error_bound": {k: float(v) for k, v in r.error_bound.items()},
        }
    if method != "fast":
        raise InvalidArgument("method", method, "expected 'ball', 'exact' or 'fast'")
    from mforacle.fast.limit import solve

    r = solve(case.model, case.measure, case.x, case.y, case.weights, probes, steps=128)
    return {
        "method": "fast RK4 (128 steps, step-halving bound)",
        "code": "mforacle.fast.limit",
        "energy": float(r.energy),
        "Z1": r.Z1,
        "velocity": r.velocity,
        "error_bound": dict(r.error_bound),
    }


def _order_verdicts(
    claim: str,
    title: str,
    ladder: list[int],
    errors: list[float],
    ref_err: float,
    evidence: dict[str, Any],
    what: str,
    *,
    with_ratio: bool,
    provenance: dict[str, str],
) -> list[Verdict]:
    ratios = [
        errors[i] / errors[i + 1] if errors[i + 1] > 0 else math.inf for i in range(len(errors) - 1)
    ]
    ev = dict(evidence)
    ev.update(
        ladder_name="L",
        ladder=list(ladder),
        errors=list(errors),
        ratios=ratios,
        reference_error=ref_err,
    )
    if not all(e > 0 and math.isfinite(e) for e in errors):
        return [
            Verdict.measured(
                claim,
                title,
                math.nan,
                "in",
                list(ORDER_SLOPE),
                error_model="errors must be positive and finite to fit",
                reason=f"errors {errors}",
                evidence=ev,
                provenance=provenance,
            )
        ]
    if ref_err > 0.01 * min(errors):
        return [
            Verdict.not_checked(
                claim,
                title,
                f"reference error {ref_err:.2g} is not below 1/100 of the smallest "
                f"error {min(errors):.2g}",
            )
        ]
    fit = fit_slope(ladder, errors)
    ev["fit"] = fit.to_json()
    out = [
        Verdict.measured(
            claim,
            title,
            fit.slope,
            "in",
            list(ORDER_SLOPE),
            error_model="explicit Euler in depth is order 1: slope −1 ± 0.15 (docs/claims.md B1); "
            f"slope 95% CI [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}]; reference error {ref_err:.1e} "
            f"<= 1/100 of the smallest error",
            reason=f"{what}: errors "
            + ", ".join(f"{e:.3g}" for e in errors)
            + f" for L = {list(ladder)}; ratios "
            + ", ".join(f"{r:.3f}" for r in ratios),
            evidence=ev,
            provenance=provenance,
        )
    ]
    if with_ratio:
        out.append(
            Verdict.measured(
                f"{claim}.ratio",
                f"{title}: err(L)/err(2L) -> 2",
                ratios[-1],
                "in",
                list(ORDER_RATIO),
                error_model="order 1: the last ratio err(L)/err(2L) in 2^(1 ± 0.15)",
                reason=f"{what}: ratios " + ", ".join(f"{r:.3f}" for r in ratios),
                evidence={k: ev[k] for k in ("case", "ladder_name", "ladder", "errors", "fit")},
                provenance=provenance,
            )
        )
    return out


def _check_ladder(ladder: Any, multiple: int = 1) -> list[int]:
    if not isinstance(ladder, list | tuple) or len(ladder) < 3:
        raise InvalidArgument("ladder", ladder, "expected at least three rungs")
    for L in ladder:
        if isinstance(L, bool) or not isinstance(L, int) or L < 1 or L % multiple:
            raise InvalidArgument(
                "ladder", ladder, f"rungs must be positive multiples of {multiple}"
            )
    return [int(v) for v in ladder]


# --------------------------------------------------------------------------- B1, B2


def check_b1(
    case: FlowCase,
    *,
    ladder: list[int],
    reference: str | None = None,
    mean_field: Any = fast_mean_field,
) -> list[Verdict]:
    """B1: the ``M = ∞`` network's energy and ``z_L`` converge to ``E(ρ)``, ``Z(1)`` at order 1."""
    title = "M = ∞ network -> limit in depth, order 1"
    lad = _check_ladder(ladder)
    ref = limit_reference(case, [], reference)
    e_err, z_err = [], []
    for L in lad:
        net = mean_field(case.model, case.measure, case.x, case.y, case.weights, L=L)
        e_err.append(abs(float(net.energy) - ref["energy"]))
        z_err.append(float(np.max(np.abs(np.asarray(net.z_L, float) - ref["Z1"]))))
    ev = {
        "case": case.to_json(),
        "implementation": code_name(mean_field),
        "reference": ref["method"],
        "z_errors": z_err,
    }
    out = _order_verdicts(
        "B1",
        title + ": energy",
        lad,
        e_err,
        ref["error_bound"]["energy"],
        ev,
        "|E_L − E(ρ)|",
        with_ratio=True,
        provenance={"measured": code_name(mean_field), "reference": ref["code"]},
    )
    out += _order_verdicts(
        "B1.Z1",
        title + ": z_L -> Z(1)",
        lad,
        z_err,
        ref["error_bound"]["Z1"],
        {"case": ev["case"]},
        "max|z_L − Z(1)|",
        with_ratio=False,
        provenance={"measured": code_name(mean_field), "reference": ref["code"]},
    )
    return out


def default_probes(model: Model, t: float = 0.5) -> list[tuple[float, np.ndarray]]:
    """Three fixed probe neurons at depth ``t`` (dyadic entries)."""
    k, d = model.k, model.d
    base = np.array([0.5, -0.75, 0.25, 1.0, -0.5, 0.75, -0.25])
    return (
        [(t, np.roll(base, j)[:k] if k <= 7 else np.resize(np.roll(base, j), k)) for j in range(3)]
        if d >= 1
        else []
    )


def check_b2(
    case: FlowCase,
    *,
    ladder: list[int],
    t: float = 0.5,
    reference: str | None = None,
    mean_field: Any = fast_mean_field,
    neuron_gradient: Any = fast_neuron_gradient,
) -> list[Verdict]:
    """B2: ``L·M·∂E/∂θ`` of probe neurons at layer ``l = t·L`` of the ``M = ∞`` network vs
    ``V(θ, t)`` of the limit; order 1 in ``L`` (``t·L`` must be an integer on the ladder)."""
    title = "L·M·∂E/∂θ_{l,m} -> V(θ, l/L), order 1"
    lad = _check_ladder(ladder)
    if any(abs(t * L - round(t * L)) > 0 for L in lad):
        raise InvalidArgument("t", t, f"t·L must be an integer for every L in {lad}")
    probes = default_probes(case.model, t)
    thetas = np.array([p[1] for p in probes])
    ref = limit_reference(case, probes, reference)
    errs = []
    for L in lad:
        net = mean_field(case.model, case.measure, case.x, case.y, case.weights, L=L)
        g = np.asarray(neuron_gradient(case.model, net, round(t * L), thetas), float)
        errs.append(float(np.max(np.abs(g - ref["velocity"]))))
    ev = {
        "case": case.to_json(),
        "implementation": f"{code_name(mean_field)}, {code_name(neuron_gradient)}",
        "reference": ref["method"],
        "t": t,
        "probes": thetas.tolist(),
        "velocity": np.asarray(ref["velocity"]).tolist(),
    }
    return _order_verdicts(
        "B2",
        title,
        lad,
        errs,
        ref["error_bound"]["velocity"],
        ev,
        f"max|L·M·∂E/∂θ − V| at t = {t}",
        with_ratio=True,
        provenance={
            "measured": f"{code_name(mean_field)}, {code_name(neuron_gradient)}",
            "reference": ref["code"],
        },
    )


# --------------------------------------------------------------------------- B3


def fit_power_with_correction(
    ladder: list[int], values: list[float], log_se: list[float], *, dof: int, confidence: float
) -> dict[str, Any]:
    """Weighted least squares of ``log v = a + p log M + D/M`` (weights ``1/SE²``): the power
    ``p`` with its ``t`` interval (``dof``), the next-order term ``D/M`` absorbing an
    ``O(1/M²)`` correction to a ``C/M`` law. Needs at least four rungs."""
    Ms = np.asarray(ladder, float)
    if Ms.size < 4:
        raise InvalidArgument("ladder", ladder, "need at least four rungs for a three-term fit")
    X = np.stack([np.ones_like(Ms), np.log(Ms), 1.0 / Ms], axis=1)
    w = 1.0 / np.asarray(log_se, float) ** 2
    A = X.T @ (w[:, None] * X)
    cov = np.linalg.inv(A)
    beta = cov @ (X.T @ (w * np.log(np.asarray(values, float))))
    se = float(math.sqrt(cov[1, 1]))
    t = t_quantile((1 + confidence) / 2, dof)
    p = float(beta[1])
    return {
        "slope": p,
        "ci": [p - t * se, p + t * se],
        "intercept": float(beta[0]),
        "correction_D": float(beta[2]),
        "confidence": confidence,
        "dof": dof,
        "se": se,
        "t": t,
        "method": "weighted lsq of log v = a + p log M + D/M, per-point SE from seeds "
        "(delta method), t interval",
    }


def check_b3(
    impl: Any,
    case: FlowCase,
    *,
    ladder: list[int],
    L: int = 4,
    seeds: int = 200,
    confidence: float = DECISION_CONFIDENCE,
    seed0: int = 3000,
) -> list[Verdict]:
    """B3: width. For the ``j``-th ``M`` of ``ladder`` and seeds ``seed0 + j·seeds + s``,
    ``s < seeds`` (fresh draws per rung, so the rungs' errors are independent), a network
    ``Θ_{L,M}`` sampled from the measure (both schemes); its loss by the implementation's
    ``loss`` against ``E_L^∞`` (mforacle's ``M = ∞`` network of the same depth,
    :func:`fast_mean_field`, the reference). ``MSE = Var + bias² = C/M · (1 + O(1/M))``:
    ``C/M`` (paths) or ``C/(L·M)`` (independent layers); the variance of a smooth function of
    layer averages and the squared bias (``E`` is nonlinear in them) add ``O(1/M²)``. So
    ``B3.<scheme>``: the two-term weighted fit's slope ``<= −1 + t·SE`` (the MSE falls at least
    like ``1/M``; the ``O(1/M²)`` part only steepens it; a bias that does not vanish — a wrong
    limit, a wrong width scaling — flattens it). ``B3.<scheme>.power``: in
    ``log MSE = a + p log M + D/M`` (:func:`fit_power_with_correction`) the exponent ``p`` lies in
    the ``confidence`` acceptance region ``−1 ± t·SE`` (less power, two-sided)."""
    from mforacle.sampling import sample_network

    lad = _check_ladder(ladder)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 3:
        raise InvalidArgument("seeds", seeds, "expected an integer >= 3")
    disc = ClaimSubject.of(impl)
    net = fast_mean_field(case.model, case.measure, case.x, case.y, case.weights, L=L)
    e_inf = float(net.energy)
    seed_list = list(range(seed0, seed0 + seeds * len(lad)))  # rung j: seed0 + j·seeds + s
    prov = {"measured": disc.label, "reference": code_name(fast_mean_field)}
    per: dict[str, Any] = {}
    out = []
    for scheme in ("paths", "independent"):
        mse, mse_se, var, bias = [], [], [], []
        for j, M in enumerate(lad):
            e = np.array(
                [
                    disc.loss(
                        case.model,
                        sample_network(case.measure, L, M, seed=s, scheme=scheme),
                        case.x,
                        case.y,
                        case.weights,
                    )
                    - e_inf
                    for s in seed_list[j * seeds : (j + 1) * seeds]  # this rung's own block
                ]
            )
            if not np.all(np.isfinite(e)):
                for lst in (mse, mse_se, var, bias):
                    lst.append(math.nan)
                continue
            m_, s_ = mean_square_log_se(e)
            mse.append(m_)
            mse_se.append(s_)
            var.append(float(e.var(ddof=1)))
            bias.append(float(e.mean()))
        per[scheme] = {"mse": mse, "variance": var, "bias": bias}
        law = "1/M" if scheme == "paths" else "1/(L·M)"
        title = f"width ({scheme}): E[(E(Θ_L,M) − E_L^∞)²] = O({law})"
        ev = {
            "case": case.to_json(),
            "seeds": seed_list,
            "L": L,
            "scheme": scheme,
            "implementation": disc.label,
            "E_L_inf": e_inf,
            "ladder_name": "M",
            "ladder": lad,
            "errors": mse,
            "variance": var,
            "bias": bias,
        }
        if not all(math.isfinite(v) and v > 0 for v in mse + mse_se):
            out.append(
                Verdict.measured(
                    f"B3.{scheme}",
                    title,
                    math.nan,
                    "in",
                    [-1.0, -1.0],
                    error_model="mean squares must be positive and finite",
                    reason=f"MSE {mse}",
                    evidence=ev,
                    provenance=prov,
                )
            )
            continue
        fit2 = fit_slope_weighted(lad, mse, mse_se, dof=seeds - 1, confidence=confidence)
        fit = fit_power_with_correction(lad, mse, mse_se, dof=seeds - 1, confidence=confidence)
        stat = (
            f"{confidence:.0%} confidence, t({seeds - 1} dof) × SE; per-rung SE of log MSE by "
            f"the delta method over {seeds} seeds"
        )
        out.append(
            Verdict.measured(
                f"B3.{scheme}",
                title,
                fit2.slope,
                "<=",
                -1 + fit["t"] * fit2.se,
                error_model=f"MSE falls at least like {law}: weighted fit of log MSE vs log M, "
                f"slope <= −1 + t·SE (one-sided: the O(1/M²) part only steepens it) at {stat}",
                reason=f"L = {L}, MSE "
                + ", ".join(f"{v:.3g}" for v in mse)
                + f" for M = {lad}; slope {fit2.slope:.3f} [{fit2.ci[0]:.3f}, {fit2.ci[1]:.3f}]",
                evidence={**ev, "fit": fit2.to_json(), "fit_with_correction": fit},
                provenance=prov,
            )
        )
        out.append(
            Verdict.measured(
                f"B3.{scheme}.power",
                title + ": exponent −1",
                fit["slope"],
                "in",
                [-1 - fit["t"] * fit["se"], -1 + fit["t"] * fit["se"]],
                error_model=f"log MSE = a + p log M + D/M (D/M absorbs the O(1/M²) part); "
                f"p = −1 accepted at {stat}",
                reason=f"p = {fit['slope']:.3f} [{fit['ci'][0]:.3f}, {fit['ci'][1]:.3f}], "
                f"D = {fit['correction_D']:.3g}",
                evidence={**ev, "fit": fit},
                provenance=prov,
            )
        )
    if all(math.isfinite(v) for sc in per.values() for v in sc["mse"]):
        ratio = [p / q for p, q in zip(per["paths"]["mse"], per["independent"]["mse"], strict=True)]
        for v in out:
            v.evidence["mse_ratio_paths_over_independent"] = ratio
            v.evidence["theory_ratio"] = L
    return out


# --------------------------------------------------------------------------- B4


def _normal_quantile(p: float) -> float:
    return t_quantile(p, math.inf)


def _stein_floor(model: Model, c: np.ndarray, A: np.ndarray, z: np.ndarray) -> float:
    """Float64 error allowance of the fast Stein ``F``, ``J`` (tests/test_gaussian_expectations:
    positive-weight sums of terms <= B = 1 + |m| + 10 s, coefficients <= coef, factor 4·16 u)."""
    d = model.d
    m = float(c[:d] @ z + c[2 * d])
    a = A[:d].T @ z + A[2 * d]
    s = float(np.sqrt(a @ a))
    B = 1 + abs(m) + 10 * s
    coef = 1 + float(np.max(np.abs(c))) + float(np.max(np.abs(A))) * (1 + float(np.max(np.abs(z))))
    return 4 * 16 * U * B * coef**3


def check_b4(
    case: FlowCase,
    *,
    samples: int = 20000,
    seed: int = 0,
    depths: tuple[float, ...] = (0.0, 0.5, 1.0),
    confidence: float = 0.999,
    gh_nodes: tuple[int, int] = (40, 64),
    drift_and_jacobian: Any = fast_drift_and_jacobian,
) -> list[Verdict]:
    """B4: ``F_ρ(z, t)``, ``J_ρ(z, t)`` at the case's inputs ``z = x_n`` and ``depths`` against
    Monte Carlo (``samples`` draws of ``ξ`` from ``default_rng(seed)``, the same for every
    depth) and against tensor Gauss–Hermite in ``ξ`` (``r <= 2``)."""
    from mforacle.fast.activations import get
    from mforacle.fast.gaussian import GaussianPathArrays

    model, meas = case.model, case.measure
    d, r = model.d, meas.r
    path = GaussianPathArrays.of(meas)
    z = np.asarray(case.x, float)
    act = get(model.activation)
    rng = np.random.default_rng(seed)
    xi = rng.standard_normal((samples, r))
    zs, diffs, ses, floors = [], [], [], []
    zero_z, gh_zero = [], []  # what F = J = 0 would score: the checks must tell it apart
    gh_w, gh_ref = [], []
    x1, w1 = np.polynomial.hermite.hermgauss(gh_nodes[0])
    x2, w2 = np.polynomial.hermite.hermgauss(gh_nodes[1])

    def tensor(xs: np.ndarray, ws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = np.meshgrid(*([np.sqrt(2.0) * xs] * r), indexing="ij")
        nodes = np.stack([v.reshape(-1) for v in g], axis=1)
        wt = np.ones(1)
        for _ in range(r):
            wt = np.outer(wt, ws / np.sqrt(np.pi)).reshape(-1)
        return nodes, wt

    def moments(c: np.ndarray, A: np.ndarray, nodes: np.ndarray, wt: np.ndarray | None):
        th = c + nodes @ A.T
        W, Uu, b = th[:, :d], th[:, d : 2 * d], th[:, 2 * d]
        pre = z @ W.T + b  # (B, S)
        s0, s1 = act.both(pre)
        f = s0[:, :, None] * Uu[None]  # (B, S, d)
        jz = s1[:, :, None, None] * Uu[None, :, :, None] * W[None, :, None, :]
        terms = np.concatenate(
            [f.reshape(len(z), len(th), -1), jz.reshape(len(z), len(th), -1)], axis=2
        )  # (B, S, d + d²)
        if wt is None:
            return terms.mean(1), terms.std(1, ddof=1) / math.sqrt(len(th)), np.abs(terms).max()
        return np.einsum("bsk,s->bk", terms, wt), None, np.abs(terms).max()

    for t in depths:
        rho = path.at(float(t))
        F, J = drift_and_jacobian(model, meas, float(t), z)
        stein = np.concatenate(
            [np.asarray(F, float).reshape(len(z), d), np.asarray(J, float).reshape(len(z), d * d)],
            axis=1,
        )
        mean, se, big = moments(rho.c, rho.A, xi, None)
        floor = np.array([_stein_floor(model, rho.c, rho.A, zz) for zz in z])[:, None]
        floor = floor + (math.log2(samples) + 4) * U * big
        diffs.append(np.abs(stein - mean))
        ses.append(se)
        floors.append(np.broadcast_to(floor, se.shape))
        zs.append(np.abs(stein - mean) / (se + floor))
        zero_z.append(np.abs(mean) / (se + floor))
        if r <= 2:
            q1, _, _big1 = moments(rho.c, rho.A, *tensor(x1, w1))
            q2, _, big2 = moments(rho.c, rho.A, *tensor(x2, w2))
            allow = np.abs(q1 - q2) + (math.log2(len(x2) ** r) + 4) * U * big2 + floor
            gh_ref.append(np.abs(stein - q2) / allow)
            gh_zero.append(np.abs(q2) / allow)
            gh_w.append(float(np.max(np.abs(q1 - q2))))
    zsc = np.concatenate([v.reshape(-1) for v in zs])
    K = zsc.size
    alpha = 1 - confidence
    zq = _normal_quantile(1 - alpha / (2 * K))
    worst = int(np.argmax(zsc))
    zero = float(max(np.max(v) for v in zero_z))
    ev = {
        "case": case.to_json(),
        "seeds": [seed],
        "samples": samples,
        "depths": list(depths),
        "implementation": code_name(drift_and_jacobian),
        "components": K,
        "z_scores": [v.tolist() for v in zs],
        "differences": [v.tolist() for v in diffs],
        "standard_errors": [v.tolist() for v in ses],
        "zero_drift_z": zero,
    }
    title = "Stein expectations F_ρ, J_ρ = Monte Carlo within its standard error"
    if zero <= zq:
        return [
            Verdict.not_checked(
                "B4", title, f"F = J = 0 would pass too (z-score {zero:.3g} <= {zq:.3g})"
            )
        ]
    out = [
        Verdict.measured(
            "B4",
            title,
            float(zsc[worst]),
            "<=",
            zq,
            error_model=f"|Stein − MC| / (SE_MC + float floor) <= z_(1−α/2K) = {zq:.3f}: "
            f"two-sided normal quantile, Bonferroni over K = {K} components, family "
            f"confidence {confidence}; {samples} draws (seed {seed})",
            reason=f"worst z-score {zsc[worst]:.3f} over {K} components of F and J at "
            f"t = {list(depths)}, z = the case's inputs",
            evidence=ev,
            provenance={
                "measured": code_name(drift_and_jacobian),
                "reference": "mforacle.claims.limit.check_b4 (Monte Carlo over ξ)",
            },
        )
    ]
    if gh_ref and max(float(np.max(v)) for v in gh_zero) > 1:
        g = np.concatenate([v.reshape(-1) for v in gh_ref])
        out.append(
            Verdict.measured(
                "B4.quadrature",
                "Stein expectations = tensor Gauss–Hermite quadrature in ξ",
                float(np.max(g)),
                "<=",
                1.0,
                error_model=f"|Stein − GH({gh_nodes[1]})| <= |GH({gh_nodes[0]}) − "
                f"GH({gh_nodes[1]})| (quadrature error estimate) + summation roundoff + the "
                "Stein float floor",
                reason=f"worst ratio {float(np.max(g)):.3g}; quadrature differences "
                + ", ".join(f"{v:.1e}" for v in gh_w),
                evidence={
                    "case": case.to_json(),
                    "nodes": list(gh_nodes),
                    "quadrature_difference": gh_w,
                },
                provenance={
                    "measured": code_name(drift_and_jacobian),
                    "reference": "mforacle.claims.limit.check_b4 (tensor Gauss–Hermite in ξ)",
                },
            )
        )
    return out


# --------------------------------------------------------------------------- B5


def _simpson(values: np.ndarray) -> float:
    """Composite Simpson on the uniform grid ``t_i = i/(T−1)``, ``T`` odd."""
    T = len(values)
    w = np.ones(T)
    w[1:-1:2], w[2:-1:2] = 4, 2
    return float(w @ values) / (3 * (T - 1))


def _mixture(rho: Any, nu: Any, eps: float) -> Any:
    """``ρ + ε(ν − ρ)`` as one particle measure (``ε < 0`` allowed: weights not validated)."""
    from mforacle.fast.limit import ParticleMeasure

    nodes = np.concatenate([rho.nodes, nu.nodes], axis=1)
    w = np.concatenate([(1 - eps) * rho.weights, eps * nu.weights])
    return ParticleMeasure(nodes, w)


def check_b5(
    case: FlowCase,
    nu: Any,
    *,
    T: int = 17,
    n: int = 8,
    eps: float = 1e-4,
    particle_energy: Any = fast_particle_energy,
    first_variation: Any = fast_first_variation,
) -> Verdict:
    """B5: ``d/dε E(ρ + ε(ν − ρ))`` at 0 equals ``∫∫ δE/δρ d(ν − ρ) dt``.

    ``ρ``, ``ν``: Gauss–Hermite particles (``n`` nodes) of ``case.measure`` and of the Gaussian
    path ``nu``. Left side ``D(ε/2)`` (central difference of the particle energy), its error
    estimated by ``|D(ε) − D(ε/2)|`` plus roundoff ``2δE/ε``, ``δE = u(20T+50)max(1,|E|)``
    (the fast limit's model). Right side: Simpson in ``t`` of the weighted first variation.
    Both on the depth grids ``T`` and ``2T − 1``; each side's depth error is bounded by its
    change between them (order 4: halving the step more than halves the error). Figure:
    ``|LHS − RHS| / allowed`` on the finer grid, held ``<= 1``."""
    from mforacle.fast.limit import ParticleMeasure

    title = "first variation: d/dε E(ρ + ε(ν − ρ)) = ∫∫ δE/δρ d(ν − ρ) dt"
    if not 0 < eps < 0.5:
        raise InvalidArgument("eps", eps, "expected 0 < eps < 1/2")
    m, x, y, w = case.model, case.x, case.y, case.weights
    sides = []
    for TT in (T, 2 * T - 1):
        rho = ParticleMeasure.from_gaussian(m, case.measure, TT, n)
        nuP = ParticleMeasure.from_gaussian(m, nu, TT, n)

        def E(e: float, rho: Any = rho, nuP: Any = nuP) -> float:
            return float(particle_energy(m, _mixture(rho, nuP, e), x, y, w))

        e0 = E(0.0)
        d1 = (E(eps) - E(-eps)) / (2 * eps)
        d2 = (E(eps / 2) - E(-eps / 2)) / eps
        dE = U * (20 * TT + 50) * max(1.0, abs(e0))
        fd_err = abs(d1 - d2) + 2 * dE / eps
        fv_rho = np.asarray(first_variation(m, rho, x, y, w, rho.nodes), float)
        fv_nu = np.asarray(first_variation(m, rho, x, y, w, nuP.nodes), float)
        rhs = _simpson(fv_nu @ nuP.weights - fv_rho @ rho.weights)
        sides.append({"T": TT, "lhs": d2, "fd_error": fd_err, "rhs": rhs, "energy": e0})
    coarse, fine = sides
    depth_lhs = abs(coarse["lhs"] - fine["lhs"])
    depth_rhs = abs(coarse["rhs"] - fine["rhs"])
    allowed = fine["fd_error"] + depth_lhs + depth_rhs
    diff = abs(fine["lhs"] - fine["rhs"])
    fig = diff / allowed if allowed > 0 else (0.0 if diff == 0 else math.inf)
    if not math.isfinite(diff):
        fig = math.inf
    elif max(abs(fine["lhs"]), abs(fine["rhs"])) <= allowed:
        return Verdict.not_checked(
            "B5",
            title,
            f"both sides are within the allowance {allowed:.2g} of 0: a constant energy and "
            "first variation would pass too (degenerate ν)",
        )
    return Verdict.measured(
        "B5",
        title,
        fig,
        "<=",
        1.0,
        error_model="allowed = central-difference error (|D(ε) − D(ε/2)| + 2δE/ε, "
        f"ε = {eps:g}) + each side's change from T = {T} to {2 * T - 1} (order-4 depth "
        "discretization; halving the step at least halves the error)",
        reason=f"d/dε E = {fine['lhs']:.10g}, ∫∫ δE/δρ d(ν − ρ) dt = {fine['rhs']:.10g}: "
        f"|diff| {diff:.2g}, allowed {allowed:.2g}",
        evidence={
            "case": case.to_json(),
            "nu": nu.to_json(),
            "n": n,
            "eps": eps,
            "implementation": f"{code_name(particle_energy)}, {code_name(first_variation)}",
            "grids": sides,
        },
        provenance={
            "measured": code_name(first_variation),
            "reference": code_name(particle_energy),
        },
    )


def builtin_nu(model: Model) -> Any:
    """A second Gaussian path ``ν`` for B5 (dyadic, r = 1, linear in t)."""
    from mforacle.measures import GaussianPath

    k = model.k
    c = [[(-1) ** i * 0.25, 0.125 * (i % 3)] for i in range(k)]
    A = [[[0.5, -0.25 * (i % 2)]] for i in range(k)]
    return GaussianPath.create(model, 1, c, A)


# --------------------------------------------------------------------------- built-in runs


def _flow_cases(sizes: dict[str, Any]) -> list[FlowCase]:
    return [builtin_flow_case(i) for i in range(int(sizes.get("cases", 2)))]


def run_b1(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    """B1 on mforacle's own limit code (``subject`` is not called)."""
    lad = sizes.get("ladder", [4, 8, 16, 32])
    return [v for c in _flow_cases(sizes) for v in check_b1(c, ladder=lad)]


def run_b2(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    """B2 on mforacle's own limit code (``subject`` is not called)."""
    lad = sizes.get("ladder", [4, 8, 16, 32])
    return [v for c in _flow_cases(sizes) for v in check_b2(c, ladder=lad)]


def run_b3(impl: Any, sizes: dict[str, Any]) -> list[Verdict]:
    return check_b3(
        impl,
        builtin_flow_case(0),
        ladder=sizes.get("ladder", [4, 8, 16, 32]),
        seeds=int(sizes.get("seeds", 40)),
        L=int(sizes.get("L", 4)),
    )


def run_b4(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    """B4 on mforacle's own Stein expectations (``subject`` is not called)."""
    return [
        v
        for i, c in enumerate(_flow_cases(sizes))
        for v in check_b4(c, samples=int(sizes.get("samples", 20000)), seed=400 + i)
    ]


def run_b5(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    """B5 on mforacle's own particle solver (``subject`` is not called)."""
    return [check_b5(c, builtin_nu(c.model)) for c in _flow_cases(sizes)]
