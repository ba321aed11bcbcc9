"""The Numba part of the recurrent fast path: the LSTM's and the GRU's step gate math as one call.

For the standard LSTM cell (sigmoid gates, tanh) without a time mask, the elementwise math of
a whole step is one Numba call (`lstm_forward_step` / `lstm_backward_step`), so a step costs
one GEMM plus one call instead of about a dozen NumPy calls (twenty in the backward). On
small layers (the course's LSTM(15) over 189 words: blocks of 128 × 15) those calls were most
of the time (docs/PERFORMANCE.md §Recurrent gate math). The GRU's standard cell (Keras'
default `reset_after=True`, sigmoid gates, tanh) without a time mask gets the same
(`gru_forward_step` / `gru_backward_step`, the operations of `recurrent_numpy.gru_forward` /
`gru_backward` in their order). The kernels release the GIL (`nogil`): the two halves of a
big batch run their time loops in two threads (`recurrent.py`).

The kernels compute the equations of `scratch.layers.recurrent.lstm.lstm_gates_forward` /
`lstm_gates_backward` (the readable step, which the NumPy part, `recurrent_numpy.py`, runs for
every other LSTM) with the same operations in the same order and the same float32 activations
(Eigen's σ and tanh, `_kernels/activations.py`: TensorFlow's bits), so in float32 the results
are the same bits; in float64 the kernel's exp and tanh are the C library's and NumPy's tanh is
its own SIMD routine, so they agree to rounding (tests/test_lstm.py checks both).

The arrays are the NumPy part's gate-major ones: the gates in the internal order [i, f, o, g]
(the three sigmoid gates side by side), time-major states. No fastmath; `NUMBA_DISABLE_JIT=1`
steps through the kernels in a debugger.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from .activations import logistic_finish_f32, logistic_reduce_f32, tanh_inplace_f32

__all__ = ["lstm_forward_step", "lstm_backward_step", "gru_forward_step", "gru_backward_step"]


@nb.njit(cache=True, error_model="numpy")
def _gate_sigmoid(block, bits, f32):
    """block ← σ(block) in place: Eigen's float32 σ, or 1/(1 + exp(−z)) in float64."""
    if f32:
        logistic_reduce_f32(block, bits)
        logistic_finish_f32(block, bits.view(np.float32))
    else:
        for e in range(block.size):
            block[e] = 1.0 / (np.exp(block[e] * -1.0) + 1.0)


@nb.njit(cache=True, error_model="numpy")
def _gate_tanh(block, f32):
    """block ← tanh(block) in place: Eigen's float32 tanh, or np.tanh in float64."""
    if f32:
        tanh_inplace_f32(block)
    else:
        for e in range(block.size):
            block[e] = np.tanh(block[e])


