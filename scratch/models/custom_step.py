"""A `train_step(self, data)` of your own, as Keras 3 runs it (its "customizing fit" protocol).

    class MyModel(keras.Model):
        def train_step(self, data):
            x, y = data                                  # what fit hands over, packed
            with keras.GradientTape() as tape:           # tf.GradientTape in tf.keras
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

`fit` and `train_on_batch` call an override that takes one argument with `data` as Keras
hands it over: in `fit`, packed as `x` alone (no targets), `(x, y)` or `(x, y,
sample_weight)`; in `train_on_batch`, always `(x, y, sample_weight)`, Nones included. Each epoch
starts with `reset_metrics()` (every metric in `self.metrics`, the property a subclass may
override), and the logs are what the step returns, flattened (a dict inside the dict, such as
`compile_metrics`' results, gives its keys) into floats with sorted keys: Keras'
`pythonify_logs`. An epoch's logs are `get_metrics_result()` when the step returned the
same keys, else the last step's own.

scratch's own `train_step(x, y, sample_weight)` (already checked and split data, one array
per input and output) stays what the engine runs; an override with that signature is called
as before. `evaluate`, `test_on_batch`, `predict` and `predict_on_batch` call a `test_step`
/ `predict_step(self, data)` of your own the same way (the defaults here are Keras', for an
override's `super()` call; the engine runs the same steps inline).

The parts (`TrainingMixin` inherits them):
    metrics               the loss tracker, the compiled metrics as one `CompileMetrics`
                          ("compile_metrics", whose result is a dict), each output's loss
                          tracker (several outputs), then the `Metric`s the model holds as
                          attributes (`self.d_loss_tracker = keras.metrics.Mean(...)`)
    compute_loss(...)     Σ loss_weight · compiled loss(y, y_pred, sample_weight) + Σ
                          model.losses, through the loss objects, so the tape records it
    compute_metrics(...)  the compiled metrics updated, then `get_metrics_result()`
    get_metrics_result()  every metric's result, dicts flattened
    reset_metrics()       every metric in `metrics` reset
"""

from __future__ import annotations

import functools
import inspect

import numpy as np

from .. import metrics as metrics_module
from ..layers.base import as_list


class CompileMetrics:
    """The compiled metrics as Keras' one `compile_metrics` entry of `model.metrics`."""

    name = "compile_metrics"

    def __init__(self, model) -> None:
        self._model = model

    @property
    def metrics(self) -> list:
        return [m for ms in self._model._metrics or [] for m in ms]

    def update_state(self, y, y_pred, sample_weight=None) -> None:
        """Every compiled metric on (y, y_pred), one target and output per model output."""
        model = self._model
        y_preds, ys, sws = model._split_batch(y_pred, y, sample_weight, per_output=True)
        model._resolve_losses_if_built(len(model.outputs))
        model._update_metrics([_plain(v) for v in ys], [_plain(v) for v in y_preds],
                              [_plain(w) for w in sws])

    def result(self) -> dict:
        return {m.name: m.result() for m in self.metrics}

    def reset_state(self) -> None:
        for m in self.metrics:
            m.reset_state()


def _plain(value):
    """A recorded tape value as a plain array (metrics are not differentiated)."""
    return None if value is None else np.asarray(value)


def pythonify_logs(logs) -> dict:
    """Keras' `pythonify_logs`: keys sorted, dicts flattened, values as floats where they
    convert (others kept as they are)."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
            continue
        try:
            value = float(value)
        except (TypeError, ValueError):
            pass
        result[key] = value
    return result


def pack_data(x, y=None, sample_weight=None):
    """Keras' `pack_x_y_sample_weight` (`scratch.utils` has it by that name): `x` alone when
    there are no targets (a list of inputs as a 1-tuple), else `(x, y)` or `(x, y,
    sample_weight)`."""
    if y is None:
        return (x,) if isinstance(x, (list, tuple)) else x
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def unpack_data(data) -> tuple:
    """Keras' `unpack_x_y_sample_weight` (`scratch.utils` has it by that name): (x, y,
    sample_weight), Nones where absent."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if not 1 <= len(data) <= 3:
        raise ValueError("Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                         f"`(x, y, sample_weight)`, found: {data}")
    return data + (None,) * (3 - len(data))


@functools.cache
def _takes_data(function) -> bool:
    """Whether an overridden `train_step` is Keras' `train_step(self, data)`: one argument
    besides self (scratch's own takes x, y and sample_weight)."""
    try:
        parameters = list(inspect.signature(function).parameters.values())[1:]
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) == 1 and not any(p.kind == p.VAR_POSITIONAL for p in parameters)


