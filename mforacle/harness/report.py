"""Reports: JSON (stable schema), Markdown, and a self-contained HTML page with inline SVG.

Schema ``mforacle-report/1`` (keys are stable; new keys may be added, none removed)::

    format            "mforacle-report/1"
    created           ISO-8601 UTC time
    mforacle_version  package version
    command           the command line that produced the report
    profile           dev | ci | thorough
    implementation    {name, framework, dtype, source, provides, ...}
    suite             {version, cases}
    summary           {pass, fail, error, "not checked", total, ok}
    duration_s        wall time
    verdicts          list of {id, claim, title, status, figure, relation, bound, error_model,
                      reason, evidence, case_file, reproduce}
    claims            (added) per claim id: {claim, title, checks, status, counts, worst, figure,
                      relation, bound}, ``worst`` the check nearest its bound (or failing)
    groups            (added) per check group: {group, checks, pass, fail, error, not checked}
    plots             (added) one per distinct dataset: {kind, checks, claims}

``case_file`` (relative to the report) holds the verdict's ``mforacle-case/1`` case, moved out of
the evidence and saved under ``cases/`` (content-addressed); ``reproduce`` is one command that
re-runs the check on it.

Plots (:mod:`mforacle.harness.svgplot`, no plotting library): evidence ``{"ladder_name",
"ladder", "errors", "fit": {"slope", "ci", "intercept"[, "correction_D"]}}`` (fit in natural
logs) becomes a log-log convergence plot with the fitted line (or curve, with a ``D/M`` term) and
the accepted slope window; ``{"history": {"s", "loss"}}`` a loss-vs-training-time plot (log loss
axis). Verdicts with the same ``(ladder, errors)`` or the same history share one plot whose
caption lists every verdict it supports.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..caseio import write_json_atomic, write_text_atomic
from .svgplot import Plot, Series

__all__ = [
    "REPORT_FORMAT",
    "Dataset",
    "claim_summary",
    "datasets",
    "figure_svg",
    "group_counts",
    "html_page",
    "markdown",
    "svg_history",
    "svg_loglog",
    "verdict_rows",
    "write_report",
]

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

REL = {"<=": "≤", ">=": "≥", "in": "∈", "==": "="}
STATUS_ORDER = {"fail": 0, "error": 1, "not checked": 2, "pass": 3}
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
SHOWN_FAILURES = 12  # failing checks listed openly in the HTML; the rest in a <details>
BLUE, RED, ORANGE, GREY = "#2563eb", "#dc2626", "#d97706", "#6b7280"


# --- numbers and relations -----------------------------------------------------------------


def num(v: Any) -> str:
    """A number as a reader wants it: 4 significant digits, exponent only when needed."""
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
    return f"{v:.5g}" if float(text) == int(float(text)) else text  # 2.00028: "2.0003", not "2"


def relation_text(relation: Any, bound: Any) -> str:
    """``≤ 1.079e-15``, ``∈ [-1.15, -0.85]``."""
    return f"{REL.get(str(relation), str(relation))} {num(bound)}"


def figure_vs_bound(row: dict[str, Any]) -> str:
    """``6.761e-17 ≤ 1.079e-15``, or ``—`` when nothing was measured."""
    if row.get("figure") is None:
        return "—"
    return f"{num(row['figure'])} {relation_text(row.get('relation'), row.get('bound'))}"


def _float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def slack(row: dict[str, Any]) -> float:
    """How far the figure is inside its bound, relative to the bound (negative: outside)."""
    fig, rel, bound = _float(row.get("figure")), row.get("relation"), row.get("bound")
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


# --- summaries -----------------------------------------------------------------------------


def _status_of(counts: dict[str, int]) -> str:
    for st in ("fail", "error"):
        if counts[st]:
            return st
    return "pass" if counts["pass"] else "not checked"


def claim_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per claim id, in order of first appearance: counts, status, worst check."""
    by: dict[str, list[dict[str, Any]]] = {}
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


def check_group(row: dict[str, Any]) -> str:
    """``cases: small`` (conformance checks on the suite's small cases), ``claims B (limit)``."""
    rid = str(row.get("id", ""))
    if rid.startswith("claim::") or "::" not in rid:
        letter = str(row.get("claim", "?"))[:1]
        return GROUP_NAMES.get(letter, f"claims {letter}")
    return "cases: " + rid.split("::")[0].split("/")[0]


