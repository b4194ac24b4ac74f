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
    r, f = ns["r"], ns["f"]
    # the two paths agree within the exact path's bound plus the fast path's float64 error
    assert abs(mpmath.mpf(f.loss) - r.loss) < 1e-15
    assert r.error_bound["loss"] < mpmath.mpf(10) ** -45


def test_readme_names_its_two_commands():
    text = README.read_text(encoding="utf-8")
    assert "./dev report" in text and "./dev test" in text
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "./dev test" in ci
