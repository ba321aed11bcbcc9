"""SimpleRNN: parity with tf.keras, finite differences, fast == readable and config round
trips (tests/parity_rnn.py's `check_rnn`), Lecture 44's hand-written loop, stateful calls,
masks, bad input, and the fast path's batch split across threads (for the three recurrent
layers).

The recurrent cases (`draw_rnn_case`: inputs, initial states, masks, injected dropout masks
and cotangents from one seed) live in tests/parity_rnn.py, shared with test_gru.py and
test_lstm.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.layers.recurrent import RNN, SimpleRNN, SimpleRNNCell
from scratch.testing import assert_close
from tests.conftest import expensive
from tests.parity import compare, run_scratch
from tests.parity_rnn import RnnCase, check_rnn, draw_rnn_case, rnn_inputs, rnn_layer

SIMPLE_EDGE = RnnCase("SimpleRNN", {"units": 1, "return_sequences": True, "return_state": True,
                                    "go_backwards": True}, 1, 1, 1, True, True, False, 1,
                      "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
@example(case=None)
def test_simple_rnn_parity(tf_keras, tf, dtype, case):
    case = SIMPLE_EDGE._replace(dtype=dtype) if case is None else case.draw(
        draw_rnn_case("SimpleRNN", dtype))
    check_rnn(case, keras=tf_keras, tf=tf)


@expensive
@given(case=draw_rnn_case("SimpleRNN", "float64"))
def test_simple_rnn_gradcheck(case):
    check_rnn(case, gradcheck=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
def test_simple_rnn_fast_equals_readable(dtype, case):
    check_rnn(case.draw(draw_rnn_case("SimpleRNN", dtype)))


def test_lecture44_hand_written_loop_reproduces_the_model():
    """Lecture 44: the course's loop over get_weights() gives model.predict's output."""
    from scratch.layers import Dense, Input
    from scratch.models import Model
    N, T, D, K, M = 1, 10, 3, 2, 5
    X = np.random.default_rng(44).standard_normal((N, T, D))
    i = Input(shape=(T, D))
    x = SimpleRNN(M)(i)
    x = Dense(K)(x)
    model = Model(i, x)
    Yhat = model.predict(X, verbose=0)
    assert Yhat.shape == (N, K)
    a, b, c = model.layers[1].get_weights()
    assert (a.shape, b.shape, c.shape) == ((D, M), (M, M), (M,))
    Wx, Wh, bh = model.layers[1].get_weights()
    Wo, bo = model.layers[2].get_weights()
    h_last = np.zeros(M)
    x = X[0]
    Yhats = []
    for t in range(T):
        h = np.tanh(x[t].dot(Wx) + h_last.dot(Wh) + bh)
        y = h.dot(Wo) + bo
        Yhats.append(y)
        h_last = h
    assert_close(Yhat[0], Yhats[-1].astype("float32"), kind="forward", dtype="float32")


def test_generic_rnn_with_cell_equals_simple_rnn():
    """RNN(SimpleRNNCell(M)) is SimpleRNN(M); the cell called alone is one step of it."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 3))
    layer = SimpleRNN(3, return_sequences=True, dtype="float64")
    generic = RNN(SimpleRNNCell(3, dtype="float64"), return_sequences=True, dtype="float64")
    y = layer(x)
    generic.build(x.shape)
    generic.set_weights(layer.get_weights())
    np.testing.assert_array_equal(generic(x), y)
    h1, states = generic.cell(x[:, 0], [np.zeros((2, 3))])
    np.testing.assert_array_equal(h1, y[:, 0])
    np.testing.assert_array_equal(states[0], h1)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_array_equal(generic.backward(dy), layer.backward(dy))


def test_stateful_two_calls_equal_one_call_and_reset_state():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 3)).astype("float32")
    full = SimpleRNN(4, return_sequences=True)
    y = full(x)
    stateful = SimpleRNN(4, return_sequences=True, stateful=True)
    stateful.build(x.shape)
    stateful.set_weights(full.get_weights())
    y1 = stateful(x[:, :2])
    y2 = stateful(x[:, 2:])
    assert_close(np.concatenate([y1, y2], axis=1), y, kind="fast_vs_readable", dtype="float32")
    np.testing.assert_array_equal(stateful.states[0], y2[:, -1])
    assert len(stateful.get_weights()) == 3  # the states are not weights, as in Keras
    stateful.reset_states()
    np.testing.assert_array_equal(stateful.states[0], 0)
    np.testing.assert_array_equal(stateful(x[:, :2]), y1)


