"""Normalization layers: BatchNormalization (Lecture 35) and LayerNormalization.

Batch normalization standardizes every channel with the statistics of the current batch,
then lets gradient descent choose the scale and shift (Lecture 35: z = (x − μ_B)/σ_B,
y = γ·z + β). Keras' exact form, that of tf.nn.batch_normalization
(docs/KERAS_NUMERICS.md §Batch normalization):

    training (fit, or training=True, and layer.trainable):
        μ  = mean of x over every axis but `axis`          (per channel)
        σ² = mean of (x − μ)² over the same axes            (BIASED variance, ÷ n)
        moving_mean     ← moving_mean·m + μ·(1 − m)
        moving_variance ← moving_variance·m + σ²·(1 − m)    (biased σ² too; m = momentum)
    inference (training=False, or layer.trainable = False even inside fit):
        μ, σ² = moving_mean, moving_variance                (nothing is updated)
    both:
        inv = γ / √(σ² + ε);   y = x·inv + (β − μ·inv)

Backward, with x̂ = (x − μ)/√(σ² + ε) and sums over the n positions of each channel:

    dβ = Σ dy;   dγ = Σ dy·x̂
    training:   dx = γ/√(σ²+ε) · (dy − (dβ + x̂·dγ)/n)     (the gradient flows through μ, σ²)
    inference:  dx = γ/√(σ²+ε) · dy                          (μ, σ² are constants)

Layer normalization uses the same formula per sample, over the feature axes instead of the
batch, with no moving statistics.

Two implementations per layer, chosen by `backend.fast_paths` (or `layer.fast_path`): the readable
functions (`batch_norm_forward`, ... written literally over the reduction axes) and a fast
form on a 2-D (positions, channels) view when the normalized axis is last, with per-channel
coefficients and fewer temporaries (`batch_norm_forward_fast`, ...), whose batch statistics,
normalization and gradients run as Numba passes (`scratch._kernels.normalization`). Tests
check they agree.

The module runs a little over the project's 500 lines because each of its two layers keeps
its readable functions beside their fast form, which the tests compare with them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import backend, initializers, regularizers
from .._kernels import load as load_kernels
from ..backend import FLOAT_DTYPES
from ..typing import Array, Shape
from .base import Layer
from .core import _serialize_init

__all__ = ["BatchNormalization", "LayerNormalization", "batch_norm_forward",
           "batch_norm_backward", "batch_norm_forward_fast", "batch_norm_backward_fast",
           "layer_norm_forward", "layer_norm_backward", "layer_norm_forward_fast",
           "layer_norm_backward_fast", "batch_statistics"]


def _f(value: float, dtype) -> np.ndarray:
    """A Python float as a 0-d array of `dtype` (TF casts Python scalars to the tensor's dtype)."""
    return np.asarray(value, dtype=dtype)


# ------------------------------------------------------------------------------ readable
class NormCache(NamedTuple):
    xhat: Array            # (x − μ)·inv_std, the input's shape
    inv_std: Array         # 1/√(σ² + ε), broadcastable (keepdims)
    gamma: Array | None    # broadcastable γ, or None (scale=False)
    training: bool         # whether μ, σ² came from this batch (gradient flows through them)


def batch_norm_forward(x: Array, axes: tuple, mean: Array, var: Array, gamma, beta,
                       epsilon: float, training: bool):
    """Readable y = x·inv + (β − μ·inv), inv = γ/√(σ² + ε); mean/var broadcastable.

    Shapes:
        x any shape; mean, var, gamma, beta broadcastable to x (keepdims over `axes`)
        → y like x, and a NormCache for the backward.
    """
    inv_std = 1.0 / np.sqrt(var + _f(epsilon, x.dtype))
    inv = inv_std * gamma if gamma is not None else inv_std
    shift = beta - mean * inv if beta is not None else -mean * inv
    y = x * inv + shift
    return y, NormCache((x - mean) * inv_std, inv_std, gamma, training)


def batch_statistics(x: Array, axes: tuple):
    """μ and the biased σ² over `axes` (keepdims), as tf.nn.moments computes them."""
    mean = x.mean(axis=axes, keepdims=True)
    var = np.square(x - mean).mean(axis=axes, keepdims=True)
    return mean, var


def batch_norm_backward(dy: Array, cache: NormCache, axes: tuple, center: bool, scale: bool):
    """Readable gradients of `batch_norm_forward`; sums run over `axes`.

    Math:
        dβ = Σ dy;  dγ = Σ dy·x̂
        training:  dx = γ·inv_std·(dy − (dβ + x̂·dγ)/n);   inference: dx = γ·inv_std·dy
    """
    xhat, inv_std, gamma, training = cache
    dbeta = dy.sum(axis=axes, keepdims=True)
    dgamma = (dy * xhat).sum(axis=axes, keepdims=True)
    scale_factor = inv_std * gamma if gamma is not None else inv_std
    if training:
        n = _f(np.prod([dy.shape[a] for a in axes]), dy.dtype)
        dx = scale_factor * (dy - (dbeta + xhat * dgamma) / n)
    else:
        dx = scale_factor * dy
    grads = {}
    if scale:
        grads["gamma"] = dgamma
    if center:
        grads["beta"] = dbeta
    return dx, grads


# ------------------------------------------------------------------------------ fast
def batch_norm_forward_fast(x2: Array, mean: Array, var: Array, gamma, beta, epsilon: float,
                            training: bool):
    """The same as `batch_norm_forward` on a 2-D (positions, channels) view.

    Math:
        a = γ/√(σ² + ε),  b = β − μ·a  (per channel);   y = x·a + b   (one pass, in place)

    y and x̂ come from one Numba pass (`scratch._kernels.normalization.batch_norm_apply`)
    where `_kernels_take` the arrays, else from the NumPy lines below (same operations).
    """
    inv_std = 1.0 / np.sqrt(var + _f(epsilon, x2.dtype))
    a = inv_std * gamma if gamma is not None else inv_std
    b = beta - mean * a if beta is not None else -mean * a
    if _kernels_take(x2, mean, inv_std, a, b):
        y, xhat = load_kernels("normalization").batch_norm_apply(x2, mean, inv_std, a, b)
        return y, NormCache(xhat, inv_std, gamma, training)
    y = np.multiply(x2, a)
    y += b
    xhat = np.subtract(x2, mean)
    xhat *= inv_std
    return y, NormCache(xhat, inv_std, gamma, training)


def batch_norm_backward_fast(dy2: Array, cache: NormCache, center: bool, scale: bool):
    """The same as `batch_norm_backward` on a 2-D (positions, channels) view.

    Math:
        dβ = 1ᵀdy, dγ = Σ_rows dy ⊙ x̂ (einsum, no temporary);
        training: dx = a·dy − (a/n)·dβ − (a/n)·dγ·x̂   (a = γ·inv_std), in place

    One Numba pass (`scratch._kernels.normalization.batch_norm_grads`) where
    `_kernels_take` the arrays, else the NumPy lines below (same operations).
    """
    xhat, inv_std, gamma, training = cache
    a = inv_std * gamma if gamma is not None else inv_std
    if _kernels_take(dy2, xhat, a):
        kernels = load_kernels("normalization")
        dx, dbeta, dgamma = kernels.batch_norm_grads(dy2, xhat, a, bool(training))
        return dx, _norm_grads(dbeta, dgamma, center, scale)
    dbeta = dy2.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dy2, xhat)
    dx = np.multiply(dy2, a)
    if training:
        n = _f(dy2.shape[0], dy2.dtype)
        dx -= (a / n) * dbeta
        dx -= xhat * ((a / n) * dgamma)
    return dx, _norm_grads(dbeta, dgamma, center, scale)


