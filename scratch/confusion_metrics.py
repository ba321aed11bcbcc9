"""Metrics from confusion counts: `Precision`, `Recall` and `AUC` (Keras' `confusion_metrics`).

Each one accumulates, over an epoch, the (weighted) counts of true positives, false
positives, true negatives and false negatives at a list of thresholds t (a prediction p is
positive when p > t), and computes its result from them (docs/KERAS_NUMERICS.md §Metrics):

    precision = TP / (TP + FP)          recall = TP / (TP + FN)        (0 when 0/0)
    AUC       = Σ over neighbouring thresholds of the area under the ROC or PR curve

Keras counts in two ways, and so does scratch, because they differ at the thresholds:

* **any thresholds:** compare every prediction with every threshold, p > t;
* **evenly spaced thresholds** (AUC's default: 0, 1/(T−1), …, 1, with its end points moved
  to −ε and 1 + ε; or a user list spaced evenly): each prediction, clipped to [0, 1], falls
  in the bucket ⌈p·(T−1)⌉ − 1, and the count at threshold i is the sum of the buckets ≥ i.

The counts live in floatx() as it is when the metric is made (float32 by default): Keras
creates these variables without the metric's `dtype`, which only its config keeps; y_true
and y_pred are cast to it, and y_true counts as positive where it is not 0. Keras' masks do
not reach these metrics (they are not mean metrics): a `mask` passed by the training loop is
ignored, as in Keras.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .losses import squeeze_or_expand_to_same_rank
from .metrics import Metric

__all__ = ["Precision", "Recall", "AUC", "confusion_counts"]

#: Keras' stand-in threshold with top_k: every kept prediction is above it.
NEG_INF = -1e10


# ============================================================================ the counts
def is_evenly_distributed(thresholds) -> bool:
    """Keras' `is_evenly_distributed_thresholds`: ≥ 3 thresholds at i/(T−1), within ε."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    n = len(thresholds)
    if n < 3:
        return False
    even = np.arange(n, dtype=np.float32) / (n - 1)
    return bool(np.allclose(thresholds, even, atol=backend.epsilon()))


def _filter_top_k(x: np.ndarray, k: int) -> np.ndarray:
    """Keep the k largest values of the last axis (ties: the lower index first, as TF's
    top_k) and set the others to NEG_INF: x·mask + NEG_INF·(1 − mask)."""
    order = np.argsort(-x, axis=-1, kind="stable")[..., :k]
    mask = np.zeros_like(x)
    np.put_along_axis(mask, order, 1, axis=-1)
    return x * mask + x.dtype.type(NEG_INF) * (1 - mask)


