"""The report as Markdown, for a plain-text viewer: summary, claims, groups, failures (each with
its case file and one command), fitted rates, training histories, and every check.

Table cells escape ``|`` and newlines (:func:`md_cell`); relations are symbols (``≤``, ``∈``).
"""

from __future__ import annotations

from typing import Any

from .rows import figure_vs_bound, finite, num
from .summary import (
    claim_summary,
    datasets,
    failing,
    fit_summary,
    group_counts,
    headline,
    run_notes,
    series_text,
    sorted_rows,
    verdict_line,
)

__all__ = ["markdown", "md_cell"]


def md_cell(v: Any) -> str:
    """``v`` as text for one Markdown table cell: ``|`` escaped, newlines as spaces."""
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
        f"**{headline(report)}**",
        "",
        f"- implementation: `{impl.get('source') or impl.get('name')}` "
        f"({impl.get('framework')}, {impl.get('dtype')})",
        f"- suite {report['suite'].get('version')}, profile `{report['profile']}`, "
        f"mforacle {report['mforacle_version']}, {report['created']}",
        f"- command: `{report['command']}`",
        *[f"- note: {n}" for n in run_notes(report)],
        "",
        "## Claims",
        "",
        "| claim | title | checks | status | worst figure vs bound |",
        "|---|---|---:|---|---|",
    ]
    for c in claims:
        lines.append(
            f"| {md_cell(c['claim'])} | {md_cell(c['title'])} | {c['checks']} | "
            f"{'**' + c['status'] + '**' if c['status'] != 'pass' else 'pass'} | "
            f"{md_cell(figure_vs_bound(c))} |"
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
    bad = failing(report)
    lines += ["", f"## Failures and errors ({len(bad)})", ""]
    if not bad:
        lines.append("None.")
    for r in bad:
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
                f"{md_cell(series_text(d.x))} | "
                f"{md_cell(series_text(d.y))} | "
                f"{md_cell(fit_summary(d))} | "
                f"{md_cell('; '.join(verdict_line(r, base) for r in d.rows))} |"
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
            ys = [v for v in map(finite, d.y) if v is not None]
            xs = [v for v in map(finite, d.x) if v is not None]
            lines.append(
                f"| {', '.join(d.claims)} | {', '.join(d.checks)} | {len(d.y)} | "
                f"{num(min(xs)) if xs else '—'} … {num(max(xs)) if xs else '—'} | "
                f"{num(ys[0]) if ys else '—'} → {num(ys[-1]) if ys else '—'} "
                f"({num(min(ys)) if ys else '—'}) | "
                f"{md_cell('; '.join(verdict_line(r, base) for r in d.rows))} |"
            )
    lines += [
        "",
        f"## All checks ({len(rows)})",
        "",
        "| check | status | figure vs bound | note | reproduce |",
        "|---|---|---|---|---|",
    ]
    for r in sorted_rows(report):
        note = str(r.get("reason") or "")[:160]
        lines.append(
            f"| `{r['id']}` | {r['status']} | {md_cell(figure_vs_bound(r))} | {md_cell(note)} | "
            f"{'`' + md_cell(r['reproduce']) + '`' if r.get('reproduce') else ''} |"
        )
    return "\n".join(lines) + "\n"
