"""Numba kernel of the Embedding layer's backward (`scratch.layers.embedding`).

    embedding_scatter_add  ⟷  embedding_backward   (np.add.at of the rows of dy, or of
                           dy * dy with `squares`: the rows' squares, for the optimizers that
                           square a sparse gradient row by row)

The kernel adds the rows of dy into the rows of the gradient named by the ids, one id after
another in order: the same additions in the same order as `np.add.at`, so the result is
bit-identical to the readable function in float32 and float64. np.add.at on a 2-D target is
much slower (docs/PERFORMANCE.md §Numba loops). Compiled lazily with `cache=True`, one
signature per float dtype; no fastmath. NUMBA_DISABLE_JIT=1 runs it as plain Python.
"""

from __future__ import annotations

import numba as nb


@nb.njit(cache=True)
def embedding_scatter_add(ids, dy, out, squares):
    """out[ids[i]] += dy[i] (dy[i]² with `squares`) for every i, in order (repeated ids
    accumulate). The squares need no squared copy of dy: each is rounded, then added, as
    NumPy's product and np.add.at do, so the bits are the same.

    Math:
        dE[v, d] += Σ_{i: ids[i] = v} dy[i, d]   (or dy[i, d]²)

    Shapes:
        ids (M,) int64, every value in [0, V); dy (M, D); out (V, D), updated in place.
    """
    D = dy.shape[1]
    for i in range(ids.shape[0]):
        row = ids[i]
        if squares:
            for d in range(D):
                g = dy[i, d]
                out[row, d] += g * g
        else:
            for d in range(D):
                out[row, d] += dy[i, d]
    return out
