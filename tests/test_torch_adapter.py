"""The PyTorch adapter: autograd gradients, declared dtypes, wrong implementations flagged.

Skipped with a reason where torch is not installed (CI installs the CPU build from
.ci/requirements-ci.txt).
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: pip install 'mforacle[torch]'")

from examples.torch_resnet import TorchResNet  # noqa: E402
from mforacle.harness.adapters import adapt  # noqa: E402
from mforacle.harness.runner import check_implementation, summarize  # noqa: E402
from mforacle.harness.vectors import build_suite  # noqa: E402

IDS = {"small/tanh", "small/erf", "small/regrelu", "kappa/sin", "edge/zero-weight", "medium/tanh"}


@pytest.fixture(scope="module")
def suite():
    return [sc for sc in build_suite("dev") if sc.id in IDS]


def _run(obj, suite, **kw):
    impl = adapt(obj, **kw)
    vs = check_implementation(impl, suite, claims=False)
    return impl, {v.evidence["check_id"]: v for v in vs}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_torch_module_passes(suite, dtype):
    impl, vs = _run(TorchResNet(), suite, dtype=dtype)
    assert impl.framework == "torch" and impl.dtype == dtype
    bad = {k: v.summary() for k, v in vs.items() if not v.passed}
    assert not bad and summarize(list(vs.values()))["ok"], bad


def test_torch_default_dtype_is_float32(suite):
    impl = adapt(TorchResNet())
    assert impl.dtype == "float32" and impl.provides("gradient") and impl.provides("train_step")


def test_wrong_torch_loss_flagged_by_gradients_not_forward(suite):
    class SignInLoss(TorchResNet):
        def loss(self, spec, theta, x, y, weights):
            z = self(spec, theta, x)
            a = torch.as_tensor(spec.a, dtype=z.dtype)
            g = z @ a - spec.kappa / 2 * (z * z).sum(dim=1)  # wrong sign of the kappa term
            return (weights * (g - y) ** 2 / 2).sum()

    _, vs = _run(SignInLoss(), suite, dtype="float64")
    assert vs["kappa/sin::loss"].status == "fail"
    assert vs["kappa/sin::grad_x"].status == "fail"
    assert vs["kappa/sin::z_L"].status == "pass"
    assert vs["small/tanh::grad_x"].status == "pass"  # kappa = 0 there


def test_float32_tensor_from_declared_float64_is_a_dtype_error(suite):
    class Downcast(TorchResNet):
        def forward(self, spec, theta, x):
            return super().forward(spec, theta, x).float()

    _, vs = _run(Downcast(), suite, dtype="float64")
    v = vs["small/tanh::z_L"]
    assert v.status == "error" and "wrong dtype float32" in v.reason, v.summary()


@pytest.fixture(scope="module")
def full_suite():
    return build_suite("dev")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bundled_example_passes_the_whole_suite(full_suite, dtype):
    """The example is documented as correct: it must pass every conformance check of the suite
    in both dtypes. (torch's softplus returns its argument above 20: on edge/large-weights that
    is a 2e-9 error, a float64 failure; the example computes log(1 + e^a) stably instead.)"""
    impl = adapt(TorchResNet(), dtype=dtype)
    vs = check_implementation(impl, full_suite, claims=False)
    bad = {v.evidence["check_id"]: v.summary() for v in vs if v.status != "pass"}
    assert not bad, bad
