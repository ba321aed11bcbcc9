"""Model files: real Keras 3 `.keras` archives and `.weights.h5` files, legacy Keras 2 `.h5`.

    model.save("m.keras")                        # opens in tf.keras: keras.models.load_model
    model = scratch.models.load_model("m.keras") # reads files written by tf.keras
    model.save_weights("m.weights.h5"); model.load_weights("m.weights.h5")
    model = scratch.models.load_model("linearclassifier.h5")   # Keras 2 full-model file

A `.keras` file is a zip archive (what `keras.src.saving.saving_lib` writes)::

    metadata.json      {"keras_version": "3.15.1", "date_saved": ...}
    config.json        the model's Keras config (keras_format.serialize_model) + compile config
    model.weights.h5   the weights and optimizer state (weights_h5, layout in its docstring)

Files are written to a temporary file and renamed over the target, so a crash or an error never
leaves a half-written file. Reading never changes a model unless the whole file fits it: bad
files (not a zip, truncated, not a Keras archive, missing/extra/misshapen weights, a layer
scratch lacks, a newer Keras format) raise a ValueError that says what is wrong.

Uses h5py and zipfile (imported when a file is read or written), never TensorFlow.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile
from dataclasses import dataclass, field

from .keras_format import (
    KERAS_FORMAT_VERSION,
    FileFormatError,
    UnsupportedError,
    compile_config,
    compile_from_config,
    model_from_config,
    serialize_model,
)
from .weights_h5 import (
    StoredVars,
    atomic_write,
    build_optimizer_like_keras,
    load_store_into,
    load_weights,
    read_store,
    save_weights,
    write_weights_file,
)

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "read_archive",
           "read_store", "FileFormatError", "UnsupportedError", "KERAS_FORMAT_VERSION"]

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
@dataclass
class Archive:
    """The parsed contents of a `.keras` file."""

    config: dict
    metadata: dict = field(default_factory=dict)
    store: dict[str, StoredVars] = field(default_factory=dict)


def check_version(version, what: str) -> None:
    """Refuse files of a Keras major version newer than the format scratch knows."""
    if version is None:
        return
    if isinstance(version, bytes):
        version = version.decode("utf8", "replace")
    try:
        major = int(str(version).split(".")[0])
    except ValueError:
        raise FileFormatError(f"{what}: unreadable keras_version {version!r}.") from None
    if major > _MAX_MAJOR:
        raise FileFormatError(
            f"{what} was written by Keras {version}, a newer format than scratch reads "
            f"(Keras ≤ {_MAX_MAJOR}.x; scratch writes the Keras {KERAS_FORMAT_VERSION} format)."
        )


def read_archive(filepath) -> Archive:
    """Read and check a `.keras` archive: config, metadata and every weight array."""
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file: {path}")
    try:
        zf = zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile as e:
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
        try:
            metadata = json.loads(zf.read(_METADATA)) if _METADATA in names else {}
            config = json.loads(zf.read(_CONFIG))
        except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError,
                json.JSONDecodeError) as e:
            raise FileFormatError(f"{path} is corrupt: cannot read its config ({e}).") from None
        if not isinstance(metadata, dict) or not isinstance(config, dict):
            raise FileFormatError(f"{path}: {_CONFIG} and {_METADATA} must hold JSON objects.")
        check_version(metadata.get("keras_version"), path)
        if _WEIGHTS not in names:
            if "model.weights.npz" in names:
                raise UnsupportedError(f"{path} stores its weights as npz; scratch reads the "
                                       "default h5 weights format.")
            raise FileFormatError(f"{path} has no {_WEIGHTS}.")
        try:
            data = zf.read(_WEIGHTS)
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise FileFormatError(f"{path} is corrupt: cannot read {_WEIGHTS} ({e}).") from None
    store = read_store(io.BytesIO(data), f"{path} ({_WEIGHTS})")
    return Archive(config, metadata, store)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True):
    """Load a `.keras` archive (Keras 3) or a legacy `.h5` model file into scratch.

    Args:
        custom_objects: {class name: scratch Layer subclass} for layers of your own.
        compile: rebuild the optimizer, loss and metrics, and restore the optimizer state.
        safe_mode: accepted for Keras compatibility (scratch never runs code from a file).
    """
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
    archive = read_archive(path)
    model = model_from_config(archive.config, custom_objects=custom_objects)
    cc = archive.config.get("compile_config")
    if compile and cc:
        compile_from_config(model, cc)
        build_optimizer_like_keras(model)
    load_store_into(model, archive.store, path)
    return model


__all__ += ["write_archive", "check_version", "compile_config"]
