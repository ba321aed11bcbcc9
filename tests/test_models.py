"""Sequential and functional models: structure, weights, summary, course idioms."""

from __future__ import annotations

import numpy as np
import pytest

import scratch
import scratch as keras  # the course's spelling
from scratch.testing import assert_close


def test_course_lecture12_model_runs_and_exposes_weights():
    model = keras.models.Sequential([keras.layers.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.001, 0.9), loss="mse")
    x = np.linspace(-1, 1, 20).reshape(-1, 1)
    y = 2 * x[:, 0] + 1
    sched = keras.callbacks.LearningRateScheduler(lambda e, lr: 0.001 if e < 50 else 0.0001)
    r = model.fit(x, y, epochs=3, callbacks=[sched], verbose=0)
    assert len(r.history["loss"]) == 3 and r.history["learning_rate"][0] == pytest.approx(1e-3)
    assert len(model.layers) == 1
    w, b = model.layers[0].get_weights()
    assert w.shape == (1, 1) and b.shape == (1,)


def test_lecture15_predictions_equal_manual_formula():
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`"):  # as Keras 3 does
        model = keras.models.Sequential([keras.layers.Dense(1, input_shape=(3,))])
    x = np.random.default_rng(0).standard_normal((7, 3))
    yhat = model.predict(x, verbose=0).flatten()
    w, b = model.layers[0].get_weights()
    np.testing.assert_allclose(yhat, (x.astype(np.float32).dot(w) + b).flatten(), rtol=1e-6)


def test_sequential_add_and_deferred_build():
    model = keras.models.Sequential()
    model.add(keras.layers.Dense(4, activation="relu"))
    model.add(keras.layers.Dense(2))
    assert not model.built
    y = model(np.zeros((3, 5), np.float32))
    assert y.shape == (3, 2) and model.built
    assert model.count_params() == 5 * 4 + 4 + 4 * 2 + 2


def test_summary_table(capsys):
    model = keras.models.Sequential([keras.Input(shape=(30,)),
                                     keras.layers.Dense(1, activation="sigmoid")])
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "' in text and "Dense" in text and "(None, 1)" in text
    assert "Total params: 31 (124.00 B)" in text
    assert "Trainable params: 31" in text and "Non-trainable params: 0" in text


def test_get_set_weights_roundtrip_and_count():
    model = keras.models.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3),
                                     keras.layers.Dense(2)])
    ws = [np.full(w.shape, i, np.float32) for i, w in enumerate(model.get_weights())]
    model.set_weights(ws)
    assert all(np.array_equal(a, b) for a, b in zip(ws, model.get_weights()))
    with pytest.raises(ValueError):
        model.set_weights(ws[:-1])


def test_functional_layers_include_input_layer_and_nesting():
    inp = keras.Input(shape=(4,))
    body = keras.models.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="b1")])
    out = keras.layers.Dense(1, name="head")(body(inp))
    model = keras.Model(inp, out)
    assert type(model.layers[0]).__name__ == "InputLayer"
    assert [l.name for l in model.layers[1:]] == [body.name, "head"]
    x = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model.get_layer("head")(body(x)), rtol=1e-6)
    # frozen body: only the head trains
    body.trainable = False
    assert len(model.trainable_weights) == 2
    model.compile(optimizer="sgd", loss="mse")
    before = body.get_weights()
    model.fit(x, np.ones((5, 1)), epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, body.get_weights()))


def test_dtype_float64_end_to_end():
    scratch.set_floatx("float64")
    try:
        model = keras.models.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(3),
                                         keras.layers.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.ones((4, 2)), np.ones(4), verbose=0)
        assert all(w.dtype == np.float64 for w in model.get_weights())
        assert model.predict(np.ones((1, 2)), verbose=0).dtype == np.float64
    finally:
        scratch.set_floatx("float32")


def test_history_and_evaluate_formats():
    model = keras.models.Sequential([keras.Input(shape=(3,)),
                                     keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = np.random.default_rng(0).standard_normal((10, 3))
    y = np.arange(10) % 2
    h = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0)
    assert list(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    res = model.evaluate(x, y, verbose=0)
    assert isinstance(res, list) and len(res) == 2
    d = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(d) == {"loss", "accuracy"}


def test_early_stopping_restores_best():
    model = keras.models.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(5.0), loss="mse")  # diverges
    x = np.linspace(-1, 1, 8).reshape(-1, 1)
    cb = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    h = model.fit(x, 3 * x, epochs=20, verbose=0, callbacks=[cb])
    assert len(h.history["loss"]) < 20


def test_verbose_progress_output(capsys):
    model = keras.models.Sequential([keras.Input(shape=(1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 1)), np.ones(4), epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out and "loss:" in out


def test_import_scratch_does_not_need_tensorflow_names():
    for name in ["layers", "models", "optimizers", "losses", "activations", "initializers",
                 "callbacks", "metrics", "Model", "Input", "Sequential", "utils"]:
        assert getattr(keras, name) is not None


def test_nested_summary(capsys):
    body = keras.models.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="b1")],
                                   name="body")
    inp = keras.Input(shape=(4,))
    model = keras.Model(inp, keras.layers.Dense(1, name="head")(body(inp)))
    model.summary()
    flat = capsys.readouterr().out
    assert "body (Sequential)" in flat and "b1 (Dense)" not in flat
    model.summary(expand_nested=True)
    nested = capsys.readouterr().out
    lines = nested.splitlines()
    i = next(k for k, line in enumerate(lines) if "body (Sequential)" in line)
    assert "└ b1 (Dense)" in lines[i + 1] and "(None, 3)" in lines[i + 1]
    assert "Total params: 19" in nested  # 4·3 + 3 + 3·1 + 1


def test_fit_and_train_on_batch_run_a_subclass_train_step():
    """`Model.train_step` is public and overridable, as in Keras 3: `fit` and `train_on_batch`
    run a subclass's step and pass on its logs (to callbacks after each step, to the history
    at the end of each epoch, as the result of train_on_batch). This step is the built-in one
    written out with the public parts (forward, the loss's value_and_grad, backward,
    grads_and_vars, optimizer.apply_gradients), so it trains the same weights bit for bit."""
    mse = keras.losses.MeanSquaredError()

    class HandWrittenStep(keras.Sequential):
        steps_run = 0

        def train_step(self, x, y, sample_weight=None):
            y_pred = self.forward(x, training=True)
            loss, dy = mse.value_and_grad(y, y_pred, sample_weight=sample_weight)
            self.backward(dy)
            self.optimizer.apply_gradients(self.grads_and_vars())
            self.steps_run += 1
            return {"loss": float(loss), "steps": self.steps_run}

    def make(cls):
        keras.utils.set_random_seed(3)
        model = cls([keras.Input((3,)), keras.layers.Dense(4, activation="tanh"),
                     keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss=mse)
        return model

    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 3)).astype("float32")
    y = rng.standard_normal(10).astype("float32")
    custom, built_in = make(HandWrittenStep), make(keras.Sequential)
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: seen.append(logs["steps"]))
    history = custom.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                         callbacks=[record]).history
    built_in.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert seen == [1, 2, 3, 4, 5, 6]
    assert history["steps"] == [3, 6]  # an epoch's logs: its last step's (Keras' rule)
    assert all(np.array_equal(a, b) for a, b in zip(custom.get_weights(),
                                                    built_in.get_weights()))
    logs = custom.train_on_batch(x[:4], y[:4], return_dict=True)
    loss = built_in.train_on_batch(x[:4], y[:4])
    assert logs == {"loss": loss, "steps": 7}
    assert all(np.array_equal(a, b) for a, b in zip(custom.get_weights(),
                                                    built_in.get_weights()))


def test_a_custom_layer_without_the_backward_flags_trains():
    """A layer of the user's written as `backward(self, dy)` (before the need_dx/need_grads
    keywords) is called with dy alone inside a model, and trains like the built-in layer."""

    class Scale(scratch.layers.Layer):
        def build(self, input_shape):
            self.add_weight("scale", (input_shape[-1],), "ones")
            self.built = True

        def forward(self, x, training=False):
            self._x = x
            return x * self.params["scale"]

        def backward(self, dy):
            self.grads = {"scale": (dy * self._x).sum(axis=0)}
            return dy * self.params["scale"]

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)).astype("float32"), rng.standard_normal((16, 1))
    model = scratch.Sequential([scratch.Input((3,)), Scale(), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(x, y.astype("float32"), epochs=2, verbose=0)
    assert not np.array_equal(model.get_weights()[0], before)


def test_a_list_of_one_output_is_one_output_as_in_keras():
    """Keras unpacks a list of one output (`unpack_singleton`): model(x) is an array, and y or
    [y] train it; the losses equal those of the same model built with the bare output."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)).astype("float32")
    y = rng.standard_normal((8, 2)).astype("float32")
    histories = []
    for outputs, target in [(lambda o: o, y), (lambda o: [o], y), (lambda o: [o], [y])]:
        inputs = scratch.Input((3,))
        dense = scratch.layers.Dense(2, kernel_initializer="ones")
        model = scratch.Model(inputs, outputs(dense(inputs)))
        model.compile(optimizer="sgd", loss="mse")
        assert isinstance(model(x), np.ndarray) and model(x).shape == (8, 2)
        assert model.predict(x, verbose=0).shape == (8, 2)
        histories.append(model.fit(x, target, epochs=2, verbose=0).history["loss"])
    assert histories[0] == histories[1] == histories[2]


def test_a_branched_model_lists_layers_and_weights_in_keras_order(tf_keras):
    """Keras orders a functional model's layers by decreasing depth from the outputs, not by
    call order; `get_weights`/`set_weights` follow it, so weights move between the engines by
    position (as `set_weights(kmodel.get_weights())` in a notebook does)."""
    import keras_ref

    L = scratch.layers
    i = scratch.Input((3,))
    a = L.Dense(3, name="a")(i)
    b = L.Dense(4, name="b")(i)   # called before c, but one level nearer the output
    c = L.Dense(2, name="c")(a)
    model = scratch.Model(i, L.Concatenate(name="cat")([c, b]))
    kmodel = keras_ref.to_keras(model)
    assert [l.name for l in model.layers] == [l.name for l in kmodel.layers]
    assert [l.name for l in model.layers][1:4] == ["a", "c", "b"]
    rng = np.random.default_rng(0)
    kmodel.set_weights([rng.standard_normal(w.shape).astype("float32")
                        for w in kmodel.get_weights()])
    model.set_weights(kmodel.get_weights())
    x = rng.standard_normal((5, 3)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0).shape, (5, 6))
    assert_close(model.predict(x, verbose=0), kmodel.predict(x, verbose=0), kind="forward",
                 dtype="float32")
