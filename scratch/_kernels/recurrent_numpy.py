"""The NumPy part of the recurrent fast path: gate-major time loops for SimpleRNN, GRU, LSTM.

`forward` / `backward` functions here, one pair per cell, run the whole sequence and compute
the numbers of the readable BPTT driver (`scratch.layers.recurrent.rnn.rnn_forward` /
`rnn_backward`) for SimpleRNNCell, GRUCell (both variants) and LSTMCell; `recurrent.py` picks
them, splits big batches between threads, and a test checks fast == readable.

What makes them fast:

* The input projection x_t W + b of all T steps is ONE batched GEMM before the loop; only
  h_{t−1} U (one batched GEMM over all gates) stays inside the loop.
* Gate-major storage: the pre-activations live in a (G, T, N, M) array, so every gate of a
  step is a contiguous (N, M) block. Elementwise NumPy on a column block of an (N, G·M)
  array costs several times more per element than on a contiguous block, and the gate
  math is most of a step (docs/PERFORMANCE.md §Recurrent gate math). The LSTM's gates are
  kept in the order [i, f, o, c] inside, so the three sigmoids sit side by side; the weights
  and gradients are permuted back to Keras' layout.
* Every temporary of the SimpleRNN and GRU steps is preallocated (`out=`), activations run in
  place, states live in (T+1, N, M) arrays.
* BPTT stores the pre-activation cotangents of every step, so the weight gradients are
  batched GEMMs after the loop: dW = Xᵀ dZ, dU = H_prevᵀ dZ, dx = Σ_g dZ_g W_gᵀ, db = 1ᵀ dZ
  (a GEMV). The LSTM stores them with its four gates side by side, (T, N, 4M), so that each
  step's h_{t−1} U, its dh_{t−1} = dZ_t Uᵀ and every product after the loop is ONE GEMM of
  4M columns (K = 4M for dh) instead of four of M columns plus a sum; the forward's h_{t−1} U
  is one GEMM into an (N, 4M) block too. For narrow layers (the course's LSTM(15) over 189
  words) that took its train step from 25 to 19 ms; the GRU gets the same products after the
  loop from a side-by-side copy when it has fewer than 64 units (`_side_by_side`; the
  SimpleRNN's one gate is one GEMM already).

The transcendental functions of the gates cost about as much as the GEMM h·U (the
measurements are in docs/PERFORMANCE.md §Recurrent gate math). Numba's own exp and tanh are
slower than NumPy's (no SVML), so float64 keeps NumPy's functions (sigmoid as 1/(1 + exp(−z)),
in place), and float32 uses Eigen's approximations, written as Numba loops that vectorize
(`_kernels/activations.py`); `_Act` applies either. The backward step has no transcendental
left (σ' = y(1−y), tanh' = 1−y² from the stored outputs).

The LSTM's gate math is not written here: the standard cell (σ gates, tanh) without a mask
runs each step's gate equations as one Numba call (`recurrent_numba.py`); every other LSTM
runs the readable step's gate equations (`lstm_gates_forward` / `lstm_gates_backward` in
`scratch/layers/recurrent/lstm.py`) on this module's gate-major blocks, with `_Act` as its
activations.

NumPy 2.4.6 bug avoided here: in-place `np.negative(v, out=v)` on a strided view whose stride
is 16 bytes (float32; e.g. column M = 1 of an (N, 4M) block) or 32/64 bytes (float64) returns
wrong values, so negation is a multiply by −1.

Not covered (the layer falls back to the readable loop): recurrent_dropout (its per-gate masks
on h_{t−1}) and custom cells.

The module is longer than the project's 500 lines because the three cells' loops, forward and
backward, share every helper above them (the gate-major layouts, the projection, the time-mask
carry, `_Act`): split by cell, each part would import most of the others.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import activations
from ..layers.recurrent.lstm import LSTMGates, lstm_gates_backward, lstm_gates_forward
from ..typing import Array
from .activations import sigmoid_f32, tanh_f32
from .recurrent_numba import (
    gru_backward_step,
    gru_forward_step,
    lstm_backward_step,
    lstm_forward_step,
)

__all__ = ["FastCache", "simple_rnn_forward", "simple_rnn_backward", "gru_forward",
           "gru_backward", "lstm_forward", "lstm_backward"]

_Y_ONLY = ("sigmoid", "tanh", "linear", "relu")


class _Act:
    """A cell's activation on the fast path, with its derivative from the output y.

    `apply` / `grad` work in place on a gate block (the SimpleRNN and GRU loops); `__call__`
    and `backward` are the same arithmetic with the interface of `scratch.activations`, for
    the readable LSTM gate equations. float32 σ and tanh are Eigen's approximations
    (`_kernels/activations.py`: TensorFlow's bits), float64 σ is 1/(1 + exp(−z)).
    """

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

    def __call__(self, z: Array) -> Array:
        """act(z) as a new array."""
        out = np.empty_like(z)
        self.apply(z, out)
        return out

    def backward(self, dy: Array, z: Array | None, y: Array) -> Array:
        """dy ⊙ act'(z) as a new array, from the output y (z only for generic activations)."""
        d = dy.copy()
        self.grad(d, y, z, np.empty_like(d))
        return d


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
    fused: bool = False  # an LSTM that ran the fused Numba steps


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


NARROW_UNITS = 64  # below this many units the post-loop products run on the gates side by side


def _side_by_side(dA: Array) -> Array | None:
    """(G, T, N, M) gate-major cotangents → a (T·N, G·M) copy with the gates' columns side by
    side, for a layer of fewer than `NARROW_UNITS` units (None otherwise).

    After the time loop every weight gradient is a product over all T·N rows. Per gate, a
    narrow layer's products have M columns each (the course's LSTM(15): 4 GEMMs of 15
    columns); side by side they are one GEMM of G·M columns, which BLAS runs far better:
    dW, dx, dU and db of that LSTM over 189 words and 128 texts took 3.6 ms this way against
    8.4 ms per gate, the copy included. From 64 units on, the per-gate products are as fast
    and the copy is not worth it (docs/PERFORMANCE.md §Recurrent gate math).
    """
    G, T, N, M = dA.shape
    if M >= NARROW_UNITS:
        return None
    return np.ascontiguousarray(dA.reshape(G, T * N, M).transpose(1, 0, 2)).reshape(T * N, G * M)


def _weight_grad(rows: Array, dA: Array, dZ: Array | None) -> Array:
    """rowsᵀ · dz per gate, (G, K, M) gate-major, for rows (T·N, K): per gate, or from the
    gates side by side (`_side_by_side`) when dZ is given."""
    G, M = dA.shape[0], dA.shape[-1]
    if dZ is None:
        return np.matmul(rows.T, dA.reshape(G, -1, M))
    return (rows.T @ dZ).reshape(rows.shape[1], G, M).transpose(1, 0, 2)


def _column_sums(a: Array) -> Array:
    """1ᵀ·a over the rows of each gate block, (…, R, M) → (…, M), as BLAS GEMVs: NumPy's sum
    over the rows runs its inner loop over the M columns only, several times slower for a
    narrow layer (the bias gradient of the course's LSTM(15) over 189 words took 1.9 ms)."""
    return np.matmul(np.ones(a.shape[-2], a.dtype), a)


def _input_grads(dA: Array, cache: FastCache, need_dx: bool = True,
                 dZ: Array | None = None) -> tuple[Array, Any]:
    """(dW in Keras layout, dx (N, T, D) in input order, or None) from dA (G, T, N, M), or
    from its gates side by side `dZ` (`_side_by_side`) when given."""
    N, T, D = cache.x_shape
    G, M = dA.shape[0], dA.shape[-1]
    dA3 = dA.reshape(G, T * N, M)
    if len(cache.xs) == 1:
        dW = _weight_grad(cache.xs[0], dA, dZ)
        if not need_dx:
            return _keras_layout(dW, cache.perm), None
        if dZ is None:
            dX = np.matmul(dA3, cache.W.transpose(0, 2, 1)).sum(axis=0).reshape(T, N, D)
        else:  # one GEMM: dz (T·N, G·M) by the gates' W side by side, transposed
            W_side = cache.W.transpose(1, 0, 2).reshape(D, G * M)
            dX = (dZ @ W_side.T).reshape(T, N, D)
        if cache.in_masks is not None:
            dX *= cache.in_masks[0]
    else:
        W_T = cache.W.transpose(0, 2, 1)  # (G, M, D)
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


def _keras_order(blocks, perm: tuple) -> list:
    """The gate blocks of a gate-major (G, …) array as a list in Keras' gate order."""
    out = [None] * len(perm)
    for j, keras_index in enumerate(perm):
        out[keras_index] = blocks[j]
    return out


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
        self.dh = np.empty((N, M), dtype)  # the cotangent of the step's new h

    def split_state(self, t: int, g_state: Array) -> tuple[Array, Array | None]:
        """(the part of a state cotangent reaching the cell, the part carried past it)."""
        if self.mask is None:
            return g_state, None
        m = self.mask[t]
        return g_state * m, g_state * ~m

    def new_h(self, t: int, g_state: Array) -> Array:
        """The cotangent of step t's new h; updates the carried output cotangent."""
        dh = self.dh
        if self.mask is None:
            if self.dO is None:
                np.copyto(dh, g_state)
            else:
                np.add(self.dO[t], g_state, out=dh)
            return dh
        m = self.mask[t]
        total = self.g_out if self.dO is None else self.g_out + self.dO[t]
        np.add(total, g_state, out=dh)
        dh *= m
        if self.zero_output:
            self.g_out[...] = 0
        else:
            np.multiply(total, ~m, out=self.g_out)
        return dh


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
def simple_rnn_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    perm = (0,)
    p, xt, W, U, in_masks = _begin(cell, x, go_backwards, dropout, perm)
    act = _Act(cell.activation, cell.dtype)
    T, N, _ = xt.shape
    M = cell.units
    H = np.empty((T + 1, N, M), x.dtype)  # carried states, H[0] = h0
    H[0] = states[0]
    Y = H[1:] if mask is None else np.empty((T, N, M), x.dtype)  # raw outputs act(z_t)
    xs = _project(xt, W, p.get("bias"), in_masks, perm, Y[None])
    PRE = np.empty_like(Y) if act.needs_input else None  # pre-activations z_t
    O = None if mask is None else np.empty((T, N, M), x.dtype)
    tmp = np.empty((N, M), x.dtype)
    for t in range(T):
        y = Y[t]
        np.matmul(H[t], U[0], out=tmp)
        y += tmp
        if PRE is not None:
            PRE[t] = y
        act.apply(y, y)
        if mask is not None:
            _masked_update(t, mask, y, H)
            _masked_output(t, mask, y, O, zero_output)
    cache = FastCache("simple_rnn", x.shape, go_backwards, mask, zero_output, xs, in_masks,
                      perm, W, {"H": H, "Y": Y, "PRE": PRE, "U": U})
    return (H[1:] if O is None else O).transpose(1, 0, 2), [H[T].copy()], cache


def simple_rnn_backward(cell, d_outputs, d_states, cache, need_dx=True):
    act = _Act(cell.activation, cell.dtype)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    H, Y, PRE, U = (cache.arrays[name] for name in ("H", "Y", "PRE", "U"))
    U_T = np.ascontiguousarray(U[0].T)
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    dA = np.empty((1, T, N, M), dtype)
    tmp = np.empty((N, M), dtype)
    for t in range(T - 1, -1, -1):
        g_in, g_past = carry.split_state(t, g_h)
        da = dA[0, t]
        np.copyto(da, carry.new_h(t, g_in))
        act.grad(da, Y[t], None if PRE is None else PRE[t], tmp)
        g_h = da @ U_T
        if g_past is not None:
            g_h += g_past
    dW, dx = _input_grads(dA, cache, need_dx)
    dA2 = dA.reshape(T * N, M)
    grads = {"kernel": dW, "recurrent_kernel": H[:T].reshape(T * N, M).T @ dA2}
    if "bias" in cell.params:
        grads["bias"] = _column_sums(dA2)
    return dx, [g_h], grads


# ----------------------------------------------------------------------------- GRU
def gru_forward(cell, x, states, go_backwards, mask, zero_output, dropout, fused=False):
    """`fused` (the reset-after cell with σ and tanh, no time mask: `recurrent._gru_fusable`):
    each step's gate math is one Numba call (`recurrent_numba.gru_forward_step`, the
    operations of the loop below in their order)."""
    perm = (0, 1, 2)  # [z, r, h̃] as in Keras
    p, xt, W, U, in_masks = _begin(cell, x, go_backwards, dropout, perm)
    rec, act = _gate_acts(cell)
    T, N, _ = xt.shape
    M, dtype = cell.units, x.dtype
    bias = p.get("bias")
    b_in = None if bias is None else (bias[0] if cell.reset_after else bias)
    b_rec = bias[1].reshape(3, 1, M) if bias is not None and cell.reset_after else None
    A = np.empty((3, T, N, M), dtype)  # pre-activations, then gate values [z, r, h̃]
    xs = _project(xt, W, None if fused else b_in, in_masks, perm, A)  # fused: b_in per step
    PRE = np.empty_like(A) if rec.needs_input or act.needs_input else None
    H = np.empty((T + 1, N, M), dtype)
    H[0] = states[0]
    UH = np.empty((T, N, M), dtype)  # reset_after: h U_h + b'_h; otherwise r ⊙ h_{t−1}
    O = None if mask is None else np.empty((T, N, M), dtype)
    R = np.empty((3, N, M), dtype)
    if fused:
        bits, one = np.empty(N * M, np.int32), np.dtype(dtype).type(1)
        zeros = np.zeros((3, M), dtype)
        b = zeros if b_rec is None else b_rec.reshape(3, M)
        bi = zeros if b_in is None else b_in.reshape(3, M)
        for t in range(T):
            np.matmul(H[t], U, out=R)
            gru_forward_step(A, t, R, bi, b, b_rec is not None, UH, H, bits,
                             dtype == np.float32, one)
    else:
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
            if PRE is not None:
                PRE[:2, t] = zr
            rec.apply_blocks(zr)
            if cell.reset_after:
                UH[t] = R[2]
                np.multiply(r, UH[t], out=tmp)
            else:
                np.multiply(r, H[t], out=UH[t])
                np.matmul(UH[t], U[2], out=tmp)
            hh += tmp
            if PRE is not None:
                PRE[2, t] = hh
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
                      {"A": A, "PRE": PRE, "H": H, "UH": UH, "U": U}, fused)
    return (H[1:] if O is None else O).transpose(1, 0, 2), [H[T].copy()], cache


