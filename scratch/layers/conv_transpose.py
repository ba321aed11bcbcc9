"""Transposed convolutions: Conv1DTranspose and Conv2DTranspose (Keras 3 semantics).

A transposed convolution is the **backward pass of a convolution** run forwards. A Conv2D
(the course's convolution, Lectures 26–33) with kernel W maps an image of size Hc×Wc to
Ho×Wo; its input gradient (dx of scratch/layers/conv.py's `conv2d_backward`) maps a
cotangent of size Ho×Wo back to Hc×Wc, and that linear map, the transpose of the
convolution, is what Conv2DTranspose computes (Dumoulin & Visin, "A guide to convolution
arithmetic", 2016, section 4). With the transposed layer's kernel
K (kh, kw, filters, C_in) read as the convolution's W (kh, kw, C_conv = filters,
F_conv = C_in):

    forward:   z = conv2d_backward_input(x, K)        = Σ over taps of x · K[i, j]ᵀ scattered
               z[n, h·s + i·d − pad, w·s + j·d − pad, f] += Σ_c x[n, h, w, c] · K[i, j, f, c]
               y = activation(z + b)
    backward:  dx = conv2d_forward(dz, K)            the convolution itself (its adjoint)
               dK = conv2d_backward_kernel(dz ↔ x)    the convolution's weight gradient with
                                                      the roles of input and cotangent swapped
               db = Σ_{n,h,w} dz[n, h, w, :]

so every line of math here is scratch/layers/conv.py's, readable and fast (im2col + GEMM,
Numba col2im). Upsampling by the stride is what makes it the decoder half of convolutional
autoencoders and GAN generators.

Output size along each axis (Keras' `compute_conv_transpose_output_shape`), for input length
n, kernel k, stride s, dilation d, k_eff = d·(k − 1) + 1 and output_padding p:

    valid:  (n − 1)·s + k_eff + p,   p defaults to max(k_eff, s) − k_eff
    same:   n·s when p is None, else (n − 1)·s + (k_eff mod 2) + p

The convolution that this is the transpose of reads the output with TensorFlow's padding of
that size (the same split as Conv2D's: the odd cell at the end), and must map it back to n
exactly: with 'same', an even kernel and output_padding 0 it does not (TensorFlow raises),
and neither does scratch.

TensorFlow's CPU kernel refuses dilation_rate > 1 for transposed convolutions; scratch
computes it (the same adjoint identity, tested against scratch's own dilated Conv2D and by
finite differences), so such a layer runs here and in tf.keras only on a GPU.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .. import backend
from ..typing import Array
from .conv import (
    Pads,
    _Conv,
    conv2d_backward_fast,
    conv2d_backward_input,
    conv2d_backward_kernel,
    conv2d_forward,
    conv2d_forward_fast,
    conv_output_length,
    conv_threads,
    standardize_padding,
    standardize_tuple,
)

__all__ = ["Conv1DTranspose", "Conv2DTranspose", "conv_transpose_output_length",
           "conv2d_transpose_forward", "conv2d_transpose_backward"]


def conv_transpose_output_length(n: int | None, k: int, stride: int, dilation: int,
                                 padding: str, output_padding: int | None) -> int | None:
    """Output length along one axis (None stays None), Keras' rule (module docstring)."""
    if n is None:
        return None
    k_eff = dilation * (k - 1) + 1
    if padding == "valid":
        extra = max(k_eff, stride) - k_eff if output_padding is None else output_padding
        return (n - 1) * stride + k_eff + extra
    if output_padding is None:
        return n * stride
    return (n - 1) * stride + k_eff % 2 + output_padding


# ------------------------------------------------------------------------------ the math
def conv2d_transpose_forward(x: Array, kernel: Array, bias: Array | None, out_hw,
                             strides=(1, 1), pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1),
                             fast: bool = False, threads: int = 1) -> Array:
    """z = the input gradient of a convolution with `kernel`, evaluated at x, plus b.

    Shapes:
        x (N, H, W, C_in); kernel (kh, kw, F, C_in); bias (F,) or None → z (N, Ho, Wo, F)
        with (Ho, Wo) = out_hw.
    """
    out_shape = (x.shape[0], *out_hw, kernel.shape[2])
    if fast:
        z, _ = conv2d_backward_fast(x, None, out_shape, kernel, strides, pads, dilation,
                                    use_bias=False, need_grads=False, threads=threads)
    else:
        z = conv2d_backward_input(x, kernel, out_shape, strides, pads, dilation)
    if bias is not None:
        z += bias
    return z


