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
