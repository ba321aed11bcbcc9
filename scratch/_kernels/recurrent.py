"""Fast path of the recurrent layers (`scratch.layers.recurrent`).

`rnn_forward` / `rnn_backward` here have the signatures of the readable BPTT driver
(`scratch.layers.recurrent.rnn.rnn_forward` / `rnn_backward`) and compute the same numbers
for SimpleRNNCell, GRUCell (both variants) and LSTMCell; a test checks fast == readable.

What makes them fast:

* The input projection x_t W + b of all T steps is ONE batched GEMM before the loop; only
  h_{t−1} U (one batched GEMM over all gates) stays inside the loop.
* Gate-major storage: the pre-activations live in a (G, T, N, M) array, so every gate of a
  step is a contiguous (N, M) block. Elementwise NumPy on a column block of an (N, G·M)
  array costs several times more per element than on a contiguous block, and the gate
  math is most of a step (docs/PERFORMANCE.md §Recurrent gate math). The LSTM's gates are
  kept in the order [i, f, o, c] inside, so the
  three sigmoids are one call; the weights and gradients are permuted back to Keras' layout.
* Every temporary is preallocated (`out=`), activations run in place, states live in
  (T+1, N, M) arrays.
* BPTT stores the pre-activation cotangents of every step, so the weight gradients are
  batched GEMMs after the loop: dW = Xᵀ dZ, dU = H_prevᵀ dZ, dx = Σ_g dZ_g W_gᵀ, db = Σ dZ.

The transcendental functions of the gates cost about as much as the GEMM h·U (the
measurements are in docs/PERFORMANCE.md §Recurrent gate math). Numba's own exp and tanh are
slower than NumPy's (no SVML), so float64 keeps NumPy's functions (sigmoid as 1/(1 + exp(−z)),
in place), and float32 uses Eigen's approximations, written as Numba loops that vectorize
(`_kernels/activations.py`). The backward step has no transcendental left (σ' = y(1−y),
tanh' = 1−y² from the stored outputs): about 15 contiguous multiplies, small against its GEMM
at M = 128. On small layers (the course's LSTM(15)) the dozens of NumPy calls per step cost
more than the math, so the standard LSTM cell (σ gates, tanh, no mask) runs each step's gate
math as one fused Numba call (`lstm_forward_step` / `lstm_backward_step`).

NumPy 2.4.6 bug avoided here: in-place `np.negative(v, out=v)` on a strided view whose stride
is 16 bytes (float32; e.g. column M = 1 of an (N, 4M) block) or 32/64 bytes (float64) returns
wrong values, so negation is a multiply by −1.

Not covered (the layer falls back to the readable loop): recurrent_dropout (its per-gate masks
on h_{t−1}) and custom cells.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numba as nb
import numpy as np

from .. import activations
from ..typing import Array
from .activations import (
    logistic_finish_f32,
    logistic_reduce_f32,
    sigmoid_f32,
    tanh_f32,
    tanh_inplace_f32,
)

__all__ = ["supports", "rnn_forward", "rnn_backward"]

_Y_ONLY = ("sigmoid", "tanh", "linear", "relu")


# float32 σ and tanh: Eigen's approximations, TensorFlow's bits (`_kernels/activations.py`).


class _Act:
    """An activation applied in place to a block, with its derivative from the output y."""

    def __init__(self, act, dtype):
        name = activations.serialize(act)
        self.kind = name if isinstance(name, str) and name in _Y_ONLY else "generic"
        self.act = act
        self.f32 = np.dtype(dtype) == np.float32
        self._bits = np.empty(0, np.int32)

    @property
    def needs_input(self) -> bool:
        """Generic activations need their input z for the backward pass."""
        return self.kind == "generic"

    def apply(self, z: Array, out: Array) -> None:
        """out = act(z) (out may be z itself). float32 sigmoid/tanh blocks must be contiguous."""
        if self.kind == "sigmoid":
            if self.f32:
                if self._bits.size < z.size:
                    self._bits = np.empty(z.size, np.int32)
                sigmoid_f32(z, out, self._bits)
                return
            np.multiply(z, -1, out=out)  # not np.negative: see the module docstring
            np.exp(out, out=out)
            out += 1
            np.reciprocal(out, out=out)
        elif self.kind == "tanh":
            if self.f32:
                tanh_f32(z, out)
            else:
                np.tanh(z, out=out)
        elif self.kind == "linear":
            if out is not z:
                np.copyto(out, z)
        elif self.kind == "relu":
            np.maximum(z, 0, out=out)
        else:
            out[...] = self.act(z)

    def apply_blocks(self, blocks) -> None:
        """act in place on each contiguous gate block of a (G, N, M) view."""
        for block in blocks:
            self.apply(block, block)

    def grad(self, d: Array, y: Array, z: Array | None, tmp: Array) -> None:
        """d ← d ⊙ act'(z), in place, from the output y (z only for generic activations)."""
        if self.kind == "sigmoid":
            np.subtract(1, y, out=tmp)
            tmp *= y
            d *= tmp
        elif self.kind == "tanh":
            np.multiply(y, y, out=tmp)
            np.subtract(1, tmp, out=tmp)
            d *= tmp
        elif self.kind == "relu":
            d *= y > 0
        elif self.kind == "generic":
            d[...] = self.act.backward(d.copy(), z, y)


