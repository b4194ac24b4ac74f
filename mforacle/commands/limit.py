"""``mforacle limit CASE.json --path exact|ball|fast [--dps N] [--tol T] [--steps N] [-o FILE]``.

Evaluates a ``measure`` case (a Gaussian depth path, ``docs/case-format.md``) in the
mean-field limit and prints (or writes atomically with ``-o``) a ``mforacle-result/1`` object:
``energy``, ``Z1`` (N x d), ``first_variation`` (P,) and ``velocity`` (P x k) at the case's
probes, ``path``, ``dtype``, ``precision``, ``method``, ``error_bound`` (per field, absolute,
written rounded up) and ``error_bound_kind`` (``"rigorous"``: a proved bound on ``|written
value − true value|``; ``"estimate"``: an error estimate, not a proof).

- ``--path exact`` (default): :func:`mforacle.exact.limit.solve` at ``--dps`` digits (default
  30), target ``--tol`` (default ``10^-(dps/2)``), ``--steps`` base segments of ``[0, 1]``
  (default 2; probe depths are added); Gragg–Bulirsch–Stoer extrapolation. By default the
  result is *certified* (:func:`mforacle.reference.limit`): the ball solver encloses every
  quantity and ``error_bound`` is ``max |written − m| + r``, rigorous; the exact path's own
  estimate (the last confirmed diagonal difference of its table) is kept as
  ``error_estimate``. ``--no-certify`` writes the estimate (``"estimate"``).
- ``--path ball``: :func:`mforacle.ball.limit.solve` (Arb; a-posteriori Taylor steps with
  Cauchy-bounded defects and a logarithmic-norm Grönwall bound, ``docs/limit.md``), target
  radius ``--tol`` (default ``10^-(dps/2)``); midpoints written with ``--dps`` digits;
  ``error_bound`` is rigorous (radius plus the decimal rounding of the written midpoint).
- ``--path fast``: :func:`mforacle.fast.limit.solve`, RK4 with ``--steps`` steps (default 64),
  error estimated by step doubling (``2 |Q_h - Q_{h/2}|`` plus a roundoff allowance).

The ball solver reports progress on standard error (at most one line every two seconds) while
it runs. A ``theta`` case is refused with a pointer to ``mforacle eval``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..caseio import (
    RESULT_FORMAT,
    Case,
    bound_text,
    check_float64_range,
    emit_result,
    numbers_to_text,
    read_case,
)
from ..cost import case_guard
from ..dtypes import UNIT_ROUNDOFF
from ..errors import InvalidArgument
from ..numbers import fractions_to_float64

DEFAULT_DPS = 30
MIN_DPS, MAX_DPS = 15, 1000
DEFAULT_FAST_STEPS = 64
DEFAULT_SEGMENTS = 2
QUANTITIES = ("energy", "Z1", "first_variation", "velocity")


def _int_in(lo: int, hi: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {value}")
        return value

    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", metavar="CASE.json", help="a mforacle-case/1 file with 'measure'")
    parser.add_argument("--path", choices=("exact", "ball", "fast"), default="exact",
                        help="exact: mpmath extrapolation, certified (default); ball: Arb "
                             "enclosures, rigorous; fast: NumPy RK4")
    parser.add_argument("--dps", type=_int_in(MIN_DPS, MAX_DPS), default=None,
                        help=f"digits of the exact and ball paths (default {DEFAULT_DPS})")
    parser.add_argument("--steps", type=_int_in(1, 100000), default=None,
                        help=f"fast: RK4 steps (default {DEFAULT_FAST_STEPS}); "
                             f"exact: base segments (default {DEFAULT_SEGMENTS})")
    parser.add_argument("--tol", default=None,
                        help="exact, ball: absolute target tolerance (default 1e-(dps/2))")
    parser.add_argument("--no-certify", dest="certify", action="store_false",
                        help="exact path: skip the ball-arithmetic certificate (the error bound "
                             "is then the exact path's estimate)")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the result here instead of standard output: a regular "
                             "file is replaced atomically, a symlink's target is replaced (the "
                             "link stays), a device or FIFO is written through")
    parser.add_argument("--force", action="store_true",
                        help="evaluate even when the up-front estimate of memory or time is "
                             "over the limits (see mforacle.cost)")


def _progress(message: str) -> None:
    print(f"mforacle limit: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    guard = case_guard(args.path, args.dps or DEFAULT_DPS, force=args.force, field=args.case)
    case = read_case(args.case, guard)
    if case.measure is None:
        raise InvalidArgument(
            "theta", args.case, "this is a theta case; evaluate it with 'mforacle eval'"
        )
    from ..cost import refuse_if_huge

    if args.path != "exact" and not args.certify:
        raise InvalidArgument("--no-certify", True, "applies to --path exact only")
    dps = DEFAULT_DPS if args.dps is None else args.dps
    if args.path == "exact":
        segs = DEFAULT_SEGMENTS if args.steps is None else args.steps
        refuse_if_huge(case, "exact", dps=dps, force=args.force, field=args.case)
        result = exact_result(case, dps, args.tol, segs, certify=args.certify)
    elif args.path == "ball":
        if args.steps is not None:
            raise InvalidArgument("--steps", args.steps, "applies to --path exact and fast only")
        refuse_if_huge(case, "ball", dps=dps, force=args.force, field=args.case)
        result = ball_result(case, dps, args.tol)
    else:
        for name in ("dps", "tol"):
            if getattr(args, name) is not None:
                value = getattr(args, name)
                raise InvalidArgument(f"--{name}", value, "applies to --path exact and ball only")
        refuse_if_huge(case, "fast", force=args.force, field=args.case)
        result = fast_result(case, DEFAULT_FAST_STEPS if args.steps is None else args.steps)
    emit_result(result, args.output)
    return 0


def _fields(bounds: dict[str, Any]) -> dict[str, str]:
    return {k: bound_text(bounds[k]) for k in QUANTITIES if k in bounds}


def exact_result(case: Case, dps: int, tol: Any, segments: int, *,
                 certify: bool = True) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the exact path for a ``measure`` case; certified by
    the ball solver unless ``certify=False`` (see the module docstring)."""
    from ..reference import limit, present_quantities, printed_bounds

    d = case.data
    assert case.measure is not None
    r = limit(case.model, case.measure, d.x, d.y, d.weights, case.probes, dps=dps, tol=tol,
              segments=segments, certify=certify, progress=_progress)
    ex = r.exact
    out: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "path": "exact",
        "dtype": "mpmath",
        "precision": {"dps": ex.dps, "tol": numbers_to_text(ex.tol, 6)},
        "method": {"name": "gragg-bulirsch-stoer", "segments": segments,
                   "substeps": list(ex.substeps), "converged": ex.converged},
    }
    written = {q: numbers_to_text(r.get(q), dps) for q in QUANTITIES}
    out.update(written)
    notes = []
    if not ex.converged:
        notes.append("extrapolation table reached its row cap before tol; the estimate is the "
                     "last difference")
    if not certify:
        out["error_bound"] = _fields(r.estimate)
        out["error_bound_kind"] = "estimate"
    else:
        present = present_quantities(len(ex.first_variation))
        bound, _entries = printed_bounds(written, r.ball, quantities=present)
        out["error_bound"] = {q: bound_text(bound.get(q, 0)) for q in QUANTITIES}
        out["error_bound_kind"] = "rigorous"
        out["error_estimate"] = _fields(r.estimate)
        out["certificate"] = {
            "by": "ball",
            "ball_tol": numbers_to_text(r.ball.tol, 6),
            "ball_working_bits": r.ball.prec,
            "estimate_proved": dict(r.proved),
        }
    if notes:
        out["notes"] = notes
    return out


