"""The verdict of one check: plain, JSON-serializable data.

A verdict says what was measured (``figure``), what it was held to (``bound``, with the
``relation`` that must hold), whether it held (``status``), which code produced each number it
compares (``provenance``), and the evidence that lets anyone reproduce it: the case, seeds,
ladders, fits and confidence levels, and the error model the bound came from.

``provenance`` maps each compared number to who computed it: ``"measured"`` (the numbers the
figure is made of: the implementation under test, named by its ``module:object`` source or its
name, or a ``mforacle.*`` module when mforacle checks its own code), ``"reference"`` (what they
are compared with, e.g. ``"mforacle.exact.network"``) and, where the bound is computed rather
than stated, ``"bound"`` (e.g. ``"mforacle.tolerance"``). A verdict about an implementation names
it there; a verdict whose every entry is a ``mforacle.*`` module is about mforacle's own code
(:func:`builtin_only`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "not checked", "error"]
Relation = Literal["<=", ">=", "in", "=="]

__all__ = ["Relation", "Status", "Verdict", "builtin_only", "code_name", "decide", "violation"]


def decide(figure: float, relation: Relation, bound: Any) -> bool:
    """Whether ``figure relation bound`` holds. NaN never holds."""
    if figure is None or (isinstance(figure, float) and math.isnan(figure)):
        return False
    if relation == "<=":
        return figure <= bound
    if relation == ">=":
        return figure >= bound
    if relation == "==":
        return figure == bound
    lo, hi = bound
    return lo <= figure <= hi


@dataclass(frozen=True)
class Verdict:
    """Outcome of one claim on one case (or one experiment)."""

    claim: str  # claim id, e.g. "A1" or "C3.depth"
    title: str  # one line, in the paper's terms
    status: Status
    figure: float | None = None  # the measured number
    relation: Relation = "<="
    bound: Any = None  # a number, or [lo, hi] for relation "in"
    error_model: str = ""  # where the bound comes from
    reason: str = ""  # why it failed / was not checked, or a note
    evidence: dict[str, Any] = field(default_factory=dict)  # JSON-able: case, seeds, fits ...
    provenance: dict[str, str] = field(default_factory=dict)  # number -> the code that made it

    @classmethod
    def measured(
        cls,
        claim: str,
        title: str,
        figure: float,
        relation: Relation,
        bound: Any,
        *,
        error_model: str = "",
        reason: str = "",
        evidence: dict[str, Any] | None = None,
        provenance: dict[str, str] | None = None,
    ) -> Verdict:
        """A verdict decided by comparing ``figure`` with ``bound``; ``provenance`` names the
        code behind the measured numbers, the reference and the bound (module docstring)."""
        ok = decide(figure, relation, bound)
        return cls(
            claim,
            title,
            "pass" if ok else "fail",
            float(figure),
            relation,
            bound,
            error_model,
            reason,
            evidence or {},
            dict(provenance or {}),
        )

    @classmethod
    def not_checked(cls, claim: str, title: str, reason: str) -> Verdict:
        return cls(claim, title, "not checked", reason=reason)

    @classmethod
    def errored(
        cls,
        claim: str,
        title: str,
        reason: str,
        evidence: dict[str, Any] | None = None,
        provenance: dict[str, str] | None = None,
    ) -> Verdict:
        """The implementation raised, hung, or returned something unusable."""
        return cls(
            claim,
            title,
            "error",
            reason=reason,
            evidence=evidence or {},
            provenance=dict(provenance or {}),
        )

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")

    def summary(self) -> str:
        """One line: ``A1 pass: 3.1e-15 <= 2.2e-13 (reason)``; a failure reads as the violation,
        ``H1.forward fail: 3.9e-12 > allowed 2.9e-13 (13.6×) (reason)``."""
        if self.figure is None:
            return f"{self.claim} {self.status}: {self.reason}"
        tail = f" ({self.reason})" if self.reason else ""
        if self.status == "fail":
            return f"{self.claim} fail: {violation(self.figure, self.relation, self.bound)}{tail}"
        held = f"{self.figure:.4g} {self.relation} {_num(self.bound)}"
        return f"{self.claim} {self.status}: {held}{tail}"

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    def assert_passed(self) -> None:
        """For pytest: raise AssertionError with the figures and evidence unless passed."""
        if self.status != "pass":
            import json

            raise AssertionError(
                self.summary() + "\n" + json.dumps(self.to_json()["evidence"], indent=1)[:4000]
            )


def _num(bound: Any) -> str:
    if isinstance(bound, list | tuple):
        return "[" + ", ".join(f"{v:.4g}" for v in bound) + "]"
    return f"{bound:.4g}" if isinstance(bound, float | int) else str(bound)


def violation(figure: float, relation: Relation, bound: Any) -> str:
    """How ``figure`` breaks ``figure relation bound``, for a person: ``3.9e-12 > allowed
    2.9e-13 (13.6×)``, ``1.2 < required 1.8``, ``0.21 outside [-1.15, -0.85]``, ``nan (not a
    number) where <= 1 was required``."""
    if figure is None or math.isnan(figure):
        return f"nan (not a number) where {relation} {_num(bound)} was required"
    if relation == "<=":
        times = f" ({figure / bound:.3g}×)" if isinstance(bound, float | int) and bound > 0 else ""
        return f"{figure:.2g} > allowed {bound:.2g}{times}"
    if relation == ">=":
        return f"{figure:.3g} < required {_num(bound)}"
    if relation == "in":
        return f"{figure:.4g} outside {_num(bound)}"
    return f"{figure:.4g} != {_num(bound)}"


def code_name(fn: Any) -> str:
    """``module.qualname`` of a function (for :attr:`Verdict.provenance`)."""
    mod = getattr(fn, "__module__", None) or ""
    qual = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    return f"{mod}.{qual}" if mod else str(qual)


def builtin_only(v: Verdict) -> bool:
    """Whether every number ``v`` compares was computed by mforacle's own code (``mforacle.*``
    in every provenance entry); ``False`` for a verdict without provenance."""
    return bool(v.provenance) and all(
        str(who) == "mforacle" or str(who).startswith("mforacle.") for who in v.provenance.values()
    )


def _jsonable(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)
