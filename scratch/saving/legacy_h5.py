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
is checked before any weight changes, and from its metadata before any weight is read: the
shapes and dtypes of the datasets of the layers the model has, nothing of the others.
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np

from .compile_settings import compile_config
from .files import check_regular_file, parse_json, reading
from .keras_order import keras_layers, keras_trainable_weights, weight_paths
from .registry import KERAS_FORMAT_VERSION, FileFormatError
from .serialize import serialize_model
from .weights_h5 import (
    Plan,
    Restore,
    _attr_text,
    _h5py,
    _warn_if_rounded,
    optimizer_layout,
    plain_dataset,
    plan_optimizer_datasets,
)

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
    """A list of names stored by `_save_attr_list` (in one attribute, or chunked)."""

    def texts(value) -> list[str]:
        value = np.asarray(value)
        if value.ndim != 1:
            raise FileFormatError(
                f"{group.file.filename}: the attribute {group.name}:{name} must be a list of "
                f"names. Received: an array of shape {value.shape}"
            )
        return [n.decode("utf8", "replace") if isinstance(n, bytes) else str(n)
                for n in value]

    if name in group.attrs:
        return texts(group.attrs[name])
    out, i = [], 0
    while f"{name}{i}" in group.attrs:
        out += texts(group.attrs[f"{name}{i}"])
        i += 1
    return out


def _group(parent, name: str, what: str):
    """The group `parent[name]` reached by a plain (hard) link, or None if there is none."""
    h5py = _h5py()
    if not name or "/" in name or name == ".":
        raise FileFormatError(f"{what}: {name!r} in {parent.name} is not a plain name.")
    link = parent.get(name, getlink=True)
    if link is None:
        return None
    if not isinstance(link, h5py.HardLink) or not isinstance(parent[name], h5py.Group):
        raise FileFormatError(f"{what}: {parent.name}/{name} is not a plain group.")
    return parent[name]


def _dataset(group, name: str, what: str):
    """The dataset at the relative path `name` below `group` (metadata only, no data read)."""
    parts = name.split("/")
    if "" in parts:
        raise FileFormatError(f"{what}: the weight name {name!r} in group {group.name!r} is "
                              "not a relative path.")
    parent = group
    for part in parts[:-1]:
        parent = _group(parent, part, what)
        if parent is None:
            raise FileFormatError(f"{what}: missing {name!r} in group {group.name!r}.")
    return plain_dataset(parent, parts[-1], f"{what}: {group.name}/{name}")


def _layer_groups(group, what: str) -> list[tuple[str, list[str], list]]:
    """(layer name, weight names, datasets) for each saved layer with weights, file order.

    Reads the names and the datasets' metadata; no weight data.
    """
    out = []
    for lname in _load_attr_list(group, "layer_names"):
        layer_group = _group(group, lname, what)
        if layer_group is None:
            raise FileFormatError(f"{what}: layer_names lists {lname!r}, which has no group.")
        names = _load_attr_list(layer_group, "weight_names")
        if names:
            out.append((lname, names, [_dataset(layer_group, n, what) for n in names]))
    top = _group(group, "top_level_model_weights", what)
    if top is not None and _load_attr_list(top, "weight_names"):
        raise FileFormatError(f"{what}: the file has model-level weights, which scratch "
                              "models do not have.")
    return out


def _plan_layer(plan: Plan, layer, names, datasets, what: str, skip_mismatch: bool) -> None:
    targets = legacy_weights(layer)
    if len(datasets) != len(targets):
        raise ValueError(
            f"{what}: weight count mismatch for layer {layer.name!r}: the layer expects "
            f"{len(targets)} weight(s) ({', '.join(p for p, _ in targets)}). Received "
            f"{len(datasets)} saved weight(s) ({', '.join(names)})."
        )
    restores = []
    for (path, target), name, ds in zip(targets, names, datasets):
        if ds.shape != target.shape:
            msg = (f"{what}: shape mismatch for weight {path} of layer {layer.name!r}: it "
                   f"has shape {target.shape}. Received: shape={ds.shape} (saved as "
                   f"{name!r}).")
            if skip_mismatch:
                warnings.warn(f"Skipping loading weights for layer {layer.name!r}: {msg}",
                              stacklevel=4)
                return
            raise ValueError(msg)
        _warn_if_rounded(ds.dtype, target, f"{what}: {name}")
        restores.append(Restore(ds, f"{what}: {name}", target=target))
    plan.restores += restores


