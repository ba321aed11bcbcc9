"""Wrapper layers: TimeDistributed(layer) and Bidirectional(rnn), with Keras 3's semantics.

A wrapper owns no math of its own: it calls the wrapped layers' `forward` and `backward`
and moves the numbers around them. Its weights are the wrapped layers' arrays (the same
objects, so an optimizer's in-place update reaches them), in Keras' `get_weights()` order,
and files save them where Keras does (under the attribute names `layer`, `forward_layer`,
`backward_layer`: scratch/saving/keras_order.py's `layer_children`).

TimeDistributed (Keras' `TimeDistributed`, which loops over the time axis in Keras 3):

    y[:, t] = layer(x[:, t])          for t = 0 … T−1, one call per step, the same weights
    dx[:, t] = layerᵀ(dy[:, t]),  dW = Σ_t dW_t     (each step's backward with its own cache)

One call per step is what Keras 3 does, and it is what makes a BatchNormalization (its
statistics per step, T updates of the moving averages) or a Dropout (T masks, the seed pairs
(s, k) … (s, k + T − 1)) inside it match. A layer that treats every sample alone and draws
nothing (Dense, the convolutions, activations, pooling, ...; Dropout and the noise layers at
inference) gives the same numbers for one call on the N·T samples of the reshaped batch,
which is the fast path (`backend.fast_paths`). A mask (N, T) passes through; a wrapped
layer whose `forward` takes `mask=` gets mask[:, t], as in Keras.

Bidirectional (Keras' `Bidirectional`; not in the course, whose RNNs read one direction):

    y_f = forward_layer(x)                  the wrapped RNN, a fresh copy named forward_<name>
    y_b = backward_layer(x)                 a copy with go_backwards=True (backward_<name>)
    with return_sequences, y_b is flipped back to time order: y_b ← y_b[:, ::-1]
    merge:  concat [y_f, y_b] | sum y_f + y_b | ave (y_f + y_b)/2 | mul y_f ⊙ y_b | None: both

Backward splits the merged cotangent (concat: the two halves; sum: dy to both; ave: dy/2;
mul: dy ⊙ y_b and dy ⊙ y_f), flips the backward half, back-propagates each RNN through time
and adds their input gradients: dx = dx_f + dx_b. Initial states are [forward states...,
backward states...] (the first half goes to the forward layer); with return_state the outputs
are [merged output(s), forward final states..., backward final states...]. As in Keras,
masked steps of a returned sequence output zeros (`zero_output_for_mask = return_sequences`
on both layers).
"""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

import numpy as np

from .. import backend
from ..typing import Array, Shape
from .base import Layer, as_list, shape_tuple
from .recurrent.rnn import RNN, call_with_initial_state, split_initial_states

__all__ = ["TimeDistributed", "Bidirectional"]

MERGE_MODES = ("concat", "sum", "ave", "mul", None)


# ------------------------------------------------------------------------------ helpers
def _takes_mask(layer: Layer) -> bool:
    try:
        return "mask" in inspect.signature(layer.forward).parameters
    except (TypeError, ValueError):
        return False


def layer_entry(layer: Layer) -> dict:
    """A wrapped layer in the form Keras' config nests it (`serialize_keras_object`)."""
    return {"module": "keras.layers", "class_name": type(layer).__name__,
            "config": layer.get_config(), "registered_name": None}


def layer_from_entry(entry) -> Layer:
    """The inverse of `layer_entry` (a Layer passes through: file loading builds them)."""
    if isinstance(entry, Layer):
        return entry
    from ..saving.registry import layer_class

    if not isinstance(entry, dict) or "class_name" not in entry:
        raise ValueError("A wrapped layer must be a Layer or its config {'class_name': ..., "
                         f"'config': ...}}. Received: {entry!r}")
    return layer_class(entry["class_name"]).from_config(dict(entry.get("config") or {}))


