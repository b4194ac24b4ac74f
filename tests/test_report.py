"""Reports: the JSON schema's keys, Markdown and a self-contained HTML page with inline SVG."""

from __future__ import annotations

import json
import re

from mforacle.cli import main
from mforacle.harness.report import REQUIRED_KEYS, VERDICT_KEYS, svg_history, svg_loglog


def test_check_report_files_and_schema(tmp_path):
    out = tmp_path / "rep"
    code = main(
        ["check", "examples.numpy_resnet:IMPL", "--only", "small/", "--out", str(out), "--quiet"]
    )
    report = json.loads((out / "check.json").read_text())
    assert code == (0 if report["summary"]["ok"] else 1)
    assert set(REQUIRED_KEYS) <= set(report) and report["format"] == "mforacle-report/1"
    assert report["verdicts"] and all(set(VERDICT_KEYS) <= set(r) for r in report["verdicts"])
    row = next(r for r in report["verdicts"] if r["id"] == "small/tanh::grad_theta")
    assert row["status"] == "pass" and row["figure"] <= row["bound"]
    assert (out / row["case_file"]).is_file()
    assert "--case" in row["reproduce"] and "--only grad_theta" in row["reproduce"]
    # the reproduction command re-runs that single check on the saved case
    case_path = str(out / row["case_file"])
    assert (
        main(
            [
                "check",
                "examples.numpy_resnet:IMPL",
                "--case",
                case_path,
                "--only",
                "grad_theta",
                "--out",
                str(tmp_path / "again"),
                "--quiet",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "again" / "check.json").read_text())
    assert [r["status"] for r in again["verdicts"]] == ["pass"]
    md = (out / "check.md").read_text()
    assert "small/tanh::z_L" in md and "| check | status |" in md


def test_html_is_self_contained_with_svg_plots(tmp_path):
    from mforacle.harness.report import write_report

    evidence_rate = {
        "ladder_name": "L",
        "ladder": [4, 8, 16, 32],
        "errors": [1e-2, 5.1e-3, 2.4e-3, 1.26e-3],
        "fit": {"slope": -1.0, "ci": [-1.1, -0.9], "intercept": -0.2},
    }
    evidence_hist = {"history": {"s": [0, 0.5, 1.0, 1.5], "loss": [1.0, 0.5, 0.3, 0.2]}}
    rows = [
        {
            "id": "B1",
            "claim": "B1",
            "title": "depth",
            "status": "pass",
            "figure": -1.0,
            "relation": "in",
            "bound": [-1.15, -0.85],
            "error_model": "fit",
            "reason": "",
            "evidence": evidence_rate,
            "case_file": None,
            "reproduce": "mforacle claims --claim B1",
        },
        {
            "id": "C1",
            "claim": "C1",
            "title": "decay",
            "status": "fail",
            "figure": 2.0,
            "relation": "<=",
            "bound": 1.0,
            "error_model": "",
            "reason": "<b>",
            "evidence": evidence_hist,
            "case_file": None,
            "reproduce": None,
        },
    ]
    report = {
        "format": "mforacle-report/1",
        "created": "t",
        "mforacle_version": "0",
        "command": "x",
        "profile": "dev",
        "implementation": {"name": "n"},
        "suite": {},
        "summary": {"pass": 1, "fail": 1, "error": 0, "not checked": 0, "total": 2, "ok": False},
        "duration_s": 0.1,
        "verdicts": rows,
    }
    paths = write_report(report, tmp_path)
    page = paths["html"].read_text()
    assert page.count("<svg") == 2 and "slope -1.000 [-1.100, -0.900]" in page
    assert not re.search(r"""(src|href)=['"]?https?:""", page)  # nothing fetched from outside
    assert "<script" not in page and "&lt;b&gt;" in page  # escaped, inert
    assert "FAIL" in paths["md"].read_text()


def test_svg_plotters_place_points_and_fit():
    svg = svg_loglog(
        [4, 8, 16], [1e-2, 5e-3, 2.5e-3], {"slope": -1.0, "intercept": -3.22}, ladder_name="M"
    )
    assert svg.startswith("<svg") and svg.count("<circle") == 3 and "stroke-dasharray" in svg
    assert svg_loglog([1], [float("nan")]) == ""  # nothing plottable: no figure
    hist = svg_history([0, 1, 2], [1.0, 0.1, 0.01])
    assert "<polyline" in hist and hist.count("<circle") == 3
