"""Every repository path the project cites exists in the repository.

Scanned: ``README.md``, ``docs/*.md``, and in ``mforacle/`` and ``properties/`` every comment and
string literal of the Python sources (docstrings, error and help messages) and the JSON files
(schema descriptions, example descriptions). A citation is a token such as ``docs/model.md``,
``mforacle/exact/network.py``, ``mforacle/examples/*.json``, ``reports/latest.{json,md,html}``
or ``mforacle/commands/<name>.py``: two or more ``/``-separated parts that end in a file
extension or a ``/``. Globs and ``<placeholders>`` must match at least one file. Tokens whose
first part starts with an upper-case letter (``VDIR/a/b.json``, ``RESULTS/<id>.json``) are
placeholders for the user's own directories and are not checked; neither are paths built at
run time (``f"cases/{label}.json"``: a brace without a comma), the generic ``path/to/...``, and
outputs that mforacle *writes* (:data:`GENERATED`).

The original defect: 28 citations of a spec folder outside the repository (:data:`OUTSIDE`).
``test_a_fake_citation_is_detected`` shows this test catches that kind of citation.
"""

from __future__ import annotations

import io
import itertools
import re
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: File extensions that make a token a file citation.
EXTS = ("py", "md", "json", "toml", "txt", "html", "svg", "cfg", "yml", "yaml", "sh", "ini")

#: Outputs mforacle writes (not files the repository must contain), as regular expressions.
GENERATED = {
    r"reports/check\.(\*|\{[\w,]+\}|json|md|html)": "mforacle check's report",
    r"reports/latest\.(\*|\{json,md,html\}|json|md|html)": "the main job's report (./dev report; "
    "ignored by git: the committed sample is reports/sample/)",
    r"reports/failures/.*": "failing properties save their cases here",
    r"reports/cases/.*": "case files written next to a report",
    r"reports/claims-[\w-]+\.json": "mforacle claims --json FILE, as in the README's examples",
    r"reports/_scratch/.*": "scratch output, ignored by git",
    r"\.venv/.*": "created by ./dev",
}

#: Where the spec used to live, outside the repository (spelled in two parts, so that a search of
#: the repository for the old citation finds nothing).
OUTSIDE = "shared" + "/spec/"

CANDIDATE = re.compile(r"(?<![\w./\-:])([\w.\-<>*{},]+(?:/[\w.\-<>*{},]+)+/?)")


def citations(text: str) -> list[str]:
    """The repository-path tokens cited in ``text`` (see the module docstring)."""
    out = []
    for m in CANDIDATE.finditer(text):
        token = m.group(1).rstrip(".,;:")
        first = token.split("/", 1)[0]
        if not first or first[0].isupper() or any(c in first for c in "<>{}*"):
            continue
        if re.search(r"\{[^{},]*\}", token) or token.startswith("path/to/"):
            continue  # built at run time (f"cases/{label}.json") or a generic example path
        last = token.rstrip("/").rsplit("/", 1)[-1]
        is_dir = token.endswith("/")
        ext = last.rsplit(".", 1)[-1] if "." in last else ""
        if not is_dir and ext not in EXTS and not ext.startswith("{"):
            continue
        if first in {"http:", "https:"} or "//" in token:
            continue
        out.append(token)
    return out


def _expand(token: str) -> list[str]:
    """Brace expansion (``latest.{json,md}``) and ``<placeholder>`` -> ``*``."""
    token = re.sub(r"<[^<>/]+>", "*", token)
    parts = re.split(r"(\{[^{}]*\})", token)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(c) for c in itertools.product(*choices)]


def missing(token: str, root: Path = ROOT) -> bool:
    """Whether a cited path is absent from the repository at ``root``."""
    if any(re.fullmatch(pattern, token) for pattern in GENERATED):
        return False
    for path in _expand(token):
        want_dir = path.endswith("/")
        path = path.rstrip("/")
        if any(c in path for c in "*?["):
            hits = list(root.glob(path))
            if not hits:
                return True
            continue
        target = root / path
        if not (target.is_dir() if want_dir else target.exists()):
            return True
    return False