def copy_layer(layer: Layer, **changes) -> Layer:
    """A fresh layer from `layer`'s config with `changes` (as Keras' serialize/deserialize
    round trip: unseeded initializers draw new seeds, the weights are new)."""
    config = {**layer.get_config(), **changes}
    config.pop("batch_input_shape", None)
    cls = type(layer)
    if "cell" in inspect.signature(cls.__init__).parameters and "cell" not in config:
        cell = layer.cell  # RNN(cell): its config does not hold the cell
        config["cell"] = type(cell).from_config(cell.get_config())
    return cls.from_config(config)


def _wrapper_dtype(kwargs: dict, layer: Layer, what: str) -> None:
    """A wrapper computes in its layer's dtype: nothing is cast silently in scratch."""
    dtype = kwargs.get("dtype")
    if dtype is None:
        kwargs["dtype"] = layer.dtype
    elif backend.standardize_dtype(dtype) != layer.dtype:
        raise ValueError(
            f"{what} computes in its layer's dtype {layer.dtype!r} (scratch casts nothing "
            f"silently). Received: dtype={dtype!r} for a {layer.dtype} layer "
            f"{layer.name!r}"
        )


def _batch_independent(layer: Layer, training: bool) -> bool:
    """Whether `layer` computes each sample alone and draws nothing, so that one call on
    the N·T samples of a reshaped batch equals T calls on N (TimeDistributed's fast path)."""
    from .conv import _Conv
    from .conv_transpose import _ConvTranspose
    from .core import Activation, Dense, Flatten, Reshape
    from .dropout import Dropout
    from .embedding import Embedding
    from .noise import _Noise
    from .normalization import BatchNormalization, LayerNormalization
    from .pooling import _GlobalPooling, _Pooling

    per_sample = (Dense, Activation, Flatten, Reshape, _Conv, _ConvTranspose, _Pooling,
                  _GlobalPooling, LayerNormalization, Embedding)
    if isinstance(layer, per_sample):
        return True
    if isinstance(layer, (BatchNormalization, Dropout, _Noise)):
        return not training  # moving statistics; no draws at inference
    return False


def _merged_params(layers: list[Layer]) -> tuple[dict, dict]:
    """params and state of several wrapped layers, keyed "<layer name>/<weight name>"."""
    params, state = {}, {}
    for layer in layers:
        params.update({f"{layer.name}/{k}": w for k, w in layer.params.items()})
        state.update({f"{layer.name}/{k}": w for k, w in layer.state.items()})
    return params, state


class _Wrapper(Layer):
    """What both wrappers share: their layers (`config_layers`, the config keys that hold
    them, as scratch/saving/serialize.py writes them) follow the wrapper's `trainable`
    flag, as Keras' sub-layers do."""

    supports_masking = True

    @property
    def config_layers(self) -> dict[str, Layer]:
        raise NotImplementedError(f"{type(self).__name__}.config_layers")

    def _sublayers(self) -> list[Layer]:
        return list(self.config_layers.values())


# ------------------------------------------------------------------------------ TimeDistributed
class TimeCache(NamedTuple):
    steps: list | None  # the wrapped layer's cache of each step (None on the fast path)
    batch: Any  # its cache of the one reshaped call (fast path), else None
    x_shape: tuple
    y_shape: tuple


