"""Process isolation (``mforacle check --isolate process``, the default): an implementation that
calls os._exit(1) or sleeps forever gives error verdicts with the reason, the worker is killed
or replaced, and the report is still written; a correct implementation passes as in thread
mode."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from mforacle.cli import main
from mforacle.errors import ImplementationError
from mforacle.harness.isolate import ProcessCaller, isolated_implementation

IMPLS = textwrap.dedent("""
    import os, time
    from examples.numpy_resnet import NumpyResNet

    class Exit(NumpyResNet):
        def forward(self, spec, theta, x):
            os._exit(1)

    class ExitInGradient(NumpyResNet):
        def gradient(self, spec, theta, x, y, weights):
            os._exit(3)

    class Sleep(NumpyResNet):
        def forward(self, spec, theta, x):
            time.sleep(10**6)

    IMPL, EXIT, EXIT_GRAD, SLEEP = NumpyResNet(), Exit(), ExitInGradient(), Sleep()
""")


@pytest.fixture
def impls(tmp_path, monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))  # examples/ for workers
    path = tmp_path / "impls.py"
    path.write_text(IMPLS)
    return path


def _check(target, out, *extra):
    args = ["check", target, "--only", "small/tanh", "--no-claims", "--out", str(out)]
    code = main([*args, "--quiet", *extra])
    report = json.loads((out / "check.json").read_text())
    return code, {r["id"]: r for r in report["verdicts"]}, report


def test_correct_implementation_passes_in_a_worker(impls, tmp_path):
    code, rows, report = _check(f"{impls}:IMPL", tmp_path / "rep")
    assert code == 0 and report["suite"]["isolation"] == "process"
    assert [r["status"] for r in rows.values()] == ["pass"] * 5, rows


def test_os_exit_is_an_error_verdict_and_the_run_goes_on(impls, tmp_path):
    code, rows, _ = _check(f"{impls}:EXIT_GRAD", tmp_path / "rep")
    assert code == 1
    g = rows["small/tanh::grad_theta"]
    assert (
        g["status"] == "error"
        and "crashed the implementation's process (exit code 3)" in (g["reason"])
    ), g
    assert rows["small/tanh::z_L"]["status"] == "pass"
    assert rows["small/tanh::loss"]["status"] == "pass"
    # a fresh worker runs the next call (train_step calls gradient: it crashes again)
    step = rows["small/tanh::train_step"]
    assert step["status"] == "error" and "exit code 3" in step["reason"], step
    code, rows, _ = _check(f"{impls}:EXIT", tmp_path / "rep2")
    assert code == 1 and rows["small/tanh::z_L"]["status"] == "error"
    assert "exit code 1" in rows["small/tanh::z_L"]["reason"]


def test_hang_is_killed_after_the_timeout_and_the_report_written(impls, tmp_path):
    start = time.perf_counter()
    code, rows, _ = _check(f"{impls}:SLEEP", tmp_path / "rep", "--timeout", "1")
    elapsed = time.perf_counter() - start
    assert code == 1 and (tmp_path / "rep" / "check.html").is_file()
    z = rows["small/tanh::z_L"]
    assert z["status"] == "error" and "timed out after 1 s (worker process killed)" in z["reason"]
    assert all(
        r["status"] == "error" and "hung earlier" in r["reason"]
        for k, r in rows.items()
        if k != "small/tanh::z_L"
    )
    assert elapsed < 15, f"one hang must cost one timeout, took {elapsed:.1f} s"


def test_worker_is_killed_not_abandoned(impls):
    _impl, caller = isolated_implementation(f"{impls}:SLEEP", timeout=0.5)
    try:
        proc = caller.process
        out = caller.call("forward", None, None, None, None)
        assert not out.ok and "timed out" in out.error
        proc.join(5)
        assert not proc.is_alive() and proc.exitcode is not None, proc
    finally:
        caller.stop()


def test_unloadable_source_raises_for_a_usage_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nos._exit(7)\n")
    with pytest.raises(ImplementationError, match="exit code 7"):
        ProcessCaller(f"{bad}:IMPL", timeout=30).start()
    with pytest.raises(ImplementationError, match="has no attribute"):
        ProcessCaller("examples.numpy_resnet:NOPE", timeout=30).start()
