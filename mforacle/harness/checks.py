"""Conformance checks: an implementation's outputs against the exact reference.

For every suite case the implementation covers, each check compares one quantity with the
exact (mpmath) path evaluated on *the same inputs the implementation saw* (the case rounded to
its dtype) and decides it with a derived bound::

    |impl − exact|  <=  tolerance.bounds(..., unit_roundoff=u[dtype])[q]  +  error_bound_exact[q]

The first term is the derived float error model of :mod:`mforacle.tolerance` (unit roundoff ×
condition estimate × operation count) for the implementation's declared dtype; the second is
the reference's *rigorous* bound on its own error: the exact path's values certified by the Arb
ball path (:mod:`mforacle.reference`), ``max |v − m| + r`` over the entries. Differences are
taken in mpmath at 40 digits, so the comparison adds no float rounding of its own.

Gradients: ``grad_x`` and small ``grad_theta`` (≤ :data:`FULL_GRADIENT_MAX` entries) are compared
entry by entry (max abs error). A large ``grad_theta`` is checked through random Rademacher
directional derivatives ``⟨∇E, Δ⟩``, ``Δ ∈ {±1}^n``, whose error obeys
``|⟨e, Δ⟩| ≤ max|e| · ‖Δ‖₁``, so the bound is ``bound[grad_theta] · ‖Δ‖₁``. When a direction
fails, the parameter blocks (layer ``l``, part ``w``/``u``/``b``) are bisected: a half of the
blocks is kept while its restricted derivative still exceeds its restricted bound, and the
failing leaves are reported (evidence ``localized``).

Output validation happens first: an exception, a timeout, ``None``, a wrong shape or a wrong
dtype give an *error* verdict with the reason; a NaN or Inf gives a *fail* verdict.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import mpmath
import numpy as np

from mforacle.verdict import Verdict

from ..caseio import Case
from ..dtypes import UNIT_ROUNDOFF, round_to_dtype, unit_roundoff
from ..errors import InvalidArgument
from ..model import Model, describe_entry, normalized_weights
from ..protocol import Implementation, ModelSpec
from .calls import Caller, Outcome
from .hints import value_hints

__all__ = [
    "COMPARE_DPS",
    "FULL_GRADIENT_MAX",
    "PlannedCheck",
    "Reference",
    "SuiteCase",
    "plan_checks",
]

#: digits of the mpmath arithmetic the differences are formed in
COMPARE_DPS = 40
#: grad_theta with more entries than this is checked by directional derivatives
FULL_GRADIENT_MAX = 2048
#: number of random directions for a large gradient
DIRECTIONS = 4
QUANTITIES = ("z_L", "loss", "grad_theta", "grad_x")

TITLES = {
    "z_L": "forward pass: final states z_L match the exact path",
    "loss": "loss E matches the exact path",
    "grad_theta": "gradient ∂E/∂θ matches the exact adjoint",
    "grad_x": "input gradient ∂ℓ_n/∂x_n (unweighted) matches the exact adjoint q_0",
    "train_step": "one gradient-descent step θ − lr·∇E matches the exact update",
}


#: quantities proportional to the weights (scaled by s = Σω for weights rounded to a dtype)
WEIGHTED = ("loss", "grad_theta")
#: relative slack on a bound scaled by float(s): covers rounding float(s) and fl(ω/s)
SCALE_SLACK = 1 + 2.0**-50


def tolerance_bounds(
    model: Model, theta: np.ndarray, x: np.ndarray, y: np.ndarray, weights: np.ndarray, dtype: str
) -> dict[str, float]:
    """The derived bounds of :func:`mforacle.tolerance.bounds` for ``dtype``, as floats.

    ``weights`` as the implementation received them, rounded to ``dtype``: their sum ``s`` may be
    off one by the dtype's roundoff; the bounds are homogeneous of degree one in the weights, so
    they are computed for ``ω/s`` and scaled by ``s`` (:func:`mforacle.model.normalized_weights`).
    """
    from mforacle.tolerance import bounds

    ws, s = normalized_weights(weights, len(y), dtype)
    w_float = np.array([float(v) for v in ws])
    # the reference is computed on the inputs as the implementation saw them (rounded to its
    # dtype), so input rounding is not part of the implementation's error
    got = bounds(
        model, theta, x, y, w_float, unit_roundoff=unit_roundoff(dtype), inputs_rounded=False
    )
    out = {q: float(got[q]) for q in QUANTITIES}
    if s != 1:
        for q in WEIGHTED:
            out[q] *= float(s) * SCALE_SLACK
    return out


def scale_exact(value: Any, s: Fraction) -> Any:
    """``s · value`` for an mpf or an object array of mpf, at :data:`COMPARE_DPS` + 10 digits
    (relative error below ``10^-(COMPARE_DPS+9)``)."""
    with mpmath.workdps(COMPARE_DPS + 10):
        f = mpmath.mpf(s.numerator) / s.denominator
        if isinstance(value, np.ndarray):
            return np.vectorize(lambda v: v * f, otypes=[object])(value)
        return value * f


def scaled_bound(bound: float, value: Any, s: Fraction) -> float:
    """The error bound of ``s · value`` given ``bound`` for ``value`` (module docstring of
    :func:`scale_exact`): ``s·bound`` (rounded up) plus the scaling's own rounding."""
    peak = float(np.max(np.abs(np.asarray(value, dtype=object).astype(float)), initial=0.0))
    return bound * float(s) * SCALE_SLACK + 10.0 ** -(COMPARE_DPS + 8) * peak