def python_text(source: str) -> str:
    """The comments and string literals of a Python source (docstrings, messages)."""
    keep = {tokenize.COMMENT, tokenize.STRING}
    keep |= {getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING)}
    pieces = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in keep:
            pieces.append(tok.string)
    return "\n".join(pieces)


def _sources() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for package in ("mforacle", "properties"):
        files += sorted((ROOT / package).rglob("*.py"))
        files += sorted((ROOT / package).rglob("*.json"))
    return [f for f in files if "__pycache__" not in f.parts]


def _text(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return python_text(text) if path.suffix == ".py" else text


def _all_citations() -> list[tuple[str, str]]:
    return [
        (str(f.relative_to(ROOT)), token) for f in _sources() for token in citations(_text(f))
    ]


def test_every_cited_path_exists():
    found = _all_citations()
    bad = sorted({f"{where}: {token}" for where, token in found if missing(token)})
    assert not bad, "cited paths that are not in the repository:\n" + "\n".join(bad)


def test_the_scan_sees_the_spec_citations():
    """The scan is not vacuous: it finds the citations the project is known to make."""
    found = {token for _, token in _all_citations()}
    assert {"docs/model.md", "docs/claims.md", "docs/case-format.md"} <= found
    assert "mforacle/tolerance.py" in found
    assert len(found) > 40


def test_no_citation_leaves_the_repository():
    found = _all_citations()
    outside = [f"{where}: {token}" for where, token in found if token.startswith(OUTSIDE)]
    assert not outside


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"The model is in `{OUTSIDE}model.md`.", [f"{OUTSIDE}model.md"]),
        ("See docs/nonexistent.md, section 2.", ["docs/nonexistent.md"]),
        ("``mforacle/exact/networks.py`` mirrors it", ["mforacle/exact/networks.py"]),
        ("cases in `mforacle/examples/*.yaml`", ["mforacle/examples/*.yaml"]),
        ("writes `mforacle/commands/<name>.md`", ["mforacle/commands/<name>.md"]),
        ("the folder `properties/claimz/`", ["properties/claimz/"]),
        ("reports/latest.{json,md,pdf}", ["reports/latest.{json,md,pdf}"]),
    ],
    ids=["outside-the-repo", "doc", "module", "glob", "placeholder", "folder", "braces"],
)
def test_a_fake_citation_is_detected(text, expected):
    """Citations of files that do not exist are reported (the first one is the original
    defect)."""
    got = citations(text)
    assert got == expected
    assert all(missing(token) for token in got)


@pytest.mark.parametrize(
    "text",
    [
        "`docs/model.md` §1.5",
        "mforacle/exact/network.py:12",
        "`mforacle/examples/*.json`",
        "`mforacle/commands/<name>.py`",
        "reports/sample/latest.{json,md,html}",
        "`mforacle/schema/`",
        "tests/test_doc_paths.py",
    ],
)
def test_real_citations_pass(text):
    got = citations(text)
    assert got and not any(missing(token) for token in got), got


@pytest.mark.parametrize(
    "text",
    [
        "VDIR/<group>/<name>.json and RESULTS/<id>.json",  # the user's directories
        "1/(L·M), O(1/L), w/u/b, float64/32/16",  # not paths
        "https://json-schema.org/draft/2020-12/schema",  # a URL
        "mforacle::small/tanh::grad_x",  # a check id
        'f"reference/{sc.id}.json", path/to/file.py',  # built at run time; an example
    ],
)
def test_non_citations_are_ignored(text):
    assert citations(text) == []


def test_python_comments_docstrings_and_messages_are_scanned():
    source = '''
"""Module doc citing docs/gone.md."""
# a comment citing mforacle/gone.py
def f(x):
    """Doc citing properties/gone/."""
    raise ValueError(f"bad {x}: see docs/also-gone.md")
CODE = "mforacle" + "/not-a-citation-in-code"
'''
    got = citations(python_text(source))
    assert got == ["docs/gone.md", "mforacle/gone.py", "properties/gone/", "docs/also-gone.md"]
    assert all(missing(t) for t in got)
