"""Keras model configs (``config.json``) ⇄ scratch models: the public names in one place.

The format lives in five modules of this package, one per audience:

* `registry`: the format's version and errors, Keras class names ⇄ scratch classes, the
  Keras arguments scratch does not model (`NEUTRAL`, `ANY_VALUE`);
* `config_values`: a config's structure checked as it is read, its values in either engine's
  form (dtypes, initializers);
* `keras_order`: Keras' `model.layers` order, its trainable weights and weight paths (what
  weight files and optimizer slots are keyed by);
* `serialize`: a scratch model → its Keras config; `deserialize`: a Keras config → a scratch
  model (the graph rebuilt);
* `compile_settings`: the compile settings, both ways.

This module re-exports their public names for code that imports them from here.
"""

from __future__ import annotations

from .compile_settings import as_flat, compile_config, compile_from_config
from .config_values import class_and_config, dtype_name, expect
from .deserialize import layer_from_entry, model_from_config, scratch_config_from_keras
from .keras_order import (
    keras_layers,
    keras_trainable_weights,
    layer_children,
    own_weights,
    weight_paths,
)
from .registry import (
    ANY_VALUE,
    KERAS_FORMAT_VERSION,
    NEUTRAL,
    FileFormatError,
    UnsupportedError,
    accepted_args,
    keras_class_name,
    layer_class,
    unique_keys,
)
from .serialize import keras_layer_config, serialize_model

__all__ = ["KERAS_FORMAT_VERSION", "UnsupportedError", "FileFormatError", "NEUTRAL",
           "ANY_VALUE", "keras_class_name", "unique_keys", "layer_class", "accepted_args",
           "expect", "class_and_config", "dtype_name", "scratch_config_from_keras",
           "keras_layer_config", "keras_layers", "layer_children", "own_weights",
           "keras_trainable_weights", "weight_paths", "serialize_model", "compile_config",
           "compile_from_config", "as_flat", "layer_from_entry", "model_from_config"]
