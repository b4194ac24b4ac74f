"""Write a failing case to a file so that a failure reproduces with one command."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["failure_dir", "note_reproduction", "save_case"]


def failure_dir() -> Path:
    """``$MFORACLE_FAILURE_DIR``, else ``reports/failures`` under the current directory."""
    return Path(os.environ.get("MFORACLE_FAILURE_DIR", "reports/failures"))


def save_case(case_json: dict[str, Any], label: str) -> Path:
    """Save ``case_json`` as ``<failure_dir>/<label>-<hash>.json`` and return the path.

    The name is content-addressed, so the same failing case is written once.
    """
    from mforacle.caseio import write_json_atomic

    text = json.dumps(case_json, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    path = failure_dir() / f"{label}-{digest}.json"
    write_json_atomic(path, case_json)
    return path


def note_reproduction(case_json: dict[str, Any], label: str, command: str) -> None:
    """Inside a hypothesis test: when hypothesis replays the *failing* example, save its case
    and attach the reproduction to the failure report (``hypothesis.note``).

    Cheap otherwise: it only looks at hypothesis' build context, so strategies call it on every
    draw. ``command`` may contain ``{path}``, replaced by the saved case file.
    """
    from hypothesis import note
    from hypothesis.control import current_build_context

    try:
        final = current_build_context().is_final
    except Exception:  # no build context: not inside a hypothesis test (e.g. .example())
        return
    if not final:
        return
    path = save_case(case_json, label)
    note(f"reproduce: case file {path}\n    {command.format(path=path)}")
