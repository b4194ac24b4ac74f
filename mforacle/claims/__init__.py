"""The paper's claims as reusable checks, and the registry ``CLAIMS`` that runs them.

Each claim id of ``docs/claims.md`` (A1–A5, B1–B5, C1–C5) has a :class:`ClaimSpec`:
its title, the members of the implementation protocol it needs (:mod:`mforacle.protocol`:
``forward``, ``loss``, ``gradient``, ``train_step``), the experiment sizes per effort profile
(``dev`` / ``ci`` / ``thorough``, see :mod:`mforacle.profiles`), and
``run(impl, profile) -> list[Verdict]``, which builds the built-in experiment (seeded, so it
reproduces) and calls the ``check_*`` functions of the group modules on the implementation,
through the claims' one adapter :class:`mforacle.claims.subject.ClaimSubject`:

- :mod:`mforacle.claims.exactness` — A1–A5 (fast vs exact, gradients, adjoint, invariances);
- :mod:`mforacle.claims.limit` — B1–B5 (depth and width limits, expectations, first variation);
- :mod:`mforacle.claims.decay` — C1, C2 (loss decay, dissipation; discrete and flow);
- :mod:`mforacle.claims.theorem6` — C3 (Theorem 6, depth and width);
- :mod:`mforacle.claims.zero_loss` — C4, C5 (zero loss, the isotonic floor).

A claim that needs a member the implementation lacks is *not checked*, with the reason (never
computed with mforacle's own code in its place); a claim whose code raises yields an "error"
verdict with the exception. Claims that need nothing (``needs == ()``: A4, B1, B2, B4, B5, C5)
check mforacle's own code (the exact path, the limit solvers, the particle flow): they run for
``mforacle claims`` and ``mforacle report``, never in a third-party report.

**Parts.** A claim whose experiment splits into independent pieces (ladder rungs, blocks of
seeds, its reference solve) says so with three functions in its module, next to ``run_<id>``:
``parts_<id>(sizes) -> list[Part]`` (each with a stable ``key`` such as
``"paths/M=64/seeds 3000-3999"`` and the keyword arguments of its piece),
``part_<id>(subject, sizes, **kwargs)`` (one piece; a pure function of its arguments: seeds
come from the part's identity, never from the order pieces run in) and
``finish_<id>(subject, sizes, results) -> list[Verdict]`` (``results``: part key -> value).
:meth:`ClaimSpec.run` then runs the parts one after another and finishes;
:mod:`mforacle.scale` runs them as separate tasks (``--workers``, ``--scheduler``) — the same
functions, so the verdicts are the same.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mforacle.errors import InvalidArgument
from mforacle.profiles import check_profile
from mforacle.verdict import Verdict

from .subject import ClaimSubject, builtin_subject

__all__ = [
    "CLAIMS",
    "ClaimSpec",
    "ClaimSubject",
    "Part",
    "PartResult",
    "check_profile",
    "run_claim",
    "select",
]


@dataclass(frozen=True)
class Part:
    """One independent piece of a claim's experiment: ``key`` (its identity within the claim)
    and the keyword arguments of ``part_<id>(subject, sizes, **kwargs)``."""

    key: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PartResult:
    """What a part gave: ``value`` when ``ok``, else the exception (``error``, ``traceback``)."""

    key: str
    ok: bool
    value: Any = None
    error: str = ""
    traceback: str = ""


@dataclass(frozen=True)
class ClaimSpec:
    """One claim: id, title, what it needs, how to run it, and its sizes per profile."""

    id: str
    title: str
    needs: tuple[str, ...]  # protocol members (mforacle.protocol.MEMBERS); () = mforacle's own
    module: str  # mforacle.claims.<module> holding ``run_<id>(impl, sizes) -> list[Verdict]``
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return self.id[0]

    @property
    def function(self) -> Callable[..., list[Verdict]]:
        mod = importlib.import_module(f"mforacle.claims.{self.module}")
        return getattr(mod, f"run_{self.id.lower()}")

    def sizes_for(self, profile: str) -> dict[str, Any]:
        return dict(self.sizes.get(check_profile(profile), {}))

    def _module_function(self, prefix: str) -> Callable[..., Any] | None:
        mod = importlib.import_module(f"mforacle.claims.{self.module}")
        return getattr(mod, f"{prefix}_{self.id.lower()}", None)

    def _unchecked(self, subject: ClaimSubject) -> list[Verdict] | None:
        """A "not checked" verdict when ``subject`` lacks a member the claim needs, else None."""
        gone = subject.lacks(self.needs)
        if gone:
            return [
                Verdict.not_checked(
                    self.id,
                    self.title,
                    f"the implementation lacks {', '.join(gone)} (mforacle.protocol)",
                )
            ]
        return None

    def _errored(self, subject: ClaimSubject, exc: BaseException, **extra: Any) -> list[Verdict]:
        return [
            Verdict.errored(
                self.id,
                self.title,
                f"{type(exc).__name__}: {exc}",
                {"traceback": traceback.format_exc()[-3000:], **extra},
                {"measured": subject.label},
            )
        ]

    def plan(self, impl: Any, profile: str = "ci") -> list[Part]:
        """The claim's independent parts on ``impl`` (module docstring, "Parts"); ``[]`` when it
        runs as one piece or will not be checked (the subject lacks a member it needs)."""
        if self._unchecked(ClaimSubject.of(impl)) is not None:
            return []
        fn = self._module_function("parts")
        return [] if fn is None else list(fn(self.sizes_for(profile)))

    def run_part(self, impl: Any, profile: str, part: Part) -> PartResult:
        """One part on ``impl``; never raises for the implementation's faults (they are
        recorded in the result and become the claim's ``error`` verdict in :meth:`finish`)."""
        subject = ClaimSubject.of(impl)
        fn = self._module_function("part")
        try:
            if fn is None:
                raise AttributeError(f"mforacle.claims.{self.module} has no part_{self.id.lower()}")
            return PartResult(part.key, True, fn(subject, self.sizes_for(profile), **part.kwargs))
        except Exception as exc:  # the implementation (or a module it calls) failed
            return PartResult(
                part.key,
                False,
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc()[-3000:],
            )

    def finish(self, impl: Any, profile: str, results: Mapping[str, PartResult]) -> list[Verdict]:
        """The claim's verdicts from its parts' results (``error`` if a part failed)."""
        subject = ClaimSubject.of(impl)
        for r in results.values():
            if not r.ok:
                return [
                    Verdict.errored(
                        self.id,
                        self.title,
                        r.error,
                        {"traceback": r.traceback, "part": r.key},
                        {"measured": subject.label},
                    )
                ]
        fn = self._module_function("finish")
        try:
            if fn is None:
                raise AttributeError(
                    f"mforacle.claims.{self.module} has no finish_{self.id.lower()}"
                )
            values = {k: r.value for k, r in results.items()}
            return list(fn(subject, self.sizes_for(profile), values))
        except Exception as exc:  # the implementation (or a module it calls) failed
            return self._errored(subject, exc)

    def run(self, impl: Any, profile: str = "ci") -> list[Verdict]:
        """The claim's verdicts on ``impl`` (a :class:`ClaimSubject`, or any object with the
        protocol's members, called directly); never raises for the implementation's faults.
        A claim with parts runs them here one after another, then finishes (module docstring)."""
        subject = ClaimSubject.of(impl)
        sizes = self.sizes_for(profile)
        unchecked = self._unchecked(subject)
        if unchecked is not None:
            return unchecked
        parts = self.plan(subject, profile)
        if parts:
            return self.finish(
                subject, profile, {p.key: self.run_part(subject, profile, p) for p in parts}
            )
        fn = self.function
        try:
            return list(fn(subject, sizes))
        except Exception as exc:  # the implementation (or a module it calls) failed
            return self._errored(subject, exc)


