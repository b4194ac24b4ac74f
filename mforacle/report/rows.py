"""Report rows: the ``mforacle-report/1`` schema's keys, verdicts as rows, and numbers as text.

A row is the JSON form of one :class:`mforacle.verdict.Verdict` plus where its case was saved and
one command that re-runs it (schema: :mod:`mforacle.report`). This module is pure: it writes no
file (:mod:`mforacle.report.files` saves the cases that :func:`verdict_rows` returns).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable
from typing import Any

from mforacle.verdict import Verdict

__all__ = [
    "REPORT_FORMAT",
    "REQUIRED_KEYS",
    "STATUS_ORDER",
    "VERDICT_KEYS",
    "Reproduce",
    "Row",
    "figure_vs_bound",
    "finite",
    "num",
    "relation_text",
    "slack",
    "verdict_rows",
]

#: One report row (one verdict): the keys of :data:`VERDICT_KEYS`.
Row = dict[str, Any]
#: ``reproduce(verdict, case_file) -> command`` (``case_file`` relative to the report, or None).
Reproduce = Callable[[Verdict, str | None], str]

REPORT_FORMAT = "mforacle-report/1"
REQUIRED_KEYS = (
    "format",
    "created",
    "mforacle_version",
    "command",
    "profile",
    "implementation",
    "suite",
    "summary",
    "duration_s",
    "verdicts",
)
VERDICT_KEYS = (
    "id",
    "claim",
    "title",
    "status",
    "figure",
    "relation",
    "bound",
    "error_model",
    "reason",
    "evidence",
    "case_file",
    "reproduce",
)
#: Worst first: the order in which rows are listed and a group's status is chosen.
STATUS_ORDER = {"fail": 0, "error": 1, "not checked": 2, "pass": 3}
REL = {"<=": "≤", ">=": "≥", "in": "∈", "==": "="}


def num(v: Any) -> str:
    """A number as a reader wants it: 4 significant digits, the exponent only when needed.

    ``None`` reads ``—``; lists read ``[a, b]``; anything else that is not a number is ``str``-ed.
    Examples: ``2.00028 -> "2.0003"`` (not ``"2"``), ``1e-17 -> "1.000e-17"``, ``3.0 -> "3"``.
    """
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, int | float):
        if isinstance(v, list | tuple):
            return "[" + ", ".join(num(x) for x in v) + "]"
        return str(v)
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v == int(v) and abs(v) < 1e5:
        return str(int(v))
    if not 1e-3 <= abs(v) < 1e5:
        return f"{v:.3e}"
    text = f"{v:.4g}"
    return f"{v:.5g}" if float(text) == int(float(text)) else text


def relation_text(relation: Any, bound: Any) -> str:
    """``≤ 1.079e-15``, ``∈ [-1.15, -0.85]``: a verdict's relation as a symbol and its bound."""
    return f"{REL.get(str(relation), str(relation))} {num(bound)}"


def figure_vs_bound(row: dict[str, Any]) -> str:
    """``6.761e-17 ≤ 1.079e-15`` for a row (or claim summary), or ``—`` when nothing was
    measured."""
    if row.get("figure") is None:
        return "—"
    return f"{num(row['figure'])} {relation_text(row.get('relation'), row.get('bound'))}"


def finite(v: Any) -> float | None:
    """``float(v)`` when that is a finite number, else ``None`` (never raises)."""
    try:
        f = float(v)
    except (TypeError, ValueError, OverflowError):
        return None
    return f if math.isfinite(f) else None


def slack(row: dict[str, Any]) -> float:
    """How far a row's figure is inside its bound, relative to the bound (negative: outside).

    ``(bound - figure)/|bound|`` for ``<=``, the distance to the nearer end over the interval's
    width for ``in``; ``-inf`` when nothing (or nothing comparable) was measured. Used to pick a
    claim's worst check.
    """
    fig, rel = finite(row.get("figure")), row.get("relation")
    bound: Any = row.get("bound")
    if fig is None:
        return -math.inf
    try:
        if rel == "in":
            lo, hi = float(bound[0]), float(bound[1])
            return min(fig - lo, hi - fig) / max(hi - lo, 1e-300)
        b = float(bound)
        scale = max(abs(b), 1e-300)
        if rel == "<=":
            return (b - fig) / scale
        if rel == ">=":
            return (fig - b) / scale
        return 0.0 if fig == b else -abs(fig - b) / scale
    except (TypeError, ValueError, IndexError):
        return -math.inf


def case_file_name(case: dict[str, Any], label: str) -> str:
    """``cases/<label>-<12 hex digits>.json``: content-addressed (SHA-256 of the sorted JSON), so
    a case shared by several verdicts is saved once."""
    digest = hashlib.sha256(json.dumps(case, sort_keys=True).encode()).hexdigest()[:12]
    return f"cases/{label.replace('/', '-')}-{digest}.json"


def verdict_rows(
    verdicts: Iterable[Verdict], reproduce: Reproduce | None = None
) -> tuple[list[Row], dict[str, dict[str, Any]]]:
    """Verdicts as report rows, and the cases to save as ``{case_file: case}``.

    A verdict's ``evidence["case"]`` (an ``mforacle-case/1`` object) moves out of the evidence
    into a case file named by :func:`case_file_name`; the row's ``id`` is
    ``evidence["check_id"]`` (else the claim id). ``reproduce(verdict, case_file)`` builds the
    row's one reproduction command; without it, or when it returns ``""``, the evidence's own
    ``reproduce`` (if any) is kept.
    """
    rows: list[Row] = []
    cases: dict[str, dict[str, Any]] = {}
    for v in verdicts:
        row = v.to_json()
        ev = dict(row.pop("evidence") or {})
        case_file = None
        case = ev.pop("case", None)
        if isinstance(case, dict):
            case_file = case_file_name(case, str(ev.get("case_id", row["claim"])))
            cases[case_file] = case
        cmd = reproduce(v, case_file) if reproduce is not None else None
        rows.append(
            {
                "id": ev.get("check_id", row["claim"]),
                **row,
                "evidence": ev,
                "case_file": case_file,
                "reproduce": cmd or ev.get("reproduce"),
            }
        )
    return rows, cases