class TimeDistributed(_Wrapper):
    """Applies the same layer to every time step: `y[:, t] = layer(x[:, t])`.

    Math:
        y[:, t] = f(x[:, t]; W) for t = 0 … T−1;   dx[:, t] = ∂f/∂x(x[:, t])ᵀ dy[:, t];
        dW = Σ_t ∂f/∂W(x[:, t])ᵀ dy[:, t]   (W shared by every step, as an RNN's)

    Args:
        layer: the scratch layer to apply (not called yet; TimeDistributed builds it on
            (N, *x.shape[2:])).

    Call arguments: `x` (N, T, ...), `training`, `mask` (N, T) (passed through; mask[:, t]
    goes to a wrapped layer whose forward takes a mask).

    Shapes:
        input (N, T, *s) → output (N, T, *s') where the layer maps (N, *s) → (N, *s').
        Weights: the wrapped layer's (Keras saves them under `layer`).

    Raises:
        ValueError: `layer` not a scratch Layer, an input of rank < 3, a mask whose first
            two axes are not (N, T), a dtype other than the layer's.
    """

    def __init__(self, layer, **kwargs):
        layer = layer_from_entry(layer) if isinstance(layer, dict) else layer
        if not isinstance(layer, Layer):
            raise ValueError("Please initialize `TimeDistributed` layer with a scratch "
                             f"`Layer` instance. Received: layer={layer!r}")
        _wrapper_dtype(kwargs, layer, "TimeDistributed")
        super().__init__(**kwargs)
        self.layer = layer
        self.params, self.state = layer.params, layer.state  # the same dicts
        self.fast_path = None  # True/False: this layer's choice; None: backend.fast_paths

    @property
    def config_layers(self) -> dict[str, Layer]:
        """The config keys that hold wrapped layers (scratch/saving/serialize.py)."""
        return {"layer": self.layer}

    def _child_shape(self, input_shape) -> Shape:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) < 3:
            raise ValueError(
                "`TimeDistributed` Layer should be passed an `input_shape` with at least 3 "
                f"dimensions, received: {input_shape!r}"
            )
        return (input_shape[0], *input_shape[2:])

    def build(self, input_shape: Shape) -> None:
        child = self._child_shape(shape_tuple(input_shape))
        if not self.layer.built:
            self.layer.build(child)
            self.layer.built = True
        self.params, self.state = self.layer.params, self.layer.state
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        child = self.layer.compute_output_shape(self._child_shape(shape_tuple(input_shape)))
        return (child[0], input_shape[1], *child[1:])

    def _casts_ints(self) -> bool:
        return self.layer._casts_ints()  # an Embedding inside takes integer ids

    def _check_mask(self, mask, x_shape):
        if mask is None:
            return None
        mask = np.asarray(mask)
        if mask.ndim < 2:
            raise ValueError(
                "The `mask` passed to the `TimeDistributed` layer must be at least 2D (e.g., "
                f"`(batch_size, timesteps)`), but it has {mask.ndim} dimension(s) with shape "
                f"{mask.shape}."
            )
        if mask.shape[:2] != tuple(x_shape[:2]):
            raise ValueError(
                f"The `mask` passed to the `TimeDistributed` layer has a shape {mask.shape} "
                f"that is incompatible with the input shape {tuple(x_shape)}. The first two "
                "dimensions of the mask (batch size and timesteps) must match the input's "
                f"first two dimensions. Expected mask shape prefix: {tuple(x_shape[:2])}."
            )
        return mask

    def forward(self, x: Array, training: bool = False, mask=None) -> Array:
        if not isinstance(x, np.ndarray):
            raise TypeError(f"TimeDistributed {self.name!r} expected a NumPy array. "
                            f"Received: type={type(x).__name__}")
        self._child_shape(x.shape)
        mask = self._check_mask(mask, x.shape)
        N, T = x.shape[:2]
        pass_mask = mask is not None and _takes_mask(self.layer)
        if (backend.use_fast_path(self) and not pass_mask
                and _batch_independent(self.layer, training)):
            y = self.layer.forward(x.reshape(N * T, *x.shape[2:]), training=training)
            y = y.reshape(N, T, *y.shape[1:])
            self._cache = TimeCache(None, self.layer._cache, x.shape, y.shape)
            return y
        outputs, steps = [], []
        for t in range(T):
            kwargs = {"mask": mask[:, t]} if pass_mask else {}
            outputs.append(self.layer.forward(x[:, t], training=training, **kwargs))
            steps.append(self.layer._cache)
        y = np.stack(outputs, axis=1)
        self._cache = TimeCache(steps, None, x.shape, y.shape)
        return y

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True):
        cache: TimeCache = self._require_cache()
        dy = self._check_dy(dy, cache.y_shape)
        N, T = cache.x_shape[:2]
        flags = {"need_dx": need_dx, "need_grads": need_grads}
        if cache.steps is None:  # the fast path: one call on the N·T samples
            self.layer._cache = cache.batch
            dx = self.layer.backward(dy.reshape(N * T, *dy.shape[2:]), **flags)
            self.grads = dict(self.layer.grads)
            return None if dx is None else dx.reshape(cache.x_shape)
        dxs, grads = [], {}
        for t in range(T):
            self.layer._cache = cache.steps[t]
            dxs.append(self.layer.backward(np.ascontiguousarray(dy[:, t]), **flags))
            for name, g in self.layer.grads.items():  # the weights are shared by every step
                grads[name] = g.copy() if name not in grads else grads[name] + g
        self.layer.grads = self.grads = grads
        if any(d is None for d in dxs):
            return None
        return np.stack(dxs, axis=1)

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": layer_entry(self.layer)}


