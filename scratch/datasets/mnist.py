"""MNIST (`keras.datasets.mnist`): 60,000 + 10,000 28×28 grayscale digits, uint8."""

from __future__ import annotations

import numpy as np

from ..utils.file_utils import get_file
from ._files import ORIGIN


def load_data(path="mnist.npz"):
    """((x_train (60000, 28, 28) uint8, y_train (60000,) uint8), (x_test, y_test)).

    The file is Keras' `mnist.npz` in `~/.keras/datasets/` (or `$KERAS_HOME/datasets/`),
    downloaded from Keras' origin when missing.
    """
    path = get_file(fname=path, origin=f"{ORIGIN}mnist.npz",
                    file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
