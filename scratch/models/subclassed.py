"""Keras-style subclassed models: layers created in `__init__`, the forward pass in `call`.

    class MLP(scratch.Model):
        def __init__(self):
            super().__init__()
            self.hidden = scratch.layers.Dense(128, activation="relu")
            self.out = scratch.layers.Dense(10, activation="softmax")

        def call(self, x, training=None):
            return self.out(self.hidden(x))

A `Model` subclass that defines `call` gets `SubclassedModel` put under it
(`Layer.__init_subclass__`, scratch/layers/subclassed.py). What it adds to `Model`:

* Layers assigned as attributes are tracked in assignment order (`model.layers`, the weights,
  `summary()`, `get_weights`/`set_weights` in Keras' order, `trainable` on all of them).
* `call` runs eagerly on NumPy arrays (Python control flow, other models, any layer), each
  time as a new tape recording (scratch/tape); the model's backward replays it. The model is
  built by its first call, or by its first data in `fit`/`predict`/`evaluate` (a call on
  zeros that draws no random numbers), which also tells it the structure of its inputs and
  outputs (one array, a list, a dict).
* `compile`/`fit`/`evaluate`/`predict`/`train_on_batch` are the functional model's
  (scratch/models/training.py): the train step's forward and backward
  (`_forward_along`/`_backward_along`) run `call` and replay its recording, and everything
  else (the losses on hidden logits, the metrics, Keras 3's trainable snapshot, the
  optimizer) is unchanged, so a subclassed model trains to the same numbers as its
  functional twin.
"""

from __future__ import annotations

import numpy as np

from ..layers.base import Layer
from ..layers.subclassed import (
    Tracking,
    missing_super_init,
    probe_output_shape,
    takes_argument,
    without_random_draws,
)
from ..layers.symbolic import KerasTensor, call_symbolic
from ..tape import recorder
from ..tape.gradient_tape import CallRecording
from ..tape.recorder import flatten, pack
from .functional import Model


