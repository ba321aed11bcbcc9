"""Legacy `.h5` model files (Keras 2's `model.save("m.h5")`, still written by Keras 3).

Layout (`keras.src.legacy.saving.legacy_h5_format`)::

    attrs: keras_version, backend, model_config (JSON), training_config (JSON, if compiled)
    model_weights/                attrs: layer_names = [every layer, Keras' model.layers order]
        <layer name>/             attrs: weight_names = ["dense/kernel:0", "dense/bias:0"]
            dense/kernel:0 ...    one dataset per weight (trainable first, then non-trainable)
        top_level_model_weights/  (empty)
    optimizer_weights/            attrs: weight_names; one dataset per optimizer variable

Layers are matched to the file by position among the layers that have weights (Keras'
`load_weights` rule) or, with `by_name=True`, by layer name; `load_model` matches by name
(the names come from the same file's config). As everywhere in `scratch.saving`, the whole file
is checked before any weight changes.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .keras_format import (
    KERAS_FORMAT_VERSION,
    FileFormatError,
    compile_config,
    compile_from_config,
    keras_layers,
    keras_trainable_weights,
    model_from_config,
    serialize_model,
    weight_paths,
)
from .weights_h5 import Plan, _cast, _h5py, build_optimizer_like_keras, optimizer_layout

_HEADER_LIMIT = 64512  # HDF5's object header limit: longer attribute lists are chunked


# ------------------------------------------------------------------------------ helpers
def legacy_weights(layer) -> list[tuple[str, np.ndarray]]:
    """(path, array) in Keras' legacy order: trainable weights, then non-trainable."""
    from ..models import Model

    paths = weight_paths(layer)
    if isinstance(layer, Model):
        trainable = keras_trainable_weights(layer)
        everything: list[np.ndarray] = []
        seen: set[int] = set()

        def walk(m):
            for sub in keras_layers(m):
                if isinstance(sub, Model):
                    walk(sub)
                    continue
                for w in sub.weights:
                    if id(w) not in seen:
                        seen.add(id(w))
                        everything.append(w)

        walk(layer)
        ids = {id(w) for w in trainable}
        ordered = trainable + [w for w in everything if id(w) not in ids]
    else:
        ordered = list(layer.trainable_weights) + list(layer.non_trainable_weights)
    return [(paths[id(w)], w) for w in ordered]


def _save_attr_list(group, name: str, items: list[str]) -> None:
    data = [s.encode("utf8") for s in items]
    if any(len(x) > _HEADER_LIMIT for x in data):
        raise ValueError(f"A name is longer than HDF5 allows ({_HEADER_LIMIT} bytes).")
    array = np.asarray(data)
    chunks = 1
    parts = np.array_split(array, chunks)
    while any(p.nbytes > _HEADER_LIMIT for p in parts):
        chunks += 1
        parts = np.array_split(array, chunks)
    if chunks > 1:
        for i, part in enumerate(parts):
            group.attrs[f"{name}{i}"] = part
    else:
        group.attrs[name] = data


def _load_attr_list(group, name: str) -> list[str]:
    def text(n):
        return n.decode("utf8") if hasattr(n, "decode") else str(n)

    if name in group.attrs:
        return [text(n) for n in group.attrs[name]]
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out += [text(n) for n in group.attrs[f"{name}{i}"]]
        i += 1
    return out


def _attr_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf8")
    return str(value)


def _read_dataset(group, name: str, what: str) -> np.ndarray:
    h5py = _h5py()
    parent = group
    parts = name.split("/")
    for part in parts[:-1]:
        if part not in parent:
            raise FileFormatError(f"{what}: missing {name!r} in group {group.name!r}.")
        parent = parent[part]
    link = parent.get(parts[-1], getlink=True)
    if link is None:
        raise FileFormatError(f"{what}: missing dataset {name!r} in group {group.name!r}.")
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        raise FileFormatError(f"{what}: {name!r} is a link; plain datasets expected.")
    ds = parent[parts[-1]]
    if not isinstance(ds, h5py.Dataset) or ds.external or ds.is_virtual:
        raise FileFormatError(f"{what}: {name!r} is not a plain dataset.")
    return np.array(ds[()])


