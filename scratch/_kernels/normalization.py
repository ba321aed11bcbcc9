"""Batch normalization on a 2-D (positions, channels) view in three Numba passes.

The NumPy fast path (`scratch.layers.normalization.batch_norm_forward_fast` and its
backward) spends most of its time in a dozen small temporaries and reductions (measured on
the GAN's (32, 256…1024) activations: docs/PERFORMANCE.md §Numba loops). These kernels do
the same float operations with per-channel accumulators (sums run over the rows
in order, as NumPy's reductions over axis 0 of a C-contiguous array do), in the input's
dtype, no fastmath; tests/test_fast_paths.py checks them against the NumPy fast form.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True, error_model="numpy")
def batch_moments(x):
    """μ = Σ_rows x / n and the biased σ² = Σ_rows (x − μ)² / n, per channel (column)."""
    n, c = x.shape
    mean = x[0].copy()
    for i in range(1, n):
        for j in range(c):
            mean[j] += x[i, j]
    count = x.dtype.type(n)
    for j in range(c):
        mean[j] = mean[j] / count
    var = np.zeros(c, dtype=x.dtype)
    for j in range(c):
        d = x[0, j] - mean[j]
        var[j] = d * d
    for i in range(1, n):
        for j in range(c):
            d = x[i, j] - mean[j]
            var[j] += d * d
    for j in range(c):
        var[j] = var[j] / count
    return mean, var


@njit(cache=True, nogil=True, error_model="numpy")
def batch_norm_apply(x, mean, inv_std, a, b):
    """y = x·a + b and x̂ = (x − μ)·inv_std, per element (a, b, μ, inv_std per channel)."""
    n, c = x.shape
    y = np.empty_like(x)
    xhat = np.empty_like(x)
    for i in range(n):
        for j in range(c):
            y[i, j] = x[i, j] * a[j] + b[j]
            xhat[i, j] = (x[i, j] - mean[j]) * inv_std[j]
    return y, xhat


@njit(cache=True, nogil=True, error_model="numpy")
def batch_norm_grads(dy, xhat, a, training):
    """dβ = Σ_rows dy, dγ = Σ_rows dy·x̂; dx = a·dy − (a/n)·dβ − x̂·((a/n)·dγ) when the
    statistics came from the batch (`training`), else a·dy."""
    n, c = dy.shape
    dbeta = dy[0].copy()
    dgamma = np.empty(c, dtype=dy.dtype)
    for j in range(c):
        dgamma[j] = dy[0, j] * xhat[0, j]
    for i in range(1, n):
        for j in range(c):
            dbeta[j] += dy[i, j]
            dgamma[j] += dy[i, j] * xhat[i, j]
    dx = np.empty_like(dy)
    if training:
        count = dy.dtype.type(n)
        u = np.empty(c, dtype=dy.dtype)
        v = np.empty(c, dtype=dy.dtype)
        for j in range(c):
            a_n = a[j] / count
            u[j] = a_n * dbeta[j]
            v[j] = a_n * dgamma[j]
        for i in range(n):
            for j in range(c):
                dx[i, j] = dy[i, j] * a[j] - u[j] - xhat[i, j] * v[j]
    else:
        for i in range(n):
            for j in range(c):
                dx[i, j] = dy[i, j] * a[j]
    return dx, dbeta, dgamma
