"""Every claim fails on a deliberately broken implementation (issue 9 item 2).

One broken implementation (or broken piece of mforacle's own code, for the claims that check it)
per claim A1–A5, B1–B5, C1–C5, each asserted to *fail* that claim — including the degenerate ones
that used to pass vacuously: a ``train_step`` that returns Θ unchanged (C1, C2, C3), a forward
that ignores Θ (A5), an exact path that ignores the precision it is asked for (A4), a particle
flow that does not move (C1.flow, C5). The table of docs/claims.md ("Broken implementations each
claim catches") lists the same mutants; :func:`test_the_docs_table_names_every_claim` keeps them
together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mforacle.builtin import FastPathImplementation
from mforacle.claims import decay, exactness, limit, theorem6, zero_loss
from mforacle.claims.training import builtin_case as training_case
from mforacle.claims.training import builtin_flow_case, builtin_nonmonotone_case
from mforacle.exact import network as exact_network
from mforacle.training import particle_flow

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- implementations


class ForwardOffBy2e40(FastPathImplementation):
    """z_L with a relative error 2^-40 (far above float64's roundoff, 2^-53)."""

    def forward(self, spec, theta, x):
        return super().forward(spec, theta, x) * (1 + 2.0**-40)


class MissingScale(FastPathImplementation):
    """∂E/∂θ without the 1/(L·M) factor."""

    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        return g * theta.shape[0] * theta.shape[1], gx


class WeightedGradX(FastPathImplementation):
    """grad_x weighted by ω_n (∂E/∂x_n instead of each point's own ∂ℓ_n/∂x_n)."""

    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        return g, gx * np.asarray(weights)[:, None]


class SumNotAverage(FastPathImplementation):
    """Forward with 1/L instead of 1/(L·M): duplication M → 2M doubles the drift."""

    def forward(self, spec, theta, x):
        th = np.array(theta, dtype=float)
        th[..., spec.d : 2 * spec.d] *= th.shape[1]
        return super().forward(spec, th, x)


class IgnoresTheta(FastPathImplementation):
    """z_L = x: invariant under every change of Θ (A5's vacuous pass, now its control fails)."""

    def forward(self, spec, theta, x):
        return np.array(x, dtype=float)


class SqrtWidthScaling(FastPathImplementation):
    """Loss of a network scaled by 1/(L·√M) instead of 1/(L·M)."""

    def loss(self, spec, theta, x, y, weights):
        th = np.array(theta, dtype=float)
        th[..., spec.d : 2 * spec.d] *= np.sqrt(th.shape[1])
        return super().loss(spec, th, x, y, weights)


class NoOpStep(FastPathImplementation):
    """train_step returns Θ unchanged (ΔE = 0: 'non-increasing', but no descent)."""

    def train_step(self, spec, theta, x, y, weights, lr):
        return np.array(theta, dtype=float)


class AscentStep(FastPathImplementation):
    """train_step goes uphill: Θ + lr ∇E."""

    def train_step(self, spec, theta, x, y, weights, lr):
        return 2 * np.asarray(theta) - super().train_step(spec, theta, x, y, weights, lr)


class MissingLM(FastPathImplementation):
    """train_step with lr/(L·M): time runs L·M times too slowly."""

    def train_step(self, spec, theta, x, y, weights, lr):
        LM = theta.shape[0] * theta.shape[1]
        return super().train_step(spec, theta, x, y, weights, lr / LM)


# --------------------------------------------------------------------------- mforacle's code


def exact_at_fixed_precision(model, theta, x, y, weights=None, *, dps=30, confirm=True):
    """An exact path that ignores ``dps``: computes at 15 digits, reports ``dps`` digits."""
    r = exact_network.evaluate(model, theta, x, y, weights, dps=15, confirm=False)
    claimed = exact_network.evaluate(model, theta, x, y, weights, dps=dps)
    return exact_network.ExactResult(
        dps, r.loss, r.z, r.q, r.grad_theta, r.grad_x, claimed.error_bound
    )


def wrong_drift_mean_field(model, measure, x, y, weights, *, L):
    """The M = ∞ network of the mean neuron only (the Stein covariance term dropped)."""
    from mforacle.measures import GaussianPath

    mean_only = GaussianPath.create(
        model, 1, [list(p) for p in measure.c], [[[0]] for _ in range(model.k)]
    )
    return limit.fast_mean_field(model, mean_only, x, y, weights, L=L)


def wrong_velocity_sign(model, net, l, theta):
    return -limit.fast_neuron_gradient(model, net, l, theta)


def transposed_jacobian(model, measure, t, z):
    F, J = limit.fast_drift_and_jacobian(model, measure, t, z)
    return F, np.swapaxes(J, 1, 2)


def unweighted_first_variation(model, particles, x, y, weights, nodes):
    return len(y) * limit.fast_first_variation(model, particles, x, y, weights, nodes)


class _History:
    def __init__(self, s, loss, dissipation):
        self.s, self.loss, self.dissipation = s, loss, dissipation


def frozen_flow(model, particles, x, y, weights=None, *, ds, steps):
    """A particle flow that does not move: E(ρ(s)) = E(ρ(0)), dissipation as at s = 0."""
    h = particle_flow(model, particles, x, y, weights, ds=ds, steps=1)
    s = np.arange(steps + 1) * ds
    return _History(s, np.full(steps + 1, h.loss[0]), np.full(steps + 1, h.dissipation[0]))


def ascending_flow(model, particles, x, y, weights=None, *, ds, steps):
    """The particle flow with the velocity's sign flipped (E grows)."""
    from mforacle.fast.limit import ParticleMeasure, solve_particles, velocity_on_particles
    from mforacle.training import _simpson_weights

    nodes, om = particles.nodes.copy(), particles.weights
    s, e, d = [], [], []
    for k in range(steps + 1):
        pm = ParticleMeasure(nodes, om)
        sol = solve_particles(model, pm, x, y, weights)
        V = velocity_on_particles(model, pm, sol)
        s.append(k * ds)
        e.append(sol.energy)
        d.append(float(_simpson_weights(nodes.shape[0]) @ (np.sum(V * V, axis=2) @ om)))
        nodes = nodes + ds * V
    return _History(np.array(s), np.array(e), np.array(d))


def fits_anything(model, particles, x, y, weights=None, *, ds, steps):
    """A 'limit' whose loss decays to 0 whatever the labels."""
    s = np.arange(steps + 1) * ds
    return _History(s, 0.3 * np.exp(-s), 0.3 * np.exp(-s))


# --------------------------------------------------------------------------- the table


def _a(i=1):
    return exactness.builtin_case(i)


C4_LADDER = [[2, 2, 0.5], [2, 3, 0.5], [2, 4, 0.5]]
SMALL_WIDTH = {"ladder": [2, 4, 8], "L": 2, "seeds": 3, "s": 0.1, "T_ref": 9, "n_ref": 6}

#: claim -> (broken implementation, how the claim is run on it)
MUTANTS = {
    "A1": ("forward off by 2^-40", lambda: [exactness.check_a1(ForwardOffBy2e40(), _a()[0])]),
    "A2": (
        "gradient without 1/(L·M)",
        lambda: exactness.check_a2(MissingScale(), _a()[0], seed=_a()[1]),
    ),
    "A3": ("grad_x weighted by ω_n", lambda: [exactness.check_a3(WeightedGradX(), _a()[0])]),
    "A4": (
        "exact path ignoring dps",
        lambda: [exactness.check_a4(_a(0)[0], evaluate=exact_at_fixed_precision)],
    ),
    "A5": (
        "forward summing neurons (1/L, not 1/(L·M))",
        lambda: exactness.check_a5(SumNotAverage(), _a(2)[0], seed=_a(2)[1]),
    ),
    "A5.control": (
        "forward ignoring Θ",
        lambda: exactness.check_a5(IgnoresTheta(), _a(2)[0], seed=_a(2)[1]),
    ),
    "B1": (
        "M = ∞ network without the Stein covariance term",
        lambda: limit.check_b1(
            builtin_flow_case(0), ladder=[4, 8, 16, 32], mean_field=wrong_drift_mean_field
        ),
    ),
    "B2": (
        "neuron gradient with the wrong sign",
        lambda: limit.check_b2(
            builtin_flow_case(0), ladder=[4, 8, 16, 32], neuron_gradient=wrong_velocity_sign
        ),
    ),
    "B3": (
        "network scaled by 1/(L·√M)",
        lambda: limit.check_b3(SqrtWidthScaling(), builtin_flow_case(0), ladder=[4, 8, 16, 32]),
    ),
    "B4": (
        "Jacobian J transposed",
        lambda: limit.check_b4(builtin_flow_case(1), drift_and_jacobian=transposed_jacobian),
    ),
    "B5": (
        "first variation without the ω_n",
        lambda: [
            limit.check_b5(
                builtin_flow_case(0),
                limit.builtin_nu(builtin_flow_case(0).model),
                first_variation=unweighted_first_variation,
            )
        ],
    ),
    "C1": (
        "train_step returning Θ unchanged",
        lambda: [decay.check_c1_discrete(NoOpStep(), training_case(0)[0], steps=10)],
    ),
    "C1.ascent": (
        "train_step going uphill",
        lambda: [decay.check_c1_discrete(AscentStep(), training_case(1)[0], steps=10)],
    ),
    "C1.flow": (
        "particle flow that does not move",
        lambda: [decay.check_c1_flow(builtin_flow_case(0), steps=5, flow=frozen_flow)],
    ),
    "C2": (
        "train_step with lr/(L·M)",
        lambda: [decay.check_c2_discrete(MissingLM(), training_case(1)[0])],
    ),
    "C2.flow": (
        "particle flow going uphill",
        lambda: [decay.check_c2_flow(builtin_flow_case(0), halvings=2, flow=ascending_flow)],
    ),
    "C3": (
        "train_step returning Θ unchanged",
        lambda: [
            theorem6.check_c3_depth(NoOpStep(), builtin_flow_case(0), ladder=[4, 8, 16], M=4),
            *theorem6.check_c3_width(NoOpStep(), builtin_flow_case(0), **SMALL_WIDTH),
        ],
    ),
    "C4": (
        "train_step returning Θ unchanged",
        lambda: zero_loss.check_c4(
            NoOpStep(), zero_loss.builtin_reachable_case(), ladder=C4_LADDER, eps=[1e-2]
        ),
    ),
    "C5": (
        "a limit that fits any labels",
        lambda: [zero_loss.check_c5(builtin_nonmonotone_case(0), s=10.0, flow=fits_anything)],
    ),
    "C5.frozen": (
        "particle flow that does not move",
        lambda: [zero_loss.check_c5(builtin_nonmonotone_case(0), s=10.0, flow=frozen_flow)],
    ),
}

#: the verdicts that must fail for each entry (claim ids; every one listed must fail)
MUST_FAIL = {
    "A1": ["A1"],
    "A2": ["A2", "A2.taylor"],
    "A3": ["A3"],
    "A4": ["A4"],
    "A5": ["A5.duplication"],
    "A5.control": ["A5.control"],
    "B1": ["B1"],
    "B2": ["B2"],
    "B3": ["B3.paths", "B3.independent"],
    "B4": ["B4"],
    "B5": ["B5"],
    "C1": ["C1"],
    "C1.ascent": ["C1"],
    "C1.flow": ["C1.flow"],
    "C2": ["C2"],
    "C2.flow": ["C2.flow"],
    "C3": ["C3.depth", "C3.width"],
    "C4": ["C4"],
    "C5": ["C5"],
    "C5.frozen": ["C5"],
}


@pytest.mark.parametrize("key", list(MUTANTS))
def test_the_broken_implementation_fails_its_claim(key):
    what, run = MUTANTS[key]
    verdicts = run()
    by = {}
    for v in verdicts:
        by.setdefault(v.claim, []).append(v)
    for claim in MUST_FAIL[key]:
        got = by.get(claim)
        assert got, (key, what, sorted(by))
        assert any(v.status == "fail" for v in got), (key, what, [v.summary() for v in got])


def test_every_claim_has_a_mutant():
    covered = {k.split(".")[0] for k in MUTANTS}
    assert covered == {f"{g}{i}" for g in "ABC" for i in range(1, 6)}, sorted(covered)


def test_the_docs_table_names_every_claim():
    text = (REPO / "docs" / "claims.md").read_text(encoding="utf-8")
    head = "## Broken implementations each claim catches"
    assert head in text
    section = text.split(head, 1)[1]
    for key, (what, _) in MUTANTS.items():
        assert f"| {key} |" in section, key
        assert what in section, (key, what)