def _gate_acts(cell) -> tuple[_Act, _Act]:
    """(recurrent_activation, activation) of a gated cell as `_Act`s."""
    return _Act(cell.recurrent_activation, cell.dtype), _Act(cell.activation, cell.dtype)


class FastCache(NamedTuple):
    kind: str  # "simple_rnn", "gru", "lstm"
    x_shape: tuple  # (N, T, D)
    go_backwards: bool
    mask: Array | None  # (T, N, 1) bool, processing order
    zero_output_for_mask: bool
    xs: list  # inputs of the projection: [X] or per-gate [X ⊙ m_g], each (T·N, D)
    in_masks: tuple | None  # per-gate input dropout masks (Keras order) or None
    perm: tuple  # internal gate j holds Keras gate block perm[j]
    W: Array  # kernel, gate-major (G, D, M), internal order
    arrays: dict[str, Any]


def supports(cell, dropout) -> bool:
    """Whether the fast path covers this cell and these dropout masks."""
    from ..layers.recurrent import GRUCell, LSTMCell, SimpleRNNCell
    if type(cell) not in (SimpleRNNCell, GRUCell, LSTMCell):
        return False
    return dropout is None or dropout.recurrent is None


# ----------------------------------------------------------------------------- layouts
def _gate_major(w: Array, perm: tuple) -> Array:
    """(R, G·M) Keras layout → (G, R, M), internal gate j = Keras block perm[j]."""
    G = len(perm)
    R, M = w.shape[0], w.shape[1] // G
    return np.ascontiguousarray(w.reshape(R, G, M)[:, list(perm)].transpose(1, 0, 2))


def _keras_layout(d: Array, perm: tuple) -> Array:
    """Inverse of `_gate_major`: (G, R, M) → (R, G·M)."""
    G, R, M = d.shape
    out = np.empty((R, G, M), d.dtype)
    out[:, list(perm)] = d.transpose(1, 0, 2)
    return out.reshape(R, G * M)


def _bias_keras_layout(db: Array, perm: tuple) -> Array:
    """(G, M) internal order → (G·M,) Keras order."""
    out = np.empty_like(db)
    out[list(perm)] = db
    return out.reshape(-1)


def _time_major(x: Array, go_backwards: bool) -> Array:
    xt = x.transpose(1, 0, 2)
    return np.ascontiguousarray(xt[::-1] if go_backwards else xt)


def _project(xt: Array, W: Array, bias: Array | None, in_masks, perm, out: Array) -> list:
    """out (G, T, N, M) = X W_g + b_g for every gate and step at once.

    Returns the GEMM inputs used ([X], or [X ⊙ m_g] per internal gate) for dW.
    """
    T, N, D = xt.shape
    G, _, M = W.shape
    x2 = xt.reshape(T * N, D)
    o = out.reshape(G, T * N, M)
    if in_masks is None:
        np.matmul(x2, W, out=o)
        xs = [x2]
    elif all(m is in_masks[0] for m in in_masks):
        xm = (xt * in_masks[0]).reshape(T * N, D)
        np.matmul(xm, W, out=o)
        xs = [xm]
    else:
        xs = []
        for j in range(G):
            xm = (xt * in_masks[perm[j]]).reshape(T * N, D)
            np.matmul(xm, W[j], out=o[j])
            xs.append(xm)
    if bias is not None:
        out += bias.reshape(G, M)[list(perm), None, None, :]
    return xs


def _input_grads(dA: Array, cache: FastCache, need_dx: bool = True) -> tuple[Array, Any]:
    """(dW in Keras layout, dx (N, T, D) in input order, or None) from dA (G, T, N, M)."""
    N, T, D = cache.x_shape
    G, M = dA.shape[0], dA.shape[-1]
    dA3 = dA.reshape(G, T * N, M)
    W_T = cache.W.transpose(0, 2, 1)  # (G, M, D)
    if len(cache.xs) == 1:
        dW = np.matmul(cache.xs[0].T, dA3)
        if not need_dx:
            return _keras_layout(dW, cache.perm), None
        dX = np.matmul(dA3, W_T).sum(axis=0).reshape(T, N, D)
        if cache.in_masks is not None:
            dX *= cache.in_masks[0]
    else:
        dW = np.empty((G, D, M), dA.dtype)
        dX = np.zeros((T, N, D), dA.dtype)
        for j, xm in enumerate(cache.xs):
            np.matmul(xm.T, dA3[j], out=dW[j])
            if need_dx:
                dX += (dA3[j] @ W_T[j]).reshape(T, N, D) * cache.in_masks[cache.perm[j]]
        if not need_dx:
            return _keras_layout(dW, cache.perm), None
    if cache.go_backwards:
        dX = dX[::-1]
    return _keras_layout(dW, cache.perm), np.ascontiguousarray(dX.transpose(1, 0, 2))


