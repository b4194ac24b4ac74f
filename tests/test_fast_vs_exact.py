"""Claim A1: the fast path (NumPy float64) equals the exact path (mpmath) within a derived bound.

Error model, per entry: ``|fast − exact| <= tolerance.entrywise_bounds(u = 2**-53)`` (running
error analysis: unit roundoff × sums of absolute values of the terms × operation counts, plus
gradual underflow's absolute ``η = 2**-1075`` per operation, propagated through the layer
Jacobians; see mforacle/tolerance.py) ``+ exact.error_bound``
(the exact path's own, confirmed bound at 30 digits, ~1e-29: negligible). Generated inputs are
dyadic, hence exact in float64, so the model is used with ``inputs_rounded=False`` — checked,
not assumed. On failure the case is saved with mforacle.reproduce.save_case.
"""

from __future__ import annotations

import json
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from mforacle.properties.strategies import DiscreteCase, discrete_cases, magnitudes

from mforacle import tolerance
from mforacle.exact import network as exact_network
from mforacle.fast import activations as fast_activations
from mforacle.fast import network as fast_network
from mforacle.model import Model
from mforacle.reproduce import save_case

U64 = 2.0**-53
DPS = 30
QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")


def _exact_in_float64(case: DiscreteCase) -> bool:
    """Every input number of the case equals its float64 value exactly."""
    c = case.to_case()
    arrays = [c.theta, c.data.x, c.data.y, c.data.weights, np.array(c.model.a, dtype=object),
              np.array([c.model.kappa], dtype=object)]
    if c.model.activation.eta is not None:
        arrays.append(np.array([c.model.activation.eta], dtype=object))
    return all(Fraction(float(v)) == v for arr in arrays for v in np.asarray(arr).ravel())


def a1_violations(case: DiscreteCase, fast: fast_network.FastResult) -> list[str]:
    """Entries where the fast result leaves the derived bound around the exact result."""
    exact = exact_network.evaluate(case.model, case.theta, case.x, case.y, case.weights, dps=DPS)
    eb = tolerance.entrywise_bounds(case.model, case.theta, case.x, case.y, case.weights,
                                    unit_roundoff=U64, inputs_rounded=not _exact_in_float64(case))
    pairs = {
        "loss": (np.array([exact.loss], dtype=object), np.array([fast.loss])),
        "z_L": (exact.z[-1], fast.z_L),
        "grad_theta": (exact.grad_theta, fast.grad_theta),
        "grad_x": (exact.grad_x, fast.grad_x),
    }
    out = []
    with mpmath.workdps(DPS + 10):
        for key in QUANTITIES:
            ex, fa = pairs[key]
            bound = np.asarray(eb[key], dtype=np.float64).reshape(fa.shape)
            own = exact.error_bound.get(key, mpmath.mpf(0))
            for idx in np.ndindex(fa.shape):
                err = abs(mpmath.mpf(float(fa[idx])) - ex[idx])
                allowed = mpmath.mpf(float(bound[idx])) + own
                if err > allowed:
                    out.append(f"{key}{list(idx)}: |fast - exact| = {mpmath.nstr(err, 4)} > "
                               f"bound {mpmath.nstr(allowed, 4)} (fast {float(fa[idx])!r}, "
                               f"exact {mpmath.nstr(ex[idx], 20)})")
    return out


def _check(case: DiscreteCase, label: str) -> None:
    fast = fast_network.evaluate(case.model, case.theta, case.x, case.y, case.weights)
    bad = a1_violations(case, fast)
    if bad:
        path = save_case(case.to_json(), label)
        pytest.fail(
            "A1 fast vs exact outside the derived float64 bound "
            "(u = 2^-53 × condition × operation count, mforacle/tolerance.py):\n  "
            + "\n  ".join(bad[:10])
            + f"\ncase saved to {path}; reproduce: mforacle eval --path fast {path}\n"
            + json.dumps(case.to_json())[:3000]
        )


@given(case=discrete_cases())
def test_a1_fast_equals_exact_on_generated_cases(case: DiscreteCase) -> None:
    _check(case, "A1")


@given(case=discrete_cases(magnitudes=magnitudes()))
def test_a1_fast_equals_exact_at_extreme_magnitudes(case: DiscreteCase) -> None:
    """The same at 2^±990-scaled weights and states, subnormal inputs and states, and losses
    that underflow to 0.0: the bound's gradual-underflow terms are tested here."""
    _check(case, "A1-extreme")


def _fixed_large_case() -> DiscreteCase:
    rng = np.random.default_rng(20240516)  # fixed once; not chosen by outcome
    d, L, M, N = 4, 16, 32, 5
    dy = lambda shape, scale, bits: np.round(rng.normal(size=shape) * scale * 2**bits) / 2**bits  # noqa: E731
    model = Model.create(d, "tanh", [1, -0.5, 0.25, 0.75], 0.25)
    theta = dy((L, M, 2 * d + 1), 1.0, 10)
    x, y = dy((N, d), 1.0, 8), dy((N,), 1.0, 8)
    weights = np.array([3, 5, 1, 4, 3], dtype=np.float64) / 16
    return DiscreteCase(model, theta, x, y, weights)


def test_a1_fixed_larger_case() -> None:
    """L = 16, M = 32, d = 4, N = 5, tanh, κ ≠ 0, weighted."""
    _check(_fixed_large_case(), "A1-large")


def test_a1_detects_sigma_second_derivative_in_place_of_first(monkeypatch) -> None:
    """Mutant: the backward pass uses σ'' where σ' belongs; A1 must report it."""
    case = DiscreteCase(
        Model.create(2, "tanh", [1, 0.5], -0.5),
        np.array([[[0.5, -0.25, 1.0, 0.75, 0.125], [-1.0, 0.5, 0.25, -0.5, 0.375]],
                  [[0.25, 0.75, -0.5, 1.0, -0.25], [1.0, 1.0, 0.5, 0.5, 0.0]]]),
        np.array([[0.5, -1.0], [0.25, 0.75], [-0.5, 0.125]]), np.array([0.25, -0.5, 1.0]),
        np.array([0.25, 0.25, 0.5]),
    )
    good = fast_network.evaluate(case.model, case.theta, case.x, case.y, case.weights)
    assert a1_violations(case, good) == []
    real = fast_activations.get("tanh")
    mutant = fast_activations.FastActivation("tanh", real.sigma, real.d2sigma, real.d2sigma,
                                             lambda a: (real.sigma(a), real.d2sigma(a)))
    monkeypatch.setattr(fast_network, "get", lambda _act: mutant)
    bad = fast_network.evaluate(case.model, case.theta, case.x, case.y, case.weights)
    violations = a1_violations(case, bad)
    assert any(v.startswith("grad_theta") for v in violations), violations
    assert any(v.startswith("grad_x") for v in violations), violations
