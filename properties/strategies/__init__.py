"""Hypothesis strategies that generate valid cases, composable like hypothesis' own."""

from .discrete import (
    DiscreteCase,
    activations,
    datasets,
    discrete_cases,
    dyadic,
    models,
    networks,
)

__all__ = [
    "DiscreteCase",
    "activations",
    "datasets",
    "discrete_cases",
    "dyadic",
    "models",
    "networks",
]
