"""Claim A5: mean-field invariances of the exact path, checked with ``==`` (bit for bit).

Why equality is the right test here, not a tolerance: every sum over neurons (and over data
points) in :mod:`mforacle.exact.network` is ``mpmath.fsum``, which adds the terms' integer
mantissas exactly and rounds once (``mpmath.libmp.mpf_sum``; exact as long as the terms of one
sum span fewer than 2·prec bits, ~80 decimal orders at these precisions, far beyond what these
cases produce). The result is the correctly rounded exact sum, which does not depend on the
order of the terms. The factor 1/(L·M) is one correctly rounded division after the sum.

- Permuting the neurons of a layer permutes the terms of each sum: identical sums, identical
  trajectories, adjoints, loss; ``grad_theta`` is permuted the same way.
- Duplicating every neuron (``M → 2M``) turns each exact sum S into 2S (exactly representable)
  and L·M into 2L·M, so ``round(round(2S)/(2LM)) = round(2·round(S)/(2LM)) = round(S/(LM))``:
  identical states and loss. Each copy gets half the gradient, ``round(X/(2LM))``, which is
  exactly ``round(X/(LM))/2`` (halving is exact in binary).

Any order-dependent summation (a plain ``sum``) would break these equalities in the last bit
for most cases. The reported values are rounded from ``dps + guard`` to ``dps`` digits, which
would hide such a last-bit difference almost always; so each test compares the *working
precision* computation (``network._compute``, unrounded) as well as the public result. That is
what makes the tests able to fail (checked: replacing one ``fsum`` by ``sum`` fails them).
"""

from __future__ import annotations

import mpmath
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from mforacle.properties.strategies import discrete_cases, models

from mforacle.exact import network
from mforacle.exact.network import GUARD_DIGITS, evaluate
from mforacle.model import Data, check_theta

DPS = 30
WORKING_DPS = DPS + GUARD_DIGITS
cases = discrete_cases(model=models(d=st.integers(1, 3)), L=st.integers(1, 3),
                       M=st.integers(2, 4), N=st.integers(1, 3))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and all(x == y for x, y in zip(a.ravel(), b.ravel(), strict=True))


def _raw(case, theta: np.ndarray, x=None, y=None, w=None) -> dict[str, np.ndarray]:
    """Unrounded working-precision loss, states, adjoints, gradients as object arrays."""
    x = case.x if x is None else x
    y = case.y if y is None else y
    w = case.weights if x is case.x else w
    raw = network._compute(case.model, check_theta(case.model, theta),
                           Data.create(case.model, x, y, w), WORKING_DPS)
    return {"loss": np.array([raw.loss], dtype=object),
            "z": np.array(raw.z, dtype=object), "q": np.array(raw.q, dtype=object),
            "grad_theta": np.array(raw.grad_theta, dtype=object)}  # z, q: (N, L+1, d)


def _assert_same(a: np.ndarray, b: np.ndarray, what: str) -> None:
    assert _same(a, b), f"{what} changed: " + _first_diff(a, b)


def _first_diff(a: np.ndarray, b: np.ndarray) -> str:
    for idx in np.ndindex(*a.shape):
        if a[idx] != b[idx]:
            return f"first difference at {list(idx)}: {a[idx]!r} vs {b[idx]!r}"
    return "shapes differ" if a.shape != b.shape else "no difference"


