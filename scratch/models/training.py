"""compile / fit / evaluate / predict / train_on_batch: Keras 3's training loop in NumPy.

One train step (keras-numerics §11), exactly in Keras' order:
    1. y_pred = model.forward(x, training=True)       (dropout on, BN batch statistics)
    2. loss = Σ_outputs loss_weight · loss(y, y_pred)  (cross-entropies on hidden logits)
    3. dL/dy_pred → model.backward → per-weight gradients
    4. optimizer.apply_gradients  (clip, weight decay, update, iterations += 1)
    5. metrics.update_state(y, y_pred)  with the *pre-update* y_pred
`history["loss"]` is the sample-weighted mean of the pre-update batch losses of the epoch;
`val_*` are computed with the end-of-epoch weights.
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from collections.abc import Iterable

import numpy as np

from .. import callbacks as callbacks_module
from .. import random
from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from .._threads import engine_threads, refresh_engine_threads
from ..layers.base import as_list
from .progress import Progbar


def _in_engine_threads(method):
    """Run a public entry point (fit, predict, ...) in the engine's BLAS-thread scope, sized
    by the work of one step: parameters × batch size (scratch._threads)."""
    on_batch = method.__name__.endswith("_on_batch")
    key = "x" if on_batch else "batch_size"
    position = list(inspect.signature(method).parameters).index(key) - 1  # after self

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        value = args[position] if len(args) > position else kwargs.get(key)
        if on_batch:
            first = next(iter(value.values())) if isinstance(value, dict) else \
                (value[0] if isinstance(value, (list, tuple)) else value)
            batch = len(first) if hasattr(first, "__len__") else 1
        else:
            batch = value or 32
        with engine_threads(_param_count(self) * batch):
            return method(self, *args, **kwargs)

    return wrapper


def _param_count(model) -> int:
    """`count_params()` for the thread policy, 0 before the build; kept per graph (a built
    graph's weights keep their shapes), as counting walks every layer (~20 µs a call)."""
    if not model.built:
        return 0
    graph = getattr(model, "_nodes", None)
    cached = model.__dict__.get("_param_count_cache")
    if graph is None or cached is None or cached[0] is not graph:
        cached = model._param_count_cache = (graph, model.count_params())
    return cached[1]


def _is_array_data(x) -> bool:
    return isinstance(x, (np.ndarray, list, tuple, dict)) or np.isscalar(x) or hasattr(
        x, "__array__")


class TrainingMixin:
    """Keras' `Model` training API on top of `forward` / `backward` / `grads_and_vars`."""

    # ------------------------------------------------------------------ compile
    def _init_training(self) -> None:
        self.optimizer = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._losses: list = []
        self._loss_weights: list[float] = []
        self._metric_ids: list[list] = []
        self._metrics: list[list] | None = None

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None,
                weighted_metrics=None, run_eagerly=False, steps_per_execution=1,
                jit_compile="auto", auto_scale_loss=True):
        """Configure training: optimizer, loss (one per output) and metrics."""
        n_out = len(self.outputs) if self.built else None
        self.optimizer = optimizers_module.get(optimizer)
        self._loss_spec = loss
        self._loss_weights_spec = loss_weights
        self._metric_spec = metrics
        self._losses_resolved_for = None
        if loss is None:
            raise ValueError("compile() needs a `loss`. Received: loss=None")
        self._resolve_losses_if_built(n_out)
        self._metrics = None
        self._trainable_snapshot = None  # taken at the first train step after compile
        self.compiled = True
        self.stop_training = False

    def _resolve_losses_if_built(self, n_out) -> None:
        """Turn compile's loss, loss_weights and metrics arguments into per-output lists,
        once per compile (the first time the outputs are known)."""
        if n_out is None or getattr(self, "_losses_resolved_for", None) == n_out:
            return
        loss, names = self._loss_spec, [t.node.layer.name for t in self.outputs]
        if isinstance(loss, dict):
            loss = [loss.get(n) for n in names]
        loss_list = list(loss) if isinstance(loss, (list, tuple)) else [loss] * n_out
        if len(loss_list) != n_out:
            raise ValueError(f"compile() got {len(loss_list)} losses for {n_out} outputs.")
        self._losses = [None if l is None else losses_module.get(l) for l in loss_list]
        w = self._loss_weights_spec
        if isinstance(w, dict):
            w = [w.get(n, 1.0) for n in names]
        self._loss_weights = [1.0] * n_out if w is None else [float(v) for v in as_list(w)]
        spec = self._metric_spec
        if spec is None:
            per_out: list = [[] for _ in range(n_out)]
        elif isinstance(spec, dict):
            per_out = [as_list(spec.get(n, [])) for n in names]
        elif n_out > 1 and any(isinstance(m, (list, tuple)) for m in spec):
            per_out = [as_list(m) for m in spec]
        else:
            per_out = [list(spec) for _ in range(n_out)]
        self._metric_ids = per_out
        self._losses_resolved_for = n_out

    def _require_compiled(self) -> None:
        if not self.compiled or self.optimizer is None:
            raise ValueError(
                "You must call `compile()` before using the model for training or evaluation."
            )

    def _ensure_metrics(self, ys: list, y_preds: list) -> None:
        if self._metrics is not None:
            return
        multi = len(self.outputs) > 1
        self._metrics = []
        for i, ids in enumerate(self._metric_ids):
            out = []
            for ident in ids:
                m = metrics_module.get(ident, np.shape(ys[i]), np.shape(y_preds[i]))
                if multi:
                    m.name = f"{self.outputs[i].node.layer.name}_{m.name}"
                out.append(m)
            self._metrics.append(out)

    @property
    def metrics_names(self) -> list[str]:
        names = ["loss"]
        for ms in self._metrics or []:
            names += [m.name for m in ms]
        return names

    # ------------------------------------------------------------------ data
    def _standardize_inputs(self, x, what: str = "x") -> list[np.ndarray]:
        self._build_from_data(x)
        if isinstance(x, dict):
            keys = getattr(self, "_input_dict_keys", None) or [t.name for t in self.inputs]
            missing = [k for k in keys if k not in x]
            if missing:
                raise ValueError(f"Missing input(s) {missing} in `{what}`. "
                                 f"Received keys: {sorted(x)}")
            xs = [x[k] for k in keys]
        else:
            xs = as_list(x) if len(self.inputs) > 1 else [x]
        if len(xs) != len(self.inputs):
            raise ValueError(
                f"Model {self.name!r} expects {len(self.inputs)} input array(s). "
                f"Received: {len(xs)}"
            )
        out = []
        for t, a in zip(self.inputs, xs):
            a = self._adjust_input_rank(t, np.asarray(a))
            if t.dtype in ("float32", "float64"):
                if a.dtype.kind not in "fiub":
                    raise TypeError(f"Input {t.name!r} expects numbers. Received: "
                                    f"dtype={a.dtype}")
                a = np.ascontiguousarray(a, dtype=t.dtype)
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
        if not self.built:
            first = x[0] if isinstance(x, (list, tuple)) else x
            self.build((None,) + np.shape(first)[1:])

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
        names = [t.node.layer.name for t in self.outputs]
        if isinstance(y, dict):
            ys = [y.get(k) for k in names]
        else:
            ys = as_list(y) if len(self.outputs) > 1 else [y]
        if len(ys) != len(self.outputs):
            raise ValueError(f"Model {self.name!r} has {len(self.outputs)} output(s). "
                             f"Received {len(ys)} target array(s).")
        out = []
        for t, a, loss in zip(self.outputs, ys, self._losses):
            if a is None:
                out.append(None)
                continue
            a = np.asarray(a)
            if a.dtype.kind not in "fiub":
                raise TypeError(f"Targets must be numbers. Received: y.dtype={a.dtype}")
            if len(a) != n:
                raise ValueError(
                    f"Data cardinality is ambiguous: x has {n} samples but y has {len(a)}. "
                    "Make sure all arrays contain the same number of samples."
                )
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ValueError("Targets `y` contain NaN or inf values.")
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
    def _check_finite_inputs(xs: list) -> None:
        for a in xs:
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise ValueError("Input `x` contains NaN or inf values.")

    def _sample_weights(self, ys: list, sample_weight, class_weight) -> list:
        n_out = len(ys)
        if sample_weight is not None:
            sws = as_list(sample_weight) if n_out > 1 and isinstance(
                sample_weight, (list, tuple)) else [sample_weight] * n_out
            sws = [None if s is None else np.asarray(s, dtype=self.dtype) for s in sws]
        else:
            sws = [None] * n_out
        if class_weight is not None:
            if n_out > 1:
                raise ValueError("`class_weight` is only supported for single-output models.")
            cw = losses_module.class_weight_to_sample_weight(
                ys[0], class_weight, self.outputs[0].shape).astype(self.dtype)
            sws[0] = cw if sws[0] is None else sws[0] * cw
        return sws

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
        return total, dys, flags

    def _forward_list(self, xs: list, training: bool) -> list:
        out = self.forward(xs if len(xs) > 1 else xs[0], training=training)
        return as_list(out) if len(self.outputs) > 1 else [out]

    def _train_step(self, xs, ys, sws):
        """One step with the trainable flags of the first step after `compile`.

        tf.keras 3 (TensorFlow backend) traces its train function at the first
        `fit`/`train_on_batch` after `compile()` and keeps every layer's `trainable` flag as it
        was then: toggling `trainable` later changes nothing until the model is compiled
        again (measured; tests/test_recommender_transfer_gan.py). scratch does the same by
        applying that snapshot of the flags during each train step (and restoring the
        current flags after it; nothing to swap in the usual case where none changed).
        """
        if getattr(self, "_trainable_snapshot", None) is None:
            self._trainable_snapshot = [(l, l._trainable) for l in self._leaf_layers_all()] \
                + [(self, self._trainable)]
            self._pinned_models = [layer for layer, _ in self._trainable_snapshot
                                   if isinstance(layer, TrainingMixin)]  # self and nested
        changed = [(layer, layer._trainable, flag) for layer, flag in self._trainable_snapshot
                   if layer._trainable != flag]
        for layer, _, flag in changed:
            layer._trainable = flag
        for model in self._pinned_models:  # lets backward reuse the structure of this
            model._pinned_flags = self._trainable_snapshot  # model and of the nested ones
        try:
            return self._train_step_impl(xs, ys, sws)
        finally:
            for model in self._pinned_models:
                model._pinned_flags = None
            for layer, current, _ in changed:
                layer._trainable = current

    def _train_step_impl(self, xs, ys, sws):
        chain = self._plain_step_chain(ys, sws)
        if chain is not None:
            return self._chain_train_step(chain, xs[0], ys[0])
        y_preds = self._forward_list(xs, training=True)
        loss, dys, flags = self._compute_loss(ys, y_preds, sws, training=True)
        self._skip_input_grad = True  # nobody needs dL/dx of the data
        try:
            self.backward(dys if len(self.outputs) > 1 else dys[0], from_logits=flags)
            pairs = self.grads_and_vars()
        finally:
            self._skip_input_grad = False
        self._apply_pairs(pairs)
        return loss, y_preds

    def _plain_step_chain(self, ys, sws):
        """The model's layer chain (`Model._chain`) when a train or test step can be the
        plain loop of `_chain_train_step` / `_chain_loss`: one unweighted output with its loss
        at weight 1; None sends the step through the general code."""
        chain = self._chain() if hasattr(self, "_chain") else None
        if chain is None or self._multi_output or self._multi_input or sws[0] is not None or \
                ys[0] is None or self._losses[0] is None or self._loss_weights[0] != 1.0:
            return None
        return chain

    def _chain_loss(self, chain, x, y, training: bool):
        """Forward through the chain, then the loss (and dL/dy_pred or dL/dz): the calls of
        `_forward_list` + `_compute_loss` for this case, in the same order."""
        x = self._chain_forward(chain, x, training)
        loss = self._losses[0]
        logits = getattr(chain[-1][1], "logits", None) if loss.is_crossentropy else None
        if training:
            activation = self._output_activation(0) if logits is not None else None
            value, grad = loss.value_and_grad(y, x, sample_weight=None, logits=logits,
                                              mask=None, activation=activation)
        else:
            value, grad = loss(y, x, None, logits=logits, mask=None), None
        self._last_output_losses = [value]
        return np.zeros((), dtype=self.dtype) + value, x, grad, logits is not None

    def _chain_train_step(self, chain, x, y):
        """`_train_step_impl` for a plain chain with one unweighted output: the same layer,
        loss and optimizer calls without the graph bookkeeping (tests/test_fast_paths.py)."""
        loss, y_pred, grad, from_logits = self._chain_loss(chain, x, y, True)
        self._skip_input_grad = True  # nobody needs dL/dx of the data
        try:
            self._chain_backward(chain, self._cache, grad, from_logits)
            pairs = self.grads_and_vars()
        finally:
            self._skip_input_grad = False
        self._apply_pairs(pairs)
        return loss, [y_pred]

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
        names = [t.node.layer.name for t in self.outputs]
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._output_loss_trackers = [metrics_module.Mean(name=f"{n}_loss") for n in names] \
            if len(self.outputs) > 1 else []
        for ms in self._metrics or []:
            for m in ms:
                m.reset_state()

    def _track_loss(self, loss, n: int) -> None:
        self._loss_tracker.update_state(loss, sample_weight=n)
        for tracker, value in zip(self._output_loss_trackers, self._last_output_losses):
            if value is not None:
                tracker.update_state(value, sample_weight=n)

    def _logs(self) -> dict:
        """Keras' logs: every tracker's and metric's result, keys in sorted order."""
        logs: dict[str, float] = {"loss": float(self._loss_tracker.result())}
        for tracker in self._output_loss_trackers:
            logs[tracker.name] = float(tracker.result())
        for ms in self._metrics or []:
            for m in ms:
                logs[m.name] = float(m.result())
        return dict(sorted(logs.items()))

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

    @staticmethod
    def _check_batch_size(batch_size) -> int:
        if batch_size is None:
            return 32
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"`batch_size` must be a positive integer. "
                             f"Received: batch_size={batch_size!r}")
        return int(batch_size)

    # ------------------------------------------------------------------ fit
    @_in_engine_threads
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for `epochs` epochs; returns a `History` (see the module docstring)."""
        self._require_compiled()
        verbose = 1 if verbose == "auto" else int(verbose)
        batch_size = self._check_batch_size(batch_size)
        if not _is_array_data(x):
            return self._fit_generator(x, epochs, verbose, callbacks, validation_data,
                                       initial_epoch, steps_per_epoch, validation_steps,
                                       class_weight)
        if y is None:
            raise ValueError("fit() needs targets `y` for array inputs.")
        xs = self._standardize_inputs(x)
        self._resolve_losses_if_built(len(self.outputs))
        n = len(xs[0])
        ys = self._standardize_targets(y, n)
        self._check_finite_inputs(xs)
        sws = self._sample_weights(ys, sample_weight, class_weight)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"`validation_split` must be in [0, 1). "
                             f"Received: validation_split={validation_split}")
        val = None
        if validation_data is not None:
            vx, vy = validation_data[0], validation_data[1]
            vsw = validation_data[2] if len(validation_data) > 2 else None
            vxs = self._standardize_inputs(vx, "validation_data")
            self._check_finite_inputs(vxs)
            val = (vxs, self._standardize_targets(vy, len(vxs[0])),
                   self._sample_weights(self._standardize_targets(vy, len(vxs[0])), vsw, None))
        elif validation_split > 0:
            split = int(n * (1.0 - validation_split))
            val = (self._take(xs, slice(split, None)), self._take(ys, slice(split, None)),
                   self._take(sws, slice(split, None)))
            xs, ys, sws = (self._take(a, slice(0, split)) for a in (xs, ys, sws))
            n = split
        if n == 0:
            raise ValueError("fit() received no training samples.")

        def batches():
            for idx in self._batches(n, batch_size, shuffle):
                yield self._take(xs, idx), self._take(ys, idx), self._take(sws, idx)

        def validate(epoch: int):
            if val is None or (epoch + 1 - initial_epoch) % validation_freq:
                return None
            return self._evaluate_arrays(*val, validation_batch_size or batch_size)

        return self._train_epochs(batches, math.ceil(n / batch_size), epochs, initial_epoch,
                                  verbose, callbacks, validate)

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, **kwargs):
        """Keras 2's `fit_generator` (deprecated): the same as `fit(generator, ...)`."""
        import warnings

        warnings.warn("`fit_generator` is deprecated: use `fit`, which accepts generators.",
                      DeprecationWarning, stacklevel=2)
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, **kwargs)

    def _fit_generator(self, data, epochs, verbose, callbacks, validation_data,
                       initial_epoch, steps_per_epoch, validation_steps, class_weight):
        """fit() on an iterator of (x, y[, sample_weight]) batches, `steps_per_epoch` of them
        per epoch (restarted when it runs out), each checked like array data."""
        if steps_per_epoch is None:
            if hasattr(data, "__len__"):
                steps_per_epoch = len(data)
            else:
                raise ValueError("fit() on a generator needs `steps_per_epoch`.")
        iterator = iter(data)

        def batches():
            nonlocal iterator
            for _ in range(steps_per_epoch):
                try:
                    batch = next(iterator)
                except StopIteration:
                    iterator = iter(data)
                    batch = next(iterator)
                xs = self._standardize_inputs(batch[0])
                self._resolve_losses_if_built(len(self.outputs))
                ys = self._standardize_targets(batch[1], len(xs[0]))
                self._check_finite_inputs(xs)
                yield xs, ys, self._sample_weights(
                    ys, batch[2] if len(batch) > 2 else None, class_weight)

        def validate(epoch: int):
            if validation_data is None:
                return None
            return self.evaluate(*validation_data[:2], verbose=0, return_dict=True)

        return self._train_epochs(batches, steps_per_epoch, epochs, initial_epoch, verbose,
                                  callbacks, validate)

    def _train_epochs(self, batches, steps: int, epochs: int, initial_epoch: int, verbose: int,
                      callbacks, validate):
        """The epoch loop shared by array and generator data.

        `batches()` yields one epoch of standardized (xs, ys, sample_weights) batches;
        `validate(epoch)` returns the validation logs of that epoch, or None.
        """
        cbs = callbacks_module.CallbackList(
            callbacks, model=self, add_history=True,
            params={"epochs": epochs, "steps": steps, "verbose": verbose},
        )
        self.stop_training = False
        hooks = cbs.has_batch_hooks
        cbs.on_train_begin()
        for epoch in range(initial_epoch, epochs):
            self._reset_metrics()
            cbs.on_epoch_begin(epoch)
            bar = Progbar(steps, verbose, epoch, epochs)
            batch_logs = hooks or bar.shows_steps  # else nobody reads the per-batch logs
            start = time.perf_counter()
            for step, (bx, by, bsw) in enumerate(batches()):
                refresh_engine_threads()  # follow the machine's load (scratch._threads)
                if hooks:
                    cbs.on_train_batch_begin(step)
                loss, y_preds = self._train_step(bx, by, bsw)
                self._track_loss(loss, len(bx[0]))
                self._update_metrics(by, y_preds, bsw)
                if batch_logs:
                    logs = self._logs()
                    bar.update(step + 1, logs)
                    if hooks:
                        cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            logs = self._logs()
            vlogs = validate(epoch)
            if vlogs is not None:
                logs.update({f"val_{k}": v for k, v in vlogs.items()})
            bar.finish(logs, time.perf_counter() - start)
            cbs.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cbs.on_train_end()
        return self.history

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_arrays(self, xs, ys, sws, batch_size: int) -> dict:
        self._reset_metrics()
        n = len(xs[0])
        chain = self._plain_step_chain(ys, sws)
        for idx in self._batches(n, batch_size, False):
            refresh_engine_threads()
            bx, by, bsw = self._take(xs, idx), self._take(ys, idx), self._take(sws, idx)
            if chain is not None:
                loss, y_pred, _, _ = self._chain_loss(chain, bx[0], by[0], False)
                y_preds = [y_pred]
            else:
                y_preds = self._forward_list(bx, training=False)
                loss, _, _ = self._compute_loss(by, y_preds, bsw, training=False)
            self._track_loss(loss, len(bx[0]))
            self._update_metrics(by, y_preds, bsw)
        return self._logs()

    @_in_engine_threads
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss (and metrics) over the data in inference mode, batch by batch."""
        self._require_compiled()
        batch_size = self._check_batch_size(batch_size)
        xs = self._standardize_inputs(x)
        self._resolve_losses_if_built(len(self.outputs))
        ys = self._standardize_targets(y, len(xs[0]))
        self._check_finite_inputs(xs)
        sws = self._sample_weights(ys, sample_weight, None)
        logs = self._evaluate_arrays(xs, ys, sws, batch_size)
        verbose = 1 if verbose == "auto" else int(verbose)
        if verbose:
            print(" - ".join(f"{k}: {v:.4f}" for k, v in logs.items()))
        return self._format_results(logs, return_dict)

    def _format_results(self, logs: dict, return_dict: bool):
        """A dict, or Keras' list order: loss, then the single output's metrics in compile
        order (or each output's loss), then every other key sorted."""
        if return_dict:
            return logs
        first = ["loss"] + [t.name for t in self._output_loss_trackers]
        if len(self.outputs) == 1:
            first += [m.name for m in (self._metrics or [[]])[0]]
        ordered = [logs[k] for k in first] + [v for k, v in logs.items() if k not in first]
        return ordered[0] if len(ordered) == 1 else ordered

    @_in_engine_threads
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Outputs for `x` in inference mode (batch 32 by default), as NumPy arrays."""
        batch_size = self._check_batch_size(batch_size)
        xs = self._standardize_inputs(x)
        n = len(xs[0])
        chunks: list[list] = [[] for _ in self.outputs]
        for idx in self._batches(n, batch_size, False):
            refresh_engine_threads()
            for c, out in zip(chunks, self._forward_list(self._take(xs, idx), False)):
                c.append(out)
        outs = [np.concatenate(c) if c else np.zeros((0,) + tuple(
            d or 0 for d in t.shape[1:]), self.dtype) for c, t in zip(chunks, self.outputs)]
        return outs if len(self.outputs) > 1 else outs[0]

    @_in_engine_threads
    def predict_on_batch(self, x):
        xs = self._standardize_inputs(x)
        outs = self._forward_list(xs, False)
        return outs if len(self.outputs) > 1 else outs[0]

    @_in_engine_threads
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One optimizer step on exactly this batch; returns the pre-update loss (and
        metrics, reset before the step)."""
        self._require_compiled()
        xs = self._standardize_inputs(x)
        self._resolve_losses_if_built(len(self.outputs))
        ys = self._standardize_targets(y, len(xs[0]))
        self._check_finite_inputs(xs)
        sws = self._sample_weights(ys, sample_weight, class_weight)
        self._reset_metrics()
        loss, y_preds = self._train_step(xs, ys, sws)
        self._track_loss(loss, len(xs[0]))
        self._update_metrics(ys, y_preds, sws)
        return self._format_results(self._logs(), return_dict)

    @_in_engine_threads
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._require_compiled()
        xs = self._standardize_inputs(x)
        self._resolve_losses_if_built(len(self.outputs))
        ys = self._standardize_targets(y, len(xs[0]))
        sws = self._sample_weights(ys, sample_weight, None)
        self._reset_metrics()
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
