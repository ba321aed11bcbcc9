"""Fast path of the recurrent layers (`scratch.layers.recurrent`).

`rnn_forward` / `rnn_backward` here have the signatures of the readable BPTT driver
(`scratch.layers.recurrent.rnn.rnn_forward` / `rnn_backward`) and compute the same numbers
for SimpleRNNCell, GRUCell (both variants) and LSTMCell; a test checks fast == readable. What
makes them fast:

* The input projection x_t W + b of all T steps is ONE GEMM, (T·N, D) @ (D, G), before the
  loop; only h_{t−1} U (one fused GEMM over all gates) stays inside the loop.
* Gates are fused: one (N, G) pre-activation block per step, activations applied in place
  on column blocks, every temporary preallocated (`out=`), states kept in (T+1, N, M) arrays.
* BPTT stores the pre-activation cotangents dZ of every step, so the weight gradients are
  three GEMMs after the loop: dW = Xᵀ dZ, dU = H_prevᵀ dZ, dx = dZ Wᵀ (and db = Σ dZ).

Measured on the project's 2-core EPYC (float32, N = 128, M = 128, one BLAS thread): per step
the recurrent GEMM (128×128 @ 128×512) costs ~240 µs, NumPy's exp ~110 µs and tanh ~200 µs per
128×512 block, a plain multiply ~11 µs. The transcendental functions cost as much as the GEMM,
and Numba's exp/tanh are 2–7× slower than NumPy's here (no SVML), so the gate math stays in
NumPy; sigmoid is 1/(1 + exp(−z)), in place. The backward step has no transcendental function
left (σ' = y(1−y), tanh' = 1−y² from the stored outputs).

NumPy 2.4.6 bug avoided here: in-place `np.negative(v, out=v)` on a strided view whose
stride is 16 bytes (float32; e.g. column M = 1 of an (N, 4M) gate block) or 32/64 bytes
(float64) returns wrong values; every other ufunc used here was checked on such views.

Not covered (the layer falls back to the readable loop): recurrent_dropout (its per-gate masks
on h_{t−1} split the recurrent GEMM) and custom cells.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .. import activations
from ..typing import Array

__all__ = ["supports", "rnn_forward", "rnn_backward"]

_Y_ONLY = ("sigmoid", "tanh", "linear", "relu")


class _Act:
    """An activation applied in place to a block, with its derivative from the output y."""

    def __init__(self, act):
        name = activations.serialize(act)
        self.kind = name if isinstance(name, str) and name in _Y_ONLY else "generic"
        self.act = act

    @property
    def needs_input(self) -> bool:
        """Generic activations need their input z for the backward pass."""
        return self.kind == "generic"

    def apply(self, z: Array, out: Array) -> None:
        """out = act(z) (out may be z itself)."""
        if self.kind == "sigmoid":
            # not np.negative(z, out=z): NumPy 2.4.6 gets that wrong on some strided views
            # (e.g. a (N, 1) column of an (N, 4) array, float32; see the module docstring)
            np.multiply(z, -1, out=out)
            np.exp(out, out=out)
            out += 1
            np.reciprocal(out, out=out)
        elif self.kind == "tanh":
            np.tanh(z, out=out)
        elif self.kind == "linear":
            if out is not z:
                np.copyto(out, z)
        elif self.kind == "relu":
            np.maximum(z, 0, out=out)
        else:
            out[...] = self.act(z)

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


class FastCache(NamedTuple):
    kind: str  # "simple_rnn", "gru", "lstm"
    x_shape: tuple
    go_backwards: bool
    mask: Array | None  # (T, N, 1) bool, processing order
    zero_output_for_mask: bool
    xs: list  # inputs of the projection: [X] or per-gate [X ⊙ m_g], each (T·N, D)
    in_masks: tuple | None
    arrays: dict[str, Any]


def supports(cell, dropout) -> bool:
    """Whether the fast path covers this cell and these dropout masks."""
    from ..layers.recurrent import GRUCell, LSTMCell, SimpleRNNCell
    if type(cell) not in (SimpleRNNCell, GRUCell, LSTMCell):
        return False
    return dropout is None or dropout.recurrent is None


# ----------------------------------------------------------------------------- shared parts
def _time_major(x: Array, go_backwards: bool) -> Array:
    xt = x.transpose(1, 0, 2)
    return np.ascontiguousarray(xt[::-1] if go_backwards else xt)


def _project(xt: Array, kernel: Array, bias: Array | None, in_masks, out: Array) -> list:
    """out (T, N, G) = X W + b over all steps at once; returns the GEMM inputs used."""
    T, N, D = xt.shape
    x2 = xt.reshape(T * N, D)
    o2 = out.reshape(T * N, -1)
    if in_masks is None:
        np.matmul(x2, kernel, out=o2)
        xs = [x2]
    elif all(m is in_masks[0] for m in in_masks):
        xm = (xt * in_masks[0]).reshape(T * N, D)
        np.matmul(xm, kernel, out=o2)
        xs = [xm]
    else:
        G = len(in_masks)
        width = kernel.shape[1] // G
        xs = []
        for g, m in enumerate(in_masks):
            xm = (xt * m).reshape(T * N, D)
            cols = slice(g * width, (g + 1) * width)
            o2[:, cols] = xm @ kernel[:, cols]
            xs.append(xm)
    if bias is not None:
        out += bias
    return xs


def _input_grads(dA: Array, cache: FastCache, kernel: Array) -> tuple[Array, Array]:
    """(dW, dx) of the projection from dA (T, N, G); dx back in (N, T, D) input order."""
    N, T, D = cache.x_shape
    dA2 = dA.reshape(T * N, -1)
    if len(cache.xs) == 1:
        dW = cache.xs[0].T @ dA2
        dX = (dA2 @ kernel.T).reshape(T, N, D)
        if cache.in_masks is not None:
            dX *= cache.in_masks[0]
    else:
        width = kernel.shape[1] // len(cache.xs)
        dW = np.empty_like(kernel)
        dX = np.zeros((T, N, D), dA.dtype)
        for g, (xm, m) in enumerate(zip(cache.xs, cache.in_masks)):
            cols = slice(g * width, (g + 1) * width)
            dW[:, cols] = xm.T @ dA2[:, cols]
            dX += (dA2[:, cols] @ kernel[:, cols].T).reshape(T, N, D) * m
    dX = dX.reshape(T, N, D)
    if cache.go_backwards:
        dX = dX[::-1]
    return dW, np.ascontiguousarray(dX.transpose(1, 0, 2))


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


def _finish_forward(kind, x, go_backwards, mask, zero_output, xs, dropout, arrays, outputs,
                    finals):
    cache = FastCache(kind, x.shape, go_backwards, mask, zero_output, xs,
                      None if dropout is None else dropout.inputs, arrays)
    return outputs.transpose(1, 0, 2), finals, cache


class _Carry:
    """Cotangents carried backwards through the time mask (see rnn.py's BPTT equations)."""

    def __init__(self, cache: FastCache, d_outputs, N: int, M: int, dtype):
        self.mask = cache.mask
        self.zero_output = cache.zero_output_for_mask
        self.dO = None if d_outputs is None else d_outputs.transpose(1, 0, 2)  # (T, N, M)
        self.g_out = np.zeros((N, M), dtype) if self.mask is not None else None
        self.g = np.empty((N, M), dtype)

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

    def split_state(self, t: int, g_state: Array) -> tuple[Array, Array | None]:
        """(the part of a state cotangent reaching the cell, the part carried past it)."""
        if self.mask is None:
            return g_state, None
        m = self.mask[t]
        return g_state * m, g_state * ~m


def _zeros_or(d, shape, dtype) -> Array:
    return np.zeros(shape, dtype) if d is None else np.asarray(d, dtype=dtype)


# ----------------------------------------------------------------------------- SimpleRNN
def _simple_rnn_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    p, act = cell.params, _Act(cell.activation)
    xt = _time_major(x, go_backwards)
    T, N, _ = xt.shape
    M = cell.units
    H = np.empty((T + 1, N, M), x.dtype)  # carried states; H[0] = h0
    H[0] = states[0]
    Y = H[1:] if mask is None else np.empty((T, N, M), x.dtype)  # raw act outputs
    xs = _project(xt, p["kernel"], p.get("bias"), None if dropout is None else dropout.inputs, Y)
    Z = np.empty_like(Y) if act.needs_input else None
    O = None if mask is None else np.empty((T, N, M), x.dtype)
    tmp = np.empty((N, M), x.dtype)
    U = p["recurrent_kernel"]
    for t in range(T):
        y = Y[t]
        np.matmul(H[t], U, out=tmp)
        y += tmp
        if Z is not None:
            Z[t] = y
        act.apply(y, y)
        if mask is not None:
            _masked_update(t, mask, y, H)
            _masked_output(t, mask, y, O, zero_output)
    arrays = {"H": H, "Y": Y, "Z": Z}
    return _finish_forward("simple_rnn", x, go_backwards, mask, zero_output, xs, dropout,
                           arrays, H[1:] if O is None else O, [H[T].copy()])


def _simple_rnn_backward(cell, d_outputs, d_states, cache):
    p, act = cell.params, _Act(cell.activation)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    H, Y, Z = cache.arrays["H"], cache.arrays["Y"], cache.arrays["Z"]
    U = p["recurrent_kernel"]
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    dA = np.empty((T, N, M), dtype)
    tmp = np.empty((N, M), dtype)
    for t in range(T - 1, -1, -1):
        g_in, g_past = carry.split_state(t, g_h)
        da = dA[t]
        np.copyto(da, carry.new_h(t, g_in))
        act.grad(da, Y[t], None if Z is None else Z[t], tmp)
        g_h = da @ U.T
        if g_past is not None:
            g_h += g_past
    H2 = H[:T].reshape(T * N, M)
    dA2 = dA.reshape(T * N, M)
    dW, dx = _input_grads(dA, cache, p["kernel"])
    grads = {"kernel": dW, "recurrent_kernel": H2.T @ dA2}
    if "bias" in p:
        grads["bias"] = dA2.sum(axis=0)
    return dx, [g_h], grads


# ----------------------------------------------------------------------------- GRU
def _gru_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    p = cell.params
    rec, act = _Act(cell.recurrent_activation), _Act(cell.activation)
    xt = _time_major(x, go_backwards)
    T, N, _ = xt.shape
    M, dtype = cell.units, x.dtype
    bias = p.get("bias")
    b_in = None if bias is None else (bias[0] if cell.reset_after else bias)
    b_rec = bias[1] if bias is not None and cell.reset_after else None
    A = np.empty((T, N, 3 * M), dtype)  # pre-activations, then gate values [z | r | h̃]
    xs = _project(xt, p["kernel"], b_in, None if dropout is None else dropout.inputs, A)
    Z = np.empty_like(A) if rec.needs_input or act.needs_input else None
    H = np.empty((T + 1, N, M), dtype)
    H[0] = states[0]
    UH = np.empty((T, N, M), dtype)  # reset_after: h U_h + b'_h; else r ⊙ h_{t−1}
    O = None if mask is None else np.empty((T, N, M), dtype)
    U = p["recurrent_kernel"]
    U_zr, U_h = np.ascontiguousarray(U[:, :2 * M]), np.ascontiguousarray(U[:, 2 * M:])
    tmp = np.empty((N, 3 * M), dtype)
    tmp_m = np.empty((N, M), dtype)
    h_new = np.empty((N, M), dtype) if mask is not None else None
    for t in range(T):
        a = A[t]
        zr, hh = a[:, :2 * M], a[:, 2 * M:]
        z, r = a[:, :M], a[:, M:2 * M]
        if cell.reset_after:
            np.matmul(H[t], U, out=tmp)
            if b_rec is not None:
                tmp += b_rec
            zr += tmp[:, :2 * M]
            if Z is not None:
                Z[t, :, :2 * M] = zr
            rec.apply(zr, zr)
            UH[t] = tmp[:, 2 * M:]
            np.multiply(r, UH[t], out=tmp_m)
        else:
            np.matmul(H[t], U_zr, out=tmp[:, :2 * M])
            zr += tmp[:, :2 * M]
            if Z is not None:
                Z[t, :, :2 * M] = zr
            rec.apply(zr, zr)
            np.multiply(r, H[t], out=UH[t])
            np.matmul(UH[t], U_h, out=tmp_m)
        hh += tmp_m
        if Z is not None:
            Z[t, :, 2 * M:] = hh
        act.apply(hh, hh)
        out = H[t + 1] if mask is None else h_new
        np.multiply(z, H[t], out=out)  # h = z ⊙ h_{t−1} + (1 − z) ⊙ h̃
        np.subtract(1, z, out=tmp_m)
        tmp_m *= hh
        out += tmp_m
        if mask is not None:
            _masked_update(t, mask, out, H)
            _masked_output(t, mask, out, O, zero_output)
    arrays = {"A": A, "Z": Z, "H": H, "UH": UH, "U_zr": U_zr, "U_h": U_h}
    return _finish_forward("gru", x, go_backwards, mask, zero_output, xs, dropout, arrays,
                           H[1:] if O is None else O, [H[T].copy()])


def _gru_backward(cell, d_outputs, d_states, cache):
    p = cell.params
    rec, act = _Act(cell.recurrent_activation), _Act(cell.activation)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    A, Z, H, UH = (cache.arrays[k] for k in ("A", "Z", "H", "UH"))
    U_zr, U_h = cache.arrays["U_zr"], cache.arrays["U_h"]
    U = p["recurrent_kernel"]
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    dA = np.empty((T, N, 3 * M), dtype)  # cotangents of the input-side pre-activations
    dR = np.empty((T, N, 3 * M), dtype) if cell.reset_after else None  # recurrent side
    tmp_m = np.empty((N, M), dtype)
    d_rh = np.empty((N, M), dtype)
    for t in range(T - 1, -1, -1):
        g_in, g_past = carry.split_state(t, g_h)
        g = carry.new_h(t, g_in)
        a, da = A[t], dA[t]
        z, r, hh = a[:, :M], a[:, M:2 * M], a[:, 2 * M:]
        dz, dr, dhh = da[:, :M], da[:, M:2 * M], da[:, 2 * M:]
        zt = None if Z is None else Z[t]
        np.subtract(H[t], hh, out=dz)  # dz = g ⊙ (h_{t−1} − h̃)
        dz *= g
        rec.grad(dz, z, None if zt is None else zt[:, :M], tmp_m)
        np.subtract(1, z, out=dhh)  # dh̃ = g ⊙ (1 − z), then through act
        dhh *= g
        act.grad(dhh, hh, None if zt is None else zt[:, 2 * M:], tmp_m)
        g_new = g * z
        if cell.reset_after:
            np.multiply(dhh, UH[t], out=dr)
            rec.grad(dr, r, None if zt is None else zt[:, M:2 * M], tmp_m)
            dr_t = dR[t]
            dr_t[:, :2 * M] = da[:, :2 * M]
            np.multiply(dhh, r, out=dr_t[:, 2 * M:])
            g_new += dr_t @ U.T
        else:
            np.matmul(dhh, U_h.T, out=d_rh)  # cotangent of r ⊙ h_{t−1}
            np.multiply(d_rh, H[t], out=dr)
            rec.grad(dr, r, None if zt is None else zt[:, M:2 * M], tmp_m)
            d_rh *= r
            g_new += d_rh
            g_new += da[:, :2 * M] @ U_zr.T
        g_h = g_new if g_past is None else g_new + g_past
    H2 = H[:T].reshape(T * N, M)
    dA2 = dA.reshape(T * N, 3 * M)
    dW, dx = _input_grads(dA, cache, p["kernel"])
    if cell.reset_after:
        dR2 = dR.reshape(T * N, 3 * M)
        dU = H2.T @ dR2
    else:
        dU = np.empty_like(U)
        dU[:, :2 * M] = H2.T @ dA2[:, :2 * M]
        dU[:, 2 * M:] = UH.reshape(T * N, M).T @ dA2[:, 2 * M:]
    grads = {"kernel": dW, "recurrent_kernel": dU}
    if "bias" in p:
        db = dA2.sum(axis=0)
        grads["bias"] = np.stack([db, dR2.sum(axis=0)]) if cell.reset_after else db
    return dx, [g_h], grads


# ----------------------------------------------------------------------------- LSTM
def _lstm_forward(cell, x, states, go_backwards, mask, zero_output, dropout):
    p = cell.params
    rec, act = _Act(cell.recurrent_activation), _Act(cell.activation)
    xt = _time_major(x, go_backwards)
    T, N, _ = xt.shape
    M, dtype = cell.units, x.dtype
    A = np.empty((T, N, 4 * M), dtype)  # pre-activations, then gates [i | f | g | o]
    xs = _project(xt, p["kernel"], p.get("bias"), None if dropout is None else dropout.inputs,
                  A)
    Z = np.empty_like(A) if rec.needs_input or act.needs_input else None
    H = np.empty((T + 1, N, M), dtype)
    C = np.empty((T + 1, N, M), dtype)
    H[0], C[0] = states
    TC = np.empty((T, N, M), dtype)  # act(c_t)
    CR = np.empty((T, N, M), dtype) if act.needs_input or mask is not None else None
    O = None if mask is None else np.empty((T, N, M), dtype)
    U = p["recurrent_kernel"]
    tmp = np.empty((N, 4 * M), dtype)
    tmp_m = np.empty((N, M), dtype)
    h_new = np.empty((N, M), dtype) if mask is not None else None
    for t in range(T):
        a = A[t]
        np.matmul(H[t], U, out=tmp)
        a += tmp
        if Z is not None:
            Z[t] = a
        rec.apply(a[:, :2 * M], a[:, :2 * M])
        act.apply(a[:, 2 * M:3 * M], a[:, 2 * M:3 * M])
        rec.apply(a[:, 3 * M:], a[:, 3 * M:])
        i, f, g, o = a[:, :M], a[:, M:2 * M], a[:, 2 * M:3 * M], a[:, 3 * M:]
        c = C[t + 1] if CR is None else CR[t]
        np.multiply(f, C[t], out=c)  # c = f ⊙ c_{t−1} + i ⊙ g
        np.multiply(i, g, out=tmp_m)
        c += tmp_m
        act.apply(c, TC[t])
        h = H[t + 1] if mask is None else h_new
        np.multiply(o, TC[t], out=h)
        if mask is not None:
            _masked_update(t, mask, c, C)
            _masked_update(t, mask, h, H)
            _masked_output(t, mask, h, O, zero_output)
        elif CR is not None:
            C[t + 1] = c
    arrays = {"A": A, "Z": Z, "H": H, "C": C, "TC": TC, "CR": CR}
    return _finish_forward("lstm", x, go_backwards, mask, zero_output, xs, dropout, arrays,
                           H[1:] if O is None else O, [H[T].copy(), C[T].copy()])


def _lstm_backward(cell, d_outputs, d_states, cache):
    p = cell.params
    rec, act = _Act(cell.recurrent_activation), _Act(cell.activation)
    N, T, _ = cache.x_shape
    M, dtype = cell.units, cell.dtype
    A, Z, H, C, TC, CR = (cache.arrays[k] for k in ("A", "Z", "H", "C", "TC", "CR"))
    U = p["recurrent_kernel"]
    carry = _Carry(cache, d_outputs, N, M, dtype)
    g_h = _zeros_or(d_states[0], (N, M), dtype)
    g_c = _zeros_or(d_states[1], (N, M), dtype)
    dA = np.empty((T, N, 4 * M), dtype)
    dc = np.empty((N, M), dtype)
    tmp_m = np.empty((N, M), dtype)
    tmp_2m = np.empty((N, 2 * M), dtype)
    for t in range(T - 1, -1, -1):
        h_in, h_past = carry.split_state(t, g_h)
        c_in, c_past = carry.split_state(t, g_c)
        gh = carry.new_h(t, h_in)
        a, da = A[t], dA[t]
        i, f, g, o = a[:, :M], a[:, M:2 * M], a[:, 2 * M:3 * M], a[:, 3 * M:]
        di, df, dg, do = da[:, :M], da[:, M:2 * M], da[:, 2 * M:3 * M], da[:, 3 * M:]
        zt = None if Z is None else Z[t]
        np.multiply(gh, TC[t], out=do)  # do = dh ⊙ act(c)
        np.multiply(gh, o, out=dc)  # dc = c_in + act'(c) ⊙ dh ⊙ o
        act.grad(dc, TC[t], None if CR is None else CR[t], tmp_m)
        dc += c_in
        np.multiply(dc, g, out=di)
        np.multiply(dc, i, out=dg)
        np.multiply(dc, C[t], out=df)
        g_c = dc * f
        if c_past is not None:
            g_c += c_past
        if zt is None:
            rec.grad(da[:, :2 * M], a[:, :2 * M], None, tmp_2m)
            act.grad(dg, g, None, tmp_m)
            rec.grad(do, o, None, tmp_m)
        else:
            rec.grad(di, i, zt[:, :M], tmp_m)
            rec.grad(df, f, zt[:, M:2 * M], tmp_m)
            act.grad(dg, g, zt[:, 2 * M:3 * M], tmp_m)
            rec.grad(do, o, zt[:, 3 * M:], tmp_m)
        g_h = da @ U.T
        if h_past is not None:
            g_h += h_past
    H2 = H[:T].reshape(T * N, M)
    dA2 = dA.reshape(T * N, 4 * M)
    dW, dx = _input_grads(dA, cache, p["kernel"])
    grads = {"kernel": dW, "recurrent_kernel": H2.T @ dA2}
    if "bias" in p:
        grads["bias"] = dA2.sum(axis=0)
    return dx, [g_h, g_c], grads


# ----------------------------------------------------------------------------- dispatch
_FORWARD = {"SimpleRNNCell": _simple_rnn_forward, "GRUCell": _gru_forward,
            "LSTMCell": _lstm_forward}
_BACKWARD = {"simple_rnn": _simple_rnn_backward, "gru": _gru_backward, "lstm": _lstm_backward}


def rnn_forward(cell, x: Array, initial_states: list[Array], *, go_backwards: bool = False,
                time_mask: Array | None = None, zero_output_for_mask: bool = False,
                dropout=None):
    """Fast twin of `scratch.layers.recurrent.rnn.rnn_forward` (same arguments and results).

    Returns:
        (outputs (N, T, M) in processing order, final states, FastCache).
    """
    mask = None
    if time_mask is not None:
        m = np.asarray(time_mask, dtype=bool).T[:, :, None]
        mask = np.ascontiguousarray(m[::-1] if go_backwards else m)
    with np.errstate(over="ignore"):
        return _FORWARD[type(cell).__name__](cell, x, list(initial_states), go_backwards, mask,
                                             zero_output_for_mask, dropout)


def rnn_backward(cell, d_outputs: Array | None, d_final_states: list, cache: FastCache):
    """Fast twin of `scratch.layers.recurrent.rnn.rnn_backward`: (dx, d_initial_states, grads)."""
    return _BACKWARD[cache.kind](cell, d_outputs, list(d_final_states), cache)
