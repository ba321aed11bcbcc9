"""A `train_step(self, data)` of your own, as Keras 3's "customizing fit" guide writes it:
the same class run in scratch (with `scratch.GradientTape`) and in tf.keras (with
`tf.GradientTape`) gives the same history, logs and weights."""

from __future__ import annotations

import numpy as np
import pytest

import scratch
from scratch.testing import assert_close


def _update_metrics(model, loss, y, y_pred) -> dict:
    """The guide's loop over `model.metrics`: the loss tracker takes the loss, the others
    (the compiled metrics) the targets and predictions; returns every result."""
    for metric in model.metrics:
        if metric.name == "loss":
            metric.update_state(loss)
        else:
            metric.update_state(y, y_pred)
    return {m.name: m.result() for m in model.metrics}


def _guide_model(keras, tape):
    """The guide's first example: the compiled loss and metrics, driven by hand."""

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tape() as t:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = t.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            return _update_metrics(self, loss, y, y_pred)

    inputs = keras.Input(shape=(6,))
    hidden = keras.layers.Dense(5, activation="tanh")(inputs)
    return CustomModel(inputs, keras.layers.Dense(1)(hidden))


def _tracker_model(keras, tape, ops):
    """No compiled loss: the step computes its own loss and keeps its own trackers, which a
    `metrics` property lists (so that each epoch resets them), as the guide's GAN does."""

    class TrackerModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="my_loss")
            self.gap_tracker = keras.metrics.Mean(name="gap")

        @property
        def metrics(self):
            return [self.loss_tracker, self.gap_tracker]

        def train_step(self, data):
            x, y, w = data
            with tape() as t:
                y_pred = self(x, training=True)
                loss = ops.mean(w[:, None] * ops.square(y_pred - y))
            grads = t.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
            self.loss_tracker.update_state(loss)
            self.gap_tracker.update_state(ops.mean(ops.abs(y_pred - y)))
            return {"my_loss": self.loss_tracker.result(), "gap": self.gap_tracker.result()}

    inputs = keras.Input(shape=(6,))
    return TrackerModel(inputs, keras.layers.Dense(1)(inputs))


def _data():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((40, 6)).astype("float32")
    y = (x @ rng.standard_normal((6, 1)) + 0.1).astype("float32")
    w = rng.uniform(0.5, 1.5, 40).astype("float32")
    return x, y, w


def test_the_guides_train_step_trains_as_in_tf_keras(tf_keras):
    """fit with the guide's step: Keras packs (x, y); the step's logs, with the compiled
    metrics' dict flattened where Keras sorts it ("compile_metrics" before "loss"), are
    each epoch's history; the weights follow tf.keras'."""
    import tensorflow as tf

    ours = _guide_model(scratch, scratch.GradientTape)
    theirs = _guide_model(tf_keras, tf.GradientTape)
    theirs.set_weights(ours.get_weights())
    x, y, _ = _data()
    histories = []
    for m, k in ((ours, scratch), (theirs, tf_keras)):
        m.compile(optimizer=k.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
        histories.append(m.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0).history)
    assert list(histories[0]) == list(histories[1]) == ["mae", "loss"]  # Keras' order
    for key in histories[0]:
        assert_close(np.array(histories[0][key]), np.array(histories[1][key]), kind="training",
                     dtype="float32", msg=key)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert_close(a, b, kind="training", dtype="float32")
    assert [m.name for m in ours.metrics] == ["loss", "compile_metrics"]


