"""Fashion-MNIST (`keras.datasets.fashion_mnist`): 28×28 grayscale clothes, 10 classes, uint8.

Classes: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
7 Sneaker, 8 Bag, 9 Ankle boot.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

from ..utils.file_utils import get_file
from ._files import ORIGIN

_FILES = ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
          "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")


def load_data():
    """((x_train (60000, 28, 28) uint8, y_train (60000,) uint8), (x_test, y_test)).

    Four gzip'd idx files in `~/.keras/datasets/fashion-mnist/`, as Keras keeps them.
    """
    dirname = os.path.join("datasets", "fashion-mnist")
    paths = [get_file(name, origin=ORIGIN + name, cache_subdir=dirname) for name in _FILES]

    def read(path, offset):
        with gzip.open(path, "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)

    y_train, y_test = read(paths[0], 8), read(paths[2], 8)
    x_train = read(paths[1], 16).reshape(len(y_train), 28, 28)
    x_test = read(paths[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)
