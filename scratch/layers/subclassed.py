"""Keras-style subclassed layers: `build(input_shape)`, `call(inputs)`, `add_weight(...)`.

    class Linear(scratch.layers.Layer):
        def __init__(self, units=32, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", name="kernel")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, inputs):
            return scratch.ops.matmul(inputs, self.w) + self.b

A class that defines `call` (and not the engine's own `forward`) gets `SubclassedLayer` put
under it when it is created (`Layer.__init_subclass__`), which gives it the engine's layer
protocol:

    forward(x, training)   runs `call` on the input as a leaf of a new tape recording
                           (scratch/tape), kept as the layer's cache
    backward(dy)           replays that recording's steps in reverse: dL/dx, and `grads`
                           for every trainable weight (its own and its sub-layers')

so the layer works everywhere a built-in one does: eagerly, in a custom training loop, in a
Sequential or functional model's `fit`. Its backward exists only for what the tape records
(scratch/tape/rules.py): an operation it cannot differentiate makes backward raise a
ValueError naming it (its forward still runs, e.g. in `predict`).

Layers assigned as attributes (alone, in lists, tuples or dicts, also appended later) are
tracked in assignment order, as Keras' tracker does: the layer's `weights` are its own
(`add_weight`, trainable then not), then each sub-layer's, which is Keras' `get_weights()`
order; the sub-layers' weights appear in `params`/`state` under "<sub-layer>/<name>", so
the engine's optimizers and files see them as this layer's.
"""

from __future__ import annotations

import contextlib
import functools
import inspect

import numpy as np

from .. import backend, initializers
from ..tape.gradient_tape import CallRecording
from ..tape.recorder import flatten
from ..tape.tensor import variable_of
from .base import Layer


# ------------------------------------------------------------------------------ tracking
class TrackedList(list):
    """A list attribute of a subclassed layer: layers added to it later are tracked too."""

    def __init__(self, values, owner) -> None:
        super().__init__(values)
        self._owner = owner
        for v in values:
            track(owner, v)

    def append(self, value) -> None:
        track(self._owner, value)
        super().append(value)

    def extend(self, values) -> None:
        values = list(values)
        for v in values:
            track(self._owner, v)
        super().extend(values)

    def insert(self, index, value) -> None:
        track(self._owner, value)
        super().insert(index, value)

    def __setitem__(self, index, value) -> None:
        for v in value if isinstance(index, slice) else [value]:
            track(self._owner, v)
        super().__setitem__(index, value)

    def __iadd__(self, values):
        self.extend(values)
        return self


class TrackedDict(dict):
    """A dict attribute of a subclassed layer: layers stored in it later are tracked too."""

    def __init__(self, values, owner) -> None:
        super().__init__(values)
        self._owner = owner
        for v in values.values():
            track(owner, v)

    def __setitem__(self, key, value) -> None:
        track(self._owner, value)
        super().__setitem__(key, value)

    def update(self, *args, **kwargs) -> None:
        for k, v in dict(*args, **kwargs).items():
            self[k] = v

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]


def track(owner, value):
    """Keras' tracker: a Layer assigned to `owner` joins `owner._layers` (once, in order);
    lists and dicts are wrapped so that what they get later is tracked; tuples are walked.
    Returns the value to store."""
    if isinstance(value, Layer):
        if value is not owner and not any(value is l for l in owner._layers):
            owner._layers.append(value)
        return value
    if isinstance(value, (TrackedList, TrackedDict)):
        return value
    if isinstance(value, list):
        return TrackedList(value, owner)
    if isinstance(value, dict) and type(value) is dict:
        return TrackedDict(value, owner)
    if isinstance(value, tuple):
        for v in value:
            track(owner, v)
    return value


class Tracking:
    """Attribute tracking for subclassed layers and models: after `__init__` of the base
    class, attributes holding layers are tracked (see `track`)."""

    def _start_tracking(self) -> None:
        object.__setattr__(self, "_internal_attrs", frozenset(self.__dict__))
        object.__setattr__(self, "_tracking", True)

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        if d.get("_tracking") and name not in d.get("_internal_attrs", ()):
            if not name.startswith("_") or _holds_layers(value):
                value = track(self, value)
        super().__setattr__(name, value)


