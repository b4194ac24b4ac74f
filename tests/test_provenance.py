"""No verdict about the wrong code (issue 9 item 1).

Every verdict records which code produced each number it compares (``Verdict.provenance``, in
the report JSON). A third-party report never contains a verdict computed only from mforacle's
own code: a claim that needs something the implementation lacks (the particle flow of C1.flow
and C2.flow; the limit methods B1/B2/B4/B5 never were in the protocol) is *not checked* with the
reason, and claims about mforacle's own code (A4, A5.exact, B1, B2, B4, B5, C5) are not in it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples.numpy_resnet import NumpyResNet
from mforacle.builtin import FAST, FastPathImplementation
from mforacle.claims import CLAIMS, ClaimSubject, run_claim
from mforacle.claims.decay import check_c1_flow
from mforacle.claims.exactness import builtin_case, check_a4, check_a5_exact
from mforacle.claims.training import builtin_flow_case, builtin_nonmonotone_case, check_c5
from mforacle.harness.adapters import adapt
from mforacle.harness.calls import Caller
from mforacle.harness.claims import plan_claim_checks
from mforacle.harness.runner import run_planned
from mforacle.verdict import Verdict, builtin_only

REPO = Path(__file__).resolve().parents[1]
BUILTIN_CLAIMS = {"A4", "B1", "B2", "B4", "B5", "C5"}


def _about(label: str, rows: list[dict]) -> list[str]:
    """Rows with a figure (pass/fail) whose provenance does not name ``label``."""
    return [
        f"{r.get('id', r['claim'])}: {r.get('provenance')}"
        for r in rows
        if r["status"] in ("pass", "fail") and label not in (r.get("provenance") or {}).values()
    ]


def test_builtin_only_reads_the_provenance():
    v = Verdict.measured("X", "t", 1.0, "<=", 2.0, provenance={"measured": "mforacle.fast"})
    assert builtin_only(v)
    w = Verdict.measured(
        "X", "t", 1.0, "<=", 2.0, provenance={"measured": "pkg:IMPL", "reference": "mforacle.exact"}
    )
    assert not builtin_only(w)
    assert not builtin_only(Verdict.measured("X", "t", 1.0, "<=", 2.0))  # no provenance
    assert w.to_json()["provenance"] == {"measured": "pkg:IMPL", "reference": "mforacle.exact"}


@pytest.fixture(scope="module")
def numpy_report(tmp_path_factory) -> dict:
    """``mforacle check examples.numpy_resnet:IMPL`` (suite, limit cases and every claim it can
    feed; dev profile; default process isolation), its report JSON."""
    out = tmp_path_factory.mktemp("numpy_report")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "MFORACLE_PROFILE": "dev",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    r = subprocess.run(
        [sys.executable, "-m", "mforacle", "check", "examples.numpy_resnet:IMPL", "--quiet",
         "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    return json.loads((out / "check.json").read_text())


def test_no_third_party_verdict_is_computed_only_from_builtin_code(numpy_report):
    rows = numpy_report["verdicts"]
    label = "examples.numpy_resnet:IMPL"
    measured = [r for r in rows if r["status"] in ("pass", "fail")]
    assert len(measured) > 100, len(measured)
    assert not _about(label, rows), _about(label, rows)
    claims = {r["claim"] for r in rows}
    assert not claims & (BUILTIN_CLAIMS | {"A5.exact"}), sorted(claims)
    # the flow claims are not checked, and say why
    flows = {r["claim"]: r for r in rows if r["claim"] in ("C1.flow", "C2.flow")}
    assert set(flows) == {"C1.flow", "C2.flow"}, sorted(claims)
    for r in flows.values():
        assert r["status"] == "not checked", r
        assert "no particle flow" in r["reason"] and "mforacle claims" in r["reason"], r["reason"]
    # every check names the exact reference and the error model behind its bound
    h1 = [r for r in rows if r["claim"] == "H1.forward" and r["status"] == "pass"]
    assert h1 and all(
        r["provenance"] == {
            "measured": label, "reference": "mforacle.reference", "bound": "mforacle.tolerance"
        }
        for r in h1
    ), h1[0]["provenance"]  # fmt: skip


def test_float32_claims_name_the_implementation_too():
    impl = adapt(NumpyResNet("float32"))
    vs = run_planned(plan_claim_checks(impl, Caller(60.0), "dev"))
    rows = [v.to_json() for v in vs]
    assert sum(r["status"] == "pass" for r in rows) >= 10, [v.summary() for v in vs]
    assert not _about(ClaimSubject(impl).label, rows), _about(ClaimSubject(impl).label, rows)
    assert not [v.claim for v in vs if builtin_only(v)]


def test_a_subject_lacking_train_step_is_not_trained_by_mforacle():
    """C1–C4 need train_step: without it they are not checked, never run on the built-in GD."""

    class NoTraining(FastPathImplementation):
        name = "no training"
        train_step = None

    for cid in ("C1", "C2", "C3", "C4"):
        out = run_claim(cid, NoTraining(), "dev")
        assert [v.status for v in out] == ["not checked"], [v.summary() for v in out]
        assert "train_step" in out[0].reason, out[0].reason


def test_builtin_claims_name_mforacle_code():
    """Checks of mforacle's own code say so: every number comes from a mforacle.* module."""
    case, seed = builtin_case(0)
    for v in (
        check_a4(case),
        check_a5_exact(case, seed=seed),
        check_c1_flow(builtin_flow_case(0), T=5, n=4, steps=4),
        check_c5(builtin_nonmonotone_case(0), s=2.0),
    ):
        assert builtin_only(v), (v.claim, v.provenance)


def test_the_builtin_subject_runs_the_flows_and_a_named_copy_does_not():
    builtin = run_claim("A5", None, "dev")
    assert "A5.exact" in {v.claim for v in builtin}
    as_third_party = ClaimSubject(FAST)
    assert "A5.exact" not in {v.claim for v in CLAIMS["A5"].run(as_third_party, "dev")}
    for v in CLAIMS["A5"].run(as_third_party, "dev"):
        assert v.provenance["measured"] == "mforacle.fast" and v.passed, v.summary()
