"""``mforacle check`` from the command line: file mode with the progress lines on (no
``--quiet``), file-mode diagnostics for misspelled fields, and usage errors (``--timeout``,
``--only``) that must exit 2 with one clear line instead of a traceback or a vacuous run.

The "foreign" results here are the exported references themselves (exact values, written as
decimals, read with correct rounding): a conforming result set by construction, so no
subprocess implementation is needed; a failing set negates one gradient."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mforacle.cli import main
from mforacle.harness.vectors import export


@pytest.fixture(scope="module")
def vdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vectors")
    export(d, "dev")
    return d


def _results(vdir: Path, tmp_path: Path) -> Path:
    rdir = tmp_path / "results"
    shutil.copytree(vdir / "reference", rdir)
    return rdir


def _check(vdir: Path, rdir: Path, out: Path, *extra: str) -> int:
    args = ["check", "--vectors", str(vdir), "--results", str(rdir), "--out", str(out)]
    return main([*args, *extra])


def _statuses(out: Path) -> dict[str, str]:
    report = json.loads((out / "check.json").read_text())
    return {r["id"]: r["status"] for r in report["verdicts"]}


def test_file_mode_without_quiet_passes_and_writes_report(vdir, tmp_path, capsys):
    rdir, out = _results(vdir, tmp_path), tmp_path / "rep"
    code = _check(vdir, rdir, out)
    cap = capsys.readouterr()
    assert code == 0, (code, cap.out, cap.err[-2000:])
    assert (out / "check.json").is_file() and (out / "check.html").is_file()
    assert cap.out.startswith("PASS:"), cap.out
    # the not-checked train_step verdicts are listed on stderr by their check ids
    assert "small/tanh::train_step" in cap.err and "not checked" in cap.err, cap.err[-2000:]
    status = _statuses(out)
    assert status["small/tanh::grad_x"] == "pass", status


def test_file_mode_without_quiet_fails_and_writes_report(vdir, tmp_path, capsys):
    rdir, out = _results(vdir, tmp_path), tmp_path / "rep"
    path = rdir / "small" / "tanh.json"
    obj = json.loads(path.read_text())
    flip = lambda v: v[1:] if v.startswith("-") else f"-{v}"  # noqa: E731
    obj["grad_x"] = [[flip(v) for v in row] for row in obj["grad_x"]]
    path.write_text(json.dumps(obj))
    code = _check(vdir, rdir, out)
    cap = capsys.readouterr()
    assert code == 1, (code, cap.out, cap.err[-2000:])
    assert (out / "check.json").is_file(), list(out.iterdir()) if out.exists() else "no out dir"
    assert cap.out.startswith("FAIL:"), cap.out
    assert "small/tanh::grad_x" in cap.err, cap.err[-2000:]
    status = _statuses(out)
    assert status["small/tanh::grad_x"] == "fail" and status["small/tanh::z_L"] == "pass", status


def test_misspelled_fields_are_named_and_the_summary_warns(vdir, tmp_path, capsys):
    """Extra fields are allowed (docs/case-format.md), so misspelled gradient fields leave those
    checks *not checked* and the run may pass, but the reason and the summary line say why."""
    rdir, out = _results(vdir, tmp_path), tmp_path / "rep"
    for path in rdir.rglob("*.json"):
        obj = json.loads(path.read_text())
        if "grad_theta" in obj:
            obj["gradTheta"], obj["gradX"] = obj.pop("grad_theta"), obj.pop("grad_x")
        elif "Z1" in obj:
            obj["Z_1"] = obj.pop("Z1")
        obj["comment"] = "an allowed extra field"
        path.write_text(json.dumps(obj))
    # one file spelled right (with the same extra field): nothing to warn about there
    good = json.loads((vdir / "reference" / "small" / "erf.json").read_text())
    (rdir / "small" / "erf.json").write_text(json.dumps({**good, "comment": "extra"}))
    code = _check(vdir, rdir, out, "--quiet")
    cap = capsys.readouterr()
    assert code == 0, (code, cap.out)  # extra fields are not a failure
    assert "WARNING" in cap.out and "gradTheta, gradX" in cap.out, cap.out
    report = json.loads((out / "check.json").read_text())
    rows = {r["id"]: r for r in report["verdicts"]}
    for q in ("grad_theta", "grad_x"):
        row = rows[f"small/tanh::{q}"]
        want = f"{q} absent; the file has unknown fields comment, gradTheta, gradX"
        assert row["status"] == "not checked" and want in row["reason"], row
        assert rows[f"small/erf::{q}"]["status"] == "pass", rows[f"small/erf::{q}"]
    lim = rows["limit/erf-d1::Z1"]
    assert "Z1 absent; the file has unknown fields Z_1, comment" in lim["reason"], lim
    n_bad = sum(1 for p in rdir.rglob("*.json")) - 1
    assert f"{n_bad} result file(s)" in cap.out, (n_bad, cap.out)
    unknown = report["implementation"]["unknown_fields"]
    assert unknown["small/tanh"] == ["comment", "gradTheta", "gradX"] and "small/erf" not in unknown


@pytest.mark.parametrize("timeout", ["inf", "nan", "0", "-1"])
def test_bad_timeout_is_a_usage_error(timeout, capsys):
    code = main(["check", "examples.numpy_resnet:IMPL", "--timeout", timeout])
    err = capsys.readouterr().err
    assert code == 2, (timeout, code, err)
    assert err.count("\n") == 1 and "--timeout" in err and "finite" in err, err


def test_only_matching_nothing_is_a_usage_error(vdir, tmp_path, capsys):
    out = tmp_path / "rep"
    impl = ["check", "examples.numpy_resnet:IMPL", "--isolate", "thread", "--no-claims"]
    code = main([*impl, "--only", "zzz", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "--only" in err and "no check id contains it" in err, (code, err)
    code = _check(vdir, _results(vdir, tmp_path), out, "--only", "zzz")
    err = capsys.readouterr().err
    assert code == 2 and "no case id contains it" in err, (code, err)
    assert not (out / "check.json").exists()  # nothing was run, no vacuous report


def test_a_result_with_one_gradient_component_checks_that_one(vdir, tmp_path, capsys):
    """An omitted field is *not checked* (docs/case-format.md); the field that is there is
    checked."""
    rdir, out = _results(vdir, tmp_path), tmp_path / "rep"
    path = rdir / "small" / "tanh.json"
    obj = json.loads(path.read_text())
    del obj["grad_theta"]
    path.write_text(json.dumps(obj))
    code = _check(vdir, rdir, out, "--quiet")
    capsys.readouterr()
    assert code == 0
    status = _statuses(out)
    assert status["small/tanh::grad_theta"] == "not checked", status
    assert status["small/tanh::grad_x"] == "pass", status
