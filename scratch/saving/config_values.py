"""The values inside a Keras config: checked as they are read, converted both ways.

A config read from a file is JSON of any shape. Its structure is checked as it is read
(`expect`, `class_and_config` and the helpers below them), so that a malformed file raises a
`FileFormatError` naming the part at fault, not an AttributeError deep inside. (Its nesting
depth was already capped by `files.parse_json`.)

The values themselves change form between the two engines: Keras writes a dtype as a
``DTypePolicy``, an initializer with "module" and "registered_name" keys, a tuple as a list;
`dtype_name`, `_init_config` and `_strip` read those forms, `_keras_value` and
`_dtype_policy` write them.
"""

from __future__ import annotations

import numpy as np

from .registry import NEUTRAL, FileFormatError, UnsupportedError

_FLOAT_DTYPES = ("float32", "float64")


# ------------------------------------------------------------------------------ checking a config
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


# ------------------------------------------------------------------------------ values read
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


# ------------------------------------------------------------------------------ values written
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