def float_up(value: Any) -> float:
    """A non-negative bound (mpf, Fraction, int, float) as the smallest float64 that is
    ``>=`` it (``inf`` beyond float64's range): a bound must not shrink when it becomes a
    float. (Comparisons of mpf and of Fractions with a float are exact.)"""
    import math

    f = float(value)
    if math.isinf(f):
        return f
    below = Fraction(f) < value if isinstance(value, Fraction | int) else mpmath.mpf(f) < value
    return math.nextafter(f, math.inf) if below else f


@dataclass
class Reference:
    """Exact values (mpf) and the reference's error bounds, for one set of inputs.

    ``error_bound_kind`` is ``"rigorous"`` for a reference certified by the ball path
    (:func:`mforacle.reference.evaluate`, the default) and ``"estimate"`` otherwise (an export
    written before certification existed carries no kind and is read as an estimate).
    """

    loss: Any
    z_L: np.ndarray
    grad_theta: np.ndarray
    grad_x: np.ndarray
    error_bound: dict[str, float]
    #: the code that computed it (Verdict.provenance)
    source: str = "mforacle.reference"  # the exact path, certified by the ball path
    error_bound_kind: str = "rigorous"

    @classmethod
    def compute(
        cls,
        model: Model,
        theta: Any,
        x: Any,
        y: Any,
        weights: Any,
        *,
        dps: int = 30,
        weights_dtype: str = "float64",
    ) -> Reference:
        """The exact values on exactly these inputs, certified by the ball path
        (:func:`mforacle.reference.evaluate`). ``weights`` may be rounded to ``weights_dtype``
        (their sum then off one by that dtype's roundoff): the reference runs on ``ω/s`` and the
        weighted quantities are scaled by ``s`` (:func:`mforacle.model.normalized_weights`)."""
        from mforacle.reference import evaluate

        ws, s = normalized_weights(weights, len(y), weights_dtype)
        r = evaluate(model, theta, x, y, ws, dps=dps, certify=True)
        eb = {q: float_up(v) for q, v in r.error_bound.items()}
        loss, grad_theta = r.loss, r.grad_theta
        if s != 1:
            eb["loss"] = scaled_bound(eb["loss"], loss, s)
            eb["grad_theta"] = scaled_bound(eb["grad_theta"], grad_theta, s)
            loss, grad_theta = scale_exact(loss, s), scale_exact(grad_theta, s)
        return cls(
            loss, r.z_L, grad_theta, r.grad_x, eb, error_bound_kind=r.error_bound_kind
        )

    def get(self, q: str) -> Any:
        return getattr(self, q)

    def to_json(self, digits: int = 25) -> dict[str, Any]:
        """``mforacle-result/1`` fields; printing at ``digits`` adds ``10^(1-digits)·|v|`` to
        each error bound (decimal rounding of the printed value, at most half that), summed in
        mpmath and rounded up to a float."""
        from ..caseio import RESULT_FORMAT, numbers_to_text

        out: dict[str, Any] = {"format": RESULT_FORMAT, "path": "exact", "digits": digits}
        bound: dict[str, str] = {}
        with mpmath.workdps(40):
            for q in QUANTITIES:
                v = self.get(q)
                out[q] = numbers_to_text(v, digits)
                peak = abs(v) if q == "loss" else max(abs(e) for e in v.ravel())
                total = mpmath.mpf(self.error_bound[q]) + mpmath.mpf(10) ** (1 - digits) * peak
                bound[q] = repr(float_up(total))
        out["error_bound"] = bound
        out["error_bound_kind"] = self.error_bound_kind
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Reference:
        with mpmath.workdps(COMPARE_DPS):

            def arr(v: Any) -> np.ndarray:
                a = np.asarray(v, dtype=object)
                return np.vectorize(lambda s: mpmath.mpf(s), otypes=[object])(a)

            return cls(
                mpmath.mpf(obj["loss"]),
                arr(obj["z_L"]),
                arr(obj["grad_theta"]),
                arr(obj["grad_x"]),
                {q: float(obj["error_bound"][q]) for q in QUANTITIES},
                source="mforacle.exact.network (stored with the exported suite)",
                error_bound_kind=str(obj.get("error_bound_kind", "estimate")),
            )


