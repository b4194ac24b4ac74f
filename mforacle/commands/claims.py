"""``mforacle claims [--claim ID] [--profile dev|ci|thorough] [--json FILE]``.

Runs the paper's claims (``docs/claims.md``: A1–A5, B1–B5, C1–C5) against the built-in
fast path and prints one row per verdict: id, status, figure, relation, bound, short evidence.
``--claim`` takes an id (``C3``) or a group (``C``); ``--profile`` picks the experiment sizes
(default: ``MFORACLE_PROFILE``, else ``ci`` under CI, else ``dev``); ``--json`` also writes every
verdict, with its full evidence, to FILE (atomically). Progress goes to standard error.

Exit status: 0 if no verdict failed and one passed, 1 if any failed or errored, 2 on a usage
error (an unknown claim or profile), 3 if nothing could be checked (every verdict *not checked*).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..errors import InvalidArgument


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--claim",
        metavar="ID",
        default=None,
        help="one claim id (e.g. C3) or a group (A, B, C); default: all",
    )
    parser.add_argument(
        "--profile",
        metavar="NAME",
        default=None,
        help="experiment sizes: dev, ci or thorough (default: MFORACLE_PROFILE)",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        default=None,
        help="also write all verdicts with their evidence to FILE",
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def table(verdicts: list[Any]) -> str:
    """Fixed-width rows: id, status, figure, relation, bound, short evidence."""
    rows = [("claim", "status", "figure", "rel", "bound", "evidence")]
    for v in verdicts:
        note = v.reason or v.error_model
        rows.append(
            (
                v.claim,
                v.status,
                _fmt(v.figure),
                v.relation if v.figure is not None else "",
                _fmt(v.bound),
                note[:110],
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for r in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5]
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from mforacle.claims import check_profile, select
    from mforacle.claims.subject import builtin_subject
    from mforacle.profiles import current_profile

    profile = check_profile(args.profile) if args.profile is not None else current_profile()
    specs = select(args.claim)
    if args.json is not None and not str(args.json).strip():
        raise InvalidArgument("--json", args.json, "expected a file name")
    impl = builtin_subject()
    verdicts = []
    for i, spec in enumerate(specs, start=1):
        print(f"[{i}/{len(specs)}] {spec.id} {spec.title} ...", file=sys.stderr, end="", flush=True)
        t0 = time.monotonic()
        out = spec.run(impl, profile)
        status = ", ".join(sorted({v.status for v in out}))
        print(f" {status} ({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
        verdicts.extend(out)
    print(table(verdicts))
    if args.json is not None:
        from ..caseio import write_json_atomic

        write_json_atomic(
            args.json,
            {
                "format": "mforacle-claims/1",
                "profile": profile,
                "implementation": impl.name,
                "verdicts": [v.to_json() for v in verdicts],
            },
        )
    from ..harness.runner import exit_code, summarize, summary_line

    who = {"name": impl.label, "dtype": impl.dtype}
    print(summary_line(summarize(verdicts), who), file=sys.stderr)
    return exit_code(verdicts)
