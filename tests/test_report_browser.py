"""The HTML report in a real headless browser (Debian's chromium, driven by Playwright): the page
renders without console errors or requests, every plot is in the DOM, visible and of non-zero
size, and the tick labels that the browser lays out (its own text engine, not matplotlib's) do
not overlap or stick out of their plot.

Skipped when chromium or Playwright is absent, unless ``MFORACLE_REQUIRE_BROWSER=1`` (set by
``.ci/run``, which installs chromium): then a missing browser fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_report import ROWS, _rate, _report, _row

from mforacle.report import datasets, write_report

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "reports" / "sample" / "latest.json"
CHROMIUM = os.environ.get("MFORACLE_CHROMIUM") or shutil.which("chromium") or ""
ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM:
        return "no chromium on PATH (apt-get install chromium)"
    return ""


@pytest.fixture(scope="module")
def browser():
    why = _missing()
    if why:
        if os.environ.get("MFORACLE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MFORACLE_REQUIRE_BROWSER=1 but {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, chromium_sandbox=False)
        try:
            yield b
        finally:
            b.close()


MEASURE = """
svgs => svgs.map(svg => {
  const r = svg.getBoundingClientRect();
  const st = getComputedStyle(svg);
  const rects = sel => Array.from(svg.querySelectorAll(sel))
    .map(t => t.getBoundingClientRect())
    .filter(b => b.width > 0 && b.height > 0)
    .map(b => [b.left, b.top, b.right, b.bottom]);
  return {
    visible: svg.checkVisibility({opacityProperty: true, visibilityProperty: true}),
    box: [r.left, r.top, r.right, r.bottom],
    display: st.display, visibility: st.visibility, opacity: st.opacity,
    xticks: rects('g[id*="-xtick_"] text'), yticks: rects('g[id*="-ytick_"] text'),
    texts: rects('text'),
  };
})
"""


def inspect(browser, path: Path) -> dict[str, Any]:
    """Load ``path`` in a fresh page; what a reader would see of it."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "warning") else None
        ),
    )
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    try:
        response = page.goto(path.as_uri(), wait_until="load")
        plots = page.eval_on_selector_all("figure svg", MEASURE)
        return {
            "ok": response is not None and response.ok,
            "title": page.title(),
            "errors": errors,
            "requests": [u for u in requests if u != path.as_uri()],
            "plots": plots,
            "h1": page.locator("h1").inner_text(),
        }
    finally:
        page.close()


def _overlaps(boxes: list[list[float]], pad: float = 0.5) -> list[tuple[Any, Any]]:
    out = []
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            if a[0] + pad < b[2] and b[0] + pad < a[2] and a[1] + pad < b[3] and b[1] + pad < a[3]:
                out.append((a, b))
    return out


def problems(seen: dict[str, Any], n_plots: int) -> list[str]:
    """Everything wrong with a page as :func:`inspect` saw it (empty: nothing)."""
    out = []
    if not seen["ok"]:
        out.append("the page did not load")
    out += seen["errors"]
    out += [f"request for {u}" for u in seen["requests"]]
    if len(seen["plots"]) != n_plots:
        out.append(f"{len(seen['plots'])} plots in the DOM, expected {n_plots}")
    for i, p in enumerate(seen["plots"]):
        x0, y0, x1, y1 = p["box"]
        if not (p["visible"] and x1 - x0 > 50 and y1 - y0 > 50):
            out.append(f"plot {i} not visible: {p}")
        if p["display"] == "none" or p["visibility"] != "visible" or float(p["opacity"]) == 0:
            out.append(f"plot {i} hidden by style: {p['display']}, {p['visibility']}")
        for axis in ("xticks", "yticks"):
            if not p[axis]:
                out.append(f"plot {i} has no {axis[0]} tick labels")
            for a, b in _overlaps(p[axis]):
                out.append(f"plot {i}: {axis} labels overlap: {a} {b}")
        for t in p["texts"]:
            if t[0] < x0 - 1 or t[1] < y0 - 1 or t[2] > x1 + 1 or t[3] > y1 + 1:
                out.append(f"plot {i}: text at {t} outside the plot {p['box']}")
    return out


