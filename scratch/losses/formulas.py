"""The per-sample math of each loss, as pure pairs (the course's equations):

    *_forward(y_true, y_pred) -> (values, cache)      values: y's shape without the last axis
    *_backward(dvalues, cache) -> dy_pred             dy_pred: y_pred's shape

Shapes: y_true, y_pred (..., k). The gradients are TensorFlow's autodiff of Keras' formulas,
clips and renormalisations included (the package docstring lists the rules).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..typing import Array

__all__ = [
    "mse_forward", "mse_backward", "mae_forward", "mae_backward", "huber_forward",
    "huber_backward", "bce_probs_forward", "bce_probs_backward", "bce_logits_forward",
    "bce_logits_backward", "cce_probs_forward", "cce_probs_backward", "cce_logits_forward",
    "cce_logits_backward", "scce_forward", "scce_backward",
]


def _mean_grad(dvalues: np.ndarray, k: int) -> np.ndarray:
    """Gradient of mean over the last axis (size k): g/k broadcast over that axis."""
    return dvalues[..., None] / dvalues.dtype.type(k)


def _clip_bounds(dtype: np.dtype) -> tuple[Any, Any]:
    eps = backend.epsilon()
    return dtype.type(eps), dtype.type(1.0 - eps)


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum `grad` down to `shape` (the reverse of NumPy broadcasting)."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


# ============================================================================ per-sample math
# Each loss is a pure pair: *_forward(y_true, y_pred) -> (values, cache) and
# *_backward(dvalues, cache) -> dy_pred. Shapes: y_true, y_pred (..., k); values (...,).


def mse_forward(y_true: Array, y_pred: Array):
    """values = mean_last((y − p)²)."""
    error = y_true - y_pred
    return backend.mean(np.square(error), axis=-1), error


def mse_backward(dvalues: Array, error: Array) -> Array:
    """dℓ/dp = −2(y − p)/k."""
    return -(_mean_grad(dvalues, error.shape[-1]) * (error * 2))


def mae_forward(y_true: Array, y_pred: Array):
    """values = mean_last(|y − p|)."""
    error = y_true - y_pred
    return backend.mean(np.abs(error), axis=-1), error


def mae_backward(dvalues: Array, error: Array) -> Array:
    """dℓ/dp = −sign(y − p)/k (0 at y = p)."""
    return -(_mean_grad(dvalues, error.shape[-1]) * np.sign(error))


def huber_forward(y_true: Array, y_pred: Array, delta: float = 1.0):
    """values = mean_last(½e² if |e| ≤ δ else δ|e| − ½δ²),  e = p − y."""
    dt = y_pred.dtype.type
    delta, half = dt(delta), dt(0.5)
    error = y_pred - y_true
    abs_error = np.abs(error)
    quadratic = abs_error <= delta
    elem = np.where(quadratic, half * np.square(error), delta * abs_error - half * np.square(delta))
    return backend.mean(elem, axis=-1), (error, quadratic, delta)


def huber_backward(dvalues: Array, cache) -> Array:
    """dℓ/dp = e/k on the quadratic branch (|e| ≤ δ), δ·sign(e)/k on the linear one."""
    error, quadratic, delta = cache
    g = _mean_grad(dvalues, error.shape[-1])
    return np.where(quadratic, g * error, g * delta * np.sign(error))


def bce_probs_forward(y_true: Array, y_pred: Array):
    """values = mean_last(−[y·log p̂ + (1−y)·log(1−p̂)]),  p̂ = clip(p, ε, 1−ε)."""
    eps, hi = _clip_bounds(y_pred.dtype)
    p_hat = np.clip(y_pred, eps, hi)
    bce = y_true * np.log(p_hat)
    bce = bce + (1 - y_true) * np.log(1 - p_hat)
    inside = (y_pred >= eps) & (y_pred <= hi)
    return backend.mean(-bce, axis=-1), (y_true, p_hat, inside)


def bce_probs_backward(dvalues: Array, cache) -> Array:
    """dℓ/dp = −(y/p̂ − (1−y)/(1−p̂))/k where ε ≤ p ≤ 1−ε, else 0."""
    y_true, p_hat, inside = cache
    g = -_mean_grad(dvalues, p_hat.shape[-1])
    dp_hat = g * y_true / p_hat - g * (1 - y_true) / (1 - p_hat)
    return np.where(inside, dp_hat, 0).astype(p_hat.dtype, copy=False)


def bce_logits_forward(y_true: Array, logits: Array):
    """values = mean_last(max(z,0) − z·y + log(1 + e^(−|z|)))  (TF's stable form)."""
    positive = logits >= 0
    relu_logits = np.where(positive, logits, 0)
    neg_abs = np.where(positive, -logits, logits)
    exp_neg_abs = np.exp(neg_abs)
    elem = relu_logits - logits * y_true + np.log1p(exp_neg_abs)
    return backend.mean(elem, axis=-1), (y_true, positive, exp_neg_abs)


def bce_logits_backward(dvalues: Array, cache) -> Array:
    """dℓ/dz = (σ(z) − y)/k, written as autodiff of the stable form."""
    y_true, positive, exp_neg_abs = cache
    g = _mean_grad(dvalues, y_true.shape[-1])
    d_neg_abs = g / (1 + exp_neg_abs) * exp_neg_abs
    return np.where(positive, g, 0) - g * y_true + np.where(positive, -d_neg_abs, d_neg_abs)


def cce_probs_forward(y_true: Array, y_pred: Array):
    """values = −Σ_c y_c·log q̂_c,  q̂ = clip(p/Σp, ε, 1−ε)  (renormalise, then clip)."""
    eps, hi = _clip_bounds(y_pred.dtype)
    total = np.sum(y_pred, axis=-1, keepdims=True)
    q = y_pred / total
    q_hat = np.clip(q, eps, hi)
    inside = (q >= eps) & (q <= hi)
    return -np.sum(y_true * np.log(q_hat), axis=-1), (y_true, y_pred, total, q_hat, inside)


def cce_probs_backward(dvalues: Array, cache) -> Array:
    """dℓ/dq = −y/q̂ (0 where clipped);  dℓ/dp = dℓ/dq/Σp − Σ_j dℓ/dq_j·p_j/(Σp)²."""
    y_true, y_pred, total, q_hat, inside = cache
    dq_hat = -dvalues[..., None] * y_true / q_hat
    dq = np.where(inside, dq_hat, 0).astype(q_hat.dtype, copy=False)
    return dq / total + np.sum(dq * (-y_pred / total / total), axis=-1, keepdims=True)


def _log_softmax_parts(logits: Array):
    shifted = logits - np.max(logits, axis=-1, keepdims=True)
    exp_shifted = np.exp(shifted)
    sum_exp = np.sum(exp_shifted, axis=-1, keepdims=True)
    return shifted, exp_shifted, sum_exp


def cce_logits_forward(y_true: Array, logits: Array):
    """values = Σ_c y_c·(logsumexp(z) − z_c), with the max shift for stability."""
    shifted, exp_shifted, sum_exp = _log_softmax_parts(logits)
    values = np.sum(y_true * (np.log(sum_exp) - shifted), axis=-1)
    return values, (y_true, exp_shifted / sum_exp)


def cce_logits_backward(dvalues: Array, cache) -> Array:
    """dℓ/dz = softmax(z) − y (TF's fused kernel; exact when Σ_c y_c = 1)."""
    y_true, softmax = cache
    return dvalues[..., None] * (softmax - y_true)


def scce_forward(labels: np.ndarray, y_pred: Array, from_logits: bool):
    """values = logsumexp(s) − s_y, with s = z (logits) or s = log clip(p, ε, 1−ε).

    `labels` are int64 class indices of shape y_pred.shape[:-1].
    """
    if from_logits:
        scores, p_hat, inside = y_pred, None, None
    else:
        eps, hi = _clip_bounds(y_pred.dtype)
        p_hat = np.clip(y_pred, eps, hi)
        inside = (y_pred >= eps) & (y_pred <= hi)
        scores = np.log(p_hat)
    shifted, exp_shifted, sum_exp = _log_softmax_parts(scores)
    picked = np.take_along_axis(shifted, labels[..., None], axis=-1)[..., 0]
    values = np.log(sum_exp[..., 0]) - picked
    return values, (labels, exp_shifted / sum_exp, p_hat, inside)


def scce_backward(dvalues: Array, cache) -> Array:
    """dℓ/ds = softmax(s) − onehot(y); through the log and the clip when s = log clip(p)."""
    labels, softmax, p_hat, inside = cache
    ds = softmax.copy()
    np.put_along_axis(ds, labels[..., None], np.take_along_axis(ds, labels[..., None], -1) - 1, -1)
    ds *= dvalues[..., None]
    if p_hat is None:
        return ds
    return np.where(inside, ds / p_hat, 0).astype(p_hat.dtype, copy=False)
