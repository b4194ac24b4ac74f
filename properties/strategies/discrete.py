"""Strategies for discrete-network cases: models, networks, data.

All generated numbers are *dyadic* (``i / 2**bits`` with small ``i``): exactly representable in
float64 and float32-friendly, so the exact path (which reads numbers exactly) and a float path
see identical inputs, and any difference between them is the computation's, not the input's.
Every draw is labelled, so a failing example prints readably.

:func:`magnitudes` draws extreme-magnitude regimes (states near ``2^±990`` ≈ ``1e±298``,
subnormal inputs and states ``~2^-1060``, weights scaled the other way): exact power-of-two
rescalings (:func:`mforacle.cases.rescaled`) of the same dyadic numbers, chosen so that no
quantity overflows; pass it as ``discrete_cases(magnitudes=magnitudes())``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from mforacle.properties.reproduce import note_reproduction

from mforacle.cases import DiscreteCase, Magnitudes, rescaled
from mforacle.errors import InvalidArgument
from mforacle.model import ACTIVATION_NAMES, Model

__all__ = [
    "DiscreteCase",
    "Magnitudes",
    "activations",
    "datasets",
    "discrete_cases",
    "dyadic",
    "magnitudes",
    "models",
    "networks",
    "rescaled",
]

REGRELU_ETAS = ("0.125", "0.5", "1")

#: exponents of the extreme regimes. ``HUGE``: states or weights ``2^±990`` (≈ 1e±298; the growth
#: over <= 3 layers of width <= 3 and the gradients' products ``G·z`` stay below float64's
#: ``2^1024``); ``SUBNORMAL``: ``2^-1060`` — times a dyadic of <= 8 fraction bits a multiple of
#: ``2^-1074``, hence exact, and below the smallest normal ``2^-1022``.
HUGE = 990
SUBNORMAL = -1060


def _check_range(name: str, lo: Any, hi: Any) -> None:
    if lo > hi:
        raise InvalidArgument(name, (lo, hi), "empty range: low bound above high bound")


def dyadic(bound: float = 1.0, bits: int = 8) -> st.SearchStrategy[float]:
    """Floats ``i / 2**bits`` in ``[-bound, bound]``: exact in every arithmetic used here."""
    if bound < 0:
        raise InvalidArgument("bound", bound, "must be non-negative")
    top = int(bound * 2**bits)
    return st.integers(-top, top).map(lambda i: i / 2**bits)


def activations(
    names: tuple[str, ...] = ACTIVATION_NAMES, *, c2_only: bool = False
) -> st.SearchStrategy[str]:
    """Activation specs, ``regrelu`` with a few eta; ``c2_only`` leaves out ``regrelu``."""
    unknown = [n for n in names if n not in ACTIVATION_NAMES]
    if unknown:
        raise InvalidArgument(
            "names", unknown, f"unknown activation; expected names from {list(ACTIVATION_NAMES)}"
        )
    plain = [n for n in names if n != "regrelu"]
    options: list[str] = list(plain)
    if "regrelu" in names and not c2_only:
        options += [f"regrelu:{eta}" for eta in REGRELU_ETAS]
    if not options:
        raise InvalidArgument("names", names, "no activation left to draw from")
    return st.sampled_from(options)


@st.composite
def models(
    draw: st.DrawFn,
    d: st.SearchStrategy[int] | int = st.integers(1, 3),
    activation: st.SearchStrategy[str] | str | None = None,
    kappa: bool = True,
) -> Model:
    """A :class:`Model` with a readout ``a`` of norm >= 1/4 and, if ``kappa``, maybe kappa != 0."""
    dim = draw(d, label="d") if isinstance(d, st.SearchStrategy) else d
    if activation is None:
        activation = activations()
    act = (
        draw(activation, label="activation")
        if isinstance(activation, st.SearchStrategy)
        else activation
    )
    a = draw(
        st.lists(dyadic(1.0, 4), min_size=dim, max_size=dim).filter(
            lambda v: max(abs(t) for t in v) >= 0.25
        ),
        label="readout.a",
    )
    k = draw(st.sampled_from([0.0, 0.0, 0.25, -0.5]), label="readout.kappa") if kappa else 0.0
    return Model.create(dim, act, a, k)


def networks(
    model: Model,
    L: st.SearchStrategy[int] | int = st.integers(1, 3),
    M: st.SearchStrategy[int] | int = st.integers(1, 3),
    scale: float = 2.0,
) -> st.SearchStrategy[np.ndarray]:
    """Parameters ``theta`` of shape ``(L, M, 2d+1)`` with entries in ``[-scale, scale]``."""
    Ls = L if isinstance(L, st.SearchStrategy) else st.just(L)
    Ms = M if isinstance(M, st.SearchStrategy) else st.just(M)

    @st.composite
    def build(draw: st.DrawFn) -> np.ndarray:
        l_, m_ = draw(Ls, label="L"), draw(Ms, label="M")
        if l_ < 1 or m_ < 1:
            raise InvalidArgument("L, M", (l_, m_), "need L >= 1 and M >= 1")
        flat = draw(
            st.lists(dyadic(scale), min_size=l_ * m_ * model.k, max_size=l_ * m_ * model.k),
            label="theta",
        )
        return np.array(flat, dtype=np.float64).reshape(l_, m_, model.k)

    return build()


@st.composite
def datasets(
    draw: st.DrawFn,
    model: Model,
    N: st.SearchStrategy[int] | int = st.integers(1, 4),
    scale: float = 1.5,
    min_separation: float = 0.0,
    weighted: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(x, y, weights)``; inputs pairwise at least ``min_separation`` apart (max-norm).

    ``weights`` is ``None`` (uniform) or dyadic non-negative weights summing to exactly 1.
    """
    n = draw(N, label="N") if isinstance(N, st.SearchStrategy) else N
    if n < 1:
        raise InvalidArgument("N", n, "need at least one data point")
    pts: list[list[float]] = []
    coord = dyadic(scale, 6)
    for i in range(n):
        p = draw(
            st.lists(coord, min_size=model.d, max_size=model.d).filter(
                lambda q: all(
                    max(abs(a - b) for a, b in zip(q, o, strict=True)) >= min_separation
                    for o in pts
                )
            ),
            label=f"x[{i}]",
        )
        pts.append(p)
    y = draw(st.lists(dyadic(1.0, 6), min_size=n, max_size=n), label="y")
    w: np.ndarray | None = None
    if weighted and draw(st.booleans(), label="weighted"):
        counts = draw(
            st.lists(st.integers(0, 16), min_size=n - 1, max_size=n - 1), label="weight counts"
        )
        total = 1 << max(4, (sum(counts) + 1).bit_length())
        counts.append(total - sum(counts))
        w = np.array(counts, dtype=np.float64) / total
    return np.array(pts, dtype=np.float64), np.array(y, dtype=np.float64), w