def _plan_weights(model, group, what: str, *, by_name: bool, skip_mismatch: bool) -> Plan:
    saved = _layer_groups(group, what)
    layers = [l for l in keras_layers(model) if legacy_weights(l)]
    plan = Plan()
    if by_name:
        index = {l.name: l for l in layers}
        for lname, names, datasets in saved:
            layer = index.get(lname)
            if layer is None:
                continue
            _plan_layer(plan, layer, names, datasets, what, skip_mismatch)
        return plan
    if len(saved) != len(layers):
        raise ValueError(
            f"{what}: layer count mismatch when loading weights from file. The model has "
            f"{len(layers)} layers with weights ({[l.name for l in layers][:20]}); the file "
            f"has {len(saved)} ({[s[0] for s in saved][:20]})."
        )
    for (_, names, datasets), layer in zip(saved, layers):
        _plan_layer(plan, layer, names, datasets, what, skip_mismatch)
    return plan


def _plan_weights_by_config_names(model, group, what: str) -> Plan:
    """load_model: every layer with weights matched by its (config) name, none left over."""
    saved = {s[0]: s for s in _layer_groups(group, what)}
    plan = Plan()
    layers = [l for l in keras_layers(model) if legacy_weights(l)]
    for layer in layers:
        if layer.name not in saved:
            raise ValueError(f"{what}: the file has no weights for layer {layer.name!r}.")
        _, names, datasets = saved.pop(layer.name)
        _plan_layer(plan, layer, names, datasets, what, False)
    if saved:
        raise ValueError(f"{what} holds weights for layers the model does not have: "
                         f"{sorted(saved)[:20]}")
    return plan


def _plan_optimizer(model, f, what: str) -> Plan:
    group = _group(f, "optimizer_weights", what)
    if group is None or model.optimizer is None:
        return Plan()
    datasets = [_dataset(group, n, what) for n in _load_attr_list(group, "weight_names")]
    layout = optimizer_layout(model)
    if len(datasets) != len(layout.values) or any(
            ds.shape != np.shape(c) for ds, c in zip(datasets, layout.values)):
        warnings.warn(
            f"{what}: error in loading the saved optimizer state ({len(datasets)} variables "
            f"saved, the optimizer has {len(layout.values)}). As a result, your model is "
            "starting with a freshly initialized optimizer.", stacklevel=3)
        return Plan()
    return plan_optimizer_datasets(layout, datasets, what)


def _open(path: str):
    h5py = _h5py()
    check_regular_file(path)
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise FileFormatError(f"{path} is not a readable HDF5 file (truncated or corrupt?): "
                              f"{e}") from None


def _json_attr(f, name: str, path: str):
    """The JSON attribute `name` of the file (None if absent), parsed with the size and
    depth caps of `files.parse_json`."""
    raw = f.attrs.get(name)
    if raw is None:
        return None
    if not isinstance(raw, (str, bytes)):
        raise FileFormatError(f"{path}: the {name} attribute must be JSON text. "
                              f"Received: {type(raw).__name__}")
    return parse_json(raw, f"{path} ({name})")


# ------------------------------------------------------------------------------ public
def load_legacy_model(filepath, custom_objects=None, compile: bool = True):
    """Load a legacy `.h5` full-model file (Keras 2, or Keras 3's legacy writer)."""
    from . import check_version, compile_from_file_config, model_from_file_config

    path = os.fspath(filepath)
    with reading(path), _open(path) as f:
        try:
            check_version(_attr_text(f.attrs.get("keras_version")), path)
            config = _json_attr(f, "model_config", path)
            if config is None:
                raise FileFormatError(
                    f"No model config found in the file at {path} (a weights-only file? "
                    "use model.load_weights)."
                )
            model = model_from_file_config(config, path, custom_objects)
            weights = _group(f, "model_weights", path)
            if weights is None:
                raise FileFormatError(f"{path} has no model_weights group.")
            plan = _plan_weights_by_config_names(model, weights, path)
            training = _json_attr(f, "training_config", path)
            if compile and training is not None:
                if not isinstance(training, dict):
                    raise FileFormatError(f"{path}: the training_config must be a JSON "
                                          f"object. Received: {type(training).__name__}")
                compile_from_file_config(model, training, path, legacy=True)
                plan.restores += _plan_optimizer(model, f, path).restores
            plan.read()
        except (KeyError, OSError, RuntimeError) as e:
            raise FileFormatError(f"{path} is corrupt or truncated: {e}") from None
    plan.apply()
    return model


def load_legacy_weights(model, filepath, by_name: bool = False,
                        skip_mismatch: bool = False) -> None:
    """`model.load_weights("m.h5")` for legacy files (full-model or weights-only)."""
    from . import check_version

    path = os.fspath(filepath)
    with reading(path), _open(path) as f:
        try:
            check_version(_attr_text(f.attrs.get("keras_version")), path)
            group = f
            if "layer_names" not in f.attrs and "model_weights" in f:
                group = _group(f, "model_weights", path)
            if "layer_names" not in group.attrs and "layer_names0" not in group.attrs:
                raise FileFormatError(f"{path} is not a Keras weights file (no layer_names).")
            plan = _plan_weights(model, group, path, by_name=by_name,
                                 skip_mismatch=skip_mismatch)
            plan.read()
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
