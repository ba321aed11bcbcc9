"""Hostile and corrupt model files, and saves that are killed: the catalogue of issue 19.

Every file here is generated in a temporary folder and kept small. Each bad file goes through
the entry points that read it (`load_model`, `model.load_weights`, `python -m scratch inspect`
and `parity`) and must be refused with the expected error, a ValueError subclass whose message
names the file (`FileFormatError` for a malformed file, `UnsupportedError` for something scratch
lacks, a plain ValueError for weights that do not fit the model); `load_weights` must leave
the target model and its optimizer bitwise unchanged; the command line must print one line
and exit 1. Then: special files (FIFOs, devices), memory bounded by what the model needs,
graphs thousands of layers long, the permissions of saved files, stale temporary files, and a
save killed 20 times with SIGKILL.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
import tracemalloc
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pytest

import scratch
from scratch.__main__ import main
from scratch.models import Model, Sequential, load_model
from scratch.saving import FileFormatError, UnsupportedError
from scratch.saving.files import MAX_JSON_DEPTH, STALE_SECONDS
from scratch.saving.keras_format import keras_layers
from scratch.saving.weights_h5 import optimizer_layout

ROOT = Path(__file__).resolve().parents[1]
LOAD_MODEL, LOAD_WEIGHTS, INSPECT, PARITY = "load_model", "load_weights", "inspect", "parity"
EVERY_ENTRY = (LOAD_MODEL, LOAD_WEIGHTS, INSPECT, PARITY)
# What reads a model's config (load_weights reads only the weights).
CONFIG_READERS = (LOAD_MODEL, INSPECT, PARITY)
# What reads a legacy file's training_config (parity loads with compile=False).
COMPILE_READERS = (LOAD_MODEL, INSPECT)


# ------------------------------------------------------------------------------ models
def _sequential(seed: int):
    """A trained Sequential with a BatchNormalization and Adam state."""
    scratch.utils.set_random_seed(seed)
    L = scratch.layers
    model = Sequential([scratch.Input(shape=(3,)), L.Dense(4, activation="relu", name="hidden"),
                        L.BatchNormalization(name="bn"),
                        L.Dense(2, activation="softmax", name="out")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    model.fit(rng.standard_normal((16, 3)).astype("float32"), rng.integers(0, 2, 16),
              epochs=1, batch_size=8, verbose=0)
    return model


def _functional():
    """Two inputs, an LSTM, a Concatenate: a graph whose config has node references."""
    scratch.utils.set_random_seed(3)
    L = scratch.layers
    seq = scratch.Input(shape=(5, 2), name="seq_in")
    vec = scratch.Input(shape=(3,), name="vec_in")
    joined = L.Concatenate(name="join")([L.LSTM(3, name="memory")(seq), vec])
    model = Model([seq, vec], L.Dense(2, activation="softmax", name="out")(joined))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> dict[str, str]:
    """The good files every hostile file is made from."""
    folder = tmp_path_factory.mktemp("base")
    paths = {name: str(folder / name) for name in
             ("m.keras", "m.weights.h5", "m.h5", "f.keras")}
    source = _sequential(0)
    source.save(paths["m.keras"])
    source.save_weights(paths["m.weights.h5"])
    source.save(paths["m.h5"])
    _functional().save(paths["f.keras"])
    return paths


def _state(model) -> list[np.ndarray]:
    """Everything a load may change: weights, optimizer variables (iteration and learning
    rate included)."""
    return [w.copy() for w in model.weights] + \
        [np.array(v, copy=True) for v in optimizer_layout(model).values]


def _assert_unchanged(model, before: list[np.ndarray]) -> None:
    after = _state(model)
    assert len(after) == len(before), "state changed on error: variables added or removed"
    for a, b in zip(after, before):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), \
            "state changed on error: the failed load wrote into the model or its optimizer"


# ------------------------------------------------------------------------------ file edits
def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_zip(path, members: dict[str, bytes], compression=zipfile.ZIP_STORED) -> None:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _edit_h5_bytes(data: bytes, edit) -> bytes:
    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        edit(f)
    return buf.getvalue()


def replace_member(name: str, data: bytes | None):
    """An archive edit: set (or, with None, remove) one member."""
    def edit(src, dst):
        members = _members(src)
        if data is None:
            del members[name]
        else:
            members[name] = data
        _write_zip(dst, members)
    return edit


def edit_config(change: Callable[[dict], dict | None]):
    """An archive edit of config.json: `change` edits the dict in place or returns a new one."""
    def edit(src, dst):
        members = _members(src)
        config = json.loads(members["config.json"])
        new = change(config)
        members["config.json"] = json.dumps(config if new is None else new).encode()
        _write_zip(dst, members)
    return edit


def edit_h5(change: Callable[[h5py.File], None]):
    """An edit of an HDF5 file (`.weights.h5`, legacy `.h5`) or of an archive's weights."""
    def edit(src, dst):
        if str(src).endswith(".keras"):
            members = _members(src)
            members["model.weights.h5"] = _edit_h5_bytes(members["model.weights.h5"], change)
            _write_zip(dst, members)
        else:
            Path(dst).write_bytes(_edit_h5_bytes(Path(src).read_bytes(), change))
    return edit


