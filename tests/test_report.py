"""Reports: the JSON schema's keys, Markdown and a self-contained HTML page with inline SVG, tick
labels that never overlap, one plot per distinct dataset, failures with their reproduction."""

from __future__ import annotations

import itertools
import json
import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from mforacle.cli import main
from mforacle.harness.report import (
    REQUIRED_KEYS,
    VERDICT_KEYS,
    datasets,
    markdown,
    svg_history,
    svg_loglog,
    write_report,
)
from mforacle.harness.svgplot import CHAR_W, GAP, LINE_H, linear_ticks, log_ticks

A2_LADDER = [2.0**-k for k in range(8, 29, 2)]  # the Taylor test's h = 2^-8 ... 2^-28


def _rate(ladder, errors, slope, ci, intercept, **extra):
    return {
        "ladder_name": "L",
        "ladder": ladder,
        "errors": errors,
        "fit": {"slope": slope, "ci": ci, "intercept": intercept, "confidence": 0.95},
        **extra,
    }


def _row(rid, claim, status, figure, relation, bound, evidence, **kw):
    return {
        "id": rid,
        "claim": claim,
        "title": kw.pop("title", claim + " title"),
        "status": status,
        "figure": figure,
        "relation": relation,
        "bound": bound,
        "error_model": kw.pop("error_model", "model"),
        "reason": kw.pop("reason", ""),
        "evidence": evidence,
        "case_file": kw.pop("case_file", None),
        "reproduce": kw.pop("reproduce", None),
    }


def _report(rows):
    counts = {k: sum(r["status"] == k for r in rows) for k in ("pass", "fail", "error")}
    return {
        "format": "mforacle-report/1",
        "created": "t",
        "mforacle_version": "0",
        "command": "mforacle report",
        "profile": "dev",
        "implementation": {"name": "n"},
        "suite": {},
        "summary": {
            **counts,
            "not checked": sum(r["status"] == "not checked" for r in rows),
            "total": len(rows),
            "ok": counts["fail"] == counts["error"] == 0,
        },
        "duration_s": 0.1,
        "verdicts": rows,
    }


B1_EV = _rate([4, 8, 16, 32], [1e-2, 5.1e-3, 2.4e-3, 1.26e-3], -1.0, [-1.1, -0.9], -2.3)
ROWS = [
    _row("claim::B1#0", "B1", "pass", -1.0, "in", [-1.15, -0.85], B1_EV, title="depth"),
    # B1.ratio: the same ladder and errors, another verdict on them
    _row(
        "claim::B1#1",
        "B1.ratio",
        "pass",
        1.98,
        "in",
        [1.8, 2.2],
        dict(B1_EV),
        title="depth: err(L)/err(2L) -> 2",
    ),
    _row(
        "claim::C1#0",
        "C1",
        "fail",
        2.0,
        "<=",
        1.0,
        {"history": {"s": [0, 0.5, 1.0, 1.5], "loss": [1.0, 0.5, 0.3, 0.2]}},
        reason="<b>",
        case_file="cases/C1-abc.json",
        reproduce="mforacle claims --claim C1",
    ),
    _row("small/tanh::z_L", "H1.forward", "pass", 1e-17, "<=", 1e-15, {}),
]