def group_counts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Counts per check group, conformance groups first, in order of appearance."""
    by: dict[str, dict[str, Any]] = {}
    for r in rows:
        g = by.setdefault(check_group(r), {"group": check_group(r), "checks": 0})
        g["checks"] += 1
        g[r["status"]] = g.get(r["status"], 0) + 1
    for g in by.values():
        for k in STATUS_ORDER:
            g.setdefault(k, 0)
    return sorted(by.values(), key=lambda g: g["group"].startswith("claims"))


# --- datasets and plots --------------------------------------------------------------------


@dataclass
class Dataset:
    """One distinct plotted dataset and every verdict row it supports."""

    kind: str  # "rate" | "history"
    key: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    ladder_name: str = ""
    x: list[Any] = field(default_factory=list)  # ladder (numbers or rung dicts), or s
    y: list[Any] = field(default_factory=list)  # errors, or loss
    fits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def x_name(self) -> str:
        return self.ladder_name or "n"

    @property
    def claims(self) -> list[str]:
        return list(dict.fromkeys(str(r["claim"]) for r in self.rows))

    @property
    def checks(self) -> list[str]:
        return [str(r["id"]) for r in self.rows]

    @property
    def status(self) -> str:
        return min((r["status"] for r in self.rows), key=lambda s: STATUS_ORDER.get(s, 9))


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


def datasets(rows: list[dict[str, Any]]) -> list[Dataset]:
    """The distinct plottable datasets of the rows, each with every row it supports.

    Rows whose evidence holds the same ``(ladder, errors)`` share one rate plot
    (their distinct fits are all drawn); rows with the same ``history`` share one history plot.
    A history that repeats the row's own ladder and errors (C4's final losses per rung) is not
    plotted twice.
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


def _is_slope(row: dict[str, Any], fit: dict[str, Any]) -> bool:
    f, s = _float(row.get("figure")), _float(fit.get("slope"))
    return f is not None and s is not None and abs(f - s) <= 1e-9 * max(1.0, abs(s))


def _ci_text(fit: dict[str, Any]) -> str:
    ci = fit.get("ci")
    conf = _float(fit.get("confidence"))
    level = f"{100 * conf:g}% " if conf is not None else ""
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in map(_float, ci):
        return f"{level}CI [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return ""


def _fit_label(fit: dict[str, Any]) -> str:
    s = float(fit["slope"])
    what = "fit with D/M term: p" if "correction_D" in fit else "fit: slope"
    ci = _ci_text(fit)
    return f"{what} {s:.3f}" + (f", {ci}" if ci else "")


def _rung_label(r: Any) -> str:
    if isinstance(r, dict):
        keys = [k for k in ("L", "M", "s") if k in r] or [k for k, v in r.items() if _float(v)]
        return ",".join(f"{k}={num(r[k])}" for k in keys)
    return num(r)


