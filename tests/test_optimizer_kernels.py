"""The fused Adam kernel is bit-identical to the readable NumPy update."""

from __future__ import annotations

import numpy as np
import pytest

import scratch.optimizers.adam as adam_module
from scratch.optimizers import Adam


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_adam_equals_numpy_bitwise(dtype, monkeypatch):
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((130, 70)).astype(dtype)
    results = []
    for min_size in (64, 10**12):  # fused, then forced NumPy
        monkeypatch.setattr(adam_module, "_FUSE_MIN_SIZE", min_size)
        w, opt = w0.copy(), Adam(0.01)
        for step in range(12):
            g = np.random.default_rng(step).standard_normal(w.shape).astype(dtype)
            opt.apply_gradients([(g, w)])
        results.append((w, opt.get_slot_values()))
    (w_fused, s_fused), (w_np, s_np) = results
    assert np.array_equal(w_fused, w_np)
    for a, b in zip(s_fused, s_np):
        assert np.array_equal(a, b)
