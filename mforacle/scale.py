"""Run independent work units serially or on a Dask ``distributed`` cluster (issue 13 item 4).

Layer: above the claims and the harness (which say *what* the independent units of a run are),
below the CLI (``--scheduler ADDRESS`` / ``--workers N`` of ``mforacle claims``, ``report``,
``vectors export`` and file-mode ``check``). The engine is Dask's ``distributed`` scheduler
(https://distributed.dask.org), not a home-made pool.

A run is a list of :class:`Unit` s. Each unit has a stable identity (``key``: a claim id, a
claim's part such as ``claim::B3/paths/M=64/seeds 3000-3099``, a case id), a picklable function
and its arguments, and the keys of the units whose results it takes (``needs``; a claim's
*finish* step takes its parts). Everything a unit computes is a function of its identity and
arguments alone — seeds are derived from the unit's identity, never from execution order or
from which worker runs it — so :func:`execute` returns the same results serially and on any
cluster, in the order of the units given.

- :class:`SerialExecutor` — one unit after another in this process.
- :class:`DaskExecutor` — every unit a Dask task (``client.submit(..., retries=...)``); finished
  units are reported as they complete (``distributed.as_completed``: one line per unit with the
  elapsed time and an ETA, on standard error). A worker lost mid-run (crash, OOM kill) makes
  the scheduler run its tasks again elsewhere (up to ``distributed.scheduler.allowed-failures``
  times; a LocalCluster's nanny restarts the worker), and ``retries`` re-runs a task that
  raised; since a unit is a pure function of its identity, a re-run returns the same result.
  A cluster left with no worker at all for :data:`NO_WORKER_TIMEOUT` seconds ends the run with
  an error instead of waiting forever.
- :func:`open_executor` — the context manager the commands use: serial when neither option is
  given; ``workers=N`` starts a ``distributed.LocalCluster`` for the run (N processes, one
  thread each, BLAS/OpenMP threads capped so that workers × threads <= cores, by a worker
  plugin using threadpoolctl and the ``*_NUM_THREADS`` variables); ``scheduler=ADDRESS``
  connects to a running cluster within ``connect_timeout`` seconds (each of its worker threads
  gets one BLAS thread; :mod:`mforacle.dask_worker`).

``docs/scale.md`` shows the commands, a 10⁵-seed B3 sweep on a cluster, and measured figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from .errors import InvalidArgument, MforacleError

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_RETRIES",
    "DaskExecutor",
    "Executor",
    "Progress",
    "SerialExecutor",
    "Unit",
    "add_arguments",
    "blas_threads_for",
    "claim_units",
    "execute",
    "executor_from_args",
    "is_serial",
    "job_runner",
    "open_executor",
    "planned_units",
    "run_claims",
    "run_planned",
    "thread_budget_plugin",
]

#: seconds to wait for ``--scheduler ADDRESS`` to answer before giving up (exit status 2)
DEFAULT_CONNECT_TIMEOUT = 10.0
#: re-runs of a task that raised (a lost worker's tasks are re-run by the scheduler anyway)
DEFAULT_RETRIES = 2
#: seconds a run waits for a cluster left with no worker at all before it gives up (a lost
#: worker's tasks wait for another worker; with none, they would wait forever)
NO_WORKER_TIMEOUT = 300.0
#: seconds between checks on the cluster while no unit finishes
POLL_SECONDS = 5.0
#: how long a LocalCluster started for a run waits for a lost worker's restart before it
#: gives the worker up for good (Dask's ``distributed.deploy.lost-worker-timeout``, 15 s by
#: default: too short on a loaded machine, where a restart takes longer and the run would then
#: go on with fewer workers)
LOST_WORKER_TIMEOUT = "600s"


@dataclass(frozen=True)
class Unit:
    """One independent piece of work.

    ``key``: its identity, unique within a run (``"claim::B3/paths/M=64/seeds 3000-3099"``);
    ``fn(*args, *results_of_needs)`` computes it (``fn`` and ``args`` must pickle: module-level
    functions, or closures cloudpickle can carry); ``needs``: keys of earlier units whose
    results are passed after ``args``, in that order; ``label``: what the progress line says
    (default: the key).
    """

    key: str
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    needs: tuple[str, ...] = ()
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.key


@dataclass
class Progress:
    """Progress lines on ``stream`` (standard error): ``[ 12.3s] 5/40 KEY (1.2 s) ETA 31 s``.

    The ETA is the mean time per finished unit times the units left divided by the workers
    running them (a rough figure: units differ in size).
    """

    total: int
    workers: int = 1
    stream: TextIO | None = None
    quiet: bool = False
    start: float = field(default_factory=time.perf_counter)
    done: int = 0

    def finished(self, unit: Unit, seconds: float | None = None, where: str = "") -> None:
        self.done += 1
        if self.quiet:
            return
        elapsed = time.perf_counter() - self.start
        left = self.total - self.done
        eta = elapsed / self.done * left if self.done else math.inf
        took = f" ({seconds:.1f} s{', ' + where if where else ''})" if seconds is not None else ""
        tail = f" ETA {eta:.0f} s" if left else " done"
        print(
            f"[{elapsed:6.1f}s] {self.done}/{self.total} {unit.title}{took}{tail}",
            file=self.stream or sys.stderr,
            flush=True,
        )


def _check_units(units: Sequence[Unit]) -> list[Unit]:
    seen: set[str] = set()
    out = []
    for i, u in enumerate(units):
        if not isinstance(u, Unit):
            raise InvalidArgument(f"units[{i}]", u, "expected a mforacle.scale.Unit")
        if u.key in seen:
            raise InvalidArgument(f"units[{i}].key", u.key, "keys must be unique within a run")
        missing = [k for k in u.needs if k not in seen]
        if missing:
            raise InvalidArgument(
                f"units[{i}].needs", missing, "a unit may only need units listed before it"
            )
        seen.add(u.key)
        out.append(u)
    return out


@dataclass(frozen=True)
class _Timed:
    """A unit's result with the seconds it took and where it ran (unwrapped before returning)."""

    value: Any
    seconds: float
    where: str


