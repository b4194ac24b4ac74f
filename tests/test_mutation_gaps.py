"""Checks added for gaps that a mutation-testing campaign found (each fails on its mutant)."""

from fractions import Fraction

import mpmath
import numpy as np

from mforacle.caseio import read_case
from mforacle.exact.limit import FLOOR_FACTOR, solve
from mforacle.fast.limit import ParticleMeasure, solve_particles, velocity_on_particles
from mforacle.numbers import fractions_to_float64
from mforacle.training import particle_flow

EXAMPLES = "mforacle/examples/"


def _case(name):
    case = read_case(EXAMPLES + name)
    d = case.data
    return case, fractions_to_float64(d.x), fractions_to_float64(d.y), fractions_to_float64(
        d.weights)


def test_converged_exact_limit_meets_its_tolerance():
    """A result reported as converged has every bound within tol plus the stated floor."""
    case, *_ = _case("measure_erf_d1.json")
    d = case.data
    tol = Fraction(1, 10**12)
    r = solve(case.model, case.measure, d.x, d.y, d.weights, case.probes, dps=25, tol=tol)
    assert r.converged
    cap = mpmath.mpf(tol.numerator) / tol.denominator * (1 + mpmath.mpf(FLOOR_FACTOR.numerator)
                                                       / FLOOR_FACTOR.denominator)
    for field, bound in r.error_bound.items():
        assert bound <= cap, (field, bound, cap)


def test_particle_flow_step_with_weight_decay():
    """One explicit step: θ ← θ − Δs (V(θ, t) + λ θ), for every node at every depth."""
    case, x, y, w = _case("measure_tanh_d2.json")
    pm = ParticleMeasure.from_gaussian(case.model, case.measure, 5, 3)
    ds, lam = 0.125, 0.5
    sol = solve_particles(case.model, pm, x, y, w)
    V = velocity_on_particles(case.model, pm, sol)
    want = pm.nodes - ds * (V + lam * pm.nodes)
    hist = particle_flow(case.model, pm, x, y, w, ds=ds, steps=1, lam=lam)
    np.testing.assert_allclose(hist.particles.nodes, want, rtol=0, atol=1e-15)


def test_particle_flow_records_the_last_step_and_its_time():
    case, x, y, w = _case("measure_tanh_d2.json")
    pm = ParticleMeasure.from_gaussian(case.model, case.measure, 5, 3)
    hist = particle_flow(case.model, pm, x, y, w, ds=0.25, steps=5, record_every=2)
    np.testing.assert_allclose(hist.s, [0.0, 0.5, 1.0, 1.25])
    assert len(hist.loss) == len(hist.s) == len(hist.dissipation)
