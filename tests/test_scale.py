"""Scale-out on Dask (mforacle.scale, issue 13 item 4): a real ``distributed.LocalCluster`` with
two worker processes gives the same verdicts and files as the serial run; a worker killed
mid-run changes nothing; a bad ``--scheduler`` is a one-line usage error after a bounded wait.

One cluster serves the module (starting one costs seconds); the experiments are cut down
(``ClaimSpec`` copies with small sizes) so the module stays well under a minute of CPU.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")

from mforacle import scale  # noqa: E402
from mforacle.claims import CLAIMS, builtin_subject  # noqa: E402
from mforacle.errors import InvalidArgument, MforacleError  # noqa: E402

#: verdict / report fields that record when or how long, not what was found
TIMING = {"seconds", "duration_s", "created", "elapsed", "elapsed_s", "started", "finished"}


def strip_timing(obj):
    if isinstance(obj, dict):
        return {k: strip_timing(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [strip_timing(v) for v in obj]
    return obj


def as_json(verdicts):
    return json.dumps(strip_timing([v.to_json() for v in verdicts]), sort_keys=True)


def small(claim: str, **sizes):
    """The registry's spec with small sizes in every profile (the same functions)."""
    spec = CLAIMS[claim]
    return dataclasses.replace(spec, sizes={p: {**spec.sizes["dev"], **sizes} for p in spec.sizes})


