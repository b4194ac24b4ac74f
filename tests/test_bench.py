"""mforacle.bench: the baselines compute what they claim (no timing is asserted).

The naive scalar mpmath implementation is the exact path's speed baseline, so it must compute
the same quantities: checked against mforacle's exact path within its confirmed error bound
(plus the naive sums' own rounding, far below it at 45 digits). A naive baseline with a wrong
derivative (the broken variant) must be caught by the same comparison.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

from mforacle import bench
from mforacle.exact import network as exact_network


def _case():
    theta, x, y = bench._case(2, 3, 4, 3, seed=5)
    w = np.array([0.25, 0.25, 0.5])
    return bench._model(2, "tanh"), theta, x, y, w


def _violations(naive, ex) -> list[str]:
    out = []
    with mpmath.workdps(60):
        pairs = {
            "loss": ([naive["loss"]], [ex.loss]),
            "z_L": ([v for row in naive["z_L"] for v in row], list(ex.z_L.ravel())),
            "grad_x": ([v for row in naive["grad_x"] for v in row], list(ex.grad_x.ravel())),
            "grad_theta": ([v for layer in naive["grad_theta"] for row in layer for v in row],
                           list(ex.grad_theta.ravel())),
        }
        for key, (a, b) in pairs.items():
            err = max(abs(p - q) for p, q in zip(a, b, strict=True))
            if err > ex.error_bound[key] + mpmath.mpf(10) ** -35:
                out.append(f"{key}: {mpmath.nstr(err, 5)}")
    return out


def test_naive_exact_baseline_computes_the_same_quantities() -> None:
    model, theta, x, y, w = _case()
    ex = exact_network.evaluate(model, theta, x, y, w, dps=40)
    naive = bench.naive_exact_evaluate(theta, x, y, w, np.ones(2), 0.25, 45)
    assert not _violations(naive, ex)


def test_a_wrong_naive_baseline_is_caught(monkeypatch) -> None:
    model, theta, x, y, w = _case()
    ex = exact_network.evaluate(model, theta, x, y, w, dps=40)
    monkeypatch.setattr(mpmath, "sech", lambda v: 1 / mpmath.cosh(v) ** 0.5)  # wrong σ'
    naive = bench.naive_exact_evaluate(theta, x, y, w, np.ones(2), 0.25, 45)
    assert "grad_theta" in " ".join(_violations(naive, ex))


def test_floor_runs_and_has_the_documented_shapes() -> None:
    theta, x, _y = bench._case(3, 4, 5, 6)
    q, g = bench.floor_loss_and_grad(theta, x)
    assert q.shape == (6, 3) and g.shape == (5, 3) and np.all(np.isfinite(g))


def test_bench_rejects_bad_repeats(capsys) -> None:
    assert bench.main(["--repeats", "-1", "--skip-fast", "--skip-exact"]) == 2
    assert capsys.readouterr().err.startswith("mforacle: error:")


@pytest.mark.parametrize("flag", ["--skip-fast"])
def test_exact_table_quick(flag: str, capsys) -> None:
    assert bench.main(["--quick", "--repeats", "1", flag]) == 0
    out = capsys.readouterr().out
    assert "naive scalar mpmath" in out and "mforacle exact, confirm=False" in out
