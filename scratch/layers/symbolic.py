"""Symbolic tensors and graph nodes for the functional API.

`Input(shape=(D,))` returns a `KerasTensor`: a shape (batch axis None) and a dtype with no
data. Calling a layer on KerasTensors builds the layer from their shapes and records a `Node`
(layer, input tensors, output tensors). `Model(inputs, outputs)` walks these nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Layer, as_list, shape_tuple


class KerasTensor:
    """A symbolic tensor: shape (None for the batch axis), dtype and the node that made it."""

    def __init__(self, shape, dtype: str, node: Node | None = None, index: int = 0,
                 name: str | None = None):
        self.shape = shape_tuple(shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


@dataclass(eq=False)
class Node:
    """One call of a layer inside a graph: `outputs = layer(inputs, **kwargs)`."""

    layer: Layer
    inputs: list[KerasTensor]
    outputs: list[KerasTensor] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)
    multi_input: bool = False
    multi_output: bool = False


def call_symbolic(layer: Layer, inputs, kwargs: dict, output_shapes=None) -> Any:
    """Record `layer(inputs)` on KerasTensors and return the symbolic output(s).

    `output_shapes` (a shape, or a list of shapes for several outputs) is for layers whose
    outputs depend on a call argument (attention's `return_attention_scores`); by default
    they come from `layer.compute_output_shape`."""
    in_list = as_list(inputs)
    for t in in_list:
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f"Layer {layer.name!r} was called on a mix of symbolic tensors and "
                f"{type(t).__name__}. Received: inputs={inputs!r}"
            )
    multi_input = isinstance(inputs, (list, tuple))
    in_shapes = [t.shape for t in in_list] if multi_input else in_list[0].shape
    if not layer.built:
        layer.build(in_shapes)
        layer.built = True
    out_shapes = layer.compute_output_shape(in_shapes) if output_shapes is None \
        else output_shapes
    multi_output = isinstance(out_shapes, list)
    node = Node(layer, in_list, kwargs=dict(kwargs), multi_input=multi_input,
                multi_output=multi_output)
    dtype = getattr(layer, "output_dtype", layer.dtype)
    outs = [
        KerasTensor(s, dtype, node, i, name=layer.name)
        for i, s in enumerate(out_shapes if multi_output else [out_shapes])
    ]
    node.outputs = outs
    layer._inbound_nodes.append(node)
    return outs if multi_output else outs[0]
