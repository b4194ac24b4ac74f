"""Edge cases of the command line and the case contract found by adversarial review."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mforacle.caseio import read_case

EXAMPLES = Path(__file__).resolve().parents[1] / "mforacle" / "examples"


def _run(*args):
    out = subprocess.run([sys.executable, "-m", "mforacle", *args], capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


def _tiny():
    return json.loads((EXAMPLES / "tiny.json").read_text())


def _strings_to_numbers(obj):
    if isinstance(obj, list):
        return [_strings_to_numbers(v) for v in obj]
    return float(obj) if isinstance(obj, str) else obj


def test_json_numbers_are_read_exactly(tmp_path):
    """0.1 written as a JSON number is the decimal 0.1, not the nearest double."""
    obj = _tiny()
    obj["theta"] = _strings_to_numbers(obj["theta"])
    obj["x"] = _strings_to_numbers(obj["x"])
    p = tmp_path / "numbers.json"
    p.write_text(json.dumps(obj))
    assert (read_case(p).theta == read_case(EXAMPLES / "tiny.json").theta).all()
    assert (read_case(p).data.x == read_case(EXAMPLES / "tiny.json").data.x).all()
    rc1, out1, _ = _run("eval", str(p), "--path", "exact")
    rc2, out2, _ = _run("eval", str(EXAMPLES / "tiny.json"), "--path", "exact")
    assert rc1 == rc2 == 0 and json.loads(out1)["loss"] == json.loads(out2)["loss"]


def test_tiny_json_numbers_are_not_flushed_to_zero(tmp_path):
    text = json.dumps(_tiny()).replace('"y": ["0.1"', '"y": [1e-400')
    assert "1e-400" in text
    p = tmp_path / "tiny_number.json"
    p.write_text(text)
    assert read_case(p).data.y[0] != 0


@pytest.mark.parametrize("probes", [["t"], [5], "x"])
def test_malformed_probes_are_a_one_line_error(tmp_path, probes):
    obj = json.loads((EXAMPLES / "measure_erf_d1.json").read_text())
    obj["measure"]["probes"] = probes
    p = tmp_path / "probes.json"
    p.write_text(json.dumps(obj))
    rc, _, err = _run("limit", str(p), "--path", "fast")
    assert rc == 2 and err.count("\n") == 1 and "probes" in err, err


def test_numbers_beyond_float64_are_refused_by_the_fast_path_only(tmp_path):
    obj = _tiny()
    obj["y"] = ["1e400", "-0.3"]
    p = tmp_path / "huge.json"
    p.write_text(json.dumps(obj))
    rc, _, err = _run("eval", str(p), "--path", "fast")
    assert rc == 2 and err.count("\n") == 1 and "float64" in err, err
    rc, _out, err = _run("eval", str(p), "--path", "exact")
    assert rc == 0, err


@pytest.mark.parametrize(
    "args",
    [
        ["eval", "{tiny}", "--path", "fast", "-o", "{dir}"],
        ["eval", "{tiny}", "--path", "fast", "-o", "/proc/nonexistent/x.json"],
        ["vectors", "export", "{tiny}"],
        ["claims", "--claim", "C5", "--json", "{dir}"],
    ],
)
def test_unusable_paths_are_a_one_line_error(tmp_path, args):
    args = [a.format(tiny=EXAMPLES / "tiny.json", dir=tmp_path) for a in args]
    rc, _, err = _run(*args)
    assert rc == 2, (rc, err)
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("mforacle: error:")
