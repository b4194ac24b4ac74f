"""``mforacle check`` — validate another implementation against the exact reference.

    mforacle check module.path:object [--dtype float32] [--framework torch] [--case FILE]
    mforacle check --vectors VDIR --results RDIR

The first form loads a Python implementation (see ``mforacle.protocol``) and runs the
conformance suite (every case × forward, loss, gradients, a training step) plus the claims it
can feed; the second grades result files written by any program for an exported suite
(``mforacle vectors export VDIR``). By default (``--isolate process``) the implementation runs
in a worker process: a hung call is killed after ``--timeout`` and a crash (segfault,
``os._exit``) becomes an error verdict; ``--isolate thread`` runs it in this process. A report
is written to ``--out`` (``check.{json,md,html}``).
Exit status: 0 all checks passed (PASS), 1 something failed or errored (FAIL), 2 usage error,
3 nothing could be checked (NOTHING CHECKED: every check was *not checked*, e.g. a case whose
activation the implementation does not support; the summary line gives the commonest reason).
"""

from __future__ import annotations

import argparse
import math
import sys

from ..errors import InvalidArgument

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", nargs="?", help="implementation as module.path:object")
    parser.add_argument("--dtype", help="override the declared dtype (float64, float32, ...)")
    parser.add_argument("--framework", choices=("numpy", "torch", "jax"), help="override detection")
    parser.add_argument("--case", metavar="FILE", help="check one mforacle-case/1 file only")
    parser.add_argument("--vectors", metavar="VDIR", help="exported suite (file mode)")
    parser.add_argument("--results", metavar="RDIR", help="results directory (file mode)")
    parser.add_argument("--only", metavar="TEXT", help="keep checks whose id contains TEXT")
    parser.add_argument("--profile", help="dev, ci or thorough (default: MFORACLE_PROFILE)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per call (60)")
    parser.add_argument(
        "--isolate",
        choices=("process", "thread"),
        default="process",
        help="process (default): the implementation runs in a worker process, so a hang is "
        "killed and a crash is reported; thread: in this process (no start-up cost, but a hung "
        "call is abandoned and a crash ends the run)",
    )
    parser.add_argument("--no-claims", action="store_true", help="conformance checks only")
    parser.add_argument("--out", default="reports", help="report directory (reports/)")
    parser.add_argument("--stem", default="check", help="report file name stem (check)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    from ..scale import add_arguments

    add_arguments(parser)  # file mode only: grade the cases on a Dask cluster (docs/scale.md)


def _profile(name: str | None) -> str:
    from mforacle.profiles import PROFILES, current_profile

    if name is None:
        return current_profile()
    if name not in PROFILES:
        raise InvalidArgument("--profile", name, f"expected one of {list(PROFILES)}")
    return name


def _filter(planned: list, only: str | None, what: str = "check id") -> list:
    """The items whose id contains ``only``; none at all is a usage error (a filter that
    matches nothing would otherwise make a vacuous run that reports FAIL: 0 passed)."""
    kept = [p for p in planned if only is None or only in p.id]
    if only is not None and planned and not kept:
        raise InvalidArgument(
            "--only", only, f"no {what} contains it ({len(planned)} to choose from)"
        )
    return kept


def _unknown_fields_warning(unknown: dict[str, list[str]] | None) -> str:
    """Tail of the summary line when result files miss contract fields but carry unknown ones
    (likely misspellings: their checks are only *not checked*, so the run can still pass)."""
    if not unknown:
        return ""
    names = sorted({f for fields in unknown.values() for f in fields})
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return (
        f"; WARNING: {len(unknown)} result file(s) miss contract fields and have unknown "
        f"fields {shown} (misspelled? see docs/case-format.md)"
    )


def run(args: argparse.Namespace) -> int:
    from ..harness.calls import Caller
    from ..harness.checks import plan_checks
    from ..harness.limit import build_limit_suite, plan_limit_checks
    from ..harness.loading import load_implementation
    from ..harness.runner import check_files, exit_code, plan_claims, run_planned, summary_line
    from ..harness.vectors import (
        SUITE_VERSION,
        build_suite,
        case_file_suites,
        load_limit_vectors,
        load_vectors,
    )
    from ..report.session import Session, reproduce_command

    profile = _profile(args.profile)
    file_mode = args.vectors is not None or args.results is not None
    if file_mode and (args.vectors is None or args.results is None):
        raise InvalidArgument("--vectors/--results", None, "file mode needs both directories")
    if not file_mode and (args.scheduler is not None or args.workers is not None):
        raise InvalidArgument(
            "--scheduler/--workers",
            args.scheduler if args.scheduler is not None else args.workers,
            "only file mode (--vectors VDIR --results RDIR) runs on a Dask cluster",
        )
    if file_mode == (args.target is not None):
        raise InvalidArgument(
            "target", args.target, "give either module.path:object or --vectors VDIR --results RDIR"
        )
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise InvalidArgument("--timeout", args.timeout, "must be a finite number of seconds > 0")
    session = Session(profile)

    def progress(p, v) -> None:  # type: ignore[no-untyped-def]
        # p is None in file mode (verdicts are graded, not planned): the id is in the evidence
        if not args.quiet and v.status != "pass":
            cid = v.evidence.get("check_id") or (p.id if p is not None else v.claim)
            print(cid, v.summary()[:200], file=sys.stderr)

    if file_mode:
        manifest, suite = load_vectors(args.vectors)
        limit_suite = load_limit_vectors(args.vectors)
        if args.only:
            keep = {c.id for c in _filter([*suite, *limit_suite], args.only, "case id")}
            suite = [sc for sc in suite if sc.id in keep]
            limit_suite = [lc for lc in limit_suite if lc.id in keep]
        from ..scale import executor_from_args, is_serial, job_runner

        with executor_from_args(args) as ex:
            compute = None if is_serial(ex) else job_runner(ex, progress=not args.quiet)
            verdicts, info = check_files(
                suite, args.results, limit_suite=limit_suite, compute=compute
            )
        for v in verdicts:
            progress(None, v)
        suite_info = {
            "version": manifest.get("suite_version"),
            "cases": len(suite),
            "limit_cases": len(limit_suite),
        }

        def repro(v, case_file, root):  # type: ignore[no-untyped-def]
            cid = v.evidence.get("case_id", "")
            return f"mforacle check --vectors {args.vectors} --results {args.results} --only {cid}"
    else:
        if args.case:
            suite, limit_suite = case_file_suites(args.case)
            version = f"case file {args.case}"
        else:
            suite, limit_suite = build_suite(profile), build_limit_suite()
            version = SUITE_VERSION
        if args.isolate == "process":
            from ..harness.isolate import isolated_implementation

            impl, caller = isolated_implementation(
                args.target, dtype=args.dtype, framework=args.framework, timeout=args.timeout
            )
        else:
            impl = load_implementation(args.target, dtype=args.dtype, framework=args.framework)
            caller = Caller(args.timeout)
        try:
            planned = plan_checks(impl, suite, caller)
            planned += plan_limit_checks(impl, limit_suite, caller)
            if not args.no_claims and not args.case:
                planned += plan_claims(impl, caller, profile)
            verdicts = run_planned(_filter(planned, args.only), progress)
        finally:
            if args.isolate == "process":
                caller.stop()
        info = impl.describe()
        suite_info = {
            "version": version,
            "cases": len(suite),
            "limit_cases": len(limit_suite),
            "isolation": args.isolate,
        }
        repro = reproduce_command(args.target, impl.dtype)
    report, paths = session.write(
        verdicts, info, args.out, stem=args.stem, suite=suite_info, reproduce=repro
    )
    print(
        summary_line(report["summary"], info)
        + f"; report {paths['html']}"
        + _unknown_fields_warning(info.get("unknown_fields") if file_mode else None)
    )
    for hint in report["summary"].get("hints", []):
        print(f"hint: {hint}")
    return exit_code(verdicts)