# ----------------------------------------------------------------------------- time mask
def _masked_update(t: int, mask, new: Array, states: Array) -> None:
    """states[t+1] = m ? new : states[t]."""
    np.copyto(states[t + 1], states[t])
    np.copyto(states[t + 1], new, where=mask[t])


def _masked_output(t: int, mask, new: Array, outputs: Array, zero_output: bool) -> None:
    """outputs[t] = m ? new : (0 if zero_output else outputs[t−1]; outputs[−1] = 0)."""
    if zero_output or t == 0:
        outputs[t] = 0
    else:
        np.copyto(outputs[t], outputs[t - 1])
    np.copyto(outputs[t], new, where=mask[t])


class _Carry:
    """Cotangents carried backwards through the time mask (see rnn.py's BPTT equations)."""

    def __init__(self, cache: FastCache, d_outputs, N: int, M: int, dtype):
        self.mask = cache.mask
        self.zero_output = cache.zero_output_for_mask
        self.dO = None if d_outputs is None else d_outputs.transpose(1, 0, 2)  # (T, N, M)
        self.g_out = np.zeros((N, M), dtype) if self.mask is not None else None
        self.g = np.empty((N, M), dtype)

    def split_state(self, t: int, g_state: Array) -> tuple[Array, Array | None]:
        """(the part of a state cotangent reaching the cell, the part carried past it)."""
        if self.mask is None:
            return g_state, None
        m = self.mask[t]
        return g_state * m, g_state * ~m

    def new_h(self, t: int, g_state: Array) -> Array:
        """The cotangent of step t's new h; updates the carried output cotangent."""
        g = self.g
        if self.mask is None:
            if self.dO is None:
                np.copyto(g, g_state)
            else:
                np.add(self.dO[t], g_state, out=g)
            return g
        m = self.mask[t]
        total = self.g_out if self.dO is None else self.g_out + self.dO[t]
        np.add(total, g_state, out=g)
        g *= m
        if self.zero_output:
            self.g_out[...] = 0
        else:
            np.multiply(total, ~m, out=self.g_out)
        return g


def _zeros_or(d, shape, dtype) -> Array:
    return np.zeros(shape, dtype) if d is None else np.asarray(d, dtype=dtype)


def _begin(cell, x, go_backwards, dropout, perm):
    """Shared set-up: time-major x, gate-major weights, the projection buffer."""
    p = cell.params
    xt = _time_major(x, go_backwards)
    W = _gate_major(p["kernel"], perm)
    U = _gate_major(p["recurrent_kernel"], perm)
    return p, xt, W, U, None if dropout is None else dropout.inputs


# ----------------------------------------------------------------------------- SimpleRNN
def _simple_rnn_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    perm = (0,)
    p, xt, W, U, in_masks = _begin(cell, x, go_backwards, dropout, perm)
    act = _Act(cell.activation, cell.dtype)
    T, N, _ = xt.shape
    M = cell.units
    H = np.empty((T + 1, N, M), x.dtype)  # carried states, H[0] = h0
    H[0] = states[0]
    Y = H[1:] if mask is None else np.empty((T, N, M), x.dtype)  # raw outputs act(z_t)
    xs = _project(xt, W, p.get("bias"), in_masks, perm, Y[None])
    Z = np.empty_like(Y) if act.needs_input else None
    O = None if mask is None else np.empty((T, N, M), x.dtype)
    tmp = np.empty((N, M), x.dtype)
    for t in range(T):
        y = Y[t]
        np.matmul(H[t], U[0], out=tmp)
        y += tmp
        if Z is not None:
            Z[t] = y
        act.apply(y, y)
        if mask is not None:
            _masked_update(t, mask, y, H)
            _masked_output(t, mask, y, O, zero_output)
    cache = FastCache("simple_rnn", x.shape, go_backwards, mask, zero_output, xs, in_masks,
                      perm, W, {"H": H, "Y": Y, "Z": Z, "U": U})
    return (H[1:] if O is None else O).transpose(1, 0, 2), [H[T].copy()], cache