def raw_bytes(data: bytes):
    def edit(src, dst):
        Path(dst).write_bytes(data)
    return edit


def truncated(fraction: float):
    def edit(src, dst):
        data = Path(src).read_bytes()
        Path(dst).write_bytes(data[: int(len(data) * fraction)])
    return edit


def _flip_inside_weights_member(src, dst):
    data = bytearray(Path(src).read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo("model.weights.h5")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle: middle + 64] = bytes(b ^ 0xFF for b in data[middle: middle + 64])
    Path(dst).write_bytes(bytes(data))


def _padded_member(name: str, size: int):
    """An archive edit: `name` padded with whitespace (config.json) or zeros to `size` bytes,
    deflated, so that a small file declares a large member."""
    def edit(src, dst):
        members = _members(src)
        pad = b" " if name.endswith(".json") else b"\0"
        members[name] = members[name] + pad * (size - len(members[name]))
        _write_zip(dst, members, compression=zipfile.ZIP_DEFLATED)
    return edit


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- config edits
def _layers(config) -> list:
    return config["config"]["layers"]


def _entry(config, name: str) -> dict:
    return [e for e in _layers(config) if e.get("name", e["config"].get("name")) == name][0]


def _first_tensor(config, name: str) -> dict:
    """The first __keras_tensor__ in the first call of layer `name`."""
    arg = _entry(config, name)["inbound_nodes"][0]["args"][0]
    return arg[0] if isinstance(arg, list) else arg


def _set(path: list, value):
    """A config change that sets config[path[0]][path[1]]... = value."""
    def change(config):
        target = config
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _set_in(locate: Callable[[dict], dict], key, value):
    def change(config):
        locate(config)[key] = value
    return change


def _history(value):
    return _set_in(lambda c: _first_tensor(c, "out")["config"], "keras_history", value)


# -- weights edits
def _replace_dataset(path: str, **create):
    def change(f):
        del f[path]
        f.create_dataset(path, **create)
    return change


def _set_value(path: str, value):
    def change(f):
        f[path][()] = value
    return change


def _add_group(path: str, **create):
    def change(f):
        group = f.create_group(path)
        group.attrs["name"] = "ghost"
        group.create_dataset("0", **create)
    return change


def _gzip_bomb(path: str):
    """A 64 MiB float32 dataset in a few KiB: gzip chunks of ones (one written, the others
    the fill value)."""
    def change(f):
        del f[path]
        ds = f.create_dataset(path, shape=(4096, 4096), dtype="float32", chunks=(512, 512),
                              compression="gzip", compression_opts=9, fillvalue=1.0)
        ds[:512, :512] = np.ones((512, 512), "float32")
    return change


def _link(path: str, link):
    def change(f):
        del f[path]
        f[path] = link
    return change


def _bfloat16_marker(path: str):
    def change(f):
        f[path].attrs["dtype"] = "bfloat16"
    return change


HUGE = {"shape": (10**6, 10**6), "dtype": "float32"}  # 3.6 TiB declared, nothing stored


# -- legacy edits
def _set_attr(name: str, value):
    def change(f):
        f.attrs[name] = value
    return change


def _del_attr(name: str):
    def change(f):
        del f.attrs[name]
    return change


def _edit_json_attr(name: str, change_json):
    def change(f):
        config = json.loads(f.attrs[name])
        new = change_json(config)
        f.attrs[name] = json.dumps(config if new is None else new)
    return change


def _legacy_weight(f, layer: str, index: int = 0) -> str:
    group = f["model_weights"][layer]
    names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
    return f"model_weights/{layer}/{names[index]}"


def _legacy_replace(layer: str, **create):
    def change(f):
        path = _legacy_weight(f, layer)
        del f[path]
        f.create_dataset(path, **create)
    return change


def _legacy_optimizer_value(suffix: str, value):
    def change(f):
        group = f["optimizer_weights"]
        names = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]]
        path = [n for n in names if n.endswith(suffix)][0]
        del group[path]
        group.create_dataset(path, data=value)
    return change


# ------------------------------------------------------------------------------ the catalogue
@dataclass
class Case:
    """One hostile file: made from `source` by `edit`, refused by `entries` with `error`."""

    id: str
    source: str
    edit: Callable
    error: type
    entries: tuple[str, ...] = EVERY_ENTRY

    @property
    def filename(self) -> str:
        return "bad" + self.source[self.source.index("."):]


