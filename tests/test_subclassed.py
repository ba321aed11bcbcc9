"""Subclassed models and layers, Keras 3's way (issue 17).

* The Lecture 24 network written as a `Model` subclass trains with `fit` to the functional
  model's numbers bit for bit, and to its tf.keras subclassed twin's (same class body, same
  initial weights) within the table, in float32 and float64; `evaluate` and `predict` too.
* Tracking as Keras' tracker: layers in attributes, lists (also appended later), dicts,
  custom layers with sub-layers and `add_weight`, nested models: the weights come in tf.keras'
  order (its `get_weights()` loads into scratch's and gives the same outputs), `.weights.h5`
  files go both ways with tf.keras' paths, `trainable` reaches every layer.
* A Keras-style layer (`build`, `call`, `add_weight`) trains in a Sequential model as in
  tf.keras; control flow and nested models in `call` differentiate correctly (finite
  differences).
* Mistakes get Keras' errors.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import scratch
from scratch import layers
from scratch.saving.registry import keras_class_name
from scratch.testing import assert_close, gradcheck

from conftest import floatx

DTYPES = ["float64", "float32"]


@contextlib.contextmanager
def both_engines_in(tf_keras, dtype):
    """floatx in both engines, and tf.keras' global dtype policy (which the layers a
    subclassed model creates in __init__ take) for the block."""
    with floatx(tf_keras, dtype):
        tf_keras.config.set_dtype_policy(dtype)
        try:
            yield
        finally:
            tf_keras.config.set_dtype_policy("float32")


def mlp_class(keras):
    """Lecture 24's network as a subclassed model (the same body for both engines)."""

    class MLP(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(16, activation="relu")
            self.dropout = keras.layers.Dropout(0.2, seed=3)
            self.classifier = keras.layers.Dense(5, activation="softmax")

        def call(self, x, training=None):
            return self.classifier(self.dropout(self.hidden(x), training=training))

    return MLP


def data(dtype, n=48, seed=24):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 20)).astype(dtype), rng.integers(0, 5, n)


def _fit(model, module, x, y):
    model.compile(optimizer=module.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
    return history.history


@pytest.mark.parametrize("dtype", DTYPES)
def test_subclassed_fit_equals_functional_bit_for_bit(dtype):
    scratch.set_floatx(dtype)
    try:
        x, y = data(dtype)
        sub = mlp_class(scratch)()
        sub(x[:1])
        i = scratch.Input((20,))
        h = layers.Dropout(0.2, seed=3)(layers.Dense(16, activation="relu")(i))
        functional = scratch.Model(i, layers.Dense(5, activation="softmax")(h))
        functional.set_weights(sub.get_weights())
        got, expected = _fit(sub, scratch, x, y), _fit(functional, scratch, x, y)
        assert got == expected
        for a, b in zip(sub.get_weights(), functional.get_weights(), strict=True):
            assert np.array_equal(a, b)
        assert sub.evaluate(x, y, verbose=0) == functional.evaluate(x, y, verbose=0)
        assert np.array_equal(sub.predict(x, verbose=0), functional.predict(x, verbose=0))
    finally:
        scratch.set_floatx("float32")


@pytest.mark.parametrize("dtype", DTYPES)
def test_subclassed_fit_matches_tf_keras_subclassed_twin(tf_keras, dtype):
    with both_engines_in(tf_keras, dtype):
        x, y = data(dtype)
        ours, theirs = mlp_class(scratch)(), mlp_class(tf_keras)()
        ours(x[:1])
        theirs(x[:1])
        theirs.set_weights(ours.get_weights())
        got, expected = _fit(ours, scratch, x, y), _fit(theirs, tf_keras, x, y)
        for key in expected:
            assert_close(got[key], expected[key], kind="training", dtype=dtype, msg=key)
        for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
            assert_close(a, b, kind="training", dtype=dtype)
        assert_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0),
                     kind="training", dtype=dtype)


