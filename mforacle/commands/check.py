"""``mforacle check`` — validate another implementation against the exact reference.

    mforacle check module.path:object [--dtype float32] [--framework torch] [--case FILE]
    mforacle check --vectors VDIR --results RDIR

The first form loads a Python implementation (see ``mforacle.protocol``; a bare
``module.path`` makes the module itself the implementation) and runs the conformance suite
(every case × forward, loss, gradients, a training step) plus the claims it can feed; the
second grades result files written by any program for an exported suite (``mforacle vectors
export VDIR``). By default (``--isolate process``) the implementation runs only in a worker
process group (:mod:`mforacle.harness.isolate`): this process never imports it or unpickles
what it returns, a call past ``--timeout`` is killed, a crash (segfault, ``os._exit``) becomes
an error verdict, and loading has its own ``--load-timeout``. ``--isolate thread`` is not
isolation: the implementation runs inside this process. Progress goes to stderr. SIGINT,
SIGTERM and SIGHUP stop the run: the worker group is killed and the report is written with
what was done (exit status 128 + the signal number). A report is always written to ``--out``
(``check.{json,md,html}``), also when the implementation cannot be loaded.
Exit status: 0 all checks passed (PASS), 1 something failed or errored (FAIL), 2 usage error,
3 nothing could be checked (NOTHING CHECKED: every check was *not checked*, e.g. a case whose
activation the implementation does not support; the summary line gives the commonest reason),
128 + N when stopped by signal N (SIGINT 130, SIGTERM 143).
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING, Any

from mforacle.verdict import Verdict

from ..errors import InvalidArgument

if TYPE_CHECKING:
    from ..report.session import Session

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        nargs="?",
        help="implementation: module.path:object, module.path (the module) or file.py[:object]",
    )
    parser.add_argument("--dtype", help="override the declared dtype (float64, float32, ...)")
    parser.add_argument("--framework", choices=("numpy", "torch", "jax"), help="override detection")
    parser.add_argument("--case", metavar="FILE", help="check one mforacle-case/1 file only")
    parser.add_argument("--vectors", metavar="VDIR", help="exported suite (file mode)")
    parser.add_argument("--results", metavar="RDIR", help="results directory (file mode)")
    parser.add_argument("--only", metavar="TEXT", help="keep checks whose id contains TEXT")
    parser.add_argument("--profile", help="dev, ci or thorough (default: MFORACLE_PROFILE)")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds one call may take (60)"
    )
    parser.add_argument(
        "--load-timeout",
        type=float,
        default=120.0,
        help="seconds loading the implementation may take (120; importing torch takes ~8 s)",
    )
    parser.add_argument(
        "--isolate",
        choices=("process", "thread"),
        default="process",
        help="process (default): the implementation runs only in a worker process group; this "
        "process never runs its code, a hang is killed and a crash is reported. thread: NOT "
        "isolation - the implementation runs inside this process (a crash ends the run with no "
        "report, a hung call is abandoned but keeps running); for trusted code only",
    )
    parser.add_argument("--no-claims", action="store_true", help="conformance checks only")
    parser.add_argument("--out", default="reports", help="report directory (reports/)")
    parser.add_argument("--stem", default="check", help="report file name stem (check)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    parser.add_argument(
        "--force",
        action="store_true",
        help="check a --case FILE even when its exact reference is estimated to take too long",
    )


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
    profile = _profile(args.profile)
    file_mode = args.vectors is not None or args.results is not None
    if file_mode and (args.vectors is None or args.results is None):
        raise InvalidArgument("--vectors/--results", None, "file mode needs both directories")
    if file_mode:
        from pathlib import Path

        vdir, rdir = Path(args.vectors).resolve(), Path(args.results).resolve()
        if rdir == vdir or vdir in rdir.parents:
            raise InvalidArgument(
                "--results", args.results,
                f"the results directory is inside the vectors directory {args.vectors}: "
                "those are mforacle's references, not results of the implementation under test",
            )
    if file_mode == (args.target is not None):
        raise InvalidArgument(
            "target",
            args.target,
            "give either module.path[:object] or --vectors VDIR --results RDIR",
        )
    for name in ("timeout", "load_timeout"):
        value = getattr(args, name)
        if not (math.isfinite(value) and value > 0):
            flag = "--" + name.replace("_", "-")
            raise InvalidArgument(flag, value, "must be a finite number of seconds > 0")
    from ..report.session import Session

    session = Session(profile)
    if file_mode:
        return _run_files(args, session)
    return _run_implementation(args, session, profile)


def _say(text: str, stream: Any) -> None:
    """Print, but a closed pipe (``| head -1``) must not change the run's exit status."""
    try:
        print(text, file=stream, flush=True)
    except BrokenPipeError:
        from ..cli import _silence_stdout

        if stream is sys.stdout:
            _silence_stdout()
    except (OSError, ValueError):
        pass


def _print_verdict(args: argparse.Namespace, v: Verdict, check_id: str) -> None:
    if not args.quiet and v.status != "pass":
        _say(f"{check_id} {v.summary()[:200]}", sys.stderr)


def _headline(report: dict, info: dict, paths: dict, tail: str = "") -> None:
    from ..harness.runner import summary_line

    _say(summary_line(report["summary"], info) + f"; report {paths['html']}" + tail, sys.stdout)
    for hint in report["summary"].get("hints", []):
        _say(f"hint: {hint}", sys.stdout)


