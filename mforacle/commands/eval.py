"""``mforacle eval CASE.json --path exact|ball|fast [--dps N] [--no-certify] [--radii] [-o FILE]``.

Evaluates a ``theta`` case and prints (or writes, atomically, with ``-o``) a
``mforacle-result/1`` JSON object: ``loss``, ``z_L``, ``grad_theta``, ``grad_x``, ``path``,
``dtype``, ``precision``, ``error_bound`` and ``error_bound_kind`` (``"rigorous"``: a proved
bound on ``|written value − true value|``; ``"estimate"``: an error model or a confirmed
estimate, not a proof).

- ``--path exact`` (default): the mpmath path at ``--dps`` digits (default 30, between 15 and
  10000); values are written with ``dps`` significant digits. By default the result is
  *certified* (:mod:`mforacle.reference`): the Arb ball path encloses every quantity and
  ``error_bound`` is ``max |written − m| + r`` over the entries, rigorous; the exact path's own
  confirmed estimate is kept as ``error_estimate``. ``--no-certify`` skips the ball path and
  writes the estimate (``"error_bound_kind": "estimate"``).
- ``--path ball``: the Arb ball path (:mod:`mforacle.ball.network`) at ``--dps`` digits; the
  values are the balls' midpoints written with ``dps`` digits and ``error_bound`` is rigorous
  (the radius plus the decimal rounding of the written midpoint). ``precision`` says which
  working precisions were tried, whether the radius met ``10^-dps`` relative before the cap
  (``radius_met``) and how many digits it reached per quantity (``radius_digits``,
  ``-log10(max radius / max |midpoint|)`` rounded down).
- ``--path fast``: the NumPy float64 path, written with ``repr`` (shortest round trip). Its
  ``error_bound`` is :func:`mforacle.tolerance.bounds` (a derived float64 error model) plus the
  printing error (``"estimate"``); if that module is missing, ``error_bound`` is absent and
  ``notes`` says why.
- ``--radii`` (exact certified, ball): also write ``radii``, the rigorous bound of every entry.

Bounds are written with 6 significant digits, rounded *up*. A measure case is refused with a
pointer to ``mforacle limit``.
"""

from __future__ import annotations

import argparse
import math
from fractions import Fraction
from typing import Any

import numpy as np

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
    parser.add_argument("--path", choices=("exact", "ball", "fast"), default="exact",
                        help="exact: mpmath at --dps digits, certified (default); ball: Arb "
                             "midpoint-radius at --dps digits, rigorous; fast: NumPy float64")
    parser.add_argument("--dps", type=_dps, default=None,
                        help=f"decimal digits of the exact and ball paths ({MIN_DPS}..{MAX_DPS}, "
                             f"default {DEFAULT_DPS})")
    parser.add_argument("--no-certify", dest="certify", action="store_false",
                        help="exact path: skip the ball-arithmetic certificate (the error bound "
                             "is then the exact path's confirmed estimate)")
    parser.add_argument("--radii", action="store_true",
                        help="also write the rigorous bound of every entry (exact certified, "
                             "ball)")
    parser.add_argument("-o", "--output", metavar="FILE", default=None,
                        help="write the result here instead of standard output: a regular "
                             "file is replaced atomically, a symlink's target is replaced (the "
                             "link stays), a device or FIFO is written through")
    parser.add_argument("--force", action="store_true",
                        help="evaluate even when the up-front estimate of memory or time is "
                             "over the limits (see mforacle.cost)")


def run(args: argparse.Namespace) -> int:
    guard = case_guard(args.path, args.dps or DEFAULT_DPS, force=args.force, field=args.case)
    case = read_case(args.case, guard)
    if case.theta is None:
        raise InvalidArgument(
            "measure", args.case, "this is a measure case; evaluate it with 'mforacle limit'"
        )
    from ..cost import refuse_if_huge

    dps = DEFAULT_DPS if args.dps is None else args.dps
    if args.path != "exact" and not args.certify:
        raise InvalidArgument("--no-certify", True, "applies to --path exact only")
    if args.path == "exact":
        if args.radii and not args.certify:
            raise InvalidArgument("--radii", True, "needs the certificate (drop --no-certify)")
        refuse_if_huge(case, "exact", dps=dps, force=args.force, field=args.case)
        result = exact_result(case, dps, certify=args.certify, radii=args.radii)
    elif args.path == "ball":
        refuse_if_huge(case, "ball", dps=dps, force=args.force, field=args.case)
        result = ball_result(case, dps, radii=args.radii)
    else:
        if args.dps is not None:
            raise InvalidArgument("--dps", args.dps, "applies to --path exact and ball only")
        if args.radii:
            raise InvalidArgument("--radii", True, "applies to --path exact and ball only")
        refuse_if_huge(case, "fast", force=args.force, field=args.case)
        result = fast_result(case)
    emit_result(result, args.output)
    return 0


QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")
#: significant digits of the per-entry radii (rounded up)
RADIUS_DIGITS = 3


def _radii(entries: dict[str, Any]) -> dict[str, Any]:
    def text(arr: Any) -> Any:
        if isinstance(arr, np.ndarray) and arr.ndim:
            return [text(a) for a in arr]
        return bound_text(arr[()] if isinstance(arr, np.ndarray) else arr, RADIUS_DIGITS)

    return {q: text(entries[q]) for q in QUANTITIES}


def exact_result(case: Case, dps: int, *, certify: bool = True,
                 radii: bool = False) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the exact path for a ``theta`` case; certified by
    the ball path unless ``certify=False`` (see the module docstring)."""
    from ..reference import evaluate, printed_bounds

    d = case.data
    r = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=dps, certify=certify)
    out: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "path": "exact",
        "dtype": "mpmath",
        "precision": {"dps": r.dps, "working_dps": r.working_dps, "confirm_dps": r.confirm_dps},
    }
    written = {q: numbers_to_text(r.get(q), dps) for q in QUANTITIES}
    out.update(written)
    if not certify:
        out["error_bound"] = {q: bound_text(b) for q, b in r.error_bound.items()}
        out["error_bound_kind"] = "estimate"
        return out
    bound, entries = printed_bounds(written, r.ball)
    out["error_bound"] = {q: bound_text(bound[q]) for q in QUANTITIES}
    out["error_bound_kind"] = "rigorous"
    out["error_estimate"] = {q: bound_text(b) for q, b in r.estimate.items()}
    out["certificate"] = {
        "by": "ball",
        "ball_working_bits": r.ball.prec,
        "ball_radius_met": r.ball.met,
        "estimate_proved": dict(r.proved),
    }
    if radii:
        out["radii"] = _radii(entries)
    return out


def _digits(value: float | None) -> Any:
    """Guaranteed digits, rounded down to 0.1 (``"exact"`` for a radius of 0)."""
    if value is None:
        return None
    if value == float("inf"):
        return "exact"
    return math.floor(value * 10) / 10


def ball_result(case: Case, dps: int, *, radii: bool = False) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the ball path: midpoints at ``dps`` digits and a
    rigorous ``error_bound`` (radius + decimal rounding of the written midpoint)."""
    from ..ball.network import evaluate
    from ..reference import printed_bounds

    d = case.data
    r = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=dps)

    def mids(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return [mids(v) for v in value] if value.ndim else mids(value[()])
        return value.mid().str(dps, radius=False, more=True)

    written = {q: mids(r.get(q)) for q in QUANTITIES}
    bound, entries = printed_bounds(written, r)
    out: dict[str, Any] = {
        "format": RESULT_FORMAT,
        "path": "ball",
        "dtype": "arb",
        "precision": {
            "dps": dps,
            "working_bits": r.prec,
            "attempts_bits": [p for p, _met in r.attempts],
            "max_bits": r.max_prec,
            "radius_met": r.met,
            "radius_digits": {q: _digits(v) for q, v in r.radius_digits().items()},
        },
        **written,
        "error_bound": {q: bound_text(bound[q]) for q in QUANTITIES},
        "error_bound_kind": "rigorous",
    }
    notes = []
    if not r.met:
        notes.append(
            f"the radius did not reach 10^-{dps} relative before the precision cap "
            f"({r.max_prec} bits): the enclosures are valid but wider than asked"
        )
    if r.kinks:
        notes.append(f"{r.kinks} pre-activation ball(s) straddled a regrelu kink "
                     "(their derivative enclosure is the hull of both branches)")
    if notes:
        out["notes"] = notes
    if radii:
        out["radii"] = _radii(entries)
    return out


def fast_result(case: Case) -> dict[str, Any]:
    """The ``mforacle-result/1`` object of the fast (float64) path for a ``theta`` case."""
    try:
        from ..fast.network import evaluate
    except ImportError as exc:
        raise InvalidArgument("--path", "fast", f"the fast path is not available ({exc})") from None
    d = case.data
    assert case.theta is not None
    check_float64_range(case)
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
    out["error_bound_kind"] = "estimate"
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
