"""Convolution layers: Conv1D and Conv2D (course Lectures 26–33), Keras 3 semantics.

A convolution layer is a Dense layer whose weights are shared across positions (Lecture 28):
each output pixel is the inner product of a small kernel with the patch under it, summed
over the input channels (Lecture 29), plus one bias per feature map. As in every deep
learning framework it is a **cross-correlation**, with no kernel flip
(docs/KERAS_NUMERICS.md §Convolution):

    z[n, h, w, o] = b[o] + Σ_i Σ_j Σ_c x_pad[n, h·sh + i·dh, w·sw + j·dw, c] · W[i, j, c, o]
    y = activation(z)

Sizes along each spatial axis, for input length n, kernel k, stride s, dilation d and the
effective kernel k_eff = d·(k − 1) + 1:

    valid:  ⌊(n − k_eff)/s⌋ + 1        no padding
    same:   ⌈n/s⌉                       P = max((⌈n/s⌉ − 1)·s + k_eff − n, 0) zeros,
                                        ⌊P/2⌋ before and ⌈P/2⌉ after: the odd cell goes at the
                                        END (bottom/right), TensorFlow's rule
    causal: ⌈n/s⌉  (Conv1D only)        d·(k − 1) zeros before, none after

Groups (`groups = g`): input channels and filters are split into g contiguous blocks; output
block i sees only input block i, so the kernel is (..., C_in/g, filters).

Backward, for the cotangent dz = dL/dz (after the activation's backward):

    db[o]          = Σ_{n,h,w} dz[n, h, w, o]
    dW[i, j, c, o] = Σ_{n,h,w} x_pad[n, h·sh + i·dh, w·sw + j·dw, c] · dz[n, h, w, o]
    dx_pad[n, h·sh + i·dh, w·sw + j·dw, c] += Σ_o W[i, j, c, o] · dz[n, h, w, o]
    dx = dx_pad with the padding cropped off

Two implementations with one contract, chosen by `backend.fast_paths` (or the layer's own
`fast_path` when it is set):

* readable (`conv2d_forward` / `conv2d_backward`): every window as a strided view and one
  `einsum` per group; the backward walks the kernel taps (i, j) and scatters one strided
  slice per tap. This is the oracle.
* fast (`conv2d_forward_fast` / `conv2d_backward_fast`, the default): im2col (the Numba
  copy `scratch._kernels.conv.im2col` into a chunk's (rows, kh·kw·C) matrix) and one GEMM
  (batched over the groups, one np.matmul call for a depthwise convolution's C groups);
  backward, the chunk's columns again, dW = colsᵀ·dz, dcols = dz·Wᵀ, then the Numba scatter
  `scratch._kernels.conv.col2im_add`. Both run over chunks of whole images, each thread
  writing its chunks' matrices into one work array that stays in cache (`_ChunkBuffers`;
  the forward keeps only the padded input, never the whole batch's column matrix), and a
  large batch's chunks run on two threads (`conv_threads`,
  the engine's thread policy of `scratch._threads`; each GEMM on one BLAS thread, or, when
  BLAS itself runs on several threads, the chunks in turn). Both make the benchmark's
  Conv2D faster than unchunked im2col (docs/PERFORMANCE.md §Convolution chunks). The chunks
  are fixed by the shapes, so the results do not depend on the threads.

Conv1D runs through the same 2-D functions with a height-1 image: (N, L, C) → (N, 1, L, C),
kernel (k, C/g, F) → (1, k, C/g, F).

The module is over the project's 500 lines because Conv1D and Conv2D share one base class
and one set of functions for both implementations (readable and im2col/Numba, in chunks)
and Keras' padding, stride, dilation and group rules.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import activations, backend, initializers, regularizers
from .._denormals import in_modes, thread_modes
from .._kernels import load as load_kernels
from .._threads import _blas_controllers, engine_blas_threads
from ..typing import Array, Shape
from .base import Layer
from .core import _serialize_init

__all__ = ["Conv1D", "Conv2D", "conv2d_forward", "conv2d_backward", "conv2d_backward_input",
           "conv2d_backward_kernel", "conv2d_forward_fast", "conv2d_backward_fast",
           "conv_output_length", "conv_padding"]

Pads = tuple[tuple[int, int], tuple[int, int]]


# ------------------------------------------------------------------------------ arguments
def standardize_tuple(value, n: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """An int or an n-sequence of ints as an n-tuple, with Keras' error messages."""
    message = f"The `{name}` argument must be a tuple of {n} integers. Received {name}={value}"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(message) from None
        if len(values) != n or not all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise ValueError(message)
        values = tuple(int(v) for v in values)
    bad = [v for v in values if v < 0 or (v == 0 and not allow_zero)]
    if bad:
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers, all "
            f"{'>= 0' if allow_zero else '> 0'}. Received {name}={value}"
        )
    return values


