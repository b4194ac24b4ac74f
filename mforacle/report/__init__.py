"""Reports of a run: JSON (stable schema), Markdown, and a self-contained HTML page with plots.

Layer: above :mod:`mforacle.harness` (it reads verdicts and runner summaries), below the CLI.
One module per job:

- :mod:`~mforacle.report.rows` — the schema's keys, verdicts as rows, numbers as text;
- :mod:`~mforacle.report.summary` — per-claim and per-group summaries, plottable datasets;
- :mod:`~mforacle.report.plots` — the plots (matplotlib, SVG backend, deterministic);
- :mod:`~mforacle.report.markdown` and :mod:`~mforacle.report.html` — the two renderings;
- :mod:`~mforacle.report.files` — writing the files; :mod:`~mforacle.report.session` — timing a
  run and assembling its report.

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

Plots: evidence ``{"ladder_name", "ladder", "errors", "fit": {"slope", "ci", "intercept"[,
"correction_D"]}}`` (fit in natural logs) becomes a log-log convergence plot with the fitted line
(or curve, with a ``D/M`` term) and the accepted slope window; ``{"history": {"s", "loss"}}`` a
loss-vs-training-time plot (log loss axis). Verdicts with the same ``(ladder, errors)`` or the
same history share one plot whose caption lists every verdict it supports.
"""

from __future__ import annotations

from .files import complete, save_cases, write_report
from .html import html_page
from .markdown import markdown
from .plots import dataset_svg, figure_svg, svg_history, svg_loglog
from .rows import REPORT_FORMAT, REQUIRED_KEYS, VERDICT_KEYS, verdict_rows
from .summary import Dataset, claim_summary, datasets, group_counts

__all__ = [
    "REPORT_FORMAT",
    "REQUIRED_KEYS",
    "VERDICT_KEYS",
    "Dataset",
    "claim_summary",
    "complete",
    "dataset_svg",
    "datasets",
    "figure_svg",
    "group_counts",
    "html_page",
    "markdown",
    "save_cases",
    "svg_history",
    "svg_loglog",
    "verdict_rows",
    "write_report",
]
