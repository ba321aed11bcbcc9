"""The Keras order of things: Keras' `model.layers`, its trainable weights, its weight paths.

A weight file addresses layers by their place in Keras' ``model.layers``, which for a
functional model is *not* the order of the calls but Keras' depth order (`keras_layers`,
replicating ``keras.src.ops.function.map_graph``); an optimizer's slots follow Keras' order of
the trainable weights (`keras_trainable_weights`); a variable's path ("lstm/lstm_cell/kernel")
names its layer and the sub-layers Keras saves under their attribute names (`weight_paths`,
`layer_children`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np


def _node_input_tensors(node) -> list:
    """The KerasTensors a node consumes: its inputs, then any found in its call kwargs."""
    from ..layers.symbolic import KerasTensor

    out = list(node.inputs)

    def walk(v):
        if isinstance(v, KerasTensor):
            out.append(v)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(node.kwargs)
    return out


def keras_layers(model) -> list:
    """What Keras' `model.layers` is for the same model (the order weight files use).

    Sequential: the layers after the input, in order. Functional: every layer of the graph
    (InputLayers included), ordered as `keras.src.ops.function.map_graph` does: by decreasing
    depth from the outputs, then by the order a depth-first walk from the outputs first meets
    them.
    """
    from ..models import Sequential
    from .subclassed_order import is_subclassed

    if isinstance(model, Sequential) or is_subclassed(model):  # subclassed: tracking order
        return model.layers
    return graph_layers(model)


def graph_layers(model) -> list:
    """The layers of a model's graph (`model.inputs` → `model.outputs`) in Keras' order
    (`keras_layers`); `Model.layers` of a functional model."""
    from ..layers.core import InputLayer

    nodes_in_decreasing_depth: list = []
    op_index: dict = {}
    finished: set = set()
    # A depth-first walk from the outputs: a layer is numbered when the walk first meets it,
    # a node is listed once all its inputs are. An explicit stack of (node, its input tensors
    # not yet visited) instead of recursion: a graph thousands of layers long is fine.
    stack: list = []

    def enter(node) -> None:
        if node is None or node in finished:
            return
        if node.layer not in op_index:
            op_index[node.layer] = len(op_index)
        inputs = [] if isinstance(node.layer, InputLayer) else _node_input_tensors(node)
        stack.append((node, list(reversed(inputs))))

    for t in model.outputs:
        enter(t.node)
        while stack:
            node, unvisited = stack[-1]
            if unvisited:
                enter(unvisited.pop().node)
            else:
                stack.pop()
                finished.add(node)
                nodes_in_decreasing_depth.append(node)
    in_graph = set(nodes_in_decreasing_depth)
    node_depth: dict = {}
    op_depth: dict = {}
    for node in reversed(nodes_in_decreasing_depth):
        depth = node_depth.setdefault(node, 0)
        depth = max(depth, op_depth.get(node.layer, 0))
        op_depth[node.layer] = depth
        node_depth[node] = depth
        for t in _node_input_tensors(node):
            parent = t.node
            if parent in in_graph:
                node_depth[parent] = max(depth + 1, node_depth.get(parent, 0))
    for t in model.inputs:
        layer = t.node.layer
        if layer not in op_depth:
            op_depth[layer] = 0
            op_index[layer] = -1
    by_depth: dict[int, list] = defaultdict(list)
    for layer, depth in op_depth.items():
        by_depth[depth].append(layer)
    ordered = []
    for depth in sorted(by_depth, reverse=True):
        ordered.extend(sorted(by_depth[depth], key=lambda l: op_index[l]))
    return ordered


def layer_children(layer) -> list[tuple[str, Any]]:
    """Sub-layers Keras saves under their attribute name (e.g. an RNN's `cell`)."""
    from ..layers.base import Layer
    from ..models import Model

    if isinstance(layer, Model):
        return []
    return [(name, value) for name, value in sorted(vars(layer).items())
            if not name.startswith("_") and isinstance(value, Layer) and value is not layer]


def own_weights(layer) -> tuple[list[str], list[np.ndarray]]:
    """(names, arrays) of the weights a layer saves itself (its children's excluded)."""
    children = layer_children(layer)
    owned_by_children = {id(w) for _, c in children for w in c.weights}
    names, arrays = [], []
    for name, w in zip(layer.weight_names, layer.weights):
        if id(w) not in owned_by_children:
            names.append(name)
            arrays.append(w)
    return names, arrays


def keras_trainable_weights(model) -> list[np.ndarray]:
    """Keras' `model.trainable_variables` order: the order of an optimizer's slots."""
    from ..models import Model

    out, seen = [], set()

    def walk(m):
        if not m.trainable:
            return
        for layer in keras_layers(m):
            if isinstance(layer, Model):
                walk(layer)
                continue
            for w in layer.trainable_weights:
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)

    walk(model)
    return out


def weight_paths(layer, prefix: str = "") -> dict[int, str]:
    """id(array) -> Keras variable path ("dense/kernel", "lstm/lstm_cell/kernel", ...)."""
    from ..models import Model

    base = f"{prefix}{layer.name}/"
    out: dict[int, str] = {}
    if isinstance(layer, Model):
        for sub in keras_layers(layer):
            out.update(weight_paths(sub, base))
        return out
    names, arrays = own_weights(layer)
    for name, w in zip(names, arrays):
        out[id(w)] = base + name
    for _, child in layer_children(layer):
        out.update(weight_paths(child, base))
    return out