@dataclass
class SuiteCase:
    """One case of the suite, with its (lazily computed) exact reference."""

    id: str
    case: Case
    tags: tuple[str, ...] = ()
    reference: Reference | None = None
    #: precomputed tolerance bounds by dtype (from a vectors directory); else computed live
    tolerance: dict[str, dict[str, float]] = field(default_factory=dict)

    def float_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        assert self.case.theta is not None
        f = np.vectorize(float, otypes=[np.float64])
        return (
            f(self.case.theta),
            f(self.case.data.x),
            f(self.case.data.y),
            f(self.case.data.weights),
        )

    def ensure_reference(self) -> Reference:
        if self.reference is None:
            th, x, y, w = (
                self.case.theta,
                self.case.data.x,
                self.case.data.y,
                self.case.data.weights,
            )
            self.reference = Reference.compute(self.case.model, th, x, y, w)
        return self.reference


@dataclass
class PlannedCheck:
    """One check, known at planning time, run later (pytest items run them one by one)."""

    id: str
    claim: str
    title: str
    case_id: str | None
    run: Callable[[], Verdict | list[Verdict]]


# --- per-case state ------------------------------------------------------------------------


#: The protocol member that computes each checked quantity.
MEMBER_OF = {
    "z_L": "forward",
    "loss": "loss",
    "grad_theta": "gradient",
    "grad_x": "gradient",
    "train_step": "train_step",
}


