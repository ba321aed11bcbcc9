"""The course's convolution (Lectures 26–29) as plain functions.

Deep learning's "convolution" is a **cross-correlation**: the kernel slides over the input
and each output is the inner product of the kernel with the patch under it (Lecture 26):

    correlate:  y[i]    = Σ_k x[i + k] · w[k]
                y[i, j] = Σ_{i'} Σ_{j'} x[i + i', j + j'] · w[i', j']

The textbook convolution flips the kernel first (Lecture 26: "the result is different as it
does proper convolution with − and not the DL version with +"):

    convolve(x, w) = correlate(x, flip(w))      flip reverses every spatial axis

Three output sizes (modes), for input length N and kernel length K:

    valid: N − K + 1   (no padding; the kernel stays inside the input)
    same:  N           (K − 1 zeros in total, split between both ends)
    full:  N + K − 1   (K − 1 zeros at each end: every overlap counts)

Where the odd cell of `same` padding goes (K even) is a convention:

    correlate, same_split="end" (default): (⌊P/2⌋, ⌈P/2⌉) zeros before/after, P = K − 1:
        tf.keras' padding="same" (docs/KERAS_NUMERICS.md §Convolution) and
        `scipy.signal.correlate2d`.
    correlate, same_split="start": (⌈P/2⌉, ⌊P/2⌋): `scipy.signal.correlate` (1-D, N-D).
    convolve: SciPy's centred crop of the full output, full[⌊P/2⌋ : ⌊P/2⌋ + N], which is
        correlate(x, flip(w), same_split="start"): flipping the kernel mirrors the split.

Multi-channel input (Lecture 29): an H×W×C image and a K×K×C kernel give an
(H−K+1)×(W−K+1) map: the channel axis is summed, it does not slide. A stack of F kernels
(K×K×C×F, Keras' layout) gives F maps, (H−K+1)×(W−K+1)×F.

Every function exists twice: the readable loop of Lecture 26 (`method="loop"`, or the
`*_loop` functions) and a vectorized version (default) that views every window at once
(`numpy.lib.stride_tricks.sliding_window_view`) and contracts it with the kernel in one
`tensordot` (Lecture 27: convolution is a batch of dot products). Both compute in the
dtype of their inputs.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "correlate1d", "correlate2d", "convolve1d", "convolve2d",
    "correlate1d_loop", "correlate2d_loop", "output_length", "padding_amounts",
]

_MODES = ("valid", "same", "full")
_SPLITS = ("end", "start")
_METHODS = ("vectorized", "loop")


# ------------------------------------------------------------------------------ sizes
def padding_amounts(n: int, k: int, mode: str = "valid", same_split: str = "end"):
    """Zeros added (before, after) along one axis of length n for a kernel of length k.

    Math:
        valid: (0, 0)      full: (k − 1, k − 1)
        same:  P = k − 1;  "end": (⌊P/2⌋, ⌈P/2⌉)   "start": (⌈P/2⌉, ⌊P/2⌋)
    """
    _check_choice("mode", mode, _MODES)
    _check_choice("same_split", same_split, _SPLITS)
    if mode == "valid":
        return 0, 0
    if mode == "full":
        return k - 1, k - 1
    small, large = (k - 1) // 2, k - 1 - (k - 1) // 2
    return (large, small) if same_split == "start" else (small, large)


def output_length(n: int, k: int, mode: str = "valid") -> int:
    """Output length along one axis: valid N−K+1, same N, full N+K−1."""
    _check_choice("mode", mode, _MODES)
    return {"valid": n - k + 1, "same": n, "full": n + k - 1}[mode]


# ------------------------------------------------------------------------------ checks
def _check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(
            f"`{name}` expected one of {', '.join(map(repr, choices))}. "
            f"Received: {name}={value!r}"
        )


def _prepare(x, kernel, spatial: int, mode: str, same_split: str, method: str):
    """Validate shapes and dtypes; return (x, kernel, dtype) as arrays of one dtype."""
    _check_choice("mode", mode, _MODES)
    _check_choice("same_split", same_split, _SPLITS)
    _check_choice("method", method, _METHODS)
    x, kernel = np.asarray(x), np.asarray(kernel)
    for name, a in (("x", x), ("kernel", kernel)):
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold numbers. Received: {name}.dtype={a.dtype}")
    if x.dtype.kind == "f" and kernel.dtype.kind == "f" and x.dtype != kernel.dtype:
        raise TypeError(
            "x and kernel must have the same float dtype (no silent casting). "
            f"Received: x.dtype={x.dtype}, kernel.dtype={kernel.dtype}"
        )
    what = "signal" if spatial == 1 else "image"
    if x.ndim not in (spatial, spatial + 1):
        raise ValueError(
            f"x expected a {spatial}-D {what} or a {spatial + 1}-D multi-channel {what} "
            f"(channels last). Received: x.shape={x.shape}"
        )
    channels = x.ndim == spatial + 1
    allowed = (spatial + 1, spatial + 2) if channels else (spatial,)
    if kernel.ndim not in allowed:
        raise ValueError(
            f"For x of shape {x.shape} the kernel expected rank {' or '.join(map(str, allowed))}"
            f" ({'(k..., C) or (k..., C, F)' if channels else '(k...)'}). "
            f"Received: kernel.shape={kernel.shape}"
        )
    if channels and kernel.shape[spatial] != x.shape[-1]:
        raise ValueError(
            f"The kernel's channel axis must match the input's {x.shape[-1]} channels. "
            f"Received: x.shape={x.shape}, kernel.shape={kernel.shape}"
        )
    if any(k < 1 for k in kernel.shape[:spatial]):
        raise ValueError(f"The kernel must not be empty. Received: kernel.shape={kernel.shape}")
    if mode == "valid" and any(n < k for n, k in zip(x.shape[:spatial], kernel.shape)):
        raise ValueError(
            "With mode='valid' the kernel must fit inside the input (output size N − K + 1 "
            f"≥ 1). Received: x.shape={x.shape}, kernel.shape={kernel.shape}"
        )
    dtype = np.result_type(x, kernel)
    return x.astype(dtype, copy=False), kernel.astype(dtype, copy=False), dtype


def _pad(x, kernel_shape, spatial: int, mode: str, same_split: str):
    pads = [padding_amounts(n, k, mode, same_split)
            for n, k in zip(x.shape[:spatial], kernel_shape[:spatial])]
    pads += [(0, 0)] * (x.ndim - spatial)
    return np.pad(x, pads) if any(p != (0, 0) for p in pads) else x


# ------------------------------------------------------------------------------ loops
def correlate1d_loop(x, kernel, mode: str = "valid", same_split: str = "end"):
    """Readable 1-D cross-correlation: y[i] = Σ_k x_pad[i + k] · w[k] (Lecture 28).

    Shapes:
        x (L,) with kernel (K,) → (L_out,);  x (L, C) with kernel (K, C) → (L_out,);
        x (L, C) with kernel (K, C, F) → (L_out, F).
    """
    x, w, dtype = _prepare(x, kernel, 1, mode, same_split, "loop")
    xp = _pad(x, w.shape, 1, mode, same_split)
    K = w.shape[0]
    L_out = xp.shape[0] - K + 1
    out = np.zeros((L_out,) + w.shape[2:], dtype=dtype)
    for i in range(L_out):
        for k in range(K):
            if x.ndim == 1:
                out[i] += xp[i + k] * w[k]
            else:  # sum over channels: the channel axis does not slide (Lecture 29)
                for c in range(x.shape[1]):
                    out[i] += xp[i + k, c] * w[k, c]
    return out


def correlate2d_loop(image, kernel, mode: str = "valid", same_split: str = "end"):
    """Readable 2-D cross-correlation, the Lecture 26 pseudocode plus padding and channels.

    Math:
        out[i, j] += image_pad[i + ii, j + jj] · kernel[ii, jj]     for all ii, jj (, c)

    Shapes:
        image (H, W) with kernel (kh, kw) → (H_out, W_out);
        image (H, W, C) with kernel (kh, kw, C) → (H_out, W_out);
        image (H, W, C) with kernel (kh, kw, C, F) → (H_out, W_out, F).
    """
    x, w, dtype = _prepare(image, kernel, 2, mode, same_split, "loop")
    xp = _pad(x, w.shape, 2, mode, same_split)
    kernel_height, kernel_width = w.shape[:2]
    output_height = xp.shape[0] - kernel_height + 1
    output_width = xp.shape[1] - kernel_width + 1
    output_image = np.zeros((output_height, output_width) + w.shape[3:], dtype=dtype)
    for i in range(output_height):
        for j in range(output_width):
            for ii in range(kernel_height):
                for jj in range(kernel_width):
                    if x.ndim == 2:
                        output_image[i, j] += xp[i + ii, j + jj] * w[ii, jj]
                    else:
                        for c in range(x.shape[2]):
                            output_image[i, j] += xp[i + ii, j + jj, c] * w[ii, jj, c]
    return output_image


# ------------------------------------------------------------------------------ vectorized
def _correlate(x, w, spatial: int, mode: str, same_split: str):
    xp = _pad(x, w.shape, spatial, mode, same_split)
    # windows[i, (j,) (c,) k..., ] : every patch the kernel visits, as a view (no copy)
    windows = sliding_window_view(xp, w.shape[:spatial], axis=tuple(range(spatial)))
    if x.ndim == spatial:  # windows: (out..., k...)
        return np.tensordot(windows, w, axes=spatial)
    # windows: (out..., C, k...): move C behind the window axes to match kernel (k..., C[, F])
    windows = np.moveaxis(windows, spatial, -1)
    return np.tensordot(windows, w, axes=spatial + 1)


def correlate1d(x, kernel, mode: str = "valid", *, same_split: str = "end",
                method: str = "vectorized"):
    """1-D cross-correlation (what a Conv1D layer computes), like `scipy.signal.correlate`.

    Math:
        y[i] = Σ_k x_pad[i + k] · w[k]             (Σ_c too for multi-channel x)

    Args:
        x: signal (L,) or multi-channel signal (L, C).
        kernel: (K,), or (K, C) / (K, C, F) for multi-channel x.
        mode: "valid" (L−K+1), "same" (L) or "full" (L+K−1).
        same_split: where the odd padding cell of "same" goes for an even K: "end" (Keras,
            `scipy.signal.correlate2d`) or "start" (`scipy.signal.correlate`).
        method: "vectorized" (sliding windows + tensordot) or "loop" (the readable loop).

    Shapes:
        (L,)·(K,) → (L_out,);  (L, C)·(K, C) → (L_out,);  (L, C)·(K, C, F) → (L_out, F).

    Raises:
        ValueError: bad mode/rank, channel mismatch, or a kernel longer than x with "valid".
        TypeError: non-numeric input, or x and kernel of different float dtypes.
    """
    if method == "loop":
        return correlate1d_loop(x, kernel, mode, same_split)
    x, w, _ = _prepare(x, kernel, 1, mode, same_split, method)
    return _correlate(x, w, 1, mode, same_split)


def correlate2d(image, kernel, mode: str = "valid", *, same_split: str = "end",
                method: str = "vectorized"):
    """2-D cross-correlation (what a Conv2D layer computes), like `scipy.signal.correlate2d`.

    Math:
        y[i, j] = Σ_{i'} Σ_{j'} x_pad[i + i', j + j'] · w[i', j']     (Σ_c for color images)

    Args:
        image: (H, W) or (H, W, C), channels last.
        kernel: (kh, kw), or (kh, kw, C) / (kh, kw, C, F) for a multi-channel image.
        mode, same_split, method: as in `correlate1d`.

    Shapes:
        (H, W)·(kh, kw) → (H_out, W_out);  (H, W, C)·(kh, kw, C) → (H_out, W_out);
        (H, W, C)·(kh, kw, C, F) → (H_out, W_out, F).

    Raises:
        ValueError / TypeError: as in `correlate1d`.
    """
    if method == "loop":
        return correlate2d_loop(image, kernel, mode, same_split)
    x, w, _ = _prepare(image, kernel, 2, mode, same_split, method)
    return _correlate(x, w, 2, mode, same_split)


def _flip(kernel, spatial: int):
    kernel = np.asarray(kernel)
    return kernel[(slice(None, None, -1),) * spatial] if kernel.ndim >= spatial else kernel


def convolve1d(x, kernel, mode: str = "valid", *, method: str = "vectorized"):
    """1-D convolution, as `scipy.signal.convolve`: cross-correlation with the kernel reversed.

    Math:
        (x ∗ w)[i] = Σ_k x[i − k] · w[k]
        valid / full:  convolve(x, w) = correlate(x, w[::-1])
        same:          SciPy's centred crop full[⌊(K−1)/2⌋ : ⌊(K−1)/2⌋ + L]
                       = correlate(x, w[::-1], same_split="start")

    Args / Shapes / Raises: as in `correlate1d` (only the spatial axis is flipped; channels
    are summed, not convolved).
    """
    return correlate1d(x, _flip(kernel, 1), mode, same_split="start", method=method)


def convolve2d(image, kernel, mode: str = "valid", *, method: str = "vectorized"):
    """2-D convolution, as `scipy.signal.convolve2d`: correlation with the kernel flipped.

    Math:
        (A ∗ w)[i, j] = Σ_m Σ_n A[i − m, j − n] · w[m, n]
                      = correlate2d(A, fliplr(flipud(w)))[i, j]     (Lecture 26)
        same: SciPy's centred crop, = correlate2d(A, flip(w), same_split="start")

    Args / Shapes / Raises: as in `correlate2d`.
    """
    return correlate2d(image, _flip(kernel, 2), mode, same_split="start", method=method)