def confusion_counts(y_true, y_pred, thresholds, *, dtype, sample_weight=None, top_k=None,
                     class_id=None, multi_label=False, label_weights=None,
                     evenly_distributed=False):
    """(TP, FP, TN, FN) at each threshold, as Keras' `update_confusion_matrix_variables`.

    Args:
        y_true, y_pred: the same shape (up to Keras' rank fix-up), e.g. (N,), (N, 1), (N, C).
        thresholds: the list of thresholds t (a prediction is positive when p > t).
        dtype: the counts' dtype (the metric's).
        sample_weight: None, or broadcastable to y_pred (e.g. (N,) or (N, 1)).
        top_k: keep only the k largest predictions of each sample (the others negative).
        class_id: count only this column of y_true / y_pred.
        multi_label: keep the last axis apart (counts (T, L)), else flatten (counts (T,)).
        label_weights: weights of the columns (flattened case only).
        evenly_distributed: thresholds spaced evenly: Keras' bucket counting (module doc).

    Returns:
        four arrays of shape (T,) or (T, L) in `dtype`.
    """
    dt = np.dtype(dtype)
    y_true = np.asarray(y_true).astype(dt)
    y_pred = np.asarray(y_pred).astype(dt)
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight).astype(dt)[..., None]
        _, sample_weight = squeeze_or_expand_to_same_rank(y_true, sample_weight,
                                                          expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError("When class_id is provided, y_pred must be a 2D array with "
                             "shape (num_samples, num_classes), found shape: "
                             f"{y_pred.shape}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    weights = None if sample_weight is None else np.broadcast_to(sample_weight, y_pred.shape)
    if label_weights is not None and not multi_label:
        lw = np.broadcast_to(np.asarray(label_weights, dt)[None], y_pred.shape)
        weights = lw if weights is None else weights * lw
    if evenly_distributed:
        return _bucketed_counts(y_true, y_pred, len(thresholds), weights, multi_label,
                                with_epsilon=thresholds[0] < 0.0 or thresholds[-1] > 1.0)
    return _compared_counts(y_true, y_pred, np.asarray(thresholds, dt), weights, multi_label)


def _compared_counts(y_true, y_pred, thresholds, weights, multi_label):
    """Every prediction against every threshold: positive where p > t."""
    columns = y_pred.shape[-1] if multi_label else None
    labels = (y_true != 0).reshape(-1 if columns is None else (-1, columns))
    preds = y_pred.reshape(labels.shape)
    w = None if weights is None else weights.reshape(labels.shape)
    thresholds = thresholds.reshape((-1,) + (1,) * labels.ndim)
    pred_is_pos = preds[None] > thresholds                          # (T, M) or (T, N, L)
    dt = y_pred.dtype

    def count(label, pred):
        hit = label & pred
        return np.sum(hit.astype(dt) if w is None else np.where(hit, w, dt.type(0)), axis=1)

    return (count(labels, pred_is_pos), count(~labels, pred_is_pos),
            count(~labels, ~pred_is_pos), count(labels, ~pred_is_pos))


def _bucketed_counts(y_true, y_pred, num_thresholds, weights, multi_label, with_epsilon):
    """Keras' `_update_confusion_matrix_variables_optimized` for thresholds i/(T−1):

        bucket(p) = ⌈clip(p, 0, 1)·(T−1)⌉ − 1   (raised to 0 when the end thresholds are
                                                −ε and 1 + ε; a bucket −1 counts nowhere)
        TP[i] = Σ_{bucket ≥ i} y·w,   FP[i] = Σ_{bucket ≥ i} (1 − y)·w
        TN = Σ(1 − y)·w − FP,          FN = Σ y·w − TP
    """
    dt = y_pred.dtype
    w = dt.type(1.0) if weights is None else weights
    y_pred = np.clip(y_pred, dt.type(0.0), dt.type(1.0))
    y = (y_true != 0).astype(dt)
    true_labels, false_labels = y * w, (1 - y) * w
    bucket = np.ceil(y_pred * dt.type(num_thresholds - 1)) - 1
    if with_epsilon:
        bucket = np.maximum(bucket, 0)
    bucket = bucket.astype(np.int64)
    if multi_label:  # one column per label: counts (T, L)
        true_labels, false_labels, bucket = (a.reshape(-1, a.shape[-1]) for a in
                                             (np.broadcast_to(true_labels, y.shape),
                                              np.broadcast_to(false_labels, y.shape), bucket))
    else:
        true_labels, false_labels, bucket = (np.broadcast_to(a, y.shape).reshape(-1) for a in
                                             (true_labels, false_labels, bucket))

    def reversed_cumsum_of_buckets(values):
        shape = (num_thresholds,) + values.shape[1:]
        buckets = np.zeros(shape, dt)
        kept = bucket >= 0  # TF's segment sum drops the negative ids
        if values.ndim == 1:
            np.add.at(buckets, bucket[kept], values[kept])
        else:
            for j in range(values.shape[1]):
                np.add.at(buckets[:, j], bucket[:, j][kept[:, j]], values[:, j][kept[:, j]])
        return np.flip(np.cumsum(np.flip(buckets, 0), axis=0, dtype=dt), 0)

    tp = reversed_cumsum_of_buckets(true_labels)
    fp = reversed_cumsum_of_buckets(false_labels)
    total_true, total_false = np.sum(true_labels, axis=0), np.sum(false_labels, axis=0)
    return tp, fp, total_false - fp, total_true - tp


def _divide_no_nan(a, b):
    """a / b, 0 where b = 0 (TF's divide_no_nan)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0, a / np.where(b == 0, 1, b)).astype(np.result_type(a, b))


def _check_thresholds(thresholds) -> list:
    values = thresholds if isinstance(thresholds, (list, tuple)) else [thresholds]
    bad = [t for t in values if t is None or t < 0 or t > 1]
    if bad:
        raise ValueError(f"Threshold values must be in [0, 1]. Received: {bad}")
    return list(values)


# ============================================================================ Precision, Recall
class _ThresholdMetric(Metric):
    """Precision and Recall: two counts per threshold, and their ratio."""

    _counts: tuple[str, str] = ("tp", "fp")
    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k = top_k
        self.class_id = class_id
        self._counts_dtype = np.dtype(backend.floatx())  # Keras' variables: floatx()
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = _check_thresholds(thresholds) if thresholds is not None \
            else [default]
        self._evenly = is_evenly_distributed(self.thresholds)
        self.reset_state()

    def reset_state(self) -> None:
        dt = self._counts_dtype
        self.true_positives = np.zeros(len(self.thresholds), dt)
        self.false_positives = np.zeros(len(self.thresholds), dt)
        self.false_negatives = np.zeros(len(self.thresholds), dt)

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None) -> None:
        tp, fp, _, fn = confusion_counts(
            y_true, y_pred, self.thresholds, dtype=self._counts_dtype,
            sample_weight=sample_weight,
            top_k=self.top_k, class_id=self.class_id, evenly_distributed=self._evenly)
        self.true_positives = self.true_positives + tp
        if "fp" in self._counts:
            self.false_positives = self.false_positives + fp
        if "fn" in self._counts:
            self.false_negatives = self.false_negatives + fn

    def _ratio(self, other):
        value = _divide_no_nan(self.true_positives, self.true_positives + other)
        return value[0] if len(self.thresholds) == 1 else value

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_ThresholdMetric):
    """Precision over the epoch, Keras' `Precision`: of the predictions called positive,
    the fraction that are.

    Math:
        positive ⇔ p > t (t = 0.5 by default);  precision = TP / (TP + FP)   (0 if no
        positive prediction); one value per threshold when `thresholds` is a list

    Args:
        thresholds: a float or a list of floats in [0, 1].
        top_k: only the k largest predictions of each sample count as positive (then the
            threshold defaults to −1e10, so all k do).
        class_id: compute for this class (column) only.

    Shapes:
        y_true, y_pred: (N,), (N, 1) or (N, C) (flattened); sample_weight (N,) or (N, 1).
    """

    _counts = ("tp", "fp")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision",
                 dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._ratio(self.false_positives)


class Recall(_ThresholdMetric):
    """Recall over the epoch, Keras' `Recall`: of the positives, the fraction found.

    Math:
        positive ⇔ p > t (t = 0.5 by default);  recall = TP / (TP + FN)   (0 if no
        positive label)

    Args and Shapes: as `Precision`.
    """

    _counts = ("tp", "fn")

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self):
        return self._ratio(self.false_negatives)


# ============================================================================ AUC
_CURVES = {"roc": "ROC", "ROC": "ROC", "pr": "PR", "PR": "PR", "prgain": "PRGAIN",
           "PRGAIN": "PRGAIN"}
_SUMMATIONS = {"interpolation": "interpolation", "Interpolation": "interpolation",
               "majoring": "majoring", "Majoring": "majoring", "minoring": "minoring",
               "Minoring": "minoring"}


class AUC(Metric):
    """Area under the ROC or precision-recall curve, Keras' `AUC`, from confusion counts at
    `num_thresholds` thresholds.

    Math (with T thresholds t_0 < … < t_{T−1}, t_0 = −ε, t_{T−1} = 1 + ε, counts at each):
        ROC: x = FP/(FP + TN), y = TP/(TP + FN);  PR: x = recall, y = precision
        AUC = Σ_i (x_i − x_{i+1})·h_i,  h_i = (y_i + y_{i+1})/2 ("interpolation"),
              min(y_i, y_{i+1}) ("minoring") or max ("majoring")
        PR with "interpolation" (Davis & Goadrich): within each interval TP and P = TP + FP
        vary linearly, so with s = ΔTP/ΔP (0 if ΔP ≤ 0) and b = TP_{i+1} − s·P_{i+1}:
        AUC = Σ_i s·(ΔTP + b·log(P_i/P_{i+1})) / (TP_{i+1} + FN_{i+1})
        PRGAIN: the precision-recall-gain curve, as Keras.

    Args:
        num_thresholds: T (default 200): thresholds (i+1)/(T−1) for i < T−2 plus the ends.
        curve: "ROC" (default), "PR" or "PRGAIN".
        summation_method: "interpolation" (default), "minoring" or "majoring".
        thresholds: an explicit list in [0, 1] instead (the ends are added).
        multi_label: one curve per column, their AUCs averaged (`label_weights` weigh them);
            else every column is flattened into one curve.
        num_labels: the number of columns (multi_label only; known at the first update
            otherwise).
        label_weights: weights of the columns.
        from_logits: y_pred are logits: a sigmoid is applied first.

    Shapes:
        y_true, y_pred: (N,), (N, 1) or (N, L); sample_weight (N,) or (N, 1).
    """

    _direction = "up"

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation",
                 name="auc", dtype=None, thresholds=None, multi_label=False, num_labels=None,
                 label_weights=None, from_logits=False):
        if curve not in _CURVES:
            raise ValueError(f'Invalid AUC curve value: "{curve}". '
                             'Expected values are ["PR", "ROC", "PRGAIN"]')
        if summation_method not in _SUMMATIONS:
            raise ValueError(f'Invalid AUC summation method value: "{summation_method}". '
                             'Expected values are ["interpolation", "majoring", "minoring"]')
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            self.num_thresholds = len(thresholds) + 2
            thresholds = sorted(_check_thresholds(thresholds))
            self._evenly = is_evenly_distributed([0.0] + thresholds + [1.0])
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or \
                    num_thresholds <= 1:
                raise ValueError("Argument `num_thresholds` must be an integer > 1. "
                                 f"Received: num_thresholds={num_thresholds}")
            self.num_thresholds = num_thresholds
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1)
                          for i in range(num_thresholds - 2)]
            self._evenly = True
        eps = backend.epsilon()
        self._thresholds = np.array([0.0 - eps] + thresholds + [1.0 + eps])
        self.curve = _CURVES[curve]
        self.summation_method = _SUMMATIONS[summation_method]
        super().__init__(name=name, dtype=dtype)
        self._counts_dtype = np.dtype(backend.floatx())  # Keras' variables: floatx()
        self.multi_label = bool(multi_label)
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(
            label_weights, self.dtype)
        self._from_logits = bool(from_logits)
        if num_labels and not self.multi_label:
            raise ValueError("`num_labels` is needed only when `multi_label` is True.")
        self._num_labels = num_labels if self.multi_label else None
        self.reset_state()

    @property
    def thresholds(self) -> list[float]:
        return list(self._thresholds)

    def reset_state(self) -> None:
        shape = (self.num_thresholds,) if not self.multi_label else (
            self.num_thresholds, self._num_labels or 0)
        dt = self._counts_dtype
        self.true_positives, self.false_positives, self.true_negatives, \
            self.false_negatives = (np.zeros(shape, dt) for _ in range(4))

    def update_state(self, y_true, y_pred, sample_weight=None, mask=None) -> None:
        y_pred = np.asarray(y_pred)
        if self.multi_label:
            if y_pred.ndim != 2:
                raise ValueError("`y_pred` must have rank 2 when `multi_label=True`. Found "
                                 f"rank {y_pred.ndim}. Full shape received for `y_pred`: "
                                 f"{y_pred.shape}")
            if not self._num_labels:
                self._num_labels = y_pred.shape[1]
                self.reset_state()
        if self._from_logits:
            from .activations import sigmoid

            y_pred = sigmoid(y_pred.astype(self._counts_dtype))
        counts = confusion_counts(
            y_true, y_pred, self._thresholds, dtype=self._counts_dtype,
            sample_weight=sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            evenly_distributed=self._evenly)
        self.true_positives = self.true_positives + counts[0]
        self.false_positives = self.false_positives + counts[1]
        self.true_negatives = self.true_negatives + counts[2]
        self.false_negatives = self.false_negatives + counts[3]

    def _average_labels(self, by_label):
        """The result of a multi-label AUC: the mean of the labels' AUCs, or their mean
        weighted by `label_weights`."""
        if self.label_weights is None:
            return np.mean(by_label, dtype=self._counts_dtype)
        return _divide_no_nan(np.sum(by_label * self.label_weights),
                              np.sum(self.label_weights))[()]

    def _interpolate_pr_auc(self):
        """The PR curve's area with Davis & Goadrich's interpolation (class docstring)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        prec_slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - prec_slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        safe_p_ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)),
                                np.ones_like(p[1:]))
        with np.errstate(divide="ignore"):
            log_ratio = np.log(safe_p_ratio)
        increment = _divide_no_nan(prec_slope * (dtp + intercept * log_ratio),
                                   np.maximum(tp[1:] + fn[1:], 0))
        if self.multi_label:
            return self._average_labels(np.sum(increment, axis=0))
        return np.sum(increment)

    def result(self):
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = (self.true_positives, self.false_positives, self.true_negatives,
                          self.false_negatives)
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN
            scaling = _divide_no_nan(tp + fn, tn + fp)
            one = self._counts_dtype.type(1.0)
            recall_gain = one - scaling * _divide_no_nan(fn, tp)
            precision_gain = one - scaling * _divide_no_nan(fp, tp)
            recall_gain = np.maximum(np.where(tp == 0, 0, recall_gain), 0).astype(tp.dtype)
            precision_gain = np.where(tp == 0, 1, precision_gain).astype(tp.dtype)
            x, y = recall_gain, precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / self._counts_dtype.type(2.0)
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        riemann_terms = (x[:-1] - x[1:]) * heights
        if self.multi_label:
            return self._average_labels(np.sum(riemann_terms, axis=0))
        return np.sum(riemann_terms)

    def get_config(self) -> dict:
        label_weights = None if self.label_weights is None else self.label_weights.tolist()
        config = {"num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "label_weights": label_weights,
                  "from_logits": self._from_logits}
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return {**super().get_config(), **config}
