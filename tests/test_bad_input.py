"""Bad input to ``eval``, ``limit`` and ``check``: one line ``mforacle: error: ...`` and exit 2,
never a traceback or a hang (issue 9, item 6). Each command runs in-process in a daemon thread
with a generous timeout, so an input that hangs (the old exponent handling built billion-digit
integers) fails instead of stalling the suite."""

from __future__ import annotations

import faulthandler
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mforacle.cli import main
from mforacle.cost import estimate_theta, refuse_if_huge
from mforacle.errors import InvalidArgument
from mforacle.numbers import MAX_DECIMAL_EXPONENT, exact_scalar

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "mforacle" / "examples"
TINY = json.loads((EXAMPLES / "tiny.json").read_text())
MEASURE = json.loads((EXAMPLES / "measure_erf_d1.json").read_text())


def _one_line_usage_error(code: int, err: str) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mforacle: error: "), err


def _in_process(capsys, *argv: str, timeout: float = 120) -> tuple[int, str]:
    """``main(argv)`` in a daemon thread: a hang (the old exponent handling built
    billion-digit integers) fails the test after ``timeout`` s instead of stalling the suite."""
    box: dict = {}

    def target() -> None:
        try:
            box["code"] = main(list(argv))
        except BaseException as exc:  # a traceback is a failure too
            box["exc"] = exc

    worker = threading.Thread(target=target, daemon=True)
    # a C-level watchdog: code that hangs inside one C call (a billion-digit integer) holds the
    # GIL, so the join below could not time out; then the whole run ends with a traceback dump
    faulthandler.dump_traceback_later(timeout + 60, exit=True, file=sys.__stderr__)
    try:
        worker.start()
        worker.join(timeout)
    finally:
        faulthandler.cancel_dump_traceback_later()
    if worker.is_alive():
        pytest.fail(f"mforacle {' '.join(argv)[:200]} hung (> {timeout} s)")
    if "exc" in box:
        raise box["exc"]
    return box["code"], capsys.readouterr().err


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _tiny_with_y(value_json: str) -> str:
    """tiny.json with its first y replaced by the JSON text ``value_json``."""
    text = json.dumps(TINY)
    assert '"y": ["0.1"' in text
    return text.replace('"y": ["0.1"', '"y": [' + value_json, 1)


COMMANDS = {
    "eval-exact": ["eval", "{f}", "--path", "exact"],
    "eval-fast": ["eval", "{f}", "--path", "fast"],
    "check-case": [
        "check", "examples.numpy_resnet:IMPL", "--case", "{f}", "--out", "{out}", "--quiet",
    ],
}  # fmt: skip


def _argv(cmd: str, f: str, tmp_path: Path) -> list[str]:
    return [a.format(f=f, out=tmp_path / "rep") for a in COMMANDS[cmd]]


# --- numbers that used to hang or crash the reader -----------------------------------------

HOSTILE_NUMBERS = {
    "exponent-string": '"1e999999999"',
    "exponent-number": "1e9999999999999999999",
    "tiny-exponent": '"1e-999999999"',
    "ones-then-zeros-string": '"1' + "0" * 100_000 + '"',
    "ones-then-zeros-number": "1" + "0" * 100_000,
    "integer-5000-digits": "7" * 5000,
    "ratio-huge": '"' + "9" * 20_000 + '/3"',
}


_BATCH = """
import contextlib, io, json, sys
from mforacle.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
    except BaseException as exc:
        code, err = -1, io.StringIO(f"Traceback: {type(exc).__name__}: {exc}")
    out.append([code, err.getvalue()])
print(json.dumps(out))
"""


