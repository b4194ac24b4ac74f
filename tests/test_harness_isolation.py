"""Process isolation (``mforacle check --isolate process``, the default).

The parent never runs the implementation's code: results cross as plain numeric data (a
returned object's ``__reduce__`` or ``__array__`` runs only in the worker), the module is never
imported by the parent, the worker is a process group killed whole (a forked grandchild dies with
it), SIGTERM is handled like SIGINT (worker killed, report written), loading has its own timeout,
and a load failure writes a report. Timeouts are measured from when a call starts, so no test
here depends on an idle machine; the generous subprocess timeouts only turn a hang into a
failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mforacle.cli import main
from mforacle.errors import ImplementationError
from mforacle.harness.isolate import ProcessCaller, isolated_implementation, worker_environment

ROOT = Path(__file__).resolve().parents[1]

IMPLS = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from examples.numpy_resnet import NumpyResNet

    MARK = os.environ.get("MFORACLE_TEST_MARK", "")

    def mark(text):
        if MARK:
            with open(MARK, "a") as fh:
                fh.write(text + "\\n")

    class Exit(NumpyResNet):
        def forward(self, spec, theta, x):
            os._exit(1)

    class ExitInGradient(NumpyResNet):
        def gradient(self, spec, theta, x, y, weights):
            os._exit(3)

    class Sleep(NumpyResNet):
        def forward(self, spec, theta, x):
            mark(f"sleep {os.getpid()}")
            time.sleep(10**6)

    class ExitOnUnpickle:
        def __init__(self, arr):
            self.arr = arr
        def __array__(self, dtype=None, copy=None):
            return self.arr
        def __reduce__(self):
            return (os._exit, (0,))

    class SleepOnUnpickle(ExitOnUnpickle):
        def __reduce__(self):
            return (time.sleep, (1000,))

    class ReduceExit(NumpyResNet):
        def forward(self, spec, theta, x):
            return ExitOnUnpickle(super().forward(spec, theta, x))

    class ReduceSleep(NumpyResNet):
        def forward(self, spec, theta, x):
            return SleepOnUnpickle(super().forward(spec, theta, x))

    class ForkAndExit(NumpyResNet):
        def forward(self, spec, theta, x):
            pid = os.fork()
            if pid == 0:
                mark(f"grandchild {os.getpid()}")
                time.sleep(1000)
                os._exit(0)
            time.sleep(0.2)
            os._exit(0)

    class Env(NumpyResNet):
        def __init__(self):
            super().__init__()
            self.name = "omp=" + os.environ.get("OMP_NUM_THREADS", "unset")

    IMPL, EXIT, EXIT_GRAD, SLEEP = NumpyResNet(), Exit(), ExitInGradient(), Sleep()
    REDUCE_EXIT, REDUCE_SLEEP, FORK, ENV = ReduceExit(), ReduceSleep(), ForkAndExit(), Env()
""")

#: a module (imported by name) whose forward returns an object with a blocking __array__
BLOCKING = textwrap.dedent("""
    import os, time
    from examples.numpy_resnet import NumpyResNet

    class Blocking:
        def __init__(self, arr):
            self.arr = arr
        def __array__(self, dtype=None, copy=None):
            with open(os.environ["MFORACLE_TEST_MARK"], "a") as fh:
                fh.write(f"array {os.getpid()}\\n")
            time.sleep(60)
            return self.arr

    class Impl(NumpyResNet):
        def forward(self, spec, theta, x):
            return Blocking(super().forward(spec, theta, x))

    IMPL = Impl()
""")

SLOW_IMPORT = textwrap.dedent("""
    import time
    time.sleep(4)
    from examples.numpy_resnet import NumpyResNet
    IMPL = NumpyResNet()
""")