class _CaseRun:
    """Inputs as the implementation sees them, the reference on those inputs, memoized calls."""

    def __init__(self, impl: Implementation, sc: SuiteCase, caller: Caller) -> None:
        self.impl, self.sc, self.caller = impl, sc, caller
        self.model = sc.case.model
        self.spec = ModelSpec.from_model(self.model)
        th, x, y, w = sc.float_inputs()
        dt = impl.dtype
        self.inputs = tuple(round_to_dtype(a, dt) for a in (th, x, y, w))
        self.exact_inputs = all(
            all(Fraction(float(r)) == e for r, e in zip(np.ravel(ri), np.ravel(ei), strict=True))
            for ri, ei in zip(
                self.inputs,
                (sc.case.theta, sc.case.data.x, sc.case.data.y, sc.case.data.weights),
                strict=True,
            )
        )
        self._ref: Reference | None = None
        self._tol: dict[str, float] | None = None
        self._calls: dict[str, Outcome] = {}

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        th, x = self.inputs[0], self.inputs[1]
        return {
            "z_L": x.shape,
            "loss": (),
            "grad_theta": th.shape,
            "grad_x": x.shape,
            "train_step": th.shape,
        }

    def reference(self) -> Reference:
        if self._ref is None:
            if self.exact_inputs:
                self._ref = self.sc.ensure_reference()
            else:  # the implementation saw rounded inputs: the reference must use the same
                self._ref = Reference.compute(
                    self.model, *self.inputs, weights_dtype=self.impl.dtype
                )
        return self._ref

    def tolerance(self) -> dict[str, float]:
        if self._tol is None:
            # derived here every time, never read: a tolerance stored with exported vectors
            # could have been edited (file mode trusts nothing it reads)
            self._tol = tolerance_bounds(self.model, *self.inputs, self.impl.dtype)
        return self._tol

    def lr(self) -> float:
        L, M = self.inputs[0].shape[:2]
        return L * M / 4.0  # Δs = 1/4 in the paper's time; dyadic, exact in every dtype

    def output(self, q: str) -> Outcome:
        """The implementation's value for ``q`` (one call per member, memoized)."""
        member = MEMBER_OF[q]
        if member not in self._calls:
            th, x, y, w = self.inputs
            fn = getattr(self.impl, member)
            args: tuple[Any, ...] = {
                "forward": (self.spec, th, x),
                "loss": (self.spec, th, x, y, w),
                "gradient": (self.spec, th, x, y, w),
                "train_step": (self.spec, th, x, y, w, self.lr()),
            }[member]
            self._calls[member] = self.caller.call(member, fn, *args)
        out = self._calls[member]
        if out.ok and member == "gradient":
            try:
                val = out.value
                if isinstance(val, dict):
                    val = (val.get("grad_theta"), val.get("grad_x"))
                gt, gx = val
                if gt is None and gx is None:
                    raise ValueError("no gradient at all")
            except Exception:
                return Outcome(
                    False,
                    error="gradient must return (grad_theta, grad_x) or a dict "
                    f"with those keys; got {type(out.value).__name__}",
                )
            return Outcome(True, value=gt if q == "grad_theta" else gx, seconds=out.seconds)
        return out


# --- comparisons ---------------------------------------------------------------------------


def _validate(
    value: Any, shape: tuple[int, ...], impl: Implementation, q: str
) -> tuple[np.ndarray | None, str]:
    """Array of the implementation's output, or ``(None, reason)`` for an error verdict."""
    if value is None:
        return None, f"{q}: returned None"
    try:
        arr = np.asarray(value)
    except Exception as exc:
        return None, f"{q}: not convertible to an array ({type(exc).__name__}: {exc})"
    if arr.dtype.kind not in "fiu":
        return None, f"{q}: returned dtype {arr.dtype}, not a float array"
    if arr.shape != shape and not (shape == () and arr.size == 1):
        return None, f"{q}: wrong shape {arr.shape}, expected {shape}"
    scalar_from_python = shape == () and not isinstance(value, np.ndarray | np.generic)
    want = impl.output_dtype or impl.dtype
    if not scalar_from_python and arr.dtype.kind == "f" and arr.dtype.name != want:
        return None, f"{q}: wrong dtype {arr.dtype.name}, the implementation declared {want}"
    return arr.astype(np.float64).reshape(shape), ""


def _nonfinite(arr: np.ndarray) -> str:
    bad = ~np.isfinite(arr)
    if not bad.any():
        return ""
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if arr.ndim else ()
    return f"non-finite output {arr[idx]!r} at index {list(idx)}"


def _diff(impl_arr: np.ndarray, ref: Any) -> np.ndarray:
    """``impl − ref`` entrywise in mpmath at :data:`COMPARE_DPS` digits (object array)."""
    ref_arr = np.asarray(ref, dtype=object).reshape(impl_arr.shape)
    out = np.empty(impl_arr.shape, dtype=object)
    with mpmath.workdps(COMPARE_DPS):
        for idx in np.ndindex(impl_arr.shape):
            out[idx] = mpmath.mpf(float(impl_arr[idx])) - ref_arr[idx]
    return out


