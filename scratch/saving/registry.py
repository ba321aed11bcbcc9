"""The names of the Keras format: its version, its errors, Keras class names ⇄ scratch classes.

A Keras config names each layer by its class (``"Dense"``, ``"LSTM"``) and writes every
argument of its `get_config()`. This module answers the questions a reader and a writer of
configs both ask: which scratch class a Keras class name stands for (`layer_class`), which
arguments that class accepts (`accepted_args`), which Keras arguments scratch does not model
and which value of them means "not used" (`NEUTRAL`, `ANY_VALUE`), what Keras calls a scratch
object (`keras_class_name`: a functional `Model` is "Functional") and the snake_case keys
Keras' containers give objects (`unique_keys`).

Keras config entries that scratch does not model are accepted only at their neutral value
(``NEUTRAL``: e.g. ``kernel_regularizer=None``); anything else raises `UnsupportedError`
naming the layer and the argument, so a file never loads into a silently different model.
A file that is not a (readable) Keras file raises `FileFormatError`.

Nothing here imports TensorFlow or h5py.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import inspect
import pkgutil
from typing import Any

from ..utils.naming import to_snake_case

#: The Keras release whose file format scratch reads and writes (pyproject pins keras 3.15.*).
KERAS_FORMAT_VERSION = "3.15.1"


# What a config being read may do: (safe_mode, custom_objects). Safe mode (the default, as in
# Keras) refuses to run code a file holds: a Lambda layer's bytecode (layers/lambda_layer.py).
_DESERIALIZATION: contextvars.ContextVar = contextvars.ContextVar(
    "scratch_deserialization", default=(True, None))


@contextlib.contextmanager
def deserialization_scope(safe_mode: bool | None = None, custom_objects=None):
    """Read configs in this block with `safe_mode` and `custom_objects` (None: as around)."""
    safe, objects = _DESERIALIZATION.get()
    token = _DESERIALIZATION.set((safe if safe_mode is None else bool(safe_mode),
                                  objects if custom_objects is None else custom_objects))
    try:
        yield
    finally:
        _DESERIALIZATION.reset(token)


def deserialization_settings() -> tuple[bool, dict | None]:
    """(safe_mode, custom_objects) of the config being read (safe by default)."""
    return _DESERIALIZATION.get()


class UnsupportedError(ValueError):
    """A Keras layer, argument or setting that scratch does not implement."""


class FileFormatError(ValueError):
    """A file that is not a (readable) Keras model or weights file."""


# Keras config keys scratch does not model, with the value that means "not used".
# This is the project's one copy of the table (keras_ref/convert.py imports it).
NEUTRAL: dict[str, Any] = {
    "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
    "recurrent_regularizer": None, "beta_regularizer": None, "gamma_regularizer": None,
    "embeddings_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
    "recurrent_constraint": None, "beta_constraint": None, "gamma_constraint": None,
    "embeddings_constraint": None, "depthwise_regularizer": None,
    "pointwise_regularizer": None, "depthwise_constraint": None, "pointwise_constraint": None,
    "quantization_config": None, "lora_rank": None,
    "lora_alpha": None, "data_format": "channels_last", "sparse": False, "ragged": False,
    "optional": False, "synchronized": False, "renorm": False, "renorm_clipping": None,
    "renorm_momentum": 0.99, "use_cudnn": "auto", "implementation": None,
    "rms_scaling": False, "unroll": False, "time_major": False, "zero_output_for_mask": None,
    "embeddings_regularizer_": None, "input_axes": None, "output_axes": None,
    "sparse_": None, "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None,
}
# Keys whose value never changes what the model computes.
ANY_VALUE = {"implementation", "unroll", "use_cudnn", "zero_output_for_mask", "module",
             "registered_name", "build_config", "compile_config", "shared_object_id",
             "input_length"}  # Keras 2's Embedding(input_length=...): Keras 3 ignores it


# ------------------------------------------------------------------------------ names
def is_functional(obj) -> bool:
    """Whether `obj` is a functional scratch `Model` (not a Sequential)."""
    from ..models import Model, Sequential

    return isinstance(obj, Model) and not isinstance(obj, Sequential)


def keras_class_name(obj) -> str:
    """The Keras class of a scratch object: a functional `Model` is Keras' "Functional"."""
    return "Functional" if is_functional(obj) else type(obj).__name__


def unique_keys(objects) -> list[str]:
    """Keras' container keys: snake_case class names, uniquified as name, name_1, name_2."""
    used: dict[str, int] = {}
    keys = []
    for obj in objects:
        name = to_snake_case(keras_class_name(obj))
        if name in used:
            used[name] += 1
            keys.append(f"{name}_{used[name]}")
        else:
            used[name] = 0
            keys.append(name)
    return keys


# ------------------------------------------------------------------------------ registry
def layer_class(class_name: str, custom_objects: dict | None = None):
    """The scratch class for a Keras class name (`custom_objects` first, then scratch.layers
    and every module of the scratch.layers package)."""
    from ..layers.base import Layer

    if custom_objects and class_name in custom_objects:
        return custom_objects[class_name]
    import scratch.layers as layers_pkg

    cls = getattr(layers_pkg, class_name, None)
    if isinstance(cls, type) and issubclass(cls, Layer):
        return cls
    broken = []
    for info in pkgutil.walk_packages(layers_pkg.__path__, layers_pkg.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except ImportError as e:  # a work-in-progress module must not break other layers
            broken.append(f"{info.name} ({e})")
            continue
        cls = getattr(module, class_name, None)
        if isinstance(cls, type) and issubclass(cls, Layer) and not class_name.startswith("_"):
            return cls
    hint = f" (modules that failed to import: {', '.join(broken)})" if broken else ""
    raise UnsupportedError(f"scratch has no layer {class_name!r}{hint}.")


def accepted_args(cls) -> set[str]:
    """The keyword arguments a scratch layer class accepts (its __init__s, and Layer's)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            sig = inspect.signature(vars(klass)["__init__"])
            names |= {p for p in sig.parameters if p not in ("self", "args", "kwargs")}
    return names | {"name", "dtype", "trainable", "input_shape", "batch_size", "input_dim"}
