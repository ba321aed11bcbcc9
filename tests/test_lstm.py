"""LSTM: parity with tf.keras, finite differences, fast path, return_state, graphs.

Each case is checked by tests/parity_rnn.py's `check_rnn` (the harness of tests/parity.py):
parity with tf.keras, fast == readable, config round trip, output shapes, finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.layers.recurrent import LSTM, RNN, LSTMCell
from scratch.testing import assert_close
from tests.conftest import expensive
from tests.parity_rnn import RnnCase, check_rnn, draw_rnn_case

LSTM_OPTIONS = {
    "unit_forget_bias": st.booleans(),
    "recurrent_activation": st.sampled_from(["sigmoid", "sigmoid", "hard_sigmoid"]),
    "implementation": st.sampled_from([1, 2]),
}

EDGE = RnnCase("LSTM", {"units": 1, "return_sequences": True, "return_state": True,
                        "go_backwards": True, "dropout": 0.5, "recurrent_dropout": 0.5},
               1, 1, 1, True, True, True, 3, "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
@example(case=None)
def test_lstm_parity(tf_keras, tf, dtype, case):
    case = EDGE._replace(dtype=dtype) if case is None else case.draw(
        draw_rnn_case("LSTM", dtype, LSTM_OPTIONS))
    check_rnn(case, keras=tf_keras, tf=tf)


def test_lstm_every_option_at_once(tf_keras, tf):
    config = {"units": 4, "return_sequences": True, "return_state": True, "go_backwards": True,
              "dropout": 0.3, "recurrent_dropout": 0.2}
    for dtype in ("float64", "float32"):
        check_rnn(RnnCase("LSTM", config, 3, 5, 2, True, True, True, 11, dtype),
                  keras=tf_keras, tf=tf)
        zero = {**config, "recurrent_dropout": 0.0, "zero_output_for_mask": True}
        check_rnn(RnnCase("LSTM", zero, 3, 5, 2, True, True, True, 12, dtype),
                  keras=tf_keras, tf=tf)


@expensive
@given(case=draw_rnn_case("LSTM", "float64", LSTM_OPTIONS))
def test_lstm_gradcheck(case):
    check_rnn(case, gradcheck=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
def test_lstm_fast_equals_readable(dtype, case):
    check_rnn(case.draw(draw_rnn_case("LSTM", dtype, LSTM_OPTIONS)))


def test_lstm_return_state_is_output_h_c(tf_keras):
    x = np.random.default_rng(2).standard_normal((2, 4, 3)).astype("float32")
    layer = LSTM(5, return_state=True)
    out, h, c = layer(x)
    np.testing.assert_array_equal(out, h)
    assert c.shape == (2, 5)
    assert layer.compute_output_shape((None, 4, 3)) == [(None, 5), (None, 5), (None, 5)]
    bias = LSTM(2)
    bias.build((None, 4, 3))
    np.testing.assert_array_equal(bias.get_weights()[2], [0, 0, 1, 1, 0, 0, 0, 0])


def test_lstm_cell_is_one_step_of_the_layer():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 4))
    layer = RNN(LSTMCell(5, dtype="float64"), return_sequences=True, return_state=True,
                dtype="float64")
    y, h, c = layer(x)
    h1, (s_h, s_c) = layer.cell(x[:, 0], None)
    assert_close(h1, y[:, 0], kind="fast_vs_readable", dtype="float64")
    assert s_h is h1 and s_c.shape == (2, 5)


def test_lstm_initial_state_count_and_shape_errors():
    x = np.zeros((2, 3, 4), "float32")
    layer = LSTM(5)
    with pytest.raises(ValueError, match=r"expected 2 initial state\(s\)"):
        layer(x, initial_state=[np.zeros((2, 5), "float32")])
    with pytest.raises(ValueError, match=r"initial state 1 of shape \(2, 5\)"):
        layer(x, initial_state=[np.zeros((2, 5), "float32"), np.zeros((2, 4), "float32")])


def test_functional_graph_backprops_into_symbolic_initial_states():
    """layer(x, initial_state=[h0, c0]) with Inputs records the node [x, h0, c0] (Keras' way);
    the model's backward then returns dL/dh0 and dL/dc0, equal to the layer's own."""
    from scratch.layers import Input
    from scratch.models import Model
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 4, 3))
    h0, c0 = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    i, hi, ci = Input((4, 3), dtype="float64"), Input((5,), dtype="float64"), \
        Input((5,), dtype="float64")
    lstm = LSTM(5, return_sequences=True, dtype="float64")
    model = Model([i, hi, ci], lstm(i, initial_state=[hi, ci]))
    y = model.forward([x, h0, c0])
    dy = rng.standard_normal(y.shape)
    dx, dh0, dc0 = model.backward(dy)
    ref = LSTM(5, return_sequences=True, dtype="float64")
    ref.build(x.shape)
    ref.set_weights(lstm.get_weights())
    np.testing.assert_array_equal(ref(x, initial_state=[h0, c0]), y)
    np.testing.assert_array_equal(ref.backward(dy), dx)
    np.testing.assert_array_equal(ref.initial_state_grads[0], dh0)
    np.testing.assert_array_equal(ref.initial_state_grads[1], dc0)
    # the list form [x, h0, c0] returns the state gradients from backward directly
    dxs = ref.backward(dy) if False else None  # noqa: F841
    listed = LSTM(5, return_sequences=True, dtype="float64")
    listed([x, h0, c0])
    listed.set_weights(lstm.get_weights())
    listed([x, h0, c0])
    grads = listed.backward(dy)
    for a, b in zip(grads, [dx, dh0, dc0], strict=True):
        np.testing.assert_array_equal(a, b)


def test_return_state_with_unused_outputs_in_a_graph():
    """Only h is used downstream: the model feeds zeros for the unused output and c."""
    from scratch.layers import Dense, Input
    from scratch.models import Model
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 4, 2)).astype("float32")
    i = Input((4, 2))
    _, h, _ = LSTM(3, return_state=True, return_sequences=True)(i)
    model = Model(i, Dense(1)(h))
    y = model.forward(x, training=True)
    dx = model.backward(np.ones_like(y))
    assert dx.shape == x.shape and np.isfinite(dx).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_lstm_fused_steps_equal_numpy_steps(dtype, return_sequences, monkeypatch):
    """The fused Numba step (standard cell, no mask) against the NumPy step of the fast path:
    the same bits in float32 (both use Eigen's σ and tanh); in float64 the kernel's tanh is the
    C library's, NumPy's its own SIMD routine, so they agree to rounding."""
    from scratch._kernels import recurrent

    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 13, 5)).astype(dtype)
    layer = LSTM(7, return_sequences=return_sequences, return_state=True, dtype=dtype)
    layer.build(x.shape)
    h0, c0 = (rng.standard_normal((9, 7)).astype(dtype) for _ in range(2))
    results = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(recurrent, "_lstm_fusable", lambda *args: False)
        y, h, c = layer.forward(x, training=True, initial_state=[h0, c0])
        dys = [np.random.default_rng(k).standard_normal(a.shape).astype(dtype)
               for k, a in enumerate((y, h, c))]
        dx = layer.backward(dys)
        results.append([y, h, c] + list(dx if isinstance(dx, list) else [dx])
                       + [layer.grads[k].copy() for k in sorted(layer.grads)])
    for a, b in zip(*results):
        if dtype == "float32":
            assert np.array_equal(a, b)
        else:
            assert_close(a, b, kind="fast_vs_readable", dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
def test_gru_fused_steps_equal_numpy_steps(dtype, return_sequences, use_bias, monkeypatch):
    """The GRU's fused Numba step (reset-after cell, σ and tanh, no mask) against the NumPy
    step of the fast path, as for the LSTM: the same bits in float32, rounding in float64."""
    from scratch._kernels import recurrent
    from scratch.layers.recurrent import GRU

    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 13, 5)).astype(dtype)
    layer = GRU(7, return_sequences=return_sequences, return_state=True, use_bias=use_bias,
                dtype=dtype)
    layer.build(x.shape)
    if use_bias:
        layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape)
    h0 = rng.standard_normal((9, 7)).astype(dtype)
    results = []
    for fused in (True, False):
        if not fused:
            monkeypatch.setattr(recurrent, "_gru_fusable", lambda *args: False)
        y, h = layer.forward(x, training=True, initial_state=[h0])
        assert layer._cache.sequence.fused == fused
        dys = [np.random.default_rng(k).standard_normal(a.shape).astype(dtype)
               for k, a in enumerate((y, h))]
        dx = layer.backward(dys)
        results.append([y, h] + list(dx if isinstance(dx, list) else [dx])
                       + [layer.grads[k].copy() for k in sorted(layer.grads)])
    for a, b in zip(*results, strict=True):
        if dtype == "float32":
            assert np.array_equal(a, b)
        else:
            assert_close(a, b, kind="fast_vs_readable", dtype=dtype)
