"""keras_ref.compare, the parity report: it finds the first divergence, and names the right one.

Faults are planted in copies of scratch's code, inside the test only: a subclass that keeps
the class name (so `to_keras` finds the tf.keras class of that name) or a monkeypatched
function. Each planted fault must be the report's first failing row (that layer, that
quantity, that step), and a faithful model must have no failing row at all.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras_ref
import scratch
from keras_ref.compare import ParityReport, ParityRow, compare_main
from scratch import layers as L
from scratch.layers.recurrent import lstm as lstm_module
from scratch.testing import assert_parity

pytestmark = pytest.mark.parity


def _mlp(dtype="float32", dense=L.Dense, optimizer=None):
    model = scratch.models.Sequential([
        scratch.Input(shape=(6,), dtype=dtype),
        dense(8, activation="relu", name="hidden1", dtype=dtype),
        L.Dropout(0.25, dtype=dtype),
        dense(7, activation="tanh", name="hidden2", dtype=dtype),
        L.BatchNormalization(dtype=dtype, name="bn"),
        dense(3, activation="softmax", name="head", dtype=dtype),
    ])
    model.compile(optimizer=optimizer or scratch.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _data(dtype="float32", n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 6)).astype(dtype), rng.integers(0, 3, n)


# ---------------------------------------------------------------------------- a faithful model
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_faithful_model_has_no_failing_row(tf_keras, dtype):
    model = _mlp(dtype)
    x, y = _data(dtype)
    before = model.get_weights()
    optimizer = model.optimizer
    report = keras_ref.compare(model, x, y, steps=3)
    assert isinstance(report, ParityReport) and report.dtype == dtype
    assert report.first_divergence is None and report.passed, str(report)
    quantities = [r.quantity for r in report.rows]
    # forward, then backward, then the steps; every layer and every weight has its row
    assert quantities.index("forward") < quantities.index("loss") < \
        quantities.index("input_grad") < quantities.index("weight_grad") < \
        quantities.index("weights_after_steps")
    assert {r.layer for r in report.rows if r.quantity == "forward"} == \
        {"hidden1", "hidden2", "bn", "head"} | {model.layers[1].name}
    assert [r.step for r in report.rows if r.name == "moving_variance"] == [1, 2, 3]
    assert {r.kind for r in report.rows} <= set(scratch.testing.TOLERANCES)
    # the model is left as it was found
    assert model.optimizer is optimizer and optimizer.iterations == 0
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    text = str(report)
    assert "all within tolerance" in text and "hidden2 (Dense)" in text


def test_functional_graph_nested_and_shared_layers(tf_keras):
    """Two inputs, a shared layer, a nested model as one layer, two weighted outputs."""
    a, b = scratch.Input(shape=(4,), name="a"), scratch.Input(shape=(3,), name="b")
    body = scratch.models.Sequential([scratch.Input(shape=(5,)), L.Dense(5, name="b1")],
                                     name="body")
    shared = L.Dense(5, activation="tanh", name="shared")
    h = L.Dense(5, activation="relu", name="ha")(a)
    out = L.Dense(1, activation="sigmoid", name="out")(body(shared(h)))
    g = L.Dense(5, name="hb")(b)
    out2 = L.Dense(3, activation="softmax", name="out2")(L.Concatenate()([shared(g), h]))
    model = scratch.Model([a, b], [out, out2])
    model.compile(optimizer="adam", loss=["binary_crossentropy",
                                          "sparse_categorical_crossentropy"],
                  loss_weights=[1.0, 0.5], metrics=[["accuracy"], ["accuracy"]])
    rng = np.random.default_rng(1)
    x = [rng.standard_normal((8, 4)).astype("float32"),
         rng.standard_normal((8, 3)).astype("float32")]
    y = [rng.integers(0, 2, (8, 1)).astype("float32"), rng.integers(0, 3, 8)]
    report = keras_ref.compare(model, x, y, steps=2)
    assert report.passed, str(report)
    forward = [r.layer for r in report.rows if r.quantity == "forward"]
    assert forward.count("shared") == 2 and "body" in forward  # per call; nested: one layer
    shared_grads = [r for r in report.rows if r.layer == "shared" and
                    r.quantity == "weight_grad"]
    assert [r.name for r in shared_grads] == ["kernel", "bias"]  # summed over both calls
    assert {r.name for r in report.rows if r.layer == "body" and r.quantity == "weight_grad"} \
        == {"b1/kernel", "b1/bias"}
    assert "body/b1" in {r.layer for r in report.rows if r.quantity == "weights_after_steps"}
    assert {"out_loss", "out2_accuracy"} <= {r.name for r in report.rows
                                             if r.quantity == "metric"}


def test_recurrent_layer_with_an_initial_state_input(tf_keras):
    """`rnn(x, initial_state=[h0])` in a graph: the state's gradient is a row of its own."""
    inp, h0 = scratch.Input(shape=(3, 2)), scratch.Input(shape=(4,))
    out = L.Dense(1)(L.SimpleRNN(4, name="rnn")(inp, initial_state=[h0]))
    model = scratch.Model([inp, h0], out)
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(5)
    x = [rng.standard_normal((2, 3, 2)).astype("float32"),
         rng.standard_normal((2, 4)).astype("float32")]
    report = keras_ref.compare(model, x, rng.standard_normal((2, 1)), steps=1)
    assert report.passed, str(report)
    assert [r.name for r in report.rows if r.layer == "rnn" and r.quantity == "input_grad"] \
        == ["dL/dinput[0]", "dL/dinput[1]"]