ARCHIVE = [
    Case("empty-file", "m.keras", raw_bytes(b""), FileFormatError),
    Case("text-file", "m.keras", raw_bytes(b"just text"), FileFormatError),
    Case("truncated-half", "m.keras", truncated(0.5), FileFormatError),
    Case("truncated-tail", "m.keras", truncated(0.98), FileFormatError),
    Case("zip-without-config", "m.keras", replace_member("config.json", None), FileFormatError),
    Case("config-not-json", "m.keras", replace_member("config.json", b"{nope"), FileFormatError),
    Case("config-not-utf8", "m.keras", replace_member("config.json", b"\xff\xfe\xff"),
         FileFormatError),
    Case("config-a-list", "m.keras", replace_member("config.json", b"[1, 2]"), FileFormatError),
    Case("config-nested-100000", "m.keras",
         replace_member("config.json", _nested(100_000).encode()), FileFormatError),
    Case("config-nested-too-deep", "m.keras",
         edit_config(_set(["config", "deep"], json.loads(_nested(MAX_JSON_DEPTH + 5)))),
         FileFormatError),
    Case("config-too-large", "m.keras", _padded_member("config.json", 17 * 2**20),
         FileFormatError),
    Case("metadata-not-object", "m.keras", replace_member("metadata.json", b"5"),
         FileFormatError),
    Case("metadata-version-garbage", "m.keras",
         replace_member("metadata.json", b'{"keras_version": "x.y"}'), FileFormatError),
    Case("metadata-newer-version", "m.keras",
         replace_member("metadata.json", b'{"keras_version": "4.0.0"}'), FileFormatError),
    Case("weights-member-missing", "m.keras", replace_member("model.weights.h5", None),
         FileFormatError),
    Case("weights-member-not-hdf5", "m.keras",
         replace_member("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 200),
         FileFormatError),
    Case("weights-member-too-large", "m.keras", _padded_member("model.weights.h5", 64 * 2**20),
         FileFormatError),
    Case("weights-member-crc-mismatch", "m.keras", _flip_inside_weights_member,
         FileFormatError),
]

CONFIG = [
    Case("model-config-5", "m.keras",
         edit_config(lambda c: {"class_name": "Sequential", "config": 5}), FileFormatError,
         CONFIG_READERS),
    Case("model-config-missing", "m.keras", edit_config(lambda c: {"class_name": "Sequential"}),
         FileFormatError, CONFIG_READERS),
    Case("model-class-name-int", "m.keras", edit_config(_set(["class_name"], 5)),
         FileFormatError, CONFIG_READERS),
    Case("layers-given-as-ints", "m.keras", edit_config(_set(["config", "layers"], [1, 2])),
         FileFormatError, CONFIG_READERS),
    Case("layers-not-a-list", "m.keras", edit_config(_set(["config", "layers"], "dense")),
         FileFormatError, CONFIG_READERS),
    Case("layer-class-name-int", "m.keras",
         edit_config(_set(["config", "layers", 1, "class_name"], 7)), FileFormatError,
         CONFIG_READERS),
    Case("layer-config-a-list", "m.keras",
         edit_config(_set(["config", "layers", 1, "config"], [1])), FileFormatError,
         CONFIG_READERS),
    Case("layer-name-int", "m.keras",
         edit_config(_set(["config", "layers", 1, "config", "name"], 5)), FileFormatError,
         CONFIG_READERS),
    Case("layer-trainable-string", "m.keras",
         edit_config(_set(["config", "layers", 1, "config", "trainable"], "yes")),
         FileFormatError, CONFIG_READERS),
    Case("input-batch-shape-string", "m.keras",
         edit_config(_set(["config", "layers", 0, "config", "batch_shape"], "3")),
         FileFormatError, CONFIG_READERS),
    Case("input-batch-shape-negative", "m.keras",
         edit_config(_set(["config", "layers", 0, "config", "batch_shape"], [None, -3])),
         FileFormatError, CONFIG_READERS),
    Case("dtype-policy-garbage", "m.keras",
         edit_config(_set(["config", "layers", 1, "config", "dtype"],
                          {"class_name": "DTypePolicy", "config": 5})),
         FileFormatError, CONFIG_READERS),
    Case("initializer-config-garbage", "m.keras",
         edit_config(_set(["config", "layers", 1, "config", "kernel_initializer", "config"],
                          "x")), FileFormatError, CONFIG_READERS),
    Case("build-input-shape-garbage", "m.keras",
         edit_config(_set(["config", "build_input_shape"], {"a": 1})), FileFormatError,
         CONFIG_READERS),
    Case("compile-config-int", "m.keras", edit_config(_set(["compile_config"], 5)),
         FileFormatError, CONFIG_READERS),
    Case("optimizer-class-name-int", "m.keras",
         edit_config(_set(["compile_config", "optimizer", "class_name"], 5)), FileFormatError,
         (LOAD_MODEL, INSPECT)),
    Case("loss-given-as-int", "m.keras", edit_config(_set(["compile_config", "loss"], 5)),
         FileFormatError, (LOAD_MODEL, INSPECT)),
    Case("learning-rate-overflows-float32", "m.keras",
         edit_config(_set(["compile_config", "optimizer", "config", "learning_rate"], 1e300)),
         UnsupportedError, (LOAD_MODEL, INSPECT)),
    Case("unknown-layer-class", "m.keras",
         edit_config(_set(["config", "layers", 2, "class_name"], "GroupNormalization")),
         UnsupportedError, CONFIG_READERS),
]

GRAPH = [
    Case("keras-tensor-without-history", "f.keras",
         edit_config(_set_in(lambda c: _first_tensor(c, "out"), "config", {"shape": [None]})),
         FileFormatError, CONFIG_READERS),
    Case("history-not-a-list", "f.keras", edit_config(_history("join")), FileFormatError,
         CONFIG_READERS),
    Case("history-too-short", "f.keras", edit_config(_history(["join", 0])), FileFormatError,
         CONFIG_READERS),
    Case("history-output-index-out-of-range", "f.keras", edit_config(_history(["join", 0, 5])),
         FileFormatError, CONFIG_READERS),
    Case("history-negative-call-index", "f.keras", edit_config(_history(["join", -1, 0])),
         FileFormatError, CONFIG_READERS),
    Case("history-string-index", "f.keras", edit_config(_history(["join", "0", 0])),
         FileFormatError, CONFIG_READERS),
    Case("history-unknown-layer", "f.keras", edit_config(_history(["nowhere", 0, 0])),
         FileFormatError, CONFIG_READERS),
    Case("history-never-called", "f.keras", edit_config(_history(["join", 3, 0])),
         FileFormatError, CONFIG_READERS),
    Case("inbound-nodes-int", "f.keras",
         edit_config(_set_in(lambda c: _entry(c, "out"), "inbound_nodes", 5)),
         FileFormatError, CONFIG_READERS),
    Case("node-args-a-dict", "f.keras",
         edit_config(_set_in(lambda c: _entry(c, "out")["inbound_nodes"][0], "args", {})),
         FileFormatError, CONFIG_READERS),
    Case("node-kwargs-a-list", "f.keras",
         edit_config(_set_in(lambda c: _entry(c, "out")["inbound_nodes"][0], "kwargs", [])),
         FileFormatError, CONFIG_READERS),
    Case("functional-layer-without-name", "f.keras",
         edit_config(_set_in(lambda c: _entry(c, "out"), "name", None)), FileFormatError,
         CONFIG_READERS),
    Case("layer-name-used-twice", "f.keras",
         edit_config(_set_in(lambda c: _entry(c, "join"), "name", "memory")), FileFormatError,
         CONFIG_READERS),
    Case("output-layers-garbage", "f.keras", edit_config(_set(["config", "output_layers"], 5)),
         FileFormatError, CONFIG_READERS),
    Case("input-layers-unknown", "f.keras",
         edit_config(_set(["config", "input_layers"], [["ghost", 0, 0]])), FileFormatError,
         CONFIG_READERS),
]


def _weight_cases(source: str) -> list[Case]:
    """Edits of a Keras 3 weights H5, in a `.weights.h5` file or inside a `.keras` archive.

    A `.weights.h5` that is well-formed but does not fit the model is refused by
    load_weights only (inspect lists it); a `.keras` one by every entry point.
    """
    archive = source.endswith(".keras")
    mismatch = EVERY_ENTRY if archive else (LOAD_WEIGHTS,)
    malformed = EVERY_ENTRY if archive else (LOAD_WEIGHTS, INSPECT)
    optimizer = (LOAD_MODEL, LOAD_WEIGHTS, INSPECT) if archive else (LOAD_WEIGHTS,)
    kernel = "layers/dense_1/vars/0"
    cases = [
        ("missing-weight", lambda f: f.__delitem__("layers/dense_1/vars/1"), ValueError,
         mismatch),
        ("extra-weight", lambda f: f["layers/dense/vars"].create_dataset("2", data=[1.0]),
         ValueError, mismatch),
        ("transposed-kernel", _replace_dataset(kernel, data=np.zeros((2, 4), "float32")),
         ValueError, mismatch),
        ("group-the-model-lacks", _add_group("layers/dense_7/vars", data=np.zeros(2)),
         ValueError, mismatch),
        ("huge-declared-weight", _replace_dataset(kernel, **HUGE), ValueError, mismatch),
        ("huge-declared-extra-group", _add_group("layers/dense_9/vars", **HUGE), ValueError,
         mismatch),
        ("gzip-bomb-weight", _gzip_bomb(kernel), ValueError, mismatch),
        ("non-numeric-keys", lambda f: f["layers/dense/vars"].create_dataset("x", data=[1.0]),
         FileFormatError, malformed),
        ("string-weight", _replace_dataset(kernel, data=np.array([b"ab"] * 8).reshape(4, 2)),
         FileFormatError, malformed),
        ("compound-weight", _replace_dataset(
            kernel, data=np.zeros((4, 2), dtype=[("a", "f4"), ("b", "i4")])),
         FileFormatError, malformed),
        ("null-dataspace", _replace_dataset(kernel, data=h5py.Empty("f4")), FileFormatError,
         malformed),
        ("external-link", _link(kernel, h5py.ExternalLink("/etc/passwd", "/x")),
         FileFormatError, malformed),
        ("soft-link", _link(kernel, h5py.SoftLink("/layers/dense/vars/0")), FileFormatError,
         malformed),
        ("bfloat16-marker", _bfloat16_marker(kernel), FileFormatError, malformed),
        ("learning-rate-nan", _set_value("optimizer/vars/1", np.nan), FileFormatError,
         optimizer),
        ("learning-rate-negative", _set_value("optimizer/vars/1", -0.5), FileFormatError,
         optimizer),
        ("learning-rate-beyond-float32", _replace_dataset("optimizer/vars/1",
                                                          data=np.float64(1e39)),
         FileFormatError, optimizer),
        ("iterations-negative", _set_value("optimizer/vars/0", -1), FileFormatError, optimizer),
        ("iterations-a-float", _replace_dataset("optimizer/vars/0", data=2.5), FileFormatError,
         optimizer),
        ("optimizer-slot-misshapen", _replace_dataset("optimizer/vars/2",
                                                      data=np.zeros(12, "float32")),
         ValueError, optimizer),
    ]
    prefix = "keras-weights-" if archive else ""
    return [Case(prefix + name, source, edit_h5(edit), error, entries)
            for name, edit, error, entries in cases]


LEGACY = [
    Case("legacy-truncated", "m.h5", truncated(0.5), FileFormatError),
    Case("legacy-text-file", "m.h5", raw_bytes(b"not hdf5"), FileFormatError),
    Case("legacy-newer-version", "m.h5", edit_h5(_set_attr("keras_version", "4.1")),
         FileFormatError),
    Case("legacy-no-model-config", "m.h5", edit_h5(_del_attr("model_config")),
         FileFormatError, CONFIG_READERS),
    Case("legacy-model-config-not-json", "m.h5",
         edit_h5(_set_attr("model_config", "{nope")), FileFormatError, CONFIG_READERS),
    Case("legacy-model-config-nested-100000", "m.h5",
         edit_h5(_set_attr("model_config", _nested(100_000))), FileFormatError,
         CONFIG_READERS),
    Case("legacy-model-config-5", "m.h5",
         edit_h5(_set_attr("model_config", '{"class_name": "Sequential", "config": 5}')),
         FileFormatError, CONFIG_READERS),
    Case("legacy-model-config-an-array", "m.h5",
         edit_h5(_set_attr("model_config", np.arange(3))), FileFormatError,
         CONFIG_READERS),
    Case("legacy-training-config-not-json", "m.h5",
         edit_h5(_set_attr("training_config", "{nope")), FileFormatError,
         COMPILE_READERS),
    Case("legacy-training-config-a-list", "m.h5",
         edit_h5(_set_attr("training_config", "[1, 2]")), FileFormatError,
         COMPILE_READERS),
    Case("legacy-training-optimizer-garbage", "m.h5",
         edit_h5(_edit_json_attr("training_config",
                                     _set(["optimizer_config"], {"class_name": 5}))),
         FileFormatError, COMPILE_READERS),
    Case("legacy-layer-names-a-scalar", "m.h5",
         edit_h5(lambda f: f["model_weights"].attrs.__setitem__("layer_names", b"out")),
         FileFormatError),
    Case("legacy-layer-without-group", "m.h5",
         edit_h5(lambda f: f.__delitem__("model_weights/hidden")), FileFormatError),
    Case("legacy-layer-group-is-a-dataset", "m.h5",
         edit_h5(lambda f: (f.__delitem__("model_weights/hidden"),
                                f.create_dataset("model_weights/hidden", data=[1.0]))),
         FileFormatError),
    Case("legacy-weight-missing", "m.h5",
         edit_h5(lambda f: f.__delitem__(_legacy_weight(f, "out"))), FileFormatError),
    Case("legacy-weight-external-link", "m.h5",
         edit_h5(lambda f: _link(_legacy_weight(f, "out"),
                                     h5py.ExternalLink("/etc/passwd", "/x"))(f)),
         FileFormatError),
    Case("legacy-weight-string", "m.h5",
         edit_h5(_legacy_replace("out", data=np.array([b"ab"] * 8).reshape(4, 2))),
         FileFormatError),
    Case("legacy-huge-declared-weight", "m.h5", edit_h5(_legacy_replace("out", **HUGE)),
         ValueError),
    Case("legacy-learning-rate-nan", "m.h5",
         edit_h5(_legacy_optimizer_value("learning_rate", np.float32(np.nan))),
         FileFormatError, COMPILE_READERS),
    Case("legacy-iterations-negative", "m.h5",
         edit_h5(_legacy_optimizer_value("iteration", np.int64(-1))), FileFormatError,
         COMPILE_READERS),
]

CATALOGUE = ARCHIVE + CONFIG + GRAPH + _weight_cases("m.weights.h5") + \
    _weight_cases("m.keras") + LEGACY


def _make(case: Case, base: dict, folder: Path) -> str:
    path = str(folder / case.filename)
    case.edit(base[case.source], path)
    return path


def _refused_by_cli(command: str, path: str, capsys) -> None:
    """`python -m scratch <command> path` exits 1 with one line on stderr, no traceback."""
    capsys.readouterr()
    status = main([command, path])
    out, err = capsys.readouterr()
    assert status == 1, f"silent acceptance: {command} exited {status}"
    assert "Traceback" not in err and out == "" and err.startswith("error: ") and \
        err.count("\n") == 1, f"not one line: {err!r}"
    assert path in err, f"the message does not name the file: {err!r}"


def _refused(error: type, path: str, call: Callable) -> str:
    """`call()` must raise `error` naming `path`; returns the message."""
    try:
        call()
    except error as e:
        assert path in str(e), f"the message does not name the file: {e}"
        return str(e)
    except Exception as e:  # noqa: BLE001 - the catalogue counts wrong exception types
        pytest.fail(f"wrong exception type: {type(e).__name__} (expected {error.__name__}): "
                    f"{str(e)[:300]}")
    pytest.fail(f"silent acceptance: no {error.__name__} raised")


@pytest.mark.parametrize(
    "case, entry", [(c, e) for c in CATALOGUE for e in c.entries],
    ids=[f"{c.id}-{e}" for c in CATALOGUE for e in c.entries])
def test_hostile_file_is_refused(case, entry, base, tmp_path, capsys):
    path = _make(case, base, tmp_path)
    if entry == LOAD_MODEL:
        _refused(case.error, path, lambda: load_model(path))
    elif entry == LOAD_WEIGHTS:
        target = _sequential(1)
        before = _state(target)
        _refused(case.error, path, lambda: target.load_weights(path))
        _assert_unchanged(target, before)
    else:
        _refused_by_cli(entry, path, capsys)


def _config_paths(value, path=()):
    """The path of every value inside a JSON config (lists and dicts included)."""
    yield path
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _config_paths(child, (*path, key))


def test_every_config_value_replaced_loads_or_gives_a_clear_error(base, tmp_path):
    """Each value of a functional model's config.json replaced by null, a number, a string
    or a list, one at a time: the file loads, or a ValueError subclass names the file."""
    members = _members(base["f.keras"])
    config = json.loads(members["config.json"])
    path = str(tmp_path / "swept.keras")
    outcomes = {"loaded": 0, "refused": 0}
    for where in list(_config_paths(config))[1:]:
        for replacement in (None, 7, "x", [1]):
            changed = json.loads(members["config.json"])
            _set(list(where), replacement)(changed)
            _write_zip(path, {**members, "config.json": json.dumps(changed).encode()})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. an optimizer state that no longer fits
                try:
                    load_model(path)
                    outcomes["loaded"] += 1
                except ValueError as e:
                    assert path in str(e), f"{where}={replacement!r}: {e}"
                    outcomes["refused"] += 1
                except Exception as e:  # noqa: BLE001 - the sweep counts wrong exception types
                    pytest.fail(f"wrong exception type for {where}={replacement!r}: "
                                f"{type(e).__name__}: {e}")
    assert outcomes["refused"] > 300 and outcomes["loaded"] > 100


def test_the_catalogue_covers_every_format_and_entry_point():
    pairs = {(c.filename.split(".", 1)[1], e) for c in CATALOGUE for e in c.entries}
    assert {("keras", e) for e in EVERY_ENTRY} <= pairs
    assert {("h5", e) for e in EVERY_ENTRY} <= pairs
    assert {("weights.h5", e) for e in (LOAD_WEIGHTS, INSPECT)} <= pairs
    assert len(CATALOGUE) >= 100


def test_a_failed_optimizer_restore_changes_no_weight(base, tmp_path):
    """Issue 19's first finding: a NaN learning rate used to be refused after the weights
    had already been replaced."""
    path = str(tmp_path / "nan.weights.h5")
    edit_h5(_set_value("optimizer/vars/1", np.nan))(base["m.weights.h5"], path)
    target = _sequential(1)
    before = _state(target)
    with pytest.raises(FileFormatError, match=r"optimizer/vars/1|learning_rate"):
        target.load_weights(path)
    _assert_unchanged(target, before)
    target.load_weights(base["m.weights.h5"])  # the good file still loads, all of it
    source = load_model(base["m.keras"])
    for a, b in zip(target.get_weights(), source.get_weights()):
        assert np.array_equal(a, b)
    assert target.optimizer.iterations == source.optimizer.iterations == 2


# ------------------------------------------------------------------------------ special files
@contextlib.contextmanager
def _deadline(seconds: int):
    """Fail instead of hanging: SIGALRM interrupts a blocked open() or read()."""
    def alarm(signum, frame):
        raise TimeoutError(f"blocked for {seconds} s (the reader hung)")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _special_files(folder: Path) -> dict[str, str]:
    fifo = folder / "pipe"
    os.mkfifo(fifo)
    paths = {}
    for ext in (".keras", ".weights.h5", ".h5"):
        (folder / f"fifo{ext}").symlink_to(fifo)
        os.mkfifo(folder / f"fifo-itself{ext}")
        (folder / f"zero{ext}").symlink_to("/dev/zero")
        (folder / f"dir{ext}").mkdir()
        for kind in ("fifo", "fifo-itself", "zero", "dir"):
            paths[f"{kind}{ext}"] = str(folder / f"{kind}{ext}")
    return paths


def test_fifos_devices_and_directories_are_refused_before_opening(tmp_path, capsys):
    target = _sequential(1)
    before = _state(target)
    for name, path in _special_files(tmp_path).items():
        with _deadline(5):
            _refused(FileFormatError, path, lambda p=path: target.load_weights(p))
            if not name.endswith(".weights.h5"):
                _refused(FileFormatError, path, lambda p=path: load_model(p))
                _refused_by_cli(PARITY, path, capsys)
            _refused_by_cli(INSPECT, path, capsys)
    _assert_unchanged(target, before)


def test_inspect_of_a_fifo_in_a_fresh_interpreter_prints_one_line(tmp_path):
    fifo = tmp_path / "m.keras"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "scratch", "inspect", str(fifo)], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "FIFO" in r.stderr, r.stderr


