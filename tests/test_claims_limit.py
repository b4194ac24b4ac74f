"""Claims B1–B5 as checks: they pass on the built-in limit and fail on broken implementations."""

from __future__ import annotations

import numpy as np

from mforacle.builtin import FastPathImplementation
from mforacle.claims import run_claim
from mforacle.claims.limit import (
    builtin_nu,
    check_b1,
    check_b2,
    check_b3,
    check_b4,
    check_b5,
    fast_drift_and_jacobian,
    fast_first_variation,
    fast_mean_field,
    fast_neuron_gradient,
)
from mforacle.claims.training import builtin_flow_case
from mforacle.measures import GaussianPath
from mforacle.verdict import builtin_only

LADDER = [4, 8, 16, 32]


def _mean_only(measure: GaussianPath, model) -> GaussianPath:
    """The same path with A = 0: its drift is a single mean neuron u σ(w·z + b) — the Stein
    covariance term Cov(u, Y) E[σ'(Y)] and the averaging over ξ are gone."""
    zero = [[[0]] for _ in range(model.k)]
    return GaussianPath.create(model, 1, [list(p) for p in measure.c], zero)


# Broken versions of mforacle's own limit code (B1, B2, B4, B5 check mforacle's code, which the
# checks take as functions: the implementation protocol has no M = ∞ network of finite depth)


def wrong_drift_mean_field(model, measure, x, y, weights, *, L):
    """M = ∞ network built on the mean neuron only: a limit with the wrong drift."""
    return fast_mean_field(model, _mean_only(measure, model), x, y, weights, L=L)


def wrong_drift(model, measure, t, z):
    F, _ = fast_drift_and_jacobian(model, _mean_only(measure, model), t, z)
    _, J = fast_drift_and_jacobian(model, measure, t, z)
    return F, J


def wrong_velocity_sign(model, net, l, theta):
    return -fast_neuron_gradient(model, net, l, theta)


def transposed_jacobian(model, measure, t, z):
    F, J = fast_drift_and_jacobian(model, measure, t, z)
    return F, np.swapaxes(J, 1, 2)


def first_variation_with_sigma_prime(model, particles, x, y, weights, nodes):
    """δE/δρ of a wrong activation: p·u σ'(w·Z + b) in place of p·u σ(w·Z + b)."""
    from mforacle.fast.activations import get
    from mforacle.fast.limit import solve_particles

    sol = solve_particles(model, particles, x, y, weights)
    d, act = model.d, get(model.activation)
    out = []
    for i in range(nodes.shape[0]):
        W, Uu, b = nodes[i][:, :d], nodes[i][:, d : 2 * d], nodes[i][:, 2 * d]
        pre = sol.Z[i] @ W.T + b
        out.append(sol.weights @ ((sol.p[i] @ Uu.T) * act.dsigma(pre)))
    return np.stack(out)


def unweighted_first_variation(model, particles, x, y, weights, nodes):
    """δE/δρ without the ω_n."""
    return len(y) * fast_first_variation(model, particles, x, y, weights, nodes)


class SqrtWidthScaling(FastPathImplementation):
    """Loss of a network scaled by 1/(L·√M) instead of 1/(L·M)."""

    name = "broken: 1/(L·sqrt(M)) scaling"

    def loss(self, spec, theta, x, y, weights):
        th = np.array(theta, dtype=float)
        th[..., spec.d : 2 * spec.d] *= np.sqrt(th.shape[1])
        return super().loss(spec, th, x, y, weights)


class FirstNeuronOnly(FastPathImplementation):
    """Ignores every neuron but the first of each layer (width never averages)."""

    name = "broken: first neuron only"

    def loss(self, spec, theta, x, y, weights):
        return super().loss(spec, np.asarray(theta, dtype=float)[:, :1], x, y, weights)


def test_b_claims_pass_on_the_builtin_limit(measured):
    out = run_claim("B", None, "ci")
    for v in out:
        measured(v.summary())
    want = {"B1", "B1.ratio", "B1.Z1", "B2", "B2.ratio", "B3.paths", "B3.independent",
            "B3.paths.power", "B4", "B4.quadrature", "B5"}
    assert {v.claim for v in out} >= want
    for v in out:
        v.assert_passed()
        # B1, B2, B4, B5 check mforacle's own limit code; B3 the subject's loss (here mforacle's)
        assert builtin_only(v), (v.claim, v.provenance)
        if v.claim.startswith("B3"):
            assert v.provenance["measured"] == "mforacle.fast", v.provenance
    b1 = next(v for v in out if v.claim == "B1")
    assert b1.evidence["ladder"] == LADDER and len(b1.evidence["errors"]) == 4
    assert b1.evidence["fit"]["ci"][0] < b1.figure < b1.evidence["fit"]["ci"][1]


def test_wrong_drift_fails_b1_b2_b4():
    for i in range(2):
        case = builtin_flow_case(i)
        v = check_b1(case, ladder=LADDER, mean_field=wrong_drift_mean_field)
        assert v[0].status == "fail" and v[0].figure > -0.5, v[0].summary()
        v = check_b2(case, ladder=LADDER, mean_field=wrong_drift_mean_field)
        assert v[0].status == "fail", v[0].summary()
        v = check_b4(case, drift_and_jacobian=wrong_drift)
        assert v[0].status == "fail" and v[1].status == "fail", [x.summary() for x in v]


def test_wrong_velocity_sign_fails_b2():
    v = check_b2(builtin_flow_case(0), ladder=LADDER, neuron_gradient=wrong_velocity_sign)
    assert v[0].status == "fail", v[0].summary()


def test_transposed_jacobian_fails_b4():
    case = builtin_flow_case(1)  # d = 2: J is not symmetric
    v = check_b4(case, drift_and_jacobian=transposed_jacobian)
    assert v[0].status == "fail", v[0].summary()


def test_broken_first_variations_fail_b5():
    for i in range(2):
        case = builtin_flow_case(i)
        for broken in (first_variation_with_sigma_prime, unweighted_first_variation):
            v = check_b5(case, builtin_nu(case.model), first_variation=broken)
            assert v.status == "fail" and v.figure > 100, (broken.__name__, v.summary())


def test_broken_width_scalings_fail_b3():
    case = builtin_flow_case(0)
    for broken in (SqrtWidthScaling(), FirstNeuronOnly()):
        out = check_b3(broken, case, ladder=LADDER, seeds=200)
        rate = [v for v in out if v.claim in ("B3.paths", "B3.independent")]
        assert len(rate) == 2 and all(v.status == "fail" for v in rate), (
            broken.name, [v.summary() for v in out])
