"""The versioned conformance suite and its export as test vectors.

Every number in the suite is dyadic with at most 12 significant bits, so every case is exactly
representable in float64, float32 and float16 (in range) — an implementation in any of these
sees the case itself, and one exact reference serves all of them. Groups:

- ``small/<activation>``: d = 2, L = 2, M = 3, N = 3, every activation (regrelu with eta 1/2).
- ``kappa/<activation>``: the same with a curved readout, kappa = ±1/2 (state-dependent
  terminal condition of the adjoint).
- ``edge/*``: tiny weights (2^-10 scale), large weights (up to 8), one point and one neuron,
  a zero data weight, a deep narrow net (L = 12, M = 2: layer order matters), d = 1.
- ``medium/*``: d = 3, L = 6, M = 16, N = 4 (full gradient comparison).
- ``large/*``: d = 2, L = 16, M = 40, N = 4 (grad_theta has 3200 entries: directional checks).

``export(DIR)`` writes ``DIR/<group>/<name>.json`` (``mforacle-case/1``),
``DIR/reference/<group>/<name>.json`` (``mforacle-result/1`` from the exact path, certified by
the Arb ball path: its ``error_bound`` is rigorous, ``"error_bound_kind": "rigorous"``, and is
what a third party's tolerance adds to the float error model; the tolerance bounds for float64
and float32 under ``"tolerance"``) and
``DIR/manifest.json`` (``mforacle-vectors/1``, with :data:`SUITE_VERSION`).

Measure cases (the limit, :mod:`mforacle.harness.limit`): ``DIR/limit/<name>.json`` and
``DIR/reference/limit/<name>.json`` (``energy``, ``Z1``, ``first_variation``, ``velocity`` with
``error_bound``), listed under the manifest's ``"limit_cases"`` (``"cases"`` stays theta only,
so readers of earlier exports are unaffected).
"""

from __future__ import annotations

import json
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mpmath
import numpy as np

from mforacle.verdict import Verdict

from ..caseio import Case, case_from_json, load_json, write_json_atomic
from ..errors import CaseFormatError, InvalidArgument, MforacleError, UnsupportedFormatVersion
from ..model import Data, Model, check_theta
from ..numbers import shape_of
from .checks import COMPARE_DPS, QUANTITIES, Reference, SuiteCase, tolerance_bounds
from .limit import LIMIT_QUANTITIES, LimitCase, LimitReference, build_limit_suite

__all__ = [
    "MANIFEST_FORMAT",
    "SUITE_VERSION",
    "build_suite",
    "case_file_suites",
    "export",
    "load_limit_vectors",
    "load_vectors",
    "read_vectors",
    "resolve_inside",
    "safe_id",
]

MANIFEST_FORMAT = "mforacle-vectors/1"
#: bump when a case changes; graders compare it with the manifest they are given
#: 1.1: measure cases (limit_cases) added; theta cases unchanged.
#: 1.2: theta references certified by the ball path (rigorous error_bound, "error_bound_kind");
#: cases unchanged.
SUITE_VERSION = "1.3.0"
#: seed of the suite's generator (fixed: the suite is a versioned artefact, not a sample)
SUITE_SEED = 20240601
EXPORT_DTYPES = ("float64", "float32")
ACTS = ("tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5")


def _dyadic(rng: np.random.Generator, shape: Any, scale: float, bits: int = 6) -> np.ndarray:
    """Entries ``i / 2^bits · scale`` with ``|i| ≤ 2^bits`` (scale a power of two)."""
    top = 2**bits
    return rng.integers(-top, top + 1, size=shape).astype(np.float64) / top * scale


def _case(
    rng: np.random.Generator,
    *,
    d: int,
    L: int,
    M: int,
    N: int,
    act: str,
    kappa: float = 0.0,
    scale: float = 1.0,
    weights: Any = None,
    note: str = "",
) -> Case:
    a = ([1.0, -0.5, 0.25] + [0.125] * max(0, d - 3))[:d]
    model = Model.create(d, act, a, kappa)
    theta = _dyadic(rng, (L, M, model.k), scale)
    x = _dyadic(rng, (N, d), 1.0)
    y = _dyadic(rng, (N,), 0.5)
    if weights is None and N & (N - 1):  # 1/N is not dyadic: use dyadic weights summing to 1
        total = 1 << N.bit_length()
        weights = [1 / total] * (N - 1) + [(total - (N - 1)) / total]
    data = Data.create(model, x, y, weights)
    meta = {"description": note} if note else {}
    return Case(model, data, theta=check_theta(model, theta), meta=meta)


