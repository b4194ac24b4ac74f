"""Nothing checked is not a failure and not a pass (issue 9 item 3).

- A float32 check of a case whose weights are not dyadic (N = 3, ω = 1/3) is checkable: the
  reference is computed for the weights the implementation received (rounded to float32, their
  sum off one by float32's roundoff), by linearity in ω; and it still catches a wrong one.
- A run where every check is *not checked* has its own headline, ``NOTHING CHECKED``, with the
  commonest reason, and its own exit status: 3 for ``mforacle check``, 5 (pytest's "no tests
  ran") for the pytest plugin; the report says so too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

from mforacle.caseio import read_case
from mforacle.dtypes import round_to_dtype
from mforacle.errors import InvalidArgument
from mforacle.exact.network import evaluate
from mforacle.harness.checks import Reference, tolerance_bounds
from mforacle.harness.runner import EXIT_NOTHING_CHECKED, exit_code, summarize, summary_line
from mforacle.model import normalized_weights, weight_sum_tolerance
from mforacle.verdict import Verdict

REPO = Path(__file__).resolve().parents[1]
REGRELU = REPO / "mforacle" / "examples" / "regrelu_kappa.json"

pytest_plugins = ["pytester"]


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), str(cwd)]),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    return subprocess.run(
        [sys.executable, "-m", "mforacle", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


# --------------------------------------------------------------------------- rounded weights


def _float32_inputs():
    case = read_case(REGRELU)
    f = np.vectorize(float, otypes=[np.float64])
    th, x, y, w = (
        round_to_dtype(f(a), "float32")
        for a in (case.theta, case.data.x, case.data.y, case.data.weights)
    )
    return case.model, th, x, y, w


def test_float32_weights_of_one_third_are_valid_within_float32_tolerance():
    w = _float32_inputs()[4]
    total = sum(Fraction(float(v)) for v in w)
    assert total != 1 and abs(total - 1) <= weight_sum_tolerance(3, "float32")
    with pytest.raises(InvalidArgument):
        normalized_weights(w, 3, "float64")  # float64's tolerance rejects them
    ws, s = normalized_weights(w, 3, "float32")
    assert sum(ws) == 1 and s == total


def test_reference_for_rounded_weights_is_the_weighted_sum_of_the_point_losses():
    """Independent of the scaling: E = Σ ω̃_n ℓ_n with each ℓ_n from a one-point exact run."""
    model, th, x, y, w = _float32_inputs()
    ref = Reference.compute(model, th, x, y, w, weights_dtype="float32")
    with mpmath.workdps(60):
        by_points = mpmath.fsum(
            mpmath.mpf(float(w[n])) * evaluate(model, th, x[n : n + 1], y[n : n + 1], dps=40).loss
            for n in range(len(y))
        )
        assert abs(ref.loss - by_points) <= ref.error_bound["loss"] + mpmath.mpf(10) ** -38
    # grad_theta likewise: Σ ω̃_n ∂ℓ_n/∂θ
    parts = [evaluate(model, th, x[n : n + 1], y[n : n + 1], dps=40).grad_theta for n in range(3)]
    with mpmath.workdps(60):
        for idx in np.ndindex(th.shape):
            want = mpmath.fsum(mpmath.mpf(float(w[n])) * parts[n][idx] for n in range(3))
            assert abs(ref.grad_theta[idx] - want) <= ref.error_bound["grad_theta"] * 1.01
    tol = tolerance_bounds(model, th, x, y, w, "float32")
    assert all(np.isfinite(v) and v > 0 for v in tol.values()), tol


WRONG32 = """
from examples.numpy_resnet import NumpyResNet

class WrongScaling(NumpyResNet):
    def _h(self, L, M):
        return self.dt.type(1.0 / L)

