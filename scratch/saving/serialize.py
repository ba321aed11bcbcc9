"""A scratch model → its Keras config (the ``config.json`` of a `.keras` file, or a legacy one).

A `.keras` archive describes a model with Keras 3's JSON config: every layer by its class name
and `get_config()` (scratch layers use Keras' argument names, so the two line up), the graph as
``inbound_nodes`` (which tensor of which call of which layer feeds each call), and the compile
arguments (`compile_settings.compile_config`). `serialize_model` writes

* Keras 3 configs (``.keras``), whose nodes look like
  ``{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node,
  tensor], ...}}], "kwargs": {}}``;
* Keras 2-style configs (legacy ``.h5`` files), whose nodes look like
  ``[[layer, node, tensor, {}]]``.

`deserialize` reads both back.
"""

from __future__ import annotations

import inspect
from typing import Any

from .compile_settings import compile_config
from .config_values import _dtype_policy, _keras_value
from .keras_order import keras_layers
from .registry import is_functional


def keras_layer_config(layer) -> dict:
    """The Keras `get_config()` of a (non-model) scratch layer."""
    from ..layers.core import InputLayer

    if isinstance(layer, InputLayer):
        return {"batch_shape": list(layer.batch_shape), "dtype": layer.output.dtype,
                "sparse": False, "ragged": False, "name": layer.name, "optional": False}
    config = dict(layer.get_config())
    config.pop("batch_input_shape", None)
    config = {k: _keras_value(k, v) for k, v in config.items()}
    config["dtype"] = _dtype_policy(layer.dtype)
    if _takes_cell(type(layer)) and "cell" not in config:  # RNN(cell): Keras nests the cell
        config["cell"] = _layer_entry(layer.cell, None, legacy=False)
    for key, sub in getattr(layer, "config_layers", {}).items():  # a wrapper's layers
        config[key] = _layer_entry(sub, None, legacy=False)
    return config


def _takes_cell(cls) -> bool:
    try:
        return "cell" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


def _is_rnn(layer) -> bool:
    """A layer whose initial states scratch records as extra inputs: an RNN, Bidirectional."""
    from ..layers.recurrent.rnn import RNN
    from ..layers.wrappers import Bidirectional

    return isinstance(layer, (RNN, Bidirectional))


def _keras_call(node) -> tuple[list, dict]:
    """(positional tensors, keyword arguments) of a node in Keras' calling convention.

    scratch records `rnn(x, initial_state=[h, c])` as a call on [x, h, c]; Keras 3 keeps the
    states as the `initial_state` keyword.
    """
    if _is_rnn(node.layer) and node.multi_input:
        return [node.inputs[0]], {**node.kwargs, "initial_state": list(node.inputs[1:])}
    if hasattr(node.layer, "keras_call_arguments"):  # several positional tensors (attention)
        return node.layer.keras_call_arguments(node.inputs, node.kwargs)
    return ([list(node.inputs)] if node.multi_input else list(node.inputs)), dict(node.kwargs)


def _build_config(layer, model) -> dict | None:
    if hasattr(layer, "keras_build_config"):  # a build that takes several named shapes
        return layer.keras_build_config()
    for node in model._nodes:
        if node.layer is layer:
            args, _ = _keras_call(node)
            first = args[0]
            shape = [list(t.shape) for t in first] if isinstance(first, list) \
                else list(first.shape)
            return {"input_shape": shape}
    return None


def serialize_model(model, *, legacy: bool = False, include_compile: bool = True) -> dict:
    """The Keras JSON config of a scratch Sequential or functional Model.

    Args:
        legacy: write the form Keras 3 stores in legacy `.h5` files (no "module" keys on
            layers, no build/compile configs; the compile settings go to `training_config`).
        include_compile: add "compile_config" for a compiled model (Keras 3 form only).
    """
    from ..models import Model, Sequential

    if not isinstance(model, Model):
        raise TypeError(f"serialize_model expects a scratch Model. Received: {model!r}")
    if isinstance(model, Sequential):
        out = {"module": "keras", "class_name": "Sequential",
               "config": _sequential_config(model, legacy), "registered_name": None}
        shape = model.inputs[0].shape if model.built and model._input_tensor is not None \
            else None
        if not legacy and shape is not None:
            out["build_config"] = {"input_shape": list(shape)}
    else:
        out = {"module": "keras.src.models.functional", "class_name": "Functional",
               "config": _functional_config(model, legacy), "registered_name": "Functional"}
        if not legacy:
            out["build_config"] = {"input_shape": None}
    if legacy:
        out.pop("module")
        out.pop("registered_name")
    elif include_compile:
        cc = compile_config(model)
        out["compile_config"] = cc if cc is not None else {}
    return out


