"""The Keras loss classes (`keras.losses.X`), their functions (`keras.losses.x`) and the
lookup by name (`get`, `serialize`, `deserialize`).

Each class runs the pipeline of `reduction.py` around the per-sample math of `formulas.py`
(or its fast twin in `fast.py`) and returns the value and, with `value_and_grad`, the gradient.
This module is longer than the others because `Loss` holds the whole pipeline with its
hidden-logits and mask handling, and each class keeps Keras' argument checks beside the
part of the pipeline it overrides.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from .. import backend
from ..tape.recorder import record_loss
from ..tape.tensor import Tensor
from ..typing import Array, Shape
from ..utils.naming import to_snake_case
from .fast import (
    _mean_and_grad,
    _plain_hidden_logits,
    bce_logits_backward_fast,
    bce_logits_forward_fast,
    bce_logits_mean_fast,
    scce_logits_backward_fast,
    scce_logits_forward_fast,
)
from .formulas import (
    bce_logits_backward,
    bce_logits_forward,
    bce_probs_backward,
    bce_probs_forward,
    cce_logits_backward,
    cce_logits_forward,
    cce_probs_backward,
    cce_probs_forward,
    cosine_backward,
    cosine_forward,
    huber_backward,
    huber_forward,
    kld_backward,
    kld_forward,
    mae_backward,
    mae_forward,
    mse_backward,
    mse_forward,
    scce_backward,
    scce_forward,
)
from .reduction import (
    _MAX_KERNEL_CLASSES,
    _MEAN_LIKE,
    _check_activation,
    _compute_dtype,
    _rank_fixup_changes_pred,
    is_binary_or_sparse_categorical,
    reduce_weighted_values,
    squeeze_or_expand_to_same_rank,
    standardize_reduction,
)


# ============================================================================ Loss classes
class Loss:
    """Base class of scratch's Keras losses: the module docstring's pipeline plus its gradient.

    Math:
        L = reduce_{reduction}( w ⊙ ℓ(y_true, y_pred) ),  ℓ reduced over the last axis
        value_and_grad returns (L, ∂L/∂y_pred), or (L, ∂L/∂z) on the hidden-logits path.

    Args:
        reduction: "sum_over_batch_size" (default), "sum", "mean", "mean_with_sample_weight",
            "none" or None.
        name: the loss name (Keras' default for each class).

    Shapes:
        y_true: y_pred.shape (or rank ± 1 with a trailing 1; class indices for SCCE).
        y_pred: (N, ..., k). sample_weight: broadcastable to y_pred.shape[:-1] after the rank
        fix-up, e.g. (N,), (N,1), (N,T). mask: y_pred.shape[:-1] (a Keras mask).
        Result: a scalar of y_pred's dtype (values of shape y_pred.shape[:-1] for "none").

    Raises:
        ValueError: bad reduction, incompatible shapes or weights, invalid SCCE labels.
        TypeError: non-numeric data or a float dtype other than float32/float64.
    """

    #: Cross-entropies (BCE/CCE/SCCE) take the hidden-logits path when `logits` is given.
    is_crossentropy = False
    #: The activation assumed between hidden logits and y_pred (see `value_and_grad`).
    _default_activation = "softmax"
    #: Use the Numba twins of the logits formulas where a loss has them: True/False for this
    #: loss, None to follow the global switch (`backend.fast_paths`).
    fast_path = None

    def __init__(self, reduction="sum_over_batch_size", name: str | None = None) -> None:
        self.reduction = standardize_reduction(reduction)
        self.name = name or to_snake_case(type(self).__name__)
        self._warned_logits = False

    # ------------------------------------------------------------------ subclass hooks
    def _check_shapes(self, y_true: np.ndarray, y_pred: np.ndarray, shapes) -> None:
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__} expected y_true and y_pred of the same shape (up to "
                f"Keras' rank fix-up of a trailing 1). Received: y_true.shape={shapes[0]}, "
                f"y_pred.shape={shapes[1]}"
            )

    def _prepare_true(self, y_true: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return y_true.astype(dtype, copy=False)

    def _forward(self, y_true, y_pred, from_logits: bool, shapes):
        """Return (values, backward, out_mask); backward(dvalues) -> dy_pred.

        `shapes` are the caller's (y_true.shape, y_pred.shape), for error messages.
        """
        raise NotImplementedError

    # ------------------------------------------------------------------ pipeline
    def _run(self, y_true, y_pred, sample_weight, logits, mask, need_grad: bool,
             activation=None):
        if logits is not None and sample_weight is None and mask is None and \
                backend.use_fast_path(self) and self.reduction in _MEAN_LIKE:
            fused = self._fused_mean(y_true, y_pred, logits, need_grad)
            if fused is not None:
                return fused
        y_pred = np.asarray(y_pred)
        if y_pred.ndim == 0:
            raise ValueError(
                f"{type(self).__name__} expected y_pred of rank >= 1. Received: "
                f"y_pred.shape={y_pred.shape}"
            )
        dtype = _compute_dtype(y_pred)
        from_logits = bool(getattr(self, "from_logits", False))
        target = y_pred.astype(dtype, copy=False)
        y_true = np.asarray(y_true)
        shapes = (y_true.shape, y_pred.shape)
        hidden = logits is not None and self.is_crossentropy
        chain_activation = None
        warn = False
        if hidden:
            logits = self._check_logits(logits, y_pred, dtype)
            if self._drops_hidden_logits(y_true.shape, y_pred.shape):
                # Keras builds a new tensor from y_pred (rank fix-up squeeze/expand, or SCCE's
                # ignore_class masking) before it looks for the logits, so it uses the
                # probability formula on y_pred; dL/dz then follows the activation's gradient.
                chain_activation = _check_activation(activation or self._default_activation)
            else:
                warn = from_logits
                target, from_logits = logits, True
        y_true = self._validate_true(y_true, target, shapes)
        y_true = self._prepare_true(y_true, dtype)
        yt, yp = squeeze_or_expand_to_same_rank(y_true, target)
        values, backward, out_mask = self._forward(yt, yp, from_logits, shapes)
        if mask is not None and out_mask is not None:
            mask = np.logical_and(np.asarray(mask).astype(bool), out_mask)
        elif out_mask is not None:
            mask = out_mask
        value, dvalues = reduce_weighted_values(
            values, sample_weight, mask, self.reduction, name=type(self).__name__
        )
        grad = None
        if need_grad:
            grad = backward(dvalues).reshape(target.shape)
            if chain_activation == "sigmoid":
                grad = grad * target * (1 - target)
            elif chain_activation == "softmax":
                grad = (grad - np.sum(grad * target, axis=-1, keepdims=True)) * target
        if warn and not self._warned_logits:
            self._warned_logits = True
            warnings.warn(
                f"{type(self).__name__} received `from_logits=True`, but y_pred was produced "
                "by a sigmoid/softmax activation and thus does not represent logits; the "
                "activation's own logits are used (as Keras does). Was this intended?",
                UserWarning,
                stacklevel=3,
            )
        return value, grad

    def _fused_mean(self, y_true, y_pred, logits, need_grad: bool):
        """(value, dL/dz) of the unweighted mean on hidden logits straight through the Numba
        twins, where a loss has them and the case is its plain one (no rank fix-up that drops
        the logits, no smoothing, valid labels); None sends the call down the general
        pipeline, which computes the same numbers step by step (tests/test_fast_paths.py)."""
        return None

    def _drops_hidden_logits(self, y_true_shape, y_pred_shape) -> bool:
        """Whether Keras replaces y_pred by a new tensor (losing its logits) before using it."""
        return _rank_fixup_changes_pred(tuple(y_true_shape), tuple(y_pred_shape))

    def _check_logits(self, logits, y_pred: np.ndarray, dtype: np.dtype) -> np.ndarray:
        logits = np.asarray(logits)
        if logits.shape != y_pred.shape:
            raise ValueError(
                f"{type(self).__name__}: the hidden logits must have y_pred's shape. "
                f"Received: logits.shape={logits.shape}, y_pred.shape={y_pred.shape}"
            )
        if logits.dtype != dtype:
            raise TypeError(
                f"{type(self).__name__} computes in {dtype.name} (y_pred's dtype). "
                f"Received: logits.dtype={logits.dtype}"
            )
        return logits

    def _validate_true(self, y_true: np.ndarray, y_pred: np.ndarray, shapes) -> np.ndarray:
        if y_true.dtype.kind not in "fiub":
            raise TypeError(
                f"{type(self).__name__} expected numeric y_true. Received: "
                f"y_true.dtype={y_true.dtype}"
            )
        return y_true

    def call(self, y_true, y_pred) -> np.ndarray:
        """Per-sample losses (Keras' `Loss.call`): no weights, no reduction."""
        if isinstance(y_pred, Tensor) or isinstance(y_true, Tensor):  # recorded by a tape
            none = type(self).from_config({**self.get_config(), "reduction": "none"})
            return _per_sample(none, y_true, y_pred)
        y_pred = np.asarray(y_pred)
        dtype = _compute_dtype(y_pred)
        y_pred = y_pred.astype(dtype, copy=False)
        y_true = np.asarray(y_true)
        shapes = (y_true.shape, y_pred.shape)
        y_true = self._prepare_true(self._validate_true(y_true, y_pred, shapes), dtype)
        yt, yp = squeeze_or_expand_to_same_rank(y_true, y_pred)
        from_logits = bool(getattr(self, "from_logits", False))
        return self._forward(yt, yp, from_logits, shapes)[0]

    def __call__(self, y_true, y_pred, sample_weight=None, *, logits=None, mask=None):
        """The reduced loss (a numpy scalar of y_pred's dtype; values for reduction "none").
        On a `Tensor` (`model(x)`), a Tensor, recorded by an active GradientTape."""
        if isinstance(y_pred, Tensor) or isinstance(y_true, Tensor):
            return record_loss(self, y_true, y_pred, sample_weight, mask)
        value, _ = self._run(y_true, y_pred, sample_weight, logits, mask, need_grad=False)
        return value

    def value_and_grad(self, y_true, y_pred, sample_weight=None, logits=None, mask=None, *,
                       activation: str | None = None):
        """The reduced loss and its gradient.

        Args:
            y_true, y_pred, sample_weight, mask: as for `__call__`.
            logits: the pre-activation z of the sigmoid/softmax that produced y_pred (the
                hidden-logits path); ignored by non-cross-entropy losses.
            activation: "sigmoid" or "softmax", the activation between logits and y_pred;
                defaults to "sigmoid" for BCE and "softmax" for CCE/SCCE. Only used where
                Keras drops the logits (see below).

        Returns:
            (value, grad): grad = dL/dy_pred with y_pred's shape, or dL/dlogits (logits' shape)
            when `logits` is given to a cross-entropy. For reduction None/"none", grad is the
            gradient of the sum of the returned values.

        Hidden logits (`logits=z`): BCE/CCE/SCCE use the from_logits formula on z, as Keras
        does. Keras' exceptions are mirrored: when it builds a new tensor from y_pred before
        looking for the logits — the rank fix-up squeezes or expands y_pred (e.g. labels
        (N, T) against y_pred (N, T, 1)), or SCCE masks y_pred for `ignore_class` — the
        probability formula (with this loss's from_logits) applies to y_pred, and dL/dz is
        dL/dy_pred chained through the activation:
            sigmoid: dz = dp · p(1 − p);   softmax: dz = (dp − Σ_c dp_c·p_c) · p
        """
        return self._run(y_true, y_pred, sample_weight, logits, mask, need_grad=True,
                         activation=activation)

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, reduction={self.reduction}>"


class MeanSquaredError(Loss):
    """Mean squared error, Keras' `MeanSquaredError`.

    Math:
        ℓ = mean_last((y − p)²);   dℓ/dp = −2(y − p)/k

    Shapes:
        y_true, y_pred: (N, ..., k) (or (N,) vs (N,1)); per-sample values (N, ...).
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error") -> None:
        super().__init__(reduction=reduction, name=name)

    def _forward(self, y_true, y_pred, from_logits, shapes):
        self._check_shapes(y_true, y_pred, shapes)
        values, cache = mse_forward(y_true, y_pred)
        return values, lambda dv: mse_backward(dv, cache), None


class MeanAbsoluteError(Loss):
    """Mean absolute error, Keras' `MeanAbsoluteError`.

    Math:
        ℓ = mean_last(|y − p|);   dℓ/dp = −sign(y − p)/k   (0 at y = p)

    Shapes:
        y_true, y_pred: (N, ..., k); per-sample values (N, ...).
    """

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error") -> None:
        super().__init__(reduction=reduction, name=name)

    def _forward(self, y_true, y_pred, from_logits, shapes):
        self._check_shapes(y_true, y_pred, shapes)
        values, cache = mae_forward(y_true, y_pred)
        return values, lambda dv: mae_backward(dv, cache), None


class Huber(Loss):
    """Huber loss, Keras' `Huber(delta=1.0)`.

    Math:
        e = p − y;  ℓ = mean_last(½e² if |e| ≤ δ else δ|e| − ½δ²)
        dℓ/dp = e/k if |e| ≤ δ (the quadratic branch includes |e| = δ) else δ·sign(e)/k

    Args:
        delta: the point where the loss changes from quadratic to linear.

    Shapes:
        y_true, y_pred: (N, ..., k); per-sample values (N, ...).
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss") -> None:
        super().__init__(reduction=reduction, name=name)
        self.delta = float(delta)

    def _forward(self, y_true, y_pred, from_logits, shapes):
        self._check_shapes(y_true, y_pred, shapes)
        values, cache = huber_forward(y_true, y_pred, self.delta)
        return values, lambda dv: huber_backward(dv, cache), None

    def get_config(self) -> dict:
        return {**super().get_config(), "delta": self.delta}


class KLDivergence(Loss):
    """Kullback-Leibler divergence, Keras' `KLDivergence`.

    Math:
        y = clip(y_true, ε, 1), p = clip(y_pred, ε, 1)   (ε = 1e-7)
        ℓ = Σ_last y·log(y/p);   dℓ/dp = −y/p where ε ≤ y_pred ≤ 1, else 0

    Shapes:
        y_true, y_pred: (N, ..., k) distributions over the last axis; values (N, ...).
    """

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence") -> None:
        super().__init__(reduction=reduction, name=name)

    def _forward(self, y_true, y_pred, from_logits, shapes):
        self._check_shapes(y_true, y_pred, shapes)
        values, cache = kld_forward(y_true, y_pred)
        return values, lambda dv: kld_backward(dv, cache), None


class CosineSimilarity(Loss):
    """Negative cosine similarity, Keras' `CosineSimilarity(axis=-1)`.

    Math:
        x̂ = x · min(1/‖x‖, 1/ε) along `axis`   (Keras' normalize: a zero vector stays 0)
        ℓ = −Σ_axis ŷ·p̂    (−1: same direction, 0: orthogonal, 1: opposite)
        dℓ/dp = r·dp̂ − r³·p·Σ(dp̂·p),  dp̂ = −ŷ, r = 1/‖p‖   (only r·dp̂ once r is capped)

    Args:
        axis: the axis along which the vectors lie (default −1).

    Shapes:
        y_true, y_pred: (N, ..., k); values: y's shape without `axis`.

    `get_config()` also stores ``axis`` (Keras' drops it, as it drops Huber's delta).
    """

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity"
                 ) -> None:
        super().__init__(reduction=reduction, name=name)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"CosineSimilarity expects an integer `axis`. Received: "
                             f"axis={axis!r}")
        self.axis = int(axis)

    def _forward(self, y_true, y_pred, from_logits, shapes):
        self._check_shapes(y_true, y_pred, shapes)
        if not -y_pred.ndim <= self.axis < y_pred.ndim:
            raise ValueError(f"CosineSimilarity: axis {self.axis} is out of bounds for "
                             f"y_pred of rank {y_pred.ndim}. Received: y_pred.shape={shapes[1]}")
        values, cache = cosine_forward(y_true, y_pred, self.axis)
        return values, lambda dv: cosine_backward(dv, cache), None

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis}


