"""ReduceLROnPlateau and CSVLogger against tf.keras' own callbacks, fed the same logs."""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratch
from scratch import callbacks
from scratch.testing import assert_close

from conftest import cheap


def _drive(callback, model, logs_per_epoch):
    """Run a callback over an epoch sequence as fit does; the learning rate and the logs
    it saw (it adds keys) after each epoch."""
    callback.set_model(model)
    callback.on_train_begin()
    rates, seen = [], []
    for epoch, logs in enumerate(logs_per_epoch):
        callback.on_epoch_begin(epoch)
        logs = dict(logs)
        callback.on_epoch_end(epoch, logs)
        if model is not None:
            rates.append(float(np.asarray(model.optimizer.learning_rate)))
        seen.append(logs)
    callback.on_train_end()
    return rates, seen


VAL_LOSS = [1.0, 0.9, 0.95, 0.90005, 0.92, 0.91, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89, 0.79]


@pytest.mark.parametrize("config", [
    {}, {"patience": 1}, {"patience": 2, "factor": 0.5, "cooldown": 2},
    {"patience": 1, "min_lr": 0.004, "factor": 0.3},
    {"patience": 1, "min_delta": 0.05},
    {"monitor": "val_acc", "mode": "max", "patience": 1},
])
def test_reduce_lr_on_plateau_follows_keras(tf_keras, config):
    logs = [{"loss": 1.0 + i, "val_loss": v, "val_acc": 1 - v} for i, v in enumerate(VAL_LOSS)]
    kmodel = types.SimpleNamespace(optimizer=tf_keras.optimizers.SGD(0.05), metrics=[])
    model = types.SimpleNamespace(optimizer=scratch.optimizers.SGD(0.05), _metrics=[])
    krates, klogs = _drive(tf_keras.callbacks.ReduceLROnPlateau(**config), kmodel, logs)
    rates, seen = _drive(callbacks.ReduceLROnPlateau(**config), model, logs)
    assert rates == krates, config
    assert [s["learning_rate"] for s in seen] == [k["learning_rate"] for k in klogs]
    if config == {"patience": 1}:
        assert len(set(rates)) > 2  # it did reduce, several times


def test_reduce_lr_on_plateau_in_fit_matches_keras(tf_keras):
    """mode="auto" on an accuracy: maximized, from the compiled metric's direction; the
    rate of each epoch is in the history."""
    import keras_ref

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=scratch.optimizers.SGD(0.5), loss="binary_crossentropy",
                  metrics=["accuracy"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=tf_keras.optimizers.SGD(0.5), loss="binary_crossentropy",
                   metrics=["accuracy"], run_eagerly=True)
    kw = dict(epochs=5, batch_size=8, shuffle=False, validation_split=0.25, verbose=0)
    h = model.fit(x, y, callbacks=[callbacks.ReduceLROnPlateau("val_accuracy", patience=1)],
                  **kw)
    kh = kmodel.fit(x, y, callbacks=[tf_keras.callbacks.ReduceLROnPlateau("val_accuracy",
                                                                          patience=1)], **kw)
    assert h.history["learning_rate"] == kh.history["learning_rate"]
    with pytest.raises(ValueError, match="maximized or minimized"):
        model.fit(x, y, callbacks=[callbacks.ReduceLROnPlateau("val_whatever")], **kw)


def test_reduce_lr_on_plateau_arguments_and_missing_metric():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        callbacks.ReduceLROnPlateau(factor=1.5)
    with pytest.warns(UserWarning, match="mode 'up' is unknown"):
        cb = callbacks.ReduceLROnPlateau(mode="up")
    model = types.SimpleNamespace(optimizer=scratch.optimizers.SGD(0.1), _metrics=[])
    with pytest.warns(UserWarning, match="conditioned on metric `val_loss`"):
        _drive(cb, model, [{"loss": 1.0}])


LOGS = [{"loss": 0.5, "accuracy": 0.25, "lr": [0.1, 0.2]},
        {"loss": 0.4, "accuracy": np.float32(0.5), "val_loss": 0.3, "lr": np.array(3.0)},
        {"loss": 0.3}]


