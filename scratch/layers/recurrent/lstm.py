"""LSTM: long short-term memory, Hochreiter & Schmidhuber 1997 (course Lectures 45–48).

Math (one step; W = kernel, U = recurrent_kernel, b = bias, each split into the Keras gate
blocks [i | f | c | o] of M columns; σ = recurrent_activation (sigmoid), act = activation):

    i_t = σ(x_t W_i + h_{t−1} U_i + b_i)        input gate
    f_t = σ(x_t W_f + h_{t−1} U_f + b_f)        forget gate
    g_t = act(x_t W_c + h_{t−1} U_c + b_c)      candidate cell (the SimpleRNN term)
    o_t = σ(x_t W_o + h_{t−1} U_o + b_o)        output gate
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t             cell state
    h_t = o_t ⊙ act(c_t)                        hidden state = output

Backward (one step; dh = dL/dh_t, dc = the cotangent of c_t from step t+1):

    do = dh ⊙ act(c_t)                dc ← dc + act'(c_t) ⊙ (dh ⊙ o_t)
    di = dc ⊙ g_t    dg = dc ⊙ i_t    df = dc ⊙ c_{t−1}    dc_{t−1} = dc ⊙ f_t
    dz_k = σ'(·) ⊙ dk for k = i, f, o;   dz_c = act'(·) ⊙ dg
    dx_t = Σ_k dz_k W_kᵀ    dh_{t−1} = Σ_k dz_k U_kᵀ
    dW_k += x_tᵀ dz_k       dU_k += h_{t−1}ᵀ dz_k       db_k += Σ_n dz_k

`unit_forget_bias=True` (the default) initialises b_f to 1 (Jozefowicz et al. 2015).

Code: `lstm_step_forward` / `lstm_step_backward` are one step of the readable loop (the
matrix products per gate); their elementwise part, the equations above from the
pre-activations on, is `lstm_gates_forward` / `lstm_gates_backward`. The fast path
(`scratch/_kernels/recurrent_numpy.py`) runs these same two functions on its gate-major
arrays, except for the standard cell (σ gates, tanh) without a mask, whose gate equations
are one Numba call per step (`scratch/_kernels/recurrent_numba.py`).
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

__all__ = ["LSTM", "LSTMCell", "LSTMGates", "LSTMStepCache", "lstm_gates_forward",
           "lstm_gates_backward", "lstm_step_forward", "lstm_step_backward"]


class LSTMGates(NamedTuple):
    """One step's gate values: what `lstm_gates_forward` computes and its backward reads."""

    c_prev: Array  # c_{t−1}
    pre: list  # pre-activations [z_i, z_f, z_c, z_o]
    i: Array
    f: Array
    g: Array
    o: Array
    c: Array  # c_t
    tc: Array  # act(c_t)


class LSTMStepCache(NamedTuple):
    xs: list  # x_t per gate [i, f, c, o] after input dropout, each (N, D)
    hs: list  # h_{t−1} per gate after recurrent dropout, each (N, M)
    gates: LSTMGates
    dropout: CellDropout


def lstm_gates_forward(pre: list, c_prev: Array, activation, recurrent_activation):
    """The gate equations of one step, from its pre-activations; returns (h_t, LSTMGates).

    Shapes: pre [z_i, z_f, z_c, z_o] and c_prev, each (N, M).
    """
    i = recurrent_activation(pre[0])
    f = recurrent_activation(pre[1])
    g = activation(pre[2])
    o = recurrent_activation(pre[3])
    c = f * c_prev + i * g
    tc = activation(c)
    h = o * tc
    return h, LSTMGates(c_prev, pre, i, f, g, o, c, tc)


def lstm_gates_backward(dh: Array, dc: Array, gates: LSTMGates, activation,
                        recurrent_activation):
    """The gate equations backwards, for dh = dL/dh_t and dc = dL/dc_t (from later steps).

    Returns ([dz_i, dz_f, dz_c, dz_o], dc_{t−1}): the cotangents of the pre-activations and
    of the previous cell state.
    """
    do = dh * gates.tc
    dc = dc + activation.backward(dh * gates.o, gates.c, gates.tc)
    di, dg, df = dc * gates.g, dc * gates.i, dc * gates.c_prev
    dc_prev = dc * gates.f
    dz = [recurrent_activation.backward(di, gates.pre[0], gates.i),
          recurrent_activation.backward(df, gates.pre[1], gates.f),
          activation.backward(dg, gates.pre[2], gates.g),
          recurrent_activation.backward(do, gates.pre[3], gates.o)]
    return dz, dc_prev


def lstm_step_forward(x_t: Array, h_prev: Array, c_prev: Array, kernel: Array,
                      recurrent_kernel: Array, bias: Array | None, activation,
                      recurrent_activation, dropout: CellDropout | None = None):
    """One LSTM step, gate by gate as in the course; returns (h_t, c_t, LSTMStepCache).

    Shapes: x_t (N, D), h_prev and c_prev (N, M), kernel (D, 4M), recurrent_kernel (M, 4M),
    bias (4M,).
    """
    dropout = dropout or CellDropout()
    xs = _per_gate(x_t, dropout.inputs, 4)
    hs = _per_gate(h_prev, dropout.recurrent, 4)
    W = np.split(kernel, 4, axis=1)
    U = np.split(recurrent_kernel, 4, axis=1)
    b = np.split(bias, 4) if bias is not None else [None] * 4
    pre = []
    for gate in range(4):
        z = xs[gate] @ W[gate] + hs[gate] @ U[gate]
        pre.append(z if b[gate] is None else z + b[gate])
    h, gates = lstm_gates_forward(pre, c_prev, activation, recurrent_activation)
    return h, gates.c, LSTMStepCache(xs, hs, gates, dropout)


