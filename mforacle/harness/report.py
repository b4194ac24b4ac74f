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

``case_file`` (relative to the report) holds the verdict's ``mforacle-case/1`` case, moved out of
the evidence and saved under ``cases/`` (content-addressed); ``reproduce`` is one command that
re-runs the check on it. Plots: evidence ``{"ladder_name", "ladder", "errors", "fit": {"slope",
"ci", "intercept"}}`` (fit in natural logs) becomes a log-log convergence plot with the fitted
line; ``{"history": {"s", "loss"}}`` a loss-vs-training-time plot (log loss axis). The SVG
plotter is written here (no plotting library).
"""

from __future__ import annotations

import hashlib
import html
import json
import math
from pathlib import Path
from typing import Any

from ..caseio import write_json_atomic, write_text_atomic

__all__ = ["REPORT_FORMAT", "svg_history", "svg_loglog", "verdict_rows", "write_report"]

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

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 360, 240, 56, 14, 26, 40


# --- SVG -----------------------------------------------------------------------------------


def _finite_pos(xs: list[Any], ys: list[Any], logx: bool) -> list[tuple[float, float]]:
    pts = []
    for x, y in zip(xs, ys, strict=False):
        try:
            fx, fy = float(x), float(y)
        except (TypeError, ValueError):
            continue
        if math.isfinite(fx) and math.isfinite(fy) and fy > 0 and (fx > 0 or not logx):
            pts.append((fx, fy))
    return pts


def _decades(lo: float, hi: float) -> list[float]:
    a, b = math.floor(lo), math.ceil(hi)
    step = max(1, (b - a) // 5)
    return [float(v) for v in range(a, b + 1, step)]


def _svg(
    pts: list[tuple[float, float]],
    *,
    logx: bool,
    title: str,
    xlabel: str,
    ylabel: str,
    line: list[tuple[float, float]] | None = None,
    legend: str = "",
) -> str:
    """A scatter (log y; log x if ``logx``) with an optional straight line, as an <svg>."""
    if not pts:
        return ""
    tx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    xs = [tx(x) for x, _ in pts]
    ys = [math.log10(y) for _, y in pts]
    if line:
        xs += [tx(x) for x, _ in line]
        ys += [math.log10(y) for _, y in line if y > 0]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 - x0 < 1e-12:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 - y0 < 1e-12:
        y0, y1 = y0 - 0.5, y1 + 0.5
    padx, pady = 0.05 * (x1 - x0), 0.08 * (y1 - y0)
    x0, x1, y0, y1 = x0 - padx, x1 + padx, y0 - pady, y1 + pady

    def px(v: float) -> float:
        return PAD_L + (tx(v) - x0) / (x1 - x0) * (W - PAD_L - PAD_R)

    def py(v: float) -> float:
        return H - PAD_B - (math.log10(v) - y0) / (y1 - y0) * (H - PAD_T - PAD_B)

    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="10">',
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="14" text-anchor="middle" font-size="11">{e(title)}</text>',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
        f'height="{H - PAD_T - PAD_B}" fill="none" stroke="#444"/>',
    ]
    for dy in _decades(y0, y1):
        if y0 <= dy <= y1:
            yy = py(10.0**dy)
            out.append(
                f'<line x1="{PAD_L}" y1="{yy:.1f}" x2="{W - PAD_R}" y2="{yy:.1f}" stroke="#ddd"/>'
            )
            out.append(
                f'<text x="{PAD_L - 4}" y="{yy + 3:.1f}" text-anchor="end">1e{int(dy)}</text>'
            )
    if logx:
        ticks = [10.0**v for v in _decades(x0, x1) if x0 <= v <= x1]
        ticks += [x for x, _ in pts]
        labels = sorted(set(ticks))
    else:
        labels = [x0 + (x1 - x0) * i / 4 for i in range(5)]
    for xv in labels:
        xx = px(xv)
        out.append(
            f'<line x1="{xx:.1f}" y1="{H - PAD_B}" x2="{xx:.1f}" y2="{H - PAD_B + 4}" '
            'stroke="#444"/>'
        )
        out.append(f'<text x="{xx:.1f}" y="{H - PAD_B + 14}" text-anchor="middle">{xv:.3g}</text>')
    out.append(
        f'<text x="{(PAD_L + W - PAD_R) / 2}" y="{H - 6}" text-anchor="middle">{e(xlabel)}</text>'
    )
    out.append(
        f'<text x="12" y="{(PAD_T + H - PAD_B) / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(PAD_T + H - PAD_B) / 2})">{e(ylabel)}</text>'
    )
    if line and len(line) >= 2:
        (ax, ay), (bx, by) = line[0], line[-1]
        out.append(
            f'<line x1="{px(ax):.1f}" y1="{py(ay):.1f}" x2="{px(bx):.1f}" y2="{py(by):.1f}" '
            'stroke="#c33" stroke-dasharray="4 3"/>'
        )
    if len(pts) > 1 and not logx:
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="#36c"/>')
    if logx or len(pts) <= 60:
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#36c"/>')
    if legend:
        out.append(
            f'<text x="{W - PAD_R - 4}" y="{PAD_T + 12}" text-anchor="end" fill="#c33">'
            f"{e(legend)}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def svg_loglog(
    ladder: list[Any],
    errors: list[Any],
    fit: dict[str, Any] | None = None,
    *,
    ladder_name: str = "L",
    title: str = "",
) -> str:
    """Convergence plot: errors vs ladder, log-log, with ``exp(intercept)·x^slope`` if fitted."""
    pts = _finite_pos(ladder, errors, logx=True)
    line = None
    legend = ""
    if fit and pts and fit.get("slope") is not None and fit.get("intercept") is not None:
        s, c = float(fit["slope"]), float(fit["intercept"])
        lo, hi = min(x for x, _ in pts), max(x for x, _ in pts)
        line = [(lo, math.exp(c + s * math.log(lo))), (hi, math.exp(c + s * math.log(hi)))]
        ci = fit.get("ci")
        legend = f"slope {s:.3f}"
        if isinstance(ci, list | tuple) and len(ci) == 2:
            legend += f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]"
    return _svg(
        pts,
        logx=True,
        title=title or f"error vs {ladder_name}",
        xlabel=ladder_name,
        ylabel="error",
        line=line,
        legend=legend,
    )


def svg_history(s: list[Any], loss: list[Any], *, title: str = "loss vs training time s") -> str:
    """Loss (log axis) against training time ``s`` (linear axis)."""
    return _svg(
        _finite_pos(s, loss, logx=False), logx=False, title=title, xlabel="s", ylabel="loss"
    )


def figure_svg(evidence: dict[str, Any], title: str = "") -> str:
    """The plot a verdict's evidence calls for, or ``""``."""
    try:
        if "ladder" in evidence and "errors" in evidence:
            return svg_loglog(
                list(evidence["ladder"]),
                list(evidence["errors"]),
                evidence.get("fit"),
                ladder_name=str(evidence.get("ladder_name", "n")),
                title=title,
            )
        hist = evidence.get("history")
        if isinstance(hist, dict) and "s" in hist and "loss" in hist:
            return svg_history(list(hist["s"]), list(hist["loss"]))
    except (TypeError, ValueError, OverflowError):
        return ""
    return ""


