"""Up-front estimates of what evaluating a case will cost, to refuse hopeless ones early.

A small case file can ask for an enormous computation: a theta of one layer with 10^6 neurons
and 10^4 data points has (N, M) temporaries of 80 GB on the fast path, and hours of mpmath on
the exact path. ``eval``, ``limit`` and ``check --case`` call :func:`refuse_if_huge` before any
work; a case over the limits is a usage error whose message gives the estimate, unless
``--force`` is given.

The estimates are deliberately coarse models, not measurements:

- fast theta path (:mod:`mforacle.fast.network`): float64 arrays ``z`` and ``q`` of
  ``(L+1)·N·d`` entries, ``theta`` and its gradient (``L·M·k`` each), about six ``(N, M)``
  temporaries of a layer; plus the written result, ~100 bytes a number as Python text.
- exact theta path (:mod:`mforacle.exact.network`): ``L·N·M·(d + 20)`` work units (a neuron's
  dot products plus an activation), ~1e-4 s each at 30 digits with mpmath's pure-Python
  backend (measured 57–89 µs on a loaded 2-core machine), growing like ``(dps/30)^1.5``; the
  confirmation pass is included in the measurement.
- limit (measure cases): ``N·k²·r·(P+1)`` units; ~0.02 s each on the exact path for
  activations with closed-form Gaussian moments (erf, sin, regrelu), ~0.1 s for the others
  (measured on the bundled measure cases); the fast path needs ``~32·N·k·(k+P+10)`` bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .errors import InvalidArgument

__all__ = [
    "MAX_EXACT_SECONDS",
    "Estimate",
    "available_memory",
    "case_guard",
    "estimate",
    "estimate_json",
    "estimate_measure",
    "estimate_theta",
    "refuse_if_huge",
]

#: the exact path's estimated run time above which a case needs --force
MAX_EXACT_SECONDS = 3600.0
#: the ball path's time as a share of the exact path's (docs/bench.md: 11-25x faster)
BALL_SHARE = 0.1
#: the share of available memory the fast path may plan to use without --force
MEMORY_SHARE = 0.5
_SECONDS_PER_UNIT = 1e-4
_LIMIT_SECONDS = {"closed": 0.02, "quadrature": 0.1}
_CLOSED_FORMS = ("erf", "sin", "regrelu")


@dataclass(frozen=True)
class Estimate:
    """What one case will cost: the fast path's memory (bytes) and the exact path's time."""

    fast_bytes: float
    exact_seconds: float
    shape: str  # e.g. "L = 1, M = 1000000, N = 10000, d = 2"


def available_memory() -> float:
    """Bytes of memory available (``MemAvailable`` on Linux, else physical memory)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def estimate_theta(L: int, M: int, n: int, d: int, dps: int = 30) -> Estimate:
    """The :class:`Estimate` of a theta case of these sizes (see the module docstring)."""
    k = 2 * d + 1
    growth = max(1.0, dps / 30) ** 1.5
    fast = 8.0 * (2 * (L + 1) * n * d + 2 * L * M * k + 6 * n * M) + 100.0 * (
        L * M * k + 2 * n * d
    )
    exact = _SECONDS_PER_UNIT * L * n * M * (d + 20) * growth
    return Estimate(fast, exact, f"L = {L}, M = {M}, N = {n}, d = {d}")


def estimate_measure(
    n: int, d: int, r: int, probes: int, activation: str, dps: int = 30
) -> Estimate:
    """The :class:`Estimate` of a measure case of these sizes (see the module docstring)."""
    k = 2 * d + 1
    growth = max(1.0, dps / 30) ** 1.5
    kind = "closed" if activation in _CLOSED_FORMS else "quadrature"
    exact = _LIMIT_SECONDS[kind] * n * k * k * r * (probes + 1) * growth
    fast = 32.0 * n * k * (k + probes + 10) + 100.0 * (n * d + probes * k)
    return Estimate(fast, exact, f"N = {n}, d = {d}, r = {r}, {probes} probes")


