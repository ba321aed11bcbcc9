"""Keras 3 weight files: `.weights.h5`, and the `model.weights.h5` inside a `.keras` archive.

Layout (what `keras.src.saving.saving_lib` writes, measured with Keras 3.15)::

    vars                          attrs: name=<model name>          (the model's own: none)
    layers/dense/vars/0, /1       attrs: name=<layer name>          kernel, bias
    layers/dense_1/vars/...                                          the 2nd Dense
    layers/lstm/vars              (empty)  layers/lstm/cell/vars/0..2  an RNN's weights: its cell
    layers/sequential/layers/dense/vars/...                          a nested model
    optimizer/vars/0, /1, /2...   iteration (int64), learning_rate, slots in Keras' order

A layer is addressed by the snake_case name of its *class*, numbered in Keras' `model.layers`
order (`keras_format.keras_layers`), never by its own name; inside each group the weights are
numbered in `get_weights()` order (params, then state). Every object gets a `vars` group, even
without weights.

Loading reads the whole file first, checks every array against the model (count, shape,
float kind) and the model only changes once everything fits, so a bad file leaves the model
bitwise untouched. Optimizer state follows Keras: restored when the optimizer has exactly as
many variables as the file, skipped with a warning otherwise.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .keras_format import (
    FileFormatError,
    keras_layers,
    keras_trainable_weights,
    layer_children,
    own_weights,
    unique_keys,
    weight_paths,
)


# ------------------------------------------------------------------------------ files
@contextlib.contextmanager
def atomic_write(filepath, overwrite: bool = True):
    """Yield a temporary path next to `filepath`; rename it over `filepath` on success.

    A reader (or a crash) never sees a half-written file: the data is written, flushed to
    disk, and only then renamed (`os.replace`, atomic on POSIX and Windows). On error the
    temporary file is removed and `filepath` is left as it was.
    """
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(
            f"{filepath} already exists and overwrite=False. Received: filepath={filepath}"
        )
    if os.path.isdir(filepath):
        raise IsADirectoryError(
            f"Cannot write a model file over a directory. Received: filepath={filepath}"
        )
    directory = os.path.dirname(os.path.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(filepath)}.", suffix=".tmp",
                               dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _h5py():
    import h5py

    return h5py


# ------------------------------------------------------------------------------ what a model saves
@dataclass
class Entry:
    """One saveable object: its path in the file, its name, its weights (live arrays)."""

    path: str
    name: str
    weight_names: list[str]
    arrays: list[np.ndarray]
    owner: Any = None


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def model_entries(model, path: str = "") -> list[Entry]:
    """The model's saveables in Keras' traversal order (model, then its layers, recursively)."""
    from ..models import Model

    entries = [Entry(path, model.name, [], [], model)]
    layers = keras_layers(model)
    for key, layer in zip(unique_keys(layers), layers):
        sub = _join(path, "layers", key)
        if isinstance(layer, Model):
            entries += model_entries(layer, sub)
        else:
            entries += _layer_entries(layer, sub)
    return entries


def _layer_entries(layer, path: str) -> list[Entry]:
    names, arrays = own_weights(layer)
    entries = [Entry(path, layer.name, names, arrays, layer)]
    for attr, child in layer_children(layer):
        entries += _layer_entries(child, _join(path, attr))
    return entries


# ------------------------------------------------------------------------------ optimizer order
def _slot_owners(opt, var_indices: list[int]) -> tuple[list[int], list[str]]:
    """For an optimizer built on the variables `var_indices` (indices into its own built
    list, in that order): which variable each slot belongs to, and the slot's short name.

    A throw-away optimizer of the same class and config is built on tiny stand-ins named
    by token; its slot names ("<token>_<slot>") reveal the creation order of the slots,
    which is what Keras' `optimizer.variables` order is.
    """
    built = opt._trainable_variables
    probe = type(opt).from_config(opt.get_config())
    dummies = [np.zeros((1,), dtype=built[i].dtype) for i in var_indices]
    probe.build(dummies, var_names=[f"__v{i}__" for i in var_indices])
    owners, short = [], []
    for name in probe._slot_names:
        m = re.match(r"__v(\d+)__(?:_(.*))?$", name)
        if m is None:
            raise RuntimeError(f"Unexpected optimizer slot name {name!r}")
        owners.append(int(m.group(1)))
        short.append(m.group(2) or "slot")
    return owners, short


@dataclass
class OptimizerLayout:
    """The optimizer's variables in Keras' order: names, current values, and writers."""

    names: list[str] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    setters: list[Callable[[np.ndarray], None]] = field(default_factory=list)


def optimizer_layout(model) -> OptimizerLayout:
    """Keras' `optimizer.variables` for the model's optimizer: iteration, learning_rate (for a
    float rate), then the slots as Keras orders them (its slots follow the model's trainable
    weights in Keras' layer order, whatever order scratch built them in)."""
    opt = model.optimizer
    out = OptimizerLayout()
    head = opt.variables[: len(opt.variables) - len(opt._slots)]
    prefix = opt.name

    def set_iterations(v):
        opt.iterations = int(np.asarray(v))

    def set_lr(v):
        opt.learning_rate = float(np.asarray(v))

    out.names.append(f"{prefix}/iteration")
    out.values.append(head[0])
    out.setters.append(set_iterations)
    if len(head) > 1:
        out.names.append(f"{prefix}/learning_rate")
        out.values.append(head[1])
        out.setters.append(set_lr)
    if not opt.built or not opt._slots:
        return out
    built = opt._trainable_variables
    position = {id(v): i for i, v in enumerate(built)}
    keras_order = [position[id(w)] for w in keras_trainable_weights(model) if id(w) in position]
    seen = set(keras_order)
    keras_order += [i for i in range(len(built)) if i not in seen]
    real_owners, _ = _slot_owners(opt, list(range(len(built))))
    keras_owners, short = _slot_owners(opt, keras_order)
    by_owner: dict[int, list[int]] = {}
    for slot_index, owner in enumerate(real_owners):
        by_owner.setdefault(owner, []).append(slot_index)
    taken: dict[int, int] = {}
    paths = weight_paths(model, "")
    for owner, slot_name in zip(keras_owners, short):
        k = taken.get(owner, 0)
        taken[owner] = k + 1
        slot = opt._slots[by_owner[owner][k]]
        var_path = paths.get(id(built[owner]), f"variable_{owner}")
        var_path = var_path.split("/", 1)[1] if "/" in var_path else var_path
        out.names.append(f"{prefix}/{var_path.replace('/', '_')}_{slot_name}")
        out.values.append(slot)
        out.setters.append(lambda v, slot=slot: slot.__setitem__(Ellipsis, v))
    return out


def build_optimizer_like_keras(model) -> None:
    """Create the optimizer's slots for the model's trainable weights in Keras' order (what
    `compile_from_config` does in Keras when loading a model)."""
    opt = model.optimizer
    if opt is not None and not opt.built:
        weights = keras_trainable_weights(model)
        if weights:
            opt.build(weights)


# ------------------------------------------------------------------------------ writing
def model_store(model, include_optimizer: bool = True) -> list[tuple[str, str, list]]:
    """(path, name, arrays) for every group the file gets, in Keras' order."""
    out = [(e.path, e.name, list(e.arrays)) for e in model_entries(model)]
    if include_optimizer and getattr(model, "optimizer", None) is not None:
        layout = optimizer_layout(model)
        out.append(("optimizer", model.optimizer.name, layout.values))
    return out


def write_store(h5file, store) -> None:
    """Write (path, name, arrays) groups into an open h5py File (Keras' H5IOStore layout)."""
    for path, name, arrays in store:
        group = h5file.create_group(_join(path, "vars"))
        group.attrs["name"] = name
        for i, a in enumerate(arrays):
            group[str(i)] = np.asarray(a)


def write_weights_file(model, target, include_optimizer: bool = True) -> None:
    """Write the Keras 3 weights H5 of `model` to a path or a binary file object."""
    h5py = _h5py()
    with h5py.File(target, "w") as f:
        write_store(f, model_store(model, include_optimizer))


# ------------------------------------------------------------------------------ reading
@dataclass
class StoredVars:
    name: str | None
    arrays: list[np.ndarray]


def read_store(source, what: str) -> dict[str, StoredVars]:
    """Every `vars` group of a Keras weights H5 (a path or a file object): path -> arrays.

    Raises `FileFormatError` for anything that is not such a file: not HDF5, truncated,
    links to other files, non-numeric keys, unreadable data.
    """
    h5py = _h5py()
    try:
        f = h5py.File(source, "r")
    except (OSError, ValueError) as e:
        raise FileFormatError(f"{what} is not a readable HDF5 weights file: {e}") from None
    out: dict[str, StoredVars] = {}
    try:
        groups: list[str] = []

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and name.rsplit("/", 1)[-1] == "vars":
                groups.append(name)

        f.visititems(visit)
        if "vars" in f and isinstance(f["vars"], h5py.Group):
            groups.append("vars")
        for name in dict.fromkeys(groups):
            group = f[name]
            path = name[: -len("vars")].rstrip("/")
            keys = list(group.keys())
            if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
                raise FileFormatError(
                    f"{what}: the group {name!r} must hold datasets named 0, 1, 2, ... "
                    f"Received: {sorted(keys)}"
                )
            arrays = []
            for i in range(len(keys)):
                link = group.get(str(i), getlink=True)
                if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
                    raise FileFormatError(
                        f"{what}: {name}/{i} is a link ({type(link).__name__}); Keras weight "
                        "files hold plain datasets."
                    )
                ds = group[str(i)]
                if not isinstance(ds, h5py.Dataset) or ds.external or ds.is_virtual:
                    raise FileFormatError(f"{what}: {name}/{i} is not a plain dataset.")
                if ds.attrs.get("dtype") == "bfloat16":
                    raise FileFormatError(f"{what}: {name}/{i} is bfloat16; scratch computes "
                                          "in float32 or float64.")
                arrays.append(np.array(ds[()]))
            label = group.attrs.get("name")
            if isinstance(label, bytes):
                label = label.decode("utf8")
            out[path] = StoredVars(None if label is None else str(label), arrays)
    except FileFormatError:
        raise
    except (OSError, KeyError, ValueError, RuntimeError) as e:
        raise FileFormatError(f"{what} is corrupt or truncated: {e}") from None
    finally:
        with contextlib.suppress(Exception):
            f.close()
    return out


def _lookup(store: dict[str, StoredVars], path: str) -> StoredVars | None:
    if path in store:
        return store[path]
    if path.startswith("layers"):  # files of Keras 2.13-2.15 (.keras v3 format)
        old = "_layer_checkpoint_dependencies" + path[len("layers"):]
        return store.get(old)
    return None


# ------------------------------------------------------------------------------ assigning
def _cast(value: np.ndarray, target: np.ndarray, where: str) -> np.ndarray:
    value = np.asarray(value)
    if target.dtype.kind == "f" and value.dtype.kind not in "fiu":
        raise FileFormatError(f"{where} holds {value.dtype} data; a float weight was expected.")
    if target.dtype.kind == "f" and value.dtype.kind == "f" and \
            value.dtype.itemsize > target.dtype.itemsize:
        warnings.warn(f"{where} is stored in {value.dtype}; it is rounded to the model's "
                      f"{target.dtype}.", stacklevel=4)
    return np.asarray(value, dtype=target.dtype)


@dataclass
class Plan:
    """Validated assignments: applied only after the whole file was checked."""

    copies: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    calls: list[tuple[Callable, np.ndarray]] = field(default_factory=list)

    def apply(self) -> None:
        for target, value in self.copies:
            target[...] = value
        for setter, value in self.calls:
            setter(value)


def plan_model(model, store: dict[str, StoredVars], what: str, *,
               skip_mismatch: bool = False) -> Plan:
    """Check `store` against the model's weights; return the assignments (or raise)."""
    plan = Plan()
    visited: set[str] = set()
    for entry in model_entries(model):
        stored = _lookup(store, entry.path)
        label = f"{type(entry.owner).__name__} {entry.name!r}"
        if stored is not None:
            visited.add(entry.path)
            if entry.path.startswith("layers") and entry.path not in store:
                visited.add("_layer_checkpoint_dependencies" + entry.path[len("layers"):])
        values = stored.arrays if stored is not None else []
        if len(values) != len(entry.arrays):
            msg = (f"{what}: {label} expected {len(entry.arrays)} variables "
                   f"({', '.join(entry.weight_names) or 'none'}), but received {len(values)} "
                   f"variables during loading (file group {_join(entry.path, 'vars')!r}"
                   + (f", saved from {stored.name!r}" if stored and stored.name else "") + ").")
            if skip_mismatch:
                warnings.warn(f"Skipping {label}: {msg}", stacklevel=3)
                continue
            raise ValueError(msg)
        pairs = []
        mismatch = None
        for wname, target, value in zip(entry.weight_names, entry.arrays, values):
            if np.shape(value) != target.shape:
                mismatch = (f"{what}: the weight {entry.name}/{wname} has shape "
                            f"{target.shape}. Received: shape={np.shape(value)} (file group "
                            f"{_join(entry.path, 'vars')!r})")
                break
            pairs.append((target, _cast(value, target, f"{what}: {entry.name}/{wname}")))
        if mismatch is not None:
            if skip_mismatch:
                warnings.warn(f"Skipping {label}: {mismatch}", stacklevel=3)
                continue
            raise ValueError(mismatch)
        plan.copies += pairs
    extra = [p for p, v in store.items() if v.arrays and p not in visited
             and p.split("/", 1)[0] != "optimizer"]
    if extra and not skip_mismatch:
        raise ValueError(
            f"{what} holds weights for objects the model does not have: "
            + ", ".join(f"{p!r} ({len(store[p].arrays)} arrays, saved from "
                        f"{store[p].name!r})" for p in sorted(extra))
        )
    return plan


def plan_optimizer(model, stored: StoredVars | None, what: str) -> Plan:
    """Restore the optimizer state as Keras does: only when the variable counts agree."""
    plan = Plan()
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(model, "compiled", False):
        return plan
    layout = optimizer_layout(model)
    values = stored.arrays if stored is not None else []
    if len(values) != len(layout.values):
        msg = (f"Skipping variable loading for optimizer '{opt.name}', because it has "
               f"{len(layout.values)} variables whereas the saved optimizer has "
               f"{len(values)} variables. ")
        if not opt.built:
            msg += "This is likely because the optimizer has not been called/built yet."
        warnings.warn(msg, stacklevel=3)
        return plan
    for name, current, value, setter in zip(layout.names, layout.values, values,
                                            layout.setters):
        if np.shape(value) != np.shape(current):
            raise ValueError(f"{what}: the optimizer variable {name} has shape "
                             f"{np.shape(current)}. Received: shape={np.shape(value)}")
        if np.shape(current) == ():
            value = np.asarray(value)
            if value.dtype.kind not in "fiu":
                raise FileFormatError(f"{what}: {name} is not a number.")
            plan.calls.append((setter, value))
        else:
            plan.calls.append((setter, _cast(value, current, f"{what}: {name}")))
    return plan


def load_store_into(model, store: dict[str, StoredVars], what: str, *,
                    skip_mismatch: bool = False) -> None:
    """Assign a weights store to the model (and its optimizer); all-or-nothing."""
    plan = plan_model(model, store, what, skip_mismatch=skip_mismatch)
    opt_plan = plan_optimizer(model, store.get("optimizer"), what)
    plan.apply()
    opt_plan.apply()


# ------------------------------------------------------------------------------ public
def save_weights(model, filepath, overwrite: bool = True, **kwargs) -> None:
    """`model.save_weights("m.weights.h5")`: the Keras 3 weights file (optimizer included)."""
    if kwargs.get("max_shard_size") is not None:
        raise ValueError("scratch does not write sharded weights. Received: max_shard_size="
                         f"{kwargs['max_shard_size']!r}")
    kwargs.pop("max_shard_size", None)
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    path = os.fspath(filepath)
    if not path.endswith(".weights.h5"):
        raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
    if not model.built:
        raise ValueError(
            "You are saving a model that has not yet been built. Try building the model "
            "first by calling it on some data or by using `build()`."
        )
    with atomic_write(path, overwrite) as tmp:
        write_weights_file(model, tmp)


def load_weights(model, filepath, skip_mismatch: bool = False, **kwargs) -> None:
    """`model.load_weights(path)` for `.weights.h5`, `.keras` and legacy `.h5` files.

    The model is unchanged if the file does not fit it (a ValueError says what differs).
    """
    path = os.fspath(filepath)
    by_name = kwargs.pop("by_name", None)
    if kwargs.pop("objects_to_skip", None) is not None:
        raise ValueError("scratch does not support `objects_to_skip`.")
    if kwargs:
        raise ValueError(f"Invalid keyword arguments: {kwargs}")
    if not model.built:
        raise ValueError(
            "You are loading weights into a model that has not yet been built. Try building "
            "the model first by calling it on some data or by using `build()`."
        )
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    if path.endswith(".keras"):
        if by_name is not None:
            raise ValueError("`by_name` only supports loading legacy '.h5' or '.hdf5' "
                             f"files. Received: {path}")
        from . import read_archive

        archive = read_archive(path)
        load_store_into(model, archive.store, path, skip_mismatch=skip_mismatch)
    elif path.endswith(".weights.h5"):
        if by_name is not None:
            raise ValueError("`by_name` only supports loading legacy '.h5' or '.hdf5' "
                             f"files. Received: {path}")
        load_store_into(model, read_store(path, path), path, skip_mismatch=skip_mismatch)
    elif path.endswith((".h5", ".hdf5")):
        from .legacy_h5 import load_legacy_weights

        load_legacy_weights(model, path, by_name=bool(by_name), skip_mismatch=skip_mismatch)
    else:
        raise ValueError(
            f"File format not supported: filepath={path}. scratch reads `.keras` files, "
            "`.weights.h5` files and legacy H5 files (`.h5` extension)."
        )