def _error_model(dtype: str, u: float, q: str, extra: str = "", kind: str = "rigorous") -> str:
    ref = ("the reference's rigorous error bound (exact path certified by the Arb ball path)"
           if kind == "rigorous" else "the exact path's confirmed error estimate")
    return (
        f"tolerance.bounds[{q}] for {dtype} (unit roundoff u = {u:.3g}; derived: u × "
        f"condition estimate × operation count, see mforacle/tolerance.py) + {ref}{extra}"
    )


def _case_evidence(run: _CaseRun) -> dict[str, Any]:
    return {
        "case_id": run.sc.id,
        "case": run.sc.case.to_json(),
        "dtype": run.impl.dtype,
        "implementation": run.impl.source or run.impl.name,
        "inputs_exact_in_dtype": run.exact_inputs,
    }


def _check_quantity(run: _CaseRun, q: str, claim: str) -> Verdict:
    """The verdict on quantity ``q`` of one case, with its provenance: the implementation's
    number against the exact reference, within the derived float bound."""
    v = _decide_quantity(run, q, claim)
    if v.status == "not checked":
        return v
    prov = {"measured": run.impl.source or run.impl.name}
    if v.figure is not None and run._ref is not None:
        prov.update(reference=run._ref.source, bound="mforacle.tolerance")
    return dataclasses.replace(v, provenance=prov)


def _decide_quantity(run: _CaseRun, q: str, claim: str) -> Verdict:
    title = TITLES[q]
    member = MEMBER_OF[q]
    if not run.impl.provides(member):
        return Verdict.not_checked(claim, title, f"the implementation does not provide {member}")
    why = run.impl.supports(run.model)
    if why:
        return Verdict.not_checked(claim, title, why)
    out = run.output(q)
    ev = _case_evidence(run)
    if not out.ok:
        ev["traceback"] = out.detail
        return Verdict.errored(claim, title, out.error, ev)
    if out.value is None and q in ("grad_theta", "grad_x"):  # one component not computed
        return Verdict.not_checked(claim, title, f"the implementation does not provide {q}")
    arr, reason = _validate(out.value, run.shapes[q], run.impl, q)
    if arr is None:
        return Verdict.errored(claim, title, reason, ev)
    try:
        ref = run.reference()
    except InvalidArgument as exc:  # e.g. weights rounded to the dtype no longer sum to one
        return Verdict.not_checked(
            claim, title, f"no exact reference for the case rounded to {run.impl.dtype}: {exc}"
        )
    tol = run.tolerance()
    u = unit_roundoff(run.impl.dtype)
    bad = _nonfinite(arr)
    if q == "train_step":
        return _check_step(run, arr, ref, tol, u, claim, title, ev, bad)
    bound = tol[q] + ref.error_bound[q]
    if not np.isfinite(bound):  # an infinite allowance would pass anything
        return Verdict.not_checked(
            claim, title, f"the float error model gives no finite bound for {q} on this case"
        )
    ev.update(tolerance=tol[q], reference_error_bound=ref.error_bound[q], unit_roundoff=u,
              reference_error_bound_kind=ref.error_bound_kind)
    extra = ""
    if run.impl.output_rounding and not bad:
        # printed in the dtype, parsed in float64: ≤ (r·u + 2^-53)·|v| per entry
        u64 = UNIT_ROUNDOFF["float64"]
        reading = (run.impl.output_rounding * u + u64) * float(np.max(np.abs(arr))) * 1.001
        bound += reading
        ev["reading_error"] = reading
        extra = f" + reading the decimal output ({run.impl.output_rounding:g}u + 2^-53)·max|v|"
    model_text = _error_model(run.impl.dtype, u, q, extra, ref.error_bound_kind)
    if bad:
        return Verdict.measured(
            claim, title, float("nan"), "<=", bound, error_model=model_text, reason=bad, evidence=ev
        )
    ref_q = ref.get(q)
    if q == "grad_theta" and arr.size > FULL_GRADIENT_MAX:
        return _check_directional(
            run, arr, ref_q, bound - ref.error_bound[q], ref.error_bound[q], claim, title, ev, u
        )
    diff = _diff(arr, ref_q)
    mags = np.vectorize(lambda v: float(abs(v)), otypes=[np.float64])(diff)
    worst = (
        tuple(int(i) for i in np.unravel_index(int(np.argmax(mags)), mags.shape))
        if mags.ndim
        else ()
    )
    figure = float(mags.max())
    ev.update(
        worst_index=list(worst),
        impl_value=float(arr[worst]),
        exact_value=str(np.asarray(ref_q, dtype=object)[worst]) if mags.ndim else str(ref_q),
    )
    where = f" at {list(worst)} ({describe_entry(q, worst, run.model.d)})" if worst else ""
    hints = [] if figure <= bound else value_hints(arr, ref_q, figure, run.impl.dtype)
    if hints:
        ev["hints"] = hints
    return Verdict.measured(
        claim,
        title,
        figure,
        "<=",
        bound,
        error_model=model_text,
        reason=f"max |impl − exact|{where}" + "".join(f"; hint: {h}" for h in hints),
        evidence=ev,
    )