# ---------------------------------------------------------------------------- planted faults
class _BiasMeanDense(L.Dense):
    """Dense whose backward averages the bias gradient over the batch instead of summing."""

    def backward(self, dy, **kwargs):
        dx = super().backward(dy, **kwargs)
        if "bias" in self.grads:
            self.grads["bias"] = self.grads["bias"] / np.asarray(len(dy), self.dtype)
        return dx


class _NoActivationDerivativeDense(L.Dense):
    """Dense whose backward forgets its activation's derivative (dz = dy)."""

    def backward(self, dy, **kwargs):
        return self.backward_from_logits(dy, **kwargs)


def _only(name: str, cls):
    """A Dense factory planting the fault of `cls` in the layer called `name` only; the
    class keeps the name Dense, so `to_keras` builds a tf.keras Dense for it."""
    faulty = type("Dense", (cls,), {})

    def make(*args, **kwargs):
        return (faulty if kwargs.get("name") == name else L.Dense)(*args, **kwargs)

    return make


@pytest.mark.parametrize("fault, quantity, tensor", [
    (_BiasMeanDense, "weight_grad", "bias"),
    (_NoActivationDerivativeDense, "input_grad", "dL/dinput"),
])
def test_wrong_gradient_in_one_layer_is_the_first_divergence(tf_keras, fault, quantity,
                                                              tensor):
    model = _mlp("float64", dense=_only("hidden2", fault))
    x, y = _data("float64")
    report = keras_ref.compare(model, x, y, steps=2)
    first = report.first_divergence
    assert (first.step, first.quantity, first.layer, first.name) == \
        (0, quantity, "hidden2", tensor), str(report)
    # in isolation, every other layer's gradients still agree with tf.keras'
    step0 = [r for r in report.rows if r.step == 0]
    assert all(r.passed for r in step0 if r.layer != "hidden2")
    assert all(r.passed for r in step0 if r.quantity == "forward")


class SGD(scratch.optimizers.SGD):
    """SGD whose velocity keeps μ² of itself instead of μ: v ← μ²·v − lr·g (a wrong momentum).
    Named SGD, so that `compile_like` gives tf.keras' SGD with the configured momentum."""

    def _fused_update_step(self, gradient, variable, learning_rate) -> bool:
        return False

    def update_step(self, gradient, variable, learning_rate) -> None:
        m = self.momentums[self._var_index(variable)]
        lr = np.asarray(learning_rate, variable.dtype)
        mu = np.asarray(self.momentum, variable.dtype)
        m[...] = m * mu * mu - gradient * lr
        variable += m


def test_wrong_momentum_is_the_first_divergence(tf_keras):
    model = _mlp("float64", optimizer=SGD(0.1, momentum=0.9))
    x, y = _data("float64")
    report = keras_ref.compare(model, x, y, steps=3)
    first = report.first_divergence
    # step 1 starts from a zero velocity, so the fault shows from step 2, first weight first
    assert (first.step, first.quantity, first.layer, first.name) == \
        (2, "weights_after_steps", "hidden1", "kernel"), str(report)
    assert all(r.passed for r in report.rows if r.step < 2)