def _simple_rnn_backward(cell, d_outputs, d_states, cache, need_dx=True):
    act = _Act(cell.activation, cell.dtype)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    H, Y, Z, U = (cache.arrays[k] for k in ("H", "Y", "Z", "U"))
    U_T = np.ascontiguousarray(U[0].T)
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    dA = np.empty((1, T, N, M), dtype)
    tmp = np.empty((N, M), dtype)
    for t in range(T - 1, -1, -1):
        g_in, g_past = carry.split_state(t, g_h)
        da = dA[0, t]
        np.copyto(da, carry.new_h(t, g_in))
        act.grad(da, Y[t], None if Z is None else Z[t], tmp)
        g_h = da @ U_T
        if g_past is not None:
            g_h += g_past
    dW, dx = _input_grads(dA, cache, need_dx)
    dA2 = dA.reshape(T * N, M)
    grads = {"kernel": dW, "recurrent_kernel": H[:T].reshape(T * N, M).T @ dA2}
    if "bias" in cell.params:
        grads["bias"] = dA2.sum(axis=0)
    return dx, [g_h], grads


# ----------------------------------------------------------------------------- GRU
def _gru_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    perm = (0, 1, 2)  # [z, r, h̃] as in Keras
    p, xt, W, U, in_masks = _begin(cell, x, go_backwards, dropout, perm)
    rec, act = _gate_acts(cell)
    T, N, _ = xt.shape
    M, dtype = cell.units, x.dtype
    bias = p.get("bias")
    b_in = None if bias is None else (bias[0] if cell.reset_after else bias)
    b_rec = bias[1].reshape(3, 1, M) if bias is not None and cell.reset_after else None
    A = np.empty((3, T, N, M), dtype)  # pre-activations, then gate values [z, r, h̃]
    xs = _project(xt, W, b_in, in_masks, perm, A)
    Z = np.empty_like(A) if rec.needs_input or act.needs_input else None
    H = np.empty((T + 1, N, M), dtype)
    H[0] = states[0]
    UH = np.empty((T, N, M), dtype)  # reset_after: h U_h + b'_h; otherwise r ⊙ h_{t−1}
    O = None if mask is None else np.empty((T, N, M), dtype)
    R = np.empty((3, N, M), dtype)
    tmp = np.empty((N, M), dtype)
    h_new = np.empty((N, M), dtype) if mask is not None else None
    for t in range(T):
        a = A[:, t]
        zr, (z, r, hh) = a[:2], a
        if cell.reset_after:
            np.matmul(H[t], U, out=R)
            if b_rec is not None:
                R += b_rec
            zr += R[:2]
        else:
            np.matmul(H[t], U[:2], out=R[:2])
            zr += R[:2]
        if Z is not None:
            Z[:2, t] = zr
        rec.apply_blocks(zr)
        if cell.reset_after:
            UH[t] = R[2]
            np.multiply(r, UH[t], out=tmp)
        else:
            np.multiply(r, H[t], out=UH[t])
            np.matmul(UH[t], U[2], out=tmp)
        hh += tmp
        if Z is not None:
            Z[2, t] = hh
        act.apply(hh, hh)
        h = H[t + 1] if mask is None else h_new
        np.multiply(z, H[t], out=h)  # h = z ⊙ h_{t−1} + (1 − z) ⊙ h̃
        np.subtract(1, z, out=tmp)
        tmp *= hh
        h += tmp
        if mask is not None:
            _masked_update(t, mask, h, H)
            _masked_output(t, mask, h, O, zero_output)
    cache = FastCache("gru", x.shape, go_backwards, mask, zero_output, xs, in_masks, perm, W,
                      {"A": A, "Z": Z, "H": H, "UH": UH, "U": U})
    return (H[1:] if O is None else O).transpose(1, 0, 2), [H[T].copy()], cache


