"""A Keras config → a scratch model: every layer built, the graph called again.

Reads the configs `serialize` writes and the ones tf.keras writes:

* Keras 3 configs (``.keras``), whose nodes look like
  ``{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [layer, node,
  tensor], ...}}], "kwargs": {}}``;
* Keras 2 configs (legacy ``.h5`` files), whose nodes look like ``[[layer, node, tensor, {}]]``
  and whose first layer may carry ``batch_input_shape``.

Each layer entry becomes a scratch layer (`layer_from_entry`: its class from
`registry.layer_class`, its arguments filtered by `scratch_config_from_keras`); a functional
model's layers are then called on each other in the order of their inbound nodes, in sweeps
until every call has its inputs, so the graph is rebuilt whatever order the file lists it in.
A config of the wrong structure raises `FileFormatError`, a layer or setting scratch lacks
`UnsupportedError`; the `trainable` flags are applied once the whole model exists.
"""

from __future__ import annotations

import contextlib
from typing import Any

from .config_values import (
    _FLOAT_DTYPES,
    _init_config,
    _is_count,
    _optional_name,
    _received,
    _shape,
    _strip,
    _trainable,
    class_and_config,
    dtype_name,
    expect,
)
from .registry import (
    ANY_VALUE,
    NEUTRAL,
    FileFormatError,
    UnsupportedError,
    accepted_args,
    is_functional,
    layer_class,
)

# Config keys that hold a layer's entry: an RNN's cell, TimeDistributed's and Bidirectional's
# wrapped layers.
_NESTED_LAYERS = ("cell", "layer", "backward_layer")


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
        elif key in _NESTED_LAYERS and isinstance(value, dict) and "class_name" in value:
            value = layer_from_entry(value, custom_objects)  # RNN(cell), a wrapper's layers
        elif key == "axis" and class_name == "BatchNormalization" and isinstance(value, list) \
                and len(value) == 1 and isinstance(value[0], int):
            value = value[0]  # Keras 2 stored BN's axis as a list
        if key in _NESTED_LAYERS and key in accepted:
            out[key] = value
        elif key in ("batch_input_shape", "batch_shape"):
            if value is not None:
                shape = _shape(value, f"{where}{key}")
                if not shape:
                    raise FileFormatError(f"{where}{key} must include the batch size. "
                                          f"Received: {_received(value)}")
                out["batch_input_shape"] = shape  # Keras 2's shape hint (no warning)
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
        if len(args) != 1 and not hasattr(layer, "keras_call_arguments"):
            raise UnsupportedError(
                f"{where}: layer {lname!r} is called with {len(args)} positional arguments; "
                "scratch layers take one (a tensor or a list of tensors)."
            )
        with _building(f"{where}: the call of layer {lname!r}"):
            out = layer(*args, **kwargs)
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
        if is_functional(created.get(lname)) and offset[lname] == 0:
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
