"""Pytest plugin: run mforacle's conformance suite against your implementation.

Inert unless asked for (see the README, "Checking your implementation"). Filled in by the
conformance harness.
"""
