"""The fast path never returns inf/NaN computed from finite inputs: it raises NonFiniteResult."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mforacle.errors import MforacleError, NonFiniteResult
from mforacle.fast import network as fast
from mforacle.model import Model

MODEL = Model.create(2, "tanh", ["1", "0.5"])
X, Y = np.array([[0.5, -1.0], [0.25, 0.75]]), np.array([0.1, -0.3])
HUGE = np.array([[[1e200, -0.2, 0.3, 1e200, 0.5]]])  # w1·x and u1 near 1e200: E ~ 1e400


@pytest.mark.parametrize(
    "call",
    [
        lambda: fast.loss(MODEL, HUGE, X, Y),
        lambda: fast.loss_and_grad(MODEL, HUGE, X, Y),
        lambda: fast.evaluate(MODEL, HUGE, X, Y),
    ],
)
def test_overflow_raises_a_typed_error(call):
    with pytest.raises(NonFiniteResult, match="exact path"):
        call()


def test_forward_overflow_raises():
    theta = np.array([[[1.0, 0.0, 1e308, 0.0, 5.0]]])  # z_1 = x + 1e308·tanh(...) twice
    with pytest.raises(NonFiniteResult):
        fast.forward(MODEL, np.concatenate([theta, theta]), np.array([[1e308, 0.0]]))


def test_large_but_representable_cases_still_work():
    theta = np.array([[[1e3, -0.2, 0.3, 1e3, 0.5]]])
    r = fast.evaluate(MODEL, theta, X, Y)
    assert np.isfinite(r.loss) and np.all(np.isfinite(r.grad_theta))


def test_non_finite_result_is_an_mforacle_error():
    assert issubclass(NonFiniteResult, MforacleError)


def test_cli_prints_one_line_and_exits_2(tmp_path):
    case = {"format": "mforacle-case/1",
            "model": {"d": 2, "activation": "tanh", "readout": {"a": ["1", "0.5"]}},
            "theta": [[["1e200", "-0.2", "0.3", "1e200", "0.5"]]],
            "x": [["0.5", "-1.0"], ["0.25", "0.75"]], "y": ["0.1", "-0.3"]}
    p = tmp_path / "big.json"
    p.write_text(json.dumps(case))
    out = subprocess.run([sys.executable, "-m", "mforacle", "eval", str(p), "--path", "fast"],
                         capture_output=True, text=True)
    assert out.returncode == 2, out
    assert out.stderr.count("\n") == 1 and "exact path" in out.stderr, out.stderr
    exact = subprocess.run([sys.executable, "-m", "mforacle", "eval", str(p), "--path", "exact"],
                           capture_output=True, text=True)
    assert exact.returncode == 0, exact.stderr


def test_regrelu_second_derivative_at_the_kinks_follows_the_convention():
    """README: σ''(±η) = 1/(2η) (the middle piece on the closed interval), in both paths."""
    import mpmath

    from mforacle.exact.activations import exact_activation
    from mforacle.fast.activations import get
    from mforacle.model import Activation

    act = Activation.parse("regrelu:0.5")
    fast_d2 = get(act).d2sigma(np.array([-0.5, 0.5, 0.75, -0.75]))
    exact = exact_activation(act)
    exact_d2 = [float(exact.d2(mpmath.mpf(v))) for v in (-0.5, 0.5)]
    assert fast_d2.tolist() == [1.0, 1.0, 0.0, 0.0] and exact_d2 == [1.0, 1.0]


def test_trusted_lane_uses_the_same_default_weights():
    """loss_and_grad(validate=False) with weights=None means uniform 1/N, as the checked lane."""
    rng = np.random.default_rng(0)
    theta = rng.standard_normal((2, 3, 5)) / 2
    x, y = rng.standard_normal((4, 2)), rng.standard_normal(4)
    e1, g1 = fast.loss_and_grad(MODEL, theta, x, y)
    e2, g2 = fast.loss_and_grad(MODEL, theta, x, y, validate=False)
    assert e1 == e2 and np.array_equal(g1, g2)
