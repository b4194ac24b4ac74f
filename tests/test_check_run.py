"""How a ``check`` run reports itself: progress on stderr with elapsed time and an estimate of
what remains, and notes on what mforacle changed to run the implementation (JAX's float64)."""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import pytest

from mforacle.cli import main
from mforacle.harness.interrupt import Progress

ROOT = Path(__file__).resolve().parents[1]

FAKE_JAX = textwrap.dedent("""
    # a stand-in for JAX with the parts mforacle's adapter uses (JAX is not installed in CI)
    import types
    import numpy as _np

    class _Config:
        jax_enable_x64 = False

        def update(self, name, value):
            setattr(self, name, value)

    config = _Config()
    numpy = types.SimpleNamespace(
        asarray=_np.asarray, float64=_np.float64, float32=_np.float32, float16=_np.float16
    )
""")

JAX_IMPL = textwrap.dedent("""
    from examples.numpy_resnet import NumpyResNet

    class JaxLike(NumpyResNet):
        framework = "jax"

    IMPL64, IMPL32 = JaxLike("float64"), JaxLike("float32")
""")


def test_progress_lines_count_time_and_estimate():
    stream = io.StringIO()
    p = Progress(["check", "check", "claim"], stream=stream, every=0.0)
    assert p.remaining() is None
    for label in ("a", "b", "c"):
        p.begin(label)
        p.tick(label)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("[1/3] 0 s elapsed, about") and lines[0].endswith(": a"), lines
    assert lines[-1].startswith("[3/3]") and "about 0 s left" in lines[-1], lines


def test_progress_estimate_uses_each_kind_mean():
    p = Progress(["check", "check", "claim", "claim"], stream=io.StringIO(), enabled=False)
    p.done, p.spent = 2, {"check": [1.0, 3.0]}
    assert p.remaining() == pytest.approx(4.0)  # claims unseen: the overall mean, 2 s each
    p.done, p.spent = 3, {"check": [1.0, 3.0], "claim": [10.0]}
    assert p.remaining() == pytest.approx(10.0)


def test_check_prints_progress_to_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    code = main(
        ["check", "examples.numpy_resnet:IMPL", "--only", "small/tanh", "--no-claims",
         "--out", str(tmp_path / "rep")]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "[5/5]" in captured.err and "elapsed" in captured.err, captured.err
    assert "[5/5]" not in captured.out


@pytest.mark.parametrize("isolate", ["process", "thread"])
def test_jax_float64_switch_is_reported(tmp_path, monkeypatch, capsys, isolate):
    import sys

    fake = tmp_path / "fake"
    (fake / "jax").mkdir(parents=True)
    (fake / "jax" / "__init__.py").write_text(FAKE_JAX)
    (tmp_path / "mf_jaxlike.py").write_text(JAX_IMPL)
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    for path in (str(ROOT), str(tmp_path), str(fake)):
        monkeypatch.syspath_prepend(path)
    out = tmp_path / "rep"
    args = ["check", "mf_jaxlike:IMPL64", "--only", "small/tanh", "--no-claims", "--quiet"]
    code = main([*args, "--isolate", isolate, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0
    report = json.loads((out / "check.json").read_text())
    (note,) = report["implementation"]["notes"]
    assert "jax_enable_x64" in note and "jax_enable_x64" in err
    assert "note: mforacle switched on jax_enable_x64" in (out / "check.md").read_text()
    assert "jax_enable_x64" in (out / "check.html").read_text()
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    code = main(["check", "mf_jaxlike:IMPL32", "--only", "small/tanh", "--no-claims", "--quiet",
                 "--isolate", isolate, "--out", str(tmp_path / "rep32")])
    report = json.loads((tmp_path / "rep32" / "check.json").read_text())
    assert "notes" not in report["implementation"]
