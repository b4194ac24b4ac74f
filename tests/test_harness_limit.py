"""Limit quantities through the harness: a limit implementation wrapping mforacle.fast.limit
(RK4, its stated step-doubling bound) passes against the certified ball reference on the bundled
measure cases; a wrong drift is flagged by the energy and Z(1) checks, a wrong velocity sign by
the velocity check only; missing fields or bounds are *not checked*. Bounds: the
implementation's stated error_bound + the reference's confirmed bound, nothing tuned."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mforacle.builtin import FastPathImplementation
from mforacle.harness.adapters import adapt
from mforacle.harness.limit import LIMIT_QUANTITIES, build_limit_suite, plan_limit_checks
from mforacle.harness.runner import run_planned
from mforacle.measures import GaussianPath


@pytest.fixture(scope="module")
def suite():
    cases = build_limit_suite()
    for lc in cases:
        lc.ensure_reference()  # certified ball solver, ~0.3-2 s per case
    return cases


def _run(impl, suite):
    return {v.evidence["check_id"]: v for v in run_planned(plan_limit_checks(adapt(impl), suite))}


def _show(vs):
    return "\n".join(f"{k}: {v.summary()}" for k, v in vs.items())


class WrongVelocitySign(FastPathImplementation):
    def limit(self, *args):
        r = super().limit(*args)
        r["velocity"] = -r["velocity"]
        return r


def _double_u(spec, measure):
    """The measure with every neuron's u doubled: the drift F_ρ = E[u σ(w·z + b)] doubles."""
    d = spec.d
    scale = [Fraction(2) if d <= i < 2 * d else Fraction(1) for i in range(measure.k)]
    c = tuple(tuple(s * v for v in poly) for s, poly in zip(scale, measure.c, strict=True))
    A = tuple(
        tuple(tuple(s * v for v in poly) for poly in row)
        for s, row in zip(scale, measure.A, strict=True)
    )
    return GaussianPath(measure.k, measure.r, c, A)


class WrongDrift(FastPathImplementation):
    def limit(self, spec, measure, *args):
        return super().limit(spec, _double_u(spec, measure), *args)


def test_fast_limit_wrapper_passes_every_limit_check(suite):
    vs = _run(FastPathImplementation(), suite)
    assert len(vs) == len(suite) * len(LIMIT_QUANTITIES) and len(suite) >= 2
    assert all(v.status == "pass" for v in vs.values()), _show(vs)
    v = vs["limit/erf-d1::velocity"]
    assert "certified ball" in v.error_model and "stated error_bound" in v.error_model
    assert v.figure > 0 and v.bound < 1e-9, v.summary()  # the comparison is not vacuous


def test_wrong_velocity_sign_flagged_by_velocity_only(suite):
    vs = _run(WrongVelocitySign(), suite)
    for lc in suite:
        assert vs[f"{lc.id}::velocity"].status == "fail", _show(vs)
        for q in ("energy", "Z1", "first_variation"):
            assert vs[f"{lc.id}::{q}"].status == "pass", _show(vs)


def test_wrong_drift_flagged_by_energy_and_final_states(suite):
    vs = _run(WrongDrift(), suite)
    for lc in suite:
        for q in ("energy", "Z1"):
            v = vs[f"{lc.id}::{q}"]
            assert v.status == "fail" and v.figure > 1e3 * v.bound, _show(vs)


def test_missing_fields_and_bounds_are_not_checked(suite):
    class EnergyOnly(FastPathImplementation):
        def limit(self, *args):
            r = super().limit(*args)
            return {"energy": r["energy"], "Z1": r["Z1"], "error_bound": {"energy": 1e-9}}

    vs = _run(EnergyOnly(), suite)
    assert vs["limit/erf-d1::energy"].status == "pass", _show(vs)
    z1 = vs["limit/erf-d1::Z1"]
    assert z1.status == "not checked" and "states no error_bound['Z1']" in z1.reason, z1.reason
    assert "measured max |impl − ref| =" in z1.reason
    v = vs["limit/erf-d1::velocity"]
    assert v.status == "not checked" and "no 'velocity'" in v.reason, v.reason


def test_bad_limit_outputs_are_errors_and_absent_limit_not_checked(suite):
    class Bad(FastPathImplementation):
        def limit(self, *args):
            r = super().limit(*args)
            r["Z1"] = r["Z1"].T if r["Z1"].shape[1] == 1 else r["Z1"][:1]
            return r

    class NotADict(FastPathImplementation):
        def limit(self, *args):
            return [1.0]

    vs = _run(Bad(), suite[:1])
    assert (
        vs["limit/erf-d1::Z1"].status == "error" and "wrong shape" in vs["limit/erf-d1::Z1"].reason
    )
    assert vs["limit/erf-d1::energy"].status == "pass"
    vs = _run(NotADict(), suite[:1])
    assert all(v.status == "error" and "must return a dict" in v.reason for v in vs.values())

    def forward(spec, theta, x):
        return x

    vs = _run(forward, suite[:1])
    assert all(v.status == "not checked" for v in vs.values()), _show(vs)


def test_float32_inputs_reach_the_implementation_in_float32(suite):
    seen = {}

    class Float32Limit(FastPathImplementation):
        dtype = "float32"

        def limit(self, spec, measure, x, y, weights, probes):
            seen["dtypes"] = {x.dtype.name, y.dtype.name, weights.dtype.name}
            seen["probe"] = probes[0][1].dtype.name
            # the float64 solver wants weights summing to 1 in float64: it solves for ω/s,
            # and the weighted fields are scaled back by s = Σω (they are linear in ω)
            w = weights.astype(np.float64)
            s = float(np.sum(w))
            r = super().limit(spec, measure, x.astype(np.float64), y.astype(np.float64), w / s,
                              probes)
            scale = {"energy": s, "Z1": 1.0, "first_variation": s, "velocity": s}
            out = {q: np.asarray(r[q] * scale[q], dtype=np.float32) for q in LIMIT_QUANTITIES}
            # stated bound: the float64 solver's bound (scaled) + rounding to float32 and by s
            out["error_bound"] = {
                q: r["error_bound"][q] * s + 2.0**-23 * float(np.max(np.abs(r[q])))
                for q in LIMIT_QUANTITIES
            }
            return out

    vs = _run(Float32Limit(), suite)
    assert seen == {"dtypes": {"float32"}, "probe": "float32"}
    # regrelu-d1: N = 4, weights 1/4 exact in float32 -> checked against the exact reference
    assert all(vs[f"limit/regrelu-d1::{q}"].status == "pass" for q in LIMIT_QUANTITIES), _show(vs)
    # erf-d1: N = 3, weights 1/3 rounded to float32 sum to 1 + 3e-8 (within float32's
    # tolerance): the reference is computed for those rounded weights, and the check is made
    for q in LIMIT_QUANTITIES:
        v = vs[f"limit/erf-d1::{q}"]
        assert v.status == "pass" and not v.evidence["inputs_exact_in_dtype"], v.summary()