IMPL = WrongScaling("float32")
"""


def test_float32_check_of_a_non_dyadic_case_passes_and_catches_a_wrong_one(tmp_path):
    r = _cli(
        "check", "examples.numpy_resnet:IMPL32", "--case", str(REGRELU), "--no-claims",
        "--out", str(tmp_path / "ok"),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("PASS: 5 passed, 0 failed, 0 errors, 0 not checked"), r.stdout
    assert "(float32)" in r.stdout, r.stdout  # the summary names the implementation's dtype
    (tmp_path / "wrong32.py").write_text(WRONG32)
    r = _cli(
        "check", "wrong32:IMPL", "--case", str(REGRELU), "--no-claims",
        "--out", str(tmp_path / "bad"), cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 1 and r.stdout.startswith("FAIL:"), r.stdout + r.stderr
    report = json.loads((tmp_path / "bad" / "check.json").read_text())
    assert any(v["status"] == "fail" for v in report["verdicts"]), report["summary"]


# --------------------------------------------------------------------------- NOTHING CHECKED


def test_summary_outcomes_and_exit_codes():
    p = Verdict.measured("X", "t", 1.0, "<=", 2.0)
    f = Verdict.measured("X", "t", 3.0, "<=", 2.0)
    n = Verdict.not_checked("X", "t", "no limit")
    assert exit_code([p, n]) == 0 and exit_code([p, f, n]) == 1
    assert exit_code([n, n]) == EXIT_NOTHING_CHECKED == 3 and exit_code([]) == 3
    assert exit_code([n, Verdict.errored("X", "t", "boom")]) == 1
    s = summarize([n, n])
    assert s["headline"] == "NOTHING CHECKED" and not s["ok"], s
    line = summary_line(s, {"source": "pkg:IMPL", "dtype": "float32"})
    assert line.startswith("NOTHING CHECKED: 0 passed, 0 failed, 0 errors, 2 not checked"), line
    assert "pkg:IMPL (float32)" in line and "no limit (2×)" in line, line


SIN_ONLY = """
from examples.numpy_resnet import NumpyResNet

class SinOnly(NumpyResNet):
    activations = ("sin",)

IMPL = SinOnly()
"""


def test_check_where_nothing_is_checked_exits_3_with_its_own_headline(tmp_path):
    (tmp_path / "sin_only.py").write_text(SIN_ONLY)
    tiny = REPO / "mforacle" / "examples" / "tiny.json"
    r = _cli("check", "sin_only:IMPL", "--case", str(tiny), "--out", "out", cwd=tmp_path)
    assert r.returncode == 3, r.stdout + r.stderr
    assert r.stdout.startswith("NOTHING CHECKED: 0 passed, 0 failed, 0 errors, 5 not checked"), (
        r.stdout
    )
    assert "activation tanh not declared supported (5×)" in r.stdout, r.stdout
    report = json.loads((tmp_path / "out" / "check.json").read_text())
    assert report["summary"]["headline"] == "NOTHING CHECKED", report["summary"]
    assert report["summary"]["outcome"] == "nothing checked"
    assert "NOTHING CHECKED" in (tmp_path / "out" / "check.md").read_text()
    assert "NOTHING CHECKED" in (tmp_path / "out" / "check.html").read_text()


@pytest.fixture
def tester(pytester, monkeypatch, request):
    extra = (
        []
        if request.config.pluginmanager.hasplugin("mforacle")
        else ["-p", "mforacle.pytest_plugin"]
    )
    run = pytester.runpytest
    pytester.runpytest = lambda *args: run(*extra, *args)
    monkeypatch.syspath_prepend(str(REPO))
    monkeypatch.delenv("MFORACLE_IMPL", raising=False)
    pytester.makepyfile(test_mine="def test_own():\n    assert True\n")
    return pytester


def test_plugin_says_nothing_checked_and_exits_5(tester):
    tester.makepyfile(sin_only=SIN_ONLY)
    result = tester.runpytest(
        "-q", "--mforacle-impl", "sin_only:IMPL", "--mforacle-no-claims", "-k", "small and tanh"
    )
    assert result.ret == 5, result.stdout.str()
    result.stdout.fnmatch_lines(["*mforacle: NOTHING CHECKED: 0 passed*5 not checked*"])
    # something checked: the ordinary outcome
    ok = tester.runpytest(
        "-q", "--mforacle-impl", "sin_only:IMPL", "--mforacle-no-claims", "-k", "small and sin"
    )
    assert ok.ret == 0 and "NOTHING CHECKED" not in ok.stdout.str(), ok.stdout.str()