def _layer_entry(layer, parent, legacy: bool) -> dict:
    from ..models import Model

    if isinstance(layer, Model):
        entry = serialize_model(layer, legacy=legacy, include_compile=False)
        entry.pop("compile_config", None)
        return entry
    entry = {"module": "keras.layers", "class_name": type(layer).__name__,
             "config": keras_layer_config(layer), "registered_name": None}
    if legacy:
        return {"class_name": entry["class_name"], "config": entry["config"]}
    if layer.weights and parent is not None:
        build = _build_config(layer, parent)
        if build is not None:
            entry["build_config"] = build
    return entry


def _sequential_config(model, legacy: bool) -> dict:
    layers = []
    if model._input_tensor is not None:
        layers.append(_layer_entry(model._input_tensor.node.layer, None, legacy))
    layers += [_layer_entry(l, model, legacy) for l in model.layers]
    config = {"name": model.name, "trainable": model.trainable,
              "dtype": _dtype_policy(model.dtype), "layers": layers}
    if model._input_tensor is not None:
        config["build_input_shape"] = list(model._input_tensor.shape)
    return config


def _functional_config(model, legacy: bool) -> dict:
    from ..layers.core import InputLayer
    from ..layers.symbolic import KerasTensor

    own = set(model._nodes)
    node_index: dict = {}
    for layer in {id(n.layer): n.layer for n in model._nodes}.values():
        kept = [n for n in layer._inbound_nodes if n in own]
        for i, n in enumerate(kept):
            node_index[n] = i

    def history(t) -> list:
        return [t.node.layer.name, node_index[t.node], t.index]

    def tensor(t) -> dict:
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype,
                           "keras_history": history(t)}}

    def value(v):
        if isinstance(v, KerasTensor):
            return tensor(v)
        if isinstance(v, (list, tuple)):
            return [value(x) for x in v]
        if isinstance(v, dict):
            return {k: value(x) for k, x in v.items()}
        return _keras_value("", v)

    layers = []
    for layer in keras_layers(model):
        entry = _layer_entry(layer, model, legacy)
        inbound = []
        if not isinstance(layer, InputLayer):
            for n in [n for n in layer._inbound_nodes if n in own]:
                # Keras 2's node lists take one input (or list); a layer called with several
                # positional tensors (attention) gets the Keras 3 form, as Keras 3.15 writes
                # it in .h5 files too
                if legacy and not hasattr(layer, "keras_call_arguments"):
                    kw = {k: value(v) for k, v in n.kwargs.items()}
                    inbound.append([history(t) + [kw] for t in n.inputs])
                else:
                    args, kwargs = _keras_call(n)
                    inbound.append({"args": value(args),
                                    "kwargs": {k: value(v) for k, v in kwargs.items()}})
        entry["name"] = layer.name
        entry["inbound_nodes"] = inbound
        layers.append(entry)

    def io(t) -> list:
        ref = history(t)
        if is_functional(t.node.layer):
            ref[1] += 1  # Keras counts a nested functional model's own node first
        return ref

    keys = model._input_dict_keys
    if keys is not None:
        inputs: Any = {k: io(t) for k, t in zip(keys, model.inputs)}
    elif model._multi_input or legacy:
        inputs = [io(t) for t in model.inputs]
    else:
        inputs = io(model.inputs[0])
    if model._multi_output or legacy:
        outputs: Any = [io(t) for t in model.outputs]
    else:
        outputs = io(model.outputs[0])
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": inputs, "output_layers": outputs}
