"""The layer protocol every scratch layer follows.

A layer is Keras' life cycle plus an explicit backward pass:

    build(input_shape)            create weights (Keras names, shapes, order)
    compute_output_shape(shape)   shape inference without data
    forward(x, training) -> y     compute y, keep in self._cache what backward needs
    backward(dy, *, need_dx=True, need_grads=True) -> dx
                                  return dL/dx, fill self.grads (overwrite, not accumulate)

backward's two keyword flags say which results the caller will use, so that a model skips
work nobody needs (as PyTorch's ``ctx.needs_input_grad``):

    need_dx=False      nobody reads dx (nothing upstream learns, e.g. the first layer on the
                       data): the layer may return None instead of computing it
    need_grads=False   nobody reads ``grads`` (a frozen layer): the layer may leave them empty

They allow skipping, they do not require it: a layer with nothing worth skipping accepts
them and computes everything. Called with no flags (a test, a student stepping through),
backward computes both. A layer whose output is a sigmoid or softmax also has
``backward_from_logits(dz, *, need_dx=True, need_grads=True)``, which starts from dL/dz, the
gradient of its pre-activation (docs/ARCHITECTURE.md §Hidden logits).

Weights live in two ordered dicts: ``params`` (trainable: kernel, bias, gamma, ...) and
``state`` (non-trainable: moving_mean, ...). ``get_weights()`` returns params then state,
which is Keras' ``get_weights()`` order. ``grads`` has the same keys as ``params``.
Optimizers update the arrays in ``params`` in place, so references stay valid.

Layers with several inputs take and return lists: ``forward([a, b])`` and
``backward(dy) -> [da, db]``. Layers with several outputs return a list from ``forward``
and take a list of cotangents in ``backward`` (``None`` for an output nobody used).

``layer(x)`` is the user-facing call, as in Keras: on NumPy data it converts float input to
the layer's dtype (Keras' autocast), builds the layer on first use and runs ``forward``;
on symbolic tensors (``scratch.Input``) it records a node of a functional graph.
``forward`` itself is strict: it rejects input of another float dtype, because a silent
cast inside the engine would hide a precision bug.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import backend, initializers, regularizers
from ..tape.recorder import call_layer, weight_penalty
from ..tape.tensor import layer_variables
from ..typing import Shape
from ..utils.naming import auto_name, reset_uids, unique_name  # noqa: F401 (re-exported)


def shape_tuple(shape) -> Shape:
    return tuple(None if d is None else int(d) for d in shape)


def as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


class Layer:
    """Base class of all scratch layers (see the module docstring for the protocol).

    Args:
        name: unique layer name; defaults to the snake_case class name (+ _1, _2, ...).
        dtype: "float32" (default, from `scratch.backend.floatx()`) or "float64".
        trainable: whether `fit` updates this layer's params.
        input_shape / input_dim / batch_size: Keras 2 style shape hints for the first layer
            of a `Sequential` model (excluding the batch axis). As in Keras 3, passing
            `input_shape` or `input_dim` warns (UserWarning): an `Input(shape)` first in the
            model is the Keras 3 way. (Configs and files carry the shape as
            `batch_input_shape`, batch axis included, which is taken silently.)
        activity_regularizer: a penalty on the layer's output, R(y) / N, added to the loss
            (`scratch.regularizers`; every layer takes it, as in Keras).

    Regularization lives here for every layer (docs/KERAS_NUMERICS.md §Regularizers): a
    layer passes `regularizer=` to `add_weight` for the weights that take one
    (`kernel_regularizer`, ...), `losses` lists the penalties, and the model adds them to
    its loss, their gradients to the weights' (`regularization_gradients`) and the activity
    penalty's gradient to the output's cotangent (`regularizers.activity_gradient`).
    """

    # Subclasses that accept a `mask=` keyword in forward() set this to True.
    supports_masking = False

    def __init_subclass__(cls, **kwargs) -> None:
        """A Keras-style subclass (it defines `call`, not `forward`) gets the protocol from
        `call` through the gradient tape (scratch/layers/subclassed.py)."""
        super().__init_subclass__(**kwargs)
        if getattr(cls, "call", None) is not None:
            from .subclassed import adopt

            adopt(cls)
    # Keras' `activity_regularizer` (settable on any layer); None: no penalty on the output.
    activity_regularizer = None

    def __init__(
        self,
        *,
        name: str | None = None,
        dtype=None,
        trainable: bool = True,
        input_shape=None,
        input_dim: int | None = None,
        batch_size: int | None = None,
        activity_regularizer=None,
        batch_input_shape=None,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("autocast", None)
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected keyword argument(s): "
                f"{', '.join(sorted(kwargs))}"
            )
        self.name = name or auto_name(type(self).__name__)
        self.dtype = backend.standardize_dtype(dtype)
        self._trainable = bool(trainable)
        self.built = False
        self.params: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self._cache: Any = None
        self._inbound_nodes: list = []
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._regularizers: dict[str, regularizers.Regularizer] = {}  # weight name → penalty
        self._activity_outputs: list[np.ndarray] = []  # of the last eager call, for `losses`
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if input_shape is not None:
            warnings.warn(  # Keras 3's text, category and stack level
                "Do not pass an `input_shape`/`input_dim` argument to a layer. When using "
                "Sequential models, prefer using an `Input(shape)` object as the first layer "
                "in the model instead.", stacklevel=2)
        self._batch_input_shape: Shape | None = (
            (batch_size,) + shape_tuple(input_shape) if input_shape is not None
            else shape_tuple(batch_input_shape) if batch_input_shape is not None else None
        )

    # ----------------------------------------------------------------- trainable
    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """As in Keras, the flag is set on the layers inside this one too (`_sublayers`)."""
        self._trainable = bool(value)
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self) -> list[Layer]:
        """The layers this one holds and calls (a model's, a wrapper's, an RNN's cell)."""
        return []

    # ----------------------------------------------------------------- weights
    def add_weight(self, name: str, shape, initializer="zeros", trainable: bool = True,
                   regularizer=None):
        """Create a weight with a Keras name; trainable ones go to `params`. `regularizer`
        (a `scratch.regularizers` identifier) puts a penalty on it in `losses`."""
        init = initializers.get(initializer)
        value = np.array(init(tuple(shape), dtype=self.dtype), dtype=self.dtype, order="C")
        (self.params if trainable else self.state)[name] = value
        regularizer = regularizers.get(regularizer)
        if regularizer is not None:
            self._regularizers[name] = regularizer
        return value

    # ----------------------------------------------------------------- regularization
    @property
    def losses(self) -> list[np.floating]:
        """Keras' `layer.losses`: the activity penalty of each output of the last call
        (`layer(x)`; inside a model, `model.losses`), then the penalty of each trainable
        weight that has a regularizer, in `trainable_weights` order."""
        out = [regularizers.activity_penalty(self.activity_regularizer, y)
               for y in self._activity_outputs] if self.activity_regularizer else []
        return out + [weight_penalty(self._regularizers[name], w, f"{self.name}/{name}")
                      for name, w in self._penalized_weights()]

    def _penalized_weights(self) -> list[tuple[str, np.ndarray]]:
        """(name, weight) of the trainable weights that have a regularizer."""
        if not self._regularizers or not self.trainable:
            return []
        return [(name, w) for name, w in self.params.items() if name in self._regularizers]

    def regularization_gradients(self) -> dict[str, np.ndarray]:
        """{weight name: dR/dw} for each trainable weight with a regularizer: what a train
        step adds to `grads` (Keras' gradient of the loss plus the penalties)."""
        return {name: self._regularizers[name].gradient(w)
                for name, w in self._penalized_weights()}

    @property
    def weights(self) -> list[np.ndarray]:
        """All weights in Keras `get_weights()` order (params, then state)."""
        return list(self.params.values()) + list(self.state.values())

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return list(self.params.values()) if self.trainable else []

    @property
    def variables(self) -> list:
        """`weights` as Keras `Variable`s (views that write through to the weights)."""
        return layer_variables(self, "all")

    @property
    def trainable_variables(self) -> list:
        """`trainable_weights` as `Variable`s: what a custom training loop differentiates
        (`tape.gradient(loss, model.trainable_variables)`) and updates."""
        return layer_variables(self, "trainable")

    @property
    def non_trainable_variables(self) -> list:
        return layer_variables(self, "non_trainable")

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        frozen = [] if self.trainable else list(self.params.values())
        return frozen + list(self.state.values())

    @property
    def weight_names(self) -> list[str]:
        return list(self.params) + list(self.state)

    def get_weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Copy `weights` into this layer's arrays (all checked before any is written)."""
        weights = list(weights)
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"Layer {self.name!r} expects {len(own)} weights "
                f"({', '.join(self.weight_names)}), but received {len(weights)}."
            )
        new = [np.asarray(w) for w in weights]
        for name, old, w in zip(self.weight_names, own, new):
            if old.shape != w.shape:
                raise ValueError(
                    f"Layer {self.name!r} weight {name!r} has shape {old.shape}. "
                    f"Received: shape={w.shape}"
                )
        for old, w in zip(own, new):
            old[...] = w

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    # ----------------------------------------------------------------- protocol
    def build(self, input_shape) -> None:
        self.built = True

    def compute_output_shape(self, input_shape):
        return input_shape

    def compute_mask(self, inputs, mask=None):
        """The mask of this layer's output: passed through if the layer supports masking."""
        return mask if self.supports_masking else None

    def forward(self, x, training: bool = False):
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def backward(self, dy, *, need_dx: bool = True, need_grads: bool = True):
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def _require_cache(self):
        if self._cache is None:
            raise RuntimeError(
                f"{type(self).__name__} {self.name!r}: backward() needs the cache of a "
                "forward() call; call forward(x, training=...) first."
            )
        return self._cache

    def _check_dy(self, dy, y_shape) -> np.ndarray:
        dy = np.asarray(dy)
        if dy.shape != tuple(y_shape):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: the gradient must have the output's "
                f"shape {tuple(y_shape)}. Received: dy.shape={dy.shape}"
            )
        return dy

    def _check_float_input(self, x) -> np.ndarray:
        """Validate an input of forward(): a float array of the layer's dtype."""
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"{type(self).__name__} {self.name!r} expected a NumPy array. "
                f"Received: type={type(x).__name__}"
            )
        if x.dtype != self.dtype:
            raise TypeError(
                f"{type(self).__name__} {self.name!r} computes in {self.dtype}. "
                f"Received: x.dtype={x.dtype} (cast it, or build the layer with dtype="
                f"{x.dtype.name!r})"
            )
        return x

    def _check_rank(self, shape, min_rank: int, exact: bool = False) -> None:
        rank = len(shape)
        if rank < min_rank or (exact and rank != min_rank):
            expected = f"rank {min_rank}" if exact else f"rank >= {min_rank}"
            raise ValueError(
                f"Input of layer {self.name!r} ({type(self).__name__}) is incompatible: "
                f"expected {expected} (batch axis included). Received: shape={tuple(shape)}"
            )

    def _check_last_dim(self, shape, expected: int) -> None:
        if shape[-1] is not None and shape[-1] != expected:
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expected input with last dimension "
                f"{expected}. Received: shape={tuple(shape)}"
            )

    # ----------------------------------------------------------------- calling
    def _autocast(self, x):
        x = np.asarray(x)
        if x.dtype.kind == "f" or x.dtype.kind in "iub" and self._casts_ints():
            return np.ascontiguousarray(x, dtype=self.dtype)
        return x

    def _casts_ints(self) -> bool:
        """Layers taking float data cast integer input too (Embedding overrides to False)."""
        return True

    def __call__(self, inputs, training=None, **kwargs):
        from .symbolic import KerasTensor, call_symbolic

        if any(isinstance(t, KerasTensor) for t in as_list(inputs)):
            return call_symbolic(self, inputs, kwargs)
        # On arrays: the forward below, recorded by an active GradientTape; the output is a
        # `Tensor` (an ndarray with `.numpy()`), scratch/tape.
        return call_layer(self, inputs, as_list(inputs), training, kwargs, self._call_eagerly)

    def _call_eagerly(self, inputs, training: bool, kwargs: dict):
        """`layer(x)` on plain arrays: autocast, build on first use, forward."""
        if isinstance(inputs, (list, tuple)):
            inputs = [self._autocast(t) for t in inputs]
            shapes = [t.shape for t in inputs]
        else:
            inputs = self._autocast(inputs)
            shapes = inputs.shape
        if not self.built:
            self.build(shapes)
            self.built = True
        y = self.forward(inputs, training=training, **kwargs)
        if self.activity_regularizer is not None:  # Keras records it at every call
            self._activity_outputs = as_list(y)
        return y

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable,
                                  "dtype": self.dtype}
        if self.activity_regularizer is not None:  # Keras writes it only when set
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = self._batch_input_shape
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"
