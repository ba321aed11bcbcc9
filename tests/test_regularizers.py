"""Regularizers: each penalty and its gradient against tf.keras, the layers that take them,
the loss and the weights of a few train steps, and model files both ways
(docs/KERAS_NUMERICS.md §Regularizers)."""

from __future__ import annotations

import numpy as np
import pytest

import keras_ref
import scratch
from scratch import layers, regularizers
from scratch.testing import assert_close, gradcheck

from conftest import floatx

REGULARIZERS = [("L1", {"l1": 0.03}), ("L2", {"l2": 0.02}), ("L1L2", {"l1": 0.01, "l2": 0.05}),
                ("L1L2", {"l2": 0.05}), ("OrthogonalRegularizer", {"factor": 0.2}),
                ("OrthogonalRegularizer", {"factor": 0.1, "mode": "columns"})]
IDS = [f"{n}-{'-'.join(map(str, c.values()))}" for n, c in REGULARIZERS]
# tf.keras' OrthogonalRegularizer fails on float64 weights (its float32 factor cannot multiply
# a float64 sum): scratch's float64 is checked by finite differences instead.
KERAS_CASES = [(n, c, d) for (n, c) in REGULARIZERS for d in ("float32", "float64")
               if not (n == "OrthogonalRegularizer" and d == "float64")]


def _keras_value_and_grad(tf, kreg, x):
    v = tf.Variable(x)
    with tf.GradientTape() as tape:
        value = kreg(v)
    return value.numpy(), tape.gradient(value, v).numpy()


@pytest.mark.parity
@pytest.mark.parametrize("name,config,dtype", KERAS_CASES,
                         ids=[f"{n}-{'-'.join(map(str, c.values()))}-{d}"
                              for n, c, d in KERAS_CASES])
def test_penalty_and_gradient_match_keras(tf_keras, tf, name, config, dtype):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 4)).astype(dtype)
    x[0, 1] = 0.0  # |x| at its kink: both engines take sign(0) = 0
    reg = getattr(regularizers, name)(**config)
    kvalue, kgrad = _keras_value_and_grad(tf, getattr(tf_keras.regularizers, name)(**config), x)
    value = reg(x)
    assert np.asarray(value).dtype == dtype
    assert_close(value, kvalue, kind="loss", dtype=dtype)
    assert_close(reg.gradient(x), kgrad, kind="weight_grad", dtype=dtype)
    assert reg.get_config() == getattr(tf_keras.regularizers, name)(**config).get_config()


@pytest.mark.parametrize("name,config", REGULARIZERS, ids=IDS)
def test_gradient_by_finite_differences(name, config):
    reg = getattr(regularizers, name)(**config)
    x = np.random.default_rng(5).standard_normal((4, 3))
    gradcheck(lambda p: np.asarray(reg(p["x"])), {"x": x},
              lambda v: {"x": reg.gradient(x, v)})


def test_factors_pass_through_float32_as_keras_casts_them():
    x = np.array([0.3, -0.7])  # float64
    assert regularizers.L2(0.01)(x) == np.float64(np.float32(0.01)) * (0.09 + 0.49)
    assert regularizers.L1(0.01).get_config() == {"l1": 0.009999999776482582}
    assert regularizers.L2(0.01).get_config() == {"l2": 0.01}


def test_names_and_errors_follow_keras():
    assert type(regularizers.get("l1")) is regularizers.L1
    assert regularizers.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}
    assert regularizers.l1_l2 is regularizers.L1L2 and regularizers.l2 is regularizers.L2
    assert type(regularizers.get("orthogonal_regularizer")) is regularizers.OrthogonalRegularizer
    assert regularizers.get(None) is None
    reg = regularizers.L2(0.3)
    assert regularizers.get(reg) is reg
    assert regularizers.get(regularizers.serialize(reg)).get_config() == {"l2": 0.3}
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier: l1_l2"):
        regularizers.get("l1_l2")  # as in Keras
    with pytest.raises(ValueError, match="Received: l2=-1"):
        regularizers.L2(-1)
    with pytest.raises(ValueError, match="mode=diag"):
        regularizers.OrthogonalRegularizer(mode="diag")
    with pytest.raises(ValueError, match="rank 2"):
        regularizers.OrthogonalRegularizer()(np.ones(3))
    with pytest.raises(TypeError, match="gradient"):
        layers.Dense(2, kernel_regularizer=lambda w: 0.01 * np.sum(w * w))