@pytest.fixture
def impls(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # examples/ for workers
    path = tmp_path / "impls.py"
    path.write_text(IMPLS)
    return path


def _check(target, out, *extra):
    args = ["check", target, "--only", "small/tanh", "--no-claims", "--out", str(out)]
    code = main([*args, "--quiet", *extra])
    report = json.loads((out / "check.json").read_text())
    return code, {r["id"]: r for r in report["verdicts"]}, report


def _subprocess_check(target, out, *extra, mark=None, timeout=240):
    """``mforacle check`` in a child process (a hostile return value must not be able to end
    *this* pytest process); a hang becomes a failure after ``timeout`` seconds."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if mark is not None:
        env["MFORACLE_TEST_MARK"] = str(mark)
    args = [sys.executable, "-m", "mforacle", "check", target, "--only", "small/tanh"]
    args += ["--no-claims", "--quiet", "--out", str(out), *extra]
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"mforacle check {target} hung (> {timeout} s)")
    return done


def _rows(out):
    report = json.loads((out / "check.json").read_text())
    return {r["id"]: r for r in report["verdicts"]}, report


def _gone(pid: int) -> bool:
    """The process has exited (absent, or a zombie nobody has reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return state in ("Z", "X")


def _wait_gone(pid: int, seconds: float = 30.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return _gone(pid)


def _marks(path: Path, word: str) -> list[int]:
    if not path.exists():
        return []
    return [int(line.split()[1]) for line in path.read_text().splitlines() if line.startswith(word)]


# --- the basics ----------------------------------------------------------------------------


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
    code, rows, _ = _check(f"{impls}:SLEEP", tmp_path / "rep", "--timeout", "1")
    assert code == 1 and (tmp_path / "rep" / "check.html").is_file()
    z = rows["small/tanh::z_L"]
    assert z["status"] == "error" and "timed out after 1 s (worker process killed)" in z["reason"]
    # one hang costs one timeout: the later calls are not made
    assert all(
        r["status"] == "error" and "hung earlier" in r["reason"]
        for k, r in rows.items()
        if k != "small/tanh::z_L"
    )


def test_worker_is_killed_not_abandoned(impls, tmp_path, monkeypatch):
    """The call's timeout runs from when the call is sent (the worker's start-up, however slow
    on a loaded machine, has its own load timeout), and the worker's process group is dead
    afterwards."""
    mark = tmp_path / "mark"
    monkeypatch.setenv("MFORACLE_TEST_MARK", str(mark))
    _impl, caller = isolated_implementation(f"{impls}:SLEEP", timeout=0.5)
    try:
        proc = caller.process
        assert proc is not None
        out = caller.call("forward", None, None, None, None)
        assert not out.ok and "timed out after 0.5 s" in out.error, out
        assert out.seconds >= 0.5
        assert proc.poll() is not None, "the worker was abandoned, not killed"
        (pid,) = _marks(mark, "sleep")
        assert pid == proc.pid and _wait_gone(pid)
    finally:
        caller.stop()


def test_unloadable_source_raises_for_the_caller(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nos._exit(7)\n")
    with pytest.raises(ImplementationError, match="exit code 7"):
        ProcessCaller(f"{bad}:IMPL", timeout=30).start()
    with pytest.raises(ImplementationError, match="has no attribute"):
        ProcessCaller("examples.numpy_resnet:NOPE", timeout=30).start()


# --- hostile return values: nothing of the implementation runs in the parent ---------------


def test_a_reduce_that_exits_cannot_end_check(impls, tmp_path):
    """Today's pickling transport unpickled the value in the parent: ``__reduce__`` ran
    ``os._exit(0)`` there and ``check`` exited 0 with no output and no report."""
    done = _subprocess_check(f"{impls}:REDUCE_EXIT", tmp_path / "rep")
    assert "report" in done.stdout, (done.returncode, done.stdout, done.stderr)
    rows, _ = _rows(tmp_path / "rep")
    # the worker converts the value with its __array__: forward is checked, and passes
    assert rows["small/tanh::z_L"]["status"] == "pass", rows["small/tanh::z_L"]


def test_a_reduce_that_sleeps_cannot_hang_check(impls, tmp_path):
    done = _subprocess_check(f"{impls}:REDUCE_SLEEP", tmp_path / "rep", "--timeout", "20")
    assert "report" in done.stdout, (done.returncode, done.stdout, done.stderr)
    rows, _ = _rows(tmp_path / "rep")
    assert rows["small/tanh::z_L"]["status"] == "pass", rows["small/tanh::z_L"]


def test_the_parent_never_imports_the_module_nor_calls_array(tmp_path, monkeypatch):
    """``module:object`` form: a blocking ``__array__`` runs (and is killed) in the worker;
    the implementation's module never enters this process."""
    (tmp_path / "mf_blocking_impl.py").write_text(BLOCKING)
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.syspath_prepend(str(tmp_path))
    mark = tmp_path / "mark"
    monkeypatch.setenv("MFORACLE_TEST_MARK", str(mark))
    code, rows, _ = _check("mf_blocking_impl:IMPL", tmp_path / "rep", "--timeout", "3")
    assert "mf_blocking_impl" not in sys.modules
    assert all(pid != os.getpid() for pid in _marks(mark, "array"))
    z = rows["small/tanh::z_L"]
    assert code == 1 and z["status"] == "error" and "timed out" in z["reason"], z


def test_a_worker_that_forks_and_exits_is_a_crash_and_its_child_dies(impls, tmp_path):
    """Today: reported as a timeout (the grandchild held the pipe open) and the grandchild
    outlived the run."""
    mark = tmp_path / "mark"
    done = _subprocess_check(f"{impls}:FORK", tmp_path / "rep", "--timeout", "100", mark=mark)
    rows, _ = _rows(tmp_path / "rep")
    z = rows["small/tanh::z_L"]
    assert z["status"] == "error" and "crashed" in z["reason"] and "timed out" not in z["reason"]
    assert done.returncode == 1
    children = _marks(mark, "grandchild")
    assert children and all(_wait_gone(pid) for pid in children), children


@pytest.mark.parametrize("isolate", ["process", "thread"])
def test_a_huge_timeout_is_accepted(impls, tmp_path, isolate):
    code, rows, _ = _check(
        f"{impls}:IMPL", tmp_path / "rep", "--timeout", "1e10", "--isolate", isolate
    )
    assert code == 0, rows


def test_sigterm_kills_the_worker_group_and_writes_the_report(impls, tmp_path):
    mark = tmp_path / "mark"
    out = tmp_path / "rep"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MFORACLE_TEST_MARK": str(mark)}
    args = [sys.executable, "-m", "mforacle", "check", f"{impls}:SLEEP", "--only", "small/tanh"]
    args += ["--no-claims", "--out", str(out), "--timeout", "1000"]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 240
        while not _marks(mark, "sleep") and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.1)
        (worker,) = _marks(mark, "sleep")
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, (proc.returncode, stdout)
    assert "INTERRUPTED" in stdout
    report = json.loads((out / "check.json").read_text())
    assert "SIGTERM" in report["suite"]["interrupted"]
    assert _wait_gone(worker), "the worker outlived check"


# --- loading -------------------------------------------------------------------------------


def test_loading_has_its_own_timeout(tmp_path, monkeypatch):
    """A 4 s import is fine with a 2 s call timeout; a 1 s load timeout fails the load, and
    the report is still written."""
    monkeypatch.syspath_prepend(str(ROOT))
    slow = tmp_path / "slow_import.py"
    slow.write_text(SLOW_IMPORT)
    code, rows, _ = _check(f"{slow}:IMPL", tmp_path / "rep", "--timeout", "2")
    assert code == 0, rows
    code, rows, _ = _check(f"{slow}:IMPL", tmp_path / "rep2", "--load-timeout", "1")
    assert code == 1 and len(rows) == 1, rows
    (row,) = rows.values()
    assert row["status"] == "error" and "--load-timeout" in row["reason"], row


def test_a_load_failure_writes_a_report(tmp_path, capsys):
    code, rows, _ = _check("nowhere_xyz_module:IMPL", tmp_path / "rep")
    (row,) = rows.values()
    assert code == 1 and row["status"] == "error" and "nowhere_xyz_module" in row["reason"]
    assert "FAIL" in capsys.readouterr().out


def test_a_bare_module_is_a_target(tmp_path, monkeypatch):
    """``mforacle check mypkg.impl``: the module's functions are the protocol's members."""
    monkeypatch.syspath_prepend(str(ROOT))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mf_module_impl.py").write_text(
        "from examples.numpy_resnet import NumpyResNet\n"
        "_impl = NumpyResNet()\n"
        "forward, loss, gradient = _impl.forward, _impl.loss, _impl.gradient\n"
        "dtype = 'float64'\n"
    )
    for isolate in ("process", "thread"):
        code, rows, report = _check(
            "mf_module_impl", tmp_path / f"rep-{isolate}", "--isolate", isolate
        )
        assert code == 0, rows
        assert report["implementation"]["provides"] == ["forward", "loss", "gradient"]


def test_the_worker_follows_the_thread_policy(impls, tmp_path, monkeypatch):
    """The worker's BLAS/OpenMP variables follow mforacle.threads (MFORACLE_THREADS, else 1),
    whatever the parent's environment says (OMP_NUM_THREADS=512 would oversubscribe)."""
    from mforacle import threads

    monkeypatch.delenv("MFORACLE_THREADS", raising=False)
    env = worker_environment({"OMP_NUM_THREADS": "512"})
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "512")
    impl, caller = isolated_implementation(f"{impls}:ENV")
    caller.stop()
    assert impl.name == "omp=1"
    monkeypatch.setenv("MFORACLE_THREADS", "2")
    impl, caller = isolated_implementation(f"{impls}:ENV")
    caller.stop()
    assert impl.name == f"omp={threads.default_threads()}"


# --- the wire format -----------------------------------------------------------------------


def test_wire_round_trip_keeps_what_the_checks_look_at():
    import numpy as np

    from mforacle.harness.wire import Opaque, decode, encode

    value = {
        "z": np.arange(6, dtype=np.float32).reshape(2, 3),
        "s": np.float32(1.5),
        "f": 2.5,
        "i": 3,
        "b": True,
        "t": (np.zeros((1, 2)), None),
        "l": [1.0, "text"],
        "o": np.array([1.0, 2.0], dtype=object),
        "big": 10**40,
    }
    head, got = decode(encode({"kind": "ok"}, value, with_value=True))
    assert head == {"kind": "ok"}
    assert got["z"].dtype == np.float32 and got["z"].shape == (2, 3)
    assert isinstance(got["s"], np.float32) and got["s"] == 1.5
    assert type(got["f"]) is float and type(got["i"]) is int and got["b"] is True
    assert isinstance(got["t"], tuple) and got["t"][1] is None and got["l"] == [1.0, "text"]
    assert isinstance(got["o"], Opaque) and isinstance(got["big"], Opaque)
    with pytest.raises(TypeError, match="not numbers"):
        np.asarray(got["o"])


@pytest.mark.parametrize(
    "message",
    [
        b"",
        b"MFW1\x00\x00\x00\x05hello",
        b"MFW1\xff\xff\xff\xff",
        b"MFW1\x00\x00\x00\x02[]",
        b'MFW1\x00\x00\x00\x2a{"value": {"n": ["|O", [1], 0, 8]}, "k": 1}',
        b'MFW1\x00\x00\x00\x2a{"value": {"n": ["<f8", [9], 0, 8]}, "k": 1}',
        b'MFW1\x00\x00\x00\x21{"value": {"p": "__reduce__"}}  ',
    ],
)
def test_wire_rejects_malformed_messages(message):
    from mforacle.harness.wire import WireError, decode

    with pytest.raises(WireError):
        decode(message)


def test_wire_rejects_deep_nesting():
    from mforacle.harness.wire import WireError, decode, encode

    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(WireError):
        encode({"kind": "ok"}, deep, with_value=True)
    text = b'{"value": ' + b'{"l": [' * 5000 + b"]}" * 5000 + b"}"
    with pytest.raises(WireError):
        decode(b"MFW1" + len(text).to_bytes(4, "big") + text)


def test_sigterm_while_loading_leaves_no_worker(tmp_path):
    """Stopped during a slow import: the worker is killed, the report is written."""
    slow = tmp_path / "slow_forever.py"
    slow.write_text(
        "import os, time\n"
        f"open({str(tmp_path / 'mark')!r}, 'w').write(f'sleep {{os.getpid()}}')\n"
        "time.sleep(1000)\n"
    )
    out = tmp_path / "rep"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "mforacle", "check", f"{slow}:IMPL", "--out", str(out)]
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 240
        while not _marks(tmp_path / "mark", "sleep") and time.monotonic() < end:
            time.sleep(0.1)
        (worker,) = _marks(tmp_path / "mark", "sleep")
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, stdout
    assert (out / "check.json").is_file()
    assert _wait_gone(worker), "the loading worker outlived check"


def test_wire_sends_long_number_lists_as_arrays():
    import numpy as np

    from mforacle.harness.wire import MAX_NODES, decode, encode

    big = [[float(i), float(-i)] for i in range(MAX_NODES)]  # more parts than MAX_NODES
    _, got = decode(encode({"kind": "ok"}, (big, [1.0, 2.0]), with_value=True))
    assert isinstance(got, tuple) and got[1] == [1.0, 2.0]
    assert got[0].dtype == np.float64 and got[0].shape == (MAX_NODES, 2)
    assert np.array_equal(got[0], np.asarray(big))
