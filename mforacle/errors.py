"""Typed errors. Every user error names the field and the offending value.

Modelled on hypothesis' ``InvalidArgument``: arguments are validated up front, before any work,
and the exception says *which* field was wrong and *what* it held.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CaseFormatError",
    "CertificationError",
    "ImplementationError",
    "InvalidArgument",
    "MforacleError",
    "NonFiniteResult",
    "UnsupportedFormatVersion",
]


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int beyond Python's 4300-digit conversion limit
        bits = value.bit_length() if isinstance(value, int) else 0
        return f"<an integer of {bits} bits>" if bits else f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class MforacleError(Exception):
    """Base class of every error mforacle raises on purpose."""


class InvalidArgument(MforacleError, ValueError):
    """A value given to mforacle is not acceptable.

    ``field`` is a dotted path to the value (``"theta[0][1][2]"``, ``"model.activation"``),
    ``value`` the value itself, ``reason`` what is wrong with it.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}: {reason} (got {_short(value)})")


class CaseFormatError(InvalidArgument):
    """A case or result file does not follow ``mforacle-case/1`` / ``mforacle-result/1``."""

    def __init__(self, field: str, value: Any, reason: str, *, source: str | None = None) -> None:
        self.source = source
        super().__init__(field, value, reason)
        if source:
            self.args = (f"{source}: {self.args[0]}",)


class UnsupportedFormatVersion(CaseFormatError):
    """The file's ``format`` names a version this reader does not know."""


class ImplementationError(MforacleError):
    """An implementation under test could not be loaded or does not follow the protocol."""


class NonFiniteResult(MforacleError, ArithmeticError):
    """A float computation overflowed (inf) or became undefined (NaN) on finite inputs.

    Raised instead of returning a silently meaningless number; ``quantity`` names what
    overflowed. The exact path has no such range limit.
    """

    def __init__(self, quantity: str, where: str = "fast path (float64)") -> None:
        self.quantity = quantity
        super().__init__(
            f"{quantity}: the {where} overflowed (inf or NaN) on this case; its numbers are "
            "outside float64's range — evaluate it with the exact path"
        )


class CertificationError(AssertionError):
    """A value mforacle computed is *proved wrong* by its own certified enclosure.

    Raised by :mod:`mforacle.reference` when an exact-path value ``v`` with stated error ``e``
    has ``[v ± e]`` disjoint from the Arb ball that provably contains the true value. This is a
    bug in mforacle, never a user error: it deliberately does **not** derive from
    :class:`MforacleError` (the command line prints a traceback, not a one-line usage error).
    ``refutations`` lists every refuted entry.
    """

    def __init__(self, refutations: list[str]) -> None:
        self.refutations = list(refutations)
        shown = "; ".join(self.refutations[:3])
        more = f" (and {len(self.refutations) - 3} more)" if len(self.refutations) > 3 else ""
        super().__init__(
            f"internal error: {len(self.refutations)} exact-path value(s) lie outside their "
            f"certified enclosure: {shown}{more}. Please report this as a bug."
        )