class CustomStepMixin:
    """Keras 3's Trainer API for a step of your own (see the module docstring)."""

    @property
    def metrics(self) -> list:
        """Keras' order: the loss tracker, the compiled metrics, each output's loss tracker,
        then the metrics held as attributes."""
        out = []
        if getattr(self, "compiled", False):
            if getattr(self, "_loss_tracker", None) is None:
                self._reset_metrics()
            out += [self._loss_tracker, CompileMetrics(self), *self._output_loss_trackers]
        return out + self._attribute_metrics()

    def _attribute_metrics(self) -> list:
        return [v for k, v in vars(self).items()
                if isinstance(v, metrics_module.Metric) and not k.startswith("_")]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict:
        out = {}
        for m in self.metrics:
            result = m.result()
            if isinstance(result, dict):
                out.update(result)
            else:
                out[m.name] = result
        return out

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled losses (weighted, summed over the outputs) plus `model.losses`, each
        computed by its loss object, so `GradientTape` records the total.

        Raises:
            ValueError: when there is no loss (compile without `loss` and no penalties).
        """
        del x, training  # as Keras' default: neither is used
        self._resolve_losses_if_built(len(self.outputs))
        y_preds, ys, sws = self._split_batch(y_pred, y, sample_weight, per_output=True)
        terms = []
        for loss, w, yi, pi, swi in zip(self._losses, self._loss_weights, ys, y_preds, sws):
            if loss is None or yi is None:
                continue
            value = loss(yi, pi, sample_weight=swi)
            terms.append(value if w == 1.0 else value * np.asarray(w, self.dtype))
        terms += list(self.losses)
        if not terms:
            raise ValueError("No loss to compute. Provide a `loss` argument in `compile()`.")
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        del x
        CompileMetrics(self).update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    def test_step(self, data) -> dict:
        """Keras' default test step on one batch, as `evaluate` runs it (what an override's
        `super().test_step(data)` calls): the forward in inference mode, the loss into its
        tracker, the compiled metrics; returns the running logs."""
        xs, ys, sws = self._split_batch(*unpack_data(data))
        self._test_batch(self._plan_for_current_flags(), xs, ys, sws)
        return self._logs()

    def predict_step(self, data):
        """Keras' default predict step: the model on the batch's inputs, in inference mode."""
        x, _, _ = unpack_data(data)
        outs = self._forward_list(self._plan_for_current_flags(),
                                  as_list(x) if len(self.inputs) > 1 else [x], False)
        return outs if len(self.outputs) > 1 else outs[0]

    def _run_predict_step(self, xs: list, packed: bool) -> list:
        """A predict_step of your own on one batch (one array per input), handed it as
        Keras hands it: from predict packed (`x`, or `(x,)` for a list of inputs), from
        predict_on_batch always `(x,)`; its outputs as one plain array per model output."""
        x = xs[0] if len(self.inputs) == 1 else xs
        outputs = self.predict_step(pack_data(x) if packed else (x,))
        outs = as_list(outputs) if len(self.outputs) > 1 else [outputs]
        return [np.asarray(o) for o in outs]

    def _keras_style_step(self) -> bool:
        """Whether `train_step` is overridden as Keras' `train_step(self, data)`."""
        return _takes_data(type(self).train_step)

    def _custom_step(self, name: str) -> bool:
        """Whether the model's class overrides `test_step` or `predict_step` (whose only
        signature, Keras' and scratch's, is `(self, data)`)."""
        return getattr(type(self), name) is not getattr(CustomStepMixin, name)

    def _run_custom_step(self, name: str, data) -> dict:
        """A step of your own on `data`; its logs flattened into floats (the logs as it
        returned them kept for `_custom_epoch_logs`)."""
        logs = getattr(self, name)(data)
        self._raw_step_logs = dict(logs or {})
        return pythonify_logs(logs)

    def _run_train_step(self, x, y, sample_weight, packed: bool = True) -> dict:
        """One step on a batch as the model takes it: scratch's `train_step(x, y,
        sample_weight)`, or a Keras-style override with the batch packed as Keras' fit packs
        it (`packed`; Keras' train_on_batch always hands over (x, y, sample_weight), Nones
        included), its logs flattened into floats."""
        if not self._keras_style_step():
            return self.train_step(x, y, sample_weight)
        data = pack_data(x, y, sample_weight) if packed else (x, y, sample_weight)
        return self._run_custom_step("train_step", data)

    def _custom_epoch_logs(self, step_logs: dict | None) -> dict:
        """Keras' `_get_metrics_result_or_logs` for a step of your own: the metrics' results
        when the step returned exactly their keys (a step that returns `compile_metrics` as
        a dict does not), else the last step's logs as it returned them. Not yet flattened:
        Keras sorts the keys before it flattens a dict among them (`pythonify_logs`), so
        "compile_metrics"' entries come before "loss"."""
        metric_logs = self.get_metrics_result()
        if step_logs is None or set(self._raw_step_logs) == set(metric_logs):
            return metric_logs
        return dict(self._raw_step_logs)


pack_x_y_sample_weight = pack_data  # Keras' names, as `keras.utils` exports them
unpack_x_y_sample_weight = unpack_data
