"""Pooling layers (course Lecture 30): max / average pooling and their global versions.

Pooling downsamples a feature map: each output cell summarises one window (pool_size) of the
input, windows `strides` apart (default: strides = pool_size, non-overlapping). Sizes and the
'same' split are the convolution's with dilation 1 (docs/KERAS_NUMERICS.md §Pooling):

    valid: ⌊(n − p)/s⌋ + 1;   same: ⌈n/s⌉ with P = max((⌈n/s⌉ − 1)·s + p − n, 0) padded
    cells, ⌊P/2⌋ before and the odd one after (bottom/right).

Padded cells are not data: they never win a max (they act as −∞) and an average divides by
the number of *real* cells of its window only.

Math (window R(a, b) of output cell (a, b), real cells only; count = |R(a, b)|):

    max:      y[a, b] = max_{(h,w) ∈ R} x[h, w]     dx[h*, w*] += dy[a, b]
              (h*, w*) = the FIRST maximum in row-major order, TF's tie rule: one cell gets
              the whole gradient of its window; overlapping windows add up.
    average:  y[a, b] = Σ_{(h,w) ∈ R} x[h, w] / count     dx[h, w] += dy[a, b] / count
    global max:      y[c] = max_t x[t, c];  ties split the gradient EQUALLY
                     (TF's reduce_max gradient: dx = (x == y) / #ties · dy)
    global average:  y[c] = Σ_t x[t, c] / T;  with a mask m (N, T): Σ_t x·m / Σ_t m

Implementations: the readable NumPy functions below (`max_pool2d_forward`, ...: every window
as a strided view; `np.add.at` for the max scatter) and Numba kernels
(`scratch._kernels.pooling`) used while the fast paths are on (`backend.fast_paths`); a test
checks they agree. Max pooling over windows that neither overlap nor need padding (the
default strides = pool_size on a divisible input) has its own pair of kernels: the forward
records each winner's tap in its window (uint8) and the backward writes every cell of dx
once, instead of zero-filling dx and scattering into it (about 2× faster,
docs/PERFORMANCE.md); a big batch runs them in chunks of whole images on two threads
(`_pool_threads`). 1-D pooling runs through the
2-D functions with a height-1 image. Global average pooling is a single NumPy reduction,
already fast. Global max pooling's readable forward is NumPy's max plus TF's sign for a tie of
−0 and +0 (`global_max_forward`: NumPy's SIMD max leaves that sign to the CPU tier); it has a
pair of kernels (`global_max_fwd` / `global_max_bwd`:
NumPy's max over the middle axis and the tie split took 1.8 ms of the course's text LSTM
step, on its (128, 189, 15) outputs), with step-major twins for sequences in a recurrent
layer's memory order (`_steps_major`).

The module runs a little over the project's 500 lines: the readable functions, the dispatch
to the kernels and Keras' eight pooling classes (1-D and 2-D; max and average; local and
global) share one set of window helpers and two base classes, so they stay together.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import backend
from .._kernels import load as load_kernels
from .._threads import AUTO_TWO_THREADS_WORK
from ..typing import Array, Shape
from .base import Layer
from .conv import (
    _image_chunks,
    _run_chunks,
    conv_padding,
    conv_threads,
    standardize_data_format,
    standardize_padding,
    standardize_tuple,
)

__all__ = ["MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
           "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
           "GlobalAveragePooling2D", "max_pool2d_forward", "max_pool2d_backward",
           "avg_pool2d_forward", "avg_pool2d_backward", "pool_output_length"]

Pads = tuple[tuple[int, int], tuple[int, int]]


def pool_output_length(n: int | None, p: int, s: int, padding: str) -> int | None:
    """valid: ⌊(n − p)/s⌋ + 1;  same: ⌈n/s⌉ (None stays None; ≤ 0: input too small)."""
    if n is None:
        return None
    return (n - p) // s + 1 if padding == "valid" else -(-n // s)


def _windows(xp: Array, pool, strides, out_hw) -> Array:
    """(N, Ho, Wo, C, ph, pw) view of every pooling window of the padded input."""
    v = sliding_window_view(xp, tuple(pool), axis=(1, 2))
    return v[:, ::strides[0], ::strides[1]][:, :out_hw[0], :out_hw[1]]


def _out_hw(x_shape, pool, strides, pads) -> tuple[int, int]:
    return tuple((x_shape[1 + k] + sum(pads[k]) - pool[k]) // strides[k] + 1 for k in (0, 1))


def _tiled(pool, strides, pads: Pads) -> bool:
    """Windows that neither overlap nor need padding: the fast max pooling's tiled kernels
    (uint8 tap indices, so at most 256 cells per window)."""
    return (pads == ((0, 0), (0, 0)) and strides[0] >= pool[0] and strides[1] >= pool[1]
            and pool[0] * pool[1] <= 256)


# ------------------------------------------------------------------------------ readable
def max_pool2d_forward(x: Array, pool, strides, pads: Pads):
    """Readable max pooling: (y, argmax), argmax = flat index h·W + w of each window's
    first maximum (row-major), padded cells set to −∞ so they never win.

    Shapes:
        x (N, H, W, C) → y (N, Ho, Wo, C), argmax (N, Ho, Wo, C) int32.
    """
    n, h, w, c = x.shape
    ph, pw = pool
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=-np.inf)
    ho, wo = _out_hw(x.shape, pool, strides, pads)
    windows = _windows(xp, pool, strides, (ho, wo)).reshape(n, ho, wo, c, ph * pw)
    k = np.argmax(windows, axis=-1)  # np.argmax returns the FIRST maximum
    y = np.take_along_axis(windows, k[..., None], axis=-1)[..., 0]
    rows = np.arange(ho)[:, None, None] * strides[0] + k // pw - pads[0][0]
    cols = np.arange(wo)[None, :, None] * strides[1] + k % pw - pads[1][0]
    return y, (rows * w + cols).astype(np.int32)


def max_pool2d_backward(dy: Array, argmax: Array, x_shape) -> Array:
    """Readable max-pool gradient: dx[argmax] += dy (np.add.at accumulates repeats)."""
    n, h, w, c = x_shape
    dx = np.zeros((n, h * w, c), dtype=dy.dtype)
    batch = np.arange(n)[:, None, None, None]
    channel = np.arange(c)[None, None, None, :]
    np.add.at(dx, (np.broadcast_to(batch, argmax.shape), argmax,
                   np.broadcast_to(channel, argmax.shape)), dy)
    return dx.reshape(x_shape)


def _counts(x_shape, pool, strides, pads, dtype) -> Array:
    """Number of real (unpadded) cells in each window: (1, Ho, Wo, 1)."""
    ones = np.pad(np.ones((1, x_shape[1], x_shape[2], 1), dtype=dtype),
                  ((0, 0), pads[0], pads[1], (0, 0)))
    ho, wo = _out_hw(x_shape, pool, strides, pads)
    return _windows(ones, pool, strides, (ho, wo)).sum(axis=(-2, -1))


def avg_pool2d_forward(x: Array, pool, strides, pads: Pads) -> Array:
    """Readable average pooling over the real cells of each window.

    Shapes:
        x (N, H, W, C) → y (N, Ho, Wo, C).
    """
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    ho, wo = _out_hw(x.shape, pool, strides, pads)
    sums = _windows(xp, pool, strides, (ho, wo)).sum(axis=(-2, -1))
    return sums / _counts(x.shape, pool, strides, pads, x.dtype)


def avg_pool2d_backward(dy: Array, x_shape, pool, strides, pads: Pads) -> Array:
    """Readable average-pool gradient: each window tap (i, j) adds dy / count to its cells."""
    n, h, w, c = x_shape
    share = dy / _counts(x_shape, pool, strides, pads, dy.dtype)
    ho, wo = dy.shape[1:3]
    dxp = np.zeros((n, h + sum(pads[0]), w + sum(pads[1]), c), dtype=dy.dtype)
    for i in range(pool[0]):
        for j in range(pool[1]):
            dxp[:, i:i + strides[0] * (ho - 1) + 1:strides[0],
                j:j + strides[1] * (wo - 1) + 1:strides[1]] += share
    return np.ascontiguousarray(dxp[:, pads[0][0]:pads[0][0] + h, pads[1][0]:pads[1][0] + w])


def global_max_forward(x: Array, rank: int) -> Array:
    """max over the steps (rank 1) or pixels (rank 2) of x (N, ..., C), kept as
    (N, 1[, 1], C): NaN wins, and of tied −0 and +0 the later step's (row-major) sign, as
    tf.reduce_max and the kernels give. NumPy's max alone leaves that sign to its SIMD
    routine, which differs between CPUs: on x86-64-v2 it kept an earlier −0 where v3 and v4
    keep the later +0."""
    n, c = x.shape[0], x.shape[-1]
    x3 = x.reshape(n, -1, c)
    y = x3.max(axis=1)
    last_zero = x3.shape[1] - 1 - np.argmax(x3[:, ::-1] == 0, axis=1)  # (N, C)
    y = np.where(y == 0, np.take_along_axis(x3, last_zero[:, None], axis=1)[:, 0], y)
    return y.reshape((n,) + (1,) * rank + (c,))


# ------------------------------------------------------------------------------ layers
class PoolCache(NamedTuple):
    x_shape: tuple       # 2-D view (N, H, W, C)
    pads: Pads
    argmax: Array | None  # flat index h·W + w of each window's winner (max pooling)
    y_shape: tuple       # the layer's output shape
    taps: Array | None = None  # uint8 tap i·pw + j of the winner (fast path, tiled windows)


class _Pooling(Layer):
    """Shared machinery of the max / average pooling layers."""

    rank = 2
    mode = "max"

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = standardize_tuple(pool_size, self.rank, "pool_size")
        self.strides = standardize_tuple(pool_size if strides is None else strides,
                                         self.rank, "strides")
        self.padding = standardize_padding(padding)
        self.data_format = standardize_data_format(data_format)
        self.fast_path = None  # True/False: this layer's choice; None: backend.fast_paths

    def _validate_shape(self, shape) -> None:
        if len(shape) != self.rank + 2:
            layout = "(batch, steps, features)" if self.rank == 1 else \
                "(batch, height, width, channels)"
            hint = ""
            if len(shape) == self.rank + 1:
                hint = (" If your data has a single channel, add the channel axis with "
                        "x = np.expand_dims(x, -1).")
            raise ValueError(
                f"Input 0 of layer {self.name!r} ({type(self).__name__}) is incompatible with "
                f"the layer: expected ndim={self.rank + 2}, found ndim={len(shape)}. Full "
                f"shape received: {tuple(shape)}. {type(self).__name__} expects "
                f"{layout}.{hint}"
            )
        out = self._spatial_output(shape[1:-1])
        if any(o is not None and o <= 0 for o in out):
            raise ValueError(
                "Computed output size would be zero or negative: the pool is larger than the "
                f"input with padding='valid'. Received: `inputs.shape={tuple(shape)}`, "
                f"`pool_size={self.pool_size}`, `strides={self.strides}`, "
                f"`padding={self.padding}`."
            )

    def _spatial_output(self, spatial) -> tuple:
        return tuple(pool_output_length(n, p, s, self.padding)
                     for n, p, s in zip(spatial, self.pool_size, self.strides))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._validate_shape(input_shape)
        return (input_shape[0],) + self._spatial_output(input_shape[1:-1]) + (input_shape[-1],)

    def build(self, input_shape: Shape) -> None:
        self._validate_shape(input_shape)
        self.built = True

    def _geometry_2d(self, spatial):
        pads = tuple(conv_padding(n, p, s, 1, self.padding)
                     for n, p, s in zip(spatial, self.pool_size, self.strides))
        if self.rank == 1:
            return (1,) + self.pool_size, (1,) + self.strides, ((0, 0),) + pads
        return self.pool_size, self.strides, pads

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self._validate_shape(x.shape)
        pool, strides, pads = self._geometry_2d(x.shape[1:-1])
        x2 = x[:, None] if self.rank == 1 else x
        argmax = taps = None
        if backend.use_fast_path(self):
            kernels = load_kernels("pooling")
            ho, wo = _out_hw(x2.shape, pool, strides, pads)
            y = np.empty((x2.shape[0], ho, wo, x2.shape[3]), dtype=x.dtype)
            xc = np.ascontiguousarray(x2)
            if self.mode == "max" and _tiled(pool, strides, pads):
                taps = np.empty(y.shape, dtype=np.uint8)

                def task(_, s: slice) -> None:  # whole images: any chunking, the same result
                    kernels.max_pool2d_fwd_tiled(xc[s], *pool, *strides, y[s], taps[s])

                _run_chunks(task, _image_chunks(len(xc), ho * wo), _pool_threads(xc.size))
            elif self.mode == "max":
                argmax = np.empty(y.shape, dtype=np.int32)
                kernels.max_pool2d_fwd(xc, *pool, *strides, pads[0][0], pads[1][0], y, argmax)
            else:
                kernels.avg_pool2d_fwd(xc, *pool, *strides, pads[0][0], pads[1][0], y)
        elif self.mode == "max":
            y, argmax = max_pool2d_forward(x2, pool, strides, pads)
        else:
            y = avg_pool2d_forward(x2, pool, strides, pads)
        y = y[:, 0] if self.rank == 1 else y
        self._cache = PoolCache(x2.shape, pads, argmax, y.shape, taps)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        cache = self._require_cache()
        dy = self._check_dy(dy, cache.y_shape)
        dy2 = dy[:, None] if self.rank == 1 else dy
        pool, strides, _ = self._geometry_2d(cache.x_shape[1 + (self.rank == 1):3])
        pads = cache.pads
        if cache.taps is not None:  # the tiled fast forward ran: one pass writes all of dx
            kernels = load_kernels("pooling")
            dx = np.empty(cache.x_shape, dtype=dy.dtype)
            dyc, taps = np.ascontiguousarray(dy2), cache.taps

            def task(_, s: slice) -> None:
                kernels.max_pool2d_bwd_tiled(dyc[s], taps[s], *pool, *strides, dx[s])

            _run_chunks(task, _image_chunks(len(dyc), dyc.shape[1] * dyc.shape[2]),
                        _pool_threads(dx.size))
        elif backend.use_fast_path(self):
            kernels = load_kernels("pooling")
            dx = np.zeros(cache.x_shape, dtype=dy.dtype)
            dyc = np.ascontiguousarray(dy2)
            if self.mode == "max":
                kernels.max_pool2d_bwd(dyc, cache.argmax, dx)
            else:
                kernels.avg_pool2d_bwd(dyc, *pool, *strides, pads[0][0], pads[1][0], dx)
        elif self.mode == "max":
            dx = max_pool2d_backward(dy2, cache.argmax, cache.x_shape)
        else:
            dx = avg_pool2d_backward(dy2, cache.x_shape, pool, strides, pads)
        self.grads = {}
        return dx[:, 0] if self.rank == 1 else dx

    def get_config(self) -> dict:
        return {**super().get_config(), "pool_size": self.pool_size, "padding": self.padding,
                "strides": self.strides, "data_format": self.data_format}


class MaxPooling1D(_Pooling):
    """Max over windows of `pool_size` steps (keras.layers.MaxPooling1D).

    Math:
        y[n, t, c] = max_{j < p, real} x[n, t·s + j − pad_before, c];
        dx: each window's dy goes to its FIRST maximum (TF's tie rule).

    Args:
        pool_size: p (default 2).  strides: s (default p).  padding: "valid" or "same".

    Shapes:
        (N, L, C) → (N, L_out, C); no weights.

    Raises:
        ValueError: bad arguments, input not 3-D, or a 'valid' pool longer than the input.
    """

    rank, mode = 1, "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class MaxPooling2D(_Pooling):
    """Max over (ph, pw) windows (keras.layers.MaxPooling2D), Lecture 30's downsampling.

    Math:
        y[n, a, b, c] = max_{(i,j) real} x[n, a·sh + i − top, b·sw + j − left, c];
        dx: each window's dy goes to its FIRST maximum in row-major order (TF's tie rule).

    Args:
        pool_size: (ph, pw) or int (default (2, 2)).  strides: default pool_size.
        padding: "valid" or "same" (padded cells never win).

    Shapes:
        (N, H, W, C) → (N, Ho, Wo, C); no weights.

    Raises:
        ValueError: bad arguments, input not 4-D, or a 'valid' pool larger than the input.
    """

    rank, mode = 2, "max"

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)


class AveragePooling1D(_Pooling):
    """Mean over windows of `pool_size` steps (keras.layers.AveragePooling1D).

    Math:
        y[n, t, c] = Σ_{real j} x[n, t·s + j − pad_before, c] / count;  dx += dy / count.

    Args:
        pool_size: p, required (Keras 3.15 has no default).  strides: default p.
        padding: "valid" or "same" (padded cells are not counted).

    Shapes:
        (N, L, C) → (N, L_out, C); no weights.
    """

    rank, mode = 1, "average"


class AveragePooling2D(_Pooling):
    """Mean over (ph, pw) windows (keras.layers.AveragePooling2D).

    Math:
        y[n, a, b, c] = Σ_{real (i,j)} x[n, a·sh + i − top, b·sw + j − left, c] / count;
        dx += dy / count on every real cell of the window.

    Args:
        pool_size: (ph, pw) or int, required.  strides: default pool_size.
        padding: "valid" or "same" (padded cells are not counted).

    Shapes:
        (N, H, W, C) → (N, Ho, Wo, C); no weights.
    """

    rank, mode = 2, "average"


# ------------------------------------------------------------------------------ global
class _GlobalPooling(Layer):
    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(data_format)
        self.keepdims = bool(keepdims)

    @property
    def _axes(self) -> tuple[int, ...]:
        return tuple(range(1, self.rank + 1))

    def _validate_shape(self, shape) -> None:
        if len(shape) != self.rank + 2:
            layout = "(batch, steps, features)" if self.rank == 1 else \
                "(batch, height, width, channels)"
            raise ValueError(
                f"Input 0 of layer {self.name!r} ({type(self).__name__}) is incompatible with "
                f"the layer: expected ndim={self.rank + 2}, found ndim={len(shape)}. Full "
                f"shape received: {tuple(shape)}. {type(self).__name__} expects {layout}."
            )

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._validate_shape(input_shape)
        if self.keepdims:
            return (input_shape[0],) + (1,) * self.rank + (input_shape[-1],)
        return (input_shape[0], input_shape[-1])

    def build(self, input_shape: Shape) -> None:
        self._validate_shape(input_shape)
        self.built = True

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self) -> dict:
        return {**super().get_config(), "data_format": self.data_format,
                "keepdims": self.keepdims}


class _GlobalMax(_GlobalPooling):
    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self._validate_shape(x.shape)
        if backend.use_fast_path(self) and x.size:  # one Numba pass over (N, steps, C)
            kernels, y = load_kernels("pooling"), np.empty((x.shape[0], x.shape[-1]), x.dtype)
            steps_major = _steps_major(x)
            if steps_major is not None:  # a recurrent layer's outputs: no transposing copy
                kernels.global_max_fwd_steps_major(steps_major, y)
            else:
                kernels.global_max_fwd(np.ascontiguousarray(x).reshape(x.shape[0], -1,
                                                                       x.shape[-1]), y)
            y_keep = y.reshape((x.shape[0],) + (1,) * self.rank + (x.shape[-1],))
        else:
            y_keep = global_max_forward(x, self.rank)
        self._cache = (x, y_keep)
        return y_keep if self.keepdims else y_keep.reshape(x.shape[0], x.shape[-1])

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        x, y_keep = self._require_cache()
        out_shape = y_keep.shape if self.keepdims else (x.shape[0], x.shape[-1])
        dy = self._check_dy(dy, out_shape).reshape(y_keep.shape)
        self.grads = {}
        if backend.use_fast_path(self) and x.size:  # the lines below in one Numba call
            shape3 = (x.shape[0], -1, x.shape[-1])
            dtype = np.result_type(x, dy)
            steps_major = _steps_major(x)
            if steps_major is not None and steps_major.dtype == dtype:
                # dx in x's step-major memory too: a recurrent layer below reads its
                # cotangents step by step, so it needs no transposing copy either
                dxt = np.empty(steps_major.shape, dtype)
                load_kernels("pooling").global_max_bwd_steps_major(
                    steps_major, np.ascontiguousarray(y_keep, dtype).reshape(x.shape[0], -1),
                    np.ascontiguousarray(dy, dtype).reshape(x.shape[0], -1), dxt)
                return dxt.transpose(1, 0, 2)
            dx = np.empty(x.shape, dtype)
            load_kernels("pooling").global_max_bwd(
                np.ascontiguousarray(x, dx.dtype).reshape(shape3),
                np.ascontiguousarray(y_keep, dx.dtype).reshape(x.shape[0], x.shape[-1]),
                np.ascontiguousarray(dy, dx.dtype).reshape(x.shape[0], x.shape[-1]),
                dx.reshape(shape3))
            return dx
        ties = (x == y_keep).astype(x.dtype)
        share = ties / ties.sum(axis=self._axes, keepdims=True)  # TF: indicators / count
        return share * dy


# From this many input elements the tiled max pooling runs its batch in chunks of whole
# images on the engine's threads (two while a core is free, `conv_threads`), as the
# convolution does and under its rule: not while BLAS itself runs on several threads (inside
# fit for a large step), where the chunks run one after another. Memory-bound, MaxPooling2D(2)
# forward + backward on 128×32×32×32 float32 took 2.5 ms on one thread and 1.8 ms on two
# (docs/PERFORMANCE.md §Convolution chunks).
POOL_SPLIT_ELEMENTS = 2 ** 20


def _pool_threads(elements: int) -> int:
    return conv_threads(AUTO_TWO_THREADS_WORK) if elements >= POOL_SPLIT_ELEMENTS else 1


def _steps_major(x: Array) -> Array | None:
    """x (N, T, C) as a C-contiguous (T, N, C) view when its memory is step-major (as a
    recurrent layer's outputs are, `scratch.layers.recurrent.rnn`), else None."""
    if x.ndim != 3 or x.flags.c_contiguous:
        return None
    xt = x.transpose(1, 0, 2)
    return xt if xt.flags.c_contiguous else None


class _GlobalAverage(_GlobalPooling):
    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self._validate_shape(x.shape)
        y = x.mean(axis=self._axes, keepdims=self.keepdims)
        self._cache = (x.shape, None, None)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        x_shape, weights, count = self._require_cache()
        keep_shape = (x_shape[0],) + (1,) * self.rank + (x_shape[-1],)
        out_shape = keep_shape if self.keepdims else (x_shape[0], x_shape[-1])
        dy = self._check_dy(dy, out_shape).reshape(keep_shape)
        self.grads = {}
        if weights is None:
            n = np.prod([x_shape[a] for a in self._axes])
            return np.broadcast_to(dy / np.asarray(n, dy.dtype), x_shape).copy()
        return weights * (dy / count)


class GlobalMaxPooling1D(_GlobalMax):
    """Max over all time steps (keras.layers.GlobalMaxPooling1D).

    Math:
        y[n, c] = max_t x[n, t, c];  dx[n, t, c] = [x = y] / #ties · dy[n, c]  (ties share
        the gradient equally, TF's reduce_max rule)

    Args:
        keepdims: keep the time axis with length 1.

    Shapes:
        (N, T, C) → (N, C), or (N, 1, C) with keepdims. No weights.

    Masking: like Keras 3.15, this layer does not use a mask: given one, it warns and
    takes the max over every step (masked steps included); the mask stops here.
    """

    rank = 1

    def forward(self, x: Array, training: bool = False, mask=None) -> Array:
        if mask is not None:
            warnings.warn(
                f"Layer {self.name!r} (of type GlobalMaxPooling1D) was passed an input with a "
                "mask attached to it. However, this layer does not support masking and will "
                "therefore destroy the mask information (masked steps take part in the max, "
                "as in Keras).", UserWarning, stacklevel=2)
        return super().forward(x, training)


class GlobalMaxPooling2D(_GlobalMax):
    """Max over all positions of each feature map (keras.layers.GlobalMaxPooling2D); the
    course's fix for images of varying size (Lecture 30).

    Math:
        y[n, c] = max_{h,w} x[n, h, w, c];  ties share the gradient equally.

    Shapes:
        (N, H, W, C) → (N, C), or (N, 1, 1, C) with keepdims. No weights.
    """

    rank = 2


class GlobalAveragePooling1D(_GlobalAverage):
    """Mean over time steps, optionally masked (keras.layers.GlobalAveragePooling1D).

    Math:
        y[n, c] = Σ_t x[n, t, c] / T;   with mask m (N, T):  Σ_t x·m / Σ_t m
        dx[n, t, c] = m[n, t] · dy[n, c] / Σ_t m   (m ≡ 1 without a mask)

    Args:
        keepdims: keep the time axis with length 1.

    Shapes:
        (N, T, C) → (N, C) or (N, 1, C); mask (N, T) bool. No weights. The output carries
        no mask.

    Raises:
        ValueError: input not 3-D, or a mask whose shape is not (N, T).
    """

    rank = 1
    supports_masking = True

    def forward(self, x: Array, training: bool = False, mask=None) -> Array:
        if mask is None:
            return super().forward(x, training)
        self._check_float_input(x)
        self._validate_shape(x.shape)
        mask = np.asarray(mask)
        if mask.shape != x.shape[:2]:
            raise ValueError(
                f"GlobalAveragePooling1D {self.name!r} expected a mask of shape (batch, steps)"
                f" = {x.shape[:2]}. Received: mask.shape={mask.shape}"
            )
        weights = mask.astype(bool)[:, :, None]
        count = weights.sum(axis=1, keepdims=True).astype(x.dtype)  # Σ_t m, (N, 1, 1)
        y = np.where(weights, x, np.zeros((), x.dtype)).sum(axis=1, keepdims=True) / count
        self._cache = (x.shape, weights.astype(x.dtype), count)
        return y if self.keepdims else y[:, 0]


class GlobalAveragePooling2D(_GlobalAverage):
    """Mean over all positions of each feature map (keras.layers.GlobalAveragePooling2D).

    Math:
        y[n, c] = Σ_{h,w} x[n, h, w, c] / (H·W);  dx = dy / (H·W) everywhere.

    Shapes:
        (N, H, W, C) → (N, C), or (N, 1, 1, C) with keepdims. No weights.
    """

    rank = 2
