"""compile / fit / evaluate / predict / train_on_batch: Keras 3's training loop in NumPy.

One train step (`Model.train_step`; docs/KERAS_NUMERICS.md §Fit loop), in Keras' order:
    1. y_pred = model.forward(x, training=True)       (dropout on, BN batch statistics)
    2. loss = Σ_outputs loss_weight · loss(y, y_pred)  (cross-entropies on hidden logits)
    3. dL/dy_pred → model.backward → per-weight gradients
    4. optimizer.apply_gradients  (clip, weight decay, update, iterations += 1)
    5. metrics.update_state(y, y_pred)  with the *pre-update* y_pred
`history["loss"]` is the sample-weighted mean of the pre-update batch losses of the epoch;
`val_*` are computed with the end-of-epoch weights. What a step needs besides the data (the
layer walk, who learns, the trainable flags, the size of the work) is the model's step plan
(scratch/models/step_plan.py), made once per compile and graph.

The module is over the project's 500 lines because `TrainingMixin` is Keras' Trainer: compile,
fit, evaluate, predict, train_on_batch, test_on_batch and the callbacks' hooks share one set
of batching and logging helpers (the argument checks live in arguments.py, the step's plan
in step_plan.py).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

from .. import callbacks as callbacks_module
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from .. import random
from .._denormals import subnormals_as_zero
from .._threads import engine_threads, refresh_engine_threads
from ..layers.base import as_list
from . import arguments
from .batch_sources import BatchSource
from .custom_step import CustomStepMixin, pack_data, pythonify_logs
from .progress import Progbar

if TYPE_CHECKING:
    from .step_plan import StepPlan


def _rows_in(x) -> int:
    """The number of samples in the batch `x` (an array, or a list or dict of arrays), for
    the thread policy only: 1 where it cannot tell (an empty dict, a number); the entry
    point then says what is wrong with `x`."""
    if isinstance(x, dict):
        x = next(iter(x.values()), None)
    elif isinstance(x, (list, tuple)) and x:
        x = x[0]
    try:
        return max(1, len(x))
    except TypeError:  # None, a number, a 0-d array
        return 1


def _is_array_data(x) -> bool:
    return isinstance(x, (np.ndarray, list, tuple, dict)) or np.isscalar(x) or hasattr(
        x, "__array__")


def _one_input(x):
    """The data of a single-input model: `x`, or the array in `[x]` (a list with one array
    per input, as for several inputs; Keras accepts it too)."""
    if isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], np.ndarray):
        return x[0]
    return x


def _as_array(data, what: str) -> np.ndarray:
    """`np.asarray(data)`, with a clear error for ragged nested lists."""
    try:
        return np.asarray(data)
    except ValueError as e:  # NumPy: "setting an array element with a sequence ..."
        raise ValueError(f"{what} must be a rectangular array of numbers. Received: a ragged "
                         f"{type(data).__name__} ({e})") from e


def _finite_as(a: np.ndarray, dtype) -> bool:
    """Whether every value of `a` is finite once cast to `dtype`: 1e39 is finite in float64
    but inf in float32, and the engine computes in the model's dtype."""
    if a.dtype.kind != "f":
        return True  # integers and booleans are finite in float32 and float64
    if a.dtype.itemsize > np.dtype(dtype).itemsize:
        with np.errstate(over="ignore"):  # the overflow is what we are looking for
            a = a.astype(dtype)
    return bool(np.isfinite(a).all())


def _is_validation_epoch(epoch: int, validation_freq) -> bool:
    """Keras' `_should_eval`: validate after the 1-based epoch `epoch + 1` when it is a
    multiple of `validation_freq`, or listed in it (the count starts at epoch 1 whatever
    `initial_epoch` is)."""
    if isinstance(validation_freq, list):
        return epoch + 1 in validation_freq
    return (epoch + 1) % validation_freq == 0


