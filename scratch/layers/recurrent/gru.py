"""GRU: the gated recurrent unit of course Lectures 45–46, in both Keras variants.

Math (one step; W = kernel, U = recurrent_kernel, each split into gate blocks [z | r | h̃] of
M columns; σ = recurrent_activation (sigmoid), act = activation (tanh)):

    z_t = σ(x_t W_z + b_z + h_{t−1} U_z (+ b'_z))        update gate
    r_t = σ(x_t W_r + b_r + h_{t−1} U_r (+ b'_r))        reset gate
    reset_after=True (Keras' default; bias (2, 3M): row 0 = b on x, row 1 = b' on h):
        h̃_t = act(x_t W_h + b_h + r_t ⊙ (h_{t−1} U_h + b'_h))
    reset_after=False (the course's textbook form; bias (3M,)):
        h̃_t = act(x_t W_h + b_h + (r_t ⊙ h_{t−1}) U_h)
    h_t = z_t ⊙ h_{t−1} + (1 − z_t) ⊙ h̃_t                 z = 1 keeps the old state

Note Keras' update direction: the course writes h_t = (1 − z)⊙h_{t−1} + z⊙h̃, Keras (and
this code) the reverse; they are the same model with z ↔ 1 − z.

Backward (one step, dh = dL/dh_t):

    dz = dh ⊙ (h_{t−1} − h̃)      dh̃ = dh ⊙ (1 − z)      dh_{t−1} ∋ dh ⊙ z
    da_h = act'(·) ⊙ dh̃
    reset_after:  dr = da_h ⊙ (h_{t−1}U_h + b'_h)      d(h_{t−1}U_h + b'_h) = da_h ⊙ r
    otherwise:    d(r⊙h) = da_h U_hᵀ   dr = d(r⊙h) ⊙ h_{t−1}   dh_{t−1} ∋ d(r⊙h) ⊙ r
    da_z = σ'(·) ⊙ dz      da_r = σ'(·) ⊙ dr
    dx_t = Σ_g da_g W_gᵀ,  dh_{t−1} ∋ Σ_g d(recurrent pre-activation)_g U_gᵀ
    dW_g += x_tᵀ da_g,  dU_g += h_{t−1}ᵀ d(recurrent pre-activation)_g,  db = Σ_n
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ... import activations, initializers
from ...typing import Array
from .rnn import (
    RNN,
    CellDropout,
    RecurrentCell,
    SeedGenerator,
    _masked_grad,
    _per_gate,
    _reject_unsupported,
    _serialize_init,
)

__all__ = ["GRU", "GRUCell", "GRUStepCache", "gru_step_forward", "gru_step_backward"]


class GRUStepCache(NamedTuple):
    xs: list  # x_t per gate [z, r, h] after input dropout, each (N, D)
    hs: list  # h_{t−1} per gate after recurrent dropout, each (N, M)
    h_prev: Array  # h_{t−1} (N, M)
    pre_z: Array  # pre-activations of z, r and h̃ (N, M) each
    pre_r: Array
    pre_h: Array
    z: Array
    r: Array
    hh: Array  # h̃_t
    u_h: Array  # reset_after: h_{t−1}U_h + b'_h; otherwise r ⊙ h_{t−1} (the matmul's input)
    dropout: CellDropout


def _split(w: Array | None, parts: int, axis: int = -1) -> list:
    return [None] * parts if w is None else np.split(w, parts, axis=axis)


def _biases(bias: Array | None, reset_after: bool):
    """(input biases [b_z, b_r, b_h], recurrent biases [b'_z, b'_r, b'_h] or Nones)."""
    if bias is None:
        return [None] * 3, [None] * 3
    if reset_after:
        return _split(bias[0], 3), _split(bias[1], 3)
    return _split(bias, 3), [None] * 3


def _affine(x: Array, w: Array, b: Array | None) -> Array:
    y = x @ w
    return y if b is None else y + b


def gru_step_forward(x_t: Array, h_prev: Array, kernel: Array, recurrent_kernel: Array,
                     bias: Array | None, activation, recurrent_activation, reset_after: bool,
                     dropout: CellDropout | None = None):
    """One GRU step, gate by gate as in the course; returns (h_t, GRUStepCache).

    Shapes: x_t (N, D), h_prev (N, M), kernel (D, 3M), recurrent_kernel (M, 3M),
    bias (2, 3M) if reset_after else (3M,).
    """
    dropout = dropout or CellDropout()
    xs = _per_gate(x_t, dropout.inputs, 3)
    hs = _per_gate(h_prev, dropout.recurrent, 3)
    W_z, W_r, W_h = _split(kernel, 3)
    U_z, U_r, U_h = _split(recurrent_kernel, 3)
    (b_z, b_r, b_h), (b_rec_z, b_rec_r, b_rec_h) = _biases(bias, reset_after)
    pre_z = _affine(xs[0], W_z, b_z) + _affine(hs[0], U_z, b_rec_z)
    pre_r = _affine(xs[1], W_r, b_r) + _affine(hs[1], U_r, b_rec_r)
    z = recurrent_activation(pre_z)
    r = recurrent_activation(pre_r)
    if reset_after:
        u_h = _affine(hs[2], U_h, b_rec_h)
        pre_h = _affine(xs[2], W_h, b_h) + r * u_h
    else:
        u_h = r * hs[2]
        pre_h = _affine(xs[2], W_h, b_h) + u_h @ U_h
    hh = activation(pre_h)
    h = z * h_prev + (1 - z) * hh
    return h, GRUStepCache(xs, hs, h_prev, pre_z, pre_r, pre_h, z, r, hh, u_h, dropout)


def gru_step_backward(dh: Array, cache: GRUStepCache, kernel: Array, recurrent_kernel: Array,
                      activation, recurrent_activation, reset_after: bool, use_bias: bool):
    """Gradients of one GRU step for dh = dL/dh_t; returns (dx_t, dh_{t−1}, grads)."""
    W_z, W_r, W_h = _split(kernel, 3)
    U_z, U_r, U_h = _split(recurrent_kernel, 3)
    xs, hs = cache.xs, cache.hs
    dz = dh * (cache.h_prev - cache.hh)
    dhh = dh * (1 - cache.z)
    dh_prev = dh * cache.z
    da_h = activation.backward(dhh, cache.pre_h, cache.hh)
    if reset_after:
        dr = da_h * cache.u_h
        du_h = da_h * cache.r  # cotangent of h_{t−1}U_h + b'_h
        dh_h = du_h @ U_h.T
        dU_h = hs[2].T @ du_h
    else:
        d_rh = da_h @ U_h.T  # cotangent of r ⊙ h_{t−1}
        dr = d_rh * hs[2]
        dh_h = d_rh * cache.r
        dU_h = cache.u_h.T @ da_h
    da_z = recurrent_activation.backward(dz, cache.pre_z, cache.z)
    da_r = recurrent_activation.backward(dr, cache.pre_r, cache.r)
    dx = _masked_grad([da_z @ W_z.T, da_r @ W_r.T, da_h @ W_h.T], cache.dropout.inputs)
    dh_prev = dh_prev + _masked_grad([da_z @ U_z.T, da_r @ U_r.T, dh_h],
                                     cache.dropout.recurrent)
    grads = {
        "kernel": np.concatenate([xs[0].T @ da_z, xs[1].T @ da_r, xs[2].T @ da_h], 1),
        "recurrent_kernel": np.concatenate([hs[0].T @ da_z, hs[1].T @ da_r, dU_h], 1),
    }
    if use_bias:
        db_x = np.concatenate([da_z.sum(0), da_r.sum(0), da_h.sum(0)])
        if reset_after:
            db_h = np.concatenate([da_z.sum(0), da_r.sum(0), du_h.sum(0)])
            grads["bias"] = np.stack([db_x, db_h])
        else:
            grads["bias"] = db_x
    return dx, dh_prev, grads


class GRUCell(RecurrentCell):
    """One GRU step as an object (Keras' `GRUCell`); see the module docstring.

    Args:
        units: M. activation: default "tanh". recurrent_activation: default "sigmoid".
        use_bias: add the bias. reset_after: Keras' default True (r multiplies
            h_{t−1}U_h + b'_h, bias (2, 3M)); False applies r before the matmul (bias (3M,)).
        kernel_initializer / recurrent_initializer / bias_initializer: glorot_uniform /
            orthogonal / zeros.
        dropout / recurrent_dropout / seed: see `RecurrentCell`; recurrent_dropout > 0
            switches to implementation 1, with one mask per gate as in Keras.

    Shapes:
        x_t (N, D), state [h (N, M)] → h_t (N, M). Weights kernel (D, 3M),
        recurrent_kernel (M, 3M), bias (2, 3M) or (3M,); gate blocks in the order z, r, h̃.
    """

    gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 reset_after=True, seed=None, **kwargs):
        _reject_unsupported(kwargs, type(self).__name__)
        super().__init__(units, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.reset_after = bool(reset_after)
        # Keras' order: the initializers draw their seeds, then the dropout generator
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed_generator = SeedGenerator(seed)

    def build(self, input_shape) -> None:
        M = self.units
        self.add_weight("kernel", (input_shape[-1], 3 * M), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (M, 3 * M), self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            shape = (2, 3 * M) if self.reset_after else (3 * M,)
            self.add_weight("bias", shape, self.bias_initializer,
                            regularizer=self.bias_regularizer)
        self.built = True

    def step_forward(self, x_t, states, masks: CellDropout | None = None):
        p = self.params
        h, cache = gru_step_forward(x_t, states[0], p["kernel"], p["recurrent_kernel"],
                                    p.get("bias"), self.activation, self.recurrent_activation,
                                    self.reset_after, masks)
        return h, [h], cache

    def step_backward(self, d_output, d_states, cache: GRUStepCache):
        dh = d_output + d_states[0]
        dx, dh_prev, grads = gru_step_backward(
            dh, cache, self.params["kernel"], self.params["recurrent_kernel"],
            self.activation, self.recurrent_activation, self.reset_after, self.use_bias)
        return dx, [dh_prev], grads

    def _activation_config(self) -> dict:
        return {"activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, "reset_after": self.reset_after,
                "kernel_initializer": _serialize_init(self.kernel_initializer),
                "recurrent_initializer": _serialize_init(self.recurrent_initializer),
                "bias_initializer": _serialize_init(self.bias_initializer)}


class GRU(RNN):
    """Gated Recurrent Unit layer, Cho et al. 2014 (Keras' `GRU`).

    Math:
        see the module docstring (gates z, r; candidate h̃; h_t = z⊙h_{t−1} + (1−z)⊙h̃).

    Args:
        units, activation, recurrent_activation, use_bias, initializers, dropout,
        recurrent_dropout, reset_after, seed: as `GRUCell`. return_sequences, return_state,
        go_backwards, stateful, unroll: as `RNN`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties on the
        cell's weights; activity_regularizer: on the output (`scratch.regularizers`).

    Shapes:
        input (N, T, D) → (N, M) or (N, T, M); return_state adds h_T (N, M). Weights kernel
        (D, 3M), recurrent_kernel (M, 3M), bias (2, 3M) with reset_after else (3M,).
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, **kwargs):
        _reject_unsupported(kwargs, type(self).__name__)
        cell = GRUCell(units, activation=activation, recurrent_activation=recurrent_activation,
                       use_bias=use_bias, kernel_initializer=kernel_initializer,
                       recurrent_initializer=recurrent_initializer,
                       bias_initializer=bias_initializer, dropout=dropout,
                       recurrent_dropout=recurrent_dropout, reset_after=reset_after, seed=seed,
                       implementation=kwargs.pop("implementation", 2),
                       dtype=kwargs.get("dtype"), name="gru_cell",
                       kernel_regularizer=kernel_regularizer,
                       recurrent_regularizer=recurrent_regularizer,
                       bias_regularizer=bias_regularizer,
                       trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    units = property(lambda self: self.cell.units)
    activation = property(lambda self: self.cell.activation)
    recurrent_activation = property(lambda self: self.cell.recurrent_activation)
    use_bias = property(lambda self: self.cell.use_bias)
    reset_after = property(lambda self: self.cell.reset_after)
    dropout = property(lambda self: self.cell.dropout)
    recurrent_dropout = property(lambda self: self.cell.recurrent_dropout)

    def get_config(self) -> dict:
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell.pop(key, None)
        return {**super().get_config(), **cell}
