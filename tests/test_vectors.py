"""Exported test vectors and file mode: a "foreign" program (a subprocess that reads the cases
and writes mforacle-result/1 files) is graded; a correct one passes, a wrong one fails."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mforacle.cli import main
from mforacle.harness.runner import check_files, summarize
from mforacle.harness.vectors import (
    MANIFEST_FORMAT,
    SUITE_VERSION,
    export,
    load_limit_vectors,
    load_vectors,
)

ROOT = Path(__file__).resolve().parents[1]

FOREIGN = textwrap.dedent("""
    # A "foreign" implementation: reads the exported cases as plain JSON, writes results.
    import json, sys
    from pathlib import Path
    import numpy as np
    sys.path.insert(0, sys.argv[4])
    from examples.numpy_resnet import NumpyResNet
    from mforacle.protocol import ModelSpec
    from mforacle.caseio import case_from_json
    vdir, rdir, dtype = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    wrong = len(sys.argv) > 5
    impl = NumpyResNet(dtype)
    manifest = json.loads((vdir / "manifest.json").read_text())
    for entry in manifest["cases"]:
        obj = json.loads((vdir / entry["case"]).read_text())
        case = case_from_json(obj)
        arr = lambda v: np.array(v, dtype=float).astype(dtype)
        th, x, y = arr(obj["theta"]), arr(obj["x"]), arr(obj["y"])
        w = arr(obj["weights"]) if "weights" in obj else np.full(len(y), 1 / len(y), dtype=dtype)
        spec = ModelSpec.from_model(case.model)
        gt, gx = impl.gradient(spec, th, x, y, w)
        if wrong:
            gx = -gx
        fmt = (lambda v: repr(float(v))) if dtype == "float64" else (lambda v: str(np.float32(v)))
        text = lambda a: np.array([fmt(v) for v in np.ravel(a)],
                                  dtype=object).reshape(np.shape(a)).tolist()
        out = {"format": "mforacle-result/1", "dtype": dtype,
               "z_L": text(impl.forward(spec, th, x)), "loss": text(impl.loss(spec, th, x, y, w)),
               "grad_theta": text(gt), "grad_x": text(gx)}
        path = rdir / (entry["id"] + ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out))
    from mforacle.fast.limit import solve
    limit_cases = manifest.get("limit_cases", []) if dtype == "float64" else []
    for entry in limit_cases:  # the limit (float64 only): RK4 with its stated bound
        case = case_from_json(json.loads((vdir / entry["case"]).read_text()))
        f = lambda a: np.vectorize(float, otypes=[float])(np.asarray(a, dtype=object))
        d = case.data
        r = solve(case.model, case.measure, f(d.x), f(d.y), f(d.weights), case.probes)
        vel = -r.velocity if wrong else r.velocity
        keys = ("energy", "Z1", "first_variation", "velocity")
        out = {"format": "mforacle-result/1", "dtype": "float64", "energy": repr(r.energy),
               "Z1": r.Z1.tolist(), "first_variation": r.first_variation.tolist(),
               "velocity": vel.tolist(),
               "error_bound": {k: repr(r.error_bound[k]) for k in keys}}
        path = rdir / (entry["id"] + ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out))
