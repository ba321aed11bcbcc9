"""CIFAR-100 (`keras.datasets.cifar100`): 32×32 colour images, 100 fine or 20 coarse classes."""

from __future__ import annotations

import os

import numpy as np

from ..utils.file_utils import get_file
from ._files import load_cifar_batch


def load_data(label_mode="fine"):
    """((x_train (50000, 32, 32, 3) uint8, y_train (50000, 1) int64), (x_test, y_test)).

    `label_mode`: "fine" (100 classes) or "coarse" (20). Keras' cache: the archive
    `~/.keras/datasets/cifar-100-python-target_archive`, extracted beside it.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError('`label_mode` must be one of `"fine"`, `"coarse"`. '
                         f"Received: label_mode={label_mode}.")
    path = get_file(fname="cifar-100-python-target",
                    origin="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                    extract=True,
                    file_hash="85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7")
    path = os.path.join(path, "cifar-100-python")
    x_train, y_train = load_cifar_batch(os.path.join(path, "train"), f"{label_mode}_labels")
    x_test, y_test = load_cifar_batch(os.path.join(path, "test"), f"{label_mode}_labels")
    y_train = np.reshape(y_train, (len(y_train), 1))
    y_test = np.reshape(y_test, (len(y_test), 1))
    return (x_train.transpose(0, 2, 3, 1), y_train), (x_test.transpose(0, 2, 3, 1), y_test)
