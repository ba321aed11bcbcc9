"""Core layers: Input, Dense, Activation (and Softmax/ReLU/LeakyReLU/ELU), Flatten, Reshape.

Dense is the course's neuron (Lectures 13, 18): every output unit computes
`act(w·x + b)`; a layer of M units on D inputs holds `kernel` (D, M) and `bias` (M,).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .. import activations, initializers, regularizers
from ..typing import Array, Shape
from .base import Layer, shape_tuple
from .symbolic import KerasTensor, Node

# Activations whose output carries hidden logits (`Activation.exposes_logits`).
_LOGIT_ACTIVATIONS = ("sigmoid", "softmax")

# ------------------------------------------------------------------------------ Dense
class DenseCache(NamedTuple):
    x: Array  # input (..., D)
    z: Array  # pre-activation (..., M)
    y: Array  # output act(z) (..., M)


def dense_forward(x: Array, kernel: Array, bias: Array | None) -> Array:
    """z = x·W + b, contracting the last axis of x: (..., D) → (..., M)."""
    z = np.matmul(x, kernel)
    if bias is not None:
        z += bias
    return z


def dense_backward(dz: Array, x: Array, kernel: Array, use_bias: bool, need_dx: bool = True,
                   need_grads: bool = True):
    """Gradients of z = x·W + b for a cotangent dz (..., M).

    Math:
        dx = dz · Wᵀ              (..., D)   (skipped, None, when need_dx is False)
        dW = Σ_batch xᵀ · dz      (D, M)     (these two skipped, {}, when need_grads is
        db = Σ_batch dz           (M,)        False: a frozen layer)
    """
    dx = np.matmul(dz, kernel.T) if need_dx else None
    grads = {}
    if need_grads:
        x2 = x.reshape(-1, x.shape[-1])
        dz2 = dz.reshape(-1, dz.shape[-1])
        grads["kernel"] = x2.T @ dz2
        if use_bias:
            grads["bias"] = np.add.reduce(dz2, axis=0)  # dz2.sum(axis=0), fewer layers
    return dx, grads


class Dense(Layer):
    """Fully connected layer: `y = activation(x · kernel + bias)`.

    Math:
        z = x W + b            W = kernel (D, M), b = bias (M,)
        y = act(z)
        dz = act'(z) ⊙ dy ;  dx = dz Wᵀ ;  dW = xᵀ dz ;  db = Σ_n dz

    Args:
        units: M, the number of neurons.
        activation: name or `scratch.activations.Activation`; None is linear.
        use_bias: add `bias`.
        kernel_initializer / bias_initializer: Keras defaults glorot_uniform / zeros.
        kernel_regularizer / bias_regularizer: penalties on W and b added to the loss
            (`scratch.regularizers`, e.g. `l2(1e-4)`); activity_regularizer: on y.

    Shapes:
        input (N, D) or any rank (N, ..., D) → output (N, ..., M); the kernel contracts the
        last axis only, as in Keras. Weights: kernel (D, M), bias (M,), in that order.

    Raises:
        ValueError: units not a positive integer; input of rank < 2 or with a last
            dimension other than D.
    """

    supports_masking = True  # Keras 3's Dense passes a mask through (e.g. per time step)

    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(
                f"Received an invalid value for `units`, expected a positive integer. "
                f"Received: units={units!r}"
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        # Resolved now, as Keras does: an unseeded random initializer draws its seed here.
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape: Shape) -> None:
        self._check_rank(input_shape, 2)
        if input_shape[-1] is None:
            raise ValueError(
                f"Dense {self.name!r} needs a known last input dimension. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                        regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer,
                            regularizer=self.bias_regularizer)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape[:-1]) + (self.units,)

    def _check_input(self, x) -> None:
        self._check_float_input(x)
        self._check_rank(x.shape, 2)
        self._check_last_dim(x.shape, self.params["kernel"].shape[0])

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_input(x)
        z = dense_forward(x, self.params["kernel"], self.params.get("bias"))
        y = self.activation.forward(z)  # z is a float array: no conversion needed
        if type(y) is not np.ndarray:
            y = np.asarray(y, dtype=z.dtype)
        self._cache = DenseCache(x, z, y)
        return y

    @property
    def logits(self) -> Array | None:
        """The pre-activation z of the last forward, if the activation is sigmoid/softmax."""
        if self._cache is None or not self.activation.exposes_logits:
            return None
        return self._cache.z

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        x, z, y = self._require_cache()
        dy = self._check_dy(dy, y.shape)
        return self.backward_from_logits(self.activation.backward(dy, z, y), need_dx=need_dx,
                                         need_grads=need_grads)

    def backward_from_logits(self, dz: Array, *, need_dx: bool = True,
                             need_grads: bool = True) -> Array:
        """Back-propagate dL/dz (the pre-activation gradient) through x·W + b; dx is None
        when not `need_dx`, `grads` empty when not `need_grads` (see `dense_backward`)."""
        x, z, _ = self._require_cache()
        dz = self._check_dy(dz, z.shape)
        dx, self.grads = dense_backward(dz, x, self.params["kernel"], self.use_bias,
                                        need_dx=need_dx, need_grads=need_grads)
        return dx

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": _serialize_init(self.kernel_initializer),
                "bias_initializer": _serialize_init(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


def _serialize_init(init):
    """An initializer argument as it goes into get_config (Keras' serialized form)."""
    if init is None or isinstance(init, (str, dict)):
        return init
    return initializers.serialize(init)


# ------------------------------------------------------------------------------ Activation
class Activation(Layer):
    """Applies an activation function elementwise: `y = act(x)`, `dx = act'(x) ⊙ dy`.

    Shapes: any (N, ...) → the same shape. No weights.
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._check_float_input(x)
        y = self.activation(x)
        self._cache = (x, y)
        return y

    @property
    def logits(self) -> Array | None:
        if self._cache is None or not self.activation.exposes_logits:
            return None
        return self._cache[0]

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        x, y = self._require_cache()
        dy = self._check_dy(dy, y.shape)
        return self.activation.backward(dy, x, y)

    def backward_from_logits(self, dz: Array, *, need_dx: bool = True,
                             need_grads: bool = True) -> Array:
        x, _ = self._require_cache()
        return self._check_dy(dz, x.shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Softmax(Activation):
    """`layers.Softmax(axis=-1)`: y = exp(x − max) / Σ exp(x − max) along `axis`."""

    def __init__(self, axis=-1, **kwargs):
        super().__init__(activations.Softmax(axis=axis), **kwargs)
        self.axis = axis

    def get_config(self) -> dict:
        config = Layer.get_config(self)
        return {**config, "axis": self.axis}


class ReLU(Activation):
    """`layers.ReLU(max_value=None, negative_slope=0.0, threshold=0.0)`."""

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(activations.ReLU(negative_slope=negative_slope, max_value=max_value,
                                          threshold=threshold), **kwargs)
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def get_config(self) -> dict:
        return {**Layer.get_config(self), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Activation):
    """`layers.LeakyReLU(negative_slope=0.3)` (the layer's default slope is 0.3, the
    function's is 0.2: docs/KERAS_NUMERICS.md §Activations)."""

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2 spelling: Keras 3 warns (UserWarning) and takes it
            negative_slope = kwargs.pop("alpha")
            warnings.warn("Argument `alpha` is deprecated. Use `negative_slope` instead.",
                          stacklevel=1)  # Keras gives none: the default, this line
        super().__init__(activations.LeakyReLU(negative_slope=negative_slope), **kwargs)
        self.negative_slope = negative_slope

    def get_config(self) -> dict:
        return {**Layer.get_config(self), "negative_slope": self.negative_slope}


class ELU(Activation):
    """`layers.ELU(alpha=1.0)`: x if x > 0 else α(eˣ − 1)."""

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(activations.ELU(alpha=alpha), **kwargs)
        self.alpha = alpha

    def get_config(self) -> dict:
        return {**Layer.get_config(self), "alpha": self.alpha}


# ------------------------------------------------------------------------------ shape layers
class Flatten(Layer):
    """Flattens all but the batch axis in C order: (N, d1, ..., dk) → (N, d1·…·dk)."""

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64))
        return (input_shape[0], size)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._cache = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        shape = self._require_cache()
        return np.asarray(dy).reshape(shape)

    def _casts_ints(self) -> bool:
        return False