def _read_layer_groups(group, what: str) -> list[tuple[str, list[str], list[np.ndarray]]]:
    """(layer name, weight names, values) for each saved layer with weights, file order."""
    out = []
    for lname in _load_attr_list(group, "layer_names"):
        if lname not in group:
            raise FileFormatError(f"{what}: layer_names lists {lname!r}, which has no group.")
        names = _load_attr_list(group[lname], "weight_names")
        if names:
            out.append((lname, names, [_read_dataset(group[lname], n, what) for n in names]))
    if "top_level_model_weights" in group and _load_attr_list(
            group["top_level_model_weights"], "weight_names"):
        raise FileFormatError(f"{what}: the file has model-level weights, which scratch "
                              "models do not have.")
    return out


def _plan_layer(plan: Plan, layer, names, values, what: str, skip_mismatch: bool) -> None:
    targets = legacy_weights(layer)
    if len(values) != len(targets):
        raise ValueError(
            f"{what}: weight count mismatch for layer {layer.name!r}: the layer expects "
            f"{len(targets)} weight(s) ({', '.join(p for p, _ in targets)}). Received "
            f"{len(values)} saved weight(s) ({', '.join(names)})."
        )
    pairs = []
    for (path, target), name, value in zip(targets, names, values):
        if value.shape != target.shape:
            msg = (f"{what}: shape mismatch for weight {path} of layer {layer.name!r}: it "
                   f"has shape {target.shape}. Received: shape={value.shape} (saved as "
                   f"{name!r}).")
            if skip_mismatch:
                warnings.warn(f"Skipping loading weights for layer {layer.name!r}: {msg}",
                              stacklevel=4)
                return
            raise ValueError(msg)
        pairs.append((target, _cast(value, target, f"{what}: {name}")))
    plan.copies += pairs


def _plan_weights(model, group, what: str, *, by_name: bool, skip_mismatch: bool) -> Plan:
    saved = _read_layer_groups(group, what)
    layers = [l for l in keras_layers(model) if legacy_weights(l)]
    plan = Plan()
    if by_name:
        index = {l.name: l for l in layers}
        for lname, names, values in saved:
            layer = index.get(lname)
            if layer is None:
                continue
            _plan_layer(plan, layer, names, values, what, skip_mismatch)
        return plan
    if len(saved) != len(layers):
        raise ValueError(
            f"{what}: layer count mismatch when loading weights from file. The model has "
            f"{len(layers)} layers with weights ({[l.name for l in layers]}); the file has "
            f"{len(saved)} ({[s[0] for s in saved]})."
        )
    for (_, names, values), layer in zip(saved, layers):
        _plan_layer(plan, layer, names, values, what, skip_mismatch)
    return plan


def _plan_weights_by_config_names(model, group, what: str) -> Plan:
    """load_model: every layer with weights matched by its (config) name, none left over."""
    saved = {s[0]: s for s in _read_layer_groups(group, what)}
    plan = Plan()
    layers = [l for l in keras_layers(model) if legacy_weights(l)]
    for layer in layers:
        if layer.name not in saved:
            raise ValueError(f"{what}: the file has no weights for layer {layer.name!r}.")
        _, names, values = saved.pop(layer.name)
        _plan_layer(plan, layer, names, values, what, False)
    if saved:
        raise ValueError(f"{what} holds weights for layers the model does not have: "
                         f"{sorted(saved)}")
    return plan


def _plan_optimizer(model, f, what: str) -> Plan:
    plan = Plan()
    if "optimizer_weights" not in f or model.optimizer is None:
        return plan
    group = f["optimizer_weights"]
    names = _load_attr_list(group, "weight_names")
    values = [_read_dataset(group, n, what) for n in names]
    layout = optimizer_layout(model)
    if len(values) != len(layout.values) or any(
            np.shape(v) != np.shape(c) for v, c in zip(values, layout.values)):
        warnings.warn(
            f"{what}: error in loading the saved optimizer state ({len(values)} variables "
            f"saved, the optimizer has {len(layout.values)}). As a result, your model is "
            "starting with a freshly initialized optimizer.", stacklevel=3)
        return plan
    for current, value, setter in zip(layout.values, values, layout.setters):
        value = np.asarray(value)
        plan.calls.append((setter, value if np.shape(current) == () else
                           _cast(value, current, f"{what}: optimizer")))
    return plan


