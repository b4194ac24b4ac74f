"""The ``mforacle`` command line.

Each subcommand lives in ``mforacle/commands/<name>.py`` and provides ``configure(parser)``
and ``run(args) -> int``. User errors (:class:`~mforacle.errors.MforacleError`, and paths
that cannot be read or written) print one line, ``mforacle: error: ...``, and exit with
status 2 (``MFORACLE_DEBUG=1`` shows an I/O error's traceback); any other traceback is a bug.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .errors import MforacleError

#: name -> (module under mforacle.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("eval", "evaluate a theta case: loss, z_L, gradients (exact or fast path)"),
    "limit": ("limit", "evaluate a measure case: the mean-field limit, dE/drho and V"),
    "claims": ("claims", "check the paper's claims against the built-in paths"),
    "check": ("check", "check another implementation (Python object or result files)"),
    "vectors": ("vectors", "export the versioned suite of test vectors"),
    "report": ("report", "write the conformance report (JSON, Markdown, HTML) under reports/"),
}

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, no usage dump
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="mforacle", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"mforacle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(f"mforacle.commands.{module}")
        mod.configure(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        from . import threads

        # BLAS/OpenMP threads of this process: MFORACLE_THREADS, else 1 (mforacle.threads:
        # several threads per process oversubscribe a loaded machine, 20× slower, issue 13)
        with threads.limit():
            code = int(args._run(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:  # `mforacle ... | head -1`: stop quietly, as other Unix tools do
        _silence_stdout()
        return 0
    except MforacleError as exc:
        print(f"mforacle: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a path the user gave cannot be read or written
        if os.environ.get("MFORACLE_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"mforacle: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mforacle: interrupted", file=sys.stderr)
        return 130


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
