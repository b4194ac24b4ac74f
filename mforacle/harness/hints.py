"""Hints a failing run's pattern supports (issue 9 item 9): messages a user can act on.

Per check (:func:`value_hints`, added to a failing verdict's reason):

- *the error is of float32 size*: the worst error relative to the reference's magnitude is within
  a factor 1/4…64 of a narrower arithmetic's unit roundoff than the declared one (a float32
  computation declared float64);
- *values look rounded to k digits*: every returned value survives printing with ``k <= 8``
  significant digits while the reference does not (results printed with ``%g`` or similar).

Per run (:func:`pattern_hints`, in the summary): when every failing case shares a feature that
no passing case has — κ ≠ 0, non-uniform weights, one activation — the hint names it
(``only κ ≠ 0 cases fail``). A case fails when any of its checks failed, passes when one passed
and none failed; the feature is read from the case in the verdict's evidence.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from mforacle.dtypes import UNIT_ROUNDOFF
from mforacle.verdict import Verdict

__all__ = ["pattern_hints", "value_hints"]

#: a relative error within [u/4, 64u] of an arithmetic's unit roundoff is "of its size"
SIZE_WINDOW = (0.25, 64.0)
#: significant digits tried for "values look rounded"
MAX_DIGITS = 8


def _digits_needed(values: np.ndarray) -> int | None:
    """The fewest significant digits ``k <= MAX_DIGITS`` with which every value prints and reads
    back unchanged (``None`` if more are needed, or there is no nonzero value)."""
    vals = [float(v) for v in np.ravel(values) if math.isfinite(float(v)) and float(v) != 0]
    if not vals:
        return None
    for k in range(1, MAX_DIGITS + 1):
        if all(float(f"{v:.{k}g}") == v for v in vals):
            return k
    return None


def value_hints(arr: np.ndarray, ref: Any, figure: float, dtype: str) -> list[str]:
    """Hints for a failing comparison of ``arr`` (the implementation's values, float64) with
    ``ref`` (reference values, mpf or float) at max abs error ``figure``; ``dtype`` declared."""
    out = []
    ref_f = np.vectorize(float, otypes=[np.float64])(np.asarray(ref, dtype=object))
    scale = float(np.max(np.abs(ref_f), initial=0.0))
    if scale > 0 and math.isfinite(figure) and figure > 0:
        rel = figure / scale
        declared = UNIT_ROUNDOFF.get(dtype, UNIT_ROUNDOFF["float64"])
        for name, u in UNIT_ROUNDOFF.items():
            if u > declared and SIZE_WINDOW[0] * u <= rel <= SIZE_WINDOW[1] * u:
                out.append(
                    f"the error is of {name} size (relative {rel:.2g}, {name}'s u = {u:.2g}): "
                    f"is it computed in {name} while declared {dtype}? (--dtype {name})"
                )
                break
    k = _digits_needed(arr)
    if k is not None and _digits_needed(ref_f) is None:
        out.append(
            f"the values look rounded to {k} significant digits (printed with %g or similar?): "
            "write them with repr() or 17 digits"
        )
    return out


# --------------------------------------------------------------------------- run patterns


def _features(case: dict[str, Any]) -> dict[str, str]:
    model = case.get("model") or {}
    kappa = (model.get("readout") or {}).get("kappa", "0")
    try:
        nonzero = Fraction(str(kappa)) != 0
    except (ValueError, ZeroDivisionError):
        nonzero = False
    weights = case.get("weights")
    weighted = False
    if isinstance(weights, list) and weights:
        try:
            weighted = len({Fraction(str(w)) for w in weights}) > 1
        except (ValueError, ZeroDivisionError):
            weighted = False
    act = str(model.get("activation", "?")).split(":")[0]
    return {
        "kappa": "κ ≠ 0" if nonzero else "κ = 0",
        "weights": "weighted" if weighted else "uniform",
        "activation": act,
    }


#: feature -> (the value that may single out the failures, hint text)
PATTERNS = {
    "kappa": (
        "κ ≠ 0",
        "only κ ≠ 0 cases fail: check the readout's curvature term (κ/2)|z|² and its gradient",
    ),
    "weights": (
        "weighted",
        "only weighted cases fail: check that the loss uses the given weights ω_n (not 1/N) "
        "and that grad_x is each point's own, unweighted ∂ℓ_n/∂x_n",
    ),
}


def pattern_hints(verdicts: list[Verdict]) -> list[str]:
    """Run-level hints: a feature every failing case has and no passing case has (module doc)."""
    cases: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        case = v.evidence.get("case")
        if not isinstance(case, dict) or v.status not in ("pass", "fail", "error"):
            continue
        key = str(v.evidence.get("case_id") or repr(sorted(case.items()))[:2000])
        entry = cases.setdefault(key, {"features": _features(case), "failed": False})
        entry["failed"] |= v.status in ("fail", "error")
    failing = [c["features"] for c in cases.values() if c["failed"]]
    passing = [c["features"] for c in cases.values() if not c["failed"]]
    if not failing or not passing:
        return []
    out = []
    for feature, (value, text) in PATTERNS.items():
        if all(f[feature] == value for f in failing) and not any(
            f[feature] == value for f in passing
        ):
            out.append(f"{text} ({len(failing)} failing cases, {len(passing)} passing)")
    acts = {f["activation"] for f in failing}
    if len(acts) == 1:
        (act,) = acts
        if not any(f["activation"] == act for f in passing):
            out.append(
                f"only activation {act} fails: check σ and σ' for {act} "
                f"({len(failing)} failing cases, {len(passing)} passing)"
            )
    return out
