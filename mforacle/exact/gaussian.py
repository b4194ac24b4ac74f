"""Exact expectations under a Gaussian marginal ``rho(., t) = N(c(t), A(t) A(t)^T)`` (mpmath).

For a state ``z`` put ``h = (z, 0, 1)`` so that ``Y = w·z + b = h^T theta``. Under
``theta = c + A xi``, ``xi ~ N(0, I_r)``: ``Y ~ N(m, v)`` with ``m = h^T c``, ``a = A^T h``,
``v = |a|^2``, ``s = sqrt(v)``, and ``Cov(theta, Y) = A a``. Write ``E_j = E[sigma^(j)(Y)]``.

Drift (Stein's identity for jointly Gaussian ``(u, Y)``)::

    F(z) = E[u sigma(Y)] = E[u] E_0 + Cov(u, Y) E_1 = c_u E_0 + (A_u a) E_1

Jacobian ``J(z) = E[sigma'(Y) u w^T]``. Stein's identity applied twice (to ``u_i`` against
``h(theta) = sigma'(Y) w_j``, then to ``w_j`` against ``sigma'(Y)`` and ``sigma''(Y)``) gives::

    E[X1 X2 g(Y)] = (E X1 E X2 + Cov(X1, X2)) E g + (E X1 Cov(X2, Y) + Cov(X1, Y) E X2) E g'
                    + Cov(X1, Y) Cov(X2, Y) E g''

so with ``g = sigma'``::

    J = (c_u c_w^T + A_u A_w^T) E_1 + (c_u (A_w a)^T + (A_u a) c_w^T) E_2
        + (A_u a)(A_w a)^T E_3

(The brief's shorter form omitted the ``E_2`` cross terms and had ``E_2`` where ``E_3`` belongs;
both are needed, as the Monte Carlo test confirms.) ``E_3`` needs ``sigma'''``, which the
activations do not provide; Gaussian integration by parts gives
``v E_3 = s E[sigma''(m + s zeta) zeta]``, so the last term is written
``(A_u alpha)(A_w alpha)^T K_3`` with ``alpha = a/s`` and ``K_3 = v E_3``; it vanishes when
``v = 0`` (then ``Cov(theta, Y) = 0`` exactly), so degenerate marginals work.

How the one-dimensional moments ``(E_0, E_1, E_2, K_3)`` are computed:

- ``erf``: closed form, ``E_j = S^-j erf^(j)(m/S)`` with ``S = sqrt(1 + 2v)``.
- ``sin``: closed form, ``E_j = e^{-v/2} sin^(j)(m)``.
- ``regrelu:eta``: closed form, piecewise: truncated Gaussian moments of degree <= 2 on the three
  pieces (``Phi`` and ``phi`` in mpmath), ``E_3 = (phi_v(-eta) - phi_v(eta))/(2 eta)`` (the
  jumps of ``sigma''``). Exact, no quadrature (Gauss–Hermite converges slowly at the kinks).
- ``tanh``, ``sigmoid``, ``softplus``: the trapezoidal rule in ``zeta`` on ``[-Z, Z]``, nested
  (step halved, old nodes reused) until two successive levels agree to ``tol`` and the step
  resolves ``sigma`` (``h s <= 1``). For integrands analytic in a strip the trapezoidal error
  falls like ``exp(-2 pi d / h)``, so halving ``h`` squares the error: the accepted value's error
  is far below the last difference. Gauss–Hermite is *not* used: when ``s`` is large, the poles
  of ``tanh(m + s zeta)`` sit ``pi/(2s)`` from the real axis and Gauss–Hermite would need
  ``~ (ln(1/tol) s)^2`` nodes; the trapezoidal rule needs ``~ ln(1/tol) s``. ``Z`` is chosen so
  the Gaussian tail, times the growth of ``sigma`` (linear for ``softplus``), is below ``tol/10``.

All functions compute in the current mpmath context (wrap calls in ``mpmath.workdps``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

from ..measures import GaussianPath
from ..model import Activation, Model
from .activations import ExactActivation, exact_activation, mpf_of

__all__ = ["ExactMarginal", "drift", "drift_and_jacobian", "gaussian_moments", "marginal"]

_QUAD_NODES: dict[tuple[int, int, int], tuple[list, list]] = {}


@dataclass(frozen=True)
class ExactMarginal:
    """``c(t)`` (k,) and ``A(t)`` (k, r) as mpf object arrays at the current precision."""

    c: np.ndarray
    A: np.ndarray


def marginal(measure: GaussianPath, t: Fraction) -> ExactMarginal:
    """The marginal's mean and factor at depth ``t`` (evaluated exactly, rounded once)."""
    c = np.array([mpf_of(v) for v in measure.mean_at(Fraction(t))], dtype=object)
    A = np.array([[mpf_of(v) for v in row] for row in measure.factor_at(Fraction(t))], dtype=object)
    return ExactMarginal(c, A)


