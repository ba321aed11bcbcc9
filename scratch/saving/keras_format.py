"""Keras model configs (``config.json``) ⇄ scratch models, and the Keras order of things.

A `.keras` archive describes a model with Keras 3's JSON config: every layer by its class name
and `get_config()` (scratch layers use Keras' argument names, so the two line up), the graph as
``inbound_nodes`` (which tensor of which call of which layer feeds each call), and the compile
arguments. This module turns a scratch model into that JSON and back, for:

* Keras 3 configs (``.keras``), whose nodes look like
  ``{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node,
  tensor], ...}}], "kwargs": {}}``;
* Keras 2 configs (legacy ``.h5`` files), whose nodes look like ``[[layer, node, tensor, {}]]``
  and whose first layer may carry ``batch_input_shape``.

It also computes what the weight files are keyed by: Keras' ``model.layers`` order, which for a
functional model is *not* the order of the calls but Keras' depth order (`keras_layers`,
replicating ``keras.src.ops.function.map_graph``), and the Keras order of the trainable weights,
which is the order of an optimizer's slots.

Keras config entries that scratch does not model are accepted only at their neutral value
(``NEUTRAL``: e.g. ``kernel_regularizer=None``); anything else raises `UnsupportedError` naming
the layer and the argument, so a file never loads into a silently different model.

Nothing here imports TensorFlow or h5py.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import pkgutil
from collections import defaultdict
from typing import Any

import numpy as np

from ..utils.naming import to_snake_case

#: The Keras release whose file format scratch reads and writes (pyproject pins keras 3.15.*).
KERAS_FORMAT_VERSION = "3.15.1"


class UnsupportedError(ValueError):
    """A Keras layer, argument or setting that scratch does not implement."""


class FileFormatError(ValueError):
    """A file that is not a (readable) Keras model or weights file."""


# Keras config keys scratch does not model, with the value that means "not used".
# This is the project's one copy of the table (keras_ref/convert.py imports it).
NEUTRAL: dict[str, Any] = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "recurrent_regularizer": None, "beta_regularizer": None, "gamma_regularizer": None,
    "embeddings_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
    "recurrent_constraint": None, "beta_constraint": None, "gamma_constraint": None,
    "embeddings_constraint": None, "quantization_config": None, "lora_rank": None,
    "lora_alpha": None, "data_format": "channels_last", "sparse": False, "ragged": False,
    "optional": False, "synchronized": False, "renorm": False, "renorm_clipping": None,
    "renorm_momentum": 0.99, "use_cudnn": "auto", "implementation": None,
    "rms_scaling": False, "unroll": False, "time_major": False, "zero_output_for_mask": None,
    "embeddings_regularizer_": None, "input_axes": None, "output_axes": None,
    "sparse_": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None,
}
# Keys whose value never changes what the model computes.
ANY_VALUE = {"implementation", "unroll", "use_cudnn", "zero_output_for_mask", "module",
             "registered_name", "build_config", "compile_config", "shared_object_id",
             "input_length"}  # Keras 2's Embedding(input_length=...): Keras 3 ignores it
# Optimizer config keys of Keras 2.11+ files that Keras 3 no longer has.
_LEGACY_OPTIMIZER_KEYS = {"is_legacy_optimizer", "jit_compile"}

_FLOAT_DTYPES = ("float32", "float64")


# ------------------------------------------------------------------------------ names
def keras_class_name(obj) -> str:
    """The Keras class of a scratch object: a functional `Model` is Keras' "Functional"."""
    from ..models import Model, Sequential

    if isinstance(obj, Model) and not isinstance(obj, Sequential):
        return "Functional"
    return type(obj).__name__


def unique_keys(objects) -> list[str]:
    """Keras' container keys: snake_case class names, uniquified as name, name_1, name_2."""
    used: dict[str, int] = {}
    keys = []
    for obj in objects:
        name = to_snake_case(keras_class_name(obj))
        if name in used:
            used[name] += 1
            keys.append(f"{name}_{used[name]}")
        else:
            used[name] = 0
            keys.append(name)
    return keys


