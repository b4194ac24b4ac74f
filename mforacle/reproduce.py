"""Write a failing case to a file so that a failure reproduces with one command.

(Attaching it to a failing hypothesis example is :func:`mforacle.properties.reproduce.
note_reproduction`: hypothesis stays out of :mod:`mforacle`'s own modules.)
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

__all__ = ["failure_dir", "save_case"]


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
