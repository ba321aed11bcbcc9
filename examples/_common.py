"""Plumbing shared by the course examples, kept out of the course code itself.

Every example takes ``--out DIR`` (default ``out/``; created if missing) for its PNG files and
``--epochs N`` to run shorter than the course (the tests use 1–2). Matplotlib runs on the Agg
backend, so ``plt.show()`` in the course becomes ``save("name")``: the figure is written to
``DIR/name.png`` and closed.

Importing this module also makes ``import scratch`` work from a plain checkout (repository root
on ``sys.path``) when the package is not installed, so ``python examples/lecture10_...py`` runs
either way.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import sys
from pathlib import Path
from types import SimpleNamespace

if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("MPLBACKEND", "Agg")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["dataset_available", "digits_as", "load_spam", "parse_args", "plt", "save"]

_OUT = Path("out")


def parse_args(description: str, epochs: int, download: bool = False) -> argparse.Namespace:
    """Parse ``--out`` and ``--epochs`` (course default `epochs`), create the output folder.

    Args:
        description: one line shown by ``--help``.
        epochs: the number of epochs the course trains for.
        download: also take ``--download`` (fetch a missing Keras dataset; see
            `dataset_available`).

    Returns:
        The namespace with ``out`` (a Path), ``epochs`` (a positive int) and, with
        `download`, ``download`` (a bool).
    """
    parser = argparse.ArgumentParser(description=description)
    if download:
        parser.add_argument("--download", action="store_true",
                            help="download the course's dataset when Keras' cache lacks it "
                                 "(default: use the bundled digits instead)")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="folder for the PNG files (default: out/)")
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"training epochs (course: {epochs}; use 1-2 for a smoke run)")
    args = parser.parse_args()
    if args.epochs < 1:
        parser.error(f"--epochs expected a positive integer. Received: epochs={args.epochs}")
    args.out.mkdir(parents=True, exist_ok=True)
    global _OUT
    _OUT = args.out
    return args


def save(name: str, fig=None) -> Path:
    """Write the current (or given) figure to ``<out>/<name>.png``, close it, print the path."""
    fig = fig if fig is not None else plt.gcf()
    path = _OUT / f"{name}.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"wrote {path}")
    return path


# The files each Keras dataset keeps in its cache folder (<KERAS_HOME or ~/.keras>/datasets).
_DATASET_FILES = {
    "mnist": ["mnist.npz"],
    "fashion_mnist": [f"fashion-mnist/{name}" for name in (
        "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")],
    "cifar10": ["cifar-10-batches-py-target_archive"],   # extracted beside it on first load
}

# What `digits_as(name)` gives instead of each dataset.
_STAND_INS = {
    "mnist": "scikit-learn's digits upsampled to 28x28",
    "fashion_mnist": "scikit-learn's digits upsampled to 28x28",
    "cifar10": "scikit-learn's digits upsampled to 32x32, in random colours",
}


def dataset_available(name: str, download: bool = False) -> bool:
    """Whether `keras.datasets.<name>.load_data()` can run without surprises.

    True when Keras' cache already holds the dataset's files (tf.keras or scratch put them
    there), or when `download` asks to fetch them (then load_data downloads them once).
    Otherwise it prints what the example uses instead (`digits_as(name)`) and how to get the
    real data, and returns False: an example never reaches for the network unless told to.
    """
    from scratch.utils.file_utils import keras_home

    folder = Path(keras_home()) / "datasets"
    if download or all((folder / f).is_file() for f in _DATASET_FILES[name]):
        return True
    print(f"keras.datasets.{name} is not in Keras' cache ({folder}): using {_STAND_INS[name]} "
          "instead. To train on the course's data, run once with --download (or with "
          f"tf.keras: keras.datasets.{name}.load_data()), or set KERAS_HOME to a folder that "
          "holds it.")
    return False


def digits_as(name: str) -> SimpleNamespace:
    """A stand-in for `keras.datasets.<name>` whose `load_data()` returns scikit-learn's
    digits (1,348 train, 449 test) in that dataset's exact format, so the course's lines
    after it (x / 255.0, y.flatten(), np.expand_dims) run unchanged:

    * "mnist", "fashion_mnist": x (N, 28, 28) uint8 in 0–255, y (N,) uint8;
    * "cifar10": x (N, 32, 32, 3) uint8, each digit in a random colour on a random
      background (so colour says nothing about the class), y (N, 1) uint8.
    """
    from scratch.datasets import load_digits_split

    def load_data():
        size = 32 if name == "cifar10" else 28
        rng = np.random.default_rng(10)
        parts = []
        for x, y in load_digits_split(size=size):
            if name == "cifar10":
                fg, bg = (rng.uniform(0, 1, (len(x), 1, 1, 3)) for _ in range(2))
                x = x[..., None] * fg + (1 - x[..., None]) * bg
                y = y.reshape(-1, 1)
            parts.append((np.round(x * 255).astype(np.uint8), y.astype(np.uint8)))
        return tuple(parts)

    return SimpleNamespace(load_data=load_data)


SPAM_CSV = Path(__file__).resolve().parent / "data" / "spam.csv"


def load_spam(path=SPAM_CSV):
    """examples/data/spam.csv → (messages, labels: ham 0, spam 1), without pandas.

    The file has the layout of the course's spam.csv (ISO-8859-1; columns v1 = label,
    v2 = message, then three empty unnamed columns, which the course drops): 700 SMS-style
    messages, 111 of them spam, generated from templates with a fixed seed (a stand-in for
    the 5,572 messages of the original; nothing to download).
    """
    with open(path, encoding="ISO-8859-1", newline="") as f:
        rows = list(csv.reader(f))
    if rows[0][:2] != ["v1", "v2"]:
        raise ValueError(f"{path}: expected the columns v1, v2. Received: {rows[0]}")
    mapping = {"ham": 0, "spam": 1}
    return [r[1] for r in rows[1:]], np.array([mapping[r[0]] for r in rows[1:]])
