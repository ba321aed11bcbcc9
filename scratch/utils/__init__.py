"""`scratch.utils`: seeding, small data helpers and the download cache, as in `keras.utils`."""

from __future__ import annotations

import numpy as np

from ..preprocessing.image_files import array_to_img, img_to_array, load_img, save_img
from ..preprocessing.sequence import pad_sequences
from ..random import set_random_seed
from .file_utils import get_file
from .image_dataset import image_dataset_from_directory


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
           "image_dataset_from_directory", "load_img", "img_to_array", "array_to_img", "save_img"]
