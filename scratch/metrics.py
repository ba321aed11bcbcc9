"""Keras metrics in NumPy: running means over an epoch (docs/KERAS_NUMERICS.md §Metrics).

Usage mirrors `compile(metrics=[...])`::

    m = metrics.get("accuracy", y_true_shape=(None,), y_pred_shape=(None, 10))
    for x_b, y_b in batches:
        m.update_state(y_b, model.predict(x_b))
    m.result()          # mean over all samples seen since the last reset_state()
    m.name              # "accuracy": the string passed is the history key

Every metric here is a weighted running mean (Keras' `Mean` / `MeanMetricWrapper`):

    values  = fn(y_true, y_pred)                     one value per sample (and per step ...)
    w       = sample_weight merged with the mask     (mask -> 0/1 weights)
    values  -> per-sample: mean over every axis after the weight's rank, times w,
               then mean over the remaining non-batch axes
    total  += Σ values·w
    count  += Σ w   (or the number of samples, values.shape[0], when no weight is given)
    result  = total / count                          (0 while count = 0)

So an epoch's result is the mean over all samples, not the mean of batch means; a last,
partial batch counts with its own size. `total` and `count` live in the metric's dtype
(floatx() = float32 by default, as Keras), whatever the dtype of the data.

Accuracy definitions:

    BinaryAccuracy:             ŷ = [y_pred > threshold] (strict; 0.5 -> 0);  value = [ŷ == y_true]
    CategoricalAccuracy:        value = [argmax y_true == argmax y_pred]      (ties -> first index)
    SparseCategoricalAccuracy:  value = [y_true == argmax y_pred]              (ties -> first index)

"accuracy"/"acc" is resolved from the shapes, never from the loss:

    is_binary = y_pred.shape[-1] == 1
    is_sparse = rank(y_true) < rank(y_pred) or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
    binary wins; then sparse; otherwise categorical (also for multi-label (N,k) sigmoid outputs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import backend, losses
from .losses import is_binary_or_sparse_categorical, squeeze_or_expand_to_same_rank
from .typing import Shape
from .utils.naming import to_snake_case

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "BinaryAccuracy", "CategoricalAccuracy",
    "SparseCategoricalAccuracy", "MeanSquaredError", "MeanAbsoluteError", "AutoAccuracy",
    "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "resolve_accuracy", "reduce_to_samplewise_values", "get", "AUC", "Precision", "Recall",
]


# ============================================================================ base classes
class Metric:
    """Base class: a stateful metric with Keras' `update_state` / `result` / `reset_state`.

    Args:
        name: the metric's name (the history key).
        dtype: the dtype of the accumulators and the result (floatx() by default).
    """

    #: Keras' `_direction`: "up" for a metric to maximize, "down" for one to minimize, None
    #: where Keras does not say (what `mode="auto"` of ReduceLROnPlateau reads).
    _direction: str | None = None

    def __init__(self, name: str | None = None, dtype=None) -> None:
        self.name = name or to_snake_case(type(self).__name__)
        self.dtype = backend.standardize_dtype(dtype)

    def update_state(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__}.update_state")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__}.result")

    def reset_state(self) -> None:
        raise NotImplementedError(f"{type(self).__name__}.reset_state")

    def __call__(self, *args, **kwargs):
        """Update with one batch and return the running result (as Keras' `Metric.__call__`)."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


def reduce_to_samplewise_values(values, sample_weight, dtype):
    """Keras' `reduce_to_samplewise_values` with reduce_fn = mean.

    Math:
        v, w = squeeze_or_expand(values, w)
        v = mean(v, axes rank(w)..)          if rank(v) > rank(w)
        v = v · broadcast(w);  w = mean(w, axes 1..rank(w)-1)
        v = mean(v, axes 1..)

    Shapes:
        values: (N, ...); sample_weight: broadcastable, e.g. (N,), (N,1), (N,T) or ().
        Returns (values (N,) or (), weights (N,) or () or None).
    """
    dtype = np.dtype(dtype)
    values = np.asarray(values).astype(dtype, copy=False)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight).astype(dtype, copy=False)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = backend.mean(values, axis=tuple(range(weight_ndim, values_ndim)))
        try:
            sample_weight = np.broadcast_to(sample_weight, values.shape)
        except ValueError:
            raise ValueError(
                "Metric sample_weight must broadcast to the metric values. Received: "
                f"sample_weight.shape={sample_weight.shape}, values.shape={values.shape}"
            ) from None
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = backend.mean(sample_weight, axis=tuple(range(1, weight_ndim)))
    if values.ndim > 1:
        values = backend.mean(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


_SCALAR_TYPES = {"float32": np.float32, "float64": np.float64}


def _is_scalar(value) -> bool:
    """np.ndim(value) == 0, cheaply for the common cases (Python and NumPy numbers)."""
    if isinstance(value, (float, int, np.generic)):
        return True
    return np.ndim(value) == 0


class Mean(Metric):
    """Weighted running mean of given values, Keras' `metrics.Mean`.

    Math:
        total += Σ_i v_i·w_i;   count += Σ_i w_i  (or N without weights);   result = total/count

    Shapes:
        values: (N, ...) (non-batch axes are averaged per sample) or a scalar (counts once).
        sample_weight: None or broadcastable to values (see `reduce_to_samplewise_values`).
    """

    def __init__(self, name: str = "mean", dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values, sample_weight=None) -> None:
        dt = _SCALAR_TYPES[self.dtype]
        if _is_scalar(values) and (sample_weight is None or _is_scalar(sample_weight)):
            # One value (e.g. a batch loss) with a scalar weight: the same float operations
            # as the general path below, without its array plumbing.
            w = dt(1) if sample_weight is None else dt(sample_weight)
            self.total = dt(self.total + dt(dt(values) * w if sample_weight is not None
                                            else dt(values)))
            self.count = dt(self.count + w)
            return
        if sample_weight is None:  # the same operations without the weight plumbing
            values = np.asarray(values).astype(self.dtype, copy=False)
            if values.ndim > 1:
                values = backend.mean(values, axis=tuple(range(1, values.ndim)))
            self.total = dt(self.total + dt(np.add.reduce(values, axis=None)))
            self.count = dt(self.count + dt(values.shape[0] if values.ndim else 1))
            return
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, self.dtype)
        total = dt(np.sum(values, dtype=self.dtype))
        if sample_weight is not None:
            count = dt(np.sum(sample_weight, dtype=self.dtype))
        elif values.ndim >= 1:
            count = dt(values.shape[0])
        else:
            count = dt(1)
        self.total = dt(self.total + total)
        self.count = dt(self.count + count)

    def reset_state(self) -> None:
        dt = np.dtype(self.dtype).type
        self.total, self.count = dt(0), dt(0)

    def result(self):
        """total / count in the metric's dtype; 0 when nothing (or only weight 0) was seen."""
        dt = _SCALAR_TYPES[self.dtype]
        return dt(0) if self.count == 0 else dt(self.total / self.count)