def test_a_step_with_its_own_loss_and_trackers_follows_tf_keras(tf_keras):
    """compile() without a loss, sample weights packed as (x, y, w), the model's own Mean
    trackers listed by its `metrics` property and reset at each epoch."""
    import tensorflow as tf

    ours = _tracker_model(scratch, scratch.GradientTape, scratch.ops)
    theirs = _tracker_model(tf_keras, tf.GradientTape, tf_keras.ops)
    theirs.set_weights(ours.get_weights())
    x, y, w = _data()
    histories = []
    for m, k in ((ours, scratch), (theirs, tf_keras)):
        m.compile(optimizer=k.optimizers.Adam(0.01))
        histories.append(m.fit(x, y, sample_weight=w, batch_size=10, epochs=3, shuffle=False,
                               verbose=0).history)
    assert list(histories[0]) == list(histories[1]) == ["gap", "my_loss"]
    for key in histories[0]:
        assert_close(np.array(histories[0][key]), np.array(histories[1][key]), kind="training",
                     dtype="float32", msg=key)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        assert_close(a, b, kind="training", dtype="float32")
    # train_on_batch hands over (x, y, sample_weight) and resets the trackers first
    logs = ours.train_on_batch(x[:10], y[:10], sample_weight=w[:10], return_dict=True)
    klogs = theirs.train_on_batch(x[:10], y[:10], sample_weight=w[:10], return_dict=True)
    assert sorted(logs) == sorted(klogs) == ["gap", "my_loss"]
    for key in logs:
        assert_close(np.float32(logs[key]), np.float32(klogs[key]), kind="training",
                     dtype="float32", msg=key)


def test_compute_loss_without_a_loss_says_so():
    model = scratch.Sequential([scratch.Input((2,)), scratch.layers.Dense(1)])
    model.compile()
    with pytest.raises(ValueError, match="No loss to compute"):
        model.compute_loss(y=np.zeros((1, 1)), y_pred=np.zeros((1, 1)))


def _evaluating_model(keras):
    """The guide's own evaluation step, and a predict step that doubles the outputs."""

    class EvalModel(keras.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            return _update_metrics(self, loss, y, y_pred)

        def predict_step(self, data):
            x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            return 2 * self(x, training=False)

    inputs = keras.Input(shape=(6,))
    return EvalModel(inputs, keras.layers.Dense(2)(inputs))


def test_test_step_and_predict_step_of_your_own_follow_tf_keras(tf_keras):
    """evaluate (and fit's validation) run a test_step(self, data) of your own, predict and
    predict_on_batch a predict_step: the same logs, history and outputs as tf.keras (scratch
    ignored both overrides before)."""
    ours, theirs = _evaluating_model(scratch), _evaluating_model(tf_keras)
    theirs.set_weights(ours.get_weights())
    x, y, _ = _data()
    y = np.concatenate([y, -y], axis=1)
    results = []
    for m, k in ((ours, scratch), (theirs, tf_keras)):
        m.compile(optimizer=k.optimizers.SGD(0.01), loss="mse", metrics=["mae"])
        h = m.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_data=(x[:16], y[:16]),
                  verbose=0).history
        results.append((h, m.evaluate(x, y, batch_size=16, verbose=0, return_dict=True),
                        m.predict(x, batch_size=16, verbose=0), m.predict_on_batch(x[:4])))
    (h, ev, pred, batch), (kh, kev, kpred, kbatch) = results
    assert list(h) == list(kh) and list(ev) == list(kev)
    for key in h:
        assert_close(np.array(h[key]), np.array(kh[key]), kind="training", dtype="float32",
                     msg=key)
    for key in ev:
        assert_close(np.float32(ev[key]), np.float32(kev[key]), kind="training",
                     dtype="float32", msg=key)
    assert_close(pred, np.asarray(kpred), kind="training", dtype="float32")
    assert_close(batch, np.asarray(kbatch), kind="training", dtype="float32")
    assert_close(pred[:4], 2 * ours(x[:4]).numpy(), kind="forward", dtype="float32")
    data = scratch.utils.pack_x_y_sample_weight(x, y)
    assert scratch.utils.unpack_x_y_sample_weight(data)[2] is None
    assert scratch.utils.pack_x_y_sample_weight(x) is x


def test_validation_without_a_loss_or_a_test_step_is_refused_before_training():
    """A train_step of your own needs no compiled loss; validating with the default test
    step does (Keras fails at the end of the first epoch; scratch before it starts)."""
    model = _tracker_model(scratch, scratch.GradientTape, scratch.ops)
    model.compile(optimizer="sgd")
    x, y, w = _data()
    w0 = [a.copy() for a in model.get_weights()]
    with pytest.raises(ValueError, match="No loss to compute for the validation data"):
        model.fit(x, y, sample_weight=w, validation_split=0.25, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), w0))