# ------------------------------------------------------------------------------ memory
@contextlib.contextmanager
def _memory_peak(limit_bytes: int):
    """The Python and NumPy allocations inside the block stay under `limit_bytes`."""
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit_bytes, f"unbounded allocation: peak {peak / 2**20:.1f} MiB"


@pytest.fixture
def dataset_reads(monkeypatch) -> list[int]:
    """The number of values of every h5py dataset read during the test."""
    sizes: list[int] = []
    original = h5py.Dataset.__getitem__

    def recording(self, key):
        sizes.append(self.size)
        return original(self, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", recording)
    return sizes


MEMORY_CASES = [c for c in CATALOGUE if c.id.endswith(
    ("huge-declared-weight", "huge-declared-extra-group", "gzip-bomb-weight", "too-large"))]


@pytest.mark.parametrize("case", MEMORY_CASES, ids=[c.id for c in MEMORY_CASES])
def test_memory_stays_bounded_by_the_model(case, base, tmp_path, capsys, dataset_reads):
    """Shapes and sizes are checked from the file's metadata before any data is read: a
    small file declaring a huge dataset or member costs no more than the model."""
    path = _make(case, base, tmp_path)
    assert os.path.getsize(path) < 2**20, "the hostile file itself must be small"
    target = _sequential(1)
    largest_weight = max(w.size for w in target.weights)
    with _memory_peak(8 * 2**20):
        for entry in case.entries:
            if entry == LOAD_MODEL:
                _refused(case.error, path, lambda: load_model(path))
            elif entry == LOAD_WEIGHTS:
                _refused(case.error, path, lambda: target.load_weights(path))
            else:
                _refused_by_cli(entry, path, capsys)
    assert max(dataset_reads, default=0) <= largest_weight, \
        f"unbounded allocation: a dataset of {max(dataset_reads)} values was read"


def test_inspect_lists_a_huge_declared_dataset_without_reading_it(base, tmp_path, capsys,
                                                                  dataset_reads):
    path = str(tmp_path / "huge.weights.h5")
    edit_h5(_replace_dataset("layers/dense_1/vars/0", **HUGE))(base["m.weights.h5"], path)
    with _memory_peak(8 * 2**20):
        assert main([INSPECT, path]) == 0
    assert "(1000000, 1000000)" in capsys.readouterr().out
    assert dataset_reads == []


def test_running_out_of_memory_is_reported_not_raised(base, monkeypatch, capsys):
    """A file describing a model larger than memory: a FileFormatError naming the file."""
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(scratch.saving.deserialize, "layer_from_entry", no_memory)
    path = base["m.keras"]
    _refused(FileFormatError, path, lambda: load_model(path))
    _refused(FileFormatError, base["m.h5"], lambda: load_model(base["m.h5"]))
    _refused_by_cli(INSPECT, path, capsys)


# ------------------------------------------------------------------------------ long graphs
def _long_sequential_file(folder: Path, n_layers: int) -> str:
    """A `.keras` file of a Sequential of `n_layers` Dense(2) layers, written by hand (the
    config and a matching weights H5)."""
    dense = [{"module": "keras.layers", "class_name": "Dense",
              "config": {"name": f"d{i}", "units": 2}} for i in range(n_layers)]
    config = {"class_name": "Sequential", "config": {"name": "long", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 2], "name": "x"}},
        *dense]}}
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        f.create_group("vars")
        for i in range(n_layers):
            group = f.create_group(f"layers/dense{'' if i == 0 else f'_{i}'}/vars")
            group["0"] = np.eye(2, dtype="float32")
            group["1"] = np.zeros(2, "float32")
    path = str(folder / "long.keras")
    _write_zip(path, {"metadata.json": b'{"keras_version": "3.15.1"}',
                      "config.json": json.dumps(config).encode(),
                      "model.weights.h5": weights.getvalue()})
    return path