""")


@pytest.fixture(scope="module")
def vdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("vectors")
    export(d, "dev")
    return d


def _foreign(vdir, rdir, dtype, wrong=False, tmp=None):
    script = Path(tmp or rdir.parent) / "foreign.py"
    script.write_text(FOREIGN)
    args = [sys.executable, str(script), str(vdir), str(rdir), dtype, str(ROOT)]
    subprocess.run(args + (["wrong"] if wrong else []), check=True, timeout=120)


def test_manifest_and_files(vdir):
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert manifest["format"] == MANIFEST_FORMAT and manifest["suite_version"] == SUITE_VERSION
    acts = {e["activation"].split(":")[0] for e in manifest["cases"]}
    assert acts == {"tanh", "erf", "sigmoid", "softplus", "sin", "regrelu"}
    assert any(e["kappa"] != 0 for e in manifest["cases"])
    groups = {e["id"].split("/")[0] for e in manifest["cases"]}
    assert {"small", "kappa", "edge", "medium", "large"} <= groups
    ref = json.loads((vdir / manifest["cases"][0]["reference"]).read_text())
    assert ref["format"] == "mforacle-result/1" and set(ref["tolerance"]) == {"float64", "float32"}
    assert all(float(v) > 0 for v in ref["error_bound"].values())
    _, suite = load_vectors(vdir)
    assert len(suite) == len(manifest["cases"])
    # measure cases: listed apart ("cases" stays theta only), references with bounds
    lim = manifest["limit_cases"]
    assert {e["id"] for e in lim} == {"limit/erf-d1", "limit/regrelu-d1"}
    lref = json.loads((vdir / lim[0]["reference"]).read_text())
    assert set(lref["error_bound"]) == {"energy", "Z1", "first_variation", "velocity"}
    assert all(0 < float(v) < 1e-12 for v in lref["error_bound"].values()), lref["error_bound"]
    assert len(load_limit_vectors(vdir)) == 2


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correct_foreign_results_pass(vdir, tmp_path, dtype):
    rdir = tmp_path / "results"
    _foreign(vdir, rdir, dtype)
    _, suite = load_vectors(vdir)
    lsuite = load_limit_vectors(vdir)
    verdicts, info = check_files(suite, rdir, limit_suite=lsuite)
    bad = [v.summary() for v in verdicts if v.status not in ("pass", "not checked")]
    s = summarize(verdicts)
    # 4 quantities per theta case (no train_step in files) and per measure case (float64 run;
    # the float32 run writes no limit results: those are not checked)
    n_limit = 4 * len(lsuite) if dtype == "float64" else 0
    assert not bad and s["ok"] and s["pass"] == 4 * len(suite) + n_limit, bad
    assert info["dtype"] == dtype


def test_wrong_foreign_results_fail_and_cli_exit_codes(vdir, tmp_path):
    rdir = tmp_path / "results"
    _foreign(vdir, rdir, "float64", wrong=True)
    out = tmp_path / "rep"
    code = main(
        ["check", "--vectors", str(vdir), "--results", str(rdir), "--out", str(out), "--quiet"]
    )
    assert code == 1
    report = json.loads((out / "check.json").read_text())
    status = {r["id"]: r["status"] for r in report["verdicts"]}
    assert status["small/tanh::grad_x"] == "fail" and status["small/tanh::z_L"] == "pass"
    assert status["limit/erf-d1::velocity"] == "fail" and status["limit/erf-d1::Z1"] == "pass"
    # limit results: a missing field or a missing file is not checked (the limit is optional)
    lres = rdir / "limit" / "erf-d1.json"
    obj = json.loads(lres.read_text())
    del obj["first_variation"]
    lres.write_text(json.dumps(obj))
    (rdir / "limit" / "regrelu-d1.json").unlink()
    lverdicts, _ = check_files([], rdir, limit_suite=load_limit_vectors(vdir))
    lstatus = {v.evidence["check_id"]: v.status for v in lverdicts}
    assert lstatus["limit/erf-d1::first_variation"] == "not checked", lstatus
    assert lstatus["limit/erf-d1::energy"] == "pass", lstatus
    assert lstatus["limit/regrelu-d1::file"] == "not checked", lstatus
    # a missing file and an unparsable value are errors for that case, not a crash
    (rdir / "small" / "sin.json").unlink()
    broken = json.loads((rdir / "small" / "erf.json").read_text())
    broken["z_L"][0][0] = "nan"
    (rdir / "small" / "erf.json").write_text(json.dumps(broken))
    _, suite = load_vectors(vdir)
    verdicts, _ = check_files([sc for sc in suite if sc.id in ("small/sin", "small/erf")], rdir)
    reasons = " | ".join(v.reason for v in verdicts)
    assert all(v.status == "error" for v in verdicts), reasons
    assert "missing result file" in reasons and "must be finite" in reasons
    assert main(["check", "--vectors", str(vdir)]) == 2  # usage: --results missing
