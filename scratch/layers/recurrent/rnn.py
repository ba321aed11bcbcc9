"""The generic recurrent layer `RNN(cell)` and backpropagation through time (course Lecture 41).

A recurrent layer runs one *cell* over the time axis. The cell owns the weights and the
step equations (SimpleRNN, GRU, LSTM: one file each); this module owns everything that is
about time: the loop, masking, `go_backwards`, initial and stateful states, dropout masks
that stay constant over time, and the reverse loop of backpropagation through time (BPTT).

Math (one cell, states S, outputs o; Keras' `backend.rnn`):

    S_0 = initial state (zeros, `initial_state=`, or the stored states if `stateful`)
    for t = 1 … T:                       (t = T … 1 if go_backwards)
        o_t', S_t' = cell(x_t, S_{t−1})
        with a mask m_t ∈ {0, 1}:  S_t = m_t ? S_t' : S_{t−1}
                                   o_t = m_t ? o_t' : o_{t−1}      (o_0 = 0)
    output = o_T, or the whole sequence (o_1 … o_T) with return_sequences

BPTT walks the same loop backwards. With g_o and g_S the cotangents flowing into o_t and S_t
from later steps, a step back-propagates

    (dx_t, dS_{t−1}) = cell_backwardᵀ(m_t·(dy_t + g_o), m_t·g_S)
    g_o ← (1 − m_t)·(dy_t + g_o)          g_S ← (1 − m_t)·g_S + dS_{t−1}

and the weight gradients are the sums over t of the per-step gradients (the weights are
shared by every step, Lecture 41's "shared weights").

The cell protocol (what `RNN(cell)` needs from a cell, see `RecurrentCell`):

    cell.state_size                       list of state widths, e.g. [M] or [M, M] (LSTM)
    cell.output_size                      width of o_t
    cell.build((N, D))                    create params (Keras names, layouts and order)
    cell.step_forward(x_t, states, masks) -> (o_t, new_states, cache)
    cell.step_backward(d_o, d_new_states, cache) -> (dx_t, d_states, grads)

Graph gradients into the initial states: call the layer on a list, `layer([x, h0])`
(`[x, h0, c0]` for an LSTM), or with symbolic `initial_state=[h0, ...]` (which is recorded as
that list, as Keras does); `backward` then returns `[dx, dh0, ...]`. With numeric
`initial_state=` keyword arrays, `backward` returns dx and leaves the state gradients in
`layer.initial_state_grads`.

The module is over the project's 500 lines because `RNN` holds all of Keras' recurrent-layer
behaviour that every cell shares (initial and stateful states, masks, dropout masks,
return_sequences / return_state, symbolic calls), next to the readable BPTT driver it runs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ... import backend, random, regularizers
from ..._kernels import load as load_kernels
from ...tape.recorder import active as active_recorders
from ...typing import Array, Shape
from ..base import Layer, as_list, shape_tuple
from ..core import _serialize_init  # noqa: F401 (re-exported to the cell modules)
from ..symbolic import KerasTensor, call_symbolic

SeedGenerator = random.SeedGenerator  # re-exported to the cell modules

__all__ = ["RNN", "RecurrentCell", "CellDropout", "SequenceCache", "rnn_forward",
           "rnn_backward", "call_with_initial_state", "split_initial_states"]


# ------------------------------------------------------------------------------ dropout masks
class CellDropout(NamedTuple):
    """The dropout masks of one call, reused at every time step (Keras' DropoutRNNCell).

    Each field is None (no dropout) or a tuple with one (N, width) mask per gate; a single
    mask shared by all gates (Keras' implementation 2) is the same array repeated. Mask
    values are 0 or 1/(1 − rate).
    """

    inputs: tuple | None = None  # masks on x_t, each (N, D)
    recurrent: tuple | None = None  # masks on h_{t−1}, each (N, M)


def _per_gate(v: Array, masks: tuple | None, gates: int) -> list[Array]:
    """[v ⊙ m_g for each gate] (v itself for every gate when there is no mask)."""
    if masks is None:
        return [v] * gates
    return [v * m for m in masks]


def _masked_grad(dvs: list[Array], masks: tuple | None) -> Array:
    """Gradient of v from the gradients of its per-gate copies v ⊙ m_g: Σ_g dv_g ⊙ m_g."""
    if masks is None:
        return sum(dvs[1:], dvs[0].copy())
    total = dvs[0] * masks[0]
    for dv, m in zip(dvs[1:], masks[1:], strict=True):
        total += dv * m
    return total


# ------------------------------------------------------------------------------ cells
class RecurrentCell(Layer):
    """Base class of the recurrent cells: weights, step protocol and dropout masks.

    Subclasses set `state_size` / `output_size`, build their params and implement
    `step_forward` / `step_backward`. Cells also work on their own, as in Keras:
    `output, new_states = cell(x_t, states, training=False)`.

    Args:
        units: M, the width of the hidden state.
        dropout: fraction of the inputs x_t to drop (training only; one mask per call).
        recurrent_dropout: fraction of the state h_{t−1} to drop (one mask per call).
        seed: seeds the dropout masks (None draws one from scratch's global generator).
    """

    #: number of gates; with implementation 1 each gate gets its own dropout mask.
    gates = 1

    def __init__(self, units, dropout=0.0, recurrent_dropout=0.0, seed=None,
                 implementation=2, kernel_regularizer=None, recurrent_regularizer=None,
                 bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(
                "Received an invalid value for argument `units`, expected a positive "
                f"integer. Received: units={units!r}"
            )
        if implementation not in (1, 2):
            raise ValueError(
                f"`implementation` expected 1 or 2. Received: implementation={implementation!r}"
            )
        self.units = int(units)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        self.implementation = 1 if self.recurrent_dropout != 0.0 else int(implementation)
        self.seed = seed
        # penalties on kernel, recurrent_kernel and bias (the cell's build passes them on)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.seed_generator: SeedGenerator | None = None  # made by each cell, in Keras' order
        self._dropout_mask = None
        self._recurrent_dropout_mask = None

    @property
    def state_size(self) -> list[int]:
        return [self.units]

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def dropout_mask_count(self) -> int | None:
        """Masks per call: one per gate with implementation 1, else a single shared one."""
        return self.gates if self.implementation == 1 and self.gates > 1 else None

    # ----------------------------------------------------------------- dropout masks
    def _create_dropout_mask(self, step_input: Array, rate: float):
        """Inverted-dropout mask(s) shaped like step_input: 0 or 1/(1 − rate), keep u ≥ rate,
        each the dropout of a tensor of ones with the cell's next seed (as Keras)."""
        def one():
            return random.dropout(np.ones_like(step_input), rate, seed=self.seed_generator)
        count = self.dropout_mask_count
        return one() if count is None else [one() for _ in range(count)]

    def get_dropout_mask(self, step_input: Array):
        """The input mask(s) of the current call, created on first use (Keras' name)."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_input: Array):
        """The recurrent mask(s) of the current call, created on first use."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = self._create_dropout_mask(
                step_input, self.recurrent_dropout)
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def dropout_for_call(self, step_input: Array, state: Array, training: bool) -> CellDropout:
        """The masks one call uses (Keras applies them only if training and 0 < rate < 1)."""
        def as_gates(masks):
            if masks is None:
                return None
            masks = as_list(masks)
            return tuple(masks) if len(masks) == self.gates else tuple(masks) * self.gates
        inputs = recurrent = None
        if training and 0.0 < self.dropout < 1.0:
            inputs = as_gates(self.get_dropout_mask(step_input))
        if training and 0.0 < self.recurrent_dropout < 1.0:
            recurrent = as_gates(self.get_recurrent_dropout_mask(state))
        return CellDropout(inputs, recurrent)

    # ----------------------------------------------------------------- protocol
    def step_forward(self, x_t: Array, states: list[Array], masks: CellDropout | None = None):
        raise NotImplementedError(f"{type(self).__name__}.step_forward")

    def step_backward(self, d_output: Array, d_states: list[Array], cache):
        raise NotImplementedError(f"{type(self).__name__}.step_backward")

    def get_initial_state(self, batch_size: int) -> list[Array]:
        return [np.zeros((batch_size, s), dtype=self.dtype) for s in self.state_size]

    def __call__(self, inputs, states=None, training=False):
        """Keras' cell call: `output, new_states = cell(x_t, states, training=False)`."""
        if active_recorders():  # its step has no backward on the tape: refuse, not drop it
            raise NotImplementedError(
                f"{type(self).__name__} {self.name!r} called step by step under a "
                "GradientTape (or in a subclassed layer's call) has no gradient in scratch: "
                "wrap the cell in RNN(cell), whose backward the tape replays.")
        x_t = self._autocast(inputs)
        if x_t.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expected a step input of shape (N, D). "
                f"Received: inputs.shape={x_t.shape}"
            )
        if not self.built:
            self.build(x_t.shape)
            self.built = True
        states = (self.get_initial_state(x_t.shape[0]) if states is None
                  else [self._autocast(s) for s in as_list(states)])
        masks = self.dropout_for_call(x_t, states[0], training)
        output, new_states, cache = self.step_forward(x_t, states, masks)
        self.reset_dropout_mask()
        self.reset_recurrent_dropout_mask()
        self._cache = cache
        return output, new_states

    def _activation_config(self) -> dict:
        return {}

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, **self._activation_config(),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "seed": self.seed,
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


def _reject_unsupported(kwargs: dict, owner: str) -> None:
    """Accept Keras' constraint arguments only with their default None."""
    for key in ("kernel_constraint", "recurrent_constraint", "bias_constraint"):
        value = kwargs.pop(key, None)
        if value is not None:
            raise ValueError(
                f"{owner} in scratch does not support `{key}` yet. Received: {key}={value!r}"
            )



# ------------------------------------------------------------------------------ BPTT driver
class SequenceCache(NamedTuple):
    """What `rnn_backward` needs from `rnn_forward` (the readable driver)."""

    steps: list  # the cell's cache of each processed step
    time_mask: Array | None  # (T, N, 1) bool in processing order, or None
    zero_output_for_mask: bool
    go_backwards: bool
    dropout: CellDropout | None
    x_shape: tuple
    state_shapes: list


def _time_major_mask(time_mask, go_backwards: bool):
    if time_mask is None:
        return None
    m = np.asarray(time_mask, dtype=bool).T[:, :, None]  # (T, N, 1)
    return m[::-1] if go_backwards else m


def rnn_forward(cell: RecurrentCell, x: Array, initial_states: list[Array], *,
                go_backwards: bool = False, time_mask: Array | None = None,
                zero_output_for_mask: bool = False, dropout: CellDropout | None = None):
    """Run `cell` over the time axis (readable reference loop).

    Args:
        cell: a built cell.
        x: (N, T, D) inputs.
        initial_states: list of (N, state_size[k]) arrays.
        go_backwards: process t = T … 1; the outputs come back in processing order.
        time_mask: (N, T) booleans (True = use the step), or None.
        zero_output_for_mask: masked steps output zeros instead of the previous output.
        dropout: the call's dropout masks (constant over time).

    Returns:
        (outputs, final_states, cache): outputs (N, T, output_size) in processing order,
        the final states (list), and a `SequenceCache` for `rnn_backward`.
    """
    T = x.shape[1]
    order = range(T - 1, -1, -1) if go_backwards else range(T)
    mask = _time_major_mask(time_mask, go_backwards)
    states = list(initial_states)
    prev_output = np.zeros((x.shape[0], cell.output_size), dtype=x.dtype)
    outputs, steps = [], []
    for step, t in enumerate(order):
        output, new_states, step_cache = cell.step_forward(x[:, t], states, dropout)
        if mask is not None:
            m = mask[step]
            fallback = np.zeros_like(output) if zero_output_for_mask else prev_output
            output = np.where(m, output, fallback)
            new_states = [np.where(m, s_new, s)
                          for s_new, s in zip(new_states, states, strict=True)]
        outputs.append(output)
        steps.append(step_cache)
        states, prev_output = new_states, output
    out = np.stack(outputs, axis=1)
    cache = SequenceCache(steps, mask, zero_output_for_mask, go_backwards, dropout, x.shape,
                          [s.shape for s in initial_states])
    return out, states, cache


def rnn_backward(cell: RecurrentCell, d_outputs: Array | None,
                 d_final_states: list[Array | None], cache: SequenceCache):
    """Backpropagation through time for `rnn_forward` (readable reference loop).

    Args:
        d_outputs: (N, T, output_size) cotangent of the outputs in processing order, or None.
        d_final_states: cotangents of the final states (None entries mean zero).
        cache: the `SequenceCache` of the forward call.

    Returns:
        (dx, d_initial_states, grads): dx (N, T, D), the initial-state cotangents (list) and
        the weight gradients summed over the steps.
    """
    N, T, D = cache.x_shape
    dtype = cell.dtype
    g_states = [np.zeros(s, dtype) if d is None else np.asarray(d)
                for d, s in zip(d_final_states, cache.state_shapes, strict=True)]
    g_out = np.zeros((N, cell.output_size), dtype)
    dx = np.zeros((N, T, D), dtype)
    grads = {name: np.zeros_like(w) for name, w in cell.params.items()}
    order = list(range(T - 1, -1, -1) if cache.go_backwards else range(T))
    for step in range(T - 1, -1, -1):
        d_output = g_out + d_outputs[:, step] if d_outputs is not None else g_out
        if cache.time_mask is not None:
            m = cache.time_mask[step]
            g_new_out = np.where(m, d_output, 0)
            g_out = np.zeros_like(d_output) if cache.zero_output_for_mask else \
                np.where(m, 0, d_output)
            g_new_states = [np.where(m, gs, 0) for gs in g_states]
            carried = [np.where(m, 0, gs) for gs in g_states]
        else:
            g_new_out, g_out = d_output, np.zeros_like(d_output)
            g_new_states, carried = g_states, None
        dx_t, d_prev, step_grads = cell.step_backward(g_new_out, g_new_states,
                                                      cache.steps[step])
        dx[:, order[step]] = dx_t
        if carried is not None:
            d_prev = [a + b for a, b in zip(carried, d_prev, strict=True)]
        g_states = d_prev
        for name, g_w in step_grads.items():
            grads[name] += g_w
    return dx, g_states, grads


# ------------------------------------------------------------------------------ the layer
def _both_given(layer) -> ValueError:
    return ValueError(f"Layer {layer.name!r}: pass the initial states either in the input "
                      "list or as `initial_state=`, not both.")


def call_with_initial_state(layer: Layer, call, inputs, training, initial_state, mask,
                            kwargs: dict):
    """Keras' call of a layer that takes initial states (an RNN, Bidirectional).

    Symbolic states (`scratch.Input`s) make the graph node a call on [x, *states], so that
    the graph's backward reaches them; arrays go to `forward` as `initial_state=`. `call`
    is the layer's `Layer.__call__`."""
    if initial_state is not None:
        states = as_list(initial_state)
        if any(isinstance(s, KerasTensor) for s in states):
            if isinstance(inputs, (list, tuple)):
                raise _both_given(layer)
            extra = {} if mask is None else {"mask": mask}
            return call_symbolic(layer, [inputs, *states], {**kwargs, **extra})
        kwargs["initial_state"] = [layer._autocast(s) for s in states]
    if mask is not None:
        kwargs["mask"] = mask
    return call(inputs, training=training, **kwargs)


def split_initial_states(layer: Layer, inputs, initial_state):
    """(x, initial states or None, whether the call was on a list [x, *states]): a graph
    passes the states in the input list, a direct call as `initial_state=`."""
    if isinstance(inputs, (list, tuple)):
        if initial_state is not None:
            raise _both_given(layer)
        return inputs[0], list(inputs[1:]), True
    return inputs, initial_state, False


class RNNCache(NamedTuple):
    sequence: Any  # the driver's cache (readable SequenceCache or the fast path's)
    fast: bool
    multi_input: bool  # called as layer([x, *initial_states]): backward returns a list
    output_shapes: list  # shapes of every output of the call (for unused-output zeros)
    n_states: int
    T: int


class RNN(Layer):
    """Base class for recurrent layers: `RNN(cell)` runs a cell over time (Keras' `RNN`).

    Math:
        see the module docstring: S_t = cell(x_t, S_{t−1}), masked steps carry S and o over,
        BPTT sums each step's weight gradients.

    Args:
        cell: a `RecurrentCell` (SimpleRNNCell, GRUCell, LSTMCell or your own).
        return_sequences: return all outputs (N, T, M) instead of the last one (N, M).
        return_state: also return the final states: [output, h] ([output, h, c] for LSTM).
        go_backwards: process the sequence backwards; the returned sequence is in processing
            order (not re-reversed), as in Keras.
        stateful: keep the final states of a batch as the next call's initial states (the
            batch size is then fixed); `reset_state()` zeroes them.
        unroll: accepted for Keras compatibility and ignored (the loop is always a Python loop).
        zero_output_for_mask: masked steps output zeros instead of repeating the last output.

    Call arguments (`layer(x, initial_state=None, mask=None, training=False)`):
        x: (N, T, D), or a list [x, *initial_states] to get initial-state gradients in a graph.
        initial_state: list of arrays (N, state_size[k]), or symbolic tensors in a graph.
        mask: (N, T) booleans; False steps are skipped (state and output carried over).
        training: dropout masks are used only when True.

    Shapes:
        input (N, T, D) → output (N, T, M) with return_sequences, else (N, M); with
        return_state a list [output, *states], each state (N, M). Weights belong to the cell.

    Raises:
        ValueError: input not of rank 3 (the course's N×T×D lesson), wrong feature width,
            initial states of the wrong count or shape, a stateful layer called with another
            batch size, a mask of the wrong shape.
    """

    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, zero_output_for_mask=False, **kwargs):
        if isinstance(cell, (list, tuple)):
            raise ValueError(
                "scratch's RNN expects a single cell (stacked cells are not supported). "
                f"Received: cell={cell!r}"
            )
        if not isinstance(cell, RecurrentCell):
            raise ValueError(
                "Argument `cell` should be a scratch RecurrentCell (with state_size, "
                f"step_forward and step_backward). Received: cell={cell!r}"
            )
        kwargs.pop("use_cudnn", None)
        super().__init__(**kwargs)
        self.cell = cell
        self.cell.dtype = self.dtype
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.states: list[Array] | None = None
        self.initial_state_grads: list[Array] | None = None
        self.fast_path = None  # True/False: this layer's choice; None: backend.fast_paths
        self.params = cell.params  # the same dict: optimizers update the cell's arrays
        self._regularizers = cell._regularizers  # and the cell's penalties on them

    @property
    def state_size(self) -> list[int]:
        return list(self.cell.state_size)

    def _sublayers(self) -> list[Layer]:
        return [self.cell] if hasattr(self, "cell") else []

    # ----------------------------------------------------------------- shapes
    @staticmethod
    def _sequence_shape(input_shape) -> Shape:
        if isinstance(input_shape, list) and input_shape and isinstance(
                input_shape[0], (list, tuple)):
            return shape_tuple(input_shape[0])
        return shape_tuple(input_shape)

    def _check_sequence_rank(self, shape) -> None:
        if len(shape) != 3:
            raise ValueError(
                f"Input 0 of layer {self.name!r} ({type(self).__name__}) is incompatible with "
                f"the layer: expected ndim=3, found ndim={len(shape)}. Full shape received: "
                f"{tuple(shape)}. Recurrent layers take sequences shaped N×T×D (samples × "
                "time steps × features): reshape a single series with x.reshape(N, T, 1)."
            )

    def build(self, input_shape) -> None:
        shape = self._sequence_shape(input_shape)
        self._check_sequence_rank(shape)
        if shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} needs a known feature dimension D. "
                f"Received: input_shape={shape}"
            )
        if not self.cell.built:
            self.cell.build((shape[0], shape[-1]))
            self.cell.built = True
        self.params = self.cell.params
        if self.stateful:
            if shape[0] is None:
                raise ValueError(
                    "When using `stateful=True` in a RNN, the batch size must be static. "
                    f"Found dynamic batch size: sequence.shape={shape}"
                )
            self.states = self.cell.get_initial_state(shape[0])
        self.built = True

    def compute_output_shape(self, input_shape):
        shape = self._sequence_shape(input_shape)
        N, T = shape[0], shape[1]
        M = self.cell.output_size
        out = (N, T, M) if self.return_sequences else (N, M)
        if self.return_state:
            return [out] + [(N, s) for s in self.state_size]
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(self.state_size)
        return out_mask

    def _output_shapes_of_cache(self, cache: RNNCache) -> list:
        return list(cache.output_shapes)

    # ----------------------------------------------------------------- calling
    def __call__(self, inputs, training=None, initial_state=None, mask=None, **kwargs):
        return call_with_initial_state(self, super().__call__, inputs, training,
                                       initial_state, mask, kwargs)

    def reset_state(self) -> None:
        """Zero the stored states of a stateful layer."""
        if self.states is not None:
            for s in self.states:
                s[...] = 0

    def reset_states(self) -> None:
        """Compatibility alias of `reset_state()`."""
        self.reset_state()

    def get_initial_state(self, batch_size: int) -> list[Array]:
        return self.cell.get_initial_state(batch_size)

    # ----------------------------------------------------------------- validation
    def _check_sequences(self, x) -> None:
        self._check_float_input(x)
        self._check_sequence_rank(x.shape)
        expected = self.cell.params["kernel"].shape[0] if "kernel" in self.cell.params \
            else None
        if expected is not None and x.shape[-1] != expected:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected input with last dimension "
                f"{expected} (the D it was built with). Received: shape={x.shape}"
            )
        if x.shape[1] == 0:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected at least one time step. "
                f"Received: shape={x.shape}"
            )

    def _check_initial_states(self, states, N: int) -> list[Array]:
        sizes = self.state_size
        if len(states) != len(sizes):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected {len(sizes)} initial state(s) "
                f"of shape(s) {[(N, s) for s in sizes]}. Received: {len(states)} initial "
                f"state(s) of shape(s) {[np.shape(s) for s in states]}"
            )
        out = []
        for k, (s, size) in enumerate(zip(states, sizes, strict=True)):
            if not isinstance(s, np.ndarray):
                raise TypeError(
                    f"{type(self).__name__} {self.name!r} expected initial states as NumPy "
                    f"arrays. Received: type={type(s).__name__} for initial state {k}"
                )
            if s.shape != (N, size):
                raise ValueError(
                    f"{type(self).__name__} {self.name!r} expected initial state {k} of "
                    f"shape {(N, size)}. Received: shape={s.shape}"
                )
            if s.dtype != self.dtype:
                raise TypeError(
                    f"{type(self).__name__} {self.name!r} computes in {self.dtype}. "
                    f"Received: initial state {k} of dtype {s.dtype}"
                )
            out.append(s)
        return out

    def _check_mask(self, mask, N: int, T: int):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.shape != (N, T):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected a mask of shape (N, T) = "
                f"{(N, T)}. Received: mask.shape={mask.shape}"
            )
        return mask.astype(bool, copy=False)

    # ----------------------------------------------------------------- forward
    def forward(self, inputs, training: bool = False, initial_state=None, mask=None):
        x, initial_state, multi_input = split_initial_states(self, inputs, initial_state)
        self._check_sequences(x)
        N, T, _ = x.shape
        if initial_state is not None:
            states = self._check_initial_states(as_list(initial_state), N)
        elif self.stateful:
            if self.states is None or self.states[0].shape[0] != N:
                expected = None if self.states is None else self.states[0].shape[0]
                raise ValueError(
                    "If an RNN is stateful, the batch size of the input sequences must be the "
                    "same as the batch size of the initial state. \n"
                    f"- Expected batch size: {expected}\n- Received batch size: {N}"
                )
            states = [s.copy() for s in self.states]
        else:
            states = self.cell.get_initial_state(N)
        time_mask = self._check_mask(mask, N, T)

        # As Keras' RNN.call: the call's dropout masks are drawn whether or not it trains (so
        # the k-th call of the layer uses the seed pair (s, k) in fit, evaluate and predict
        # alike), and used only when training.
        self.cell.get_dropout_mask(x[:, 0])
        self.cell.get_recurrent_dropout_mask(states[0])
        masks = self.cell.dropout_for_call(x[:, 0], states[0], training)
        self.cell.reset_dropout_mask()
        self.cell.reset_recurrent_dropout_mask()
        run = rnn_forward
        if backend.use_fast_path(self):
            fast_kernels = load_kernels("recurrent")
            if fast_kernels.supports(self.cell, masks):
                run = fast_kernels.rnn_forward
        outputs, final_states, seq_cache = run(
            self.cell, x, states, go_backwards=self.go_backwards, time_mask=time_mask,
            zero_output_for_mask=self.zero_output_for_mask, dropout=masks)

        if self.stateful:
            if self.states is None or self.states[0].shape[0] != N:
                self.states = [np.array(s, copy=True) for s in final_states]
            else:
                for stored, s in zip(self.states, final_states, strict=True):
                    stored[...] = s
        # Copies: the arrays handed out must not alias the caches backward reads. The
        # sequences keep the memory order of the time loop's buffer ("K"): the fast path's is
        # step-major (T, N, M), so this is a plain copy, not a transposing one, and the layers
        # that read sequences step by step (another recurrent layer, GlobalMaxPooling1D) take
        # it without one either; NumPy reads the (N, T, M) view like any array.
        output = np.array(outputs, order="K") if self.return_sequences else \
            np.array(outputs[:, -1], order="C")
        final_states = [np.array(s, order="C") for s in final_states]
        results = [output] + final_states if self.return_state else [output]
        self._cache = RNNCache(seq_cache, run is not rnn_forward, multi_input,
                               [r.shape for r in results], len(states), T)
        return results if self.return_state else output

    # ----------------------------------------------------------------- backward
    def backward(self, dy, *, need_dx: bool = True, need_grads: bool = True):
        """Backpropagation through time (`rnn_backward`); with `need_dx=False` the fast
        kernels skip the input gradient (dx is None). The weight gradients are always
        computed."""
        cache: RNNCache = self._require_cache()
        dys = as_list(dy) if self.return_state else [dy]
        if len(dys) != len(cache.output_shapes):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected {len(cache.output_shapes)} "
                f"output gradients. Received: {len(dys)}"
            )
        dys = [None if d is None else self._check_dy(d, s)
               for d, s in zip(dys, cache.output_shapes, strict=True)]
        d_out = dys[0]
        d_states = dys[1:] if self.return_state else [None] * cache.n_states
        if d_out is not None and not self.return_sequences:
            N, M = cache.output_shapes[0]
            full = np.zeros((N, cache.T, M), self.dtype)
            full[:, -1] = d_out
            d_out = full
        if cache.fast:
            fast_kernels = load_kernels("recurrent")
            dx, d_init, grads = fast_kernels.rnn_backward(self.cell, d_out, d_states,
                                                          cache.sequence, need_dx)
        else:
            dx, d_init, grads = rnn_backward(self.cell, d_out, d_states, cache.sequence)
        self.grads = {name: grads[name] for name in self.params}
        self.cell.grads = self.grads
        self.initial_state_grads = d_init
        return [dx, *d_init] if cache.multi_input else dx

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask}
