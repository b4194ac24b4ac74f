"""The effort profiles ``dev``, ``ci`` and ``thorough``, chosen by ``MFORACLE_PROFILE``.

- ``dev`` (default on a workstation): small experiments, quick feedback.
- ``ci`` (default when ``CI`` is set): the same sizes, derandomized property tests.
- ``thorough``: long ladders and many seeds, for reports and before releases.

The claims' experiment sizes per profile live in :mod:`mforacle.claims`; the hypothesis
settings of each profile in ``properties/profiles.py`` (test side only: the CLI never needs
hypothesis).
"""

from __future__ import annotations

import os

from .errors import InvalidArgument

__all__ = ["EFFORT", "PROFILES", "check_profile", "current_profile"]

PROFILES = ("dev", "ci", "thorough")

#: scale factor other code may use for ladders / seed counts under each profile
EFFORT = {"dev": 1, "ci": 1, "thorough": 4}


def current_profile() -> str:
    """The profile named by ``MFORACLE_PROFILE``, else ``ci`` under CI, else ``dev``.

    Raises:
        InvalidArgument: ``MFORACLE_PROFILE`` names no profile.
    """
    name = os.environ.get("MFORACLE_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    return check_profile(name, "MFORACLE_PROFILE")


def check_profile(profile: object, field: str = "profile") -> str:
    """``profile`` if it is one of :data:`PROFILES`.

    Raises:
        InvalidArgument: it is not.
    """
    if profile not in PROFILES:
        raise InvalidArgument(field, profile, f"unknown profile; expected one of {list(PROFILES)}")
    return str(profile)
