"""Claim C3 (``docs/claims.md`` §C): Theorem 6, the trained network tends to the trained
limit, ``1/L`` in depth and ``1/M`` in width, after training both to the same time ``s``.

- ``check_c3_depth`` — one *paths* sample of ``M`` neurons against the particle flow of the same
  ``M`` paths on a fine depth grid: the difference is the depth discretization alone, fitted
  slope −1 ± 0.15 in ``L``.
- ``check_c3_width`` — over seeds, ``E(Θ_{L,M}(s)) − E(ρ(s))`` for a ladder of widths ``M``, each
  rung on its own block of seeds (independent rungs), ``ρ(s)`` by Gauss–Hermite particles. The
  verdict fits the seed *variance* (the part of the mean square that depends on ``M``); the mean
  square and the bias, split into its depth part and its ``1/M`` part, are evidence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mforacle.errors import InvalidArgument
from mforacle.stats import DECISION_CONFIDENCE, fit_slope, power_note, rate_power
from mforacle.verdict import Verdict

from .subject import ClaimSubject
from .training_cases import FlowCase, builtin_flow_case
from .training_runs import flow_name, loss_roundoffs, needs, reference_loss, train_final_loss

__all__ = [
    "WIDTH_SCHEMES",
    "c3_depth_verdict",
    "check_c3_depth",
    "check_c3_width",
    "finish_c3",
    "part_c3",
    "parts_c3",
    "run_c3",
    "width_reference",
    "width_runs",
    "width_seeds",
]

#: the sampling schemes C3.width compares (mforacle.sampling)
WIDTH_SCHEMES = ("paths", "independent")


def _path_nodes(measure: Any, ts: np.ndarray, xi: np.ndarray) -> np.ndarray:
    """``θ(t) = c(t) + A(t) ξ`` for depths ``ts`` (T,) and draws ``xi`` (J, r): (T, J, k)."""
    from mforacle.fast.gaussian import GaussianPathArrays

    arr = GaussianPathArrays.of(measure)
    out = []
    for t in ts:
        rho = arr.at(float(t))
        out.append(rho.c + xi @ rho.A.T)
    return np.stack(out)


# --------------------------------------------------------------------------- depth


def check_c3_depth(
    impl: Any,
    case: FlowCase,
    *,
    ladder: list[int],
    M: int = 4,
    seed: int = 0,
    s: float = 1.0,
    ds: float = 0.05,
    T_ref: int = 129,
    confidence: float = DECISION_CONFIDENCE,
) -> Verdict:
    """Theorem 6, depth: ``|E(Θ_{L,M}(s)) − E(ρ_M(s))| = O(1/L)``.

    ``Θ_{L,M}(0)`` is the *paths* sample ``θ_{l,m} = c(l/L) + A(l/L) ξ_m`` with the ``M`` draws
    ``ξ_m`` of ``seed`` (:func:`mforacle.sampling.sample_network`), the same for every ``L``;
    ``ρ_M`` is the measure those ``M`` paths carry, ``(1/M) Σ_m δ_{θ_m(t)}``, whose flow is the
    particle flow with ``M`` equal weights, computed on a depth grid of ``T_ref`` points (order 4
    in depth) — so the difference is the depth discretization alone (deterministic given the
    paths: no seed statistics enter). Both are trained by explicit Euler at the same ``Δs`` to
    ``s``. Reference error: ``|E_T_ref − E_(T_ref+1)/2|`` (order 4: an overestimate of the finer
    one's error), required below 1/10 of the smallest measured difference. Figure: fitted slope
    of log error vs log L, held to [−1.15, −0.85]; the verdict states the slope's interval at
    ``confidence`` and its power (:func:`mforacle.stats.rate_power`, the residual scatter about
    the line as the noise).
    """
    from mforacle.fast.limit import ParticleMeasure
    from mforacle.sampling import sample_network

    title = "Theorem 6 (depth): trained network -> trained limit at order 1/L"
    impl = ClaimSubject.of(impl)
    if (v := needs("C3.depth", title, impl, ("loss", "train_step"))) is not None:
        return v
    steps = round(s / ds)
    xi = np.random.default_rng(seed).standard_normal((M, case.measure.r))  # sampling's draw
    probe = sample_network(case.measure, 2, M, seed=seed, scheme="paths")
    if not np.allclose(probe, _path_nodes(case.measure, np.array([0.0, 0.5]), xi), atol=1e-14):
        raise InvalidArgument("sampling", "paths", "sample_network no longer draws ξ as documented")
    w = np.full(M, 1.0 / M)

    def paths_on_grid(T: int) -> Any:
        nodes = _path_nodes(case.measure, np.arange(T) / (T - 1), xi)
        return ParticleMeasure.create(case.model, nodes, w)

    ref, ref_err = reference_loss(
        case, paths_on_grid(T_ref), paths_on_grid((T_ref + 1) // 2), ds, steps
    )
    losses = [
        train_final_loss(
            impl, case, sample_network(case.measure, L, M, seed=seed, scheme="paths"), ds, steps
        )
        for L in ladder
    ]
    return c3_depth_verdict(
        case,
        ladder=list(ladder),
        losses=losses,
        reference=(ref, ref_err),
        M=M,
        seed=seed,
        s=s,
        ds=ds,
        T_ref=T_ref,
        confidence=confidence,
        measured=impl.label,
    )


def c3_depth_verdict(
    case: FlowCase,
    *,
    ladder: list[int],
    losses: list[float],
    reference: tuple[float, float],
    M: int,
    seed: int,
    s: float,
    ds: float,
    T_ref: int,
    confidence: float = DECISION_CONFIDENCE,
    measured: str = "",
) -> Verdict:
    """The C3.depth verdict from the trained losses ``E(Θ_{L,M}(s))`` on ``ladder`` and the
    reference ``(E(ρ_M(s)), its error estimate)`` (:func:`check_c3_depth` documents it)."""
    title = "Theorem 6 (depth): trained network -> trained limit at order 1/L"
    ref, ref_err = reference
    errors = [abs(e - ref) for e in losses]
    fit = fit_slope(ladder, errors, confidence) if min(errors) > 0 else None
    evidence = {
        "case": case.to_json(),
        "seeds": [seed],
        "M": M,
        "s": s,
        "ds": ds,
        "ladder_name": "L",
        "ladder": list(ladder),
        "errors": errors,
        "losses": losses,
        "reference": {"E": ref, "T": T_ref, "error_estimate": ref_err, "particles": M},
        "ratios": [errors[i] / errors[i + 1] for i in range(len(errors) - 1)],
        "fit": fit.to_json() if fit else None,
    }
    if fit is None:
        return Verdict.errored("C3.depth", title, "an error was exactly zero", evidence)
    if ref_err > 0.1 * min(errors):
        return Verdict.not_checked(
            "C3.depth", title, f"reference error {ref_err:.2g} not below 1/10 of {min(errors):.2g}"
        )
    window = (-1.15, -0.85)
    power = rate_power(
        claimed=-1.0, se=fit.se, dof=fit.dof, acceptance=window, confidence=confidence
    )
    evidence["experiment"] = {
        "ladder_name": "L",
        "ladder": list(ladder),
        "seeds": [seed],
        "M": M,
        "fit": fit.method,
        "level": confidence,
    }
    evidence["power"] = power
    return Verdict.measured(
        "C3.depth",
        title,
        fit.slope,
        "in",
        list(window),
        error_model=f"explicit Euler in depth: order 1, slope −1 ± 0.15 (as docs/claims.md B1); "
        f"slope {confidence:.1%} CI [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}]; reference "
        f"error {ref_err:.1e} (T = {T_ref}) vs smallest difference {min(errors):.1e}",
        reason=f"M = {M} paths, s = {s:g}, Δs = {ds:g}; errors "
        + ", ".join(f"{e:.3g}" for e in errors)
        + f" for L = {list(ladder)}; "
        + power_note(power),
        evidence=evidence,
        provenance={"measured": measured, "reference": flow_name()},
    )


# --------------------------------------------------------------------------- width


def width_seeds(seed0: int, seeds: int, rungs: int) -> list[list[int]]:
    """Disjoint seed blocks, one per rung: rung ``j`` uses ``seed0 + j·seeds + i``, ``i < seeds``
    (the convention B3 documents). :func:`mforacle.sampling.sample_network` draws the ``M``
    rows of ``ξ`` first, so one seed shared by two widths gives them the same leading neurons:
    the rungs' errors would be correlated and the slope's interval, which assumes independent
    rungs, would not have its stated coverage."""
    return [list(range(seed0 + j * seeds, seed0 + (j + 1) * seeds)) for j in range(rungs)]


def _bias_split(ladder: list[int], bias: list[float], bias_se: list[float]) -> dict[str, Any]:
    """Weighted least squares ``bias(M) = b_depth + c/M`` (weights ``1/SE²``): ``b_depth`` is the
    ``M → ∞`` bias at this depth ``L`` (the ``O(1/L)`` part, Theorem 6's depth term), ``c/M`` the
    width part (``E`` is nonlinear in the layer averages). SEs from ``(XᵀWX)⁻¹``."""
    X = np.column_stack([np.ones(len(ladder)), 1.0 / np.asarray(ladder, float)])
    w = 1.0 / np.asarray(bias_se, float) ** 2
    cov = np.linalg.inv(X.T @ (w[:, None] * X))
    coef = cov @ (X.T @ (w * np.asarray(bias, float)))
    return {
        "model": "bias(M) = depth + width/M, weighted least squares, weights 1/SE(bias)²",
        "depth": float(coef[0]),
        "depth_se": math.sqrt(float(cov[0, 0])),
        "width": float(coef[1]),
        "width_se": math.sqrt(float(cov[1, 1])),
    }


def width_runs(
    impl: Any,
    case: FlowCase,
    *,
    scheme: str,
    L: int,
    M: int,
    seeds: list[int],
    ds: float,
    steps: int,
) -> np.ndarray:
    """One C3.width part: for each seed, ``Θ_{L,M}(0)`` sampled by ``scheme``
    (:func:`mforacle.sampling.sample_networks`) and trained ``steps`` GD steps of ``Δs`` by the
    implementation (:meth:`ClaimSubject.train_final`: one batch call per step when it has
    ``train_step_batch``). Returns ``(3, len(seeds))``: ``E(Θ(0))``, ``E(Θ(s))`` and the float64
    roundoff allowance of the two losses (:func:`loss_roundoffs`; 0 when ``Θ(s)`` is not
    finite): a change below it is no evidence that the implementation trained at all."""
    from mforacle.sampling import sample_networks

    subject = ClaimSubject.of(impl)
    m, x, y, w = case.model, case.x, case.y, case.weights
    theta0 = sample_networks(case.measure, L, M, seeds=list(seeds), scheme=scheme)
    final = subject.train_final(m, theta0, x, y, w, ds=ds, steps=steps)
    e0, e1 = subject.losses(m, theta0, x, y, w), subject.losses(m, final, x, y, w)
    finite = np.all(np.isfinite(final.reshape(len(final), -1)), axis=1)
    allow = np.zeros(len(final))
    if np.any(finite):
        allow[finite] = loss_roundoffs(m, theta0[finite], x, y, w) + loss_roundoffs(
            m, final[finite], x, y, w
        )
    return np.stack([e0, e1, allow])


def _width_scheme(
    ladder: list[int],
    runs: list[np.ndarray],
    ref: float,
    confidence: float,
) -> dict[str, Any]:
    """Per rung (``runs[j]``: :func:`width_runs` of rung ``j``'s seeds): seed variance (the
    verdict's figure), mean square and bias against ``ref``, with their standard errors; the
    variance fit with its power (:func:`mforacle.stats.rate_power`), the mean-square fit and the
    bias split."""
    from mforacle.stats import fit_slope_weighted, mean_square_log_se, t_quantile

    n = runs[0].shape[1]
    var, var_se, mse, mse_se, bias, bias_se = [], [], [], [], [], []
    unmoved = 0  # runs whose loss did not change beyond roundoff: no training to measure
    for r in runs:
        e0, e1, allow = r
        unmoved += int(np.sum(np.abs(e1 - e0) <= allow))
        e = e1 - ref
        v_, se_ = mean_square_log_se(e - e.mean())
        var.append(v_ * n / (n - 1))
        var_se.append(se_)
        m_, mse_ = mean_square_log_se(e)
        mse.append(m_)
        mse_se.append(mse_)
        bias.append(float(e.mean()))
        bias_se.append(float(e.std(ddof=1)) / math.sqrt(n))
    fit = fit_slope_weighted(ladder, var, var_se, dof=n - 1, confidence=confidence)
    t = t_quantile((1 + confidence) / 2, n - 1)
    window = (-1 - t * fit.se, -1 + t * fit.se)
    return {
        "variance": var,
        "log_se": var_se,
        "fit": fit.to_json(),
        "window": list(window),
        "power": rate_power(
            claimed=-1.0, se=fit.se, dof=n - 1, acceptance=window, confidence=confidence
        ),
        "mse": mse,
        "mse_log_se": mse_se,
        "mse_fit": fit_slope_weighted(
            ladder, mse, mse_se, dof=n - 1, confidence=confidence
        ).to_json(),
        "bias": bias,
        "bias_se": bias_se,
        "runs": n * len(ladder),
        "unmoved": unmoved,
        "bias_split": _bias_split(ladder, bias, bias_se),
    }


def width_reference(
    case: FlowCase, *, s: float = 1.0, ds: float = 0.05, T_ref: int = 33, n_ref: int = 24
) -> tuple[float, float]:
    """``(E(ρ(s)), its error estimate)`` for C3.width: Gauss–Hermite particle flow on ``T_ref``
    depth points × ``n_ref`` nodes, the error estimated by halving both (one C3 part)."""
    from mforacle.fast.limit import ParticleMeasure

    steps = round(s / ds)
    return reference_loss(
        case,
        ParticleMeasure.from_gaussian(case.model, case.measure, T_ref, n_ref),
        ParticleMeasure.from_gaussian(case.model, case.measure, (T_ref + 1) // 2, n_ref // 2),
        ds,
        steps,
    )


def check_c3_width(
    impl: Any,
    case: FlowCase,
    *,
    ladder: list[int],
    L: int = 4,
    seeds: int = 24,
    s: float = 1.0,
    ds: float = 0.05,
    T_ref: int = 33,
    n_ref: int = 24,
    confidence: float = DECISION_CONFIDENCE,
    seed0: int = 1000,
    runs: dict[str, list[np.ndarray]] | None = None,
    reference: tuple[float, float] | None = None,
) -> list[Verdict]:
    """Theorem 6, width: the seed variance of ``E(Θ_{L,M}(s))`` is ``∝ 1/M`` (paths); the mean
    square against ``E(ρ(s))`` and the bias are reported next to it.

    For the ``j``-th ``M`` of ``ladder`` and the seeds ``seed0 + j·seeds + i``, ``i < seeds``
    (:func:`width_seeds`: a fresh block per rung, so the rungs are independent, as the fit
    assumes; both schemes use the same block), ``Θ_{L,M}(0)`` is sampled from ``ρ_ini``
    (*paths*, and *independent layers* for comparison) and trained to ``s``.

    What is fitted and why: the claim's quantity is the mean square
    ``E[(E_{L,M} − E(ρ(s)))²] = bias² + Var``. At fixed ``L`` the bias tends to the depth term
    ``b_L = O(1/L)`` (checked by C3.depth), not to 0, so the mean square flattens toward ``b_L²``
    as ``M`` grows and its slope is not −1 at fixed depth; the ``M``-dependent part the theorem
    bounds by ``C/M`` is the variance. So the verdict fits ``log Var`` vs ``log M`` (weighted by
    each log variance's delta-method standard error over the seeds) and accepts slope −1 at the
    ``confidence`` level: figure in ``[−1 − t·SE, −1 + t·SE]``, ``t`` from Student's t with
    ``seeds − 1`` dof. Evidence: the mean square and its fitted slope, the bias with its split
    ``b_L + c/M`` (:func:`_bias_split`), and paths vs independent layers (``C/M`` vs
    ``C/(L·M)``: variance ratio ≈ L). ``ρ(s)``: Gauss–Hermite particle flow (``T_ref``,
    ``n_ref``), error estimated by halving both (:func:`width_reference`). Each verdict states
    its experiment and its power (:func:`mforacle.stats.rate_power`).

    ``runs`` (``runs[scheme][j]``: :func:`width_runs` of rung ``j``'s seeds) and ``reference``
    (:func:`width_reference`) may be given, computed elsewhere (the parts of a cluster run);
    default: computed here.
    """

    title = "Theorem 6 (width): seed variance of the trained loss ∝ 1/M"
    impl = ClaimSubject.of(impl)
    if (v := needs("C3.width", title, impl, ("loss", "train_step"))) is not None:
        return [v]
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 3:
        raise InvalidArgument("seeds", seeds, "expected an integer >= 3")
    steps = round(s / ds)
    if reference is None:
        reference = width_reference(case, s=s, ds=ds, T_ref=T_ref, n_ref=n_ref)
    ref, ref_err = reference
    blocks = width_seeds(seed0, seeds, len(ladder))
    if runs is None:
        runs = {
            scheme: [
                width_runs(impl, case, scheme=scheme, L=L, M=M, seeds=block, ds=ds, steps=steps)
                for M, block in zip(ladder, blocks, strict=True)
            ]
            for scheme in WIDTH_SCHEMES
        }
    per = {
        scheme: _width_scheme(list(ladder), runs[scheme], ref, confidence)
        for scheme in WIDTH_SCHEMES
    }
    if ref_err > 0.1 * math.sqrt(min(per["paths"]["mse"])):
        return [Verdict.not_checked("C3.width", title, f"reference error {ref_err:.2g} too large")]
    ratio = [
        p / q for p, q in zip(per["paths"]["variance"], per["independent"]["variance"], strict=True)
    ]
    seed_list = [sd for block in blocks for sd in block]

    def verdict(claim: str, what: str, scheme: str, extra: dict[str, Any]) -> Verdict:
        sch = per[scheme]
        fit, split = sch["fit"], sch["bias_split"]
        if sch["unmoved"] == sch["runs"]:  # the variance of untrained losses also falls as 1/M
            return Verdict(
                claim,
                what,
                "fail",
                reason=f"training changed no loss beyond its roundoff in {sch['runs']} runs "
                f"({scheme}): the train_step does not move Θ, and the 1/M variance of the "
                "initial losses would pass vacuously",
                evidence={"scheme": sch, **extra},
                provenance={"measured": impl.label, "reference": flow_name()},
            )
        return Verdict.measured(
            claim,
            what,
            fit["slope"],
            "in",
            sch["window"],
            error_model=f"fitted: log of the seed variance Var_M of E(Θ_L,M(s)) vs log M, the "
            "M-dependent part of the mean square E[(E(Θ_L,M(s)) − E(ρ(s)))²] = bias² + Var_M "
            "(at fixed L the bias tends to the O(1/L) depth term, C3.depth, so the mean square "
            f"flattens and is reported, not fitted); slope −1 accepted at {confidence:.1%}: "
            f"t({seeds - 1} dof) × SE {fit['se']:.3f}, {seeds} seeds per M in disjoint blocks "
            "(independent rungs), delta-method SE of each log variance",
            reason=f"{scheme}, L = {L}, s = {s:g}; variance "
            + ", ".join(f"{v_:.3g}" for v_ in sch["variance"])
            + ", mean square "
            + ", ".join(f"{v_:.3g}" for v_ in sch["mse"])
            + f" (slope {sch['mse_fit']['slope']:.2f}) for M = {list(ladder)}; "
            + power_note(sch["power"])
            + f"; bias depth part {split['depth']:.2g} ± {split['depth_se']:.1g}"
            + (
                "; paths/independent variance ≈ "
                + ", ".join(f"{r:.2g}" for r in ratio)
                + f" (theory: L = {L}); reference error {ref_err:.1e}"
                if scheme == "paths"
                else ""
            ),
            evidence={
                "seeds": seed_list,
                "seed_blocks": {str(M): [b[0], b[-1]] for M, b in zip(ladder, blocks, strict=True)},
                "ladder_name": "M",
                "ladder": list(ladder),
                "errors": sch["variance"],
                "fit": fit,
                "experiment": {
                    "ladder_name": "M",
                    "ladder": list(ladder),
                    "seeds_per_rung": seeds,
                    "L": L,
                    "s": s,
                    "ds": ds,
                    "fit": fit["method"],
                    "level": confidence,
                },
                "power": sch["power"],
                **extra,
            },
            provenance={"measured": impl.label, "reference": flow_name()},
        )

    return [
        verdict(
            "C3.width",
            title,
            "paths",
            {
                "case": case.to_json(),
                "L": L,
                "s": s,
                "ds": ds,
                "schemes": per,
                "variance_ratio_paths_over_independent": ratio,
                "reference": {"E": ref, "T": T_ref, "n": n_ref, "error_estimate": ref_err},
            },
        ),
        verdict(
            "C3.width.independent",
            "independent-layer sampling: seed variance ∝ 1/(L·M)",
            "independent",
            {"scheme": per["independent"]},
        ),
    ]


def _c3_sizes(sizes: dict[str, Any]) -> dict[str, Any]:
    seeds = int(sizes.get("seeds", 24))
    return {
        "depth_ladder": list(sizes.get("depth_ladder", [4, 8, 16])),
        "M_depth": int(sizes.get("M_depth", 4)),
        "width_ladder": list(sizes.get("width_ladder", [4, 8, 16, 32])),
        "L_width": int(sizes.get("L_width", 4)),
        "seeds": seeds,
        "s": float(sizes.get("s", 1.0)),
        "ds": float(sizes.get("ds", 0.05)),
        "block": max(1, int(sizes.get("block", seeds))),
    }


def run_c3(impl: Any, sizes: dict[str, Any]) -> list[Verdict]:
    """C3.depth and C3.width on the first built-in flow case, all parts here."""
    z = _c3_sizes(sizes)
    case = builtin_flow_case(0)
    out = [
        check_c3_depth(impl, case, ladder=z["depth_ladder"], M=z["M_depth"], s=z["s"], ds=z["ds"])
    ]
    out.extend(
        check_c3_width(
            impl,
            case,
            ladder=z["width_ladder"],
            L=z["L_width"],
            seeds=z["seeds"],
            s=z["s"],
            ds=z["ds"],
        )
    )
    return out


def parts_c3(sizes: dict[str, Any]) -> list[Any]:
    """C3's independent parts: ``depth`` (C3.depth whole: its reference and rungs are cheap),
    ``width/reference`` (the particle flow ``E(ρ(s))``), and per scheme and width ``M`` blocks
    of at most ``sizes["block"]`` of the rung's seeds, ``width/paths/M=64/seeds 1000-1255``."""
    from . import Part

    z = _c3_sizes(sizes)
    out = [Part("depth", {"kind": "depth"}), Part("width/reference", {"kind": "reference"})]
    blocks = width_seeds(1000, z["seeds"], len(z["width_ladder"]))
    for scheme in WIDTH_SCHEMES:
        for M, rung in zip(z["width_ladder"], blocks, strict=True):
            for i in range(0, len(rung), z["block"]):
                sub = rung[i : i + z["block"]]
                out.append(
                    Part(
                        f"width/{scheme}/M={M}/seeds {sub[0]}-{sub[-1]}",
                        {
                            "kind": "runs",
                            "scheme": scheme,
                            "M": M,
                            "first": sub[0],
                            "count": len(sub),
                        },
                    )
                )
    return out


def part_c3(impl: Any, sizes: dict[str, Any], *, kind: str, **kw: Any) -> Any:
    """One part of C3 (:func:`parts_c3`): the C3.depth verdict, the width reference
    ``(E(ρ(s)), error)``, or one block of :func:`width_runs`."""
    z = _c3_sizes(sizes)
    case = builtin_flow_case(0)
    if kind == "depth":
        return check_c3_depth(
            impl, case, ladder=z["depth_ladder"], M=z["M_depth"], s=z["s"], ds=z["ds"]
        )
    if kind == "reference":
        return width_reference(case, s=z["s"], ds=z["ds"])
    if kind == "runs":
        seeds = list(range(kw["first"], kw["first"] + kw["count"]))
        steps = round(z["s"] / z["ds"])
        return width_runs(
            impl, case, scheme=kw["scheme"], L=z["L_width"], M=kw["M"], seeds=seeds,
            ds=z["ds"], steps=steps,
        )  # fmt: skip
    raise InvalidArgument("kind", kind, "expected 'depth', 'reference' or 'runs'")


def finish_c3(impl: Any, sizes: dict[str, Any], results: dict[str, Any]) -> list[Verdict]:
    """C3's verdicts from its parts' results (the width runs assembled in seed order)."""
    z = _c3_sizes(sizes)
    by_rung: dict[tuple[str, int], list[np.ndarray]] = {}
    for p in parts_c3(sizes):
        if p.kwargs["kind"] == "runs":
            by_rung.setdefault((p.kwargs["scheme"], p.kwargs["M"]), []).append(results[p.key])
    runs = {
        sc: [np.concatenate(by_rung[(sc, M)], axis=1) for M in z["width_ladder"]]
        for sc in WIDTH_SCHEMES
    }
    out = [results["depth"]]
    out.extend(
        check_c3_width(
            impl,
            builtin_flow_case(0),
            ladder=z["width_ladder"],
            L=z["L_width"],
            seeds=z["seeds"],
            s=z["s"],
            ds=z["ds"],
            runs=runs,
            reference=results["width/reference"],
        )
    )
    return out