def _check_axis(loss_name: str, axis) -> int:
    if isinstance(axis, bool) or axis not in (-1,):
        raise ValueError(
            f"{loss_name} supports only axis=-1 (the class axis is last, as in Keras' default)."
            f" Received: axis={axis!r}"
        )
    return axis


def _check_label_smoothing(loss_name: str, label_smoothing) -> float:
    label_smoothing = float(label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"{loss_name} expected label_smoothing in [0, 1]. "
            f"Received: label_smoothing={label_smoothing}"
        )
    return label_smoothing


class _SmoothedCrossentropy(Loss):
    """What BCE and CCE share: from_logits, label_smoothing and axis, and the dispatch to
    their (forward, backward) pairs: `_LOGITS` for logits (`_FAST_LOGITS`, their Numba
    twins, where they exist), `_PROBS` for probabilities."""

    is_crossentropy = True
    _FAST_LOGITS: tuple | None = None

    def __init__(self, from_logits, label_smoothing, axis, reduction, name) -> None:
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)
        self.label_smoothing = _check_label_smoothing(type(self).__name__, label_smoothing)
        self.axis = _check_axis(type(self).__name__, axis)

    def _smooth(self, y_true, dt):
        raise NotImplementedError

    def _forward(self, y_true, y_pred, from_logits, shapes):
        self._check_shapes(y_true, y_pred, shapes)
        if self.label_smoothing:
            y_true = self._smooth(y_true, y_pred.dtype.type)
        forward, backward = self._LOGITS if from_logits else self._PROBS
        if from_logits and backend.use_fast_path(self) and self._FAST_LOGITS and y_pred.size and \
                y_pred.shape[-1] <= _MAX_KERNEL_CLASSES:
            forward, backward = self._FAST_LOGITS
        values, cache = forward(y_true, y_pred)
        return values, lambda dv: backward(dv, cache), None

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary cross-entropy, Keras' `BinaryCrossentropy`.

    Math:
        smoothing:    y ← y·(1 − ls) + ½·ls
        probabilities: p̂ = clip(p, ε, 1−ε);  ℓ = mean_last(−[y·log p̂ + (1−y)·log(1−p̂)])
                       dℓ/dp = −(y/p̂ − (1−y)/(1−p̂))/k where ε ≤ p ≤ 1−ε, else 0
        logits:        ℓ = mean_last(max(z,0) − z·y + log(1 + e^(−|z|)));  dℓ/dz = (σ(z) − y)/k

    Args:
        from_logits: y_pred holds logits instead of probabilities.
        label_smoothing: float in [0, 1], squeezes the labels towards 0.5.
        axis: must be -1.

    Shapes:
        y_true, y_pred: (N, ..., k) (or (N,) vs (N,1)); per-sample values (N, ...).
    """

    is_crossentropy = True
    _default_activation = "sigmoid"

    _LOGITS = (bce_logits_forward, bce_logits_backward)
    _FAST_LOGITS = (bce_logits_forward_fast, bce_logits_backward_fast)
    _PROBS = (bce_probs_forward, bce_probs_backward)

    def _fused_mean(self, y_true, y_pred, logits, need_grad):
        z = _plain_hidden_logits(y_pred, logits)
        if z is None or self.from_logits or self.label_smoothing or \
                not isinstance(y_true, np.ndarray) or y_true.dtype.kind not in "fiub":
            return None
        if y_true.shape != z.shape and not (y_true.ndim == 1 and z.shape == y_true.shape + (1,)):
            return None
        if z.ndim == 2 and z.shape[0] <= _MAX_KERNEL_CLASSES:
            return bce_logits_mean_fast(y_true, z, need_grad)
        values, cache = bce_logits_forward_fast(y_true, z)
        return _mean_and_grad(values, need_grad, bce_logits_backward_fast, cache)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="binary_crossentropy") -> None:
        super().__init__(from_logits, label_smoothing, axis, reduction, name)

    def _smooth(self, y_true, dt):
        return y_true * dt(1.0 - self.label_smoothing) + dt(0.5 * self.label_smoothing)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Categorical cross-entropy on one-hot (or soft) labels, Keras' `CategoricalCrossentropy`.

    Math:
        smoothing:     y ← y·(1 − ls) + ls/C
        probabilities: q̂ = clip(p/Σp, ε, 1−ε);  ℓ = −Σ_c y_c·log q̂_c
                       dℓ/dp_c = −y_c/p_c + Σ_j y_j/Σp   (no clip active; clipped q_c -> 0)
        logits:        ℓ = Σ_c y_c·(logsumexp(z) − z_c);  dℓ/dz = softmax(z) − y

    Args:
        from_logits: y_pred holds logits instead of probabilities.
        label_smoothing: float in [0, 1], mixes the labels with the uniform distribution.
        axis: must be -1.

    Shapes:
        y_true, y_pred: (N, ..., C); per-sample values (N, ...).
    """

    is_crossentropy = True

    _LOGITS = (cce_logits_forward, cce_logits_backward)
    _PROBS = (cce_probs_forward, cce_probs_backward)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name="categorical_crossentropy") -> None:
        super().__init__(from_logits, label_smoothing, axis, reduction, name)

    def _forward(self, y_true, y_pred, from_logits, shapes):
        if y_pred.shape[-1] == 1:
            warnings.warn(
                "In loss categorical_crossentropy, expected y_pred.shape to be (batch_size, "
                f"num_classes) with num_classes > 1. Received: y_pred.shape={y_pred.shape}. "
                "Consider using 'binary_crossentropy' if you only have 2 classes.",
                SyntaxWarning,
                stacklevel=4,
            )
        return super()._forward(y_true, y_pred, from_logits, shapes)

    def _smooth(self, y_true, dt):
        ls = self.label_smoothing
        return y_true * dt(1.0 - ls) + dt(ls) / dt(y_true.shape[-1])


