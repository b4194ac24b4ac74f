"""Exact summation: the correctly rounded exact sum, in any order, at any magnitude spread."""

from fractions import Fraction

import mpmath
from hypothesis import given
from hypothesis import strategies as st

from mforacle.exact.network import evaluate
from mforacle.exact.summation import exact_sum
from mforacle.model import Model

mantissas = st.integers(-(2**60), 2**60)
exponents = st.integers(-3000, 3000)


@given(st.lists(st.tuples(mantissas, exponents), max_size=8), st.randoms())
def test_exact_sum_is_the_rounded_exact_sum_in_any_order(parts, rnd):
    with mpmath.workdps(20):
        terms = [mpmath.mpf((m, e)) for m, e in parts]
        exact = sum((Fraction(m) * Fraction(2) ** e for m, e in parts), Fraction(0))
        want = mpmath.mpf(exact.numerator) / exact.denominator  # one correct rounding
        got = exact_sum(terms)
        rnd.shuffle(terms)
        assert exact_sum(terms) == got == want, (parts, got, want)


def test_far_apart_terms_are_not_dropped():
    # mpmath.fsum drops the 1 here (it lies > 2·prec bits below 1e200); exact_sum must not
    with mpmath.workdps(15):
        assert exact_sum([mpmath.mpf("1e200"), 1, mpmath.mpf("-1e200")]) == 1


def test_network_with_huge_cancelling_neurons():
    """Neurons u = ±1e200 with w = 0 cancel exactly: z_L = tanh(1)/3 for x = 0 (L = 1, M = 3),
    in every neuron order, with an honest bound (was: loss 0 with bound 0)."""
    model = Model.create(1, "tanh")
    rows = [["0", "1e200", "1"], ["0", "1", "1"], ["0", "-1e200", "1"]]
    with mpmath.workdps(40):
        z_true = mpmath.tanh(1) / 3
    for order in ([0, 1, 2], [1, 0, 2], [0, 2, 1]):
        r = evaluate(model, [[rows[i] for i in order]], [["0"]], ["0"], dps=15)
        err = abs(r.z_L[0][0] - z_true)
        assert err <= r.error_bound["z_L"], (order, r.z_L[0][0], z_true, r.error_bound)
        assert abs(r.loss - z_true**2 / 2) <= r.error_bound["loss"], (order, r.loss)


def test_astronomically_small_terms_are_dropped_only_when_harmless():
    from mforacle.exact.summation import SPAN_BITS, ExponentRangeError

    with mpmath.workdps(30):
        tiny = mpmath.mpf((1, -4 * SPAN_BITS))  # like tanh'(1e200): far below everything
        assert exact_sum([mpmath.mpf(1), tiny, mpmath.mpf("0.5")]) == mpmath.mpf("1.5")
        assert exact_sum([tiny, tiny]) == 2 * tiny  # nothing dropped when all are tiny
        try:
            exact_sum([mpmath.mpf(1), tiny, mpmath.mpf(-1)])  # large terms cancel exactly
        except ExponentRangeError as exc:
            assert "cancel" in str(exc)
        else:
            raise AssertionError("a cancelling sum with a dropped term must not return a value")


def test_network_with_saturated_huge_preactivations():
    """w·x ~ 1e200: σ'(a) underflows to e^(−1e200) scale; the exact path still answers, with
    the bound confirmed by recomputation."""
    model = Model.create(2, "tanh", ["1", "0.5"])
    theta = [[["1e200", "-0.2", "0.3", "1e200", "0.5"]]]
    r = evaluate(model, theta, [["0.5", "-1.0"], ["0.25", "0.75"]], ["0.1", "-0.3"], dps=20)
    hi = evaluate(model, theta, [["0.5", "-1.0"], ["0.25", "0.75"]], ["0.1", "-0.3"], dps=60)
    assert abs(r.loss - hi.loss) <= r.error_bound["loss"]


@given(st.lists(st.tuples(mantissas, exponents, mantissas, exponents), max_size=8),
       st.lists(st.tuples(mantissas, exponents), max_size=2), st.randoms())
def test_exact_dot_raw_is_the_rounded_exact_dot_in_any_order(parts, extra, rnd):
    """Σ x_i y_i + Σ extra with exact products, rounded once; order-independent. A dot product
    that rounds each product first (the broken variant below) differs on these cases."""
    from mforacle.exact.summation import exact_dot_raw, exact_sum_raw

    with mpmath.workdps(20):
        prec = mpmath.mp.prec
        xs = [mpmath.mpf((m1, e1))._mpf_ for m1, e1, _m2, _e2 in parts]
        ys = [mpmath.mpf((m2, e2))._mpf_ for _m1, _e1, m2, e2 in parts]
        ex = [mpmath.mpf((m, e))._mpf_ for m, e in extra]
        exact = sum((Fraction(m1) * Fraction(2) ** e1 * Fraction(m2) * Fraction(2) ** e2
                     for m1, e1, m2, e2 in parts), Fraction(0))
        exact += sum((Fraction(m) * Fraction(2) ** e for m, e in extra), Fraction(0))
        want = (mpmath.mpf(exact.numerator) / exact.denominator)._mpf_
        got = exact_dot_raw(xs, ys, prec, ex)
        pairs = list(zip(xs, ys, strict=True))
        rnd.shuffle(pairs)
        rnd.shuffle(ex)
        shuffled = exact_dot_raw([p[0] for p in pairs], [p[1] for p in pairs], prec, ex)
        assert mpmath.mpf(got) == mpmath.mpf(shuffled) == mpmath.mpf(want)
        broken = exact_sum_raw([(mpmath.mpf(a) * mpmath.mpf(b))._mpf_ for a, b in pairs] + ex,
                               prec)
        if len(parts) == 1 and not extra and mpmath.mpf(broken) != mpmath.mpf(want):
            raise AssertionError("one product rounded once must equal the exact dot")


def test_rounding_products_first_is_caught():
    """The broken variant (products rounded before the exact sum) loses the low part here."""
    from mforacle.exact.summation import exact_dot_raw, exact_sum_raw

    with mpmath.workdps(15):
        prec = mpmath.mp.prec
        a = mpmath.mpf(1) + mpmath.mpf(2) ** -40
        xs, ys = [a._mpf_, mpmath.mpf(-1)._mpf_], [a._mpf_, mpmath.mpf(1)._mpf_]
        exact = exact_dot_raw(xs, ys, prec)  # a² − 1 = 2^-39 + 2^-80
        rounded = exact_sum_raw([(a * a)._mpf_, mpmath.mpf(-1)._mpf_], prec)
        assert mpmath.mpf(exact) == mpmath.mpf(2) ** -39 + mpmath.mpf(2) ** -80
        assert mpmath.mpf(rounded) != mpmath.mpf(exact)