def test_misordered_lstm_gate_is_the_first_divergence(tf_keras, monkeypatch):
    """The readable LSTM step reads the kernel's gate blocks as [f, i, c, o]."""
    original = lstm_module.lstm_step_forward

    def swap(w):
        i, f, c, o = np.split(w, 4, axis=-1)
        return np.concatenate([f, i, c, o], axis=-1)

    def misordered(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias, *args, **kwargs):
        return original(x_t, h_prev, c_prev, swap(kernel), swap(recurrent_kernel),
                        None if bias is None else swap(bias), *args, **kwargs)

    monkeypatch.setattr(lstm_module, "lstm_step_forward", misordered)
    model = scratch.models.Sequential([
        scratch.Input(shape=(5, 3), dtype="float64"),
        L.Dense(4, activation="relu", name="embed", dtype="float64"),
        L.LSTM(6, name="lstm", dtype="float64"),
        L.Dense(1, name="head", dtype="float64"),
    ])
    model.get_layer("lstm").fast_path = False  # the readable step, where the fault is
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((4, 5, 3)), rng.standard_normal((4, 1))
    report = keras_ref.compare(model, x, y, steps=1)
    first = report.first_divergence
    assert (first.step, first.quantity, first.layer, first.name) == \
        (0, "forward", "lstm", "output"), str(report)
    forward = {r.layer: r.passed for r in report.rows if r.quantity == "forward"}
    assert forward == {"embed": True, "lstm": False, "head": True}  # head got tf.keras' input


# ---------------------------------------------------------------------------- other sources
def test_compare_a_tf_keras_model_and_a_keras_file(tf_keras, tmp_path):
    k = tf_keras
    kmodel = k.Sequential([k.Input((8, 8, 1)), k.layers.Conv2D(3, 3, activation="relu"),
                           k.layers.MaxPooling2D(), k.layers.Flatten(),
                           k.layers.Dense(4, activation="softmax")])
    kmodel.compile(k.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                   metrics=["accuracy"])
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((6, 8, 8, 1)).astype("float32"), rng.integers(0, 4, 6)
    before = kmodel.get_weights()
    report = keras_ref.compare(kmodel, x, y, steps=2)
    assert report.passed, str(report)
    assert "tf.keras model" in str(report) and "Adam" in str(report)
    assert all(np.array_equal(a, b) for a, b in zip(before, kmodel.get_weights()))
    path = tmp_path / "cnn.keras"
    kmodel.save(path)
    report = keras_ref.compare(str(path), x, y, steps=2)
    assert report.passed, str(report)
    assert {r.layer for r in report.rows if r.quantity == "forward"} == \
        {l.name for l in kmodel.layers}
    # without targets: the forward pass and a random cotangent backward, no steps
    report = keras_ref.compare(path, x, steps=0)
    assert report.passed and {r.step for r in report.rows} == {0}
    assert "loss" not in {r.quantity for r in report.rows}


def test_masked_text_model_with_recurrent_dropout(tf_keras):
    """Embedding masks reach the LSTM in both engines; dropout masks are drawn alike."""
    model = scratch.models.Sequential([
        scratch.Input(shape=(7,), dtype="int32"),
        L.Embedding(20, 4, mask_zero=True),
        L.LSTM(5, dropout=0.2, return_sequences=True),
        L.GlobalAveragePooling1D(),
        L.Dense(1),
    ])
    model.compile(optimizer="rmsprop", loss="mse")
    rng = np.random.default_rng(4)
    x = rng.integers(1, 20, (6, 7))
    x[:, 5:] = 0
    report = keras_ref.compare(model, x, rng.standard_normal((6, 1)), steps=2)
    assert report.passed, str(report)