def test_hostile_numbers_are_one_line_errors(tmp_path):
    """Every hostile number × eval (exact, fast) × check --case, in one child process: the
    old exponent handling built billion-digit integers in C, holding the GIL, so a hang could
    not be timed out in-process; a child process can be."""
    runs, labels = [], []
    for number, text in HOSTILE_NUMBERS.items():
        f = _write(tmp_path, f"{number}.json", _tiny_with_y(text))
        for cmd in COMMANDS:
            runs.append(_argv(cmd, f, tmp_path))
            labels.append(f"{number}/{cmd}")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    try:
        done = subprocess.run(
            [sys.executable, "-c", _BATCH, json.dumps(runs)],
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=600,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("hostile numbers hung the reader (> 600 s for all of them)")
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for label, (code, err) in zip(labels, results, strict=True):
        try:
            _one_line_usage_error(code, err)
            assert "y[0]" in err or "(json)" in err, err
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from None


def test_the_allowed_range_is_stated():
    with pytest.raises(InvalidArgument, match=f"1e-{MAX_DECIMAL_EXPONENT} <= |x|"):
        exact_scalar("1e999999999", "y")
    assert exact_scalar("1e-400", "y") > 0  # far beyond float64, inside the range
    assert exact_scalar(f"1e{MAX_DECIMAL_EXPONENT - 1}", "y") > 0


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_json_nested_100000_deep(tmp_path, capsys, cmd):
    f = _write(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000)
    code, err = _in_process(capsys, *_argv(cmd, f, tmp_path))
    _one_line_usage_error(code, err)
    assert "nested deeper" in err


def test_deep_nesting_inside_a_valid_object(tmp_path, capsys):
    obj = dict(TINY)
    obj["description"] = json.loads("[" * 200 + "]" * 200)
    f = _write(tmp_path, "deep.json", json.dumps(obj))
    code, err = _in_process(capsys, "eval", f)
    _one_line_usage_error(code, err)


def test_eval_dev_zero(capsys):
    code, err = _in_process(capsys, "eval", "/dev/zero")
    _one_line_usage_error(code, err)
    assert "MiB" in err


def test_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{"format": "mforacle-case/1", "x": "\xff"}')
    code, err = _in_process(capsys, "eval", str(path))
    _one_line_usage_error(code, err)


# --- beyond float64 on the fast path -------------------------------------------------------


def _set(obj: dict, path: tuple, value) -> dict:
    obj = json.loads(json.dumps(obj))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


BEYOND = {
    "a": (TINY, ("model", "readout", "a"), ["1e400", "0.5"], "model.readout.a[0]"),
    "kappa": (TINY, ("model", "readout", "kappa"), "1e400", "model.readout.kappa"),
    "eta": (TINY, ("model", "activation"), "regrelu:1e400", "model.activation"),
    "weights": (TINY, ("weights",), ["1e400", "1"], "weights"),
    "theta": (TINY, ("theta", 0, 0, 2), "-1e309", "theta[0][0][2]"),
    "measure-c": (MEASURE, ("measure", "c", 2), ["1e400"], "measure.c[2][0]"),
    "measure-A": (MEASURE, ("measure", "A", 0, 0), ["2e308"], "measure.A[0][0][0]"),
    "measure-x": (MEASURE, ("x", 1), ["1e400"], "x[1][0]"),
    "measure-a": (MEASURE, ("model", "readout", "a"), ["-1e400"], "model.readout.a[0]"),
    "probe": (MEASURE, ("measure", "probes", 0, "theta", 1), "1e400", "probes[0].theta[1]"),
}


@pytest.mark.parametrize("name", list(BEYOND))
def test_values_beyond_float64_on_the_fast_path(tmp_path, capsys, name):
    base, path, value, field = BEYOND[name]
    f = _write(tmp_path, "case.json", json.dumps(_set(base, path, value)))
    cmd = "eval" if base is TINY else "limit"
    code, err = _in_process(capsys, cmd, f, "--path", "fast")
    _one_line_usage_error(code, err)
    assert field in err, err
    if name != "weights" and base is TINY:  # the exact path has no range limit
        code, err = _in_process(capsys, cmd, f, "--path", "exact")
        assert code == 0, err
        code, err = _in_process(
            capsys, "check", "examples.numpy_resnet:IMPL", "--case", f, "--quiet",
            "--out", str(tmp_path / "rep"),
        )  # fmt: skip
        _one_line_usage_error(code, err)


# --- cases too big to evaluate ---------------------------------------------------------------


def _huge_case(tmp_path: Path) -> str:
    obj = dict(TINY)
    obj.pop("weights")
    obj["theta"] = [[["0", "0", "0", "0", "0"]] * 200_000]
    obj["x"] = [["0", "0"]] * 40_000
    obj["y"] = ["0"] * 40_000
    return _write(tmp_path, "huge.json", json.dumps(obj))


@pytest.mark.parametrize("path", ["fast", "exact"])
def test_a_case_too_big_is_refused_with_the_estimate(tmp_path, capsys, path):
    f = _huge_case(tmp_path)
    code, err = _in_process(capsys, "eval", f, "--path", path)
    _one_line_usage_error(code, err)
    assert "--force" in err and "M = 200000, N = 40000" in err, err
    assert ("GB of memory" if path == "fast" else "days") in err, err


def test_check_refuses_a_case_file_too_big_for_the_reference(tmp_path, capsys):
    f = _huge_case(tmp_path)
    code, err = _in_process(
        capsys, "check", "examples.numpy_resnet:IMPL", "--case", f, "--out", str(tmp_path)
    )
    _one_line_usage_error(code, err)


def test_force_skips_the_refusal():
    est = estimate_theta(1, 10**6, 10**5, 2)
    with pytest.raises(InvalidArgument, match="memory"):
        refuse_if_huge(est, "fast")
    with pytest.raises(InvalidArgument, match="exact path would take"):
        refuse_if_huge(est, "exact")
    assert refuse_if_huge(est, "exact", force=True) is est


def test_a_measure_case_too_costly_for_the_exact_path(tmp_path, capsys):
    obj = json.loads(json.dumps(MEASURE))
    obj["model"]["activation"] = "tanh"
    obj["x"] = [["0.5"]] * 200_000
    obj["y"] = ["0"] * 200_000
    f = _write(tmp_path, "m.json", json.dumps(obj))
    code, err = _in_process(capsys, "limit", f)
    _one_line_usage_error(code, err)
    assert "exact path would take" in err


# --- output to a closed pipe -----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", str(EXAMPLES / "tiny.json"), "--path", "fast"],
        ["eval", str(EXAMPLES / "sigmoid.json")],
        ["limit", str(EXAMPLES / "measure_erf_d1.json"), "--path", "fast"],
    ],
)
def test_a_closed_pipe_is_silent_and_exit_0(argv):
    """``mforacle eval CASE | head -1``: the reader goes away; no traceback, status 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mforacle", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()  # as `head -c 1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0, err
    assert err == "", err


def test_a_closed_pipe_keeps_checks_exit_status(tmp_path):
    """For ``check`` the exit status is the verdict: a closed stdout must not turn a FAIL
    into 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    wrong = tmp_path / "wrong.py"
    wrong.write_text(
        "from examples.numpy_resnet import NumpyResNet\n"
        "class W(NumpyResNet):\n"
        "    def _h(self, L, M):\n"
        "        return 1.0 / L\n"
        "IMPL = W()\n"
    )
    args = [sys.executable, "-m", "mforacle", "check", f"{wrong}:IMPL", "--only", "small/tanh"]
    args += ["--no-claims", "--quiet", "--out", str(tmp_path / "rep")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 1, err
    assert "Traceback" not in err
