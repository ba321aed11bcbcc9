"""`ModelCheckpoint`: save the model (or its weights) during `fit`, as Keras' callback does.

    cb = ModelCheckpoint("ckpt/model-{epoch:02d}-{val_loss:.3f}.keras",
                         monitor="val_loss", save_best_only=True)
    model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[cb])

Every file is written to a temporary file in the target folder and renamed over the target
only once it is complete (`scratch.saving.files.atomic_write`), so an interrupted run
never leaves a half-written checkpoint, and the previous best checkpoint stays intact until
the new one is whole.
"""

from __future__ import annotations

import os
import warnings

from ..callbacks import MonitorCallback


class ModelCheckpoint(MonitorCallback):
    """Save the model or its weights at the end of every epoch (or every `save_freq` batches).

    Args:
        filepath: where to save; may contain `{epoch:02d}` (1-based, as in Keras), `{batch}`
            (with an integer `save_freq`) and any key of the logs, e.g. `{val_loss:.2f}`.
            Must end in `.keras` or `.h5` (full model), or in `.weights.h5` when
            `save_weights_only=True`.
        monitor: the logs key compared when `save_best_only=True` (default "val_loss").
        verbose: 1 prints a line per save decision.
        save_best_only: save only when `monitor` improved on the best value seen so far.
        save_weights_only: save `model.save_weights(...)` instead of `model.save(...)`.
        mode: "min", "max" or "auto" (min for `loss`, else the direction of the compiled
            metric of that name; one that has none raises, as in Keras: `MonitorCallback`).
        save_freq: "epoch" or an integer number of batches between saves.
        initial_value_threshold: the best value to beat at the start (None: any).

    Math:
        improvement ⇔ monitor < best (mode "min") or monitor > best (mode "max"), compared
        in floatx() as Keras' `ops.less` / `ops.greater`.

    Shapes:
        not applicable (a training callback).

    Raises:
        ValueError: a filepath with the wrong extension, an unknown `save_freq`, or
            `mode="auto"` with a monitor whose direction cannot be inferred.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0
        if save_freq != "epoch" and (isinstance(save_freq, bool) or
                                     not isinstance(save_freq, int)):
            raise ValueError(f"Unrecognized save_freq: {save_freq}. Expected save_freq are "
                             "'epoch' or integer values")
        if save_weights_only:
            if not self.filepath.endswith(".weights.h5"):
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format). Received: "
                    f"filepath={self.filepath}"
                )
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model "
                             f"format). Received: filepath={self.filepath}")

    # ------------------------------------------------------------------ hooks
    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        if self._last_batch_seen is None or batch <= self._last_batch_seen:
            added = batch + 1
        else:
            added = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    # ------------------------------------------------------------------ saving
    def _file_path(self, epoch: int, batch, logs: dict) -> str:
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None

    def _should_save(self, epoch: int, logs: dict, filepath: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=3)
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                      f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False

    def _save(self, epoch: int, batch, logs) -> None:
        logs = dict(logs or {})
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise OSError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")
