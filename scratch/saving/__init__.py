"""Model files: real Keras 3 `.keras` archives and `.weights.h5` files, legacy Keras 2 `.h5`.

    model.save("m.keras")                        # opens in tf.keras: keras.models.load_model
    model = scratch.models.load_model("m.keras") # reads files written by tf.keras
    model.save_weights("m.weights.h5"); model.load_weights("m.weights.h5")
    model = scratch.models.load_model("linearclassifier.h5")   # Keras 2 full-model file

A `.keras` file is a zip archive (what `keras.src.saving.saving_lib` writes)::

    metadata.json      {"keras_version": "3.15.1", "date_saved": ...}
    config.json        the model's Keras config (serialize.serialize_model) + compile config
    model.weights.h5   the weights and optimizer state (weights_h5, layout in its docstring)

Files are written to a temporary file and renamed over the target, so a crash or an error never
leaves a half-written file; saved files get the mode `open(path, "w")` would give them, and a
save removes the temporary files that killed saves left in its folder (`files.atomic_write`).

Reading never changes a model unless the whole file fits it, and reads no more than the model
needs: only regular files are opened; `metadata.json` and `config.json` are read with a size
cap (`files.MAX_JSON_BYTES`, checked against the sizes the archive declares before reading);
the model is built from the config before `model.weights.h5` is read, so that member's size
cap comes from the model (`weights_h5.weights_file_limit`). Bad files (not a zip, truncated,
not a Keras archive, malformed configs, missing/extra/misshapen weights, invalid optimizer
state, a newer Keras format) raise a `FileFormatError`, a layer or setting scratch lacks an
`UnsupportedError`, and weights that do not fit the model a `ValueError`, each naming the file
and the part at fault.

Uses h5py and zipfile (imported when a file is read or written), never TensorFlow.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import lzma
import os
import zipfile
import zlib
from dataclasses import dataclass

from .compile_settings import compile_config, compile_from_config
from .config_values import expect
from .deserialize import model_from_config
from .files import MAX_JSON_BYTES, atomic_write, check_regular_file, parse_json, reading
from .registry import (
    KERAS_FORMAT_VERSION,
    FileFormatError,
    UnsupportedError,
    deserialization_scope,
)
from .serialize import serialize_model
from .weights_h5 import (
    build_optimizer_like_keras,
    load_store_into,
    load_weights,
    open_store,
    save_weights,
    weights_file_limit,
    write_weights_file,
)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "open_archive",
           "open_store", "FileFormatError", "UnsupportedError", "KERAS_FORMAT_VERSION"]

_CONFIG = "config.json"
_METADATA = "metadata.json"
_WEIGHTS = "model.weights.h5"
#: The newest Keras major version whose `.keras` format scratch knows.
_MAX_MAJOR = 3


def _scratch_version() -> str:
    from .. import __version__

    return __version__


# ------------------------------------------------------------------------------ saving
def save_model(model, filepath, overwrite: bool = True, zipped=None, **kwargs) -> None:
    """`model.save(filepath)`: a `.keras` archive, or a legacy `.h5` file (Keras 3's rules).

    Args:
        filepath: ends in `.keras` (recommended) or `.h5`/`.hdf5` (legacy Keras 2 format).
        overwrite: if False and the file exists, raise FileExistsError (Keras would ask).
        include_optimizer: (legacy `.h5` only, as in Keras) save the optimizer state.
    """
    from ..models import Model

    if not isinstance(model, Model):
        raise TypeError(f"save_model expects a scratch Model. Received: {model!r}")
    include_optimizer = kwargs.pop("include_optimizer", True)
    kwargs.pop("save_format", None)
    if kwargs:
        raise ValueError(f"The following argument(s) are not supported: {list(kwargs)}")
    if zipped is False:
        raise ValueError("scratch writes zipped `.keras` archives only. Received: zipped=False")
    path = os.fspath(filepath)
    if path.endswith(".keras"):
        with atomic_write(path, overwrite) as tmp:
            with open(tmp, "wb") as f:
                write_archive(model, f)
        return
    if path.endswith((".h5", ".hdf5")):
        from .legacy_h5 import save_legacy_model

        with atomic_write(path, overwrite) as tmp:
            save_legacy_model(model, tmp, include_optimizer=include_optimizer)
        return
    raise ValueError(
        "Invalid filepath extension for saving. Please add either a `.keras` extension for "
        "the native Keras format (recommended) or a `.h5` extension. "
        f"Received: filepath={path}."
    )


def write_archive(model, fileobj) -> None:
    """Write the `.keras` zip (metadata.json, config.json, model.weights.h5) to `fileobj`."""
    config = json.dumps(serialize_model(model))
    metadata = json.dumps({
        "keras_version": KERAS_FORMAT_VERSION,
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "scratch_version": _scratch_version(),
    })
    weights = io.BytesIO()
    write_weights_file(model, weights)
    with zipfile.ZipFile(fileobj, "w") as zf:
        zf.writestr(_METADATA, metadata)
        zf.writestr(_CONFIG, config)
        zf.writestr(_WEIGHTS, weights.getvalue())


# ------------------------------------------------------------------------------ reading
def check_version(version, what: str) -> None:
    """Refuse files of a Keras major version newer than the format scratch knows."""
    if version is None:
        return
    if isinstance(version, bytes):
        version = version.decode("utf8", "replace")
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        raise FileFormatError(
            f"{what}: unreadable keras_version. Received: keras_version={str(version)[:50]!r}"
        ) from None
    if major > _MAX_MAJOR:
        raise FileFormatError(
            f"{what} was written by Keras {version}, a newer format than scratch reads "
            f"(Keras ≤ {_MAX_MAJOR}.x; scratch writes the Keras {KERAS_FORMAT_VERSION} format)."
        )


# What reading a damaged member raises: a bad CRC or header (BadZipFile), a damaged stream
# (zlib.error, LZMAError, OSError for bzip2), an encrypted member (RuntimeError), an unknown
# compression method (NotImplementedError).
_MEMBER_ERRORS = (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError,
                  ValueError, zlib.error, lzma.LZMAError)


def _read_member(zf: zipfile.ZipFile, name: str, limit: int, path: str) -> bytes:
    """Read one member of an open archive, refusing one that declares more than `limit`
    bytes (zipfile then stops at the declared size and checks the CRC)."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise FileFormatError(
            f"{path}: {name} is too large: at most {limit} bytes expected. "
            f"Received: {info.file_size} bytes (compressed: {info.compress_size})"
        )
    try:
        with zf.open(info) as member:
            return member.read(limit + 1)
    except _MEMBER_ERRORS as e:
        raise FileFormatError(f"{path} is corrupt: cannot read {name} ({e}).") from None


