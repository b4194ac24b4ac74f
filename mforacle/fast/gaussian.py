"""Gaussian-marginal expectations ``F_rho``, ``J_rho`` in NumPy float64 (the fast path).

Written separately from :mod:`mforacle.exact.gaussian` (no shared code). Same mathematics:
for a batch of states ``z`` (B, d) and the marginal ``N(c, A A^T)`` at one depth, put
``Y = w·z + b ~ N(m, v)`` with ``m = c_w·z + c_b``, ``a = A_w^T z + A_b`` (r,), ``v = |a|^2``,
``Cov(theta, Y) = A a``, ``E_j = E[sigma^(j)(Y)]``, and (Stein's identity, applied twice)::

    F = c_u E_0 + (A_u a) E_1
    J = (c_u c_w^T + A_u A_w^T) E_1 + (c_u (A_w a)^T + (A_u a) c_w^T) E_2
        + (A_u a)(A_w a)^T E_3

with ``K_3 = v E_3 = s E[sigma''(m + s zeta) zeta]`` (Gaussian integration by parts, ``s = √v``)
so that the last term is ``(A_u alpha)(A_w alpha)^T K_3``, ``alpha = a/s`` (zero when ``v = 0``).

One-dimensional moments ``(E_0, E_1, E_2, K_3)``:

- ``erf``: ``E_j = S^-j erf^(j)(m/S)``, ``S = √(1 + 2v)`` (closed form).
- ``sin``: ``E_j = e^{-v/2} sin^(j)(m)`` (closed form).
- ``regrelu``: piecewise truncated-Gaussian moments (closed form; ``Phi`` from the fast erf).
- ``tanh``, ``sigmoid``, ``softplus``: one trapezoidal grid in ``zeta`` shared by the batch,
  with an *a-priori* step. The integrand ``phi(zeta) sigma^(j)(m + s zeta)`` is analytic in the
  strip ``|Im zeta| < D/s`` (``D`` = distance of the activation's nearest complex singularity
  from the real axis: ``pi/2`` for tanh, ``pi`` for sigmoid and softplus). On the half strip
  ``a = min(D/(2 s), sqrt(2 ln(1/eps)))`` the integrand is bounded by ``e^{a^2/2} B_sigma``
  (``B_sigma <= 4(1 + |m| + s)``), and the trapezoidal error is at most
  ``2 e^{a^2/2} B_sigma / (e^{2 pi a / h} - 1)``; the step
  ``h = 2 pi a / (ln(1/eps) + a^2/2 + ln(20 B_sigma))`` makes it ``<= eps/10`` with
  ``eps = 2^-56``. The range ``[-Zc, Zc]`` cuts the Gaussian tail below ``eps/10`` as well.
  Node count grows like ``s``: about 150 nodes at ``s = 1``, 900 at ``s = 6`` for tanh.

Roundoff: the moments are sums of ``n`` terms with positive weights summing to 1, so their
absolute error is at most ``~ (log2 n + 4) u max|sigma^(j)|`` (NumPy pairwise summation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..measures import GaussianPath
from ..model import Activation, Model
from .activations import erf, erf_prime, get

__all__ = ["FastMarginal", "GaussianPathArrays", "drift", "drift_and_jacobian", "gaussian_moments"]

_EPS = 2.0**-56
_LN_INV_EPS = math.log(1.0 / _EPS)
_SINGULARITY = {"tanh": math.pi / 2, "sigmoid": math.pi, "softplus": math.pi}
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class GaussianPathArrays:
    """Float64 polynomial coefficients of a Gaussian path: ``c (k, D)``, ``A (k, r, D)``."""

    c: np.ndarray
    A: np.ndarray

    @classmethod
    def of(cls, measure: GaussianPath) -> GaussianPathArrays:
        D = max([len(p) for p in measure.c] + [len(p) for row in measure.A for p in row])
        c = np.zeros((measure.k, D))
        A = np.zeros((measure.k, measure.r, D))
        for i, p in enumerate(measure.c):
            c[i, : len(p)] = [float(v) for v in p]
        for i, row in enumerate(measure.A):
            for j, p in enumerate(row):
                A[i, j, : len(p)] = [float(v) for v in p]
        return cls(c, A)

    def at(self, t: float) -> FastMarginal:
        """``c(t)`` (k,), ``A(t)`` (k, r) by Horner's rule in float64."""
        c = np.zeros(self.c.shape[0])
        A = np.zeros(self.A.shape[:2])
        for j in range(self.c.shape[-1] - 1, -1, -1):
            c = c * t + self.c[:, j]
            A = A * t + self.A[:, :, j]
        return FastMarginal(c, A)


@dataclass(frozen=True)
class FastMarginal:
    """Mean ``c`` (k,) and factor ``A`` (k, r) of ``rho(., t)`` at one depth."""

    c: np.ndarray
    A: np.ndarray


def _Phi(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + erf(x / _SQRT2))


