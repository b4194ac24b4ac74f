"""Case and result files: the language-neutral JSON contract (``docs/case-format.md``).

``mforacle-case/1`` describes a problem (a ``theta`` network or a ``measure`` limit, with data);
``mforacle-result/1`` holds what an implementation computed for it. Numbers may be JSON numbers
or decimal strings; they are read exactly (into Fractions) and written as decimal strings.
Every problem found names its field, e.g. ``theta[0][1][4]: must be finite (got 'nan')``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from collections.abc import Callable
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


def case_numbers(case: Case) -> Any:
    """Every exact number of ``case`` with its field name (``theta[0][1][2]``,
    ``measure.A[1][0][2]``, ``model.readout.kappa``), as ``(field, Fraction)`` pairs."""
    m = case.model
    for i, v in enumerate(m.a):
        yield f"model.readout.a[{i}]", v
    yield "model.readout.kappa", m.kappa
    if m.activation.eta is not None:
        yield "model.activation", m.activation.eta
    arrays = [("x", case.data.x), ("y", case.data.y), ("weights", case.data.weights)]
    if case.theta is not None:
        arrays.append(("theta", case.theta))
    for name, arr in arrays:
        for idx in np.ndindex(*arr.shape):
            yield name + "".join(f"[{j}]" for j in idx), arr[idx]
    if case.measure is not None:
        for i, poly in enumerate(case.measure.c):
            for p, v in enumerate(poly):
                yield f"measure.c[{i}][{p}]", v
        for i, row in enumerate(case.measure.A):
            for j, poly in enumerate(row):
                for p, v in enumerate(poly):
                    yield f"measure.A[{i}][{j}][{p}]", v
    for n, probe in enumerate(case.probes):
        yield f"measure.probes[{n}].t", probe.t
        for j, v in enumerate(probe.theta):
            yield f"measure.probes[{n}].theta[{j}]", v


def check_float64_range(case: Case, what: str = "the fast path") -> None:
    """Raise :class:`InvalidArgument` naming the first number of ``case`` beyond float64's
    range (it would round to infinity): ``what`` (the fast path, a float implementation)
    cannot be given it. Numbers below the range round to 0 or a subnormal; that is allowed."""
    for field_name, value in case_numbers(case):
        try:
            float(value)
        except OverflowError:
            raise InvalidArgument(
                field_name,
                format_exact(value, 6),
                f"beyond float64's range (|x| > 1.8e308): {what} cannot represent it; "
                "evaluate this case with the exact path",
            ) from None


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


#: the largest JSON file mforacle reads (a case, result, manifest or reference)
MAX_JSON_BYTES = 64 << 20
#: how deeply JSON arrays and objects may nest (cases need 5 levels)
MAX_JSON_NESTING = 64


def load_json(path: str | os.PathLike[str], *, exact_numbers: bool = False) -> Any:
    """Parse a JSON file; a missing file or bad JSON raises :class:`CaseFormatError`.

    ``exact_numbers=True`` reads JSON numbers with a fraction or exponent as
    :class:`decimal.Decimal` (exact), not as the nearest double: case files promise that the
    exact path sees exactly the numbers written. Guards: at most :data:`MAX_JSON_BYTES` bytes
    (``/dev/zero`` is refused, not read forever), nesting at most :data:`MAX_JSON_NESTING`
    deep, integer literals of at most :data:`~mforacle.numbers.MAX_DIGITS` digits, exponents
    that :class:`~decimal.Decimal` can hold; each is a :class:`CaseFormatError` naming the
    file.
    """
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except OSError:
        mode = 0  # open() below names the problem
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        # open() on a FIFO waits for a writer forever
        raise CaseFormatError("(file)", str(p), "is a FIFO or socket, not a regular file")
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        raise CaseFormatError("(file)", str(p), "no such file") from None
    except IsADirectoryError:
        raise CaseFormatError("(file)", str(p), "is a directory, not a JSON file") from None
    except OSError as exc:
        raise CaseFormatError("(file)", str(p), f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_JSON_BYTES:
        raise CaseFormatError(
            "(file)", str(p), f"larger than {MAX_JSON_BYTES >> 20} MiB; not a case or result file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CaseFormatError(
            "(file)", str(p), f"not UTF-8 text (byte {exc.start})"
        ) from None
    depth = _max_nesting(raw)
    if depth > MAX_JSON_NESTING:
        raise CaseFormatError(
            "(json)", f"{depth} levels", f"nested deeper than {MAX_JSON_NESTING}", source=str(p)
        )
    try:
        obj = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_exact_decimal if exact_numbers else None,
            parse_int=_json_int,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise CaseFormatError(
            "(json)",
            f"line {exc.lineno} column {exc.colno}",
            f"invalid JSON: {exc.msg}",
            source=str(p),
        ) from None
    except CaseFormatError as exc:
        raise type(exc)(exc.field, exc.value, exc.reason, source=str(p)) from None
    except RecursionError:
        raise CaseFormatError(
            "(json)", "nesting", f"nested deeper than {MAX_JSON_NESTING} levels", source=str(p)
        ) from None
    except ValueError as exc:
        raise CaseFormatError("(json)", "number", f"invalid JSON: {exc}", source=str(p)) from None
    return obj


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key given twice (readers disagree on which wins)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CaseFormatError("(json)", key, "key given twice in one object")
        out[key] = value
    return out


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _max_nesting(raw: bytes) -> int:
    """How deeply ``[`` and ``{`` nest in JSON text (brackets inside strings ignored), in C
    speed: Python's parser would recurse once per level."""
    bare = np.frombuffer(_JSON_STRING.sub(b"0", raw), dtype=np.uint8)
    steps = np.isin(bare, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(bare, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0)) if steps.size else 0


def _json_int(text: str) -> Any:
    """JSON integer literals: Python ints, beyond Python's 4300-digit limit a Decimal (read
    exactly), beyond MAX_DIGITS digits an error."""
    from .numbers import MAX_DIGITS, RANGE_TEXT

    digits = len(text.lstrip("-"))
    if digits > MAX_DIGITS:
        raise CaseFormatError("(json)", f"an integer of {digits} digits", RANGE_TEXT)
    return int(text) if digits <= 4000 else Decimal(text)


def _exact_decimal(text: str) -> Decimal:
    """JSON numbers with a fraction or exponent, read exactly; an exponent beyond what
    :class:`~decimal.Decimal` holds (``1e9999999999999999999``) is an error."""
    from decimal import InvalidOperation

    from .numbers import RANGE_TEXT

    try:
        return Decimal(text)
    except InvalidOperation:
        shown = text if len(text) <= 40 else text[:20] + "..."
        raise CaseFormatError("(json)", shown, f"exponent out of range; {RANGE_TEXT}") from None


def _reject_constant(name: str) -> Any:
    raise CaseFormatError("(json)", name, "NaN and Infinity are not valid numbers")


def read_case(
    path: str | os.PathLike[str], before: Callable[[Any], None] | None = None
) -> Case:
    """Read and validate a case file. Errors name the file and the field. ``before(obj)``, if
    given, sees the parsed JSON before its numbers are validated (a cost check)."""
    obj = load_json(path, exact_numbers=True)
    if before is not None:
        before(obj)
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


def output_target(path: str | os.PathLike[str]) -> tuple[Path, bool]:
    """Where writing ``path`` lands, and whether to write *through* it.

    - a symlink is followed, knowingly: the file it points to is replaced (atomically) and the
      link stays a link (a dangling link's target is created);
    - an existing special file (``/dev/null``, ``/dev/stdout``, a FIFO) is written through,
      never replaced by a regular file;
    - otherwise the file is replaced atomically (temp file in the same folder, then rename).

    Raises :class:`InvalidArgument` for a directory or a symlink loop."""
    p = Path(path)
    if p.is_symlink():
        try:
            p = p.resolve(strict=False)
        except (OSError, RuntimeError) as exc:
            why = f"cannot follow the symlink: {exc}"
            raise InvalidArgument("output", str(path), why) from None
    if p.is_dir():
        raise InvalidArgument("output", str(path), "is a directory; give a file name")
    if p.exists() and not p.is_file():  # a device, FIFO or socket
        return p, True
    return p, False


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` with ``path`` as its filename (``write`` on a full disk names none)."""
    if exc.filename is not None or isinstance(exc, BrokenPipeError):
        return exc
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


def _publish(tmp: str, dest: Path) -> None:
    """Give the temp file the permissions a plain ``open`` would (mkstemp makes it 0600),
    then rename it over ``dest``."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, dest)


def _write_temp(dest: Path, text: str) -> str:
    """``text`` in a new temp file beside ``dest`` (flushed to disk); returns its name."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _named(exc, dest) from None
        raise
    return tmp


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write text to ``path``: atomically for a regular file, through a special file, to the
    target of a symlink (see :func:`output_target`). I/O errors name the path."""
    write_files_atomic({path: text})


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON to ``path`` (see :func:`write_text_atomic`)."""
    write_text_atomic(path, json.dumps(obj, indent=1) + "\n")


def write_files_atomic(files: dict[Any, str]) -> None:
    """Write several files as a set: every regular file is first written in full to a temp
    file beside it, and only when all are written are they renamed into place, so a failure
    (a full disk, an exception) leaves the old set complete rather than a new JSON beside an
    old HTML. Special files are written through (after the temp files succeeded); symlinks
    are followed. I/O errors name the path."""
    plan = [(Path(p), *output_target(p), text) for p, text in files.items()]
    temps: list[tuple[str, Path]] = []
    try:
        for _given, dest, through, text in plan:
            if not through:
                temps.append((_write_temp(dest, text), dest))
        for _given, dest, through, text in plan:
            if through:
                try:
                    with open(dest, "w", encoding="utf-8") as fh:
                        fh.write(text)
                except OSError as exc:
                    raise _named(exc, dest) from None
        for tmp, dest in temps:
            try:
                _publish(tmp, dest)
            except OSError as exc:
                raise _named(exc, dest) from None
    finally:
        for tmp, _dest in temps:
            Path(tmp).unlink(missing_ok=True)


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
        try:
            sys.stdout.write(json.dumps(result, indent=1) + "\n")
            sys.stdout.flush()
        except OSError as exc:  # a full disk under a redirection: say where
            raise _named(exc, Path("<standard output>")) from None