@nb.njit(cache=True, nogil=True, error_model="numpy")
def lstm_forward_step(A, t, R, b, has_bias, C, TC, H, bits, f32):
    """One step: a = (A[:, t] + R) + b (Keras' order: x W, then + h U, then + b);
    i, f, o = σ(a[:3]);  g = tanh(a[3]);
    C[t+1] = f·C[t] + i·g;  TC[t] = tanh(C[t+1]);  H[t+1] = o·TC[t]   (all in place).

    Shapes: A (4, T, N, M) gate-major [i, f, o, g], x W without the bias; R (N, 4M) = H[t] U,
    the gates side by side (one GEMM); b (4, M), added only when `has_bias` (adding zeros
    would turn −0 into +0); C, H (T+1, N, M); TC (T, N, M); bits int32 scratch of N·M.
    """
    N, M = A.shape[2], A.shape[3]
    size = N * M
    for gate in range(4):
        a, bg = A[gate, t], b[gate]
        for n in range(N):
            r = R[n, gate * M:(gate + 1) * M]
            if has_bias:
                for m in range(M):
                    a[n, m] = (a[n, m] + r[m]) + bg[m]
            else:
                for m in range(M):
                    a[n, m] += r[m]
    for gate in range(3):
        _gate_sigmoid(A[gate, t].reshape(size), bits, f32)
    _gate_tanh(A[3, t].reshape(size), f32)
    i, f, o, g = (A[0, t].reshape(size), A[1, t].reshape(size), A[2, t].reshape(size),
                  A[3, t].reshape(size))
    c_prev, c = C[t].reshape(size), C[t + 1].reshape(size)
    tc, h = TC[t].reshape(size), H[t + 1].reshape(size)
    for e in range(size):
        c[e] = f[e] * c_prev[e] + i[e] * g[e]
        tc[e] = c[e]
    _gate_tanh(tc, f32)
    for e in range(size):
        h[e] = o[e] * tc[e]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def lstm_backward_step(A, C, TC, dO, t, g_h, g_c, dZ, one):
    """BPTT through step t, in place: dZ[t] and the carried cell-state cotangent g_c.

    Math (gates i, f, o, g after activation; tc = tanh(c_t); dh = g_h + dO[t]):
        do = dh·tc;  dc = (dh·o)·((1 − tc²)) + g_c;  di = dc·g;  dg = dc·i;  df = dc·c_{t−1}
        g_c ← dc·f;  di, df, do ×= (1 − y)·y;  dg ×= 1 − g²

    Shapes: A (4, T, N, M); dZ (T, N, 4M), the gates' cotangents side by side in the
    internal order [i, f, o, g] (so that dh_{t−1} = dZ[t] Uᵀ is one GEMM, and so are the
    weight gradients after the loop); C (T+1, N, M); TC (T, N, M); dO (T, N, M) or
    (0, N, M) when the layer returns only its last output; g_h, g_c (N, M), the cotangents
    carried into h_t and c_t from step t+1; `one` is 1 in their dtype (a literal 1 would
    make float32 arithmetic float64).
    """
    N, M = g_h.shape
    i_t, f_t, o_t, g_t = A[0, t], A[1, t], A[2, t], A[3, t]
    tc_t, c_prev = TC[t], C[t]
    outputs = dO.shape[0] > 0
    for n in range(N):
        i, f, o, g = i_t[n], f_t[n], o_t[n], g_t[n]
        tc, cp, carried_h, carried_c = tc_t[n], c_prev[n], g_h[n], g_c[n]
        d_out = dO[t, n] if outputs else carried_h
        dz = dZ[t, n]
        di, df, do, dg = dz[0:M], dz[M:2 * M], dz[2 * M:3 * M], dz[3 * M:4 * M]
        for e in range(M):  # locals, one store each: the four outputs share dZ's memory
            dh = d_out[e] + carried_h[e] if outputs else carried_h[e]
            ie, fe, oe, ge, tce = i[e], f[e], o[e], g[e], tc[e]
            d_o = dh * tce
            dc = dh * oe
            dc = dc * (one - tce * tce)
            dc = dc + carried_c[e]
            d_i = dc * ge
            d_g = dc * ie
            d_f = dc * cp[e]
            carried_c[e] = dc * fe
            di[e] = d_i * ((one - ie) * ie)
            df[e] = d_f * ((one - fe) * fe)
            do[e] = d_o * ((one - oe) * oe)
            dg[e] = d_g * (one - ge * ge)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def gru_forward_step(A, t, R, b_in, b_rec, has_bias, UH, H, bits, f32, one):
    """One step of the reset-after GRU: with x W in A[:, t] (no bias yet), R = H[t] U (three
    gate blocks), b = b_in and b' = b_rec (Keras' order: x W + b first, then the recurrent
    term h U + b', as `recurrent_numpy._project` and the NumPy loop add them),
    z, r = σ((A[:2, t] + b[:2]) + (R[:2] + b'[:2]));  UH[t] = R[2] + b'[2];
    h̃ = tanh((A[2, t] + b[2]) + r·UH[t]);  H[t+1] = z·H[t] + (1 − z)·h̃   (all in place).
    Adding b here rather than in the projection saves a pass over A (GRU(128) on 128×28×28:
    0.17 ms a half-batch).

    Shapes: A (3, T, N, M) gate-major [z, r, h̃]; R (3, N, M); b_in, b_rec (3, M), added only
    when `has_bias` (adding zeros would turn −0 into +0, where Keras adds nothing); UH
    (T, N, M); H (T+1, N, M); bits int32 scratch of N·M; `one` is 1 in the arrays' dtype.
    """
    N, M = R.shape[1], R.shape[2]
    size = N * M
    for gate in range(2):
        a, r, bi, b = A[gate, t], R[gate], b_in[gate], b_rec[gate]
        for n in range(N):
            if has_bias:
                for m in range(M):
                    a[n, m] = (a[n, m] + bi[m]) + (r[n, m] + b[m])
            else:
                for m in range(M):
                    a[n, m] += r[n, m]
    for gate in range(2):
        _gate_sigmoid(A[gate, t].reshape(size), bits, f32)
    reset, hh2, r2, uh2, bi2, b2 = A[1, t], A[2, t], R[2], UH[t], b_in[2], b_rec[2]
    for n in range(N):
        if has_bias:
            for m in range(M):
                uh2[n, m] = r2[n, m] + b2[m]
                hh2[n, m] = (hh2[n, m] + bi2[m]) + reset[n, m] * uh2[n, m]
        else:
            for m in range(M):
                uh2[n, m] = r2[n, m]
                hh2[n, m] += reset[n, m] * uh2[n, m]
    z, hh = A[0, t].reshape(size), A[2, t].reshape(size)
    _gate_tanh(hh, f32)
    h_prev, h = H[t].reshape(size), H[t + 1].reshape(size)
    for e in range(size):
        h[e] = z[e] * h_prev[e] + (one - z[e]) * hh[e]