class MeanMetricWrapper(Mean):
    """A `Mean` of the per-sample values `fn(y_true, y_pred, **kwargs)` (Keras' wrapper).

    Math:
        w = sample_weight · mask (the mask as 0/1 weights);  Mean.update_state(fn(y, p), w)

    Args:
        fn: a function of (y_true, y_pred) returning one value per sample (or per step).
        name: the metric name; dtype: the accumulator dtype.
        **kwargs: extra keyword arguments of fn (e.g. threshold).

    Shapes:
        y_true, y_pred: whatever fn accepts; sample_weight: (N,), (N,1), (N,T), ...;
        mask: y_pred.shape[:-1] (a Keras mask: False entries are left out).
    """

    def __init__(self, fn: Callable, name: str | None = None, dtype=None, **kwargs: Any) -> None:
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"),
                         dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def _count_matches(self, y_true, y_pred) -> tuple[int, int] | None:
        """(number of 1s, number of samples) when `fn` gives one 0/1 value per sample, so
        that the unweighted update is an exact count; None where the general path applies.
        The accuracies override it; the result equals summing `fn`'s values."""
        return None

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None) -> None:
        if sample_weight is None and mask is None:
            counted = self._count_matches(y_true, y_pred)
            if counted is not None:  # 0/1 values per sample: their sum is an exact count
                dt = _SCALAR_TYPES[self.dtype]
                self.total = dt(self.total + dt(counted[0]))
                self.count = dt(self.count + dt(counted[1]))
                return
            super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs))
            return
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
        sample_weight = losses._apply_mask(
            sample_weight, mask, np.dtype(self.dtype), reduction="sum"
        )
        super().update_state(values, sample_weight=sample_weight)


