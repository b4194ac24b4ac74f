"""Claims C1–C5 (training, ``docs/claims.md`` §C): where each part lives.

This module only re-exports the public names, so ``from mforacle.claims.training import …``
keeps working. The code is in small modules with one job each:

- :mod:`mforacle.claims.training_cases` — :class:`TrainingCase`, :class:`FlowCase` and the
  built-in seeded cases;
- :mod:`mforacle.claims.training_runs` — running an implementation's trainer or flow, the
  reference particle flow, and the roundoff models (:func:`loss_roundoff`);
- :mod:`mforacle.claims.decay` — C1 (monotone decay) and C2 (dissipation identity), discrete
  and flow;
- :mod:`mforacle.claims.theorem6` — C3 (Theorem 6: depth and width);
- :mod:`mforacle.claims.zero_loss` — C4 (zero-loss ladder) and C5 (isotonic floor).
"""

from __future__ import annotations

from .decay import (
    ORDER_WINDOW,
    check_c1_discrete,
    check_c1_flow,
    check_c2_discrete,
    check_c2_flow,
    dissipation_discrepancy,
    run_c1,
    run_c2,
)
from .theorem6 import check_c3_depth, check_c3_width, run_c3
from .training_cases import (
    BUILTIN_CASES,
    FlowCase,
    TrainingCase,
    builtin_case,
    builtin_flow_case,
    builtin_nonmonotone_case,
    builtin_reachable_case,
)
from .training_runs import loss_roundoff
from .zero_loss import check_c4, check_c5, run_c4, run_c5

__all__ = [
    "BUILTIN_CASES",
    "ORDER_WINDOW",
    "FlowCase",
    "TrainingCase",
    "builtin_case",
    "builtin_flow_case",
    "builtin_nonmonotone_case",
    "builtin_reachable_case",
    "check_c1_discrete",
    "check_c1_flow",
    "check_c2_discrete",
    "check_c2_flow",
    "check_c3_depth",
    "check_c3_width",
    "check_c4",
    "check_c5",
    "dissipation_discrepancy",
    "loss_roundoff",
    "run_c1",
    "run_c2",
    "run_c3",
    "run_c4",
    "run_c5",
]