def _open(path: str):
    h5py = _h5py()
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise FileFormatError(f"{path} is not a readable HDF5 file (truncated or corrupt?): "
                              f"{e}") from None


# ------------------------------------------------------------------------------ public
def load_legacy_model(filepath, custom_objects=None, compile: bool = True):
    """Load a legacy `.h5` full-model file (Keras 2, or Keras 3's legacy writer)."""
    from . import check_version

    path = os.fspath(filepath)
    with _open(path) as f:
        try:
            check_version(_attr_text(f.attrs.get("keras_version")), path)
            raw = _attr_text(f.attrs.get("model_config"))
            if raw is None:
                raise FileFormatError(
                    f"No model config found in the file at {path} (a weights-only file? "
                    "use model.load_weights)."
                )
            try:
                config = json.loads(raw)
            except json.JSONDecodeError as e:
                raise FileFormatError(f"{path}: the model_config is not JSON ({e}).") from None
            model = model_from_config(config, custom_objects=custom_objects)
            if "model_weights" not in f:
                raise FileFormatError(f"{path} has no model_weights group.")
            plan = _plan_weights_by_config_names(model, f["model_weights"], path)
            opt_plan = Plan()
            training = _attr_text(f.attrs.get("training_config"))
            if compile and training is not None:
                compile_from_config(model, json.loads(training), legacy=True)
                build_optimizer_like_keras(model)
                opt_plan = _plan_optimizer(model, f, path)
        except (KeyError, OSError, RuntimeError) as e:
            raise FileFormatError(f"{path} is corrupt or truncated: {e}") from None
    plan.apply()
    opt_plan.apply()
    return model


def load_legacy_weights(model, filepath, by_name: bool = False,
                        skip_mismatch: bool = False) -> None:
    """`model.load_weights("m.h5")` for legacy files (full-model or weights-only)."""
    path = os.fspath(filepath)
    with _open(path) as f:
        try:
            check = _attr_text(f.attrs.get("keras_version"))
            from . import check_version

            check_version(check, path)
            group = f
            if "layer_names" not in f.attrs and "model_weights" in f:
                group = f["model_weights"]
            if "layer_names" not in group.attrs and "layer_names0" not in group.attrs:
                raise FileFormatError(f"{path} is not a Keras weights file (no layer_names).")
            plan = _plan_weights(model, group, path, by_name=by_name,
                                 skip_mismatch=skip_mismatch)
        except (KeyError, OSError, RuntimeError) as e:
            raise FileFormatError(f"{path} is corrupt or truncated: {e}") from None
    plan.apply()


def save_legacy_model(model, filepath, include_optimizer: bool = True) -> None:
    """Write `model` as a legacy `.h5` file that Keras 3 (and scratch) load."""
    h5py = _h5py()
    with h5py.File(os.fspath(filepath), "w") as f:
        f.attrs["keras_version"] = KERAS_FORMAT_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(serialize_model(model, legacy=True)).encode("utf8")
        training = compile_config(model, legacy=True) if include_optimizer else None
        if training is not None:
            f.attrs["training_config"] = json.dumps(training).encode("utf8")
        group = f.create_group("model_weights")
        layers = keras_layers(model)
        _save_attr_list(group, "layer_names", [l.name for l in layers])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = KERAS_FORMAT_VERSION.encode("utf8")
        for layer in sorted(layers, key=lambda l: l.name):
            lg = group.create_group(layer.name)
            weights = legacy_weights(layer)
            _save_attr_list(lg, "weight_names", [p for p, _ in weights])
            for p, w in weights:
                lg.create_dataset(p, data=w)
        _save_attr_list(group.create_group("top_level_model_weights"), "weight_names", [])
        if training is not None:
            layout = optimizer_layout(model)
            og = f.create_group("optimizer_weights")
            _save_attr_list(og, "weight_names", layout.names)
            for name, value in zip(layout.names, layout.values):
                og.create_dataset(name, data=np.asarray(value))