# --- report assembly -----------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.3e}" if v == v else "nan"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


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
    """Write ``stem.json``, ``stem.md`` and ``stem.html`` under ``out_dir``, each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    missing = [k for k in REQUIRED_KEYS if k not in report]
    if missing:
        raise ValueError(f"report lacks keys {missing}")
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md", "html": out / f"{stem}.html"}
    write_json_atomic(paths["json"], report)
    write_text_atomic(paths["md"], markdown(report))
    write_text_atomic(paths["html"], html_page(report))
    return paths


def _headline(report: dict[str, Any]) -> str:
    s = report["summary"]
    word = "PASS" if s["ok"] else "FAIL"
    return (
        f"{word}: {s['pass']} passed, {s['fail']} failed, {s['error']} errors, "
        f"{s['not checked']} not checked ({s['total']} checks, {report['duration_s']:.1f} s)"
    )


def markdown(report: dict[str, Any]) -> str:
    impl = report["implementation"]
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
        "| check | status | figure | relation | bound | note |",
        "|---|---|---|---|---|---|",
    ]
    order = {"fail": 0, "error": 1, "pass": 2, "not checked": 3}
    rows = sorted(report["verdicts"], key=lambda r: order.get(r["status"], 4))
    for r in rows:
        note = (r.get("reason") or "").replace("|", "\\|").replace("\n", " ")[:160]
        lines.append(
            f"| `{r['id']}` | {r['status']} | {_fmt(r.get('figure'))} | "
            f"{html.escape(str(r.get('relation')))} | {_fmt(r.get('bound'))} | {note} |"
        )
    failing = [r for r in rows if r["status"] in ("fail", "error")]
    if failing:
        lines += ["", "## Reproducing failures", ""]
        for r in failing:
            lines.append(f"- `{r['id']}`: {r.get('title', '')}")
            if r.get("error_model"):
                lines.append(f"  - bound: {r['error_model']}")
            if r.get("reproduce"):
                lines.append(f"  - `{r['reproduce']}`")
    return "\n".join(lines) + "\n"


_CSS = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 6px;
font-size:13px;vertical-align:top}.pass{background:#e8f6e8}.fail,.error{background:#fbe3e3}
.not{background:#f3f3f3}code,pre{font-size:12px}pre{white-space:pre-wrap;margin:0}
.plots svg{margin:6px;border:1px solid #eee}"""