def _holds_layers(value) -> bool:
    if isinstance(value, Layer):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_layers(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_layers(v) for v in value.values())
    return False


def missing_super_init(layer) -> RuntimeError:
    return RuntimeError(
        f"In layer '{type(layer).__name__}', you forgot to call `super().__init__()` as the "
        "first statement in the `__init__()` method. Go add it!")


def takes_argument(method, name: str) -> bool:
    """Whether `method` (a user's `call`) accepts the keyword `name` (Keras passes
    `training` only to a call that takes it). Worked out once per function."""
    return _takes_argument(getattr(method, "__func__", method), name)


@functools.cache
def _takes_argument(function, name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD
                                     for p in parameters.values())


# ------------------------------------------------------------------------------ weights
class _OwnWeights(dict):
    """The merged view `params`/`state` return when a layer has sub-layers: writing to it
    (what `Layer.add_weight` does) writes the layer's own dict."""

    def __init__(self, own: dict, merged: dict) -> None:
        super().__init__(merged)
        self._own = own

    def __setitem__(self, key, value) -> None:
        self._own[key] = value
        super().__setitem__(key, value)


def _named(sub) -> list[tuple[str, np.ndarray]]:
    """(name, weight) of a sub-layer's weights, named "<sub-layer>/<its name>"."""
    return [(f"{sub.name}/{n}", w) for n, w in zip(sub.weight_names, sub.weights)]


def _shape_with_batch(shape, batch: int, fill: int) -> tuple:
    return tuple(batch if i == 0 else (fill if d is None else d) for i, d in enumerate(shape))


@contextlib.contextmanager
def without_random_draws(layer):
    """Run the block, then put back every random generator under `layer`: a call made only
    to learn shapes or to build weights draws no random numbers (as Keras' symbolic call)."""
    from .. import random as random_module

    generators = _seed_generators(layer, random_module.SeedGenerator)
    saved = [g.state for g in generators]
    try:
        yield
    finally:
        for g, s in zip(generators, saved):
            g.state = s


def probe_output_shape(layer, input_shape, run):
    """Infer an output shape by running `run(zeros)` on two batches of zeros (batch 2 and 3,
    unknown axes 2 and 3): an axis whose size changes with them is unknown (None), as Keras'
    symbolic call would say. Nothing random is drawn (`without_random_draws`)."""
    multi = isinstance(input_shape, list)
    dtype = getattr(layer, "dtype", None) or backend.floatx()
    shapes = []
    with without_random_draws(layer):
        for size in (2, 3):
            if multi:
                x = [np.zeros(_shape_with_batch(s, size, size), dtype) for s in input_shape]
            else:
                x = np.zeros(_shape_with_batch(input_shape, size, size), dtype)
            with np.errstate(all="ignore"):
                y = run(x)
            shapes.append([np.shape(v) for v in flatten(y)])
    out = [tuple(a if a == b else None for a, b in zip(s2, s3)) if len(s2) == len(s3) else
           (None,) * len(s2) for s2, s3 in zip(*shapes)]
    out = [(None,) + s[1:] if s else s for s in out]
    return out if isinstance(y, (list, tuple, dict)) else out[0]


def _seed_generators(layer, kind) -> list:
    """The random generators held by `layer` and every layer under it."""
    seen, out, todo = set(), [], [layer]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for v in vars(obj).values():
            if isinstance(v, kind):
                out.append(v)
            elif isinstance(v, Layer):
                todo.append(v)
            elif isinstance(v, (list, tuple)):
                todo += [x for x in v if isinstance(x, Layer)]
            elif isinstance(v, dict):
                todo += [x for x in v.values() if isinstance(x, Layer)]
    return out


def eager_output_shape(layer) -> str:
    """The "Output Shape" column of a layer built by an eager call (in a subclassed model),
    as Keras 3 prints it: its `compute_output_shape` of the shape it was built with, "?" for
    a layer that has no `build` of its own, or whose output shape only a call can tell."""
    shape = layer.__dict__.get("_eager_build_shape")
    if shape is None or type(layer).build is Layer.build or \
            type(layer).compute_output_shape in (SubclassedLayer.compute_output_shape,
                                                 Layer.compute_output_shape):
        return "?"
    try:
        out = layer.compute_output_shape(shape)
    except Exception:  # noqa: BLE001 (Keras prints "?" whatever went wrong)
        return "?"
    shapes = out if isinstance(out, list) else [out]
    text = [str(tuple(s)).replace(",)", ")") if len(s) != 1 else f"({s[0]},)" for s in shapes]
    return text[0] if len(text) == 1 else "[" + ", ".join(text) + "]"


