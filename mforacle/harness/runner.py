"""Run the conformance suite without ever crashing, and decide pass/fail.

Whatever the implementation does — raise, return NaN, the wrong shape or dtype, hang — each
check ends in a verdict (``error``/``fail`` with the reason); a bug inside a check becomes an
``error`` verdict too ("harness error", with the traceback), never an exception out of
:func:`run_planned`. The run's outcome (:func:`summarize`, :func:`exit_code`): **FAIL** (exit 1)
when any verdict is ``fail`` or ``error``; else **PASS** (exit 0) when at least one check passed;
else **NOTHING CHECKED** (exit 3): every check was *not checked* (or there were none), which is
neither a pass nor a failure — the headline gives the commonest reason.

File mode (:func:`file_implementations`): results written by any program, one
``mforacle-result/1`` file per exported case (``RESULTS/<id>.json``, naming its ``"dtype"``),
graded against the references stored with the vectors.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from mforacle.verdict import Verdict

from ..caseio import read_result
from ..errors import MforacleError
from ..protocol import Implementation, check_dtype
from .calls import DEFAULT_TIMEOUT, Caller
from .checks import QUANTITIES, PlannedCheck, SuiteCase, plan_checks
from .hints import pattern_hints
from .limit import LIMIT_QUANTITIES, LimitCase, plan_limit_checks
from .vectors import resolve_inside, safe_id

__all__ = [
    "EXIT_FAIL",
    "EXIT_NOTHING_CHECKED",
    "EXIT_PASS",
    "check_files",
    "check_implementation",
    "check_limit_files",
    "exit_code",
    "grade_case_file",
    "grade_limit_file",
    "plan_claims",
    "plan_implementation",
    "run_one",
    "run_planned",
    "summarize",
    "summary_line",
]

EXIT_PASS, EXIT_FAIL, EXIT_NOTHING_CHECKED = 0, 1, 3
#: a run's outcome -> its headline word and exit status
HEADLINES = {"pass": "PASS", "fail": "FAIL", "nothing checked": "NOTHING CHECKED"}
EXIT_CODES = {"pass": EXIT_PASS, "fail": EXIT_FAIL, "nothing checked": EXIT_NOTHING_CHECKED}


def run_one(p: PlannedCheck) -> list[Verdict]:
    """Run one planned check; exceptions become ``error`` verdicts tagged with the check id."""
    try:
        got = p.run()
    except Exception as exc:  # a bug in a check or the reference: reported, not raised
        got = Verdict.errored(
            p.claim,
            p.title,
            f"harness error in {p.id}: {type(exc).__name__}: {exc}",
            {"traceback": traceback.format_exc(limit=12), "check_id": p.id},
        )
    items = got if isinstance(got, list) else [got]
    out = []
    for i, v in enumerate(items):
        if not isinstance(v, Verdict):
            v = Verdict.errored(
                p.claim, p.title, f"harness error in {p.id}: got {type(v).__name__}"
            )
        v.evidence.setdefault("check_id", p.id if len(items) == 1 else f"{p.id}#{i}")
        out.append(v)
    return out


def run_planned(
    planned: Iterable[PlannedCheck],
    progress: Callable[[PlannedCheck, Verdict], None] | None = None,
) -> list[Verdict]:
    """Run each planned check (see :func:`run_one`); never raises for a check's failure."""
    verdicts = []
    for p in planned:
        for v in run_one(p):
            verdicts.append(v)
            if progress is not None:
                progress(p, v)
    return verdicts


def plan_implementation(
    impl: Implementation,
    suite: list[SuiteCase],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    claims: bool = True,
    profile: str = "dev",
    include_builtin: bool = False,
    limit_suite: list[LimitCase] | None = None,
) -> list[PlannedCheck]:
    """The planned checks :func:`check_implementation` runs (``mforacle.scale`` spreads them
    over a cluster)."""
    caller = Caller(timeout)
    planned = plan_checks(impl, suite, caller)
    if limit_suite:
        planned += plan_limit_checks(impl, limit_suite, caller)
    if claims:
        planned += plan_claims(impl, caller, profile, include_builtin=include_builtin)
    return planned