def _phi(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.exp(-x * x / 2) / mpmath.sqrt(2 * mpmath.pi)


def _Phi(x: mpmath.mpf) -> mpmath.mpf:
    return mpmath.erfc(-x / mpmath.sqrt(2)) / 2


def _erf_moments(m, v):
    S = mpmath.sqrt(1 + 2 * v)
    x = m / S
    d1 = 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-x * x)
    e0 = mpmath.erf(x)
    e1 = d1 / S
    e2 = -2 * x * d1 / S**2
    e3 = (4 * x * x - 2) * d1 / S**3
    return e0, e1, e2, v * e3


def _sin_moments(m, v):
    damp = mpmath.exp(-v / 2)
    sm, cm = mpmath.sin(m), mpmath.cos(m)
    return damp * sm, damp * cm, -damp * sm, -v * damp * cm


def _regrelu_moments(m, v, eta):
    """Piecewise-exact moments of the regularized ReLU."""
    if v == 0:
        y = m
        if y < -eta:
            return mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(0), mpmath.mpf(0)
        if y > eta:
            return y, mpmath.mpf(1), mpmath.mpf(0), mpmath.mpf(0)
        return (y + eta) ** 2 / (4 * eta), (y + eta) / (2 * eta), 1 / (2 * eta), mpmath.mpf(0)
    s = mpmath.sqrt(v)
    al, be = (-eta - m) / s, (eta - m) / s  # standardized kinks
    phia, phib = _phi(al), _phi(be)
    Pa, Pb = _Phi(al), _Phi(be)
    # middle piece [-eta, eta]: truncated moments of D = Y - m
    P_mid = Pb - Pa
    D1_mid = s * (phia - phib)
    D2_mid = v * (P_mid + al * phia - be * phib)
    # upper piece (eta, inf)
    P_up = 1 - Pb
    D1_up = s * phib
    k = m + eta  # Y + eta = D + k
    e0 = (D2_mid + 2 * k * D1_mid + k * k * P_mid) / (4 * eta) + (m * P_up + D1_up)
    e1 = (D1_mid + k * P_mid) / (2 * eta) + P_up
    e2 = P_mid / (2 * eta)
    e3 = (phia - phib) / (s * 2 * eta)
    return e0, e1, e2, v * e3


def _tail_cut(tol, growth) -> mpmath.mpf:
    """``Z`` with ``2 growth phi(Z) (1 + 1/Z) <= tol/10`` (rounded up to a multiple of 1/2)."""
    Z = mpmath.mpf(3)
    while 2 * growth * _phi(Z) * (1 + 1 / Z) > tol / 10:
        Z += mpmath.mpf(1) / 2
    return Z


def _nodes(Z: mpmath.mpf, level: int) -> tuple[list, list]:
    """New nodes of the nested trapezoid at step ``h = 2^-(level+1)`` and their ``phi`` weights."""
    key = (mpmath.mp.prec, int(Z * 2), level)
    if key not in _QUAD_NODES:
        h = mpmath.mpf(2) ** -(level + 1)
        n = int(mpmath.ceil(Z / h))
        idx = range(-n, n + 1) if level == 0 else range(-n + 1, n, 2)
        zs = [h * j for j in idx]
        _QUAD_NODES[key] = (zs, [_phi(z) for z in zs])
    return _QUAD_NODES[key]


def _derivs(name: str, y):
    """``(sigma, sigma', sigma'')`` of tanh / sigmoid / softplus from one ``exp`` (no cancellation:
    ``e = exp(-2|y|)`` resp. ``exp(-|y|)`` lies in (0, 1]). Cross-checked against
    :mod:`mforacle.exact.activations` by the tests."""
    if name == "tanh":
        e = mpmath.exp(-2 * abs(y))
        t = (1 - e) / (1 + e)
        if y < 0:
            t = -t
        d1 = 4 * e / (1 + e) ** 2
        return t, d1, -2 * t * d1
    e = mpmath.exp(-abs(y))
    inv = 1 / (1 + e)
    sg = inv if y >= 0 else e * inv
    d1 = e * inv * inv
    th = (1 - e) * inv  # tanh(|y|/2)
    d2 = -d1 * (th if y >= 0 else -th)
    if name == "sigmoid":
        return sg, d1, d2
    sp = mpmath.log1p(e) + (y if y > 0 else 0)  # softplus
    return sp, sg, d1