def gru_backward(cell, d_outputs, d_states, cache, need_dx=True):
    rec, act = _gate_acts(cell)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    A, PRE, H, UH, U = (cache.arrays[name] for name in ("A", "PRE", "H", "UH", "U"))
    U_T = np.ascontiguousarray(U.transpose(0, 2, 1))
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    dA = np.empty((3, T, N, M), dtype)  # cotangents of the input-side pre-activations
    dRh = np.empty((T, N, M), dtype) if cell.reset_after else None  # of h U_h + b'_h
    R = np.empty((2, N, M), dtype)
    tmp = np.empty((N, M), dtype)
    d_rh = np.empty((N, M), dtype)
    one = np.dtype(dtype).type(1)
    for t in range(T - 1, -1, -1):
        g_in, g_past = carry.split_state(t, g_h)
        dh = carry.new_h(t, g_in)
        if cache.fused:  # the elementwise part below (reset-after, σ, tanh) in one call
            dh_prev = np.empty((N, M), dtype)
            gru_backward_step(A, H, UH, dh, t, dA, dRh, dh_prev, one)
            dh_prev += dRh[t] @ U_T[2]
        else:
            (z, r, hh), (dz, dr, dhh) = A[:, t], dA[:, t]
            pre = (None, None, None) if PRE is None else PRE[:, t]
            np.subtract(H[t], hh, out=dz)  # dz = dh ⊙ (h_{t−1} − h̃), then through σ
            dz *= dh
            rec.grad(dz, z, pre[0], tmp)
            np.subtract(1, z, out=dhh)  # dh̃ = dh ⊙ (1 − z), then through act
            dhh *= dh
            act.grad(dhh, hh, pre[2], tmp)
            dh_prev = dh * z
            if cell.reset_after:
                np.multiply(dhh, UH[t], out=dr)
                rec.grad(dr, r, pre[1], tmp)
                np.multiply(dhh, r, out=dRh[t])
                dh_prev += dRh[t] @ U_T[2]
            else:
                np.matmul(dhh, U_T[2], out=d_rh)  # cotangent of r ⊙ h_{t−1}
                np.multiply(d_rh, H[t], out=dr)
                rec.grad(dr, r, pre[1], tmp)
                d_rh *= r
                dh_prev += d_rh
        np.matmul(dA[:2, t], U_T[:2], out=R)
        dh_prev += R[0]
        dh_prev += R[1]
        g_h = dh_prev if g_past is None else dh_prev + g_past
    dW, dx = _input_grads(dA, cache, need_dx, _side_by_side(dA))
    H2 = H[:T].reshape(T * N, M)
    dU = np.empty((3, M, M), dtype)
    np.matmul(H2.T, dA[:2].reshape(2, T * N, M), out=dU[:2])
    if cell.reset_after:
        np.matmul(H2.T, dRh.reshape(T * N, M), out=dU[2])
    else:
        np.matmul(UH.reshape(T * N, M).T, dA[2].reshape(T * N, M), out=dU[2])
    grads = {"kernel": dW, "recurrent_kernel": _keras_layout(dU, cache.perm)}
    if "bias" in cell.params:
        db = _column_sums(dA.reshape(3, T * N, M)).reshape(-1)
        if cell.reset_after:
            db_h = db.copy()
            db_h[2 * M:] = _column_sums(dRh.reshape(T * N, M))
            grads["bias"] = np.stack([db, db_h])
        else:
            grads["bias"] = db
    return dx, [g_h], grads