def _gru_backward(cell, d_outputs, d_states, cache, need_dx=True):
    rec, act = _gate_acts(cell)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    A, Z, H, UH, U = (cache.arrays[k] for k in ("A", "Z", "H", "UH", "U"))
    U_T = np.ascontiguousarray(U.transpose(0, 2, 1))
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    dA = np.empty((3, T, N, M), dtype)  # cotangents of the input-side pre-activations
    dRh = np.empty((T, N, M), dtype) if cell.reset_after else None  # of h U_h + b'_h
    R = np.empty((2, N, M), dtype)
    tmp = np.empty((N, M), dtype)
    d_rh = np.empty((N, M), dtype)
    for t in range(T - 1, -1, -1):
        g_in, g_past = carry.split_state(t, g_h)
        g = carry.new_h(t, g_in)
        (z, r, hh), (dz, dr, dhh) = A[:, t], dA[:, t]
        zt = (None, None, None) if Z is None else Z[:, t]
        np.subtract(H[t], hh, out=dz)  # dz = g ⊙ (h_{t−1} − h̃), then through σ
        dz *= g
        rec.grad(dz, z, zt[0], tmp)
        np.subtract(1, z, out=dhh)  # dh̃ = g ⊙ (1 − z), then through act
        dhh *= g
        act.grad(dhh, hh, zt[2], tmp)
        g_new = g * z
        if cell.reset_after:
            np.multiply(dhh, UH[t], out=dr)
            rec.grad(dr, r, zt[1], tmp)
            np.multiply(dhh, r, out=dRh[t])
            g_new += dRh[t] @ U_T[2]
        else:
            np.matmul(dhh, U_T[2], out=d_rh)  # cotangent of r ⊙ h_{t−1}
            np.multiply(d_rh, H[t], out=dr)
            rec.grad(dr, r, zt[1], tmp)
            d_rh *= r
            g_new += d_rh
        np.matmul(dA[:2, t], U_T[:2], out=R)
        g_new += R[0]
        g_new += R[1]
        g_h = g_new if g_past is None else g_new + g_past
    dW, dx = _input_grads(dA, cache, need_dx)
    H2 = H[:T].reshape(T * N, M)
    dU = np.empty((3, M, M), dtype)
    np.matmul(H2.T, dA[:2].reshape(2, T * N, M), out=dU[:2])
    if cell.reset_after:
        np.matmul(H2.T, dRh.reshape(T * N, M), out=dU[2])
    else:
        np.matmul(UH.reshape(T * N, M).T, dA[2].reshape(T * N, M), out=dU[2])
    grads = {"kernel": dW, "recurrent_kernel": _keras_layout(dU, cache.perm)}
    if "bias" in cell.params:
        db = dA.sum(axis=(1, 2)).reshape(-1)
        if cell.reset_after:
            db_h = db.copy()
            db_h[2 * M:] = dRh.sum(axis=(0, 1))
            grads["bias"] = np.stack([db, db_h])
        else:
            grads["bias"] = db
    return dx, [g_h], grads


# ----------------------------------------------------------------------------- LSTM
_LSTM_ORDER = (0, 1, 3, 2)  # internal [i, f, o, c]: the three sigmoid gates are contiguous


# Fused steps: for the standard cell (sigmoid gates, tanh), unmasked, the elementwise math of a
# whole step is one Numba call, so a step costs one GEMM plus one call instead of about a
# dozen NumPy calls (twenty in the backward). On small layers (the course's LSTM(15) over 189
# words: blocks of 128 × 15) those calls were most of the time. The kernels do the operations
# of the NumPy step below them in the same order, with the same float32 activations, so in
# float32 the results are the same bits; in float64 the kernel's tanh is the C library's and
# NumPy's is its own SIMD routine, so they agree to rounding (tests/test_lstm.py checks both).
# The measurement is in docs/PERFORMANCE.md §Recurrent gate math.
@nb.njit(cache=True, error_model="numpy")
def _gate_sigmoid(block, bits, f32):
    """block ← σ(block) in place: Eigen's float32 σ, or 1/(1 + exp(−z)) in float64."""
    if f32:
        logistic_reduce_f32(block, bits)
        logistic_finish_f32(block, bits.view(np.float32))
    else:
        for k in range(block.size):
            block[k] = 1.0 / (np.exp(block[k] * -1.0) + 1.0)


@nb.njit(cache=True, error_model="numpy")
def _gate_tanh(block, f32):
    """block ← tanh(block) in place: Eigen's float32 tanh, or np.tanh in float64."""
    if f32:
        tanh_inplace_f32(block)
    else:
        for k in range(block.size):
            block[k] = np.tanh(block[k])


@nb.njit(cache=True, error_model="numpy")
def lstm_forward_step(A, t, R, C, TC, H, bits, f32):
    """One step: a = A[:, t] + R;  i, f, o = σ(a[:3]);  g = tanh(a[3]);
    C[t+1] = f·C[t] + i·g;  TC[t] = tanh(C[t+1]);  H[t+1] = o·TC[t]   (all in place).

    Shapes: A (4, T, N, M) gate-major [i, f, o, g]; R (4, N, M) = H[t] U; C, H (T+1, N, M);
    TC (T, N, M); bits int32 scratch of N·M.
    """
    size = R.shape[1] * R.shape[2]
    for k in range(4):
        a = A[k, t].reshape(size)
        r = R[k].reshape(size)
        for e in range(size):
            a[e] += r[e]
    for k in range(3):
        _gate_sigmoid(A[k, t].reshape(size), bits, f32)
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