@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_logger_writes_keras_file(tf_keras, tmp_path, separator):
    """The same file as Keras: sorted keys, val_ columns added when the first epoch has
    none, "NA" for a missing key, lists quoted; append adds rows without a second header."""
    files = {}
    for name, module in (("ours", callbacks), ("keras", tf_keras.callbacks)):
        path = tmp_path / f"{name}.csv"
        _drive(module.CSVLogger(path, separator=separator), None, LOGS)
        _drive(module.CSVLogger(str(path), separator=separator, append=True), None, LOGS[:1])
        files[name] = path.read_text()
    assert files["ours"] == files["keras"]
    assert files["ours"].splitlines()[0] == separator.join(
        ["epoch", "accuracy", "loss", "lr", "val_accuracy", "val_loss", "val_lr"])
    assert files["ours"].count("epoch") == 1 and "NA" in files["ours"]


def test_csv_logger_in_fit(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((12, 2)).astype("float32"), rng.standard_normal(12)
    model = scratch.Sequential([scratch.Input((2,)), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    path = tmp_path / "log.csv"
    h = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0,
                  callbacks=[callbacks.CSVLogger(path)])
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,loss,mae,val_loss,val_mae"
    assert [float(v) for v in lines[3].split(",")[1:]] == [
        h.history[k][2] for k in ("loss", "mae", "val_loss", "val_mae")]


# ------------------------------------------------------------------ EarlyStopping
class _EpochModel:
    """Just enough of a model for a monitoring callback: its "weights" are the number of
    the epoch that produced them, so a restore shows which epoch it took."""

    def __init__(self):
        self.epoch, self.stop_training = -1, False
        self.metrics, self._metrics = [], []
        self.restored = None

    def get_weights(self):
        return [np.array(self.epoch)]

    def set_weights(self, weights):
        self.restored = int(weights[0])


def _early_stopping_run(callback, values):
    """fit's calls around an EarlyStopping over `values` of val_loss: the epochs run, the
    epoch whose weights were restored (None: none), and the callback's own state."""
    model = _EpochModel()
    callback.set_model(model)
    callback.on_train_begin()
    epochs = 0
    for epoch, value in enumerate(values):
        model.epoch = epoch
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, {"loss": 1.0, "val_loss": value})
        epochs += 1
        if model.stop_training:
            break
    callback.on_train_end()
    state = (callback.stopped_epoch, callback.wait, callback.best_epoch,
             None if callback.best is None else float(callback.best))
    return epochs, model.restored, state


# values on a grid of 1/8 (exact ties, and min_delta steps that land on them), plus
# neighbours closer than float32 resolves: Keras compares in floatx(), a tie in float32
_VALUES = st.sampled_from([0.25, 0.375, 0.5, 0.625, 0.75, 0.5 + 1e-9, 0.5 - 1e-9])


@cheap
@given(values=st.lists(_VALUES, min_size=1, max_size=12),
       patience=st.integers(0, 3), min_delta=st.sampled_from([0, 0.125, 0.1, -0.125]),
       mode=st.sampled_from(["auto", "min", "max"]),
       baseline=st.sampled_from([None, 0.5, 0.3]), start_from_epoch=st.integers(0, 3),
       restore=st.booleans())
def test_early_stopping_follows_keras(values, patience, min_delta, mode, baseline,
                                      start_from_epoch, restore):
    """Epoch by epoch the same decisions as tf.keras' own EarlyStopping fed the same logs:
    when it stops, the best value and epoch, the patience count, and which epoch's weights
    it restores (Keras 3 restores the best ones at the end even without an early stop)."""
    tf_keras = pytest.importorskip("tensorflow").keras
    config = dict(monitor="val_loss", patience=patience, min_delta=min_delta, mode=mode,
                  baseline=baseline, start_from_epoch=start_from_epoch,
                  restore_best_weights=restore)
    ours = _early_stopping_run(callbacks.EarlyStopping(**config), values)
    theirs = _early_stopping_run(tf_keras.callbacks.EarlyStopping(**config), values)
    assert ours == theirs, config


def test_early_stopping_restores_the_best_weights_without_an_early_stop():
    """Training runs all its epochs; the best epoch was the second: its weights come back
    (scratch restored them only after an early stop before, as Keras 2 did)."""
    epochs, restored, _ = _early_stopping_run(
        callbacks.EarlyStopping(patience=5, restore_best_weights=True), [0.5, 0.25, 0.375])
    assert (epochs, restored) == (3, 1)


def test_early_stopping_direction_comes_from_the_compiled_metric(tf_keras):
    """mode="auto" on `val_precision`: maximized, as the metric's direction says, in fit,
    against tf.keras (the name-based guess before took any name without "acc" or "auc" as
    one to minimize); a monitor of unknown direction raises, an unknown mode warns."""
    import keras_ref

    rng = np.random.default_rng(3)
    x = rng.standard_normal((48, 3)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.standard_normal(48) > 0).astype("float32")
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=scratch.optimizers.SGD(0.3), loss="binary_crossentropy",
                  metrics=[scratch.metrics.Precision(name="precision")])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer=tf_keras.optimizers.SGD(0.3), loss="binary_crossentropy",
                   metrics=[tf_keras.metrics.Precision(name="precision")], run_eagerly=True)
    kw = dict(epochs=8, batch_size=8, shuffle=False, validation_split=0.25, verbose=0)
    stop = dict(monitor="val_precision", patience=1, restore_best_weights=True)
    ours = callbacks.EarlyStopping(**stop)
    theirs = tf_keras.callbacks.EarlyStopping(**stop)
    h = model.fit(x, y, callbacks=[ours], **kw)
    kh = kmodel.fit(x, y, callbacks=[theirs], **kw)
    assert ours.monitor_op == "greater"
    assert len(h.history["loss"]) == len(kh.history["loss"])
    assert ours.best_epoch == theirs.best_epoch
    assert_close(np.array(h.history["val_precision"]), np.array(kh.history["val_precision"]),
                 kind="training", dtype="float32")
    for w, k in zip(model.get_weights(), kmodel.get_weights(), strict=True):
        assert_close(w, k, kind="training", dtype="float32")
    with pytest.raises(ValueError, match="maximized or minimized"):
        model.fit(x, y, callbacks=[callbacks.EarlyStopping("val_whatever")], **kw)
    with pytest.warns(UserWarning, match="EarlyStopping mode 'up' is unknown"):
        assert callbacks.EarlyStopping(mode="up").mode == "auto"


