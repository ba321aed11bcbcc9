"""Numba kernels of the convolution's fast path (`scratch.layers.conv`).

The fast forward is im2col + one GEMM per group (NumPy + BLAS; on this CPU a NumPy strided
copy builds the column matrix as fast as a Numba loop, so no kernel is needed there). The
backward's input gradient is a GEMM into column space followed by the scatter below
(col2im), which is the loop NumPy cannot vectorize without a Python loop per kernel tap.

Each kernel mirrors a readable NumPy function:

    col2im_add  ⟷  the per-tap scatter in `scratch.layers.conv.conv2d_backward`

Compiled lazily with `cache=True` (one signature per float dtype), no fastmath (the summation
order is the natural loop order; reassociation would change float32 results). Set
NUMBA_DISABLE_JIT=1 to step through a kernel in a debugger.
"""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True)
def col2im_add(dcols, dxp, sh, sw, dh, dw):
    """Scatter-add column-space gradients back onto the padded input.

    Math:
        dxp[n, ho·sh + i·dh, wo·sw + j·dw, c] += dcols[n, ho, wo, i, j, c]

    Shapes:
        dcols (N, Ho, Wo, kh, kw, C); dxp (N, Hp, Wp, C), updated in place (zeros on entry
        for a plain col2im).
    """
    N, Ho, Wo, kh, kw, C = dcols.shape
    for n in range(N):
        for ho in range(Ho):
            for i in range(kh):
                row = dxp[n, ho * sh + i * dh]  # (Wp, C): one input row gets taps (i, ·)
                for j in range(kw):
                    for wo in range(Wo):
                        src = dcols[n, ho, wo, i, j]
                        dst = row[wo * sw + j * dw]
                        for c in range(C):
                            dst[c] += src[c]
    return dxp