@nb.njit(cache=True, error_model="numpy")
def lstm_backward_step(A, C, TC, dO, t, g_h, g_c, dA, one):
    """BPTT through step t (see `_lstm_backward`), in place: dA[:, t] and the carried g_c.

    Math (gates i, f, o, g after activation; tc = tanh(c_t); dh = g_h + dO[t]):
        do = dh·tc;  dc = (dh·o)·((1 − tc²)) + g_c;  di = dc·g;  dg = dc·i;  df = dc·c_{t−1}
        g_c ← dc·f;  di, df, do ×= (1 − y)·y;  dg ×= 1 − g²

    Shapes: A, dA (4, T, N, M); C (T+1, N, M); TC (T, N, M); dO (T, N, M) or (0, N, M)
    when the layer returns only its last output; g_h, g_c (N, M); `one` is 1 in their dtype
    (a literal 1 would make float32 arithmetic float64).
    """
    size = g_h.shape[0] * g_h.shape[1]
    i, f, o, g = (A[0, t].reshape(size), A[1, t].reshape(size), A[2, t].reshape(size),
                  A[3, t].reshape(size))
    di, df, do, dg = (dA[0, t].reshape(size), dA[1, t].reshape(size),
                      dA[2, t].reshape(size), dA[3, t].reshape(size))
    tc, c_prev = TC[t].reshape(size), C[t].reshape(size)
    gh, gc = g_h.reshape(size), g_c.reshape(size)
    outputs = dO.shape[0] > 0
    d_out = dO[t].reshape(size) if outputs else gh
    for e in range(size):
        dh = d_out[e] + gh[e] if outputs else gh[e]
        do[e] = dh * tc[e]
        dc = dh * o[e]
        dc = dc * (one - tc[e] * tc[e])
        dc = dc + gc[e]
        di[e] = dc * g[e]
        dg[e] = dc * i[e]
        df[e] = dc * c_prev[e]
        gc[e] = dc * f[e]
        di[e] = di[e] * ((one - i[e]) * i[e])
        df[e] = df[e] * ((one - f[e]) * f[e])
        do[e] = do[e] * ((one - o[e]) * o[e])
        dg[e] = dg[e] * (one - g[e] * g[e])


def _lstm_fusable(rec: _Act, act: _Act, mask, Z) -> bool:
    return rec.kind == "sigmoid" and act.kind == "tanh" and mask is None and Z is None


def _lstm_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    perm = _LSTM_ORDER
    p, xt, W, U, in_masks = _begin(cell, x, go_backwards, dropout, perm)
    rec, act = _gate_acts(cell)
    T, N, _ = xt.shape
    M, dtype = cell.units, x.dtype
    A = np.empty((4, T, N, M), dtype)  # pre-activations, then gates [i, f, o, g]
    xs = _project(xt, W, p.get("bias"), in_masks, perm, A)
    Z = np.empty_like(A) if rec.needs_input or act.needs_input else None
    H = np.empty((T + 1, N, M), dtype)
    C = np.empty((T + 1, N, M), dtype)
    H[0], C[0] = states
    TC = np.empty((T, N, M), dtype)  # act(c_t)
    CR = np.empty((T, N, M), dtype) if act.needs_input or mask is not None else None
    O = None if mask is None else np.empty((T, N, M), dtype)
    R = np.empty((4, N, M), dtype)
    tmp = np.empty((N, M), dtype)
    h_new = np.empty((N, M), dtype) if mask is not None else None
    fused = _lstm_fusable(rec, act, mask, Z)
    if fused:
        bits = np.empty(N * M, np.int32)
        f32 = dtype == np.float32
        for t in range(T):
            np.matmul(H[t], U, out=R)
            lstm_forward_step(A, t, R, C, TC, H, bits, f32)
    for t in range(0 if fused else T):
        a = A[:, t]
        np.matmul(H[t], U, out=R)
        a += R
        if Z is not None:
            Z[:, t] = a
        rec.apply_blocks(a[:3])
        act.apply(a[3], a[3])
        i, f, o, g = a
        c = C[t + 1] if CR is None else CR[t]
        np.multiply(f, C[t], out=c)  # c = f ⊙ c_{t−1} + i ⊙ g
        np.multiply(i, g, out=tmp)
        c += tmp
        act.apply(c, TC[t])
        h = H[t + 1] if mask is None else h_new
        np.multiply(o, TC[t], out=h)
        if mask is not None:
            _masked_update(t, mask, c, C)
            _masked_update(t, mask, h, H)
            _masked_output(t, mask, h, O, zero_output)
        elif CR is not None:
            C[t + 1] = c
    cache = FastCache("lstm", x.shape, go_backwards, mask, zero_output, xs, in_masks, perm, W,
                      {"A": A, "Z": Z, "H": H, "C": C, "TC": TC, "CR": CR, "U": U})
    return ((H[1:] if O is None else O).transpose(1, 0, 2), [H[T].copy(), C[T].copy()],
            cache)