@nb.njit(cache=True, nogil=True, error_model="numpy")
def gru_backward_step(A, H, UH, dh, t, dA, dRh, dh_prev, one):
    """The elementwise part of BPTT through step t of the reset-after GRU, in place.

    Math (gates z, r, h̃ after activation; dh the cotangent of H[t+1]):
        dz = ((h_{t−1} − h̃)·dh)·((1 − z)·z);   dh̃ = ((1 − z)·dh)·(1 − h̃²)
        dr = (dh̃·UH[t])·((1 − r)·r);   dRh[t] = dh̃·r;   dh_prev = dh·z
    (the caller adds dRh[t] U_hᵀ and [dz, dr] U_{z,r}ᵀ to dh_prev).

    Shapes: A, dA (3, T, N, M); H (T+1, N, M); UH, dRh (T, N, M); dh, dh_prev (N, M).
    """
    size = dh.shape[0] * dh.shape[1]
    z, r, hh = A[0, t].reshape(size), A[1, t].reshape(size), A[2, t].reshape(size)
    dz, dr, dhh = dA[0, t].reshape(size), dA[1, t].reshape(size), dA[2, t].reshape(size)
    h_prev, uh, d_rh = H[t].reshape(size), UH[t].reshape(size), dRh[t].reshape(size)
    g, carried = dh.reshape(size), dh_prev.reshape(size)
    for e in range(size):
        dz[e] = (h_prev[e] - hh[e]) * g[e]
        dz[e] = dz[e] * ((one - z[e]) * z[e])
        dhh[e] = (one - z[e]) * g[e]
        dhh[e] = dhh[e] * (one - hh[e] * hh[e])
        carried[e] = g[e] * z[e]
        dr[e] = dhh[e] * uh[e]
        dr[e] = dr[e] * ((one - r[e]) * r[e])
        d_rh[e] = dhh[e] * r[e]
