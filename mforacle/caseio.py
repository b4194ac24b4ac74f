"""Case and result files: the language-neutral JSON contract (``docs/case-format.md``).

``mforacle-case/1`` describes a problem (a ``theta`` network or a ``measure`` limit, with data);
``mforacle-result/1`` holds what an implementation computed for it. Numbers may be JSON numbers
or decimal strings; they are read exactly (into Fractions) and written as decimal strings.
Every problem found names its field, e.g. ``theta[0][1][4]: must be finite (got 'nan')``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import CaseFormatError, InvalidArgument, UnsupportedFormatVersion
from .measures import GaussianPath, Probe
from .model import Data, Model, check_theta
from .numbers import exact_text, format_exact

__all__ = [
    "CASE_FORMAT",
    "RESULT_FORMAT",
    "Case",
    "case_from_json",
    "load_json",
    "read_case",
    "read_result",
    "result_from_json",
    "write_json_atomic",
]

CASE_FORMAT = "mforacle-case/1"
RESULT_FORMAT = "mforacle-result/1"
RESULT_ARRAY_FIELDS = {
    "z_L": ("N", "d"),
    "grad_theta": ("L", "M", "k"),
    "grad_x": ("N", "d"),
    "Z1": ("N", "d"),
}


@dataclass(frozen=True)
class Case:
    """A validated case: a model, data, and either a network ``theta`` or a ``measure``."""

    model: Model
    data: Data
    theta: np.ndarray | None = None  # (L, M, k) object array of Fraction
    measure: GaussianPath | None = None
    probes: tuple[Probe, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)  # extra fields, kept verbatim

    @property
    def kind(self) -> str:
        return "theta" if self.theta is not None else "measure"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": CASE_FORMAT}
        out.update({k: v for k, v in self.meta.items() if k != "format"})
        out["model"] = self.model.to_json()
        if self.theta is not None:
            out["theta"] = _text_array(self.theta)
        if self.measure is not None:
            m = self.measure.to_json()
            if self.probes:
                m["probes"] = [p.to_json() for p in self.probes]
            out["measure"] = m
        out["x"] = _text_array(self.data.x)
        out["y"] = _text_array(self.data.y)
        n = self.data.n
        if any(w != Fraction(1, n) for w in self.data.weights):  # uniform weights are the default
            out["weights"] = _text_array(self.data.weights)
        return out


def _text_array(arr: np.ndarray) -> Any:
    return np.vectorize(exact_text, otypes=[object])(arr).tolist() if arr.size else arr.tolist()


def _require(obj: Any, key: str, where: str = "") -> Any:
    if not isinstance(obj, dict):
        raise CaseFormatError(where.rstrip(".") or "(top level)", obj, "expected a JSON object")
    if key not in obj:
        raise CaseFormatError(where + key, None, "missing required field")
    return obj[key]


def check_format(obj: Any, expected: str) -> None:
    """Raise unless ``obj`` is a JSON object whose ``format`` is ``expected``."""
    if not isinstance(obj, dict):
        raise CaseFormatError("(top level)", type(obj).__name__, "expected a JSON object")
    fmt = obj.get("format")
    if fmt is None:
        raise CaseFormatError("format", None, f"missing; expected {expected!r}")
    family, _, _version = str(fmt).partition("/")
    want_family = expected.partition("/")[0]
    if family != want_family:
        raise CaseFormatError("format", fmt, f"expected {expected!r}")
    if fmt != expected:
        raise UnsupportedFormatVersion(
            "format", fmt, f"unknown version; this reader knows {expected!r}"
        )


def case_from_json(obj: Any) -> Case:
    """Validate a parsed ``mforacle-case/1`` object into a :class:`Case`."""
    check_format(obj, CASE_FORMAT)
    try:
        m = _require(obj, "model")
        if not isinstance(m, dict):
            raise CaseFormatError("model", m, "expected an object")
        readout = m.get("readout", {})
        if not isinstance(readout, dict):
            raise CaseFormatError("model.readout", readout, "expected an object")
        model = Model.create(
            _require(m, "d", "model."),
            _require(m, "activation", "model."),
            readout.get("a"),
            readout.get("kappa", 0),
        )
        data = Data.create(model, _require(obj, "x"), _require(obj, "y"), obj.get("weights"))
        has_theta, has_measure = "theta" in obj, "measure" in obj
        if has_theta == has_measure:
            raise CaseFormatError("theta", None, "a case gives exactly one of 'theta' or 'measure'")
        theta = measure = None
        probes: tuple[Probe, ...] = ()
        if has_theta:
            theta = check_theta(model, obj["theta"])
        else:
            ms = obj["measure"]
            if not isinstance(ms, dict):
                raise CaseFormatError("measure", ms, "expected an object")
            if ms.get("kind") != "gaussian-path":
                raise CaseFormatError("measure.kind", ms.get("kind"), "expected 'gaussian-path'")
            measure = GaussianPath.create(
                model,
                _require(ms, "r", "measure."),
                _require(ms, "c", "measure."),
                _require(ms, "A", "measure."),
            )
            raw = ms.get("probes", [])
            if not isinstance(raw, list):
                raise CaseFormatError("measure.probes", raw, "expected a list")
            probes = tuple(
                Probe.create(
                    model,
                    _require(p, "t", f"measure.probes[{i}]."),
                    _require(p, "theta", f"measure.probes[{i}]."),
                    f"measure.probes[{i}]",
                )
                for i, p in enumerate(raw)
            )
    except CaseFormatError:
        raise
    except InvalidArgument as exc:
        raise CaseFormatError(exc.field, exc.value, exc.reason) from None
    known = {"format", "model", "theta", "measure", "x", "y", "weights"}
    meta = {k: _plain(v) for k, v in obj.items() if k not in known}
    return Case(model, data, theta, measure, probes, meta)


def _plain(value: Any) -> Any:
    """Extra (non-contract) fields, with exactly-read Decimals back as plain JSON floats."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def load_json(path: str | os.PathLike[str], *, exact_numbers: bool = False) -> Any:
    """Parse a JSON file; a missing file or bad JSON raises :class:`CaseFormatError`.

    ``exact_numbers=True`` reads JSON numbers with a fraction or exponent as
    :class:`decimal.Decimal` (exact), not as the nearest double: case files promise that the
    exact path sees exactly the numbers written.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseFormatError("(file)", str(p), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseFormatError("(file)", str(p), f"cannot read: {exc}") from None
    try:
        return json.loads(
            text, parse_constant=_reject_constant, parse_float=Decimal if exact_numbers else None
        )
    except json.JSONDecodeError as exc:
        raise CaseFormatError(
            "(json)",
            f"line {exc.lineno} column {exc.colno}",
            f"invalid JSON: {exc.msg}",
            source=str(p),
        ) from None


def _reject_constant(name: str) -> Any:
    raise CaseFormatError("(json)", name, "NaN and Infinity are not valid numbers")


def read_case(path: str | os.PathLike[str]) -> Case:
    """Read and validate a case file. Errors name the file and the field."""
    obj = load_json(path, exact_numbers=True)
    try:
        return case_from_json(obj)
    except CaseFormatError as exc:
        raise type(exc)(exc.field, exc.value, exc.reason, source=str(path)) from None


#: what a result's ``error_bound`` is: proved (``rigorous``) or not (``estimate``)
ERROR_BOUND_KINDS = ("rigorous", "estimate")


def result_from_json(obj: Any, case: Case | None = None) -> dict[str, Any]:
    """Validate a ``mforacle-result/1`` object; arrays become float64 NumPy arrays.

    Decimal strings are converted with correct rounding. Fields absent from the file are absent
    from the returned dict (their checks are then *not checked*). When ``case`` is given, array
    shapes are checked against it.
    """
    from .numbers import float_array

    check_format(obj, RESULT_FORMAT)
    kind = obj.get("error_bound_kind", "estimate")
    if not isinstance(kind, str) or kind not in ERROR_BOUND_KINDS:
        raise CaseFormatError(
            "error_bound_kind", kind, f"expected one of {list(ERROR_BOUND_KINDS)}"
        )
    out: dict[str, Any] = dict(obj)
    dims: dict[str, int] = {}
    if case is not None:
        dims = {"N": case.data.n, "d": case.model.d, "k": case.model.k}
        if case.theta is not None:
            dims.update(L=case.theta.shape[0], M=case.theta.shape[1])
    try:
        for name in ("loss", "energy"):
            if name in obj:
                out[name] = float(float_array(obj[name], name, ()))
        for name, axes in RESULT_ARRAY_FIELDS.items():
            if name in obj:
                out[name] = float_array(obj[name], name, tuple(dims.get(a) for a in axes))
        for name in ("first_variation", "velocity"):
            if name in obj:
                value = obj[name]
                if name == "velocity" and isinstance(value, list) and not value:
                    value = np.zeros((0, dims.get("k") or 0))  # P = 0: JSON's [] is (0, k)
                out[name] = float_array(
                    value,
                    name,
                    (len(case.probes) if case else None,)
                    if name == "first_variation"
                    else (len(case.probes) if case else None, dims.get("k")),
                )
    except CaseFormatError:
        raise
    except InvalidArgument as exc:
        raise CaseFormatError(exc.field, exc.value, exc.reason) from None
    return out


def read_result(path: str | os.PathLike[str], case: Case | None = None) -> dict[str, Any]:
    obj = load_json(path)
    try:
        return result_from_json(obj, case)
    except CaseFormatError as exc:
        raise type(exc)(exc.field, exc.value, exc.reason, source=str(path)) from None


def numbers_to_text(value: Any, digits: int | None) -> Any:
    """Nested numbers (mpf, float, Fraction, arrays) to decimal strings.

    ``digits=None`` writes floats with ``repr`` (shortest round-trip); otherwise ``digits``
    significant digits.
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [numbers_to_text(v, digits) for v in value]
    if digits is None:
        return repr(float(value))
    return format_exact(value, digits)


def _writable_target(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if p.is_dir():
        raise InvalidArgument("output", str(p), "is a directory; give a file name")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _publish(tmp: str, dest: Path) -> None:
    """Give the temp file the permissions a plain ``open`` would (mkstemp makes it 0600),
    then rename it over ``dest``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, dest)


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON to ``path`` atomically (temp file in the same folder, then rename)."""
    p = _writable_target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1)
            fh.write("\n")
        _publish(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text to ``path`` atomically."""
    p = _writable_target(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        _publish(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: Significant digits of a written error bound.
BOUND_DIGITS = 6


def bound_text(value: Any, digits: int = BOUND_DIGITS) -> str:
    """A non-negative bound as a decimal string that is never below it (rounded up)."""
    import mpmath

    with mpmath.workdps(digits + 10):
        up = mpmath.mpf(value) * (1 + mpmath.mpf(10) ** (1 - digits))
        return numbers_to_text(up, digits)


def emit_result(result: dict[str, Any], output: str | None) -> None:
    """Write a result object to ``output`` (atomically) or, if ``None``, to standard output."""
    import sys

    if output:
        write_json_atomic(output, result)
    else:
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