# ============================================================================ functions
def binary_accuracy(y_true, y_pred, threshold=0.5) -> np.ndarray:
    """[ (y_pred > threshold) == y_true ] elementwise, after Keras' rank fix-up (floatx).

    The prediction is cast to y_true's dtype before the comparison, so labels other than
    0/1 never match. The threshold is a float32 constant (TF's default for Python floats).
    """
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    predicted = (y_pred > np.asarray(threshold, dtype=np.float32)).astype(y_true.dtype)
    return _matches(y_true, predicted, "binary_accuracy")


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """[argmax(y_true) == argmax(y_pred)] over the last axis; ties go to the first index."""
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true)
    _check_rank(y_true, y_pred, "categorical_accuracy")
    return _matches(np.argmax(y_true, axis=-1), np.argmax(y_pred, axis=-1), "categorical_accuracy")


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """[y_true == argmax(y_pred)] (float comparison); y_true (N,...) or (N,...,1)."""
    y_pred, y_true = np.asarray(y_pred), np.asarray(y_true)
    _check_rank(y_true, y_pred, "sparse_categorical_accuracy")
    if y_pred.dtype.kind == "f":
        y_true = y_true.astype(y_pred.dtype)
    original_shape = y_true.shape
    squeezed = y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1
    if squeezed:
        y_true = y_true[..., 0]
    predicted = np.argmax(y_pred, axis=-1).astype(y_true.dtype)
    matches = _matches(y_true, predicted, "sparse_categorical_accuracy")
    if squeezed:
        matches = matches.reshape(original_shape)
    if matches.ndim > 1 and matches.shape[-1] == 1:
        matches = matches[..., 0]
    return matches


def _check_rank(y_true: np.ndarray, y_pred: np.ndarray, name: str) -> None:
    if y_pred.ndim < 1 or y_true.ndim < 1:
        raise ValueError(
            f"{name} expected y_true and y_pred of rank >= 1. Received: "
            f"y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
        )


def _matches(a: np.ndarray, b: np.ndarray, name: str) -> np.ndarray:
    try:
        return np.equal(a, b).astype(backend.floatx())
    except ValueError:
        raise ValueError(
            f"{name} could not compare y_true and y_pred. Received: "
            f"y_true.shape={a.shape}, y_pred.shape={b.shape} (after Keras' reductions)"
        ) from None


