"""Claim A4: the exact path is what it claims — every reported quantity is within its
confirmed ``error_bound`` of the truth.

The truth is approximated by a third, much higher precision: ``evaluate(dps=REF_DPS)``
(unconfirmed). Its own error is ~cond · 10^-(REF_DPS + guard) (the algorithm's rounding error
scales with the unit roundoff), below 10^-120 · |v| unless a case amplifies rounding errors by
more than 10^50 — no case here comes close (the ill-conditioned ones lose ~20 digits) — so it is
negligible against bounds of ~10^(1-dps) · |v|. The comparison is entrywise: the bound is
absolute and holds for the worst entry of each quantity.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mforacle.properties.strategies import discrete_cases, models

from mforacle.exact import network
from mforacle.exact.network import GUARD_DIGITS, ExactResult, evaluate
from mforacle.model import Model

DPS = 30
REF_DPS = 150


def _quantities(r: ExactResult) -> dict[str, np.ndarray]:
    return {"loss": np.array([r.loss], dtype=object), "z_L": r.z_L,
            "grad_theta": r.grad_theta, "grad_x": r.grad_x}


def _assert_within_bounds(r: ExactResult, ref: ExactResult, label: str) -> None:
    with mpmath.workdps(REF_DPS):
        got, want = _quantities(r), _quantities(ref)
        for name in ("loss", "z_L", "grad_theta", "grad_x"):
            bound = r.error_bound[name]
            for idx in np.ndindex(*got[name].shape):
                err = abs(got[name][idx] - want[name][idx])
                assert err <= bound, (
                    f"{label}: {name}{list(idx)} reported {got[name][idx]} at {r.dps} digits, "
                    f"{REF_DPS}-digit value {mpmath.nstr(want[name][idx], 40)}: |diff| "
                    f"{mpmath.nstr(err, 3)} > error_bound {mpmath.nstr(bound, 3)}"
                )


@given(case=discrete_cases(model=models(d=st.integers(1, 3)), L=st.integers(1, 3),
                           M=st.integers(1, 3), N=st.integers(1, 3)))
def test_reported_values_within_bound_of_higher_precision(case) -> None:
    args = (case.model, case.theta, case.x, case.y, case.weights)
    r = evaluate(*args, dps=DPS)
    ref = evaluate(*args, dps=REF_DPS, confirm=False)
    _assert_within_bounds(r, ref, f"activation {case.model.activation}, shape {case.shape}")


@given(case=discrete_cases(model=models(d=st.integers(1, 2)), L=st.integers(2, 3),
                           M=st.integers(1, 2), N=st.integers(1, 2), scale=16.0))
def test_large_weights_within_bound(case) -> None:
    """Weights up to 16: states and pre-activations grow, errors are amplified."""
    args = (case.model, case.theta, case.x, case.y, case.weights)
    r = evaluate(*args, dps=DPS)
    ref = evaluate(*args, dps=REF_DPS, confirm=False)
    _assert_within_bounds(r, ref, f"large weights, activation {case.model.activation}")


def _ill_conditioned() -> tuple:
    """sin(w x) with w = 10^20 and x = 0.1 (not a binary fraction): rounding x at p digits
    moves the argument by ~10^(20-p), so ~20 digits are lost and 15 guard digits do not suffice."""
    model = Model.create(1, "sin", ["1"], "0")
    theta = [[["1e20", "1", "0.3"]]]
    return model, theta, [["0.1"], ["0.7"]], ["0.2", "-0.1"]


def test_ill_conditioned_case_raises_the_working_precision() -> None:
    model, theta, x, y = _ill_conditioned()
    r = evaluate(model, theta, x, y, dps=DPS)
    ref = evaluate(model, theta, x, y, dps=REF_DPS, confirm=False)
    assert r.working_dps > DPS + GUARD_DIGITS, (
        f"expected a retry with more guard digits, worked at {r.working_dps}"
    )
    _assert_within_bounds(r, ref, "sin(1e20 x)")
    with mpmath.workdps(DPS):  # after the retry, all reported digits are right again
        assert r.error_bound["loss"] <= 2 * mpmath.mpf(10) ** (1 - DPS) * abs(r.loss)


def test_bound_admits_lost_digits_when_retries_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a single attempt the ~20 lost digits must show up in the bound, not be hidden."""
    monkeypatch.setattr(network, "MAX_ATTEMPTS", 1)
    model, theta, x, y = _ill_conditioned()
    r = evaluate(model, theta, x, y, dps=DPS)
    ref = evaluate(model, theta, x, y, dps=REF_DPS, confirm=False)
    assert r.working_dps == DPS + GUARD_DIGITS
    _assert_within_bounds(r, ref, "sin(1e20 x), one attempt")
    with mpmath.workdps(DPS):
        rounding_only = mpmath.mpf(10) ** (1 - DPS) * abs(r.loss)
        assert r.error_bound["loss"] > 10 * rounding_only, (
            f"bound {r.error_bound['loss']} claims all {DPS} digits of a case that lost ~20"
        )
