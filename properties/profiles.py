"""Hypothesis profiles, chosen by the ``MFORACLE_PROFILE`` environment variable.

- ``dev`` (default on a workstation): few examples, random seeds, quick feedback.
- ``ci`` (default when ``CI`` is set): derandomized, so a failure reproduces exactly.
- ``thorough``: many examples, for reports and before releases.

Every profile has ``deadline=None``: first calls (mpmath caches, NumPy warm-up) vary in cost.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILES = ("dev", "ci", "thorough")

#: scale factor other code may use for ladders / seed counts under each profile
EFFORT = {"dev": 1, "ci": 1, "thorough": 4}


def register_profiles() -> str:
    """Register the three profiles, load the selected one, and return its name."""
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True)
    settings.register_profile("dev", max_examples=10, **common)
    settings.register_profile("ci", max_examples=12, derandomize=True, **common)
    settings.register_profile("thorough", max_examples=200, **common)
    name = current_profile()
    settings.load_profile(name)
    return name


def current_profile() -> str:
    """The profile named by ``MFORACLE_PROFILE``, else ``ci`` under CI, else ``dev``."""
    from mforacle.errors import InvalidArgument

    name = os.environ.get("MFORACLE_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    if name not in PROFILES:
        raise InvalidArgument("MFORACLE_PROFILE", name, f"expected one of {list(PROFILES)}")
    return name
