"""``mforacle eval``: round trips on the bundled examples, ``-o FILE``, bad files.

The written decimal strings are checked against a 150-digit recomputation within the written
``error_bound`` (claim A4 for what a user actually reads: the bound must also cover printing
the values to ``dps`` significant digits).
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

from mforacle import cli
from mforacle.caseio import read_case, read_result
from mforacle.exact.network import evaluate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "mforacle" / "examples").glob("*.json"))
REF_DPS = 150


def _theta_examples() -> list[Path]:
    return [p for p in EXAMPLES if "theta" in json.loads(p.read_text())]


@pytest.mark.parametrize("example", _theta_examples(), ids=lambda p: p.stem)
def test_exact_round_trip_within_written_bound(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    assert cli.main(["eval", str(example), "--path", "exact", "--dps", "30", "-o", str(out)]) == 0
    obj = json.loads(out.read_text())
    case = read_case(example)
    read_result(out, case)  # the result validates against the case (format, shapes, finite)
    assert obj["format"] == "mforacle-result/1" and obj["path"] == "exact"
    assert obj["dtype"] == "mpmath" and obj["precision"]["dps"] == 30
    assert set(obj["error_bound"]) == {"loss", "z_L", "grad_theta", "grad_x"}
    _assert_written_within_bound(example, case, obj, max_digits=30)


def _assert_written_within_bound(example: Path, case, obj: dict, max_digits: int) -> None:
    """Every written decimal string is within the written bound of a 150-digit value."""
    d = case.data
    ref = evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=REF_DPS, confirm=False)
    refs = {"loss": np.array([ref.loss], dtype=object), "z_L": ref.z_L,
            "grad_theta": ref.grad_theta, "grad_x": ref.grad_x}
    with mpmath.workdps(REF_DPS):
        for name, want in refs.items():
            bound = Fraction(obj["error_bound"][name])
            written = np.array([obj[name]] if name == "loss" else obj[name], dtype=object)
            assert written.shape == want.shape, (name, written.shape, want.shape)
            for idx in np.ndindex(*want.shape):
                text = written[idx]
                digits = text.lower().split("e")[0].replace("-", "").replace(".", "").lstrip("0")
                assert len(digits) <= max_digits, f"{text} has more than {max_digits} digits"
                value = Fraction(text)
                err = abs(mpmath.mpf(value.numerator) / value.denominator - want[idx])
                assert err <= mpmath.mpf(bound.numerator) / bound.denominator, (
                    f"{example.name} ({obj['path']}): {name}{list(idx)} written {text}, "
                    f"{REF_DPS}-digit value {mpmath.nstr(want[idx], 35)}: |diff| "
                    f"{mpmath.nstr(err, 3)} > written bound {obj['error_bound'][name]}"
                )


def test_stdout_equals_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = ROOT / "mforacle" / "examples" / "tiny.json"
    out = tmp_path / "sub" / "r.json"  # parent folder is created
    assert cli.main(["eval", str(example), "--dps", "20"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert cli.main(["eval", str(example), "--dps", "20", "-o", str(out)]) == 0
    assert capsys.readouterr().out == ""
    assert json.loads(out.read_text()) == printed
    assert printed["path"] == "exact" and printed["precision"]["dps"] == 20


@pytest.mark.parametrize("example", _theta_examples(), ids=lambda p: p.stem)
def test_fast_path_result(example: Path, tmp_path: Path) -> None:
    """float64 values within the written bound (mforacle.tolerance + printing) of 150 digits."""
    pytest.importorskip("mforacle.fast.network")
    out = tmp_path / "fast.json"
    assert cli.main(["eval", str(example), "--path", "fast", "-o", str(out)]) == 0
    obj = json.loads(out.read_text())
    case = read_case(example)
    res = read_result(out, case)
    assert obj["path"] == "fast" and obj["dtype"] == "float64"
    assert res["grad_theta"].dtype == np.float64 and res["grad_theta"].shape == case.theta.shape
    assert ("error_bound" in obj) != ("notes" in obj), "either a bound or a note saying why not"
    if "error_bound" in obj:
        _assert_written_within_bound(example, case, obj, max_digits=17)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mforacle", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def _case(**changes) -> dict:
    obj = json.loads((ROOT / "mforacle" / "examples" / "tiny.json").read_text())
    for key, value in changes.items():
        if value is None:
            obj.pop(key)
        else:
            obj[key] = value
    return obj


BAD_FILES = {
    # name: (file text or None for a missing file, text the one-line error must contain)
    "missing field y": (json.dumps(_case(y=None)), "y: missing required field"),
    "NaN string": (json.dumps(_case(theta=[[["0.1", "nan", "0.3", "0.4", "0.5"]]])),
                   "theta[0][0][1]"),
    "wrong shape": (json.dumps(_case(theta=[[["0.1", "0.2", "0.3", "0.4"]]])), "theta"),
    "unknown activation": (json.dumps(_case(model={"d": 2, "activation": "relu"})),
                           "model.activation"),
    "weights not summing to 1": (json.dumps(_case(weights=["0.5", "0.6"])), "weights"),
    "unknown version": (json.dumps(_case(format="mforacle-case/2")), "format"),
    "invalid JSON": ('{"format": "mforacle-case/1", "model": ', "invalid JSON"),
    "NaN literal": (json.dumps(_case()).replace('"0.1"', "NaN", 1), "NaN"),
    "missing file": (None, "no such file"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_exits_2_with_one_line(name: str, tmp_path: Path) -> None:
    text, expect = BAD_FILES[name]
    path = tmp_path / "case.json"
    if text is not None:
        path.write_text(text)
    proc = _run("eval", str(path))
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (name, proc.returncode, proc.stderr)
    assert len(lines) == 1 and "Traceback" not in proc.stderr, (name, proc.stderr)
    assert expect in lines[0], f"{name}: expected {expect!r} in {lines[0]!r}"
    assert proc.stdout == ""


def test_measure_case_points_at_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    obj = _case(theta=None)
    obj["measure"] = {"kind": "gaussian-path", "r": 1,
                      "c": [["0.1"], ["0.2"], ["0"], ["0.3"], ["0"]],
                      "A": [[["0.5"]], [["0.1"]], [["0.3"]], [["0.2"]], [["0"]]]}
    path = tmp_path / "measure.json"
    path.write_text(json.dumps(obj))
    assert read_case(path).kind == "measure"  # a valid case, just not a theta one
    assert cli.main(["eval", str(path)]) == 2
    err = capsys.readouterr().err
    assert "mforacle limit" in err and len(err.strip().splitlines()) == 1, err
