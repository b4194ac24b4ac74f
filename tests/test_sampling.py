"""sampling.sample_network: shapes, seeds, the paths scheme shares xi, moments, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mforacle.properties.strategies.discrete import models
from mforacle.properties.strategies.limit import gaussian_paths

from mforacle.errors import InvalidArgument
from mforacle.measures import GaussianPath
from mforacle.model import Model
from mforacle.sampling import layer_depths, sample_network


def _c_A(measure: GaussianPath, t: float) -> tuple[np.ndarray, np.ndarray]:
    c = np.array([sum(float(v) * t**j for j, v in enumerate(p)) for p in measure.c])
    A = np.array([[sum(float(v) * t**j for j, v in enumerate(p)) for p in row]
                  for row in measure.A])
    return c, A


@given(model=models(d=st.integers(1, 2), kappa=False), data=st.data())
def test_shapes_seeds_and_the_paths_scheme(model: Model, data: st.DataObject) -> None:
    r = data.draw(st.integers(1, 2), label="r")
    meas = data.draw(gaussian_paths(model, r, 1), label="measure")
    L = data.draw(st.integers(1, 4), label="L")
    M = data.draw(st.integers(1, 5), label="M")
    seed = data.draw(st.integers(0, 2**32), label="seed")
    for scheme in ("paths", "independent"):
        th = sample_network(meas, L, M, seed=seed, scheme=scheme)
        assert th.shape == (L, M, model.k) and th.dtype == np.float64
        assert np.array_equal(th, sample_network(meas, L, M, seed=seed, scheme=scheme))
    # paths: theta_{l,m} = c(l/L) + A(l/L) xi_m with the SAME xi_m in every layer
    th = sample_network(meas, L, M, seed=seed, scheme="paths")
    xi = np.random.default_rng(seed).standard_normal((M, r))
    for l, t in enumerate(layer_depths(L)):
        c, A = _c_A(meas, t)
        assert np.allclose(th[l], c + xi @ A.T, rtol=1e-14, atol=1e-14), (l, t)
    # independent: a fresh draw per layer
    thi = sample_network(meas, L, M, seed=seed, scheme="independent")
    xii = np.random.default_rng(seed).standard_normal((L, M, r))
    for l, t in enumerate(layer_depths(L)):
        c, A = _c_A(meas, t)
        assert np.allclose(thi[l], c + xii[l] @ A.T, rtol=1e-14, atol=1e-14)


def test_layer_l_samples_depth_l_over_L() -> None:
    """Layer l applies the Euler step from z_l: it samples rho(., l/L)."""
    assert np.array_equal(layer_depths(4), [0.0, 0.25, 0.5, 0.75])
    model = Model.create(1, "tanh")
    meas = GaussianPath.create(model, 1, [["0", "1"], ["0"], ["0"]], [[["0"]]] * 3)
    th = sample_network(meas, 4, 1, seed=0)
    assert np.array_equal(th[:, 0, 0], [0.0, 0.25, 0.5, 0.75])  # w(t) = t, no noise


def test_paths_share_noise_and_independent_layers_do_not() -> None:
    model = Model.create(1, "tanh")
    meas = GaussianPath.create(model, 1, [["0"], ["0"], ["0"]], [[["1"]], [["1"]], [["1"]]])
    p = sample_network(meas, 3, 50, seed=7, scheme="paths")
    i = sample_network(meas, 3, 50, seed=7, scheme="independent")
    assert np.array_equal(p[0], p[1]) and np.array_equal(p[1], p[2])  # A constant: same theta
    assert not np.array_equal(i[0], i[1])
    assert not np.array_equal(sample_network(meas, 3, 50, seed=8), p)


def test_sample_moments_match_the_measure() -> None:
    """Mean and variance per coordinate over M = 20000 neurons within 4.5 standard errors
    (false alarm probability < 1e-4 over the 2 x k x L checks)."""
    model = Model.create(1, "tanh")
    meas = GaussianPath.create(model, 2, [["0.5", "1"], ["-0.25"], ["0", "0.5"]],
                               [[["0.5"], ["0.25", "0.5"]], [["1"], ["0"]], [["0.25"], ["0.75"]]])
    L, M = 2, 20000
    th = sample_network(meas, L, M, seed=12345, scheme="independent")
    for l, t in enumerate(layer_depths(L)):
        c, A = _c_A(meas, t)
        var = np.sum(A * A, axis=1)
        mean_err = np.abs(th[l].mean(0) - c)
        assert np.all(mean_err <= 4.5 * np.sqrt(var / M) + 1e-12), (l, mean_err, var)
        # variance of the sample variance of a Gaussian: 2 var^2 / (M - 1)
        var_err = np.abs(th[l].var(0, ddof=1) - var)
        assert np.all(var_err <= 4.5 * np.sqrt(2 / (M - 1)) * var + 1e-12), (l, var_err)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"L": 0}, "L"), ({"M": -1}, "M"), ({"L": True}, "L"), ({"L": 2.0}, "L"),
        ({"seed": -3}, "seed"), ({"seed": "x"}, "seed"), ({"scheme": "both"}, "scheme"),
    ],
)
def test_bad_inputs_raise(kwargs, field) -> None:
    model = Model.create(1, "tanh")
    meas = GaussianPath.create(model, 1, [["0"]] * 3, [[["1"]]] * 3)
    args = {"L": 2, "M": 2, "seed": 0, "scheme": "paths"} | kwargs
    with pytest.raises(InvalidArgument) as err:
        sample_network(meas, args["L"], args["M"], seed=args["seed"], scheme=args["scheme"])
    assert err.value.field == field


def test_not_a_measure_raises() -> None:
    with pytest.raises(InvalidArgument):
        sample_network({"kind": "gaussian-path"}, 2, 2, seed=0)  # type: ignore[arg-type]
