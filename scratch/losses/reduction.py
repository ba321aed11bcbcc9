"""The reduction pipeline every loss follows, as Keras' `Loss.__call__`: casts, the rank
fix-up, sample weights and masks, the reductions, and `fit(class_weight=...)`.

    1. cast     y_true, y_pred -> y_pred's dtype (float32 or float64; integer data -> floatx())
    2. rank     squeeze_or_expand_to_same_rank(y_true, y_pred)
    3. sample   values = ℓ(y_true, y_pred) reduced over the last axis (`formulas.py`)
    4. weights  sample_weight merged with the mask (`_apply_mask`), then values·w
    5. reduce   `reduce_weighted_values`: "sum_over_batch_size"/"mean", "sum",
                "mean_with_sample_weight" or None/"none"

The package docstring (`scratch.losses`) gives each step's exact rule.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import backend
from ..typing import Array, Shape
from .formulas import _unbroadcast

REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")
_MEAN_LIKE = ("sum_over_batch_size", "mean", "mean_with_sample_weight")


# ============================================================================ helpers
def standardize_reduction(reduction):
    """Validate a Keras reduction name (None and "none" both mean "no reduction")."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            "Invalid value for argument `reduction`. "
            f"Expected one of {REDUCTIONS}. Received: reduction={reduction!r}"
        )
    return reduction


def squeeze_or_expand_to_same_rank(x1: np.ndarray, x2: np.ndarray, expand_rank_1: bool = True):
    """Keras' rank fix-up: make ranks equal when they differ by one and a trailing 1 allows it.

    Math:
        rank(x1) = rank(x2) + 1 and x1.shape[-1] = 1:
            rank(x2) = 1 and expand_rank_1  ->  x2 = x2[..., None]
            otherwise                       ->  x1 = x1[..., 0]
        and symmetrically with x1 and x2 swapped.

    Shapes:
        (N,) vs (N,1) -> (N,1) vs (N,1);  (N,T) vs (N,T,1) -> (N,T) vs (N,T).
    """
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2:
        return x1, x2
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1 and expand_rank_1:
            x2 = x2[..., None]
        else:
            x1 = x1[..., 0]
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1 and expand_rank_1:
            x1 = x1[..., None]
        else:
            x2 = x2[..., 0]
    return x1, x2


@functools.lru_cache(maxsize=256)
def _rank_fixup_changes_pred(y_true_shape: tuple, y_pred_shape: tuple) -> bool:
    """Whether the rank fix-up gives y_pred a new shape (cached: called every step)."""
    fixed_pred = squeeze_or_expand_to_same_rank(
        np.broadcast_to(0.0, y_true_shape), np.broadcast_to(0.0, y_pred_shape))[1]
    return fixed_pred.shape != y_pred_shape


def is_binary_or_sparse_categorical(y_true_shape: Shape, y_pred_shape: Shape) -> tuple[bool, bool]:
    """Keras' shape rule (`compile_utils.is_binary_or_sparse_categorical`).

    Math:
        is_binary = y_pred.shape[-1] == 1
        is_sparse = rank(y_true) < rank(y_pred) or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
    """
    y_true_shape, y_pred_shape = tuple(y_true_shape), tuple(y_pred_shape)
    if not y_true_shape or not y_pred_shape:
        raise ValueError(
            "Resolving a loss/metric by shapes expects y_true and y_pred of rank >= 1. "
            f"Received: y_true.shape={y_true_shape}, y_pred.shape={y_pred_shape}"
        )
    t_last, p_last = y_true_shape[-1], y_pred_shape[-1]
    is_binary = p_last == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (
        t_last == 1 and p_last is not None and p_last > 1
    )
    return is_binary, is_sparse


_MAX_KERNEL_CLASSES = 128  # scratch._kernels.losses.MAX_CLASSES (not imported: Numba is lazy)


