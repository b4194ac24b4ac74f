"""Certified references: the mpmath exact path, proved against the Arb ball path.

The two paths stay independent (neither imports the other); this module sits above both. For a
``theta`` case, :func:`evaluate` runs

1. the exact path (:func:`mforacle.exact.network.evaluate`, mpmath at ``dps`` digits), which
   reports values ``v`` and a *confirmed estimate* ``e_q`` of its error per quantity ``q``;
2. the ball path (:func:`mforacle.ball.network.evaluate`) at ``dps + EXTRA_DIGITS`` digits, whose
   balls ``[m ± r]`` contain the true values (a theorem, not an estimate);

and, entry by entry, since ``true ∈ [m ± r]``::

    |v − true|  ≤  |v − m| + r        (computed in Arb, rounded up: rigorous)

The certified bound of quantity ``q`` is the maximum of that over its entries. Two outcomes are
distinguished:

- **refuted**: for some entry ``|v − m| − r > e_q`` — the exact value's own stated interval
  ``[v ± e_q]`` misses the ball, so the exact path's claim is *proved false*. That is a bug in
  mforacle: :class:`CertificationError` is raised (never a silent pass).
- otherwise the exact path's reported digits lie inside the certified enclosure widened by the
  stated error; ``proved[q]`` says whether the whole ball lies inside ``[v ± e_q]`` (the
  exact path's estimate then holds as a theorem). It can be undecided only when the ball is not
  narrower than ``e_q`` (the ball path hit its precision cap); the reported bound is the
  rigorous one either way.

With ``certify=False`` the exact path's estimate is returned, marked ``"estimate"``.

Source: ``docs/model.md`` §1–2 (the quantities); F. Johansson, *Arb*, IEEE TC 66 (2017)
(ball semantics); docs/ARCHITECTURE.md (the paths and their independence).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flint
import mpmath
import numpy as np
from flint import arb

from .errors import CertificationError, InvalidArgument

__all__ = [
    "EXTRA_DIGITS",
    "QUANTITIES",
    "CertifiedReference",
    "arb_of_mpf",
    "certify",
    "evaluate",
    "mpf_upper",
    "printed_bounds",
]

QUANTITIES = ("loss", "z_L", "grad_theta", "grad_x")
#: The ball path runs at this many digits above the reference's ``dps``: its radius is then
#: ~10^-(dps+10) relative, far below the exact path's stated 10^(1−dps).
EXTRA_DIGITS = 10
#: Bits of the mpf upper bounds returned (rounded up).
BOUND_BITS = 64


@dataclass(frozen=True)
class CertifiedReference:
    """The exact path's values with a rigorous (or, uncertified, estimated) error bound.

    ``loss`` (mpf), ``z_L``, ``grad_x`` ``(N, d)``, ``grad_theta`` ``(L, M, k)``: the exact
    path's reported values (object arrays of mpf, at ``dps`` digits); ``z``/``q`` its
    trajectory and adjoint ``(L+1, N, d)``. ``error_bound``: absolute, max over entries, per
    quantity — rigorous when ``error_bound_kind == "rigorous"``, the exact path's confirmed
    estimate when ``"estimate"``. ``estimate``: the exact path's own bound (always present).
    ``entry_bound``: per-entry rigorous bounds (mpf arrays shaped like the values; empty when
    uncertified). ``proved[q]``: the rigorous bound is within the estimate. ``ball``: the
    :class:`~mforacle.ball.network.BallResult` used (``None`` when uncertified).
    """

    dps: int
    loss: mpmath.mpf
    z: np.ndarray
    q: np.ndarray
    grad_theta: np.ndarray
    error_bound: dict[str, mpmath.mpf]
    error_bound_kind: str
    estimate: dict[str, mpmath.mpf]
    entry_bound: dict[str, np.ndarray] = field(default_factory=dict)
    proved: dict[str, bool] = field(default_factory=dict)
    ball: Any = None
    working_dps: int = 0
    confirm_dps: int = 0

    @property
    def z_L(self) -> np.ndarray:
        """``(N, d)``."""
        return self.z[-1]

    @property
    def grad_x(self) -> np.ndarray:
        """``∂ℓ_n/∂x_n`` (unweighted), ``(N, d)``."""
        return self.q[0]

    @property
    def certified(self) -> bool:
        """Whether ``error_bound`` is rigorous."""
        return self.error_bound_kind == "rigorous"

    def get(self, name: str) -> Any:
        """Quantity ``name`` (``loss`` is a scalar mpf, the others object arrays)."""
        if name not in QUANTITIES:
            raise InvalidArgument("name", name, f"expected one of {list(QUANTITIES)}")
        return getattr(self, name)


def arb_of_mpf(value: Any) -> arb:
    """An ``mpmath.mpf`` (or int) as the *exact* Arb ball of the same binary number.

    Raises:
        InvalidArgument: ``value`` is not a finite mpf or int.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return arb(value)
    raw = getattr(value, "_mpf_", None)
    if raw is None or not mpmath.isfinite(value):
        raise InvalidArgument("value", value, "expected a finite mpmath.mpf")
    sign, man, exp, _bc = raw
    if not man:
        return arb(0)
    return arb((-int(man) if sign else int(man), int(exp)))