def _plot(ds: Dataset) -> Plot:
    """The :class:`Plot` of a dataset (not yet rendered)."""
    title = ", ".join(ds.claims) + f" — {ds.status}"
    ys = [_float(v) for v in ds.y]
    if ds.kind == "history":
        xs = [_float(v) for v in ds.x]
        ok = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
        p = Plot(title, "training time s", "loss E", xscale="linear")
        p.series.append(Series([x for x, _ in ok], [y for _, y in ok], "line", BLUE))
        _bound_lines(p, ds, [y for _, y in ok])
        return p
    numeric = all(_float(v) is not None for v in ds.x)
    ylabel = YLABELS.get(ds.claims[0], "error")
    if not numeric:
        p = Plot(
            title,
            f"{ds.x_name} ({', '.join(_rung_keys(ds.x))})",
            ylabel,
            xscale="category",
            categories=[_rung_label(r) for r in ds.x],
        )
        pts = [(float(i), y) for i, y in enumerate(ys) if y is not None]
        p.series.append(Series([x for x, _ in pts], [y for _, y in pts], "line", BLUE))
        _bound_lines(p, ds, [y for _, y in pts])
        return p
    xs = [float(v) for v in ds.x]
    p = Plot(title, ds.x_name, ylabel, xscale="log", x_values=xs)
    pts = [(x, y) for x, y in zip(xs, ys, strict=True) if y is not None and x > 0 and y > 0]
    p.series.append(Series([x for x, _ in pts], [y for _, y in pts], "points", BLUE))
    if not pts:
        return p
    lo, hi = min(x for x, _ in pts), max(x for x, _ in pts)
    colors = iter([RED, ORANGE, "#7c3aed", "#0891b2"])
    for fit in ds.fits:
        s, c = _float(fit.get("slope")), _float(fit.get("intercept"))
        if s is None or c is None:
            continue
        col = next(colors, GREY)
        D = _float(fit.get("correction_D"))
        if D is not None:
            grid = [lo * (hi / lo) ** (i / 40) for i in range(41)]
            ycurve = [math.exp(c + s * math.log(x) + D / x) for x in grid]
            p.series.append(Series(grid, ycurve, "curve", col, _fit_label(fit)))
            continue
        p.series.append(
            Series(
                [lo, hi],
                [math.exp(c + s * math.log(x)) for x in (lo, hi)],
                "fit",
                col,
                _fit_label(fit),
            )
        )
        xc = math.exp(sum(math.log(x) for x, _ in pts) / len(pts))
        yc = math.exp(c + s * math.log(xc))
        for r in ds.rows:
            if not _is_slope(r, fit):
                continue
            b = r.get("bound")
            if r.get("relation") == "in" and isinstance(b, list) and len(b) == 2 and not p.wedge:
                p.wedge = (
                    xc,
                    yc,
                    float(b[0]),
                    float(b[1]),
                    f"accepted slopes {relation_text('in', b)} ({r['claim']})",
                )
            elif r.get("relation") in ("<=", ">=") and _float(b) is not None:
                gx = [lo, hi]
                gy = [yc * (x / xc) ** float(b) for x in gx]
                p.series.append(
                    Series(
                        gx,
                        gy,
                        "guide",
                        GREY,
                        f"slope bound {relation_text(r['relation'], b)} ({r['claim']})",
                    )
                )
    _bound_lines(p, ds, [y for _, y in pts])
    return p


def _rung_keys(ladder: list[Any]) -> list[str]:
    first = ladder[0] if ladder else {}
    return [k for k in ("L", "M", "s") if isinstance(first, dict) and k in first]


def _bound_lines(p: Plot, ds: Dataset, ys: list[float]) -> None:
    """A horizontal line at the bound of each verdict whose figure is one of the plotted ``ys``
    (C4: the last loss ``<= ε``; C5: ``min E >=`` the floor)."""
    seen = set()
    for r in ds.rows:
        f, b = _float(r.get("figure")), _float(r.get("bound"))
        if f is None or b is None or b <= 0 or r.get("relation") not in ("<=", ">="):
            continue
        if f in ys and b not in seen:
            seen.add(b)
            p.hlines.append((b, f"{r['claim']} bound: {relation_text(r['relation'], b)}", RED))


def svg_loglog(
    ladder: list[Any],
    errors: list[Any],
    fit: dict[str, Any] | None = None,
    *,
    ladder_name: str = "L",
    title: str = "",
) -> str:
    """Convergence plot: errors vs ladder, log-log, with ``exp(intercept)·x^slope`` if fitted."""
    ds = Dataset("rate", "", ladder_name=ladder_name, x=list(ladder), y=list(errors))
    if fit:
        ds.fits.append(fit)
    ds.rows.append(
        {"id": title or "plot", "claim": title or f"error vs {ladder_name}", "status": "pass"}
    )
    try:
        p = _plot(ds)
    except (TypeError, ValueError, OverflowError):
        return ""
    if title:
        p.title = title
    return p.svg()


def svg_history(s: list[Any], loss: list[Any], *, title: str = "loss vs training time s") -> str:
    """Loss (log axis) against training time ``s`` (linear axis)."""
    ds = Dataset("history", "", ladder_name="s", x=list(s), y=list(loss))
    ds.rows.append({"id": title, "claim": title, "status": "pass"})
    p = _plot(ds)
    p.title = title
    return p.svg()


def figure_svg(evidence: dict[str, Any], title: str = "") -> str:
    """The plot one verdict's evidence calls for, or ``""``."""
    row = {
        "id": title or "check",
        "claim": title or "check",
        "status": "pass",
        "evidence": evidence,
    }
    try:
        found = datasets([row])
        if not found:
            return ""
        p = _plot(found[0])
        if title:
            p.title = title
        return p.svg()
    except (TypeError, ValueError, OverflowError):
        return ""