# ------------------------------------------------------------------------------ models
def _dense_model(dtype):
    R = regularizers
    return scratch.Sequential([
        scratch.Input((6,), dtype=dtype),
        layers.Dense(5, activation="relu", kernel_regularizer=R.l2(0.01),
                     bias_regularizer=R.l1(0.02), activity_regularizer=R.L1L2(0.01, 0.003)),
        layers.BatchNormalization(gamma_regularizer=R.l2(0.05), beta_regularizer=R.l1(0.03)),
        layers.LayerNormalization(gamma_regularizer=R.L1L2(0.01, 0.02),
                                  beta_regularizer=R.l2(0.01)),
        # an activity penalty on the sigmoid output whose loss runs on the hidden logits
        layers.Dense(1, activation="sigmoid", kernel_regularizer=R.L1L2(0.02, 0.01),
                     activity_regularizer=R.l2(0.05)),
    ])


def _sequence_model(dtype):
    R = regularizers
    return scratch.Sequential([
        scratch.Input((5,), dtype=dtype),
        layers.Embedding(7, 4, embeddings_regularizer=R.l2(0.02),
                         activity_regularizer=R.l1(0.01)),
        layers.Conv1D(3, 2, padding="same", kernel_regularizer=R.l1(0.01),
                      bias_regularizer=R.l2(0.02), activity_regularizer=R.l2(0.01)),
        layers.SimpleRNN(3, return_sequences=True, kernel_regularizer=R.l2(0.01),
                         recurrent_regularizer=R.l1(0.01), bias_regularizer=R.L1L2(0.01, 0.01),
                         activity_regularizer=R.l2(0.02)),
        layers.GRU(3, return_sequences=True, kernel_regularizer=R.l1(0.02),
                   recurrent_regularizer=R.l2(0.01), bias_regularizer=R.l2(0.03)),
        layers.LSTM(2, kernel_regularizer=R.l2(0.01), recurrent_regularizer=R.L1L2(0.01, 0.02),
                    bias_regularizer=R.l1(0.01), activity_regularizer=R.l1(0.02)),
        layers.Dense(3, activation="softmax", bias_regularizer=R.l2(0.1)),
    ])


def _image_model(dtype):
    R = regularizers
    return scratch.Sequential([
        scratch.Input((5, 5, 2), dtype=dtype),
        layers.Conv2D(3, 2, kernel_regularizer=R.l2(0.03), bias_regularizer=R.l1(0.01),
                      activity_regularizer=R.l1(0.01)),
        layers.Flatten(),
        layers.Dense(2, kernel_regularizer=R.OrthogonalRegularizer(0.05)),
    ])


def _data(kind, dtype, n=12):
    rng = np.random.default_rng(11)
    if kind == "dense":
        x = rng.standard_normal((n, 6)).astype(dtype)
        return x, (x[:, 0] > 0).astype(dtype)
    if kind == "sequence":
        return rng.integers(0, 7, (n, 5)).astype(dtype), rng.integers(0, 3, n)
    return rng.standard_normal((n, 5, 5, 2)).astype(dtype), rng.standard_normal((n, 2)).astype(
        dtype)


MODELS = {"dense": (_dense_model, "binary_crossentropy"),
          "sequence": (_sequence_model, "sparse_categorical_crossentropy"),
          "image": (_image_model, "mse")}
OPTIMIZERS = {"sgd": lambda m: m.optimizers.SGD(0.1, momentum=0.5),
              "adam": lambda m: m.optimizers.Adam(0.02)}
CASES = [(k, o, d) for k in ("dense", "sequence") for o in OPTIMIZERS
         for d in ("float32", "float64")] + [("image", "sgd", "float32"),
                                             ("image", "adam", "float32")]


def _train_both(tf_keras, kind, opt, dtype, steps=4):
    make, loss = MODELS[kind]
    x, y = _data(kind, dtype)
    model = make(dtype)
    model.compile(optimizer=OPTIMIZERS[opt](scratch), loss=loss)
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=OPTIMIZERS[opt](tf_keras), loss=loss, run_eagerly=True)
    losses = [(model.train_on_batch(x, y), float(kmodel.train_on_batch(x, y)))
              for _ in range(steps)]
    return model, kmodel, x, y, losses


@pytest.mark.parity
@pytest.mark.parametrize("kind,opt,dtype", CASES)
def test_training_with_regularizers_matches_keras(tf_keras, kind, opt, dtype):
    with floatx(tf_keras, dtype):
        model, kmodel, x, y, losses = _train_both(tf_keras, kind, opt, dtype)
        for step, (ours, theirs) in enumerate(losses):
            assert_close(ours, theirs, kind="loss", dtype=dtype, msg=f"loss of step {step}")
        for path, (a, b) in zip(model.weight_names, zip(model.get_weights(),
                                                        kmodel.get_weights())):
            assert a.dtype == dtype
            assert_close(a, b, kind="weights_after_steps", dtype=dtype, msg=path)
        # evaluate's loss (Keras' test step) includes the penalties too
        assert_close(model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0),
                     kind="loss", dtype=dtype)
        # the penalties did something: without them the first step's loss is smaller
        plain = keras_ref.to_keras(model)
        for layer in plain.layers:
            for attr in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
                if getattr(layer, attr, None) is not None and not hasattr(layer, "cell"):
                    setattr(layer, attr, None)
        plain.compile(loss=MODELS[kind][1], run_eagerly=True)
        assert float(plain.evaluate(x, y, verbose=0)) < model.evaluate(x, y, verbose=0)


