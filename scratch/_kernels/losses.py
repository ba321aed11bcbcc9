"""Numba kernels of the cross-entropies' hidden-logits path (`scratch.losses`).

Every train step of a classifier runs one of these: a sigmoid or softmax head hands its
logits to the loss (docs/KERAS_NUMERICS.md §Hidden logits). The readable NumPy pairs in
`scratch.losses` take about a dozen array operations each; on course-sized batches (32 × 1,
32 × 10) their cost is the Python and NumPy call overhead, not the arithmetic. Each kernel
below is one call that performs the same operations in the same order:

    bce_logits_values / bce_logits_grad      ⟷  losses.bce_logits_forward / _backward
    bce_logits_mean                          ⟷  both, and the mean between them
    scce_logits_values / scce_logits_grad    ⟷  losses.scce_forward / scce_backward (logits)

Sums over the class axis use `block_sum`, NumPy's own summation order for rows of up to
MAX_CLASSES elements (longer rows take the NumPy path), so in float64 a kernel's result equals
its NumPy twin bit for bit. In float32 NumPy's exp and log are its own SIMD routines, which
differ from the C library's in the last bit on some inputs: there the kernels agree with NumPy
to float32 rounding (tests/test_fast_paths.py checks both). The reduction over samples stays
in NumPy, except in `bce_logits_mean` for batches of at most MAX_CLASSES rows (one block).
Compiled lazily with `cache=True`, no fastmath; kept small on purpose, because compiling a
kernel is slow (docs/PERFORMANCE.md §Numba compilation).
"""

from __future__ import annotations

import numba as nb
import numpy as np

MAX_CLASSES = 128  # NumPy's PW_BLOCKSIZE: rows up to this long are one block


@nb.njit(cache=True)
def block_sum(a, start, n):
    """Σ a[start:start+n] for 1 <= n <= 128 in NumPy's order (`pairwise_sum` of
    numpy/_core/src/umath/loops, whose blocks are 128 long): sequential below 8, else eight
    interleaved partial sums combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the rest.
    Longer rows (more than 128 classes) stay on the NumPy path."""
    if n < 8:  # n >= 1 here; NumPy starts from -0.0, and -0.0 + a[0] is a[0]
        res = a[start]
        for i in range(1, n):
            res += a[start + i]
        return res
    r0, r1, r2, r3 = a[start], a[start + 1], a[start + 2], a[start + 3]
    r4, r5, r6, r7 = a[start + 4], a[start + 5], a[start + 6], a[start + 7]
    i = 8
    while i < n - (n % 8):
        r0 += a[start + i]
        r1 += a[start + i + 1]
        r2 += a[start + i + 2]
        r3 += a[start + i + 3]
        r4 += a[start + i + 4]
        r5 += a[start + i + 5]
        r6 += a[start + i + 6]
        r7 += a[start + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[start + i]
        i += 1
    return res


# Literals inside a kernel would be float64 and promote float32 arithmetic, so every constant
# comes in as an argument of the arrays' dtype: `one` (1) and `k` (the class count).


@nb.njit(cache=True, error_model="numpy")
def bce_logits_values(y, z, one, k, values, exp_neg_abs, elem):
    """values[r] = mean_j(max(z,0) − z·y + log(1 + e^(−|z|))) over row r, and e^(−|z|).

    Shapes: y, z, exp_neg_abs, elem (R, k) (elem is scratch space); values (R,).
    """
    R, K = z.shape
    zero = one - one
    flat = elem.reshape(-1)
    for r in range(R):
        for j in range(K):
            zj = z[r, j]
            positive = zj >= 0
            e = np.exp(-zj if positive else zj)
            exp_neg_abs[r, j] = e
            relu = zj if positive else zero  # NumPy: where(z >= 0, z, 0)
            elem[r, j] = relu - zj * y[r, j] + np.log1p(e)
        values[r] = block_sum(flat, r * K, K) / k
    return values


@nb.njit(cache=True, error_model="numpy")
def bce_logits_grad(dvalues, y, z, exp_neg_abs, one, k, out):
    """dℓ/dz = where(z ≥ 0, g, 0) − g·y + where(z ≥ 0, −d, d), g = dvalues/k, d = g/(1+e)·e.

    Shapes: dvalues (R,); y, z, exp_neg_abs, out (R, k).
    """
    R, K = z.shape
    zero = one - one
    for r in range(R):
        g = dvalues[r] / k
        for j in range(K):
            e = exp_neg_abs[r, j]
            d = g / (one + e) * e
            if z[r, j] >= 0:
                out[r, j] = g - g * y[r, j] + -d
            else:
                out[r, j] = zero - g * y[r, j] + d
    return out


@nb.njit(cache=True, error_model="numpy")
def bce_logits_mean(y, z, one, k, n, need_grad, grad):
    """The unweighted mean of `bce_logits_values` and, if `need_grad`, its gradient
    `bce_logits_grad(1/n per row)` written to `grad`: the pipeline's three steps (values,
    mean, gradient) in one call. The mean is `block_sum`, NumPy's order for n <= MAX_CLASSES
    rows, the callers' limit.

    Shapes: y, z, grad (n, k); returns the mean.
    """
    R = z.shape[0]
    values = np.empty(R, dtype=z.dtype)
    exp_neg_abs, elem = np.empty_like(z), np.empty_like(z)
    bce_logits_values(y, z, one, k, values, exp_neg_abs, elem)
    mean = block_sum(values, 0, R) / n
    if need_grad:
        dvalues = np.empty(R, dtype=z.dtype)
        dvalues[:] = one / n
        bce_logits_grad(dvalues, y, z, exp_neg_abs, one, k, grad)
    return mean


@nb.njit(cache=True, error_model="numpy")
def scce_logits_values(z, labels, values, softmax):
    """Per-row sparse softmax cross-entropy from logits, and softmax(z) for the backward.

    Math (per row): shifted = z − max z;  s = Σ e^shifted;  values = log s − shifted[label];
    softmax = e^shifted / s.

    Shapes: z, softmax (R, C); labels (R,) int64; values (R,).
    """
    R, C = z.shape
    flat = softmax.reshape(-1)
    for r in range(R):
        top = z[r, 0]
        for c in range(1, C):
            if z[r, c] > top:
                top = z[r, c]
        for c in range(C):
            softmax[r, c] = np.exp(z[r, c] - top)
        total = block_sum(flat, r * C, C)
        values[r] = np.log(total) - (z[r, labels[r]] - top)
        for c in range(C):
            softmax[r, c] = softmax[r, c] / total
    return values


@nb.njit(cache=True, error_model="numpy")
def scce_logits_grad(dvalues, labels, softmax, one, out):
    """dℓ/dz = (softmax − onehot(label))·dvalues per row.

    Shapes: dvalues (R,); labels (R,); softmax, out (R, C).
    """
    R, C = softmax.shape
    for r in range(R):
        for c in range(C):
            out[r, c] = softmax[r, c]
        out[r, labels[r]] = out[r, labels[r]] - one
        for c in range(C):
            out[r, c] *= dvalues[r]
    return out
