"""Keras callbacks: History, LearningRateScheduler, EarlyStopping, ReduceLROnPlateau,
CSVLogger, TerminateOnNaN, Lambda (ModelCheckpoint lives with the file formats), and
`MonitorCallback`, the rule of the three that watch a logged quantity.

Hooks are Keras': on_train_begin/end, on_epoch_begin/end(epoch, logs),
on_train_batch_begin/end(batch, logs). `model.stop_training = True` ends `fit` after the
current batch (TerminateOnNaN) or epoch (EarlyStopping).
"""

from __future__ import annotations

import collections
import csv
import functools
import inspect
import os
import warnings

import numpy as np

from . import backend


class Callback:
    """Base class: every hook is a no-op; `self.model` and `self.params` are set by fit,
    evaluate and predict.

    The hooks and what they receive are Keras 3's:

        fit       on_train_begin(), on_epoch_begin(e), on_train_batch_begin(b),
                  on_train_batch_end(b, running logs), [validation: the evaluate hooks],
                  on_epoch_end(e, epoch logs with val_*), on_train_end(last epoch's logs)
        evaluate  on_test_begin(), on_test_batch_begin(b), on_test_batch_end(b, running
                  logs), on_test_end(final logs)
        predict   on_predict_begin(), on_predict_batch_begin(b),
                  on_predict_batch_end(b, {"outputs": the batch's outputs}), on_predict_end()

    `on_batch_begin` / `on_batch_end` are Keras' older names: the default
    `on_train_batch_begin` / `on_train_batch_end` call them, so a callback that overrides
    either runs on every training batch. `model.stop_training` (in fit),
    `stop_evaluating` and `stop_predicting` set by a hook end the loop after that batch.
    """

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_batch_begin(self, batch, logs=None): ...
    def on_batch_end(self, batch, logs=None): ...

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)  # Keras' backwards-compatible alias

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs=None): ...
    def on_test_end(self, logs=None): ...
    def on_test_batch_begin(self, batch, logs=None): ...
    def on_test_batch_end(self, batch, logs=None): ...
    def on_predict_begin(self, logs=None): ...
    def on_predict_end(self, logs=None): ...
    def on_predict_batch_begin(self, batch, logs=None): ...
    def on_predict_batch_end(self, batch, logs=None): ...


class History(Callback):
    """Records `history[key]` per epoch; `fit` returns it (also `model.history`)."""

    def __init__(self):
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch.

    `schedule(epoch, lr) -> new_lr` (or the Keras 2 one-argument `schedule(epoch)`) is called
    with the 0-based epoch index; the value applies to every step of that epoch and is logged
    as `history["learning_rate"]`.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose
        try:
            self._two_args = len(inspect.signature(schedule).parameters) >= 2
        except (TypeError, ValueError):
            self._two_args = True

    def on_epoch_begin(self, epoch, logs=None):
        opt = self.model.optimizer
        if not isinstance(opt._learning_rate_value, float):
            raise TypeError(
                "LearningRateScheduler cannot be combined with an optimizer whose learning "
                "rate is a LearningRateSchedule object."
            )
        lr = float(opt.learning_rate)
        lr = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        if not isinstance(lr, (float, int, np.floating, np.integer)) or isinstance(lr, bool):
            raise ValueError(
                'The output of the "schedule" function should be a float. '
                f"Got: {lr!r}"
            )
        opt.learning_rate = float(lr)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class MonitorCallback(Callback):
    """Keras' base of the callbacks that watch one logged quantity (EarlyStopping,
    ReduceLROnPlateau, ModelCheckpoint): which direction is better, and what counts as
    better.

        direction ("auto" mode, chosen at the first epoch's end, when the model's metrics
        exist): "min" for `loss` / `val_loss`, else the `_direction` of the compiled metric
        of that name ("up": maximize, "down": minimize); none of those raises, as in Keras
        improved ⇔ value − min_delta < reference  (min)
                   value + min_delta > reference  (max)
                   reference None (the first value) always improves

    Keras compares with `ops.less` / `ops.greater`, which turn Python floats into
    `floatx()` tensors: so does `_is_improvement` (float32 by default), so a value within
    float32 rounding of the best is a tie in both engines.

    Args:
        monitor: the log key to watch (default "val_loss").
        mode: "auto", "min" or "max" (an unknown mode warns and falls back to "auto").
        baseline: the initial best value (None: the first value is the best).
        min_delta: the least change that counts as an improvement (its absolute value).
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode '{mode}' is unknown, fallback to auto "
                          "mode.", stacklevel=3)
            mode = "auto"
        self.monitor, self.mode = monitor, mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None  # "less" or "greater", chosen at the first epoch's end

    def _set_monitor_op(self) -> None:
        """Keras' `MonitorCallback._set_monitor_op`: the direction of improvement."""
        if self.mode in ("min", "max"):
            self.monitor_op = "less" if self.mode == "min" else "greater"
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = "less"
            for m in [m for ms in (getattr(self.model, "_metrics", None) or []) for m in ms]:
                direction = getattr(getattr(m, "resolved", None) or m, "_direction", None)
                if m.name == name and direction is not None:
                    self.monitor_op = "greater" if direction == "up" else "less"
            if self.monitor_op is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor}, but "
                    "Keras isn't able to automatically determine whether that metric should be "
                    "maximized or minimized. Pass `mode='max'` in order to monitor based on "
                    "the highest metric value, or pass `mode='min'` in order to use the "
                    "lowest value.")
        if self.monitor_op == "less":
            self.min_delta *= -1

    def _is_improvement(self, value, reference) -> bool:
        """Keras' `ops.less/greater(value − min_delta, reference)`, in floatx()."""
        if reference is None:
            return True
        dtype = np.dtype(backend.floatx()).type
        shifted, reference = dtype(value - self.min_delta), dtype(reference)
        return bool(shifted < reference if self.monitor_op == "less" else shifted > reference)