# ----------------------------------------------------------------------------- LSTM
_LSTM_ORDER = (0, 1, 3, 2)  # internal [i, f, o, c]: the three sigmoid gates are contiguous


def lstm_forward(cell, x, states, go_backwards, mask, zero_output, dropout, fused):
    """`fused`: the gate math of each step is one Numba call (`recurrent_numba`); otherwise
    the readable `lstm_gates_forward` on the gate blocks."""
    perm = _LSTM_ORDER
    p, xt, W, U, in_masks = _begin(cell, x, go_backwards, dropout, perm)
    rec, act = _gate_acts(cell)
    T, N, _ = xt.shape
    M, dtype = cell.units, x.dtype
    A = np.empty((4, T, N, M), dtype)  # pre-activations, then gates [i, f, o, g]
    # Keras' LSTMCell (implementation 2, its default): z = x W; z += h U; z += b, in that
    # order, so the bias joins each step after h U (the projection has none)
    xs = _project(xt, W, None, in_masks, perm, A)
    bias = p.get("bias")
    b = np.zeros((4, M), dtype) if bias is None else bias.reshape(4, M)[list(perm)]
    PRE = np.empty_like(A) if rec.needs_input or act.needs_input else None
    H = np.empty((T + 1, N, M), dtype)
    C = np.empty((T + 1, N, M), dtype)
    H[0], C[0] = states
    TC = np.empty((T, N, M), dtype)  # act(c_t)
    CR = np.empty((T, N, M), dtype) if act.needs_input else None  # c_t, the input of act
    O = None if mask is None else np.empty((T, N, M), dtype)
    U_side = U.transpose(1, 0, 2).reshape(M, 4 * M)  # U's gates side by side: one GEMM a step
    R = np.empty((N, 4 * M), dtype)
    if fused:
        bits = np.empty(N * M, np.int32)
        f32 = dtype == np.float32
        for t in range(T):
            np.matmul(H[t], U_side, out=R)
            lstm_forward_step(A, t, R, b, bias is not None, C, TC, H, bits, f32)
    else:
        for t in range(T):
            a = A[:, t]
            np.matmul(H[t], U_side, out=R)
            a += R.reshape(N, 4, M).transpose(1, 0, 2)
            if bias is not None:
                a += b[:, None, :]
            if PRE is not None:
                PRE[:, t] = a
            h, gates = lstm_gates_forward(_keras_order(a, perm), C[t], act, rec)
            gate_values = (gates.i, gates.f, gates.g, gates.o)  # Keras' order
            for j, keras_index in enumerate(perm):
                a[j] = gate_values[keras_index]
            TC[t] = gates.tc
            if CR is not None:
                CR[t] = gates.c
            if mask is None:
                C[t + 1], H[t + 1] = gates.c, h
            else:
                _masked_update(t, mask, gates.c, C)
                _masked_update(t, mask, h, H)
                _masked_output(t, mask, h, O, zero_output)
    cache = FastCache("lstm", x.shape, go_backwards, mask, zero_output, xs, in_masks, perm, W,
                      {"A": A, "PRE": PRE, "H": H, "C": C, "TC": TC, "CR": CR, "U": U}, fused)
    return ((H[1:] if O is None else O).transpose(1, 0, 2), [H[T].copy(), C[T].copy()],
            cache)


