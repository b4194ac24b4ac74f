"""Fuzzing the command line with mutated inputs (issue 9, "Done when"): hypothesis mutates the
bundled case files and an exported result directory, and every mutant must end with exit
status 0, 1 or 2, no traceback, within a bounded time.

Mutants run through ``mforacle.cli.main`` in-process (a daemon thread with a generous time
limit, so a hang fails the test instead of stalling it); a small fixed sample also runs as a
real subprocess. Evaluations use the cheap paths (``eval --path fast``, ``limit --path fast``
with few steps, the exact path only on the smallest case); file mode grades a trimmed export
(a few cases), so one mutant costs well under a second."""

from __future__ import annotations

import contextlib
import faulthandler
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mforacle.cli import main
from mforacle.harness.vectors import export
from mforacle.profiles import EFFORT, current_profile

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "mforacle" / "examples"
CASE_FILES = sorted(p.name for p in EXAMPLES.glob("*.json"))
#: seconds one mutant may take in-process (a hang, not a slow machine, should trip it)
TIME_LIMIT = 120.0
EXAMPLES_SCALE = EFFORT[current_profile()]

HOSTILE = [
    None, True, 0, -1, 2**70, 1.5, -0.0, "", "x", "nan", "inf", "-Infinity", "1e999999999",
    "1e-999999999", "1" + "0" * 5000, "1/0", "3/4", "0x10", "1e400", "-1e309", "regrelu:0",
    "regrelu:-1", "tanh", [], {}, [[[]]], ["1"], [None], {"a": 1}, "1e400", "5e-324",
    "2.2250738585072014e-308", "𝟙", "\u0000",
]  # fmt: skip


def _leaves(obj, path=()):
    """Every position in a JSON tree (containers included), as key paths."""
    yield path
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))


def _replace(obj, path, value):
    if not path:
        return value
    obj = json.loads(json.dumps(obj))
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return obj


def _delete(obj, path):
    if not path:
        return obj
    obj = json.loads(json.dumps(obj))
    target = obj
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return obj


@st.composite
def json_mutant(draw, obj):
    """``obj`` with one to three structural mutations (replace, delete, duplicate, wrap)."""
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_leaves(obj))
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "replace", "delete", "wrap", "grow"]))
        if kind == "replace":
            obj = _replace(obj, path, draw(st.sampled_from(HOSTILE)))
        elif kind == "delete":
            obj = _delete(obj, path)
        elif kind == "wrap":
            obj = _replace(obj, path, [_get(obj, path)])
        else:  # grow a list (ragged arrays, extra points) or duplicate a value
            value = _get(obj, path)
            obj = _replace(obj, path, [*value, *value[:1]] if isinstance(value, list) else value)
    return obj


def _get(obj, path):
    for key in path:
        obj = obj[key]
    return obj


@st.composite
def text_mutant(draw, text):
    """Byte-level damage: truncation, a spliced fragment, or a repeated span."""
    kind = draw(st.sampled_from(["truncate", "splice", "repeat"]))
    i = draw(st.integers(0, len(text)))
    if kind == "truncate":
        return text[:i]
    if kind == "splice":
        piece = draw(st.sampled_from(['"', "[", "]]]", "{", ",", "1e99999", "\\"]))
        return text[:i] + piece + text[i:]
    j = draw(st.integers(i, min(len(text), i + 40)))
    return text[:i] + text[i:j] * draw(st.integers(2, 50)) + text[j:]


def _run(argv: list[str]) -> tuple[int, str]:
    """``main(argv)`` in-process: (exit status, stderr). A traceback or a hang fails."""
    box: dict = {}
    err, out = io.StringIO(), io.StringIO()

    def target() -> None:
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                box["code"] = main(argv)
        except SystemExit as exc:  # argparse
            box["code"] = exc.code
        except BaseException:
            box["traceback"] = traceback.format_exc()

    worker = threading.Thread(target=target, daemon=True)
    # a C-level watchdog: code that hangs inside one C call (a billion-digit integer) holds the
    # GIL, so the join below could not time out; then the whole run ends with a traceback dump
    faulthandler.dump_traceback_later(TIME_LIMIT + 60, exit=True, file=sys.__stderr__)
    try:
        worker.start()
        worker.join(TIME_LIMIT)
    finally:
        faulthandler.cancel_dump_traceback_later()
    if worker.is_alive():
        pytest.fail(f"mforacle {' '.join(argv)[:300]} took over {TIME_LIMIT:g} s")
    if "traceback" in box:
        pytest.fail(f"mforacle {' '.join(argv)[:300]} raised:\n{box['traceback']}")
    code = box["code"]
    text = err.getvalue()
    assert code in (0, 1, 2), (argv, code, text[-2000:])
    assert "Traceback" not in text, text[-2000:]
    if code == 2:
        assert text.rstrip().splitlines()[-1].startswith("mforacle: error: "), text[-2000:]
    return code, text


