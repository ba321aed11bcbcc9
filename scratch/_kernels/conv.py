"""Numba kernels of the convolution's fast path (`scratch.layers.conv`).

The fast path is im2col + GEMM (NumPy + BLAS) forward, and GEMMs into column space plus the
col2im scatter backward. The two data movements are the loops here:

    im2col      ⟷  the strided window view `scratch.layers.conv._windows` (the readable
                   forward reads every receptive field from it)
    col2im_add  ⟷  the per-tap scatter in `scratch.layers.conv.conv2d_backward`

Both walk one input row per (output row, kernel row) and move `kw·C` contiguous numbers per
output pixel when the dilation along the width is 1 (the common case). Their inner loops
index with unsigned integers: Numba then emits no negative-index wraparound check, which
otherwise costs more than the copy itself and keeps LLVM from vectorizing (the measurements
are in docs/PERFORMANCE.md §Numba loops). `add_bias` is the forward's `z += bias`.

`nogil=True`: the layer runs chunks of the batch in two threads (`scratch.layers.conv`), so
the kernels must release the GIL. Compiled lazily with `cache=True` (one signature per float
dtype), no fastmath (the summation order is the natural loop order; reassociation would
change float32 results). Set NUMBA_DISABLE_JIT=1 to step through a kernel in a debugger.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _walk(image, cols, sh, sw, dh, dw, scatter):
    """The loop im2col and col2im share: every (pixel, tap) pair of the padded image and the
    column matrix, one image row per (output row, kernel row). Copies image → cols, or adds
    cols → image when `scatter` (a loop-invariant branch: LLVM unswitches it)."""
    N, Ho, Wo, kh, kw, C = cols.shape
    run = kw * C
    image_rows = image.reshape(N, image.shape[1], image.shape[2] * C)
    col_runs = cols.reshape(N, Ho, Wo, kh, run)
    u_run, u_step = np.uint64(run), np.uint64(sw * C)
    for n in range(N):
        for ho in range(Ho):
            for i in range(kh):
                row = image_rows[n, ho * sh + i * dh]  # (Wp·C): the row kernel row i sees
                for wo in range(Wo):
                    taps = col_runs[n, ho, wo, i]
                    if dw == 1:  # taps (i, 0..kw) are kw·C contiguous numbers of the row
                        start = np.uint64(wo) * u_step
                        for q in range(u_run):
                            if scatter:
                                row[start + q] += taps[q]
                            else:
                                taps[q] = row[start + q]
                    else:
                        for j in range(kw):
                            pixel = row[(wo * sw + j * dw) * C:(wo * sw + j * dw + 1) * C]
                            for c in range(C):
                                if scatter:
                                    pixel[c] += taps[j * C + c]
                                else:
                                    taps[j * C + c] = pixel[c]


@nb.njit(cache=True, nogil=True)
def im2col(xp, cols, sh, sw, dh, dw):
    """Copy every receptive field of the padded input into the column matrix.

    Math:
        cols[n, ho, wo, i, j, c] = xp[n, ho·sh + i·dh, wo·sw + j·dw, c]

    Shapes:
        xp (N, Hp, Wp, C) C-contiguous; cols (N, Ho, Wo, kh, kw, C) C-contiguous, filled in
        place.
    """
    _walk(xp, cols, sh, sw, dh, dw, False)
    return cols


@nb.njit(cache=True, nogil=True)
def col2im_add(dcols, dxp, sh, sw, dh, dw):
    """Scatter-add column-space gradients back onto the padded input.

    Math:
        dxp[n, ho·sh + i·dh, wo·sw + j·dw, c] += dcols[n, ho, wo, i, j, c]

    Shapes:
        dcols (N, Ho, Wo, kh, kw, C) C-contiguous; dxp (N, Hp, Wp, C) C-contiguous, updated
        in place (zeros on entry for a plain col2im).
    """
    _walk(dxp, dcols, sh, sw, dh, dw, True)
    return dxp


@nb.njit(cache=True, nogil=True)
def add_bias(z, bias):
    """z[r, o] += bias[o], in place: the forward's bias, row by row (NumPy's broadcast add
    runs its inner loop over the F channels only, which is several times slower)."""
    for r in range(z.shape[0]):
        row = z[r]
        for o in range(z.shape[1]):
            row[o] += bias[o]
    return z
