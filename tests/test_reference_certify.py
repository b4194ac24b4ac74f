"""Certified references (``mforacle.reference``), the three paths pairwise, the CLI.

- The exact path's values are proved by the ball path: the rigorous bound ``max |v − m| + r``
  is within the exact path's own estimate on every built-in case (so the estimate is a theorem
  there), and a value moved outside its stated interval raises :class:`CertificationError`.
- The three arithmetics agree pairwise within their bounds: exact vs ball within ``e + r``,
  fast vs ball within ``tolerance.entrywise_bounds + r``, fast vs exact within
  ``tolerance.entrywise_bounds + rigorous bound`` (error models in each module).
- ``mforacle eval --path ball`` / certified ``--path exact`` round trips: every written decimal
  within the written rigorous ``error_bound`` of a 150-digit value; bad input exits 2, one line.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest

from mforacle import cli, reference, tolerance
from mforacle.ball import network as ball_network
from mforacle.caseio import read_case, read_result
from mforacle.claims.exactness import builtin_case, check_a4
from mforacle.errors import CertificationError, MforacleError
from mforacle.exact import network as exact_network
from mforacle.fast import network as fast_network
from mforacle.harness.checks import Reference, float_up

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "mforacle" / "examples"
QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")
CASES = range(6)  # the built-in claim cases: every activation, κ ≠ 0, weights


def _args(case):
    return case.model, case.theta, case.x, case.y, case.weights


def _mpf(v) -> mpmath.mpf:
    man, exp = v.man_exp()
    return mpmath.mpf((int(man), int(exp)))


@pytest.mark.parametrize("i", CASES)
def test_reference_is_certified_and_proves_the_estimate(i: int, measured) -> None:
    case, _ = builtin_case(i)
    r = reference.evaluate(*_args(case), dps=30)
    assert r.certified and r.error_bound_kind == "rigorous"
    assert all(r.proved.values()), r.proved
    worst = max(float(r.error_bound[q] / r.estimate[q]) for q in QUANTITIES if r.estimate[q])
    assert worst <= 1
    for q in QUANTITIES:
        shape = np.asarray(r.get(q), dtype=object).shape
        assert r.entry_bound[q].shape == shape
        assert max(np.asarray(r.entry_bound[q]).reshape(-1)) == r.error_bound[q]
    measured(f"reference case {i} ({case.model.activation}): rigorous bound / exact estimate "
             f"<= {worst:.2g}")


def test_uncertified_reference_is_the_estimate() -> None:
    case, _ = builtin_case(0)
    r = reference.evaluate(*_args(case), dps=20, certify=False)
    assert r.error_bound_kind == "estimate" and not r.certified and r.ball is None
    ex = exact_network.evaluate(*_args(case), dps=20)
    assert r.error_bound == ex.error_bound


def _shifted(ex, q: str, delta: mpmath.mpf):
    """The exact result with one entry of ``q`` moved by ``delta`` (added at 80 digits)."""
    with mpmath.workdps(80):
        return _shift(ex, q, delta)


def _shift(ex, q: str, delta: mpmath.mpf):
    if q == "loss":
        return dataclasses.replace(ex, loss=ex.loss + delta)
    arr = np.array(getattr(ex, q), dtype=object, copy=True)
    arr.reshape(-1)[0] = arr.reshape(-1)[0] + delta
    if q == "grad_theta":
        return dataclasses.replace(ex, grad_theta=arr)
    z, qq = np.array(ex.z, copy=True), np.array(ex.q, copy=True)
    if q == "z_L":
        z[-1] = arr
        return dataclasses.replace(ex, z=z)
    qq[0] = arr
    return dataclasses.replace(ex, q=qq, grad_x=arr)


@pytest.mark.parametrize("q", QUANTITIES)
def test_a_value_outside_its_ball_is_a_loud_error(q: str) -> None:
    case, _ = builtin_case(1)
    ex = exact_network.evaluate(*_args(case), dps=30)
    ball = ball_network.evaluate(*_args(case), dps=40)
    reference.certify(ex, ball)  # the genuine result passes
    wrong = _shifted(ex, q, 1000 * ex.error_bound[q] + mpmath.mpf(10) ** -25)
    with pytest.raises(CertificationError) as info:
        reference.certify(wrong, ball)
    assert q in str(info.value) and info.value.refutations
    assert not isinstance(info.value, MforacleError)  # a bug, not a one-line user error
    _bound, _entries, proved, refuted = reference.certify(wrong, ball, strict=False)
    assert refuted and not proved[q]


def test_a_value_just_inside_its_stated_interval_is_not_refuted() -> None:
    """Moved by twice its stated error: refuted; by half of it: still proved within it (the
    rigorous bound then grows by that half, less the original value's own error)."""
    case, _ = builtin_case(2)
    ex = exact_network.evaluate(*_args(case), dps=30)
    ball = ball_network.evaluate(*_args(case), dps=40)
    before = reference.certify(ex, ball)[0]["loss"]
    wrong = _shifted(ex, "loss", ex.error_bound["loss"] * 2)
    _b, _e, proved, refuted = reference.certify(wrong, ball, strict=False)
    assert refuted  # 2e away: proved outside
    near = _shifted(ex, "loss", ex.error_bound["loss"] / 2)
    bound, _e, proved, refuted = reference.certify(near, ball, strict=False)
    assert not refuted and proved["loss"]
    assert bound["loss"] >= ex.error_bound["loss"] / 2 - before


def test_claim_a4_catches_a_refuted_exact_path() -> None:
    case, _ = builtin_case(0)

    def shifted(*args, **kwargs):
        ex = exact_network.evaluate(*args, **kwargs)
        return _shifted(ex, "grad_x", 10 * ex.error_bound["grad_x"])

    good = check_a4(case)
    assert good.status == "pass" and good.figure < 0.05, good.summary()
    bad = check_a4(case, evaluate=shifted)
    assert bad.status == "fail" and bad.evidence["refuted"], bad.summary()


# ------------------------------------------------------------------ three paths pairwise


@pytest.mark.parametrize("i", CASES)
def test_the_three_paths_agree_pairwise_within_their_bounds(i: int) -> None:
    case, _ = builtin_case(i)
    args = _args(case)
    ball = ball_network.evaluate(*args, dps=30)
    ex = exact_network.evaluate(*args, dps=30)
    fast = fast_network.evaluate(*args)
    tol = tolerance.entrywise_bounds(*args, unit_roundoff=2.0**-53, inputs_rounded=False)
    rig, _e, _p, refuted = reference.certify(ex, ball, strict=False)
    assert not refuted
    bad = []
    with mpmath.workprec(800):
        for q in QUANTITIES:
            balls = ball.get(q)
            exv = np.asarray(ex.loss if q == "loss" else getattr(ex, q), dtype=object)
            fav = np.asarray(fast.loss if q == "loss" else getattr(fast, q), dtype=np.float64)
            t = np.asarray(tol[q], dtype=np.float64).reshape(fav.shape)
            for idx in np.ndindex(*balls.shape):
                m, r = _mpf(balls[idx].mid()), _mpf(balls[idx].rad())
                f = mpmath.mpf(float(fav[idx]))
                pairs = {
                    "exact-ball": (abs(exv[idx] - m), ex.error_bound[q] + r),
                    "fast-ball": (abs(f - m), mpmath.mpf(float(t[idx])) + r),
                    "fast-exact": (abs(f - exv[idx]), mpmath.mpf(float(t[idx])) + rig[q]),
                }
                bad += [f"{name} {q}{list(idx)}: {mpmath.nstr(d, 3)} > {mpmath.nstr(b, 3)}"
                        for name, (d, b) in pairs.items() if d > b]
    assert not bad, "\n".join(bad[:5])


# --------------------------------------------------------------------- harness, vectors


def test_harness_reference_is_rigorous_and_rounds_bounds_up() -> None:
    case, _ = builtin_case(3)
    ref = Reference.compute(*_args(case))
    assert ref.error_bound_kind == "rigorous"
    obj = ref.to_json()
    assert obj["error_bound_kind"] == "rigorous"
    assert Reference.from_json(obj).error_bound_kind == "rigorous"
    old = dict(obj)
    del old["error_bound_kind"]
    assert Reference.from_json(old).error_bound_kind == "estimate"  # exports before 1.2
    third = Fraction(1, 3)
    assert Fraction(float_up(third)) >= third and Fraction(float_up(Fraction(1, 2))) == 0.5
    assert float_up(mpmath.mpf(10) ** -400) > 0  # below float64's range: the smallest double


# ------------------------------------------------------------------------------- CLI


def _written_within_bound(case, obj: dict) -> None:
    d = case.data
    hi = exact_network.evaluate(case.model, case.theta, d.x, d.y, d.weights, dps=150,
                                confirm=False)
    with mpmath.workdps(150):
        for q in QUANTITIES:
            want = np.asarray(hi.loss if q == "loss" else getattr(hi, q), dtype=object)
            written = np.asarray(obj[q], dtype=object)
            bound = Fraction(obj["error_bound"][q])
            radii = np.asarray(obj["radii"][q], dtype=object) if "radii" in obj else None
            for idx in np.ndindex(*want.shape):
                v = Fraction(written[idx])
                err = abs(mpmath.mpf(v.numerator) / v.denominator - want[idx])
                assert err <= mpmath.mpf(bound.numerator) / bound.denominator, (q, idx)
                if radii is not None:
                    rad = Fraction(radii[idx])
                    assert err <= mpmath.mpf(rad.numerator) / rad.denominator, (q, idx)
                    # radii: 3 digits rounded up (+1% +rounding), the bound 6 digits
                    assert rad <= bound * (1 + Fraction(1, 20)), (q, idx)


@pytest.mark.parametrize("example", ["tiny", "regrelu_kappa", "sin"])
def test_ball_eval_round_trip(example: str, tmp_path: Path) -> None:
    path = EXAMPLES / f"{example}.json"
    out = tmp_path / "ball.json"
    assert cli.main(["eval", str(path), "--path", "ball", "--dps", "25", "--radii",
                     "-o", str(out)]) == 0
    obj = json.loads(out.read_text())
    case = read_case(path)
    read_result(out, case)  # validates against the case
    assert obj["path"] == "ball" and obj["dtype"] == "arb"
    assert obj["error_bound_kind"] == "rigorous" and obj["precision"]["radius_met"]
    assert obj["precision"]["dps"] == 25 and obj["precision"]["working_bits"] >= 83
    _written_within_bound(case, obj)


def test_exact_eval_is_certified_by_default_and_not_when_asked(tmp_path: Path,
                                                               capsys) -> None:
    path = EXAMPLES / "softplus.json"
    assert cli.main(["eval", str(path), "--radii"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["error_bound_kind"] == "rigorous" and obj["certificate"]["by"] == "ball"
    assert all(obj["certificate"]["estimate_proved"].values())
    assert set(obj["error_estimate"]) == set(QUANTITIES)
    _written_within_bound(read_case(path), obj)
    assert cli.main(["eval", str(path), "--no-certify"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert plain["error_bound_kind"] == "estimate" and "certificate" not in plain
    assert plain["loss"] == obj["loss"]  # the same digits, with a different kind of bound
    assert cli.main(["eval", str(path), "--path", "fast"]) == 0
    assert json.loads(capsys.readouterr().out)["error_bound_kind"] == "estimate"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mforacle", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("extra", "expect"),
    [(["--path", "ball", "--no-certify"], "--no-certify"),
     (["--path", "fast", "--radii"], "--radii"),
     (["--path", "exact", "--no-certify", "--radii"], "--radii"),
     (["--path", "ball", "--dps", "5"], "--dps")],
)
def test_bad_options_exit_2_with_one_line(extra: list[str], expect: str) -> None:
    proc = _run("eval", str(EXAMPLES / "tiny.json"), *extra)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert expect in lines[0] and proc.stdout == ""


def test_bad_case_file_on_the_ball_path_exits_2(tmp_path: Path) -> None:
    obj = json.loads((EXAMPLES / "tiny.json").read_text())
    obj["theta"] = [[["0.1", "nan", "0.3", "0.4", "0.5"]]]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    proc = _run("eval", str(path), "--path", "ball")
    assert proc.returncode == 2 and "theta[0][0][1]" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    measure = EXAMPLES / "measure_erf_d1.json"
    proc = _run("eval", str(measure), "--path", "ball")
    assert proc.returncode == 2 and "mforacle limit" in proc.stderr


def test_ball_eval_reports_a_precision_cap_it_could_not_beat(tmp_path: Path, capsys) -> None:
    """sin of arguments ~1e600 needs ~2000 bits; the cap at 15 digits is 16 × 82 = 1312: the
    result says so (radius_met false, digits reached, a note), and its bound is still rigorous
    (and, here, huge)."""
    obj = {"format": "mforacle-case/1",
           "model": {"d": 1, "activation": "sin", "readout": {"a": ["1"], "kappa": "0"}},
           "theta": [[["1e300", "1e300", "1e300"]], [["1e300", "1e300", "1e300"]]],
           "x": [["0.75"]], "y": ["0.5"]}
    path = tmp_path / "hard.json"
    path.write_text(json.dumps(obj))
    assert cli.main(["eval", str(path), "--path", "ball", "--dps", "15"]) == 0
    out = json.loads(capsys.readouterr().out)
    prec = out["precision"]
    assert prec["radius_met"] is False and prec["working_bits"] == prec["max_bits"] == 1312
    assert prec["attempts_bits"][0] == 82 and len(prec["attempts_bits"]) > 1
    assert all(d is None or d < 15 for d in prec["radius_digits"].values())
    assert any("precision cap" in n for n in out["notes"])
    assert out["error_bound_kind"] == "rigorous"