def _argv_for(name: str, path: Path, tmp: Path) -> list[list[str]]:
    if name.startswith("measure"):
        return [["limit", str(path), "--path", "fast", "--steps", "4"]]
    runs = [["eval", str(path), "--path", "fast"]]
    if name == "tiny.json":
        runs.append(["eval", str(path), "--dps", "15", "-o", str(tmp / "out.json")])
    return runs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@settings(
    max_examples=30 * EXAMPLES_SCALE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(data=st.data(), name=st.sampled_from(CASE_FILES), as_text=st.booleans())
def test_mutated_case_files(workdir, data, name, as_text):
    text = (EXAMPLES / name).read_text()
    if as_text:
        mutant = data.draw(text_mutant(text))
    else:
        mutant = json.dumps(data.draw(json_mutant(json.loads(text))))
    path = workdir / f"mutant-{name}"
    path.write_text(mutant)
    for argv in _argv_for(name, path, workdir):
        _run(argv)


# --- result directories ----------------------------------------------------------------------

KEEP = ("small/tanh", "kappa/sin", "edge/one-point-one-neuron")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A trimmed export (three theta cases, one measure case) and conforming results."""
    vdir = tmp_path_factory.mktemp("vectors")
    export(vdir, "dev")
    manifest = json.loads((vdir / "manifest.json").read_text())
    manifest["cases"] = [e for e in manifest["cases"] if e["id"] in KEEP]
    manifest["limit_cases"] = manifest["limit_cases"][:1]
    (vdir / "manifest.json").write_text(json.dumps(manifest))
    rdir = tmp_path_factory.mktemp("results")
    for e in [*manifest["cases"], *manifest["limit_cases"]]:
        src = vdir / e["reference"]
        dst = rdir / f"{e['id']}.json"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dst)
    return vdir, rdir


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if p.is_file())


@settings(
    max_examples=12 * EXAMPLES_SCALE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    deadline=None,
)
@given(data=st.data(), in_vectors=st.booleans(), how=st.sampled_from(["json", "text", "swap"]))
def test_mutated_result_directories(exported, tmp_path_factory, data, in_vectors, how):
    base = tmp_path_factory.mktemp("mutant")
    vdir, rdir = base / "V", base / "R"
    shutil.copytree(exported[0], vdir)
    shutil.copytree(exported[1], rdir)
    root = vdir if in_vectors else rdir
    target = data.draw(st.sampled_from(_files(root)))
    text = target.read_text()
    if how == "json":
        target.write_text(json.dumps(data.draw(json_mutant(json.loads(text)))))
    elif how == "text":
        target.write_text(data.draw(text_mutant(text)))
    else:  # the file becomes something else
        target.unlink()
        kind = data.draw(st.sampled_from(["dir", "dev", "outside", "missing", "fifo"]))
        if kind == "dir":
            target.mkdir()
        elif kind == "dev":
            target.symlink_to("/dev/zero")
        elif kind == "outside":
            target.symlink_to(EXAMPLES / "tiny.json")
        elif kind == "fifo":
            os.mkfifo(target)
    out = base / "report"
    code, _ = _run(
        ["check", "--vectors", str(vdir), "--results", str(rdir), "--out", str(out), "--quiet"]
    )
    if code != 2:  # the report is always written
        assert (out / "check.json").is_file() and (out / "check.html").is_file()


# --- a sample through the real command line --------------------------------------------------

SAMPLE = [
    ("tiny.json", lambda o: _replace(o, ("y", 0), "1e999999999")),
    ("tiny.json", lambda o: _replace(o, ("theta",), [[["1"] * 5]] * 2 + [[["1"] * 4]])),
    ("measure_erf_d1.json", lambda o: _replace(o, ("measure", "c", 0), "1e400")),
    ("sigmoid.json", lambda o: _delete(o, ("model",))),
]


@pytest.mark.parametrize("name, mutate", SAMPLE)
def test_a_sample_of_mutants_through_the_real_command_line(tmp_path, name, mutate):
    path = tmp_path / name
    path.write_text(json.dumps(mutate(json.loads((EXAMPLES / name).read_text()))))
    for argv in _argv_for(name, path, tmp_path):
        done = subprocess.run(
            [sys.executable, "-m", "mforacle", *argv],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=300,
        )
        assert done.returncode in (0, 1, 2) and "Traceback" not in done.stderr, done.stderr
