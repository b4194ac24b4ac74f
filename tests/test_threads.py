"""mforacle.threads: the thread budget policy and its enforcement by threadpoolctl.

The policy's rule is that concurrently working processes never run more BLAS/OpenMP threads
than cores. Checked here: ``per_worker`` divides the cores, ``default_threads`` reads
``MFORACLE_THREADS`` and caps it, ``limit`` caps the loaded pools and restores them,
``configure_worker`` caps a fresh process *and* the libraries it loads afterwards (a spawned
interpreter reports its pools), and the isolated harness worker uses it. A policy that ignored
the worker count (the broken variant below) must be caught.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mforacle import threads
from mforacle.errors import InvalidArgument


def test_cores_and_per_worker() -> None:
    n = threads.cores()
    assert n >= 1
    assert threads.per_worker(1) == n
    for w in (1, 2, 3, 64):
        assert threads.per_worker(w) * w <= max(n, w)  # never more threads than cores
        assert threads.per_worker(w) >= 1
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(InvalidArgument) as info:
            threads.per_worker(bad)  # type: ignore[arg-type]
        assert info.value.field == "workers"


def test_default_threads_policy(monkeypatch) -> None:
    monkeypatch.delenv("MFORACLE_THREADS", raising=False)
    assert threads.default_threads() == 1
    monkeypatch.setenv("MFORACLE_THREADS", "1000")
    assert threads.default_threads() == threads.cores()  # capped at the cores
    assert threads.default_threads(workers=1000) == 1
    monkeypatch.setenv("MFORACLE_THREADS", "zero")
    with pytest.raises(InvalidArgument) as info:
        threads.default_threads()
    assert info.value.field == "MFORACLE_THREADS"
    monkeypatch.setenv("MFORACLE_THREADS", "0")
    with pytest.raises(InvalidArgument):
        threads.default_threads()


def test_broken_policy_is_caught(monkeypatch) -> None:
    """A per_worker that ignores the worker count oversubscribes; the rule above catches it."""
    monkeypatch.setattr(threads, "per_worker", lambda workers=1: threads.cores())
    monkeypatch.setenv("MFORACLE_THREADS", "1000")
    w = threads.cores() + 1
    assert threads.default_threads(workers=w) * w > threads.cores()


def test_limit_caps_and_restores() -> None:
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    before = threads.current()
    assert "blas" in before
    with threads.limit(1) as k:
        assert k == 1
        assert threads.current()["blas"] == 1
    assert threads.current() == before
    with pytest.raises(InvalidArgument) as info:
        with threads.limit(0):
            pass
    assert info.value.field == "n"


def test_worker_env() -> None:
    env = threads.worker_env(2, base={"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert all(env[v] == "2" for v in (*threads.ENV_VARS, "MFORACLE_THREADS"))
    with pytest.raises(InvalidArgument):
        threads.worker_env(0)


_PROBE = """
import json, os, sys
from mforacle import threads
k = threads.configure_worker(workers=int(sys.argv[1]))
import numpy as np  # loaded after the configuration: its BLAS must obey it
np.ones((2, 2)) @ np.ones((2, 2))
print(json.dumps({"k": k, "pools": threads.current(), "omp": os.environ["OMP_NUM_THREADS"]}))
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_configure_worker_caps_a_fresh_process(workers: int) -> None:
    env = threads.worker_env(8)  # asks for 8; the cap per worker must win
    out = subprocess.run([sys.executable, "-c", _PROBE, str(workers)], env=env,
                         capture_output=True, text=True, timeout=120, check=True)
    got = json.loads(out.stdout)
    want = min(8, threads.per_worker(workers))
    assert got["k"] == want and got["omp"] == str(want)
    assert got["pools"]["blas"] == want


def test_isolated_worker_configures_threads() -> None:
    """The harness worker calls configure_worker before it loads the implementation."""
    import inspect

    from mforacle.harness import worker

    src = inspect.getsource(worker.main)
    assert src.index("configure_worker") < src.index("load_implementation(")


def test_cli_runs_under_the_policy(monkeypatch, capsys, tmp_path) -> None:
    """The CLI wraps every command in threads.limit(): a bad MFORACLE_THREADS is a one-line
    user error (exit 2), and a command sees the BLAS pool capped at the policy's count."""
    from importlib.resources import files

    from mforacle import cli

    example = files("mforacle") / "examples" / "tiny.json"
    monkeypatch.setenv("MFORACLE_THREADS", "many")
    assert cli.main(["eval", str(example), "--path", "fast"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mforacle: error: MFORACLE_THREADS") and err.count("\n") == 1
    monkeypatch.delenv("MFORACLE_THREADS")
    seen = {}
    real = cli.build_parser

    def spy_parser():
        parser = real()
        sub = parser._subparsers._group_actions[0].choices["eval"]  # type: ignore[union-attr]
        run = sub.get_default("_run")
        def spy_run(args):
            seen["pools"] = threads.current()
            return run(args)

        sub.set_defaults(_run=spy_run)
        return parser

    monkeypatch.setattr(cli, "build_parser", spy_parser)
    assert cli.main(["eval", str(example), "--path", "fast"]) == 0
    assert seen["pools"]["blas"] == threads.default_threads() == 1