def test_a_1500_layer_sequential_loads_without_recursion(tmp_path):
    """Depth that comes from a file needs no recursion anywhere: the config walk and the
    model's graph sort use explicit stacks, so a 1,500-layer Sequential loads and runs."""
    path = _long_sequential_file(tmp_path, 1500)
    model = load_model(path)
    assert len(model.layers) == 1500
    x = np.ones((1, 2), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


def test_the_keras_order_of_a_long_graph_needs_no_recursion():
    """`keras_layers` walks the graph with an explicit stack: it works with less Python
    stack than the graph is long."""
    L = scratch.layers
    x = scratch.Input(shape=(2,))
    y = x
    for _ in range(300):
        y = L.Dense(2)(y)
    model = Model(x, y)
    expected = keras_layers(model)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 60)
    try:
        ordered = keras_layers(model)
    finally:
        sys.setrecursionlimit(limit)
    assert ordered == expected and len(ordered) == 301


# ------------------------------------------------------------------------------ saving
@contextlib.contextmanager
def _umask(mask: int):
    """Run the block under umask `mask`; yields the umask that was in force before."""
    previous = os.umask(mask)
    try:
        yield previous
    finally:
        os.umask(previous)


def _saves(model, folder: Path) -> dict[str, Callable[[], None]]:
    """Every way scratch writes a file: (file name, the call that writes it)."""
    checkpoint = scratch.callbacks.ModelCheckpoint(str(folder / "ckpt.keras"))
    checkpoint.set_model(model)
    return {
        "m.keras": lambda: model.save(str(folder / "m.keras")),
        "m.weights.h5": lambda: model.save_weights(str(folder / "m.weights.h5")),
        "m.h5": lambda: model.save(str(folder / "m.h5")),
        "ckpt.keras": lambda: checkpoint.on_epoch_end(0, {"loss": 1.0}),
    }


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002], ids=["umask022", "umask077", "umask002"])
def test_saved_files_get_the_mode_open_would_give(tmp_path, mask):
    model = _sequential(0)
    with _umask(mask):
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("reference")
        for name, save in _saves(model, tmp_path).items():
            save()
            mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
            assert mode == 0o666 & ~mask, f"file mode {name}: {oct(mode)} under umask {oct(mask)}"
            assert mode == stat.S_IMODE(os.stat(tmp_path / "plain.txt").st_mode)