def test_check_report_files_and_schema(tmp_path):
    out = tmp_path / "rep"
    code = main(
        ["check", "examples.numpy_resnet:IMPL", "--only", "small/", "--out", str(out), "--quiet"]
    )
    report = json.loads((out / "check.json").read_text())
    assert code == (0 if report["summary"]["ok"] else 1)
    assert set(REQUIRED_KEYS) <= set(report) and report["format"] == "mforacle-report/1"
    assert report["verdicts"] and all(set(VERDICT_KEYS) <= set(r) for r in report["verdicts"])
    # added keys: per-claim summary and per-group counts, consistent with the verdicts
    assert sum(c["checks"] for c in report["claims"]) == len(report["verdicts"])
    assert sum(g["checks"] for g in report["groups"]) == len(report["verdicts"])
    row = next(r for r in report["verdicts"] if r["id"] == "small/tanh::grad_theta")
    assert row["status"] == "pass" and row["figure"] <= row["bound"]
    assert (out / row["case_file"]).is_file()
    assert "--case" in row["reproduce"] and "--only grad_theta" in row["reproduce"]
    # the reproduction command re-runs that single check on the saved case
    case_path = str(out / row["case_file"])
    again_out = str(tmp_path / "again")
    args = ["check", "examples.numpy_resnet:IMPL", "--case", case_path, "--only", "grad_theta"]
    assert main([*args, "--out", again_out, "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "check.json").read_text())
    assert [r["status"] for r in again["verdicts"]] == ["pass"]
    md = (out / "check.md").read_text()
    assert "small/tanh::z_L" in md and "| check | status |" in md
    assert " ≤ " in md and "&lt;" not in md  # relations as symbols, not HTML entities


def test_html_is_self_contained_with_svg_plots(tmp_path):
    paths = write_report(_report(ROWS), tmp_path)
    page = paths["html"].read_text()
    # B1 and B1.ratio share one plot; the C1 history is the other
    assert page.count("<svg") == 2, page.count("<svg")
    assert "fit: slope -1.000, 95% CI [-1.100, -0.900]" in page
    assert "Training histories (1)" in page and "training time s" in page
    assert not re.search(r"""(src|href)\s*=\s*['"]?\s*(https?:|//)""", page)  # nothing fetched
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert "<i>&lt;b&gt;</i>" in page and "<i><b></i>" not in page  # escaped, inert
    md = paths["md"].read_text()
    assert "FAIL" in md and "∈ [-1.15, -0.85]" in md and "≤ 1" in md
    report = json.loads(paths["json"].read_text())
    assert {"claims", "groups", "plots"} <= set(report)
    assert [p["claims"] for p in report["plots"]] == [["B1", "B1.ratio"], ["C1"]]


def test_one_plot_per_distinct_dataset_lists_every_verdict():
    other = _rate([4, 8, 16, 32], [2e-2, 1e-2, 5e-3, 2.5e-3], -1.0, [-1.01, -0.99], -1.6)
    rows = [*ROWS, _row("claim::B1#2", "B1.Z1", "pass", -1.0, "in", [-1.15, -0.85], other)]
    found = datasets(rows)
    assert [(d.kind, d.claims) for d in found] == [
        ("rate", ["B1", "B1.ratio"]),
        ("history", ["C1"]),
        ("rate", ["B1.Z1"]),
    ]
    page = _report(rows)
    from mforacle.harness.report import html_page

    text = html_page(page)
    assert text.count("<svg") == 3
    # the shared plot's caption states both verdicts and the fitted slope with its CI
    cap = text.split("<b>B1, B1.ratio</b>")[1].split("</figcaption>")[0]
    assert "B1</b>: -1 ∈ [-1.15, -0.85]" in cap and "B1.ratio</b>: 1.98 ∈ [1.8, 2.2]" in cap
    assert "slope -1.000, 95% CI [-1.100, -0.900]" in cap
    # a history equal to the row's own ladder errors (C4) is not plotted twice
    c4 = {
        "ladder_name": "rung",
        "ladder": [{"L": 2, "M": 4, "s": 20.0}, {"L": 4, "M": 8, "s": 80.0}],
        "errors": [0.02, 3e-6],
        "history": {"s": [20.0, 80.0], "loss": [0.02, 3e-6]},
    }
    c4_rows = [
        _row("claim::C4#0", "C4", "pass", 3e-6, "<=", 1e-3, c4),
        _row(
            "claim::C4#1",
            "C4.ladder",
            "pass",
            1.5e-4,
            "<=",
            1.0,
            {k: c4[k] for k in ("ladder", "errors")},
        ),
    ]
    assert [(d.kind, d.claims) for d in datasets(c4_rows)] == [("rate", ["C4", "C4.ladder"])]
    assert "L=2,M=4,s=20" in html_page(_report(c4_rows))


def test_failing_check_keeps_its_reproduction_at_the_top():
    rows = [
        *ROWS,
        _row(
            "small/tanh::loss",
            "H2.loss",
            "error",
            None,
            "<=",
            None,
            {},
            reason="boom",
            case_file="cases/small-tanh-1.json",
            reproduce="mforacle check x:IMPL --case cases/small-tanh-1.json --only loss",
        ),
    ]
    from mforacle.harness.report import html_page

    page = html_page(_report(rows))
    head, failures = page.split("<h2 id='failures'>")
    assert "2 failing or errored checks" in head  # the summary points to them
    top = failures.split("<h2")[0]  # the failures section
    for rid, case, cmd in (
        ("claim::C1#0", "cases/C1-abc.json", "mforacle claims --claim C1"),
        (
            "small/tanh::loss",
            "cases/small-tanh-1.json",
            "mforacle check x:IMPL --case cases/small-tanh-1.json --only loss",
        ),
    ):
        assert rid in top and f"href='{case}'" in top and cmd in top
    md = markdown(_report(rows))
    fails = md.split("## Failures and errors (2)")[1].split("\n## ")[0]
    assert "cases/C1-abc.json" in fails and "mforacle claims --claim C1" in fails
    assert "cases/small-tanh-1.json" in fails and "--only loss" in fails
    # and the per-claim table shows the failing claim as failing
    assert re.search(r"\| C1 \| C1 title \| 1 \| \*\*fail\*\* \| 2 ≤ 1 \|", md)


def _assert_spaced(ticks, lo, hi, length, *, vertical=False, log=True):
    """Independent of the module's own check: centres at least half of both widths + GAP apart."""

    def pos(v):
        if log:
            return (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * length
        return (v - lo) / (hi - lo) * length

    placed = sorted((pos(v), lab) for v, lab in ticks)
    for (p, a), (q, b) in itertools.pairwise(placed):
        need = LINE_H if vertical else CHAR_W * (len(a) + len(b)) / 2
        assert q - p >= need + GAP - 1e-9, (a, b, q - p, need, ticks)
    if log:
        tol = 1e-9 * (math.log10(hi) - math.log10(lo))  # decades
        assert all(-tol <= math.log10(v / lo) and math.log10(v / hi) <= tol for v, _ in ticks)
    else:
        assert all(lo - 1e-9 * (hi - lo) <= v <= hi + 1e-9 * (hi - lo) for v, _ in ticks), ticks


def test_taylor_ladder_ticks_are_powers_of_two_and_do_not_overlap():
    lo, hi = A2_LADDER[-1] * 0.6, A2_LADDER[0] * 1.6
    ticks = log_ticks(lo, hi, 328, values=A2_LADDER)
    labels = [t for _, t in ticks]
    assert "2⁻⁸" in labels and "2⁻²⁸" in labels and 3 <= len(labels) < len(A2_LADDER), labels
    _assert_spaced(ticks, lo, hi, 328)
    # the rendered SVG puts the same labels on its x axis, and every ladder point is drawn
    svg = svg_loglog(
        A2_LADDER, [h**2 for h in A2_LADDER], {"slope": 2.0, "intercept": 0.0}, ladder_name="h"
    )
    assert svg.count("<circle") == len(A2_LADDER) and all(lab in svg for lab in labels)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_log_ticks_never_overlap(data):
    lo_exp = data.draw(st.floats(-30, 5), label="log10 lo")
    decades = data.draw(st.floats(0.05, 40), label="decades spanned")
    length = data.draw(st.floats(80, 600), label="axis length")
    vertical = data.draw(st.booleans(), label="vertical")
    lo, hi = 10.0**lo_exp, 10.0 ** (lo_exp + decades)
    ticks = log_ticks(lo, hi, length, vertical=vertical)
    _assert_spaced(ticks, lo, hi, length, vertical=vertical)
    assert ticks, (lo, hi, length)  # the two ends at worst


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_ladder_ticks_never_overlap(data):
    k_max = data.draw(st.integers(-12, 12), label="largest exponent")
    rungs = data.draw(st.integers(2, 30), label="rungs")
    ratio = data.draw(st.sampled_from([2, 4, 10]), label="ladder ratio")
    length = data.draw(st.floats(120, 600), label="axis length")
    ladder = [float(ratio) ** (k_max - i) for i in range(rungs)]
    lo, hi = min(ladder) * 0.8, max(ladder) * 1.2
    ticks = log_ticks(lo, hi, length, values=ladder)
    _assert_spaced(ticks, lo, hi, length)
    assert ticks


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_linear_ticks_never_overlap(data):
    lo = data.draw(st.floats(-50, 50), label="lo")
    span = data.draw(st.floats(1e-3, 1e4), label="span")
    length = data.draw(st.floats(100, 600), label="axis length")
    ticks = linear_ticks(lo, lo + span, length)
    _assert_spaced(ticks, lo, lo + span, length, log=False)


def test_svg_plotters_place_points_and_fit():
    svg = svg_loglog(
        [4, 8, 16], [1e-2, 5e-3, 2.5e-3], {"slope": -1.0, "intercept": -3.22}, ladder_name="M"
    )
    assert svg.startswith("<svg") and svg.count("<circle") == 3 and "stroke-dasharray" in svg
    assert svg_loglog([1], [float("nan")]) == ""  # nothing plottable: no figure
    hist = svg_history([0, 1, 2], [1.0, 0.1, 0.01])
    assert "<polyline" in hist and hist.count("<circle") == 3


def test_training_claims_evidence_gives_a_loss_history_plot():
    """C1 as the claim module produces it (a short particle flow) plots E against s."""
    from mforacle.claims.decay import check_c1_flow
    from mforacle.claims.training_cases import builtin_flow_case
    from mforacle.harness.report import figure_svg

    v = check_c1_flow(builtin_flow_case(0), T=5, n=4, steps=4)
    svg = figure_svg(v.to_json()["evidence"], "C1.flow")
    assert "training time s" in svg and svg.count("<circle") == 5
