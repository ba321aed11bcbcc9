"""scratch.metrics against tf.keras.metrics, accumulated over several batches.

Each parity case draws a metric, a layout of y_true/y_pred, a batch size and a number of
batches (the last one partial), sample weights, a Keras mask and a seed. Both metrics see the
same batches; their running results are compared after every batch. The Keras metric is built
with dtype=<the case's dtype> (Keras metrics otherwise accumulate in float32).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratch import metrics
from scratch.testing import assert_close

from conftest import cheap, floatx

KERAS_CLASS = {
    "binary_accuracy": "BinaryAccuracy", "categorical_accuracy": "CategoricalAccuracy",
    "sparse_categorical_accuracy": "SparseCategoricalAccuracy", "mse": "MeanSquaredError",
    "mae": "MeanAbsoluteError",
}
# (y_true shape, y_pred shape) without the batch axis, per metric.
LAYOUTS = {
    "binary_accuracy": [((), ()), ((), (1,)), ((1,), (1,)), ("k", "k"), (("t", 1), ("t", 1))],
    "categorical_accuracy": [("k", "k"), (("t", "k"), ("t", "k"))],
    "sparse_categorical_accuracy": [((), "k"), ((1,), "k"), (("t",), ("t", "k")),
                                    (("t", 1), ("t", "k"))],
    "mse": [((), ()), ((), (1,)), ((1,), (1,)), ("k", "k"), (("t", "k"), ("t", "k"))],
    "mae": [((1,), ()), ("k", "k"), (("t", "k"), ("t", "k"))],
}
LAYOUTS["accuracy"] = (LAYOUTS["binary_accuracy"] + LAYOUTS["categorical_accuracy"]
                       + LAYOUTS["sparse_categorical_accuracy"])


def _dims(spec, k: int, t: int) -> tuple[int, ...]:
    if spec == "k":
        return (k,)
    return tuple({"k": k, "t": t}.get(d, d) for d in spec)


@st.composite
def metric_cases(draw, kind: str):
    yt_spec, yp_spec = draw(st.sampled_from(LAYOUTS[kind]))
    k = draw(st.integers(2, 4))
    t = draw(st.integers(1, 3))
    batch = draw(st.integers(1, 4))
    sizes = [batch] * draw(st.integers(1, 3)) + [draw(st.integers(1, batch))]
    yp_tail = _dims(yp_spec, k, t)
    # MSE/MAE of (N,) vs (N,) is one scalar per batch: Keras cannot weight it (ValueError).
    scalar_values = kind in ("mse", "mae") and yt_spec == yp_spec == ()
    return dict(
        kind=kind, yt_tail=_dims(yt_spec, k, t), yp_tail=yp_tail, sizes=sizes,
        weight=None if scalar_values else draw(st.sampled_from([None, "batch", "col", "zeros"])),
        use_mask=len(yp_tail) >= 1 and draw(st.booleans()),
        int_labels=draw(st.booleans()), dtype=draw(st.sampled_from(["float64", "float32"])),
        seed=draw(st.integers(0, 2**31 - 1)),
    )


def make_batch(case, rng, n):
    kind, dtype = case["kind"], case["dtype"]
    yt_shape, yp_shape = (n,) + case["yt_tail"], (n,) + case["yp_tail"]
    is_binary, is_sparse = metrics.is_binary_or_sparse_categorical(yt_shape, yp_shape)
    accuracy = kind if kind != "accuracy" else (
        "binary_accuracy" if is_binary else
        "sparse_categorical_accuracy" if is_sparse else "categorical_accuracy")
    if kind in ("mse", "mae"):
        y_true = rng.standard_normal(yt_shape)
        y_pred = rng.standard_normal(yp_shape)
    elif accuracy == "binary_accuracy":
        y_true = rng.integers(0, 2, yt_shape)
        y_pred = rng.uniform(0, 1, yp_shape)
        y_pred[rng.uniform(size=yp_shape) < 0.1] = 0.5  # exactly at the threshold -> 0
    elif accuracy == "categorical_accuracy":
        y_true = np.eye(yt_shape[-1])[rng.integers(0, yt_shape[-1], yt_shape[:-1])]
        y_pred = rng.uniform(0, 1, yp_shape)
    else:
        y_true = rng.integers(0, yp_shape[-1], yt_shape)
        y_pred = rng.uniform(0, 1, yp_shape)
    if not case["int_labels"] or kind in ("mse", "mae"):
        y_true = y_true.astype(dtype)
    y_pred = y_pred.astype(dtype)
    weight = case["weight"]
    mask = rng.uniform(size=yp_shape[:-1]) < 0.7 if case["use_mask"] else None
    batch_shape = (n, 1) if mask is not None and mask.ndim >= 2 else (n,)
    # (Keras cannot multiply (N,) weights with an (N, T) mask: those use (N, 1).)
    sw = None
    if weight == "batch":
        sw = rng.uniform(0, 2, batch_shape).astype(dtype)
    elif weight == "col":
        sw = rng.uniform(0, 2, (n, 1)).astype(dtype)
    elif weight == "zeros":
        sw = np.zeros(batch_shape, dtype)
    return y_true, y_pred, sw, mask


def keras_metric(tf_keras, kind, dtype, y_true, y_pred):
    if kind == "accuracy":
        from keras.src.trainers import compile_utils

        resolved = compile_utils.get_metric("accuracy", y_true, y_pred)
        return type(resolved)(name="accuracy", dtype=dtype)
    return getattr(tf_keras.metrics, KERAS_CLASS[kind])(dtype=dtype)


@pytest.mark.parametrize("kind", list(LAYOUTS))
@given(data=st.data())
@cheap
def test_metric_parity_over_batches(tf, tf_keras, kind, data):
    case = data.draw(metric_cases(kind))
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    batches = [make_batch(case, rng, n) for n in case["sizes"]]
    ours = metrics.get(case["kind"], batches[0][0].shape, batches[0][1].shape, dtype=dtype)
    ref = keras_metric(tf_keras, case["kind"], dtype, batches[0][0], batches[0][1])
    assert ours.name == case["kind"]
    assert type(ours).__name__ == type(ref).__name__
    for i, (y_true, y_pred, sw, mask) in enumerate(batches):
        y_pred_tf = tf.constant(y_pred)
        if mask is not None:
            y_pred_tf._keras_mask = tf.constant(mask)
        ref.update_state(tf.constant(y_true), y_pred_tf, sample_weight=sw)
        ours.update_state(y_true, y_pred, sample_weight=sw, mask=mask)
        result = ours.result()
        assert np.asarray(result).dtype == np.dtype(dtype)
        assert_close(result, ref.result().numpy(), kind="loss", dtype=dtype,
                     msg=f"after batch {i}, case={case}")
    ours.reset_state()
    assert ours.result() == 0


# ============================================================================ resolution
ACCURACY_TABLE = [
    ((32,), (32, 1), "BinaryAccuracy"),
    ((32, 1), (32, 1), "BinaryAccuracy"),
    ((32,), (32, 5), "SparseCategoricalAccuracy"),
    ((32, 1), (32, 5), "SparseCategoricalAccuracy"),
    ((32, 5), (32, 5), "CategoricalAccuracy"),
    ((32, 4), (32, 4), "CategoricalAccuracy"),  # multi-label sigmoid: argmax, not binary
    ((32, 7), (32, 7, 5), "SparseCategoricalAccuracy"),
    ((32, 7, 1), (32, 7, 1), "BinaryAccuracy"),
    ((32,), (32,), "CategoricalAccuracy"),
]


@pytest.mark.parametrize("y_true_shape,y_pred_shape,expected", ACCURACY_TABLE)
@pytest.mark.parametrize("identifier", ["accuracy", "acc"])
def test_accuracy_resolution_table(tf_keras, y_true_shape, y_pred_shape, expected, identifier):
    from keras.src.trainers import compile_utils

    ref = compile_utils.get_metric(identifier, np.zeros(y_true_shape), np.zeros(y_pred_shape))
    assert type(ref).__name__ == expected
    ours = metrics.get(identifier, y_true_shape, y_pred_shape)
    assert type(ours).__name__ == expected
    assert ours.name == identifier == ref.name
    # Unknown batch size works too.
    lazy_shapes = (None,) + y_true_shape[1:], (None,) + y_pred_shape[1:]
    assert type(metrics.get(identifier, *lazy_shapes)).__name__ == expected


def test_accuracy_resolved_at_first_update():
    m = metrics.get("accuracy")
    assert m.result() == 0
    m.update_state(np.array([0, 2]), np.array([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]]))
    assert isinstance(m.resolved, metrics.SparseCategoricalAccuracy)
    assert m.result() == 1.0 and m.name == "accuracy"
    m.reset_state()
    assert m.result() == 0 and isinstance(m.resolved, metrics.SparseCategoricalAccuracy)


# ============================================================================ definitions
def test_ties_go_to_first_index_and_threshold_is_strict(tf_keras):
    y_pred = np.array([[0.4, 0.4, 0.2], [0.1, 0.45, 0.45]], dtype=np.float32)
    cat = metrics.CategoricalAccuracy()
    cat.update_state(np.array([[1.0, 0, 0], [0, 0, 1.0]]), y_pred)
    assert cat.result() == 0.5  # sample 0: argmax 0 (first) matches; sample 1: 1 != 2
    sparse = metrics.SparseCategoricalAccuracy()
    sparse.update_state(np.array([0, 1]), y_pred)
    assert sparse.result() == 1.0
    binary = metrics.BinaryAccuracy()
    binary.update_state(np.array([[0.0], [1.0], [1.0]]), np.array([[0.5], [0.5], [0.51]]))
    ref = tf_keras.metrics.BinaryAccuracy()
    ref.update_state(np.array([[0.0], [1.0], [1.0]]), np.array([[0.5], [0.5], [0.51]]))
    assert_close(binary.result(), ref.result().numpy(), kind="loss", dtype="float32")
    assert_close(binary.result(), np.float32(2 / 3), kind="loss", dtype="float32")


def test_binary_threshold_is_a_float32_constant(tf_keras):
    """Keras compares float64 predictions with float32(threshold) (TF's Python-float default)."""
    y_true = np.array([[1.0], [0.0]])
    y_pred = np.array([[0.7], [0.70000001]])
    ref = tf_keras.metrics.BinaryAccuracy(threshold=0.7, dtype="float64")
    ref.update_state(y_true, y_pred)
    ours = metrics.BinaryAccuracy(threshold=0.7, dtype="float64")
    ours.update_state(y_true, y_pred)
    assert ours.result() == ref.result().numpy() == 0.5


def test_mean_over_samples_not_batch_means():
    """Batches of 4, 4 and 2: the epoch value is the mean over the 10 samples."""
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    m = metrics.get("mse", dtype="float64")
    for lo, hi in [(0, 4), (4, 8), (8, 10)]:
        m.update_state(y_true[lo:hi], y_pred[lo:hi])
    expected = np.mean((y_true - y_pred) ** 2)
    assert_close(m.result(), expected, kind="loss", dtype="float64")
    batch_means = np.mean([np.mean((y_true[a:b] - y_pred[a:b]) ** 2)
                           for a, b in [(0, 4), (4, 8), (8, 10)]])
    assert abs(float(m.result()) - batch_means) > 1e-6


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mean_parity(tf_keras, dtype):
    rng = np.random.default_rng(1)
    ours, ref = metrics.Mean(dtype=dtype), tf_keras.metrics.Mean(dtype=dtype)
    feeds = [
        (rng.standard_normal(5), None), (rng.standard_normal(3), rng.uniform(0, 2, 3)),
        (rng.standard_normal((4, 3)), rng.uniform(0, 2, (4, 1))),
        (rng.standard_normal((2, 3)), rng.uniform(0, 2, (2, 3))),
        (np.float64(2.5), None), (rng.standard_normal((3, 2)), np.float64(0.5)),
    ]
    for values, sw in feeds:
        ref.update_state(values.astype(dtype), sample_weight=sw)
        ours.update_state(values.astype(dtype), sample_weight=sw)
        assert_close(ours.result(), ref.result().numpy(), kind="loss", dtype=dtype)
    assert ours.get_config() == {"name": "mean", "dtype": dtype}


def test_default_dtype_is_floatx():
    m = metrics.get("mae")
    m.update_state(np.zeros((2, 3)), np.ones((2, 3)))
    assert m.dtype == "float32" and np.asarray(m.result()).dtype == np.float32


# ============================================================================ get / errors
def test_get_names_and_objects():
    for name, cls in [("binary_accuracy", metrics.BinaryAccuracy),
                      ("categorical_accuracy", metrics.CategoricalAccuracy),
                      ("sparse_categorical_accuracy", metrics.SparseCategoricalAccuracy),
                      ("mse", metrics.MeanSquaredError),
                      ("mean_squared_error", metrics.MeanSquaredError),
                      ("mae", metrics.MeanAbsoluteError),
                      ("mean_absolute_error", metrics.MeanAbsoluteError),
                      ("BinaryAccuracy", metrics.BinaryAccuracy)]:
        m = metrics.get(name)
        assert isinstance(m, cls) and m.name == name
    inst = metrics.BinaryAccuracy(threshold=0.3)
    assert metrics.get(inst) is inst
    cfg = {"class_name": "BinaryAccuracy", "config": {"name": "b", "threshold": 0.2}}
    got = metrics.get(cfg)
    assert got.threshold == 0.2 and got.name == "b"
    clone = metrics.BinaryAccuracy.from_config(inst.get_config())
    assert clone.get_config() == inst.get_config()
    with pytest.raises(ValueError, match=r"'f1_score'.*Known names:.*accuracy"):
        metrics.get("f1_score")


def test_shape_errors():
    with pytest.raises(ValueError, match=r"Received: y_true\.shape=.*y_pred\.shape="):
        metrics.get("mse").update_state(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="sample_weight"):
        metrics.get("mse").update_state(np.zeros((4, 3)), np.zeros((4, 3)),
                                        sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="rank >= 1"):
        metrics.get("accuracy", (), ())
    with pytest.raises(ValueError, match="sample_weight"):  # one scalar value per batch
        metrics.get("mse").update_state(np.zeros(4), np.ones(4), sample_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"mask\.shape=\(4, 3\), sample_weight\.shape=\(4,\)"):
        metrics.get("mse").update_state(np.zeros((4, 3, 2)), np.zeros((4, 3, 2)),
                                        sample_weight=np.ones(4), mask=np.ones((4, 3), bool))


# ======================================================================= AUC, Precision, Recall
CONFUSION_CASES = [
    ("AUC", {}), ("AUC", {"curve": "PR"}), ("AUC", {"curve": "PR", "summation_method": "minoring"}),
    ("AUC", {"summation_method": "majoring", "num_thresholds": 7}), ("AUC", {"curve": "PRGAIN"}),
    ("AUC", {"thresholds": [0.1, 0.5, 0.7]}), ("AUC", {"thresholds": [0.25, 0.5, 0.75]}),
    ("AUC", {"multi_label": True, "label_weights": [1.0, 2.0, 0.5]}),
    ("AUC", {"multi_label": True, "curve": "PR"}), ("AUC", {"from_logits": True}),
    ("Precision", {}), ("Recall", {"thresholds": [0.25, 0.5, 0.75]}),
    ("Precision", {"thresholds": [0.0, 0.5, 1.0]}), ("Recall", {"top_k": 2}),
    ("Precision", {"class_id": 1, "thresholds": 0.3}), ("Recall", {"class_id": 2}),
]


@st.composite
def confusion_cases(draw):
    name, config = draw(st.sampled_from(CONFUSION_CASES))
    wide = config.get("multi_label") or "top_k" in config or "class_id" in config
    columns = 3 if config.get("multi_label") else draw(st.integers(3, 4)) if wide else \
        draw(st.sampled_from([None, 1, 3]))
    return dict(name=name, config=config, columns=columns,
                sizes=[draw(st.integers(1, 9)) for _ in range(draw(st.integers(1, 3)))],
                weighted=draw(st.booleans()), coarse=draw(st.booleans()),
                dtype=draw(st.sampled_from(["float32", "float64"])),
                seed=draw(st.integers(0, 2**31 - 1)))


@pytest.mark.parity
@cheap
@given(case=confusion_cases())
def test_confusion_metrics_match_keras_over_batches(tf_keras, case):
    """AUC (ROC, PR, PR-gain; interpolation, minoring, majoring; its own thresholds; multi-
    label; logits), Precision and Recall (thresholds, top_k, class_id), over several batches
    with or without sample weights; `coarse` predictions fall on the thresholds, where the
    two ways of counting (compared and bucketed) part if written differently."""
    with floatx(tf_keras, case["dtype"]):  # Keras counts in floatx(), whatever `dtype` says
        _check_confusion_case(tf_keras, case)


def _check_confusion_case(tf_keras, case):
    rng = np.random.default_rng(case["seed"])
    dtype, columns = case["dtype"], case["columns"]
    other = "float64" if dtype == "float32" else "float32"
    ours = getattr(metrics, case["name"])(**case["config"], dtype=other)
    ref = getattr(tf_keras.metrics, case["name"])(**case["config"], dtype=other)
    for n in case["sizes"]:
        shape = (n,) if columns is None else (n, columns)
        y = (rng.uniform(size=shape) > 0.6).astype(dtype)
        p = rng.uniform(size=shape)
        if case["coarse"]:
            p = np.round(p * 4) / 4
        if case["config"].get("from_logits"):
            p = (p - 0.5) * 8
        w = rng.uniform(0, 2, n).astype(dtype) if case["weighted"] else None
        ours.update_state(y, p.astype(dtype), sample_weight=w)
        ref.update_state(y, p.astype(dtype), sample_weight=w)
        result, expected = np.asarray(ours.result()), np.asarray(ref.result())
        assert result.dtype == expected.dtype  # floatx(), or float64 from label_weights
        assert_close(result, expected, kind="forward", dtype=dtype, msg=str(case))
    ours.reset_state()
    assert np.all(np.asarray(ours.result()) == 0)


def test_confusion_metrics_config_and_names(tf_keras):
    for name, config in CONFUSION_CASES:
        ours = getattr(metrics, name)(**config)
        ref = getattr(tf_keras.metrics, name)(**config)
        c, r = ours.get_config(), ref.get_config()
        c.pop("name"), r.pop("name")
        if r.get("label_weights") is not None:  # Keras keeps a tensor there
            r["label_weights"] = np.asarray(r["label_weights"]).tolist()
        assert c == r, name
        assert type(ours).from_config(ours.get_config()).get_config() == ours.get_config()
    for ident, cls in [("auc", metrics.AUC), ("AUC", metrics.AUC), ("precision", metrics.Precision),
                       ("Recall", metrics.Recall)]:
        m = metrics.get(ident)
        assert type(m) is cls and m.name == ident
    with pytest.raises(ValueError, match="Threshold values must be in"):
        metrics.Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="num_thresholds=1"):
        metrics.AUC(num_thresholds=1)
    with pytest.raises(ValueError, match='curve value: "XY"'):
        metrics.AUC(curve="XY")