def build_suite(profile: str = "dev") -> list[SuiteCase]:
    """The suite's cases (no references yet). ``thorough`` adds 12 random mid-size cases."""
    rng = np.random.default_rng(SUITE_SEED)
    out: list[SuiteCase] = []

    def add(cid: str, tags: tuple[str, ...], case: Case) -> None:
        out.append(SuiteCase(cid, case, tags))

    for act in ACTS:
        name = act.split(":")[0]
        add(
            f"small/{name}",
            ("small", name),
            _case(rng, d=2, L=2, M=3, N=3, act=act, note=f"small net, {act}"),
        )
    for act, kappa in (("tanh", 0.5), ("sin", -0.5), ("softplus", 0.5)):
        add(
            f"kappa/{act}",
            ("kappa", act),
            _case(rng, d=2, L=3, M=2, N=3, act=act, kappa=kappa, note=f"readout kappa = {kappa}"),
        )
    add(
        "edge/tiny-weights",
        ("edge",),
        _case(rng, d=2, L=3, M=4, N=3, act="tanh", scale=2.0**-10, note="parameters ~ 2^-10"),
    )
    add(
        "edge/large-weights",
        ("edge",),
        _case(
            rng,
            d=2,
            L=3,
            M=4,
            N=3,
            act="softplus",
            kappa=0.5,
            scale=8.0,
            note="parameters up to 8, curved readout",
        ),
    )
    add(
        "edge/large-weights-tanh",
        ("edge",),
        _case(rng, d=2, L=2, M=3, N=3, act="tanh", scale=8.0, note="saturated tanh"),
    )
    add(
        "edge/one-point-one-neuron",
        ("edge",),
        _case(rng, d=1, L=1, M=1, N=1, act="sigmoid", note="L = M = N = d = 1"),
    )
    add(
        "edge/zero-weight",
        ("edge",),
        _case(
            rng,
            d=2,
            L=2,
            M=2,
            N=4,
            act="erf",
            weights=[0.5, 0.25, 0.25, 0.0],
            note="non-uniform data weights, one of them zero",
        ),
    )
    add(
        "edge/deep-narrow",
        ("edge",),
        _case(rng, d=2, L=12, M=2, N=3, act="sin", scale=2.0, note="deep: layer order matters"),
    )
    add(
        "edge/regrelu-kinks",
        ("edge",),
        _case(rng, d=1, L=3, M=4, N=4, act="regrelu:0.125", note="regrelu with small eta"),
    )
    add("medium/tanh", ("medium",), _case(rng, d=3, L=6, M=16, N=4, act="tanh", kappa=0.5))
    add("large/erf", ("large",), _case(rng, d=2, L=16, M=40, N=4, act="erf"))
    if profile == "thorough":
        for i in range(12):
            act = ACTS[i % len(ACTS)]
            add(
                f"random/{i:02d}",
                ("random",),
                _case(
                    rng,
                    d=int(rng.integers(1, 4)),
                    L=int(rng.integers(1, 8)),
                    M=int(rng.integers(1, 12)),
                    N=int(rng.integers(1, 6)),
                    act=act,
                    kappa=float(rng.choice([0.0, 0.5, -0.25])),
                    scale=2.0,
                ),
            )
    # shapes past the small ones above, so code that is wrong only for d >= 4 or for more data
    # points than a chunk or SIMD width (unrolled loops, batching) cannot pass; drawn last so
    # the cases above keep their numbers
    add("wide/tanh", ("wide",), _case(rng, d=5, L=3, M=8, N=33, act="tanh", kappa=0.25,
                                       note="d = 5, N = 33"))
    add("wide/softplus", ("wide",), _case(rng, d=4, L=4, M=9, N=17, act="softplus",
                                           note="d = 4, N = 17"))
    return out


