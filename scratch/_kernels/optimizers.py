"""Fused optimizer updates: one pass over the weights instead of ~10 NumPy temporaries.

Each kernel performs exactly the float operations of the NumPy code it replaces, in the same
order and in the variable's dtype (no fastmath, so no reassociation or FMA contraction):
the results are bit-identical, which tests/test_optimizers.py checks against tf.keras.
error_model="numpy" (a division by zero gives inf/NaN, as in NumPy, instead of raising)
drops the per-element zero check that keeps LLVM from vectorizing the loop: with it, the
SIMD sqrt and division (exactly rounded, like the scalar ones) make Adam several times
faster with the same bits (docs/PERFORMANCE.md §Numba loops).
Debug with NUMBA_DISABLE_JIT=1 to step through the Python source.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
def adam_update_squares(w, g, g2, m, v, alpha, one_minus_beta_1, one_minus_beta_2, epsilon):
    """`adam_update` with the squared gradient given (an Embedding's Σ g_p² per row):

        v ← v + (g2 − v)·(1 − β₂)
    """
    for i in range(w.size):
        mi = m[i] + (g[i] - m[i]) * one_minus_beta_1
        vi = v[i] + (g2[i] - v[i]) * one_minus_beta_2
        m[i] = mi
        v[i] = vi
        w[i] = w[i] - (mi * alpha) / (np.sqrt(vi) + epsilon)


@njit(cache=True, error_model="numpy")
def sgd_momentum_update(w, g, m, learning_rate, momentum, nesterov):
    """In place, per element (Keras' SGD; the velocity includes the learning rate):

        m ← m·μ − g·lr
        w ← w + m                  (nesterov: w ← w + (m·μ − g·lr))
    """
    for i in range(w.size):
        step = g[i] * learning_rate
        mi = m[i] * momentum - step
        m[i] = mi
        if nesterov:
            w[i] = w[i] + (mi * momentum - step)
        else:
            w[i] = w[i] + mi
