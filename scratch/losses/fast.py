"""The fast twins of the cross-entropies on logits: each is one Numba kernel call
(`scratch/_kernels/losses.py`) with the contract of its readable pair in `formulas.py`.

A loss uses them while the fast paths are on (`scratch.backend.fast_paths`, or the loss's own
`fast_path`); tests/test_fast_paths.py checks them against the readable functions.
"""

from __future__ import annotations

import numpy as np

from .. import backend
from .._kernels import load as load_kernels
from ..typing import Array
from .reduction import _MAX_KERNEL_CLASSES, _plain_mean

# ---------------------------------------------------------------------------- fast twins
# The same contracts as bce_logits_* and scce_* on logits, each one Numba kernel call
# (scratch/_kernels/losses.py). A loss uses them while its `fast_path` is True (the
# default); tests/test_fast_paths.py checks them against the readable functions above.


def _plain_hidden_logits(y_pred, logits):
    """The logits as a C-contiguous float array when they can stand for y_pred in a fused
    kernel (same shape and float32/float64 dtype, not empty), else None."""
    if not (isinstance(logits, np.ndarray) and isinstance(y_pred, np.ndarray)) or \
            logits.shape != y_pred.shape or logits.dtype != y_pred.dtype or \
            logits.dtype not in backend.FLOAT_DTYPES or logits.size == 0 or \
            logits.ndim == 0 or logits.shape[-1] > _MAX_KERNEL_CLASSES:
        return None
    return np.ascontiguousarray(logits)


def _mean_and_grad(values: Array, need_grad: bool, backward, cache):
    """`reduce_weighted_values` without weights or mask (mean over all values), then the
    gradient through `backward`: the pipeline's operations for that case."""
    value, dvalues = _plain_mean(values, need_grad)
    return value, None if dvalues is None else backward(dvalues, cache)


def bce_logits_forward_fast(y_true: Array, logits: Array):
    """`bce_logits_forward` in one kernel call: values (...,) and the backward's cache."""
    dt, k = logits.dtype.type, logits.shape[-1]
    z = np.ascontiguousarray(logits).reshape(-1, k)
    y = np.ascontiguousarray(y_true, dtype=logits.dtype).reshape(-1, k)
    values = np.empty(z.shape[0], dtype=logits.dtype)
    exp_neg_abs, elem = np.empty_like(z), np.empty_like(z)
    load_kernels("losses").bce_logits_values(y, z, dt(1), dt(k), values, exp_neg_abs, elem)
    return values.reshape(logits.shape[:-1]), (y, z, exp_neg_abs, logits.shape)


def bce_logits_mean_fast(y_true: Array, logits: Array, need_grad: bool):
    """`_mean_and_grad` of `bce_logits_forward_fast` / `bce_logits_backward_fast` in one
    kernel call, for 2-D logits of at most `_MAX_KERNEL_CLASSES` rows (NumPy sums that many
    values in one block, which the kernel repeats): (mean, dL/dz or None)."""
    rows, k = logits.shape
    dt = logits.dtype.type
    y = np.ascontiguousarray(y_true, dtype=logits.dtype).reshape(rows, k)
    grad = np.empty_like(logits)
    mean = load_kernels("losses").bce_logits_mean(y, logits, dt(1), dt(k), dt(rows), need_grad,
                                                  grad)
    return dt(mean), grad if need_grad else None


def bce_logits_backward_fast(dvalues: Array, cache) -> Array:
    """`bce_logits_backward` in one kernel call."""
    y, z, exp_neg_abs, shape = cache
    dt = z.dtype.type
    dv = np.ascontiguousarray(dvalues, dtype=z.dtype).reshape(-1)
    out = np.empty_like(z)
    load_kernels("losses").bce_logits_grad(dv, y, z, exp_neg_abs, dt(1), dt(z.shape[1]), out)
    return out.reshape(shape)


def scce_logits_forward_fast(labels: np.ndarray, logits: Array):
    """`scce_forward(labels, logits, from_logits=True)` in one kernel call."""
    c = logits.shape[-1]
    z = np.ascontiguousarray(logits).reshape(-1, c)
    flat_labels = np.ascontiguousarray(labels, dtype=np.int64).reshape(-1)
    values = np.empty(z.shape[0], dtype=logits.dtype)
    softmax = np.empty_like(z)
    load_kernels("losses").scce_logits_values(z, flat_labels, values, softmax)
    return values.reshape(logits.shape[:-1]), (flat_labels, softmax, logits.shape)


def scce_logits_backward_fast(dvalues: Array, cache) -> Array:
    """`scce_backward` (logits) in one kernel call."""
    labels, softmax, shape = cache
    dv = np.ascontiguousarray(dvalues, dtype=softmax.dtype).reshape(-1)
    out = np.empty_like(softmax)
    load_kernels("losses").scce_logits_grad(dv, labels, softmax, softmax.dtype.type(1), out)
    return out.reshape(shape)
