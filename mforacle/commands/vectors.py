"""``mforacle vectors export DIR [--profile P]`` — write the versioned conformance suite.

Writes ``DIR/<group>/<name>.json`` (mforacle-case/1), ``DIR/reference/<group>/<name>.json``
(the exact results with error bounds and float64/float32 tolerances) and ``DIR/manifest.json``
(mforacle-vectors/1 with the suite version). See ``docs/conformance.md`` for the results layout.
"""

from __future__ import annotations

import argparse

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    exp = sub.add_parser("export", help="write the suite with exact references to DIR")
    exp.add_argument("directory", metavar="DIR")
    exp.add_argument("--profile", help="dev, ci or thorough (thorough adds random cases)")


def run(args: argparse.Namespace) -> int:
    from ..errors import InvalidArgument
    from ..harness.vectors import export
    from .check import _profile

    if getattr(args, "action", None) != "export":
        raise InvalidArgument("action", getattr(args, "action", None), "expected 'export DIR'")
    manifest = export(args.directory, _profile(args.profile))
    print(
        f"wrote {len(manifest['cases'])} cases (suite {manifest['suite_version']}) "
        f"to {args.directory}"
    )
    return 0
