"""mforacle: a verified-numerics test oracle for mean-field deep ResNets.

Two independent paths compute the same quantities: :mod:`mforacle.exact` (mpmath, arbitrary
precision, with a confirmed error bound) and :mod:`mforacle.fast` (vectorized NumPy float64).
"""

from .errors import (
    CaseFormatError,
    ImplementationError,
    InvalidArgument,
    MforacleError,
    UnsupportedFormatVersion,
)
from .model import Activation, Data, Model

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "CaseFormatError",
    "Data",
    "ImplementationError",
    "InvalidArgument",
    "MforacleError",
    "Model",
    "UnsupportedFormatVersion",
    "__version__",
]