def _run_unit(fn: Callable[..., Any], nargs: int, *args_and_needs: Any) -> _Timed:
    """Run ``fn(*args, *needs)`` with the needs' values unwrapped; time it."""
    args = args_and_needs[:nargs]
    needs = [r.value if isinstance(r, _Timed) else r for r in args_and_needs[nargs:]]
    t0 = time.perf_counter()
    value = fn(*args, *needs)
    where = ""
    try:
        from distributed import get_worker

        where = str(get_worker().address)
    except (ImportError, ValueError):
        pass
    return _Timed(value, time.perf_counter() - t0, where)


class Executor:
    """Runs a list of units; :meth:`run` returns ``{key: result}`` (module docstring)."""

    #: how many units may run at once (for the ETA)
    workers: int = 1
    #: one line saying where the units run
    description: str = ""

    def run(self, units: Sequence[Unit], progress: Progress | None = None) -> dict[str, Any]:
        raise NotImplementedError


class SerialExecutor(Executor):
    """Every unit in this process, in the order given."""

    workers = 1
    description = "serial (this process)"

    def run(self, units: Sequence[Unit], progress: Progress | None = None) -> dict[str, Any]:
        todo = _check_units(units)
        results: dict[str, Any] = {}
        for u in todo:
            got = _run_unit(u.fn, len(u.args), *u.args, *[results[k] for k in u.needs])
            results[u.key] = got.value
            if progress is not None:
                progress.finished(u, got.seconds)
        return results


