"""The wheel (issue 8): one installed package with its data, installable into a fresh virtual
environment (no system site-packages, dependencies from the configured package indexes), where
``mforacle report --profile dev`` writes its report.

Marked ``slow`` (a minute or more: a build, a dependency install, a report run): skipped unless
``-m slow`` or ``MFORACLE_PROFILE=thorough``; ``.ci/run`` runs it as a separate step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
#: Not part of a source distribution: environments, caches, generated reports.
IGNORE = shutil.ignore_patterns(
    ".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis",
    "reports", "*.pyc",
)  # fmt: skip


def _run(args: list[str | Path], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def _source_packages() -> set[str]:
    """Every package folder of the source tree, as its path in the wheel."""
    out = {str(p.parent.relative_to(REPO)) for p in (REPO / "mforacle").rglob("__init__.py")}
    out |= {
        "mforacle/properties/" + str(p.parent.relative_to(REPO / "properties"))
        for p in (REPO / "properties").rglob("__init__.py")
    }
    return {p.removesuffix("/.") for p in out}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built by ``pip wheel --no-deps`` from a copy of the working tree (an in-tree
    build would leave build/ and *.egg-info in the checkout)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", root / "dist", src], root, 600)
    (found,) = (root / "dist").glob("mforacle-*.whl")
    return found


def test_wheel_holds_one_package_with_its_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"mforacle"}, top  # nothing else lands in site-packages
    assert "mforacle/py.typed" in names
    examples = {n for n in names if n.startswith("mforacle/examples/") and n.endswith(".json")}
    shipped = {f"mforacle/examples/{p.name}" for p in (REPO / "mforacle/examples").glob("*.json")}
    assert shipped and examples == shipped
    assert "mforacle/properties/strategies/__init__.py" in names
    # every package of the source tree is in the wheel (pyproject lists them one by one)
    packages = {n.rsplit("/", 1)[0] for n in names if n.endswith("/__init__.py")}
    assert _source_packages() <= packages, _source_packages() - packages
    (meta,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "License-Expression: MIT" in text
    # PyTorch and JAX only in extras (a plain install must not pull several GB)
    core = [
        line
        for line in text.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert any("matplotlib" in line for line in core), core
    assert not [line for line in core if "torch" in line or "jax" in line], core
    assert 'Requires-Dist: torch<=2.13.0,>=2.2; extra == "torch"' in text


def test_wheel_installs_and_writes_the_report(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True, system_site_packages=False)
    py = env_dir / "bin" / "python"
    _run([py, "-m", "pip", "install", "--disable-pip-version-check", wheel], tmp_path, 1200)
    # the installed package, not the checkout, is what runs (cwd is outside the repository)
    where = _run([py, "-c", "import mforacle; print(mforacle.__file__)"], tmp_path, 60)
    assert str(env_dir) in where.stdout, where.stdout
    no_top = subprocess.run([py, "-c", "import properties"], cwd=tmp_path, capture_output=True)
    assert no_top.returncode != 0  # mforacle.properties only
    out = tmp_path / "out"
    _run([env_dir / "bin" / "mforacle", "report", "--profile", "dev", "--out", out], tmp_path, 1800)
    for name in ("latest.json", "latest.md", "latest.html"):
        assert (out / name).is_file() and (out / name).stat().st_size > 1000, name
    report = json.loads((out / "latest.json").read_text())
    assert report["summary"]["ok"] and report["profile"] == "dev"
    assert any((out / "cases").glob("*.json"))
    assert (out / "latest.html").read_text().count("<svg") == len(report["plots"]) > 0
