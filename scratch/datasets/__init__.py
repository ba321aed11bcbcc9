"""Datasets: Keras' loaders (`keras.datasets`) and small bundled ones for the examples.

Keras' loaders, same files, cache paths (`~/.keras/datasets`, `$KERAS_HOME/datasets`), URLs,
hashes and return values as tf.keras, so files tf.keras downloaded are read offline:
`mnist`, `fashion_mnist`, `cifar10`, `cifar100`, `imdb`, `reuters`, `boston_housing`, each with
`load_data()` (and `get_word_index()` for imdb and reuters). A missing file is downloaded
through `scratch.utils.get_file`; offline, the error says where to put it.

Bundled (nothing is downloaded):

* `load_moore()`: (year, transistor count) of real microprocessors, 1971–2023 (Lecture 12),
  shipped as `moore.csv` beside this file. Rows: Intel 4004, 8008, 8080, Motorola 6800,
  MOS 6502, Zilog Z80, Intel 8086, Motorola 68000, 80286, 80386, 80486, Pentium,
  Pentium Pro, Pentium II, Pentium III, Pentium 4, AMD K8, Itanium 2, Core 2 Duo, Core i7,
  Core i7 Gulftown, Xeon Phi, Xbox One SoC, Xeon Haswell-EP, SPARC M7, AMD Epyc, Epyc Rome,
  Apple M1, M1 Max, M1 Ultra, M2 Ultra (published transistor counts).
* `load_digits_split()`: scikit-learn's 8×8 digits (ships with scikit-learn), scaled to
  [0, 1] and split deterministically; optional upsampling to 28×28 like MNIST.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import boston_housing, cifar10, cifar100, fashion_mnist, imdb, mnist, reuters

_HERE = Path(__file__).parent


def load_moore() -> tuple[np.ndarray, np.ndarray]:
    """Return (years (N,), transistor counts (N,)) as float64 arrays."""
    data = np.loadtxt(_HERE / "moore.csv", delimiter=",")
    return data[:, 0], data[:, 1]


def load_digits_split(test_size: float = 0.25, seed: int = 0, size: int | None = None):
    """scikit-learn's digits as ((x_train, y_train), (x_test, y_test)), pixels in [0, 1].

    Images are (N, 8, 8); with `size=28` they are upsampled (bilinear) to (N, 28, 28).
    Needs scikit-learn (the `examples` extra).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("load_digits_split needs scikit-learn: pip install "
                          "'scratch[examples]'") from e
    digits = load_digits()
    x = digits.images.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    if size is not None and size != 8:
        from scipy.ndimage import zoom

        x = np.clip(zoom(x, (1, size / 8, size / 8), order=1), 0.0, 1.0)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_size))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
           "load_moore", "load_digits_split"]
