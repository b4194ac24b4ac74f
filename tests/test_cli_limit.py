"""``mforacle limit`` on the bundled measure cases, both paths; bad input exits with 2."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from mforacle.caseio import read_case, result_from_json
from mforacle.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "mforacle" / "examples"
CASES = sorted(p.name for p in EXAMPLES.glob("measure_*.json"))


def _run(argv, capsys) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bundled_cases_exist() -> None:
    assert len(CASES) >= 3, CASES


@pytest.mark.parametrize("name", CASES)
def test_limit_both_paths_agree_on_bundled_cases(name: str, capsys) -> None:
    path = str(EXAMPLES / name)
    case = read_case(path)
    code, out_f, err = _run(["limit", path, "--path", "fast", "--steps", "32"], capsys)
    assert code == 0, err
    code, out_e, err = _run(["limit", path, "--path", "exact", "--dps", "20"], capsys)
    assert code == 0, err
    fast, exact = json.loads(out_f), json.loads(out_e)
    assert fast["path"] == "fast" and exact["path"] == "exact"
    for r in (fast, exact):
        assert r["format"] == "mforacle-result/1" and "precision" in r and "error_bound" in r
    f, e = result_from_json(fast, case), result_from_json(exact, case)  # shapes checked
    assert f["velocity"].shape == (len(case.probes), case.model.k)
    for field in ("energy", "Z1", "first_variation", "velocity"):
        a, b = np.atleast_1d(f[field]), np.atleast_1d(e[field])
        bound = float(Fraction(fast["error_bound"][field])) + float(
            Fraction(exact["error_bound"][field])) + 2.0**-52 * float(np.max(np.abs(b)))
        diff = float(np.max(np.abs(a - b)))
        assert diff <= bound, f"{name} {field}: fast vs exact {diff:.3g} > {bound:.3g}"


def test_output_file(tmp_path, capsys) -> None:
    out = tmp_path / "r.json"
    code, stdout, _ = _run(["limit", str(EXAMPLES / "measure_erf_d1.json"), "--path", "fast",
                            "-o", str(out)], capsys)
    assert code == 0 and stdout == ""
    assert json.loads(out.read_text())["path"] == "fast"


@pytest.mark.parametrize(
    "make, extra",
    [
        (lambda d: d / "missing.json", []),
        (lambda d: (d / "bad.json").write_text("{not json") and d / "bad.json", []),
        (lambda d: (d / "v2.json").write_text('{"format": "mforacle-case/2"}') and d / "v2.json",
         []),
        (lambda d: EXAMPLES / "tiny.json", []),  # a theta case
        (lambda d: EXAMPLES / "measure_erf_d1.json", ["--path", "fast", "--dps", "20"]),
        (lambda d: EXAMPLES / "measure_erf_d1.json", ["--tol", "1e-40"]),
    ],
)
def test_bad_input_exits_2(make, extra, tmp_path, capsys) -> None:
    path = make(tmp_path)
    code, _out, err = _run(["limit", str(path), *extra], capsys)
    assert code == 2, err
    assert err.startswith("mforacle: error:") and "\n" == err[-1] and err.count("\n") == 1, err


def test_bad_case_field_is_named(tmp_path, capsys) -> None:
    obj = json.loads((EXAMPLES / "measure_erf_d1.json").read_text())
    obj["measure"]["probes"][0]["t"] = "1.5"
    p = tmp_path / "c.json"
    p.write_text(json.dumps(obj))
    code, _out, err = _run(["limit", str(p)], capsys)
    assert code == 2 and "measure.probes[0].t" in err, err


# --- the certified paths (issue 11) --------------------------------------------------------------
def test_ball_path_is_rigorous_and_reports_progress(capsys) -> None:
    path = str(EXAMPLES / "measure_erf_d1.json")
    code, out, err = _run(["limit", path, "--path", "ball", "--tol", "1e-12"], capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["path"] == "ball" and r["dtype"] == "arb" and r["error_bound_kind"] == "rigorous"
    assert set(r["error_bound"]) == {"energy", "Z1", "first_variation", "velocity"}
    assert all(0 < float(b) <= 1e-12 for b in r["error_bound"].values()), r["error_bound"]
    assert "mforacle limit: point 1/3" in err  # progress on standard error, one line per point


def test_exact_path_is_certified_by_default(capsys) -> None:
    """The written exact values get the rigorous bound |written − m| + r; the GBS estimate is
    kept as error_estimate, and the ball certificate says whether that estimate held."""
    path = str(EXAMPLES / "measure_erf_d1.json")
    code, out, err = _run(["limit", path, "--dps", "20"], capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["error_bound_kind"] == "rigorous" and r["certificate"]["by"] == "ball"
    assert set(r["error_estimate"]) >= {"energy", "Z1", "first_variation", "velocity"}
    assert all(r["certificate"]["estimate_proved"].values())
    assert "extrapolation row" in err  # the exact solver's progress
    code, out, _ = _run(["limit", path, "--dps", "20", "--no-certify"], capsys)
    assert code == 0 and json.loads(out)["error_bound_kind"] == "estimate"


def test_fast_path_says_estimate(capsys) -> None:
    code, out, _ = _run(["limit", str(EXAMPLES / "measure_erf_d1.json"), "--path", "fast"],
                        capsys)
    assert code == 0 and json.loads(out)["error_bound_kind"] == "estimate"


@pytest.mark.parametrize("extra", [["--path", "ball", "--no-certify"],
                                   ["--path", "ball", "--steps", "4"],
                                   ["--path", "fast", "--tol", "1e-9"]])
def test_misplaced_options_exit_2(extra, capsys) -> None:
    code, _out, err = _run(["limit", str(EXAMPLES / "measure_erf_d1.json"), *extra], capsys)
    assert code == 2 and err.startswith("mforacle: error:"), err


def test_a_wrong_exact_value_is_refuted(monkeypatch) -> None:
    """An exact result moved by 1e-9 while stating 1e-20 lies outside the certified ball: the
    certification raises (a bug in mforacle is never a silent pass)."""
    import mpmath

    from mforacle import reference
    from mforacle.errors import CertificationError
    from mforacle.exact import limit as exact_limit

    orig = exact_limit.solve

    def shifted(*args, **kwargs):
        r = orig(*args, **kwargs)
        object.__setattr__(r, "energy", r.energy + mpmath.mpf("1e-9"))
        return r

    monkeypatch.setattr(exact_limit, "solve", shifted)
    case = read_case(str(EXAMPLES / "measure_erf_d1.json"))
    d = case.data
    with pytest.raises(CertificationError):
        reference.limit(case.model, case.measure, d.x, d.y, d.weights, case.probes, dps=30,
                        tol="1e-20")