def _dataset_svg(ds: Dataset) -> str:
    try:
        return _plot(ds).svg()
    except (TypeError, ValueError, OverflowError, ZeroDivisionError):
        return ""


# --- report assembly -----------------------------------------------------------------------


def verdict_rows(verdicts: list[Any], out_dir: Path, reproduce: Any = None) -> list[dict[str, Any]]:
    """Verdicts as report rows; cases are saved under ``out_dir/cases`` and referenced.

    ``reproduce(verdict, case_file) -> str`` builds the reproduction command; when absent, the
    evidence's own ``reproduce`` (if any) is kept.
    """
    rows = []
    for v in verdicts:
        row = v.to_json()
        ev = dict(row.pop("evidence") or {})
        case_file = None
        case = ev.pop("case", None)
        if isinstance(case, dict):
            text = json.dumps(case, sort_keys=True)
            digest = hashlib.sha256(text.encode()).hexdigest()[:12]
            label = str(ev.get("case_id", row["claim"])).replace("/", "-")
            case_file = f"cases/{label}-{digest}.json"
            path = out_dir / case_file
            if not path.exists():
                write_json_atomic(path, case)
        cmd = reproduce(v, case_file) if reproduce is not None else None
        row = {
            "id": ev.get("check_id", row["claim"]),
            **row,
            "evidence": ev,
            "case_file": case_file,
            "reproduce": cmd or ev.get("reproduce"),
        }
        rows.append(row)
    return rows


