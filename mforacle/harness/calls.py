"""Calls in this process (``--isolate thread``): a timeout and captured exceptions, NOT isolation.

Each call runs in a daemon worker thread joined with a timeout. A call still running at the
timeout is abandoned (Python cannot kill a thread; the daemon thread dies with the process) and
the implementation is marked *hung*: later calls are not made and report why, so one hang costs
one timeout, not one per check.

This is not isolation: the implementation runs in the checking process itself, so a crash
(segfault, ``os._exit``) ends the run without a report, an abandoned call keeps running (and
using CPU) until the process exits, and the implementation can change any state of the
process, the checks' included. Use it for trusted code only; :mod:`mforacle.harness.isolate`
(``--isolate process``, the default) runs the implementation in a separate worker.
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_TIMEOUT", "Caller", "Outcome"]

#: seconds one call of the implementation may take before it counts as hung
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True)
class Outcome:
    """What a call gave: ``value`` when ``ok``, else ``error`` (one line) and ``detail``."""

    ok: bool
    value: Any = None
    error: str = ""
    detail: str = ""
    seconds: float = 0.0


class Caller:
    """Runs calls of one implementation with a timeout and remembers whether it hung."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = float(timeout)
        self.hung: str | None = None

    def call(self, what: str, fn: Callable[..., Any], *args: Any) -> Outcome:
        import time

        if self.hung is not None:
            return Outcome(
                False, error=f"{what} not called: the implementation hung earlier ({self.hung})"
            )
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["value"] = fn(*args)
            except BaseException as exc:  # the implementation's failure, reported, never raised
                box["error"] = f"{what} raised {type(exc).__name__}: {exc}"
                box["detail"] = traceback.format_exc(limit=8)

        start = time.perf_counter()
        worker = threading.Thread(target=target, name=f"mforacle-{what}", daemon=True)
        worker.start()
        worker.join(min(self.timeout, threading.TIMEOUT_MAX))
        seconds = time.perf_counter() - start
        if worker.is_alive():
            self.hung = f"{what} did not return within {self.timeout:g} s"
            return Outcome(
                False, error=f"{what} timed out after {self.timeout:g} s", seconds=seconds
            )
        if "error" in box:
            return Outcome(False, error=box["error"][:500], detail=box["detail"], seconds=seconds)
        return Outcome(True, value=box.get("value"), seconds=seconds)