class DaskExecutor(Executor):
    """Every unit a task on a ``distributed`` cluster (module docstring).

    ``client``: a connected :class:`distributed.Client`; ``cluster``: the LocalCluster started
    for this run (closed by :meth:`close`), or ``None`` for an existing cluster.
    """

    def __init__(
        self,
        client: Any,
        cluster: Any = None,
        *,
        description: str = "",
        retries: int = DEFAULT_RETRIES,
        no_worker_timeout: float = NO_WORKER_TIMEOUT,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.client, self.cluster, self.retries = client, cluster, int(retries)
        self.no_worker_timeout = float(no_worker_timeout)
        self.poll_seconds = float(poll_seconds)
        info = client.scheduler_info()
        self.workers = max(1, sum(int(w.get("nthreads", 1)) for w in info["workers"].values()))
        self.description = description or f"Dask cluster at {client.scheduler.address}"

    def run(
        self,
        units: Sequence[Unit],
        progress: Progress | None = None,
        on_submitted: Callable[[Any], None] | None = None,
    ) -> dict[str, Any]:
        """Submit every unit, report each as it completes, return the results by key.

        ``on_submitted(client)`` is called once all tasks are submitted (tests use it to kill a
        worker mid-run).

        Raises:
            MforacleError: a unit failed for good (it raised on every retry, or its workers died
                more often than the scheduler allows).
        """
        from distributed import wait

        todo = _check_units(units)
        run_id = uuid.uuid4().hex[:12]
        futures: dict[str, Any] = {}
        by_future: dict[str, Unit] = {}
        for i, u in enumerate(todo):
            fut = self.client.submit(
                _run_unit,
                u.fn,
                len(u.args),
                *u.args,
                *[futures[k] for k in u.needs],
                key=f"mforacle-{i:05d}-{run_id}",
                pure=False,
                retries=self.retries,
            )
            futures[u.key] = fut
            by_future[fut.key] = u
        if on_submitted is not None:
            on_submitted(self.client)
        results: dict[str, Any] = {}
        pending = set(futures.values())
        alone_since: float | None = None  # when the cluster was last seen with no worker
        while pending:
            try:
                done, pending = wait(
                    pending, timeout=self.poll_seconds, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:  # nothing finished: is anyone still working?
                if self.client.nthreads():
                    alone_since = None
                    continue
                alone_since = alone_since or time.monotonic()
                if time.monotonic() - alone_since > self.no_worker_timeout:
                    for f in futures.values():
                        f.cancel()
                    raise MforacleError(
                        f"the Dask cluster has had no worker for {self.no_worker_timeout:g} s "
                        f"with {len(pending)} work unit(s) left; start workers or rerun"
                    ) from None
                continue
            for fut in sorted(done, key=lambda f: f.key):
                u = by_future[fut.key]
                try:
                    got = fut.result()
                except Exception as exc:  # raised on every retry, or KilledWorker
                    for f in futures.values():
                        f.cancel()
                    raise MforacleError(
                        f"work unit {u.key} failed on the cluster: {type(exc).__name__}: {exc}"
                    ) from exc
                results[u.key] = got.value
                if progress is not None:
                    progress.finished(u, got.seconds, got.where)
        return {u.key: results[u.key] for u in todo}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.close(timeout=30)
        if self.cluster is not None:
            with contextlib.suppress(Exception):
                self.cluster.close(timeout=30)


def execute(
    units: Sequence[Unit],
    executor: Executor | None = None,
    *,
    progress: bool | Progress = False,
    stream: TextIO | None = None,
) -> list[Any]:
    """The results of ``units``, in their order (``executor`` default: serial).

    ``progress``: ``True`` prints a line per finished unit with an ETA on ``stream`` (default
    standard error); or pass a :class:`Progress`.
    """
    ex = executor if executor is not None else SerialExecutor()
    todo = _check_units(units)
    prog: Progress | None
    if isinstance(progress, Progress):
        prog = progress
    elif progress:
        prog = Progress(len(todo), ex.workers, stream)
    else:
        prog = None
    got = ex.run(todo, prog)
    return [got[u.key] for u in todo]


# --------------------------------------------------------------------------- threads


def blas_threads_for(workers: int, threads_per_worker: int = 1) -> int:
    """BLAS/OpenMP threads per worker thread so that ``workers × threads <= cores`` (at least 1;
    :func:`mforacle.threads.per_worker`).

    Raises:
        InvalidArgument: ``workers`` or ``threads_per_worker`` not an integer >= 1.
    """
    from .threads import per_worker

    for name, v in (("workers", workers), ("threads_per_worker", threads_per_worker)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidArgument(name, v, "expected an integer >= 1")
    return per_worker(workers * threads_per_worker)


def thread_budget_plugin(threads: int) -> Any:
    """The worker plugin (:class:`mforacle.dask_worker.ThreadBudget`) capping each worker's
    BLAS/OpenMP threads at ``threads``."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidArgument("threads", threads, "expected an integer >= 1")
    from .dask_worker import ThreadBudget

    return ThreadBudget(threads)


# --------------------------------------------------------------------------- opening


def _check_workers(workers: Any) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidArgument("--workers", workers, "expected an integer >= 1")
    return workers


def _check_timeout(timeout: Any) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, int | float)
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise InvalidArgument(
            "--connect-timeout", timeout, "expected a finite number of seconds > 0"
        )
    return float(timeout)


def _register(client: Any, threads: int) -> None:
    client.register_plugin(thread_budget_plugin(threads), name="mforacle-thread-budget")


def _start_local(workers: int, retries: int) -> DaskExecutor:
    import logging

    import dask
    from distributed import Client, LocalCluster

    from .threads import cores, worker_env

    # read by the cluster whenever a worker is lost, so it stays set for the process
    dask.config.set({"distributed.deploy.lost-worker-timeout": LOST_WORKER_TIMEOUT})
    threads = blas_threads_for(workers)
    env = worker_env(threads, {})  # only the thread variables: the rest is inherited
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
        env=env,
    )
    try:
        client = Client(cluster)
        _register(client, threads)
    except BaseException:
        cluster.close()
        raise
    return DaskExecutor(
        client,
        cluster,
        description=f"local Dask cluster: {workers} worker process(es) × 1 thread, "
        f"{threads} BLAS thread(s) each, {cores()} core(s)",
        retries=retries,
    )


def _connect(address: str, timeout: float, retries: int) -> DaskExecutor:
    import logging

    from distributed import Client

    if not isinstance(address, str) or not address.strip():
        raise InvalidArgument("--scheduler", address, "expected a scheduler address")
    quiet = logging.getLogger("distributed")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # a refused connection is reported once, below
    try:
        client = Client(address.strip(), timeout=timeout)
    except Exception as exc:  # OSError, TimeoutError, ValueError for a malformed address
        why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise InvalidArgument(
            "--scheduler", address, f"no Dask scheduler answered within {timeout:g} s ({why})"
        ) from None
    finally:
        quiet.setLevel(level)
    try:
        _register(client, 1)
    except BaseException:
        client.close()
        raise
    return DaskExecutor(client, description=f"Dask cluster at {address}", retries=retries)


@contextlib.contextmanager
def open_executor(
    scheduler: str | None = None,
    workers: int | None = None,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> Iterator[Executor]:
    """Serial, a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``.

    Raises:
        InvalidArgument: both or a malformed one given; no scheduler answered within
            ``connect_timeout`` seconds; ``distributed`` is not installed.
    """
    if scheduler is not None and workers is not None:
        raise InvalidArgument("--scheduler/--workers", [scheduler, workers], "give one, not both")
    timeout = _check_timeout(connect_timeout)
    if scheduler is None and workers is None:
        yield SerialExecutor()
        return
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise InvalidArgument(
            "--scheduler" if scheduler is not None else "--workers",
            scheduler if scheduler is not None else workers,
            "needs the 'distributed' package (pip install 'distributed>=2024.1')",
        ) from None
    if scheduler is not None:
        ex = _connect(scheduler, timeout, retries)
    else:
        ex = _start_local(_check_workers(workers), retries)
    try:
        yield ex
    finally:
        ex.close()


def add_arguments(parser: Any) -> None:
    """``--scheduler ADDRESS``, ``--workers N`` and ``--connect-timeout S`` for a command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run the independent work units on the Dask cluster at ADDRESS "
        "(e.g. tcp://10.0.0.5:8786); see docs/scale.md",
    )
    group.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=None,
        help="start a local Dask cluster of N worker processes for this run",
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="S",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT,
        help=f"seconds to wait for --scheduler ({DEFAULT_CONNECT_TIMEOUT:g})",
    )


def executor_from_args(args: Any) -> contextlib.AbstractContextManager[Executor]:
    """:func:`open_executor` from the parsed :func:`add_arguments` options."""
    return open_executor(
        getattr(args, "scheduler", None),
        getattr(args, "workers", None),
        connect_timeout=getattr(args, "connect_timeout", DEFAULT_CONNECT_TIMEOUT),
    )


def is_serial(executor: Executor | None) -> bool:
    """Whether ``executor`` runs everything in this process."""
    return executor is None or isinstance(executor, SerialExecutor)


# --------------------------------------------------------------------------- work units


def _call(fn: Callable[[], Any]) -> Any:
    return fn()


def _finish_claim(
    spec: Any, subject: Any, profile: str, keys: tuple[str, ...], *results: Any
) -> Any:
    return spec.finish(subject, profile, dict(zip(keys, results, strict=True)))


def claim_units(spec: Any, subject: Any, profile: str, *, prefix: str = "claim::") -> list[Unit]:
    """The units of one claim on ``subject``: its parts (``claim::B3/paths/M=64/seeds ...``) and
    a finishing unit ``claim::B3`` that takes their results; or the whole claim as one unit
    when it has no parts (:meth:`mforacle.claims.ClaimSpec.plan`). The finishing unit's result
    is the claim's list of verdicts, the same :meth:`~mforacle.claims.ClaimSpec.run` gives."""
    parts = spec.plan(subject, profile)
    key = f"{prefix}{spec.id}"
    if not parts:
        return [Unit(key, spec.run, (subject, profile), label=f"{key} {spec.title}")]
    units = [Unit(f"{key}/{p.key}", spec.run_part, (subject, profile, p)) for p in parts]
    keys = tuple(p.key for p in parts)
    units.append(
        Unit(
            key,
            _finish_claim,
            (spec, subject, profile, keys),
            needs=tuple(u.key for u in units),
            label=f"{key} {spec.title} (finish)",
        )
    )
    return units


def run_claims(
    specs: Sequence[Any],
    subject: Any,
    profile: str,
    executor: Executor | None = None,
    *,
    progress: bool = False,
    stream: TextIO | None = None,
) -> list[list[Any]]:
    """Each claim's verdicts (one list per spec, in order), its parts spread over ``executor``."""
    units: list[Unit] = []
    finals: list[str] = []
    for spec in specs:
        mine = claim_units(spec, subject, profile)
        units += mine
        finals.append(mine[-1].key)
    got = dict(
        zip(
            [u.key for u in units],
            execute(units, executor, progress=progress, stream=stream),
            strict=True,
        )
    )
    return [list(got[k]) for k in finals]


def _run_checks(checks: Sequence[Any]) -> list[list[Any]]:
    from .harness.runner import run_one

    return [run_one(p) for p in checks]


def _finish_check(p: Any, keys: tuple[str, ...], *results: Any) -> list[Any]:
    import functools

    from .harness.runner import run_one

    done = dataclasses.replace(
        p, run=functools.partial(p.finish, dict(zip(keys, results, strict=True))), parts=()
    )
    return run_one(done)


def planned_units(planned: Sequence[Any]) -> tuple[list[Unit], list[tuple[str, int]]]:
    """Units for the harness's planned checks (:class:`mforacle.harness.checks.PlannedCheck`):
    consecutive checks of one case share a unit (they share its exact reference); a check with
    parts (a claim) becomes its parts plus a finishing unit; any other check is one unit.
    Returns the units and, per planned check, ``(unit key, index in that unit's result)``."""
    units: list[Unit] = []
    where: list[tuple[str, int]] = []
    i = 0
    while i < len(planned):
        p = planned[i]
        if p.parts and p.finish is not None:
            subs = [Unit(f"{p.id}/{k}", _call, (fn,)) for k, fn in p.parts]
            units += subs
            keys = tuple(k for k, _ in p.parts)
            stripped = dataclasses.replace(p, parts=())
            units.append(
                Unit(
                    p.id,
                    _single,
                    (_finish_check, stripped, keys),
                    needs=tuple(u.key for u in subs),
                    label=f"{p.id} (finish)",
                )
            )
            where.append((p.id, 0))
            i += 1
            continue
        j = i + 1
        if p.case_id is not None:
            while j < len(planned) and planned[j].case_id == p.case_id and not planned[j].parts:
                j += 1
        group = [dataclasses.replace(q, parts=()) for q in planned[i:j]]
        key = p.id if j == i + 1 else f"case::{p.case_id}"
        while any(u.key == key for u in units):
            key += "'"
        units.append(Unit(key, _run_checks, (group,), label=key))
        where += [(key, n) for n in range(j - i)]
        i = j
    return units, where


def _single(fn: Callable[..., Any], *args: Any) -> list[list[Any]]:
    return [fn(*args)]


def run_planned(
    planned: Sequence[Any],
    executor: Executor | None = None,
    *,
    progress: bool = False,
    stream: TextIO | None = None,
) -> list[Any]:
    """The verdicts of the planned checks, in planned order — what
    :func:`mforacle.harness.runner.run_planned` returns, with the work spread over
    ``executor`` (:func:`planned_units`)."""
    units, where = planned_units(planned)
    got = dict(
        zip(
            [u.key for u in units],
            execute(units, executor, progress=progress, stream=stream),
            strict=True,
        )
    )
    out: list[Any] = []
    for key, n in where:
        out.extend(got[key][n])
    return out


def job_runner(
    executor: Executor | None = None, *, progress: bool = False, stream: TextIO | None = None
) -> Callable[[list[tuple[str, Callable[..., Any], tuple[Any, ...]]]], list[Any]]:
    """A ``compute(jobs) -> results`` for the harness's per-case loops
    (:func:`mforacle.harness.vectors.export`, :func:`mforacle.harness.runner.check_files`): each
    job ``(key, fn, args)`` becomes a :class:`Unit` run on ``executor``."""

    def compute(jobs: list[tuple[str, Callable[..., Any], tuple[Any, ...]]]) -> list[Any]:
        units = [Unit(key, fn, tuple(args)) for key, fn, args in jobs]
        return execute(units, executor, progress=progress, stream=stream)

    return compute
