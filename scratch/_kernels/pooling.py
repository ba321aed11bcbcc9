"""Numba kernels of the pooling layers' fast path (`scratch.layers.pooling`).

Each kernel mirrors a readable NumPy function of `scratch.layers.pooling`:

    max_pool2d_fwd   ⟷  max_pool2d_forward     (max and the index of the first maximum)
    max_pool2d_bwd   ⟷  max_pool2d_backward    (scatter-add to that index)
    max_pool2d_fwd_tiled, max_pool2d_bwd_tiled  ⟷  the same two functions, for windows that
                     do not overlap and need no padding (strides ≥ pool_size, the Keras
                     default strides = pool_size): the winner is stored as its tap
                     i·pw + j inside the window (uint8, a quarter of an int32 index), and the
                     backward writes every cell of dx exactly once (dy where the cell won its
                     window, else 0) instead of zero-filling dx and scattering into it
    avg_pool2d_fwd   ⟷  avg_pool2d_forward     (mean over the real cells of each window)
    avg_pool2d_bwd   ⟷  avg_pool2d_backward    (dy / count to every real cell)
    global_max_fwd, global_max_bwd  ⟷  the global max pooling's NumPy lines (max over the
                     steps or pixels; TF's equal split of the gradient among ties)
    global_max_fwd_steps_major, global_max_bwd_steps_major  ⟷  the same two, for
                     sequences whose memory is step-major (a recurrent layer's outputs)

The kernels work on the unpadded input: a window's padded cells are simply skipped, which is
exactly TF's rule (padded cells never win a max and are not counted in an average). The
channel axis is the innermost loop (contiguous, vectorizable). Compiled lazily with
`cache=True`, one signature per float dtype; no fastmath. NUMBA_DISABLE_JIT=1 runs them as
plain Python.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def max_pool2d_fwd(x, ph, pw, sh, sw, top, left, y, argmax):
    """y = max over each window; argmax = flat spatial index h·W + w of its first maximum.

    Math:
        y[n, a, b, c] = max_{(i,j) real} x[n, a·sh + i − top, b·sw + j − left, c]
        ties: the first maximum in row-major order (i, then j) wins (strict >)

    Shapes:
        x (N, H, W, C); y (N, Ho, Wo, C) and argmax (N, Ho, Wo, C) int32, filled in place.
    """
    N, H, W, C = x.shape
    Ho, Wo = y.shape[1], y.shape[2]
    for n in range(N):
        for a in range(Ho):
            h0 = a * sh - top
            i0, i1 = max(0, -h0), min(ph, H - h0)
            for b in range(Wo):
                w0 = b * sw - left
                j0, j1 = max(0, -w0), min(pw, W - w0)
                first = True
                for i in range(i0, i1):
                    h = h0 + i
                    for j in range(j0, j1):
                        w = w0 + j
                        flat = h * W + w
                        if first:
                            for c in range(C):
                                y[n, a, b, c] = x[n, h, w, c]
                                argmax[n, a, b, c] = flat
                            first = False
                        else:
                            for c in range(C):
                                v = x[n, h, w, c]
                                if v > y[n, a, b, c]:
                                    y[n, a, b, c] = v
                                    argmax[n, a, b, c] = flat
    return y


@nb.njit(cache=True)
def max_pool2d_bwd(dy, argmax, dx):
    """dx[n, argmax // W, argmax % W, c] += dy[n, a, b, c] (dx zeroed on entry)."""
    N, Ho, Wo, C = dy.shape
    W = dx.shape[2]
    for n in range(N):
        for a in range(Ho):
            for b in range(Wo):
                for c in range(C):
                    flat = argmax[n, a, b, c]
                    dx[n, flat // W, flat % W, c] += dy[n, a, b, c]
    return dx


@nb.njit(cache=True)
def avg_pool2d_fwd(x, ph, pw, sh, sw, top, left, y):
    """y = Σ(real cells of the window) / (number of real cells)."""
    N, H, W, C = x.shape
    Ho, Wo = y.shape[1], y.shape[2]
    acc = np.empty(C, dtype=x.dtype)
    for n in range(N):
        for a in range(Ho):
            h0 = a * sh - top
            i0, i1 = max(0, -h0), min(ph, H - h0)
            for b in range(Wo):
                w0 = b * sw - left
                j0, j1 = max(0, -w0), min(pw, W - w0)
                acc[:] = 0
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        for c in range(C):
                            acc[c] += x[n, h0 + i, w0 + j, c]
                count = (i1 - i0) * (j1 - j0)
                for c in range(C):
                    y[n, a, b, c] = acc[c] / count
    return y


@nb.njit(cache=True)
def avg_pool2d_bwd(dy, ph, pw, sh, sw, top, left, dx):
    """dx[real cells of window (a, b)] += dy[a, b] / count (dx zeroed on entry)."""
    N, Ho, Wo, C = dy.shape
    H, W = dx.shape[1], dx.shape[2]
    for n in range(N):
        for a in range(Ho):
            h0 = a * sh - top
            i0, i1 = max(0, -h0), min(ph, H - h0)
            for b in range(Wo):
                w0 = b * sw - left
                j0, j1 = max(0, -w0), min(pw, W - w0)
                count = (i1 - i0) * (j1 - j0)
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        for c in range(C):
                            dx[n, h0 + i, w0 + j, c] += dy[n, a, b, c] / count
    return dx


@nb.njit(cache=True, nogil=True)
def max_pool2d_fwd_tiled(x, ph, pw, sh, sw, y, taps):
    """Max pooling over non-overlapping, unpadded windows (sh ≥ ph, sw ≥ pw).

    Math:
        y[n, a, b, c] = max_{i<ph, j<pw} x[n, a·sh + i, b·sw + j, c]
        taps[n, a, b, c] = i·pw + j of the first maximum in row-major order (strict >)

    Shapes:
        x (N, H, W, C); y (N, Ho, Wo, C) and taps (N, Ho, Wo, C) uint8 (ph·pw ≤ 256), filled
        in place.
    """
    N, H, W, C = x.shape
    Ho, Wo = y.shape[1], y.shape[2]
    best = np.empty(C, dtype=x.dtype)  # local buffers: no aliasing with x, so LLVM
    tap = np.empty(C, dtype=np.int32)  # vectorizes the select over channels
    for n in range(N):
        for a in range(Ho):
            for b in range(Wo):
                h0, w0 = a * sh, b * sw
                for c in range(C):
                    best[c] = x[n, h0, w0, c]
                    tap[c] = 0
                for i in range(ph):
                    for j in range(1 if i == 0 else 0, pw):
                        t = i * pw + j
                        for c in range(C):
                            v = x[n, h0 + i, w0 + j, c]
                            wins = v > best[c]
                            best[c] = v if wins else best[c]
                            tap[c] = t if wins else tap[c]
                for c in range(C):
                    y[n, a, b, c] = best[c]
                    taps[n, a, b, c] = tap[c]
    return y


@nb.njit(cache=True, nogil=True)
def max_pool2d_bwd_tiled(dy, taps, ph, pw, sh, sw, dx):
    """dx[n, a·sh + i, b·sw + j, c] = dy[n, a, b, c] if taps[n, a, b, c] = i·pw + j, else 0.

    Every cell of dx is written once; cells in no window (strides > pool, or the rows and
    columns past the last window) get 0. No zero-fill needed on entry.
    """
    N, Ho, Wo, C = dy.shape
    H, W = dx.shape[1], dx.shape[2]
    for n in range(N):
        for h in range(H):
            a, i = h // sh, h % sh
            b = j = 0  # w = b·sw + j, counted up (no division per cell)
            for w in range(W):
                if a >= Ho or i >= ph or b >= Wo or j >= pw:
                    for c in range(C):
                        dx[n, h, w, c] = 0
                else:
                    t = i * pw + j
                    for c in range(C):
                        dx[n, h, w, c] = dy[n, a, b, c] if taps[n, a, b, c] == t else 0
                j += 1
                if j == sw:
                    b, j = b + 1, 0
    return dx


@nb.njit(cache=True, nogil=True)
def global_max_fwd(x, y):
    """y[n, c] = max_t x[n, t, c], NaN if any x[n, :, c] is NaN; of equal values the later
    step's (so of −0 and +0 the later one's sign, as tf.reduce_max and NumPy's max give).

    Shapes: x (N, T, C) C-contiguous, T ≥ 1; y (N, C), filled in place. The channel axis is
    the inner loop: one pass over x, where NumPy's reduction over the middle axis is slow.
    """
    N, T, C = x.shape
    for n in range(N):
        best = y[n]
        for c in range(C):
            best[c] = x[n, 0, c]
        for t in range(1, T):
            row = x[n, t]
            for c in range(C):
                v, b = row[c], best[c]
                best[c] = v if (v >= b or v != v) and b == b else b
    return y


@nb.njit(cache=True, nogil=True)
def global_max_fwd_steps_major(xt, y):
    """`global_max_fwd` for an input whose memory is step-major: xt (T, N, C) C-contiguous
    is x (N, T, C) transposed, as a recurrent layer's outputs are (its time loop writes
    h_t for every sequence at once). Each step is one flat row of N·C values, so the inner
    loop is long and vectorizes, where C alone may be a handful of channels (the course's
    text LSTM(15): 50 against 160 µs). The same comparisons in the same step order: the same
    bits.

    Shapes: xt (T, N, C) C-contiguous, T ≥ 1; y (N, C) C-contiguous, filled in place.
    """
    T, N, C = xt.shape
    best = y.reshape(N * C)
    first = xt[0].reshape(N * C)
    for k in range(N * C):
        best[k] = first[k]
    for t in range(1, T):
        row = xt[t].reshape(N * C)
        for k in range(N * C):
            v, b = row[k], best[k]
            best[k] = v if (v >= b or v != v) and b == b else b
    return y


@nb.njit(cache=True, nogil=True, error_model="numpy")  # 0/0 = NaN (a NaN column), no raise
def global_max_bwd(x, y, dy, dx):
    """TensorFlow's reduce_max gradient: dx = ([x == y] / Σ_t [x == y]) · dy, per element
    (the indicator and its count in x's dtype, the division before the product, as TF).

    Shapes: x, dx (N, T, C) C-contiguous; y, dy (N, C); dx filled in place.
    """
    N, T, C = x.shape
    one, zero = x.dtype.type(1), x.dtype.type(0)
    count = np.empty(C, x.dtype)
    for n in range(N):
        for c in range(C):
            count[c] = zero
        for t in range(T):
            for c in range(C):
                count[c] += one if x[n, t, c] == y[n, c] else zero
        for t in range(T):
            for c in range(C):
                share = (one if x[n, t, c] == y[n, c] else zero) / count[c]
                dx[n, t, c] = share * dy[n, c]
    return dx


@nb.njit(cache=True, nogil=True, error_model="numpy")  # 0/0 = NaN (a NaN column), no raise
def global_max_bwd_steps_major(xt, y, dy, dxt):
    """`global_max_bwd` with x and dx in step-major memory (see
    `global_max_fwd_steps_major`): xt, dxt (T, N, C) C-contiguous; y, dy (N, C)
    C-contiguous; dxt filled in place. The same operations per element: the same bits."""
    T, N, C = xt.shape
    one, zero = xt.dtype.type(1), xt.dtype.type(0)
    top, d = y.reshape(N * C), dy.reshape(N * C)
    count = np.zeros(N * C, xt.dtype)
    for t in range(T):
        row = xt[t].reshape(N * C)
        for k in range(N * C):
            count[k] += one if row[k] == top[k] else zero
    for t in range(T):
        row, out = xt[t].reshape(N * C), dxt[t].reshape(N * C)
        for k in range(N * C):
            share = (one if row[k] == top[k] else zero) / count[k]
            out[k] = share * d[k]
    return dxt