# ============================================================================ metric classes
class BinaryAccuracy(MeanMetricWrapper):
    """Fraction of elements with (y_pred > threshold) == y_true, Keras' `BinaryAccuracy`.

    Math:
        value = [ [p > threshold] == y ]  per element;  per-sample mean, then running mean

    Args:
        threshold: strict threshold (default 0.5: exactly 0.5 predicts 0). Applied to whatever
            the model outputs, also logits.

    Shapes:
        y_true, y_pred: (N, ..., k) (or (N,) vs (N,1)).
    """

    _direction = "up"

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5) -> None:
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold

    def _count_matches(self, y_true, y_pred):
        if not (isinstance(y_true, np.ndarray) and isinstance(y_pred, np.ndarray)):
            return None
        n = len(y_pred) if y_pred.ndim else 0
        if y_pred.shape != (n, 1) or y_true.shape not in ((n,), (n, 1)) or \
                y_true.dtype.kind not in "fiub":
            return None
        predicted = (y_pred[:, 0] > np.float32(self.threshold)).astype(y_true.dtype)
        return np.count_nonzero(predicted == y_true.reshape(n)), n

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(MeanMetricWrapper):
    """Fraction of samples with argmax(y_true) == argmax(y_pred), Keras' `CategoricalAccuracy`.

    Math:
        value = [argmax_c y_c == argmax_c p_c]   (ties: the first maximal index)

    Shapes:
        y_true, y_pred: (N, ..., C).
    """

    _direction = "up"

    def __init__(self, name="categorical_accuracy", dtype=None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Fraction of samples with y_true == argmax(y_pred), Keras' `SparseCategoricalAccuracy`.

    Math:
        value = [y == argmax_c p_c]   (ties: the first maximal index)

    Shapes:
        y_true: (N, ...) or (N, ..., 1); y_pred: (N, ..., C).
    """

    _direction = "up"

    def __init__(self, name="sparse_categorical_accuracy", dtype=None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def _count_matches(self, y_true, y_pred):
        if not (isinstance(y_true, np.ndarray) and isinstance(y_pred, np.ndarray)):
            return None
        n = len(y_pred) if y_pred.ndim else 0
        if y_pred.ndim != 2 or y_pred.dtype.kind != "f" or \
                y_true.shape not in ((n,), (n, 1)) or y_true.dtype.kind not in "fiub":
            return None
        predicted = np.argmax(y_pred, axis=-1).astype(y_pred.dtype)
        return np.count_nonzero(predicted == y_true.reshape(n).astype(y_pred.dtype)), n


class MeanSquaredError(MeanMetricWrapper):
    """Running mean of the per-sample MSE, Keras' `metrics.MeanSquaredError`.

    Math:
        value = mean_last((y − p)²)

    Shapes:
        y_true, y_pred: (N, ..., k) (or (N,) vs (N,1)).
    """

    _direction = "down"  # a loss as a metric

    def __init__(self, name="mean_squared_error", dtype=None) -> None:
        super().__init__(losses.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Running mean of the per-sample MAE, Keras' `metrics.MeanAbsoluteError`.

    Math:
        value = mean_last(|y − p|)

    Shapes:
        y_true, y_pred: (N, ..., k) (or (N,) vs (N,1)).
    """

    _direction = "down"  # a loss as a metric

    def __init__(self, name="mean_absolute_error", dtype=None) -> None:
        super().__init__(losses.mean_absolute_error, name=name, dtype=dtype)


def resolve_accuracy(y_true_shape: Shape, y_pred_shape: Shape) -> type[MeanMetricWrapper]:
    """The accuracy class `compile(metrics=["accuracy"])` picks for these shapes (the rule
    in the module docstring)."""
    is_binary, is_sparse = is_binary_or_sparse_categorical(y_true_shape, y_pred_shape)
    if is_binary:
        return BinaryAccuracy
    if is_sparse:
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


class AutoAccuracy(Metric):
    """"accuracy"/"acc" before the shapes are known: resolved at the first `update_state`.

    The resolved metric (`resolved`) is kept across `reset_state`, as Keras resolves once when
    the compiled metrics are built.
    """

    def __init__(self, name="accuracy", dtype=None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.resolved: MeanMetricWrapper | None = None

    def resolve(self, y_true_shape: Shape, y_pred_shape: Shape) -> MeanMetricWrapper:
        if self.resolved is None:
            cls = resolve_accuracy(y_true_shape, y_pred_shape)
            self.resolved = cls(name=self.name, dtype=self.dtype)
        return self.resolved

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None) -> None:
        self.resolve(np.shape(y_true), np.shape(y_pred)).update_state(
            y_true, y_pred, sample_weight=sample_weight, mask=mask
        )

    def result(self):
        if self.resolved is None:
            return np.dtype(self.dtype).type(0)
        return self.resolved.result()

    def reset_state(self) -> None:
        if self.resolved is not None:
            self.resolved.reset_state()


# ============================================================================ get
_BY_NAME: dict[str, type[Metric]] = {
    "binary_accuracy": BinaryAccuracy, "BinaryAccuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy, "CategoricalAccuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "SparseCategoricalAccuracy": SparseCategoricalAccuracy,
    "mse": MeanSquaredError, "MSE": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "MeanSquaredError": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "MeanAbsoluteError": MeanAbsoluteError,
}
_ACCURACY_NAMES = ("accuracy", "acc")

# The metrics of confusion counts (not running means: their own module, which builds on
# `Metric` above).
from .confusion_metrics import AUC, Precision, Recall  # noqa: E402

_BY_NAME.update({"auc": AUC, "AUC": AUC, "precision": Precision, "Precision": Precision,
                 "recall": Recall, "Recall": Recall})


def get(identifier, y_true_shape: Shape | None = None, y_pred_shape: Shape | None = None, *,
        dtype=None) -> Metric:
    """Resolve a metric identifier as `compile(metrics=[...])` does.

    Args:
        identifier: a Metric instance (returned as is); "accuracy"/"acc" (any case: resolved
            from the shapes by `resolve_accuracy`, or at the first update_state if the shapes
            are not given);
            "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
            "mse"/"mean_squared_error", "mae"/"mean_absolute_error", "auc", "precision",
            "recall" or a Keras class name; a Metric subclass (instantiated); a function
            fn(y_true, y_pred) of per-sample values (a `MeanMetricWrapper` named after the
            function, as Keras wraps one); or
            a dict {"class_name": ..., "config": {...}}. A string becomes the metric's name.
        y_true_shape, y_pred_shape: the shapes of one batch (the batch axis may be None).
        dtype: the accumulator dtype (floatx() by default).

    Raises:
        ValueError: for an unknown identifier (the message lists the known names).
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier(dtype=dtype)
    if callable(identifier) and not isinstance(identifier, type):
        return MeanMetricWrapper(identifier, dtype=dtype)
    if isinstance(identifier, dict):
        class_name = identifier.get("class_name")
        config = dict(identifier.get("config") or {})
        if class_name in _BY_NAME:
            return _BY_NAME[class_name].from_config(config)
        if class_name == "Mean":
            return Mean.from_config(config)
    elif isinstance(identifier, str):
        if identifier.lower() in _ACCURACY_NAMES:
            if y_true_shape is None or y_pred_shape is None:
                return AutoAccuracy(name=identifier, dtype=dtype)
            return resolve_accuracy(y_true_shape, y_pred_shape)(name=identifier, dtype=dtype)
        if identifier in _BY_NAME:
            return _BY_NAME[identifier](name=identifier, dtype=dtype)
    known = ", ".join(list(_ACCURACY_NAMES) + sorted(_BY_NAME))
    raise ValueError(
        f"Could not interpret metric identifier: {identifier!r}. Known names: {known} "
        "(or a Metric instance or class, a function of (y_true, y_pred), or a config dict)."
    )
