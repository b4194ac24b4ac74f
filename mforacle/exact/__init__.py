"""The exact path: plain mpmath code that mirrors ``docs/model.md`` formula by formula.

It shares no numerical code with :mod:`mforacle.fast`; the agreement of the two paths is evidence
only because they were written separately. Every function works inside ``mpmath.workdps(...)``
and never touches the global ``mpmath.mp.dps``.
"""

from __future__ import annotations

__all__: list[str] = []
