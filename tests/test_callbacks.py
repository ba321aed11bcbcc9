"""ReduceLROnPlateau and CSVLogger against tf.keras' own callbacks, fed the same logs."""

from __future__ import annotations

import types

import numpy as np
import pytest

import scratch
from scratch import callbacks


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
