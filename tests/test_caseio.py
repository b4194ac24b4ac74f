"""The case contract: round trips are exact, versions are checked, extra fields survive."""

import json

import pytest
from hypothesis import given
from mforacle.properties.strategies import discrete_cases

from mforacle.caseio import case_from_json, read_case, read_result, result_from_json
from mforacle.errors import CaseFormatError, UnsupportedFormatVersion


@given(discrete_cases())
def test_case_round_trip_is_exact(dc):
    case = dc.to_case()
    again = case_from_json(json.loads(json.dumps(case.to_json())))
    assert again.model == case.model
    assert (again.theta == case.theta).all()
    assert (again.data.x == case.data.x).all()
    assert (again.data.y == case.data.y).all()
    assert (again.data.weights == case.data.weights).all()


def test_extra_fields_are_kept(tmp_path):
    obj = json.loads(open("mforacle/examples/tiny.json").read())
    obj["name"] = "mine"
    case = case_from_json(obj)
    assert case.to_json()["name"] == "mine"


@pytest.mark.parametrize("fmt", ["mforacle-case/2", "mforacle-case/0.9"])
def test_unknown_version_is_refused(fmt):
    obj = json.loads(open("mforacle/examples/tiny.json").read())
    obj["format"] = fmt
    with pytest.raises(UnsupportedFormatVersion, match="format"):
        case_from_json(obj)


def test_errors_name_file_and_field(tmp_path):
    obj = json.loads(open("mforacle/examples/tiny.json").read())
    obj["theta"][0][0][4] = "NaN"
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(obj))
    with pytest.raises(CaseFormatError) as info:
        read_case(p)
    assert str(p) in str(info.value) and "theta[0][0][4]" in str(info.value)


def test_theta_and_measure_are_exclusive():
    obj = json.loads(open("mforacle/examples/tiny.json").read())
    obj["measure"] = {"kind": "gaussian-path", "r": 1, "c": [], "A": []}
    with pytest.raises(CaseFormatError, match="exactly one"):
        case_from_json(obj)


def test_result_reader_checks_shapes_against_case(tmp_path):
    case = read_case("mforacle/examples/tiny.json")
    good = {
        "format": "mforacle-result/1",
        "loss": "0.1",
        "z_L": [["1", "2"], ["3", "4"]],
        "dtype": "float64",
    }
    out = result_from_json(good, case)
    assert out["z_L"].shape == (2, 2) and out["loss"] == 0.1
    bad = dict(good, z_L=[["1", "2"]])
    with pytest.raises(CaseFormatError, match="z_L"):
        result_from_json(bad, case)
    p = tmp_path / "r.json"
    p.write_text(json.dumps(dict(good, loss="NaN")))
    with pytest.raises(CaseFormatError, match="loss"):
        read_result(p, case)


def test_atomic_writes_have_ordinary_permissions(tmp_path):
    import os
    import stat

    from mforacle.caseio import write_json_atomic, write_text_atomic

    umask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "a.json", {"x": 1})
        write_text_atomic(tmp_path / "b.md", "text")
    finally:
        os.umask(umask)
    for name in ("a.json", "b.md"):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode == 0o644, (name, oct(mode))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