def estimate(case: object, dps: int = 30) -> Estimate:
    """The :class:`Estimate` of a validated :class:`~mforacle.caseio.Case` at ``dps`` digits."""
    model = case.model  # type: ignore[attr-defined]
    n = case.data.n  # type: ignore[attr-defined]
    if case.theta is not None:  # type: ignore[attr-defined]
        L, M = case.theta.shape[:2]  # type: ignore[attr-defined]
        return estimate_theta(L, M, n, model.d, dps)
    r, p = case.measure.r, len(case.probes)  # type: ignore[attr-defined]
    return estimate_measure(n, model.d, r, p, model.activation.name, dps)


def estimate_json(obj: object, dps: int = 30) -> Estimate | None:
    """The estimate from a parsed case file's *shapes* alone, before its numbers are read
    (reading millions of exact numbers takes minutes); ``None`` when the shapes are not
    those of a valid case (validation will say why)."""
    from .numbers import shape_of

    try:
        assert isinstance(obj, dict)
        d = obj["model"]["d"]
        assert type(d) is int and d >= 1
        xs = shape_of(obj["x"], "x")
        assert len(xs) == 2
        n = xs[0]
        if "theta" in obj:
            ts = shape_of(obj["theta"], "theta")
            assert len(ts) == 3
            return estimate_theta(ts[0], ts[1], n, d, dps)
        m = obj["measure"]
        r, probes = m["r"], m.get("probes", [])
        assert type(r) is int and isinstance(probes, list)
        act = str(obj["model"].get("activation", "tanh")).partition(":")[0]
        return estimate_measure(n, d, r, len(probes), act, dps)
    except Exception:  # any shape problem: the full validation reports it
        return None


def _size(b: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b / 1e3:.3g} kB"


def _time(s: float) -> str:
    if s >= 86400:
        return f"{s / 86400:.3g} days"
    if s >= 3600:
        return f"{s / 3600:.3g} hours"
    return f"{s / 60:.3g} minutes"


def refuse_if_huge(
    case: object, path: str, *, dps: int = 30, force: bool = False, field: str = "case"
) -> Estimate:
    """Refuse a case too big for ``path`` (``"fast"``, ``"exact"`` or ``"ball"``).

    ``case`` is a validated Case or an :class:`Estimate`. Returns the estimate.

    Raises:
        InvalidArgument: (the estimate in the message, ``field`` naming the file) the fast
            path would need more than :data:`MEMORY_SHARE` of the available memory, or the
            exact path more than :data:`MAX_EXACT_SECONDS`; not raised with ``force``.
    """
    est = case if isinstance(case, Estimate) else estimate(case, dps)
    if force:
        return est
    if path == "fast":
        room = available_memory() * MEMORY_SHARE
        if est.fast_bytes > room:
            raise InvalidArgument(
                field,
                est.shape,
                f"the fast path would need about {_size(est.fast_bytes)} of memory, more than "
                f"half of the {_size(room / MEMORY_SHARE)} available; pass --force to try",
            )
    else:
        seconds = est.exact_seconds * (BALL_SHARE if path == "ball" else 1.0)
        if seconds > MAX_EXACT_SECONDS:
            raise InvalidArgument(
                field,
                est.shape,
                f"the {path} path would take about {_time(seconds)} at {dps} digits "
                f"(limit {_time(MAX_EXACT_SECONDS)}); pass --force to run it anyway",
            )
    return est


def case_guard(path: str, dps: int, *, force: bool, field: str) -> Callable[[object], None]:
    """A hook for :func:`mforacle.caseio.read_case`: refuse a parsed case file whose shapes alone
    show it is too big for ``path`` (before its numbers are read), as :func:`refuse_if_huge`.

    Raises (from the hook):
        InvalidArgument: the estimate is over the limits and ``force`` is not set.
    """

    def guard(obj: object) -> None:
        est = estimate_json(obj, dps)
        if est is not None:
            refuse_if_huge(est, path, dps=dps, force=force, field=field)

    return guard
