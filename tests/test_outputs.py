"""Outputs do not clobber (issue 9, item 8): ``-o`` writes through special files (``/dev/null``
stays a device), follows symlinks knowingly (the link stays a link, its target is replaced),
names the path in every I/O error, and a report is written as a set (a failure leaves the old
set whole, never a new JSON beside an old HTML)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from mforacle import caseio
from mforacle.cli import main
from mforacle.report import files as report_files
from mforacle.report import write_report
from mforacle.report.rows import REPORT_FORMAT

EXAMPLES = Path(__file__).resolve().parents[1] / "mforacle" / "examples"
TINY = str(EXAMPLES / "tiny.json")


def _eval(capsys, *extra: str) -> tuple[int, str]:
    code = main(["eval", TINY, "--path", "fast", *extra])
    return code, capsys.readouterr().err


def _device(tmp_path: Path, name: str, minor: int) -> Path:
    """A private character device (1, minor) — never the machine's own /dev/null: a regression
    run as root would replace that for every process (this happened once while verifying the
    old code). Skips where device nodes cannot be made (not root)."""
    path = tmp_path / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc}); the FIFO test covers the path")
    return path


def test_a_device_is_written_through_not_replaced(tmp_path, capsys):
    """``-o /dev/null`` used to rename a temp file over it (as root: the real /dev/null)."""
    null = _device(tmp_path, "null", 3)
    before = os.stat(null)
    code, err = _eval(capsys, "-o", str(null))
    after = os.stat(null)
    assert code == 0, err
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_a_fifo_is_written_through(tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        code, err = _eval(capsys, "-o", str(fifo))
        assert code == 0, err
        data = os.read(reader, 1 << 20)
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert json.loads(data)["format"] == "mforacle-result/1"


def test_a_symlink_is_followed_and_stays_a_link(tmp_path, capsys):
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target.name)
    code, err = _eval(capsys, "-o", str(link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert json.loads(target.read_text())["format"] == "mforacle-result/1"


def test_a_symlink_loop_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    code, err = _eval(capsys, "-o", str(tmp_path / "a"))
    assert code == 2 and err.startswith("mforacle: error: output") and err.count("\n") == 1


def test_a_full_device_names_the_path(tmp_path, capsys):
    full = _device(tmp_path, "full", 7)
    code, err = _eval(capsys, "-o", str(full))
    assert code == 2 and err == f"mforacle: error: {full}: No space left on device\n", err
    assert stat.S_ISCHR(os.stat(full).st_mode)


def test_a_full_disk_names_the_path(tmp_path, capsys, monkeypatch):

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(caseio.os, "fsync", full)
    out = tmp_path / "result.json"
    code, err = _eval(capsys, "-o", str(out))
    assert code == 2 and f"{out}: No space left on device" in err, err
    assert not out.exists() and not list(tmp_path.glob(".result.json.*"))  # no temp left


def _report(total: int) -> dict:
    return {
        "format": REPORT_FORMAT,
        "created": "2026-01-01T00:00:00Z",
        "mforacle_version": "test",
        "command": "mforacle check x",
        "profile": "dev",
        "implementation": {"name": "x"},
        "suite": {"version": "1"},
        "summary": {"pass": total, "fail": 0, "error": 0, "not checked": 0, "total": total,
                    "ok": True},
        "duration_s": 0.0,
        "verdicts": [],
    }  # fmt: skip


def test_a_failed_report_leaves_the_old_set_whole(tmp_path, monkeypatch):
    paths = write_report(_report(1), tmp_path, "check")
    old = {k: p.read_text() for k, p in paths.items()}

    def broken(report):
        raise RuntimeError("html rendering failed")

    monkeypatch.setattr(report_files, "html_page", broken)
    with pytest.raises(RuntimeError):
        write_report(_report(2), tmp_path, "check")
    assert {k: p.read_text() for k, p in paths.items()} == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["check.html", "check.json", "check.md"]


def test_a_report_write_error_names_the_file(tmp_path, monkeypatch):
    calls = []
    real = caseio._publish

    def fail_second(tmp, dest):
        calls.append(dest)
        if len(calls) == 2:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        real(tmp, dest)

    monkeypatch.setattr(caseio, "_publish", fail_second)
    with pytest.raises(OSError) as info:
        write_report(_report(1), tmp_path, "check")
    assert info.value.filename == str(calls[1])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