@st.composite
def magnitudes(draw: st.DrawFn) -> Magnitudes:
    """An extreme-magnitude regime (:class:`~mforacle.cases.Magnitudes`), the ordinary one about
    a sixteenth of the time:

    - states ``z ~ 2^-990`` or ``2^990`` with weights ``w ~ 2^∓990``, ``u ~ 2^±990``;
    - states subnormal, ``z ~ 2^-1060``, with ``w ~ 2^990`` (so ``w·z ~ 2^-70``);
    - inputs subnormal, ``x ~ 2^-1060``, whatever the states' scale (when ``<= 1``);
    - the readout ``a`` scaled by ``2^-z`` (``g ~ 1``) or not (``g`` and ``y`` as small as ``z``,
      the loss underflowing to 0.0); ``2^-990`` when ``z = 0`` (``ρ ~ 2^-990``).
    """
    z = draw(st.sampled_from([0, -HUGE, HUGE, SUBNORMAL]), label="magnitude of z (log2)")
    w = max(-HUGE, min(HUGE, -z))
    if z > 0:
        x, a = z, -z
    else:
        x = draw(st.sampled_from([z, SUBNORMAL]), label="magnitude of x (log2)")
        a = draw(st.sampled_from([0, min(HUGE, -z)] if z < 0 else [0, -HUGE]),
                 label="magnitude of a (log2)")
    return Magnitudes(z=z, x=x, w=w, u=z, a=a)


@st.composite
def discrete_cases(
    draw: st.DrawFn,
    model: st.SearchStrategy[Model] | None = None,
    L: st.SearchStrategy[int] | int = st.integers(1, 3),
    M: st.SearchStrategy[int] | int = st.integers(1, 3),
    N: st.SearchStrategy[int] | int = st.integers(1, 4),
    scale: float = 2.0,
    magnitudes: st.SearchStrategy[Magnitudes] | None = None,
) -> DiscreteCase:
    """A whole discrete case: model, network, data; with ``magnitudes`` (e.g.
    :func:`magnitudes`) rescaled into the drawn regime (:func:`~mforacle.cases.rescaled`)."""
    m = draw(model if model is not None else models(), label="model")
    theta = draw(networks(m, L, M, scale), label="network")
    x, y, w = draw(datasets(m, N), label="data")
    case = DiscreteCase(m, theta, x, y, w)
    if magnitudes is not None:
        case = rescaled(case, draw(magnitudes, label="magnitudes"))
    note_reproduction(
        case.to_json(), "discrete", "mforacle eval {path} --path exact   (and --path fast)"
    )
    return case