def write_report(
    report: dict[str, Any], out_dir: str | Path, stem: str = "latest"
) -> dict[str, Path]:
    """Write ``stem.json``, ``stem.md`` and ``stem.html`` under ``out_dir``, each atomically.

    The JSON gains the derived ``claims``, ``groups`` and ``plots`` keys (unless present)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = [k for k in REQUIRED_KEYS if k not in report]
    if missing:
        raise ValueError(f"report lacks keys {missing}")
    rows = report["verdicts"]
    full = {
        **report,
        "claims": report.get("claims") or claim_summary(rows),
        "groups": report.get("groups") or group_counts(rows),
        "plots": report.get("plots")
        or [{"kind": d.kind, "checks": d.checks, "claims": d.claims} for d in datasets(rows)],
    }
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md", "html": out / f"{stem}.html"}
    write_json_atomic(paths["json"], full)
    write_text_atomic(paths["md"], markdown(full))
    write_text_atomic(paths["html"], html_page(full))
    return paths


def _word(s: dict[str, Any]) -> str:
    """PASS, FAIL or NOTHING CHECKED (``summary["headline"]``; older reports: from ``ok``)."""
    return str(s.get("headline") or ("PASS" if s["ok"] else "FAIL"))


def _headline(report: dict[str, Any]) -> str:
    s = report["summary"]
    word = _word(s)
    return (
        f"{word}: {s['pass']} passed, {s['fail']} failed, {s['error']} errors, "
        f"{s['not checked']} not checked ({s['total']} checks, {report['duration_s']:.1f} s)"
    )


def _sorted_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(report["verdicts"], key=lambda r: STATUS_ORDER.get(r["status"], 9))


def _failing(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in _sorted_rows(report) if r["status"] in ("fail", "error")]


def _fit_summary(ds: Dataset) -> str:
    parts = []
    for fit in ds.fits:
        if _float(fit.get("slope")) is not None:
            parts.append(
                _fit_label(fit)
                .replace("fit: ", "")
                .replace("fit with D/M term: ", "with D/M term: ")
            )
    return "; ".join(parts) or "no fit"


def _series_text(values: list[Any], most: int = 6) -> str:
    """``4, 8, 16, 32``; powers of two below 1 as ``2^-8``; long lists as ``a, b, …, z (n)``."""
    fs = [_float(v) for v in values]
    pow2 = all(f is not None and 0 < f < 1 and math.log2(f) == round(math.log2(f)) for f in fs)
    texts = [
        f"2^{round(math.log2(f))}" if pow2 and f is not None else _rung_label(v)
        for f, v in zip(fs, values, strict=True)
    ]
    if len(texts) > most:
        texts = [*texts[:2], "…", texts[-1]]
        return ", ".join(texts) + f" ({len(values)} values)"
    return ", ".join(texts)


def _verdict_line(r: dict[str, Any], base_title: str = "") -> str:
    title = str(r.get("title", ""))
    extra = (
        title[len(base_title) :].lstrip(": ")
        if base_title and title.startswith(base_title)
        else title
    )
    tail = f" ({extra})" if extra and title != base_title else ""
    return f"{r['claim']} {r['status']}: {figure_vs_bound(r)}{tail}"


# --- Markdown ------------------------------------------------------------------------------


def _md_cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown(report: dict[str, Any]) -> str:
    """The report for a plain-text viewer: summary, claims, groups, failures, fits, all checks."""
    impl = report["implementation"]
    rows = report["verdicts"]
    claims = report.get("claims") or claim_summary(rows)
    groups = report.get("groups") or group_counts(rows)
    lines = [
        f"# mforacle conformance report — {impl.get('name', '?')}",
        "",
        f"**{_headline(report)}**",
        "",
        f"- implementation: `{impl.get('source') or impl.get('name')}` "
        f"({impl.get('framework')}, {impl.get('dtype')})",
        f"- suite {report['suite'].get('version')}, profile `{report['profile']}`, "
        f"mforacle {report['mforacle_version']}, {report['created']}",
        f"- command: `{report['command']}`",
        "",
        "## Claims",
        "",
        "| claim | title | checks | status | worst figure vs bound |",
        "|---|---|---:|---|---|",
    ]
    for c in claims:
        lines.append(
            f"| {_md_cell(c['claim'])} | {_md_cell(c['title'])} | {c['checks']} | "
            f"{'**' + c['status'] + '**' if c['status'] != 'pass' else 'pass'} | "
            f"{_md_cell(figure_vs_bound(c))} |"
        )
    lines += [
        "",
        "## Check groups",
        "",
        "| group | checks | pass | fail | error | not checked |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for g in groups:
        lines.append(
            f"| {g['group']} | {g['checks']} | {g['pass']} | {g['fail']} | {g['error']} | "
            f"{g['not checked']} |"
        )
    failing = _failing(report)
    lines += ["", f"## Failures and errors ({len(failing)})", ""]
    if not failing:
        lines.append("None.")
    for r in failing:
        lines += [
            f"### {r['id']} — {r['status']}",
            "",
            f"- {r.get('title', '')}",
            f"- figure vs bound: {figure_vs_bound(r)}",
        ]
        if r.get("reason"):
            lines.append(f"- reason: {r['reason']}")
        if r.get("error_model"):
            lines.append(f"- bound from: {r['error_model']}")
        if r.get("case_file"):
            lines.append(f"- case file: `{r['case_file']}`")
        lines += [
            "- reproduce:",
            "",
            "  ```",
            f"  {r.get('reproduce') or '(no command)'}",
            "  ```",
            "",
        ]
    skipped = [r for r in rows if r["status"] == "not checked"]
    if skipped:
        lines += ["", f"## Not checked ({len(skipped)})", ""]
        lines += [f"- `{r['id']}`: {r.get('reason', '')}" for r in skipped]
    found = datasets(rows)
    rates = [d for d in found if d.kind == "rate"]
    hists = [d for d in found if d.kind == "history"]
    if rates:
        lines += [
            "",
            "## Rates (one row per distinct dataset; the HTML page plots them)",
            "",
            "| claims | checks | ladder | errors | fitted slope | verdicts |",
            "|---|---|---|---|---|---|",
        ]
        for d in rates:
            base = str(d.rows[0].get("title", ""))
            lines.append(
                f"| {', '.join(d.claims)} | {', '.join(d.checks)} | {d.x_name} = "
                f"{_md_cell(_series_text(d.x))} | "
                f"{_md_cell(_series_text(d.y))} | "
                f"{_md_cell(_fit_summary(d))} | "
                f"{_md_cell('; '.join(_verdict_line(r, base) for r in d.rows))} |"
            )
    if hists:
        lines += [
            "",
            "## Training histories (loss vs training time s)",
            "",
            "| claims | checks | points | s | loss first → last (min) | verdicts |",
            "|---|---|---:|---|---|---|",
        ]
        for d in hists:
            base = str(d.rows[0].get("title", ""))
            ys = [v for v in map(_float, d.y) if v is not None]
            xs = [v for v in map(_float, d.x) if v is not None]
            lines.append(
                f"| {', '.join(d.claims)} | {', '.join(d.checks)} | {len(d.y)} | "
                f"{num(min(xs)) if xs else '—'} … {num(max(xs)) if xs else '—'} | "
                f"{num(ys[0]) if ys else '—'} → {num(ys[-1]) if ys else '—'} "
                f"({num(min(ys)) if ys else '—'}) | "
                f"{_md_cell('; '.join(_verdict_line(r, base) for r in d.rows))} |"
            )
    lines += [
        "",
        f"## All checks ({len(rows)})",
        "",
        "| check | status | figure vs bound | note | reproduce |",
        "|---|---|---|---|---|",
    ]
    for r in _sorted_rows(report):
        note = str(r.get("reason") or "")[:160]
        lines.append(
            f"| `{r['id']}` | {r['status']} | {_md_cell(figure_vs_bound(r))} | {_md_cell(note)} | "
            f"{'`' + _md_cell(r['reproduce']) + '`' if r.get('reproduce') else ''} |"
        )
    return "\n".join(lines) + "\n"


# --- HTML ----------------------------------------------------------------------------------

_CSS = """
*{box-sizing:border-box}
body{font-family:"DejaVu Sans","Liberation Sans",Arial,sans-serif;max-width:1260px;margin:1.2em
auto;padding:0 16px;color:#1f2937;font-size:14px;line-height:1.4}
h1{font-size:22px;margin:.2em 0}h2{font-size:17px;margin:1.4em 0 .5em;border-bottom:1px solid
#e5e7eb;padding-bottom:3px}
.badge{display:inline-block;padding:4px 14px;border-radius:6px;font-weight:bold;font-size:20px;
color:white;margin-right:12px;vertical-align:middle}.badge.ok{background:#15803d}
.badge.bad{background:#b91c1c}.headline{font-size:16px;vertical-align:middle}
.meta{color:#4b5563;font-size:12.5px;margin:.5em 0 0}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #e5e7eb;padding:3px 7px;
font-size:12.5px;vertical-align:top;text-align:left}th{background:#f9fafb}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.fb{white-space:nowrap}
.fb .em{white-space:normal;display:block;max-width:260px}
.st{font-weight:bold;white-space:nowrap}.st.pass{color:#15803d}.st.fail,.st.error{color:#b91c1c}
.st.not{color:#6b7280}tr.fail,tr.error{background:#fef2f2}tr.not{background:#f9fafb}
.top{display:grid;grid-template-columns:minmax(0,1.9fr) minmax(0,1fr);gap:22px;align-items:start}
@media (max-width:900px){.top{grid-template-columns:1fr}}
.box{border:1px solid #fecaca;background:#fef2f2;border-radius:6px;padding:8px 12px;margin:8px 0}
.box.ok{border-color:#bbf7d0;background:#f0fdf4}
code,pre{font-family:"DejaVu Sans Mono",monospace;font-size:12px}
pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:3px 0;background:#f3f4f6;padding:4px 6px;
border-radius:4px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(380px,1fr));gap:14px}
figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:6px;background:white}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#374151;padding:4px 2px 0}figcaption .v{display:block}
figcaption small{color:#6b7280}
details summary{cursor:pointer;font-size:15px;font-weight:bold;margin:1em 0 .5em}
.em{color:#4b5563;font-size:11.5px}
"""


def _st(status: str) -> str:
    cls = "not" if status == "not checked" else status
    return f"<span class='st {cls}'>{html.escape(status)}</span>"


def _case_link(r: dict[str, Any]) -> str:
    cf = r.get("case_file")
    return f"<a href='{html.escape(cf)}'>{html.escape(cf)}</a>" if cf else ""


def _failure_table(rows: list[dict[str, Any]]) -> str:
    """Failing checks, one compact row each: what, figure vs bound and why, case + command."""
    e = html.escape
    out = [
        "<table><tr><th>check</th><th>figure vs bound / reason</th>"
        "<th>reproduce (case file, command)</th></tr>"
    ]
    for r in rows:
        reason = f"<br><i>{e(r['reason'])}</i>" if r.get("reason") else ""
        out.append(
            f"<tr class='{r['status']}'><td>{_st(r['status'])} <code>{e(r['id'])}</code><br>"
            f"<span class='em'>{e(r.get('title', ''))}</span></td>"
            f"<td>{e(figure_vs_bound(r))}{reason}</td>"
            f"<td>{_case_link(r)}<pre>{e(r.get('reproduce') or '(no reproduction command)')}"
            "</pre></td></tr>"
        )
    out.append("</table>")
    return "".join(out)


def _caption(ds: Dataset) -> str:
    e = html.escape
    first = ds.rows[0]
    base = str(first.get("title", ""))
    out = [f"<b>{e(', '.join(ds.claims))}</b> — {e(base)}"]
    if ds.kind == "rate":
        what = YLABELS.get(ds.claims[0], "error")
        out.append(
            f"<span class='v'>Plotted: {e(what)} vs {e(ds.x_name)} "
            f"({len(ds.y)} points{', log–log' if not isinstance(ds.x[0], dict) else ''})"
            + ("; lines: least-squares fits in logs." if ds.fits else ".")
            + "</span>"
        )
        fits = [f for f in ds.fits if _float(f.get("slope")) is not None]
        if fits:
            out.append(f"<span class='v'>Fitted {e(_fit_summary(ds))}.</span>")
        else:
            out.append("<span class='v'>No fitted slope in the evidence.</span>")
    else:
        ys = [v for v in map(_float, ds.y) if v is not None]
        out.append(
            f"<span class='v'>Plotted: loss E vs training time s ({len(ds.y)} points, log loss "
            f"axis); E from {num(ys[0])} to {num(ys[-1])}. No fit: the claim is about the "
            "whole history.</span>"
            if ys
            else ""
        )
    for r in ds.rows:
        title = str(r.get("title", ""))
        extra = title[len(base) :].lstrip(": ") if title.startswith(base) else title
        out.append(
            f"<span class='v'>{_st(r['status'])} <b>{e(str(r['claim']))}</b>: "
            f"{e(figure_vs_bound(r))}{e(' — ' + extra) if extra else ''}</span>"
        )
    ids = ", ".join(ds.checks)
    by_digest = {str(r["case_file"]).rsplit("-", 1)[-1]: r for r in ds.rows if r.get("case_file")}
    cases = [_case_link(r) for r in by_digest.values()]  # one link per distinct case
    ref = next(
        (
            str(r["evidence"]["reference"])
            for r in ds.rows
            if isinstance((r.get("evidence") or {}).get("reference"), str)
        ),
        "",
    )
    tail = f"checks {e(ids)}"
    if ref:
        tail += f" · reference: {e(ref)}"
    if cases:
        tail += " · case " + ", ".join(cases)
    out.append(f"<small>{tail}</small>")
    return "".join(out)


def _figures(found: list[Dataset]) -> str:
    parts = ["<div class='grid'>"]
    for ds in found:
        svg = _dataset_svg(ds)
        if svg:
            parts.append(f"<figure>{svg}<figcaption>{_caption(ds)}</figcaption></figure>")
    parts.append("</div>")
    return "".join(parts)


def html_page(report: dict[str, Any]) -> str:
    """One self-contained page: inline CSS and SVG, no script, no external resource."""
    e = html.escape
    impl = report["implementation"]
    rows = report["verdicts"]
    claims = report.get("claims") or claim_summary(rows)
    groups = report.get("groups") or group_counts(rows)
    s = report["summary"]
    name = e(str(impl.get("name")))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>mforacle report — {name}: {_word(s)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>mforacle conformance report — {name}</h1>",
        f"<p><span class='badge {'ok' if s['ok'] else 'bad'}'>{_word(s)}"
        f"</span><span class='headline'>{s['total']} checks: <b>{s['pass']}</b> passed, "
        f"<b>{s['fail']}</b> failed, <b>{s['error']}</b> errors, <b>{s['not checked']}</b> not "
        f"checked — {len(claims)} claims, {report['duration_s']:.1f} s</span></p>",
        f"<p class='meta'>implementation <code>{e(str(impl.get('source') or impl.get('name')))}"
        f"</code> ({e(str(impl.get('framework')))}, {e(str(impl.get('dtype')))}) · suite "
        f"{e(str(report['suite'].get('version')))} · profile {e(report['profile'])} · "
        f"mforacle {e(report['mforacle_version'])} · {e(report['created'])} · "
        f"<code>{e(report['command'])}</code></p>",
    ]
    failing = _failing(report)
    # summary tables
    parts.append(
        "<div class='top'><div><h2>Claims</h2><table><tr><th>claim</th><th>title</th>"
        "<th>checks</th><th>status</th><th>worst figure vs bound</th></tr>"
    )
    for c in claims:
        cls = "not" if c["status"] == "not checked" else c["status"]
        parts.append(
            f"<tr class='{cls}'><td><code>{e(c['claim'])}</code></td><td>{e(c['title'])}</td>"
            f"<td class='n'>{c['checks']}</td><td>{_st(c['status'])}</td>"
            f"<td class='fb' title='{e(c['worst'])}'>{e(figure_vs_bound(c))}"
            + (
                f"<br><span class='em'>{e(c['reason'][:90])}</span>"
                if c["figure"] is None and c.get("reason")
                else ""
            )
            + "</td></tr>"
        )
    parts.append(
        "</table></div><div><h2>Check groups</h2><table><tr><th>group</th>"
        "<th>checks</th><th>pass</th><th>fail</th><th>error</th><th>not checked</th></tr>"
    )
    for g in groups:
        bad = g["fail"] or g["error"]
        parts.append(
            f"<tr class='{'fail' if bad else ''}'><td>{e(g['group'])}</td>"
            + "".join(
                f"<td class='n'>{g[k]}</td>"
                for k in ("checks", "pass", "fail", "error", "not checked")
            )
            + "</tr>"
        )
    parts.append("</table>")
    if failing:
        parts.append(
            f"<div class='box'><b>{len(failing)} failing or errored checks</b> — each with its "
            "case file and one command: <a href='#failures'>Failures and errors</a></div>"
        )
    else:
        parts.append("<div class='box ok'>No failing or errored checks.</div>")
    skipped = [r for r in rows if r["status"] == "not checked"]
    if skipped:
        parts.append(f"<h2>Not checked ({len(skipped)})</h2><ul>")
        parts += [f"<li><code>{e(r['id'])}</code>: {e(r.get('reason', ''))}</li>" for r in skipped]
        parts.append("</ul>")
    parts.append("</div></div>")
    if failing:
        parts.append(f"<h2 id='failures'>Failures and errors ({len(failing)})</h2>")
        parts.append(_failure_table(failing[:SHOWN_FAILURES]))
        if len(failing) > SHOWN_FAILURES:
            parts.append(
                f"<details><summary>the other {len(failing) - SHOWN_FAILURES} failing or "
                f"errored checks</summary>{_failure_table(failing[SHOWN_FAILURES:])}</details>"
            )
    found = datasets(rows)
    rates = [d for d in found if d.kind == "rate"]
    hists = [d for d in found if d.kind == "history"]
    if rates:
        parts.append(
            f"<h2>Rates ({len(rates)} datasets)</h2><p class='em'>Each plot is one distinct "
            "(ladder, errors) dataset with every verdict it supports. Dashed: fitted power law; "
            "dotted: fit with a D/M correction term; green wedge: slopes the verdict accepts, "
            "through the fitted centre; grey: a one-sided slope bound; red dotted: a bound on "
            "the plotted value.</p>"
        )
        parts.append(_figures(rates))
    if hists:
        parts.append(f"<h2>Training histories ({len(hists)})</h2>")
        parts.append(_figures(hists))
    parts.append(
        f"<details><summary>All checks ({len(rows)})</summary><table><tr><th>check</th>"
        "<th>status</th><th>figure vs bound</th><th>error model / reason</th>"
        "<th>reproduce</th></tr>"
    )
    for r in _sorted_rows(report):
        cls = "not" if r["status"] == "not checked" else r["status"]
        parts.append(
            f"<tr class='{cls}'><td><code>{e(r['id'])}</code><br>{e(r.get('title', ''))}</td>"
            f"<td>{_st(r['status'])}</td><td>{e(figure_vs_bound(r))}</td>"
            f"<td><span class='em'>{e(r.get('error_model') or '')}</span>"
            f"{'<br><i>' + e(r['reason']) + '</i>' if r.get('reason') else ''}</td>"
            f"<td>{_case_link(r)}<pre>{e(r.get('reproduce') or '')}</pre></td></tr>"
        )
    parts.append("</table></details></body></html>")
    return "".join(parts)
