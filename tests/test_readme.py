"""The README's Python example runs and says what the README says it does."""

import re
from pathlib import Path

import mpmath

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks, "the README has no python example"
    ns: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), ns)
    from mforacle.tolerance import bounds

    r, f = ns["r"], ns["f"]
    # the two paths agree within the fast path's derived float64 bound plus the exact bound
    allowed = bounds(ns["model"], [[[0.1, -0.2, 0.3, 0.4, 0.5]]],
                     [[0.5, -1.0], [0.25, 0.75]], [0.1, -0.3])["loss"] + r.error_bound["loss"]
    diff = abs(mpmath.mpf(f.loss) - r.loss)
    assert diff <= allowed, (diff, allowed)
    assert r.error_bound["loss"] < mpmath.mpf(10) ** -45  # 50 digits asked for


def test_readme_names_its_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "./dev report" in text and "./dev test" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "./dev test" in ci
