"""`scratch.utils`: seeding, small data helpers and the download cache, as in `keras.utils`.

The helpers load on first use (`scratch.utils.load_img` imports the image code then), so that
the engine's own imports of `scratch.utils.naming` stay cheap.
"""

from __future__ import annotations

import importlib

import numpy as np

# name -> the module that defines it
_LAZY = {
    "set_random_seed": "scratch.random",
    "pad_sequences": "scratch.preprocessing.sequence",
    "get_file": "scratch.utils.file_utils",
    "image_dataset_from_directory": "scratch.utils.image_dataset",
    "load_img": "scratch.preprocessing.image_files",
    "img_to_array": "scratch.preprocessing.image_files",
    "array_to_img": "scratch.preprocessing.image_files",
    "save_img": "scratch.preprocessing.image_files",
    "pack_x_y_sample_weight": "scratch.models.custom_step",
    "unpack_x_y_sample_weight": "scratch.models.custom_step",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scratch.utils' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


def to_categorical(x, num_classes=None):
    """One-hot encode integer labels: (N,) → (N, num_classes), float32 like Keras."""
    x = np.asarray(x, dtype="int64")
    shape = x.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    x = x.reshape(-1)
    if num_classes is None:
        num_classes = int(x.max()) + 1
    out = np.zeros((x.size, num_classes), dtype="float32")
    out[np.arange(x.size), x] = 1.0
    return out.reshape(shape + (num_classes,))


__all__ = ["set_random_seed", "to_categorical", "pad_sequences", "get_file",
           "image_dataset_from_directory", "load_img", "img_to_array", "array_to_img", "save_img",
           "pack_x_y_sample_weight", "unpack_x_y_sample_weight"]