def check_implementation(
    impl: Implementation,
    suite: list[SuiteCase],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    claims: bool = True,
    profile: str = "dev",
    include_builtin: bool = False,
    progress: Callable[[PlannedCheck, Verdict], None] | None = None,
    limit_suite: list[LimitCase] | None = None,
) -> list[Verdict]:
    """All conformance checks (and, with ``claims``, the claims it can feed) for ``impl``;
    ``limit_suite`` (measure cases) adds the limit checks of :mod:`.limit`."""
    planned = plan_implementation(
        impl,
        suite,
        timeout=timeout,
        claims=claims,
        profile=profile,
        include_builtin=include_builtin,
        limit_suite=limit_suite,
    )
    return run_planned(planned, progress)


def plan_claims(
    impl: Implementation, caller: Caller, profile: str = "dev", *, include_builtin: bool = False
) -> list[PlannedCheck]:
    """The claims of ``mforacle/claims`` this implementation can be held to."""
    from .claims import plan_claim_checks

    return plan_claim_checks(impl, caller, profile, include_builtin=include_builtin)


# --- file mode -----------------------------------------------------------------------------

#: Top-level fields of a ``mforacle-result/1`` file that mforacle knows: the contract's
#: (docs/case-format.md, "Result") and the extra ones its own writers add. Other fields
#: are allowed; they are only *named* when a contract field is missing (a likely misspelling).
KNOWN_RESULT_FIELDS = frozenset(
    {
        "format", "dtype", "implementation", "path", "precision", "error_bound",
        "loss", "z_L", "grad_theta", "grad_x",
        "energy", "Z1", "first_variation", "velocity",
        "digits", "tolerance", "method", "dps", "working_dps", "confirm_dps", "unit_roundoff",
        "error_bound_kind", "error_estimate", "certificate", "radii", "notes",
    }
)  # fmt: skip


def _name_unknown_fields(
    verdicts: list[Verdict], result: dict[str, Any], case_id: str, quantities: tuple[str, ...]
) -> tuple[list[Verdict], list[str]]:
    """When a contract field is absent and the file has fields mforacle does not know, say so
    in that quantity's *not checked* reason (e.g. ``gradTheta`` for ``grad_theta``); returns
    the verdicts and the unknown field names ([] when nothing is missing or nothing unknown)."""
    unknown = sorted(k for k in result if k not in KNOWN_RESULT_FIELDS)
    missing = [q for q in quantities if q not in result]
    if not unknown or not missing:
        return verdicts, []
    out = []
    for v in verdicts:
        q = str(v.evidence.get("check_id", "")).removeprefix(f"{case_id}::")
        if v.status == "not checked" and q in missing:
            note = f"{q} absent; the file has unknown fields {', '.join(unknown)}"
            v = dataclasses.replace(v, reason=note)
        out.append(v)
    return out, unknown


def _file_implementation(result: dict[str, Any], path: Path) -> Implementation:
    """An :class:`Implementation` that answers from one result file."""
    dtype = check_dtype(result.get("dtype", "float64"), f"{path}: dtype")

    def field(name: str) -> Callable[..., Any] | None:
        if name not in result:
            return None
        return lambda *args: result[name]

    grads = ("grad_theta" in result) or ("grad_x" in result)

    def gradient(*args: Any) -> Any:
        # a component the file omits is None: its check is "not checked" (docs/case-format.md)
        return result.get("grad_theta"), result.get("grad_x")

    impl = Implementation(
        name=str(result.get("implementation", path.parent.name)),
        framework="file",
        dtype=dtype,
        forward=field("z_L"),
        loss=field("loss"),
        gradient=gradient if grads else None,
        source=str(path),
        output_dtype="float64",  # decimals read with correct rounding
        output_rounding=0.0 if dtype == "float64" else 1.0,
    )
    return impl


def _file_limit(result: dict[str, Any], path: Path) -> Implementation:
    """An :class:`Implementation` whose ``limit`` answers from one result file."""
    dtype = check_dtype(result.get("dtype", "float64"), f"{path}: dtype")
    keep = {k: result[k] for k in (*LIMIT_QUANTITIES, "error_bound") if k in result}
    return Implementation(
        name=str(result.get("implementation", path.parent.name)),
        framework="file",
        dtype=dtype,
        forward=None,
        limit=lambda *args: keep,
        source=str(path),
        output_dtype="float64",
        output_rounding=0.0 if dtype == "float64" else 1.0,
    )


#: ``compute(jobs) -> results``: runs ``fn(*args)`` for each job ``(key, fn, args)`` and returns
#: the results in order (serially by default; :func:`mforacle.scale.job_runner` on a cluster)
Compute = Callable[[list[tuple[str, Callable[..., Any], tuple[Any, ...]]]], list[Any]]