def ball_result(case: Case, dps: int, tol: Any) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the ball solver: midpoints at ``dps`` digits and a
    rigorous ``error_bound`` (radius + decimal rounding of the written midpoint)."""
    import numpy as np

    from ..ball.limit import solve
    from ..reference import present_quantities, printed_bounds

    d = case.data
    assert case.measure is not None
    r = solve(case.model, case.measure, d.x, d.y, d.weights, case.probes, tol=tol, dps=dps,
              progress=_progress)

    def mids(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return [mids(v) for v in value] if value.ndim else mids(value[()])
        return value.mid().str(dps, radius=False, more=True)

    written = {q: mids(r.get(q)) for q in QUANTITIES}
    present = present_quantities(len(r.first_variation))
    bound, _entries = printed_bounds(written, r, quantities=present)
    out: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "path": "ball",
        "dtype": "arb",
        "precision": {"dps": dps, "tol": numbers_to_text(r.tol, 6), "working_bits": r.prec},
        "method": {"name": "taylor-defect-gronwall", **r.stats},
        **written,
        "error_bound": {q: bound_text(bound.get(q, 0)) for q in QUANTITIES},
        "error_bound_kind": "rigorous",
    }
    if not r.converged:
        out["notes"] = [f"the enclosures did not reach tol = {float(r.tol):.1e} in "
                        f"{r.stats['runs']} runs: they are valid but wider than asked"]
    return out


def fast_result(case: Case, steps: int) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the fast (float64) path for a ``measure`` case."""
    from ..fast.limit import solve

    d = case.data
    assert case.measure is not None
    check_float64_range(case)
    x, y, w = (fractions_to_float64(v) for v in (d.x, d.y, d.weights))
    r = solve(case.model, case.measure, x, y, w, case.probes, steps=steps, estimate_error=True)
    return {
        "format": RESULT_FORMAT,
        "path": "fast",
        "dtype": "float64",
        "precision": {"dtype": "float64", "unit_roundoff": repr(UNIT_ROUNDOFF["float64"])},
        "method": {"name": "rk4", "order": 4, "steps": steps,
                   "error_estimate": "2|Q_h - Q_h/2| + roundoff (step doubling)"},
        "energy": numbers_to_text(r.energy, None),
        "Z1": numbers_to_text(r.Z1, None),
        "first_variation": numbers_to_text(r.first_variation, None),
        "velocity": numbers_to_text(r.velocity, None),
        "error_bound": _fields(r.error_bound),
        "error_bound_kind": "estimate",
    }
