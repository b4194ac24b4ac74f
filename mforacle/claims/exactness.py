"""Claims A1–A5 (exactness of the computation, ``docs/claims.md`` §A) as checks.

Each ``check_*`` takes an implementation (a :class:`mforacle.claims.subject.ClaimSubject`, or
any object with the members of :mod:`mforacle.protocol`; its arithmetic is its ``dtype``,
default ``"float64"``) and a case
(:class:`mforacle.cases.DiscreteCase`: model, ``theta``, ``x``, ``y``,
``weights``), and returns a :class:`Verdict` whose bound comes from a stated error model:

- ``check_a1`` — the implementation's ``z_L`` (``forward``), ``loss`` (``loss``) and
  ``grad_theta`` and ``grad_x`` (``gradient``), whichever it offers, against the exact path
  (mpmath, certified by the Arb ball path: :mod:`mforacle.reference`), entry by entry. Allowed:
  ``tolerance.entrywise_bounds`` for the dtype's unit roundoff (running error analysis: u ×
  condition × operation count) + the reference's rigorous bound.
  Figure: worst ``|impl − exact| / allowed`` over every entry, held ``<= 1``.
- ``check_a2`` — the gradient is the derivative of the loss. ``A2``: the directional derivative
  ``⟨∇E_impl, Δ⟩`` (``Δ`` a seeded Rademacher direction) against a central difference of the
  *exact* loss at ``FD_DPS`` digits (no adjoint code involved), allowed ``Σ_i |Δ_i| · bound_i``
  (the gradient's entrywise float bound) + the difference's own error. ``A2.taylor``: the
  remainder ``r(h) = |E(Θ + hΔ) − E(Θ) − h⟨∇E_impl, Δ⟩|`` (``E`` exact at ``TAYLOR_DPS``) over
  ``h = 2^-8 … 2^-28``: fitted order held ``>= 1.8`` (order 2 for a right gradient; a wrong one
  leaves a ``|⟨δ, Δ⟩| h`` term: order 1).
- ``check_a3`` — ``grad_x`` (the adjoint ``q_0``, second output of ``gradient``) against central
  differences in ``x`` of each point's own exact loss ``ℓ_n``; allowed as in A2.
- ``check_a4`` — the exact path's reported digits lie inside the certified enclosure: each
  value ``v`` it reports at ``dps`` digits, with its stated bound ``e_q``, against the Arb ball
  ``[m ± r]`` (:mod:`mforacle.ball`, at ``dps + 10`` digits) that provably contains the true
  value. Figure: ``max_q max_entries (|v − m| + r) / e_q`` — a rigorous upper bound on the
  exact path's true error over its stated bound, held ``<= 1`` (the stated bound is then a
  theorem for this case).
- ``check_a5`` — permuting the neurons of every layer and duplicating every neuron (``M → 2M``)
  leave ``forward`` unchanged: for a float implementation within ``b(Θ) + b(Θ')`` (the two
  networks' derived ``z_L`` bounds: both approximate the *same* true value);
  ``check_a5_exact`` — bit for bit in the exact path (``fsum`` is correctly rounded, see
  :mod:`mforacle.exact.network`).

Central differences (A2, A3): ``D(h) = (E(+h) − E(−h)) / 2h`` with exact (Fraction) perturbations
and the exact loss at ``FD_DPS`` digits (each value within ``10^(1−FD_DPS)|E|``: A4). Its error is
estimated as ``|D(h) − D(2h)|`` (the ``O(h²)`` truncation of ``D(h)`` is a third of that,
asymptotically; at a ``regrelu`` kink it is ``O(h)`` and the estimate still covers it) plus the
roundoff ``2·10^(1−FD_DPS) max|E| / h``. With ``h = 10^-20`` both are ~``10^-40``: the
comparison is decided by the implementation's float error alone.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

from mforacle.cases import DiscreteCase, Magnitudes, rescaled
from mforacle.errors import ImplementationError, InvalidArgument
from mforacle.model import Model, describe_entry
from mforacle.stats import fit_slope
from mforacle.verdict import Verdict, code_name

from .subject import ClaimSubject

__all__ = [
    "FD_DPS",
    "TAYLOR_LADDER",
    "builtin_case",
    "check_a1",
    "check_a2",
    "check_a3",
    "check_a4",
    "check_a5",
    "check_a5_exact",
    "duplicate_neurons",
    "extreme_cases",
    "extreme_magnitudes",
    "permute_neurons",
]

#: digits of the exact loss in central differences; the step is ``FD_STEP``
FD_DPS = 80
FD_STEP = Fraction(1, 10**20)
#: digits of the exact loss in the Taylor-remainder test and its step ladder 2^-8 ... 2^-28
TAYLOR_DPS = 40
TAYLOR_LADDER = tuple(Fraction(1, 2**e) for e in range(8, 29, 2))
#: order threshold for A2.taylor: 2 minus the O(h³) drift for |c3/c2| <= 50 at h <= 2^-8
TAYLOR_ORDER_MIN = 1.8
QUANTITIES = ("z_L", "loss", "grad_theta", "grad_x")
#: who computes the references and the float bounds (Verdict.provenance)
EXACT = "mforacle.exact.network"
TOLERANCE = "mforacle.tolerance"


# --------------------------------------------------------------------------- helpers


def _check_case(case: Any) -> DiscreteCase:
    if not isinstance(case, DiscreteCase):
        raise InvalidArgument("case", type(case).__name__, "expected a DiscreteCase")
    return case


def _inputs_rounded(case: DiscreteCase, dtype: str) -> bool:
    """Whether the case's numbers change when rounded to ``dtype`` (or to float64 at all)."""
    from mforacle.dtypes import round_to_dtype

    c = case.to_case()
    pairs = [(case.theta, c.theta), (case.x, c.data.x), (case.y, c.data.y)]
    ws = case.weights if case.weights is not None else np.full(len(case.y), 1.0 / len(case.y))
    pairs.append((ws, c.data.weights))
    for flt, ex in pairs:
        flt = np.asarray(flt, dtype=np.float64)
        if not np.array_equal(round_to_dtype(flt, dtype), flt):
            return True
        if any(Fraction(float(f)) != e for f, e in zip(flt.ravel(), np.ravel(ex), strict=True)):
            return True
    return False