@pytest.fixture(scope="module")
def cluster():
    import logging

    import dask
    from distributed import Client, LocalCluster

    # as mforacle.scale sets it for the clusters it starts: a killed worker's restart may take
    # longer than Dask's default 15 s on a loaded machine
    dask.config.set({"distributed.deploy.lost-worker-timeout": scale.LOST_WORKER_TIMEOUT})
    lc = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
        env={"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    )
    client = Client(lc)
    client.register_plugin(scale.thread_budget_plugin(scale.blas_threads_for(2)))
    ex = scale.DaskExecutor(client, description="test cluster")
    yield ex
    client.close(timeout=30)
    lc.close(timeout=30)


# --------------------------------------------------------------------------- units


def _add(a, b=0, *more):
    return a + b + sum(more)


def test_units_run_in_order_with_their_needs_serially_and_on_the_cluster(cluster, capsys):
    units = [
        scale.Unit("a", _add, (1, 2)),
        scale.Unit("b", _add, (10,), needs=("a",)),
        scale.Unit("c", _add, (100,), needs=("a", "b")),
    ]
    assert scale.execute(units) == [3, 13, 116]
    assert scale.execute(units, cluster, progress=True) == [3, 13, 116]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and "3/3 c" in err[-1] and "done" in err[-1] and "ETA" in err[0]


def test_malformed_unit_lists_are_refused():
    with pytest.raises(InvalidArgument, match="listed before"):
        scale.execute([scale.Unit("b", _add, (1,), needs=("a",))])
    with pytest.raises(InvalidArgument, match="unique"):
        scale.execute([scale.Unit("a", _add, (1,)), scale.Unit("a", _add, (2,))])


def test_workers_have_their_share_of_blas_threads(cluster):
    from mforacle.dask_worker import worker_threads

    budget = scale.blas_threads_for(2)
    from mforacle.threads import cores

    assert budget == max(1, cores() // 2)
    for threads in cluster.client.run(worker_threads).values():
        assert all(n <= budget for n in threads.values()), threads


# --------------------------------------------------------------------------- claims, report


def test_claims_on_the_cluster_equal_the_serial_run(cluster, capsys):
    specs = [
        small("B3", ladder=[4, 8, 16, 32], seeds=40, block=20),  # 16 seed-block parts
        small("A4", cases=1),  # no parts: one unit
    ]
    subject = builtin_subject()
    serial = [spec.run(subject, "dev") for spec in specs]
    assert len(specs[0].plan(subject, "dev")) == 16 and not specs[1].plan(subject, "dev")
    got = scale.run_claims(specs, subject, "dev", cluster, progress=True)
    assert [as_json(v) for v in got] == [as_json(v) for v in serial]
    err = capsys.readouterr().err
    assert "claim::B3/paths/M=4/seeds 3000-3019" in err and "claim::A4" in err


def test_a_claim_part_that_raises_is_an_error_verdict_on_both_paths(cluster):
    class Broken:
        name = "broken: loss raises"

        def forward(self, spec, theta, x):
            raise RuntimeError("no")

        def loss(self, spec, theta, x, y, w):
            raise RuntimeError("loss is broken")

    spec = small("B3", ladder=[4, 8, 16, 32], seeds=4, block=4)
    serial = spec.run(Broken(), "dev")
    (got,) = scale.run_claims([spec], Broken(), "dev", cluster)
    assert [v.status for v in serial] == ["error"] and "loss is broken" in serial[0].reason
    assert [(v.status, v.reason) for v in got] == [(v.status, v.reason) for v in serial]


def test_report_checks_on_the_cluster_equal_the_serial_run(cluster, monkeypatch):
    """Conformance checks (grouped by case), a measure case and a claim with parts, as
    ``mforacle report --workers`` plans them."""
    import mforacle.claims as claims
    from mforacle.harness.limit import build_limit_suite
    from mforacle.harness.loading import load_implementation
    from mforacle.harness.runner import plan_implementation, run_planned
    from mforacle.harness.vectors import build_suite
    from mforacle.report.session import BUILTIN

    monkeypatch.setitem(claims.CLAIMS, "B3", small("B3", ladder=[4, 8, 16, 32], seeds=30))
    impl = load_implementation(BUILTIN)
    planned = plan_implementation(
        impl,
        build_suite("dev")[:3],
        profile="dev",
        include_builtin=True,
        limit_suite=build_limit_suite()[:1],
    )
    planned = [p for p in planned if not p.id.startswith("claim::") or p.id == "claim::B3"]
    assert any(p.parts for p in planned)
    serial = run_planned(planned)
    got = scale.run_planned(planned, cluster)
    units, _ = scale.planned_units(planned)
    assert any(u.key.startswith("case::") for u in units)  # one unit per case
    assert as_json(got) == as_json(serial)


# --------------------------------------------------------------------------- files


def test_export_and_file_mode_on_the_cluster_equal_the_serial_run(cluster, tmp_path, monkeypatch):
    import mforacle.harness.vectors as vectors
    from mforacle.harness.runner import check_files
    from mforacle.harness.vectors import export, load_limit_vectors, load_vectors

    # a part of the suite (the exact references are the cost): six small cases, one edge
    # case, one measure case; the workers get the cases from here
    full, limits = vectors.build_suite, vectors.build_limit_suite
    monkeypatch.setattr(vectors, "build_suite", lambda profile="dev": full(profile)[:7])
    monkeypatch.setattr(vectors, "build_limit_suite", lambda: limits()[:1])

    a, b = tmp_path / "serial", tmp_path / "dask"
    export(a, "dev")
    export(b, "dev", compute=scale.job_runner(cluster))
    files = sorted(p.relative_to(a) for p in a.rglob("*.json"))
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.json"))
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)

    # results: the exported references themselves (a perfect float64 program), one missing
    _, suite = load_vectors(a)
    limit_suite = load_limit_vectors(a)
    results = tmp_path / "results"
    for sc in [*suite[1:], *limit_suite]:
        dst = results / f"{sc.id}.json"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(a / "reference" / f"{sc.id}.json", dst)
    serial, info_s = check_files(suite, results, limit_suite=limit_suite)
    got, info_d = check_files(
        suite, results, limit_suite=limit_suite, compute=scale.job_runner(cluster)
    )
    assert as_json(got) == as_json(serial) and info_d == info_s
    assert serial[0].status == "error" and sum(v.status == "pass" for v in serial) >= 6 * 4


# --------------------------------------------------------------------------- the CLI


def test_cli_claims_with_workers_equals_serial(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    outs = []
    for extra in ([], ["--workers", "2"]):
        out = tmp_path / f"claims{len(extra)}.json"
        cmd = [sys.executable, "-m", "mforacle", "claims", "--claim", "A4", "--profile", "dev"]
        p = subprocess.run(
            [*cmd, "--json", str(out), *extra], capture_output=True, text=True, env=env, timeout=300
        )
        assert p.returncode == 0, p.stderr
        outs.append(strip_timing(json.loads(out.read_text())))
        if extra:
            assert "local Dask cluster: 2 worker process(es)" in p.stderr
            assert "1/1 claim::A4" in p.stderr and "done" in p.stderr
    assert outs[0] == outs[1]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "no-such-scheme://x"])