def _norm_grads(dbeta: Array, dgamma: Array, center: bool, scale: bool) -> dict:
    grads = {}
    if scale:
        grads["gamma"] = dgamma
    if center:
        grads["beta"] = dbeta
    return grads


# The Numba passes of `scratch._kernels.normalization` take 2-D C-contiguous (rows ≥ 1,
# channels) float32/float64 arrays and per-channel vectors of the same dtype.


def _kernels_take(x2: Array, *vectors: Array) -> bool:
    """Whether the Numba passes take a (rows, channels) array and its per-channel vectors
    (or arrays shaped like it); never while the fast paths are off."""
    return (backend.fast_paths_enabled() and x2.ndim == 2 and x2.shape[0] >= 1 and
            x2.dtype in FLOAT_DTYPES and x2.flags.c_contiguous and
            all(v.dtype == x2.dtype and v.flags.c_contiguous and
                v.shape in (x2.shape, x2.shape[1:]) for v in vectors))


# ------------------------------------------------------------------------------ layer norm
def layer_norm_forward(x: Array, axes: tuple, gamma, beta, epsilon: float):
    """Per-sample normalization over `axes`: inv = γ/√(σ² + ε), y = x·inv + (β − μ·inv)."""
    mean, var = batch_statistics(x, axes)
    return batch_norm_forward(x, axes, mean, var, gamma, beta, epsilon, True)