def lstm_step_backward(dh: Array, dc: Array, cache: LSTMStepCache, kernel: Array,
                       recurrent_kernel: Array, activation, recurrent_activation,
                       use_bias: bool):
    """Gradients of one LSTM step for dh = dL/dh_t and dc = dL/dc_t (from later steps).

    Returns (dx_t, dh_{t−1}, dc_{t−1}, grads).
    """
    W = np.split(kernel, 4, axis=1)
    U = np.split(recurrent_kernel, 4, axis=1)
    dz, dc_prev = lstm_gates_backward(dh, dc, cache.gates, activation, recurrent_activation)
    dx = _masked_grad([dz[gate] @ W[gate].T for gate in range(4)], cache.dropout.inputs)
    dh_prev = _masked_grad([dz[gate] @ U[gate].T for gate in range(4)],
                           cache.dropout.recurrent)
    grads = {"kernel": np.concatenate([cache.xs[gate].T @ dz[gate] for gate in range(4)],
                                      axis=1),
             "recurrent_kernel": np.concatenate([cache.hs[gate].T @ dz[gate]
                                                 for gate in range(4)], axis=1)}
    if use_bias:
        grads["bias"] = np.concatenate([d.sum(axis=0) for d in dz])
    return dx, dh_prev, dc_prev, grads


class LSTMCell(RecurrentCell):
    """One LSTM step as an object (Keras' `LSTMCell`); see the module docstring.

    Args:
        units: M. activation: default "tanh" (g and the output squash).
        recurrent_activation: default "sigmoid" (the gates). use_bias: add `bias`.
        unit_forget_bias: initialise the forget-gate bias to 1 (default True).
        kernel_initializer / recurrent_initializer / bias_initializer: glorot_uniform /
            orthogonal / zeros.
        dropout / recurrent_dropout / seed: see `RecurrentCell`; recurrent_dropout > 0
            switches to implementation 1, with one mask per gate as in Keras.

    Shapes:
        x_t (N, D), states [h (N, M), c (N, M)] → h_t (N, M). Weights kernel (D, 4M),
        recurrent_kernel (M, 4M), bias (4M,); gate blocks in the order i, f, c, o.
    """

    gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, **kwargs):
        _reject_unsupported(kwargs, type(self).__name__)
        super().__init__(units, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        # Keras' order: the initializers draw their seeds, then the dropout generator
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed_generator = SeedGenerator(seed)

    @property
    def state_size(self) -> list[int]:
        return [self.units, self.units]

    def build(self, input_shape) -> None:
        M = self.units
        self.add_weight("kernel", (input_shape[-1], 4 * M), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (M, 4 * M), self.recurrent_initializer,
                        regularizer=self.recurrent_regularizer)
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                base = initializers.get(self.bias_initializer)

                def init(shape, dtype=None):
                    return np.concatenate([np.asarray(base((M,), dtype=dtype)),
                                           np.ones((M,), dtype=dtype),
                                           np.asarray(base((2 * M,), dtype=dtype))])
            self.add_weight("bias", (4 * M,), init, regularizer=self.bias_regularizer)
        self.built = True

    def step_forward(self, x_t, states, masks: CellDropout | None = None):
        p = self.params
        h, c, cache = lstm_step_forward(x_t, states[0], states[1], p["kernel"],
                                        p["recurrent_kernel"], p.get("bias"), self.activation,
                                        self.recurrent_activation, masks)
        return h, [h, c], cache

    def step_backward(self, d_output, d_states, cache: LSTMStepCache):
        dh = d_output + d_states[0]
        dx, dh_prev, dc_prev, grads = lstm_step_backward(
            dh, d_states[1], cache, self.params["kernel"], self.params["recurrent_kernel"],
            self.activation, self.recurrent_activation, self.use_bias)
        return dx, [dh_prev, dc_prev], grads

    def _activation_config(self) -> dict:
        return {"activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias,
                "kernel_initializer": _serialize_init(self.kernel_initializer),
                "recurrent_initializer": _serialize_init(self.recurrent_initializer),
                "bias_initializer": _serialize_init(self.bias_initializer)}


class LSTM(RNN):
    """Long Short-Term Memory layer (Keras' `LSTM`).

    Math:
        see the module docstring (gates i, f, o; candidate g; c_t = f⊙c_{t−1} + i⊙g;
        h_t = o⊙act(c_t)).

    Args:
        units, activation, recurrent_activation, use_bias, unit_forget_bias, initializers,
        dropout, recurrent_dropout, seed: as `LSTMCell`. return_sequences, return_state,
        go_backwards, stateful, unroll: as `RNN`.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: penalties on the
        cell's weights; activity_regularizer: on the output (`scratch.regularizers`).

    Shapes:
        input (N, T, D) → (N, M) or (N, T, M); return_state gives [output, h_T, c_T].
        Weights kernel (D, 4M), recurrent_kernel (M, 4M), bias (4M,).
    """

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0,
                 recurrent_dropout=0.0, seed=None, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, **kwargs):
        _reject_unsupported(kwargs, type(self).__name__)
        cell = LSTMCell(units, activation=activation, recurrent_activation=recurrent_activation,
                        use_bias=use_bias, kernel_initializer=kernel_initializer,
                        recurrent_initializer=recurrent_initializer,
                        bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                        dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                        implementation=kwargs.pop("implementation", 2),
                        dtype=kwargs.get("dtype"), name="lstm_cell",
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
    unit_forget_bias = property(lambda self: self.cell.unit_forget_bias)
    dropout = property(lambda self: self.cell.dropout)
    recurrent_dropout = property(lambda self: self.cell.recurrent_dropout)

    def get_config(self) -> dict:
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell.pop(key, None)
        return {**super().get_config(), **cell}