def test_an_unreachable_scheduler_is_a_one_line_usage_error_after_a_bounded_wait(address):
    # in a subprocess: a second Client in this process would share Dask's event loop state with
    # the module's cluster client
    where = ["--scheduler", address, "--connect-timeout", "1"]
    p = subprocess.run(
        [sys.executable, "-m", "mforacle", "claims", "--claim", "A4", *where],
        capture_output=True,
        text=True,
        timeout=120,  # bounded: a hang fails the test here
    )
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mforacle: error: --scheduler"), lines
    assert "no Dask scheduler answered within 1 s" in lines[0]


@pytest.mark.parametrize(
    "args, what",
    [
        (["--workers", "0"], "--workers"),
        (["--connect-timeout", "-1", "--workers", "1"], "--connect-timeout"),
    ],
)
def test_bad_cluster_options_are_one_line_usage_errors(args, what, capsys):
    from mforacle.cli import main

    assert main(["claims", "--claim", "A4", *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mforacle: error:") and what in lines[0], lines


def test_cluster_options_need_file_mode_in_check(capsys):
    from mforacle.cli import main

    assert main(["check", "examples.numpy_resnet:NumpyResNet", "--workers", "2"]) == 2
    assert "file mode" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # argparse: mutually exclusive options
        main(["claims", "--workers", "2", "--scheduler", "tcp://x:1"])
    assert exc.value.code == 2


# --------------------------------------------------------------------------- lost workers


def test_a_worker_killed_mid_run_changes_nothing(cluster):
    """SIGKILL a worker that holds running tasks right after submission: the scheduler runs
    them again elsewhere (the nanny restarts the process) and the verdicts equal the serial
    run's."""
    spec = small("B3", ladder=[4, 8, 16, 32], seeds=120, block=40)  # 24 parts
    subject = builtin_subject()
    serial = spec.run(subject, "dev")
    killed = []
    cluster.client.wait_for_workers(2, timeout=120)
    pids = cluster.client.run(os.getpid)  # worker address -> process id, before the run

    def kill(client):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys and w in pids]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])
            else:
                time.sleep(0.02)

    units = scale.claim_units(spec, subject, "dev")
    got = cluster.run(units, on_submitted=kill)
    assert killed, "no worker was busy"
    assert as_json(got[f"claim::{spec.id}"]) == as_json(serial)


NO_WORKER = """
import sys
from distributed import Client, LocalCluster
from mforacle import scale
from mforacle.errors import MforacleError

if __name__ == "__main__":
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as lc:
        with Client(lc) as client:
            ex = scale.DaskExecutor(client, no_worker_timeout=1, poll_seconds=0.5)
            try:
                ex.run([scale.Unit("a", print, ("never",))])
            except MforacleError as exc:
                print(exc)
                sys.exit(0)
    sys.exit(1)
"""


def test_a_cluster_with_no_worker_left_is_an_error_not_a_hang(tmp_path):
    script = tmp_path / "no_worker.py"
    script.write_text(NO_WORKER)
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "the Dask cluster has had no worker for 1 s with 1 work unit(s) left" in p.stdout


def test_a_unit_that_fails_for_good_is_a_typed_error(cluster):
    def boom():
        raise ValueError("always")

    with pytest.raises(MforacleError, match="work unit x failed on the cluster"):
        scale.execute([scale.Unit("x", boom)], cluster)
