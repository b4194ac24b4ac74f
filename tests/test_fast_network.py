"""Fast path (mforacle/fast/network.py): contract, consistency of its entry points, bad input.

Accuracy against the truth is claim A1 (tests/test_fast_vs_exact.py). Here: shapes, that
``loss`` / ``loss_and_grad`` / ``forward`` / ``evaluate`` agree bit for bit (they run the same
float operations in the same order), the trusted ``validate=False`` lane, the documented
invariances that hold *exactly* in float64 for dyadic data (neuron duplication with M -> 2M
keeps every product and the 1/(L·M) scaling exactly representable only up to summation order,
so it is checked within the derived float64 bound), and typed errors naming the field.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from mforacle.properties.strategies import DiscreteCase, discrete_cases

from mforacle import tolerance
from mforacle.errors import InvalidArgument
from mforacle.fast import network as fn
from mforacle.model import Model


@given(case=discrete_cases())
def test_entry_points_agree_and_shapes(case: DiscreteCase) -> None:
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    L, M, k = th.shape
    N, d = x.shape
    r = fn.evaluate(m, th, x, y, w)
    assert r.z.shape == r.q.shape == (L + 1, N, d)
    assert r.grad_theta.shape == (L, M, k) and r.grad_x.shape == (N, d)
    np.testing.assert_array_equal(r.z_L, r.z[-1])
    np.testing.assert_array_equal(r.grad_x, r.q[0])
    np.testing.assert_array_equal(fn.forward(m, th, x), r.z)
    assert fn.loss(m, th, x, y, w) == r.loss
    E, g = fn.loss_and_grad(m, th, x, y, w)
    assert E == r.loss
    np.testing.assert_array_equal(g, r.grad_theta)
    ws = np.full(N, 1.0 / N) if w is None else w
    E2, g2 = fn.loss_and_grad(m, th, x, y, ws, validate=False)
    assert E2 == E
    np.testing.assert_array_equal(g2, g)


@given(case=discrete_cases())
def test_duplicating_neurons_within_derived_bound(case: DiscreteCase) -> None:
    """M -> 2M with copied neurons: same function (docs/model.md §6.2), up to float64 rounding."""
    m, th, x, y, w = case.model, case.theta, case.x, case.y, case.weights
    r1 = fn.evaluate(m, th, x, y, w)
    r2 = fn.evaluate(m, np.concatenate([th, th], axis=1), x, y, w)
    b = tolerance.bounds(m, th, x, y, w, inputs_rounded=False)
    b2 = tolerance.bounds(m, np.concatenate([th, th], axis=1), x, y, w, inputs_rounded=False)
    assert abs(r1.loss - r2.loss) <= b["loss"] + b2["loss"], (r1.loss, r2.loss, b)
    assert np.abs(r1.z_L - r2.z_L).max() <= b["z_L"] + b2["z_L"]
    assert np.abs(r1.grad_x - r2.grad_x).max() <= b["grad_x"] + b2["grad_x"]
    # each copy gets half the gradient of the original neuron
    half = r2.grad_theta[:, : th.shape[1]] + r2.grad_theta[:, th.shape[1] :]
    assert np.abs(half - r1.grad_theta).max() <= b["grad_theta"] + 2 * b2["grad_theta"]


def _good():
    m = Model.create(2, "tanh", [1, 0.5], 0.25)
    th = np.full((2, 3, 5), 0.25)
    x = np.array([[0.5, -1.0], [0.25, 0.75]])
    y = np.array([0.1, -0.3])
    return m, th, x, y, np.array([0.5, 0.5])


def _bad_inputs():
    m, th, x, y, w = _good()
    nan_th = th.copy()
    nan_th[1, 2, 4] = np.nan
    inf_x = x.copy()
    inf_x[1, 0] = np.inf
    return [
        ("nan theta", (m, nan_th, x, y, w), "theta[1][2][4]"),
        ("inf x", (m, th, inf_x, y, w), "x[1][0]"),
        ("nan y", (m, th, x, np.array([0.1, np.nan]), w), "y[1]"),
        ("theta wrong k", (m, np.zeros((2, 3, 4)), x, y, w), "theta"),
        ("theta 2-d", (m, np.zeros((3, 5)), x, y, w), "theta"),
        ("theta L=0", (m, np.zeros((0, 3, 5)), x, y, w), "theta"),
        ("x wrong d", (m, th, np.zeros((2, 3)), y, w), "x"),
        ("y wrong N", (m, th, x, np.zeros(3), w), "y"),
        ("weights sum", (m, th, x, y, np.array([0.5, 0.6])), "weights"),
        ("weights negative", (m, th, x, y, np.array([1.5, -0.5])), "weights[1]"),
        ("weights shape", (m, th, x, y, np.array([1.0])), "weights"),
        ("x empty", (m, th, np.zeros((0, 2)), np.zeros(0), None), "x"),
    ]


@pytest.mark.parametrize(
    ("label", "args", "field"), _bad_inputs(), ids=[b[0] for b in _bad_inputs()]
)
@pytest.mark.parametrize("fn_name", ["evaluate", "loss", "loss_and_grad"])
def test_bad_input_raises_named_field(fn_name: str, label: str, args, field: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        getattr(fn, fn_name)(*args)
    assert info.value.field == field, (label, info.value)


@pytest.mark.parametrize(
    ("label", "args", "field"),
    [
        ("nan theta", lambda m, th, x: (m, np.where(th > 0, np.nan, th), x), "theta[0][0][0]"),
        ("inf x", lambda m, th, x: (m, th, x * np.inf), "x[0][0]"),
        ("x wrong d", lambda m, th, x: (m, th, x[:, :1]), "x"),
        ("x empty", lambda m, th, x: (m, th, x[:0]), "x"),
    ],
)
def test_forward_bad_input(label, args, field) -> None:
    m, th, x, _, _ = _good()
    with pytest.raises(InvalidArgument) as info:
        fn.forward(*args(m, th, x))
    assert info.value.field == field, (label, info.value)


@pytest.mark.parametrize("spec", ["relu", "regrelu", "regrelu:0", "tanh:2", 3])
def test_unknown_activation_via_model(spec) -> None:
    with pytest.raises(InvalidArgument) as info:
        Model.create(2, spec)
    assert info.value.field == "model.activation"
