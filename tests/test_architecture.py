"""The three numerical paths are independent: none imports another (or the error model, or the
certifying module above them).

Their agreement (claim A1) is evidence only because they were written separately; this test
keeps it that way.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "mforacle"
FORBIDDEN = {
    "exact": ("mforacle.fast", "mforacle.ball", "mforacle.tolerance", "mforacle.reference"),
    "fast": ("mforacle.exact", "mforacle.ball", "mforacle.tolerance", "mforacle.reference"),
    "ball": ("mforacle.exact", "mforacle.fast", "mforacle.tolerance", "mforacle.reference"),
}


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (relative imports resolved)."""
    package = "mforacle." + path.parent.name
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
                out |= {mod} | {f"{mod}.{a.name}" for a in node.names}
            else:
                out |= {node.module or ""} | {f"{node.module}.{a.name}" for a in node.names}
    return out


@pytest.mark.parametrize("path", ["exact", "fast", "ball"])
def test_paths_do_not_import_each_other(path):
    files = sorted((ROOT / path).glob("*.py"))
    assert files, f"no modules under mforacle/{path}"
    bad = {
        f.name: sorted(m for m in _imports(f) if m.startswith(FORBIDDEN[path]))
        for f in files
    }
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"mforacle/{path} imports {bad}"


def test_the_scan_sees_relative_imports(tmp_path):
    pkg = tmp_path / "exact"
    pkg.mkdir()
    f = pkg / "m.py"
    f.write_text("from ..fast import network\nfrom .activations import x\n")
    assert "mforacle.fast.network" in _imports(f)
    assert "mforacle.exact.activations" in _imports(f)
