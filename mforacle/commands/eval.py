"""``mforacle eval CASE.json --path exact|fast [--dps N] [-o FILE]``.

Evaluates a ``theta`` case and prints (or writes, atomically, with ``-o``) a
``mforacle-result/1`` JSON object: ``loss``, ``z_L``, ``grad_theta``, ``grad_x``, ``path``,
``dtype``, ``precision`` and ``error_bound``.

- ``--path exact`` (default): the mpmath path at ``--dps`` digits (default 30, between 15 and
  10000); values are written with ``dps`` significant digits and ``error_bound`` is the bound
  the exact path confirmed by recomputing at higher precision (see
  :mod:`mforacle.exact.network`), written rounded *up*.
- ``--path fast``: the NumPy float64 path, written with ``repr`` (shortest round trip). Its
  ``error_bound`` is :func:`mforacle.tolerance.bounds` (a derived float64 error model) plus the
  printing error; if that module is missing, ``error_bound`` is absent and ``notes`` says why.

A ``measure`` case is refused with a pointer to ``mforacle limit``.
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from typing import Any

import numpy as np

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
MIN_DPS = 15
MAX_DPS = 10000
#: significant digits of the written error bounds (rounded up, so never below the bound)


def _dps(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not MIN_DPS <= value <= MAX_DPS:
        raise argparse.ArgumentTypeError(f"must be between {MIN_DPS} and {MAX_DPS}, got {value}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", metavar="CASE.json", help="a mforacle-case/1 file with 'theta'")
    parser.add_argument("--path", choices=("exact", "fast"), default="exact",
                        help="exact: mpmath at --dps digits (default); fast: NumPy float64")
    parser.add_argument("--dps", type=_dps, default=None,
                        help=f"decimal digits of the exact path ({MIN_DPS}..{MAX_DPS}, "
                             f"default {DEFAULT_DPS})")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the result here (atomically) instead of standard output")


def run(args: argparse.Namespace) -> int:
    case = read_case(args.case)
    if case.theta is None:
        raise InvalidArgument(
            "measure", args.case, "this is a measure case; evaluate it with 'mforacle limit'"
        )
    if args.path == "exact":
        result = exact_result(case, DEFAULT_DPS if args.dps is None else args.dps)
    else:
        if args.dps is not None:
            raise InvalidArgument("--dps", args.dps, "applies to --path exact only")
        result = fast_result(case)
    emit_result(result, args.output)
    return 0


def exact_result(case: Case, dps: int) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the exact path for a ``theta`` case."""
    from ..exact.network import evaluate

    d = case.data
    r = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=dps, confirm=True)
    return {
        "format": RESULT_FORMAT,
        "path": "exact",
        "dtype": "mpmath",
        "precision": {"dps": r.dps, "working_dps": r.working_dps, "confirm_dps": r.confirm_dps},
        "loss": numbers_to_text(r.loss, dps),
        "z_L": numbers_to_text(r.z_L, dps),
        "grad_theta": numbers_to_text(r.grad_theta, dps),
        "grad_x": numbers_to_text(r.grad_x, dps),
        "error_bound": {name: bound_text(b) for name, b in r.error_bound.items()},
    }



def fast_result(case: Case) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the fast (float64) path for a ``theta`` case."""
    try:
        from ..fast.network import evaluate
    except ImportError as exc:
        raise InvalidArgument("--path", "fast", f"the fast path is not available ({exc})") from None
    d = case.data
    assert case.theta is not None
    theta, x, y, w = (fractions_to_float64(v) for v in (case.theta, d.x, d.y, d.weights))
    r = evaluate(case.model, theta, x, y, w)
    out: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "path": "fast",
        "dtype": "float64",
        "precision": {"dtype": "float64", "unit_roundoff": repr(UNIT_ROUNDOFF["float64"])},
        "loss": numbers_to_text(r.loss, None),
        "z_L": numbers_to_text(r.z_L, None),
        "grad_theta": numbers_to_text(r.grad_theta, None),
        "grad_x": numbers_to_text(r.grad_x, None),
    }
    bound = _fast_bound(case, r)
    if bound is None:
        out["notes"] = ["error_bound absent: no float64 error model (mforacle.tolerance) available"]
    else:
        out["error_bound"] = {name: bound_text(b) for name, b in bound.items()}
    return out


def _fast_bound(case: Case, result: Any) -> dict[str, Any] | None:
    """The float64 error bound of the written values, or ``None`` without an error model.

    :func:`mforacle.tolerance.bounds` bounds ``|float64 value − exact value|`` for an
    implementation that reads the case's numbers rounded once to float64 (``inputs_rounded`` is
    dropped when every input is exactly a double). Writing a double with ``repr`` (shortest
    round-trip string) moves it by less than half an ulp, ``<= u |v|`` (or ``<= 2^-1075`` for a
    subnormal): that is added.
    """
    try:
        from ..tolerance import bounds
    except ImportError:
        return None
    d = case.data
    assert case.theta is not None
    exact_inputs = all(Fraction(float(v)) == v for arr in (case.theta, d.x, d.y, d.weights)
                       for v in arr.reshape(-1))
    u = UNIT_ROUNDOFF["float64"]
    b = bounds(case.model, case.theta, d.x, d.y, d.weights, unit_roundoff=u,
               inputs_rounded=not exact_inputs)
    values = {"loss": np.array([result.loss]), "z_L": result.z_L,
              "grad_theta": result.grad_theta, "grad_x": result.grad_x}
    return {name: float(b[name]) + u * float(np.max(np.abs(values[name]))) + 2.0**-1074
            for name in values}