def test_overwriting_keeps_the_mode_of_the_existing_file(tmp_path):
    """open(path, "w") keeps an existing file's mode; so does a save over it."""
    model = _sequential(0)
    with _umask(0o022):
        for name, save in _saves(model, tmp_path).items():
            save()
            os.chmod(tmp_path / name, 0o640)
            save()
            mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
            assert mode == 0o640, f"file mode {name}: {oct(mode)} after overwriting a 0o640 file"


def _dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _host() -> str:
    from scratch.saving.files import _host_tag

    return _host_tag()


def test_a_save_removes_stale_temporary_files_of_ours_only(tmp_path):
    dead, alive, host = _dead_pid(), os.getpid(), _host()
    old = time.time() - STALE_SECONDS - 60
    stale = {  # name: age in seconds (None: fresh)
        f".m.keras.{host}.{dead}.0123abcd.tmp": None,        # its writer is gone
        f".m.h5.{host}.{alive}.0123abcd.tmp": old,           # untouched for too long
        f".w.weights.h5.otherhost.{dead}.89abcdef.tmp": old,  # another machine's, old
        ".m.keras.k3x_9zqa.tmp": old,                        # scratch 0.1's mkstemp name, old
    }
    kept = {
        f".m.keras.{host}.{alive}.0123abcd.tmp": None,       # a save in progress (this process)
        f".m.keras.otherhost.{dead}.0123abcd.tmp": None,     # another machine's, fresh
        ".m.keras.k3x_9zqa.tmp": None,                       # an old-style name, fresh
        f".notes.txt.{host}.{dead}.0123abcd.tmp": old,       # not a model file
        ".m.keras.swp": old,                                 # an editor's
        "m.keras.tmp": old,
        "m.keras": old,
    }
    for folder, names in (("stale", stale), ("kept", kept)):
        (tmp_path / folder).mkdir()
        for name, age in names.items():
            path = tmp_path / folder / name
            path.write_bytes(b"partial")
            if age is not None:
                os.utime(path, (age, age))
    link = tmp_path / "kept" / f".l.keras.{host}.{dead}.0123abcd.tmp"
    link.symlink_to(tmp_path / "kept" / "m.keras")  # a symlink is never ours
    model = _sequential(0)
    model.save(str(tmp_path / "stale" / "next.keras"))
    model.save(str(tmp_path / "kept" / "next.keras"))
    assert sorted(os.listdir(tmp_path / "stale")) == ["next.keras"], "leftover temp files"
    assert sorted(os.listdir(tmp_path / "kept")) == sorted([*kept, link.name, "next.keras"])


