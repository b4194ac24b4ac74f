"""The import graph of ``mforacle/`` runs one way, through explicit layers, without cycles.

Layers, lowest first (issue 8; docs/ARCHITECTURE.md; the certifying module mforacle.reference
sits with the limit, above the three paths it compares)::

    numbers/model → exact, fast, ball (and the error model) → limit → training
                  → verdicts and claims → harness → report → CLI

A module may import modules of its own layer or of lower layers, never of a higher one. The
numerical paths of the second layer (``exact``, ``fast``, ``ball``) and the error model
(``tolerance``) import none of each other: their agreement (claim A1) is evidence only because
they were written separately. Nothing in ``mforacle/`` imports hypothesis or
``mforacle.properties`` (the installed ``properties/`` folder): the command line runs without
hypothesis (checked below in a subprocess that cannot import it).

The graph is computed from the source (``ast``): every ``import`` and ``from … import`` anywhere
in a module, function-level ones included, relative imports resolved. ``importlib`` calls with a
computed name (the claims registry, the CLI's command table) are not seen; they import only
modules of their own package.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOT = REPO / "mforacle"

#: The layer map, lowest first: every module of mforacle/ belongs to exactly one entry (the
#: longest matching prefix; the root package "mforacle" matches only itself).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "numbers/model",
        (
            "mforacle",
            "mforacle.errors",
            "mforacle.numbers",
            "mforacle.dtypes",
            "mforacle.model",
            "mforacle.measures",
            "mforacle.caseio",
            "mforacle.cost",
            "mforacle.threads",
            "mforacle.cases",
            "mforacle.protocol",
            "mforacle.threads",
        ),
    ),
    (
        "exact, fast, ball",
        ("mforacle.exact", "mforacle.fast", "mforacle.ball", "mforacle.tolerance"),
    ),
    ("limit", ("mforacle.sampling", "mforacle.reference")),
    ("training", ("mforacle.training", "mforacle.builtin")),
    (
        "verdicts and claims",
        (
            "mforacle.verdict",
            "mforacle.stats",
            "mforacle.profiles",
            "mforacle.reproduce",
            "mforacle.claims",
        ),
    ),
    ("harness", ("mforacle.harness",)),
    ("report", ("mforacle.report",)),
    (
        "CLI",
        (
            "mforacle.cli",
            "mforacle.__main__",
            "mforacle.commands",
            "mforacle.pytest_plugin",
            "mforacle.bench",
        ),
    ),
]

#: packages of the second layer that must not import each other
INDEPENDENT = ("mforacle.exact", "mforacle.fast", "mforacle.ball", "mforacle.tolerance")
#: never imported from mforacle/ (hypothesis belongs to the installed properties/ folder)
FORBIDDEN = ("hypothesis", "mforacle.properties")


# --------------------------------------------------------------------------- the graph


def module_name(path: Path, root: Path) -> str:
    """``mforacle/harness/checks.py`` -> ``mforacle.harness.checks`` (packages: their name)."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports_of(path: Path, root: Path, known: set[str]) -> set[str]:
    """Modules ``path`` imports (anywhere in it), relative imports resolved; for ``from P import
    n`` the module ``P.n`` when it is one, else ``P``."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                mod = f"{base}.{node.module}" if node.module else base
            else:
                mod = node.module or ""
            for a in node.names:
                sub = f"{mod}.{a.name}"
                out.add(sub if sub in known else mod)
    return out


def graph(root: Path) -> dict[str, set[str]]:
    """Module -> the modules it imports (all names, mforacle's and others')."""
    mods = modules(root)
    known = set(mods)
    return {m: imports_of(p, root, known) for m, p in mods.items()}


def layer_of(module: str) -> tuple[int, str] | None:
    """``(layer index, matched entry)`` by the longest matching entry, or ``None``."""
    best: tuple[int, str] | None = None
    for i, (_, entries) in enumerate(LAYERS):
        for e in entries:
            hit = module == e or (e != "mforacle" and module.startswith(e + "."))
            if hit and (best is None or len(e) > len(best[1])):
                best = (i, e)
    return best


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(g: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the layer order, the independence of the paths, or the ban on
    hypothesis / mforacle.properties; and every module the layer map does not place."""
    out = []
    for mod, deps in sorted(g.items()):
        here = layer_of(mod)
        if here is None:
            out.append(f"{mod}: not in the layer map (add it to LAYERS)")
            continue
        for dep in sorted(deps):
            if any(_within(dep, f) for f in FORBIDDEN):
                out.append(f"{mod} imports {dep} (hypothesis stays in mforacle.properties)")
                continue
            if not _within(dep, "mforacle"):
                continue
            there = layer_of(dep)
            if there is None:
                continue  # reported as unplaced when it is scanned
            if there[0] > here[0]:
                out.append(
                    f"{mod} ({LAYERS[here[0]][0]}) imports {dep} ({LAYERS[there[0]][0]}): "
                    "backwards"
                )
            mine = next((p for p in INDEPENDENT if _within(mod, p)), None)
            theirs = next((p for p in INDEPENDENT if _within(dep, p)), None)
            if mine and theirs and mine != theirs:
                out.append(f"{mod} imports {dep}: {mine} and {theirs} must stay independent")
    return out