def _check_step(
    run: _CaseRun,
    arr: np.ndarray,
    ref: Reference,
    tol: dict[str, float],
    u: float,
    claim: str,
    title: str,
    ev: dict[str, Any],
    bad: str,
) -> Verdict:
    """``θ_next`` vs ``θ − lr ∇E``: ``lr·bound[grad_theta]`` plus the update's own rounding,
    ``|fl(θ − fl(lr g)) − (θ − lr g)| ≤ 2u(1+u)(|θ| + lr|g|)`` (two roundings in the dtype)."""
    lr = run.lr()
    th = run.inputs[0]
    g = ref.grad_theta
    with mpmath.workdps(COMPARE_DPS):
        want = np.empty(th.shape, dtype=object)
        scale = 0.0
        for idx in np.ndindex(th.shape):
            want[idx] = mpmath.mpf(float(th[idx])) - lr * g[idx]
            scale = max(scale, abs(float(th[idx])) + lr * float(abs(g[idx])))
    bound = lr * (tol["grad_theta"] + ref.error_bound["grad_theta"]) + 2 * u * (1 + u) * scale
    if not np.isfinite(bound):  # an infinite allowance would pass anything
        return Verdict.not_checked(
            claim, title, "the float error model gives no finite bound for the step on this case"
        )
    model_text = (
        f"lr × (tolerance.bounds[grad_theta] for {run.impl.dtype} + reference error bound, "
        f"{ref.error_bound_kind}) "
        f"+ 2u(1+u)·max(|θ| + lr|∇E|), u = {u:.3g} (two roundings of the update)"
    )
    ev.update(lr=lr)
    if bad:
        return Verdict.measured(
            claim, title, float("nan"), "<=", bound, error_model=model_text, reason=bad, evidence=ev
        )
    diff = _diff(arr, want)
    mags = np.vectorize(lambda v: float(abs(v)), otypes=[np.float64])(diff)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(mags)), mags.shape))
    figure = float(mags[worst])
    ev.update(worst_index=list(worst), impl_value=float(arr[worst]), exact_value=str(want[worst]))
    return Verdict.measured(
        claim,
        title,
        figure,
        "<=",
        bound,
        error_model=model_text,
        reason=f"max |θ_next − (θ − lr ∇E_exact)| at {list(worst)} "
        f"({describe_entry('train_step', worst, run.model.d)}), lr = {lr:g}",
        evidence=ev,
    )


def _blocks(shape: tuple[int, ...]) -> list[tuple[str, np.ndarray]]:
    """Parameter blocks (layer l, part w/u/b) as boolean masks over ``(L, M, k)``."""
    L, _M, k = shape
    d = (k - 1) // 2
    parts = {"w": slice(0, d), "u": slice(d, 2 * d), "b": slice(2 * d, k)}
    out = []
    for layer in range(L):
        for name, sl in parts.items():
            mask = np.zeros(shape, dtype=bool)
            mask[layer, :, sl] = True
            out.append((f"layer {layer} {name}", mask))
    return out