def standardize_padding(padding, allow_causal: bool = False) -> str:
    choices = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in choices:
        raise ValueError(
            f"The `padding` argument must be one of {', '.join(map(repr, choices))}. "
            f"Received: padding={padding!r}"
        )
    return value


def standardize_data_format(data_format) -> str:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            "scratch supports data_format='channels_last' only (the Keras default): "
            f"inputs are (N, ..., C). Received: data_format={data_format!r}"
        )
    return "channels_last"


# ------------------------------------------------------------------------------ sizes
def conv_output_length(n: int | None, k: int, stride: int, dilation: int,
                       padding: str) -> int | None:
    """Output length along one axis (None stays None); ≤ 0 means the input is too small.

    Math:
        k_eff = d·(k − 1) + 1;  valid: ⌊(n − k_eff)/s⌋ + 1;  same / causal: ⌈n/s⌉
    """
    if n is None:
        return None
    if padding == "valid":
        return (n - (dilation * (k - 1) + 1)) // stride + 1
    return -(-n // stride)


def conv_padding(n: int, k: int, stride: int, dilation: int, padding: str) -> tuple[int, int]:
    """Zeros (before, after) along one axis: TF's split, the odd cell at the end.

    Math:
        same:   P = max((⌈n/s⌉ − 1)·s + k_eff − n, 0);  (⌊P/2⌋, P − ⌊P/2⌋)
        causal: (d·(k − 1), 0)
        valid:  (0, 0)
    """
    k_eff = dilation * (k - 1) + 1
    if padding == "same":
        total = max((-(-n // stride) - 1) * stride + k_eff - n, 0)
        return total // 2, total - total // 2
    if padding == "causal":
        return k_eff - 1, 0
    return 0, 0


def _windows(xp: Array, kh: int, kw: int, strides, dilation, out_hw) -> Array:
    """View of every receptive field: (N, Ho, Wo, C, kh, kw), no copy."""
    (sh, sw), (dh, dw) = strides, dilation
    v = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(1, 2))
    return v[:, ::sh, ::sw, :, ::dh, ::dw][:, :out_hw[0], :out_hw[1]]


def _pad(x: Array, pads: Pads) -> Array:
    if pads == ((0, 0), (0, 0)):
        return x
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))


def _out_hw(xp_shape, kernel_shape, strides, dilation) -> tuple[int, int]:
    kh, kw = kernel_shape[:2]
    return ((xp_shape[1] - dilation[0] * (kh - 1) - 1) // strides[0] + 1,
            (xp_shape[2] - dilation[1] * (kw - 1) - 1) // strides[1] + 1)


def _crop(dxp: Array, pads: Pads, x_shape) -> Array:
    if pads == ((0, 0), (0, 0)):
        return dxp
    (top, _), (left, _) = pads
    return np.ascontiguousarray(dxp[:, top:top + x_shape[1], left:left + x_shape[2]])


# ------------------------------------------------------------------------------ readable
def conv2d_forward(x: Array, kernel: Array, bias: Array | None, strides=(1, 1),
                   pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1), groups: int = 1) -> Array:
    """Readable 2-D cross-correlation of a batch (the oracle of the fast path).

    Math:
        z[n, h, w, o] = b[o] + Σ_{i,j,c} x_pad[n, h·sh + i·dh, w·sw + j·dw, c] · W[i, j, c, o]
        (c runs over the input block of o's group)

    Shapes:
        x (N, H, W, C); kernel (kh, kw, C/g, F); bias (F,) or None → z (N, Ho, Wo, F).
    """
    xp = _pad(x, pads)
    kh, kw, c_group, filters = kernel.shape
    f_group = filters // groups
    ho, wo = _out_hw(xp.shape, kernel.shape, strides, dilation)
    windows = _windows(xp, kh, kw, strides, dilation, (ho, wo))  # (N, Ho, Wo, C, kh, kw)
    z = np.empty((x.shape[0], ho, wo, filters), dtype=x.dtype)
    for g in range(groups):
        cin, fout = slice(g * c_group, (g + 1) * c_group), slice(g * f_group, (g + 1) * f_group)
        z[..., fout] = np.einsum("nhwcij,ijco->nhwo", windows[:, :, :, cin], kernel[..., fout],
                                 optimize=True)
    if bias is not None:
        z += bias
    return z


def _taps(kernel_shape, strides, dilation, out_hw):
    """Every kernel tap (i, j) with the rows and columns of x_pad it sees for all outputs:
    rows = i·dh + sh·[0..Ho), cols = j·dw + sw·[0..Wo)."""
    kh, kw = kernel_shape[:2]
    (sh, sw), (dh, dw) = strides, dilation
    ho, wo = out_hw
    for i in range(kh):
        rows = slice(i * dh, i * dh + sh * (ho - 1) + 1, sh)
        for j in range(kw):
            yield i, j, rows, slice(j * dw, j * dw + sw * (wo - 1) + 1, sw)


def conv2d_backward_input(dz: Array, kernel: Array, x_shape, strides=(1, 1),
                          pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1),
                          groups: int = 1) -> Array:
    """Readable input gradient of `conv2d_forward`, one kernel tap (i, j) at a time.

    This linear map of dz is the *transposed convolution* (the adjoint of the convolution):
    Conv2DTranspose's forward is this function (scratch/layers/conv_transpose.py).

    Math (per tap, rows and cols as in `_taps`):
        dx_pad[n, rows, cols, c] += Σ_o dz[n, h, w, o] · W[i, j, c, o];  dx = crop(dx_pad)

    Shapes:
        dz (N, Ho, Wo, F); kernel (kh, kw, C/g, F); x_shape (N, H, W, C) → dx (N, H, W, C).
    """
    c_group, filters = kernel.shape[2:]
    f_group = filters // groups
    (top, bottom), (left, right) = pads
    n, h, w, c = x_shape
    dxp = np.zeros((n, h + top + bottom, w + left + right, c), dtype=dz.dtype)
    for i, j, rows, cols in _taps(kernel.shape, strides, dilation, dz.shape[1:3]):
        for g in range(groups):
            cin = slice(g * c_group, (g + 1) * c_group)
            fout = slice(g * f_group, (g + 1) * f_group)
            dxp[:, rows, cols, cin] += np.einsum("nhwo,co->nhwc", dz[..., fout],
                                                 kernel[i, j, :, fout], optimize=True)
    return _crop(dxp, pads, x_shape)


