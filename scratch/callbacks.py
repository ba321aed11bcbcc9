"""Keras callbacks: History, LearningRateScheduler, EarlyStopping, TerminateOnNaN, Lambda.

Hooks are Keras': on_train_begin/end, on_epoch_begin/end(epoch, logs),
on_train_batch_begin/end(batch, logs). `model.stop_training = True` ends `fit` after the
current batch (TerminateOnNaN) or epoch (EarlyStopping).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np


class Callback:
    """Base class: every hook is a no-op; `self.model` and `self.params` are set by fit."""

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
    def on_train_batch_begin(self, batch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...


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


class EarlyStopping(Callback):
    """Stops training when `monitor` has stopped improving for `patience` epochs."""

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping mode must be 'auto', 'min' or 'max'. "
                             f"Received: mode={mode!r}")
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
        self.mode = mode
        self.min_delta = abs(min_delta) * (1 if mode == "max" else -1)
        self.stopped_epoch = 0

    def _improved(self, value, reference) -> bool:
        if reference is None:
            return True
        if self.mode == "max":
            return value - self.min_delta > reference
        return value - self.min_delta < reference

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
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
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None and self.stopped_epoch:
            if self.verbose:
                print("Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch loss is NaN or inf."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """Callback built from plain functions, e.g. `LambdaCallback(on_epoch_end=f)`."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None):
        super().__init__()
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
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    @property
    def has_batch_hooks(self) -> bool:
        """Whether a callback overrides a train-batch hook (else fit need not build the
        per-batch logs for them)."""
        return any(getattr(getattr(cb, hook), "__func__", None) is not getattr(Callback, hook)
                   for cb in self.callbacks
                   for hook in ("on_train_batch_begin", "on_train_batch_end"))

    def on_train_begin(self, logs=None): self._call("on_train_begin", logs)
    def on_train_end(self, logs=None): self._call("on_train_end", logs)
    def on_epoch_begin(self, epoch, logs=None): self._call("on_epoch_begin", epoch, logs)
    def on_epoch_end(self, epoch, logs=None): self._call("on_epoch_end", epoch, logs)
    def on_train_batch_begin(self, b, logs=None): self._call("on_train_batch_begin", b, logs)
    def on_train_batch_end(self, b, logs=None): self._call("on_train_batch_end", b, logs)


def __getattr__(name: str):
    if name == "ModelCheckpoint":  # lives with the file formats
        from .saving.checkpoint import ModelCheckpoint

        return ModelCheckpoint
    raise AttributeError(f"module 'scratch.callbacks' has no attribute {name!r}")
