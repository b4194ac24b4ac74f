"""Exact intake of numbers: decimal strings are read exactly, non-finite values are refused."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mforacle.errors import InvalidArgument
from mforacle.numbers import exact_array, exact_scalar, exact_text, float_array, format_exact


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.1", Fraction(1, 10)),
        ("-2e-3", Fraction(-1, 500)),
        ("3/4", Fraction(3, 4)),
        ("  7 ", Fraction(7)),
    ],
)
def test_decimal_strings_are_exact(text, value):
    assert exact_scalar(text, "f") == value


@pytest.mark.parametrize(
    "bad",
    [
        "nan",
        "inf",
        "-Infinity",
        "abc",
        "",
        "1/0",
        float("nan"),
        float("inf"),
        True,
        None,
        [1],
        mpmath.mpf("inf"),
    ],
)
def test_non_numbers_are_refused_naming_the_field(bad):
    with pytest.raises(InvalidArgument) as info:
        exact_scalar(bad, "theta[0][1][2]")
    assert info.value.field == "theta[0][1][2]"
    assert "theta[0][1][2]" in str(info.value)


def test_mpf_and_float_are_exact():
    assert exact_scalar(0.1, "f") == Fraction(0.1)
    assert exact_scalar(mpmath.mpf(0.1), "f") == Fraction(0.1)
    assert exact_scalar(np.float32(0.1), "f") == Fraction(float(np.float32(0.1)))


def test_bad_element_is_located():
    with pytest.raises(InvalidArgument, match=r"x\[1\]\[0\]"):
        exact_array([["1", "2"], ["nan", "3"]], "x", (None, 2))
    with pytest.raises(InvalidArgument, match=r"x\[1\]\[0\]"):
        float_array([[1.0, 2.0], [np.inf, 3.0]], "x", (None, 2))


def test_shapes_are_checked():
    with pytest.raises(InvalidArgument, match="expected shape"):
        float_array(np.zeros((2, 3)), "x", (None, 2))
    with pytest.raises(InvalidArgument, match="ragged"):
        exact_array([[1, 2], [3]], "x", (None, None))


@given(
    st.fractions(max_denominator=10**6)
    | st.decimals(allow_nan=False, allow_infinity=False).map(Fraction)
)
def test_exact_text_round_trips(q):
    text = exact_text(q)
    back = exact_scalar(text, "q")
    den = q.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    if den == 1:  # terminating decimal: exact
        assert back == q, (q, text)
    else:  # 40 significant digits
        assert abs(back - q) <= abs(q) * Fraction(1, 10**39), (q, text)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_exact_17_digits_round_trips_floats(x):
    assert float(format_exact(x, 17)) == x


@pytest.mark.parametrize("v", ["-3", "-0.1", "2.5e-30", "-7e100", "0"])
def test_mpf_sign_and_magnitude_are_kept(v):
    with mpmath.workdps(50):
        x = mpmath.mpf(v)
    got = exact_scalar(x, "f")
    man, exp = x.man_exp  # unsigned mantissa: the sign is separate
    assert got == (-1 if x < 0 else 1) * Fraction(man) * Fraction(2) ** exp
    assert (got < 0) == (x < 0)