def _trapezoid_moments(act: ExactActivation, m, v, tol, max_level: int = 14):
    s = mpmath.sqrt(v)
    growth = 2 + abs(m) + s if act.name == "softplus" else mpmath.mpf(2)
    Z = _tail_cut(tol, growth)
    sums = [mpmath.mpf(0)] * 4
    prev = None
    for level in range(max_level + 1):
        h = mpmath.mpf(2) ** -(level + 1)
        zs, ws = _nodes(Z, level)
        for z, w in zip(zs, ws, strict=True):
            s0, s1, d2 = _derivs(act.name, m + s * z)
            sums[0] += w * s0
            sums[1] += w * s1
            sums[2] += w * d2
            sums[3] += w * d2 * z
        est = [h * S for S in sums]
        if (
            prev is not None
            and h * s <= 1
            and max(abs(a - b) for a, b in zip(est, prev, strict=True)) <= tol
        ):
            return est[0], est[1], est[2], s * est[3]
        prev = est
    raise ArithmeticError(f"trapezoidal rule did not reach tol={tol} (m={m}, v={v})")


def gaussian_moments(activation: Activation | ExactActivation, m, v, *, tol):
    """``(E[sigma(Y)], E[sigma'(Y)], E[sigma''(Y)], v E[sigma'''(Y)])`` for ``Y ~ N(m, v)``.

    Closed forms for ``erf``, ``sin`` and ``regrelu``; a nested trapezoidal rule (absolute error
    well below ``tol``) for ``tanh``, ``sigmoid``, ``softplus``. ``v = 0`` is allowed.
    """
    act = activation if isinstance(activation, ExactActivation) else exact_activation(activation)
    m = mpf_of(m) if isinstance(m, Fraction | int) else mpmath.mpf(m)
    v = mpf_of(v) if isinstance(v, Fraction | int) else mpmath.mpf(v)
    if v < 0:
        raise ValueError(f"variance must be >= 0, got {v}")
    if act.name == "erf":
        return _erf_moments(m, v)
    if act.name == "sin":
        return _sin_moments(m, v)
    if act.name == "regrelu":
        assert act.activation.eta is not None
        return _regrelu_moments(m, v, mpf_of(act.activation.eta))
    if v == 0:
        return act.sigma(m), act.d1(m), act.d2(m), mpmath.mpf(0)
    return _trapezoid_moments(act, m, v, mpmath.mpf(tol))


def _pre(model: Model, rho: ExactMarginal, z):
    d = model.d
    c, A = rho.c, rho.A
    r = A.shape[1]
    m = sum((c[i] * z[i] for i in range(d)), mpmath.mpf(0)) + c[2 * d]
    a = [sum((A[i, j] * z[i] for i in range(d)), mpmath.mpf(0)) + A[2 * d, j] for j in range(r)]
    v = sum((aj * aj for aj in a), mpmath.mpf(0))
    cov = [sum((A[i, j] * a[j] for j in range(r)), mpmath.mpf(0)) for i in range(2 * d + 1)]
    return m, a, v, cov


def drift(model: Model, rho: ExactMarginal, z, *, tol) -> np.ndarray:
    """``F_rho(z) = E[u sigma(w·z + b)]`` (d,) by Stein's identity."""
    d = model.d
    m, _a, v, cov = _pre(model, rho, z)
    e0, e1, _e2, _k3 = gaussian_moments(model.activation, m, v, tol=tol)
    return np.array([rho.c[d + i] * e0 + cov[d + i] * e1 for i in range(d)], dtype=object)


def drift_and_jacobian(
    model: Model, rho: ExactMarginal, z, *, tol
) -> tuple[np.ndarray, np.ndarray]:
    """``(F_rho(z), J_rho(z))``: drift (d,) and ``J = E[sigma'(Y) u w^T]`` (d, d), Stein form."""
    d = model.d
    c, A = rho.c, rho.A
    r = A.shape[1]
    m, _a, v, cov = _pre(model, rho, z)
    e0, e1, e2, k3 = gaussian_moments(model.activation, m, v, tol=tol)
    F = np.array([c[d + i] * e0 + cov[d + i] * e1 for i in range(d)], dtype=object)
    J = np.empty((d, d), dtype=object)
    s = mpmath.sqrt(v)
    for i in range(d):
        for j in range(d):
            AuAw = sum((A[d + i, q] * A[j, q] for q in range(r)), mpmath.mpf(0))
            val = (c[d + i] * c[j] + AuAw) * e1 + (c[d + i] * cov[j] + cov[d + i] * c[j]) * e2
            if v != 0:
                val += (cov[d + i] / s) * (cov[j] / s) * k3
            J[i, j] = val
    return F, J