def _int_labels_in_range(labels: np.ndarray, n_classes: int) -> bool:
    """Whether integer labels all lie in [0, n_classes) (two reductions; True when empty)."""
    return labels.size == 0 or (np.minimum.reduce(labels, axis=None) >= 0 and
                                np.maximum.reduce(labels, axis=None) < n_classes)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy on integer class labels, Keras' `SparseCategoricalCrossentropy`.

    Math:
        probabilities: s = log clip(p, ε, 1−ε)   (clip first, renormalise after)
        logits:        s = z
        ℓ = logsumexp(s) − s_y;   dℓ/ds = softmax(s) − onehot(y)
        ignore_class=k: entries with y = k get ℓ = 0, gradient 0, and are masked out of the
        mean (Keras' mask: weights valid·(total/valid)).

    Args:
        from_logits: y_pred holds logits instead of probabilities.
        ignore_class: an integer label whose entries are ignored (e.g. -1 or 255), or None.
        axis: must be -1.

    Shapes:
        y_true: y_pred.shape[:-1] or y_pred.shape[:-1] + (1,), integer-valued (any dtype).
        y_pred: (N, ..., C); per-sample values (N, ...).

    Raises:
        ValueError: labels outside [0, C) (other than ignore_class) or not integer-valued;
            Keras/TF would silently truncate them or fail inside the kernel.
    """

    is_crossentropy = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 axis=-1, name="sparse_categorical_crossentropy") -> None:
        super().__init__(reduction=reduction, name=name)
        self.from_logits = bool(from_logits)
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or int(ignore_class) != ignore_class
        ):
            raise ValueError(
                "SparseCategoricalCrossentropy expected an integer ignore_class or None. "
                f"Received: ignore_class={ignore_class!r}"
            )
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        self.axis = _check_axis(type(self).__name__, axis)

    @staticmethod
    @functools.lru_cache(maxsize=64)  # shapes only, and called every step
    def _labels_shape_ok(y_true_shape, y_pred_shape) -> bool:
        """Whether the labels match y_pred.shape[:-1] after Keras' two fix-ups."""
        t, p = squeeze_or_expand_to_same_rank(np.broadcast_to(0.0, y_true_shape),
                                              np.broadcast_to(0.0, y_pred_shape))
        t_shape, p_shape = t.shape, p.shape  # the wrapper's rank fix-up (only matters if C == 1)
        if p_shape != tuple(y_pred_shape) or not p_shape:
            return False  # Keras would squeeze y_pred itself and then fail
        if len(t_shape) == len(p_shape) and t_shape and t_shape[-1] == 1:
            t_shape = t_shape[:-1]  # SCCE's own squeeze of a trailing 1
        return t_shape == p_shape[:-1]

    def _validate_true(self, y_true, y_pred, shapes):
        y_true = super()._validate_true(y_true, y_pred, shapes)
        if not self._labels_shape_ok(y_true.shape, y_pred.shape):
            raise ValueError(
                "SparseCategoricalCrossentropy expected integer labels of shape "
                f"y_pred.shape[:-1] (or with a trailing 1). Received: y_true.shape={shapes[0]}, "
                f"y_pred.shape={shapes[1]}"
            )
        n_classes = y_pred.shape[-1]
        labels = y_true
        if labels.dtype.kind in "iu" and self.ignore_class is None and \
                _int_labels_in_range(labels, n_classes):
            return y_true  # integer labels in range: two reductions settle it
        if labels.dtype.kind == "f":
            bad = ~np.isfinite(labels)
            finite = np.where(bad, 0, labels)
            bad |= finite != np.round(finite)
        else:
            bad = np.zeros(labels.shape, dtype=bool)
            finite = labels
        in_range = (finite >= 0) & (finite < n_classes)
        if self.ignore_class is not None:
            in_range |= finite == self.ignore_class
        bad |= ~in_range
        if np.any(bad):
            first = labels.reshape(-1)[np.argmax(bad.reshape(-1))].item()
            allowed = f"[0, {n_classes})"
            if self.ignore_class is not None:
                allowed += f" or ignore_class={self.ignore_class}"
            raise ValueError(
                f"SparseCategoricalCrossentropy ({self.name!r}) expected integer class labels in "
                f"{allowed}. Received: label value {first!r} "
                f"({int(np.count_nonzero(bad))} invalid label(s), y_pred.shape={shapes[1]})"
            )
        return y_true

    def _prepare_true(self, y_true, dtype):
        return y_true  # kept as given; converted to int64 indices in _forward

    def _drops_hidden_logits(self, y_true_shape, y_pred_shape) -> bool:
        # ignore_class: Keras masks y_pred with ops.where first, which drops the logits.
        return self.ignore_class is not None or super()._drops_hidden_logits(
            y_true_shape, y_pred_shape)

    def _fused_mean(self, y_true, y_pred, logits, need_grad):
        z = _plain_hidden_logits(y_pred, logits)
        if z is None or self.from_logits or self.ignore_class is not None or \
                not isinstance(y_true, np.ndarray) or y_true.dtype.kind not in "iu":
            return None
        classes = z.shape[-1]
        if classes < 2 or y_true.shape not in (z.shape[:-1], z.shape[:-1] + (1,)) or \
                not _int_labels_in_range(y_true, classes):
            return None  # the general path raises its error on bad labels
        values, cache = scce_logits_forward_fast(y_true, z)
        return _mean_and_grad(values, need_grad, scce_logits_backward_fast, cache)

    def _forward(self, y_true, y_pred, from_logits, shapes):
        if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        labels = np.asarray(y_true)
        if labels.dtype.kind == "f":
            labels = np.round(labels)
        labels = labels.astype(np.int64, copy=False)
        valid = None
        if self.ignore_class is not None:
            valid = labels != self.ignore_class
            labels = np.where(valid, labels, 0)
            y_pred = np.where(valid[..., None], y_pred, 0).astype(y_pred.dtype, copy=False)
        if from_logits and valid is None and backend.use_fast_path(self) and y_pred.size and \
                y_pred.shape[-1] <= _MAX_KERNEL_CLASSES:
            values, cache = scce_logits_forward_fast(labels, y_pred)
            return values, lambda dv: scce_logits_backward_fast(dv, cache), None
        values, cache = scce_forward(labels, y_pred, from_logits)
        if valid is None:
            return values, lambda dv: scce_backward(dv, cache), None
        values = np.where(valid, values, 0).astype(values.dtype, copy=False)

        def backward(dv):
            dv = np.where(valid, dv, 0).astype(dv.dtype, copy=False)
            return np.where(valid[..., None], scce_backward(dv, cache), 0).astype(dv.dtype)

        return values, backward, valid

    def get_config(self) -> dict:
        return {**super().get_config(), "from_logits": self.from_logits,
                "ignore_class": self.ignore_class}


class AutoCrossentropy(Loss):
    """Keras' compile strings "crossentropy"/"ce": BCE, SCCE or CCE chosen by shapes.

    Math:
        y_pred.shape[-1] == 1 -> BinaryCrossentropy
        else sparse labels (rank(y_true) < rank(y_pred), or y_true.shape[-1] == 1)
                              -> SparseCategoricalCrossentropy
        else                  -> CategoricalCrossentropy

    The choice is made once, by `resolve(y_true_shape, y_pred_shape)` or at first use, and is
    then kept (Keras resolves when the compiled loss is built). The resolved loss has Keras'
    default arguments and this object's name and reduction.
    """

    is_crossentropy = True

    def __init__(self, reduction="sum_over_batch_size", name="crossentropy") -> None:
        super().__init__(reduction=reduction, name=name)
        self.resolved: Loss | None = None

    def resolve(self, y_true_shape: Shape, y_pred_shape: Shape) -> Loss:
        """Pick and keep the concrete cross-entropy for these shapes; return it."""
        if self.resolved is None:
            is_binary, is_sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
            cls = (BinaryCrossentropy if is_binary else
                   SparseCategoricalCrossentropy if is_sparse else CategoricalCrossentropy)
            self.resolved = cls(reduction=self.reduction, name=self.name)
        return self.resolved

    def _run(self, y_true, y_pred, sample_weight, logits, mask, need_grad, activation=None):
        loss = self.resolve(np.shape(y_true), np.shape(y_pred))
        return loss._run(y_true, y_pred, sample_weight, logits, mask, need_grad, activation)

    def call(self, y_true, y_pred):
        return self.resolve(np.shape(y_true), np.shape(y_pred)).call(y_true, y_pred)


# ============================================================================ functions
def _per_sample(loss: Loss, y_true, y_pred) -> np.ndarray:
    if isinstance(y_pred, Tensor) or isinstance(y_true, Tensor):
        loss.reduction = "none"  # the same values, recorded by an active GradientTape
        return loss(y_true, y_pred)
    return loss.call(y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> Array:
    """Per-sample MSE, mean_last((y − p)²), after Keras' rank fix-up. Shape y.shape[:-1]."""
    return _per_sample(MeanSquaredError(), y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> Array:
    """Per-sample MAE, mean_last(|y − p|), after Keras' rank fix-up. Shape y.shape[:-1]."""
    return _per_sample(MeanAbsoluteError(), y_true, y_pred)


def huber(y_true, y_pred, delta=1.0) -> Array:
    """Per-sample Huber loss (see `Huber`). Shape y.shape[:-1]."""
    return _per_sample(Huber(delta=delta), y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1) -> Array:
    """Per-sample binary cross-entropy (see `BinaryCrossentropy`). Shape y.shape[:-1]."""
    loss = BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)
    return _per_sample(loss, y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0,
                             axis=-1) -> Array:
    """Per-sample categorical cross-entropy (see `CategoricalCrossentropy`). Shape y.shape[:-1]."""
    loss = CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing,
                                   axis=axis)
    return _per_sample(loss, y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None,
                                    axis=-1) -> Array:
    """Per-sample sparse categorical cross-entropy (ignored entries are 0). Shape y_pred[:-1]."""
    loss = SparseCategoricalCrossentropy(from_logits=from_logits, ignore_class=ignore_class,
                                         axis=axis)
    return _per_sample(loss, y_true, y_pred)


def kl_divergence(y_true, y_pred) -> Array:
    """Per-sample KL divergence, Σ_last y·log(y/p) on clipped inputs. Shape y.shape[:-1]."""
    return _per_sample(KLDivergence(), y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis=-1) -> Array:
    """Per-sample negative cosine similarity along `axis` (see `CosineSimilarity`)."""
    return _per_sample(CosineSimilarity(axis=axis), y_true, y_pred)


mse = mean_squared_error
mae = mean_absolute_error
kld = KLD = kl_divergence


# ============================================================================ get
_CLASSES: dict[str, type[Loss]] = {
    cls.__name__: cls
    for cls in (MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy,
                CategoricalCrossentropy, SparseCategoricalCrossentropy, KLDivergence,
                CosineSimilarity)
}
# Function names (and Keras' aliases) -> class; get() names the instance after the string.
_FUNCTION_NAMES: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError, "huber": Huber, "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "cosine_similarity": CosineSimilarity,
}
_AUTO_NAMES = ("crossentropy", "ce")


