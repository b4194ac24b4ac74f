"""Benchmark, side by side in one run: the fast path against its floor, PyTorch and JAX; the
exact path against a straightforward scalar mpmath implementation of the same formulas; the
three arithmetics (exact mpmath, Arb ball, fast float64) on the same cases; and the certified
limit solver's cost ladder over its target tolerance (``--skip-limit`` leaves it out).

Run ``python -m mforacle.bench`` (``--quick`` for a smaller size and fewer repeats). Not a test:
the numbers depend on the machine and its load (the header prints both). Figures of a run are
recorded in docs/bench.md.

**Fast path** at ``(d, L, M, N) = (16, 128, 512, 256)``, float64, forward + full gradient
``∂E/∂Θ`` (fixed-seed Gaussian ``Θ, x, y``; ``κ = 1/4``), for ``tanh`` and ``erf``, with 1 and 2
BLAS/OpenMP threads; each thread count runs in its own fresh worker process (environment from
:func:`mforacle.threads.worker_env`, pools capped by :func:`mforacle.threads.configure_worker`,
``torch.set_num_threads``, XLA's ``intra_op_parallelism_threads``), so the rows compare the
same machine at the same moment. Rows:

- ``floor``: the least any implementation of model.md §1–2 does: per layer the six matmuls
  (``z Wᵀ``, ``σ U``, ``q Uᵀ``, ``G W``, ``Gᵀ z``, ``σᵀ q``), one ``np.tanh`` and ``1 − t²`` per
  activation — nothing else (no bias, no scaling, no ``σ' ⊙`` product). Same for both
  activations (it is a tanh floor).
- ``mforacle``: :func:`mforacle.fast.network.loss_and_grad`.
- ``torch eager``: PyTorch autograd on the same formulas (when ``torch`` is installed).
- ``jax jit``: ``jax.jit(jax.value_and_grad(E))`` with ``lax.scan`` over layers, x64 enabled,
  compiled before timing (when ``jax`` is installed).

Times are medians over repeats of ``time.perf_counter`` around one call, after a warm-up call.

**Exact path** at ``(d, L, M, N) = (4, 32, 32, 8)``, ``tanh``: :func:`mforacle.exact.network.
evaluate` with ``confirm=False`` (one pass at ``dps + GUARD_DIGITS`` digits: loss, trajectory,
adjoint, all gradients) against :func:`naive_exact_evaluate` at the same precision — nested
Python loops over ``mpf`` scalars, plain ``+`` accumulation, one activation call per use — and
``confirm=True`` (two passes, the reported error bound) against twice the naive time. These
rows are single-threaded pure Python, timed by ``time.process_time`` (CPU time of this process),
which other load on the machine does not inflate.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np

__all__ = ["floor_loss_and_grad", "main", "median_time", "naive_exact_evaluate"]

FAST_SIZE = (16, 128, 512, 256)  # (d, L, M, N)
QUICK_FAST_SIZE = (16, 32, 256, 128)
EXACT_SIZE = (4, 32, 32, 8)
QUICK_EXACT_SIZE = (2, 8, 8, 4)
ACTIVATIONS = ("tanh", "erf")
THREADS = (1, 2)


def median_time(
    fn: Callable[[], object], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Median time of ``fn()`` over ``repeats`` calls by ``clock`` (seconds), after one warm-up
    call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times)


_median = median_time


def _case(d: int, L: int, M: int, N: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(L, M, 2 * d + 1))
    x, y = rng.normal(size=(N, d)), rng.normal(size=N)
    return theta, x, y


def _model(d: int, activation: str):
    """The benchmark's model: readout ``a = (1, …, 1)``, ``κ = 1/4`` (as the torch/JAX rows)."""
    from mforacle.model import Model

    return Model.create(d, activation, [1] * d, "0.25")


