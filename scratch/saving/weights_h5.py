"""Keras 3 weight files: `.weights.h5`, and the `model.weights.h5` inside a `.keras` archive.

Layout (what `keras.src.saving.saving_lib` writes, measured with Keras 3.15)::

    vars                          attrs: name=<model name>          (the model's own: none)
    layers/dense/vars/0, /1       attrs: name=<layer name>          kernel, bias
    layers/dense_1/vars/...                                          the 2nd Dense
    layers/lstm/vars              (empty)  layers/lstm/cell/vars/0..2  an RNN's weights: its cell
    layers/sequential/layers/dense/vars/...                          a nested model
    optimizer/vars/0, /1, /2...   iteration (int64), learning_rate, slots in Keras' order

A layer is addressed by the snake_case name of its *class*, numbered in Keras' `model.layers`
order (`keras_order.keras_layers`), never by its own name; inside each group the weights are
numbered in `get_weights()` order (params, then state). Every object gets a `vars` group, even
without weights.

Loading is all or nothing and reads no more than the model needs: `open_store` lists the
file's groups and datasets from its metadata only; `plan_model` and `plan_optimizer` check
every count, shape and number kind against the model from that metadata (a dataset that
declares 10⁶ × 10⁶ values is refused without reading a byte, and groups the model does not
have are never read); only then are the planned datasets read and the optimizer's iteration
count and learning rate validated (`Plan.read`), and only then is anything written
(`Plan.apply`). A bad file leaves the model and its optimizer bitwise untouched. Optimizer
state follows Keras: restored when the optimizer has exactly as many variables as the file,
skipped with a warning otherwise.

The module is over the project's 500 lines because loading is one all-or-nothing plan:
the groups the model expects, the optimizer's layout and the check of every dataset are
parts of that one transaction (`Plan`) and share its types.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .files import atomic_write, check_regular_file, reading
from .keras_order import (
    keras_layers,
    keras_trainable_weights,
    layer_children,
    own_weights,
    weight_paths,
)
from .registry import FileFormatError, unique_keys
from .subclassed_order import is_subclassed, subclassed_entries


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
    """The model's saveables in Keras' traversal order (model, then its layers, recursively;
    a subclassed model's by its attributes, subclassed_order.py)."""
    from ..models import Model

    if is_subclassed(model):
        return subclassed_entries(model, path)

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
    if is_subclassed(layer):
        return subclassed_entries(layer, path)
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
    """The optimizer's variables in Keras' order: names and current values.

    The first one or two are scalars (the iteration count, a float learning rate): a value
    read from a file is validated by `checks[i]` and restored by `setters[i]`. The rest are
    the optimizer's own slot arrays, restored by copying into them (their `checks` and
    `setters` entries are None).
    """

    names: list[str] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    checks: list[Callable[[np.ndarray, str], Any] | None] = field(default_factory=list)
    setters: list[Callable[[Any], None] | None] = field(default_factory=list)

    def add(self, name: str, value: np.ndarray, check=None, setter=None) -> None:
        self.names.append(name)
        self.values.append(value)
        self.checks.append(check)
        self.setters.append(setter)


def _checked_iteration(data: np.ndarray, where: str) -> int:
    """An optimizer's iteration count read from a file: a non-negative integer."""
    if data.dtype.kind not in "iu" or data < 0:
        raise FileFormatError(
            f"{where}: the optimizer's iteration count must be a non-negative integer. "
            f"Received: iteration={data.item()!r} ({data.dtype})"
        )
    return int(data)


def optimizer_layout(model) -> OptimizerLayout:
    """Keras' `optimizer.variables` for the model's optimizer: iteration, learning_rate (for a
    float rate), then the slots as Keras orders them (its slots follow the model's trainable
    weights in Keras' layer order, whatever order scratch built them in)."""
    opt = model.optimizer
    out = OptimizerLayout()
    head = opt.variables[: len(opt.variables) - len(opt._slots) - len(opt._extra_variables)]
    prefix = opt.name

    def set_iterations(value: int) -> None:
        opt.iterations = value

    def checked_learning_rate(data: np.ndarray, where: str) -> float:
        try:
            return opt._checked_lr(data.item())
        except ValueError as e:
            raise FileFormatError(f"{where}: {e}") from None

    def set_learning_rate(value: float) -> None:
        opt.learning_rate = value

    out.add(f"{prefix}/iteration", head[0], _checked_iteration, set_iterations)
    if len(head) > 1:
        out.add(f"{prefix}/learning_rate", head[1], checked_learning_rate, set_learning_rate)
    if not opt.built or not opt._slots:
        return _add_extra_variables(out, opt)
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
        out.add(f"{prefix}/{var_path.replace('/', '_')}_{slot_name}", slot)
    return _add_extra_variables(out, opt)


def _add_extra_variables(out: OptimizerLayout, opt) -> OptimizerLayout:
    """The optimizer variables of no model variable (Nadam's u_product), after the slots."""
    for name, value in zip(opt._extra_names, opt._extra_variables):
        out.add(f"{opt.name}/{name}", value)
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
    """One `vars` group of a weights file: the saved object's name and its datasets.

    The datasets are h5py handles: their shape and dtype come from the file's metadata; their
    data is read only when a load has checked the whole file against the model.
    """

    name: str | None
    datasets: list


def _attr_text(value) -> str | None:
    """An HDF5 attribute as text (h5py gives str, bytes or arrays)."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf8", "replace")
    return str(value)


def plain_dataset(group, key: str, where: str):
    """The dataset `group[key]`, checked from its metadata alone.

    Refuses links (soft or to other files), external and virtual datasets, datasets without
    a shape, and anything but integers and floats (strings, compounds, references, bfloat16).
    """
    h5py = _h5py()
    link = group.get(key, getlink=True)
    if link is None:
        raise FileFormatError(f"{where} is missing.")
    if isinstance(link, (h5py.SoftLink, h5py.ExternalLink)):
        raise FileFormatError(
            f"{where} is a link ({type(link).__name__}); Keras weight files hold plain datasets."
        )
    ds = group[key]
    if not isinstance(ds, h5py.Dataset) or ds.external or ds.is_virtual:
        raise FileFormatError(f"{where} is not a plain dataset.")
    if ds.shape is None or ds.dtype.kind not in "fiu":
        raise FileFormatError(
            f"{where} must hold integers or floats. Received: dtype={ds.dtype}, "
            f"shape={ds.shape}"
        )
    if _attr_text(ds.attrs.get("dtype")) == "bfloat16":
        raise FileFormatError(f"{where} is bfloat16; scratch computes in float32 or float64.")
    return ds


def _vars_groups(f, what: str) -> dict[str, StoredVars]:
    """Every `vars` group of an open Keras weights H5: path -> StoredVars (no data read)."""
    h5py = _h5py()
    names: list[str] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Group) and name.rsplit("/", 1)[-1] == "vars":
            names.append(name)

    f.visititems(visit)
    out: dict[str, StoredVars] = {}
    for name in names:
        group = f[name]
        keys = list(group.keys())
        if sorted(keys, key=lambda k: (len(k), k)) != [str(i) for i in range(len(keys))]:
            raise FileFormatError(
                f"{what}: the group {name!r} must hold datasets named 0, 1, 2, ... "
                f"Received: {sorted(keys)[:10]}"
            )
        datasets = [plain_dataset(group, str(i), f"{what}: {name}/{i}")
                    for i in range(len(keys))]
        path = name[: -len("vars")].rstrip("/")
        out[path] = StoredVars(_attr_text(group.attrs.get("name")), datasets)
    return out


@contextlib.contextmanager
def open_store(source, what: str):
    """Open a Keras weights H5 (a path or a binary file object); yield {path: StoredVars}.

    Only the file's metadata is read here. Loads plan and read inside the `with` block (the
    datasets need the file open).

    Raises:
        FileFormatError: not HDF5, truncated, links to other files, non-numeric keys or
            datasets, unreadable data.
    """
    h5py = _h5py()
    try:
        f = h5py.File(source, "r")
    except (OSError, ValueError) as e:
        raise FileFormatError(f"{what} is not a readable HDF5 weights file: {e}") from None
    with f:
        try:
            store = _vars_groups(f, what)
        except FileFormatError:
            raise
        except (OSError, KeyError, RuntimeError, ValueError) as e:
            raise FileFormatError(f"{what} is corrupt or truncated: {e}") from None
        try:
            yield store
        except (OSError, KeyError, RuntimeError) as e:  # h5py's errors while reading data
            raise FileFormatError(f"{what} is corrupt or truncated: {e}") from None


def _lookup(store: dict[str, StoredVars], path: str) -> StoredVars | None:
    if path in store:
        return store[path]
    if path.startswith("layers"):  # files of Keras 2.13-2.15 (.keras v3 format)
        old = "_layer_checkpoint_dependencies" + path[len("layers"):]
        return store.get(old)
    return None


def weights_file_limit(model) -> int:
    """The most bytes a Keras weights H5 of `model` can reasonably take (the size cap for the
    `model.weights.h5` member of a `.keras` archive).

    Every weight may be stored in float64 (twice a float32 model's bytes) next to up to four
    optimizer slots of its size: 10 bytes of file per byte of weights. HDF5 adds well under
    64 KiB for each group and dataset, and 1 MiB covers the file's own structures.
    """
    entries = model_entries(model)
    weights = [a for entry in entries for a in entry.arrays]
    objects = len(entries) + 5 * len(weights) + 2
    return 2**20 + 64 * 2**10 * objects + 10 * sum(a.nbytes for a in weights)


# ------------------------------------------------------------------------------ assigning
@dataclass
class Restore:
    """One saved value a load will put into the model or its optimizer.

    `dataset`'s shape and dtype were checked from the file's metadata. Its data is either
    copied into `target` (a weight or an optimizer slot, cast to its dtype) or validated by
    `check` and handed to `setter` (the optimizer's iteration count and learning rate).
    """

    dataset: Any
    where: str
    target: np.ndarray | None = None
    check: Callable[[np.ndarray, str], Any] | None = None
    setter: Callable[[Any], None] | None = None


@dataclass
class Plan:
    """Everything a load will change, checked before any of it is read or written.

    `read()` reads every planned dataset (the file must still be open) and validates the
    optimizer's scalars; `apply()` writes the values. A load reads only when the whole file
    fits the model and applies only when everything was read and valid, so a bad file
    changes nothing.
    """

    restores: list[Restore] = field(default_factory=list)
    values: list = field(default_factory=list)

    def read(self) -> None:
        self.values = []
        for r in self.restores:
            data = np.asarray(r.dataset[()])
            if r.target is not None:
                self.values.append(np.asarray(data, dtype=r.target.dtype))
            else:
                self.values.append(r.check(data, r.where))

    def apply(self) -> None:
        if len(self.values) != len(self.restores):
            raise RuntimeError("Plan.apply() needs Plan.read() first.")
        for r, value in zip(self.restores, self.values):
            if r.target is not None:
                r.target[...] = value
            else:
                r.setter(value)


def _warn_if_rounded(dtype: np.dtype, target: np.ndarray, where: str) -> None:
    if dtype.kind == "f" and dtype.itemsize > target.dtype.itemsize:
        warnings.warn(f"{where} is stored in {dtype}; it is rounded to the model's "
                      f"{target.dtype}.", stacklevel=5)


def plan_model(model, store: dict[str, StoredVars], what: str, *,
               skip_mismatch: bool = False) -> Plan:
    """Check `store` against the model's weights (counts and shapes, from the file's
    metadata); return the planned copies (or raise). Nothing is read here."""
    plan = Plan()
    visited: set[str] = set()
    for entry in model_entries(model):
        stored = _lookup(store, entry.path)
        label = f"{type(entry.owner).__name__} {entry.name!r}"
        if stored is not None:
            visited.add(entry.path)
            if entry.path.startswith("layers") and entry.path not in store:
                visited.add("_layer_checkpoint_dependencies" + entry.path[len("layers"):])
        datasets = stored.datasets if stored is not None else []
        if len(datasets) != len(entry.arrays):
            msg = (f"{what}: {label} expected {len(entry.arrays)} variables "
                   f"({', '.join(entry.weight_names) or 'none'}), but received "
                   f"{len(datasets)} variables during loading (file group "
                   f"{_join(entry.path, 'vars')!r}"
                   + (f", saved from {stored.name!r}" if stored and stored.name else "") + ").")
            if skip_mismatch:
                warnings.warn(f"Skipping {label}: {msg}", stacklevel=3)
                continue
            raise ValueError(msg)
        restores = []
        mismatch = None
        for wname, target, ds in zip(entry.weight_names, entry.arrays, datasets):
            if ds.shape != target.shape:
                mismatch = (f"{what}: the weight {entry.name}/{wname} has shape "
                            f"{target.shape}. Received: shape={ds.shape} (file group "
                            f"{_join(entry.path, 'vars')!r})")
                break
            where = f"{what}: {entry.name}/{wname}"
            _warn_if_rounded(ds.dtype, target, where)
            restores.append(Restore(ds, where, target=target))
        if mismatch is not None:
            if skip_mismatch:
                warnings.warn(f"Skipping {label}: {mismatch}", stacklevel=3)
                continue
            raise ValueError(mismatch)
        plan.restores += restores
    extra = [p for p, v in store.items() if v.datasets and p not in visited
             and p.split("/", 1)[0] != "optimizer"]
    if extra and not skip_mismatch:
        raise ValueError(
            f"{what} holds weights for objects the model does not have: "
            + ", ".join(f"{p!r} ({len(store[p].datasets)} arrays, saved from "
                        f"{store[p].name!r})" for p in sorted(extra)[:10])
        )
    return plan


def plan_optimizer(model, stored: StoredVars | None, what: str) -> Plan:
    """Plan the optimizer state's restore as Keras does: only when the variable counts agree
    (else a warning and nothing); shapes must fit. Nothing is read here."""
    plan = Plan()
    opt = getattr(model, "optimizer", None)
    if opt is None or not getattr(model, "compiled", False):
        return plan
    layout = optimizer_layout(model)
    datasets = stored.datasets if stored is not None else []
    if len(datasets) != len(layout.values):
        msg = (f"Skipping variable loading for optimizer '{opt.name}', because it has "
               f"{len(layout.values)} variables whereas the saved optimizer has "
               f"{len(datasets)} variables. ")
        if not opt.built:
            msg += "This is likely because the optimizer has not been called/built yet."
        warnings.warn(msg, stacklevel=3)
        return plan
    return plan_optimizer_datasets(layout, datasets, what)


def plan_optimizer_datasets(layout: OptimizerLayout, datasets: list, what: str) -> Plan:
    """Plan the restore of each optimizer variable from its dataset (as many as variables):
    shapes checked now, the scalars' values when read."""
    plan = Plan()
    for i, (name, ds) in enumerate(zip(layout.names, datasets)):
        current = layout.values[i]
        if ds.shape != np.shape(current):
            raise ValueError(f"{what}: the optimizer variable {name} has shape "
                             f"{np.shape(current)}. Received: shape={ds.shape}")
        where = f"{what}: {name}"
        if layout.checks[i] is None:
            _warn_if_rounded(ds.dtype, current, where)
            plan.restores.append(Restore(ds, where, target=current))
        else:
            plan.restores.append(Restore(ds, where, check=layout.checks[i],
                                         setter=layout.setters[i]))
    return plan


def load_store_into(model, store: dict[str, StoredVars], what: str, *,
                    skip_mismatch: bool = False) -> None:
    """Assign an open weights store to the model and its optimizer, all or nothing: checks
    every count and shape from the metadata, then reads and validates, then writes."""
    plan = plan_model(model, store, what, skip_mismatch=skip_mismatch)
    plan.restores += plan_optimizer(model, store.get("optimizer"), what).restores
    plan.read()
    plan.apply()


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
    if not path.endswith((".keras", ".h5", ".hdf5")):
        raise ValueError(
            f"File format not supported: filepath={path}. scratch reads `.keras` files, "
            "`.weights.h5` files and legacy H5 files (`.h5` extension)."
        )
    if by_name is not None and path.endswith((".keras", ".weights.h5")):
        raise ValueError("`by_name` only supports loading legacy '.h5' or '.hdf5' "
                         f"files. Received: {path}")
    check_regular_file(path)
    with reading(path):
        if path.endswith(".keras"):
            from . import open_archive

            with open_archive(path) as archive, archive.open_weights(model) as store:
                load_store_into(model, store, path, skip_mismatch=skip_mismatch)
        elif path.endswith(".weights.h5"):
            with open_store(path, path) as store:
                load_store_into(model, store, path, skip_mismatch=skip_mismatch)
        else:
            from .legacy_h5 import load_legacy_weights

            load_legacy_weights(model, path, by_name=bool(by_name),
                                skip_mismatch=skip_mismatch)
