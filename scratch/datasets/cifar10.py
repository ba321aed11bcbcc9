"""CIFAR-10 (`keras.datasets.cifar10`): 50,000 + 10,000 32×32 colour images, 10 classes.

Classes: 0 airplane, 1 automobile, 2 bird, 3 cat, 4 deer, 5 dog, 6 frog, 7 horse, 8 ship,
9 truck.
"""

from __future__ import annotations

import os

import numpy as np

from ..utils.file_utils import get_file
from ._files import load_cifar_batch


def load_data():
    """((x_train (50000, 32, 32, 3) uint8, y_train (50000, 1) uint8), (x_test, y_test)).

    Keras' cache: the archive `~/.keras/datasets/cifar-10-batches-py-target_archive`
    (cifar-10-python.tar.gz), extracted into `cifar-10-batches-py-target/`.
    """
    path = get_file(fname="cifar-10-batches-py-target",
                    origin="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                    extract=True,
                    file_hash="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce")
    path = os.path.join(path, "cifar-10-batches-py")
    x_train = np.empty((50000, 3, 32, 32), dtype="uint8")
    y_train = np.empty((50000,), dtype="uint8")
    for i in range(1, 6):
        rows = slice((i - 1) * 10000, i * 10000)
        x_train[rows], y_train[rows] = load_cifar_batch(os.path.join(path, f"data_batch_{i}"))
    x_test, y_test = load_cifar_batch(os.path.join(path, "test_batch"))
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    x_train = x_train.transpose(0, 2, 3, 1)   # channels_last, scratch's only layout
    x_test = x_test.transpose(0, 2, 3, 1)
    return (x_train, y_train), (x_test.astype(x_train.dtype), y_test.astype(y_train.dtype))
