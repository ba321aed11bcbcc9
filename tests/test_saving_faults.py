"""Bad model files: each raises a clear error and leaves the target model bitwise untouched.

Truncated or corrupt archives, a zip that is not a Keras model, HDF5 weights with missing,
extra or misshapen arrays, a layer or argument scratch does not implement, a file from a newer
Keras format, links to other files, and optimizer state that does not fit.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

import scratch
from scratch.models import Sequential, load_model
from scratch.saving import FileFormatError, UnsupportedError
from scratch.saving.weights_h5 import optimizer_layout


# ------------------------------------------------------------------------------ fixtures
def _model(seed: int, optimizer="adam"):
    scratch.utils.set_random_seed(seed)
    L = scratch.layers
    model = Sequential([scratch.Input(shape=(3,)), L.Dense(4, activation="relu", name="hidden"),
                        L.BatchNormalization(name="bn"),
                        L.Dense(2, activation="softmax", name="out")])
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(seed)
    model.fit(rng.standard_normal((16, 3)).astype("float32"), rng.integers(0, 2, 16),
              epochs=1, batch_size=8, verbose=0)
    return model


@pytest.fixture
def files(tmp_path):
    """A trained model saved in every format, and a differently trained target model."""
    source = _model(0)
    paths = {ext: str(tmp_path / f"m{ext}") for ext in (".keras", ".weights.h5", ".h5")}
    source.save(paths[".keras"])
    source.save_weights(paths[".weights.h5"])
    source.save(paths[".h5"])
    return paths, source, _model(1)


def _snapshot(model) -> list[np.ndarray]:
    return [w.copy() for w in model.weights] + \
        [np.array(v, copy=True) for v in optimizer_layout(model).values]


def _assert_unchanged(model, snapshot) -> None:
    now = _snapshot(model)
    assert len(now) == len(snapshot)
    for a, b in zip(now, snapshot):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def _fails(model, path, error=ValueError, match=None, **kwargs):
    """load_weights must raise and change nothing; returns the message."""
    snap = _snapshot(model)
    with pytest.raises(error, match=match) as info:
        model.load_weights(path, **kwargs)
    _assert_unchanged(model, snap)
    return str(info.value)


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write_zip(path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def _edit_h5_bytes(data: bytes, edit) -> bytes:
    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        edit(f)
    return buf.getvalue()


def _edit_weights_file(src, dst, edit) -> str:
    with open(src, "rb") as f:
        data = _edit_h5_bytes(f.read(), edit)
    with open(dst, "wb") as f:
        f.write(data)
    return str(dst)


def _edit_archive(src, dst, *, config=None, metadata=None, weights=None) -> str:
    members = _members(src)
    if config is not None:
        members["config.json"] = json.dumps(config(json.loads(members["config.json"])))
    if metadata is not None:
        members["metadata.json"] = json.dumps(metadata(json.loads(members["metadata.json"])))
    if weights is not None:
        members["model.weights.h5"] = _edit_h5_bytes(members["model.weights.h5"], weights)
    return _write_zip(dst, members)


# ------------------------------------------------------------------------------ archives
@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_archive(files, tmp_path, keep):
    paths, _, target = files
    data = Path(paths[".keras"]).read_bytes()
    bad = tmp_path / "cut.keras"
    bad.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(FileFormatError, match="not a valid `.keras` file"):
        load_model(str(bad))
    _fails(target, str(bad), FileFormatError, "truncated")


def test_corrupt_bytes_inside_the_archive(files, tmp_path):
    paths, _, target = files
    data = bytearray(Path(paths[".keras"]).read_bytes())
    with zipfile.ZipFile(paths[".keras"]) as zf:
        info = zf.getinfo("model.weights.h5")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    middle = start + info.compress_size // 2
    data[middle: middle + 64] = bytes(b ^ 0xFF for b in data[middle: middle + 64])
    bad = tmp_path / "flipped.keras"
    bad.write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="corrupt"):
        load_model(str(bad))
    _fails(target, str(bad), FileFormatError, "corrupt")


def test_archive_whose_weights_are_not_hdf5(files, tmp_path):
    paths, _, target = files
    members = _members(paths[".keras"])
    members["model.weights.h5"] = b"\x89HDF\r\n\x1a\n" + b"\x00" * 200
    bad = _write_zip(tmp_path / "garbage.keras", members)
    with pytest.raises(FileFormatError, match="not a readable HDF5"):
        load_model(bad)
    _fails(target, bad, FileFormatError, "not a readable HDF5")


def test_zip_that_is_not_a_keras_model(files, tmp_path):
    _, _, target = files
    bad = _write_zip(tmp_path / "notes.keras", {"readme.txt": b"hello"})
    with pytest.raises(FileFormatError, match="not a Keras model: it has no config.json"):
        load_model(bad)
    _fails(target, bad, FileFormatError, "no config.json")


def test_file_that_is_not_a_zip(files, tmp_path):
    _, _, target = files
    bad = tmp_path / "text.keras"
    bad.write_text("just text")
    with pytest.raises(FileFormatError, match="not a zip archive"):
        load_model(str(bad))
    _fails(target, str(bad), FileFormatError, "not a zip archive")


@pytest.mark.parametrize("version", ["4.0.0", "12.1"])
def test_newer_keras_format_version(files, tmp_path, version):
    paths, _, target = files
    bad = _edit_archive(paths[".keras"], tmp_path / "new.keras",
                        metadata=lambda m: {**m, "keras_version": version})
    with pytest.raises(FileFormatError, match=f"written by Keras {version}, a newer format"):
        load_model(bad)
    _fails(target, bad, FileFormatError, "newer format")
    legacy = tmp_path / "new.h5"
    legacy.write_bytes(Path(paths[".h5"]).read_bytes())
    with h5py.File(legacy, "r+") as f:
        f.attrs["keras_version"] = version
    with pytest.raises(FileFormatError, match="newer format"):
        load_model(str(legacy))
    _fails(target, str(legacy), FileFormatError, "newer format")


def test_older_keras_3_versions_still_load(files, tmp_path):
    paths, source, _ = files
    ok = _edit_archive(paths[".keras"], tmp_path / "old.keras",
                       metadata=lambda m: {**m, "keras_version": "3.0.5"})
    for a, b in zip(load_model(ok).get_weights(), source.get_weights()):
        assert np.array_equal(a, b)


# ------------------------------------------------------------------------------ config
def _layer(config, class_name):
    return [l for l in config["config"]["layers"] if l["class_name"] == class_name][0]


def test_unsupported_layer_is_named(files, tmp_path):
    paths, _, _ = files

    def swap(config):
        layer = _layer(config, "BatchNormalization")
        layer["class_name"] = "GroupNormalization"
        layer["config"]["name"] = "group_norm_7"
        return config

    bad = _edit_archive(paths[".keras"], tmp_path / "gn.keras", config=swap)
    with pytest.raises(UnsupportedError, match="'group_norm_7'.*'GroupNormalization'"):
        load_model(bad)


def test_unsupported_argument_is_named(files, tmp_path):
    paths, _, _ = files

    def constrain(config):
        _layer(config, "Dense")["config"]["kernel_constraint"] = {
            "module": "keras.constraints", "class_name": "NonNeg", "config": {},
            "registered_name": None}
        return config

    bad = _edit_archive(paths[".keras"], tmp_path / "nonneg.keras", config=constrain)
    with pytest.raises(UnsupportedError, match="'hidden'.*kernel_constraint"):
        load_model(bad)


def test_unsupported_compile_settings_suggest_compile_false(files, tmp_path):
    paths, source, _ = files

    def ema(config):
        config["compile_config"]["optimizer"]["config"]["use_ema"] = True
        return config

    bad = _edit_archive(paths[".keras"], tmp_path / "ema.keras", config=ema)
    with pytest.raises(UnsupportedError, match="compile=False"):
        load_model(bad)
    model = load_model(bad, compile=False)
    assert not model.compiled
    for a, b in zip(model.get_weights(), source.get_weights()):
        assert np.array_equal(a, b)


def test_mixed_precision_policy_is_refused(files, tmp_path):
    paths, _, _ = files

    def mixed(config):
        _layer(config, "Dense")["config"]["dtype"]["config"]["name"] = "mixed_float16"
        return config

    bad = _edit_archive(paths[".keras"], tmp_path / "mixed.keras", config=mixed)
    with pytest.raises(UnsupportedError, match="float32 or float64.*mixed_float16"):
        load_model(bad)


def test_subclassed_model_config_is_refused(files, tmp_path):
    paths, _, _ = files
    bad = _edit_archive(paths[".keras"], tmp_path / "sub.keras",
                        config=lambda c: {**c, "class_name": "MyModel"})
    with pytest.raises(UnsupportedError, match="Sequential and functional.*MyModel"):
        load_model(bad)


# ------------------------------------------------------------------------------ weights
def test_missing_weight(files, tmp_path):
    paths, _, target = files
    bad = _edit_weights_file(paths[".weights.h5"], tmp_path / "miss.weights.h5",
                             lambda f: f.__delitem__("layers/dense_1/vars/1"))
    msg = _fails(target, bad, ValueError, "expected 2 variables")
    assert "received 1" in msg and "'out'" in msg
    bad = _edit_archive(paths[".keras"], tmp_path / "miss.keras",
                        weights=lambda f: f.__delitem__("layers/batch_normalization"))
    _fails(target, bad, ValueError, "expected 4 variables .*received 0")
    with pytest.raises(ValueError, match="expected 4 variables"):
        load_model(bad)


def test_extra_weight_in_a_layer(files, tmp_path):
    paths, _, target = files
    bad = _edit_weights_file(paths[".weights.h5"], tmp_path / "extra.weights.h5",
                             lambda f: f["layers/dense/vars"].create_dataset("2", data=[1.0]))
    _fails(target, bad, ValueError, "expected 2 variables .*received 3")


def test_weights_for_a_layer_the_model_lacks(files, tmp_path):
    paths, _, target = files

    def add(f):
        g = f.create_group("layers/dense_7/vars")
        g.attrs["name"] = "ghost"
        g["0"] = np.zeros((2, 2), "float32")

    bad = _edit_weights_file(paths[".weights.h5"], tmp_path / "ghost.weights.h5", add)
    _fails(target, bad, ValueError, "does not have: 'layers/dense_7'.*ghost")


def test_wrong_shape_changes_nothing(files, tmp_path):
    """The first layer fits, the last does not: the first must not be written either."""
    paths, _, target = files

    def transpose(f):
        kernel = f["layers/dense_1/vars/0"][()]
        del f["layers/dense_1/vars/0"]
        f["layers/dense_1/vars/0"] = np.ascontiguousarray(kernel.T)

    bad = _edit_weights_file(paths[".weights.h5"], tmp_path / "t.weights.h5", transpose)
    msg = _fails(target, bad, ValueError, r"has shape \(4, 2\). Received: shape=\(2, 4\)")
    assert "out/kernel" in msg


def test_wrong_shape_in_legacy_h5(files, tmp_path):
    paths, _, target = files
    bad = tmp_path / "t.h5"
    bad.write_bytes(Path(paths[".h5"]).read_bytes())
    with h5py.File(bad, "r+") as f:
        group = f["model_weights/out"]
        name = [n.decode() if isinstance(n, bytes) else n for n in group.attrs["weight_names"]][0]
        kernel = group[name][()]
        del group[name]
        group[name] = np.ascontiguousarray(kernel.T)
    _fails(target, str(bad), ValueError, r"shape mismatch .*Received: shape=\(2, 4\)")
    with pytest.raises(ValueError, match="shape mismatch"):
        load_model(str(bad))


def test_truncated_legacy_h5(files, tmp_path):
    paths, _, target = files
    data = Path(paths[".h5"]).read_bytes()
    bad = tmp_path / "cut.h5"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError, match="truncated or corrupt"):
        load_model(str(bad))
    _fails(target, str(bad), FileFormatError)


def test_links_to_other_files_are_refused(files, tmp_path):
    paths, _, target = files

    def link(f):
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = h5py.ExternalLink("/etc/passwd", "/x")

    bad = _edit_weights_file(paths[".weights.h5"], tmp_path / "link.weights.h5", link)
    _fails(target, bad, FileFormatError, "is a link")


def test_other_architecture(files, tmp_path):
    _, _, _ = files
    L = scratch.layers
    other = Sequential([scratch.Input(shape=(3,)), L.Dense(4), L.Dense(2)])
    other.save_weights(str(tmp_path / "o.weights.h5"))
    paths, _, target = files
    _fails(target, str(tmp_path / "o.weights.h5"), ValueError,
           "BatchNormalization 'bn' expected 4 variables")


# ------------------------------------------------------------------------------ optimizer
def test_optimizer_that_does_not_fit_is_skipped_like_keras(files, tmp_path):
    """Another optimizer (fewer variables): Keras warns and keeps the optimizer; the weights
    still load."""
    _, _, target = files
    sgd = _model(2, optimizer="sgd")
    sgd.save_weights(str(tmp_path / "sgd.weights.h5"))
    before = [np.array(v, copy=True) for v in optimizer_layout(target).values]
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        target.load_weights(str(tmp_path / "sgd.weights.h5"))
    for a, b in zip(target.get_weights(), sgd.get_weights()):
        assert np.array_equal(a, b)
    for a, b in zip(optimizer_layout(target).values, before):
        assert np.array_equal(a, b)


def test_optimizer_slot_of_the_wrong_shape(files, tmp_path):
    paths, _, target = files

    def reshape(f):
        slot = f["optimizer/vars/2"][()]
        del f["optimizer/vars/2"]
        f["optimizer/vars/2"] = slot.reshape(-1)

    bad = _edit_weights_file(paths[".weights.h5"], tmp_path / "slot.weights.h5", reshape)
    _fails(target, bad, ValueError, "optimizer variable .* has shape")


# ------------------------------------------------------------------------------ usage errors
def test_usage_errors(files, tmp_path):
    paths, source, target = files
    with pytest.raises(ValueError, match="holds only weights"):
        load_model(paths[".weights.h5"])
    with pytest.raises(ValueError, match="File format not supported"):
        load_model(str(tmp_path / "m.pkl"))
    with pytest.raises(ValueError, match="Invalid filepath extension"):
        source.save(str(tmp_path / "m.pkl"))
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        source.save_weights(str(tmp_path / "m.h5"))
    with pytest.raises(FileNotFoundError):
        target.load_weights(str(tmp_path / "absent.weights.h5"))
    unbuilt = Sequential([scratch.layers.Dense(2)])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.load_weights(paths[".weights.h5"])
    with pytest.raises(ValueError, match="not yet been built"):
        unbuilt.save_weights(str(tmp_path / "u.weights.h5"))
    _fails(target, paths[".keras"], ValueError, "by_name", by_name=True)
    assert not list(tmp_path.glob(".*tmp"))