class EarlyStopping(MonitorCallback):
    """Stops training when `monitor` has stopped improving for `patience` epochs (Keras 3's
    callback, step for step).

    At the end of each epoch from `start_from_epoch` on (improvement as `MonitorCallback`):

        wait += 1
        if improved on best: best = value (its weights kept with restore_best_weights),
                             wait = 0 unless a `baseline` is set and not yet beaten
        elif wait ≥ patience and epoch > 0: stop training after this epoch

    At the end of training, `restore_best_weights=True` puts back the best epoch's weights
    whether or not training stopped early (Keras 3; Keras 2 restored them only after an
    early stop).

    Args:
        monitor: the log key to watch (default "val_loss").
        min_delta: the least change that counts as an improvement (default 0).
        patience: epochs without improvement before stopping (default 0).
        verbose: 1 prints when it stops and when it restores weights.
        mode: "auto", "min" or "max" (an unknown mode warns and falls back to "auto").
        baseline: a value to beat before `wait` is reset (None: any improvement).
        restore_best_weights: end with the weights of the best epoch.
        start_from_epoch: epochs to run before watching (a warm-up).
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs or {})}",
                          stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(MonitorCallback):
    """Divides the learning rate when `monitor` has stopped improving (Keras' callback).

    At the end of each epoch (Keras 3's `ReduceLROnPlateau`; improvement as
    `MonitorCallback`):

        logs["learning_rate"] = the rate of this epoch  (in the history, and on the bar)
        in cooldown: cooldown −= 1, wait = 0
        if improved: best = value, wait = 0
        elif not in cooldown: wait += 1; when wait ≥ patience and lr > float32(min_lr):
            lr ← max(lr·factor, min_lr), cooldown = `cooldown`, wait = 0

    Args:
        monitor: the log key to watch (default "val_loss").
        factor: the factor applied to the rate (< 1, default 0.1).
        patience: epochs without improvement before a reduction (default 10).
        verbose: 1 prints each reduction.
        mode: "auto", "min" or "max" (an unknown mode warns and falls back to "auto").
        min_delta: the least change that counts as an improvement (default 1e-4).
        cooldown: epochs to wait after a reduction before counting again (default 0).
        min_lr: the rate never goes below it (default 0).
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        super().__init__(monitor, mode, min_delta=min_delta)
        self.factor, self.min_lr, self.patience = factor, min_lr, patience
        self.verbose, self.cooldown = verbose, cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self.best, self.cooldown_counter, self.wait = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` "
                          "which is not available. Available metrics are: "
                          f"{','.join(list(logs.keys()))}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce_lr(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce_lr(self, optimizer, epoch: int) -> bool:
        old_lr = float(optimizer.learning_rate)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                      f"{new_lr}.")
            return True
        return False


class CSVLogger(Callback):
    """Writes each epoch's logs to a CSV file (Keras' `CSVLogger`).

    The header is "epoch" then the log keys sorted (with a "val_" column for each when the
    first epoch has no validation keys); one row per epoch, written and flushed at its end;
    a key missing from an epoch's logs is written "NA", a list of values as "[a, b]".

    Args:
        filename: the CSV file.
        separator: the field delimiter (default ",").
        append: add to an existing file (no second header when it is not empty) instead of
            overwriting it.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.sep = separator
        self.filename = os.fspath(filename)
        self.append = append
        self.writer = None
        self.keys = None
        self.append_header = True
        self.csv_file = None

    def on_train_begin(self, logs=None):
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename) as f:
                    self.append_header = not bool(len(f.readline()))
            mode = "a"
        else:
            mode = "w"
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.csv_file = open(self.filename, mode)  # noqa: SIM115 (closed in on_train_end)
        self.writer = None
        self.keys = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}

        def handle_value(k):
            is_zero_dim_ndarray = isinstance(k, np.ndarray) and k.ndim == 0
            if isinstance(k, str):
                return k
            if isinstance(k, collections.abc.Iterable) and not is_zero_dim_ndarray:
                return f'"[{", ".join(map(str, k))}]"'
            return k

        if self.keys is None:
            self.keys = sorted(logs.keys())
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys.extend([f"val_{k}" for k in self.keys])
        if not self.writer:
            class CustomDialect(csv.excel):
                delimiter = self.sep

            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         dialect=CustomDialect)
            if self.append_header:
                self.writer.writeheader()
        row = collections.OrderedDict({"epoch": epoch})
        row.update((key, handle_value(logs.get(key, "NA"))) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch loss is NaN or inf."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Callback built from plain functions, e.g. `LambdaCallback(on_epoch_end=f)`; any
    other hook by its name as a keyword (`on_test_end=g`, `on_batch_end=h`), as in Keras."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None,
                 **kwargs):
        super().__init__()
        self.__dict__.update(kwargs)
        for name, fn in dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                             on_train_begin=on_train_begin, on_train_end=on_train_end,
                             on_train_batch_begin=on_train_batch_begin,
                             on_train_batch_end=on_train_batch_end).items():
            if fn is not None:
                setattr(self, name, fn)


def as_callback_list(callbacks) -> list[Callback]:
    """`fit(callbacks=...)` as a list: None, one callback (Keras accepts it alone: its
    CallbackList flattens what it is given) or a list or tuple of callbacks.

    Raises:
        TypeError: for anything that is not a scratch `Callback` (tf.keras' included).
    """
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError("`callbacks` must be a Callback or a list of Callbacks. "
                        f"Received: callbacks={callbacks!r}")
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"Callbacks must be scratch.callbacks.Callback instances. "
                            f"Received: {cb!r}")
    return list(callbacks)


class CallbackList:
    """Dispatches every hook to a list of callbacks (History last, as Keras does)."""

    def __init__(self, callbacks=None, model=None, add_history=False, params=None):
        self.callbacks = as_callback_list(callbacks)
        if add_history:
            model.history = History()
            self.callbacks.append(model.history)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params or {})

    def _call(self, hook: str, *args) -> None:
        """Every callback's `hook`; logs of None become {} (Keras' CallbackList hands every
        hook a dict, the same one to all callbacks, so keys one adds reach the next)."""
        if args[-1] is None:
            args = args[:-1] + ({},)
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def _overrides(self, *hooks: str) -> bool:
        """Whether a callback has its own version of one of `hooks` (a method of its class,
        or a function set on it, as LambdaCallback does)."""
        return any(getattr(getattr(cb, hook), "__func__", None) is not getattr(Callback, hook)
                   for cb in self.callbacks for hook in hooks)

    @functools.cached_property
    def has_batch_hooks(self) -> bool:
        """Whether a callback overrides a train-batch hook, or Keras' older names of them
        (else fit need not build the per-batch logs for them). Worked out once per list,
        as the batch flags below: fit validates with the same list every epoch."""
        return self._overrides("on_train_batch_begin", "on_train_batch_end",
                               "on_batch_begin", "on_batch_end")

    @functools.cached_property
    def has_test_batch_hooks(self) -> bool:
        return self._overrides("on_test_batch_begin", "on_test_batch_end")

    @functools.cached_property
    def has_predict_batch_hooks(self) -> bool:
        return self._overrides("on_predict_batch_begin", "on_predict_batch_end")

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_train_batch_begin(self, b, logs=None): self._call("on_train_batch_begin", b, logs)
    def on_train_batch_end(self, b, logs=None): self._call("on_train_batch_end", b, logs)
    def on_test_begin(self, logs=None): self._call("on_test_begin", logs)
    def on_test_end(self, logs=None): self._call("on_test_end", logs)
    def on_test_batch_begin(self, b, logs=None): self._call("on_test_batch_begin", b, logs)
    def on_test_batch_end(self, b, logs=None): self._call("on_test_batch_end", b, logs)
    def on_predict_begin(self, logs=None): self._call("on_predict_begin", logs)
    def on_predict_end(self, logs=None): self._call("on_predict_end", logs)
    def on_predict_batch_begin(self, b, logs=None): self._call("on_predict_batch_begin", b, logs)
    def on_predict_batch_end(self, b, logs=None): self._call("on_predict_batch_end", b, logs)


def __getattr__(name: str):
    if name == "ModelCheckpoint":  # lives with the file formats
        from .saving.checkpoint import ModelCheckpoint

        return ModelCheckpoint
    raise AttributeError(f"module 'scratch.callbacks' has no attribute {name!r}")
