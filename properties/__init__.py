"""Hypothesis side of mforacle, installed as :mod:`mforacle.properties`.

- :mod:`mforacle.properties.strategies`: strategies that generate discrete, limit and training
  cases (the values are :mod:`mforacle.cases` dataclasses);
- :mod:`mforacle.properties.profiles`: the hypothesis settings of the effort profiles;
- :mod:`mforacle.properties.reproduce`: a failing example leaves a case file and a command.

The claims themselves are plain functions in :mod:`mforacle.claims` and need no hypothesis;
the test suite drives them with these strategies.
"""
