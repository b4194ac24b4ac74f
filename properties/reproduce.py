"""Attach a failing hypothesis example's case file and reproduction command to its report."""

from __future__ import annotations

from typing import Any

from hypothesis import note
from hypothesis.control import current_build_context

from mforacle.reproduce import save_case

__all__ = ["note_reproduction"]


def note_reproduction(case_json: dict[str, Any], label: str, command: str) -> None:
    """Inside a hypothesis test: when hypothesis replays the *failing* example, save its case
    and attach the reproduction to the failure report (``hypothesis.note``).

    Cheap otherwise: it only looks at hypothesis' build context, so strategies call it on every
    draw. ``command`` may contain ``{path}``, replaced by the saved case file.
    """
    try:
        final = current_build_context().is_final
    except Exception:  # no build context: not inside a hypothesis test (e.g. .example())
        return
    if not final:
        return
    path = save_case(case_json, label)
    note(f"reproduce: case file {path}\n    {command.format(path=path)}")