def _lstm_backward(cell, d_outputs, d_states, cache, need_dx=True):
    rec, act = _gate_acts(cell)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    A, Z, H, C, TC, CR, U = (cache.arrays[k] for k in ("A", "Z", "H", "C", "TC", "CR", "U"))
    U_T = np.ascontiguousarray(U.transpose(0, 2, 1))
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    g_c = _zeros_or(d_states[1], (N, M), dtype)
    dA = np.empty((4, T, N, M), dtype)
    R = np.empty((4, N, M), dtype)
    dc = np.empty((N, M), dtype)
    tmp = np.empty((N, M), dtype)
    tmp3 = np.empty((3, N, M), dtype)
    fused = _lstm_fusable(rec, act, cache.mask, Z)
    if fused:
        g_h, g_c = g_h.copy(), g_c.copy()  # updated in place (they may be the caller's)
        dO = np.empty((0, N, M), dtype) if carry.dO is None else \
            np.ascontiguousarray(carry.dO, dtype=dtype)
        one = np.dtype(dtype).type(1)
        for t in range(T - 1, -1, -1):
            lstm_backward_step(A, C, TC, dO, t, g_h, g_c, dA, one)
            np.matmul(dA[:, t], U_T, out=R)  # dh_{t−1} = Σ_gates dz U_gateᵀ
            np.add.reduce(R, axis=0, out=g_h)
    for t in range(-1 if fused else T - 1, -1, -1):
        h_in, h_past = carry.split_state(t, g_h)
        c_in, c_past = carry.split_state(t, g_c)
        gh = carry.new_h(t, h_in)
        a, da = A[:, t], dA[:, t]
        (i, f, o, g), (di, df, do, dg) = a, da
        np.multiply(gh, TC[t], out=do)  # do = dh ⊙ act(c)
        np.multiply(gh, o, out=dc)  # dc = c_in + act'(c) ⊙ dh ⊙ o
        act.grad(dc, TC[t], None if CR is None else CR[t], tmp)
        dc += c_in
        np.multiply(dc, g, out=di)
        np.multiply(dc, i, out=dg)
        np.multiply(dc, C[t], out=df)
        g_c = dc * f
        if c_past is not None:
            g_c += c_past
        if Z is None:
            rec.grad(da[:3], a[:3], None, tmp3)
            act.grad(dg, g, None, tmp)
        else:
            for k in range(3):
                rec.grad(da[k], a[k], Z[k, t], tmp)
            act.grad(dg, g, Z[3, t], tmp)
        np.matmul(da, U_T, out=R)  # dh_{t−1} = Σ_gates dz U_gateᵀ
        g_h = R.sum(axis=0)
        if h_past is not None:
            g_h += h_past
    dW, dx = _input_grads(dA, cache, need_dx)
    H2 = H[:T].reshape(T * N, M)
    dU = np.matmul(H2.T, dA.reshape(4, T * N, M))
    grads = {"kernel": dW, "recurrent_kernel": _keras_layout(dU, cache.perm)}
    if "bias" in cell.params:
        grads["bias"] = _bias_keras_layout(dA.sum(axis=(1, 2)), cache.perm)
    return dx, [g_h, g_c], grads


# ----------------------------------------------------------------------------- dispatch
_FORWARD = {"SimpleRNNCell": _simple_rnn_forward, "GRUCell": _gru_forward,
            "LSTMCell": _lstm_forward}
_BACKWARD = {"simple_rnn": _simple_rnn_backward, "gru": _gru_backward, "lstm": _lstm_backward}

# Batch parallelism: the sequences of a batch never interact, so the batch can be cut into
# chunks that run the whole time loop (forward or BPTT) in parallel threads; NumPy and BLAS
# release the GIL. Off by default (the project's machines are shared: one thread each).
_THREADS = 1
_POOLS: dict[int, Any] = {}
MIN_ROWS_PER_THREAD = 16
MIN_WORK_PER_STEP = 2 ** 14  # N · G · M: below this a step is Python overhead, not math


def set_threads(n: int) -> None:
    """Run the fast path of big batches in `n` threads (1 = off, the default).

    Each thread takes a contiguous chunk of the batch through the whole sequence, so the
    results are those of one thread up to the summation order of the weight gradients
    (chunks' gradients are added). Pair it with one BLAS thread
    (`scratch._threads.limit_blas_threads(1)`) to avoid oversubscribing the cores.

    Raises:
        ValueError: if `n` is not a positive integer.
    """
    global _THREADS
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"set_threads expected a positive integer. Received: n={n!r}")
    _THREADS = n