# ------------------------------------------------------------------------------ registry
def layer_class(class_name: str, custom_objects: dict | None = None):
    """The scratch class for a Keras class name (`custom_objects` first, then scratch.layers
    and every module of the scratch.layers package)."""
    from ..layers.base import Layer

    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    import scratch.layers as layers_pkg

    cls = getattr(layers_pkg, class_name, None)
    if isinstance(cls, type) and issubclass(cls, Layer):
        return cls
    broken = []
    for info in pkgutil.walk_packages(layers_pkg.__path__, layers_pkg.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except ImportError as e:  # a work-in-progress module must not break other layers
            broken.append(f"{info.name} ({e})")
            continue
        cls = getattr(module, class_name, None)
        if isinstance(cls, type) and issubclass(cls, Layer) and not class_name.startswith("_"):
            return cls
    hint = f" (modules that failed to import: {', '.join(broken)})" if broken else ""
    raise UnsupportedError(f"scratch has no layer {class_name!r}{hint}.")


def accepted_args(cls) -> set[str]:
    """The keyword arguments a scratch layer class accepts (its __init__s, and Layer's)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            sig = inspect.signature(vars(klass)["__init__"])
            names |= {p for p in sig.parameters if p not in ("self", "args", "kwargs")}
    return names | {"name", "dtype", "trainable", "input_shape", "batch_size", "input_dim"}


# ------------------------------------------------------------------------------ checking a config
# A config read from a file is JSON of any shape. Its structure is checked as it is read, so
# that a malformed file raises a FileFormatError naming the part at fault, not an
# AttributeError deep inside. (Its nesting depth was already capped by `files.parse_json`.)
_JSON_KINDS = {dict: "a JSON object", list: "a list", str: "a string", bool: "true or false"}


def _received(value) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:100] + "..."


def expect(value, kind: type, where: str):
    """`value` if it is a `kind` (dict, list, str or bool), else a FileFormatError."""
    if not isinstance(value, kind):
        raise FileFormatError(f"{where} must be {_JSON_KINDS[kind]}. "
                              f"Received: {_received(value)}")
    return value


def _is_count(value) -> bool:
    """A non-negative integer (JSON's true and false are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def class_and_config(entry, where: str) -> tuple[str, dict]:
    """The class name and config dict of a Keras object entry ({"class_name", "config"})."""
    expect(entry, dict, where)
    class_name = expect(entry.get("class_name"), str, f"{where}: class_name")
    return class_name, expect(entry.get("config", {}), dict, f"{where}: config")


def _shape(value, where: str) -> tuple:
    """A Keras shape: a list of sizes (non-negative integers) or None."""
    expect(value, list, where)
    if not all(d is None or _is_count(d) for d in value):
        raise FileFormatError(f"{where} must list sizes (integers ≥ 0 or null). "
                              f"Received: {_received(value)}")
    return tuple(value)


def _optional_name(config: dict, where: str) -> str | None:
    name = config.get("name")
    return None if name is None else expect(name, str, f"{where}: name")


def _trainable(config: dict, where: str) -> bool:
    return expect(config.get("trainable", True), bool, f"{where}: trainable")


# ------------------------------------------------------------------------------ config values
def _strip(value):
    """Drop Keras' bookkeeping keys (module, registered_name, shared_object_id) recursively."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if k not in ("module", "registered_name", "shared_object_id")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def dtype_name(dtype, where: str = "") -> str | None:
    """A Keras dtype or DTypePolicy config -> "float32"/"float64" (or an int dtype name)."""
    if isinstance(dtype, dict):  # a DTypePolicy: {"class_name": ..., "config": {"name": ...}}
        dtype = class_and_config(dtype, f"{where}dtype")[1].get("name")
    if dtype is None:
        return None
    name = expect(dtype, str, f"{where}dtype")
    if name in _FLOAT_DTYPES:
        return name
    try:
        kind = np.dtype(name).kind
    except (TypeError, ValueError):
        kind = None
    if kind is not None and kind in "iub":
        return np.dtype(name).name
    raise UnsupportedError(
        f"{where}scratch computes in float32 or float64. Received: dtype={name!r}"
    )


def _init_config(init, where: str):
    """A Keras initializer config -> something `scratch.initializers.get` accepts."""
    if isinstance(init, dict) and "class_name" in init:
        class_name, config = class_and_config(init, where)
        cfg = {k: v for k, v in config.items() if k not in NEUTRAL or v != NEUTRAL[k]}
        return {"class_name": class_name, "config": cfg}
    return init


def scratch_config_from_keras(class_name: str, config: dict, custom_objects=None) -> dict:
    """Filter a Keras layer config into the kwargs of the scratch class of that name."""
    cls = layer_class(class_name, custom_objects)
    accepted = accepted_args(cls)
    out: dict[str, Any] = {}
    where = f"Layer {config.get('name')!r} ({class_name}): "
    for key, value in config.items():
        if key == "dtype":
            value = dtype_name(value, where)
            if value is not None and value not in _FLOAT_DTYPES:
                continue  # an int policy on a float layer: keep the model's float dtype
        elif key.endswith("_initializer"):
            value = _init_config(_strip(value), f"{where}{key}")
        elif key == "cell" and isinstance(value, dict) and "class_name" in value:
            value = layer_from_entry(value, custom_objects)  # RNN(cell)
        elif key == "axis" and class_name == "BatchNormalization" and isinstance(value, list) \
                and len(value) == 1 and isinstance(value[0], int):
            value = value[0]  # Keras 2 stored BN's axis as a list
        if key == "cell" and key in accepted:
            out[key] = value
        elif key in ("batch_input_shape", "batch_shape"):
            if value is not None:
                shape = _shape(value, f"{where}{key}")
                if not shape:
                    raise FileFormatError(f"{where}{key} must include the batch size. "
                                          f"Received: {_received(value)}")
                out["input_shape"] = shape[1:]
                if shape[0] is not None and "batch_size" in accepted:
                    out["batch_size"] = shape[0]
        elif key in accepted:
            out[key] = _strip(value)
        elif key in ANY_VALUE:
            continue
        elif key in NEUTRAL and (value == NEUTRAL[key] or value is None):
            continue
        else:
            raise UnsupportedError(
                f"{where}scratch does not support the argument {key}={_received(value)}."
            )
    return out


def _dtype_policy(dtype: str) -> dict:
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def _keras_value(key: str, value):
    """A scratch config value in the form Keras writes it."""
    if isinstance(value, tuple):
        return [_keras_value("", v) for v in value]
    if isinstance(value, list):
        return [_keras_value("", v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if key.endswith("_initializer") and isinstance(value, dict) and "class_name" in value:
        return {"module": "keras.initializers", "class_name": value["class_name"],
                "config": {k: _keras_value(k, v) for k, v in (value.get("config") or {}).items()},
                "registered_name": None}
    if isinstance(value, dict):
        return {k: _keras_value(k, v) for k, v in value.items()}
    return value


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
    return config


def _takes_cell(cls) -> bool:
    try:
        return "cell" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------ Keras order
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
    from ..layers.core import InputLayer
    from ..models import Sequential

    if isinstance(model, Sequential):
        return model.layers
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


# ------------------------------------------------------------------------------ scratch -> Keras
def _is_functional(layer) -> bool:
    from ..models import Model, Sequential

    return isinstance(layer, Model) and not isinstance(layer, Sequential)


def _is_rnn(layer) -> bool:
    from ..layers.recurrent.rnn import RNN

    return isinstance(layer, RNN)


def _keras_call(node) -> tuple[list, dict]:
    """(positional tensors, keyword arguments) of a node in Keras' calling convention.

    scratch records `rnn(x, initial_state=[h, c])` as a call on [x, h, c]; Keras 3 keeps the
    states as the `initial_state` keyword.
    """
    if _is_rnn(node.layer) and node.multi_input:
        return [node.inputs[0]], {**node.kwargs, "initial_state": list(node.inputs[1:])}
    return ([list(node.inputs)] if node.multi_input else list(node.inputs)), dict(node.kwargs)


def _build_config(layer, model) -> dict | None:
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
                if legacy:
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
        if _is_functional(t.node.layer):
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


# ------------------------------------------------------------------------------ compile config
def _serialize_compile_object(obj, module: str, legacy: bool):
    from .. import losses, metrics

    if isinstance(obj, (losses.Loss, metrics.Metric)):
        config = {k: _keras_value(k, v) for k, v in obj.get_config().items()}
        out = {"module": module, "class_name": type(obj).__name__, "config": config,
               "registered_name": None}
        return {"class_name": out["class_name"], "config": config} if legacy else out
    if isinstance(obj, (list, tuple)):
        return [_serialize_compile_object(o, module, legacy) for o in obj]
    if isinstance(obj, dict):
        return {k: _serialize_compile_object(o, module, legacy) for k, o in obj.items()}
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise UnsupportedError(
        f"Cannot write {type(obj).__name__} objects into a Keras compile config. "
        f"Received: {obj!r}"
    )


# Keras 3's legacy-H5 reader resolves the loss "mse" to keras.metrics.mse and fails (it does
# so on its own files too); the function names load.
_LOSS_ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error",
                 "mae": "mean_absolute_error", "MAE": "mean_absolute_error",
                 "mape": "mean_absolute_percentage_error",
                 "msle": "mean_squared_logarithmic_error"}


def _canonical_losses(spec):
    if isinstance(spec, str):
        return _LOSS_ALIASES.get(spec, spec)
    if isinstance(spec, (list, tuple)):
        return [_canonical_losses(s) for s in spec]
    if isinstance(spec, dict):
        return {k: _canonical_losses(s) for k, s in spec.items()}
    return spec


def _per_output_metrics(model):
    """scratch (like Keras 2) applies a flat metric list to every output; Keras 3 wants one
    list per output, so write it that way."""
    spec = model._metric_spec
    n_out = len(model.outputs) if model.built else 1
    if n_out > 1 and isinstance(spec, (list, tuple)) and spec and not any(
            isinstance(m, (list, tuple)) for m in spec):
        return [list(spec) for _ in range(n_out)]
    return spec


def compile_config(model, legacy: bool = False) -> dict | None:
    """Keras' `get_compile_config()` of a compiled scratch model (None if not compiled).

    With ``legacy=True``: the `training_config` of a legacy `.h5` file (the optimizer as
    "optimizer_config" without "module" keys).
    """
    from .. import optimizers

    if not getattr(model, "compiled", False) or model.optimizer is None:
        return None
    opt = optimizers.serialize(model.optimizer)
    opt["config"] = {k: _keras_value(k, v) for k, v in opt["config"].items()}
    config = {
        "optimizer": opt,
        "loss": _serialize_compile_object(
            _canonical_losses(model._loss_spec) if legacy else model._loss_spec,
            "keras.losses", legacy),
        "loss_weights": _keras_value("", model._loss_weights_spec),
        "metrics": _serialize_compile_object(_per_output_metrics(model), "keras.metrics",
                                             legacy),
        "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
        "jit_compile": False,
    }
    if legacy:
        config.pop("optimizer")
        config["optimizer_config"] = {"class_name": opt["class_name"], "config": opt["config"]}
    return config


def _optimizer_from_config(config: dict, where: str):
    from .. import optimizers

    name, inner = class_and_config(_strip(config), where)
    inner = {k: v for k, v in inner.items() if k not in _LEGACY_OPTIMIZER_KEYS}
    try:
        return optimizers.deserialize({"class_name": name, "config": inner})
    except (ValueError, TypeError) as e:
        raise UnsupportedError(
            f"The file's optimizer {name!r} cannot be rebuilt in scratch: {e} "
            "(load with compile=False to skip the compile settings)."
        ) from e


def _loss_from_config(config, where: str):
    if config is None or isinstance(config, str):
        return config
    if isinstance(config, list):
        return [_loss_from_config(c, where) for c in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _loss_from_config(c, where) for k, c in config.items()}
    class_name, inner = class_and_config(_strip(config), where)
    inner = dict(inner)
    if class_name == "LossFunctionWrapper" and isinstance(inner.get("fn"), str):
        return inner["fn"]
    if inner.get("dtype") is None:
        inner.pop("dtype", None)
    if inner.get("reduction") == "auto":  # Keras 2
        inner["reduction"] = "sum_over_batch_size"
    return {"class_name": class_name, "config": inner}


def _metric_from_config(config, where: str):
    if config is None or isinstance(config, str):
        return config
    if isinstance(config, list):
        return [_metric_from_config(c, where) for c in config]
    if isinstance(config, dict) and "class_name" not in config:
        return {k: _metric_from_config(c, where) for k, c in config.items()}
    class_name, inner = class_and_config(_strip(config), where)
    if class_name == "MeanMetricWrapper" and isinstance(inner.get("fn"), str):
        # Keras 2 files: {"class_name": "MeanMetricWrapper", "config": {"name": "accuracy",
        # "fn": "binary_accuracy"}}
        name = inner.get("name")
        return name if name in ("accuracy", "acc") else inner["fn"]
    return {"class_name": class_name, "config": dict(inner)}


def compile_from_config(model, config: dict, legacy: bool = False) -> None:
    """Compile a scratch model with a Keras compile config (or a legacy `training_config`).

    Raises FileFormatError for a config of the wrong structure, UnsupportedError for
    settings scratch cannot rebuild.
    """
    from .. import losses, metrics

    what = "training_config" if legacy else "compile_config"
    config = dict(expect(config, dict, what))
    opt_key = "optimizer_config" if legacy else "optimizer"
    opt_config = config.get(opt_key)
    if isinstance(opt_config, dict):
        optimizer = _optimizer_from_config(opt_config, f"{what}: {opt_key}")
    elif opt_config is None:
        optimizer = "rmsprop"
    else:
        optimizer = expect(opt_config, str, f"{what}: {opt_key}") or "rmsprop"
    loss = _loss_from_config(config.get("loss"), f"{what}: loss")
    metric_spec = _metric_from_config(config.get("metrics"), f"{what}: metrics")
    n_outputs = len(model.outputs) if model.built else 1
    if isinstance(metric_spec, list) and n_outputs == 1 and len(metric_spec) == 1 \
            and isinstance(metric_spec[0], list):
        metric_spec = metric_spec[0]  # Keras 2 wrote one list per output
    weighted = _metric_from_config(config.get("weighted_metrics"), f"{what}: weighted_metrics")
    if weighted:
        raise UnsupportedError(
            f"scratch does not implement weighted_metrics. Received: weighted_metrics="
            f"{_received(config.get('weighted_metrics'))} (load with compile=False to skip "
            "them)."
        )
    try:
        model.compile(optimizer=optimizer, loss=loss, loss_weights=config.get("loss_weights"),
                      metrics=metric_spec)
        for l in as_flat(loss):
            losses.get(l)
        for m in as_flat(metric_spec):
            metrics.get(m)
    except (ValueError, TypeError) as e:
        model.compiled = False
        model.optimizer = None
        raise UnsupportedError(
            f"The file's compile settings cannot be rebuilt in scratch: {e} "
            "(load with compile=False to skip them)."
        ) from e


def as_flat(spec) -> list:
    if spec is None:
        return []
    if isinstance(spec, dict) and "class_name" not in spec:
        return [x for v in spec.values() for x in as_flat(v)]
    if isinstance(spec, (list, tuple)):
        return [x for v in spec for x in as_flat(v)]
    return [spec]


# ------------------------------------------------------------------------------ Keras -> scratch
class _NotReady(Exception):
    """A node whose input tensors do not exist yet (processed in a later sweep)."""


def _set_trainable_flag(layer, value) -> None:
    """Restore one level's `trainable` without touching the flags of nested layers."""
    from ..models import Model

    if isinstance(layer, Model):
        layer._trainable = bool(value)
    else:
        layer.trainable = bool(value)


@contextlib.contextmanager
def _building(what: str):
    """Report what scratch's constructors reject in a config (their ValueError or TypeError)
    as an UnsupportedError naming `what`; the config's own errors pass through."""
    try:
        yield
    except (FileFormatError, UnsupportedError):
        raise
    except (TypeError, ValueError) as e:
        raise UnsupportedError(f"{what} cannot be built in scratch from its config: {e}") from e


def _make_input(config: dict, where: str):
    import scratch

    config = _strip(config)
    for key in ("sparse", "ragged", "optional"):
        if config.get(key):
            raise UnsupportedError(
                f"{where}: scratch does not support {key} inputs. Received: {key}=True"
            )
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    if shape is None:
        raise FileFormatError(f"{where}: the InputLayer config has no batch_shape.")
    shape = _shape(shape, f"{where}: the InputLayer's batch_shape")
    if not shape:
        raise FileFormatError(f"{where}: the InputLayer's batch_shape must include the batch "
                              "size. Received: []")
    dtype = dtype_name(config.get("dtype"), f"{where}: ")
    name = _optional_name(config, f"{where}: the InputLayer")
    with _building(f"{where}: the InputLayer {name!r}"):
        return scratch.Input(batch_shape=shape, dtype=dtype, name=name)


def _has_input(entry: dict) -> bool:
    """Keras 2: does this nested model keep its own node first (see `_legacy_offset`)?"""
    if entry.get("class_name") in ("Functional", "Model"):
        return True
    if entry.get("class_name") == "Sequential":
        config = entry.get("config")
        layers = config.get("layers") if isinstance(config, dict) else config
        if not isinstance(layers, list) or not layers or not isinstance(layers[0], dict):
            return False
        first = layers[0]
        return first.get("class_name") == "InputLayer" or (
            isinstance(first.get("config"), dict) and "batch_input_shape" in first["config"])
    return False


def layer_from_entry(entry: dict, custom_objects=None, flags: list | None = None,
                     where: str = "A layer entry"):
    """Build the scratch layer (or nested model) of one entry of a Keras `layers` list.

    `flags` collects (layer, trainable) pairs; `model_from_config` applies them once the
    whole model exists (building a model resets its layers' flags). `where` names the entry
    in error messages.
    """
    flags = [] if flags is None else flags
    class_name = expect(expect(entry, dict, where).get("class_name"), str,
                        f"{where}: class_name")
    if class_name in ("Sequential", "Functional", "Model"):
        return _model_from_config(entry, custom_objects, flags, where)
    _, config = class_and_config(entry, where)
    name = _optional_name(config, where)
    try:
        cls = layer_class(class_name, custom_objects)
    except UnsupportedError as e:
        raise UnsupportedError(
            f"Layer {config.get('name', entry.get('name'))!r} has class {class_name!r}, "
            f"which scratch does not implement. {e}"
        ) from None
    trainable = _trainable(config, f"Layer {name!r}")
    kwargs = scratch_config_from_keras(class_name, config, custom_objects)
    with _building(f"Layer {name!r} ({class_name})"):
        layer = cls.from_config(kwargs)
    flags.append((layer, trainable))
    return layer


def model_from_config(config: dict, custom_objects=None):
    """A scratch model from a Keras model config ({"class_name", "config", ...}).

    Accepts Keras 3 configs and Keras 2 (legacy `.h5`) ones; see the module docstring.
    Raises FileFormatError for a config of the wrong structure, UnsupportedError for a
    layer, argument or setting scratch lacks or cannot build.
    """
    flags: list = []
    model = _model_from_config(config, custom_objects, flags, "The model config")
    for obj, value in flags:
        _set_trainable_flag(obj, value)
    return model


def _model_from_config(config: dict, custom_objects, flags: list, where: str):
    class_name = expect(expect(config, dict, where).get("class_name"), str,
                        f"{where}: class_name")
    if "config" not in config:
        raise FileFormatError(f"{where} must have a 'config'. Received: keys "
                              f"{_received(sorted(config))}")
    inner = config["config"]
    if class_name == "Sequential":
        model = _sequential_from_config(inner, custom_objects, flags)
    elif class_name in ("Functional", "Model"):
        model = _functional_from_config(expect(inner, dict, f"{where}: config"),
                                        custom_objects, flags)
    else:
        raise UnsupportedError(
            f"scratch loads Sequential and functional models. Received: "
            f"class_name={class_name!r} (a subclassed model cannot be rebuilt from a config)."
        )
    trainable = _trainable(inner, f"Model {model.name!r}") if isinstance(inner, dict) else True
    flags.append((model, trainable))
    return model


def _sequential_from_config(config, custom_objects, flags: list) -> Any:
    from ..models import Sequential

    if isinstance(config, list):  # Keras 2.0-era files: the config is the layer list
        config = {"layers": config}
    name = _optional_name(expect(config, dict, "The Sequential config"), "The Sequential config")
    where = f"Sequential {name!r}"
    layers_cfg = config.get("layers")
    if not isinstance(layers_cfg, list):
        raise FileFormatError(f"{where}: the config has no 'layers' list. "
                              f"Received: layers={_received(layers_cfg)}")
    items: list = []
    for i, entry in enumerate(layers_cfg):
        entry_where = f"{where}: layers[{i}]"
        if expect(entry, dict, entry_where).get("class_name") == "InputLayer":
            items.append(_make_input(class_and_config(entry, entry_where)[1], where))
            continue
        items.append(layer_from_entry(entry, custom_objects, flags, entry_where))
    dtype_name(config.get("dtype"), f"{where}: ")  # the model's policy: checked, not used
    shape = config.get("build_input_shape")
    if shape is not None:
        shape = _shape(shape, f"{where}: build_input_shape")
    with _building(where):
        model = Sequential(items, name=name)
        if not model.built and shape:
            model.build(shape)
    return model


def _history(ref, where: str) -> tuple[str, int, int]:
    """A tensor reference [layer name, call index, output index] (Keras 2 appends kwargs)."""
    if not (isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str)
            and _is_count(ref[1]) and _is_count(ref[2])):
        raise FileFormatError(f"{where} must be [layer name, call index, output index]. "
                              f"Received: {_received(ref)}")
    return ref[0], ref[1], ref[2]


def _functional_from_config(config: dict, custom_objects, flags: list) -> Any:
    from ..layers.base import as_list
    from ..models import Model

    name = _optional_name(config, "The functional model config")
    where = f"Model {name!r}"
    layers_cfg = config.get("layers")
    if not isinstance(layers_cfg, list):
        raise FileFormatError(f"{where}: the config has no 'layers' list. "
                              f"Received: layers={_received(layers_cfg)}")
    created: dict[str, Any] = {}
    outputs_of: dict[str, list[list]] = {}
    offset: dict[str, int] = {}
    pending: dict[str, list] = {}
    order: list[str] = []
    for i, entry in enumerate(layers_cfg):
        entry_where = f"{where}: layers[{i}]"
        expect(entry, dict, entry_where)
        cfg = entry.get("config")
        lname = entry.get("name", cfg.get("name") if isinstance(cfg, dict) else None)
        expect(lname, str, f"{entry_where}: name")
        if lname in created:
            raise FileFormatError(f"{where}: the layer name {lname!r} is used twice.")
        order.append(lname)
        legacy_entry = "module" not in entry
        offset[lname] = 1 if legacy_entry and _has_input(entry) else 0
        if entry.get("class_name") == "InputLayer":
            t = _make_input(class_and_config(entry, entry_where)[1], where)
            created[lname] = t.node.layer
            outputs_of[lname] = [[t]]
            pending[lname] = []
            continue
        created[lname] = layer_from_entry(entry, custom_objects, flags, entry_where)
        outputs_of[lname] = []
        nodes = entry.get("inbound_nodes", [])
        pending[lname] = list(expect(nodes, list, f"{where}: layer {lname!r}: inbound_nodes"))

    def tensor(lname: str, node_index: int, tensor_index: int, where: str) -> Any:
        """Output `tensor_index` of call `node_index` of layer `lname` (as the file counts
        calls); _NotReady if that call has not been made yet."""
        if lname not in created:
            raise FileFormatError(f"{where}: a node refers to the unknown layer {lname!r}.")
        node_index -= offset[lname]
        calls = outputs_of[lname]
        if node_index < 0:
            raise FileFormatError(f"{where}: layer {lname!r} has no call {node_index}.")
        if node_index >= len(calls):
            raise _NotReady
        if tensor_index >= len(calls[node_index]):
            raise FileFormatError(
                f"{where}: call {node_index} of layer {lname!r} has "
                f"{len(calls[node_index])} output(s). Received: output index {tensor_index}"
            )
        return calls[node_index][tensor_index]

    def revive(v, where: str):
        if isinstance(v, dict) and v.get("class_name") == "__keras_tensor__":
            config = v.get("config")
            if not isinstance(config, dict) or "keras_history" not in config:
                raise FileFormatError(f"{where}: a __keras_tensor__ must have a config with "
                                      f"a keras_history. Received: {_received(v)}")
            history = config["keras_history"]
            return tensor(*_history(history, f"{where}: keras_history"), where)
        if isinstance(v, list):
            return [revive(x, where) for x in v]
        if isinstance(v, dict):
            return {k: revive(x, where) for k, x in v.items()}
        return v

    def call(lname: str, node_data) -> None:
        layer = created[lname]
        node_where = f"{where}: layer {lname!r}: inbound node"
        if isinstance(node_data, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
            if not node_data:
                raise FileFormatError(f"{node_where} has no input tensors. Received: []")
            refs = [_history(ref, node_where) for ref in node_data]
            tensors = [tensor(*ref, node_where) for ref in refs]
            kwargs = {}
            if len(node_data[0]) > 3:
                kwargs = revive(dict(expect(node_data[0][3], dict, f"{node_where}: kwargs")),
                                node_where)
            args = [tensors[0] if len(tensors) == 1 else tensors]
        else:
            expect(node_data, dict, node_where)
            args = revive(expect(node_data.get("args", []), list, f"{node_where}: args"),
                          node_where)
            kwargs = revive(expect(node_data.get("kwargs", {}), dict, f"{node_where}: kwargs"),
                            node_where)
        kwargs.pop("training", None)
        if kwargs.get("mask", 0) is None:
            kwargs.pop("mask")
        if len(args) != 1:
            raise UnsupportedError(
                f"{where}: layer {lname!r} is called with {len(args)} positional arguments; "
                "scratch layers take one (a tensor or a list of tensors)."
            )
        with _building(f"{where}: the call of layer {lname!r}"):
            out = layer(args[0], **kwargs)
        outputs_of[lname].append(as_list(out))

    while any(pending.values()):
        progressed = False
        for lname in order:
            while pending[lname]:
                try:
                    call(lname, pending[lname][0])
                except _NotReady:
                    break
                pending[lname].pop(0)
                progressed = True
        if not progressed:
            stuck = [n for n in order if pending[n]]
            raise FileFormatError(
                f"{where}: the graph has loops or disconnected nodes; these layers could "
                f"not be called: {stuck[:20]}"
            )

    def io(refs, key: str):
        io_where = f"{where}: {key}"
        if isinstance(refs, list) and len(refs) == 3 and isinstance(refs[0], str):
            return io_one(refs, io_where)
        if isinstance(refs, dict):
            return {k: io_one(v, f"{io_where}[{k!r}]") for k, v in refs.items()}
        if isinstance(refs, list) and refs:
            return [io_one(r, io_where) for r in refs]
        raise FileFormatError(f"{io_where} must list tensor references. "
                              f"Received: {_received(refs)}")

    def io_one(ref, io_where: str):
        lname, node_index, tensor_index = _history(ref, io_where)
        if _is_functional(created.get(lname)) and offset[lname] == 0:
            node_index -= 1  # Keras 3 counts a nested functional model's own node first
        try:
            return tensor(lname, node_index, tensor_index, io_where)
        except _NotReady:
            raise FileFormatError(f"{io_where}: no tensor {ref!r} in the graph.") from None

    inputs = io(config.get("input_layers"), "input_layers")
    outputs = io(config.get("output_layers"), "output_layers")
    if isinstance(outputs, list) and len(outputs) == 1:
        outputs = outputs[0]  # Keras unpacks a single output
    with _building(where):
        return Model(inputs, outputs, name=name)
