"""GRU (reset_after True and False): parity with tf.keras, finite differences, fast path.

Each case is checked by tests/parity_rnn.py's `check_rnn` (the harness of tests/parity.py):
parity with tf.keras, fast == readable, config round trip, output shapes, finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from scratch.layers.recurrent import GRU, RNN, GRUCell
from scratch.testing import assert_close
from tests.conftest import expensive
from tests.parity_rnn import RnnCase, check_rnn, draw_rnn_case

GRU_OPTIONS = {
    "reset_after": st.booleans(),
    "recurrent_activation": st.sampled_from(["sigmoid", "sigmoid", "hard_sigmoid"]),
    "implementation": st.sampled_from([1, 2]),
}

EDGE = RnnCase("GRU", {"units": 1, "return_sequences": True, "return_state": True,
                       "go_backwards": True, "reset_after": False, "dropout": 0.5,
                       "recurrent_dropout": 0.5}, 1, 1, 1, True, True, True, 2, "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
@example(case=None)
def test_gru_parity(tf_keras, tf, dtype, case):
    case = EDGE._replace(dtype=dtype) if case is None else case.draw(
        draw_rnn_case("GRU", dtype, GRU_OPTIONS))
    check_rnn(case, keras=tf_keras, tf=tf)


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_both_variants_with_every_option(tf_keras, tf, reset_after):
    """Pinned: both variants with dropout, recurrent dropout, mask, initial state, backwards."""
    config = {"units": 3, "reset_after": reset_after, "return_sequences": True,
              "return_state": True, "go_backwards": True, "dropout": 0.3,
              "recurrent_dropout": 0.2}
    for dtype in ("float64", "float32"):
        check_rnn(RnnCase("GRU", config, 3, 5, 2, True, True, True, 9, dtype),
                  keras=tf_keras, tf=tf)


@expensive
@given(case=draw_rnn_case("GRU", "float64", GRU_OPTIONS))
def test_gru_gradcheck(case):
    check_rnn(case, gradcheck=True)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@expensive
@given(case=st.data())
def test_gru_fast_equals_readable(dtype, case):
    check_rnn(case.draw(draw_rnn_case("GRU", dtype, GRU_OPTIONS)))


def test_gru_weight_layouts_match_keras(tf_keras):
    for reset_after, bias_shape in [(True, (2, 12)), (False, (12,))]:
        ours = GRU(4, reset_after=reset_after)
        ours.build((None, 7, 3))
        theirs = tf_keras.layers.GRU(4, reset_after=reset_after)
        theirs.build((None, 7, 3))
        assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
        assert ours.get_weights()[2].shape == bias_shape
        assert ours.weight_names == ["kernel", "recurrent_kernel", "bias"]


def test_gru_cell_is_one_step_of_the_layer():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4))
    h0 = rng.standard_normal((2, 5))
    layer = RNN(GRUCell(5, reset_after=False, dtype="float64"), return_sequences=True,
                dtype="float64")
    y = layer(x, initial_state=[h0])
    h1, (s1,) = layer.cell(x[:, 0], [h0])
    assert_close(h1, y[:, 0], kind="fast_vs_readable", dtype="float64")
    assert s1 is h1


def test_gru_initial_state_errors():
    x = np.zeros((2, 3, 4), "float32")
    layer = GRU(5)
    with pytest.raises(ValueError, match="expected 1 initial state"):
        layer(x, initial_state=[np.zeros((2, 5), "float32")] * 2)
    with pytest.raises(ValueError, match=r"shape \(2, 5\)"):
        layer(x, initial_state=[np.zeros((3, 5), "float32")])
    with pytest.raises(TypeError, match="float32"):
        layer.forward(x, initial_state=[np.zeros((2, 5), "float64")])