def _run_files(args: argparse.Namespace, session: Session) -> int:
    from ..harness.runner import check_files, exit_code
    from ..harness.vectors import read_vectors

    vs = read_vectors(args.vectors)  # each malformed entry becomes an error verdict
    manifest, suite, limit_suite, problems = vs.manifest, vs.suite, vs.limit_suite, vs.problems
    if args.only:
        keep = {c.id for c in _filter([*suite, *limit_suite], args.only, "case id")}
        suite = [sc for sc in suite if sc.id in keep]
        limit_suite = [lc for lc in limit_suite if lc.id in keep]
        problems = [  # an entry without a usable id cannot be selected: always shown
            v for v in problems
            if args.only in str(v.evidence.get("case_id")) or "[" in str(v.evidence["case_id"])
        ]
    verdicts, info = check_files(suite, args.results, limit_suite=limit_suite)
    verdicts = problems + verdicts
    for v in verdicts:
        _print_verdict(args, v, str(v.evidence.get("check_id") or v.claim))
    suite_info = {
        "version": str(manifest.get("suite_version"))[:40],
        "cases": len(suite),
        "limit_cases": len(limit_suite),
        "invalid_entries": len(problems),
    }

    def repro(v, case_file, root):  # type: ignore[no-untyped-def]
        cid = v.evidence.get("case_id", "")
        return f"mforacle check --vectors {args.vectors} --results {args.results} --only {cid}"

    report, paths = session.write(
        verdicts, info, args.out, stem=args.stem, suite=suite_info, reproduce=repro
    )
    _headline(report, info, paths, _unknown_fields_warning(info.get("unknown_fields")))
    return exit_code(verdicts)


def _run_implementation(args: argparse.Namespace, session: Session, profile: str) -> int:
    from ..errors import ImplementationError
    from ..harness.calls import Caller
    from ..harness.checks import plan_checks
    from ..harness.interrupt import Progress, exit_status, interrupt_name, stop_signals
    from ..harness.limit import build_limit_suite, plan_limit_checks
    from ..harness.loading import load_implementation
    from ..harness.runner import exit_code, plan_claims, run_one
    from ..harness.vectors import SUITE_VERSION, build_suite, case_file_suites
    from ..report.session import reproduce_command

    if args.case:
        from ..caseio import check_float64_range
        from ..cost import estimate_json, refuse_if_huge

        def guard(obj: Any) -> None:  # before reading millions of numbers
            est = estimate_json(obj)
            if est is not None:
                refuse_if_huge(est, "exact", force=args.force, field=args.case)

        suite, limit_suite = case_file_suites(args.case, guard)
        for c in [*suite, *limit_suite]:
            check_float64_range(c.case, "a float implementation")
            refuse_if_huge(c.case, "exact", force=args.force, field=args.case)
        version = f"case file {args.case}"
    else:
        suite, limit_suite = build_suite(profile), build_limit_suite()
        version = SUITE_VERSION
    suite_info: dict = {
        "version": version,
        "cases": len(suite),
        "limit_cases": len(limit_suite),
        "isolation": args.isolate,
    }
    info: dict = {"name": args.target, "source": args.target, "dtype": args.dtype or "?"}
    verdicts: list[Verdict] = []
    caller = None
    stopped: BaseException | None = None
    repro = reproduce_command(args.target, args.dtype or "float64")
    with stop_signals():
        try:
            try:
                if args.isolate == "process":
                    from ..harness.isolate import isolated_implementation

                    impl, caller = isolated_implementation(
                        args.target,
                        dtype=args.dtype,
                        framework=args.framework,
                        timeout=args.timeout,
                        load_timeout=args.load_timeout,
                    )
                else:
                    impl = load_implementation(
                        args.target, dtype=args.dtype, framework=args.framework
                    )
                    caller = Caller(args.timeout)
            except ImplementationError as exc:
                verdicts.append(Verdict.errored("H0.load", "the implementation loads", str(exc)))
                impl = None
            if impl is not None:
                info = impl.describe()
                repro = reproduce_command(args.target, impl.dtype)
                for note in impl.notes:
                    _say(f"mforacle: note: {note}", sys.stderr)
                planned = plan_checks(impl, suite, caller)
                planned += plan_limit_checks(impl, limit_suite, caller)
                if not args.no_claims and not args.case:
                    planned += plan_claims(impl, caller, profile)
                planned = _filter(planned, args.only)
                progress = Progress(
                    ["claim" if p.id.startswith("claim::") else "check" for p in planned],
                    enabled=not args.quiet,
                )
                with progress.running():
                    for p in planned:
                        progress.begin(p.id)
                        got = run_one(p)
                        verdicts += got
                        for i, v in enumerate(got):
                            _print_verdict(args, v, p.id if len(got) == 1 else f"{p.id}#{i}")
                        progress.tick(p.id)
        except KeyboardInterrupt as exc:  # SIGINT, and SIGTERM / SIGHUP (stop_signals)
            stopped = exc
        finally:
            if caller is not None and hasattr(caller, "stop"):
                caller.stop()  # the worker's whole process group
        if stopped is not None:
            name = interrupt_name(stopped)
            suite_info["interrupted"] = f"{name} after {len(verdicts)} verdicts"
            _say(f"mforacle: interrupted ({name}); writing the report", sys.stderr)
        report, paths = session.write(
            verdicts, info, args.out, stem=args.stem, suite=suite_info, reproduce=repro
        )
    tail = f"; INTERRUPTED ({suite_info['interrupted']})" if stopped is not None else ""
    _headline(report, info, paths, tail)
    if stopped is not None:
        return exit_status(stopped)
    return exit_code(verdicts)