def export(directory: str | Path, profile: str = "dev") -> dict[str, Any]:
    """Write the suite, exact references and bounds under ``directory``; return the manifest."""
    root = Path(directory)
    entries = []
    for sc in build_suite(profile):
        ref = sc.ensure_reference()
        th, x, y, w = sc.float_inputs()
        tol = {dt: tolerance_bounds(sc.case.model, th, x, y, w, dt) for dt in EXPORT_DTYPES}
        case_path = f"{sc.id}.json"
        ref_path = f"reference/{sc.id}.json"
        write_json_atomic(root / case_path, sc.case.to_json())
        ref_json = ref.to_json()
        ref_json["tolerance"] = {dt: {q: repr(v) for q, v in t.items()} for dt, t in tol.items()}
        write_json_atomic(root / ref_path, ref_json)
        L, M, k = sc.case.theta.shape
        entries.append(
            {
                "id": sc.id,
                "case": case_path,
                "reference": ref_path,
                "tags": list(sc.tags),
                "shape": {"L": L, "M": M, "k": k, "N": sc.case.data.n, "d": sc.case.model.d},
                "activation": str(sc.case.model.activation),
                "kappa": float(sc.case.model.kappa),
            }
        )
    limit_entries = []
    for lc in build_limit_suite():
        case_path, ref_path = f"{lc.id}.json", f"reference/{lc.id}.json"
        write_json_atomic(root / case_path, lc.case.to_json())
        write_json_atomic(root / ref_path, lc.ensure_reference().to_json())
        m = lc.case.model
        limit_entries.append(
            {
                "id": lc.id,
                "case": case_path,
                "reference": ref_path,
                "tags": list(lc.tags),
                "shape": {"N": lc.case.data.n, "d": m.d, "k": m.k, "P": len(lc.case.probes)},
                "activation": str(m.activation),
                "kappa": float(m.kappa),
            }
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "suite_version": SUITE_VERSION,
        "profile": profile,
        "quantities": list(QUANTITIES),
        "cases": entries,
        "limit_quantities": list(LIMIT_QUANTITIES),
        "limit_cases": limit_entries,
        "results_layout": 'RESULTS/<id>.json (mforacle-result/1, with "dtype"; for limit '
        'cases also "error_bound", your absolute error per field)',
    }
    write_json_atomic(root / "manifest.json", manifest)
    return manifest


# --- reading an exported suite: nothing in it is trusted ----------------------------------

#: what a case id may look like: path components of letters, digits, ``_ . -``
_ID = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
#: the longest decimal string a stored reference may hold (they are printed at 25 digits)
_MAX_REFERENCE_TEXT = 200


def safe_id(value: Any, field: str = "id") -> str:
    """A manifest id usable as a relative path (``small/tanh``).

    Raises:
        CaseFormatError: anything else (``../x``, ``/etc/passwd``, ``a//b``, ``.``).
    """
    if not isinstance(value, str) or not 0 < len(value) <= 200 or not _ID.fullmatch(value):
        raise CaseFormatError(field, value, "expected an id like 'small/tanh'")
    if any(part in (".", "..") for part in value.split("/")):
        raise CaseFormatError(field, value, "'.' and '..' are not allowed in an id")
    return value


def resolve_inside(root: Path, relative: Any, field: str, *, must_exist: bool = True) -> Path:
    """``root / relative`` when it resolves (symlinks followed) inside ``root``; with
    ``must_exist``, also a regular file (never a device, FIFO or directory). Raises
    :class:`CaseFormatError` naming the field otherwise."""
    if not isinstance(relative, str) or not relative:
        raise CaseFormatError(field, relative, "expected a path relative to its directory")
    if Path(relative).is_absolute():
        raise CaseFormatError(field, relative, "an absolute path; expected a relative one")
    base = root.resolve()
    try:
        path = (base / relative).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise CaseFormatError(field, relative, f"cannot resolve: {exc}") from None
    if not path.is_relative_to(base):
        raise CaseFormatError(field, relative, f"resolves outside {root}")
    if must_exist:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise CaseFormatError(field, relative, "no such file") from None
        except OSError as exc:
            raise CaseFormatError(field, relative, f"cannot read: {exc.strerror}") from None
        if not stat.S_ISREG(mode):
            raise CaseFormatError(field, relative, "not a regular file")
    return path


@dataclass
class VectorSet:
    """An exported suite as read: the cases that are usable, and an ``error`` verdict for
    each entry that is not (malformed, duplicate, outside the directory, unreadable)."""

    manifest: dict[str, Any]
    suite: list[SuiteCase]
    limit_suite: list[LimitCase]
    problems: list[Verdict]


def _problem(entry_id: str, reason: str, key: str = "manifest") -> Verdict:
    return Verdict.errored(
        "H0.vectors",
        "the exported suite's entry is valid",
        reason,
        {"case_id": entry_id, "check_id": f"{entry_id}::vectors", "manifest_key": key},
    )