class SubclassedModel(Tracking, Model):
    """What a Keras-style model (a `Model` subclass with `call`) inherits (see the module
    docstring). `model.inputs`/`outputs` exist once it is built: specifications of the
    arrays it takes and gives (batch axis None)."""

    def __init__(self, *args, **kwargs) -> None:
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                f"{type(self).__name__} defines `call`, so it is a subclassed model: its "
                "`super().__init__()` takes no `inputs`/`outputs` (build a functional "
                "`Model(inputs, outputs)` instead, or remove `call`).")
        Model.__init__(self, **kwargs)  # a model's every attribute, without a graph
        self._mask_ok = {}
        self._multi_input = False
        self._multi_output = False
        self._input_structure = None
        self._output_structure = None
        self._output_names_list: list[str] = []
        self._start_tracking()

    # ------------------------------------------------------------------ structure
    def _set_inputs(self, sample) -> None:
        """The input specifications from a first input (any structure of arrays)."""
        leaves = [np.asarray(v) for v in flatten(sample)]
        self._input_structure = sample
        self._multi_input = isinstance(sample, (list, tuple, dict))
        self._input_dict_keys = sorted(sample) if isinstance(sample, dict) else None
        names = self._input_dict_keys or [f"input_{i + 1}" for i in range(len(leaves))]
        self.inputs = [KerasTensor((None,) * a.ndim,
                                   self.dtype if a.dtype.kind == "f" else a.dtype.name, name=name)
                       for a, name in zip(leaves, names)]

    def _set_outputs(self, out) -> None:
        leaves = [np.asarray(v) for v in flatten(out)]
        self._output_structure = out
        self._multi_output = isinstance(out, (list, tuple, dict))
        if isinstance(out, dict):
            names = sorted(out)
        elif self._multi_output:
            names = [f"output_{i + 1}" for i in range(len(leaves))]
        else:
            names = [self.name]
        self._output_names_list = names
        self.outputs = [KerasTensor((None,) + a.shape[1:], a.dtype.name, name=n)
                        for a, n in zip(leaves, names)]

    def _output_names(self) -> list[str]:
        return list(self._output_names_list)

    def _pack_inputs(self, xs: list):
        return pack(self._input_structure, xs) if self._multi_input else xs[0]

    def _zeros_like_data(self, x):
        """One row of zeros shaped like each array of `x` (its dtype kept for ids)."""
        def zeros(a):
            a = np.asarray(a)
            if a.ndim == 0:
                raise ValueError(f"Model {self.name!r} expects arrays with one row per "
                                 f"sample. Received: an array of shape {a.shape}")
            dtype = self.dtype if a.dtype.kind == "f" else a.dtype
            return np.zeros((1,) + a.shape[1:], dtype=dtype)

        leaves = [zeros(a) for a in flatten(x)]
        return pack(x, leaves) if isinstance(x, (list, tuple, dict)) else leaves[0]

    def _build_on(self, sample) -> None:
        """Build by one inference call on `sample` that draws no random numbers."""
        self._set_inputs(sample)
        with without_random_draws(self):
            self.forward(sample, training=False)
        self.built = True

    def _build_from_data(self, x) -> None:
        if not self.built:
            self._build_on(self._zeros_like_data(x))

    def build(self, input_shape=None) -> None:
        """Keras' `model.build(input_shape)`: create the weights by calling the model on
        zeros of that shape (a list of shapes for several inputs)."""
        if self.built:
            return
        if input_shape is None:
            raise ValueError("build() needs an input shape for a subclassed model. Received: "
                             "input_shape=None")
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        zeros = [np.zeros(tuple(1 if d is None else int(d) for d in s), self.dtype)
                 for s in shapes]
        self._build_on(zeros if isinstance(input_shape, list) else zeros[0])

    def compute_output_shape(self, input_shape):
        return probe_output_shape(self, input_shape, lambda x: self.forward(x, training=False))

    def add_weight(self, *args, **kwargs):
        raise NotImplementedError(
            "scratch's subclassed models keep their weights in layers: create a layer "
            "(e.g. a subclassed Layer with add_weight) and assign it to the model.")

    # ------------------------------------------------------------------ calling
    def __call__(self, inputs, training=None, **kwargs):
        if "_layers" not in self.__dict__:
            raise missing_super_init(self)
        if any(isinstance(t, KerasTensor) for t in flatten(inputs)):
            return call_symbolic(self, inputs, kwargs)
        return recorder.call_layer(self, inputs, flatten(inputs), training, kwargs,
                                   self._eager_forward)

    def _eager_forward(self, inputs, training: bool, kwargs: dict):
        def cast(a):
            a = np.asarray(a)
            return np.ascontiguousarray(a, dtype=self.dtype) if a.dtype.kind == "f" else a

        leaves = [cast(a) for a in flatten(inputs)]
        inputs = pack(inputs, leaves) if isinstance(inputs, (list, tuple, dict)) else leaves[0]
        if not self.built:
            self._set_inputs(inputs)
        out = self.forward(inputs, training=training, **kwargs)
        self.built = True
        return out

    def forward(self, inputs, training: bool = False, **kwargs):
        """Run `call` as a new recording (the cache that `backward` replays)."""
        if takes_argument(self.call, "training"):
            kwargs["training"] = training
        recording = CallRecording()
        out = recording.run(lambda xs: self.call(xs, **kwargs), inputs, training)
        self._cache = recording
        if self._output_structure is None:
            self._set_outputs(out)
        self._output_masks = [None] * len(recording.outputs)
        return out

    def _forward_along(self, plan, xs: list, training: bool):
        self._forward_plan = plan
        out = self.forward(self._pack_inputs(xs), training=training)
        leaves = flatten(out)
        return leaves if self._multi_output else leaves[0]

    def _backward_along(self, plan, dy, from_logits, need_dx: bool, need_grads: bool):
        recording: CallRecording = self._require_cache()
        dys = list(flatten(dy)) if self._multi_output else [dy]
        flags = list(from_logits) if from_logits is not None else [False] * len(dys)
        entries = plan.trainable_entries if need_grads else []
        by_id_entries = {id(w): (layer, name) for layer, name, w in entries}
        dxs, by_id = recording.backward(dys, flags, need_dx, set(by_id_entries),
                                        f"The backward of model {self.name!r}")
        grads: dict[int, dict[str, np.ndarray]] = {}
        for key, g in by_id.items():
            layer, name = by_id_entries[key]
            grads.setdefault(id(layer), {})[name] = g
        self._layer_grads = grads
        if not need_dx:
            return None
        return dxs if self._multi_input else dxs[0]

    # ------------------------------------------------------------------ outputs
    def _output_logits(self, i: int):
        recording = self._cache
        if not isinstance(recording, CallRecording) or i >= len(recording.output_logits):
            return None
        return recording.output_logits[i][0]

    def _output_activation(self, i: int):
        recording = self._cache
        if not isinstance(recording, CallRecording) or i >= len(recording.output_logits):
            return None
        return recording.output_logits[i][1]

    # ------------------------------------------------------------------ files and config
    def get_config(self) -> dict:
        return Layer.get_config(self)

    def save(self, filepath, overwrite: bool = True, **kwargs) -> None:
        raise NotImplementedError(
            f"Saving the architecture of subclassed model {self.name!r} needs its Python "
            "class, which a .keras file cannot hold: save its weights with "
            "`save_weights('...weights.h5')` and build the model in code to load them.")

    def to_json(self) -> str:
        raise NotImplementedError(f"Subclassed model {self.name!r} has no JSON config (its "
                                  "architecture is Python code).")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
