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


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.slow`` tests run only under ``MFORACLE_PROFILE=thorough`` or when the
    marker expression names them (``-m slow``), as pyproject.toml's marker says."""
    if PROFILE == "thorough" or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: set MFORACLE_PROFILE=thorough or pass -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
