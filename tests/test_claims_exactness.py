"""Claims A1–A5 as checks: they pass on the built-in paths and fail on broken implementations."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from mforacle.properties.strategies import discrete_cases, magnitudes, models

from mforacle.builtin import FAST, FastPathImplementation
from mforacle.claims import run_claim
from mforacle.claims.exactness import (
    builtin_case,
    check_a1,
    check_a2,
    check_a3,
    check_a4,
    check_a5,
    check_a5_exact,
)
from mforacle.exact import network as exact_network
from mforacle.fast import activations as fast_activations
from mforacle.fast import network as fast_network


def fast_path():
    return FAST


class WrongSign(FastPathImplementation):
    """Returns −∇E."""

    name = "broken: wrong sign"

    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        return -g, gx


class MissingScale(FastPathImplementation):
    """Gradient without the 1/(L·M) factor."""

    name = "broken: missing 1/(L·M)"

    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        return g * theta.shape[0] * theta.shape[1], gx


class WeightedGradX(FastPathImplementation):
    """grad_x weighted by ω_n (the protocol asks for each point's own, unweighted ∂ℓ_n/∂x_n)."""

    name = "broken: weighted grad_x"

    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        return g, gx * np.asarray(weights)[:, None]


class SumNotAverage(FastPathImplementation):
    """Forward with 1/L instead of 1/(L·M): not invariant under M -> 2M duplication."""

    name = "broken: sum over neurons"

    def forward(self, spec, theta, x):
        th = np.array(theta, dtype=float)
        th[..., spec.d : 2 * spec.d] *= th.shape[1]
        return super().forward(spec, th, x)


class PositionWeighted(FastPathImplementation):
    """Forward that weights neuron m by 1 + m/4: not invariant under permutations."""

    name = "broken: position-weighted neurons"

    def forward(self, spec, theta, x):
        th = np.array(theta, dtype=float)
        th[..., spec.d : 2 * spec.d] *= (1 + np.arange(th.shape[1]) / 4)[None, :, None]
        return super().forward(spec, th, x)


def _sigma_second_for_first(monkeypatch) -> None:
    """Mutant fast path: the backward pass uses σ'' where σ' belongs (all activations)."""
    real_get = fast_activations.get

    def mutant(act):
        real = real_get(act)
        return fast_activations.FastActivation(
            real.name, real.sigma, real.d2sigma, real.d2sigma,
            lambda a: (real.sigma(a), real.d2sigma(a)),
        )

    monkeypatch.setattr(fast_network, "get", mutant)


def _holds(verdicts):
    """Every verdict passes, except the degenerate draws the checks decline: A1 when every exact
    value is within its allowance of 0 (zeros would pass), A5.control when u → −u does not move
    z_L resolvably."""
    for v in verdicts:
        if v.status == "not checked" and v.claim == "A1":
            assert "zeros would pass" in v.reason, v.summary()
        elif v.status == "not checked" and v.claim == "A5.control":
            assert "no control" in v.reason, v.summary()
        else:
            v.assert_passed()


def test_all_a_verdicts_pass_on_the_builtin_paths():
    for i in range(3):
        case, seed = builtin_case(i)
        impl = fast_path()
        verdicts = [check_a1(impl, case), *check_a2(impl, case, seed=seed),
                    check_a3(impl, case), check_a4(case), *check_a5(impl, case, seed=seed),
                    check_a5_exact(case, seed=seed)]
        for v in verdicts:
            v.assert_passed()
        a1 = verdicts[0]
        assert set(a1.evidence["quantities"]) == {"z_L", "loss", "grad_theta", "grad_x"}
        assert a1.figure > 0, "A1 compared nothing: every difference was exactly zero"


@given(case=discrete_cases(model=models(d=st.integers(1, 2)), L=st.integers(1, 3),
                           M=st.integers(1, 3), N=st.integers(1, 3)))
def test_a1_a5_hold_on_generated_cases(case):
    _holds([check_a1(fast_path(), case), *check_a5(fast_path(), case, seed=1)])


@given(case=discrete_cases(model=models(d=st.integers(1, 2)), L=st.integers(1, 3),
                           M=st.integers(1, 3), N=st.integers(1, 3), magnitudes=magnitudes()))
def test_a1_a5_hold_at_extreme_magnitudes(case):
    """2^±990-scaled weights and states, subnormal inputs: the float bounds still hold."""
    _holds([check_a1(fast_path(), case), *check_a5(fast_path(), case, seed=1)])


def test_wrong_sign_and_scaling_fail_a1_a2():
    case, seed = builtin_case(1)
    for broken in (WrongSign(), MissingScale()):
        v1 = check_a1(broken, case)
        assert v1.status == "fail" and v1.evidence["quantities"]["grad_theta"]["ratio"] > 1, (
            v1.summary())
        fd, taylor = check_a2(broken, case, seed=seed)
        assert fd.status == "fail" and fd.figure > 1e6, fd.summary()
        assert taylor.status == "fail" and taylor.figure < 1.2, taylor.summary()


def test_activation_derivative_mutant_fails_a1_a2_a3(monkeypatch):
    case, seed = builtin_case(0)
    _sigma_second_for_first(monkeypatch)
    impl = fast_path()
    v1 = check_a1(impl, case)
    assert v1.status == "fail", v1.summary()
    assert v1.evidence["quantities"]["z_L"]["ratio"] <= 1  # the forward pass is untouched
    assert check_a2(impl, case, seed=seed)[0].status == "fail"
    assert check_a3(impl, case).status == "fail"


def test_weighted_grad_x_fails_a3():
    case, _ = builtin_case(1)  # weighted case, N = 4
    v = check_a3(WeightedGradX(), case)
    assert v.status == "fail" and v.figure > 1e6, v.summary()


def test_non_invariant_forwards_fail_a5():
    case, seed = builtin_case(2)  # M = 4
    perm, dup, _ = check_a5(SumNotAverage(), case, seed=seed)
    assert dup.status == "fail", dup.summary()
    assert perm.status == "pass", perm.summary()  # summing is permutation invariant
    perm, dup, _ = check_a5(PositionWeighted(), case, seed=seed)
    assert perm.status == "fail", perm.summary()


def test_exact_path_that_overstates_its_digits_fails_a4():
    case, _ = builtin_case(0)

    def half_precision(model, theta, x, y, weights=None, *, dps=30, confirm=True):
        """Computes at dps//2 digits but reports dps digits with the low run's bound shape."""
        r = exact_network.evaluate(model, theta, x, y, weights, dps=max(dps // 2, 5),
                                   confirm=confirm)
        good = exact_network.evaluate(model, theta, x, y, weights, dps=dps, confirm=confirm)
        return exact_network.ExactResult(dps, r.loss, r.z, r.q, r.grad_theta, r.grad_x,
                                         good.error_bound)

    v = check_a4(case, evaluate=half_precision)
    assert v.status == "fail" and v.figure > 1e6, v.summary()


def test_a5_exact_fails_for_an_order_dependent_forward():
    case, seed = builtin_case(0)  # tanh: every neuron matters

    def rounding_forward(model, theta, x, *, dps=30):
        """A position-dependent perturbation of 2^-30 in neuron (0, 0)."""
        th = np.array(theta, dtype=float)
        th[0, 0, 0] += 2.0**-30  # only neuron (0, 0): moves when neurons are permuted
        return exact_network.forward(model, th, x, dps=dps)

    v = check_a5_exact(case, seed=seed, forward=rounding_forward)
    assert v.status == "fail", v.summary()


def test_registry_runs_a_group_and_a3_needs_grad_x():
    out = run_claim("A", fast_path(), "dev")
    assert out and all(v.passed for v in out), [v.summary() for v in out if not v.passed]

    class NoGradX(FastPathImplementation):
        name = "no grad_x"

        def gradient(self, spec, theta, x, y, weights):
            return super().gradient(spec, theta, x, y, weights)[0], None

    vs = run_claim("A3", NoGradX(), "dev")
    assert vs and all(v.status == "not checked" and "grad_x" in v.reason for v in vs), vs

    class NoGradient:
        name = "no gradient"
        forward = FAST.forward

    (v,) = run_claim("A3", NoGradient(), "dev")
    assert v.status == "not checked" and "gradient" in v.reason, v.summary()