def mpf_upper(value: arb, bits: int = BOUND_BITS) -> mpmath.mpf:
    """An upper bound of the ball ``value`` as an mpf of ``bits`` bits, rounded up
    (``+inf`` when the ball is unbounded)."""
    from mpmath.libmp import from_man_exp

    up = value.upper()
    if not up.is_finite():
        return mpmath.mpf("inf")
    man, exp = up.man_exp()
    return mpmath.mp.make_mpf(from_man_exp(int(man), int(exp), bits, "u"))


def _flat(value: Any) -> list[Any]:
    return list(np.asarray(value, dtype=object).reshape(-1))


def certify(
    exact: Any, ball: Any, *, strict: bool = True, quantities: tuple[str, ...] = QUANTITIES
) -> tuple[dict[str, mpmath.mpf], dict[str, np.ndarray], dict[str, bool], list[str]]:
    """Prove (or refute) the exact path's values against the ball path's enclosures.

    ``exact``: an object with ``loss``, ``z_L``, ``grad_theta``, ``grad_x`` (mpf) and
    ``error_bound`` (mpf per quantity), e.g. an :class:`mforacle.exact.network.ExactResult`.
    ``ball``: a :class:`mforacle.ball.network.BallResult` of the same case. Returns
    ``(bound, entry_bound, proved, refutations)``: per quantity the rigorous bound
    ``max |v − m| + r`` (mpf, rounded up), the per-entry bounds (arrays shaped like the values),
    whether that bound is ``<= error_bound[q]``, and a description of every refuted entry.
    ``quantities``: the names compared (default the discrete network's; :func:`limit` passes
    :data:`LIMIT_QUANTITIES` with an exact limit result and a ball limit result).

    Raises:
        CertificationError: (``strict=True``) some entry's ``[v ± e_q]`` misses its ball.
        InvalidArgument: shapes differ or a value is not a finite mpf.
    """
    bound: dict[str, mpmath.mpf] = {}
    entries: dict[str, np.ndarray] = {}
    proved: dict[str, bool] = {}
    refuted: list[str] = []
    with flint.ctx.workprec(max(int(ball.prec), 64) + 64):
        for q in quantities:
            values = np.asarray(exact.loss if q == "loss" else getattr(exact, q), dtype=object)
            balls = ball.get(q)
            if values.shape != balls.shape:
                raise InvalidArgument(q, f"shape {values.shape}",
                                      f"the ball result has shape {balls.shape}")
            if q not in exact.error_bound:
                raise InvalidArgument("exact.error_bound", q, "the exact result states no bound")
            e_q = arb_of_mpf(exact.error_bound[q])
            worst = arb(0)
            per = np.empty(values.shape, dtype=object)
            for idx, v, b in zip(np.ndindex(*values.shape), _flat(values), _flat(balls),
                                 strict=True):
                dist = abs(arb_of_mpf(v) - b.mid())
                up = (dist + b.rad()).upper()
                per[idx] = mpf_upper(up)
                if up > worst or not up.is_finite():
                    worst = up
                if (dist - b.rad() - e_q) > 0:  # certain: [v ± e_q] misses the ball
                    refuted.append(
                        f"{q}{list(idx) if idx else ''}: exact value {mpmath.nstr(v, 20)} with "
                        f"stated error {mpmath.nstr(exact.error_bound[q], 3)} lies outside the "
                        f"certified ball {b.str(20)}"
                    )
            bound[q] = mpf_upper(worst)
            entries[q] = per
            proved[q] = bool(worst <= e_q)
    if refuted and strict:
        raise CertificationError(refuted)
    return bound, entries, proved, refuted


