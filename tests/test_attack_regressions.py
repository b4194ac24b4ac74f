"""Defects an adversarial review found (each test failed before its fix).

- a FIFO given as a case file hung ``eval`` forever (``open`` waits for a writer);
- a JSON object with a key given twice was read with the last value winning;
- the worker's encoder materialized a huge broadcast view before checking its size;
- the implementation's prints reached ``check``'s stdout and could forge its verdict line.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mforacle.cli import main
from mforacle.harness.wire import MAX_PAYLOAD, WireError, encode

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "mforacle" / "examples" / "tiny.json"


def test_a_fifo_case_file_is_refused_not_waited_on(tmp_path, capsys):
    fifo = tmp_path / "case.json"
    os.mkfifo(fifo)
    for cmd in (["eval", str(fifo), "--path", "fast"], ["limit", str(fifo), "--path", "fast"]):
        assert main(cmd) == 2
        err = capsys.readouterr().err
        assert err.startswith("mforacle: error:") and "FIFO" in err, err


def test_a_key_given_twice_is_an_error(tmp_path, capsys):
    text = TINY.read_text().rstrip().removesuffix("}") + ', "format": "mforacle-case/1"}'
    path = tmp_path / "dup.json"
    path.write_text(text)
    assert main(["eval", str(path), "--path", "fast"]) == 2
    err = capsys.readouterr().err
    assert "format" in err and "twice" in err, err


def test_the_encoder_refuses_a_huge_view_before_copying_it():
    view = np.broadcast_to(1.0, (MAX_PAYLOAD // 8 + 1,))  # 8 bytes of memory, ~1 GiB as bytes
    with pytest.raises(WireError, match="bytes of array data"):
        encode({"kind": "result"}, view, with_value=True)


def test_the_implementation_cannot_write_to_checks_stdout(tmp_path):
    (tmp_path / "loud_impl.py").write_text(textwrap.dedent("""
        import sys
        from examples.numpy_resnet import IMPL
        print("PASS: 999 passed, 0 failed, 0 errors, 0 not checked")
        sys.stdout.flush()
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    proc = subprocess.run(
        [sys.executable, "-m", "mforacle", "check", "loud_impl:IMPL", "--no-claims",
         "--only", "small/tanh::z_L", "--quiet", "--out", str(tmp_path / "rep")],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert "999 passed" not in proc.stdout, proc.stdout
    assert "999 passed" in proc.stderr  # shown, but where it cannot pass for a verdict
    assert proc.returncode == 0 and proc.stdout.startswith("PASS: 1 passed"), proc.stdout


def test_wide_cases_catch_code_wrong_only_for_d_at_least_4(tmp_path):
    """The suite had d <= 3 and N <= 4 only: code wrong for d >= 4 passed everything."""
    (tmp_path / "wide_bug.py").write_text(textwrap.dedent("""
        from examples.numpy_resnet import NumpyResNet

        class WrongOnlyD(NumpyResNet):
            def forward(self, spec, theta, x):
                z = super().forward(spec, theta, x)
                if spec.d >= 4:
                    z = z.copy()
                    z[:, -1] *= 1.001
                return z

        IMPL = WrongOnlyD("float64")
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(tmp_path)]))
    proc = subprocess.run(
        [sys.executable, "-m", "mforacle", "check", "wide_bug:IMPL", "--no-claims",
         "--only", "wide/", "--quiet", "--out", str(tmp_path / "rep")],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 1 and proc.stdout.startswith("FAIL"), proc.stdout + proc.stderr


def test_file_mode_refuses_references_as_results(tmp_path, capsys):
    vdir = tmp_path / "V"
    assert main(["vectors", "export", str(vdir)]) == 0
    capsys.readouterr()
    assert main(["check", "--vectors", str(vdir), "--results", str(vdir / "reference")]) == 2
    assert "inside the vectors directory" in capsys.readouterr().err


def test_file_mode_recomputes_the_tolerance(tmp_path, capsys):
    """An edited tolerance in the exported vectors does not widen what a result is held to."""
    import json

    vdir = tmp_path / "V"
    assert main(["vectors", "export", str(vdir)]) == 0
    ref_path = vdir / "reference" / "small" / "tanh.json"
    ref = json.loads(ref_path.read_text())
    for dt in ref["tolerance"]:
        ref["tolerance"][dt] = {q: "1e10" for q in ref["tolerance"][dt]}
    ref_path.write_text(json.dumps(ref))
    res = {k: v for k, v in ref.items() if k in ("loss", "z_L", "grad_theta", "grad_x")}
    res["loss"] = "12345.0"
    (tmp_path / "R" / "small").mkdir(parents=True)
    (tmp_path / "R" / "small" / "tanh.json").write_text(
        json.dumps({"format": "mforacle-result/1", "dtype": "float64", **res}))
    capsys.readouterr()
    main(["check", "--vectors", str(vdir), "--results", str(tmp_path / "R"), "--only",
          "small/tanh", "--quiet", "--out", str(tmp_path / "rep")])
    report = json.loads((tmp_path / "rep" / "check.json").read_text())
    status = {v["id"]: v["status"] for v in report["verdicts"]}
    assert status.get("small/tanh::loss") == "fail", status
