"""Neural-ODE libraries as implementations (examples/torchdiffeq_resnet.py, examples/jax_resnet.py).

Each check runs the CLI on a subset of the suite, as a user would (docs/findings.md gives the
full commands and figures). The libraries are optional extras; CI installs them
(.ci/requirements-ci.txt), so there these tests run rather than skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _need(module: str) -> None:
    if os.environ.get("CI"):
        __import__(module)  # CI installs the extras: a missing one is a failure, not a skip
    else:
        pytest.importorskip(module, reason=f"{module} not installed (optional extra)")


def _check(target: str, only: str, tmp_path: Path) -> tuple[int, dict]:
    out = tmp_path / "r"
    proc = subprocess.run(
        [sys.executable, "-m", "mforacle", "check", target, "--dtype", "float64",
         "--only", only, "--no-claims", "--quiet", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    report = json.loads((out / "check.json").read_text())
    return proc.returncode, report


def _status(report: dict) -> dict[str, str]:
    return {v["id"]: v["status"] for v in report["verdicts"]}


def _passes(rc: int, st: dict[str, str]) -> None:
    """Exit 0; forward, loss and both gradients pass; nothing fails or errs."""
    assert rc == 0, st
    for q in ("z_L", "loss", "grad_theta", "grad_x"):
        assert st.get(f"small/tanh::{q}") == "pass", (q, st)
    assert not {k: v for k, v in st.items() if v in ("fail", "error")}, st


def test_torchdiffeq_euler_is_the_discrete_network(tmp_path):
    _need("torchdiffeq")
    rc, rep = _check("examples.torchdiffeq_resnet:EULER", "small/tanh", tmp_path)
    _passes(rc, _status(rep))


def test_torchdiffeq_adjoint_gradient_is_not_the_discrete_gradient(tmp_path):
    _need("torchdiffeq")
    rc, rep = _check("examples.torchdiffeq_resnet:ADJOINT", "small/tanh", tmp_path)
    st = _status(rep)
    assert rc == 1, st
    assert st["small/tanh::z_L"] == "pass"  # same forward pass as EULER
    assert st["small/tanh::grad_theta"] == "fail" and st["small/tanh::grad_x"] == "fail"


def test_dopri5_particles_meet_the_limit_references(tmp_path):
    _need("torchdiffeq")
    rc, rep = _check("examples.torchdiffeq_resnet:DOPRI5", "limit/erf", tmp_path)
    st = _status(rep)
    lim = {k: v for k, v in st.items() if k.startswith("limit/")}
    assert rc == 0 and len(lim) == 4 and all(v == "pass" for v in lim.values()), st


def test_jax_implementation_passes(tmp_path):
    _need("jax")
    rc, rep = _check("examples.jax_resnet:IMPL", "small/tanh", tmp_path)
    _passes(rc, _status(rep))


def test_diffrax_euler_is_the_discrete_network(tmp_path):
    _need("diffrax")
    rc, rep = _check("examples.jax_resnet:DIFFRAX_EULER", "small/tanh", tmp_path)
    _passes(rc, _status(rep))


def test_adjoint_finding_first_layer_gets_no_gradient_and_inner_error_shrinks():
    """docs/findings.md: the adjoint sweep leaves layer 0 without gradient (exactly 0 while the
    discrete gradient is not), and on the inner layers differs from it by O(1/L)."""
    _need("torchdiffeq")
    from examples.node_findings import CASE, _torch_grad
    from examples.torchdiffeq_resnet import ADJOINT
    from mforacle.caseio import read_case
    from mforacle.fast.network import loss_and_grad
    from mforacle.protocol import ModelSpec
    from mforacle.sampling import sample_network

    case = read_case(CASE)
    spec = ModelSpec.from_model(case.model)
    x = np.array([[float(v) for v in row] for row in case.data.x])
    y = np.array([float(v) for v in case.data.y])
    w = np.array([float(v) for v in case.data.weights])
    inner = []
    for L in (4, 8, 16):
        theta = sample_network(case.measure, L, 4, seed=0, scheme="paths")
        _, g = loss_and_grad(case.model, theta, x, y, w)
        ga = _torch_grad(ADJOINT, spec, theta, x, y, w)
        assert np.all(ga[0] == 0) and np.abs(g[0]).max() > 0
        inner.append(np.abs(ga[1 : L - 1] - g[1 : L - 1]).max())
    assert inner[0] > inner[1] > inner[2], inner
