"""Subnormal numbers are read and written as zero while the engine works, as in TensorFlow
(scratch/_denormals.py): the same bits as tf.keras where they appear, and no slow microcode."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import scratch
from scratch import _denormals
from scratch._denormals import subnormals_as_zero

pytestmark = pytest.mark.skipif(not _denormals.supported(),
                                reason="the processor modes are switched on x86-64 only")

TINY32 = np.finfo(np.float32).tiny  # 2⁻¹²⁶, the smallest normal float32


def _subnormal_count(a: np.ndarray) -> int:
    return int(np.sum((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))


def test_inside_the_block_subnormals_are_zero_and_outside_they_are_not():
    x = np.array([1e-39, 2e-38, 1e-30], np.float32)  # subnormal, normal, normal
    half = np.float32(0.5)
    assert _subnormal_count(x * half) == 2  # 5e-40 and 1e-38 are subnormal
    with subnormals_as_zero():
        assert (x * half).tolist() == [0.0, 0.0, np.float32(5e-31)]  # results flushed
        assert (x + np.float32(0)).tolist() == [0.0, np.float32(2e-38), np.float32(1e-30)]
        with subnormals_as_zero():  # nested: still on, and still on after the inner block
            pass
        assert (x * half)[1] == 0
    assert _subnormal_count(x * half) == 2  # restored


def test_the_mode_is_restored_after_an_error_and_is_per_thread():
    x = np.array([1e-39], np.float32)
    with pytest.raises(RuntimeError), subnormals_as_zero():
        raise RuntimeError("inside")
    assert x[0] * np.float32(1) != 0
    seen, go = [], threading.Event()

    def compute() -> None:
        go.wait()
        seen.append(float(x[0] * np.float32(1)))

    other = threading.Thread(target=compute)  # started first: a new thread copies the modes
    other.start()
    with subnormals_as_zero():
        go.set()
        other.join()
    assert seen[0] != 0  # another thread keeps its own modes


def test_numba_kernels_flush_inside_the_block():
    from scratch._kernels.optimizers import adam_update

    w = np.ones(4, np.float32)
    g = np.zeros(4, np.float32)
    m = np.full(4, 2e-38, np.float32)  # (0 − m)·0.1 = −2e-39 is subnormal: flushed
    v = np.ones(4, np.float32)
    constants = (np.float32(1e-3), np.float32(0.1), np.float32(1e-3), np.float32(1e-7))
    m_plain = m.copy()
    adam_update(w.copy(), g, m_plain, v.copy(), *constants)
    assert m_plain[0] < 2e-38  # it decays
    with subnormals_as_zero():
        adam_update(w, g, m, v, *constants)
    assert m[0] == np.float32(2e-38)  # as TensorFlow: m + 0 (the increment was flushed)


@pytest.mark.parametrize("fast", [True, False])
def test_adam_on_subnormal_moments_is_tf_keras_bit_for_bit(tf_keras, fast):
    """Moments in and near the subnormal range, gradients with zeros and subnormals: the
    weights and slots after three steps equal tf.keras' bit for bit (fast and readable)."""
    keras = tf_keras
    rng = np.random.default_rng(0)
    n = 64
    w0 = rng.standard_normal(n).astype(np.float32)
    m0 = (rng.choice([1.0, -1.0], n) * rng.uniform(0.5, 30, n) * TINY32).astype(np.float32)
    v0 = (rng.uniform(0.5, 30, n) * TINY32).astype(np.float32)
    grads = []
    for _ in range(3):
        g = rng.standard_normal(n).astype(np.float32)
        g[::3] = 0
        g[1::5] = (rng.uniform(0.01, 1, len(g[1::5])) * TINY32).astype(np.float32)
        grads.append(g)

    opt = scratch.optimizers.Adam(learning_rate=0.01)
    w = w0.copy()
    opt.build([w])
    opt._momentums[0][...] = m0
    opt._velocities[0][...] = v0
    with scratch.backend.fast_paths(fast):
        for g in grads:
            opt.apply_gradients([(g.copy(), w)])

    kvar = keras.Variable(w0.copy())
    kopt = keras.optimizers.Adam(learning_rate=0.01)
    kopt.build([kvar])
    kopt._momentums[0].assign(m0)
    kopt._velocities[0].assign(v0)
    for g in grads:
        kopt.apply_gradients([(g, kvar)])

    np.testing.assert_array_equal(opt._momentums[0], kopt._momentums[0].numpy())
    np.testing.assert_array_equal(opt._velocities[0], kopt._velocities[0].numpy())
    np.testing.assert_array_equal(w, kvar.numpy())
    assert _subnormal_count(opt._momentums[0]) == 0


def test_a_long_fit_keeps_no_subnormal_moments():
    """Inputs that are 0 after the first batch give their Dense weights a zero gradient; with
    β₁ = 0.5, Adam's moments of those weights would pass into the subnormal range within about
    130 steps (they did before, and the update then ran in microcode)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1600, 6)).astype(np.float32)
    x[8:, :3] = 0  # columns 0-2 are nonzero in the first batch only
    y = rng.standard_normal((1600, 1)).astype(np.float32)
    scratch.utils.set_random_seed(0)
    model = scratch.Sequential([scratch.layers.Input((6,)), scratch.layers.Dense(4),
                                scratch.layers.Dense(1)])
    model.compile(optimizer=scratch.optimizers.Adam(beta_1=0.5), loss="mse")
    model.fit(x, y, batch_size=8, shuffle=False, verbose=0)  # 200 steps
    m = model.optimizer._momentums[0]
    assert np.all(m[:3] != 0)  # stopped in the normal range, as in TensorFlow
    assert _subnormal_count(m) == 0


def test_worker_threads_compute_in_the_callers_modes():
    """The engine's chunk threads (convolution and pooling chunks, recurrent batch halves)
    take on the modes of the thread that hands them a chunk: outside the engine no chunk is
    flushed, inside every one is, and one thread or several give the same bits either way.
    (Before, the workers kept the modes on for good: a layer called on its own flushed the
    chunks a worker happened to take and not the others.)"""
    from scratch._kernels import recurrent as recurrent_kernels
    from scratch.layers import SimpleRNN, conv

    x = np.full((6, 4), 5e-40, np.float32)  # subnormal: x·1 is x, or 0 with DAZ
    rnn = SimpleRNN(128, kernel_initializer="ones", recurrent_initializer="zeros",
                    dtype="float32")
    seq = np.full((128, 3, 2), 5e-40, np.float32)  # x·W = 1e-39: subnormal too
    rnn.build(seq.shape)

    def conv_chunks(threads):  # the convolution's and pooling's chunk runner
        barrier, out = threading.Barrier(threads), np.empty_like(x)

        def task(k, s):
            if k < threads:  # each thread holds one of the first chunks: all of them work
                barrier.wait(timeout=30)
            np.multiply(x[s], np.float32(1), out=out[s])

        conv._run_chunks(task, [slice(i, i + 1) for i in range(len(x))], threads)
        return out

    def rnn_halves(threads):  # the batch cut in `threads` chunks on as many pool threads
        recurrent_kernels.set_threads(threads)
        try:
            return rnn(seq, training=False)
        finally:
            recurrent_kernels.set_threads(None)

    for run in (conv_chunks, rnn_halves):
        one, two = run(1), run(2)
        assert _subnormal_count(one) == one.size  # nothing flushed
        np.testing.assert_array_equal(one, two)
        with subnormals_as_zero():
            one, two = run(1), run(2)
        assert not np.any(one) and not np.any(two)  # every chunk flushed
