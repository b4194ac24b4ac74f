"""Strategies for the mean-field limit: Gaussian depth-path measures, probes, measure cases.

All numbers are dyadic (exact in float64), so the exact path and the fast path see identical
inputs. Draws are labelled.
"""

from __future__ import annotations

from hypothesis import strategies as st
from mforacle.properties.reproduce import note_reproduction

from mforacle.cases import MeasureCase
from mforacle.errors import InvalidArgument
from mforacle.measures import GaussianPath, Probe
from mforacle.model import Model

from .discrete import datasets, dyadic, models

__all__ = ["MeasureCase", "gaussian_paths", "measure_cases", "probes"]


@st.composite
def gaussian_paths(
    draw: st.DrawFn, model: Model, r: int = 1, degree: int = 1, scale: float = 0.75
) -> GaussianPath:
    """``theta(t) = c(t) + A(t) xi``: ``c`` coefficients in ``[-1, 1]``, ``A`` in
    ``[-scale, scale]`` (dyadic, 3 bits), polynomials of ``degree`` in ``t``, ``r`` noise dims."""
    if not 1 <= r <= model.k:
        raise InvalidArgument("r", r, f"expected 1 <= r <= k = {model.k}")
    if degree < 0:
        raise InvalidArgument("degree", degree, "expected a non-negative degree")
    if scale < 0:
        raise InvalidArgument("scale", scale, "expected a non-negative scale")
    n = degree + 1
    c = [draw(st.lists(dyadic(1.0, 3), min_size=n, max_size=n), label=f"c[{i}]")
         for i in range(model.k)]
    A = [[draw(st.lists(dyadic(scale, 3), min_size=n, max_size=n), label=f"A[{i}][{j}]")
          for j in range(r)] for i in range(model.k)]
    return GaussianPath.create(model, r, c, A)


@st.composite
def probes(
    draw: st.DrawFn, model: Model, n: st.SearchStrategy[int] | int = st.integers(1, 3),
    scale: float = 1.0,
) -> tuple[Probe, ...]:
    """Probe points ``(t, theta)``: ``t = i/8``, ``theta`` dyadic in ``[-scale, scale]``."""
    count = draw(n, label="probes") if isinstance(n, st.SearchStrategy) else n
    out = []
    for i in range(count):
        t = draw(st.integers(0, 8), label=f"probe[{i}].t*8") / 8
        th = draw(st.lists(dyadic(scale, 4), min_size=model.k, max_size=model.k),
                  label=f"probe[{i}].theta")
        out.append(Probe.create(model, t, th))
    return tuple(out)


@st.composite
def measure_cases(
    draw: st.DrawFn,
    model: st.SearchStrategy[Model] | None = None,
    r: st.SearchStrategy[int] | int = st.integers(1, 2),
    degree: st.SearchStrategy[int] | int = st.integers(0, 2),
    N: st.SearchStrategy[int] | int = st.integers(1, 3),
    n_probes: st.SearchStrategy[int] | int = st.integers(0, 2),
    scale: float = 0.75,
) -> MeasureCase:
    """A whole measure case: model, Gaussian path, data, probes."""
    m = draw(model if model is not None else models(d=st.integers(1, 2)), label="model")
    rr = draw(r, label="r") if isinstance(r, st.SearchStrategy) else r
    rr = min(rr, m.k)
    deg = draw(degree, label="degree") if isinstance(degree, st.SearchStrategy) else degree
    meas = draw(gaussian_paths(m, rr, deg, scale), label="measure")
    x, y, w = draw(datasets(m, N), label="data")
    pr = draw(probes(m, n_probes), label="probes")
    case = MeasureCase(m, meas, x, y, w, pr)
    note_reproduction(
        case.to_json(), "measure", "mforacle limit {path} --path exact   (and --path fast)"
    )
    return case
