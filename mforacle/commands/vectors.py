"""``mforacle vectors export DIR [--profile P]`` — write the versioned conformance suite.

Writes ``DIR/<group>/<name>.json`` (mforacle-case/1), ``DIR/reference/<group>/<name>.json``
(the exact results with error bounds and float64/float32 tolerances) and ``DIR/manifest.json``
(mforacle-vectors/1 with the suite version). See ``docs/conformance.md`` for the results layout.
``--workers N`` / ``--scheduler ADDRESS`` compute the cases' exact references as Dask tasks
(:mod:`mforacle.scale`); the files written are the same.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    exp = sub.add_parser("export", help="write the suite with exact references to DIR")
    exp.add_argument("directory", metavar="DIR")
    exp.add_argument("--profile", help="dev, ci or thorough (thorough adds random cases)")
    from ..scale import add_arguments

    add_arguments(exp)


def run(args: argparse.Namespace) -> int:
    from ..errors import InvalidArgument
    from ..harness.vectors import export
    from .check import _profile

    if getattr(args, "action", None) != "export":
        raise InvalidArgument("action", getattr(args, "action", None), "expected 'export DIR'")
    from ..scale import executor_from_args, is_serial, job_runner

    profile = _profile(args.profile)
    with executor_from_args(args) as ex:
        if is_serial(ex):
            manifest = export(args.directory, profile)
        else:
            print(f"running on {ex.description}", file=sys.stderr, flush=True)
            manifest = export(args.directory, profile, compute=job_runner(ex, progress=True))
    print(
        f"wrote {len(manifest['cases'])} cases (suite {manifest['suite_version']}) "
        f"to {args.directory}"
    )
    return 0
