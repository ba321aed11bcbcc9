"""SimpleRNN: the Elman unit of course Lectures 41–44.

Math (one step, Keras' operation order; W = kernel, U = recurrent_kernel):

    z_t = (x_t W + b) + h_{t−1} U          (N, M)
    h_t = act(z_t)                         act = tanh by default; the output is h_t

Backward (BPTT step, with dh_t = dy_t + the cotangent arriving from step t+1):

    dz_t = act'(z_t) ⊙ dh_t
    dx_t = dz_t Wᵀ        dh_{t−1} = dz_t Uᵀ
    dW += x_tᵀ dz_t       dU += h_{t−1}ᵀ dz_t       db += Σ_n dz_t

Lecture 44 reproduces `model.predict` with exactly this loop over `get_weights()`:
`h = np.tanh(x[t].dot(Wx) + h_last.dot(Wh) + bh)`.
"""

from __future__ import annotations

from typing import NamedTuple

from ... import activations, initializers
from ...typing import Array
from .rnn import (
    RNN,
    CellDropout,
    RecurrentCell,
    SeedGenerator,
    _reject_unsupported,
    _serialize_init,
)

__all__ = ["SimpleRNN", "SimpleRNNCell", "SimpleRNNStepCache", "simple_rnn_step_forward",
           "simple_rnn_step_backward"]


class SimpleRNNStepCache(NamedTuple):
    x: Array  # x_t after input dropout (N, D)
    h_prev: Array  # h_{t−1} after recurrent dropout (N, M)
    z: Array  # pre-activation (N, M)
    h: Array  # h_t = act(z) (N, M)
    x_mask: Array | None  # input dropout mask (N, D) or None
    h_mask: Array | None  # recurrent dropout mask (N, M) or None


def simple_rnn_step_forward(x_t: Array, h_prev: Array, kernel: Array, recurrent_kernel: Array,
                            bias: Array | None, activation, x_mask: Array | None = None,
                            h_mask: Array | None = None):
    """One step h_t = act((x_t W + b) + h_{t−1} U); returns (h_t, SimpleRNNStepCache).

    Shapes: x_t (N, D), h_prev (N, M), kernel (D, M), recurrent_kernel (M, M), bias (M,).
    """
    x = x_t if x_mask is None else x_t * x_mask
    h_in = h_prev if h_mask is None else h_prev * h_mask
    z = x @ kernel
    if bias is not None:
        z = z + bias
    z = z + h_in @ recurrent_kernel
    h = activation(z)
    return h, SimpleRNNStepCache(x, h_in, z, h, x_mask, h_mask)


def simple_rnn_step_backward(dh: Array, cache: SimpleRNNStepCache, kernel: Array,
                             recurrent_kernel: Array, activation, use_bias: bool):
    """Gradients of one step for dh = dL/dh_t; returns (dx_t, dh_{t−1}, grads)."""
    dz = activation.backward(dh, cache.z, cache.h)
    dx = dz @ kernel.T
    dh_prev = dz @ recurrent_kernel.T
    if cache.x_mask is not None:
        dx = dx * cache.x_mask
    if cache.h_mask is not None:
        dh_prev = dh_prev * cache.h_mask
    grads = {"kernel": cache.x.T @ dz, "recurrent_kernel": cache.h_prev.T @ dz}
    if use_bias:
        grads["bias"] = dz.sum(axis=0)
    return dx, dh_prev, grads