# ------------------------------------------------------------------------------ the layer
class SubclassedLayer(Tracking, Layer):
    """What a Keras-style layer (one that defines `call`) inherits: the engine's protocol
    on top of `call` (see the module docstring)."""

    def __init__(self, *args, **kwargs) -> None:
        if args:
            raise TypeError(f"{type(self).__name__}: Layer.__init__ takes keyword arguments "
                            f"only. Received: {len(args)} positional argument(s)")
        object.__setattr__(self, "_own_params", {})
        object.__setattr__(self, "_own_state", {})
        object.__setattr__(self, "_layers", [])
        Layer.__init__(self, **kwargs)
        self._start_tracking()

    # ------------------------------------------------------------------ weights
    def _sublayers(self) -> list[Layer]:
        return self.__dict__.get("_layers", [])

    def _merged(self, own_key: str, trainable: bool) -> dict[str, np.ndarray]:
        """The layer's own weights (`own_key`), then its sub-layers' trainable (or
        non-trainable) ones as "<sub-layer>/<name>"; the own dict itself without
        sub-layers, so that `Layer.add_weight` writes into it either way."""
        own = self.__dict__[own_key]
        subs = self._sublayers()
        if not subs:
            return own
        merged = dict(own)
        for sub in subs:
            learns = {id(w) for w in sub.trainable_weights}
            merged.update((n, w) for n, w in _named(sub) if (id(w) in learns) == trainable)
        return _OwnWeights(own, merged)

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Trainable weights by name: the layer's own, then its sub-layers' trainable
        weights ("<sub-layer>/<name>")."""
        return self._merged("_own_params", True)

    @params.setter
    def params(self, value: dict) -> None:
        object.__setattr__(self, "_own_params", value)

    @property
    def state(self) -> dict[str, np.ndarray]:
        """Non-trainable weights by name: the layer's own, then its sub-layers'."""
        return self._merged("_own_state", False)

    @state.setter
    def state(self, value: dict) -> None:
        object.__setattr__(self, "_own_state", value)

    def _keras_named_weights(self) -> list[tuple[str, np.ndarray]]:
        """Keras' order: own trainable, own non-trainable, then each sub-layer's weights."""
        out = list(self.__dict__["_own_params"].items()) + \
            list(self.__dict__["_own_state"].items())
        seen = {id(w) for _, w in out}
        for sub in self._sublayers():
            for n, w in _named(sub):
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append((n, w))
        return out

    @property
    def weights(self) -> list[np.ndarray]:
        return [w for _, w in self._keras_named_weights()]

    @property
    def weight_names(self) -> list[str]:
        return [n for n, _ in self._keras_named_weights()]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        if not self.trainable:
            return []
        trainable = {id(w) for w in self.params.values()}
        return [w for w in self.weights if id(w) in trainable]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True,
                   autocast=True, regularizer=None, constraint=None, aggregation="none",
                   overwrite_with_gradient=False, name=None):
        """Keras' `add_weight`: a weight of `shape` (default ()) from `initializer`
        (default glorot_uniform for floats), returned as a `Variable` (a view of the array
        the layer keeps in `params`, or `state` when not trainable)."""
        if args:
            if isinstance(args[0], str):
                raise ValueError(
                    "`name` must be passed as a keyword argument. Received: "
                    f"add_weight('{args[0]}', ...). Use: add_weight(shape=..., name='{args[0]}').")
            if len(args) > 3:
                raise TypeError("add_weight() takes at most 3 positional arguments but "
                                f"{len(args)} were given.")
            shape = args[0]
            initializer = args[1] if len(args) > 1 else initializer
            dtype = args[2] if len(args) > 2 else dtype
        if constraint is not None:
            raise ValueError(f"scratch has no weight constraints. Received: "
                             f"constraint={constraint!r}")
        shape = () if shape is None else tuple(int(d) for d in np.atleast_1d(shape)) \
            if not isinstance(shape, tuple) else tuple(int(d) for d in shape)
        dtype = backend.standardize_dtype(dtype) if dtype is not None and \
            np.dtype(dtype).kind == "f" else (np.dtype(dtype).name if dtype is not None
                                             else self.dtype)
        if initializer is None:
            initializer = "glorot_uniform" if np.dtype(dtype).kind == "f" else "zeros"
        own = {**self.__dict__["_own_params"], **self.__dict__["_own_state"]}
        if name is None:
            name, k = "variable", 0
            while name in own:
                k += 1
                name = f"variable_{k}"
        if name in own:
            raise ValueError(f"Layer {self.name!r} already has a weight named {name!r}.")
        if dtype == self.dtype:
            kwargs = {} if regularizer is None else {"regularizer": regularizer}
            value = Layer.add_weight(self, name, shape, initializer, trainable, **kwargs)
        else:
            if regularizer is not None:
                raise ValueError("A regularizer needs a weight of the layer's dtype "
                                 f"{self.dtype}. Received: dtype={dtype}")
            init = initializers.get(initializer)
            value = np.array(init(shape, dtype=dtype), dtype=dtype, order="C")
            (self.__dict__["_own_params"] if trainable else self.__dict__["_own_state"]
             )[name] = value
        return variable_of(self, name, value)

    # ------------------------------------------------------------------ protocol
    def build(self, input_shape) -> None:
        self.built = True

    def compute_output_shape(self, input_shape):
        """The shape `call` gives, found by running it on zeros (see `probe_output_shape`);
        a layer that knows it better overrides this."""
        return probe_output_shape(self, input_shape,
                                  lambda x: self.forward(x, training=False))

    def forward(self, inputs, training: bool = False, **kwargs):
        if "_own_params" not in self.__dict__:
            raise missing_super_init(self)
        if takes_argument(self.call, "training"):
            kwargs["training"] = training
        recording = CallRecording()
        out = recording.run(lambda xs: self.call(xs, **kwargs), inputs, training)
        self._cache = recording
        return list(out) if isinstance(out, tuple) else out

    def backward(self, dy, *, need_dx: bool = True, need_grads: bool = True):
        recording: CallRecording = self._require_cache()
        dys = list(dy) if isinstance(dy, (list, tuple)) else [dy]
        if len(dys) != len(recording.outputs):
            raise ValueError(f"Layer {self.name!r} has {len(recording.outputs)} output(s). "
                             f"Received: {len(dys)} gradient(s)")
        for g, o in zip(dys, recording.outputs):
            if g is not None and np.shape(g) != np.shape(o):
                raise ValueError(f"{type(self).__name__} {self.name!r}: the gradient must "
                                 f"have the output's shape {np.shape(o)}. Received: "
                                 f"dy.shape={np.shape(g)}")
        weights = {id(w) for w in self.trainable_weights} if need_grads else set()
        dxs, by_id = recording.backward(dys, [False] * len(dys), need_dx, weights,
                                        f"The backward of layer {self.name!r}")
        self.grads = {n: by_id[id(w)] for n, w in self.params.items() if id(w) in by_id}
        if not need_dx:
            return None
        if isinstance(recording.input_structure, (list, tuple)):
            return dxs
        return dxs[0]

    def get_config(self) -> dict:
        return Layer.get_config(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def adopt(cls: type) -> None:
    """Put `SubclassedLayer` (or, for a Model, `SubclassedModel`) under a Keras-style class:
    one that defines `call` and not the engine's `forward` (Layer.__init_subclass__)."""
    if getattr(cls, "call", None) is None:
        return
    from ..models.functional import Model
    from ..models.sequential import Sequential
    from ..models.subclassed import SubclassedModel

    if issubclass(cls, (SubclassedLayer, SubclassedModel)):
        return
    if issubclass(cls, Model):
        if issubclass(cls, Sequential) or cls.forward is not Model.forward:
            return
        base, replacement = Model, SubclassedModel
    else:
        if cls.forward is not Layer.forward:
            return
        base, replacement = Layer, SubclassedLayer
    bases = cls.__bases__
    if base in bases:
        cls.__bases__ = tuple(replacement if b is base else b for b in bases)
    else:
        cls.__bases__ = bases + (replacement,)


__all__ = ["SubclassedLayer", "TrackedList", "TrackedDict", "track", "probe_output_shape",
           "without_random_draws"]
