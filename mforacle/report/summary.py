"""Summaries of report rows: per claim, per check group, and the distinct plottable datasets.

Evidence conventions read here (docs/ARCHITECTURE.md, "Verdicts and evidence"):

- rate claims: ``{"ladder_name", "ladder", "errors", "fit": {"slope", "ci", "intercept",
  "confidence"[, "correction_D"]}}`` with the fit in natural logs;
- training claims: ``{"history": {"s": [...], "loss": [...]}}``.

Nothing here draws (:mod:`mforacle.report.plots` does) or formats a page.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from .rows import STATUS_ORDER, Row, figure_vs_bound, finite, num, slack

__all__ = [
    "GROUP_NAMES",
    "YLABELS",
    "Dataset",
    "check_group",
    "ci_text",
    "claim_summary",
    "datasets",
    "failing",
    "fit_label",
    "fit_summary",
    "group_counts",
    "headline",
    "outcome",
    "run_notes",
    "rung_keys",
    "rung_label",
    "series_text",
    "sorted_rows",
    "title_extra",
    "verdict_line",
]

GROUP_NAMES = {
    "A": "claims A (exactness)",
    "B": "claims B (limit)",
    "C": "claims C (training)",
}
#: What a rate plot's y axis holds, by claim id (the verdict titles say the rest).
YLABELS = {
    "A2.taylor": "Taylor remainder",
    "B3.paths": "mean square error",
    "B3.paths.power": "mean square error",
    "B3.independent": "mean square error",
    "B3.independent.power": "mean square error",
    "C2": "dissipation discrepancy",
    "C3.width": "seed variance of E",
    "C3.width.independent": "seed variance of E",
    "C2.flow": "dissipation discrepancy",
    "C4": "loss E after training",
    "C4.ladder": "loss E after training",
}


def _status_of(counts: dict[str, int]) -> str:
    for st in ("fail", "error"):
        if counts[st]:
            return st
    return "pass" if counts["pass"] else "not checked"


def claim_summary(rows: list[Row]) -> list[dict[str, Any]]:
    """One entry per claim id, in order of first appearance.

    Each entry: ``claim``, ``title``, ``checks`` (count), ``status`` (fail > error > pass > not
    checked), ``counts`` per status, and the ``worst`` check (least :func:`slack` among the checks
    of that status) with its ``figure``, ``relation``, ``bound`` and (unless passing) ``reason``.
    """
    by: dict[str, list[Row]] = {}
    for r in rows:
        by.setdefault(str(r["claim"]), []).append(r)
    out = []
    for claim, rs in by.items():
        counts = {k: sum(r["status"] == k for r in rs) for k in STATUS_ORDER}
        status = _status_of(counts)
        pool = [r for r in rs if r["status"] == status] or rs
        worst = min(pool, key=slack)
        out.append(
            {
                "claim": claim,
                "title": rs[0].get("title", ""),
                "checks": len(rs),
                "status": status,
                "counts": counts,
                "worst": worst["id"],
                "figure": worst.get("figure"),
                "relation": worst.get("relation"),
                "bound": worst.get("bound"),
                "reason": worst.get("reason", "") if status != "pass" else "",
            }
        )
    return out


def check_group(row: Row) -> str:
    """``cases: small`` (conformance checks on the suite's small cases), ``claims B (limit)``."""
    rid = str(row.get("id", ""))
    if rid.startswith("claim::") or "::" not in rid:
        letter = str(row.get("claim", "?"))[:1]
        return GROUP_NAMES.get(letter, f"claims {letter}")
    return "cases: " + rid.split("::")[0].split("/")[0]


def group_counts(rows: list[Row]) -> list[dict[str, Any]]:
    """Counts per check group (``group``, ``checks`` and one count per status), conformance
    groups first, each in order of first appearance."""
    by: dict[str, dict[str, Any]] = {}
    for r in rows:
        g = by.setdefault(check_group(r), {"group": check_group(r), "checks": 0})
        g["checks"] += 1
        g[r["status"]] = g.get(r["status"], 0) + 1
    for g in by.values():
        for k in STATUS_ORDER:
            g.setdefault(k, 0)
    return sorted(by.values(), key=lambda g: str(g["group"]).startswith("claims"))


def outcome(summary: dict[str, Any]) -> str:
    """``PASS``, ``FAIL`` or ``NOTHING CHECKED``: ``summary["headline"]`` (older reports: from
    ``summary["ok"]``)."""
    return str(summary.get("headline") or ("PASS" if summary["ok"] else "FAIL"))


def run_notes(report: dict[str, Any]) -> list[str]:
    """What the reader must know about how the run went: an interruption (``suite.interrupted``)
    and what mforacle changed to run the implementation (``implementation.notes``)."""
    notes = []
    stopped = report.get("suite", {}).get("interrupted")
    if stopped:
        notes.append(f"INTERRUPTED ({stopped}): the verdicts cover only what was done")
    notes += [str(n) for n in report.get("implementation", {}).get("notes", [])]
    return notes


def headline(report: dict[str, Any]) -> str:
    """``PASS: 158 passed, 0 failed, 0 errors, 0 not checked (158 checks, 30.1 s)``."""
    s = report["summary"]
    word = outcome(s)
    return (
        f"{word}: {s['pass']} passed, {s['fail']} failed, {s['error']} errors, "
        f"{s['not checked']} not checked ({s['total']} checks, {report['duration_s']:.1f} s)"
    )


def sorted_rows(report: dict[str, Any]) -> list[Row]:
    """The report's rows, worst status first (stable within a status)."""
    return sorted(report["verdicts"], key=lambda r: STATUS_ORDER.get(r["status"], 9))


def failing(report: dict[str, Any]) -> list[Row]:
    """The rows that failed or errored, failures first."""
    return [r for r in sorted_rows(report) if r["status"] in ("fail", "error")]


# --- datasets ------------------------------------------------------------------------------


@dataclass
class Dataset:
    """One distinct plottable dataset and every report row it supports.

    ``kind`` is ``"rate"`` (``x`` the ladder: numbers or rung dicts such as ``{"L", "M", "s"}``;
    ``y`` the errors; ``fits`` the distinct fits of the rows) or ``"history"`` (``x`` the training
    time ``s``, ``y`` the loss ``E``).
    """

    kind: str
    key: str
    rows: list[Row] = field(default_factory=list)
    ladder_name: str = ""
    x: list[Any] = field(default_factory=list)
    y: list[Any] = field(default_factory=list)
    fits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def x_name(self) -> str:
        """The ladder's name (``L``, ``M``, ``h``, ``s``), ``n`` when the evidence gives none."""
        return self.ladder_name or "n"

    @property
    def claims(self) -> list[str]:
        """The distinct claim ids of the rows, in order."""
        return list(dict.fromkeys(str(r["claim"]) for r in self.rows))

    @property
    def checks(self) -> list[str]:
        """The check ids of the rows, in order."""
        return [str(r["id"]) for r in self.rows]

    @property
    def status(self) -> str:
        """The worst status among the rows."""
        return min((str(r["status"]) for r in self.rows), key=lambda s: STATUS_ORDER.get(s, 9))

    @property
    def ylabel(self) -> str:
        """What the y axis holds: ``loss E`` for a history, else by claim (:data:`YLABELS`)."""
        if self.kind == "history":
            return "loss E"
        return YLABELS.get(self.claims[0], "error") if self.rows else "error"


def _rate_data(ev: dict[str, Any]) -> tuple[list[Any], list[Any]] | None:
    lad, err = ev.get("ladder"), ev.get("errors")
    if isinstance(lad, list) and isinstance(err, list) and len(lad) == len(err) and lad:
        return lad, err
    return None


def _history_data(ev: dict[str, Any]) -> tuple[list[Any], list[Any]] | None:
    hist = ev.get("history")
    if isinstance(hist, dict):
        s, loss = hist.get("s"), hist.get("loss")
        if isinstance(s, list) and isinstance(loss, list) and len(s) == len(loss) and s:
            return s, loss
    return None


def datasets(rows: list[Row]) -> list[Dataset]:
    """The distinct plottable datasets of the rows, each with every row it supports.

    Rows whose evidence holds the same ``(ladder, errors)`` share one rate dataset (their
    distinct fits are all kept); rows with the same ``history`` share one history dataset. A
    history that repeats the row's own ladder errors (C4's final losses per rung) is not counted
    twice. Order: first appearance.
    """
    out: dict[str, Dataset] = {}
    for r in rows:
        ev = r.get("evidence") or {}
        rate = _rate_data(ev)
        if rate is not None:
            key = "rate:" + json.dumps(list(rate), sort_keys=True, default=str)
            ds = out.setdefault(key, Dataset("rate", key, x=rate[0], y=rate[1]))
            ds.rows.append(r)
            ds.ladder_name = ds.ladder_name or str(ev.get("ladder_name") or "")
            fit = ev.get("fit")
            if isinstance(fit, dict) and fit not in ds.fits:
                ds.fits.append(fit)
        hist = _history_data(ev)
        if hist is not None and not (rate is not None and hist[1] == rate[1]):
            key = "history:" + json.dumps(list(hist), default=str)
            ds = out.setdefault(key, Dataset("history", key, ladder_name="s", x=hist[0], y=hist[1]))
            ds.rows.append(r)
    return list(out.values())


# --- text shared by the Markdown, the page and the plots' legends ---------------------------


def ci_text(fit: dict[str, Any]) -> str:
    """``95% CI [-1.100, -0.900]`` from a fit's ``ci`` and ``confidence``, or ``""``."""
    ci = fit.get("ci")
    conf = finite(fit.get("confidence"))
    level = f"{100 * conf:g}% " if conf is not None else ""
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in map(finite, ci):
        return f"{level}CI [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return ""


def fit_label(fit: dict[str, Any]) -> str:
    """``fit: slope -1.000, 95% CI [-1.100, -0.900]`` (``fit with D/M term: p ...`` when the fit
    has a ``correction_D``). Raises ``KeyError``/``ValueError`` for a fit without a slope."""
    s = float(fit["slope"])
    what = "fit with D/M term: p" if "correction_D" in fit else "fit: slope"
    ci = ci_text(fit)
    return f"{what} {s:.3f}" + (f", {ci}" if ci else "")


def fit_summary(ds: Dataset) -> str:
    """The dataset's fitted slopes with their intervals, ``; ``-separated, or ``no fit``."""
    parts = []
    for fit in ds.fits:
        if finite(fit.get("slope")) is not None:
            parts.append(
                fit_label(fit)
                .replace("fit: ", "")
                .replace("fit with D/M term: ", "with D/M term: ")
            )
    return "; ".join(parts) or "no fit"


def rung_label(r: Any) -> str:
    """A ladder rung as text: a number (:func:`num`), or a rung dict as ``L=2,M=4,s=20``."""
    if isinstance(r, dict):
        keys = [k for k in ("L", "M", "s") if k in r] or [k for k, v in r.items() if finite(v)]
        return ",".join(f"{k}={num(r[k])}" for k in keys)
    return num(r)


def rung_keys(ladder: list[Any]) -> list[str]:
    """The keys ``L``, ``M``, ``s`` that the ladder's rung dicts carry (``[]`` for numbers)."""
    first = ladder[0] if ladder else {}
    return [k for k in ("L", "M", "s") if isinstance(first, dict) and k in first]


def series_text(values: list[Any], most: int = 6) -> str:
    """``4, 8, 16, 32``; powers of two below 1 as ``2^-8``; more than ``most`` values as
    ``a, b, …, z (n values)``."""
    fs = [finite(v) for v in values]
    pow2 = all(f is not None and 0 < f < 1 and math.log2(f) == round(math.log2(f)) for f in fs)
    texts = [
        f"2^{round(math.log2(f))}" if pow2 and f is not None else rung_label(v)
        for f, v in zip(fs, values, strict=True)
    ]
    if len(texts) > most:
        texts = [*texts[:2], "…", texts[-1]]
        return ", ".join(texts) + f" ({len(values)} values)"
    return ", ".join(texts)


def title_extra(title: str, base_title: str) -> str:
    """What ``title`` adds to the dataset's ``base_title`` (``""`` if nothing), else all of it."""
    if base_title and title.startswith(base_title):
        return title[len(base_title) :].lstrip(": ")
    return title


def verdict_line(r: Row, base_title: str = "") -> str:
    """``B1.ratio pass: 1.98 ∈ [1.8, 2.2] (err(L)/err(2L) -> 2)`` for one row of a dataset."""
    title = str(r.get("title", ""))
    extra = title_extra(title, base_title)
    tail = f" ({extra})" if extra and title != base_title else ""
    return f"{r['claim']} {r['status']}: {figure_vs_bound(r)}{tail}"