def _phi(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def _regrelu_moments(m: np.ndarray, v: np.ndarray, eta: float):
    s = np.sqrt(v)
    deg = s == 0
    ss = np.where(deg, 1.0, s)
    al, be = (-eta - m) / ss, (eta - m) / ss
    pa, pb = _phi(al), _phi(be)
    Pmid = _Phi(be) - _Phi(al)
    Pup = 0.5 * (1.0 - erf(be / _SQRT2))
    D1 = ss * (pa - pb)
    D2 = v * (Pmid + al * pa - be * pb)
    k = m + eta
    e0 = (D2 + 2 * k * D1 + k * k * Pmid) / (4 * eta) + m * Pup + ss * pb
    e1 = (D1 + k * Pmid) / (2 * eta) + Pup
    e2 = Pmid / (2 * eta)
    k3 = ss * (pa - pb) / (2 * eta)  # v E_3 = v (phi_v(-eta) - phi_v(eta)) / (2 eta)
    if deg.any():  # v = 0: sigma^(j)(m) directly, K_3 = 0
        act = get(f"regrelu:{eta!r}")
        md = m[deg]
        e0 = np.where(deg, 0.0, e0)
        e0[deg] = act.sigma(md)
        e1[deg] = act.dsigma(md)
        e2[deg] = np.where(np.abs(md) <= eta, 1 / (2 * eta), 0.0)
        k3[deg] = 0.0
    return e0, e1, e2, k3


def _trapezoid_grid(name: str, m: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    smax = float(np.max(s)) if s.size else 0.0
    growth = 4.0 * (1.0 + float(np.max(np.abs(m), initial=0.0)) + smax)
    a_opt = math.sqrt(2.0 * _LN_INV_EPS)
    a = a_opt if smax == 0 else min(_SINGULARITY[name] / (2.0 * smax), a_opt)
    h = 2.0 * math.pi * a / (_LN_INV_EPS + a * a / 2.0 + math.log(20.0 * growth))
    # tail: 2 growth phi(Z)(1 + 1/Z) <= eps/10
    Zc = 3.0
    while 2.0 * growth * _INV_SQRT_2PI * math.exp(-Zc * Zc / 2) * (1 + 1 / Zc) > _EPS / 10:
        Zc += 0.25
    n = math.ceil(Zc / h)
    zeta = h * np.arange(-n, n + 1)
    return zeta, h * _phi(zeta)


def gaussian_moments(activation: Activation | str, m: np.ndarray, v: np.ndarray):
    """``(E_0, E_1, E_2, K_3)`` for ``Y ~ N(m, v)``, arrays of the batch shape; ``v >= 0``."""
    act = Activation.parse(activation)
    m = np.asarray(m, dtype=np.float64)
    v = np.maximum(np.asarray(v, dtype=np.float64), 0.0)
    if act.name == "erf":
        S = np.sqrt(1.0 + 2.0 * v)
        x = m / S
        d1 = erf_prime(x)
        return erf(x), d1 / S, -2.0 * x * d1 / S**2, v * (4.0 * x * x - 2.0) * d1 / S**3
    if act.name == "sin":
        damp = np.exp(-0.5 * v)
        sm, cm = np.sin(m), np.cos(m)
        return damp * sm, damp * cm, -damp * sm, -v * damp * cm
    if act.name == "regrelu":
        assert act.eta is not None
        return _regrelu_moments(m, v, float(act.eta))
    fa = get(act)
    s = np.sqrt(v)
    zeta, w = _trapezoid_grid(act.name, m, s)
    Y = m[..., None] + s[..., None] * zeta
    s0, s1 = fa.both(Y)
    s2 = fa.d2sigma(Y)
    return s0 @ w, s1 @ w, s2 @ w, s * ((s2 * zeta) @ w)


def _pre(model: Model, rho: FastMarginal, z: np.ndarray):
    d = model.d
    c, A = rho.c, rho.A
    m = z @ c[:d] + c[2 * d]
    a = z @ A[:d] + A[2 * d]  # (B, r)
    v = np.einsum("br,br->b", a, a)
    cov = a @ A.T  # (B, k)
    return m, a, v, cov


def drift(model: Model, rho: FastMarginal, z: np.ndarray) -> np.ndarray:
    """``F_rho(z)`` for a batch ``z`` (B, d) -> (B, d)."""
    d = model.d
    z = np.atleast_2d(z)
    m, _a, v, cov = _pre(model, rho, z)
    e0, e1, _e2, _k3 = gaussian_moments(model.activation, m, v)
    return rho.c[d : 2 * d] * e0[:, None] + cov[:, d : 2 * d] * e1[:, None]


def drift_and_jacobian(
    model: Model, rho: FastMarginal, z: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(F_rho(z) (B, d), J_rho(z) (B, d, d))``; ``J[b, i, j] = E[sigma'(Y) u_i w_j]``."""
    d = model.d
    z = np.atleast_2d(z)
    c, A = rho.c, rho.A
    m, _a, v, cov = _pre(model, rho, z)
    e0, e1, e2, k3 = gaussian_moments(model.activation, m, v)
    cu, cw = c[d : 2 * d], c[:d]
    covu, covw = cov[:, d : 2 * d], cov[:, :d]
    F = cu * e0[:, None] + covu * e1[:, None]
    base = np.outer(cu, cw) + A[d : 2 * d] @ A[:d].T
    cross = cu[None, :, None] * covw[:, None, :] + covu[:, :, None] * cw[None, None, :]
    s = np.sqrt(v)
    safe = np.where(s > 0, s, 1.0)
    au, aw = covu / safe[:, None], covw / safe[:, None]
    top = au[:, :, None] * aw[:, None, :] * np.where(s > 0, k3, 0.0)[:, None, None]
    J = base[None] * e1[:, None, None] + cross * e2[:, None, None] + top
    return F, J