def _synthetic_report() -> dict[str, Any]:
    """Every kind of plot: fits with a wedge, a one-sided slope guide, a D/M curve, rung
    labels, bound lines, a long history; and a failure."""
    b3 = _rate(
        [4, 8, 16, 32],
        [2e-2, 6e-3, 3.6e-3, 2.1e-3],
        -0.98,
        [-1.3, -0.66],
        -2.6,
    )
    b3_power = dict(b3, fit={"slope": -0.38, "ci": [-1.9, 0.5], "intercept": -4.5,
                             "correction_D": 1.4, "confidence": 0.999})  # fmt: skip
    a2 = [2.0**-k for k in range(8, 29, 2)]
    rungs = [{"L": 2**k, "M": 2 ** (k + 1), "s": 20.0 * 4**k} for k in range(1, 7)]
    steps = [i / 20 for i in range(400)]
    rows = [
        *ROWS,
        _row("claim::B3#0", "B3.paths", "pass", -0.98, "<=", -0.68, b3),
        _row("claim::B3#1", "B3.paths.power", "pass", -0.38, "in", [-1.9, -0.03], b3_power),
        _row(
            "claim::A2#1",
            "A2.taylor",
            "pass",
            2.0,
            ">=",
            1.8,
            _rate(a2, [h**2 for h in a2], 2.0, [1.99, 2.01], 0.0, ladder_name="h"),
        ),
        _row(
            "claim::C4#0",
            "C4",
            "fail",
            3e-3,
            "<=",
            1e-3,
            {"ladder_name": "rung", "ladder": rungs, "errors": [10.0**-k for k in range(1, 7)]},
        ),
        _row(
            "claim::C1#9",
            "C1.flow",
            "pass",
            -1e-4,
            "<=",
            1e-12,
            {"history": {"s": steps, "loss": [0.5 * 0.99**i + 0.01 for i in range(400)]}},
        ),
    ]
    return _report(rows)


def test_report_page_renders_with_every_plot_visible(browser, tmp_path):
    report = _synthetic_report()
    paths = write_report(report, tmp_path)
    n = len(datasets(report["verdicts"]))
    seen = inspect(browser, paths["html"])
    assert problems(seen, n) == [], problems(seen, n)
    assert seen["title"].startswith("mforacle report") and "FAIL" in seen["title"]
    assert "mforacle conformance report" in seen["h1"]


@pytest.mark.skipif(not SAMPLE.is_file(), reason="no committed sample report")
def test_sample_report_renders(browser, tmp_path):
    """The committed sample (a real ``mforacle report`` run) re-rendered by the current code."""
    report = json.loads(SAMPLE.read_text())
    paths = write_report(report, tmp_path)
    seen = inspect(browser, paths["html"])
    n = len(datasets(report["verdicts"]))
    assert n >= 10 and problems(seen, n) == [], problems(seen, n)


def test_the_browser_check_catches_a_broken_page(browser, tmp_path):
    """Deliberately broken pages: a hidden plot, a script error, a fetched resource, a plot
    removed from the DOM, overlapping tick labels. Each must be reported."""
    report = _report(ROWS)
    page = Path(write_report(report, tmp_path)["html"]).read_text()
    n = len(datasets(report["verdicts"]))
    assert problems(inspect(browser, Path(write_report(report, tmp_path)["html"])), n) == []
    broken = {
        "hidden": page.replace("</head>", "<style>figure svg{display:none}</style></head>"),
        "zero": page.replace("</head>", "<style>figure svg{width:0!important}</style></head>"),
        "script": page.replace("</body>", "<script>console.error('boom')</script></body>"),
        "throws": page.replace("</body>", "<script>null.x</script></body>"),
        "fetches": page.replace("</body>", "<img src='missing.png'></body>"),
        "removed": page.replace("<figure>", "<figure hidden>", 1).replace(
            "<figure hidden>", "<figure style='display:none'>", 1
        ),
        "crowded": page.replace('class="plot"', 'class="plot" style="letter-spacing:40px"', 1),
    }
    for name, text in broken.items():
        path = tmp_path / f"{name}.html"
        path.write_text(text)
        assert problems(inspect(browser, path), n), f"the {name} page passed"
