"""The fused Adam kernel is bit-identical to the readable NumPy update."""

from __future__ import annotations

import numpy as np
import pytest

from scratch import backend
from scratch.optimizers import SGD, Adam


@pytest.mark.parametrize("shape", [(130, 70), (30, 1), (1,), ()])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_adam_equals_numpy_bitwise(dtype, shape):
    rng = np.random.default_rng(0)
    w0 = np.asarray(rng.standard_normal(shape)).astype(dtype)
    results = []
    for fused in (True, False):  # the fused kernel, then the readable NumPy update
        with backend.fast_paths(fused):
            w, opt = w0.copy(), Adam(0.01)
            for step in range(12):
                g = np.asarray(np.random.default_rng(step).standard_normal(w.shape)).astype(dtype)
                opt.apply_gradients([(g, w)])
            results.append((w, opt.get_slot_values()))
    (w_fused, s_fused), (w_np, s_np) = results
    assert np.array_equal(w_fused, w_np)
    for a, b in zip(s_fused, s_np):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_adam_with_row_squares_equals_numpy_bitwise(dtype):
    """An Embedding's gradient carries Σ g_p² per row; the fused kernel uses it as NumPy does."""
    from scratch.optimizers.base import RowSparseGradient

    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((200, 8)).astype(dtype)
    results = []
    for fused in (True, False):
        with backend.fast_paths(fused):
            w, opt = w0.copy(), Adam(0.01)
            for step in range(8):
                r = np.random.default_rng(step)
                g = r.standard_normal(w.shape).astype(dtype)
                sq = (g * g + r.random(w.shape)).astype(dtype)  # not g·g: repeated ids
                opt.apply_gradients([(RowSparseGradient.from_rows(g, lambda sq=sq: sq), w)])
            results.append(w)
    assert np.array_equal(results[0], results[1])


@pytest.mark.parametrize("nesterov", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_sgd_momentum_equals_numpy_bitwise(dtype, nesterov):
    rng = np.random.default_rng(2)
    w0 = rng.standard_normal((90, 11)).astype(dtype)
    results = []
    for fused in (True, False):
        with backend.fast_paths(fused):
            w, opt = w0.copy(), SGD(0.05, 0.9, nesterov=nesterov)
            for step in range(10):
                g = np.random.default_rng(step).standard_normal(w.shape).astype(dtype)
                opt.apply_gradients([(g, w)])
            results.append((w, opt.get_slot_values()))
    (w_fused, s_fused), (w_np, s_np) = results
    assert np.array_equal(w_fused, w_np)
    for a, b in zip(s_fused, s_np):
        assert np.array_equal(a, b)
