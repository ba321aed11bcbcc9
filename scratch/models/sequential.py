"""`Sequential`: a stack of layers, each feeding the next (built as a functional graph)."""

from __future__ import annotations

from ..layers.base import Layer
from ..layers.core import Input, InputLayer
from ..layers.symbolic import KerasTensor
from .functional import Model


class Sequential(Model):
    """`Sequential([layer, ...])` or `Sequential()` + `.add(layer)`.

    The input shape comes from a leading `Input(shape=...)`, from `input_shape=` on the first
    layer, or from the first data the model sees (deferred build). `model.layers` excludes the
    input layer, as in Keras, so `model.layers[0]` is the first real layer.
    """

    def __init__(self, layers=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self._stack: list[Layer] = []
        self._input_tensor: KerasTensor | None = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    def add(self, layer, rebuild: bool = True) -> None:
        if isinstance(layer, KerasTensor):
            if not isinstance(layer.node.layer, InputLayer):
                raise TypeError("Only an Input tensor can be added to a Sequential model. "
                                f"Received: {layer!r}")
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer. Received: {layer!r}")
        if isinstance(layer, InputLayer):
            if self._stack or self._input_tensor is not None:
                raise ValueError("An Input layer can only be the first layer of a Sequential.")
            self._input_tensor = layer.output
        else:
            if any(l is layer for l in self._stack):
                raise ValueError(f"Layer {layer.name!r} is already in the model.")
            self._stack.append(layer)
        if rebuild:
            self._maybe_build()

    def pop(self) -> Layer:
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        layer = self._stack.pop()
        self.built = False
        self._maybe_build()
        return layer

    def _maybe_build(self) -> None:
        if self._input_tensor is None and self._stack and \
                self._stack[0]._batch_input_shape is not None:
            shape = self._stack[0]._batch_input_shape
            self._input_tensor = Input(batch_shape=shape, dtype=self._stack[0].dtype)
        if self._input_tensor is not None and self._stack:
            self.build(self._input_tensor.shape)

    def build(self, input_shape=None) -> None:
        if input_shape is None:
            raise ValueError("Sequential.build needs an input shape.")
        if not self._stack:
            raise ValueError("Sequential model has no layers to build.")
        t = self._input_tensor
        if t is None or tuple(t.shape[1:]) != tuple(input_shape[1:]):
            t = self._input_tensor = Input(batch_shape=tuple(input_shape),
                                           dtype=self._stack[0].dtype)
        x = t
        for layer in self._stack:
            x = layer(x)
        trainable = self._trainable
        self._init_graph(t, x)
        self._trainable = trainable

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)
