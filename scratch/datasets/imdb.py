"""IMDB movie reviews (`keras.datasets.imdb`): 25,000 + 25,000 reviews as word indices.

Index 0 is padding, `start_char` (1) starts every review, `oov_char` (2) stands for a word
cut by `num_words`/`skip_top`, and real words start at `index_from` (3): the word of rank r
in `get_word_index()` has index r + index_from.
"""

from __future__ import annotations

import json

import numpy as np

from ..utils.file_utils import get_file
from ._files import ORIGIN, index_words, limit_words, load_npz


def load_data(path="imdb.npz", num_words=None, skip_top=0, maxlen=None, seed=113,
              start_char=1, oov_char=2, index_from=3, **kwargs):
    """((x_train, y_train), (x_test, y_test)), as Keras.

    x: object arrays of Python lists of word indices; y: int64 labels (1 = positive).
    Both halves are shuffled with `np.random.RandomState(seed)`; `maxlen` drops reviews of
    `maxlen` words or more; `num_words` keeps the most frequent words (others → `oov_char`,
    or dropped when `oov_char=None`), `skip_top` also cuts the most frequent ones.
    """
    path = get_file(fname=path, origin=f"{ORIGIN}imdb.npz",
                    file_hash="69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f")
    f = load_npz(path)
    x_train, labels_train = f["x_train"], f["y_train"]
    x_test, labels_test = f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train, labels_train = x_train[indices], labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test, labels_test = x_test[indices], labels_test[indices]

    x_train, labels_train = index_words(x_train, labels_train, start_char, index_from, maxlen)
    x_test, labels_test = index_words(x_test, labels_test, start_char, index_from, maxlen)
    if maxlen and (not x_train or not x_test):
        raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no "
                         "sequence was kept. Increase maxlen.")
    xs = limit_words(x_train + x_test, num_words, skip_top, oov_char)
    labels = np.concatenate([labels_train, labels_test])
    idx = len(x_train)
    return ((np.array(xs[:idx], dtype="object"), labels[:idx]),
            (np.array(xs[idx:], dtype="object"), labels[idx:]))


def get_word_index(path="imdb_word_index.json"):
    """{word: rank} (1 = most frequent), from Keras' `imdb_word_index.json`."""
    path = get_file(fname=path, origin=f"{ORIGIN}imdb_word_index.json",
                    file_hash="bfafd718b763782e994055a2d397834f")
    with open(path) as f:
        return json.load(f)