# ------------------------------------------------------------------------- tracking
def tracking_classes(keras):
    class Scale(keras.layers.Layer):
        """A custom layer with a weight of its own and two sub-layers."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(units, activation="tanh")
            self.norm = keras.layers.BatchNormalization()

        def build(self, input_shape):
            self.gain = self.add_weight(shape=(1,), initializer="ones", name="gain")

        def call(self, x, training=None):
            return self.norm(self.dense(x), training=training) * self.gain

    class Tracked(keras.Model):
        def __init__(self):
            super().__init__()
            self.blocks = []
            self.head = keras.layers.Dense(2)  # tracked before the blocks appended below
            self.blocks.append(Scale(6))
            self.blocks.append(keras.layers.Dense(5))
            self.by_name = {"b": keras.layers.Dense(4), "a": keras.layers.Dense(3)}
            inner = keras.Input((3,))
            self.inner = keras.Model(inner, keras.layers.Dense(3, activation="relu")(inner))

        def call(self, x, training=None):
            for block in self.blocks:  # Python control flow
                x = block(x, training=training)
            x = self.by_name["a"](self.by_name["b"](x))
            if training:
                x = x + 0.0
            return self.head(self.inner(x))

    return Tracked


def test_weights_come_in_tf_keras_order(tf_keras, tmp_path):
    x = np.random.default_rng(0).standard_normal((6, 7)).astype("float32")
    ours, theirs = tracking_classes(scratch)(), tracking_classes(tf_keras)()
    ours(x)
    theirs(x)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    assert [keras_class_name(l) for l in ours.layers] == [type(l).__name__ for l in theirs.layers]
    assert len(ours.trainable_weights) == len(theirs.trainable_weights)
    rng = np.random.default_rng(1)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    assert_close(ours(x, training=False).numpy(), np.asarray(theirs(x, training=False)),
                 kind="forward", dtype="float32")
    # .weights.h5 both ways, tf.keras' paths
    theirs.save_weights(str(tmp_path / "theirs.weights.h5"))
    ours.set_weights([np.zeros_like(w) for w in weights])
    ours.load_weights(str(tmp_path / "theirs.weights.h5"))
    for a, b in zip(ours.get_weights(), weights, strict=True):
        assert np.array_equal(a, b)
    ours.set_weights([w * 2 for w in weights])
    ours.save_weights(str(tmp_path / "ours.weights.h5"))
    theirs.load_weights(str(tmp_path / "ours.weights.h5"))
    for a, b in zip(theirs.get_weights(), ours.get_weights(), strict=True):
        assert np.array_equal(a, b)


def test_summary_layers_and_trainable_flags(capsys):
    model = tracking_classes(scratch)()
    model(np.ones((2, 7), "float32"))
    model.summary()
    text = capsys.readouterr().out
    assert f'Model: "{model.name}"' in text and "Scale" in text and "(2, 2)" in text
    assert f"Total params: {model.count_params():,}" in text
    scale = model.blocks[0]
    assert scale.weight_names[:3] == ["gain", f"{scale.dense.name}/kernel",
                                      f"{scale.dense.name}/bias"]
    n = len(model.trainable_weights)
    scale.norm.trainable = False
    assert len(model.trainable_weights) == n - 2  # gamma and beta
    model.trainable = False
    assert model.trainable_weights == [] and not scale.dense.trainable
    assert len(model.non_trainable_weights) == len(model.weights)


# ------------------------------------------------------------------------- custom layers
def linear_class(keras):
    class Linear(keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", name="kernel")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, inputs):
            return keras.ops.tanh(keras.ops.matmul(inputs, self.w) + self.b)

    return Linear


@pytest.mark.parametrize("dtype", DTYPES)
def test_custom_layer_trains_in_sequential_as_in_tf_keras(tf_keras, dtype):
    with both_engines_in(tf_keras, dtype):
        rng = np.random.default_rng(5)
        x = rng.standard_normal((32, 6)).astype(dtype)
        y = rng.standard_normal((32, 2)).astype(dtype)

        def make(keras):
            return keras.Sequential([keras.Input((6,)), linear_class(keras)(4),
                                     keras.layers.Dense(2)])

        ours, theirs = make(scratch), make(tf_keras)
        theirs.set_weights(ours.get_weights())
        results = []
        for module, model in ((scratch, ours), (tf_keras, theirs)):
            model.compile(optimizer=module.optimizers.SGD(0.1, momentum=0.9), loss="mse")
            results.append(model.fit(x, y, batch_size=8, epochs=2, shuffle=False,
                                     verbose=0).history["loss"])
    assert_close(results[0], results[1], kind="training", dtype=dtype)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert_close(a, b, kind="training", dtype=dtype)


def test_call_with_control_flow_and_nested_models_matches_finite_differences():
    scratch.set_floatx("float64")
    try:
        model = tracking_classes(scratch)()
        x = np.random.default_rng(3).standard_normal((4, 7))
        model(x)
        weights = model.trainable_weights
        names = [f"w{i}" for i in range(len(weights))]
        point = {"x": x, **dict(zip(names, [w.copy() for w in weights]))}

        def fn(p):
            for w, name in zip(weights, names):
                w[...] = p[name]
            return model(p["x"], training=True).numpy()

        def vjp(v):
            fn(point)
            xt = scratch.ops.convert_to_tensor(point["x"])
            with scratch.GradientTape() as tape:
                tape.watch(xt)
                y = model(xt, training=True)
            grads = tape.gradient(y, [xt] + model.trainable_variables, output_gradients=v)
            return dict(zip(["x"] + names, grads))

        gradcheck(fn, point, vjp)
    finally:
        scratch.set_floatx("float32")


# ------------------------------------------------------------------------- errors
def test_mistakes_get_keras_errors(tmp_path):
    class Forgot(scratch.Model):
        def __init__(self):
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises((RuntimeError, AttributeError)):
        Forgot()(np.ones((1, 2)))

    class WithGraph(scratch.Model):
        def call(self, x):
            return x

    i = scratch.Input((2,))
    with pytest.raises(TypeError, match="subclassed model"):
        WithGraph(i, i)
    model = mlp_class(scratch)()
    model(np.ones((1, 20), "float32"))
    with pytest.raises(NotImplementedError, match="save_weights"):
        model.save(str(tmp_path / "m.keras"))

    class PositionalName(scratch.layers.Layer):
        def build(self, input_shape):
            self.add_weight("kernel", (2, 2))

        def call(self, x):
            return x

    with pytest.raises(ValueError, match="keyword argument"):
        PositionalName()(np.ones((1, 2)))


# ------------------------------------------------------------------------- structures
def test_input_structures_and_a_subclassed_model_inside_a_functional_one():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((12, 3)), rng.standard_normal((12, 4))
    y = rng.standard_normal((12, 2))

    class Two(scratch.Model):
        def __init__(self):
            super().__init__()
            self.left, self.right = layers.Dense(5), layers.Dense(5)
            self.head = layers.Dense(2)

        def call(self, inputs):
            if isinstance(inputs, dict):
                inputs = [inputs["a"], inputs["b"]]
            return self.head(self.left(inputs[0]) + self.right(inputs[1]))

    for x in ([a, b], {"a": a, "b": b}):
        model = Two()
        model.compile(optimizer="sgd", loss="mse")
        assert len(model.fit(x, y, epochs=2, verbose=0).history["loss"]) == 2
        assert model.predict(x, verbose=0).shape == (12, 2)

    class Inner(scratch.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = layers.Dense(6, activation="tanh"), layers.Dense(2)

        def call(self, x):
            return self.out(self.hidden(x))

    i = scratch.Input((3,))
    nested = scratch.Model(i, layers.Dense(2)(Inner()(i)))
    j = scratch.Input((3,))
    flat = scratch.Model(j, layers.Dense(2)(layers.Dense(2)(layers.Dense(6, activation="tanh")(j))))
    flat.set_weights(nested.get_weights())
    histories = []
    for model in (nested, flat):
        model.compile(optimizer=scratch.optimizers.SGD(0.1, momentum=0.9), loss="mse")
        histories.append(model.fit(a, y, batch_size=4, epochs=2, shuffle=False,
                                   verbose=0).history)
    assert histories[0] == histories[1]
    for p, q in zip(nested.get_weights(), flat.get_weights(), strict=True):
        assert np.array_equal(p, q)


def test_training_reaches_inner_layers_and_copies_keep_their_variables():
    import copy

    class Noisy(scratch.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(8)
            self.drop = layers.Dropout(0.5, seed=1)

        def call(self, x):  # no `training` passed on: Keras' call context gives it
            return self.drop(self.dense(x))

    model = Noisy()
    x = np.ones((4, 3), "float32")
    assert np.array_equal(model(x).numpy(), model(x, training=False).numpy())
    assert not np.array_equal(model(x, training=True).numpy(), model(x).numpy())
    layer = linear_class(scratch)(2)
    layer(x)
    twin = copy.deepcopy(layer)
    assert twin.w._weight is twin.params["kernel"] and twin.w._owner is twin
    assert twin.params["kernel"] is not layer.params["kernel"]
