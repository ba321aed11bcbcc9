"""`backend.clear_session()` and the warnings Keras 3 gives for Keras 2 spellings, against
tf.keras."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scratch


def test_clear_session_restarts_names_and_the_unseeded_draws_as_keras(tf_keras):
    """After clear_session the next Dense is "dense" again, and the unseeded draws come from
    a new global generator seeded from Python's `random`: the same numbers as tf.keras."""
    def session(engine):
        engine.utils.set_random_seed(3)  # Python's `random` too, which both engines draw from
        [engine.layers.Dense(2) for _ in range(3)]
        before = np.asarray(engine.random.uniform((5,)))
        engine.backend.clear_session()
        names = engine.layers.Dense(2).name, engine.optimizers.Adam().name
        return before, np.asarray(engine.random.uniform((5,))), names

    theirs = session(tf_keras)
    tf_keras.config.set_dtype_policy("float32")  # the session fixture's setting (conftest)
    ours = session(scratch)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert not np.array_equal(ours[0], ours[1])
    assert ours[2] == theirs[2] == ("dense", "adam")
    # floatx is a setting, not state: clear_session keeps it, as in Keras
    scratch.set_floatx("float64")
    try:
        scratch.backend.clear_session(free_memory=False)
        assert scratch.backend.floatx() == "float64"
    finally:
        scratch.set_floatx("float32")


def _caught(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make()
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize("make", [
    lambda m: m.layers.Dense(2, input_shape=(3,)),
    lambda m: m.layers.Dense(2, input_dim=3),
    lambda m: m.layers.Conv1D(2, 3, input_shape=(8, 1)),
    lambda m: m.layers.LeakyReLU(alpha=0.1),
])
def test_keras_2_spellings_warn_as_keras_3_does(tf_keras, make):
    ours, theirs = _caught(lambda: make(scratch)), _caught(lambda: make(tf_keras))
    assert ours == theirs and len(ours) == 1 and ours[0][0] is UserWarning


def test_what_the_warned_arguments_still_do():
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`"):
        model = scratch.Sequential([scratch.layers.Dense(2, input_shape=(3,))])
    assert model.built and model.inputs[0].shape == (None, 3)
    with pytest.warns(UserWarning, match="`alpha` is deprecated"):
        layer = scratch.layers.LeakyReLU(alpha=0.1)
    np.testing.assert_allclose(layer(np.array([-1.0, 2.0])), [-0.1, 2.0], rtol=1e-6)
    # a config (or a file) carries the shape as batch_input_shape: no warning
    config = model.layers[0].get_config()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clone = scratch.layers.Dense.from_config(config)
    assert clone.get_config() == config
