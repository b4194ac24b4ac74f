"""``mforacle claims [--claim ID] [--profile dev|ci|thorough] [--json FILE]``.

Runs the paper's claims (``docs/claims.md``: A1–A5, B1–B5, C1–C5) against the built-in
fast path and prints one row per verdict: id, status, figure, relation, bound, short evidence.
``--claim`` takes an id (``C3``) or a group (``C``); ``--profile`` picks the experiment sizes
(default: ``MFORACLE_PROFILE``, else ``ci`` under CI, else ``dev``); ``--json`` also writes every
verdict, with its full evidence, to FILE (atomically). Progress goes to standard error.
``--size KEY=VALUE`` (repeatable; VALUE in JSON) overrides one of the profile's experiment sizes
of the selected claim, e.g. ``--claim B3 --size seeds=100000 --size block=5000`` (the keys are
those of ``mforacle/claims/__init__.py``; an unknown key is a usage error).
``--workers N`` (a local Dask cluster for the run) or ``--scheduler ADDRESS`` (a running one)
spread the claims and their parts (seed blocks, ladder rungs) over processes or machines; the
verdicts are the same as the serial run's (:mod:`mforacle.scale`, ``docs/scale.md``).

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
    parser.add_argument(
        "--size",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override an experiment size of the claim (JSON value), e.g. seeds=100000",
    )
    from ..scale import add_arguments

    add_arguments(parser)


def _with_sizes(specs: list[Any], profile: str, items: list[str]) -> list[Any]:
    """``specs`` with ``--size KEY=VALUE`` overrides applied to ``profile``'s sizes.

    Raises:
        InvalidArgument: not ``KEY=VALUE``, a value that is not JSON, or a key that some
            selected claim's sizes do not have.
    """
    import dataclasses
    import json

    if not items:
        return specs
    over: dict[str, Any] = {}
    for item in items:
        key, eq, text = item.partition("=")
        if not eq or not key.strip():
            raise InvalidArgument("--size", item, "expected KEY=VALUE, e.g. seeds=1000")
        try:
            over[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            raise InvalidArgument("--size", item, "VALUE must be JSON (a number, a list)") from None
    out = []
    for spec in specs:
        sizes = spec.sizes_for(profile)
        unknown = sorted(set(over) - set(sizes))
        if unknown:
            raise InvalidArgument(
                "--size", unknown, f"{spec.id} has no such size; it has {sorted(sizes)}"
            )
        out.append(dataclasses.replace(spec, sizes={**spec.sizes, profile: {**sizes, **over}}))
    return out


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
    specs = _with_sizes(select(args.claim), profile, args.size)
    if args.json is not None and not str(args.json).strip():
        raise InvalidArgument("--json", args.json, "expected a file name")
    impl = builtin_subject()
    from ..scale import executor_from_args, is_serial, run_claims

    verdicts = []
    with executor_from_args(args) as ex:
        if is_serial(ex):
            for i, spec in enumerate(specs, start=1):
                print(
                    f"[{i}/{len(specs)}] {spec.id} {spec.title} ...",
                    file=sys.stderr,
                    end="",
                    flush=True,
                )
                t0 = time.monotonic()
                out = spec.run(impl, profile)
                status = ", ".join(sorted({v.status for v in out}))
                print(f" {status} ({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
                verdicts.extend(out)
        else:
            print(f"running on {ex.description}", file=sys.stderr, flush=True)
            for out in run_claims(specs, impl, profile, ex, progress=True):
                verdicts.extend(out)
    print(table(verdicts))
    if args.json is not None:
        from ..caseio import write_json_atomic

        write_json_atomic(
            args.json,
            {
                "format": "mforacle-claims/1",
                "profile": profile,
                "sizes": {spec.id: spec.sizes_for(profile) for spec in specs},
                "implementation": impl.name,
                "verdicts": [v.to_json() for v in verdicts],
            },
        )
    from ..harness.runner import exit_code, summarize, summary_line

    who = {"name": impl.label, "dtype": impl.dtype}
    print(summary_line(summarize(verdicts), who), file=sys.stderr)
    return exit_code(verdicts)
