"""Boston housing prices (`keras.datasets.boston_housing`): 13 features, price in k$."""

from __future__ import annotations

import numpy as np

from ..utils.file_utils import get_file
from ._files import ORIGIN


def load_data(path="boston_housing.npz", test_split=0.2, seed=113):
    """((x_train (404, 13) float64, y_train (404,)), (x_test (102, 13), y_test (102,))).

    Shuffled with `np.random.RandomState(seed)` before the split, as Keras.
    """
    if not 0 <= test_split < 1:
        raise ValueError(f"Invalid `test_split` argument: {test_split}. It must be between 0 "
                         "and 1 (exclusive of 1).")
    path = get_file(path, origin=f"{ORIGIN}boston_housing.npz",
                    file_hash="f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5")
    with np.load(path, allow_pickle=False) as f:
        x, y = f["x"], f["y"]
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