class Reshape(Layer):
    """Reshapes all but the batch axis: (N, ...) → (N, *target_shape); one entry may be -1."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(
                f"Reshape accepts at most one -1 in target_shape. "
                f"Received: target_shape={self.target_shape}"
            )

    def _resolve(self, input_shape: Shape) -> tuple:
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = int(np.prod(rest, dtype=np.int64))
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        target = self.target_shape
        if -1 in target:
            if known == 0 or size % known:
                raise ValueError(self._mismatch(input_shape))
            target = tuple(size // known if d == -1 else d for d in target)
        elif known != size:
            raise ValueError(self._mismatch(input_shape))
        return target

    def _mismatch(self, input_shape) -> str:
        return (f"Reshape {self.name!r}: the total size of the new array must be unchanged. "
                f"Received: input_shape={tuple(input_shape)}, target_shape={self.target_shape}")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0],) + self._resolve(input_shape)

    def forward(self, x: Array, training: bool = False) -> Array:
        self._cache = x.shape
        return x.reshape((x.shape[0],) + self._resolve(x.shape))

    def backward(self, dy: Array, *, need_dx: bool = True, need_grads: bool = True) -> Array:
        return np.asarray(dy).reshape(self._require_cache())

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": self.target_shape}

    def _casts_ints(self) -> bool:
        return False


# ------------------------------------------------------------------------------ Input
class InputLayer(Layer):
    """The graph's entry point; forward is the identity."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 **kwargs):
        input_shape = kwargs.pop("input_shape", None)
        if batch_shape is None:
            if shape is None:
                shape = input_shape
            if shape is None:
                raise ValueError("Input needs a `shape` (excluding the batch axis). "
                                 "Received: shape=None")
            if isinstance(shape, (int, np.integer)):
                shape = (int(shape),)
            batch_shape = (batch_size,) + tuple(shape)
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.batch_shape = shape_tuple(batch_shape)
        self.built = True
        node = Node(self, [])
        self.output = KerasTensor(self.batch_shape, self.dtype, node, 0, name=self.name)
        node.outputs = [self.output]
        self._inbound_nodes.append(node)

    def forward(self, x, training: bool = False):
        return x

    def backward(self, dy, *, need_dx: bool = True, need_grads: bool = True):
        return dy

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "batch_shape": self.batch_shape}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
          **kwargs) -> KerasTensor:
    """A symbolic input of shape (batch_size, *shape): the start of a functional model.

    `dtype` is the model's compute dtype (floatx by default); integer dtypes ("int32",
    "int64") are accepted for id inputs such as an Embedding's.
    """
    int_dtype = dtype is not None and np.dtype(dtype).kind in "iu"
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=None if int_dtype else dtype,
                       name=name, batch_shape=batch_shape, **kwargs)
    if int_dtype:
        layer.output.dtype = np.dtype(dtype).name
    return layer.output