def test_stateful_matches_keras(tf_keras):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 5, 2)).astype("float32")
    ours = SimpleRNN(3, stateful=True)
    ours.build(x.shape)
    theirs = tf_keras.layers.SimpleRNN(3, stateful=True)
    theirs.build(x.shape)
    theirs.set_weights(ours.get_weights())
    for _ in range(2):
        assert_close(ours(x), theirs(x).numpy(), kind="forward", dtype="float32")
    assert_close(ours.states[0], theirs.states[0].numpy(), kind="forward", dtype="float32")


def test_mask_propagates_only_with_return_sequences():
    x = np.ones((2, 3, 1), "float32")
    mask = np.array([[True, False, True], [True, True, False]])
    for rs, rstate in [(False, False), (True, False), (True, True), (False, True)]:
        layer = SimpleRNN(2, return_sequences=rs, return_state=rstate)
        layer(x, mask=mask)
        out_mask = layer.compute_mask(x, mask)
        first = out_mask[0] if rstate else out_mask
        assert (first is mask) == rs
        if rstate:
            assert out_mask[1:] == [None]


def _assert_rejected_without_change(layer, call, match):
    before = [w.copy() for w in layer.get_weights()]
    states = None if layer.states is None else [s.copy() for s in layer.states]
    cache = layer._cache
    with pytest.raises(ValueError, match=match):
        call()
    for w, b in zip(layer.get_weights(), before, strict=True):
        np.testing.assert_array_equal(w, b)
    if states is not None:
        for s, b in zip(layer.states, states, strict=True):
            np.testing.assert_array_equal(s, b)
    assert layer._cache is cache


def test_bad_input_errors_leave_the_layer_unchanged():
    x = np.random.default_rng(0).standard_normal((4, 5, 3)).astype("float32")
    layer = SimpleRNN(2, stateful=True)
    layer(x)
    # 2-D input: the course's N×T×D lesson (Lectures 42, 44).
    _assert_rejected_without_change(layer, lambda: layer(x[:, :, 0]), r"expected ndim=3.*N×T×D")
    _assert_rejected_without_change(layer, lambda: layer(x[..., :2]), "last dimension 3")
    _assert_rejected_without_change(layer, lambda: layer(x[:3]), "batch size")
    good = np.zeros((4, 2), "float32")
    _assert_rejected_without_change(
        layer, lambda: layer(x, initial_state=[good, good]), "expected 1 initial state")
    _assert_rejected_without_change(
        layer, lambda: layer(x, initial_state=[np.zeros((4, 3), "float32")]), r"shape \(4, 2\)")
    _assert_rejected_without_change(
        layer, lambda: layer(x, mask=np.ones((4, 4), bool)), "mask of shape")
    with pytest.raises(ValueError, match="expected ndim=3"):
        SimpleRNN(2)(np.zeros((4, 5), "float32"))
    with pytest.raises(ValueError, match="positive integer"):
        SimpleRNN(0)
    with pytest.raises(RuntimeError, match="forward"):
        SimpleRNN(2).backward(np.zeros((1, 2)))


def test_config_round_trip_and_keras_keys(tf_keras):
    layer = SimpleRNN(3, activation="relu", return_sequences=True, go_backwards=True,
                      dropout=0.25, seed=7)
    config = layer.get_config()
    clone = SimpleRNN.from_config(config)
    assert clone.get_config() == {**config, "name": clone.name}
    keras_keys = set(tf_keras.layers.SimpleRNN(3).get_config())
    missing = keras_keys - set(config) - {"kernel_regularizer", "recurrent_regularizer",
                                          "bias_regularizer", "activity_regularizer",
                                          "kernel_constraint", "recurrent_constraint",
                                          "bias_constraint"}
    assert not missing


def _fast_runs(case, set_threads, settings, default, check) -> list:
    """The case's layer on its fast path, run once per thread setting (`set_threads(value)`,
    reset to `default` after each); `check(layer, value)` must hold after every run."""
    lay = rnn_layer(case)
    lay.fast_path = True
    data = rnn_inputs(case, lay)
    runs = []
    for value in settings:
        set_threads(value)
        try:
            runs.append(run_scratch(lay, data.x, data.cotangents, call_kwargs=data.call_kwargs,
                                    before_call=data.before_call))
        finally:
            set_threads(default)
        assert check(lay, value), value
    return runs


