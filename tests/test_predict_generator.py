"""predict() on a generator of batches, as Keras: `steps` batches, or all of a finite one."""

from __future__ import annotations

import numpy as np
import pytest

import scratch
from scratch.preprocessing.image import ImageDataGenerator
from scratch.testing import assert_close


def _model():
    scratch.utils.set_random_seed(0)
    return scratch.Sequential([scratch.Input((4, 4, 1)), scratch.layers.Flatten(),
                               scratch.layers.Dense(3)])


def _batchwise(model, x, size):
    """The model's outputs batch by batch, as predict computes a generator's batches: the same
    GEMM shapes, so the same bits on every CPU. Against one batch of all the rows the last
    bits may differ: with x86-64-v2 forced (OpenBLAS' Nehalem kernels) the third column of
    the Dense(3) output differed in 5 of 10 rows by up to 2.4e-7, batches of 4 against one
    of 10 (on v3 and v4 they were equal)."""
    return np.concatenate([model.predict(x[i:i + size], verbose=0)
                           for i in range(0, len(x), size)])


def test_predict_on_an_endless_flow_takes_steps_batches():
    model = _model()
    x = np.random.default_rng(0).standard_normal((10, 4, 4, 1)).astype("float32")
    flow = ImageDataGenerator().flow(x, np.zeros(10), batch_size=4, shuffle=False)
    out = model.predict(flow, steps=3, verbose=0)  # 4 + 4 + 2 rows, then it would wrap
    np.testing.assert_array_equal(out, _batchwise(model, x, 4))
    assert_close(out, model.predict(x, verbose=0), kind="fast_vs_readable", dtype="float32")


def test_predict_on_a_finite_iterator_and_errors():
    model = _model()
    x = np.random.default_rng(1).standard_normal((6, 4, 4, 1)).astype("float32")
    batches = [x[:4], x[4:]]
    np.testing.assert_array_equal(model.predict(iter(batches), steps=5, verbose=0),
                                  _batchwise(model, x, 4))
    np.testing.assert_array_equal(model.predict(ImageDataGenerator().flow(
        x, batch_size=4, shuffle=False), verbose=0), _batchwise(model, x, 4))
    with pytest.raises(ValueError, match="Received: steps=None"):
        model.predict(iter(batches), verbose=0)
