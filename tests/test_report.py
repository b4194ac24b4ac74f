"""Reports: the JSON schema's keys, Markdown and a self-contained HTML page with inline SVG
(matplotlib, deterministic, unique ids), tick labels that never overlap, one plot per distinct
dataset, failures with their reproduction, and every text field escaped."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from mforacle.cli import main
from mforacle.report import (
    REQUIRED_KEYS,
    VERDICT_KEYS,
    Dataset,
    dataset_svg,
    datasets,
    figure_svg,
    html_page,
    markdown,
    svg_history,
    svg_loglog,
    write_report,
)
from mforacle.report.plots import _style, dataset_figure, drawn_tick_labels, tick_labels_overlap

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
    page = html_page(_report(c4_rows))
    assert all(f">{t}<" in page for t in ("L=2", "M=4", "s=20")), "rung labels on the x axis"


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
    page = html_page(_report(rows))
    head, failures = page.split('<h2 id="failures">')
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
        assert rid in top and f'href="{case}"' in top and cmd in top
    md = markdown(_report(rows))
    fails = md.split("## Failures and errors (2)")[1].split("\n## ")[0]
    assert "cases/C1-abc.json" in fails and "mforacle claims --claim C1" in fails
    assert "cases/small-tanh-1.json" in fails and "--only loss" in fails
    # and the per-claim table shows the failing claim as failing
    assert re.search(r"\| C1 \| C1 title \| 1 \| \*\*fail\*\* \| 2 ≤ 1 \|", md)


def _rate_ds(ladder, errors, fit=None, ladder_name="L", claim="B1"):
    ds = Dataset("rate", "k", ladder_name=ladder_name, x=list(ladder), y=list(errors))
    ds.fits += [fit] if fit else []
    ds.rows.append({"id": claim, "claim": claim, "status": "pass"})
    return ds


def _plotted(fig):
    """The (x, y) points of the data series: the first line drawn."""
    line = fig.axes[0].lines[0]
    return list(line.get_xdata()), list(line.get_ydata())


def test_taylor_ladder_ticks_are_powers_of_two_and_every_point_is_drawn():
    ds = _rate_ds(A2_LADDER, [h**2 for h in A2_LADDER], {"slope": 2.0, "intercept": 0.0}, "h")
    with _style():
        fig = dataset_figure(ds)
        labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
        assert "2⁻⁸" in labels and "2⁻²⁸" in labels and 3 <= len(labels) <= len(A2_LADDER), labels
        assert not tick_labels_overlap(fig, fig.axes[0])
        assert _plotted(fig)[0] == A2_LADDER
    # the SVG shows the same labels as text
    svg = svg_loglog(
        A2_LADDER, [h**2 for h in A2_LADDER], {"slope": 2.0, "intercept": 0.0}, ladder_name="h"
    )
    assert all(f">{lab}<" in svg for lab in labels)


def test_the_overlap_check_catches_crowded_labels():
    """The deliberately broken layout: every one of 30 rungs labelled on one axis."""
    ladder = [2.0**-k for k in range(30)]
    with _style():
        fig = dataset_figure(_rate_ds(ladder, ladder))
        ax = fig.axes[0]
        assert not tick_labels_overlap(fig, ax)
        ax.set_xticks(ladder, [f"2^-{k}" for k in range(30)])
        assert tick_labels_overlap(fig, ax)


@given(data=st.data())
def test_ladder_and_log_ticks_never_overlap(data):
    k_max = data.draw(st.integers(-12, 12), label="largest exponent")
    rungs = data.draw(st.integers(2, 30), label="rungs")
    ratio = data.draw(st.sampled_from([2, 3, 4, 10]), label="ladder ratio")
    lo_exp = data.draw(st.floats(-30, 5), label="log10 of the smallest error")
    decades = data.draw(st.floats(0.05, 40), label="decades of errors")
    ladder = [float(ratio) ** (k_max - i) for i in range(rungs)]
    errors = [10.0 ** (lo_exp + decades * i / max(rungs - 1, 1)) for i in range(rungs)]
    with _style():
        fig = dataset_figure(_rate_ds(ladder, errors))
        ax = fig.axes[0]
        assert not tick_labels_overlap(fig, ax)
        xs, ys = drawn_tick_labels(fig, ax.xaxis), drawn_tick_labels(fig, ax.yaxis)
        assert xs and ys, (xs, ys)
        # every label inside the figure (nothing cut off at an edge)
        width, height = fig.canvas.get_width_height()
        for text, box in xs + ys:
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, text


def test_rung_labels_never_overlap():
    rungs = [{"L": 2**k, "M": 2 ** (k + 1), "s": 20.0 * 4**k} for k in range(1, 9)]
    ds = _rate_ds(rungs, [10.0**-k for k in range(1, 9)], ladder_name="rung", claim="C4")
    with _style():
        fig = dataset_figure(ds)
        ax = fig.axes[0]
        assert not tick_labels_overlap(fig, ax)
        labels = drawn_tick_labels(fig, ax.xaxis)
        assert labels[-1][0] == "L=256\nM=512\ns=1.311e+06", labels  # anchored at the last rung
        width, height = fig.canvas.get_width_height()
        for text, box in labels + drawn_tick_labels(fig, ax.yaxis):
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height, text


def test_svg_is_deterministic_with_unique_ids():
    ds = _rate_ds([4, 8, 16], [1e-2, 5e-3, 2.5e-3], {"slope": -1.0, "intercept": -3.22})
    one, again, other = dataset_svg(ds, "a"), dataset_svg(ds, "a"), dataset_svg(ds, "b")
    assert one == again  # no date, no random ids
    assert one.replace('id="a-', 'id="b-').replace("#a-", "#b-") == other
    assert one.startswith("<svg") and "<?xml" not in one and "DOCTYPE" not in one
    ids = re.findall(r'\bid="([^"]+)"', one)
    assert ids and all(i.startswith("a-") for i in ids) and len(ids) == len(set(ids))
    # every reference points at an id of the same plot
    assert set(re.findall(r'(?:url\(#|href="#)([^")]+)', one)) <= set(ids)


def test_page_ids_are_unique():
    page = html_page(_report(ROWS))
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1][:5]


def test_svg_plotters_place_points_and_fit():
    ds = _rate_ds([4, 8, 16], [1e-2, 5e-3, 2.5e-3], {"slope": -1.0, "intercept": -3.22}, "M")
    with _style():
        fig = dataset_figure(ds)
        assert _plotted(fig) == ([4.0, 8.0, 16.0], [1e-2, 5e-3, 2.5e-3])
        fit_line = fig.axes[0].lines[1]
        assert fit_line.get_linestyle() == "--"
        assert list(fit_line.get_xdata()) == [4.0, 16.0]
        assert math.isclose(fit_line.get_ydata()[1], math.exp(-3.22) / 16, rel_tol=1e-12)
    svg = svg_loglog([4, 8, 16], [1e-2, 5e-3, 2.5e-3], {"slope": -1.0, "intercept": -3.22})
    assert svg.startswith("<svg") and "fit: slope -1.000" in svg
    assert svg_loglog([1], [float("nan")]) == ""  # nothing plottable: no figure
    assert svg_loglog(["a", "b"], [1.0, 2.0]) != ""  # rungs that are not numbers: categories
    hist = svg_history([0, 1, 2], [1.0, 0.1, 0.01])
    assert "training time s" in hist and hist.startswith("<svg")


def test_html_escapes_every_text_field():
    """Text from a report (titles, reasons, commands, names) never becomes markup."""
    evil = "<script>alert(1)</script>&\"'"
    rows = [
        _row(
            evil,
            evil,
            "fail",
            1.0,
            "<=",
            0.5,
            _rate([4, 8, 16], [1e-2, 5e-3, 2.5e-3], -1.0, [-1.1, -0.9], -3.2),
            title=evil,
            reason=evil,
            error_model=evil,
            case_file=evil,
            reproduce=evil,
        ),
        _row("x::y", "A1", "not checked", None, "<=", None, {}, reason=evil),
    ]
    report = _report(rows)
    report["implementation"] = {"name": evil, "source": evil, "framework": evil, "dtype": evil}
    report["command"] = evil
    page = html_page(report)
    assert "<script" not in page and "alert(1)</script>" not in page
    parser = _Tags()
    parser.feed(page)
    assert parser.tags <= SAFE_TAGS, parser.tags - SAFE_TAGS
    # and the text reads as it was given
    assert parser.text.count(evil) >= 8


SAFE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "b", "i", "code",
    "pre", "a", "br", "table", "tr", "th", "td", "div", "ul", "li", "details", "summary",
    "figure", "figcaption", "small",
    # matplotlib's SVG
    "svg", "defs", "g", "path", "use", "text", "tspan", "clippath", "rect",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)

    def handle_data(self, data):
        self.text += data


def test_training_claims_evidence_gives_a_loss_history_plot():
    """C1 as the claim module produces it (a short particle flow) plots E against s."""
    from mforacle.claims.decay import check_c1_flow
    from mforacle.claims.training_cases import builtin_flow_case

    v = check_c1_flow(builtin_flow_case(0), T=5, n=4, steps=4)
    svg = figure_svg(v.to_json()["evidence"], "C1.flow")
    assert "training time s" in svg and svg.startswith("<svg")
    hist = v.evidence["history"]
    (ds,) = datasets([{"id": "c", "claim": "C1.flow", "status": "pass", "evidence": v.evidence}])
    with _style():
        assert _plotted(dataset_figure(ds)) == (hist["s"], hist["loss"]) and len(hist["s"]) == 5
