"""Process isolation: the implementation runs only in a worker process (``check``'s default).

The isolation model (``docs/conformance.md``, "Isolation"):

- **The parent never runs the implementation's code.** It does not import the implementation's
  module, does not unpickle anything the worker sends and does not call ``__array__``,
  ``__float__`` or any other method of a returned object. The worker converts every result
  to plain numeric data (:mod:`mforacle.harness.wire`: raw bytes of numeric arrays, a JSON
  header); the parent parses only that. The arguments go the other way by pickle (the worker
  trusts the parent).
- **The worker is a process group, killed whole.** It is started with ``start_new_session``
  (its own session and process group, so a Ctrl-C at the terminal reaches only ``check``)
  and stopped with ``os.killpg(SIGKILL)``: children it forked die with it. On Linux it also
  asks to be killed if ``check`` dies (``PR_SET_PDEATHSIG``).
- **Two timeouts.** Loading (interpreter start, imports — torch takes 6–8 s — and adapting
  the object) has ``load_timeout``; each call has ``timeout``, measured from the moment its
  arguments are sent, so a slow start never eats into a call's time.
- a call not answered within ``timeout``: the worker group is killed, the verdict is an
  ``error`` ("timed out"), and later calls are not made (one hang costs one timeout);
- the worker dies during a call (segfault, ``os._exit``, abort, or it exits leaving a forked
  child behind): an ``error`` naming the exit code or signal, the group is killed, and the next
  call starts a fresh worker (a crash may be case-specific);
- an exception: an ``error`` with the worker's traceback (as text).

What it does not protect against: the worker runs with your user's rights, so it can write
files, use the network or signal other processes; a child that starts its own session escapes
the group kill. It is a fence against accidents (hangs, crashes, hostile return values), not a
sandbox.

Cost: one worker start (~0.3 s: an interpreter, NumPy, mforacle, your module; more with torch)
and the copying of arguments and results (~0.1 ms a call on the suite's sizes). The worker caps
its BLAS and OpenMP threads by :func:`mforacle.threads.configure_worker` before it loads the
implementation (``MFORACLE_THREADS``, default 1; its environment says the same, for libraries
such as PyTorch that read it at import), so worker and harness never oversubscribe the cores.
Only implementations named by ``module.path[:object]`` / ``file.py[:object]`` can be
isolated (the worker imports them).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import threads
from ..dtypes import DTYPES
from ..errors import ImplementationError
from ..protocol import OPTIONAL_MEMBERS, Implementation
from .calls import DEFAULT_TIMEOUT, Outcome
from .wire import MAX_HEADER, MAX_PAYLOAD, WireError, decode

__all__ = [
    "DEFAULT_LOAD_TIMEOUT",
    "ISOLATION_MODES",
    "ProcessCaller",
    "isolated_implementation",
    "worker_environment",
]

ISOLATION_MODES = ("process", "thread")
MEMBERS = ("forward", *OPTIONAL_MEMBERS)
#: seconds the worker may take to start and load the implementation (importing torch: 6–8 s)
DEFAULT_LOAD_TIMEOUT = 120.0
#: the longest message the parent accepts from the worker
MAX_MESSAGE = 8 + MAX_HEADER + MAX_PAYLOAD
#: how often (s) a waiting parent checks that the worker is still alive
_SLICE = 0.2

_BOOT = (
    "import sys, json; a = json.loads(sys.argv[1]); sys.path[:] = a['sys_path']; "
    "from mforacle.harness.worker import main; main(a)"
)


def worker_environment(base: dict[str, str] | None = None) -> dict[str, str]:
    """The worker's environment: ``base`` (default ours) with the BLAS/OpenMP thread variables
    set to this process's policy, :func:`mforacle.threads.default_threads` (``MFORACLE_THREADS``,
    default 1): read by libraries the implementation imports (PyTorch reads
    ``OMP_NUM_THREADS`` once, at import)."""
    return threads.worker_env(threads.default_threads(), base)


def _death(code: int | None) -> str:
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _TimedOut(Exception):
    pass


class _Died(Exception):
    pass


class ProcessCaller:
    """:class:`~mforacle.harness.calls.Caller`'s interface, calls made in a worker process.

    ``call(what, fn, *args)`` ignores ``fn`` and calls member ``what`` of the implementation
    loaded in the worker (the member names the harness uses: forward, loss, gradient,
    train_step, limit). ``timeout`` is per call, ``load_timeout`` for starting a worker."""

    def __init__(
        self,
        source: str,
        *,
        dtype: str | None = None,
        framework: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        load_timeout: float = DEFAULT_LOAD_TIMEOUT,
    ) -> None:
        self.source, self.dtype, self.framework = source, dtype, framework
        self.timeout = float(timeout)
        self.load_timeout = float(load_timeout)
        self.hung: str | None = None
        self.crashes = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self.meta: dict[str, Any] = {}

    # --- worker lifecycle --------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        """Start a worker and wait (``load_timeout``) until the implementation is loaded.
        Raises :class:`ImplementationError` when it cannot be loaded."""
        mine, theirs = socket.socketpair()
        boot = {
            "sys_path": list(sys.path),
            "fd": theirs.fileno(),
            "parent": os.getpid(),
            "source": self.source,
            "dtype": self.dtype,
            "framework": self.framework,
        }
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _BOOT, json.dumps(boot)],
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                stdin=subprocess.DEVNULL,
                # what the implementation prints goes to our stderr: it must not be able to
                # forge check's verdict lines on stdout
                stdout=2,
                env=worker_environment(),
            )
        except OSError as exc:
            mine.close()
            raise ImplementationError(f"cannot start a worker process: {exc}") from None
        finally:
            theirs.close()
        self.process, self._sock = proc, mine
        deadline = time.monotonic() + self.load_timeout
        try:
            head, _ = decode(self._recv(deadline))
        except KeyboardInterrupt:  # SIGINT / SIGTERM while loading: no orphaned worker
            self.stop()
            raise
        except _TimedOut:
            self.stop()
            raise ImplementationError(
                f"loading {self.source} in a worker process took over {self.load_timeout:g} s "
                "(--load-timeout)"
            ) from None
        except _Died:
            code = self._exit_code()
            self.stop()
            raise ImplementationError(
                f"loading {self.source} killed its worker process ({_death(code)})"
            ) from None
        except WireError as exc:
            self.stop()
            raise ImplementationError(f"loading {self.source}: bad reply ({exc})") from None
        if head.get("kind") != "ready":
            self.stop()
            why = str(head.get("message", "unknown load error"))[:4000]
            raise ImplementationError(f"cannot load {self.source}: {why}")
        try:
            self.meta = _checked_meta(head.get("meta"))
        except (TypeError, ValueError) as exc:
            self.stop()
            raise ImplementationError(f"loading {self.source}: bad description ({exc})") from None
        return self.meta

    def _exit_code(self) -> int | None:
        proc = self.process
        if proc is None:
            return None
        try:
            return proc.wait(2)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """Kill the worker's whole process group (if any); idempotent."""
        proc, sock = self.process, self._sock
        self.process = self._sock = None
        if sock is not None:
            sock.close()
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.kill()
        except OSError:
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:  # unkillable (D state): leave it to the OS
            pass

    def __enter__(self) -> ProcessCaller:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- the channel --------------------------------------------------------------------------
    def _alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _recv(self, deadline: float) -> bytes:
        """One length-prefixed message from the worker, by ``deadline`` (monotonic s)."""
        (size,) = struct.unpack(">Q", self._read(8, deadline))
        if size > MAX_MESSAGE:
            raise WireError(f"a reply of {size} bytes (more than {MAX_MESSAGE})")
        return self._read(size, deadline)

    def _read(self, n: int, deadline: float) -> bytes:
        sock = self._sock
        assert sock is not None
        parts, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut
            sock.settimeout(min(left, _SLICE))
            try:
                chunk = sock.recv(min(n - got, 1 << 20))
            except TimeoutError:
                if not self._alive():  # exited, but a forked child holds the socket open
                    raise _Died from None
                continue
            except OSError:
                raise _Died from None
            if not chunk:
                raise _Died
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _send(self, data: bytes, deadline: float) -> None:
        sock = self._sock
        assert sock is not None
        view = memoryview(struct.pack(">Q", len(data)) + data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut
            sock.settimeout(min(left, _SLICE))
            try:
                sent = sock.send(view)
            except TimeoutError:
                if not self._alive():
                    raise _Died from None
                continue
            except OSError:
                raise _Died from None
            view = view[sent:]

    # --- calls --------------------------------------------------------------------------------
    def call(self, what: str, fn: Callable[..., Any] | None, *args: Any) -> Outcome:
        """Call member ``what`` in the worker; never raises for the implementation's sake."""
        if self.hung is not None:
            return Outcome(
                False, error=f"{what} not called: the implementation hung earlier ({self.hung})"
            )
        if not self._alive():
            self.stop()
            try:
                self.start()
            except ImplementationError as exc:
                return Outcome(False, error=f"{what} not called: {exc}")
        try:
            message = pickle.dumps((what, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # our own arguments: a harness bug, reported as such
            return Outcome(False, error=f"{what}: cannot send the arguments ({exc})")
        start = time.monotonic()
        deadline = start + self.timeout
        try:
            self._send(message, deadline)
            reply = self._recv(deadline)
        except _TimedOut:
            self.stop()
            self.hung = f"{what} did not return within {self.timeout:g} s; its process was killed"
            return Outcome(
                False,
                error=f"{what} timed out after {self.timeout:g} s (worker process killed)",
                seconds=time.monotonic() - start,
            )
        except _Died:
            seconds = time.monotonic() - start
            code = self._exit_code()
            self.stop()
            self.crashes += 1
            return Outcome(
                False,
                error=f"{what} crashed the implementation's process ({_death(code)})",
                seconds=seconds,
            )
        except WireError as exc:
            self.stop()
            return Outcome(False, error=f"{what}: the worker sent a malformed reply ({exc})")
        seconds = time.monotonic() - start
        try:
            head, value = decode(reply)
        except WireError as exc:
            self.stop()
            return Outcome(False, error=f"{what}: the worker sent a malformed reply ({exc})")
        if head.get("kind") == "ok":
            return Outcome(True, value=value, seconds=seconds)
        return Outcome(
            False,
            error=str(head.get("message", "no message"))[:500],
            detail=str(head.get("detail", ""))[:20000],
            seconds=seconds,
        )


def _checked_meta(meta: Any) -> dict[str, Any]:
    """The worker's description of the implementation, type-checked (it is untrusted data)."""
    from ..model import ACTIVATION_NAMES
    from .adapters import FRAMEWORKS

    if not isinstance(meta, dict):
        raise TypeError("not an object")
    out = {
        "name": str(meta.get("name", "?"))[:200],
        "framework": meta.get("framework"),
        "dtype": meta.get("dtype"),
        "activations": meta.get("activations"),
        "supports_kappa": meta.get("supports_kappa"),
        "output_dtype": meta.get("output_dtype"),
        "output_rounding": meta.get("output_rounding"),
        "members": meta.get("members"),
        "notes": meta.get("notes", []),
    }
    if out["framework"] not in FRAMEWORKS:
        raise ValueError(f"framework {out['framework']!r}")
    if out["dtype"] not in DTYPES or out["output_dtype"] not in (*DTYPES, None):
        raise ValueError(f"dtype {out['dtype']!r}")
    acts = out["activations"]
    if not (isinstance(acts, list) and set(acts) <= set(ACTIVATION_NAMES)):
        raise ValueError("activations")
    if not isinstance(out["supports_kappa"], bool):
        raise ValueError("supports_kappa")
    r = out["output_rounding"]
    if not (isinstance(r, int | float) and 0 <= r < 1e6):
        raise ValueError("output_rounding")
    members = out["members"]
    if not (isinstance(members, list) and set(members) <= set(MEMBERS) and "forward" in members):
        raise ValueError("members")
    notes = out["notes"]
    if not (isinstance(notes, list) and all(isinstance(n, str) for n in notes)):
        raise ValueError("notes")
    out["notes"] = [n[:500] for n in notes[:10]]
    return out


def isolated_implementation(
    source: str,
    *,
    dtype: str | None = None,
    framework: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    load_timeout: float = DEFAULT_LOAD_TIMEOUT,
) -> tuple[Implementation, ProcessCaller]:
    """Load ``source`` in a worker process; return an :class:`Implementation` whose members
    are calls into that worker, and the :class:`ProcessCaller` the checks must use.

    Raises:
        ImplementationError: the worker cannot load it (message says why: import error,
            crash with its exit code, over ``load_timeout`` seconds).
    """
    caller = ProcessCaller(
        source, dtype=dtype, framework=framework, timeout=timeout, load_timeout=load_timeout
    )
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
        output_rounding=float(meta["output_rounding"]),
        notes=tuple(meta["notes"]),
    )
    return impl, caller
