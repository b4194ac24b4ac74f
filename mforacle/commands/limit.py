"""``mforacle limit CASE.json --path exact|fast [--dps N] [--steps N] [--tol T] [-o FILE]``.

Evaluates a ``measure`` case (a Gaussian depth path, ``docs/case-format.md``) in the
mean-field limit and prints (or writes atomically with ``-o``) a ``mforacle-result/1`` object:
``energy``, ``Z1`` (N x d), ``first_variation`` (P,) and ``velocity`` (P x k) at the case's
probes, ``path``, ``dtype``, ``precision``, ``method`` and ``error_bound`` (per field, absolute,
written rounded up).

- ``--path exact`` (default): :func:`mforacle.exact.limit.solve` at ``--dps`` digits (default
  30), target ``--tol`` (default ``10^-(dps/2)``), ``--steps`` base segments of ``[0, 1]``
  (default 2; probe depths are added). Gragg–Bulirsch–Stoer extrapolation; the bound is the
  last confirmed diagonal difference of the extrapolation table (see that module).
- ``--path fast``: :func:`mforacle.fast.limit.solve`, RK4 with ``--steps`` steps (default 64),
  error estimated by step doubling (``2 |Q_h - Q_{h/2}|`` plus a roundoff allowance).

A ``theta`` case is refused with a pointer to ``mforacle eval``.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..caseio import (
    RESULT_FORMAT,
    Case,
    bound_text,
    emit_result,
    numbers_to_text,
    read_case,
)
from ..dtypes import UNIT_ROUNDOFF
from ..errors import InvalidArgument
from ..numbers import fractions_to_float64

DEFAULT_DPS = 30
MIN_DPS, MAX_DPS = 15, 1000
DEFAULT_FAST_STEPS = 64
DEFAULT_SEGMENTS = 2


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
    parser.add_argument("--path", choices=("exact", "fast"), default="exact",
                        help="exact: mpmath extrapolation (default); fast: NumPy RK4")
    parser.add_argument("--dps", type=_int_in(MIN_DPS, MAX_DPS), default=None,
                        help=f"digits of the exact path (default {DEFAULT_DPS})")
    parser.add_argument("--steps", type=_int_in(1, 100000), default=None,
                        help=f"fast: RK4 steps (default {DEFAULT_FAST_STEPS}); "
                             f"exact: base segments (default {DEFAULT_SEGMENTS})")
    parser.add_argument("--tol", default=None,
                        help="exact: absolute target tolerance (default 1e-(dps/2))")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the result here (atomically) instead of standard output")


def run(args: argparse.Namespace) -> int:
    case = read_case(args.case)
    if case.measure is None:
        raise InvalidArgument(
            "theta", args.case, "this is a theta case; evaluate it with 'mforacle eval'"
        )
    if args.path == "exact":
        dps = DEFAULT_DPS if args.dps is None else args.dps
        segs = DEFAULT_SEGMENTS if args.steps is None else args.steps
        result = exact_result(case, dps, args.tol, segs)
    else:
        for name in ("dps", "tol"):
            if getattr(args, name) is not None:
                value = getattr(args, name)
                raise InvalidArgument(f"--{name}", value, "applies to --path exact only")
        result = fast_result(case, DEFAULT_FAST_STEPS if args.steps is None else args.steps)
    emit_result(result, args.output)
    return 0


def _fields(bounds: dict[str, Any]) -> dict[str, str]:
    keep = ("energy", "Z1", "first_variation", "velocity")
    return {k: bound_text(bounds[k]) for k in keep if k in bounds}


def exact_result(case: Case, dps: int, tol: Any, segments: int) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the exact path for a ``measure`` case."""
    from ..exact.limit import solve

    d = case.data
    assert case.measure is not None
    r = solve(case.model, case.measure, d.x, d.y, d.weights, case.probes,
              dps=dps, tol=tol, segments=segments)
    out = {
        "format": RESULT_FORMAT,
        "path": "exact",
        "dtype": "mpmath",
        "precision": {"dps": r.dps, "tol": numbers_to_text(r.tol, 6)},
        "method": {"name": "gragg-bulirsch-stoer", "segments": segments,
                   "substeps": list(r.substeps), "converged": r.converged},
        "energy": numbers_to_text(r.energy, dps),
        "Z1": numbers_to_text(r.Z1, dps),
        "first_variation": numbers_to_text(r.first_variation, dps),
        "velocity": numbers_to_text(r.velocity, dps),
        "error_bound": _fields(r.error_bound),
    }
    if not r.converged:
        out["notes"] = ["extrapolation table reached its row cap before tol; bound is honest"]
    return out



def fast_result(case: Case, steps: int) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the fast (float64) path for a ``measure`` case."""
    from ..fast.limit import solve

    d = case.data
    assert case.measure is not None
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
    }