def lstm_backward(cell, d_outputs, d_states, cache, need_dx=True):
    rec, act = _gate_acts(cell)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    A, PRE, H, C, TC, CR, U = (cache.arrays[name]
                               for name in ("A", "PRE", "H", "C", "TC", "CR", "U"))
    U_T = np.ascontiguousarray(U.transpose(0, 2, 1))
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    g_c = _zeros_or(d_states[1], (N, M), dtype)
    # the gates' cotangents side by side, internal order [i, f, o, g]: each step's
    # dh_{t−1} = Σ_gates dz U_gateᵀ is one GEMM, and so is each weight gradient after the loop
    dZ = np.empty((T, N, 4 * M), dtype)
    U_T_side = U_T.reshape(4 * M, M)  # row gate·M + m: column m of U_gate
    if cache.fused:
        g_h, g_c = g_h.copy(), g_c.copy()  # updated in place (they may be the caller's)
        dO = np.empty((0, N, M), dtype) if carry.dO is None else \
            np.ascontiguousarray(carry.dO, dtype=dtype)
        one = np.dtype(dtype).type(1)
        for t in range(T - 1, -1, -1):
            lstm_backward_step(A, C, TC, dO, t, g_h, g_c, dZ, one)
            np.matmul(dZ[t], U_T_side, out=g_h)
    else:
        for t in range(T - 1, -1, -1):
            h_in, h_past = carry.split_state(t, g_h)
            c_in, c_past = carry.split_state(t, g_c)
            i, f, o, g = A[:, t]
            pre = [None] * 4 if PRE is None else _keras_order(PRE[:, t], cache.perm)
            gates = LSTMGates(C[t], pre, i, f, g, o, None if CR is None else CR[t], TC[t])
            dz, g_c = lstm_gates_backward(carry.new_h(t, h_in), c_in, gates, act, rec)
            da = dZ[t].reshape(N, 4, M)
            for j, keras_index in enumerate(cache.perm):
                da[:, j] = dz[keras_index]
            if c_past is not None:
                g_c += c_past
            g_h = dZ[t] @ U_T_side
            if h_past is not None:
                g_h += h_past
    dZ = dZ.reshape(T * N, 4 * M)
    dA = dZ.reshape(T, N, 4, M).transpose(2, 0, 1, 3)  # the gate-major view (4, T, N, M)
    dW, dx = _input_grads(dA, cache, need_dx, dZ)
    dU = _weight_grad(H[:T].reshape(T * N, M), dA, dZ)
    grads = {"kernel": dW, "recurrent_kernel": _keras_layout(dU, cache.perm)}
    if "bias" in cell.params:
        grads["bias"] = _bias_keras_layout(_column_sums(dZ).reshape(4, M), cache.perm)
    return dx, [g_h, g_c], grads