class SimpleRNNCell(RecurrentCell):
    """One SimpleRNN step as an object (Keras' `SimpleRNNCell`): `h_t = act(x_t W + h_{t−1} U + b)`.

    Args:
        units: M. activation: default "tanh" (None is linear). use_bias: add `bias`.
        kernel_initializer / recurrent_initializer / bias_initializer: Keras defaults
            glorot_uniform / orthogonal / zeros.
        dropout / recurrent_dropout / seed: see `RecurrentCell`.

    Shapes:
        x_t (N, D), state [h (N, M)] → output h_t (N, M). Weights: kernel (D, M),
        recurrent_kernel (M, M), bias (M,), in that order.
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None,
                 **kwargs):
        _reject_unsupported(kwargs, type(self).__name__)
        kwargs.pop("implementation", None)
        super().__init__(units, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, **kwargs)
        # Keras' order: the dropout generator draws its seed, then the initializers
        self.seed_generator = SeedGenerator(seed)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape) -> None:
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, self.units),
                        self.recurrent_initializer, regularizer=self.recurrent_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer,
                            regularizer=self.bias_regularizer)
        self.built = True

    def step_forward(self, x_t, states, masks: CellDropout | None = None):
        x_mask = h_mask = None
        if masks is not None:
            x_mask = None if masks.inputs is None else masks.inputs[0]
            h_mask = None if masks.recurrent is None else masks.recurrent[0]
        p = self.params
        h, cache = simple_rnn_step_forward(x_t, states[0], p["kernel"], p["recurrent_kernel"],
                                           p.get("bias"), self.activation, x_mask, h_mask)
        return h, [h], cache

    def step_backward(self, d_output, d_states, cache: SimpleRNNStepCache):
        dh = d_output + d_states[0]
        dx, dh_prev, grads = simple_rnn_step_backward(
            dh, cache, self.params["kernel"], self.params["recurrent_kernel"],
            self.activation, self.use_bias)
        return dx, [dh_prev], grads

    def _activation_config(self) -> dict:
        return {"activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": _serialize_init(self.kernel_initializer),
                "recurrent_initializer": _serialize_init(self.recurrent_initializer),
                "bias_initializer": _serialize_init(self.bias_initializer)}


class SimpleRNN(RNN):
    """Fully connected RNN whose output is fed back as the next step's state (Keras' `SimpleRNN`).

    Math:
        h_t = act((x_t W + b) + h_{t−1} U), h_0 = 0 (or `initial_state`); see the module
        docstring for the BPTT step.

    Args:
        units, activation, use_bias, initializers, dropout, recurrent_dropout, seed: as
            `SimpleRNNCell`. return_sequences, return_state, go_backwards, stateful, unroll:
            as `RNN`. kernel_regularizer, recurrent_regularizer, bias_regularizer:
            penalties on the cell's weights; activity_regularizer: accepted and ignored, as
            Keras 3.15's SimpleRNN ignores it (GRU and LSTM apply theirs).

    Shapes:
        input (N, T, D) → (N, M), or (N, T, M) with return_sequences; return_state adds
        h_T (N, M). Weights kernel (D, M), recurrent_kernel (M, M), bias (M,).

    Example:
        >>> layer = SimpleRNN(5)
        >>> layer(np.zeros((1, 10, 3), "float32")).shape
        (1, 5)
    """

    def __init__(self, units, activation="tanh", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0, seed=None,
                 return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, **kwargs):
        _reject_unsupported(kwargs, type(self).__name__)
        # activity_regularizer is accepted and dropped: Keras 3.15's SimpleRNN does not pass
        # it on, so tf.keras adds no penalty for it (and saves it as None).
        del activity_regularizer
        cell = SimpleRNNCell(units, activation=activation, use_bias=use_bias,
                             kernel_initializer=kernel_initializer,
                             recurrent_initializer=recurrent_initializer,
                             bias_initializer=bias_initializer, dropout=dropout,
                             recurrent_dropout=recurrent_dropout, seed=seed,
                             kernel_regularizer=kernel_regularizer,
                             recurrent_regularizer=recurrent_regularizer,
                             bias_regularizer=bias_regularizer,
                             dtype=kwargs.get("dtype"), name="simple_rnn_cell",
                             trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs)

    units = property(lambda self: self.cell.units)
    activation = property(lambda self: self.cell.activation)
    use_bias = property(lambda self: self.cell.use_bias)
    dropout = property(lambda self: self.cell.dropout)
    recurrent_dropout = property(lambda self: self.cell.recurrent_dropout)

    def get_config(self) -> dict:
        cell = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell.pop(key, None)
        return {**super().get_config(), **cell}
