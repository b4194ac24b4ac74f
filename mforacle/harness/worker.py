"""The worker process of :mod:`mforacle.harness.isolate`: load the implementation, answer calls.

Started as ``python -c <boot> <json>`` in its own session by :class:`~.isolate.ProcessCaller`.
It reads length-prefixed pickled ``(member, args)`` messages from the parent and answers each
with a :mod:`~mforacle.harness.wire` message (plain numeric data, never a pickle): ``ok`` with
the converted value, or ``raise`` with a one-line message and the traceback as text. The
conversion happens here, so an ``__array__`` that blocks or a ``__reduce__`` that exits only
ever runs in this process.
"""

from __future__ import annotations

import os
import pickle
import socket
import struct
import sys
import traceback
from typing import Any

__all__ = ["main"]


def _orphan_guard(parent: int) -> None:
    """Linux: be killed when the parent dies (a hung worker must not outlive ``check``)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:  # not Linux: the parent still kills the group on every exit path
        return
    if os.getppid() != parent:  # the parent died before the guard was set
        os._exit(1)


def _read(sock: socket.socket, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _send(sock: socket.socket, data: bytes) -> None:
    sock.sendall(struct.pack(">Q", len(data)) + data)


def _text(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except BaseException:
        return type(exc).__name__


def _tb() -> str:
    try:
        return traceback.format_exc(limit=8)
    except BaseException:
        return ""


def main(boot: dict[str, Any]) -> None:
    """Serve the parent over the socket ``boot["fd"]`` until it closes it or kills us."""
    _orphan_guard(int(boot["parent"]))
    sock = socket.socket(fileno=int(boot["fd"]))
    from ..errors import ImplementationError
    from .wire import WireError, encode

    members = ("forward", "loss", "gradient", "train_step", "limit")
    try:
        from .. import threads

        threads.configure_worker()  # before the implementation's libraries load (issue 13)
        from .loading import load_implementation

        impl = load_implementation(boot["source"], dtype=boot["dtype"], framework=boot["framework"])
        meta = {
            "name": str(impl.name),
            "framework": impl.framework,
            "dtype": impl.dtype,
            "activations": sorted(impl.activations),
            "supports_kappa": bool(impl.supports_kappa),
            "output_dtype": impl.output_dtype,
            "output_rounding": float(impl.output_rounding),
            "members": [m for m in members if getattr(impl, m) is not None],
            "notes": [str(n) for n in getattr(impl, "notes", ())],
        }
        _send(sock, encode({"kind": "ready", "meta": meta}))
    except BaseException as exc:  # reported to the parent, which raises ImplementationError
        message = str(exc) if isinstance(exc, ImplementationError) else _text(exc)
        try:
            _send(sock, encode({"kind": "load-error", "message": message[:4000]}))
        finally:
            sys.stdout.flush()
            os._exit(0)
    while True:
        try:
            (size,) = struct.unpack(">Q", _read(sock, 8))
            member, args = pickle.loads(_read(sock, size))
        except (EOFError, OSError):
            break
        try:
            value = getattr(impl, member)(*args)
        except BaseException as exc:
            data = encode(
                {
                    "kind": "raise",
                    "message": f"{member} raised {_text(exc)}"[:2000],
                    "detail": _tb(),
                }
            )
        else:
            try:
                data = encode({"kind": "ok"}, value, with_value=True)
            except WireError as exc:
                data = encode({"kind": "raise", "message": f"{member} returned {exc}"[:2000]})
            except BaseException as exc:  # e.g. an __array__ that raises
                data = encode(
                    {
                        "kind": "raise",
                        "message": f"{member}: converting its value raised {_text(exc)}"[:2000],
                        "detail": _tb(),
                    }
                )
        try:
            _send(sock, data)
        except OSError:
            break
    sys.stdout.flush()
    os._exit(0)
