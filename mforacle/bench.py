"""Benchmark: fast-path forward+gradient time over a size ladder; exact- and ball-path cost per
case, the three arithmetics side by side; the certified limit solver's cost ladder over ``tol``.

Run ``python -m mforacle.bench`` (full ladder, up to d = 16, L = 128, M = 512, N = 256) or
``python -m mforacle.bench --quick``. Times are medians over repeats of ``time.perf_counter``
around one call; inputs are fixed-seed Gaussian. Not a test: numbers depend on the machine (the
header prints it). Results of a run are recorded in docs/bench.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from datetime import date

import numpy as np

from mforacle.fast import network as fast_network
from mforacle.model import Model

__all__ = ["main", "median_time"]

FAST_LADDER = [  # (d, L, M, N)
    (2, 4, 8, 16),
    (4, 16, 32, 32),
    (8, 32, 128, 64),
    (16, 64, 256, 128),
    (16, 128, 512, 256),
]
QUICK_FAST_LADDER = FAST_LADDER[:3]
EXACT_LADDER = [(1, 2, 2, 2), (2, 4, 4, 4), (2, 8, 8, 4)]
QUICK_EXACT_LADDER = EXACT_LADDER[:2]
#: the ball path on the exact ladder plus sizes beyond the exact path's reach
BALL_EXTRA = [(4, 32, 32, 8)]


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _case(d: int, L: int, M: int, N: int, activation: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    model = Model.create(d, activation, None, 0.25)
    theta = rng.normal(size=(L, M, 2 * d + 1))
    x, y = rng.normal(size=(N, d)), rng.normal(size=N)
    return model, theta, x, y


def machine_info() -> str:
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = cfg["Build Dependencies"]["blas"].get("name", "unknown")
    except Exception:  # informational only
        pass
    return (
        f"{date.today().isoformat()}; {platform.processor() or platform.machine()}; "
        f"{os.cpu_count()} cpus; Python {platform.python_version()}; NumPy {np.__version__} "
        f"(BLAS {blas}); OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '-')}"
    )


def run_fast(ladder, activations, repeats: int) -> list[str]:
    rows = [
        "| d | L | M | N | activation | loss_and_grad (s) | evaluate (s) | neuron-evals/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(rows))
    for d, L, M, N in ladder:
        for act in activations:
            model, theta, x, y = _case(d, L, M, N, act)
            w = np.full(N, 1.0 / N)
            t_lg = median_time(lambda: fast_network.loss_and_grad(model, theta, x, y, w), repeats)  # noqa: B023
            t_ev = median_time(lambda: fast_network.evaluate(model, theta, x, y, w), repeats)  # noqa: B023
            rate = L * M * N / t_lg
            rows.append(f"| {d} | {L} | {M} | {N} | {act} | {t_lg:.4g} | {t_ev:.4g} | {rate:.3g} |")
            print(rows[-1], flush=True)
    return rows


def run_exact(ladder, dps_list, repeats: int) -> list[str]:
    try:
        from mforacle.exact import network as exact_network
    except ImportError:
        note = "exact path (mforacle.exact.network) not available: skipped"
        print(note)
        return [note]
    rows = [
        "| d | L | M | N | dps | evaluate, confirmed (s) | loss only (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    print("\n".join(rows))
    for d, L, M, N in ladder:
        model, theta, x, y = _case(d, L, M, N, "tanh")
        for dps in dps_list:
            t_ev = median_time(lambda: exact_network.evaluate(model, theta, x, y, dps=dps), repeats)  # noqa: B023
            t_l = median_time(lambda: exact_network.loss(model, theta, x, y, dps=dps), repeats)  # noqa: B023
            rows.append(f"| {d} | {L} | {M} | {N} | {dps} | {t_ev:.4g} | {t_l:.4g} |")
            print(rows[-1], flush=True)
    return rows


def run_three(ladder, dps_list, repeats: int, extra=()) -> list[str]:
    """Exact (mpmath, confirmed), ball (Arb, rigorous) and fast (float64) ``evaluate`` on the
    same cases (tanh, κ = 1/4); ``speed-up`` = exact time / ball time. ``extra`` sizes run the
    ball and fast paths only."""
    from mforacle.ball import network as ball_network

    try:
        from mforacle.exact import network as exact_network
    except ImportError:
        exact_network = None
    rows = [
        "| d | L | M | N | dps | exact, confirmed (s) | ball, rigorous (s) | speed-up | "
        "ball bits | fast float64 (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(rows))
    for size in [*ladder, *extra]:
        d, L, M, N = size
        model, theta, x, y = _case(d, L, M, N, "tanh")
        t_f = median_time(lambda: fast_network.evaluate(model, theta, x, y), repeats)  # noqa: B023
        for dps in dps_list:
            t_b = median_time(lambda: ball_network.evaluate(model, theta, x, y, dps=dps), repeats)  # noqa: B023
            bits = ball_network.evaluate(model, theta, x, y, dps=dps).prec
            if exact_network is not None and size not in extra:
                t_e = median_time(
                    lambda: exact_network.evaluate(model, theta, x, y, dps=dps), repeats)  # noqa: B023
                te, sp = f"{t_e:.4g}", f"{t_e / t_b:.1f}×"
            else:
                te, sp = "–", "–"
            rows.append(f"| {d} | {L} | {M} | {N} | {dps} | {te} | {t_b:.4g} | {sp} | {bits} | "
                        f"{t_f:.3g} |")
            print(rows[-1], flush=True)
    return rows


LIMIT_TOLS = ("1e-10", "1e-15", "1e-20", "1e-25", "1e-30")
QUICK_LIMIT_TOLS = ("1e-10", "1e-20")
LIMIT_REFERENCE_TOL = "1e-40"


def run_limit(tols, reference_tol: str = LIMIT_REFERENCE_TOL) -> list[str]:
    """The certified limit solver (:func:`mforacle.ball.limit.solve`) on the bundled measure
    cases over a ladder of target tolerances: CPU and wall time of one run, Taylor steps, largest
    quadrature grid, the largest rigorous bound, and per field ``bound / true error`` (true
    error = ``max |midpoint − midpoint of a run at reference_tol|``), worst and best field."""
    from pathlib import Path

    from flint import ctx

    from mforacle.ball.limit import LIMIT_QUANTITIES, solve
    from mforacle.caseio import read_case

    rows = [
        "| case | tol | CPU (s) | wall (s) | steps | grid nodes | max bound | "
        "bound/true (worst … best field) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(rows))
    examples = Path(__file__).resolve().parent / "examples"
    for path in sorted(examples.glob("measure_*.json")):
        case = read_case(path)
        d = case.data

        def run(tol: str, case=case, d=d):  # type: ignore[no-untyped-def]
            return solve(case.model, case.measure, d.x, d.y, d.weights, case.probes, tol=tol)

        ref = run(reference_tol)
        for tol in tols:
            c0, w0 = time.process_time(), time.perf_counter()
            r = run(tol)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            ratios = []
            with ctx.workprec(max(r.prec, ref.prec) + 64):
                for q in LIMIT_QUANTITIES:
                    a, b = r.get(q).reshape(-1), ref.get(q).reshape(-1)
                    if not len(a):
                        continue
                    err = max(float(abs(x.mid() - y.mid()).upper()) for x, y in
                              zip(a, b, strict=True))
                    rad = max(float(x.rad()) for x in a)
                    ratios.append(rad / err if err > 0 else float("inf"))
            bound = max(float(v) for v in r.error_bound.values())
            rows.append(f"| {path.stem} | {tol} | {cpu:.3g} | {wall:.3g} | {r.stats['steps']} | "
                        f"{r.stats['quad_nodes']} | {bound:.2g} | {max(ratios):.3g} … "
                        f"{min(ratios):.3g} |")
            print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mforacle.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small ladders, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per size")
    parser.add_argument(
        "--activations",
        default="tanh,erf",
        help="comma-separated activations for the fast ladder (default tanh,erf)",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    acts = [a.strip() for a in args.activations.split(",") if a.strip()]
    for a in acts:
        Model.create(1, a)  # validates the names before any timing
    print(f"# mforacle bench — {machine_info()}\n")
    print("## Fast path (NumPy float64), median of", repeats, "repeats\n")
    run_fast(QUICK_FAST_LADDER if args.quick else FAST_LADDER, acts, repeats)
    print("\n## Exact path (mpmath), one case, median of", max(1, repeats // 2), "repeats\n")
    run_exact(QUICK_EXACT_LADDER if args.quick else EXACT_LADDER, (30, 60), max(1, repeats // 2))
    print("\n## Three arithmetics side by side (evaluate: loss, z, adjoint, gradients), median of",
          repeats, "repeats\n")
    run_three(QUICK_EXACT_LADDER if args.quick else EXACT_LADDER, (30, 60), repeats,
              extra=() if args.quick else BALL_EXTRA)
    print("\n## Certified mean-field limit (ball solver) on the bundled measure cases\n")
    run_limit(QUICK_LIMIT_TOLS if args.quick else LIMIT_TOLS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