# ------------------------------------------------------------------------------ Bidirectional
class BidirectionalCache(NamedTuple):
    forward: Any  # the forward layer's cache
    backward: Any  # the backward layer's cache
    y_f: Array  # the forward output (time order)
    y_b: Array  # the backward output, flipped to time order with return_sequences
    multi_input: bool  # called on [x, *initial_states]: backward returns a list
    initial_state: bool  # initial states were given (their gradients are reported)
    output_shapes: list


class Bidirectional(_Wrapper):
    """Runs an RNN forwards and backwards over the sequence and merges the two outputs.

    Math:
        y_f = RNN_f(x),  y_b = RNN_b(x) with go_backwards (flipped back to time order when
        sequences are returned);  y = concat(y_f, y_b) | y_f + y_b | (y_f + y_b)/2 |
        y_f ⊙ y_b | [y_f, y_b]  (merge_mode "concat" | "sum" | "ave" | "mul" | None);
        dx = dx_f + dx_b

    Args:
        layer: a scratch recurrent layer (SimpleRNN, GRU, LSTM, RNN(cell)); Bidirectional
            makes two fresh copies of it from its config, `forward_<name>` and
            `backward_<name>` (with go_backwards=True), with new weights, as Keras does.
        merge_mode: "concat" (default), "sum", "ave", "mul" or None (a list of both).
        backward_layer: an optional recurrent layer for the backward direction, used as it
            is; it must differ from `layer` in go_backwards and agree on stateful,
            return_sequences and return_state.

    Call arguments: `x` (N, T, D), `initial_state` [forward states..., backward states...],
    `mask` (N, T), `training`. As with an RNN, `layer([x, *initial_states])` in a graph
    back-propagates into the states.

    Shapes:
        input (N, T, D) → (N, [T,] 2M) for concat, (N, [T,] M) for sum/ave/mul, a list of
        two for None; with return_state the final states follow: [h_f, (c_f,) h_b, (c_b)].
        Weights: the forward layer's, then the backward layer's (Keras' order).

    Raises:
        ValueError: an invalid merge_mode, a layer that is not recurrent, mismatched
            forward and backward layers, a dtype other than the layer's.
    """

    def __init__(self, layer, merge_mode="concat", backward_layer=None, **kwargs):
        layer = layer_from_entry(layer) if isinstance(layer, dict) else layer
        if isinstance(backward_layer, dict):
            backward_layer = layer_from_entry(backward_layer)
        for arg, value in (("layer", layer), ("backward_layer", backward_layer)):
            if value is not None and not isinstance(value, RNN):
                raise ValueError(
                    f"`Bidirectional` needs a scratch recurrent layer (SimpleRNN, GRU, LSTM or "
                    f"RNN(cell)) as `{arg}`. Received: {arg}={value!r}"
                )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Invalid merge mode. Received: {merge_mode!r}. Merge mode should be one of "
                '{"sum", "mul", "ave", "concat", None}'
            )
        _wrapper_dtype(kwargs, layer, "Bidirectional")
        super().__init__(**kwargs)
        self.forward_layer = copy_layer(layer, name=f"forward_{_strip(layer.name, 'forward_')}")
        if backward_layer is None:
            backward_layer = copy_layer(layer, go_backwards=True,
                                        name=f"backward_{_strip(layer.name, 'backward_')}")
        self.backward_layer = backward_layer
        self._verify_layers()
        for rnn in (self.forward_layer, self.backward_layer):
            rnn.zero_output_for_mask = rnn.return_sequences  # as Keras: masked steps give 0
        self.merge_mode = merge_mode
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.initial_state_grads: list[Array] | None = None

    def _verify_layers(self) -> None:
        f, b = self.forward_layer, self.backward_layer
        if f.go_backwards == b.go_backwards:
            raise ValueError(
                "Forward layer and backward layer should have different `go_backwards` "
                f"value. Received: forward_layer.go_backwards {f.go_backwards}, "
                f"backward_layer.go_backwards={b.go_backwards}"
            )
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(f, attr) != getattr(b, attr):
                raise ValueError(
                    "Forward layer and backward layer are expected to have the same value "
                    f'for attribute "{attr}", got "{getattr(f, attr)}" for forward layer and '
                    f'"{getattr(b, attr)}" for backward layer'
                )
        if b.dtype != f.dtype:
            raise ValueError(f"The backward layer computes in {b.dtype}, the forward layer "
                             f"in {f.dtype}. Received: backward_layer={b.name!r}")

    @property
    def config_layers(self) -> dict[str, Layer]:
        """The config keys that hold wrapped layers (scratch/saving/serialize.py)."""
        return {"layer": self.forward_layer, "backward_layer": self.backward_layer}

    @property
    def states(self):
        """The stored states of a stateful pair, forward then backward (None otherwise)."""
        f, b = self.forward_layer.states, self.backward_layer.states
        return tuple(f + b) if f and b else None

    def reset_state(self) -> None:
        if not self.stateful:
            raise AttributeError("Layer must be stateful.")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self) -> None:
        self.reset_state()

    # ----------------------------------------------------------------- shapes
    def build(self, input_shape) -> None:
        for rnn in (self.forward_layer, self.backward_layer):
            if not rnn.built:
                rnn.build(input_shape)
                rnn.built = True
        self.params, self.state = _merged_params([self.forward_layer, self.backward_layer])
        self.built = True

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            out, states = out[0], list(out[1:])
        if self.merge_mode == "concat":  # the two widths (Keras doubles the forward one)
            width = self.backward_layer.cell.output_size
            out = (*out[:-1], None if out[-1] is None else out[-1] + width)
        outs = [out, out] if self.merge_mode is None else [out]
        if self.return_state or self.merge_mode is None:
            return outs + states + states
        return out

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0] if mask else None
        out = mask if self.return_sequences else None
        masks = [out, out] if self.merge_mode is None else [out]
        if self.return_state:
            return masks + [None] * (2 * len(self.forward_layer.state_size))
        return masks if self.merge_mode is None else out

    # ----------------------------------------------------------------- calling
    def __call__(self, inputs, training=None, initial_state=None, mask=None, **kwargs):
        return call_with_initial_state(self, super().__call__, inputs, training,
                                       initial_state, mask, kwargs)

    def forward(self, inputs, training: bool = False, initial_state=None, mask=None):
        x, initial_state, multi_input = split_initial_states(self, inputs, initial_state)
        states_f = states_b = None
        if initial_state is not None:
            states = as_list(initial_state)
            n_f = len(self.forward_layer.state_size)
            if len(states) != n_f + len(self.backward_layer.state_size):
                raise ValueError(
                    f"Bidirectional {self.name!r} expected {2 * n_f} initial states (the "
                    f"forward layer's {n_f}, then the backward layer's). Received: "
                    f"{len(states)} initial state(s)"
                )
            states_f, states_b = states[:n_f], states[n_f:]
        y_f = self.forward_layer.forward(x, training=training, initial_state=states_f,
                                         mask=mask)
        cache_f = self.forward_layer._cache
        y_b = self.backward_layer.forward(x, training=training, initial_state=states_b,
                                          mask=mask)
        cache_b = self.backward_layer._cache
        final_states = []
        if self.return_state:
            final_states = list(y_f[1:]) + list(y_b[1:])
            y_f, y_b = y_f[0], y_b[0]
        if self.return_sequences:
            y_b = np.ascontiguousarray(y_b[:, ::-1])  # the backward layer's outputs, in time order
        merged = merge_forward(y_f, y_b, self.merge_mode)
        outputs = merged + final_states
        self._cache = BidirectionalCache(cache_f, cache_b, y_f, y_b, multi_input,
                                         initial_state is not None,
                                         [o.shape for o in outputs])
        return outputs if len(outputs) > 1 else outputs[0]

    def backward(self, dy, *, need_dx: bool = True, need_grads: bool = True):
        cache: BidirectionalCache = self._require_cache()
        n_out = len(cache.output_shapes)
        dys = as_list(dy) if n_out > 1 else [dy]
        if len(dys) != n_out:
            raise ValueError(f"Bidirectional {self.name!r} expected {n_out} output "
                             f"gradients. Received: {len(dys)}")
        dys = [None if d is None else self._check_dy(d, s)
               for d, s in zip(dys, cache.output_shapes, strict=True)]
        n_merged = 2 if self.merge_mode is None else 1
        d_f, d_b = merge_backward(dys[:n_merged], cache.y_f, cache.y_b, self.merge_mode)
        if d_b is not None and self.return_sequences:
            d_b = np.ascontiguousarray(d_b[:, ::-1])  # back to the backward layer's order
        n_f = len(self.forward_layer.state_size)
        d_states = dys[n_merged:]
        flags = {"need_dx": need_dx, "need_grads": need_grads}
        dxs, grads, state_grads = [], {}, []
        for rnn, rnn_cache, d_out, d_st in (
                (self.forward_layer, cache.forward, d_f, d_states[:n_f]),
                (self.backward_layer, cache.backward, d_b, d_states[n_f:])):
            rnn._cache = rnn_cache
            dxs.append(rnn.backward([d_out, *d_st] if self.return_state else
                                    (d_out if d_out is not None else
                                     np.zeros(rnn_cache.output_shapes[0], self.dtype)),
                                    **flags))
            grads.update({f"{rnn.name}/{k}": g for k, g in rnn.grads.items()})
            state_grads += list(rnn.initial_state_grads or [])
        self.grads = grads
        self.initial_state_grads = state_grads if cache.initial_state else None
        dx = None if any(d is None for d in dxs) else dxs[0] + dxs[1]
        return [dx, *state_grads] if cache.multi_input else dx

    def get_config(self) -> dict:
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": layer_entry(self.forward_layer),
                "backward_layer": layer_entry(self.backward_layer)}


def _strip(name: str, prefix: str) -> str:
    return name[len(prefix):] if name.startswith(prefix) else name


def merge_forward(y_f: Array, y_b: Array, mode) -> list[Array]:
    """The merged output(s) of the two directions (a list: two entries for mode None)."""
    if mode == "concat":
        return [np.concatenate([y_f, y_b], axis=-1)]
    if mode == "sum":
        return [y_f + y_b]
    if mode == "ave":
        return [(y_f + y_b) / y_f.dtype.type(2)]
    if mode == "mul":
        return [y_f * y_b]
    return [y_f, y_b]


def merge_backward(dys: list, y_f: Array, y_b: Array, mode) -> tuple:
    """(dy_f, dy_b) from the cotangent(s) of `merge_forward`'s output(s) (None: unused)."""
    if mode is None:
        return dys[0], dys[1]
    dy = dys[0]
    if dy is None:
        return None, None
    if mode == "concat":
        m = y_f.shape[-1]
        return np.ascontiguousarray(dy[..., :m]), np.ascontiguousarray(dy[..., m:])
    if mode == "sum":
        return dy, dy
    if mode == "ave":
        half = dy / dy.dtype.type(2)
        return half, half
    return dy * y_b, dy * y_f  # mul