def _compute_dtype(y_pred: np.ndarray, what: str = "y_pred") -> np.dtype:
    """The dtype a loss computes in: y_pred's float dtype, floatx() for integer/bool data."""
    if y_pred.dtype in backend.FLOAT_DTYPES:
        return y_pred.dtype
    kind = y_pred.dtype.kind
    if kind == "f":
        if y_pred.dtype.name not in ("float32", "float64"):
            raise TypeError(
                f"scratch losses compute in float32 or float64. Received: {what}.dtype="
                f"{y_pred.dtype.name}"
            )
        return y_pred.dtype
    if kind in "iub":
        return np.dtype(backend.floatx())
    raise TypeError(f"Expected {what} to hold numbers. Received: {what}.dtype={y_pred.dtype}")


def _check_activation(activation: str) -> str:
    if activation not in ("sigmoid", "softmax"):
        raise ValueError(
            "Hidden logits come from a 'sigmoid' or 'softmax' activation. "
            f"Received: activation={activation!r}"
        )
    return activation


# ============================================================================ reduction
def _apply_mask(sample_weight, mask, dtype, reduction):
    """Merge a Keras mask into the sample weights (Keras' `losses.loss.apply_mask`)."""
    if mask is None:
        return sample_weight
    mask = np.asarray(mask).astype(bool)
    if reduction in ("mean", "sum_over_batch_size"):
        total = dtype.type(mask.size)
        valid = dtype.type(np.count_nonzero(mask))
        mask_weight = total / valid if valid != 0 else dtype.type(0)
        float_mask = np.where(mask, mask_weight, dtype.type(0)).astype(dtype)
    else:
        float_mask = mask.astype(dtype)
    if sample_weight is None:
        return float_mask
    float_mask, sample_weight = squeeze_or_expand_to_same_rank(float_mask, sample_weight)
    try:
        return sample_weight * float_mask
    except ValueError:
        raise ValueError(
            "The mask and sample_weight cannot be combined (Keras multiplies them after its "
            "rank fix-up; use weights of shape (N, 1) with a (N, T) mask). Received: "
            f"mask.shape={mask.shape}, sample_weight.shape={sample_weight.shape}"
        ) from None


def _plain_mean(values: Array, need_grad: bool = True):
    """Σ values / size and, if `need_grad`, its gradient 1/size per value (else None): the
    mean-like reductions of non-empty values without weights or mask, with the general
    code's operations and rounding."""
    dtype = values.dtype
    divisor = dtype.type(values.size)
    result = dtype.type(np.add.reduce(values, axis=None, dtype=dtype) / divisor)
    if not need_grad:
        return result, None
    return result, np.full(values.shape, dtype.type(1) / divisor, dtype=dtype)