class TrainingMixin(CustomStepMixin):
    """Keras' `Model` training API on top of `forward` / `backward` / `grads_and_vars`
    (and, from `CustomStepMixin`, Keras' API for a `train_step(self, data)` of your own)."""

    # ------------------------------------------------------------------ compile
    def _init_training(self) -> None:
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._loss_spec = self._loss_weights_spec = self._metric_spec = None
        self._losses_resolved_for: int | None = None
        self._tried_layouts: set = set()
        self._losses: list = []
        self._loss_weights: list[float] = []
        self._metric_ids: list[list] = []
        self._metrics: list[list] | None = None
        self._logged: list = []  # the trackers and metrics in the logs' order
        self._training_plan: StepPlan | None = None  # every train step's, until compile

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training: optimizer, loss (one per output) and metrics.

        Everything is checked before anything is replaced (`arguments.resolve_compile`):
        unknown optimizer, loss or metric names, and, once the model is built, the
        structure of `loss`, `loss_weights` and `metrics` against its outputs. A compile that
        raises leaves the model as it was: its optimizer (and iterations), losses, metrics
        and `compiled`.
        """
        new_optimizer = optimizers_module.get(optimizer)
        if new_optimizer is None:
            raise ValueError("compile() needs an `optimizer`. Received: optimizer=None")
        per_output = arguments.resolve_compile(
            loss, loss_weights, metrics, self._output_names() if self.built else None)
        # Nothing has changed so far, and nothing below can fail.
        self.optimizer = new_optimizer
        self._loss_spec = loss
        self._loss_weights_spec = loss_weights
        self._metric_spec = metrics
        self._losses_resolved_for = None
        if per_output is not None:
            self._use_per_output(per_output)
        self._metrics = None
        self._training_plan = None  # made at the first train step after compile
        self.compiled = True
        self.stop_training = False

    def _output_names(self) -> list[str]:
        """The outputs' names, as Keras' `output_names`: the name of the layer of each."""
        return [t.node.layer.name for t in self.outputs]

    def _output_dtype(self, t) -> str:
        """The float dtype an output is computed in (its loss casts the targets to it)."""
        return t.dtype if t.dtype in ("float32", "float64") else self.dtype

    def _use_per_output(self, per_output) -> None:
        """Keep compile's arguments as resolved per output by `arguments.resolve_compile`."""
        self._losses, self._loss_weights, self._metric_ids = per_output
        self._losses_resolved_for = len(self._losses)
        self._tried_layouts = set()  # target layouts the losses accepted (_try_losses)

    def _resolve_losses_if_built(self, n_out) -> None:
        """Turn compile's loss, loss_weights and metrics arguments into per-output lists,
        once per compile (the first time the outputs are known; for a model built at its
        first fit, this is where their structure is checked)."""
        if n_out is None or self._losses_resolved_for == n_out:
            return
        self._use_per_output(arguments.resolve_compile(
            self._loss_spec, self._loss_weights_spec, self._metric_spec, self._output_names()))

    def _require_compiled(self, default_step: bool = True) -> None:
        """compile() was called; with `default_step` (the engine's own train and test
        steps, which need the compiled loss), with a loss, as Keras' `compute_loss` needs."""
        if not self.compiled or self.optimizer is None:
            raise ValueError(
                "You must call `compile()` before using the model for training or evaluation."
            )
        if default_step and self._loss_spec is None:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")

    def _ensure_metrics(self, ys: list, y_preds: list) -> None:
        if self._metrics is not None:
            return
        multi = len(self.outputs) > 1
        names = self._output_names()
        self._metrics = []
        for i, ids in enumerate(self._metric_ids):
            out = []
            for ident in ids:
                m = metrics_module.get(ident, np.shape(ys[i]), np.shape(y_preds[i]))
                if multi:
                    m.name = f"{names[i]}_{m.name}"
                out.append(m)
            self._metrics.append(out)
        self._logged = self._in_logs_order()

    @property
    def metrics_names(self) -> list[str]:
        names = ["loss"]
        for ms in self._metrics or []:
            names += [m.name for m in ms]
        return names

    # ------------------------------------------------------------------ data
    def _standardize_data(self, x, y, sample_weight=None, class_weight=None, what: str = "x"):
        """Check and convert one data set (x, y and its weights) for training or evaluation.

        Returns (xs, ys, sws): one input array per model input in its dtype, one target per
        output (None for an output without a loss and without data), one weight array per
        output (None where unweighted). Everything is checked here, once per call, before
        any step: shapes and dtypes, the number of samples, NaN/inf in x, y and the weights
        after the cast to the model's dtype, and dict keys against the model's names.
        """
        xs = self._standardize_inputs(x, what)
        self._resolve_losses_if_built(len(self.outputs))
        n = len(xs[0])
        ys = self._standardize_targets(y, n)
        self._check_finite_inputs(xs, what)
        return xs, ys, self._sample_weights(ys, sample_weight, class_weight, n)

    def _try_losses(self, ys: list, sws: list, batch_size: int) -> None:
        """Compute each output's loss once, on the first batch against a zero prediction, so
        that targets the loss cannot take (one-hot labels for a sparse loss, a wrong width,
        weights that do not fit) fail before `fit` changes anything (its history, the first
        step) with the error the first step would give. Outputs of unknown shape are left
        to the step. The loss checks shapes and dtypes only, so each layout of the targets
        is tried once per compile (`_tried_layouts`), not at every fit call."""
        for i, (t, y, sw, loss) in enumerate(zip(self.outputs, ys, sws, self._losses)):
            if loss is None or y is None or None in t.shape[1:]:
                continue
            layout = (i, y.shape[1:], y.dtype, None if sw is None else sw.shape[1:])
            if layout in self._tried_layouts:
                continue
            y_pred = np.zeros((len(y[:batch_size]),) + tuple(t.shape[1:]),
                              dtype=self._output_dtype(t))
            with np.errstate(all="ignore"):  # only the loss' own checks matter here
                loss(y[:batch_size], y_pred,
                     sample_weight=None if sw is None else sw[:batch_size])
            self._tried_layouts.add(layout)

    def _standardize_inputs(self, x, what: str = "x") -> list[np.ndarray]:
        if x is None:
            raise ValueError(f"Model {self.name!r} expects input data `{what}`. "
                             f"Received: {what}=None")
        self._build_from_data(x)
        if isinstance(x, dict):
            keys = getattr(self, "_input_dict_keys", None) or [t.name for t in self.inputs]
            missing = [k for k in keys if k not in x]
            if missing:
                raise ValueError(f"Missing input(s) {missing} in `{what}`: model {self.name!r} "
                                 f"expects the keys {keys}. Received: keys={list(x)}")
            xs = [x[k] for k in keys]
        else:
            xs = as_list(x) if len(self.inputs) > 1 else [_one_input(x)]
        if len(xs) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} expects {len(self.inputs)} input array(s). "
                f"Received: {len(xs)}"
            )
        out = []
        for t, a in zip(self.inputs, xs):
            data, a = a, _as_array(a, f"Input {t.name!r}")
            if a.ndim == 0:
                raise ValueError(f"Input {t.name!r} of model {self.name!r} must be an array with "
                                 f"one row per sample. Received: {what}={arguments.shown(data)}")
            a = self._adjust_input_rank(t, a)
            if t.dtype in ("float32", "float64"):
                if a.dtype.kind not in "fiub":
                    raise TypeError(f"Input {t.name!r} expects numbers. Received: "
                                    f"dtype={a.dtype}")
                if a.dtype == t.dtype:
                    a = np.ascontiguousarray(a)
                else:
                    with np.errstate(over="ignore"):  # 1e39 -> inf in float32: reported by
                        a = np.ascontiguousarray(a, dtype=t.dtype)  # _check_finite_inputs
            self._check_input_shape(t, a)
            out.append(a)
        n = {len(a) for a in out}
        if len(n) > 1:
            raise ValueError(f"All inputs must have the same number of samples. "
                             f"Received sizes: {[len(a) for a in out]}")
        return out

    @staticmethod
    def _adjust_input_rank(t, a: np.ndarray) -> np.ndarray:
        """Keras' `_adjust_input_rank`: (N,) ids for an Input of shape (1,) gain the last
        axis, and a trailing axis of size 1 the Input does not have is dropped."""
        if a.ndim == len(t.shape) - 1 and t.shape[-1] == 1:
            return a[..., None]
        if a.ndim == len(t.shape) + 1 and a.shape[-1] == 1:
            return a[..., 0]
        return a

    def _build_from_data(self, x) -> None:
        """Build a model that does not know its input shape yet (a Sequential without an
        Input: one input) from the first data it sees. Data without a row axis raises and
        leaves the model unbuilt."""
        if self.built:
            return
        shape = _as_array(_one_input(x), "Input `x`").shape
        if not shape:
            raise ValueError(f"Model {self.name!r} expects an array with one row per sample "
                             f"in `x`. Received: x={arguments.shown(x)}")
        self.build((None,) + shape[1:])

    def _check_input_shape(self, t, a: np.ndarray) -> None:
        spec = t.shape
        if a.ndim != len(spec) or any(
            d is not None and d != s for d, s in zip(spec[1:], a.shape[1:])
        ):
            raise ValueError(
                f"Input {t.name!r} of model {self.name!r} is incompatible: expected shape "
                f"{spec}. Received: shape={a.shape}"
            )

    def _standardize_targets(self, y, n: int) -> list:
        """One target array per output, checked: a dict's keys must be output names, an
        output with a loss needs its target, each target holds `n` rows of numbers, finite
        in the model's dtype."""
        names = self._output_names()
        if isinstance(y, dict):
            unknown = [k for k in y if k not in names]
            if unknown:
                raise ValueError(f"Targets {unknown} in `y` name no output of model "
                                 f"{self.name!r}: its outputs are {names}. "
                                 f"Received: y.keys()={list(y)}")
            ys = [y.get(k) for k in names]
        else:
            ys = as_list(y) if len(self.outputs) > 1 else [_one_input(y)]  # y or [y]
        if len(ys) != len(self.outputs):
            raise ValueError(f"Model {self.name!r} has {len(self.outputs)} output(s). "
                             f"Received {len(ys)} target array(s).")
        out = []
        for t, a, loss, name in zip(self.outputs, ys, self._losses, names):
            which = "`y`" if len(names) == 1 else f"`y` of output {name!r}"
            if a is None:
                if loss is not None:
                    raise ValueError(f"Missing targets for output {name!r}, which has a loss: "
                                     f"`y` needs one target per output {names}. "
                                     f"Received: y={arguments.shown(y)}")
                out.append(None)
                continue
            data, a = a, _as_array(a, f"Targets {which}")
            if a.ndim == 0:
                raise ValueError(f"Targets {which} must be an array with one entry per "
                                 f"sample. Received: y={arguments.shown(data)}")
            if a.dtype.kind not in "fiub":
                raise TypeError(f"Targets must be numbers. Received: y.dtype={a.dtype}")
            if len(a) != n:
                raise ValueError(
                    f"Data cardinality is ambiguous: x has {n} samples but y has {len(a)}. "
                    "Make sure all arrays contain the same number of samples."
                )
            dtype = self._output_dtype(t)
            if not _finite_as(a, dtype):
                raise ValueError(f"Targets {which} contain NaN or inf values once cast to the "
                                 f"model's {dtype} (largest finite value "
                                 f"{np.finfo(dtype).max:.4g}).")
            self._validate_targets(loss, a, t.shape)
            out.append(a)
        return out

    @staticmethod
    def _validate_targets(loss, y: np.ndarray, y_pred_shape) -> None:
        if type(loss).__name__ != "SparseCategoricalCrossentropy":
            return
        n_classes = y_pred_shape[-1]
        ignore = getattr(loss, "ignore_class", None)
        labels = y if ignore is None else y[y != ignore]
        if labels.size and (np.any(labels != np.round(labels)) or labels.min() < 0 or (
                n_classes is not None and labels.max() >= n_classes)):
            bad = labels[(labels < 0) | (labels >= (n_classes or np.inf)) |
                         (labels != np.round(labels))]
            raise ValueError(
                f"sparse_categorical_crossentropy expects integer labels in [0, {n_classes}). "
                f"Received: label={bad.flat[0]!r}"
            )

    @staticmethod
    def _check_finite_inputs(xs: list, what: str = "x") -> None:
        for a in xs:
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ValueError(f"Input `{what}` contains NaN or inf values (in the model's "
                                 f"{a.dtype}, largest finite value {np.finfo(a.dtype).max:.4g}).")

    def _sample_weights(self, ys: list, sample_weight, class_weight, n: int) -> list:
        """One weight array per output (None where unweighted): `sample_weight` (one array for
        every output, a list with one per output, or a dict keyed by output name) times the
        weights `class_weight` gives the labels; each holds `n` finite numbers in the model's
        dtype."""
        if sample_weight is None:
            sws = [None] * len(ys)
        elif isinstance(sample_weight, dict):
            names = self._output_names()
            unknown = [k for k in sample_weight if k not in names]
            if unknown:
                raise ValueError(f"`sample_weight` {unknown} name no output of model "
                                 f"{self.name!r}: its outputs are {names}. "
                                 f"Received: sample_weight.keys()={list(sample_weight)}")
            sws = [self._check_sample_weight(sample_weight.get(k), n) for k in names]
        elif len(ys) > 1 and isinstance(sample_weight, (list, tuple)):
            if len(sample_weight) != len(ys):
                raise ValueError(f"`sample_weight` as a list needs one entry per output: the "
                                 f"outputs are {self._output_names()}. "
                                 f"Received: {len(sample_weight)} entries")
            sws = [self._check_sample_weight(s, n) for s in sample_weight]
        else:
            sws = [self._check_sample_weight(sample_weight, n)] * len(ys)
        if class_weight is not None:
            class_weight = arguments.class_weight(class_weight)
            if len(ys) > 1:
                raise ValueError("`class_weight` is only supported for single-output models.")
            with np.errstate(over="ignore"):  # a weight too large for the dtype: inf, below
                cw = losses_module.class_weight_to_sample_weight(
                    ys[0], class_weight, self.outputs[0].shape).astype(self.dtype)
                sws[0] = cw if sws[0] is None else sws[0] * cw
            if not np.isfinite(sws[0]).all():
                raise ValueError(f"`class_weight` gives weights that are not finite in the "
                                 f"model's {self.dtype}. Received: class_weight={class_weight}")
        return sws

    def _check_sample_weight(self, sample_weight, n: int) -> np.ndarray | None:
        """One output's `sample_weight` as an array of the model's dtype, checked: numbers,
        one weight (or row of weights) per sample, finite once cast."""
        if sample_weight is None:
            return None
        w = _as_array(sample_weight, "`sample_weight`")
        if w.dtype.kind not in "fiub":
            raise TypeError(f"`sample_weight` must hold numbers. Received: "
                            f"sample_weight.dtype={w.dtype}")
        if w.ndim == 0:
            raise ValueError("`sample_weight` must be an array with one weight per sample. "
                             f"Received: sample_weight={arguments.shown(sample_weight)}")
        if len(w) != n:
            raise ValueError(
                f"Data cardinality is ambiguous: x has {n} samples but sample_weight has "
                f"{len(w)}. Make sure all arrays contain the same number of samples.")
        with np.errstate(over="ignore"):  # 1e39 -> inf in float32, reported just below
            w = w.astype(self.dtype)
        if not np.isfinite(w).all():
            raise ValueError(f"`sample_weight` contains NaN or inf values once cast to the "
                             f"model's {self.dtype}.")
        return w

    # ------------------------------------------------------------------ one step
    def _compute_loss(self, ys, y_preds, sws, training: bool):
        """Total loss and the cotangent of each output (dL/dy_pred or dL/dlogits); the
        cotangents are None when not `training` (evaluation needs the value only)."""
        total = np.zeros((), dtype=self.dtype)
        dys, flags, values = [], [], []
        masks = self.output_masks
        for i, (loss, y, y_pred) in enumerate(zip(self._losses, ys, y_preds)):
            if loss is None or y is None:
                dys.append(None)
                flags.append(False)
                values.append(None)
                continue
            logits, activation = None, None
            if loss.is_crossentropy:
                logits = self._output_logits(i)
                if logits is not None:
                    activation = self._output_activation(i)
            if training:
                value, grad = loss.value_and_grad(y, y_pred, sample_weight=sws[i],
                                                  logits=logits, mask=masks[i],
                                                  activation=activation)
            else:
                value, grad = loss(y, y_pred, sample_weight=sws[i], logits=logits,
                                   mask=masks[i]), None
            values.append(value)
            w = self._loss_weights[i]
            if w != 1.0:
                value = value * np.asarray(w, self.dtype)
                grad = None if grad is None else grad * np.asarray(w, self.dtype)
            total = total + value
            dys.append(grad)
            flags.append(logits is not None)
        self._last_output_losses = values
        for penalty in self._penalties():  # Keras: the loss + Σ model.losses
            total = total + total.dtype.type(penalty)
        return total, dys, flags

    def _forward_list(self, plan: StepPlan, xs: list, training: bool) -> list:
        """The model's forward along `plan` (scratch/models/step_plan.py) on standardized
        inputs (one array per input); one output array per output."""
        out = self._forward_along(plan, xs, training)
        return as_list(out) if len(self.outputs) > 1 else [out]

    def train_step(self, x, y, sample_weight=None) -> dict:
        """One optimizer step on one batch; returns the logs (Keras 3's `Model.train_step`).

        `fit` and `train_on_batch` call it with each batch checked and converted once per
        call (never per step): `x` as the model takes it (an array, or a list with one array
        per input), `y` and `sample_weight` one per output in the same way (`sample_weight`
        None when unweighted). Override it to change what a step does, as in Keras; the parts
        are public: `forward`, `backward`, `grads_and_vars()` and
        `optimizer.apply_gradients` (an example in tests/test_models.py).

        The step (docs/KERAS_NUMERICS.md §Fit loop): forward with training=True, the loss
        and dL/dy_pred, backward, the optimizer update, then the loss tracker and the metrics
        with the pre-update predictions. The logs are the running loss and metrics since
        they were last reset (each epoch; each `train_on_batch`).

        The trainable flags are those of the model's first train step after `compile()`.
        tf.keras 3 (TensorFlow backend) traces its train function at the first
        `fit`/`train_on_batch` after `compile()` and keeps every layer's `trainable` flag as
        it was then: toggling `trainable` later changes nothing until the model is compiled
        again (measured; tests/test_recommender_transfer_gan.py). scratch does the same: the
        step applies the flags of its plan (`_plan_for_training`) while it runs and puts
        the current ones back afterwards (nothing to swap in the usual case where none
        changed).
        """
        xs, ys, sws = self._split_batch(x, y, sample_weight)
        plan = self._plan_for_training()
        changed = [(layer, layer._trainable, flag) for layer, flag in plan.trainable_flags
                   if layer._trainable != flag]
        for layer, _, flag in changed:
            layer._trainable = flag
        try:
            loss, y_preds = self._step_along(plan, xs, ys, sws)
        finally:
            for layer, current, _ in changed:
                layer._trainable = current
        self._track_loss(loss, len(xs[0]))
        self._update_metrics(ys, y_preds, sws)
        return self._logs()

    def _split_batch(self, x, y, sample_weight,
                     per_output: bool = False) -> tuple[list, list, list]:
        """A batch as the model takes it (see `train_step`) → one array per input, one
        target and one weight per output (the inverse of `_as_model_structure`); with
        `per_output`, `x` is split per output too (predictions: `compute_loss`)."""
        n_out = len(self.outputs)
        xs = as_list(x) if (n_out if per_output else len(self.inputs)) > 1 else [x]
        ys = as_list(y) if n_out > 1 else [y]
        sws = [sample_weight] * n_out if sample_weight is None or n_out == 1 \
            else as_list(sample_weight)
        return xs, ys, sws

    def _test_batch(self, plan: StepPlan, xs: list, ys: list, sws: list) -> None:
        """One batch of `evaluate` (Keras' default test step): forward in inference mode,
        the loss into its tracker (weighted by the batch size), the metrics."""
        y_preds = self._forward_list(plan, xs, training=False)
        loss, _, _ = self._compute_loss(ys, y_preds, sws, training=False)
        self._track_loss(loss, len(xs[0]))
        self._update_metrics(ys, y_preds, sws)

    def _plan_for_training(self) -> StepPlan:
        """The plan every train step runs until the next `compile()`: made (or found among
        the model's plans) at the first train step after `compile()` or after the graph
        changed, with the trainable flags of that moment."""
        if self._training_plan is None:
            self._training_plan = self._plan_for_current_flags()
        return self._training_plan

    def _step_along(self, plan: StepPlan, xs: list, ys: list, sws: list):
        """forward, loss, backward and the optimizer update along `plan`; returns the loss
        and the (pre-update) predictions. Nobody needs dL/dx of the data (need_dx=False)."""
        y_preds = self._forward_list(plan, xs, training=True)
        loss, dys, flags = self._compute_loss(ys, y_preds, sws, training=True)
        self._backward_along(plan, dys if len(self.outputs) > 1 else dys[0], flags,
                             need_dx=False, need_grads=True)
        if plan.penalized:  # the weights' penalties: their gradients join the loss'
            self._add_regularization_gradients(plan, self._layer_grads)
        self._apply_pairs(plan.gradient_pairs(self._layer_grads))
        return loss, y_preds

    def _apply_pairs(self, pairs) -> None:
        """One optimizer step on the (gradient, weight) pairs (building its slots first)."""
        if not pairs:
            self._warn_no_trainable()
        else:
            if not self.optimizer.built:  # slots in trainable_weights order, as Keras
                named = self.trainable_weights_with_paths()
                self.optimizer.build([w for _, w in named], var_names=[n for n, _ in named])
            self.optimizer._apply_engine_gradients(pairs)

    def _warn_no_trainable(self) -> None:
        import warnings

        warnings.warn(
            f"The model {self.name!r} has no trainable weights (every layer is frozen): "
            "this step updates nothing. In Keras 3 `trainable` takes effect at the next step, "
            "even for a model compiled earlier.",
            UserWarning, stacklevel=3,
        )

    def _update_metrics(self, ys, y_preds, sws) -> None:
        self._ensure_metrics(ys, y_preds)
        masks = self.output_masks
        for ms, y, yp, sw, mask in zip(self._metrics, ys, y_preds, sws, masks):
            if y is None:
                continue
            for m in ms:
                if mask is None:
                    m.update_state(y, yp, sample_weight=sw)
                else:  # Keras' metrics leave masked entries out
                    m.update_state(y, yp, sample_weight=sw, mask=mask)

    def _reset_metrics(self) -> None:
        """Start a new accumulation: the loss tracker(s) and every compiled metric."""
        names = self._output_names()
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._output_loss_trackers = [metrics_module.Mean(name=f"{n}_loss") for n in names] \
            if len(self.outputs) > 1 else []
        for ms in self._metrics or []:
            for m in ms:
                m.reset_state()
        self._logged = self._in_logs_order()

    def _in_logs_order(self) -> list:
        """The loss tracker(s) and the compiled metrics, sorted by name: the order of the
        logs' keys, as Keras sorts them. Kept in `_logged` where they are made (here and in
        `_ensure_metrics`), as every train step returns the logs."""
        tracked = [self._loss_tracker, *self._output_loss_trackers]
        for ms in self._metrics or []:
            tracked += ms
        return sorted(tracked, key=lambda m: m.name)

    def _track_loss(self, loss, n: int) -> None:
        self._loss_tracker.update_state(loss, sample_weight=n)
        for tracker, value in zip(self._output_loss_trackers, self._last_output_losses):
            if value is not None:
                tracker.update_state(value, sample_weight=n)

    def _epoch_logs(self, step_logs: dict | None) -> dict:
        """The logs of an epoch, as Keras' `_get_metrics_result_or_logs`: the running loss
        and metrics, which are also what the default `train_step` returns; the last step's
        own logs when an overridden `train_step` returned other keys."""
        logs = self._logs()
        if step_logs is not None and set(step_logs) != set(logs):
            return dict(step_logs)
        return logs

    def _logs(self) -> dict:
        """Keras' logs: every tracker's and metric's result, keys in sorted order."""
        return {m.name: float(m.result()) for m in self._logged}

    # ------------------------------------------------------------------ batches
    @staticmethod
    def _batches(n: int, batch_size: int, shuffle: bool) -> Iterable[np.ndarray | slice]:
        """Each batch's sample indices: a shuffled index array, or a slice (a view of the
        data, no copy) when the order is kept."""
        if not shuffle:
            for start in range(0, n, batch_size):
                yield slice(start, min(start + batch_size, n))
            return
        idx = random.fit_shuffle_order(n)
        for start in range(0, n, batch_size):
            yield idx[start:start + batch_size]

    @staticmethod
    def _take(arrays: list, idx) -> list:
        return [None if a is None else a[idx] for a in arrays]

    def _as_model_structure(self, xs: list, ys: list, sws: list) -> tuple:
        """A standardized batch (one array per input, one target and one weight per output)
        as `train_step` takes it: x, y and sample_weight as arrays for one input and one
        output, lists for several."""
        one_output = len(self.outputs) == 1
        return (xs[0] if len(self.inputs) == 1 else xs, ys[0] if one_output else ys,
                sws[0] if one_output else sws)

    @contextlib.contextmanager
    def _engine_scope(self, batch_size: int):
        """What every entry point runs in: the engine's BLAS-thread scope (scratch._threads)
        for steps of `batch_size` samples, sized by the work of one step
        (`StepPlan.step_work`): parameters × batch size, 0 for a model that is not built yet
        (the first data it sees builds it, inside the scope); `refresh_engine_threads()`
        between two steps follows the machine's load. And TensorFlow's treatment of
        subnormal numbers (scratch/_denormals.py)."""
        work = self._plan_for_current_flags().step_work(batch_size) if self.built else 0
        with engine_threads(work), subnormals_as_zero():
            yield

    # ------------------------------------------------------------------ fit
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs; returns a `History` (see the module docstring).

        Every argument, then the data (training and validation), is checked before anything
        changes: a fit that raises leaves the weights, the optimizer (and its iterations)
        and `history` as they were (`arguments`, `_standardize_data`).
        """
        batch_size = arguments.batch_size(batch_size)  # first: it sizes the threads
        with self._engine_scope(batch_size):
            self._require_compiled(default_step=not self._keras_style_step())
            epochs = arguments.non_negative_int("epochs", epochs)
            initial_epoch = arguments.non_negative_int("initial_epoch", initial_epoch)
            verbose = arguments.verbose(verbose)
            callbacks = callbacks_module.as_callback_list(callbacks)
            validation_split = arguments.validation_split(validation_split)
            validation_steps = arguments.optional_positive_int("validation_steps",
                                                               validation_steps)
            val_source = None  # validation batches from a generator / Sequence
            if validation_data is not None and not _is_array_data(validation_data):
                val_source = BatchSource(validation_data, validation_steps, "validation_data")
                validation_data = None
            validation_data = arguments.data_tuple("validation_data", validation_data)
            validation_freq = arguments.validation_freq(validation_freq)
            validation_batch_size = arguments.optional_positive_int(
                "validation_batch_size", validation_batch_size) or batch_size
            steps_per_epoch = arguments.optional_positive_int("steps_per_epoch",
                                                              steps_per_epoch)
            shuffle = arguments.shuffle(shuffle)
            class_weight = arguments.class_weight(class_weight)
            if (self._loss_spec is None and not self._custom_step("test_step") and (
                    validation_data is not None or val_source is not None or validation_split)):
                raise ValueError("No loss to compute for the validation data (the default "
                                 "test step needs one). Provide a `loss` argument in "
                                 "`compile()`, or a `test_step` of your own.")
            if x is None:
                raise arguments.no_data_error("fit")
            if not _is_array_data(x):
                if validation_split:
                    raise ValueError("`validation_split` needs array data: with a generator, "
                                     "pass `validation_data`. "
                                     f"Received: validation_split={validation_split}")
                val = val_source if validation_data is None else \
                    self._standardize_data(*validation_data, what="x_val")
                return self._fit_generator(
                    x, epochs, verbose, callbacks, initial_epoch, steps_per_epoch, class_weight,
                    self._validator(val, validation_freq, validation_batch_size))
            xs, ys, sws = self._standardize_data(x, y, sample_weight, class_weight)
            self._try_losses(ys, sws, batch_size)
            n = len(xs[0])
            val = val_source
            if validation_data is not None:
                val = self._standardize_data(*validation_data, what="x_val")
                self._try_losses(*val[1:], validation_batch_size)
            elif val is None and validation_split > 0:
                split = int(n * (1.0 - validation_split))
                if n and split == 0:
                    raise ValueError(f"`validation_split` leaves no training samples: all {n} "
                                     f"go to validation. "
                                     f"Received: validation_split={validation_split}")
                val = (self._take(xs, slice(split, None)), self._take(ys, slice(split, None)),
                       self._take(sws, slice(split, None)))
                xs, ys, sws = (self._take(a, slice(0, split)) for a in (xs, ys, sws))
                n = split
            if n == 0:
                raise ValueError("fit() received no training samples. Received: x with 0 rows")

            def batches():
                for idx in self._batches(n, batch_size, shuffle):
                    yield self._take(xs, idx), self._take(ys, idx), self._take(sws, idx)

            return self._train_epochs(
                batches, math.ceil(n / batch_size), epochs, initial_epoch, verbose, callbacks,
                self._validator(val, validation_freq, validation_batch_size))

    def _validator(self, val, validation_freq, batch_size: int):
        """`validate(epoch, callbacks)` for `_train_epochs`: the logs of the validation data
        `val` (the standardized arrays, or a `BatchSource`) on the epochs `validation_freq`
        selects, else None."""

        def validate(epoch: int, cbs):
            if val is None or not _is_validation_epoch(epoch, validation_freq):
                return None
            if isinstance(val, BatchSource):
                return self._evaluate_source(val, cbs=cbs)
            return self._evaluate_arrays(*val, batch_size, cbs=cbs)

        return validate

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, **kwargs):
        """Keras 2's `fit_generator` (deprecated): the same as `fit(generator, ...)`."""
        import warnings

        warnings.warn("`fit_generator` is deprecated: use `fit`, which accepts generators.",
                      DeprecationWarning, stacklevel=2)
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, **kwargs)

    def _fit_generator(self, data, epochs, verbose, callbacks, initial_epoch, steps_per_epoch,
                       class_weight, validate):
        """fit() on an iterator of (x, y[, sample_weight]) batches, `steps_per_epoch` of them
        per epoch (restarted when it runs out), each checked like array data."""
        if steps_per_epoch is None:
            if hasattr(data, "__len__"):
                steps_per_epoch = len(data)
            else:
                raise ValueError("fit() on a generator needs `steps_per_epoch`. "
                                 "Received: steps_per_epoch=None")
        iterator = iter(data)

        def batches():
            nonlocal iterator
            for _ in range(steps_per_epoch):
                try:
                    batch = next(iterator)
                except StopIteration:
                    iterator = iter(data)
                    batch = next(iterator)
                x, y, sample_weight = arguments.data_tuple("each batch of the generator", batch)
                yield self._standardize_data(x, y, sample_weight, class_weight)

        return self._train_epochs(batches, steps_per_epoch, epochs, initial_epoch, verbose,
                                  callbacks, validate)

    def _train_epochs(self, batches, steps: int, epochs: int, initial_epoch: int, verbose: int,
                      callbacks, validate):
        """The epoch loop shared by array and generator data.

        `batches()` yields one epoch of standardized (xs, ys, sample_weights) batches;
        `validate(epoch, callbacks)` returns the validation logs of that epoch, or None.
        """
        cbs = callbacks_module.CallbackList(
            callbacks, model=self, add_history=True,
            params={"epochs": epochs, "steps": steps, "verbose": verbose},
        )
        self.stop_training = False
        hooks = cbs.has_batch_hooks
        keras_style = self._keras_style_step()
        training_logs = None
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            if keras_style:  # Keras resets every metric of `metrics` (a subclass' own too)
                self.reset_metrics()
            cbs.on_epoch_begin(epoch)
            bar = Progbar(steps, verbose, epoch, epochs)
            batch_logs = hooks or bar.shows_steps  # else nobody reads the per-batch logs
            step_logs = None
            for step, (bx, by, bsw) in enumerate(batches()):
                refresh_engine_threads()  # follow the machine's load (scratch._threads)
                if hooks:
                    cbs.on_train_batch_begin(step)
                batch = self._as_model_structure(bx, by, bsw)
                step_logs = self._run_train_step(*batch) if keras_style \
                    else self.train_step(*batch)
                if batch_logs:
                    bar.update(step + 1, step_logs)
                    if hooks:
                        cbs.on_train_batch_end(step, step_logs)
                if self.stop_training:
                    break
            logs = self._custom_epoch_logs(step_logs) if keras_style \
                else self._epoch_logs(step_logs)
            vlogs = validate(epoch, cbs)  # the callbacks' test hooks run, as in Keras
            if vlogs is not None:
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
            logs = pythonify_logs(logs)  # flattened and sorted, as Keras' callbacks get them
            cbs.on_epoch_end(epoch, logs)
            bar.finish(logs)  # after the callbacks' keys, as Keras' ProgbarLogger runs last
            training_logs = logs
            if self.stop_training:
                break
        cbs.on_train_end(training_logs)
        return self.history

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_arrays(self, xs, ys, sws, batch_size: int, bar: Progbar | None = None,
                         cbs=None) -> dict:
        return self._evaluate_batches(
            ((self._take(xs, idx), self._take(ys, idx), self._take(sws, idx))
             for idx in self._batches(len(xs[0]), batch_size, False)), bar, cbs)

    def _evaluate_source(self, source: BatchSource, bar: Progbar | None = None,
                         cbs=None) -> dict:
        """The logs of one pass over a generator or Sequence of (x, y[, w]) batches, each
        checked like array data (batch_sources.py says which batches a pass reads)."""
        return self._evaluate_batches(
            (self._standardize_data(*arguments.data_tuple(f"each batch of {source.what}", b))
             for b in source.batches()), bar, cbs)

    def _evaluate_batches(self, batches: Iterable, bar: Progbar | None = None,
                          cbs=None) -> dict:
        """Loss and metrics in inference mode over standardized (xs, ys, sws) batches, the
        loss weighted by batch size (the mean over all samples); `bar` (evaluate's) shows
        the running logs after each batch and the final ones at the end; `cbs` (a
        CallbackList) gets Keras' test hooks, and a hook that sets `stop_evaluating` ends
        the pass after its batch."""
        self._reset_metrics()
        custom = self._custom_step("test_step")
        if custom:  # Keras resets every metric of `metrics` (a subclass' own too)
            self.reset_metrics()
        plan = None
        step = 0
        step_logs = None
        hooks = cbs is not None and cbs.has_test_batch_hooks
        self.stop_evaluating = False
        if cbs is not None:
            cbs.on_test_begin()
        for step, (bx, by, bsw) in enumerate(batches, 1):
            refresh_engine_threads()
            if hooks:
                cbs.on_test_batch_begin(step - 1)
            if custom:  # a test_step(self, data) of your own
                step_logs = self._run_custom_step(
                    "test_step", pack_data(*self._as_model_structure(bx, by, bsw)))
            else:
                if plan is None:  # after the first batch (which builds an unbuilt model)
                    plan = self._plan_for_current_flags()
                self._test_batch(plan, bx, by, bsw)
            if hooks or (bar is not None and bar.shows_steps):
                if not custom:
                    step_logs = self._logs()
                if hooks:
                    cbs.on_test_batch_end(step - 1, step_logs)
                if bar is not None:  # after the callbacks, as Keras' ProgbarLogger runs last
                    bar.update(step, step_logs)
            if self.stop_evaluating:
                break
        logs = pythonify_logs(self._custom_epoch_logs(step_logs)) if custom else self._logs()
        if cbs is not None:
            cbs.on_test_end(logs)
        if bar is not None:
            bar.finish(logs, step)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss (and metrics) over the data in inference mode, batch by batch.

        `x` may also be a generator, iterator or Sequence of (x, y[, sample_weight]) batches
        (an `ImageDataGenerator` iterator): `steps` of them, or all of them (batch_sources.py).
        """
        batch_size = arguments.batch_size(batch_size)  # first: it sizes the threads
        with self._engine_scope(batch_size):
            self._require_compiled(default_step=not self._custom_step("test_step"))
            verbose = arguments.verbose(verbose)
            callbacks = callbacks_module.as_callback_list(callbacks)
            if x is not None and not _is_array_data(x):  # a generator or Sequence of batches
                steps = arguments.optional_positive_int("steps", steps)
                if y is not None or sample_weight is not None:
                    raise ValueError("evaluate() on a generator or Sequence takes the targets "
                                     "(and weights) from its batches, not from `y` or "
                                     "`sample_weight`. Received: "
                                     f"y={arguments.shown(y)}, "
                                     f"sample_weight={arguments.shown(sample_weight)}")
                source = BatchSource(x, steps, "x")
                count = source.count()
                logs = self._evaluate_source(source, Progbar(count, verbose),
                                             self._callback_list(callbacks, count, verbose))
            else:
                xs, ys, sws = self._standardize_data(x, y, sample_weight)
                count = -(-len(xs[0]) // batch_size)
                logs = self._evaluate_arrays(xs, ys, sws, batch_size, Progbar(count, verbose),
                                             self._callback_list(callbacks, count, verbose))
            return self._format_results(logs, return_dict)

    def _callback_list(self, callbacks, steps: int | None, verbose: int):
        """evaluate's and predict's CallbackList (Keras' params: one epoch of `steps`)."""
        return callbacks_module.CallbackList(
            callbacks, model=self, params={"epochs": 1, "steps": steps, "verbose": verbose})

    def _format_results(self, logs: dict, return_dict: bool):
        """A dict, or Keras' list order: loss, then the single output's metrics in compile
        order (or each output's loss), then every other key sorted."""
        if return_dict:
            return logs
        first = ["loss"] + [t.name for t in self._output_loss_trackers]
        if len(self.outputs) == 1:
            first += [m.name for m in (self._metrics or [[]])[0]]
        ordered = [logs[k] for k in first if k in logs] + \
            [v for k, v in logs.items() if k not in first]
        return ordered[0] if len(ordered) == 1 else ordered

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for `x` in inference mode (batch 32 by default), as NumPy arrays.

        `x` may also be a generator or iterator of batches (x or (x, y[, w]) tuples, as
        `ImageDataGenerator.flow` gives): `steps` of them, or all of a finite one (its
        `len`), are predicted and concatenated, as in Keras.
        """
        callbacks = callbacks_module.as_callback_list(callbacks)
        if x is not None and not _is_array_data(x):
            return self._predict_generator(x, steps, verbose, callbacks)
        batch_size = arguments.batch_size(batch_size)  # first: it sizes the threads
        with self._engine_scope(batch_size):
            verbose = arguments.verbose(verbose)
            xs = self._standardize_inputs(x)
            n = len(xs[0])
            plan = self._plan_for_current_flags()
            if self._custom_step("predict_step"):  # a predict_step(self, data) of your own
                def predict_one(bx: list) -> list:
                    return self._run_predict_step(bx, packed=True)
            else:
                def predict_one(bx: list) -> list:
                    return self._forward_list(plan, bx, False)
            return self._predict_batches(
                (self._take(xs, idx) for idx in self._batches(n, batch_size, False)),
                predict_one, -(-n // batch_size), verbose, callbacks)

    def _predict_generator(self, data, steps, verbose, callbacks) -> np.ndarray | list:
        """`predict` on an iterator of batches: `steps` batches, or `len(data)` of them."""
        steps = arguments.optional_positive_int("steps", steps)
        verbose = arguments.verbose(verbose)
        if steps is None:
            if not hasattr(data, "__len__"):
                raise ValueError("predict() on a generator needs `steps` (the number of "
                                 "batches to predict). Received: steps=None")
            steps = len(data)

        def inputs():
            iterator = iter(data)
            for _ in range(steps):
                try:
                    batch = next(iterator)
                except StopIteration:
                    return
                yield batch[0] if isinstance(batch, tuple) else batch

        def predict_one(x) -> list:
            return self._predict_on_batch(x, packed=True)

        return self._predict_batches(inputs(), predict_one, steps, verbose, callbacks)

    def _predict_batches(self, inputs: Iterable, predict_one: Callable, steps: int,
                         verbose: int, callbacks) -> np.ndarray | list:
        """Each batch of `inputs` through `predict_one` (a list of outputs per batch), the
        outputs concatenated; the progress bar and Keras' predict hooks around them, and a
        hook that sets `stop_predicting` ends the loop after its batch."""
        bar, cbs = Progbar(steps, verbose), self._callback_list(callbacks, steps, verbose)
        hooks = cbs.has_predict_batch_hooks
        self.stop_predicting = False
        cbs.on_predict_begin()
        chunks: list[list] = [[] for _ in self.outputs]
        step = 0
        for step, batch in enumerate(inputs, 1):
            refresh_engine_threads()
            if hooks:
                cbs.on_predict_batch_begin(step - 1)
            outs = predict_one(batch)
            for c, out in zip(chunks, outs):
                c.append(out)
            if hooks:
                cbs.on_predict_batch_end(step - 1, {"outputs": outs if len(outs) > 1 else outs[0]})
            if bar.shows_steps:
                bar.update(step, {})
            if self.stop_predicting:
                break
        cbs.on_predict_end()
        bar.finish({}, step)
        outs = [np.concatenate(c) if c else np.zeros((0,) + tuple(
            d or 0 for d in t.shape[1:]), self.dtype) for c, t in zip(chunks, self.outputs)]
        return outs if len(self.outputs) > 1 else outs[0]

    def predict_on_batch(self, x):
        outs = self._predict_on_batch(x, packed=False)
        return outs if len(self.outputs) > 1 else outs[0]

    def _predict_on_batch(self, x, packed: bool) -> list:
        """The outputs (a list) for one batch (`packed`: see `_run_predict_step`)."""
        with self._engine_scope(_rows_in(x)):
            xs = self._standardize_inputs(x)
            if not self._custom_step("predict_step"):
                return self._forward_list(self._plan_for_current_flags(), xs, False)
            return self._run_predict_step(xs, packed)

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on exactly this batch; returns the pre-update loss (and
        metrics, reset before the step). The data is checked before the step."""
        with self._engine_scope(_rows_in(x)):
            self._require_compiled(default_step=not self._keras_style_step())
            xs, ys, sws = self._standardize_data(x, y, sample_weight, class_weight)
            self._reset_metrics()
            if self._keras_style_step():
                self.reset_metrics()
            logs = self._run_train_step(*self._as_model_structure(xs, ys, sws), packed=False)
            return self._format_results(logs, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        with self._engine_scope(_rows_in(x)):
            custom = self._custom_step("test_step")
            self._require_compiled(default_step=not custom)
            xs, ys, sws = self._standardize_data(x, y, sample_weight)
            self._reset_metrics()
            if custom:  # Keras hands a test_step of your own (x, y, sample_weight)
                self.reset_metrics()
                logs = self._run_custom_step("test_step", self._as_model_structure(xs, ys, sws))
                logs = pythonify_logs(self._raw_step_logs)
            else:
                logs = self._evaluate_arrays(xs, ys, sws, len(xs[0]))
            return self._format_results(logs, return_dict)

    # ------------------------------------------------------------------ summary
    def summary(self, line_length: int | None = None, positions=None, print_fn=None,
                expand_nested: bool = False, show_trainable: bool = False,
                layer_range=None) -> None:
        """Print Keras' table of layers, output shapes and parameter counts
        (`expand_nested=True` also lists the layers inside nested models)."""
        from .summary import summary_text

        (print_fn or print)(summary_text(self, expand_nested=expand_nested))
