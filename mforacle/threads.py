"""How many BLAS / OpenMP threads mforacle's numerical work may use, and the means to enforce it.

Why: NumPy's BLAS (OpenBLAS) starts one thread per core by default, and so does every worker
process that imports it. Two processes on two cores then run four busy threads; OpenBLAS
threads spin while they wait for each other, so on a loaded machine a matmul measured 20–37×
slower and one fast-path evaluation 9–18 s instead of 1.2 s (issue 13). The rule here: **the
threads of all concurrently working processes never exceed the cores this process may use**.

- :func:`cores` — the cores available to this process: its CPU affinity, further capped by a
  cgroup (container) CPU quota when one is set.
- :func:`per_worker` — threads each of ``workers`` parallel processes may use:
  ``max(1, cores() // workers)``.
- :func:`default_threads` — the policy for mforacle's own work: ``MFORACLE_THREADS`` when set
  (capped at :func:`per_worker`), else **1**. The claims and conformance checks work on small
  matrices (``M <= 128``, ``N <= 64``) where a second BLAS thread gains nothing and costs the
  most under load; parallelism comes from processes (the isolated harness worker, Dask
  workers), each with its share.
- :func:`limit` — a context manager (threadpoolctl) that caps every BLAS and OpenMP pool loaded
  in this process (NumPy's and SciPy's OpenBLAS, MKL, libgomp/libomp as used by PyTorch), and
  restores them on exit.
- :func:`configure_worker` — for a worker process, at its start: sets ``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` (read by libraries imported afterwards, e.g. an
  implementation's PyTorch) and caps the pools already loaded, for the life of the process.
  :func:`worker_env` gives the same variables for a ``subprocess`` environment.

Sources: threadpoolctl (https://github.com/joblib/threadpoolctl) ``threadpool_limits``; OpenBLAS
FAQ "multi-threaded OpenBLAS ... in a multi-process setting" (set its threads to 1).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from typing import Any

from .errors import InvalidArgument

__all__ = [
    "ENV_VARS",
    "configure_worker",
    "cores",
    "current",
    "default_threads",
    "limit",
    "per_worker",
    "worker_env",
]

#: environment variables that BLAS and OpenMP runtimes read when they are loaded
ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def _cgroup_quota() -> int | None:
    """Whole CPUs allowed by a cgroup v2 (``cpu.max``) or v1 (``cfs_quota_us``) quota, if any."""
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            return max(1, math.floor(int(quota) / int(period)))
        return None
    except (OSError, ValueError):
        pass
    try:
        with open("/sys/fs/cgroup/cpu/cpu.cfs_quota_us") as fh:
            quota_us = int(fh.read())
        with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as fh:
            period_us = int(fh.read())
        if quota_us > 0 and period_us > 0:
            return max(1, math.floor(quota_us / period_us))
    except (OSError, ValueError):
        pass
    return None


def cores() -> int:
    """The number of cores this process may run on (affinity, then any cgroup CPU quota)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    quota = _cgroup_quota()
    return max(1, min(n, quota) if quota else n)


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgument(field, value, "expected an integer >= 1")
    return int(value)


def per_worker(workers: int = 1) -> int:
    """Threads each of ``workers`` concurrently working processes may use: ``cores() // workers``
    (at least 1). Raises :class:`InvalidArgument` unless ``workers`` is an integer ``>= 1``."""
    return max(1, cores() // _count(workers, "workers"))


def default_threads(workers: int = 1) -> int:
    """mforacle's policy (module docstring): ``MFORACLE_THREADS`` capped at
    :func:`per_worker` ``(workers)``, or 1 when unset.

    Raises:
        InvalidArgument: ``MFORACLE_THREADS`` is set but not an integer ``>= 1``.
    """
    cap = per_worker(workers)
    raw = os.environ.get("MFORACLE_THREADS")
    if raw is None or raw.strip() == "":
        return 1
    try:
        n = int(raw)
    except ValueError:
        raise InvalidArgument("MFORACLE_THREADS", raw, "expected an integer >= 1") from None
    return min(_count(n, "MFORACLE_THREADS"), cap)


def current() -> dict[str, int]:
    """The thread count of each loaded pool, by API (``{"blas": 2, "openmp": 2}``; the largest
    where several libraries of one API are loaded)."""
    from threadpoolctl import threadpool_info

    out: dict[str, int] = {}
    for info in threadpool_info():
        api = info.get("user_api", "?")
        out[api] = max(out.get(api, 0), int(info.get("num_threads", 0)))
    return out


@contextlib.contextmanager
def limit(n: int | None = None) -> Iterator[int]:
    """Cap every BLAS and OpenMP pool in this process at ``n`` threads inside the block.

    ``n = None`` means :func:`default_threads`. Yields the limit in force. Pools loaded *inside*
    the block are not capped (load your libraries first, or use :func:`configure_worker`).

    Raises:
        InvalidArgument: ``n`` not an integer ``>= 1``.
    """
    from threadpoolctl import threadpool_limits

    k = default_threads() if n is None else _count(n, "n")
    with threadpool_limits(limits=k):
        yield k


def worker_env(threads: int = 1, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment for a worker subprocess: ``base`` (default ``os.environ``) with
    :data:`ENV_VARS` and ``MFORACLE_THREADS`` set to ``threads``.

    Raises :class:`InvalidArgument` unless ``threads`` is an integer ``>= 1``.
    """
    k = _count(threads, "threads")
    env = dict(os.environ if base is None else base)
    for var in (*ENV_VARS, "MFORACLE_THREADS"):
        env[var] = str(k)
    return env


_KEEP: list[Any] = []  # process-wide limits stay in force for the life of the process


def configure_worker(workers: int = 1, threads: int | None = None) -> int:
    """Set this (worker) process's thread budget for good; returns it.

    ``threads`` defaults to :func:`default_threads` ``(workers)`` and is capped at
    :func:`per_worker` ``(workers)``: with ``workers`` processes working at once, their
    threads never exceed the cores. Sets :data:`ENV_VARS` (for libraries imported later, such
    as an implementation's PyTorch, which reads ``OMP_NUM_THREADS`` when it loads) and caps
    the pools already loaded. Call it first thing in a worker.

    Raises:
        InvalidArgument: ``workers`` or ``threads`` not an integer ``>= 1``.
    """
    cap = per_worker(workers)
    k = default_threads(workers) if threads is None else min(_count(threads, "threads"), cap)
    for var in (*ENV_VARS, "MFORACLE_THREADS"):
        os.environ[var] = str(k)
    from threadpoolctl import threadpool_limits

    _KEEP.append(threadpool_limits(limits=k))
    return k
