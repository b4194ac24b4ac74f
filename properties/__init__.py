"""The paper's claims as reusable properties, and hypothesis strategies that generate cases.

Every claim is a function ``check_<id>(impl, case, ...) -> Verdict``: it takes an
implementation (the built-in exact/fast paths or a third party's, through
``mforacle.harness``) and a generated case, and returns plain data that pytest and the
reports both use.
"""

from .verdict import Verdict

__all__ = ["Verdict"]