@dataclass
class Archive:
    """An open `.keras` file: its checked metadata and config; the weights on request."""

    path: str
    zip_file: zipfile.ZipFile
    metadata: dict
    config: dict

    @contextlib.contextmanager
    def open_weights(self, model):
        """Open `model.weights.h5` for `model` (weights_h5.open_store), reading the member
        only if it declares no more bytes than a weights file of this model can take."""
        names = self.zip_file.namelist()
        if _WEIGHTS not in names:
            if "model.weights.npz" in names:
                raise UnsupportedError(f"{self.path} stores its weights as npz; scratch reads "
                                       "the default h5 weights format.")
            raise FileFormatError(f"{self.path} has no {_WEIGHTS}.")
        data = _read_member(self.zip_file, _WEIGHTS, weights_file_limit(model), self.path)
        with open_store(io.BytesIO(data), f"{self.path} ({_WEIGHTS})") as store:
            yield store


@contextlib.contextmanager
def open_archive(filepath):
    """Open a `.keras` archive; yield an `Archive` with its metadata and config checked.

    Raises:
        FileNotFoundError: no such file.
        FileFormatError: not a regular file, not a zip, truncated, no config.json, JSON
            members too large, nested too deeply or not JSON objects, a newer Keras format.
    """
    path = os.fspath(filepath)
    check_regular_file(path)
    try:
        zf = zipfile.ZipFile(path, "r")
    except PermissionError:
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise FileFormatError(
            f"{path} is not a valid `.keras` file: it is not a zip archive or it is "
            f"truncated ({e})."
        ) from None
    with zf:
        names = zf.namelist()
        if _CONFIG not in names:
            raise FileFormatError(
                f"{path} is a zip archive but not a Keras model: it has no {_CONFIG} "
                f"(members: {names[:10]})."
            )
        metadata = {}
        if _METADATA in names:
            text = _read_member(zf, _METADATA, MAX_JSON_BYTES, path)
            metadata = parse_json(text, f"{path} ({_METADATA})")
        config = parse_json(_read_member(zf, _CONFIG, MAX_JSON_BYTES, path),
                            f"{path} ({_CONFIG})")
        for name, value in ((_METADATA, metadata), (_CONFIG, config)):
            if not isinstance(value, dict):
                raise FileFormatError(f"{path}: {name} must hold a JSON object. "
                                      f"Received: {type(value).__name__}")
        check_version(metadata.get("keras_version"), path)
        yield Archive(path, zf, metadata, config)


def model_from_file_config(config, path: str, custom_objects=None):
    """`model_from_config` for a config read from `path`: its errors name the file."""
    try:
        return model_from_config(config, custom_objects=custom_objects)
    except (FileFormatError, UnsupportedError) as e:
        raise type(e)(f"{path}: {e}") from None


def compile_from_file_config(model, config, path: str, legacy: bool = False) -> None:
    """`compile_from_config` for a compile config read from `path` (its errors name the
    file), then the optimizer's slots built in Keras' order."""
    try:
        compile_from_config(model, config, legacy=legacy)
    except (FileFormatError, UnsupportedError) as e:
        raise type(e)(f"{path}: {e}") from None
    build_optimizer_like_keras(model)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a `.keras` archive (Keras 3) or a legacy `.h5` model file into scratch.

    Args:
        custom_objects: {class name: scratch Layer subclass} for layers of your own.
        compile: rebuild the optimizer, loss and metrics, and restore the optimizer state.
        safe_mode: True (the default, as Keras) refuses to run code a file holds (a
            `Lambda` layer's Python lambda); False runs it: only for files you trust.
    """
    with deserialization_scope(safe_mode=bool(safe_mode), custom_objects=custom_objects):
        return _load_model(filepath, custom_objects, compile)


def _load_model(filepath, custom_objects, compile: bool):
    path = os.fspath(filepath)
    if path.endswith(".weights.h5"):
        raise ValueError(
            f"{path} holds only weights (no model config): build the model and call "
            "`model.load_weights(...)` instead."
        )
    if path.endswith((".h5", ".hdf5")):
        from .legacy_h5 import load_legacy_model

        return load_legacy_model(path, custom_objects=custom_objects, compile=compile)
    if not path.endswith(".keras"):
        raise ValueError(
            f"File format not supported: filepath={path}. scratch reads `.keras` archives "
            "and legacy `.h5` files."
        )
    with reading(path), open_archive(path) as archive:
        model = model_from_file_config(archive.config, path, custom_objects)
        cc = archive.config.get("compile_config")
        if cc is not None:
            expect(cc, dict, f"{path}: compile_config")
        if compile and cc:
            compile_from_file_config(model, cc, path)
        with archive.open_weights(model) as store:
            load_store_into(model, store, path)
    return model


__all__ += ["write_archive", "check_version", "compile_config"]