def _known_names() -> list[str]:
    return sorted(_FUNCTION_NAMES) + list(_AUTO_NAMES) + sorted(_CLASSES)


def get(identifier) -> Loss:
    """Resolve a loss identifier as `compile(loss=...)` does.

    Args:
        identifier: a Loss instance (returned as is); a function name such as "mse",
            "binary_crossentropy" (an instance named after the string, reduction
            sum_over_batch_size, Keras' defaults); a class name such as "MeanSquaredError";
            "crossentropy"/"ce" (an `AutoCrossentropy`, resolved by shapes at first use); or a
            dict {"class_name": ..., "config": {...}}.

    Raises:
        ValueError: for an unknown identifier (the message lists the known names).
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        if identifier.lower() in _AUTO_NAMES:
            return AutoCrossentropy(name=identifier)
        if identifier in _FUNCTION_NAMES:
            return _FUNCTION_NAMES[identifier](name=identifier)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
    raise ValueError(
        f"Could not interpret loss identifier: {identifier!r}. Known names: "
        f"{', '.join(_known_names())} (or a Loss instance, or a config dict)."
    )


def serialize(loss: Loss) -> dict:
    """{"class_name": ..., "config": loss.get_config()}."""
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict) -> Loss:
    """Inverse of `serialize`; also accepts {"class_name": "<function name>"}."""
    class_name = config.get("class_name")
    inner = dict(config.get("config") or {})
    if class_name in _CLASSES:
        return _CLASSES[class_name].from_config(inner)
    if class_name == "AutoCrossentropy":
        return AutoCrossentropy(**inner)
    if class_name in _FUNCTION_NAMES:
        inner.setdefault("name", class_name)
        return _FUNCTION_NAMES[class_name].from_config(inner)
    raise ValueError(
        f"Could not interpret loss config: class_name={class_name!r}. Known names: "
        f"{', '.join(_known_names())}"
    )