def test_monitoring_callbacks_share_keras_direction_rule(tf_keras, tmp_path):
    """EarlyStopping, ReduceLROnPlateau and ModelCheckpoint pick the same direction as
    tf.keras' three for every compiled metric, a loss, and a custom function (no direction:
    both raise). ModelCheckpoint guessed from names before, and took a custom metric and
    names ending in "_loss" as ones to minimize."""
    import keras_ref

    def hits(y_true, y_pred):
        return y_pred

    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=["accuracy", "mae", scratch.metrics.Precision(name="precision"),
                           scratch.metrics.AUC(name="auc"), hits])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="sgd", loss="binary_crossentropy",
                   metrics=["accuracy", "mae", tf_keras.metrics.Precision(name="precision"),
                            tf_keras.metrics.AUC(name="auc"), hits])
    model.evaluate(x, y, verbose=0)
    kmodel.evaluate(x, y, verbose=0)

    def direction(module, m, name, monitor):
        cb = {"stop": lambda: module.EarlyStopping(monitor),
              "plateau": lambda: module.ReduceLROnPlateau(monitor),
              "checkpoint": lambda: module.ModelCheckpoint(str(tmp_path / "m.keras"),
                                                           monitor)}[name]()
        cb.set_model(m)
        try:
            cb._set_monitor_op()
        except ValueError as e:
            assert "maximized or minimized" in str(e)
            return "raises"
        op = cb.monitor_op
        return op if isinstance(op, str) else op.__name__

    for monitor in ("val_loss", "loss", "val_accuracy", "mae", "val_precision", "val_auc",
                    "val_hits", "val_dense_loss"):
        for name in ("stop", "plateau", "checkpoint"):
            assert direction(callbacks, model, name, monitor) == direction(
                tf_keras.callbacks, kmodel, name, monitor), (monitor, name)


