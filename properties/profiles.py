"""Hypothesis settings for the effort profiles of :mod:`mforacle.profiles`.

- ``dev``: few examples, random seeds, quick feedback.
- ``ci``: derandomized, so a failure reproduces exactly.
- ``thorough``: many examples, for reports and before releases.

Every profile has ``deadline=None``: first calls (mpmath caches, NumPy warm-up) vary in cost.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from mforacle.profiles import EFFORT, PROFILES, current_profile

__all__ = ["EFFORT", "PROFILES", "current_profile", "register_profiles"]


def register_profiles() -> str:
    """Register the three profiles, load the selected one, and return its name."""
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
    settings.register_profile("dev", max_examples=10, **common)
    settings.register_profile("ci", max_examples=12, derandomize=True, **common)
    settings.register_profile("thorough", max_examples=200, **common)
    name = current_profile()
    settings.load_profile(name)
    return name
