"""Claims through the harness (ClaimSubject): grad_x from ``gradient``, the implementation's dtype
in the A claims' error models, and "not checked" (with the reason) where a claim's error model
is float64 only. A correct float32 NumPy implementation passes A1/A3/A5; a float32 one with a
wrong grad_x fails A3. Bounds are the claims' own (mforacle.tolerance for the dtype)."""

from __future__ import annotations

import pytest

from examples.numpy_resnet import NumpyResNet
from mforacle.claims.subject import ClaimSubject
from mforacle.harness.adapters import adapt
from mforacle.harness.calls import Caller
from mforacle.harness.claims import float64_only_reason, plan_claim_checks
from mforacle.harness.runner import run_planned


def _claims(impl, ids, profile="dev"):
    planned = [p for p in plan_claim_checks(adapt(impl), Caller(60.0), profile) if p.claim in ids]
    return run_planned(planned)


def _show(vs):
    return "\n".join(v.summary() for v in vs)


class WeightedGradX(NumpyResNet):
    """grad_x weighted by ω_n (∂E/∂x_n instead of the unweighted ∂ℓ_n/∂x_n)."""

    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        return g, gx * weights[:, None]


class SlightlyOffGradX(NumpyResNet):
    """grad_x off by a relative 2^-12 (far above float32 roundoff, 2^-24)."""

    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        return g, gx * (1 + self.dt.type(2.0**-12))


def test_subject_exposes_dtype_and_grad_x_from_gradient():
    from mforacle.claims.exactness import builtin_case

    subject = ClaimSubject(adapt(NumpyResNet("float32")), Caller())
    assert subject.dtype == "float32" and subject.u == 2.0**-24 and subject.provides("gradient")
    case, _ = builtin_case(0)
    gx = subject.grad_x(case.model, case.theta, case.x, case.y, case.weights)
    assert gx.shape == case.x.shape and gx.dtype == "float64"
    forward_only = ClaimSubject(adapt(NumpyResNet("float32").forward), Caller())
    assert forward_only.lacks(("forward", "loss", "gradient")) == ["loss", "gradient"]


def test_float32_numpy_passes_a1_a3_a5_with_float32_error_models():
    vs = _claims(NumpyResNet("float32"), {"A1", "A3", "A5"})
    assert {v.claim for v in vs} >= {"A1", "A3", "A5.permutation", "A5.duplication"}, _show(vs)
    assert all(v.status == "pass" for v in vs), _show(vs)
    # the float32 unit roundoff is in the bound, and grad_x was among A1's quantities
    a1 = [v for v in vs if v.claim == "A1"]
    assert all("float32 (u = 5.96e-08" in v.error_model for v in a1), a1[0].error_model
    assert all("grad_x" in v.evidence["quantities"] for v in a1), a1[0].reason
    a3 = [v for v in vs if v.claim == "A3"]
    assert a3 and all(v.evidence["dtype"] == "float32" for v in a3)


@pytest.mark.parametrize("wrong", [WeightedGradX, SlightlyOffGradX])
def test_float32_wrong_grad_x_fails_a3(wrong):
    vs = _claims(wrong("float32"), {"A3"})
    assert vs and all(v.claim == "A3" for v in vs), _show(vs)
    assert any(v.status == "fail" for v in vs), _show(vs)
    worst = max(v.figure for v in vs)
    assert worst > 10, f"A3 figure {worst} should be far above 1 for {wrong.__name__}"


def test_float64_only_claims_not_checked_per_claim_for_float32():
    vs = _claims(NumpyResNet("float32"), {"A2", "C1", "C2", "C3", "C4"})
    by = {}
    for v in vs:
        by.setdefault(v.claim, []).append(v)
    assert all(v.status == "pass" for v in by["A2"]), _show(by["A2"])  # central differences
    for cid in ("A2.taylor", "C1", "C2", "C3", "C4"):
        assert by[cid] and all(v.status == "not checked" for v in by[cid]), _show(vs)
        assert all("float32" in v.reason and "float64" in v.reason for v in by[cid])
    assert float64_only_reason("B3") and float64_only_reason("A1") is None