def package_of(module: str) -> str:
    """``mforacle.harness.checks`` -> ``mforacle.harness``; top-level modules are their own."""
    parts = module.split(".")
    return ".".join(parts[:2])


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The non-trivial strongly connected components (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def internal(g: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {d for d in deps if d in g and d != m} for m, deps in g.items()}


def package_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m, deps in internal(g).items():
        src = package_of(m)
        out.setdefault(src, set())
        out[src] |= {package_of(d) for d in deps if package_of(d) != src}
    return out


def layer_graph(g: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m, deps in internal(g).items():
        src = LAYERS[layer_of(m)[0]][0]
        out.setdefault(src, set())
        out[src] |= {LAYERS[layer_of(d)[0]][0] for d in deps} - {src}
    return out


# --------------------------------------------------------------------------- the tests


@pytest.fixture(scope="module")
def real_graph() -> dict[str, set[str]]:
    g = graph(ROOT)
    assert len(g) > 50, sorted(g)
    return g


def test_every_module_is_placed_and_imports_point_down(real_graph):
    bad = violations(real_graph)
    assert not bad, "\n".join(bad)


def test_no_cycles_between_layers_packages_or_modules(real_graph):
    assert not cycles(layer_graph(real_graph)), cycles(layer_graph(real_graph))
    assert not cycles(package_graph(real_graph)), cycles(package_graph(real_graph))
    assert not cycles(internal(real_graph)), cycles(internal(real_graph))


@pytest.mark.parametrize("path", ["exact", "fast", "ball"])
def test_paths_do_not_import_each_other(real_graph, path):
    mine = f"mforacle.{path}"
    files = [m for m in real_graph if _within(m, mine)]
    assert files, f"no modules under mforacle/{path}"
    others = [p for p in INDEPENDENT if p != mine]
    bad = {m: sorted(d for d in real_graph[m] if any(_within(d, o) for o in others)) for m in files}
    bad = {k: v for k, v in bad.items() if v}
    assert not bad, f"mforacle/{path} imports {bad}"


def test_the_scan_sees_relative_and_function_level_imports(tmp_path):
    pkg = tmp_path / "mforacle" / "exact"
    pkg.mkdir(parents=True)
    (tmp_path / "mforacle" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "activations.py").write_text("x = 1\n")
    (tmp_path / "mforacle" / "fast").mkdir()
    (tmp_path / "mforacle" / "fast" / "__init__.py").write_text("")
    (tmp_path / "mforacle" / "fast" / "network.py").write_text("")
    (pkg / "m.py").write_text(
        "from ..fast import network\nfrom .activations import x\n"
        "def f():\n    from .. import tolerance\n    import hypothesis\n"
    )
    g = graph(tmp_path / "mforacle")
    assert {"mforacle.fast.network", "mforacle.exact.activations", "mforacle", "hypothesis"} <= (
        g["mforacle.exact.m"]
    ), g["mforacle.exact.m"]


def _synthetic(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    root = tmp_path / "mforacle"
    for rel, text in {"__init__.py": "", **files}.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.parent != root and not (p.parent / "__init__.py").exists():
            (p.parent / "__init__.py").write_text("")
        p.write_text(text)
    return graph(root)


def test_the_checker_catches_a_backwards_import(tmp_path):
    """A claim importing the harness (what claims/exactness.py once did) is reported, and so are
    a path importing another path, hypothesis at run time, an unplaced module and a cycle."""
    g = _synthetic(
        tmp_path,
        {
            "claims/exactness.py": "def f():\n    from mforacle.harness.adapters import r\n",
            "harness/adapters.py": "r = 1\n",
            "exact/network.py": "from ..fast import network\n",
            "fast/network.py": "",
            "harness/checks.py": "import hypothesis\n",
            "mystery.py": "",
        },
    )
    bad = "\n".join(violations(g))
    want = "mforacle.claims.exactness (verdicts and claims) imports mforacle.harness.adapters"
    assert want in bad, bad
    assert "mforacle.exact.network imports mforacle.fast.network" in bad
    assert "mforacle.harness.checks imports hypothesis" in bad
    assert "mforacle.mystery: not in the layer map" in bad
    g2 = _synthetic(
        tmp_path / "two",
        {"claims/a.py": "from . import b\n", "claims/b.py": "from .a import x\n"},
    )
    assert cycles(internal(g2)) == [["mforacle.claims.a", "mforacle.claims.b"]]


# --------------------------------------------------------------------------- no hypothesis

BLOCKER = textwrap.dedent(
    """
    import sys

    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name == "hypothesis" or name.startswith(("hypothesis.", "mforacle.properties")):
                raise ImportError(f"{name} is blocked: the CLI must run without it")
            return None

    sys.meta_path.insert(0, _Block())
    """
)


def _run_without_hypothesis(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)  # also reaches the check's worker process
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MFORACLE_PROFILE": "dev",
    }
    code = "import sys; from mforacle.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_the_blocker_blocks(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(site)}
    r = subprocess.run(
        [sys.executable, "-c", "import hypothesis"], env=env, capture_output=True, text=True
    )
    assert r.returncode != 0 and "blocked" in r.stderr, r.stderr


def test_claims_and_check_run_without_hypothesis(tmp_path):
    r = _run_without_hypothesis(tmp_path, "claims", "--claim", "A1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "A1" in r.stdout and "pass" in r.stdout, r.stdout
    case = str(ROOT / "examples" / "tiny.json")
    r = _run_without_hypothesis(
        tmp_path, "check", "examples.numpy_resnet:IMPL", "--case", case, "--out", "out"
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("PASS"), r.stdout
