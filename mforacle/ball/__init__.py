"""The ball path: midpoint–radius (Arb) arithmetic with python-flint, rigorous enclosures.

A third arithmetic, independent of the mpmath path (``mforacle.exact``) and the NumPy path
(``mforacle.fast``): no numerical code is shared; only the arithmetic-free validation in
``mforacle.model`` / ``mforacle.numbers`` is. See ``activations.py`` (``σ^{(j)}`` on balls),
``network.py`` (forward, loss, adjoint, gradients of the discrete network), ``gaussian.py``
(certified Gaussian moments, ``F_ρ``, ``J_ρ``) and ``limit.py`` (certified enclosures of the
mean-field limit: ``Z``, the adjoint, energy, first variation, velocity; ``docs/limit.md``).
"""