@given(case=cases, data=st.data())
def test_permuting_neurons_within_a_layer(case, data) -> None:
    L, M, _k = case.shape
    layer = data.draw(st.integers(0, L - 1), label="layer")
    perm = data.draw(st.permutations(range(M)), label="permutation")
    theta2 = case.theta.copy()
    theta2[layer] = case.theta[layer][list(perm)]
    args = (case.x, case.y, case.weights)
    r1 = evaluate(case.model, case.theta, *args, dps=DPS, confirm=False)
    r2 = evaluate(case.model, theta2, *args, dps=DPS, confirm=False)
    assert r1.loss == r2.loss, f"loss changed under permutation {perm}: {r1.loss!r} vs {r2.loss!r}"
    assert _same(r1.z, r2.z), "trajectory changed: " + _first_diff(r1.z, r2.z)
    assert _same(r1.grad_x, r2.grad_x), "grad_x changed: " + _first_diff(r1.grad_x, r2.grad_x)
    g_expected = r1.grad_theta.copy()
    g_expected[layer] = r1.grad_theta[layer][list(perm)]
    assert _same(g_expected, r2.grad_theta), (
        "grad_theta is not permuted with the neurons: " + _first_diff(g_expected, r2.grad_theta)
    )
    w1, w2 = _raw(case, case.theta), _raw(case, theta2)
    for name in ("loss", "z", "q"):
        _assert_same(w1[name], w2[name], f"working-precision {name}")
    g_expected = w1["grad_theta"].copy()
    g_expected[layer] = w1["grad_theta"][layer][list(perm)]
    assert _same(g_expected, w2["grad_theta"]), (
        "working-precision grad_theta: " + _first_diff(g_expected, w2["grad_theta"])
    )


@given(case=cases)
def test_duplicating_every_neuron(case) -> None:
    """M → 2M with the same parameters: same function and loss, each copy half the gradient."""
    theta2 = np.concatenate([case.theta, case.theta], axis=1)
    args = (case.x, case.y, case.weights)
    r1 = evaluate(case.model, case.theta, *args, dps=DPS, confirm=False)
    r2 = evaluate(case.model, theta2, *args, dps=DPS, confirm=False)
    assert r1.loss == r2.loss, f"loss changed under duplication: {r1.loss!r} vs {r2.loss!r}"
    assert _same(r1.z, r2.z), "trajectory changed: " + _first_diff(r1.z, r2.z)
    assert _same(r1.q, r2.q), "adjoint changed: " + _first_diff(r1.q, r2.q)
    M = case.shape[1]
    # mpmath.ldexp shifts the exponent without rounding (v / 2 would round to the global 53 bits)
    half = np.vectorize(lambda v: mpmath.ldexp(v, -1), otypes=[object])(r1.grad_theta)
    for copy, part in (("first", r2.grad_theta[:, :M]), ("second", r2.grad_theta[:, M:])):
        assert _same(half, part), f"{copy} copy's gradient is not half: " + _first_diff(half, part)
    w1, w2 = _raw(case, case.theta), _raw(case, theta2)
    for name in ("loss", "z", "q"):
        _assert_same(w1[name], w2[name], f"working-precision {name}")
    half = np.vectorize(lambda v: mpmath.ldexp(v, -1), otypes=[object])(w1["grad_theta"])
    for part in (w2["grad_theta"][:, :M], w2["grad_theta"][:, M:]):
        _assert_same(half, part, "working-precision gradient of a copy vs half")


@given(case=discrete_cases(N=st.integers(2, 4)), data=st.data())
def test_permuting_data_points(case, data) -> None:
    """The loss is an fsum over points too: reordering (x, y, ω) together changes nothing."""
    perm = list(data.draw(st.permutations(range(len(case.y))), label="permutation"))
    w = None if case.weights is None else case.weights[perm]
    r1 = evaluate(case.model, case.theta, case.x, case.y, case.weights, dps=DPS, confirm=False)
    r2 = evaluate(case.model, case.theta, case.x[perm], case.y[perm], w, dps=DPS, confirm=False)
    assert r1.loss == r2.loss
    assert _same(r1.grad_theta, r2.grad_theta), _first_diff(r1.grad_theta, r2.grad_theta)
    assert _same(r1.grad_x[perm], r2.grad_x), _first_diff(r1.grad_x[perm], r2.grad_x)
    w1, w2 = _raw(case, case.theta), _raw(case, case.theta, case.x[perm], case.y[perm], w)
    for name in ("loss", "grad_theta"):
        _assert_same(w1[name], w2[name], f"working-precision {name}")
    _assert_same(w1["q"][perm], w2["q"], "working-precision q")