def test_model_losses_list_activity_then_weights_like_keras(tf_keras):
    model = _dense_model("float32")
    x, _ = _data("dense", "float32")
    kmodel = keras_ref.to_keras(model)
    model(x, training=True)
    kmodel(x, training=True)
    ours, theirs = model.losses, [t.numpy() for t in kmodel.losses]
    assert len(ours) == len(theirs) == 2 + 7  # 2 activity penalties, 7 weights
    for a, b in zip(ours, theirs):
        assert_close(a, b, kind="loss", dtype="float32")


def test_a_layer_records_its_activity_penalty_when_called(tf_keras):
    layer = layers.Dense(3, kernel_regularizer="l2", activity_regularizer=regularizers.l1(0.1))
    klayer = tf_keras.layers.Dense.from_config(layer.get_config())
    x = np.random.default_rng(0).standard_normal((4, 2)).astype("float32")
    layer(x)
    klayer.build(x.shape)
    klayer.set_weights(layer.get_weights())
    klayer(x)
    assert len(layer.losses) == len(klayer.losses) == 2
    for a, b in zip(layer.losses, klayer.losses):
        assert_close(a, b.numpy(), kind="loss", dtype="float32")


def test_simple_rnn_ignores_its_activity_regularizer_as_keras_does(tf_keras):
    model = _sequence_model("float32")
    kmodel = keras_ref.to_keras(model)
    x, _ = _data("sequence", "float32")
    model(x)
    kmodel(x)
    assert kmodel.layers[2].activity_regularizer is None  # Keras 3.15 drops it
    assert len(model.losses) == len(kmodel.losses) == 3 + 13


def test_frozen_layers_are_not_penalized():
    model = _dense_model("float32")
    model(_data("dense", "float32")[0])
    n = len(model.losses)
    model.layers[0].trainable = False  # kernel and bias penalties go; its activity stays
    assert len(model.losses) == n - 2


def test_graph_walk_equals_the_plain_stack_with_activity_penalties(monkeypatch):
    """The activity cotangents enter the plain-stack loop and the graph walk alike (only
    the plain-stack shortcut is turned off: every other fast path runs in both)."""
    from scratch.models.step_plan import StepPlan

    x, y = _data("dense", "float32")
    results = []
    for walk in (False, True):
        if walk:
            monkeypatch.setattr(StepPlan, "stack", property(lambda plan: None))
        scratch.utils.set_random_seed(4)
        model = _dense_model("float32")
        model.compile(optimizer="adam", loss="binary_crossentropy")
        losses = [model.train_on_batch(x, y) for _ in range(3)]
        results.append((losses, model.get_weights()))
    (l1, w1), (l2, w2) = results
    assert l1 == l2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------------------ files
@pytest.mark.parity
def test_keras_files_both_ways_keep_the_regularizers(tf_keras, tmp_path):
    model = _sequence_model("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x, y = _data("sequence", "float32")
    model.train_on_batch(x, y)
    path = str(tmp_path / "regularized.keras")
    model.save(path)
    kmodel = tf_keras.models.load_model(path)
    for layer, klayer in zip(model.layers, kmodel.layers):
        config, kconfig = layer.get_config(), klayer.get_config()
        for key in kconfig:
            if key.endswith("_regularizer"):
                assert config.get(key) == kconfig[key], (layer.name, key)
    assert_close(model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0),
                 kind="loss", dtype="float32")
    # and back: tf.keras' file opens in scratch with the same penalties
    kpath = str(tmp_path / "from_keras.keras")
    kmodel.save(kpath)
    back = scratch.models.load_model(kpath)
    assert [l.get_config() for l in back.layers] == [l.get_config() for l in model.layers]
    assert_close(back.train_on_batch(x, y), float(kmodel.train_on_batch(x, y)), kind="loss",
                 dtype="float32")


@pytest.mark.parity
def test_parity_report_counts_the_penalties(tf_keras):
    """keras_ref.compare: the loss row includes the penalties, the weight-gradient rows
    their gradients, as tf.keras' tape sees them; a regularized model reports no divergence."""
    model = _dense_model("float32")
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x, y = _data("dense", "float32")
    report = keras_ref.compare(model, x, y, steps=2)
    assert report.first_divergence is None, str(report)