def _serial(jobs: list[tuple[str, Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
    return [fn(*args) for _, fn, args in jobs]


def _result_path(root: Path, case_id: str) -> Path:
    """``RESULTS/<id>.json`` for a safe id (see :func:`~.vectors.safe_id`), not yet required
    to exist; raises :class:`~mforacle.errors.CaseFormatError` for an id that would leave
    ``RESULTS``."""
    return root / f"{safe_id(case_id, 'case id')}.json"


def grade_limit_file(lc: LimitCase, root: Path) -> tuple[list[Verdict], str | None, list[str]]:
    """Grade ``<root>/<id>.json`` of one measure case: ``(verdicts, its dtype or None, unknown
    field names)`` (:func:`check_limit_files`; one independent unit of a file-mode run)."""
    root = Path(root)
    ev = {"case_id": lc.id, "check_id": f"{lc.id}::file"}
    try:
        path = _result_path(root, lc.id)
    except MforacleError as exc:
        return (
            [Verdict.errored("H0.result-file", "the result file is valid", str(exc), ev)],
            None,
            [],
        )
    if not path.exists() and not path.is_symlink():
        v = Verdict.not_checked("H6.limit", "limit results", f"no result file {path}")
        v.evidence.update(ev)
        return [v], None, []
    try:
        resolve_inside(root, f"{lc.id}.json", "result file")
        result = read_result(path, lc.case)
        impl = _file_limit(result, path)
    except MforacleError as exc:
        return (
            [Verdict.errored("H0.result-file", "the result file is valid", str(exc), ev)],
            None,
            [],
        )
    got = run_planned(plan_limit_checks(impl, [lc], Caller(DEFAULT_TIMEOUT)))
    got, unknown = _name_unknown_fields(got, result, lc.id, LIMIT_QUANTITIES)
    return got, impl.dtype, unknown


def check_limit_files(
    suite: list[LimitCase],
    results: str | Path,
    unknown_fields: dict[str, list[str]] | None = None,
    *,
    compute: Compute | None = None,
) -> tuple[list[Verdict], set[str]]:
    """Grade ``RESULTS/<id>.json`` of the measure cases. The limit is optional: a missing file
    is *not checked*; a malformed one is an ``error``; a missing field is *not checked* (its
    reason names the file's unknown fields, which are also recorded in ``unknown_fields``).
    Each case is an independent unit run by ``compute`` (default: here, in order)."""
    if unknown_fields is None:
        unknown_fields = {}
    root = Path(results)
    run = compute if compute is not None else _serial
    got = run([(f"limit::{lc.id}", grade_limit_file, (lc, root)) for lc in suite])
    verdicts: list[Verdict] = []
    dtypes: set[str] = set()
    for lc, (vs, dtype, unknown) in zip(suite, got, strict=True):
        verdicts += vs
        if dtype is not None:
            dtypes.add(dtype)
        if unknown:
            unknown_fields[lc.id] = unknown
    return verdicts, dtypes


def grade_case_file(sc: SuiteCase, root: Path) -> tuple[list[Verdict], str | None, list[str]]:
    """Grade ``<root>/<id>.json`` of one theta case: ``(verdicts, its dtype or None, unknown
    field names)`` (:func:`check_files`; one independent unit of a file-mode run)."""
    root = Path(root)
    ev = {"case_id": sc.id, "check_id": f"{sc.id}::file"}
    try:
        path = _result_path(root, sc.id)
    except MforacleError as exc:
        return (
            [Verdict.errored("H0.result-file", "the result file is valid", str(exc), ev)],
            None,
            [],
        )
    if not path.exists() and not path.is_symlink():
        missing = Verdict.errored(
            "H0.result-file", "a result file exists for the case", f"missing result file {path}", ev
        )
        return [missing], None, []
    try:
        resolve_inside(root, f"{sc.id}.json", "result file")
        result = read_result(path, sc.case)
        impl = _file_implementation(result, path)
    except MforacleError as exc:
        return (
            [Verdict.errored("H0.result-file", "the result file is valid", str(exc), ev)],
            None,
            [],
        )
    got = run_planned(plan_checks(impl, [sc], Caller(DEFAULT_TIMEOUT)))
    got, unknown = _name_unknown_fields(got, result, sc.id, QUANTITIES)
    return got, impl.dtype, unknown


def check_files(
    suite: list[SuiteCase],
    results: str | Path,
    *,
    name_filter: str | None = None,
    limit_suite: list[LimitCase] | None = None,
    compute: Compute | None = None,
) -> tuple[list[Verdict], dict[str, Any]]:
    """Grade ``RESULTS/<id>.json`` against the suite's stored references; one verdict per
    case and quantity. A missing or malformed result file is an ``error`` for that case
    (for the optional measure cases of ``limit_suite``, see :func:`check_limit_files`).
    A missing field is *not checked*; when the file also has fields mforacle does not know
    (a misspelling such as ``gradTheta``), the reason names them and ``info["unknown_fields"]``
    maps the case id to them, so the run can warn. Each case is an independent unit run by
    ``compute`` (default: here, in order; ``mforacle check --vectors V --results R --workers N``
    grades the cases on a Dask cluster); the verdicts come back in suite order either way."""
    root = Path(results)
    run = compute if compute is not None else _serial
    got = run([(f"case::{sc.id}", grade_case_file, (sc, root)) for sc in suite])
    verdicts: list[Verdict] = []
    dtypes: set[str] = set()
    unknown_fields: dict[str, list[str]] = {}
    for sc, (vs, dtype, unknown) in zip(suite, got, strict=True):
        verdicts += vs
        if dtype is not None:
            dtypes.add(dtype)
        if unknown:
            unknown_fields[sc.id] = unknown
    if limit_suite:
        more, more_dtypes = check_limit_files(limit_suite, root, unknown_fields, compute=compute)
        verdicts += more
        dtypes |= more_dtypes
    info = {
        "name": root.name,
        "framework": "file",
        "dtype": ",".join(sorted(dtypes)) or "?",
        "source": str(root),
        "provides": ["result files"],
    }
    if unknown_fields:  # case id -> unknown fields, for files missing a contract field
        info["unknown_fields"] = unknown_fields
    return verdicts, info


# --- summary -------------------------------------------------------------------------------


def summarize(verdicts: list[Verdict]) -> dict[str, Any]:
    """Counts by status, the ``outcome`` (``pass``, ``fail``, ``nothing checked``; module
    docstring) with its ``headline`` word, ``ok`` (outcome is pass) and the commonest reasons
    of the *not checked* verdicts (``not_checked_reasons``: ``[reason, count]``, at most 3)."""
    counts = {s: 0 for s in ("pass", "fail", "error", "not checked")}
    reasons: dict[str, int] = {}
    for v in verdicts:
        counts[v.status] = counts.get(v.status, 0) + 1
        if v.status == "not checked":
            reasons[v.reason] = reasons.get(v.reason, 0) + 1
    if counts["fail"] or counts["error"]:
        outcome = "fail"
    elif counts["pass"]:
        outcome = "pass"
    else:
        outcome = "nothing checked"
    top = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    return {
        **counts,
        "total": len(verdicts),
        "ok": outcome == "pass",
        "outcome": outcome,
        "headline": HEADLINES[outcome],
        "not_checked_reasons": [[r, n] for r, n in top],
        "hints": pattern_hints(verdicts) if outcome == "fail" else [],
    }


def exit_code(verdicts: list[Verdict]) -> int:
    """0 pass, 1 fail (a verdict failed or errored), 3 nothing checked (module docstring)."""
    return EXIT_CODES[summarize(verdicts)["outcome"]]


def summary_line(summary: dict[str, Any], implementation: dict[str, Any] | None = None) -> str:
    """The line a run ends with: ``PASS: 5 passed, 0 failed, 0 errors, 0 not checked —
    pkg.mod:IMPL (float32)``; for NOTHING CHECKED also the commonest reason."""
    s = summary
    line = (
        f"{s['headline']}: {s['pass']} passed, {s['fail']} failed, {s['error']} errors, "
        f"{s['not checked']} not checked"
    )
    if implementation:
        who = implementation.get("source") or implementation.get("name") or "?"
        line += f" — {who} ({implementation.get('dtype', '?')})"
    if s["outcome"] == "nothing checked":
        if s["not_checked_reasons"]:
            reason, n = s["not_checked_reasons"][0]
            line += f"; nothing could be checked, commonly because: {reason} ({n}×)"
        else:
            line += "; there were no checks to run"
    return line


def finite_or_none(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None
