"""Ensembles (a leading seed axis S): the fast path, gradient descent and sampling.

Contract: member ``s`` of an ensemble computation equals the one-network computation of member
``s`` *bit for bit* (``np.array_equal``, not a tolerance): mforacle/fast/network.py runs every
operation on each member's own slices with the same shapes and strides, and the one-network
entry points are the ``S = 1`` case. Checked on hypothesis cases and on fixed sizes large enough
for BLAS's blocked kernels (M = 512, N = 256, d = 16), with one and two BLAS threads, in both
of the kernel's memory modes (kept layer arrays, chunked ensembles, recomputation). The
deliberately broken kernels at the end (members mixed up; one member off by one ulp) must be
caught, showing that the comparison is exact and per member.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mforacle.properties.strategies import DiscreteCase, discrete_cases

from mforacle import threads
from mforacle.caseio import read_case
from mforacle.errors import InvalidArgument, NonFiniteResult
from mforacle.fast import network as fn
from mforacle.model import Model
from mforacle.sampling import sample_network, sample_networks
from mforacle.training import gradient_descent, gradient_descent_ensemble

ACTIVATIONS = ["tanh", "erf", "sigmoid", "softplus", "sin", "regrelu:0.5"]


def _random_ensemble(act: str, d: int, L: int, M: int, N: int, S: int, seed: int):
    rng = np.random.default_rng(seed)
    model = Model.create(d, act, None, 0.25)
    thetas = rng.normal(size=(S, L, M, 2 * d + 1))
    x, y = rng.normal(size=(N, d)), rng.normal(size=N)
    w = rng.random(N)
    return model, thetas, x, y, w / w.sum()


def _mismatches(ens: fn.EnsembleResult, thetas, model, x, y, w) -> list[str]:
    """Members whose ensemble result differs in any bit from the one-network result."""
    bad = []
    for s in range(len(ens)):
        one = fn.evaluate(model, thetas[s], x, y, w)
        got = ens.member(s)
        for name in ("z", "q", "grad_theta", "grad_x"):
            if not np.array_equal(getattr(got, name), getattr(one, name)):
                bad.append(f"member {s}: {name}")
        if got.loss != one.loss:
            bad.append(f"member {s}: loss {got.loss!r} != {one.loss!r}")
    return bad


@given(case=discrete_cases(), S=st.integers(2, 4), seed=st.integers(0, 2**32 - 1))
def test_ensemble_equals_one_at_a_time_on_generated_cases(case: DiscreteCase, S: int,
                                                          seed: int) -> None:
    rng = np.random.default_rng(seed)
    # member 0 is the generated network, the others are perturbations of it
    thetas = np.stack([case.theta] + [case.theta + rng.normal(size=case.theta.shape)
                                      for _ in range(S - 1)])
    try:
        ens = fn.evaluate_ensemble(case.model, thetas, case.x, case.y, case.weights)
    except NonFiniteResult:
        return  # a perturbed member overflowed; the fixed-size tests cover identity
    assert not _mismatches(ens, thetas, case.model, case.x, case.y, case.weights)
    E, g = fn.loss_and_grad_ensemble(case.model, thetas, case.x, case.y, case.weights)
    assert np.array_equal(E, ens.loss) and np.array_equal(g, ens.grad_theta)
    assert np.array_equal(fn.loss_ensemble(case.model, thetas, case.x, case.y, case.weights),
                          ens.loss)
    assert np.array_equal(fn.forward_ensemble(case.model, thetas, case.x), ens.z)


SIZES = [  # (d, L, M, N, S): tiny, odd, and BLAS-blocked sizes
    (1, 1, 1, 1, 2),
    (2, 3, 5, 7, 4),
    (3, 6, 64, 33, 3),
    (16, 3, 512, 256, 3),
]


@pytest.mark.parametrize(
    ("act", "nthreads"), [(a, 1) for a in ACTIVATIONS] + [("tanh", 2), ("erf", 2)]
)
def test_ensemble_equals_one_at_a_time_fixed_sizes(act: str, nthreads: int) -> None:
    with threads.limit(nthreads):
        for i, (d, L, M, N, S) in enumerate(SIZES):
            model, thetas, x, y, w = _random_ensemble(act, d, L, M, N, S, seed=100 + i)
            ens = fn.evaluate_ensemble(model, thetas, x, y, w)
            assert not _mismatches(ens, thetas, model, x, y, w), (d, L, M, N, S)
            E, g = fn.loss_and_grad_ensemble(model, thetas, x, y, w)
            for s in range(S):
                e1, g1 = fn.loss_and_grad(model, thetas[s], x, y, w)
                assert E[s] == e1 and np.array_equal(g[s], g1)


@pytest.mark.parametrize("act", ["tanh", "erf"])
def test_memory_modes_give_the_same_bits(act: str, monkeypatch) -> None:
    """Kept layer arrays, chunks of members, and recomputation in the backward pass."""
    model, thetas, x, y, w = _random_ensemble(act, 3, 5, 16, 9, 5, seed=7)
    full = fn.evaluate_ensemble(model, thetas, x, y, w)
    per_member = 8 * 5 * 9 * 16 * (1 if act == "tanh" else 2)
    for budget in (2 * per_member, per_member, per_member - 1):  # chunks of 2, of 1, recompute
        monkeypatch.setattr(fn, "KEEP_BYTES", budget)
        other = fn.evaluate_ensemble(model, thetas, x, y, w)
        for name in ("loss", "z", "q", "grad_theta", "grad_x"):
            assert np.array_equal(getattr(other, name), getattr(full, name)), (budget, name)


def test_ensemble_shapes_and_bad_input() -> None:
    model, thetas, x, y, w = _random_ensemble("tanh", 2, 3, 4, 5, 2, seed=1)
    ens = fn.evaluate_ensemble(model, thetas, x, y, w)
    assert ens.z.shape == ens.q.shape == (2, 4, 5, 2)
    assert ens.grad_theta.shape == (2, 3, 4, 5) and ens.grad_x.shape == (2, 5, 2)
    assert ens.loss.shape == (2,) and ens.z_L.shape == (2, 5, 2)
    with pytest.raises(InvalidArgument) as info:
        fn.loss_and_grad_ensemble(model, thetas[0], x, y, w)  # (L, M, k): not an ensemble
    assert info.value.field == "thetas"
    with pytest.raises(InvalidArgument) as info:
        fn.evaluate_ensemble(model, thetas[:0], x, y, w)
    assert info.value.field == "thetas"
    bad = thetas.copy()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(InvalidArgument) as info:
        fn.loss_ensemble(model, bad, x, y, w)
    assert info.value.field == "thetas[1][2][3][0]"
    with pytest.raises(InvalidArgument) as info:
        fn.forward_ensemble(model, thetas, x[:, :1])
    assert info.value.field == "x"
    with pytest.raises(InvalidArgument) as info:
        fn.evaluate_ensemble("tanh", thetas, x, y, w)
    assert info.value.field == "model"


# --------------------------------------------------------------------------- broken kernels


def test_identity_check_catches_mixed_up_members(monkeypatch) -> None:
    """A kernel that pairs member s with the wrong parameters in the backward pass."""
    model, thetas, x, y, w = _random_ensemble("tanh", 2, 3, 8, 6, 3, seed=3)
    real = fn._backward

    def mixed(act, theta, z, kept, qL, w_, d, keep_q):
        grad, q0, q = real(act, theta, z, kept, qL, w_, d, keep_q)
        return grad[::-1].copy(), q0, q

    monkeypatch.setattr(fn, "_backward", mixed)
    ens = fn.evaluate_ensemble(model, thetas, x, y, w)
    bad = _mismatches(ens, thetas, model, x, y, w)
    assert "member 0: grad_theta" in bad and "member 2: grad_theta" in bad


def test_identity_check_catches_one_ulp(monkeypatch) -> None:
    """A kernel whose batched result differs from the one-network result by one ulp in one
    entry of one member: within any tolerance, but not bit-identical."""
    model, thetas, x, y, w = _random_ensemble("erf", 2, 3, 8, 6, 3, seed=4)
    real = fn._backward

    def off_by_one_ulp(act, theta, z, kept, qL, w_, d, keep_q):
        grad, q0, q = real(act, theta, z, kept, qL, w_, d, keep_q)
        if theta.shape[0] > 1:
            grad[1, 0, 0, 0] = np.nextafter(grad[1, 0, 0, 0], np.inf)
        return grad, q0, q

    monkeypatch.setattr(fn, "_backward", off_by_one_ulp)
    ens = fn.evaluate_ensemble(model, thetas, x, y, w)
    assert _mismatches(ens, thetas, model, x, y, w) == ["member 1: grad_theta"]


# --------------------------------------------------------------------------- sampling, training


class _MeasureCase:
    """The shipped example measure_tanh_d2.json with float64 data."""

    def __init__(self) -> None:
        from importlib.resources import files

        from mforacle.model import float_data

        case = read_case(files("mforacle") / "examples" / "measure_tanh_d2.json")
        self.model, self.measure = case.model, case.measure
        self.x, self.y, self.weights = float_data(case.model, case.data.x, case.data.y,
                                                  case.data.weights)


def _measure_case() -> _MeasureCase:
    return _MeasureCase()


@pytest.mark.parametrize("scheme", ["paths", "independent"])
def test_sample_networks_equals_sample_network(scheme: str) -> None:
    case = _measure_case()
    seeds = [0, 7, 3, 2**40]
    thetas = sample_networks(case.measure, 5, 6, seeds=seeds, scheme=scheme)
    assert thetas.shape == (4, 5, 6, case.model.k)
    for s, sd in enumerate(seeds):
        assert np.array_equal(thetas[s], sample_network(case.measure, 5, 6, seed=sd,
                                                        scheme=scheme))
    for bad, field in (([], "seeds"), ([1, -1], "seeds[1]"), ([1.5], "seeds[0]"), (3, "seeds")):
        with pytest.raises(InvalidArgument) as info:
            sample_networks(case.measure, 2, 2, seeds=bad)
        assert info.value.field == field


@pytest.mark.parametrize("lam", [None, 0.5])
def test_gradient_descent_ensemble_equals_one_at_a_time(lam) -> None:
    case = _measure_case()
    seeds = [11, 12, 13]
    thetas = sample_networks(case.measure, 4, 8, seeds=seeds)
    ens = gradient_descent_ensemble(case.model, thetas, case.x, case.y, case.weights, ds=0.05,
                                    steps=6, lam=lam, record_every=2, keep_thetas=True)
    assert ens.loss.shape == ens.dissipation.shape == (4, 3) and ens.thetas.shape[:2] == (4, 3)
    for s in range(3):
        one = gradient_descent(case.model, thetas[s], case.x, case.y, case.weights, ds=0.05,
                               steps=6, lam=lam, record_every=2, keep_thetas=True)
        mem = ens.member(s)
        assert np.array_equal(mem.s, one.s) and np.array_equal(mem.loss, one.loss)
        assert np.array_equal(mem.dissipation, one.dissipation)
        assert np.array_equal(mem.theta, one.theta)
        assert all(np.array_equal(a, b) for a, b in zip(mem.thetas, one.thetas, strict=True))
        # the final recorded loss is the loss of the final state (what the sweeps need)
        assert ens.final_loss[s] == fn.loss_and_grad(case.model, one.theta, case.x, case.y,
                                                     case.weights)[0]


def test_gradient_descent_ensemble_names_a_diverging_member() -> None:
    case = _measure_case()
    thetas = sample_networks(case.measure, 2, 3, seeds=[1, 2])
    thetas[1] *= 1e150  # member 1 overflows: its loss or gradient is not finite
    with pytest.raises((InvalidArgument, NonFiniteResult)):
        gradient_descent_ensemble(case.model, thetas, case.x, case.y, case.weights, ds=1e3,
                                  steps=3)
    with pytest.raises(InvalidArgument) as info:
        gradient_descent_ensemble(case.model, thetas[:1], case.x, case.y, case.weights, ds=-1.0,
                                  steps=3)
    assert info.value.field == "ds"


# --------------------------------------------------------------------------- particle flow


def _particle_sets(case: _MeasureCase, S: int, T: int = 5, n: int = 3):
    """S particle measures: the Gauss–Hermite one and perturbations of its nodes."""
    from mforacle.fast.limit import ParticleMeasure

    base = ParticleMeasure.from_gaussian(case.model, case.measure, T, n)
    rng = np.random.default_rng(21)
    return [base] + [ParticleMeasure(base.nodes + 0.3 * rng.normal(size=base.nodes.shape),
                                     base.weights) for _ in range(S - 1)]


@pytest.mark.parametrize("act", ["tanh", "erf"])
def test_particle_solver_and_velocity_ensemble_equal_one_at_a_time(act: str) -> None:
    from mforacle.fast.limit import (
        solve_particle_ensemble,
        solve_particles,
        velocity_on_particle_ensemble,
        velocity_on_particles,
    )

    case = _measure_case()
    if act != "tanh":
        case.model = Model.create(case.model.d, act, list(case.model.a), case.model.kappa)
    sets = _particle_sets(case, 3)
    nodes = np.stack([p.nodes for p in sets])
    om = np.stack([p.weights for p in sets])
    sol = solve_particle_ensemble(case.model, nodes, om, case.x, case.y, case.weights)
    V = velocity_on_particle_ensemble(case.model, nodes, sol)
    for s, pm in enumerate(sets):
        one = solve_particles(case.model, pm, case.x, case.y, case.weights)
        assert sol.energy[s] == one.energy
        assert np.array_equal(sol.Z[s], one.Z) and np.array_equal(sol.p[s], one.p)
        assert np.array_equal(V[s], velocity_on_particles(case.model, pm, one))


@pytest.mark.parametrize("lam", [None, 0.25])
def test_particle_flow_ensemble_equals_one_at_a_time(lam) -> None:
    from mforacle.training import particle_flow, particle_flow_ensemble

    case = _measure_case()
    sets = _particle_sets(case, 3)
    ens = particle_flow_ensemble(case.model, sets, case.x, case.y, case.weights, ds=0.1,
                                 steps=3, lam=lam)
    assert ens.loss.shape == ens.dissipation.shape == (4, 3)
    for s, pm in enumerate(sets):
        one = particle_flow(case.model, pm, case.x, case.y, case.weights, ds=0.1, steps=3,
                            lam=lam)
        mem = ens.member(s)
        assert np.array_equal(mem.loss, one.loss)
        assert np.array_equal(mem.dissipation, one.dissipation)
        assert np.array_equal(mem.particles.nodes, one.particles.nodes)


def test_particle_flow_ensemble_bad_input() -> None:
    from mforacle.training import particle_flow_ensemble

    case = _measure_case()
    sets = _particle_sets(case, 2)
    small = _particle_sets(case, 1, T=3)[0]
    for bad, field in (([], "particles"), (sets[0], "particles"), ([sets[0], "x"], "particles[1]"),
                       ([sets[0], small], "particles[1].nodes")):
        with pytest.raises(InvalidArgument) as info:
            particle_flow_ensemble(case.model, bad, case.x, case.y, case.weights, ds=0.1,
                                   steps=1)
        assert info.value.field == field