# ------------------------------------------------------------------ hooks
_HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_batch_begin",
          "on_batch_end", "on_test_begin", "on_test_end", "on_test_batch_begin",
          "on_test_batch_end", "on_predict_begin", "on_predict_end", "on_predict_batch_begin",
          "on_predict_batch_end"]


def _recorder(module, seen: list, stop_at: dict | None = None):
    """A callback of `module` (scratch.callbacks or tf.keras') that records every hook with
    its batch or epoch number and the keys of its logs (the shape of predict's outputs);
    it sets the model's stop flag named in `stop_at` at the given hook and batch."""

    def hook(name):
        def record(self, *args, **kwargs):
            logs = kwargs.get("logs", args[-1] if args and not isinstance(args[-1], int)
                              else None)
            number = args[0] if args and isinstance(args[0], int) else None
            if logs and "outputs" in logs:
                logs = {"outputs": tuple(np.shape(logs["outputs"]))}
            elif logs is not None:
                logs = tuple(sorted(logs))
            seen.append((name, number, logs))
            for flag, (where, at) in (stop_at or {}).items():
                if name == where and number == at:
                    setattr(self.model, flag, True)
        return record

    # the old aliases only: on_train_batch_* must reach them through the base class
    return type("Recorder", (module.Callback,), {h: hook(h) for h in _HOOKS})()


def test_callback_hooks_are_called_as_keras_calls_them(tf_keras):
    """fit (with validation: the test hooks run inside it), evaluate and predict call the
    same hooks, in the same order, with the same batch numbers and the same log keys as
    tf.keras: the old names on_batch_begin/on_batch_end reach every training batch through
    on_train_batch_begin/end, and on_train_end gets the last epoch's logs. Before, scratch
    had no test or predict hooks, ignored evaluate's and predict's callbacks, and never
    called on_batch_end."""
    import keras_ref

    rng = np.random.default_rng(6)
    x = rng.standard_normal((20, 3)).astype("float32")
    y = x[:, :2] * 2
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    records = []
    for module, m in ((callbacks, model), (tf_keras.callbacks, kmodel)):
        seen: list = []
        m.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0,
              callbacks=[_recorder(module, seen)])
        m.evaluate(x, y, batch_size=8, verbose=0, callbacks=[_recorder(module, seen)])
        m.predict(x, batch_size=8, verbose=0, callbacks=_recorder(module, seen))
        records.append(seen)
    assert records[0] == records[1]
    names = [r[0] for r in records[0]]
    assert names.count("on_batch_end") == 4 and names.count("on_test_batch_end") == 1 + 1 + 3
    assert records[0][-2] == ("on_predict_batch_end", 2, {"outputs": (4, 2)})
    assert ("on_train_end", None, ("loss", "mae", "val_loss", "val_mae")) in records[0]


def test_hooks_stop_evaluate_and_predict_early(tf_keras):
    """`model.stop_evaluating` / `stop_predicting` set in a batch hook end the loop after
    that batch, as in Keras: evaluate's logs cover the batches seen, predict returns their
    rows."""
    seen: list = []
    rng = np.random.default_rng(7)
    x = rng.standard_normal((20, 3)).astype("float32")
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    stop = _recorder(callbacks, seen, {"stop_evaluating": ("on_test_batch_end", 0),
                                       "stop_predicting": ("on_predict_batch_end", 1)})
    first = model.evaluate(x[:8], x[:8, 0], batch_size=8, verbose=0)
    assert model.evaluate(x, x[:, 0], batch_size=8, verbose=0, callbacks=[stop]) == first
    assert model.predict(x, batch_size=8, verbose=0, callbacks=[stop]).shape == (16, 1)
    assert [r[0] for r in seen].count("on_test_batch_end") == 1


def test_lambda_callback_takes_any_hook_by_name():
    seen = []
    cb = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen.append(("b", batch)),
                                  on_test_end=lambda logs: seen.append(("t", sorted(logs))))
    model = scratch.Sequential([scratch.Input((2,)), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.ones((4, 2), "float32")
    model.fit(x, x[:, 0], batch_size=2, verbose=0, validation_data=(x, x[:, 0]), callbacks=[cb])
    assert seen == [("b", 0), ("b", 1), ("t", ["loss"])]
