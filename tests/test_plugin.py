"""The pytest plugin: inert by default; with --mforacle-impl or MFORACLE_IMPL it collects one
item per check, and a failing item shows figure, bound and a reproduction command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest_plugins = ["pytester"]

WRONG = """
from examples.numpy_resnet import NumpyResNet

class WrongScaling(NumpyResNet):
    def _h(self, L, M):
        return 1.0 / L

IMPL = WrongScaling()
"""


@pytest.fixture
def tester(pytester, monkeypatch, request):
    # installed (pip install -e .): the pytest11 entry point loads the plugin; from a bare
    # checkout it is not registered, so load it explicitly, as a user could with -p
    extra = (
        []
        if request.config.pluginmanager.hasplugin("mforacle")
        else ["-p", "mforacle.pytest_plugin"]
    )
    run = pytester.runpytest
    pytester.runpytest = lambda *args: run(*extra, *args)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.delenv("MFORACLE_IMPL", raising=False)
    monkeypatch.setenv("MFORACLE_FAILURE_DIR", str(pytester.path / "failures"))
    pytester.makepyfile(test_mine="def test_own():\n    assert True\n")
    return pytester


def test_inert_without_activation(tester):
    result = tester.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_correct_implementation_items_pass(tester):
    result = tester.runpytest(
        "-q",
        "--mforacle-impl",
        "examples.numpy_resnet:IMPL",
        "--mforacle-no-claims",
        "-k",
        "small and tanh or own",
    )
    result.assert_outcomes(passed=6)  # own test + 5 checks of small/tanh


def test_env_var_activation_and_failure_message(tester, monkeypatch):
    tester.makepyfile(wrong_impl=WRONG)
    monkeypatch.setenv("MFORACLE_IMPL", "wrong_impl:IMPL")
    result = tester.runpytest("-q", "--mforacle-no-claims", "-k", "small and tanh and z_L")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "H1.forward fail" in out and "tolerance.bounds[z_L]" in out
    assert "reproduce: mforacle check wrong_impl:IMPL --dtype float64 --case" in out
    assert list((tester.path / "failures").glob("small-tanh-*.json"))


def test_unloadable_implementation_is_one_failing_item(tester):
    result = tester.runpytest("-q", "--mforacle-impl", "nowhere_xyz:IMPL")
    result.assert_outcomes(passed=1, failed=1)
    assert "cannot import module 'nowhere_xyz'" in result.stdout.str()


CRASH = """
import os
from examples.numpy_resnet import NumpyResNet

class Crash(NumpyResNet):
    def gradient(self, spec, theta, x, y, weights):
        os._exit(1)

IMPL = Crash()
"""


def test_process_isolation_contains_a_crash(tester):
    tester.makepyfile(crash_impl=CRASH)
    result = tester.runpytest(
        "-q",
        "--mforacle-impl",
        "crash_impl:IMPL",
        "--mforacle-isolate",
        "process",
        "--mforacle-no-claims",
        "-k",
        "small and tanh or own",
    )
    # forward and loss pass; both gradient items and the GD step fail; the session survives
    result.assert_outcomes(passed=3, failed=3)
    assert "crashed the implementation's process (exit code 1)" in result.stdout.str()


def test_process_isolation_is_the_default(tester, request, monkeypatch):
    """Without any isolation flag an os._exit in the implementation fails its items; it must not
    end the user's pytest run with status 0 and no output (the old in-process default). Run in
    a subprocess: under the old default the exit would end this very test session."""
    tester.makepyfile(crash_impl=CRASH)
    registered = request.config.pluginmanager.hasplugin("mforacle")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(tester.path)]))
    result = tester.runpytest_subprocess(
        "-q",
        *([] if registered else ["-p", "mforacle.pytest_plugin"]),
        "--mforacle-impl",
        "crash_impl:IMPL",
        "--mforacle-no-claims",
        "-k",
        "small and tanh or own",
    )
    result.assert_outcomes(passed=3, failed=3)
    assert result.ret == 1
    assert "crashed the implementation's process (exit code 1)" in result.stdout.str()
