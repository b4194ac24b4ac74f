"""Pytest plugin: run mforacle's conformance suite against your implementation.

Inert unless activated: it only registers its options. Activate it with

    pytest --mforacle-impl mypkg.resnet:IMPL [--mforacle-dtype float32]
    MFORACLE_IMPL=mypkg.resnet:IMPL pytest

and the suite is collected as test items, one per check (``mforacle::<case>::<quantity>`` and
``mforacle::claim::<id>``), next to your own tests. A failing item shows the figure, the bound
with its error model, and a reproduction (the case saved under ``reports/failures`` or
``$MFORACLE_FAILURE_DIR``, plus one ``mforacle check`` command). A check the implementation
cannot be held to (missing ``loss``, unsupported activation, ...) is skipped with the reason.
When every mforacle item that ran was skipped that way, nothing was checked: the terminal
summary says ``mforacle: NOTHING CHECKED: ...`` with the commonest reason and, if the run
would otherwise pass, pytest exits with status 5 (pytest's own "no tests ran"), neither a pass
nor a failure (``mforacle check`` exits 3 in that case).

The implementation runs in a worker process group by default (``--mforacle-isolate process``,
as ``mforacle check`` does: this pytest process never imports it, a hang is killed after
``--mforacle-timeout`` and a crash fails only its items; loading has its own
``--mforacle-load-timeout``). ``--mforacle-isolate thread`` is NOT isolation: the
implementation runs inside pytest, so an ``os._exit`` or a segfault in it ends the whole pytest
run, and a hung call is abandoned but keeps running; use it for trusted code only.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

ENV_IMPL = "MFORACLE_IMPL"
ENV_DTYPE = "MFORACLE_DTYPE"
#: pytest's exit status when nothing was checked (ExitCode.NO_TESTS_COLLECTED: no tests ran)
EXIT_NOTHING_CHECKED = 5
#: the verdicts of the mforacle items that ran, for the end-of-run headline
_VERDICTS = pytest.StashKey[list]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mforacle", "mforacle conformance suite")
    group.addoption(
        "--mforacle-impl",
        default=None,
        metavar="MODULE:OBJECT",
        help=f"check this implementation (also env {ENV_IMPL})",
    )
    group.addoption(
        "--mforacle-dtype",
        default=None,
        help=f"its arithmetic, overriding what it declares (also env {ENV_DTYPE})",
    )
    group.addoption(
        "--mforacle-timeout",
        default=60.0,
        type=float,
        help="seconds one call of the implementation may take (60)",
    )
    group.addoption(
        "--mforacle-load-timeout",
        default=120.0,
        type=float,
        help="seconds loading the implementation may take (120)",
    )
    group.addoption(
        "--mforacle-isolate",
        default="process",
        choices=("process", "thread"),
        help="process (default): the implementation runs in a worker process group, so a hang "
        "is killed and a crash (segfault, os._exit) fails only its items; thread: NOT "
        "isolation, it runs inside pytest (a crash ends the pytest run)",
    )
    group.addoption(
        "--mforacle-no-claims", action="store_true", help="conformance checks only, not the claims"
    )


def _target(config: pytest.Config) -> str | None:
    return config.getoption("mforacle_impl", None) or os.environ.get(ENV_IMPL) or None


def pytest_report_header(config: pytest.Config) -> str | None:
    target = _target(config)
    return f"mforacle conformance suite: {target}" if target else None


class MforacleCheckFailed(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class ConformanceItem(pytest.Item):
    """One planned check; runs it, skips on 'not checked', fails with the evidence."""

    def __init__(self, *, planned: Any, impl: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.planned = planned
        self.impl = impl

    def runtest(self) -> None:
        from mforacle.harness.runner import run_one

        verdicts = run_one(self.planned)
        self.config.stash.setdefault(_VERDICTS, []).extend(verdicts)
        bad = [v for v in verdicts if v.failed]
        if bad:
            raise MforacleCheckFailed("\n\n".join(self._explain(v) for v in bad))
        if verdicts and all(v.status == "not checked" for v in verdicts):
            pytest.skip("not checked: " + "; ".join(v.reason for v in verdicts)[:300])

    def _explain(self, v: Any) -> str:
        lines = [v.summary()]
        if v.error_model:
            lines.append(f"bound: {v.error_model}")
        case = v.evidence.get("case")
        if isinstance(case, dict):
            from mforacle.reproduce import save_case

            path = save_case(case, str(v.evidence.get("case_id", v.claim)).replace("/", "-"))
            q = self.planned.id.rpartition("::")[2]
            src = self.impl.source or "module:object"
            lines.append(f"case: {path}")
            lines.append(
                f"reproduce: mforacle check {src} --dtype {self.impl.dtype} "
                f"--case {path} --only {q}"
            )
        elif v.evidence.get("reproduce"):
            lines.append(f"reproduce: {v.evidence['reproduce']}")
        if v.evidence.get("localized"):
            lines.append(f"localized: {v.evidence['localized']}")
        if v.evidence.get("traceback"):
            lines.append(str(v.evidence["traceback"])[-1500:])
        return "\n".join(lines)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, MforacleCheckFailed):
            return excinfo.value.text
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"mforacle::{self.name}"


class LoadErrorItem(pytest.Item):
    """Stands for the whole suite when the implementation cannot be loaded."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        raise MforacleCheckFailed(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"mforacle::{self.name}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    target = _target(config)
    if not target:
        return
    from mforacle.errors import MforacleError
    from mforacle.harness.calls import Caller
    from mforacle.harness.checks import plan_checks
    from mforacle.harness.loading import load_implementation
    from mforacle.harness.runner import plan_claims
    from mforacle.harness.vectors import build_suite
    from mforacle.profiles import current_profile

    dtype = config.getoption("mforacle_dtype", None) or os.environ.get(ENV_DTYPE) or None
    timeout = config.getoption("mforacle_timeout", 60.0)
    load_timeout = config.getoption("mforacle_load_timeout", 120.0)
    isolate = config.getoption("mforacle_isolate", "process")
    try:
        if isolate == "process":
            from mforacle.harness.isolate import isolated_implementation

            impl, caller = isolated_implementation(
                target, dtype=dtype, timeout=timeout, load_timeout=load_timeout
            )
            config.add_cleanup(caller.stop)
        else:
            impl = load_implementation(target, dtype=dtype)
            caller = Caller(timeout)
    except MforacleError as exc:
        items.append(
            LoadErrorItem.from_parent(
                session, name="mforacle::load", message=f"cannot load {target}: {exc}"
            )
        )
        return
    profile = current_profile()
    planned = plan_checks(impl, build_suite(profile), caller)
    if impl.limit is not None:
        from mforacle.harness.limit import build_limit_suite, plan_limit_checks

        planned += plan_limit_checks(impl, build_limit_suite(), caller)
    if not config.getoption("mforacle_no_claims", False):
        planned += plan_claims(impl, caller, profile)
    for p in planned:
        items.append(
            ConformanceItem.from_parent(session, name=f"mforacle::{p.id}", planned=p, impl=impl)
        )


def _nothing_checked(config: pytest.Config) -> str | None:
    """The NOTHING CHECKED headline when mforacle items ran and every verdict was *not checked*."""
    verdicts = config.stash.get(_VERDICTS, [])
    if not verdicts:
        return None
    from mforacle.harness.runner import summarize, summary_line

    s = summarize(verdicts)
    return summary_line(s) if s["outcome"] == "nothing checked" else None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    line = _nothing_checked(config)
    if line:
        terminalreporter.section("mforacle")
        terminalreporter.write_line(f"mforacle: {line}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == 0 and _nothing_checked(session.config):
        session.exitstatus = EXIT_NOTHING_CHECKED