def conv2d_transpose_backward(dz: Array, x: Array, kernel: Array, strides=(1, 1),
                              pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1),
                              use_bias: bool = True, need_dx: bool = True,
                              need_grads: bool = True, fast: bool = False, threads: int = 1):
    """Gradients of `conv2d_transpose_forward` for the cotangent dz = dL/dz.

    Math:
        dx = conv(dz, K) (no bias);  dK = the convolution's dW with dz as its input and x
        as its output cotangent;  db = Σ_{n,h,w} dz

    Shapes:
        dz (N, Ho, Wo, F); x (N, H, W, C_in) → dx (N, H, W, C_in) (None when need_dx is
        False), grads {"kernel": (kh, kw, F, C_in), "bias": (F,)} (empty when need_grads is
        False).
    """
    dx, grads = None, {}
    if fast:
        if need_dx or need_grads:
            dx, dz_pad = conv2d_forward_fast(dz, kernel, None, strides, pads, dilation,
                                             threads=threads)
            if need_grads:
                _, g = conv2d_backward_fast(x, dz_pad, dz.shape, kernel, strides, pads, dilation,
                                            use_bias=False, need_dx=False, threads=threads)
                grads["kernel"] = g["kernel"]
    else:
        if need_dx:
            dx = conv2d_forward(dz, kernel, None, strides, pads, dilation)
        if need_grads:
            grads["kernel"] = conv2d_backward_kernel(x, dz, kernel.shape, strides, pads,
                                                     dilation)
    if need_grads and use_bias:
        grads["bias"] = dz.sum(axis=(0, 1, 2))
    return (dx if need_dx else None), grads


# ------------------------------------------------------------------------------ layers
class TransposeCache(NamedTuple):
    x: Array  # the (N, H, W, C_in) input in the 2-D view
    pads: Pads
    z: Array  # pre-activation, (N, Ho, Wo, F) in the 2-D view
    y: Array  # output, in the layer's own layout


