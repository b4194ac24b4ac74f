"""Messages a user can act on (issue 9 item 9, the parts in the checks).

A failing verdict reads as the violation (``3.9e-12 > allowed 2.9e-13 (13.6×)``); array indices
are decoded in the model's terms (``layer 0, neuron 1, w[1]``); the message adds the hint the
pattern supports (the error is of float32 size; the values look rounded to 6 digits; only κ ≠ 0
/ weighted / one activation's cases fail); the summary line names the implementation's dtype
(tests/test_nothing_checked.py). Each hint is asserted on an implementation broken that way, and
its absence on a correct one.
"""

from __future__ import annotations

import numpy as np

from examples.numpy_resnet import NumpyResNet
from mforacle.harness.adapters import adapt
from mforacle.harness.calls import Caller
from mforacle.harness.checks import plan_checks
from mforacle.harness.hints import pattern_hints
from mforacle.harness.runner import run_planned, summarize
from mforacle.harness.vectors import build_suite
from mforacle.model import describe_entry
from mforacle.verdict import Verdict


def _run(impl, ids=None):
    suite = build_suite("dev")
    if ids is not None:
        suite = [sc for sc in suite if sc.id in ids]
    return run_planned(plan_checks(adapt(impl), suite, Caller(60.0)))


def test_a_failure_reads_as_a_violation():
    v = Verdict.measured("H1.forward", "t", 3.902e-12, "<=", 2.861e-13, reason="max |impl − exact|")
    assert v.summary() == (
        "H1.forward fail: 3.9e-12 > allowed 2.9e-13 (13.6×) (max |impl − exact|)"
    ), v.summary()
    assert "<=" not in v.summary()
    assert Verdict.measured("A2.taylor", "t", 1.0, ">=", 1.8).summary().endswith(
        "1 < required 1.8"
    )
    b1 = Verdict.measured("B1", "t", 0.2, "in", [-1.15, -0.85])
    assert "outside [-1.15, -0.85]" in b1.summary()
    assert Verdict.measured("X", "t", 1e-3, "<=", 1.0).summary() == "X pass: 0.001 <= 1"


def test_indices_are_decoded():
    assert describe_entry("grad_theta", [3, 7, 1], 2) == "layer 3, neuron 7, w[1]"
    assert describe_entry("grad_theta", [0, 2, 3], 2) == "layer 0, neuron 2, u[1]"
    assert describe_entry("train_step", [1, 0, 4], 2) == "layer 1, neuron 0, b"
    assert describe_entry("z_L", [5, 0], 2) == "data point 5, coordinate 0"


class OneEntryOff(NumpyResNet):
    """∂E/∂θ wrong in one entry: layer 0, neuron 1, w[1]."""

    def gradient(self, spec, theta, x, y, weights):
        g, q = super().gradient(spec, theta, x, y, weights)
        g = g.copy()
        if g.shape[1] > 1 and spec.d > 1:
            g[0, 1, 1] += 1e-3
        return g, q


def test_a_failing_gradient_names_layer_neuron_and_part():
    vs = _run(OneEntryOff(), {"small/tanh"})
    (h3,) = [v for v in vs if v.claim == "H3.grad_theta"]
    assert h3.status == "fail", h3.summary()
    assert "at [0, 1, 1] (layer 0, neuron 1, w[1])" in h3.reason, h3.reason


class Float32InDisguise(NumpyResNet):
    """Computes in float32, declares (and returns) float64."""

    def __init__(self):
        super().__init__("float32")
        self.dtype, self.name = "float64", "float32-in-disguise"

    def forward(self, spec, theta, x):
        out = super().forward(spec, theta.astype(np.float32), x.astype(np.float32))
        return out.astype(np.float64)


class SixDigits(NumpyResNet):
    """Returns z_L printed with %.6g and read back (a result file written with 6 digits)."""

    def forward(self, spec, theta, x):
        z = super().forward(spec, theta, x)
        return np.vectorize(lambda v: float(f"{v:.6g}"))(z)


def test_value_hints_float32_size_and_six_digits():
    vs = _run(Float32InDisguise(), {"small/tanh", "small/erf"})
    h1 = [v for v in vs if v.claim == "H1.forward"]
    assert h1 and all(v.status == "fail" for v in h1), [v.summary() for v in h1]
    assert all("hint: the error is of float32 size" in v.reason for v in h1), h1[0].reason
    assert all("--dtype float32" in v.reason for v in h1)
    vs = _run(SixDigits(), {"small/tanh"})
    (h1,) = [v for v in vs if v.claim == "H1.forward"]
    assert h1.status == "fail" and "look rounded to 6 significant digits" in h1.reason, h1.reason
    vs = _run(NumpyResNet(), {"small/tanh"})
    assert all(v.status == "pass" and "hint" not in v.reason for v in vs)


class IgnoresKappa(NumpyResNet):
    """The readout without its curvature term: g(z) = a·z."""

    def _g(self, spec, z):
        return self._matmul(z, spec.a.astype(self.dt))

    def _grad_g(self, spec, z):
        return np.broadcast_to(spec.a.astype(self.dt), z.shape)


def test_only_kappa_cases_fail_is_said():
    vs = _run(IgnoresKappa())
    s = summarize(vs)
    assert s["outcome"] == "fail", s
    assert any(h.startswith("only κ ≠ 0 cases fail") for h in s["hints"]), s["hints"]
    assert not any(h.startswith("only weighted") for h in s["hints"]), s["hints"]


def _v(status, activation="tanh", kappa="0", weights=None, cid="c"):
    case = {"model": {"activation": activation, "readout": {"a": ["1"], "kappa": kappa}}}
    if weights is not None:
        case["weights"] = weights
    ev = {"case": case, "case_id": cid}
    fig = 2.0 if status == "fail" else 0.5
    return Verdict.measured("H2.loss", "t", fig, "<=", 1.0, evidence=ev)


def test_pattern_hints_weighted_and_activation_and_none_when_mixed():
    vs = [
        _v("fail", weights=["0.25", "0.75"], cid="w1"),
        _v("fail", activation="erf", weights=["0.5", "0.25", "0.25"], cid="w2"),
        _v("pass", cid="u1"),
        _v("pass", activation="erf", weights=["0.5", "0.5"], cid="u2"),
    ]
    assert [h.split(":")[0] for h in pattern_hints(vs)] == ["only weighted cases fail"]
    vs = [
        _v("fail", activation="softplus", cid="s1"),
        _v("fail", activation="softplus", kappa="0.5", cid="s2"),
        _v("pass", activation="tanh", cid="t"),
        _v("pass", activation="erf", kappa="0.5", cid="e"),
    ]
    assert [h.split(":")[0] for h in pattern_hints(vs)] == ["only activation softplus fails"]
    mixed = [_v("fail", cid="a"), _v("pass", cid="b")]  # nothing singles the failure out
    assert pattern_hints(mixed) == []