def reduce_weighted_values(values, sample_weight=None, mask=None, reduction="sum_over_batch_size",
                           *, name: str = "Loss"):
    """Weight and reduce per-sample values; also return d(result)/d(values).

    Math:
        w = merge(sample_weight, mask);  v, w = squeeze_or_expand(values, w);  u = v·w
        sum_over_batch_size / mean:   L = Σu / size(u)        (0 if size(u) = 0)
        mean_with_sample_weight:      L = Σu / Σw             (0 if Σw = 0)
        sum:                          L = Σu
        none / scalar u / (0,) u:     L = u  (gradient: that of Σu)

    Shapes:
        values: y.shape[:-1]; sample_weight/mask: broadcastable after the rank fix-up.
        Returns (L, dL/dvalues) with dL/dvalues of values' shape.
    """
    reduction = standardize_reduction(reduction)
    dtype = values.dtype
    if sample_weight is None and mask is None and reduction in _MEAN_LIKE and values.size:
        return _plain_mean(values)  # the general code below, for this case
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)
        if sample_weight.dtype.kind not in "fiub":
            raise TypeError(
                f"{name} expected a numeric sample_weight. Received: "
                f"sample_weight.dtype={sample_weight.dtype}"
            )
        sample_weight = sample_weight.astype(dtype, copy=False)
    weight = _apply_mask(sample_weight, mask, dtype, reduction)
    v = values
    if weight is not None:
        v, weight = squeeze_or_expand_to_same_rank(values, weight)
        try:
            weighted = v * weight
        except ValueError:
            raise ValueError(
                f"{name}: sample_weight (merged with any mask) must broadcast against the "
                f"per-sample loss values of shape {values.shape}. Received: "
                f"sample_weight.shape="
                f"{None if sample_weight is None else sample_weight.shape}, "
                f"mask.shape={None if mask is None else np.shape(mask)}"
            ) from None
    else:
        weighted = v
    scale = dtype.type(1)
    if reduction in (None, "none") or weighted.shape in ((), (0,)):
        result = weighted
    else:
        result = np.sum(weighted, dtype=dtype)
        if reduction in _MEAN_LIKE:
            if reduction == "mean_with_sample_weight" and weight is not None:
                divisor = np.sum(weight, dtype=dtype)
            else:
                divisor = dtype.type(weighted.size)
            if divisor == 0:
                result, scale = dtype.type(0), dtype.type(0)
            else:
                result = dtype.type(result / divisor)
                scale = dtype.type(1) / divisor
    dweighted = np.full(weighted.shape, scale, dtype=dtype)
    dv = dweighted * weight if weight is not None else dweighted
    dvalues = _unbroadcast(dv, v.shape).reshape(values.shape).astype(dtype, copy=False)
    if isinstance(result, np.ndarray) and result.ndim == 0:
        result = result[()]
    return result, dvalues


# ============================================================================ class_weight
def class_weight_to_sample_weight(y_true, class_weight: dict, y_pred_shape: Shape | None = None,
                                  dtype=None) -> np.ndarray:
    """Turn `fit(class_weight={class: w})` into per-sample weights, as Keras' array adapter.

    Math:
        label_i = argmax(y_i)            if y has rank 2 and y.shape[-1] > 1  (one-hot)
                  round(y_i[0])          if y has shape (N, 1)               (binary / sparse)
                  round(y_i)             if y has shape (N,)                 (sparse)
        w_i = class_weight.get(label_i, 1.0)        (round half to even, as np.round)

    Args:
        y_true: the labels of the whole data set.
        class_weight: {class index: weight}; missing classes get weight 1.
        y_pred_shape: optional model output shape, only used to check the batch axis.
        dtype: the weights' dtype (floatx() by default, as Keras).

    Shapes:
        y_true: (N,), (N, 1) or (N, C). Returns (N,).

    Raises:
        ValueError: for labels of rank 0 or > 2, or a y_pred_shape with another batch size.
    """
    dtype = backend.standardize_dtype(dtype)
    if not isinstance(class_weight, dict):
        raise ValueError(
            f"Expected `class_weight` to be a dict {{class: weight}}. Received: "
            f"class_weight={class_weight!r}"
        )
    y = np.asarray(y_true)
    if y.ndim not in (1, 2):
        raise ValueError(
            "class_weight expects labels of shape (N,), (N, 1) or (N, C) (a single output). "
            f"Received: y_true.shape={y.shape}"
        )
    if y_pred_shape is not None and y_pred_shape[0] is not None and y_pred_shape[0] != y.shape[0]:
        raise ValueError(
            "class_weight: y_true and y_pred must have the same number of samples. Received: "
            f"y_true.shape={y.shape}, y_pred_shape={tuple(y_pred_shape)}"
        )
    if y.ndim == 2:
        y = np.argmax(y, axis=-1) if y.shape[-1] != 1 else y[:, 0]
    labels = np.round(y).astype(np.int64)
    weights = [float(class_weight.get(int(c), 1.0)) for c in labels]
    return np.array(weights, dtype=dtype).reshape(y.shape[0])
