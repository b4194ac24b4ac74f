"""``mforacle report [--profile dev|ci|thorough] [--out reports/]`` — the conformance report.

Checks mforacle's own fast path through the harness exactly as a third-party implementation
(``mforacle.builtin:FAST``: every suite case × forward, loss, gradients, a training
step, against the exact path within the derived tolerance; the limit quantities of the bundled
measure cases against the exact limit), plus every claim of the registry,
and writes ``OUT/latest.{json,md,html}`` with a case file and one command per check.
``--workers N`` / ``--scheduler ADDRESS`` run the cases and the claims' parts as Dask tasks
(:mod:`mforacle.scale`, ``docs/scale.md``); the verdicts are the serial run's.
Exit status: 0 all passed, 1 something failed or errored, 2 usage error, 3 nothing checked.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", help="dev (default), ci or thorough")
    parser.add_argument("--out", default="reports", help="output directory (reports/)")
    parser.add_argument("--no-claims", action="store_true", help="conformance checks only")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    from ..scale import add_arguments

    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import time

    from ..harness.limit import build_limit_suite
    from ..harness.loading import load_implementation
    from ..harness.runner import exit_code, plan_implementation, run_planned, summary_line
    from ..harness.vectors import SUITE_VERSION, build_suite
    from ..report.session import BUILTIN, Session, reproduce_command
    from .check import _profile

    profile = _profile(args.profile)
    session = Session(profile)
    impl = load_implementation(BUILTIN)
    suite = build_suite(profile)
    limit_suite = build_limit_suite()
    t0 = time.perf_counter()

    def progress(p, v) -> None:  # type: ignore[no-untyped-def]
        if not args.quiet and (p.id.startswith("claim::") or v.status != "pass"):
            print(f"[{time.perf_counter() - t0:6.1f}s] {v.summary()[:160]}", file=sys.stderr)

    planned = plan_implementation(
        impl,
        suite,
        claims=not args.no_claims,
        profile=profile,
        include_builtin=True,
        limit_suite=limit_suite,
    )
    from ..scale import executor_from_args, is_serial
    from ..scale import run_planned as run_scaled

    with executor_from_args(args) as ex:
        if is_serial(ex):
            verdicts = run_planned(planned, progress)
        else:
            if not args.quiet:
                print(f"running on {ex.description}", file=sys.stderr, flush=True)
            verdicts = run_scaled(planned, ex, progress=not args.quiet)
    report, paths = session.write(
        verdicts,
        impl.describe(),
        args.out,
        stem="latest",
        suite={"version": SUITE_VERSION, "cases": len(suite), "limit_cases": len(limit_suite)},
        reproduce=reproduce_command(BUILTIN, impl.dtype),
    )
    print(
        summary_line(report["summary"], impl.describe())
        + f" in {report['duration_s']:.1f} s; wrote {paths['json']}, {paths['md']}, {paths['html']}"
    )
    return exit_code(verdicts)
