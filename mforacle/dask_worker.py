"""What runs inside a Dask worker of an mforacle run: the thread budget plugin.

Imported by the workers of a cluster :mod:`mforacle.scale` opens (not by the CLI itself, which
loads ``distributed`` only when ``--scheduler`` or ``--workers`` is given).
"""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin

from .errors import InvalidArgument

__all__ = ["ThreadBudget", "worker_threads"]


class ThreadBudget(WorkerPlugin):
    """Cap the worker's BLAS/OpenMP threads at ``threads`` for the life of the process.

    :func:`mforacle.threads.configure_worker`: sets ``OMP_NUM_THREADS``,
    ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` and ``MFORACLE_THREADS`` (read by libraries
    loaded later) and caps the pools already loaded (threadpoolctl). With ``N`` single-threaded
    workers on ``C`` cores, :func:`mforacle.scale.blas_threads_for` gives
    ``threads = max(1, C // N)``, so the busy threads never exceed the cores (issue 13: an
    oversubscribed 2-core machine ran matmuls 20–37× slower).

    Raises:
        InvalidArgument: ``threads`` is not an integer >= 1.
    """

    name = "mforacle-thread-budget"

    def __init__(self, threads: int) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise InvalidArgument("threads", threads, "expected an integer >= 1")
        self.threads = threads

    def setup(self, worker: Any) -> None:
        from .threads import configure_worker

        configure_worker(1, self.threads)


def worker_threads() -> dict[str, int]:
    """The thread count of each BLAS/OpenMP pool loaded in this process, by API."""
    from .threads import current

    return current()