class _ConvTranspose(_Conv):
    """Shared machinery of Conv1DTranspose / Conv2DTranspose (module docstring for the math).

    It is a `_Conv` for everything but the math and the shapes: the same argument checks,
    initializers, regularizers, activation, 2-D view of the 1-D layer and hidden logits; the
    kernel is (..., filters, C_in) and there are no groups.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None,
                 data_format=None, dilation_rate=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding,
                         data_format=data_format, dilation_rate=dilation_rate, groups=1,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.padding = standardize_padding(padding)  # no 'causal'
        if output_padding is None:
            self.output_padding = None
        else:
            self.output_padding = standardize_tuple(output_padding, self.rank,
                                                    "output_padding", allow_zero=True)
            for i, (p, s) in enumerate(zip(self.output_padding, self.strides)):
                if p >= s:
                    raise ValueError(
                        "`output_padding` must be strictly less than `strides` for all "
                        f"dimensions. At dimension {i}, `output_padding` is {p} but `strides` "
                        f"is {s}. Received: output_padding={self.output_padding}, "
                        f"strides={self.strides}"
                    )

    # -------------------------------------------------------------- shapes and checks
    def _spatial_output(self, spatial) -> tuple:
        pads = self.output_padding or (None,) * self.rank
        return tuple(conv_transpose_output_length(n, k, s, d, self.padding, p)
                     for n, k, s, d, p in zip(spatial, self.kernel_size, self.strides,
                                              self.dilation_rate, pads))

    def _kernel_input_channels(self) -> int:
        """The input channels the built kernel (kh, kw, F, C_in) takes: C_in."""
        return self.params["kernel"].shape[-1]

    def _check_spatial(self, shape) -> None:
        """The convolution this layer is the transpose of must map the output back to the
        input's size (TensorFlow checks the same and raises otherwise)."""
        for n, out, k, s, d in zip(shape[1:-1], self._spatial_output(shape[1:-1]),
                                   self.kernel_size, self.strides, self.dilation_rate):
            if n is not None and (out <= 0 or conv_output_length(out, k, s, d,
                                                                 self.padding) != n):
                raise ValueError(
                    f"{type(self).__name__} {self.name!r}: an output of length {out} does "
                    f"not map back to the input length {n} (kernel {k}, stride {s}, "
                    f"dilation {d}, padding {self.padding!r}); with padding='same' an even "
                    "kernel needs output_padding ≥ 1 or None. Received: "
                    f"input shape={tuple(shape)}, output_padding={self.output_padding}"
                )

    def _kernel_shape(self, channels: int) -> tuple:
        """The kernel for `channels` input channels: (kh, kw, F, C_in), Keras' layout."""
        return self.kernel_size + (self.filters, channels)

    # -------------------------------------------------------------- forward / backward
    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self._validate_shape(x.shape)
        x2 = x[:, None] if self.rank == 1 else x
        kernel, strides, dilation = self._geometry_2d()
        out_spatial = self._spatial_output(x.shape[1:-1])
        pads = self._pads_2d(out_spatial)
        out_hw = out_spatial if self.rank == 2 else (1,) + out_spatial
        fast = backend.use_fast_path(self)
        threads = conv_threads(kernel.size * x.shape[0] * math.prod(x.shape[1:-1])) \
            if fast else 1
        z = conv2d_transpose_forward(x2, kernel, self.params.get("bias"), out_hw, strides,
                                     pads, dilation, fast=fast, threads=threads)
        z_out = z[:, 0] if self.rank == 1 else z
        y = self.activation(z_out)
        self._cache = TransposeCache(x2, pads, z, y)
        return y

    def backward_from_logits(self, dz: Array, *, need_dx: bool = True,
                             need_grads: bool = True) -> Array | None:
        """Back-propagate dL/dz (pre-activation) through the transposed convolution."""
        cache: TransposeCache = self._require_cache()
        dz = self._check_dy(dz, cache.y.shape)
        dz2 = np.ascontiguousarray(dz[:, None] if self.rank == 1 else dz)
        kernel, strides, dilation = self._geometry_2d()
        fast = backend.use_fast_path(self)
        threads = conv_threads(kernel.size * cache.x.size // cache.x.shape[-1]) if fast else 1
        dx, grads = conv2d_transpose_backward(dz2, cache.x, kernel, strides, cache.pads,
                                              dilation, self.use_bias, need_dx, need_grads,
                                              fast=fast, threads=threads)
        if self.rank == 1:
            if "kernel" in grads:
                grads["kernel"] = grads["kernel"][0]
            dx = None if dx is None else dx[:, 0]
        self.grads = grads
        return dx

    def get_config(self) -> dict:
        config = super().get_config()
        del config["groups"]
        config["output_padding"] = self.output_padding
        return config


class Conv1DTranspose(_ConvTranspose):
    """1-D transposed convolution (upsampling a sequence): the input gradient of a Conv1D.

    Math:
        z[n, t·s + j·d − pad, f] += Σ_c x[n, t, c] · K[j, f, c];  y = act(z + b)
        (module docstring: it is conv.py's `conv2d_backward_input` on a height-1 image)

    Args:
        filters: F, the output channels.  kernel_size: k.  strides: s ≥ 1.
        padding: "valid" or "same".  output_padding: p < s, or None (module docstring).
        dilation_rate: d ≥ 1 (not together with s > 1).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in Conv1D.

    Shapes:
        input (N, L, C_in) → output (N, L_out, F); kernel (k, F, C_in), bias (F,).

    Raises:
        ValueError: invalid arguments (Keras' messages); input not 3-D, channels different
            from the built kernel, or an output length that does not map back to L.
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """2-D transposed convolution ("deconvolution"): the input gradient of a Conv2D.

    Math:
        z[n, h·sh + i·dh − pad, w·sw + j·dw − pad, f] += Σ_c x[n, h, w, c] · K[i, j, f, c]
        y = act(z + b);   dx = conv2d(dz, K),  dK = the conv's dW with dz and x swapped
        (module docstring)

    Args:
        filters: F, the output channels.  kernel_size: (kh, kw) or an int.
        strides: (sh, sw) or an int.  padding: "valid" or "same".
        output_padding: (ph, pw) with p < s, or None (module docstring).
        dilation_rate: (dh, dw) or an int (not together with strides > 1).
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in Conv2D (a penalty on K and b added to the loss).

    Shapes:
        input (N, H, W, C_in) → output (N, Ho, Wo, F); kernel (kh, kw, F, C_in) (Keras'
        layout: the filters come before the input channels), bias (F,).

    Raises:
        ValueError: invalid arguments (Keras' messages); input not 4-D, channels different
            from the built kernel, or an output size that does not map back to the input's.
    """

    rank = 2
