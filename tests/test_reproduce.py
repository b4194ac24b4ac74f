"""A failing hypothesis property leaves a case file that reproduces it, and says so."""

import json

pytest_plugins = ["pytester"]

FAILING = """
from hypothesis import given, settings
from mforacle.properties.strategies import discrete_cases

@settings(database=None, derandomize=True)
@given(discrete_cases())
def test_fails(dc):
    assert dc.theta.shape[0] < 2
"""

PASSING = FAILING.replace("< 2", "< 99")


def test_failure_prints_and_saves_the_case(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("MFORACLE_FAILURE_DIR", str(tmp_path))
    pytester.makepyfile(test_demo=FAILING)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*reproduce: case file*discrete-*.json*", "*mforacle eval*"])
    saved = list(tmp_path.glob("discrete-*.json"))
    assert len(saved) == 1, saved
    case = json.loads(saved[0].read_text())
    assert case["format"] == "mforacle-case/1" and len(case["theta"]) >= 2


def test_passing_properties_write_nothing(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("MFORACLE_FAILURE_DIR", str(tmp_path))
    pytester.makepyfile(test_demo=PASSING)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert not list(tmp_path.iterdir())