def _save_until_killed(model, path: Path, first: int) -> int:
    """Fork a child that saves `model` to `path` again and again (all weights set to first,
    first + 1, ...) until it is killed; return its PID."""
    with warnings.catch_warnings():  # Python ≥ 3.12 warns about fork() with threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid:
        return pid
    try:  # the child: never returns into pytest
        for i in range(first, first + 10**6):
            model.set_weights([np.full(w.shape, i, w.dtype) for w in model.get_weights()])
            model.save(str(path))
    finally:
        os._exit(0)


def test_saves_killed_mid_write_leave_a_loadable_file_and_no_temporaries(tmp_path):
    """20 child processes save in a loop and are killed by SIGKILL at a random moment: the
    file is always one whole save (every weight the same value), and the next save to the
    folder removes the temporary files the killed saves left."""
    L = scratch.layers
    model = Sequential([scratch.Input(shape=(64,)), L.Dense(256), L.Dense(256), L.Dense(8)])
    path = tmp_path / "m.keras"
    model.save(str(path))
    rng = random.Random(19)
    interrupted = 0
    for attempt in range(20):
        pid = _save_until_killed(model, path, first=1000 * attempt)
        time.sleep(rng.uniform(0.002, 0.06))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        weights = load_model(str(path)).get_weights()
        assert len({float(v) for w in weights for v in np.unique(w)}) == 1, \
            "a half-written save was loaded"
        interrupted += any(n.endswith(".tmp") for n in os.listdir(tmp_path))
    assert path.exists()
    assert interrupted >= 5, "too few kills landed during a save to test anything"
    _sequential(0).save(str(tmp_path / "after.keras"))
    assert sorted(os.listdir(tmp_path)) == ["after.keras", "m.keras"], "leftover temp files"
    with _umask(0o022) as mask:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~mask