def _localize(
    diff: np.ndarray, delta: np.ndarray, per_entry: float, blocks: list[tuple[str, np.ndarray]]
) -> list[dict[str, Any]]:
    """Bisect the blocks to the smallest sets whose restricted derivative fails its bound."""

    def excess(sub: list[tuple[str, np.ndarray]]) -> tuple[float, float]:
        mask = np.zeros(delta.shape, dtype=bool)
        for _, m in sub:
            mask |= m
        with mpmath.workdps(COMPARE_DPS):
            val = abs(mpmath.fsum(diff[mask] * delta[mask]))
        return float(val), per_entry * int(mask.sum())

    found: list[dict[str, Any]] = []

    def walk(sub: list[tuple[str, np.ndarray]]) -> None:
        if len(sub) > 1:
            half = len(sub) // 2
            failing = [part for part in (sub[:half], sub[half:]) if _fails(*excess(part))]
            if failing:
                for part in failing:
                    walk(part)
                return
        fig, bnd = excess(sub)
        found.append({"blocks": [name for name, _ in sub], "figure": fig, "bound": bnd})

    walk(blocks)
    return found


def _fails(figure: float, bound: float) -> bool:
    return not figure <= bound


def _check_directional(
    run: _CaseRun,
    arr: np.ndarray,
    ref_q: np.ndarray,
    tol_q: float,
    ref_err: float,
    claim: str,
    title: str,
    ev: dict[str, Any],
    u: float,
) -> Verdict:
    seed = zlib.crc32(run.sc.id.encode())
    rng = np.random.default_rng(seed)
    diff = _diff(arr, ref_q)
    per_entry = tol_q + ref_err
    n = arr.size
    bound = per_entry * n
    worst = (-1.0, -1)
    for i in range(DIRECTIONS):
        delta = rng.choice(np.array([-1, 1]), size=arr.shape)
        with mpmath.workdps(COMPARE_DPS):
            fig = float(abs(mpmath.fsum((diff * delta).ravel())))
        if fig > worst[0] or fig != fig:
            worst = (fig, i)
            worst_delta = delta
    figure = worst[0]
    ev.update(
        method="directional",
        directions=DIRECTIONS,
        seed=seed,
        entries=n,
        direction="Rademacher ±1 (numpy default_rng(seed).choice), ‖Δ‖₁ = entries",
    )
    if _fails(figure, bound):
        ev["localized"] = _localize(diff, worst_delta, per_entry, _blocks(arr.shape))
        names = "; ".join(", ".join(f["blocks"]) for f in ev["localized"])
        reason = f"directional derivative #{worst[1]} off; localized by bisection to: {names}"
    else:
        reason = f"max over {DIRECTIONS} random directions of |⟨∇E_impl − ∇E_exact, Δ⟩|"
    return Verdict.measured(
        claim,
        title,
        figure,
        "<=",
        bound,
        error_model=_error_model(run.impl.dtype, u, "grad_theta", " (per entry), times ‖Δ‖₁",
                                 run.reference().error_bound_kind),
        reason=reason,
        evidence=ev,
    )


# --- planning ------------------------------------------------------------------------------

CLAIM_IDS = {
    "z_L": "H1.forward",
    "loss": "H2.loss",
    "grad_theta": "H3.grad_theta",
    "grad_x": "H4.grad_x",
    "train_step": "H5.train_step",
}


def plan_checks(
    impl: Implementation, suite: list[SuiteCase], caller: Caller | None = None
) -> list[PlannedCheck]:
    """Every (case, quantity) check of ``suite`` for ``impl``; nothing runs until ``.run()``."""
    caller = caller or Caller()
    planned: list[PlannedCheck] = []
    for sc in suite:
        holder: dict[str, _CaseRun] = {}

        def get_run(sc: SuiteCase = sc, holder: dict[str, _CaseRun] = holder) -> _CaseRun:
            if "run" not in holder:
                holder["run"] = _CaseRun(impl, sc, caller)
            return holder["run"]

        for q in ("z_L", "loss", "grad_theta", "grad_x", "train_step"):
            claim = CLAIM_IDS[q]

            def run_one(q: str = q, claim: str = claim, get_run: Any = get_run) -> Verdict:
                return _check_quantity(get_run(), q, claim)

            planned.append(PlannedCheck(f"{sc.id}::{q}", claim, TITLES[q], sc.id, run_one))
    return planned