def evaluate(
    model: Any,
    theta: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    *,
    dps: int = 30,
    certify: bool = True,
) -> CertifiedReference:
    """The exact path's loss, trajectory, adjoint and gradients at ``dps`` digits, certified.

    Shapes as in :func:`mforacle.exact.network.evaluate`: ``theta`` ``(L, M, 2d+1)``, ``x``
    ``(N, d)``, ``y`` ``(N,)``, ``weights`` ``(N,)`` or ``None``. With ``certify=True``
    (default) ``error_bound`` is rigorous (module docstring); with ``False`` it is the exact
    path's confirmed estimate.

    Raises:
        InvalidArgument: malformed inputs (validated by the exact path first) or ``certify``
            not a bool.
        CertificationError: an exact value is proved wrong by the ball path (a bug).
    """
    from .exact.network import evaluate as exact_evaluate

    if not isinstance(certify, bool):
        raise InvalidArgument("certify", certify, "expected True or False")
    ex = exact_evaluate(model, theta, x, y, weights, dps=dps, confirm=True)
    common = {
        "dps": ex.dps, "loss": ex.loss, "z": ex.z, "q": ex.q, "grad_theta": ex.grad_theta,
        "estimate": dict(ex.error_bound), "working_dps": ex.working_dps,
        "confirm_dps": ex.confirm_dps,
    }
    if not certify:
        return CertifiedReference(error_bound=dict(ex.error_bound), error_bound_kind="estimate",
                                  **common)
    from .ball.network import evaluate as ball_evaluate

    ball = ball_evaluate(model, theta, x, y, weights, dps=ex.dps + EXTRA_DIGITS)
    bound, entries, proved, _ = _certify(ex, ball)
    return CertifiedReference(error_bound=bound, error_bound_kind="rigorous",
                              entry_bound=entries, proved=proved, ball=ball, **common)


def printed_bounds(
    printed: dict[str, Any], ball: Any, *, quantities: tuple[str, ...] = QUANTITIES
) -> tuple[dict[str, mpmath.mpf], dict[str, np.ndarray]]:
    """Rigorous bounds on ``|printed − true|`` for decimal strings written for ``ball``'s case.

    ``printed`` maps each of :data:`QUANTITIES` to the (nested) decimal strings actually
    written; each string is read by Arb as a ball that contains the decimal exactly, so the
    bound ``|text − m| + r`` (rounded up) covers the decimal rounding of the printout too.
    Returns ``(max per quantity, per-entry arrays)`` as mpf upper bounds.

    Raises:
        InvalidArgument: a shape differs from the ball result's or a string is not a decimal.
    """
    bound: dict[str, mpmath.mpf] = {}
    entries: dict[str, np.ndarray] = {}
    with flint.ctx.workprec(max(int(ball.prec), 64) + 64):
        for q in quantities:
            texts = np.asarray(printed[q], dtype=object)
            balls = ball.get(q)
            if texts.shape != balls.shape:
                raise InvalidArgument(q, f"shape {texts.shape}",
                                      f"the ball result has shape {balls.shape}")
            worst = arb(0)
            per = np.empty(texts.shape, dtype=object)
            for idx, t, b in zip(np.ndindex(*texts.shape), _flat(texts), _flat(balls),
                                 strict=True):
                try:
                    v = arb(str(t))
                except (ValueError, TypeError):
                    raise InvalidArgument(q, t, "not a decimal number") from None
                up = (abs(v - b.mid()) + b.rad()).upper()
                per[idx] = mpf_upper(up)
                if up > worst or not up.is_finite():
                    worst = up
            bound[q] = mpf_upper(worst)
            entries[q] = per
    return bound, entries


_certify = certify  # the module-level name, shadowed by evaluate's keyword argument


# ------------------------------------------------------------------------------------------
# the mean-field limit (measure cases): the exact GBS solver certified by the ball solver
# ------------------------------------------------------------------------------------------
#: quantities of a limit result (``docs/case-format.md``)
LIMIT_QUANTITIES = ("energy", "Z1", "first_variation", "velocity")
#: the ball solver's target is this factor below the exact path's smallest stated error
LIMIT_BALL_FACTOR = 100


