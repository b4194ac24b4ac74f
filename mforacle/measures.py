"""Descriptions of the depth-indexed measures ``rho(., t)`` (``docs/model.md`` section 5).

Only the validated, exact description lives here. Evaluating expectations is the job of
``mforacle.exact.gaussian`` / ``mforacle.fast.gaussian``; sampling discrete networks is in
``mforacle.sampling``.

Gaussian depth-path (convention): ``theta(t) = c(t) + A(t) xi``, ``xi ~ N(0, I_r)``, with
``c: [0,1] -> R^k`` and ``A: [0,1] -> R^{k x r}`` polynomials in ``t`` given by coefficients,
lowest degree first. The marginal at depth ``t`` is ``N(c(t), A(t) A(t)^T)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import InvalidArgument
from .model import Model
from .numbers import exact_array, exact_scalar, exact_text, shape_of

__all__ = ["GaussianPath", "Probe"]

Poly = tuple[Fraction, ...]


def _poly(value: Any, field: str) -> Poly:
    if shape_of(value, field) == ():
        return (exact_scalar(value, field),)
    coeffs = exact_array(value, field, (None,))
    if len(coeffs) == 0:
        raise InvalidArgument(field, value, "a polynomial needs at least one coefficient")
    return tuple(coeffs.tolist())


def eval_poly_exact(coeffs: Poly, t: Fraction) -> Fraction:
    """Exact value of a polynomial with Fraction coefficients at a Fraction ``t`` (Horner)."""
    acc = Fraction(0)
    for c in reversed(coeffs):
        acc = acc * t + c
    return acc


@dataclass(frozen=True)
class GaussianPath:
    """``theta(t) = c(t) + A(t) xi`` with ``xi ~ N(0, I_r)``; coefficients exact."""

    k: int
    r: int
    c: tuple[Poly, ...]  # k polynomials
    A: tuple[tuple[Poly, ...], ...]  # k x r polynomials

    @classmethod
    def create(cls, model: Model, r: Any, c: Any, A: Any) -> GaussianPath:
        k = model.k
        if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= k:
            raise InvalidArgument("measure.r", r, f"expected an integer with 1 <= r <= k = {k}")
        if not isinstance(c, list | tuple) or len(c) != k:
            raise InvalidArgument("measure.c", c, f"expected k = {k} coefficient lists")
        cs = tuple(_poly(ci, f"measure.c[{i}]") for i, ci in enumerate(c))
        if not isinstance(A, list | tuple) or len(A) != k:
            raise InvalidArgument("measure.A", A, f"expected k = {k} rows of r = {r} entries")
        rows = []
        for i, row in enumerate(A):
            if not isinstance(row, list | tuple) or len(row) != r:
                raise InvalidArgument(f"measure.A[{i}]", row, f"expected r = {r} entries")
            rows.append(tuple(_poly(e, f"measure.A[{i}][{j}]") for j, e in enumerate(row)))
        return cls(k, r, cs, tuple(rows))

    def mean_at(self, t: Fraction) -> tuple[Fraction, ...]:
        """``c(t)``, exactly."""
        return tuple(eval_poly_exact(p, t) for p in self.c)

    def factor_at(self, t: Fraction) -> tuple[tuple[Fraction, ...], ...]:
        """``A(t)`` (k x r), exactly."""
        return tuple(tuple(eval_poly_exact(p, t) for p in row) for row in self.A)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "gaussian-path",
            "r": self.r,
            "c": [[exact_text(v) for v in p] for p in self.c],
            "A": [[[exact_text(v) for v in p] for p in row] for row in self.A],
        }


@dataclass(frozen=True)
class Probe:
    """A point ``(theta, t)`` at which ``dE/drho`` and ``V`` are requested."""

    t: Fraction
    theta: tuple[Fraction, ...]

    @classmethod
    def create(cls, model: Model, t: Any, theta: Any, field: str = "probe") -> Probe:
        tt = exact_scalar(t, f"{field}.t")
        if not 0 <= tt <= 1:
            raise InvalidArgument(f"{field}.t", t, "depth t must lie in [0, 1]")
        th = exact_array(theta, f"{field}.theta", (model.k,))
        return cls(tt, tuple(th.tolist()))

    def to_json(self) -> dict[str, Any]:
        return {"t": exact_text(self.t), "theta": [exact_text(v) for v in self.theta]}
