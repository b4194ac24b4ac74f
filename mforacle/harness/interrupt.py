"""SIGTERM and SIGHUP handled like Ctrl-C while a run is going on, and progress on stderr.

``with stop_signals():`` turns the first SIGTERM or SIGHUP into :class:`Terminated` (a
``KeyboardInterrupt``) raised in the main thread, so that ``check`` can kill its worker's process
group, write the report with the verdicts so far and exit non-zero, as it does for SIGINT;
further signals are ignored until the block ends (the report is being written), and the
previous handlers are restored.

:class:`Progress` prints ``[done/total] elapsed, about T left`` lines to stderr.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress", "Terminated", "exit_status", "stop_signals"]


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by :func:`stop_signals` for SIGTERM / SIGHUP."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_status(exc: BaseException) -> int:
    """The shell's convention: 128 + the signal number (SIGINT 130, SIGTERM 143)."""
    return 128 + (exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def interrupt_name(exc: BaseException) -> str:
    return signal.Signals(exc.signum).name if isinstance(exc, Terminated) else "SIGINT"


@contextmanager
def stop_signals() -> Iterator[None]:
    """See the module docstring. A no-op outside the main thread (signals cannot be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, frame: object) -> None:
        if fired:
            return
        fired.append(signum)
        raise Terminated(signum)

    names = ("SIGTERM", "SIGHUP")
    previous = {}
    for name in names:
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """Progress of a run of ``total`` checks, as lines on ``stream`` (stderr).

    The estimate of what remains multiplies the checks left of each kind (conformance checks,
    claims) by the mean time a check of that kind took so far (the overall mean for a kind not
    yet seen): a rough guide, not a promise — the first check of a case also computes its exact
    reference. Lines are printed at most every ``every`` seconds, and at the end."""

    def __init__(
        self,
        kinds: list[str],
        *,
        stream: TextIO | None = None,
        every: float = 5.0,
        enabled: bool = True,
    ) -> None:
        self.kinds = kinds
        self.total = len(kinds)
        self.stream = stream if stream is not None else sys.stderr
        self.every = every
        self.enabled = enabled and self.total > 0
        self.start = time.monotonic()
        self.last = self.start
        self.done = 0
        self.spent: dict[str, list[float]] = {}
        self._mark = self.start
        self.current = ""
        self._lock = threading.Lock()

    def remaining(self) -> float | None:
        """Seconds estimated for the checks not yet done (``None`` before the first). A check
        still running counts, with the time it has taken so far, as a sample of its kind (a
        lower bound): a long claim raises the estimate for the claims after it."""
        if self.done == 0:
            return None
        spent = {k: list(v) for k, v in self.spent.items()}
        running = time.monotonic() - self._mark if self.current else 0.0
        if self.current and self.done < self.total:
            spent.setdefault(self.kinds[self.done], []).append(running)
        times = [t for ts in spent.values() for t in ts]
        overall = sum(times) / len(times)

        def mean(kind: str) -> float:
            seen = spent.get(kind)
            return sum(seen) / len(seen) if seen else overall

        todo = self.kinds[self.done :]
        if self.current and todo:  # the running one: what its kind's mean leaves of it
            return max(0.0, mean(todo[0]) - running) + sum(mean(k) for k in todo[1:])
        return sum(mean(k) for k in todo)

    def line(self, label: str = "") -> str:
        """One progress line: ``label``, the elapsed time and, once known, the time left."""
        elapsed = time.monotonic() - self.start
        left = self.remaining()
        tail = "" if left is None else f", about {_duration(left)} left"
        head = f"[{self.done}/{self.total}] {_duration(elapsed)} elapsed{tail}"
        return f"{head}: {label}" if label else head

    def begin(self, label: str) -> None:
        """The next check (``label``: its id) starts."""
        self.current = label
        self._mark = time.monotonic()

    def tick(self, label: str = "") -> None:
        """One more check done (``label``: its id)."""
        now = time.monotonic()
        if self.done < self.total:
            self.spent.setdefault(self.kinds[self.done], []).append(now - self._mark)
        self._mark = now
        self.done += 1
        self.current = ""
        if now - self.last >= self.every or self.done == self.total:
            self._print(self.line(label))

    def _print(self, text: str) -> None:
        with self._lock:
            if not self.enabled:
                return
            self.last = time.monotonic()
            try:
                print(text, file=self.stream, flush=True)
            except (OSError, ValueError):  # a closed stderr does not stop the run
                self.enabled = False

    @contextmanager
    def running(self) -> Iterator[None]:
        """While the block runs, a line every ``every`` s even when one check takes long."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.every / 2):
                if time.monotonic() - self.last >= self.every and self.current:
                    self._print(self.line(f"running {self.current}"))

        thread = threading.Thread(target=beat, name="mforacle-progress", daemon=True)
        if self.enabled:
            thread.start()
        try:
            yield
        finally:
            stop.set()