@dataclass(frozen=True)
class CertifiedLimit:
    """The exact limit solver's values with a rigorous (or, uncertified, estimated) bound.

    ``energy`` (mpf), ``Z1`` ``(N, d)``, ``first_variation`` ``(P,)``, ``velocity`` ``(P, k)``:
    the exact path's values (:func:`mforacle.exact.limit.solve`). ``error_bound`` per quantity,
    absolute, max over entries: rigorous when ``error_bound_kind == "rigorous"`` (``|v − m| +
    r`` against the ball solver's enclosure), else the exact path's confirmed estimate.
    ``estimate``: the exact path's own bound. ``proved[q]``: the rigorous bound is within the
    estimate. ``exact``/``ball``: the two solver results (``ball`` is ``None`` uncertified).
    """

    dps: int
    energy: mpmath.mpf
    Z1: np.ndarray
    first_variation: np.ndarray
    velocity: np.ndarray
    error_bound: dict[str, mpmath.mpf]
    error_bound_kind: str
    estimate: dict[str, mpmath.mpf]
    entry_bound: dict[str, np.ndarray] = field(default_factory=dict)
    proved: dict[str, bool] = field(default_factory=dict)
    exact: Any = None
    ball: Any = None

    @property
    def certified(self) -> bool:
        """Whether ``error_bound`` is rigorous."""
        return self.error_bound_kind == "rigorous"

    def get(self, name: str) -> Any:
        """Quantity ``name`` (``energy`` a scalar mpf, the others object arrays)."""
        if name not in LIMIT_QUANTITIES:
            raise InvalidArgument("name", name, f"expected one of {list(LIMIT_QUANTITIES)}")
        return getattr(self, name)


def present_quantities(probes: int) -> tuple[str, ...]:
    """The limit quantities with at least one entry (no probes: energy and ``Z1`` only)."""
    return LIMIT_QUANTITIES if probes else LIMIT_QUANTITIES[:2]


def limit(
    model: Any,
    measure: Any,
    x: Any,
    y: Any,
    weights: Any = None,
    probes: Any = (),
    *,
    dps: int = 30,
    tol: Any = None,
    segments: int = 2,
    certify: bool = True,
    progress: Any = None,
) -> CertifiedLimit:
    """The exact limit solver's energy, ``Z(1)``, first variation and velocity, certified.

    Runs :func:`mforacle.exact.limit.solve` (``dps``, ``tol``, ``segments`` as there), then —
    with ``certify=True``, the default — :func:`mforacle.ball.limit.solve` with a target
    :data:`LIMIT_BALL_FACTOR` times below the smallest stated error, and bounds every entry by
    ``|v − m| + r`` (module docstring). ``progress``: an optional ``callable(str)`` for one-line
    progress messages of both solvers.

    Raises:
        InvalidArgument: malformed inputs (validated by the exact path first) or ``certify``
            not a bool.
        CertificationError: an exact value is proved wrong by the ball enclosure (a bug).
        mforacle.ball.limit.NotCertified: the ball solver cannot enclose this case.
    """
    from .exact.limit import solve as exact_solve

    if not isinstance(certify, bool):
        raise InvalidArgument("certify", certify, "expected True or False")
    ex = exact_solve(model, measure, x, y, weights, probes, dps=dps, tol=tol, segments=segments,
                     progress=progress)
    P = len(ex.first_variation)
    quantities = present_quantities(P)
    estimate = {q: ex.error_bound[q] for q in LIMIT_QUANTITIES if q in ex.error_bound}
    common = {"dps": ex.dps, "energy": ex.energy, "Z1": ex.Z1,
              "first_variation": ex.first_variation, "velocity": ex.velocity,
              "estimate": estimate, "exact": ex}
    if not certify:
        return CertifiedLimit(error_bound=dict(estimate), error_bound_kind="estimate", **common)
    from fractions import Fraction

    from .ball.limit import solve as ball_solve

    smallest = min(estimate[q] for q in quantities)
    with mpmath.workdps(30):
        target = Fraction(mpmath.nstr(smallest / LIMIT_BALL_FACTOR, 3))
    ball = ball_solve(model, measure, x, y, weights, probes, tol=target, progress=progress)
    bound, entries, proved, _ = certify_limit(ex, ball, quantities)
    for q in LIMIT_QUANTITIES:
        if q not in bound:  # no probes: nothing to bound
            bound[q] = mpmath.mpf(0)
            proved[q] = True
    return CertifiedLimit(error_bound=bound, error_bound_kind="rigorous", entry_bound=entries,
                          proved=proved, ball=ball, **common)


def certify_limit(
    exact: Any, ball: Any, quantities: tuple[str, ...] = LIMIT_QUANTITIES, *, strict: bool = True
) -> tuple[dict[str, mpmath.mpf], dict[str, np.ndarray], dict[str, bool], list[str]]:
    """:func:`certify` for the limit's quantities (``exact``: an exact limit result, ``ball``: a
    :class:`mforacle.ball.limit.BallLimitResult`)."""
    return _certify(exact, ball, strict=strict, quantities=quantities)
