"""Load an implementation named by ``module.path:object`` (or ``path/to/file.py:object``).

Without ``:object`` (``mypkg.impl``, ``path/to/impl.py``) the module itself is the
implementation (its functions ``forward``, ``loss``, ... are the protocol's members).

The pytest plugin reads the same string from ``--mforacle-impl`` or the environment variable
``MFORACLE_IMPL`` (and the dtype from ``--mforacle-dtype`` / ``MFORACLE_DTYPE``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ImplementationError
from ..protocol import Implementation
from .adapters import adapt

__all__ = ["ENV_DTYPE", "ENV_IMPL", "load_implementation", "load_object"]

ENV_IMPL = "MFORACLE_IMPL"
ENV_DTYPE = "MFORACLE_DTYPE"


def split_target(target: str) -> tuple[str, str]:
    """``(module or file, attribute path)`` of ``module.path[:object]`` or ``file.py[:object]``
    (attribute ``""``: the module itself). Raises :class:`ImplementationError` if malformed."""
    if not isinstance(target, str) or not target.strip():
        raise ImplementationError(
            f"implementation {target!r}: expected 'module.path[:object]' "
            "(e.g. 'examples.torch_resnet:IMPL')"
        )
    mod_name, sep, attr = target.rpartition(":")
    if not sep:
        mod_name, attr = target, ""
    if not mod_name or (sep and not attr):
        raise ImplementationError(
            f"implementation {target!r}: expected 'module.path[:object]'"
        )
    return mod_name, attr


def load_object(target: str) -> Any:
    """Import ``module.path[:attr.sub]`` or ``file.py[:attr]``; errors say what was not found.
    Without ``:attr`` the module is returned."""
    mod_name, attr = split_target(target)
    if mod_name.endswith(".py") or os.sep in mod_name:
        path = Path(mod_name)
        if not path.is_file():
            raise ImplementationError(f"implementation {target!r}: no such file {path}")
        name = "_mforacle_impl_" + path.stem
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImplementationError(f"implementation {target!r}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            raise ImplementationError(
                f"importing {path} failed: {type(exc).__name__}: {exc}"
            ) from exc
    else:
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # like `python -m`: the current directory imports
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise ImplementationError(f"cannot import module {mod_name!r}: {exc}") from exc
        except Exception as exc:
            raise ImplementationError(
                f"importing {mod_name!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
    obj: Any = module
    for part in attr.split(".") if attr else ():
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImplementationError(f"{mod_name!r} has no attribute {attr!r}") from None
    return obj


def load_implementation(
    target: str, *, dtype: str | None = None, framework: str | None = None
) -> Implementation:
    """Load and adapt the implementation named by ``target``."""
    return adapt(load_object(target), dtype=dtype, framework=framework, source=target)
