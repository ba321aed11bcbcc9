"""Fused optimizer updates: one pass over the weights instead of ~10 NumPy temporaries.

Each kernel performs exactly the float operations of the NumPy code it replaces, in the same
order and in the variable's dtype (no fastmath, so no reassociation or FMA contraction):
the results are bit-identical, which tests/test_optimizers.py checks against tf.keras.
Debug with NUMBA_DISABLE_JIT=1 to step through the Python source.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def adam_update(w, g, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """In place, per element (all arrays 1-D and contiguous, scalars in w's dtype):

        m ← m + (g − m)·(1 − β₁)
        v ← v + (g·g − v)·(1 − β₂)
        w ← w − (m·α) / (√v + ε)
    """
    for i in range(w.size):
        gi = g[i]
        mi = m[i] + (gi - m[i]) * one_minus_beta_1
        vi = v[i] + (gi * gi - v[i]) * one_minus_beta_2
        m[i] = mi
        v[i] = vi
        w[i] = w[i] - (mi * alpha) / (np.sqrt(vi) + epsilon)