def _sizes(
    dev: dict[str, Any], ci: dict[str, Any] | None = None, thorough: dict[str, Any] | None = None
) -> dict[str, dict[str, Any]]:
    ci = dev if ci is None else {**dev, **ci}
    return {"dev": dev, "ci": ci, "thorough": {**ci, **(thorough or {})}}


#: what the discrete training claims call: the loss, its gradient (the stable step) and GD steps
_TRAIN = ("loss", "gradient", "train_step")

CLAIMS: dict[str, ClaimSpec] = {
    spec.id: spec
    for spec in [
        ClaimSpec(
            "A1",
            "fast path = exact path within a derived error model",
            ("forward",),
            "exactness",
            _sizes({"cases": 4}, thorough={"cases": 24}),
        ),
        ClaimSpec(
            "A2",
            "gradients are derivatives of the loss (Taylor remainder O(h²))",
            ("gradient",),
            "exactness",
            _sizes({"cases": 3}, thorough={"cases": 12}),
        ),
        ClaimSpec(
            "A3",
            "the adjoint q_0 is the state gradient ∂ℓ/∂x",
            ("gradient",),
            "exactness",
            _sizes({"cases": 3}, thorough={"cases": 12}),
        ),
        ClaimSpec(
            "A4",
            "the exact path's reported digits lie inside the certified enclosure",
            (),
            "exactness",
            _sizes({"cases": 2}, thorough={"cases": 8}),
        ),
        ClaimSpec(
            "A5",
            "mean-field invariances: permuting and duplicating neurons",
            ("forward",),
            "exactness",
            _sizes({"cases": 3}, thorough={"cases": 12}),
        ),
        ClaimSpec(
            "B1",
            "discrete -> continuous in depth, order 1",
            (),
            "limit",
            _sizes(
                {"ladder": [8, 16, 32, 64, 128, 256]},
                thorough={"ladder": [8, 16, 32, 64, 128, 256, 512, 1024]},
            ),
        ),
        ClaimSpec(
            "B2",
            "L·M ∂E/∂θ -> V(θ, l/L), order 1",
            (),
            "limit",
            _sizes(
                {"ladder": [8, 16, 32, 64, 128, 256]},
                thorough={"ladder": [8, 16, 32, 64, 128, 256, 512, 1024]},
            ),
        ),
        ClaimSpec(
            "B3",
            "width: mean-square error O(1/M)",
            ("loss",),
            "limit",
            _sizes(
                {"ladder": [4, 8, 16, 32, 64, 128, 256, 512], "seeds": 1000, "block": 500},
                thorough={
                    "ladder": [4, 8, 16, 32, 64, 128, 256, 512, 1024],
                    "seeds": 4000,
                    "block": 1000,
                },
            ),
        ),
        ClaimSpec(
            "B4",
            "exact Gaussian expectations vs Monte Carlo and tensor quadrature",
            (),
            "limit",
            _sizes({"samples": 20000}, thorough={"samples": 400000}),
        ),
        ClaimSpec(
            "B5",
            "first variation δE/δρ is the directional derivative",
            (),
            "limit",
            _sizes({"cases": 2}, thorough={"cases": 8}),
        ),
        ClaimSpec(
            "C1",
            "GD below the computed stable step decreases the loss as first-order theory predicts",
            _TRAIN,
            "decay",
            _sizes(
                {"cases": 3, "steps": 40, "flow_steps": 20},
                thorough={"cases": 8, "steps": 200, "flow_steps": 100},
            ),
        ),
        ClaimSpec(
            "C2",
            "energy dissipation dE/ds = −L·M|∇E|², −∫∫|V|² dρ dt (order Δs)",
            _TRAIN,
            "decay",
            _sizes(
                {"cases": 2, "horizon_steps": 8, "halvings": 3},
                thorough={"cases": 6, "halvings": 4},
            ),
        ),
        ClaimSpec(
            "C3",
            "Theorem 6: trained network -> trained limit (1/L, 1/M)",
            ("loss", "train_step"),
            "theorem6",
            _sizes(
                {
                    "depth_ladder": [4, 8, 16, 32, 64, 128],
                    "width_ladder": [4, 8, 16, 32, 64, 128, 256],
                    "seeds": 300,
                    "block": 150,
                    "M_depth": 4,
                    "L_width": 4,
                    "s": 1.0,
                },
                thorough={
                    "depth_ladder": [4, 8, 16, 32, 64, 128, 256],
                    "width_ladder": [4, 8, 16, 32, 64, 128, 256, 512],
                    "seeds": 1000,
                    "block": 250,
                },
            ),
        ),
        ClaimSpec(
            "C4",
            "zero-loss limit on reachable data",
            _TRAIN,
            "zero_loss",
            _sizes(
                {"ladder": [[2, 4, 20.0], [4, 8, 80.0], [8, 16, 320.0]]},
                thorough={"ladder": [[2, 4, 20.0], [4, 8, 80.0], [8, 16, 320.0], [16, 32, 1280.0]]},
            ),
        ),
        ClaimSpec(
            "C5",
            "negative control: the limit's loss stays above the isotonic floor",
            (),
            "zero_loss",
            _sizes({"cases": 2, "s": 40.0}, thorough={"cases": 2, "s": 160.0}),
        ),
    ]
}


def select(claim: str | None) -> list[ClaimSpec]:
    """The specs for a claim id (``"C1"``), a group (``"C"``), or all (``None``)."""
    if claim is None:
        return list(CLAIMS.values())
    key = claim.strip().upper()
    if key in CLAIMS:
        return [CLAIMS[key]]
    group = [s for s in CLAIMS.values() if s.group == key]
    if group:
        return group
    raise InvalidArgument(
        "claim", claim, f"unknown claim; expected a group A/B/C or one of {list(CLAIMS)}"
    )


def run_claim(claim: str, impl: Any = None, profile: str = "ci") -> list[Verdict]:
    """Run one claim (or group) on ``impl`` (default: the built-in fast path, with the checks
    of mforacle's own code: :func:`mforacle.claims.subject.builtin_subject`)."""
    subject = builtin_subject() if impl is None else ClaimSubject.of(impl)
    out: list[Verdict] = []
    for spec in select(claim):
        out.extend(spec.run(subject, profile))
    return out
