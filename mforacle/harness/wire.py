"""Plain numeric data across the process boundary: what a worker may send back to ``check``.

The implementation under test runs in a worker process (:mod:`mforacle.harness.isolate`); what
it returns must reach the parent *without* the parent running any of its code. Pickle cannot
do that (unpickling calls whatever ``__reduce__`` names, and imports the module that defines
the class), nor can ``np.asarray`` on a foreign object (``__array__`` is its code). So the
worker converts every returned value to a tree of plain parts, in the worker:

- ``None``, ``str`` (at most :data:`MAX_TEXT` characters),
- numeric arrays: raw bytes plus a ``(dtype, shape)`` header, for the dtypes of
  :data:`ARRAY_DTYPES` only (bool, integers, IEEE floats, complex) — a NumPy scalar stays a
  NumPy scalar and a Python ``float``/``int``/``bool`` a Python number, so that the checks'
  dtype rules see what they would see in-process,
- ``list``, ``tuple`` and ``dict`` with string keys of the above,
- :class:`Opaque` for anything else (an object that is not numbers, or whose conversion
  raised): its type name and the reason, which the checks report as an error.

A message is ``MAGIC | uint32 header length | header JSON | payload``; the parent
(:func:`decode`) parses only that JSON and builds NumPy arrays from byte ranges of the payload
after checking each range, dtype and shape. Anything else is a :class:`WireError`. The
direction parent → worker uses pickle: the worker trusts the parent, not the other way round.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

__all__ = [
    "ARRAY_DTYPES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_PAYLOAD",
    "Opaque",
    "WireError",
    "decode",
    "encode",
]

MAGIC = b"MFW1"
#: nesting depth of lists/tuples/dicts a reply may have
MAX_DEPTH = 32
#: number of parts (arrays, scalars, containers) in one reply
MAX_NODES = 200_000
#: bytes of array data in one reply (1 GiB)
MAX_PAYLOAD = 1 << 30
#: bytes of the JSON header of one reply
MAX_HEADER = 64 << 20
#: characters of one string (a message, a name)
MAX_TEXT = 20_000

#: dtypes whose arrays cross as raw bytes (native byte order), by their ``dtype.str``
ARRAY_DTYPES: dict[str, np.dtype] = {
    np.dtype(name).str: np.dtype(name)
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "longdouble", "complex64", "complex128",
    )
}  # fmt: skip


class WireError(ValueError):
    """A reply that is not a well-formed message of this module (the parent rejects it)."""


class Opaque:
    """Stands, in the parent, for a value the worker could not convert to numbers.

    ``np.asarray`` of it raises ``TypeError`` naming the type and the reason, so the checks'
    output validation turns it into an *error* verdict ("not convertible to an array")."""

    __slots__ = ("type_name", "why")

    def __init__(self, type_name: str, why: str) -> None:
        self.type_name, self.why = type_name, why

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(f"a {self.type_name} that is not numbers ({self.why})")

    def __float__(self) -> float:
        raise TypeError(f"a {self.type_name} that is not numbers ({self.why})")

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.why}>"


# --- worker side ---------------------------------------------------------------------------


class _Encoder:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.nodes = 0

    def array(self, arr: np.ndarray, py: str | None = None, scalar: bool = False) -> Any:
        arr = arr.astype(arr.dtype.newbyteorder("="), copy=False)  # keeps 0-d shapes
        key = arr.dtype.str
        if key not in ARRAY_DTYPES:
            return {"o": f"array of dtype {arr.dtype}", "why": "not a numeric dtype"}
        if self.size + arr.size * arr.itemsize > MAX_PAYLOAD:  # before any copy: a view of
            # 10^9 broadcast elements is 8 bytes until tobytes() materializes it
            raise WireError(f"the value has over {MAX_PAYLOAD} bytes of array data")
        data = arr.tobytes()
        node: dict[str, Any] = {"n": [key, list(arr.shape), self.size, len(data)]}
        if py is not None:
            node["py"] = py
        if scalar:
            node["scalar"] = True
        self.chunks.append(data)
        self.size += len(data)
        return node

    def node(self, value: Any, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise WireError(f"the value has over {MAX_NODES} parts")
        if depth > MAX_DEPTH:
            raise WireError(f"the value is nested over {MAX_DEPTH} deep")
        if value is None:
            return None
        if isinstance(value, np.generic):  # before float: np.float64 is a float subclass
            if value.dtype.kind not in "biufc":
                return {"o": type(value).__name__, "why": "not a numeric scalar"}
            return self.array(np.asarray(value), scalar=True)
        if isinstance(value, bool):
            return self.array(np.asarray(value), py="bool")
        if isinstance(value, int):
            if -(2**63) <= value < 2**63:
                return self.array(np.asarray(value, dtype=np.int64), py="int")
            return {"o": "int", "why": f"an integer of {value.bit_length()} bits"}
        if isinstance(value, float):
            return self.array(np.asarray(value, dtype=np.float64), py="float")
        if isinstance(value, str):
            return {"s": value[:MAX_TEXT]}
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in "biufc":
                return {"o": f"array of dtype {value.dtype}", "why": "not a numeric dtype"}
            return self.array(value)
        if isinstance(value, list | tuple) and len(value) > 64:
            # a long sequence of numbers (a forward pass returning nested lists): as one array,
            # which is what np.asarray makes of it in-process too
            try:
                arr = np.asarray(value)
            except Exception:
                arr = None
            if arr is not None and arr.dtype.kind in "biuf" and arr.shape[:1] == (len(value),):
                return self.array(arr)
        if isinstance(value, list | tuple):
            kind = "l" if isinstance(value, list) else "t"
            return {kind: [self.node(v, depth + 1) for v in value]}
        if isinstance(value, dict):
            if not all(isinstance(k, str) for k in value):
                return {"o": "dict", "why": "its keys are not all strings"}
            return {"d": [[k[:MAX_TEXT], self.node(v, depth + 1)] for k, v in value.items()]}
        type_name = _type_name(value)
        try:  # anything else: what np.asarray makes of it, here in the worker
            arr = np.asarray(value)
        except Exception as exc:
            return {"o": type_name, "why": f"np.asarray raised {_describe(exc)}"}
        if arr.dtype.kind not in "biufc":
            return {"o": type_name, "why": f"np.asarray gives dtype {arr.dtype}"}
        return self.array(arr)


def _type_name(value: Any) -> str:
    try:
        return str(type(value).__qualname__)[:200]
    except Exception:
        return "object"


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"[:MAX_TEXT]
    except Exception:
        return type(exc).__name__


def encode(header: dict[str, Any], value: Any = None, *, with_value: bool = False) -> bytes:
    """One message: ``header`` (plain JSON types) and, with ``with_value``, ``value``
    converted under the key ``"value"``. Raises :class:`WireError` when ``value`` is too
    large or too deep (the worker then sends that as the call's error)."""
    enc = _Encoder()
    head = dict(header)
    if with_value:
        head["value"] = enc.node(value, 0)
    text = json.dumps(head, allow_nan=False, ensure_ascii=True).encode("ascii")
    if len(text) > MAX_HEADER:
        raise WireError(f"the value's description has over {MAX_HEADER} bytes")
    return MAGIC + struct.pack(">I", len(text)) + text + b"".join(enc.chunks)


# --- parent side ---------------------------------------------------------------------------


def decode(message: bytes) -> tuple[dict[str, Any], Any]:
    """``(header, value)`` of a message from :func:`encode`; ``value`` is ``None`` when the
    message carries none. Builds only ``None``, ``str``, numbers, NumPy arrays of
    :data:`ARRAY_DTYPES`, lists, tuples, dicts and :class:`Opaque`; raises :class:`WireError`
    for anything malformed (never another exception)."""
    if len(message) < 8 or message[:4] != MAGIC:
        raise WireError("not a message of mforacle's worker protocol")
    (hlen,) = struct.unpack(">I", message[4:8])
    if hlen > MAX_HEADER or 8 + hlen > len(message):
        raise WireError("header length out of range")
    try:
        head = json.loads(message[8 : 8 + hlen].decode("ascii"))
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise WireError(f"header is not JSON ({type(exc).__name__})") from None
    if not isinstance(head, dict):
        raise WireError("header is not an object")
    payload = memoryview(message)[8 + hlen :]
    value = None
    if "value" in head:
        counter = [0]
        try:
            value = _build(head.pop("value"), payload, 0, counter)
        except RecursionError:
            raise WireError("value nested too deep") from None
    return head, value


def _build(node: Any, payload: memoryview, depth: int, counter: list[int]) -> Any:
    counter[0] += 1
    if counter[0] > MAX_NODES or depth > MAX_DEPTH:
        raise WireError("value too large or too deep")
    if node is None:
        return None
    if not isinstance(node, dict) or len(node) == 0:
        raise WireError(f"malformed part {str(node)[:80]!r}")
    if "s" in node:
        text = node["s"]
        if not isinstance(text, str):
            raise WireError("malformed string part")
        return text[:MAX_TEXT]
    if "o" in node:
        return Opaque(str(node["o"])[:200], str(node.get("why", ""))[:MAX_TEXT])
    if "l" in node or "t" in node:
        items = node.get("l", node.get("t"))
        if not isinstance(items, list):
            raise WireError("malformed sequence part")
        out = [_build(v, payload, depth + 1, counter) for v in items]
        return out if "l" in node else tuple(out)
    if "d" in node:
        pairs = node["d"]
        if not isinstance(pairs, list):
            raise WireError("malformed dict part")
        result = {}
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise WireError("malformed dict entry")
            result[pair[0]] = _build(pair[1], payload, depth + 1, counter)
        return result
    if "n" in node:
        return _array(node, payload)
    raise WireError(f"unknown part {sorted(node)[:4]}")


def _array(node: dict[str, Any], payload: memoryview) -> Any:
    spec = node["n"]
    if not (isinstance(spec, list) and len(spec) == 4):
        raise WireError("malformed array part")
    key, shape, offset, nbytes = spec
    dtype = ARRAY_DTYPES.get(key) if isinstance(key, str) else None
    if dtype is None:
        raise WireError(f"array dtype {str(key)[:40]!r} not allowed")
    ints = [offset, nbytes, *shape] if isinstance(shape, list) else None
    if ints is None or not all(type(i) is int and i >= 0 for i in ints) or len(shape) > 32:
        raise WireError("malformed array shape or range")
    count = 1
    for s in shape:
        count *= s
    if count * dtype.itemsize != nbytes or offset + nbytes > len(payload):
        raise WireError("array range does not match its shape")
    arr = np.frombuffer(payload[offset : offset + nbytes], dtype=dtype).reshape(shape).copy()
    py = node.get("py")
    if py is not None:
        if arr.shape != ():
            raise WireError("a Python number must be a scalar")
        if py == "float":
            return float(arr)
        if py == "int":
            return int(arr)
        if py == "bool":
            return bool(arr)
        raise WireError(f"unknown Python number kind {str(py)[:20]!r}")
    if node.get("scalar"):
        if arr.shape != ():
            raise WireError("a NumPy scalar must have shape ()")
        return arr[()]
    return arr
