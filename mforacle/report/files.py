"""Writing a report: ``STEM.json``, ``STEM.md``, ``STEM.html`` (as a set) and the case files.

Layout under the output folder (docs/ARCHITECTURE.md; schema :mod:`mforacle.report`)::

    STEM.json   the report (mforacle-report/1) with the derived claims, groups and plots keys
    STEM.md     the same for a plain-text viewer (mforacle.report.markdown)
    STEM.html   one self-contained page with inline SVG plots (mforacle.report.html)
    cases/      one mforacle-case/1 file per distinct case a check ran on (content-addressed)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mforacle.caseio import write_files_atomic, write_json_atomic
from mforacle.errors import InvalidArgument

from .html import html_page
from .markdown import markdown
from .rows import REQUIRED_KEYS
from .summary import claim_summary, datasets, group_counts

__all__ = ["complete", "save_cases", "write_report"]


def save_cases(cases: dict[str, dict[str, Any]], out_dir: str | Path) -> list[Path]:
    """Write each ``{case_file: case}`` under ``out_dir`` unless that file exists (the names are
    content-addressed, so an existing file holds the same case). Returns the paths written."""
    out = Path(out_dir)
    written = []
    for name, case in cases.items():
        path = out / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(path, case)
            written.append(path)
    return written


def complete(report: dict[str, Any]) -> dict[str, Any]:
    """The report with the derived keys ``claims``, ``groups`` and ``plots`` (kept if present).

    Raises:
        InvalidArgument: a key of :data:`~mforacle.report.rows.REQUIRED_KEYS` is missing.
    """
    missing = [k for k in REQUIRED_KEYS if k not in report]
    if missing:
        raise InvalidArgument("report", sorted(report), f"lacks the keys {missing}")
    rows = report["verdicts"]
    return {
        **report,
        "claims": report.get("claims") or claim_summary(rows),
        "groups": report.get("groups") or group_counts(rows),
        "plots": report.get("plots")
        or [{"kind": d.kind, "checks": d.checks, "claims": d.claims} for d in datasets(rows)],
    }


def write_report(
    report: dict[str, Any], out_dir: str | Path, stem: str = "latest"
) -> dict[str, Path]:
    """Write ``stem.json``, ``stem.md`` and ``stem.html`` under ``out_dir`` (created if needed),
    atomically as a set (all rendered and written to temp files first, then renamed: a failure
    leaves the previous set whole); the JSON gains the derived keys of :func:`complete`.

    Returns ``{"json": path, "md": path, "html": path}``.

    Raises:
        InvalidArgument: a required key is missing, or ``stem`` is not a plain file name.
    """
    if not stem or Path(stem).name != stem or stem.startswith("."):
        raise InvalidArgument("stem", stem, "expected a plain file name without folders")
    full = complete(report)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md", "html": out / f"{stem}.html"}
    # rendered first, then written as a set: a failure leaves the previous set whole
    write_files_atomic(
        {
            paths["json"]: json.dumps(full, indent=1) + "\n",
            paths["md"]: markdown(full),
            paths["html"]: html_page(full),
        }
    )
    return paths