def conv2d_backward_kernel(dz: Array, x: Array, kernel_shape, strides=(1, 1),
                           pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1),
                           groups: int = 1) -> Array:
    """Readable kernel gradient of `conv2d_forward`, one kernel tap (i, j) at a time.

    Math (per tap):
        dW[i, j, c, o] = Σ_{n,h,w} x_pad[n, rows, cols, c] · dz[n, h, w, o]

    Shapes:
        dz (N, Ho, Wo, F); x (N, H, W, C) → dW (kh, kw, C/g, F) = kernel_shape.
    """
    xp = _pad(x, pads)
    c_group, filters = kernel_shape[2:]
    f_group = filters // groups
    dkernel = np.empty(kernel_shape, dtype=dz.dtype)
    for i, j, rows, cols in _taps(kernel_shape, strides, dilation, dz.shape[1:3]):
        x_tap = xp[:, rows, cols]  # (N, Ho, Wo, C): the pixels tap (i, j) saw
        for g in range(groups):
            cin = slice(g * c_group, (g + 1) * c_group)
            fout = slice(g * f_group, (g + 1) * f_group)
            dkernel[i, j, :, fout] = np.einsum("nhwc,nhwo->co", x_tap[..., cin],
                                               dz[..., fout], optimize=True)
    return dkernel


def conv2d_backward(dz: Array, x: Array, kernel: Array, strides=(1, 1),
                    pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1), groups: int = 1,
                    use_bias: bool = True):
    """Readable gradients of `conv2d_forward`: dx, dW and db.

    Math:
        dx = `conv2d_backward_input`(dz, W);  dW = `conv2d_backward_kernel`(dz, x);
        db[o] = Σ_{n,h,w} dz[n, h, w, o]

    Shapes:
        dz (N, Ho, Wo, F); x (N, H, W, C) → dx (N, H, W, C),
        grads {"kernel": (kh, kw, C/g, F), "bias": (F,)}.
    """
    geometry = (strides, pads, dilation, groups)
    grads = {"kernel": conv2d_backward_kernel(dz, x, kernel.shape, *geometry)}
    if use_bias:
        grads["bias"] = dz.sum(axis=(0, 1, 2))
    return conv2d_backward_input(dz, kernel, x.shape, *geometry), grads


