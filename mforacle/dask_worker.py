"""What runs inside a Dask worker of an mforacle run: the thread budget plugin.

Imported by the workers of a cluster :mod:`mforacle.scale` opens (not by the CLI itself, which
loads ``distributed`` only when ``--scheduler`` or ``--workers`` is given).
"""

from __future__ import annotations

import os
from typing import Any

from distributed import WorkerPlugin

from .errors import InvalidArgument

__all__ = ["THREAD_ENV_VARS", "ThreadBudget", "worker_threads"]

#: environment variables BLAS and OpenMP runtimes read when they load
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "MFORACLE_THREADS")

_KEEP: list[Any] = []  # threadpoolctl limits kept in force for the worker's lifetime


class ThreadBudget(WorkerPlugin):
    """Cap the worker's BLAS/OpenMP threads at ``threads`` for the life of the process.

    Sets :data:`THREAD_ENV_VARS` (read by libraries loaded later, e.g. an implementation's
    PyTorch) and caps the pools already loaded with ``threadpoolctl.threadpool_limits``
    (https://github.com/joblib/threadpoolctl). With ``N`` workers of one thread on ``C`` cores,
    :func:`mforacle.scale.blas_threads_for` gives ``threads = max(1, C // N)``, so the busy
    threads never exceed the cores (issue 13: an oversubscribed 2-core machine ran matmuls
    20–37× slower).

    Raises:
        InvalidArgument: ``threads`` is not an integer >= 1.
    """

    name = "mforacle-thread-budget"

    def __init__(self, threads: int) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidArgument("threads", threads, "expected an integer >= 1")
        self.threads = threads

    def setup(self, worker: Any) -> None:
        for var in THREAD_ENV_VARS:
            os.environ[var] = str(self.threads)
        from threadpoolctl import threadpool_limits

        _KEEP.append(threadpool_limits(limits=self.threads))


def worker_threads() -> dict[str, int]:
    """The thread count of each BLAS/OpenMP pool loaded in this process, by API."""
    from threadpoolctl import threadpool_info

    out: dict[str, int] = {}
    for info in threadpool_info():
        api = info.get("user_api", "?")
        out[api] = max(out.get(api, 0), int(info.get("num_threads", 0)))
    return out