def html_page(report: dict[str, Any]) -> str:
    """One self-contained page: inline CSS and SVG, no external resource."""
    e = html.escape
    impl = report["implementation"]
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>mforacle report — {e(str(impl.get('name')))}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>mforacle conformance report — {e(str(impl.get('name')))}</h1>",
        f"<p><b>{e(_headline(report))}</b></p>",
        f"<p>implementation <code>{e(str(impl.get('source') or impl.get('name')))}</code> "
        f"({e(str(impl.get('framework')))}, {e(str(impl.get('dtype')))}); suite "
        f"{e(str(report['suite'].get('version')))}; profile {e(report['profile'])}; "
        f"mforacle {e(report['mforacle_version'])}; {e(report['created'])}<br>"
        f"command: <code>{e(report['command'])}</code></p>",
    ]
    plots = []
    for r in report["verdicts"]:
        svg = figure_svg(r.get("evidence") or {}, f"{r['claim']}: {r['status']}")
        if svg:
            plots.append((r, svg))
    if plots:
        parts.append("<h2>Convergence and training</h2><div class='plots'>")
        for r, svg in plots:
            parts.append(
                f"<figure style='display:inline-block'>{svg}<figcaption>"
                f"<code>{e(r['id'])}</code> {e(r.get('title', ''))}</figcaption></figure>"
            )
        parts.append("</div>")
    parts.append(
        "<h2>Checks</h2><table><tr><th>check</th><th>status</th><th>figure</th>"
        "<th>bound</th><th>error model / reason</th><th>reproduce</th></tr>"
    )
    order = {"fail": 0, "error": 1, "pass": 2, "not checked": 3}
    for r in sorted(report["verdicts"], key=lambda r: order.get(r["status"], 4)):
        cls = "not" if r["status"] == "not checked" else r["status"]
        repro = r.get("reproduce") or ""
        case_link = f"<a href='{e(r['case_file'])}'>case</a><br>" if r.get("case_file") else ""
        parts.append(
            f"<tr class='{cls}'><td><code>{e(r['id'])}</code><br>{e(r.get('title', ''))}</td>"
            f"<td>{e(r['status'])}</td><td>{e(_fmt(r.get('figure')))}</td>"
            f"<td>{e(str(r.get('relation')))} {e(_fmt(r.get('bound')))}</td>"
            f"<td>{e(r.get('error_model') or '')}<br><i>{e(r.get('reason') or '')}</i></td>"
            f"<td>{case_link}<pre>{e(repro)}</pre></td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)