def read_vectors(directory: str | Path) -> VectorSet:
    """Read an exported suite, trusting nothing in it: every path must resolve inside
    ``directory`` to a regular file, every field must be well-formed, ids unique. A problem
    with one entry is an ``error`` verdict for it (the others are still graded); a missing or
    malformed manifest is a single ``error`` verdict. Raises :class:`InvalidArgument` only
    when ``directory`` is not a directory."""
    root = Path(directory)
    if not root.is_dir():
        raise InvalidArgument("--vectors", str(root), "not a directory")
    try:
        manifest = load_json(resolve_inside(root, "manifest.json", "manifest.json"))
        _check_manifest_format(manifest, root)
    except CaseFormatError as exc:
        return VectorSet({}, [], [], [_problem("manifest", str(exc))])
    suite: list[SuiteCase] = []
    limit_suite: list[LimitCase] = []
    problems: list[Verdict] = []
    seen: set[str] = set()
    for key in ("cases", "limit_cases"):
        entries = manifest.get(key, [])
        if not isinstance(entries, list):
            shown = repr(entries)[:60]
            problems.append(
                _problem(f"manifest.{key}", f"manifest.{key}: expected a list (got {shown})", key)
            )
            continue
        for i, entry in enumerate(entries):
            raw_id = entry.get("id") if isinstance(entry, dict) else None
            where = raw_id[:200] if isinstance(raw_id, str) and raw_id else f"{key}[{i}]"
            try:
                if not isinstance(entry, dict):
                    raise CaseFormatError(f"{key}[{i}]", entry, "expected {id, case, reference}")
                cid = safe_id(raw_id, f"{key}[{i}].id")
                if cid in seen:
                    raise CaseFormatError(f"{key}[{i}].id", cid, "duplicate id (graded once)")
                seen.add(cid)
                if key == "cases":
                    suite.append(_read_theta_entry(root, entry, cid))
                else:
                    limit_suite.append(_read_limit_entry(root, entry, cid))
            except MforacleError as exc:
                problems.append(_problem(where, str(exc), key))
    return VectorSet(manifest, suite, limit_suite, problems)


