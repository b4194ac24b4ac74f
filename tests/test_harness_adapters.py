"""Loading and adapting implementations: module:object strings, protocol errors, optional parts."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from mforacle.dtypes import round_to_dtype
from mforacle.errors import ImplementationError
from mforacle.harness.adapters import adapt
from mforacle.harness.loading import load_implementation
from mforacle.harness.runner import check_implementation
from mforacle.harness.vectors import build_suite


def test_load_by_module_path_and_file(tmp_path):
    impl = load_implementation("examples.numpy_resnet:IMPL32")
    assert (impl.dtype, impl.framework, impl.source) == (
        "float32",
        "numpy",
        "examples.numpy_resnet:IMPL32",
    )
    f = tmp_path / "mine.py"
    f.write_text("def forward(spec, theta, x):\n    return x\n")
    impl = load_implementation(f"{f}:forward")
    assert impl.provides("forward") and not impl.provides("loss")


@pytest.mark.parametrize(
    ("target", "text"),
    [
        ("no_colon_here", "cannot import module 'no_colon_here'"),  # a bare module target
        ("examples.numpy_resnet:", "expected 'module.path[:object]'"),
        ("no_such_module_xyz:IMPL", "cannot import module 'no_such_module_xyz'"),
        ("examples.numpy_resnet:NOPE", "has no attribute 'NOPE'"),
        ("examples.numpy_resnet:np", "no callable 'forward"),
    ],
)
def test_load_errors_are_clear(target, text):
    with pytest.raises(ImplementationError, match=None) as info:
        load_implementation(target)
    assert text in str(info.value)


def test_bad_declarations_rejected():
    class Bad:
        dtype = "float128"

        def forward(self, spec, theta, x):
            return x

    with pytest.raises(ImplementationError, match="dtype"):
        adapt(Bad())
    Bad.dtype = "float64"
    Bad.activations = ("relu",)
    with pytest.raises(ImplementationError, match="relu"):
        adapt(Bad())


def test_missing_torch_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError

    def forward(spec, theta, x):
        return x

    with pytest.raises(ImplementationError, match="PyTorch, which is not installed"):
        adapt(forward, framework="torch")


def test_forward_only_implementation_not_checked_elsewhere():
    from examples.numpy_resnet import IMPL

    suite = [sc for sc in build_suite() if sc.id == "small/sin"]
    vs = check_implementation(adapt(IMPL.forward), suite, claims=True)
    by = {v.evidence["check_id"]: v for v in vs}
    assert by["small/sin::z_L"].status == "pass"
    for q in ("loss", "grad_theta", "grad_x", "train_step"):
        assert by[f"small/sin::{q}"].status == "not checked"
    claims = [v for v in vs if v.evidence["check_id"].startswith("claim::")]
    assert claims and all(v.status in ("not checked", "pass") for v in claims)


def test_unsupported_activation_and_kappa_are_not_checked():
    from examples.numpy_resnet import NumpyResNet

    class TanhOnly(NumpyResNet):
        activations = ("tanh",)
        supports_kappa = False

    suite = [sc for sc in build_suite() if sc.id in ("small/sin", "kappa/tanh", "small/tanh")]
    vs = {
        v.evidence["check_id"]: v
        for v in check_implementation(adapt(TanhOnly()), suite, claims=False)
    }
    assert vs["small/sin::z_L"].status == "not checked"
    assert "kappa" in vs["kappa/tanh::z_L"].reason
    assert vs["small/tanh::z_L"].status == "pass"


def test_round_to_dtype():
    x = np.array([0.1, 1.0, 1 + 2.0**-10, 3.0e38])
    assert np.array_equal(round_to_dtype(x, "float32"), x.astype(np.float32).astype(np.float64))
    assert round_to_dtype([1 + 2.0**-9], "bfloat16")[0] == 1.0  # ties to even
    assert round_to_dtype([1 + 3 * 2.0**-9], "bfloat16")[0] == 1 + 2.0**-7


def test_jax_adapter_if_installed():
    jax = pytest.importorskip("jax", reason="JAX not installed (optional; not in CI)")
    jnp = jax.numpy

    class JaxResNet:
        framework = "jax"
        dtype = "float64"
        activations = ("tanh",)

        def forward(self, spec, theta, x):
            L, M, _ = theta.shape
            d = spec.d
            z = x
            for layer in range(L):
                W, U, b = theta[layer, :, :d], theta[layer, :, d : 2 * d], theta[layer, :, 2 * d]
                z = z + jnp.tanh(z @ W.T + b) @ U / (L * M)
            return z

        def loss(self, spec, theta, x, y, w):
            z = self.forward(spec, theta, x)
            g = z @ jnp.asarray(spec.a) + spec.kappa / 2 * (z * z).sum(axis=1)
            return (w * (g - y) ** 2 / 2).sum()

    suite = [sc for sc in build_suite() if sc.id in ("small/tanh", "kappa/tanh")]
    vs = check_implementation(adapt(JaxResNet()), suite, claims=False)
    assert all(v.status in ("pass", "not checked") for v in vs), [v.summary() for v in vs]
