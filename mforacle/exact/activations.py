"""Activations ``sigma``, ``sigma'``, ``sigma''`` in mpmath, exact formulas at any precision.

Each function evaluates in the *current* mpmath context (callers wrap them in
``mpmath.workdps(...)``), takes an ``mpf`` and returns an ``mpf``. The forms are chosen so that
every value has a small *relative* error at any magnitude of the argument (no cancellation,
no overflow: mpmath has an unbounded exponent range, so ``exp(1000)`` is finite):

=========  =============================  =======================  ===========================
name       sigma                          sigma'                   sigma''
=========  =============================  =======================  ===========================
tanh       tanh x                         sech^2 x                 -2 tanh x sech^2 x
erf        erf x                          2/sqrt(pi) e^{-x^2}      -2x sigma'(x)
sigmoid    1/(1+e^{-x}) (x>=0),           s(x) s(-x)               -sigma'(x) tanh(x/2)
           e^x/(1+e^x) (x<0)
softplus   max(x,0) + log1p(e^{-|x|})     sigmoid(x)               sigmoid'(x)
sin        sin x                          cos x                    -sin x
regrelu:η  0 | (x+η)^2/(4η) | x           0 | (x+η)/(2η) | 1       0 | 1/(2η) | 0
=========  =============================  =======================  ===========================

``sigma'`` of tanh is ``sech^2`` rather than ``1 - tanh^2`` (which cancels for large ``|x|``);
the sigmoid's ``sigma'`` is ``s(x)s(-x)`` rather than ``s(1-s)`` for the same reason, and its
``sigma''`` uses the identity ``1 - 2 s(x) = -tanh(x/2)``.

Regularized ReLU (companion paper), pieces ``x < -η | -η <= x <= η | x > η``. ``sigma`` and
``sigma'`` are continuous, so their values at the kinks are unambiguous. ``sigma''`` jumps at
``±η``; **(convention)** at both kinks it takes the middle piece's value ``1/(2η)``, i.e. the
middle piece is the closed interval ``[-η, η]`` (at ``-η`` this is the right derivative of
``sigma'``, at ``+η`` the left one). Claims that need C² exclude ``regrelu``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import mpmath
from mpmath.libmp import fone, mpf_cosh_sinh, mpf_div, mpf_mul, round_nearest

from ..errors import InvalidArgument
from ..model import Activation

__all__ = ["ExactActivation", "exact_activation", "mpf_of"]

Fn = Callable[[mpmath.mpf], mpmath.mpf]


def mpf_of(value: Fraction | int) -> mpmath.mpf:
    """A Fraction (or int) as the correctly rounded ``mpf`` at the current precision."""
    from mpmath.libmp import from_rational

    v = Fraction(value)
    prec, rnd = mpmath.mp._prec_rounding
    return mpmath.mp.make_mpf(from_rational(v.numerator, v.denominator, prec, rnd))


# --- tanh ---------------------------------------------------------------------------------
def _tanh(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.tanh(x)


def _tanh_d1(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.sech(x) ** 2


def _tanh_d2(x: mpmath.mpf) -> mpmath.mpf:
    return -2 * mpmath.tanh(x) * mpmath.sech(x) ** 2


# --- erf ----------------------------------------------------------------------------------
def _erf(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.erf(x)


def _erf_d1(x: mpmath.mpf) -> mpmath.mpf:
    return 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)


def _erf_d2(x: mpmath.mpf) -> mpmath.mpf:
    return -2 * x * _erf_d1(x)


# --- sigmoid ------------------------------------------------------------------------------
def _sigmoid(x: mpmath.mpf) -> mpmath.mpf:
    if x >= 0:
        return 1 / (1 + mpmath.exp(-x))
    e = mpmath.exp(x)
    return e / (1 + e)


def _sigmoid_d1(x: mpmath.mpf) -> mpmath.mpf:
    return _sigmoid(x) * _sigmoid(-x)


def _sigmoid_d2(x: mpmath.mpf) -> mpmath.mpf:
    return -_sigmoid_d1(x) * mpmath.tanh(x / 2)


# --- softplus -----------------------------------------------------------------------------
def _softplus(x: mpmath.mpf) -> mpmath.mpf:
    tail = mpmath.log1p(mpmath.exp(-abs(x)))
    return x + tail if x > 0 else tail


# --- sin ----------------------------------------------------------------------------------
def _sin(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.sin(x)


def _cos(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.cos(x)


def _neg_sin(x: mpmath.mpf) -> mpmath.mpf:
    return -mpmath.sin(x)


_SMOOTH: dict[str, tuple[Fn, Fn, Fn]] = {
    "tanh": (_tanh, _tanh_d1, _tanh_d2),
    "erf": (_erf, _erf_d1, _erf_d2),
    "sigmoid": (_sigmoid, _sigmoid_d1, _sigmoid_d2),
    "softplus": (_softplus, _sigmoid, _sigmoid_d1),
    "sin": (_sin, _cos, _neg_sin),
}


@dataclass(frozen=True)
class ExactActivation:
    """``sigma`` and its first two derivatives for one :class:`~mforacle.model.Activation`.

    Methods evaluate at the current mpmath precision. ``regrelu``'s ``eta`` is converted from
    its exact Fraction at each call, so it is correctly rounded at whatever precision is active.
    """

    activation: Activation

    @property
    def name(self) -> str:
        return self.activation.name

    def _eta(self) -> mpmath.mpf:
        assert self.activation.eta is not None
        return mpf_of(self.activation.eta)

    def sigma(self, x: mpmath.mpf) -> mpmath.mpf:
        """``sigma(x)``."""
        if self.name != "regrelu":
            return _SMOOTH[self.name][0](x)
        eta = self._eta()
        if x < -eta:
            return mpmath.mpf(0)
        if x > eta:
            return +x
        return (x + eta) ** 2 / (4 * eta)

    def d1(self, x: mpmath.mpf) -> mpmath.mpf:
        """``sigma'(x)``."""
        if self.name != "regrelu":
            return _SMOOTH[self.name][1](x)
        eta = self._eta()
        if x < -eta:
            return mpmath.mpf(0)
        if x > eta:
            return mpmath.mpf(1)
        return (x + eta) / (2 * eta)

    def sigma_and_d1(self, x: mpmath.mpf) -> tuple[mpmath.mpf, mpmath.mpf]:
        """``(σ(x), σ'(x))``, sharing work where the formulas allow (the network's forward pass
        needs both once per neuron and point). ``tanh``: one ``cosh``/``sinh`` evaluation at 20
        guard bits, ``tanh = sinh/cosh`` and ``sech² = 1/cosh²`` each rounded once to the
        working precision (relative error below one ulp). Others: :meth:`sigma`, :meth:`d1`."""
        if self.name == "tanh":
            prec = mpmath.mp.prec
            wp = prec + 20
            c, s = mpf_cosh_sinh(x._mpf_, wp, round_nearest)
            make = mpmath.mp.make_mpf
            return (make(mpf_div(s, c, prec, round_nearest)),
                    make(mpf_div(fone, mpf_mul(c, c, wp, round_nearest), prec, round_nearest)))
        return self.sigma(x), self.d1(x)

    def d2(self, x: mpmath.mpf) -> mpmath.mpf:
        """``sigma''(x)``; ``regrelu`` takes ``1/(2 eta)`` at ``±eta`` (see module doc)."""
        if self.name != "regrelu":
            return _SMOOTH[self.name][2](x)
        eta = self._eta()
        if x < -eta or x > eta:
            return mpmath.mpf(0)
        return 1 / (2 * eta)


def exact_activation(activation: Activation | str) -> ExactActivation:
    """The mpmath ``sigma, sigma', sigma''`` of an :class:`Activation` or a spec (``"tanh"``)."""
    if isinstance(activation, str):
        activation = Activation.parse(activation)
    if not isinstance(activation, Activation):
        raise InvalidArgument(
            "activation", activation, "expected an mforacle.model.Activation or a name like 'tanh'"
        )
    return ExactActivation(activation)
