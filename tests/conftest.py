import pytest
from mforacle.properties.profiles import register_profiles

PROFILE = register_profiles()

#: Figures that tests measured (slopes, ratios, gaps), shown in the terminal summary so that a
#: plain ``pytest`` run prints the rates, not only whether they were inside their windows.
MEASUREMENTS: list[str] = []


def pytest_report_header(config):
    return f"mforacle hypothesis profile: {PROFILE}"


@pytest.fixture
def measured():
    """``measured(text)`` records a measured figure for the end-of-run summary."""
    return MEASUREMENTS.append


def pytest_terminal_summary(terminalreporter):
    if MEASUREMENTS:
        terminalreporter.section("measured rates and figures")
        for line in MEASUREMENTS:
            terminalreporter.write_line(line)


def _slow_selected(config: pytest.Config) -> bool:
    """``-m`` names ``slow`` without negating it (``-m slow``, ``-m "slow or not slow"``)."""
    expr = config.getoption("markexpr", "") or ""
    return "slow" in expr.replace("not slow", "")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``slow`` run in the ``thorough`` profile or when ``-m`` selects them; in the
    ``dev`` and ``ci`` profiles they are skipped with that reason."""
    if PROFILE == "thorough" or _slow_selected(config):
        return
    skip = pytest.mark.skip(
        reason=f"slow: skipped in the {PROFILE} profile (run with -m slow or "
        "MFORACLE_PROFILE=thorough)"
    )
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