def machine_info() -> str:
    blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")  # numpy >= 1.25
        blas = cfg["Build Dependencies"]["blas"].get("name", "unknown")
    except Exception:  # informational only
        pass
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    return (
        f"{date.today().isoformat()}; {platform.processor() or platform.machine()}; "
        f"{os.cpu_count()} cpus; load average {load}; Python {platform.python_version()}; "
        f"NumPy {np.__version__} (BLAS {blas})"
    )


# --------------------------------------------------------------------------- fast path


def floor_loss_and_grad(theta: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The floor: six matmuls per layer, one ``np.tanh`` and ``1 − t²`` per activation.

    Not a correct gradient (no bias, scaling, readout or ``σ'`` product): a lower bound on the
    work of any implementation of model.md §1–2 that stores ``tanh`` from the forward pass.
    ``theta`` ``(L, M, 2d+1)``, ``x`` ``(N, d)``; returns the final ``q`` and the last
    layer's gradient block so that nothing is optimized away.
    """
    L, _M, k = theta.shape
    d = (k - 1) // 2
    z = [x]
    ts = []
    for l in range(L):
        t = np.tanh(z[-1] @ theta[l, :, :d].T)
        ts.append(t)
        z.append(t @ theta[l, :, d : 2 * d])
    q = z[-1]
    gW = gU = q
    for l in range(L - 1, -1, -1):
        W, U, t = theta[l, :, :d], theta[l, :, d : 2 * d], ts[l]
        G = q @ U.T
        dt = t * t
        np.subtract(1.0, dt, out=dt)
        gU = t.T @ q
        gW = G.T @ z[l]
        q = G @ W
    return q, gW + gU


def _torch_runner(d: int, L: int, M: int, act: str, theta, x, y, threads: int):
    import torch

    torch.set_num_threads(threads)
    a = torch.ones(d, dtype=torch.float64)
    kappa = 0.25
    h = 1.0 / (L * M)
    sigma = torch.tanh if act == "tanh" else torch.erf
    th0 = torch.from_numpy(theta)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    wt = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=torch.float64)

    def run():
        th = th0.clone().requires_grad_(True)
        z = xt
        for l in range(L):
            W, U, b = th[l, :, :d], th[l, :, d : 2 * d], th[l, :, 2 * d]
            z = z + h * (sigma(z @ W.T + b) @ U)
        g = z @ a + 0.5 * kappa * (z * z).sum(dim=1)
        E = 0.5 * (wt * (g - yt) ** 2).sum()
        E.backward()
        return float(E), th.grad

    return run


def _jax_runner(d: int, L: int, M: int, act: str, theta, x, y):
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    h = 1.0 / (L * M)
    kappa = 0.25
    sigma = jnp.tanh if act == "tanh" else jax.scipy.special.erf
    w = jnp.full((x.shape[0],), 1.0 / x.shape[0])

    def energy(th, xs, ys):
        def layer(z, t):
            W, U, b = t[:, :d], t[:, d : 2 * d], t[:, 2 * d]
            return z + h * (sigma(z @ W.T + b) @ U), None

        z, _ = jax.lax.scan(layer, xs, th)
        g = z.sum(axis=1) + 0.5 * kappa * (z * z).sum(axis=1)
        return 0.5 * jnp.sum(w * (g - ys) ** 2)

    fn = jax.jit(jax.value_and_grad(energy))
    th, xs, ys = jnp.asarray(theta), jnp.asarray(x), jnp.asarray(y)
    jax.block_until_ready(fn(th, xs, ys))  # compile

    def run():
        return jax.block_until_ready(fn(th, xs, ys))

    return run


def _fast_worker(size: tuple[int, int, int, int], threads: int, repeats: int) -> dict[str, Any]:
    """Run in a fresh process: every row of one thread count."""
    from mforacle import threads as thr
    from mforacle.fast import network as fast_network

    thr.configure_worker(threads=threads)
    # one thread: CPU time of this process (robust to other load on the machine); more threads:
    # wall time (the point of threads). Every row of a worker uses the same clock.
    clock = time.process_time if threads == 1 else time.perf_counter

    def median_time(fn: Callable[[], object], repeats: int) -> float:
        return _median(fn, repeats, clock)

    d, L, M, N = size
    theta, x, y = _case(d, L, M, N)
    w = np.full(N, 1.0 / N)
    out: dict[str, Any] = {"threads": threads, "pools": thr.current(), "rows": {},
                           "clock": "CPU" if threads == 1 else "wall"}
    rows = out["rows"]
    rows["floor"] = median_time(lambda: floor_loss_and_grad(theta, x), repeats)
    ref = {}
    agree = out["agree"] = {}  # max |∂E/∂Θ − mforacle's| / max |mforacle's|: same computation?
    for act in ACTIVATIONS:
        model = _model(d, act)
        rows[f"mforacle {act}"] = median_time(
            lambda m=model: fast_network.loss_and_grad(m, theta, x, y, w), repeats
        )
        ref[act] = fast_network.loss_and_grad(model, theta, x, y, w)[1]
    for lib, name in (("torch", "torch eager"), ("jax", "jax jit")):
        try:
            for act in ACTIVATIONS:
                if lib == "torch":
                    run = _torch_runner(d, L, M, act, theta, x, y, threads)
                    grad = np.asarray(run()[1])
                else:
                    run = _jax_runner(d, L, M, act, theta, x, y)
                    grad = np.asarray(run()[1])
                rows[f"{name} {act}"] = median_time(run, repeats)
                scale = float(np.max(np.abs(ref[act])))
                agree[f"{name} {act}"] = float(np.max(np.abs(grad - ref[act]))) / scale
        except ImportError:
            out[lib] = "not installed"
    return out


def _jax_env(threads: int) -> dict[str, str]:
    from mforacle import threads as thr

    env = thr.worker_env(threads)
    flags = env.get("XLA_FLAGS", "")
    multi = "true" if threads > 1 else "false"
    env["XLA_FLAGS"] = (
        f"{flags} --xla_cpu_multi_thread_eigen={multi} intra_op_parallelism_threads={threads}"
    ).strip()
    return env


def run_fast(
    size: tuple[int, int, int, int], repeats: int, thread_counts: tuple[int, ...] = THREADS
) -> list[str]:
    """The fast-path table: one worker process per thread count."""
    results = []
    for n in thread_counts:
        cmd = [sys.executable, "-m", "mforacle.bench", "--fast-worker", str(n),
               "--size", ",".join(map(str, size)), "--repeats", str(repeats)]
        proc = subprocess.run(cmd, env=_jax_env(n), capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"bench worker ({n} threads) failed:\n{proc.stderr[-2000:]}")
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    names = ["floor"] + [f"{impl} {act}" for act in ACTIVATIONS
                         for impl in ("mforacle", "torch eager", "jax jit")]
    head = "| implementation | " + " | ".join(
        f"{r['threads']} thread{'s' if r['threads'] > 1 else ''}, {r['clock']} s | ×floor"
        for r in results
    ) + " |"
    lines = [head, "|---|" + "---|---|" * len(results)]
    for name in names:
        if not any(name in r["rows"] for r in results):
            continue
        cells = []
        for r in results:
            t = r["rows"].get(name)
            cells += ["-", "-"] if t is None else [f"{t:.3f}", f"{t / r['rows']['floor']:.2f}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for r in results:
        for lib in ("torch", "jax"):
            if lib in r:
                lines.append(f"\n{lib}: {r[lib]} (row skipped)")
                break
    worst = {k: max(r.get("agree", {}).get(k, 0.0) for r in results)
             for k in results[0].get("agree", {})}
    if worst:
        lines.append("\nrelative difference of ∂E/∂Θ from mforacle's (same computation?): "
                     + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))
    pools = "; ".join(f"{r['threads']}: {r['pools']}" for r in results)
    lines.append(f"\nthread pools in the workers: {pools}")
    return lines


# --------------------------------------------------------------------------- exact path


def naive_exact_evaluate(theta, x, y, weights, a, kappa, dps: int) -> dict[str, Any]:
    """A straightforward scalar mpmath implementation of model.md §1–2 (``tanh``), the baseline.

    Nested Python loops over ``mpf`` scalars at ``dps`` digits; sums by plain ``+`` in index
    order (so *not* order-independent, unlike mforacle's exact path); ``σ`` and ``σ'`` are
    computed where they are used (``σ'(a) = sech² a``). Inputs are float64 arrays, read exactly.
    Returns the loss, ``z_L``, ``grad_theta`` and ``grad_x`` as nested lists of ``mpf``.
    """
    import mpmath

    with mpmath.workdps(dps):
        mpf = mpmath.mpf
        L, M, k = theta.shape
        d = (k - 1) // 2
        N = x.shape[0]
        th = [[[mpf(float(v)) for v in theta[l, m]] for m in range(M)] for l in range(L)]
        av = [mpf(float(v)) for v in a]
        kap = mpf(float(kappa))
        h = mpf(1) / (L * M)
        loss = mpf(0)
        grad = [[[mpf(0)] * k for _m in range(M)] for _l in range(L)]
        gx, zL = [], []
        for n in range(N):
            om = mpf(float(weights[n]))
            z = [[mpf(float(v)) for v in x[n]]]
            pre = []
            for l in range(L):
                zl = z[-1]
                pl = []
                nxt = list(zl)
                for m in range(M):
                    p = th[l][m][2 * d]
                    for i in range(d):
                        p += th[l][m][i] * zl[i]
                    pl.append(p)
                    s = mpmath.tanh(p)
                    for i in range(d):
                        nxt[i] += h * th[l][m][d + i] * s
                pre.append(pl)
                z.append(nxt)
            g = kap / 2 * sum((v * v for v in z[L]), mpf(0))
            for i in range(d):
                g += av[i] * z[L][i]
            r = g - mpf(float(y[n]))
            loss += om * r * r / 2
            q = [r * (av[i] + kap * z[L][i]) for i in range(d)]
            for l in range(L - 1, -1, -1):
                nq = list(q)
                for m in range(M):
                    p = pre[l][m]
                    s = mpmath.tanh(p)
                    ds = mpmath.sech(p) ** 2
                    uq = mpf(0)
                    for i in range(d):
                        uq += th[l][m][d + i] * q[i]
                    c = ds * uq
                    gr = grad[l][m]
                    for i in range(d):
                        gr[i] += h * om * c * z[l][i]
                        gr[d + i] += h * om * s * q[i]
                        nq[i] += h * c * th[l][m][i]
                    gr[2 * d] += h * om * c
                q = nq
            gx.append(q)
            zL.append(z[L])
        return {"loss": loss, "z_L": zL, "grad_theta": grad, "grad_x": gx}


def _exact_times(size: tuple[int, int, int, int], repeats: int) -> dict[str, Any]:
    """CPU times of the three exact-path rows (run in this process's mpmath backend)."""
    from mforacle.exact import network as exact_network

    d, L, M, N = size
    theta, x, y = _case(d, L, M, N)
    w = np.full(N, 1.0 / N)
    model = _model(d, "tanh")
    dps = 30
    wdps = dps + exact_network.GUARD_DIGITS
    cpu = time.process_time  # one thread of pure Python: CPU time is robust to other load
    return {
        "backend": _mp_backend(),
        "dps": dps,
        "wdps": wdps,
        "naive": median_time(
            lambda: naive_exact_evaluate(theta, x, y, w, np.ones(d), 0.25, wdps), repeats, cpu
        ),
        "one": median_time(
            lambda: exact_network.evaluate(model, theta, x, y, w, dps=dps, confirm=False),
            repeats, cpu,
        ),
        "two": median_time(
            lambda: exact_network.evaluate(model, theta, x, y, w, dps=dps), repeats, cpu
        ),
    }


def run_exact(size: tuple[int, int, int, int], repeats: int) -> list[str]:
    """The exact-path table; a second column with mpmath's pure-Python backend
    (``MPMATH_NOGMPY=1``, a fresh process) when this process uses gmpy2."""
    cols = [_exact_times(size, repeats)]
    if cols[0]["backend"] != "python":
        env = dict(os.environ, MPMATH_NOGMPY="1")
        cmd = [sys.executable, "-m", "mforacle.bench", "--exact-worker",
               "--size", ",".join(map(str, size)), "--repeats", str(repeats)]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            cols.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    wdps = cols[0]["wdps"]
    head = "| computation | " + " | ".join(
        f"CPU s, mpmath backend {c['backend']} | × naive" for c in cols) + " |"
    lines = [
        f"mpmath {__import__('mpmath').__version__}; (d, L, M, N) = {size}, tanh, "
        f"dps = {cols[0]['dps']} (working {wdps} digits)",
        "",
        head,
        "|---|" + "---|---|" * len(cols),
    ]
    rows = [
        (f"naive scalar mpmath, one pass ({wdps} digits)", "naive", 1),
        ("mforacle exact, confirm=False (one pass)", "one", 1),
        ("mforacle exact, confirmed (two passes + bound; × 2 naive)", "two", 2),
    ]
    for label, key, k in rows:
        cells = []
        for c in cols:
            cells += [f"{c[key]:.3f}", f"{c[key] / (k * c['naive']):.2f}"]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def run_activations(repeats: int) -> list[str]:
    """ns per element of the activation kernels on a (256, 512) array ~ N(0, 17), 1 thread."""
    from mforacle import threads as thr
    from mforacle.fast import activations as fa

    rng = np.random.default_rng(0)
    a = rng.normal(size=(256, 512)) * 17**0.5
    tanh = fa.get("tanh")
    erf = fa.get("erf")
    kernels: list[tuple[str, Callable[[], object]]] = [
        ("np.tanh (the floor's)", lambda: np.tanh(a)),
        ("tanh forward + 1 − t² (network)", lambda: tanh.derivative(np.tanh(a), None)),
        ("mforacle erf", lambda: fa.erf(a)),
        ("mforacle erf' (split square)", lambda: fa.erf_prime(a)),
        ("erf forward: erf + erf' (network)", lambda: erf.activate(a.copy())),
    ]
    try:
        from scipy import special

        kernels.append(("scipy.special.erf", lambda: special.erf(a)))
    except ImportError:
        pass
    cpu = time.process_time
    lines = ["| kernel | ns per element (CPU) |", "|---|---|"]
    with thr.limit(1):
        for name, fn in kernels:
            t = median_time(fn, repeats, cpu)
            lines.append(f"| {name} | {t / a.size * 1e9:.1f} |")
    return lines


def _mp_backend() -> str:
    from mpmath.libmp import BACKEND

    return str(BACKEND)


# --------------------------------------------------------------------------- CLI


# --------------------------------------------------------------------------- three arithmetics

#: (d, L, M, N) for the three arithmetics side by side; BALL_EXTRA runs ball and fast only
THREE_LADDER = [(1, 2, 2, 2), (2, 4, 4, 4), (2, 8, 8, 4)]
BALL_EXTRA = [(4, 32, 32, 8)]


def run_three(ladder: Any, dps_list: Any, repeats: int, extra: Any = ()) -> list[str]:
    """Exact (mpmath, confirmed), ball (Arb, rigorous) and fast (float64) ``evaluate`` on the
    same cases (tanh, ``κ = 1/4``), CPU time of this process; ``speed-up`` = exact / ball. The
    ``extra`` sizes run the ball and fast paths only."""
    from mforacle.ball import network as ball_network
    from mforacle.exact import network as exact_network
    from mforacle.fast import network as fast_network

    cpu = time.process_time
    rows = [
        "| d | L | M | N | dps | exact, confirmed (s) | ball, rigorous (s) | speed-up | "
        "ball bits | fast float64 (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in [*ladder, *extra]:
        d, L, M, N = size
        model = _model(d, "tanh")
        theta, x, y = _case(d, L, M, N)
        t_f = median_time(lambda: fast_network.evaluate(model, theta, x, y), repeats, cpu)  # noqa: B023
        for dps in dps_list:
            t_b = median_time(
                lambda: ball_network.evaluate(model, theta, x, y, dps=dps), repeats, cpu)  # noqa: B023
            bits = ball_network.evaluate(model, theta, x, y, dps=dps).prec
            if size not in extra:
                t_e = median_time(
                    lambda: exact_network.evaluate(model, theta, x, y, dps=dps), repeats, cpu)  # noqa: B023
                te, sp = f"{t_e:.4g}", f"{t_e / t_b:.1f}×"
            else:
                te, sp = "–", "–"
            rows.append(f"| {d} | {L} | {M} | {N} | {dps} | {te} | {t_b:.4g} | {sp} | {bits} | "
                        f"{t_f:.3g} |")
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
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per row")
    parser.add_argument("--skip-exact", action="store_true", help="only the fast-path table")
    parser.add_argument("--skip-limit", action="store_true",
                        help="without the certified limit solver's cost ladder")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated BLAS thread counts for the fast-path table")
    parser.add_argument("--skip-fast", action="store_true", help="only the exact-path table")
    parser.add_argument("--fast-worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--exact-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    if repeats < 1:
        print("mforacle: error: --repeats must be >= 1", file=sys.stderr)
        return 2
    try:
        counts = tuple(int(v) for v in args.threads.split(","))
        if not counts or min(counts) < 1:
            raise ValueError
    except ValueError:
        print(f"mforacle: error: --threads: expected counts like 1,2 (got {args.threads!r})",
              file=sys.stderr)
        return 2
    if args.exact_worker:
        size = tuple(int(v) for v in args.size.split(","))
        print(json.dumps(_exact_times(size, repeats)))  # type: ignore[arg-type]
        return 0
    if args.fast_worker is not None:
        size = tuple(int(v) for v in args.size.split(","))
        print(json.dumps(_fast_worker(size, args.fast_worker, repeats)))  # type: ignore[arg-type]
        return 0
    print(f"# mforacle bench — {machine_info()}\n")
    if not args.skip_fast:
        size = QUICK_FAST_SIZE if args.quick else FAST_SIZE
        print(f"## Fast path, (d, L, M, N) = {size}, forward + ∂E/∂Θ, float64, "
              f"median of {repeats}\n", flush=True)
        print("\n".join(run_fast(size, repeats, counts)), flush=True)
    if not args.skip_fast:
        print(f"\n## Activation kernels, median of {repeats}\n", flush=True)
        print("\n".join(run_activations(repeats)), flush=True)
    if not args.skip_exact:
        size = QUICK_EXACT_SIZE if args.quick else EXACT_SIZE
        print(f"\n## Exact path (mpmath), median of {max(1, repeats // 2)}\n", flush=True)
        print("\n".join(run_exact(size, max(1, repeats // 2))), flush=True)
        print(f"\n## Three arithmetics side by side (evaluate: loss, z, adjoint, gradients), "
              f"CPU time, median of {repeats}\n", flush=True)
        ladder = THREE_LADDER[:2] if args.quick else THREE_LADDER
        extra = () if args.quick else BALL_EXTRA
        print("\n".join(run_three(ladder, (30, 60), repeats, extra)), flush=True)
    if not args.skip_limit:
        print("\n## Certified mean-field limit (ball solver) on the bundled measure cases\n",
              flush=True)
        run_limit(QUICK_LIMIT_TOLS if args.quick else LIMIT_TOLS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
