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
    "cce_logits_backward", "scce_forward", "scce_backward", "kld_forward", "kld_backward",
    "cosine_forward", "cosine_backward",
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


def kld_forward(y_true: Array, y_pred: Array):
    """values = Σ_last y·log(y/p),  y = clip(y_true, ε, 1), p = clip(y_pred, ε, 1)."""
    dt = y_pred.dtype.type
    eps, one = dt(backend.epsilon()), dt(1.0)
    y = np.clip(y_true, eps, one)
    p = np.clip(y_pred, eps, one)
    ratio = y / p
    inside = (y_pred >= eps) & (y_pred <= one)
    return np.sum(y * np.log(ratio), axis=-1), (y, p, ratio, inside)


def kld_backward(dvalues: Array, cache) -> Array:
    """dℓ/dp = −y/p where ε ≤ y_pred ≤ 1, else 0 (the clip), written as TF's chain:
    d log(r) = d/r, d(y/p)/dp = −y/p²."""
    y, p, ratio, inside = cache
    d_log = dvalues[..., None] * y
    d_ratio = d_log * (1 / ratio)
    dp = d_ratio * ((-y / p) / p)
    return np.where(inside, dp, 0).astype(p.dtype, copy=False)


def _l2_normalize(x: Array, axis: int):
    """Keras' `normalize(x, axis)`: x · min(1/√Σx², 1/ε), with the scale r and where the
    1/√Σx² branch is the smaller (a zero vector stays zero)."""
    square_sum = np.sum(np.square(x), axis=axis, keepdims=True)
    with np.errstate(divide="ignore"):  # 1/√0 = inf, then capped at 1/ε
        inv_norm = 1 / np.sqrt(square_sum)
    cap = x.dtype.type(1.0 / backend.epsilon())
    return x * np.minimum(inv_norm, cap), np.minimum(inv_norm, cap), inv_norm <= cap


def cosine_forward(y_true: Array, y_pred: Array, axis: int = -1):
    """values = −Σ_axis ŷ·p̂, the cosine of the angle between y_true and y_pred, negated
    (x̂ = Keras' l2 normalization along `axis`)."""
    t_hat, _, _ = _l2_normalize(y_true, axis)
    p_hat, r, active = _l2_normalize(y_pred, axis)
    return -np.sum(t_hat * p_hat, axis=axis), (y_pred, t_hat, r, active, axis)


def cosine_backward(dvalues: Array, cache) -> Array:
    """dℓ/dp = r·dp̂ − r³·p·Σ_axis(dp̂·p) with dp̂ = −dvalues·ŷ, r = 1/‖p‖ (only the first
    term where r is capped at 1/ε)."""
    y_pred, t_hat, r, active, axis = cache
    d_p_hat = -np.expand_dims(dvalues, axis) * t_hat
    d_r = np.where(active, np.sum(d_p_hat * y_pred, axis=axis, keepdims=True), 0)
    return (d_p_hat * r - (r * r * r) * d_r * y_pred).astype(y_pred.dtype, copy=False)