def _check_manifest_format(manifest: Any, root: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        fmt = manifest.get("format") if isinstance(manifest, dict) else None
        if isinstance(fmt, str) and fmt.startswith("mforacle-vectors/"):
            raise UnsupportedFormatVersion("format", fmt, f"this reader knows {MANIFEST_FORMAT!r}")
        raise CaseFormatError(
            "format", fmt, f"expected {MANIFEST_FORMAT!r}", source=str(root / "manifest.json")
        )


def _entry_case(root: Path, entry: dict[str, Any], cid: str) -> tuple[Case, dict[str, Any]]:
    cpath = resolve_inside(root, entry.get("case"), f"{cid}.case")
    rpath = resolve_inside(root, entry.get("reference"), f"{cid}.reference")
    try:
        case = case_from_json(load_json(cpath, exact_numbers=True))
    except CaseFormatError as exc:
        raise type(exc)(exc.field, exc.value, exc.reason, source=str(cpath)) from None
    ref_obj = load_json(rpath)
    if not isinstance(ref_obj, dict):
        raise CaseFormatError(f"{cid}.reference", type(ref_obj).__name__, "expected an object")
    return case, ref_obj


def _ref_array(obj: dict[str, Any], name: str, shape: tuple[int, ...], cid: str) -> Any:
    """A stored reference field as an mpf (object) array of ``shape``, every entry checked."""
    field = f"{cid}.reference.{name}"
    if name not in obj:
        raise CaseFormatError(field, None, "missing")
    value = obj[name]
    got = shape_of(value, field)
    if got != shape:
        raise CaseFormatError(field, f"shape {got}", f"expected shape {shape}")
    flat = np.asarray(value, dtype=object).reshape(-1) if shape else [value]
    out = np.empty(len(flat), dtype=object)
    with mpmath.workdps(COMPARE_DPS):
        for i, v in enumerate(flat):
            ok = isinstance(v, str) and 0 < len(v) <= _MAX_REFERENCE_TEXT
            ok = ok or (isinstance(v, int | float) and not isinstance(v, bool))
            try:
                out[i] = mpmath.mpf(v) if ok else None
            except (ValueError, TypeError):
                out[i] = None
            if out[i] is None or not mpmath.isfinite(out[i]):
                raise CaseFormatError(field, v, "not a finite decimal number")
    return out.reshape(shape) if shape else out[0]


def _bounds(obj: Any, names: tuple[str, ...], field: str) -> dict[str, float]:
    """Non-negative finite floats for ``names`` from ``obj`` (an object)."""
    if not isinstance(obj, dict):
        raise CaseFormatError(field, obj, "expected an object")
    out = {}
    for q in names:
        try:
            b = float(obj[q])
        except KeyError:
            raise CaseFormatError(f"{field}.{q}", None, "missing") from None
        except (TypeError, ValueError):
            raise CaseFormatError(f"{field}.{q}", obj[q], "not a number") from None
        if not (np.isfinite(b) and b >= 0):
            raise CaseFormatError(f"{field}.{q}", obj[q], "must be finite and >= 0")
        out[q] = b
    return out


def _read_theta_entry(root: Path, entry: dict[str, Any], cid: str) -> SuiteCase:
    case, ref_obj = _entry_case(root, entry, cid)
    if case.theta is None:
        raise CaseFormatError(
            f"{cid}.case", entry.get("case"), "a 'cases' entry needs a theta case"
        )
    n, d = case.data.n, case.model.d
    shapes = {"loss": (), "z_L": (n, d), "grad_theta": case.theta.shape, "grad_x": (n, d)}
    arrays = {q: _ref_array(ref_obj, q, shapes[q], cid) for q in QUANTITIES}
    bound = _bounds(ref_obj.get("error_bound"), QUANTITIES, f"{cid}.reference.error_bound")
    ref = Reference(arrays["loss"], arrays["z_L"], arrays["grad_theta"], arrays["grad_x"], bound)
    tol_obj = ref_obj.get("tolerance", {})
    if not isinstance(tol_obj, dict):
        raise CaseFormatError(f"{cid}.reference.tolerance", tol_obj, "expected an object")
    tol = {
        str(dt): _bounds(t, QUANTITIES, f"{cid}.reference.tolerance.{dt}")
        for dt, t in tol_obj.items()
    }
    tags = entry.get("tags", ())
    tags = tuple(str(t) for t in tags) if isinstance(tags, list) else ()
    return SuiteCase(cid, case, tags, ref, tol)


def _read_limit_entry(root: Path, entry: dict[str, Any], cid: str) -> LimitCase:
    case, ref_obj = _entry_case(root, entry, cid)
    if case.measure is None:
        raise CaseFormatError(
            f"{cid}.case", entry.get("case"), "a 'limit_cases' entry needs a measure case"
        )
    n, d, k, p = case.data.n, case.model.d, case.model.k, len(case.probes)
    shapes = {"energy": (), "Z1": (n, d), "first_variation": (p,), "velocity": (p, k)}
    arrays = {q: _ref_array(ref_obj, q, shapes[q], cid) for q in LIMIT_QUANTITIES}
    bound = _bounds(ref_obj.get("error_bound"), LIMIT_QUANTITIES, f"{cid}.reference.error_bound")
    method = ref_obj.get("method", "stored reference")
    ref = LimitReference(
        arrays["energy"],
        arrays["Z1"],
        arrays["first_variation"],
        arrays["velocity"],
        bound,
        str(method)[:200],
    )
    tags = entry.get("tags", ("limit",))
    tags = tuple(str(t) for t in tags) if isinstance(tags, list) else ("limit",)
    return LimitCase(cid, case, tags, ref)


def load_vectors(directory: str | Path) -> tuple[dict[str, Any], list[SuiteCase]]:
    """Read an exported suite: the manifest and its cases with references and tolerances.
    Raises :class:`CaseFormatError` for the first problem (see :func:`read_vectors`, which
    reports each problem as a verdict instead)."""
    vs = read_vectors(directory)
    theta_problems = [v for v in vs.problems if v.evidence["manifest_key"] != "limit_cases"]
    if theta_problems:
        raise CaseFormatError("vectors", str(directory), theta_problems[0].reason)
    return vs.manifest, vs.suite


def load_limit_vectors(directory: str | Path) -> list[LimitCase]:
    """The measure cases of an exported suite (manifest ``"limit_cases"``; none in exports
    older than suite 1.1) with their stored references."""
    return read_vectors(directory).limit_suite


def case_file_suites(
    path: str | Path, before: Any = None
) -> tuple[list[SuiteCase], list[LimitCase]]:
    """``--case FILE``: a theta case gives a one-case suite, a measure case a one-case limit
    suite. ``before(obj)`` sees the parsed JSON before validation (see ``read_case``)."""
    from ..caseio import read_case

    case = read_case(path, before)
    if case.measure is not None:
        return [], [LimitCase(Path(path).stem, case, ("file",))]
    return [SuiteCase(Path(path).stem, case, ("file",))], []


def case_file_suite(path: str | Path) -> list[SuiteCase]:
    """A one-case suite from a case file (for ``mforacle check ... --case FILE``)."""
    from ..caseio import read_case

    case = read_case(path)
    if case.theta is None:
        raise CaseFormatError(
            "theta", None, "conformance checks need a theta case", source=str(path)
        )
    return [SuiteCase(Path(path).stem, case, ("file",))]


def dumps_manifest(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=1)
