"""The harness against deliberately wrong implementations: each is flagged by the check meant
to catch it (and the checks that should not care still pass), and correct float64/float32
NumPy implementations pass every conformance check.

Bounds are mforacle.tolerance's derived ones; nothing here widens them. The suite's references
are computed once per module (exact path, ~2 s).
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from examples.numpy_resnet import NumpyResNet
from mforacle.harness.adapters import adapt
from mforacle.harness.runner import check_implementation, summarize
from mforacle.harness.vectors import build_suite

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def suite():
    return build_suite("dev")


def _run(impl, suite, ids=None, timeout=30.0):
    cases = [sc for sc in suite if ids is None or sc.id in ids]
    vs = check_implementation(adapt(impl), cases, timeout=timeout, claims=False)
    return {v.evidence["check_id"]: v for v in vs}


def _status(verdicts, check_id):
    return verdicts[check_id].status


def _show(verdicts):
    return "\n".join(f"{k}: {v.summary()}" for k, v in verdicts.items())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correct_numpy_implementation_passes_everything(suite, dtype):
    vs = _run(NumpyResNet(dtype), suite)
    s = summarize(list(vs.values()))
    assert s["ok"] and s["pass"] == len(suite) * 5, _show(
        {k: v for k, v in vs.items() if not v.passed}
    )


class WrongScaling(NumpyResNet):
    def _h(self, L, M):
        return 1.0 / L  # instead of 1/(L·M)


class SignError(NumpyResNet):
    def gradient(self, spec, theta, x, y, weights):
        g, gx = super().gradient(spec, theta, x, y, weights)
        g[..., 2 * spec.d] *= -1  # ∂E/∂b with the wrong sign
        return g, gx


class WrongActivationDerivative(NumpyResNet):
    def _dsigma(self, spec, a):
        return 1 - np.tanh(a)  # should be 1 − tanh²


class MissingKappaTerm(NumpyResNet):
    def _grad_g(self, spec, z):
        return spec.a.astype(self.dt) + 0 * z  # ∇g = a + κ z without κ z


class ReversedLayers(NumpyResNet):
    def _layers(self, L):
        return range(L - 1, -1, -1)


class Float32Accumulation(NumpyResNet):
    """Declares float64 but accumulates its matrix products in float32."""

    def _matmul(self, a, b):
        return (np.asarray(a, np.float32) @ np.asarray(b, np.float32)).astype(np.float64)


def test_wrong_scaling_flagged_by_forward(suite):
    vs = _run(WrongScaling(), suite, {"small/tanh"})
    assert _status(vs, "small/tanh::z_L") == "fail", _show(vs)
    assert _status(vs, "small/tanh::loss") == "fail", _show(vs)


def test_sign_error_flagged_by_gradient_not_forward(suite):
    vs = _run(SignError(), suite, {"small/tanh"})
    assert _status(vs, "small/tanh::grad_theta") == "fail", _show(vs)
    assert _status(vs, "small/tanh::z_L") == "pass", _show(vs)
    assert _status(vs, "small/tanh::grad_x") == "pass", _show(vs)


def test_wrong_activation_derivative_flagged_by_gradients(suite):
    vs = _run(WrongActivationDerivative(), suite, {"small/tanh"})
    assert _status(vs, "small/tanh::grad_theta") == "fail", _show(vs)
    assert _status(vs, "small/tanh::grad_x") == "fail", _show(vs)
    assert _status(vs, "small/tanh::z_L") == "pass", _show(vs)


def test_missing_kappa_term_flagged_only_where_kappa_nonzero(suite):
    vs = _run(MissingKappaTerm(), suite, {"small/tanh", "kappa/tanh"})
    assert _status(vs, "kappa/tanh::grad_x") == "fail", _show(vs)
    assert _status(vs, "kappa/tanh::grad_theta") == "fail", _show(vs)
    assert _status(vs, "small/tanh::grad_x") == "pass", _show(vs)


def test_reversed_layers_flagged_by_forward(suite):
    vs = _run(ReversedLayers(), suite, {"edge/deep-narrow"})
    assert _status(vs, "edge/deep-narrow::z_L") == "fail", _show(vs)


def test_float32_accumulation_in_declared_float64_flagged(suite):
    vs = _run(Float32Accumulation(), suite, {"small/tanh"})
    v = vs["small/tanh::z_L"]
    assert v.status == "fail", _show(vs)
    assert v.figure > 1e3 * v.bound  # float32 rounding (~1e-8) against a float64 bound (~1e-15)


def test_float32_declared_float32_with_float64_outputs_is_a_dtype_error(suite):
    class Liar(NumpyResNet):
        def forward(self, spec, theta, x):
            return super().forward(spec, theta, x).astype(np.float64)

    vs = _run(Liar("float32"), suite, {"small/tanh"})
    v = vs["small/tanh::z_L"]
    assert v.status == "error" and "wrong dtype float64" in v.reason, v.summary()


class Broken(NumpyResNet):
    def __init__(self, mode):
        super().__init__("float64")
        self.mode = mode

    def forward(self, spec, theta, x):
        z = super().forward(spec, theta, x)
        if self.mode == "nan":
            return np.full_like(z, np.nan)
        if self.mode == "shape":
            return z.T
        if self.mode == "raise":
            raise RuntimeError("boom in forward")
        if self.mode == "none":
            return None
        time.sleep(20)  # hang
        return z


@pytest.mark.parametrize(
    ("mode", "status", "text"),
    [
        ("nan", "fail", "non-finite output"),
        ("shape", "error", "wrong shape (2, 3), expected (3, 2)"),
        ("raise", "error", "forward raised RuntimeError: boom in forward"),
        ("none", "error", "returned None"),
    ],
)
def test_broken_outputs_give_verdicts_with_reasons(suite, mode, status, text):
    vs = _run(Broken(mode), suite, {"small/tanh"})
    v = vs["small/tanh::z_L"]
    assert v.status == status and text in v.reason, v.summary()
    assert _status(vs, "small/tanh::grad_theta") == "pass"  # other members still checked


def test_hanging_implementation_times_out_once(suite):
    start = time.perf_counter()
    vs = _run(Broken("hang"), suite, {"small/tanh", "small/sin"}, timeout=0.3)
    elapsed = time.perf_counter() - start
    v = vs["small/tanh::z_L"]
    assert v.status == "error" and "timed out after 0.3 s" in v.reason, v.summary()
    later = vs["small/sin::z_L"]
    assert later.status == "error" and "hung earlier" in later.reason, later.summary()
    assert elapsed < 10, f"one hang must cost one timeout, took {elapsed:.1f} s"


def test_directional_gradient_check_localizes_the_wrong_block(suite):
    class OneBlockOff(NumpyResNet):
        def gradient(self, spec, theta, x, y, weights):
            g, gx = super().gradient(spec, theta, x, y, weights)
            g[5, :, spec.d : 2 * spec.d] *= 1.01  # layer 5, the u part: 1 % off
            return g, gx

    vs = _run(OneBlockOff(), suite, {"large/erf"})
    v = vs["large/erf::grad_theta"]
    assert v.status == "fail" and v.evidence["method"] == "directional", v.summary()
    blocks = [b for leaf in v.evidence["localized"] for b in leaf["blocks"]]
    assert blocks == ["layer 5 u"], v.evidence["localized"]
    assert _status(vs, "large/erf::grad_x") == "pass"