def _impl_outputs(subject: ClaimSubject, case: DiscreteCase) -> dict[str, np.ndarray]:
    """What the implementation offers of z_L, loss, grad_theta, grad_x (float64 arrays)."""
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    out: dict[str, np.ndarray] = {}
    if subject.provides("forward"):
        out["z_L"] = subject.forward(m, th, x)
    if subject.provides("loss"):
        out["loss"] = np.asarray(subject.loss(m, th, x, y, w))
    if subject.provides("gradient"):
        gt, gx = subject.gradient(m, th, x, y, w)
        out["grad_theta"] = gt
        if gx is not None:
            out["grad_x"] = gx
    return out


def _ratios(got: np.ndarray, exact: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``|got − exact| / allowed`` entrywise, differences formed in mpmath (inf if non-finite)."""
    ex = np.asarray(exact, dtype=object).reshape(got.shape)
    out = np.empty(got.shape)
    with mpmath.workdps(50):
        for idx in np.ndindex(*got.shape):
            g = float(got[idx])
            if not math.isfinite(g):
                out[idx] = math.inf
                continue
            err = abs(mpmath.mpf(g) - ex[idx])
            a = float(allowed[idx])
            out[idx] = float(err / a) if a > 0 else (0.0 if err == 0 else math.inf)
    return out


def _worst(ratios: np.ndarray) -> tuple[float, list[int]]:
    flat = int(np.argmax(ratios)) if ratios.size else 0
    idx = list(np.unravel_index(flat, ratios.shape)) if ratios.ndim else []
    return (float(ratios.reshape(-1)[flat]) if ratios.size else 0.0), [int(i) for i in idx]


def _fractions(arr: Any) -> np.ndarray:
    return np.vectorize(Fraction, otypes=[object])(np.asarray(arr, dtype=np.float64))


def _central(f: Any, h: Fraction, dps: int) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``(D(h), error estimate)`` of ``f'(0)`` for ``f(step) -> mpf`` (module docstring)."""
    from mforacle.exact.activations import mpf_of

    with mpmath.workdps(dps + 10):
        vals = {s: f(s) for s in (h, -h, 2 * h, -2 * h)}
        hm = mpf_of(h)
        d1 = (vals[h] - vals[-h]) / (2 * hm)
        d2 = (vals[2 * h] - vals[-2 * h]) / (4 * hm)
        big = max(abs(v) for v in vals.values())
        err = abs(d1 - d2) + 2 * mpmath.mpf(10) ** (1 - dps) * big / hm
        return d1, err


def _reason_of(per: dict[str, dict[str, Any]], d: int) -> str:
    return "; ".join(
        f"{q}: worst {v['ratio']:.3g} of allowed"
        + (f" at {v['index']} ({describe_entry(q, v['index'], d)})" if v["index"] else "")
        for q, v in per.items()
    )


# --------------------------------------------------------------------------- A1


def check_a1(impl: Any, case: DiscreteCase, *, dps: int = 30) -> Verdict:
    """A1: the implementation's outputs vs the exact path within the derived float bound."""
    from mforacle import tolerance
    from mforacle.reference import evaluate  # the exact path, certified by the ball path

    title = "fast path = exact path within a derived error model"
    case = _check_case(case)
    subject = ClaimSubject.of(impl)
    if len(subject.lacks(("forward", "loss", "gradient"))) == 3:
        return Verdict.not_checked("A1", title, "implementation lacks forward, loss and gradient")
    dtype, u = subject.dtype, subject.u
    rounded = _inputs_rounded(case, dtype)
    got = _impl_outputs(subject, case)
    ex = evaluate(case.model, case.theta, case.x, case.y, case.weights, dps=dps)
    eb = tolerance.entrywise_bounds(
        case.model,
        case.theta,
        case.x,
        case.y,
        case.weights,
        unit_roundoff=u,
        inputs_rounded=rounded,
    )
    exact_vals = {
        "z_L": ex.z_L,
        "loss": np.array(ex.loss, dtype=object),
        "grad_theta": ex.grad_theta,
        "grad_x": ex.grad_x,
    }
    per: dict[str, dict[str, Any]] = {}
    figure = 0.0
    zero = 0.0  # what an implementation returning zeros would score: > 1 or the check is vacuous
    unbounded: dict[str, int] = {}  # entries whose allowance is infinite (overflowing bound)
    for q in QUANTITIES:
        if q not in got:
            continue
        allowed = np.asarray(eb[q], dtype=np.float64).reshape(got[q].shape) + float(
            ex.error_bound[q]
        )
        bounded = np.isfinite(allowed)
        if not bounded.all():  # an infinite allowance accepts anything: those entries say nothing
            unbounded[q] = int((~bounded).sum())
            if not bounded.any():
                continue
        zero_r = _ratios(np.zeros(got[q].shape), exact_vals[q], allowed)
        zero = max(zero, _worst(np.where(bounded, zero_r, 0.0))[0])
        ratios = np.where(bounded, _ratios(got[q], exact_vals[q], allowed), 0.0)
        worst, idx = _worst(ratios)
        flat = got[q].reshape(-1)
        pos = int(np.ravel_multi_index(idx, got[q].shape)) if idx else 0
        per[q] = {
            "ratio": worst,
            "index": idx,
            "value": float(flat[pos]),
            "exact": mpmath.nstr(np.asarray(exact_vals[q], dtype=object).reshape(-1)[pos], 25),
            "allowed": float(allowed.reshape(-1)[pos]),
            "max_allowed": float(np.max(allowed)),
        }
        figure = max(figure, worst)
    if not per:
        return Verdict.not_checked("A1", title, "the error model gives no finite bound here")
    if zero <= 1:
        return Verdict.not_checked(
            "A1",
            title,
            "every exact value is within its allowance of 0: zeros would pass (degenerate case)",
        )
    skipped = "".join(
        f"; {q}: {n} entries not checked (no finite bound)" for q, n in unbounded.items()
    )
    return Verdict.measured(
        "A1",
        title,
        figure,
        "<=",
        1.0,
        error_model=f"per entry: tolerance.entrywise_bounds for {dtype} (u = {u:.3g}; running "
        "error analysis, u × condition × operation count"
        + (", inputs rounded once" if rounded else ", inputs exact in the dtype")
        + f") + the reference's rigorous bound (exact path at {dps} digits certified by the "
        "Arb ball path)",
        reason=f"checked {', '.join(per)}; " + _reason_of(per, case.model.d) + skipped,
        evidence={
            "case": case.to_json(),
            "dtype": dtype,
            "implementation": subject.label,
            "quantities": per,
            "inputs_rounded": rounded,
            "zero_output_ratio": zero,
            "unbounded_entries": unbounded,
        },
        provenance={"measured": subject.label, "reference": EXACT, "bound": TOLERANCE},
    )


# --------------------------------------------------------------------------- A2


def _direction(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A Rademacher direction ``Δ ∈ {±1}^n`` from ``default_rng(seed)``."""
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=shape)


def check_a2(impl: Any, case: DiscreteCase, *, seed: int = 0) -> list[Verdict]:
    """A2: ``⟨∇E_impl, Δ⟩`` vs central differences of the exact loss (``A2``) and the Taylor
    remainder's order (``A2.taylor``); see the module docstring for both error models."""
    from mforacle import tolerance
    from mforacle.exact.activations import mpf_of
    from mforacle.exact.network import loss

    title = "gradients are derivatives of the loss"
    case = _check_case(case)
    subject = ClaimSubject.of(impl)
    if subject.lacks(("gradient",)):
        return [Verdict.not_checked("A2", title, "implementation lacks gradient")]
    dtype, u = subject.dtype, subject.u
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    g = subject.gradient(m, th, x, y, w)[0]
    delta = _direction(th.shape, seed)
    th_q, d_q = _fractions(th), _fractions(delta)
    eb = tolerance.entrywise_bounds(
        m, th, x, y, w, unit_roundoff=u, inputs_rounded=_inputs_rounded(case, dtype)
    )
    allowed_g = float(np.sum(np.abs(delta) * eb["grad_theta"]))

    def E(h: Fraction, dps: int) -> mpmath.mpf:
        return loss(m, th_q + h * d_q, x, y, w, dps=dps)

    d_ref, d_err = _central(lambda h: E(h, FD_DPS), FD_STEP, FD_DPS)
    with mpmath.workdps(FD_DPS + 10):
        if not np.all(np.isfinite(g)):
            slope = mpmath.mpf("inf")
        else:
            slope = mpmath.fsum(
                mpmath.mpf(float(gi)) * mpf_of(di)
                for gi, di in zip(g.ravel(), d_q.ravel(), strict=True)
            )
        diff = abs(slope - d_ref)
        allowed = mpmath.mpf(allowed_g) + d_err
        fd_fig = float(diff / allowed)
        resolvable = abs(d_ref) > allowed
    if not resolvable:  # a zero gradient would pass both checks
        why = (
            f"|⟨∇E, Δ⟩| = {float(abs(d_ref)):.3g} is within the allowance {float(allowed):.3g}: "
            "a zero gradient would pass (degenerate direction)"
        )
        return [
            Verdict.not_checked("A2", title, why),
            Verdict.not_checked("A2.taylor", title + " (Taylor remainder O(h²))", why),
        ]
    ev_case = case.to_json()
    out = [
        Verdict.measured(
            "A2",
            title + ": ⟨∇E, Δ⟩ = central difference of the exact loss",
            fd_fig,
            "<=",
            1.0,
            error_model=f"Σ|Δ_i|·tolerance bound_i for {dtype} (u = {u:.3g}) = {allowed_g:.3g}, "
            f"plus the difference's error {float(d_err):.1e} (|D(h) − D(2h)| + roundoff, "
            f"h = 1e-20, exact loss at {FD_DPS} digits)",
            reason=f"⟨∇E, Δ⟩ = {float(slope):.17g} vs {mpmath.nstr(d_ref, 20)}: "
            f"|diff| {float(diff):.3g}",
            evidence={
                "case": ev_case,
                "seeds": [seed],
                "direction": "Rademacher, numpy default_rng(seed).choice([-1, 1])",
                "directional_derivative": float(slope) if math.isfinite(float(slope)) else None,
                "central_difference": mpmath.nstr(d_ref, 30),
                "difference_error": float(d_err),
                "allowed": float(allowed),
                "dtype": dtype,
            },
            provenance={"measured": subject.label, "reference": EXACT, "bound": TOLERANCE},
        )
    ]
    # Taylor remainder with the exact loss and the implementation's gradient
    with mpmath.workdps(TAYLOR_DPS + 10):
        e0 = E(Fraction(0), TAYLOR_DPS)
        rem = [abs(E(h, TAYLOR_DPS) - e0 - mpf_of(h) * slope) for h in TAYLOR_LADDER]
        h0 = TAYLOR_LADDER[0]
        c2 = (E(h0, TAYLOR_DPS) + E(-h0, TAYLOR_DPS) - 2 * e0) / (2 * mpf_of(h0) ** 2)
    ladder = [float(h) for h in TAYLOR_LADDER]
    errors = [float(r) for r in rem]
    if not all(math.isfinite(r) and r > 0 for r in errors):
        out.append(
            Verdict.measured(
                "A2.taylor",
                title + " (Taylor remainder O(h²))",
                math.nan,
                ">=",
                TAYLOR_ORDER_MIN,
                error_model="remainder not finite and positive",
                reason=f"remainders {errors}",
                evidence={"case": ev_case, "seeds": [seed], "errors": errors},
                provenance={"measured": subject.label, "reference": EXACT},
            )
        )
        return out
    fit = fit_slope(ladder, errors)
    out.append(
        Verdict.measured(
            "A2.taylor",
            title + ": Taylor remainder |E(Θ+hΔ) − E(Θ) − h⟨∇E, Δ⟩| = O(h²)",
            fit.slope,
            ">=",
            TAYLOR_ORDER_MIN,
            error_model=f"order 2 for a right gradient (c₂ = ΔᵀHΔ/2 ≈ {float(c2):.3g}); the "
            f"O(h³) term moves the fitted order by < 0.2 at h <= 2^-8 if |c₃/c₂| <= 50; a "
            f"gradient error δ adds |⟨δ, Δ⟩|h (order 1); exact loss at {TAYLOR_DPS} digits",
            reason=f"fitted order {fit.slope:.3f}, 95% CI [{fit.ci[0]:.3f}, {fit.ci[1]:.3f}] "
            f"over h = 2^-8 … 2^-28",
            evidence={
                "case": ev_case,
                "seeds": [seed],
                "ladder_name": "h",
                "ladder": ladder,
                "errors": errors,
                "fit": fit.to_json(),
                "c2_estimate": float(c2),
            },
            provenance={"measured": subject.label, "reference": EXACT},
        )
    )
    return out


# --------------------------------------------------------------------------- A3


def check_a3(impl: Any, case: DiscreteCase) -> Verdict:
    """A3: the implementation's ``grad_x`` (``∂ℓ_n/∂x_n``, unweighted) vs central differences
    of each point's own exact loss in each coordinate of ``x_n``."""
    from mforacle import tolerance
    from mforacle.exact.network import loss

    title = "the adjoint q_0 is the state gradient ∂ℓ/∂x"
    case = _check_case(case)
    subject = ClaimSubject.of(impl)
    if subject.lacks(("gradient",)):
        return Verdict.not_checked("A3", title, "implementation lacks gradient")
    dtype, u = subject.dtype, subject.u
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    N, d = x.shape
    gx = subject.gradient(m, th, x, y, w)[1]
    if gx is None:
        return Verdict.not_checked("A3", title, "gradient returns no grad_x")
    eb = tolerance.entrywise_bounds(
        m, th, x, y, w, unit_roundoff=u, inputs_rounded=_inputs_rounded(case, dtype)
    )["grad_x"]
    th_q = _fractions(th)
    ratios = np.empty((N, d))
    zeros = np.empty((N, d))  # what grad_x = 0 would score per entry
    refs, errs = [], []
    for n in range(N):
        xn = [Fraction(float(v)) for v in x[n]]
        for i in range(d):

            def ell(h: Fraction, n: int = n, i: int = i, xn: list = xn) -> mpmath.mpf:
                p = list(xn)
                p[i] += h
                return loss(m, th_q, [p], [y[n]], dps=FD_DPS)

            ref, err = _central(ell, FD_STEP, FD_DPS)
            refs.append(mpmath.nstr(ref, 25))
            errs.append(float(err))
            ref_arr = np.array([ref], dtype=object)
            allowed = np.array([float(eb[n, i]) + float(err)])
            ratios[n, i] = _ratios(gx[n : n + 1, i], ref_arr, allowed)[0]
            zeros[n, i] = _ratios(np.zeros(1), ref_arr, allowed)[0]
    if float(np.max(zeros)) <= 1:
        return Verdict.not_checked(
            "A3",
            title,
            "every ∂ℓ_n/∂x_n is within its allowance of 0: grad_x = 0 would pass (degenerate case)",
        )
    worst, idx = _worst(ratios)
    return Verdict.measured(
        "A3",
        title,
        worst,
        "<=",
        1.0,
        error_model=f"per entry: tolerance grad_x bound for {dtype} (u = {u:.3g}) + the central "
        f"difference's error (|D(h) − D(2h)| + roundoff, h = 1e-20, exact ℓ_n at {FD_DPS} digits)",
        reason=f"worst entry {idx} ({describe_entry('grad_x', idx, d)}): grad_x = "
        f"{gx[tuple(idx)]:.17g} vs {refs[idx[0] * d + idx[1]]}",
        evidence={
            "case": case.to_json(),
            "dtype": dtype,
            "grad_x": gx.tolist(),
            "central_differences": refs,
            "difference_errors": errs,
            "ratios": ratios.tolist(),
        },
        provenance={"measured": subject.label, "reference": EXACT, "bound": TOLERANCE},
    )


# --------------------------------------------------------------------------- A4


def check_a4(case: DiscreteCase, *, dps: int = 30, evaluate: Any = None) -> Verdict:
    """A4: the exact path's reported digits lie inside the certified enclosure.

    The exact path reports ``v`` at ``dps`` digits with a stated bound ``e_q`` per quantity;
    the ball path (Arb, at ``dps + EXTRA_DIGITS`` digits, :func:`mforacle.ball.network.evaluate`)
    gives balls ``[m ± r]`` containing the true values, so ``|v − true| ≤ |v − m| + r``
    (computed in Arb, rounded up: :func:`mforacle.reference.certify`). Figure: the largest
    ``(|v − m| + r) / e_q`` over entries and quantities, held ``<= 1``. ``evaluate`` defaults to
    :func:`mforacle.exact.network.evaluate` (tests pass a broken one)."""
    from mforacle.ball.network import evaluate as ball_evaluate
    from mforacle.exact.network import evaluate as exact_evaluate
    from mforacle.reference import EXTRA_DIGITS, certify

    title = "the exact path's reported digits lie inside the certified enclosure"
    case = _check_case(case)
    ev = evaluate or exact_evaluate
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    lo = ev(m, th, x, y, w, dps=dps)
    ball = ball_evaluate(m, th, x, y, w, dps=dps + EXTRA_DIGITS)
    for q in QUANTITIES:
        if lo.error_bound.get(q) is None:
            raise ImplementationError(f"exact result reports no error bound for {q}")
    rigorous, _entries, _proved, refuted = certify(lo, ball, strict=False)
    per: dict[str, dict[str, Any]] = {}
    figure = 0.0
    with mpmath.workdps(40):
        for q in QUANTITIES:
            stated = lo.error_bound[q]
            bound = rigorous[q]
            ratio = float(bound / stated) if stated > 0 else (0.0 if bound == 0 else math.inf)
            per[q] = {"rigorous": float(bound), "stated": float(stated), "ratio": ratio}
            figure = max(figure, ratio)
    reason = "; ".join(
        f"{q}: rigorous {v['rigorous']:.2g} vs stated {v['stated']:.2g}" for q, v in per.items()
    )
    if refuted:
        reason = f"{len(refuted)} value(s) proved outside their stated interval, e.g. " \
                 f"{refuted[0]}; " + reason
    return Verdict.measured(
        "A4",
        title,
        figure,
        "<=",
        1.0,
        error_model=f"max over quantities and entries of (|v − m| + r) / stated error_bound: "
        f"v the exact path's value at {dps} digits, [m ± r] the Arb ball at {dps + EXTRA_DIGITS} "
        "digits (a rigorous enclosure of the true value), so the numerator is a proved upper "
        "bound on |v − true|",
        reason=reason,
        evidence={"case": case.to_json(), "dps": dps, "ball_bits": ball.prec,
                  "ball_radius_met": ball.met, "quantities": per,
                  "refuted": refuted[:10]},
        provenance={"measured": code_name(ev), "reference": "mforacle.ball.network"},
    )


# --------------------------------------------------------------------------- A5


def permute_neurons(theta: np.ndarray, seed: int) -> np.ndarray:
    """Every layer's neurons permuted by its own seeded permutation (``default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    th = np.asarray(theta)
    return np.stack([layer[rng.permutation(th.shape[1])] for layer in th])


def duplicate_neurons(theta: np.ndarray) -> np.ndarray:
    """Every neuron repeated once: ``(L, M, k) -> (L, 2M, k)``."""
    return np.repeat(np.asarray(theta), 2, axis=1)


def negate_outputs(theta: np.ndarray) -> np.ndarray:
    """Every neuron's output weights negated, ``u → −u``: *not* an invariance (the control)."""
    th = np.array(theta, dtype=np.float64)
    d = (th.shape[-1] - 1) // 2
    th[..., d : 2 * d] *= -1
    return th


WHAT = {
    "permutation": "permuting the neurons of each layer",
    "duplication": "duplicating every neuron (M → 2M)",
}


def check_a5(impl: Any, case: DiscreteCase, *, seed: int = 0) -> list[Verdict]:
    """A5 on ``impl.forward``: permutation and duplication, each within ``b(Θ) + b(Θ')`` with
    ``b`` the derived entrywise ``z_L`` bound of :mod:`mforacle.tolerance` for the dtype (both
    forwards approximate the same true ``z_L``, which the invariance makes equal).

    ``A5.control`` keeps the invariance checks from passing vacuously (a forward that ignores
    ``Θ`` is invariant under everything): for ``Θ''`` = ``Θ`` with ``u → −u``, where the exact
    change ``|z(Θ'') − z(Θ)|`` exceeds ``2(b(Θ) + b(Θ''))`` at some entry, the implementation's
    change must exceed ``b(Θ) + b(Θ'')`` there (it is within that of the exact change); figure:
    the implementation's change over the allowance at that entry, held ``>= 1``."""
    from mforacle import tolerance
    from mforacle.exact.network import forward as exact_forward

    title = "mean-field invariance of the forward pass"
    case = _check_case(case)
    subject = ClaimSubject.of(impl)
    if subject.lacks(("forward",)):
        return [Verdict.not_checked("A5", title, "implementation lacks forward")]
    dtype, u = subject.dtype, subject.u
    m, th, x = case.model, case.theta, case.x
    rounded = _inputs_rounded(case, dtype)

    def fwd(t: np.ndarray) -> np.ndarray:
        return subject.forward(m, t, x)

    def bound(t: np.ndarray) -> np.ndarray:
        return tolerance.entrywise_bounds(
            m, t, x, case.y, case.weights, unit_roundoff=u, inputs_rounded=rounded
        )["z_L"]

    z0, b0 = fwd(th), bound(th)
    out = []
    for tag, other in (
        ("permutation", permute_neurons(th, seed)),
        ("duplication", duplicate_neurons(th)),
    ):
        z1 = fwd(other)
        allowed = b0 + bound(other)
        diff = np.abs(z1 - z0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(diff == 0, 0.0, np.where(np.isfinite(diff), diff / allowed, math.inf))
        ratio = np.where(np.isnan(ratio), math.inf, ratio)
        worst, idx = _worst(ratio)
        out.append(
            Verdict.measured(
                f"A5.{tag}",
                f"{title}: {WHAT[tag]}",
                worst,
                "<=",
                1.0,
                error_model=f"|z_L(Θ) − z_L(Θ')| <= b(Θ) + b(Θ'), b = tolerance z_L bound for "
                f"{dtype} (u = {u:.3g}) per entry",
                reason=f"max |Δz_L| = {float(np.max(diff)):.3g} at {idx}, allowed "
                f"{float(allowed[tuple(idx)]):.3g}",
                evidence={
                    "case": case.to_json(),
                    "seeds": [seed],
                    "dtype": dtype,
                    "max_difference": float(np.max(diff)),
                    "z_L": z0.tolist(),
                    "z_L_transformed": z1.tolist(),
                },
                provenance={
                    "measured": subject.label,
                    "reference": subject.label,
                    "bound": TOLERANCE,
                },
            )
        )
    ctl = negate_outputs(th)
    allowed = b0 + bound(ctl)
    with mpmath.workdps(40):
        ex0, ex1 = (np.asarray(exact_forward(m, t, x, dps=30), dtype=object)[-1] for t in (th, ctl))
        true_change = np.vectorize(lambda a, b: float(abs(a - b)), otypes=[float])(ex1, ex0)
    resolvable = true_change / allowed
    title_c = f"{title}: control, u → −u changes z_L"
    if not np.any(resolvable > 2):
        out.append(
            Verdict.not_checked(
                "A5.control",
                title_c,
                "negating u changes the exact z_L by less than twice the allowance: no control",
            )
        )
        return out
    pos = np.unravel_index(int(np.argmax(resolvable)), resolvable.shape)
    change = float(np.abs(fwd(ctl) - z0)[pos])
    out.append(
        Verdict.measured(
            "A5.control",
            title_c,
            change / float(allowed[pos]),
            ">=",
            1.0,
            error_model="the exact change exceeds 2(b(Θ) + b(Θ'')) at this entry, so a forward "
            "within b of the truth changes by more than b(Θ) + b(Θ''); a forward that ignores "
            "Θ does not (then permutation and duplication would pass vacuously)",
            reason=f"at {[int(i) for i in pos]}: implementation's change {change:.3g}, exact "
            f"change {float(true_change[pos]):.3g}, allowance {float(allowed[pos]):.3g}",
            evidence={"case": case.to_json(), "dtype": dtype, "entry": [int(i) for i in pos]},
            provenance={"measured": subject.label, "reference": EXACT, "bound": TOLERANCE},
        )
    )
    return out


def check_a5_exact(
    case: DiscreteCase, *, seed: int = 0, dps: int = 30, forward: Any = None
) -> Verdict:
    """A5 in the exact path: permuted and duplicated networks give bit-identical ``z``
    (every reported digit, and the binary values behind them)."""
    from mforacle.exact.network import forward as exact_forward

    title = "mean-field invariances hold bit for bit in the exact path"
    case = _check_case(case)
    fwd = forward or exact_forward
    m, th, x = case.model, case.theta, case.x
    z0 = np.asarray(fwd(m, th, x, dps=dps), dtype=object)[-1]
    worst = 0.0
    changes: dict[str, float] = {}
    with mpmath.workdps(dps + 20):
        for tag, other in (
            ("permutation", permute_neurons(th, seed)),
            ("duplication", duplicate_neurons(th)),
        ):
            z1 = np.asarray(fwd(m, other, x, dps=dps), dtype=object)[-1]
            ch = max(abs(a - b) for a, b in zip(z0.ravel(), z1.ravel(), strict=True))
            changes[tag] = float(ch)
            worst = max(worst, float(ch))
        z2 = np.asarray(fwd(m, negate_outputs(th), x, dps=dps), dtype=object)[-1]
        control = float(max(abs(a - b) for a, b in zip(z0.ravel(), z2.ravel(), strict=True)))
    vacuous = ""
    if control == 0:  # a forward that ignores Θ is invariant under everything
        worst = math.inf
        vacuous = "the control u → −u left z unchanged: the forward ignores Θ; "
    return Verdict.measured(
        "A5.exact",
        title,
        worst,
        "==",
        0.0,
        error_model="exact equality: fsum is correctly rounded whatever the order, and the "
        "duplicated sum 2S over 2LM rounds like S over LM (mforacle/exact/network.py)",
        reason=vacuous
        + ", ".join(f"{k}: max change {v:.3g}" for k, v in changes.items())
        + f"; control u → −u: max change {control:.3g} (must be > 0)",
        evidence={
            "case": case.to_json(),
            "seeds": [seed],
            "dps": dps,
            "changes": changes,
            "control_change": control,
        },
        provenance={"measured": code_name(fwd), "reference": code_name(fwd)},
    )


# --------------------------------------------------------------------------- built-in runs

#: (d, activation, a, kappa, L, M, N, weighted) of the built-in cases; case i uses row
#: i mod len and seed 200 + i (numbers N(0,1) rounded to 1/64, inputs in [-1.5, 1.5]).
BUILTIN_CASES = (
    (1, "tanh", [1.0], 0.0, 2, 3, 3, False),
    (2, "erf", [1.0, -0.5], 0.25, 3, 2, 4, True),
    (2, "regrelu:0.5", [0.5, 1.0], 0.0, 2, 4, 3, True),
    (1, "softplus", [-1.0], -0.5, 4, 2, 2, False),
    (2, "sigmoid", [1.0, 1.0], 0.0, 2, 2, 3, True),
    (3, "sin", [0.25, -1.0, 0.5], 0.25, 2, 3, 2, False),
)


def builtin_case(i: int) -> tuple[DiscreteCase, int]:
    """The ``i``-th built-in case (dyadic numbers, exact in float64 and float32) and its seed."""
    if isinstance(i, bool) or not isinstance(i, int) or i < 0:
        raise InvalidArgument("i", i, "expected a non-negative integer")
    d, act, a, kappa, L, M, N, weighted = BUILTIN_CASES[i % len(BUILTIN_CASES)]
    seed = 200 + i
    rng = np.random.default_rng(seed)
    model = Model.create(d, act, a, kappa)
    theta = np.round(rng.normal(size=(L, M, 2 * d + 1)) * 64) / 64
    x = np.round(rng.uniform(-1.5, 1.5, size=(N, d)) * 64) / 64
    y = np.round(rng.uniform(-1.0, 1.0, size=N) * 64) / 64
    if weighted:
        counts = rng.integers(1, 8, size=N)
        total = 1 << int(counts.sum()).bit_length()  # a power of two: dyadic weights
        counts[-1] += total - counts.sum()
        weights = counts.astype(float) / total
    else:
        weights = None
    return DiscreteCase(model, theta, x, y, weights), seed


def extreme_magnitudes(dtype: str = "float64") -> dict[str, Magnitudes]:
    """The extreme-magnitude regimes of claim A1's built-in runs, scaled to ``dtype``'s range.

    With ``p, emin`` of :data:`mforacle.dtypes.ARITHMETICS`, ``emax = 1 − emin``: ``S =
    max(0, emax − 33)`` (float64: ``2^990`` ≈ 1e298; growth and the gradients' products stay
    in range) and ``T = emin − p + 8`` (float64: ``2^-1067``: times the built-in cases' 1/64
    still a multiple of the smallest subnormal ``2^(emin−p+1)``, and subnormal):

    - ``tiny-states``: states ``2^-S``, inputs subnormal ``2^T``, ``w ~ 2^S``, readout ``2^S``;
    - ``subnormal-states``: states and ``u`` subnormal ``2^T``, ``w ~ 2^S``; the loss underflows;
    - ``huge-states``: states and ``u`` ``2^(S/2)``, ``w ~ 2^(-S/2)``, readout ``2^(-S/2)``
      (``κ`` dropped): only half of ``S``, so that ``|z|²`` — which an implementation may form
      even for ``κ = 0`` — does not overflow either.
    """
    from mforacle.dtypes import ARITHMETICS

    if dtype not in ARITHMETICS:
        raise InvalidArgument("dtype", dtype, f"expected one of {sorted(ARITHMETICS)}")
    p, emin = ARITHMETICS[dtype]
    big, sub = max(0, (1 - emin) - 33), emin - p + 8
    return {
        "tiny-states": Magnitudes(z=-big, x=sub, w=big, u=-big, a=big),
        "subnormal-states": Magnitudes(z=sub, x=sub, w=big, u=sub, a=0),
        "huge-states": Magnitudes(z=big // 2, x=big // 2, w=-(big // 2), u=big // 2,
                                  a=-(big // 2)),
    }


def extreme_cases(dtype: str = "float64") -> list[tuple[DiscreteCase, int]]:
    """Built-in cases 0, 1, 2 rescaled into the regimes of :func:`extreme_magnitudes` (one
    each), with their seeds: claim A1 runs them besides the ordinary cases, so the float
    error model's gradual-underflow terms and huge magnitudes are checked in every run."""
    out = []
    for i, mag in enumerate(extreme_magnitudes(dtype).values()):
        case, seed = builtin_case(i)
        out.append((rescaled(case, mag), seed))
    return out


def _cases(sizes: dict[str, Any]) -> list[tuple[DiscreteCase, int]]:
    return [builtin_case(i) for i in range(int(sizes.get("cases", 3)))]


def _seeded(v: Verdict, seed: int) -> Verdict:
    v.evidence.setdefault("seeds", [seed])
    return v


def run_a1(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    cases = _cases(sizes) + extreme_cases(ClaimSubject.of(subject).dtype)
    return [_seeded(check_a1(subject, c), s) for c, s in cases]


def run_a2(impl: Any, sizes: dict[str, Any]) -> list[Verdict]:
    return [v for c, s in _cases(sizes) for v in check_a2(impl, c, seed=s)]


def run_a3(impl: Any, sizes: dict[str, Any]) -> list[Verdict]:
    return [_seeded(check_a3(impl, c), s) for c, s in _cases(sizes)]


def run_a4(impl: Any, sizes: dict[str, Any]) -> list[Verdict]:
    return [_seeded(check_a4(c), s) for c, s in _cases(sizes)]


def run_a5(subject: ClaimSubject, sizes: dict[str, Any]) -> list[Verdict]:
    """A5 on the subject's forward; A5.exact (mforacle's exact path) only with
    ``subject.include_builtin``: it is not about the implementation under test."""
    out = []
    for c, s in _cases(sizes):
        out.extend(check_a5(subject, c, seed=s))
        if subject.include_builtin:
            out.append(check_a5_exact(c, seed=s))
    return out