@pytest.mark.parametrize("layer", ["SimpleRNN", "GRU", "LSTM"])
def test_batch_split_across_threads_equals_one_thread(monkeypatch, layer):
    """The fast path may cut a big batch into chunks run in threads: same numbers."""
    from scratch._kernels import recurrent as kernels
    monkeypatch.setattr(kernels, "MIN_ROWS_PER_THREAD", 2)
    monkeypatch.setattr(kernels, "MIN_WORK_PER_STEP", 0)
    config = {"units": 4, "return_sequences": True, "return_state": True, "go_backwards": True,
              "dropout": 0.3}
    for dtype in ("float64", "float32"):
        case = RnnCase(layer, config, 7, 4, 3, True, True, True, 21, dtype)
        one, split = _fast_runs(case, kernels.set_threads, (1, 3), None,
                                lambda lay, n: isinstance(lay._cache.sequence,
                                                          kernels.SplitCache) == (n > 1))
        compare(split, one, dtype, kind="fast_vs_readable")
    with pytest.raises(ValueError, match="positive integer"):
        kernels.set_threads(0)


@pytest.mark.parametrize("layer", ["GRU", "LSTM"])
def test_default_batch_split_gives_the_same_bits_on_one_or_two_threads(monkeypatch, layer):
    """By default a big batch is cut in two halves by its shapes alone, and the engine's
    thread policy only decides whether they run side by side: the same bits either way."""
    from scratch import _threads
    from scratch._kernels import recurrent as kernels
    monkeypatch.setattr(kernels, "SPLIT_WORK", 0)
    monkeypatch.setattr(kernels, "SPLIT_MIN_ROWS", 2)
    monkeypatch.setattr(kernels, "MIN_WORK_PER_STEP", 0)
    assert kernels.get_threads() is None
    config = {"units": 5, "return_sequences": True, "return_state": True}
    for dtype in ("float64", "float32"):
        case = RnnCase(layer, config, 6, 5, 3, True, True, False, 22, dtype)
        one, two = _fast_runs(case, _threads.set_engine_blas_threads, (1, 2), "auto",
                              lambda lay, n: len(lay._cache.sequence.slices) == 2)
        compare(two, one, dtype, exact=True)


@pytest.mark.parametrize("layer", ["SimpleRNN", "GRU", "LSTM"])
def test_sequences_are_step_major_copies_read_without_transposing(layer):
    """With return_sequences the fast path hands out its outputs in the time loop's memory
    order, (T, N, M) step-major seen as (N, T, M), as a copy that aliases no cache; the
    layers reading sequences step by step take it as it is inside a model (whose graph walk
    calls `forward`; a layer called on its own makes its input C-ordered first):
    GlobalMaxPooling1D's kernels (their dx step-major too) and a second recurrent layer.
    Same bits as from a C-ordered copy."""
    import scratch
    from scratch.layers.pooling import GlobalMaxPooling1D

    def fast(made):
        made.fast_path = True  # also under SCRATCH_FAST_PATHS=0
        return made

    rng = np.random.default_rng(5)
    for dtype in ("float32", "float64"):
        x = rng.standard_normal((6, 9, 4)).astype(dtype)
        rnn = fast(getattr(scratch.layers, layer)(3, return_sequences=True, dtype=dtype))
        y = rnn(x)
        assert not y.flags.c_contiguous and y.transpose(1, 0, 2).flags.c_contiguous
        d_seq = rng.standard_normal(y.shape).astype(dtype)
        before = rnn.backward(d_seq), {k: g.copy() for k, g in rnn.grads.items()}
        kept = y.copy(order="K")
        y[...] = 7  # the caller's array: no cache of the layer is in it
        after = rnn.backward(d_seq), rnn.grads
        np.testing.assert_array_equal(before[0], after[0])
        for name, g in before[1].items():
            np.testing.assert_array_equal(g, after[1][name])
        y, c_ordered = kept, np.ascontiguousarray(kept)
        pool, dy = fast(GlobalMaxPooling1D(dtype=dtype)), rng.standard_normal((6, 3)).astype(dtype)
        out, dx = pool.forward(y), pool.backward(dy)
        assert dx.transpose(1, 0, 2).flags.c_contiguous  # what a recurrent layer reads
        np.testing.assert_array_equal(out, pool.forward(c_ordered))
        np.testing.assert_array_equal(dx, pool.backward(dy))
        runs = []
        for seq in (y, c_ordered):
            scratch.utils.set_random_seed(0)
            second = fast(getattr(scratch.layers, layer)(2, return_sequences=True, dtype=dtype))
            second.build(seq.shape)
            runs.append((second.forward(seq), second.backward(np.ones((6, 9, 2), dtype))))
        for a, b in zip(*runs, strict=True):
            np.testing.assert_array_equal(a, b)