def layer_norm_backward(dy: Array, cache: NormCache, axes: tuple, center: bool, scale: bool):
    """Gradients of `layer_norm_forward`.

    Math (n = size of the normalized axes, sums over them; x̂, inv_std per sample):
        g = dy·γ;  dx = inv_std·(g − (Σg + x̂·Σ(g·x̂))/n)
        dγ = Σ_batch dy·x̂;  dβ = Σ_batch dy   (batch = every axis not normalized)
    """
    xhat, inv_std, gamma, _ = cache
    g = dy * gamma if gamma is not None else dy
    n = _f(np.prod([dy.shape[a] for a in axes]), dy.dtype)
    dx = inv_std * (g - (g.sum(axis=axes, keepdims=True)
                         + xhat * (g * xhat).sum(axis=axes, keepdims=True)) / n)
    other = tuple(a for a in range(dy.ndim) if a not in axes)
    grads = {}
    if scale:
        grads["gamma"] = (dy * xhat).sum(axis=other)
    if center:
        grads["beta"] = dy.sum(axis=other)
    return dx, grads


def layer_norm_forward_fast(x2: Array, gamma, beta, epsilon: float):
    """`layer_norm_forward` on a 2-D (rows, features) view, with fused row reductions.

    Math:
        x_c = x − μ (rows);  σ² = (x_c·x_c)/D (einsum, no temporary);  x̂ = x_c/√(σ² + ε);
        y = x·inv + (β − μ·inv),  inv = γ/√(σ² + ε)   (Keras' form, as the readable code)
    """
    d = _f(x2.shape[1], x2.dtype)
    mean = x2.mean(axis=1, keepdims=True)
    xhat = np.subtract(x2, mean)
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None] / d
    inv_std = 1.0 / np.sqrt(var + _f(epsilon, x2.dtype))
    xhat *= inv_std
    inv = inv_std * gamma if gamma is not None else inv_std
    shift = beta - mean * inv if beta is not None else -mean * inv
    y = x2 * inv
    y += shift
    return y, NormCache(xhat, inv_std, gamma, True)


def layer_norm_backward_fast(dy2: Array, cache: NormCache, center: bool, scale: bool):
    """`layer_norm_backward` on a 2-D (rows, features) view: einsum reductions, in place.

    Math:
        g = dy·γ;  dx = inv_std·(g − (Σ_j g + x̂·Σ_j g·x̂)/D);  dγ = Σ_rows dy·x̂;  dβ = Σ_rows dy
    """
    xhat, inv_std, gamma, _ = cache
    d = _f(dy2.shape[1], dy2.dtype)
    g = np.multiply(dy2, gamma) if gamma is not None else dy2.copy()
    s1 = g.sum(axis=1, keepdims=True)
    s2 = np.einsum("ij,ij->i", g, xhat)[:, None]
    g -= (s1 + xhat * s2) / d
    g *= inv_std
    grads = {}
    if scale:
        grads["gamma"] = np.einsum("ij,ij->j", dy2, xhat)
    if center:
        grads["beta"] = dy2.sum(axis=0)
    return g, grads


# ------------------------------------------------------------------------------ layers
def _check_axis(axis, ndim: int, name: str) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"Axis {axis} is out of bounds for input of rank {ndim} in layer {name!r}. "
            f"Received: axis={axis}"
        )
    return axis % ndim