def test_auc_in_fit_matches_keras(tf_keras):
    """compile(metrics=["AUC", "precision", "recall"]): accumulated over each epoch, and over
    the validation data, as tf.keras."""
    import keras_ref
    import scratch

    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 4)).astype("float32")
    y = (x[:, 0] + 0.5 * rng.standard_normal(50) > 0).astype("float32")
    model = scratch.Sequential([scratch.Input((4,)), scratch.layers.Dense(1, activation="sigmoid")])
    names = ["AUC", "precision", "recall"]
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=names)
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="adam", loss="binary_crossentropy", metrics=names,
                   run_eagerly=True)
    kw = dict(epochs=2, batch_size=16, shuffle=False, validation_split=0.2, verbose=0)
    h, kh = model.fit(x, y, **kw).history, kmodel.fit(x, y, **kw).history
    assert set(h) == set(kh)
    for key in kh:
        assert_close(np.array(h[key]), np.array(kh[key]), kind="training", dtype="float32",
                     msg=key)


def squared_gap(y_true, y_pred):
    """A metric of the user's own: one value per sample (or per element)."""
    return (y_true - y_pred) ** 2


@pytest.mark.parametrize("label_shape", [(10,), (10, 1)])
def test_a_metric_function_or_class_compiles_as_in_keras(tf_keras, label_shape):
    """compile(metrics=[fn]) wraps fn in a mean named after it, as in Keras, and a Metric
    class is instantiated; evaluate gives tf.keras' values (the function here broadcasts
    (N,) labels against (N, 1) outputs in both engines alike). The names are given: Keras
    numbers a second unnamed Precision of a session "precision_1"."""
    import keras_ref
    import scratch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32").reshape(label_shape)
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy",
                  metrics=[squared_gap, scratch.metrics.Precision(name="precision")])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="sgd", loss="binary_crossentropy",
                   metrics=[squared_gap, tf_keras.metrics.Precision(name="precision")])
    ours = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    theirs = kmodel.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert sorted(ours) == sorted(theirs) == ["loss", "precision", "squared_gap"]
    for name in ours:
        assert_close(np.float32(ours[name]), np.float32(theirs[name]), kind="forward",
                     dtype="float32", msg=name)
    assert isinstance(metrics.get(metrics.Precision), metrics.Precision)
    wrapped = metrics.get(squared_gap)
    assert isinstance(wrapped, metrics.MeanMetricWrapper) and wrapped.name == "squared_gap"
    with pytest.raises(ValueError, match="a function of"):
        metrics.get(42)