def get_threads() -> int:
    return _THREADS


def _pool(n: int):
    if n not in _POOLS:
        from concurrent.futures import ThreadPoolExecutor
        _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="scratch-rnn")
    return _POOLS[n]


def _chunk_count(cell, N: int) -> int:
    work = N * cell.params["recurrent_kernel"].shape[1]
    n = min(_THREADS, N // MIN_ROWS_PER_THREAD)
    return n if n > 1 and work >= MIN_WORK_PER_STEP else 1


class SplitCache(NamedTuple):
    """The caches of a batch run in chunks (one per thread)."""

    slices: list
    caches: list
    x_shape: tuple


def _split_dropout(dropout, s: slice):
    if dropout is None or dropout.inputs is None:
        return dropout
    chunks: dict[int, Array] = {}
    inputs = tuple(chunks.setdefault(id(m), m[s]) for m in dropout.inputs)
    return type(dropout)(inputs, dropout.recurrent)


def _one_blas_thread():
    """A context running BLAS on one thread (a no-op when it already does).

    The per-step GEMMs of a recurrent layer are small (N × M by M × G·M): one BLAS thread is
    fastest for them, and two threads collapse when another process holds a core
    (docs/PERFORMANCE.md §BLAS threads, with an LSTM train step among the measurements). The
    recurrent layers get their parallelism from `set_threads` (whole batch chunks) instead.
    """
    from .._threads import scoped_blas_threads

    return scoped_blas_threads(1)


def _forward_one(cell, x, states, go_backwards, time_mask, zero_output, dropout):
    mask = None
    if time_mask is not None:
        m = np.asarray(time_mask, dtype=bool).T[:, :, None]
        mask = np.ascontiguousarray(m[::-1] if go_backwards else m)
    with np.errstate(over="ignore"):
        return _FORWARD[type(cell).__name__](cell, x, list(states), go_backwards, mask,
                                             zero_output, dropout)


def rnn_forward(cell, x: Array, initial_states: list[Array], *, go_backwards: bool = False,
                time_mask: Array | None = None, zero_output_for_mask: bool = False,
                dropout=None):
    """Fast twin of `scratch.layers.recurrent.rnn.rnn_forward` (same arguments and results).

    Returns:
        (outputs (N, T, M) in processing order, final states, cache).
    """
    with _one_blas_thread():
        return _rnn_forward(cell, x, initial_states, go_backwards, time_mask,
                            zero_output_for_mask, dropout)


def _rnn_forward(cell, x, initial_states, go_backwards, time_mask, zero_output_for_mask,
                 dropout):
    N = x.shape[0]
    n = _chunk_count(cell, N)
    if n == 1:
        return _forward_one(cell, x, initial_states, go_backwards, time_mask,
                            zero_output_for_mask, dropout)
    bounds = np.linspace(0, N, n + 1).astype(int)
    slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    jobs = [(cell, x[s], [st[s] for st in initial_states], go_backwards,
             None if time_mask is None else time_mask[s], zero_output_for_mask,
             _split_dropout(dropout, s)) for s in slices]
    results = list(_pool(n).map(lambda job: _forward_one(*job), jobs))
    outputs = np.concatenate([r[0] for r in results], axis=0)
    finals = [np.concatenate([r[1][k] for r in results], axis=0)
              for k in range(len(initial_states))]
    return outputs, finals, SplitCache(slices, [r[2] for r in results], x.shape)


def rnn_backward(cell, d_outputs: Array | None, d_final_states: list, cache,
                 need_dx: bool = True):
    """Fast twin of `scratch.layers.recurrent.rnn.rnn_backward`: (dx, d_initial_states, grads).

    With need_dx=False the input gradient is not computed (dx is None).
    """
    with _one_blas_thread():
        return _rnn_backward(cell, d_outputs, d_final_states, cache, need_dx)


def _rnn_backward(cell, d_outputs, d_final_states, cache, need_dx):
    if not isinstance(cache, SplitCache):
        return _BACKWARD[cache.kind](cell, d_outputs, list(d_final_states), cache, need_dx)
    jobs = [(cell, None if d_outputs is None else d_outputs[s],
             [None if d is None else d[s] for d in d_final_states], c, need_dx)
            for s, c in zip(cache.slices, cache.caches, strict=True)]
    results = list(_pool(len(jobs)).map(lambda job: _BACKWARD[job[3].kind](*job), jobs))
    dx = np.concatenate([r[0] for r in results], axis=0) if need_dx else None
    d_init = [np.concatenate([r[1][k] for r in results], axis=0)
              for k in range(len(results[0][1]))]
    grads = {k: sum(r[2][k] for r in results[1:]) + results[0][2][k] for k in results[0][2]}
    return dx, d_init, grads