class BatchNormalization(Layer):
    """Batch normalization (keras.layers.BatchNormalization), Lecture 35.

    Math:
        see the module docstring: batch statistics (biased variance) and a moving-average
        update in training; moving statistics at inference; y = x·inv + (β − μ·inv),
        inv = γ/√(σ² + ε).

    Args:
        axis: the channel axis kept (default −1, channels last); statistics are taken over
            every other axis.
        momentum: m of the moving averages (0.99).  epsilon: ε (1e-3, Keras' default).
        center / scale: learn β / γ.
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: Keras defaults zeros, ones, zeros, ones.
        beta_regularizer / gamma_regularizer: penalties on β / γ added to the loss.
        synchronized: accepted for Keras compatibility (one device: no effect).

    Shapes:
        any (N, ..., C) → the same shape. Weights, in Keras order: gamma (C,), beta (C,) in
        `params`; moving_mean (C,), moving_variance (C,) in `state` (non-trainable).

    Frozen layers: with `layer.trainable = False` the layer runs in inference mode even when
    called with training=True (as `fit` does), so its moving statistics stay fixed (Keras 3).

    Raises:
        ValueError: axis out of range, unknown channel size, or an input whose rank or
            channel count differs from the one the layer was built for (before any update).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(
                "BatchNormalization expected an int for the argument `axis`. "
                f"Received: axis={axis!r}"
            )
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.synchronized = bool(synchronized)
        self.fast_path = None  # None: the global switch (backend.fast_paths)
        self._built_shape: tuple | None = None

    def _validate_shape(self, shape) -> int:
        axis = _check_axis(self.axis, len(shape), self.name)
        if self._built_shape is not None:
            ndim, channels = self._built_shape
            if len(shape) != ndim or shape[axis] != channels:
                raise ValueError(
                    f"Input 0 of layer {self.name!r} (BatchNormalization) is incompatible with "
                    f"the layer: expected ndim={ndim} with axis {self.axis} of size "
                    f"{channels}. Received: shape={tuple(shape)}"
                )
        elif shape[axis] is None:
            raise ValueError(
                f"BatchNormalization {self.name!r} needs a known size along axis {self.axis}. "
                f"Received: input_shape={tuple(shape)}"
            )
        return axis

    def build(self, input_shape: Shape) -> None:
        axis = self._validate_shape(input_shape)
        c = (input_shape[axis],)
        if self.scale:
            self.add_weight("gamma", c, self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", c, self.beta_initializer, regularizer=self.beta_regularizer)
        self.add_weight("moving_mean", c, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", c, self.moving_variance_initializer, trainable=False)
        self._built_shape = (len(input_shape), input_shape[axis])
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        _check_axis(self.axis, len(input_shape), self.name)
        return tuple(input_shape)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        axis = self._validate_shape(x.shape)
        use_batch = bool(training) and self.trainable
        axes = tuple(a for a in range(x.ndim) if a != axis)
        shape = [1] * x.ndim
        shape[axis] = x.shape[axis]
        gamma, beta = self.params.get("gamma"), self.params.get("beta")
        fast = backend.use_fast_path(self) and axis == x.ndim - 1
        if fast:
            x_in = x.reshape(-1, x.shape[-1])
            shape = [x.shape[-1]]
        else:
            x_in = x
        if use_batch and fast and _kernels_take(x_in):
            mean, var = load_kernels("normalization").batch_moments(x_in)
        elif use_batch and fast:
            mean = x_in.mean(axis=0)
            var = np.square(x_in - mean).mean(axis=0)
        elif use_batch:
            mean, var = batch_statistics(x, axes)
        else:
            mean = self.state["moving_mean"].reshape(shape)
            var = self.state["moving_variance"].reshape(shape)
        g = None if gamma is None else gamma.reshape(shape)
        b = None if beta is None else beta.reshape(shape)
        if fast:
            y, cache = batch_norm_forward_fast(x_in, mean, var, g, b, self.epsilon, use_batch)
            y = y.reshape(x.shape)
        else:
            y, cache = batch_norm_forward(x, axes, mean, var, g, b, self.epsilon, use_batch)
        if use_batch:  # after every check and computation: errors leave the state untouched
            m = _f(self.momentum, x.dtype)
            one_minus_m = _f(1.0 - self.momentum, x.dtype)
            mm, mv = self.state["moving_mean"], self.state["moving_variance"]
            mm[...] = mm * m + mean.reshape(-1) * one_minus_m
            mv[...] = mv * m + var.reshape(-1) * one_minus_m
        self._cache = (cache, x.shape, axes, fast)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        cache, x_shape, axes, fast = self._require_cache()
        dy = self._check_dy(dy, x_shape)
        if fast:
            dx, grads = batch_norm_backward_fast(dy.reshape(-1, x_shape[-1]), cache,
                                                 self.center, self.scale)
            dx = dx.reshape(x_shape)
        else:
            dx, grads = batch_norm_backward(dy, cache, axes, self.center, self.scale)
        self.grads = {k: grads[k].reshape(-1) for k in self.params}
        return dx

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _serialize_init(self.beta_initializer),
                "gamma_initializer": _serialize_init(self.gamma_initializer),
                "moving_mean_initializer": _serialize_init(self.moving_mean_initializer),
                "moving_variance_initializer": _serialize_init(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "synchronized": self.synchronized}


class LayerNormalization(Layer):
    """Layer normalization (keras.layers.LayerNormalization): per-sample statistics.

    Math:
        μ, σ² (biased) of each sample over `axis`;  inv = γ/√(σ² + ε);
        y = x·inv + (β − μ·inv);  gradients in `layer_norm_backward`.

    Args:
        axis: int or list of ints to normalize over (default −1).
        epsilon: ε (1e-3, Keras' default, not PyTorch's 1e-5).
        center / scale, beta_initializer / gamma_initializer, beta_regularizer /
            gamma_regularizer: as in BatchNormalization.

    Shapes:
        any (N, ..., D) → the same shape; gamma and beta have the shape of the normalized
        axes, e.g. (D,).

    Raises:
        ValueError: an axis out of range or a normalized axis whose size differs from the
            built one.
    """

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            self.axis = [int(a) for a in axis]
        elif isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
            self.axis = int(axis)
        else:
            raise TypeError(
                "Expected an int or a list/tuple of ints for the argument 'axis', but "
                f"received: {axis!r}"
            )
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.fast_path = None  # None: the global switch (backend.fast_paths)
        self._norm_shape: tuple | None = None

    supports_masking = True
    # Keras' LayerNormalization.call takes no `mask` (docs/KERAS_NUMERICS.md §Attention)
    keras_call_takes_mask = False

    def _axes(self, ndim: int) -> tuple[int, ...]:
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        return tuple(sorted(_check_axis(a, ndim, self.name) for a in axes))

    def _validate_shape(self, shape) -> tuple[int, ...]:
        axes = self._axes(len(shape))
        dims = tuple(shape[a] for a in axes)
        if self._norm_shape is not None and dims != self._norm_shape:
            raise ValueError(
                f"Input 0 of layer {self.name!r} (LayerNormalization) is incompatible with the "
                f"layer: expected size {self._norm_shape} along axes {self.axis}. "
                f"Received: shape={tuple(shape)}"
            )
        if any(d is None for d in dims):
            raise ValueError(
                f"LayerNormalization {self.name!r} needs known sizes along axes {self.axis}. "
                f"Received: input_shape={tuple(shape)}"
            )
        return axes

    def build(self, input_shape: Shape) -> None:
        axes = self._validate_shape(input_shape)
        shape = tuple(input_shape[a] for a in axes)
        if self.scale:
            self.add_weight("gamma", shape, self.gamma_initializer,
                            regularizer=self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", shape, self.beta_initializer,
                            regularizer=self.beta_regularizer)
        self._norm_shape = shape
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._axes(len(input_shape))
        return tuple(input_shape)

    def _broadcast(self, w, x_ndim: int, axes):
        if w is None:
            return None
        shape = [1] * x_ndim
        for a, d in zip(axes, w.shape):
            shape[a] = d
        return w.reshape(shape)

    def forward(self, x: Array, training: bool = False, mask=None) -> Array:
        self._check_float_input(x)
        axes = self._validate_shape(x.shape)
        gamma = self._broadcast(self.params.get("gamma"), x.ndim, axes)
        beta = self._broadcast(self.params.get("beta"), x.ndim, axes)
        fast = backend.use_fast_path(self) and axes == (x.ndim - 1,)
        if fast:  # rows = samples·positions, columns = features: statistics along axis 1
            g = None if gamma is None else gamma.reshape(-1)
            b = None if beta is None else beta.reshape(-1)
            y, cache = layer_norm_forward_fast(x.reshape(-1, x.shape[-1]), g, b, self.epsilon)
            y = y.reshape(x.shape)
        else:
            y, cache = layer_norm_forward(x, axes, gamma, beta, self.epsilon)
        self._cache = (cache, x.shape, axes, fast)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        cache, x_shape, axes, fast = self._require_cache()
        dy = self._check_dy(dy, x_shape)
        if fast:
            dx, grads = layer_norm_backward_fast(dy.reshape(-1, x_shape[-1]), cache,
                                                 self.center, self.scale)
            dx = dx.reshape(x_shape)
        else:
            dx, grads = layer_norm_backward(dy, cache, axes, self.center, self.scale)
        self.grads = {k: grads[k].reshape(self.params[k].shape) for k in self.params}
        return dx

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": _serialize_init(self.beta_initializer),
                "gamma_initializer": _serialize_init(self.gamma_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer)}
