"""Assemble a run into a report: verdicts, implementation, command, timing (used by the CLI).

:class:`Session` times a run and writes its report (:func:`mforacle.report.files.write_report`);
:func:`reproduce_command` builds the one command per check that the report shows.
"""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mforacle.harness.runner import summarize
from mforacle.verdict import Verdict

from .files import save_cases, write_report
from .rows import REPORT_FORMAT, verdict_rows

__all__ = ["BUILTIN", "Session", "reproduce_command"]

BUILTIN = "mforacle.builtin:FAST"


def reproduce_command(
    source: str, dtype: str, extra: str = ""
) -> Callable[[Verdict, str | None], str]:
    """A builder ``build(verdict, case_file, root) -> command`` of one reproduction command.

    For a conformance check with a saved case: ``mforacle check SOURCE --dtype DTYPE --case
    ROOT/CASE_FILE --only CHECK`` (``extra`` appended). For a claim: the evidence's own
    ``reproduce``, else ``mforacle claims --claim ID`` (built-in paths) or ``mforacle check SOURCE
    --dtype DTYPE --only CHECK``. Arguments are shell-quoted.
    """

    def build(v: Verdict, case_file: str | None, root: Path | None = None) -> str:
        check_id = str(v.evidence.get("check_id", ""))
        if check_id.startswith("claim::") or not case_file:
            if v.evidence.get("reproduce"):
                return str(v.evidence["reproduce"])
            if source == BUILTIN:
                return f"mforacle claims --claim {v.claim.split('.')[0]}"
            base = check_id.partition("#")[0]
            return f"mforacle check {shlex.quote(source)} --dtype {dtype} --only {base}"
        case_path = str((root or Path(".")) / case_file)
        q = str(v.evidence.get("check_id", "")).rpartition("::")[2]
        only = f" --only {shlex.quote(q)}" if q else ""
        return (
            f"mforacle check {shlex.quote(source)} --dtype {dtype} "
            f"--case {shlex.quote(case_path)}{only}{extra}"
        )

    return build


class Session:
    """Times a run and writes its report under ``out_dir``.

    ``profile`` is the effort profile's name (``dev``, ``ci``, ``thorough``); ``command`` the
    command line to record (default: this process's ``mforacle`` arguments).
    """

    def __init__(self, profile: str, command: str | None = None) -> None:
        self.profile = profile
        self.command = command or "mforacle " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        self.start = time.perf_counter()
        self.created = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def write(
        self,
        verdicts: list[Verdict],
        implementation: dict[str, Any],
        out_dir: str | Path,
        *,
        stem: str = "latest",
        suite: dict[str, Any] | None = None,
        reproduce: Callable[..., str] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Path]]:
        """Write the report of ``verdicts`` as ``<out_dir>/<stem>.{json,md,html}`` and its cases
        under ``out_dir/cases``; ``reproduce(verdict, case_file, out_dir)`` builds each check's
        command. Returns ``(report, {"json": path, "md": path, "html": path})``.

        Raises:
            InvalidArgument: ``stem`` is not a plain file name.
        """
        from mforacle import __version__

        out = Path(out_dir)
        repro = None
        if reproduce is not None:

            def repro(v: Verdict, case_file: str | None) -> str:
                return reproduce(v, case_file, out)

        rows, cases = verdict_rows(verdicts, repro)
        report = {
            "format": REPORT_FORMAT,
            "created": self.created,
            "mforacle_version": __version__,
            "command": self.command,
            "profile": self.profile,
            "implementation": implementation,
            "suite": suite or {},
            "summary": summarize(verdicts),
            "duration_s": round(time.perf_counter() - self.start, 3),
            "verdicts": rows,
        }
        paths = write_report(report, out, stem)
        save_cases(cases, out)
        return report, paths
