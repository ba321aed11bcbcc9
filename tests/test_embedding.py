"""Embedding: parity with tf.keras (forward, mask, scatter-add gradient, a train step), the
Numba scatter-add against np.add.at (bit-identical), gradcheck, and bad ids rejected with
clear errors before any state changes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import keras_ref
import scratch
from scratch.layers import Dense, Flatten, Input
from scratch.layers.embedding import Embedding, embedding_backward, embedding_forward
from scratch.models import Model
from scratch.testing import assert_close, gradcheck
from tests.conftest import cheap, floatx
from tests.parity import check_layer


@st.composite
def embedding_cases(draw):
    lead = tuple(draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    return dict(
        input_dim=draw(st.integers(1, 12)),  # small vocabularies: repeated ids are the rule
        output_dim=draw(st.integers(1, 5)),
        lead=lead,
        mask_zero=draw(st.booleans()),
        id_dtype=draw(st.sampled_from(["int32", "int64", "float32", "float64"])),
        dtype=draw(st.sampled_from(["float64", "float32"])),
        seed=draw(st.integers(0, 2**16)),
    )


def _ids(rng, case):
    return rng.integers(0, case["input_dim"], case["lead"]).astype(case["id_dtype"])


@cheap
@given(embedding_cases())
@example(dict(input_dim=1, output_dim=1, lead=(1,), mask_zero=True, id_dtype="int32",
              dtype="float64", seed=0))
@example(dict(input_dim=3, output_dim=2, lead=(2, 5), mask_zero=False, id_dtype="float32",
              dtype="float32", seed=1))
def test_embedding_parity(tf_keras, tf, case):
    """Output, dE (a scatter-add) and the mask against tf.keras; ids get no gradient."""
    rng = np.random.default_rng(case["seed"])
    ids = _ids(rng, case)
    layer = Embedding(case["input_dim"], case["output_dim"], mask_zero=case["mask_zero"],
                      dtype=case["dtype"])
    layer.build(ids.shape)
    layer.set_weights([rng.standard_normal((case["input_dim"], case["output_dim"]))])
    run = check_layer(layer, ids, keras=tf_keras, tf=tf, rng=rng, msg=str(case)).ours
    assert run.dx == [None]  # integer ids get no gradient
    assert (run.masks[0] is not None) == case["mask_zero"]


@cheap
@given(embedding_cases())
def test_fast_scatter_add_is_bit_identical_to_np_add_at(case):
    rng = np.random.default_rng(case["seed"])
    ids = _ids(rng, case)
    layer = Embedding(case["input_dim"], case["output_dim"], dtype=case["dtype"])
    y = layer(ids)
    v = rng.standard_normal(y.shape).astype(case["dtype"])
    layer.fast_path = True
    layer.backward(v)
    fast = layer.grads["embeddings"]
    fast_squares = fast.sum_of_squares  # the rows' squares, Σ_p g_p², for Adam & co.
    layer.fast_path = False
    layer.backward(v)
    np.testing.assert_array_equal(fast, layer.grads["embeddings"])
    np.testing.assert_array_equal(fast, embedding_backward(v, ids.astype(int),
                                                           case["input_dim"]))
    np.testing.assert_array_equal(fast_squares, layer.grads["embeddings"].sum_of_squares)
    np.testing.assert_array_equal(fast_squares, embedding_backward(v * v, ids.astype(int),
                                                                   case["input_dim"]))


def test_repeated_ids_accumulate():
    layer = Embedding(4, 2, dtype="float64")
    layer(np.array([[1, 1, 3], [1, 0, 3]]))
    layer.backward(np.arange(12, dtype="float64").reshape(2, 3, 2))
    np.testing.assert_array_equal(layer.grads["embeddings"],
                                  [[8, 9], [0 + 2 + 6, 1 + 3 + 7], [0, 0], [4 + 10, 5 + 11]])


@cheap
@given(embedding_cases())
def test_embedding_gradcheck(case):
    rng = np.random.default_rng(case["seed"])
    ids = rng.integers(0, case["input_dim"], case["lead"])
    E = rng.standard_normal((case["input_dim"], case["output_dim"]))
    gradcheck(lambda p: embedding_forward(ids, p["E"]), {"E": E},
              lambda v: {"E": embedding_backward(v, ids, case["input_dim"])},
              seed=case["seed"])


# ------------------------------------------------------------------------- defaults / config
def test_defaults_match_keras(tf_keras):
    scratch.utils.set_random_seed(0)
    layer = Embedding(50, 7)
    layer.build((None, 3))
    assert layer.weight_names == ["embeddings"]
    E = layer.get_weights()[0]
    assert E.shape == (50, 7) and E.dtype == np.float32
    assert -0.05 <= E.min() and E.max() < 0.05 and E.std() > 0.02  # RandomUniform(±0.05)
    klayer = keras_ref.layer_to_keras(layer)
    config = klayer.get_config()
    assert config["input_dim"] == 50 and config["output_dim"] == 7
    assert config["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert config["embeddings_initializer"]["config"]["minval"] == -0.05
    assert klayer.mask_zero is False
    assert tf_keras.layers.Embedding(50, 7).get_config()["embeddings_initializer"] == \
        config["embeddings_initializer"]


def test_model_with_int_and_float_inputs_and_to_keras(tf_keras):
    """The course's `Input(shape=(T,))` is float32: ids arrive as whole floats."""
    for dtype in ["float32", "int32"]:
        i = Input(shape=(4,), dtype=dtype)
        x = Embedding(9, 3, mask_zero=True)(i)
        x = Flatten()(x)
        x = Dense(1)(x)
        model = Model(i, x)
        ids = np.array([[1, 2, 0, 8], [3, 3, 0, 0]])
        # Keras warns that Flatten drops Embedding's mask (scratch drops it too, silently)
        with pytest.warns(UserWarning, match="destroy the mask"):
            kmodel = keras_ref.to_keras(model)
            k_out = kmodel.predict(ids, verbose=0)
        assert_close(model.predict(ids, verbose=0), k_out, kind="forward", dtype="float32")