# ------------------------------------------------------------------------------ fast
# The fast path cuts the batch into equal chunks of whole images, at most about CHUNK_ROWS
# output pixels each, and runs im2col, the GEMMs and col2im chunk by chunk: a chunk's column
# matrix stays in cache between its copy and its GEMM, and chunks can run in parallel
# threads. The chunks depend on the shapes only, never on the number of threads, so the
# results do not either (the weight gradients are summed chunk by chunk, in chunk order).
CHUNK_ROWS = 4096
_POOL: tuple[int, ThreadPoolExecutor] | None = None  # (pid that made it, the helper threads)


def _image_chunks(n_images: int, pixels_per_image: int) -> list[slice]:
    count = max(1, min(n_images, -(-n_images * pixels_per_image // CHUNK_ROWS)))
    per = max(1, -(-n_images // count))
    return [slice(s, min(s + per, n_images)) for s in range(0, n_images, per)]


def _run_chunks(task: Callable[[int, slice], None], chunks: list[slice], threads: int) -> None:
    """task(k, chunks[k]) for every k; with threads > 1, threads pull chunks as they finish
    (so a thread on a core that another process holds simply takes fewer chunks). The helper
    threads compute in the calling thread's subnormal modes (`scratch._denormals.in_modes`),
    so a chunk's bits do not depend on the thread that takes it.

    Worker threads need BLAS on one thread (two BLAS threads per worker would oversubscribe
    the cores), as the benchmarks and tests pin it; NumPy's GEMMs and the `nogil` kernels
    release the GIL. When BLAS runs on several threads (inside fit for a large step, see
    `scratch._threads.engine_threads`, or a process that never limited it), the chunks run
    one after another and BLAS parallelizes their GEMMs: worker threads on top of two-thread
    BLAS were slower than the unchunked code, BLAS threads alone as fast or faster
    (docs/PERFORMANCE.md §Convolution chunks).
    """
    if threads <= 1 or len(chunks) <= 1 or _blas_is_threaded():
        for k, chunk in enumerate(chunks):
            task(k, chunk)
        return
    global _POOL
    if _POOL is None or _POOL[0] != os.getpid():  # a forked child has no pool threads
        _POOL = (os.getpid(), ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 2) - 1),
                                                 thread_name_prefix="scratch-conv"))
    counter = itertools.count()  # next() is atomic under the GIL

    def work() -> None:
        while (k := next(counter)) < len(chunks):
            task(k, chunks[k])

    modes = thread_modes()  # the helpers compute in this thread's subnormal modes
    helpers = [_POOL[1].submit(in_modes, modes, work) for _ in range(threads - 1)]
    try:
        work()
    finally:
        for helper in helpers:
            helper.result()


def _blas_is_threaded() -> bool:
    return any(lib.get_num_threads() > 1 for lib in _blas_controllers())


def conv_threads(multiply_adds: int) -> int:
    """Threads for a fast-path convolution of `multiply_adds` (kernel size × output pixels).

    The engine's BLAS policy decides (`scratch._threads.engine_blas_threads`): "auto" uses two
    threads, where the machine has two cores, from `AUTO_TWO_THREADS_WORK` (2**24)
    multiply-adds on while no other process holds a core (the benchmark's 128×32×32×3
    Conv2D(32, 3×3) has 1.1e8 and is faster on two threads of an idle 2-core machine; with
    the other core busy, the free thread takes most chunks and the time stays near one
    thread's: docs/PERFORMANCE.md §Convolution chunks); a fixed number is used as is; None
    (the process' own BLAS setting) means one thread.
    """
    return engine_blas_threads(multiply_adds) or 1


def _group_major(a: Array, groups: int) -> Array:
    """(m, T, C) columns → (g, m, T·C/g): each group's columns as one matrix, groups first
    (a copy), so that one batched GEMM (`np.matmul` over the leading axis) does every group's
    product instead of a Python loop over groups (a depthwise convolution has g = C)."""
    m, taps, c = a.shape
    return a.reshape(m, taps, groups, c // groups).transpose(2, 0, 1, 3).reshape(groups, m, -1)


def _from_group_major(a: Array, taps: int) -> Array:
    """The inverse of `_group_major`: (g, m, T·C/g) → (m, T, C), C-contiguous."""
    groups, m = a.shape[:2]
    return np.ascontiguousarray(
        a.reshape(groups, m, taps, -1).transpose(1, 2, 0, 3).reshape(m, taps, -1))


def _kernel_groups(kernel: Array, groups: int) -> Array:
    """The kernel (kh, kw, C/g, F) as one (kh·kw·C/g, F/g) matrix per group, (g, kh·kw·C/g,
    F/g), its rows ordered (i, j, c) as the columns of `_group_major`."""
    kh, kw, c_group, filters = kernel.shape
    return kernel.reshape(kh * kw, c_group, groups, filters // groups).transpose(
        2, 0, 1, 3).reshape(groups, kh * kw * c_group, -1)


class _ChunkBuffers:
    """One work array per thread for the chunks of one call: a chunk's column matrix (or its
    padded input gradient) is written into the array its thread already holds, so a call
    touches fresh memory once per thread instead of once per chunk, and no column matrix of
    the whole batch is ever made (docs/PERFORMANCE.md §Convolution chunks)."""

    def __init__(self, dtype) -> None:
        self.dtype = np.dtype(dtype)
        self.arrays: dict[int, Array] = {}

    def get(self, shape: tuple) -> Array:
        """A C-contiguous array of `shape` (contents undefined) for the calling thread."""
        size = math.prod(shape)
        array = self.arrays.get(threading.get_ident())
        if array is None or array.size < size:
            array = self.arrays[threading.get_ident()] = np.empty(size, self.dtype)
        return array[:size].reshape(shape)


def conv2d_forward_fast(x: Array, kernel: Array, bias: Array | None, strides=(1, 1),
                        pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1), groups: int = 1,
                        threads: int = 1):
    """im2col + GEMM, chunk by chunk: the same z as `conv2d_forward`, plus the padded input
    the backward reads.

    Math (per chunk of images):
        cols[(n,h,w), (i,j,c)] = x_pad[n, h·sh + i·dh, w·sw + j·dw, c]
        z_g = cols_g · W_g   (one GEMM per group: (rows, kh·kw·C/g) · (kh·kw·C/g, F/g);
                              with groups, one batched GEMM over the groups)

    Chunks of images (`CHUNK_ROWS`), in `threads` threads; the Numba kernel
    `scratch._kernels.conv.im2col` builds each chunk's columns in its thread's work array
    (`_ChunkBuffers`); the backward builds them again.

    Shapes:
        returns z (N, Ho, Wo, F) and x_pad (N, Hp, Wp, C).
    """
    kernels = load_kernels("conv")
    add_bias, im2col = kernels.add_bias, kernels.im2col
    xp = np.require(_pad(x, pads), requirements=["C", "W"])  # the kernel also scatters
    kh, kw, c_group, filters = kernel.shape
    n, c = x.shape[0], x.shape[3]
    ho, wo = _out_hw(xp.shape, kernel.shape, strides, dilation)
    z = np.empty((n, ho, wo, filters), dtype=x.dtype)
    w_groups = _kernel_groups(kernel, groups)  # (g, kh·kw·C/g, F/g)
    buffers = _ChunkBuffers(x.dtype)

    def task(_: int, s: slice) -> None:
        cols = buffers.get((s.stop - s.start, ho, wo, kh, kw, c))
        im2col(xp[s], cols, strides[0], strides[1], dilation[0], dilation[1])
        out = z[s].reshape(-1, filters)
        if groups == 1:
            np.matmul(cols.reshape(len(out), -1), w_groups[0], out=out)
        else:  # (g, m, F/g) → (m, g, F/g): output channel g·F/g + o
            out[...] = np.matmul(_group_major(cols.reshape(len(out), kh * kw, c), groups),
                                 w_groups).transpose(1, 0, 2).reshape(len(out), filters)
        if bias is not None:
            add_bias(out, bias)

    _run_chunks(task, _image_chunks(n, ho * wo), threads)
    return z, xp


def conv2d_backward_fast(dz: Array, xp: Array | None, x_shape, kernel: Array, strides=(1, 1),
                         pads: Pads = ((0, 0), (0, 0)), dilation=(1, 1), groups: int = 1,
                         use_bias: bool = True, need_dx: bool = True, threads: int = 1,
                         need_grads: bool = True):
    """GEMM gradients plus the Numba col2im scatter (same results as `conv2d_backward`).

    Math (per chunk of images, summed over the chunks in order; with groups, each product
    is one batched GEMM over the groups):
        cols = im2col(x_pad) again;  dW_g = cols_gᵀ · dz_g;  dcols_g = dz_g · W_gᵀ;
        dx = crop(col2im(dcols));  db = 1ᵀ·dz

    With need_grads=False only dx is computed and `xp` may be None: the transposed
    convolution's forward (scratch/layers/conv_transpose.py).

    Shapes:
        dz (N, Ho, Wo, F); xp (N, Hp, Wp, C), the padded input `conv2d_forward_fast`
        returns → dx (N, H, W, C) (None when need_dx is False), grads as in
        `conv2d_backward` (empty when need_grads is False).
    """
    kernels = load_kernels("conv")
    col2im_add, im2col = kernels.col2im_add, kernels.im2col
    kh, kw, c_group, filters = kernel.shape
    n, ho, wo = dz.shape[:3]
    h, w, c = x_shape[1:]
    (top, bottom), (left, right) = pads
    dz = np.ascontiguousarray(dz)
    f_group = filters // groups
    chunks = _image_chunks(n, ho * wo)
    parts = len(chunks) if need_grads else 0
    dkernel_parts = np.empty((parts,) + kernel.shape, dtype=dz.dtype)
    dbias_parts = np.empty((parts, filters), dtype=dz.dtype)
    dx = np.empty(x_shape, dtype=dz.dtype) if need_dx else None
    w_groups = _kernel_groups(kernel, groups)  # (g, kh·kw·C/g, F/g)
    col_buffers, dx_buffers = _ChunkBuffers(dz.dtype), _ChunkBuffers(dz.dtype)

    def task(k: int, s: slice) -> None:
        dz2 = dz[s].reshape(-1, filters)
        m = len(dz2)
        cols = col_buffers.get((s.stop - s.start, ho, wo, kh, kw, c))
        if need_grads:
            im2col(xp[s], cols, strides[0], strides[1], dilation[0], dilation[1])
            rows = cols.reshape(m, kh * kw, c)
            if use_bias:  # 1ᵀ·dz as a BLAS GEMV, much faster than a column sum
                np.matmul(np.ones(m, dtype=dz.dtype), dz2, out=dbias_parts[k])
            if groups == 1:
                np.matmul(rows.reshape(m, -1).T, dz2, out=dkernel_parts[k].reshape(-1, filters))
            else:  # (g, kh·kw·C/g, F/g) → (kh, kw, C/g, F)
                dz_g = dz2.reshape(m, groups, f_group).transpose(1, 0, 2)  # (g, m, F/g)
                dw_g = np.matmul(_group_major(rows, groups).transpose(0, 2, 1), dz_g)
                dkernel_parts[k] = dw_g.reshape(groups, kh * kw, c_group, f_group).transpose(
                    1, 2, 0, 3).reshape(kernel.shape)
        if need_dx:  # the columns are spent: their array takes dcols
            if groups == 1:
                np.matmul(dz2, w_groups[0].T, out=cols.reshape(m, -1))
            else:
                dz_g = dz2.reshape(m, groups, f_group).transpose(1, 0, 2)
                cols[...] = _from_group_major(np.matmul(dz_g, w_groups.transpose(0, 2, 1)),
                                              kh * kw).reshape(cols.shape)
            dxp = dx_buffers.get((s.stop - s.start, h + top + bottom, w + left + right, c))
            dxp.fill(0)
            col2im_add(cols, dxp, strides[0], strides[1], dilation[0], dilation[1])
            dx[s] = dxp[:, top:top + h, left:left + w]

    _run_chunks(task, chunks, threads)
    if not need_grads:
        return dx, {}
    grads = {"kernel": dkernel_parts.sum(axis=0)}
    if use_bias:
        grads["bias"] = dbias_parts.sum(axis=0)
    return dx, grads


# ------------------------------------------------------------------------------ layers
class ConvCache(NamedTuple):
    x: Array | None          # the (N, H, W, C) input (readable path)
    xp: Array | None         # the padded input (fast path)
    x_shape: tuple           # (N, H, W, C) in the 2-D view
    pads: Pads
    z: Array                 # pre-activation, (N, Ho, Wo, F) in the 2-D view
    y: Array                 # output, in the layer's own layout


class _Conv(Layer):
    """Shared machinery of Conv1D / Conv2D (see the module docstring for the math)."""

    rank = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        rank = self.rank
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(
                "Invalid value for argument `filters`. Expected a strictly positive value. "
                f"Received filters={filters!r}."
            )
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups <= 0:
            raise ValueError(
                f"The number of groups must be a positive integer. Received: groups={groups!r}."
            )
        if filters % groups:
            raise ValueError(
                "The number of filters must be evenly divisible by the number of groups. "
                f"Received: groups={groups}, filters={filters}."
            )
        self.filters, self.groups = int(filters), int(groups)
        self.kernel_size = standardize_tuple(kernel_size, rank, "kernel_size")
        self.strides = standardize_tuple(strides, rank, "strides")
        self.dilation_rate = standardize_tuple(dilation_rate, rank, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        self.padding = standardize_padding(padding, allow_causal=rank == 1)
        self.data_format = standardize_data_format(data_format)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        # Resolved now, as Keras does: an unseeded random initializer draws its seed here.
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.fast_path = None  # True/False: this layer's choice; None: backend.fast_paths

    # -------------------------------------------------------------- shapes and checks
    def _rank_message(self, shape) -> str:
        rank = self.rank
        layout = "(batch, steps, channels)" if rank == 1 else "(batch, height, width, channels)"
        msg = (f"Input 0 of layer {self.name!r} ({type(self).__name__}) is incompatible with "
               f"the layer: expected ndim={rank + 2}, found ndim={len(shape)}. Full shape "
               f"received: {tuple(shape)}. {type(self).__name__} expects {layout}.")
        if len(shape) == rank + 1:
            example = "N×H×W×1" if rank == 2 else "N×T×1"
            msg += (f" If your data has a single channel, add the channel axis: reshape to "
                    f"{example} with x = np.expand_dims(x, -1).")
        return msg

    def _validate_shape(self, shape) -> None:
        """Every check that depends on the input shape; raises before any state changes."""
        if len(shape) != self.rank + 2:
            raise ValueError(self._rank_message(shape))
        channels = shape[-1]
        if channels is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs a known number of input channels "
                f"(last axis). Received: input_shape={tuple(shape)}"
            )
        if channels % self.groups:
            raise ValueError(
                "The number of input channels must be evenly divisible by the number of "
                f"groups. Received groups={self.groups}, but the input has {channels} "
                f"channels (full input shape is {tuple(shape)})."
            )
        if "kernel" in self.params:
            expected = self._kernel_input_channels()
            if channels != expected:
                raise ValueError(
                    f"{type(self).__name__} {self.name!r} was built for inputs with "
                    f"{expected} channels (kernel {self.params['kernel'].shape}). "
                    f"Received: input shape={tuple(shape)}"
                )
        self._check_spatial(shape)

    def _kernel_input_channels(self) -> int:
        """The input channels the built kernel (kh, kw, C/g, F) takes: C."""
        return self.params["kernel"].shape[-2] * self.groups

    def _check_spatial(self, shape) -> None:
        """The output must have at least one position along every axis."""
        channels = shape[-1]
        out = self._spatial_output(shape[1:-1])
        if any(o is not None and o <= 0 for o in out):
            kernel_shape = self._kernel_shape(channels)
            raise ValueError(
                "Computed output size would be zero or negative: the input is smaller than "
                f"the (dilated) kernel with padding={self.padding!r}. Received "
                f"`inputs shape={tuple(shape)}`, `kernel shape={kernel_shape}`, "
                f"`dilation_rate={self.dilation_rate}`, `strides={self.strides}`, "
                f"`padding={self.padding}`."
            )

    def _spatial_output(self, spatial) -> tuple:
        return tuple(conv_output_length(n, k, s, d, self.padding) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._validate_shape(input_shape)
        return (input_shape[0],) + self._spatial_output(input_shape[1:-1]) + (self.filters,)

    def _kernel_shape(self, channels: int) -> tuple:
        """The kernel for `channels` input channels: (kh, kw, C/g, F)."""
        return self.kernel_size + (channels // self.groups, self.filters)

    def build(self, input_shape: Shape) -> None:
        self._validate_shape(input_shape)
        self.add_weight("kernel", self._kernel_shape(input_shape[-1]), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer,
                            regularizer=self.bias_regularizer)
        self.built = True

    # -------------------------------------------------------------- 2-D view
    def _geometry_2d(self):
        """(kernel, strides, dilation) in the 2-D form: Conv1D is a height-1 Conv2D."""
        kernel = self.params["kernel"]
        if self.rank == 2:
            return kernel, self.strides, self.dilation_rate
        return kernel[None], (1,) + self.strides, (1,) + self.dilation_rate

    def _pads_2d(self, spatial) -> Pads:
        pads = tuple(conv_padding(n, k, s, d, self.padding) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate))
        return pads if self.rank == 2 else ((0, 0),) + pads

    # -------------------------------------------------------------- forward / backward
    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        self._validate_shape(x.shape)
        x2 = x[:, None] if self.rank == 1 else x
        kernel, strides, dilation = self._geometry_2d()
        pads = self._pads_2d(x.shape[1:-1])
        bias = self.params.get("bias")
        if backend.use_fast_path(self):
            pixels = x.shape[0] * math.prod(self._spatial_output(x.shape[1:-1]))
            z, xp = conv2d_forward_fast(x2, kernel, bias, strides, pads, dilation, self.groups,
                                          conv_threads(kernel.size * pixels))
            x_keep = None
        else:
            z = conv2d_forward(x2, kernel, bias, strides, pads, dilation, self.groups)
            xp, x_keep = None, x2
        z_out = z[:, 0] if self.rank == 1 else z
        y = self.activation(z_out)
        self._cache = ConvCache(x_keep, xp, x2.shape, pads, z, y)
        return y

    @property
    def logits(self) -> Array | None:
        """The pre-activation z of the last forward, if the activation is sigmoid/softmax."""
        if self._cache is None or not getattr(self.activation, "exposes_logits", False):
            return None
        z = self._cache.z
        return z[:, 0] if self.rank == 1 else z

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        cache = self._require_cache()
        dy = self._check_dy(dy, cache.y.shape)
        z = cache.z[:, 0] if self.rank == 1 else cache.z
        return self.backward_from_logits(self.activation.backward(dy, z, cache.y),
                                         need_dx=need_dx, need_grads=need_grads)

    def backward_from_logits(self, dz: Array, *, need_dx: bool = True,
                             need_grads: bool = True) -> Array | None:
        """Back-propagate dL/dz (pre-activation) through the convolution.

        With `need_dx=False` (nothing upstream learns, e.g. the first layer on the data) the
        fast path skips dcols and col2im and returns None instead of dx; the weight
        gradients are always computed.
        """
        cache = self._require_cache()
        dz = self._check_dy(dz, cache.y.shape)
        dz2 = dz[:, None] if self.rank == 1 else dz
        kernel, strides, dilation = self._geometry_2d()
        if backend.use_fast_path(self):
            dx, grads = conv2d_backward_fast(dz2, cache.xp, cache.x_shape, kernel, strides,
                                             cache.pads, dilation, self.groups, self.use_bias,
                                             need_dx=need_dx,
                                             threads=conv_threads(kernel.size * dz2.size
                                                                  // dz2.shape[-1]))
        else:
            dx, grads = conv2d_backward(dz2, cache.x, kernel, strides, cache.pads, dilation,
                                        self.groups, self.use_bias)
        if self.rank == 1:
            grads["kernel"] = grads["kernel"][0]
            dx = None if dx is None else dx[:, 0]
        self.grads = grads
        return dx

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": _serialize_init(self.kernel_initializer),
                "bias_initializer": _serialize_init(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


class Conv1D(_Conv):
    """1-D convolution over time (speech, sequences): `y = act(x ⋆ W + b)`.

    Math:
        z[n, t, o] = b[o] + Σ_j Σ_c x_pad[n, t·s + j·d, c] · W[j, c, o]
        (cross-correlation; padding valid / same (odd cell at the end) / causal (all zeros
        before), see the module docstring)

    Args:
        filters: F, the number of feature maps.
        kernel_size: k (int or 1-tuple).
        strides: s ≥ 1.  padding: "valid", "same" or "causal".
        dilation_rate: d ≥ 1 (not together with s > 1).
        groups: g, dividing both C and F.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in Dense.

    Shapes:
        input (N, L, C) → output (N, L_out, F); kernel (k, C/g, F), bias (F,).

    Raises:
        ValueError: invalid arguments (Keras' messages); input not 3-D, channels not
            divisible by groups or different from the built kernel, or a 'valid' input
            shorter than the dilated kernel.
    """

    rank = 1


class Conv2D(_Conv):
    """2-D convolution over images, `y = act(x ⋆ W + b)` (Lectures 29–33).

    Math:
        z[n, h, w, o] = b[o] + Σ_{i,j,c} x_pad[n, h·sh + i·dh, w·sw + j·dw, c] · W[i, j, c, o]
        (cross-correlation; TF's 'same' split puts the odd padding cell bottom/right)

    Args:
        filters: F, the number of feature maps.
        kernel_size: (kh, kw) or an int.
        strides: (sh, sw) or an int.  padding: "valid" or "same".
        dilation_rate: (dh, dw) or an int (not together with strides > 1).
        groups: g, dividing both C and F.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer: as in Dense.

    Shapes:
        input (N, H, W, C) → output (N, Ho, Wo, F); kernel (kh, kw, C/g, F), bias (F,).

    Raises:
        ValueError: invalid arguments (Keras' messages); input not 4-D (a grayscale batch
            (N, H, W) must be reshaped to N×H×W×1), channels not divisible by groups or
            different from the built kernel, or a 'valid' image smaller than the kernel.
    """

    rank = 2

