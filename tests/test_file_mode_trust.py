"""File mode trusts nothing it reads (issue 9, item 7): every path in a manifest resolves inside
VDIR, every result path inside RDIR, each to a regular file, or the entry is an ``error``
verdict; malformed manifest fields are ``error`` verdicts, not tracebacks; a duplicate entry is
an error and is graded once; the report is always written."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mforacle.cli import main
from mforacle.errors import CaseFormatError
from mforacle.harness.vectors import export, resolve_inside, safe_id


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("vectors")
    export(d, "dev")
    return d


@pytest.fixture
def dirs(exported, tmp_path):
    """A private copy: VDIR, RDIR (conforming results: the references), and a sibling R."""
    vdir = tmp_path / "V"
    shutil.copytree(exported, vdir)
    rdir = tmp_path / "RDIR"
    shutil.copytree(exported / "reference", rdir)
    return vdir, rdir


def _manifest(vdir: Path) -> dict:
    return json.loads((vdir / "manifest.json").read_text())


def _save(vdir: Path, manifest: dict) -> None:
    (vdir / "manifest.json").write_text(json.dumps(manifest))


def _run(vdir: Path, rdir: Path, out: Path, capsys, *extra: str):
    code = main(
        ["check", "--vectors", str(vdir), "--results", str(rdir), "--out", str(out), "--quiet",
         *extra]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert "Traceback" not in err
    report = json.loads((out / "check.json").read_text())  # always written
    return code, report


def _rows_for(report: dict, case_id: str) -> list[dict]:
    return [r for r in report["verdicts"] if r.get("evidence", {}).get("case_id") == case_id
            or str(r["id"]).startswith(f"{case_id}::")]


def _errors(report: dict) -> list[str]:
    return [r["reason"] for r in report["verdicts"] if r["status"] == "error"]


def test_an_id_that_climbs_out_of_rdir_is_an_error(dirs, tmp_path, capsys):
    """Old behaviour: ``../R/small/tanh`` read ``RDIR/../R/small/tanh.json`` — a correct result
    outside RDIR — and PASSED, while RDIR itself held nothing for it."""
    vdir, rdir = dirs
    shutil.copytree(rdir, tmp_path / "R")
    (rdir / "small" / "tanh.json").unlink()
    m = _manifest(vdir)
    entry = next(e for e in m["cases"] if e["id"] == "small/tanh")
    entry["id"] = "../R/small/tanh"
    _save(vdir, m)
    code, report = _run(vdir, rdir, tmp_path / "rep", capsys, "--only", "tanh")
    assert code == 1
    assert not any(r["status"] == "pass" and "../R" in str(r["id"]) for r in report["verdicts"])
    assert any("'.' and '..' are not allowed" in e or "expected an id" in e
               for e in _errors(report)), _errors(report)


@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/zero", "../../etc/passwd", "."])
def test_case_paths_outside_vdir_are_errors(dirs, tmp_path, capsys, target):
    vdir, rdir = dirs
    m = _manifest(vdir)
    m["cases"][0]["case"] = target
    _save(vdir, m)
    code, report = _run(vdir, rdir, tmp_path / "rep", capsys)
    cid = m["cases"][0]["id"]
    rows = _rows_for(report, cid)
    assert code == 1 and rows and all(r["status"] == "error" for r in rows), rows
    assert any(w in rows[0]["reason"] for w in ("absolute", "outside", "regular file")), rows


def test_a_symlink_to_a_device_or_outside_is_an_error(dirs, tmp_path, capsys):
    vdir, rdir = dirs
    m = _manifest(vdir)
    first, second = m["cases"][0], m["cases"][1]
    (vdir / "zero.json").symlink_to("/dev/zero")
    first["case"] = "zero.json"
    os.mkfifo(vdir / "fifo.json")  # reading it would block forever
    second["reference"] = "fifo.json"
    _save(vdir, m)
    # a result file that is a symlink out of RDIR
    outside = tmp_path / "elsewhere.json"
    shutil.copy(rdir / "small" / "sigmoid.json", outside)
    (rdir / "small" / "sigmoid.json").unlink()
    (rdir / "small" / "sigmoid.json").symlink_to(outside)
    code, report = _run(vdir, rdir, tmp_path / "rep", capsys)
    assert code == 1
    errors = _errors(report)
    assert any("zero.json" in e and "outside" in e for e in errors), errors
    assert any("fifo.json" in e and "not a regular file" in e for e in errors), errors
    erf = [r for r in _rows_for(report, "small/sigmoid") if r["status"] == "error"]
    assert erf and "outside" in erf[0]["reason"], erf


@pytest.mark.parametrize(
    "mutate, expect",
    [
        (lambda m: m["cases"].__setitem__(0, None), "expected {id, case, reference}"),
        (lambda m: m["cases"][0].__setitem__("case", None), "expected a path"),
        (lambda m: m.__setitem__("limit_cases", 5), "manifest.limit_cases: expected a list"),
        (lambda m: m.__setitem__("cases", "all"), "manifest.cases: expected a list"),
        (lambda m: m["cases"][0].__setitem__("id", 7), "expected an id"),
        (lambda m: m["cases"][0].pop("reference"), "expected a path"),
    ],
)
def test_malformed_manifest_fields_are_error_verdicts(dirs, tmp_path, capsys, mutate, expect):
    vdir, rdir = dirs
    m = _manifest(vdir)
    mutate(m)
    _save(vdir, m)
    code, report = _run(vdir, rdir, tmp_path / "rep", capsys)
    assert code == 1
    assert any(expect in e for e in _errors(report)), _errors(report)
    # the other entries are still graded
    assert any(r["status"] == "pass" for r in report["verdicts"])


@pytest.mark.parametrize("field", ["loss", "z_L", "error_bound", "tolerance"])
def test_a_reference_missing_or_bad_field_is_an_error(dirs, tmp_path, capsys, field):
    vdir, rdir = dirs
    path = vdir / "reference" / "small" / "tanh.json"
    ref = json.loads(path.read_text())
    if field == "tolerance":
        ref["tolerance"]["float64"]["loss"] = "nan"
    elif field == "z_L":
        ref["z_L"] = ref["z_L"][:1]  # wrong shape
    else:
        del ref[field]
    path.write_text(json.dumps(ref))
    code, report = _run(vdir, rdir, tmp_path / "rep", capsys)
    rows = _rows_for(report, "small/tanh")
    assert code == 1 and [r["status"] for r in rows] == ["error"], rows
    assert f"reference.{field}" in rows[0]["reason"], rows


def test_a_reference_with_a_hostile_number_is_an_error(dirs, tmp_path, capsys):
    vdir, rdir = dirs
    path = vdir / "reference" / "small" / "tanh.json"
    ref = json.loads(path.read_text())
    ref["loss"] = "1" * 100_000
    path.write_text(json.dumps(ref))
    code, report = _run(vdir, rdir, tmp_path / "rep", capsys)
    rows = _rows_for(report, "small/tanh")
    assert code == 1 and [r["status"] for r in rows] == ["error"], rows


def test_duplicate_entries_are_an_error_and_graded_once(dirs, tmp_path, capsys):
    vdir, rdir = dirs
    m = _manifest(vdir)
    m["cases"].append(dict(m["cases"][0]))
    _save(vdir, m)
    code, report = _run(vdir, rdir, tmp_path / "rep", capsys)
    cid = m["cases"][0]["id"]
    graded = [r for r in report["verdicts"] if str(r["id"]).startswith(f"{cid}::")
              and not str(r["id"]).endswith("::vectors")]
    assert len(graded) == len({r["id"] for r in graded}) == 5, graded
    assert code == 1 and any("duplicate id" in e for e in _errors(report))


def test_a_missing_manifest_is_an_error_verdict_with_a_report(tmp_path, capsys):
    vdir = tmp_path / "V"
    vdir.mkdir()
    code, report = _run(vdir, tmp_path, tmp_path / "rep", capsys)
    assert code == 1 and "manifest.json" in _errors(report)[0]


def test_a_vectors_path_that_is_not_a_directory_is_a_usage_error(tmp_path, capsys):
    code = main(["check", "--vectors", str(tmp_path / "nope"), "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("mforacle: error: --vectors") and err.count("\n") == 1


def test_safe_ids_and_paths(tmp_path):
    assert safe_id("small/tanh") == "small/tanh" and safe_id("edge/large-weights.v2")
    for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "", "a\\b", "x\n", None, 3, "a/.."]:
        with pytest.raises(CaseFormatError):
            safe_id(bad)
    (tmp_path / "ok.json").write_text("{}")
    assert resolve_inside(tmp_path, "ok.json", "f") == (tmp_path / "ok.json").resolve()
    (tmp_path / "sub").mkdir()
    for bad in ["../ok.json", "/etc/passwd", "sub", "missing.json"]:
        with pytest.raises(CaseFormatError):
            resolve_inside(tmp_path / "sub" if bad == "../ok.json" else tmp_path, bad, "f")