def test_embedding_on_float_ids_has_no_input_gradient_in_either_engine(tf_keras):
    """The course's text models take their padded word ids through the default float32
    Input. Neither engine has a gradient for the ids (tf.keras casts them to integers, scratch
    returns None), so the report has no row for them; it used to report "no value in scratch"
    against tf.keras' unconnected gradient taken as zeros."""
    scratch.utils.set_random_seed(0)
    model = scratch.models.Sequential([scratch.Input(shape=(7,)), L.Embedding(20, 4),
                                       L.GlobalMaxPooling1D(), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(5)
    report = keras_ref.compare(model, rng.integers(0, 20, (6, 7)).astype("float32"),
                               rng.standard_normal((6, 1)), steps=1)
    assert report.passed, str(report)
    assert not [r for r in report.rows if r.quantity == "input_grad"
                and r.layer.startswith("embedding")]


# ---------------------------------------------------------------------------- assert_parity
def test_assert_parity_pytest_example(tf_keras):
    """The README's example, as it is printed there."""
    model = scratch.models.Sequential([scratch.Input(shape=(20,)),
                                       scratch.layers.Dense(16, activation="relu"),
                                       scratch.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 20)).astype("float32"), rng.integers(0, 3, 32)
    assert_parity(model, x, y, steps=3)


def test_assert_parity_raises_with_the_report(tf_keras):
    model = _mlp("float64", dense=_only("hidden1", _BiasMeanDense))
    x, y = _data("float64")
    with pytest.raises(AssertionError) as info:
        assert_parity(model, x, y, steps=1)
    text = str(info.value)
    assert text.startswith("scratch and tf.keras diverge. First divergence: step 0, "
                           "weight_grad of hidden1 (Dense), bias")
    assert "tensor / weight" in text and "FAIL" in text


def test_import_scratch_does_not_import_tensorflow():
    import subprocess
    import sys

    code = ("import sys, scratch, scratch.testing; "
            "sys.exit('tensorflow' in sys.modules or 'keras_ref' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ---------------------------------------------------------------------------- errors
def test_unsupported_cases_are_named(tf_keras):
    model = _mlp()
    x, y = _data()
    with pytest.raises(TypeError, match=r"Received: model=.*of type list"):
        keras_ref.compare([model], x, y)
    with pytest.raises(ValueError, match=r"Received: steps=-1"):
        keras_ref.compare(model, x, y, steps=-1)
    with pytest.raises(ValueError, match=r"Received: y=None, steps=3"):
        keras_ref.compare(model, x)
    bare = scratch.models.Sequential([scratch.Input(shape=(6,)), L.Dense(2)])
    with pytest.raises(ValueError, match=r"needs a loss.*Received: an uncompiled model"):
        keras_ref.compare(bare, x, y)

    class Sub(tf_keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match=r"Received: a subclassed model of type Sub"):
        keras_ref.compare(Sub(), x, y)
    with pytest.raises(ValueError, match=r"reads `.keras` files. Received: model='m.h5'"):
        keras_ref.compare("m.h5", x, y)


def test_row_judgement_uses_the_tolerance_table():
    from keras_ref.compare import _row

    ok = _row(0, "forward", "dense", "output", np.ones(3), np.ones(3), "float64")
    assert ok.passed and ok.kind == "forward" and ok.max_abs == 0.0
    bad = _row(0, "metric", "model", "accuracy", np.array(0.5), np.array(0.75), "float32")
    assert not bad.passed and bad.kind == "loss" and bad.max_abs == 0.25
    shape = _row(1, "weights_after_steps", "d", "kernel", np.ones(2), np.ones(3), "float32")
    assert not shape.passed and "shape (2,)" in shape.note
    report = ParityReport([ok, bad, shape], "float32")
    assert report.first_divergence is bad and len(report.failures) == 2
    assert "2 of 3 rows outside tolerance." in str(report)
    assert isinstance(report.rows[0], ParityRow)


# ---------------------------------------------------------------------------- the CLI
def test_compare_main_exit_status(tf_keras, tmp_path, capsys, monkeypatch):
    model = _mlp()
    path = tmp_path / "mlp.keras"
    model.save(path)
    x, y = _data()
    data = tmp_path / "batch.npz"
    np.savez(data, x=x, y=y)
    assert compare_main([str(path), "--steps", "2", "--x", str(data)]) == 0
    out = capsys.readouterr().out
    assert "all within tolerance" in out and "weights_after_steps" in out
    assert compare_main([str(path), "--steps", "1"]) == 0  # random data fit to the loss
    capsys.readouterr()
    # a fault in scratch's Dense: exit status 1, and the table says where
    monkeypatch.setattr(L.Dense, "backward", _NoActivationDerivativeDense.backward)
    assert compare_main([str(path), "--x", str(data), "--steps", "1"]) == 1
    out = capsys.readouterr().out
    assert "First divergence: step 0, input_grad of hidden2 (Dense)" in out
    monkeypatch.undo()
    # usage errors: 2
    assert compare_main([str(tmp_path / "missing.keras")]) == 1  # a file it cannot read
    assert compare_main([str(path), "--steps", "x"]) == 2
    np.savez(tmp_path / "bad.npz", inputs=x)
    assert compare_main([str(path), "--x", str(tmp_path / "bad.npz")]) == 1  # bad data
    err = capsys.readouterr().err
    assert "no such file" in err and 'has no array "x"' in err
