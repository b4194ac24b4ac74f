"""Hypothesis strategies that generate valid cases, composable like hypothesis' own.

- discrete networks: :func:`discrete_cases` (and its parts :func:`models`, :func:`networks`,
  :func:`datasets`, :func:`activations`, :func:`dyadic`; :func:`magnitudes` for extreme-magnitude
  regimes, huge and subnormal);
- the limit: :func:`measure_cases` (:func:`gaussian_paths`, :func:`probes`);
- training: :mod:`mforacle.properties.strategies.training` (stable steps, reachable and non-monotone
  data, small Gaussian paths).

A failing property saves the drawn case and prints a one-line reproduction
(:func:`mforacle.reproduce.note_reproduction`).
"""

from .discrete import (
    DiscreteCase,
    Magnitudes,
    activations,
    datasets,
    discrete_cases,
    dyadic,
    magnitudes,
    models,
    networks,
    rescaled,
)
from .limit import MeasureCase, gaussian_paths, measure_cases, probes

__all__ = [
    "DiscreteCase",
    "Magnitudes",
    "MeasureCase",
    "activations",
    "datasets",
    "discrete_cases",
    "dyadic",
    "gaussian_paths",
    "magnitudes",
    "measure_cases",
    "models",
    "networks",
    "probes",
    "rescaled",
]
