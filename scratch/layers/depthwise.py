"""Depthwise and depthwise-separable convolutions: DepthwiseConv2D and SeparableConv2D
(MobileNet's building blocks, Lecture 63, "Some Pre-trained Models"), Keras 3 semantics.

A depthwise convolution filters every input channel on its own: channel c gets M =
`depth_multiplier` kernels of size kh×kw and gives M output channels, c·M + 0 … c·M + M − 1,
with no sum over channels:

    z[n, h, w, c·M + m] = b[c·M + m] + Σ_{i,j} x_pad[n, h·sh + i·dh, w·sw + j·dw, c] · K[i, j, c, m]

That is Conv2D's grouped convolution with one group per input channel (groups = C): group c
sees input channel c alone and owns filters c·M … c·M + M − 1, so the depthwise kernel
(kh, kw, C, M) is the grouped kernel (kh, kw, 1, C·M) with its last two axes split. This
module therefore runs `scratch.layers.conv`'s functions (readable: `conv2d_forward` /
`conv2d_backward`; fast: im2col + GEMMs, `conv2d_forward_fast` / `conv2d_backward_fast`,
chosen by `backend.fast_paths`) with groups = C on that reshaped kernel, and reshapes the
kernel's gradient back. Padding, strides and dilation are the convolution's (TensorFlow's
"same" split, odd cell at the end); unlike Conv2D, strides > 1 together with dilation > 1 are
allowed, as in Keras. Unequal strides (sh ≠ sw) are computed too; tf.keras on a CPU refuses
them (TensorFlow's DepthwiseConv2dNative kernel takes equal strides only).

A separable convolution is a depthwise convolution followed by a pointwise (1×1) convolution
that mixes the C·M channels into F filters, then one bias and the activation:

    u = depthwise(x, K_d)                      (N, Ho, Wo, C·M), no bias
    z[n, h, w, f] = b[f] + Σ_k u[n, h, w, k] · P[0, 0, k, f]
    y = activation(z)

and its backward runs the two convolutions' backward in reverse order:
dz → (dP, db, du) → (dK_d, dx).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import activations, backend, initializers, regularizers
from ..typing import Array, Shape
from .base import Layer
from .conv import (
    Pads,
    _Conv,
    conv2d_backward,
    conv2d_backward_fast,
    conv2d_forward,
    conv2d_forward_fast,
    conv_output_length,
    conv_padding,
    conv_threads,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)
from .core import _serialize_init

__all__ = ["DepthwiseConv2D", "SeparableConv2D", "grouped_kernel"]

_NO_PADS: Pads = ((0, 0), (0, 0))


def grouped_kernel(depthwise_kernel: Array) -> Array:
    """The depthwise kernel (kh, kw, C, M) as Conv2D's grouped kernel (kh, kw, 1, C·M) for
    groups = C: output channel c·M + m is filter m of input channel c (a view, no copy)."""
    kh, kw, c, m = depthwise_kernel.shape
    return depthwise_kernel.reshape(kh, kw, 1, c * m)


class _ConvRun(NamedTuple):
    """What one convolution of a forward keeps for its backward."""

    x: Array | None       # the input (readable path)
    xp: Array | None      # the padded input (fast path)
    x_shape: tuple
    pads: Pads


def _conv(layer, x: Array, kernel: Array, bias, strides, pads: Pads, dilation,
          groups: int) -> tuple[Array, _ConvRun]:
    """One 2-D convolution through conv.py: the fast or the readable forward, as the switch
    (or the layer's own `fast_path`) says."""
    if backend.use_fast_path(layer):
        z, xp = conv2d_forward_fast(x, kernel, bias, strides, pads, dilation, groups,
                                    conv_threads(kernel.size * math.prod(x.shape[:3])))
        return z, _ConvRun(None, xp, x.shape, pads)
    return (conv2d_forward(x, kernel, bias, strides, pads, dilation, groups),
            _ConvRun(x, None, x.shape, pads))


def _conv_backward(layer, dz: Array, run: _ConvRun, kernel: Array, strides, dilation,
                   groups: int, use_bias: bool, need_dx: bool) -> tuple[Array | None, dict]:
    """The backward of `_conv` (the same path as its forward took)."""
    if run.xp is not None:
        return conv2d_backward_fast(dz, run.xp, run.x_shape, kernel, strides, run.pads,
                                    dilation, groups, use_bias, need_dx=need_dx,
                                    threads=conv_threads(kernel.size * math.prod(dz.shape[:3])))
    return conv2d_backward(dz, run.x, kernel, strides, run.pads, dilation, groups, use_bias)


class _DepthwiseCache(NamedTuple):
    depthwise: _ConvRun
    pointwise: _ConvRun | None
    z: Array              # pre-activation
    y: Array              # output


class _Depthwise(Layer):
    """What DepthwiseConv2D and SeparableConv2D share: arguments, shapes, the depthwise step."""

    rank = 2
    depthwise_name = "depthwise_kernel"  # Keras' name of the depthwise weight
    _rank_message = _Conv._rank_message

    def __init__(self, kernel_size, strides=1, padding="valid", depth_multiplier=1,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", bias_initializer="zeros",
                 depthwise_regularizer=None, bias_regularizer=None, **kwargs):
        if (isinstance(depth_multiplier, bool)
                or not isinstance(depth_multiplier, (int, np.integer)) or depth_multiplier <= 0):
            raise ValueError("Invalid value for argument `depth_multiplier`. Expected a "
                             f"strictly positive value. Received "
                             f"depth_multiplier={depth_multiplier!r}.")
        kernel_size = standardize_tuple(kernel_size, 2, "kernel_size")
        strides = standardize_tuple(strides, 2, "strides")
        dilation_rate = standardize_tuple(dilation_rate, 2, "dilation_rate")
        padding = standardize_padding(padding)
        data_format = standardize_data_format(data_format)
        activation = activations.get(activation)
        super().__init__(**kwargs)
        self.kernel_size, self.strides, self.dilation_rate = kernel_size, strides, dilation_rate
        self.padding, self.data_format, self.activation = padding, data_format, activation
        self.depth_multiplier = int(depth_multiplier)
        self.use_bias = bool(use_bias)
        # Resolved now, as Keras does: an unseeded random initializer draws its seed here.
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.fast_path = None  # True/False: this layer's choice; None: backend.fast_paths

    # -------------------------------------------------------------- shapes and checks
    def _out_channels(self, channels: int) -> int:
        raise NotImplementedError

    def _validate_shape(self, shape) -> None:
        """Every check that depends on the input shape; raises before any state changes."""
        if len(shape) != 4:
            raise ValueError(self._rank_message(shape))
        if shape[-1] is None:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs a known number of "
                             f"input channels (last axis). Received: input_shape={tuple(shape)}")
        kernel = self.params.get(self.depthwise_name)
        if kernel is not None:
            built = kernel.shape[2]
            if shape[-1] != built:
                raise ValueError(f"{type(self).__name__} {self.name!r} was built for inputs "
                                 f"with {built} channels. Received: input shape={tuple(shape)}")
        if any(o is not None and o <= 0 for o in self._spatial_output(shape[1:3])):
            raise ValueError(
                "Computed output size would be zero or negative: the input is smaller than "
                f"the (dilated) kernel with padding={self.padding!r}. Received "
                f"`inputs shape={tuple(shape)}`, `kernel_size={self.kernel_size}`, "
                f"`dilation_rate={self.dilation_rate}`, `strides={self.strides}`, "
                f"`padding={self.padding}`.")

    def _spatial_output(self, spatial) -> tuple:
        return tuple(conv_output_length(n, k, s, d, self.padding) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._validate_shape(input_shape)
        return ((input_shape[0],) + self._spatial_output(input_shape[1:3])
                + (self._out_channels(input_shape[-1]),))

    def _pads(self, spatial) -> Pads:
        return tuple(conv_padding(n, k, s, d, self.padding) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    # -------------------------------------------------------------- the depthwise step
    def _depthwise(self, x: Array, kernel: Array, bias) -> tuple[Array, _ConvRun]:
        """u = depthwise(x) (+ bias): Conv2D's grouped convolution with groups = C."""
        return _conv(self, x, grouped_kernel(kernel), bias, self.strides,
                     self._pads(x.shape[1:3]), self.dilation_rate, x.shape[-1])

    def _depthwise_backward(self, du: Array, run: _ConvRun, kernel: Array, use_bias: bool,
                            need_dx: bool) -> tuple[Array | None, Array, Array | None]:
        """(dx, dK (kh, kw, C, M), db or None) of `_depthwise`."""
        dx, grads = _conv_backward(self, du, run, grouped_kernel(kernel), self.strides,
                                   self.dilation_rate, kernel.shape[2], use_bias, need_dx)
        return dx, grads["kernel"].reshape(kernel.shape), grads.get("bias")

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        cache = self._require_cache()
        dy = self._check_dy(dy, cache.y.shape)
        return self.backward_from_logits(self.activation.backward(dy, cache.z, cache.y),
                                         need_dx=need_dx, need_grads=need_grads)

    @property
    def logits(self) -> Array | None:
        """The pre-activation z of the last forward, if the activation is sigmoid/softmax."""
        if self._cache is None or not getattr(self.activation, "exposes_logits", False):
            return None
        return self._cache.z

    def get_config(self) -> dict:
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "depthwise_initializer": _serialize_init(self.depthwise_initializer),
                "bias_initializer": _serialize_init(self.bias_initializer),
                "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


class DepthwiseConv2D(_Depthwise):
    """Depthwise 2-D convolution: each input channel filtered on its own by
    `depth_multiplier` kernels, `y = act(x ⋆_depthwise K + b)`.

    Math:
        z[n, h, w, c·M + m] = b[c·M + m]
                              + Σ_{i,j} x_pad[n, h·sh + i·dh, w·sw + j·dw, c] · K[i, j, c, m]
        (Conv2D with groups = C and the kernel reshaped to (kh, kw, 1, C·M); see the module
        docstring)

    Args:
        kernel_size: (kh, kw) or an int.
        strides: (sh, sw) or an int.  padding: "valid" or "same".
        depth_multiplier: M, the output channels per input channel.
        dilation_rate: (dh, dw) or an int (strides and dilation may both exceed 1).
        activation, use_bias: as in Conv2D.
        depthwise_initializer, bias_initializer: Keras' initializers.
        depthwise_regularizer, bias_regularizer: penalties on the weights
            (`scratch.regularizers`, docs/KERAS_NUMERICS.md §Regularizers).

    Shapes:
        input (N, H, W, C) → output (N, Ho, Wo, C·M); weights (Keras 3's names and order)
        `kernel` (kh, kw, C, M) and `bias` (C·M,).

    Raises:
        ValueError: invalid arguments (Keras' messages); input not 4-D, channels different
            from the built kernel, or a 'valid' image smaller than the dilated kernel.
    """

    depthwise_name = "kernel"  # Keras 3 calls DepthwiseConv2D's weight "kernel"

    def _out_channels(self, channels: int) -> int:
        return channels * self.depth_multiplier

    def build(self, input_shape: Shape) -> None:
        self._validate_shape(input_shape)
        channels = input_shape[-1]
        self.add_weight("kernel", self.kernel_size + (channels, self.depth_multiplier),
                        self.depthwise_initializer, regularizer=self.depthwise_regularizer)
        if self.use_bias:
            self.add_weight("bias", (channels * self.depth_multiplier,), self.bias_initializer,
                            regularizer=self.bias_regularizer)
        self.built = True

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self._validate_shape(x.shape)
        z, run = self._depthwise(x, self.params["kernel"], self.params.get("bias"))
        y = self.activation(z)
        self._cache = _DepthwiseCache(run, None, z, y)
        return y

    def backward_from_logits(self, dz: Array, *, need_dx: bool = True,
                             need_grads: bool = True) -> Array | None:
        """Back-propagate dL/dz (pre-activation): Conv2D's grouped backward, then dK
        reshaped to (kh, kw, C, M). With `need_dx=False` the fast path returns None."""
        cache = self._require_cache()
        dz = self._check_dy(dz, cache.y.shape)
        dx, dkernel, dbias = self._depthwise_backward(dz, cache.depthwise, self.params["kernel"],
                                                      self.use_bias, need_dx)
        self.grads = {"kernel": dkernel, **({"bias": dbias} if self.use_bias else {})}
        return dx


class SeparableConv2D(_Depthwise):
    """Depthwise-separable 2-D convolution: a depthwise convolution, then a 1×1 convolution
    across channels, `y = act((x ⋆_depthwise K_d) ⋆ P + b)`.

    Math:
        u[n, h, w, c·M + m] = Σ_{i,j} x_pad[n, h·sh + i·dh, w·sw + j·dw, c] · K_d[i, j, c, m]
        z[n, h, w, f]       = b[f] + Σ_k u[n, h, w, k] · P[0, 0, k, f]
        y = activation(z)

    Args:
        filters: F, the output channels.
        kernel_size, strides, padding, dilation_rate: the depthwise step's (as in
            DepthwiseConv2D); the pointwise step is a 1×1, stride-1 convolution.
        depth_multiplier: M, the depthwise step's channels per input channel.
        activation, use_bias: as in Conv2D.
        depthwise_initializer, pointwise_initializer, bias_initializer: Keras' initializers.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer: penalties on the
            weights (`scratch.regularizers`).

    Shapes:
        input (N, H, W, C) → output (N, Ho, Wo, F); weights (Keras' names and order)
        `depthwise_kernel` (kh, kw, C, M), `pointwise_kernel` (1, 1, C·M, F), `bias` (F,).

    Raises:
        ValueError: as DepthwiseConv2D, and `filters` not a positive integer.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, **kwargs):
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError("Invalid value for argument `filters`. Expected a strictly positive "
                             f"value. Received filters={filters!r}.")
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format,
                         dilation_rate, activation, use_bias, depthwise_initializer,
                         bias_initializer, depthwise_regularizer, bias_regularizer, **kwargs)
        self.filters = int(filters)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)

    def _out_channels(self, channels: int) -> int:
        return self.filters

    def build(self, input_shape: Shape) -> None:
        self._validate_shape(input_shape)
        channels = input_shape[-1]
        self.add_weight("depthwise_kernel",
                        self.kernel_size + (channels, self.depth_multiplier),
                        self.depthwise_initializer, regularizer=self.depthwise_regularizer)
        self.add_weight("pointwise_kernel", (1, 1, channels * self.depth_multiplier,
                                             self.filters), self.pointwise_initializer,
                        regularizer=self.pointwise_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            regularizer=self.bias_regularizer)
        self.built = True

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self._validate_shape(x.shape)
        u, depthwise = self._depthwise(x, self.params["depthwise_kernel"], None)
        z, pointwise = _conv(self, u, self.params["pointwise_kernel"], self.params.get("bias"),
                             (1, 1), _NO_PADS, (1, 1), 1)
        y = self.activation(z)
        self._cache = _DepthwiseCache(depthwise, pointwise, z, y)
        return y

    def backward_from_logits(self, dz: Array, *, need_dx: bool = True,
                             need_grads: bool = True) -> Array | None:
        """Back-propagate dL/dz: the pointwise convolution's backward (dP, db, du), then the
        depthwise one's (dK_d, dx). With `need_dx=False` the fast path returns None."""
        cache = self._require_cache()
        dz = self._check_dy(dz, cache.y.shape)
        du, pointwise = _conv_backward(self, dz, cache.pointwise, self.params["pointwise_kernel"],
                                       (1, 1), (1, 1), 1, self.use_bias, need_dx=True)
        dx, ddepthwise, _ = self._depthwise_backward(du, cache.depthwise,
                                                     self.params["depthwise_kernel"], False,
                                                     need_dx)
        self.grads = {"depthwise_kernel": ddepthwise, "pointwise_kernel": pointwise["kernel"]}
        if self.use_bias:
            self.grads["bias"] = pointwise["bias"]
        return dx

    def get_config(self) -> dict:
        config = super().get_config()
        return {**config, "filters": self.filters,
                "pointwise_initializer": _serialize_init(self.pointwise_initializer),
                "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer)}
