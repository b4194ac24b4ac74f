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
    # a stand-in for JAX with the parts mforacle's adapter uses (fast: no real JAX import)
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


def test_progress_estimate_grows_with_a_long_running_check():
    import time

    p = Progress(["claim", "claim", "claim"], stream=io.StringIO(), enabled=False)
    p.done, p.spent = 1, {"claim": [1.0]}
    assert p.remaining() == pytest.approx(2.0)
    p.begin("claim::C3")
    p._mark = time.monotonic() - 9.0  # it has run 9 s: the claims' mean becomes 5 s
    assert p.remaining() == pytest.approx(5.0, abs=0.5)


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


def _forget_jax() -> None:
    import sys

    for name in [m for m in sys.modules if m == "jax" or m.startswith("jax.")]:
        del sys.modules[name]


@pytest.fixture
def jax_modules_restored():
    """The fake JAX below is imported in-process (thread mode): put the real modules (if any were
    loaded) back afterwards, so later tests see the real JAX, not the stand-in."""
    import sys

    saved = {m: mod for m, mod in sys.modules.items() if m == "jax" or m.startswith("jax.")}
    yield
    _forget_jax()
    sys.modules.update(saved)


@pytest.mark.parametrize("isolate", ["process", "thread"])
def test_jax_float64_switch_is_reported(tmp_path, monkeypatch, capsys, isolate,
                                        jax_modules_restored):

    fake = tmp_path / "fake"
    (fake / "jax").mkdir(parents=True)
    (fake / "jax" / "__init__.py").write_text(FAKE_JAX)
    (tmp_path / "mf_jaxlike.py").write_text(JAX_IMPL)
    _forget_jax()
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
    _forget_jax()
    code = main(["check", "mf_jaxlike:IMPL32", "--only", "small/tanh", "--no-claims", "--quiet",
                 "--isolate", isolate, "--out", str(tmp_path / "rep32")])
    report = json.loads((tmp_path / "rep32" / "check.json").read_text())
    assert "notes" not in report["implementation"]