@pytest.mark.parametrize("value", [0, -3, 2.0, "4", True, None])
def test_rejects_bad_dims(value):
    with pytest.raises((ValueError, TypeError), match="input_dim"):
        Embedding(value, 3)
    with pytest.raises((ValueError, TypeError), match="output_dim"):
        Embedding(3, value)


def test_weights_argument_and_input_length_warning():
    E = np.arange(6, dtype="float32").reshape(3, 2)
    with pytest.warns(UserWarning, match="input_length"):
        layer = Embedding(3, 2, weights=[E], input_length=5)
    np.testing.assert_array_equal(layer(np.array([[2, 0]])), [[[4, 5], [0, 1]]])


def test_unsupported_constraint_is_refused():
    with pytest.raises(ValueError, match="embeddings_constraint"):
        Embedding(3, 2, embeddings_constraint="non_neg")


# ------------------------------------------------------------------------- bad ids
@pytest.mark.parametrize("ids, error, match", [
    (np.array([[1.0, 2.5]]), TypeError, r"whole numbers.*2\.5"),
    (np.array([[1.0, np.nan]]), TypeError, "whole numbers"),
    (np.array([[True, False]]), TypeError, "dtype=bool"),
    (np.array([["a", "b"]]), TypeError, "integer ids"),
    (np.array([[1, 10]]), ValueError, r"\[0, 10\)\. Received: an id equal to 10"),
    (np.array([[1, 12.0]]), ValueError, "an id equal to 12"),
    (np.array([[-1, 2]]), ValueError, "an id equal to -1"),
])
def test_bad_ids_raise_before_any_state_change(ids, error, match):
    layer = Embedding(10, 3)
    good = np.array([[1, 2]])
    layer(good)
    cache = layer._cache
    before = layer.get_weights()
    with pytest.raises(error, match=match):
        layer.forward(ids)
    assert layer._cache is cache
    np.testing.assert_array_equal(layer.get_weights()[0], before[0])


def test_bad_ids_in_fit_leave_the_model_unchanged():
    i = Input(shape=(3,))
    x = Flatten()(Embedding(5, 2)(i))
    model = Model(i, Dense(1)(x))
    model.compile(optimizer="adam", loss="mse")
    before = model.get_weights()
    y = np.zeros(2)
    with pytest.raises(ValueError, match="an id equal to 5"):
        model.fit(np.array([[1, 2, 3], [4, 5, 0]]), y, verbose=0)
    with pytest.raises(TypeError, match="whole numbers"):
        model.train_on_batch(np.array([[1, 2, 3], [4, 0.5, 0]]), y)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert int(model.optimizer.iterations) == 0


# ------------------------------------------------------------------------- training parity


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_sgd_steps_with_repeated_ids_match(tf_keras, dtype):
    """SGD with momentum (Lecture 61's optimizer): 3 train_on_batch steps, repeated ids."""
    with floatx(tf_keras, dtype):
        _train_steps(tf_keras, dtype, lambda m: m.optimizers.SGD(0.08, momentum=0.9))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_adam_steps_with_repeated_ids_match(tf_keras, dtype):
    """Adam on an embedding: FAILS until the optimizers follow Keras' IndexedSlices rule.

    TF hands Keras the gradient of a gather as tf.IndexedSlices (one row per occurrence of
    an id). Keras' `ops.square` keeps it sparse (keras/src/backend/tensorflow/sparse.py,
    `elementwise_unary`), so Adam's second moment gets Σ_occurrences g_p² per row, while
    `g − m` densifies first, (Σ g_p). scratch's Adam squares the summed row, (Σ g_p)²: the
    rows of repeated ids differ by ~lr after one step. RMSprop and Adagrad square the
    gradient too. SGD is linear, hence unaffected (the test above).
    """
    with floatx(tf_keras, dtype):
        _train_steps(tf_keras, dtype, lambda m: m.optimizers.Adam(0.05))


def _train_steps(tf_keras, dtype, make_optimizer):
    rng = np.random.default_rng(5)
    i = Input(shape=(6,), dtype="int32")
    e = Embedding(7, 4, dtype=dtype)(i)
    out = Dense(1, dtype=dtype)(Flatten(dtype=dtype)(e))
    model = Model(i, out)
    model.compile(optimizer=make_optimizer(scratch), loss="mse")
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=make_optimizer(tf_keras), loss="mse")
    ids = rng.integers(0, 4, (16, 6)).astype("int32")  # ids 4..6 never used: zero gradient
    y = rng.standard_normal((16, 1)).astype(dtype)
    for _ in range(3):
        loss = model.train_on_batch(ids, y)
        kloss = kmodel.train_on_batch(ids, y)
        assert_close(loss, kloss, kind="loss", dtype=dtype)
    for name, a, b in zip(model.weight_names, model.get_weights(), kmodel.get_weights(),
                             strict=True):
        assert a.dtype == dtype
        assert_close(a, b, kind="weights_after_steps", dtype=dtype, msg=name)
