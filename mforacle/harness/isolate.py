"""Process isolation: run the implementation in a worker process (``mforacle check`` default).

The thread mode of :class:`mforacle.harness.calls.Caller` cannot stop a hung call (the thread
is abandoned) and cannot survive a crash (a segfault or ``os._exit`` in the implementation ends
the whole run, report unwritten). Here the implementation is loaded *only* in a worker process
(``multiprocessing`` "spawn": a fresh interpreter, nothing inherited but ``sys.path``) and each
call is a message over a pipe:

- a call not answered within ``timeout`` seconds: the worker is killed (SIGKILL), the verdict
  is an ``error`` ("timed out"), and, as in thread mode, later calls are not made (one hang
  costs one timeout);
- the worker dies during a call (segfault, ``os._exit``, abort): an ``error`` verdict naming the
  exit code or signal; the next call starts a fresh worker (a crash may be case-specific);
- an exception: an ``error`` verdict with the traceback, as in thread mode.

Cost: one worker start (~1 s: interpreter, NumPy, mforacle, your module; more with torch) plus
pickling arguments and results (~0.1 ms a call on the suite's sizes). The worker caps its BLAS
and OpenMP threads by :func:`mforacle.threads.configure_worker` before it loads the
implementation (``MFORACLE_THREADS``, default 1), so worker and harness never oversubscribe
the cores. The parent never imports
the implementation, so it cannot be taken down by it. Only implementations named by a
``module.path:object`` / ``file.py:object`` source can be isolated (the worker imports them).
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any

from ..errors import ImplementationError
from ..protocol import OPTIONAL_MEMBERS, Implementation
from .calls import DEFAULT_TIMEOUT, Outcome

__all__ = ["ISOLATION_MODES", "ProcessCaller", "isolated_implementation"]

ISOLATION_MODES = ("process", "thread")
MEMBERS = ("forward", *OPTIONAL_MEMBERS)


def _worker(conn: Any, source: str, dtype: str | None, framework: str | None) -> None:
    """The worker process: load the implementation, then answer ``(member, args)`` messages."""
    try:
        from .. import threads

        threads.configure_worker()  # before the implementation's libraries load (issue 13)
        from .loading import load_implementation

        impl = load_implementation(source, dtype=dtype, framework=framework)
    except BaseException as exc:  # reported to the parent, which raises ImplementationError
        conn.send(("load-error", f"{type(exc).__name__}: {exc}"))
        return
    meta = {
        "name": impl.name,
        "framework": impl.framework,
        "dtype": impl.dtype,
        "activations": sorted(impl.activations),
        "supports_kappa": impl.supports_kappa,
        "output_dtype": impl.output_dtype,
        "output_rounding": impl.output_rounding,
        "members": [m for m in MEMBERS if getattr(impl, m) is not None],
    }
    conn.send(("ready", meta))
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        member, args = msg
        try:
            value = getattr(impl, member)(*args)
            reply: tuple[Any, ...] = ("ok", value)
        except BaseException as exc:
            reply = ("raise", f"{member} raised {type(exc).__name__}: {exc}", _tb())
        try:
            conn.send(reply)
        except Exception as exc:  # an unpicklable result
            conn.send(
                ("raise", f"{member} returned an unpicklable {type(value).__name__}: {exc}", "")
            )


def _tb() -> str:
    return traceback.format_exc(limit=8)


def _death(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessCaller:
    """:class:`~mforacle.harness.calls.Caller`'s interface, calls made in a worker process.

    ``call(what, fn, *args)`` ignores ``fn`` and calls member ``what`` of the implementation
    loaded in the worker (the member names the harness uses: forward, loss, gradient,
    train_step, limit)."""

    def __init__(
        self,
        source: str,
        *,
        dtype: str | None = None,
        framework: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.source, self.dtype, self.framework = source, dtype, framework
        self.timeout = float(timeout)
        self.hung: str | None = None
        self.crashes = 0
        self.process: Any = None
        self._conn: Any = None
        self.meta: dict[str, Any] = {}

    # --- worker lifecycle --------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Start a worker and wait (``timeout``) until the implementation is loaded."""
        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_worker,
            args=(child, self.source, self.dtype, self.framework),
            name="mforacle-impl",
            daemon=True,
        )
        proc.start()
        child.close()
        self.process, self._conn = proc, parent
        if not parent.poll(self.timeout):
            self.stop()
            raise ImplementationError(
                f"loading {self.source} in a worker process took over {self.timeout:g} s"
            )
        try:
            msg = parent.recv()
        except EOFError:
            proc.join(5)
            code = proc.exitcode
            self.stop()
            raise ImplementationError(
                f"loading {self.source} killed its worker process ({_death(code)})"
            ) from None
        if msg[0] != "ready":
            self.stop()
            raise ImplementationError(f"cannot load {self.source}: {msg[1]}")
        self.meta = msg[1]
        return self.meta

    def stop(self) -> None:
        """Kill the worker (if any); idempotent."""
        proc, conn = self.process, self._conn
        self.process = self._conn = None
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)

    def __enter__(self) -> ProcessCaller:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- calls --------------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., Any] | None, *args: Any) -> Outcome:
        if self.hung is not None:
            return Outcome(
                False, error=f"{what} not called: the implementation hung earlier ({self.hung})"
            )
        start = time.perf_counter()
        if self.process is None or not self.process.is_alive():
            try:
                self.start()
            except ImplementationError as exc:
                return Outcome(False, error=f"{what} not called: {exc}")
        conn, proc = self._conn, self.process
        try:
            conn.send((what, args))
        except Exception as exc:
            return Outcome(False, error=f"{what}: cannot send the arguments ({exc})")
        ready = conn.poll(self.timeout)
        seconds = time.perf_counter() - start
        if not ready:
            self.stop()
            self.hung = f"{what} did not return within {self.timeout:g} s; its process was killed"
            return Outcome(
                False,
                error=f"{what} timed out after {self.timeout:g} s (worker process killed)",
                seconds=seconds,
            )
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            proc.join(5)
            code = proc.exitcode
            self.stop()
            self.crashes += 1
            return Outcome(
                False,
                error=f"{what} crashed the implementation's process ({_death(code)})",
                seconds=seconds,
            )
        if msg[0] == "ok":
            return Outcome(True, value=msg[1], seconds=seconds)
        return Outcome(False, error=str(msg[1])[:500], detail=str(msg[2]), seconds=seconds)


def isolated_implementation(
    source: str,
    *,
    dtype: str | None = None,
    framework: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[Implementation, ProcessCaller]:
    """Load ``source`` in a worker process; return an :class:`Implementation` whose members
    are calls into that worker, and the :class:`ProcessCaller` the checks must use.
    Raises :class:`ImplementationError` if the worker cannot load it."""
    caller = ProcessCaller(source, dtype=dtype, framework=framework, timeout=timeout)
    meta = caller.start()

    def member(name: str) -> Callable[..., Any] | None:
        if name not in meta["members"]:
            return None

        def call(*args: Any) -> Any:
            out = caller.call(name, None, *args)
            if not out.ok:
                raise ImplementationError(out.error)
            return out.value

        return call

    impl = Implementation(
        name=meta["name"],
        framework=meta["framework"],
        dtype=meta["dtype"],
        forward=member("forward"),
        loss=member("loss"),
        gradient=member("gradient"),
        train_step=member("train_step"),
        limit=member("limit"),
        activations=frozenset(meta["activations"]),
        supports_kappa=meta["supports_kappa"],
        source=source,
        output_dtype=meta["output_dtype"],
        output_rounding=meta["output_rounding"],
    )
    return impl, caller
