"""Assemble a run into a report: verdicts, implementation, command, timing (used by the CLI)."""

from __future__ import annotations

import datetime as _dt
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mforacle.verdict import Verdict

from .report import REPORT_FORMAT, verdict_rows, write_report
from .runner import summarize

__all__ = ["BUILTIN", "Session", "reproduce_command"]

BUILTIN = "mforacle.builtin:FAST"


def reproduce_command(
    source: str, dtype: str, extra: str = ""
) -> Callable[[Verdict, str | None], str]:
    """``mforacle check SOURCE --dtype DTYPE --case <case file> [--only CHECK]`` builder."""

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
    """Times a run and writes its report under ``out_dir``."""

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
        from .. import __version__

        out = Path(out_dir)
        repro = None
        if reproduce is not None:

            def repro(v: Verdict, case_file: str | None) -> str:
                return reproduce(v, case_file, out)

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
            "verdicts": verdict_rows(verdicts, out, repro),
        }
        return report, write_report(report, out, stem)
