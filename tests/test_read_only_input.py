"""Read-only arrays (memory-mapped files, frozen views) go through every layer's kernels."""

from __future__ import annotations

import numpy as np

import scratch


def test_read_only_input_trains_and_predicts():
    """A read-only array (a memory-mapped file, a frozen view) goes through the im2col
    kernel, whose loop also scatters: the layer hands it a writable copy."""
    model = scratch.Sequential([scratch.Input((8, 8, 3)), scratch.layers.Conv2D(4, 3),
                                scratch.layers.MaxPooling2D(), scratch.layers.Flatten(),
                                scratch.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    x = np.ones((2, 8, 8, 3), np.float32)
    x.flags.writeable = False
    y = np.ones((2, 2), np.float32)
    y.flags.writeable = False
    model.fit(x, y, verbose=0)
    writable = x.copy()
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(writable, verbose=0))
