"""Bad training input (issue 19): every case raises a clear error, in Keras' "Received:" form,
before anything changes: the weights stay bitwise equal, the optimizer keeps its iterations,
`history` stays the same object. Also: compile checks everything before it replaces anything,
and the engine's BLAS scope leaves the process' limits as they were when fits run in two
threads.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import scratch
from scratch import _threads
from scratch.models import training

RNG = np.random.default_rng(0)
X = RNG.standard_normal((10, 4)).astype(np.float32)
Y = np.arange(10) % 3  # sparse labels of 3 classes
YR = np.ones((10, 1), np.float32)  # regression targets
NAN_AT_2 = np.where(np.arange(10) == 2, np.nan, 1.0)


def _classifier():
    """A small classifier that has trained one step (so the optimizer has state to keep)."""
    model = scratch.models.Sequential([
        scratch.Input(shape=(4,)),
        scratch.layers.Dense(5, activation="relu"),
        scratch.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=scratch.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, Y, batch_size=10, epochs=1, shuffle=False, verbose=0)
    return model


def _regressor():
    model = scratch.models.Sequential([scratch.Input(shape=(4,)), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, YR, batch_size=10, epochs=1, shuffle=False, verbose=0)
    return model


def _two_in_two_out():
    """Inputs "a" and "b"; outputs "cls" (3 classes) and "reg" (one number); trained a step."""
    a, b = scratch.Input((4,), name="a"), scratch.Input((4,), name="b")
    h = scratch.layers.Concatenate()([a, b])
    cls = scratch.layers.Dense(3, activation="softmax", name="cls")(h)
    reg = scratch.layers.Dense(1, name="reg")(h)
    model = scratch.models.Model([a, b], [cls, reg])
    model.compile(optimizer="adam", loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"})
    model.fit([X, X], [Y, YR], batch_size=10, epochs=1, shuffle=False, verbose=0)
    return model


class _Unchanged:
    """What a failed call must leave as it was: weights (bitwise), optimizer and its
    iterations, `history`, `compiled`."""

    def __init__(self, model) -> None:
        self.model = model
        self.weights = [w.copy() for w in model.get_weights()]
        self.optimizer = model.optimizer
        self.iterations = int(model.optimizer.iterations)
        self.history = model.history
        self.compiled = model.compiled

    def check(self) -> None:
        model = self.model
        after = model.get_weights()
        assert len(after) == len(self.weights)
        assert all(np.array_equal(a, b) for a, b in zip(self.weights, after))
        assert model.optimizer is self.optimizer
        assert int(model.optimizer.iterations) == self.iterations
        assert model.history is self.history
        assert model.compiled == self.compiled


def _raises(model, call, error, match):
    """`call()` raises `error` matching `match`, and `model` is unchanged."""
    unchanged = _Unchanged(model)
    with pytest.raises(error, match=match):
        call()
    unchanged.check()


# ----------------------------------------------------------------------------- fit arguments
@pytest.mark.parametrize("kwargs, error, match", [
    # batch_size: checked before the thread policy multiplies it by the parameter count
    ({"batch_size": "32"}, ValueError, r"`batch_size` must be a positive integer or None\. "
                                       r"Received: batch_size='32'"),
    ({"batch_size": [32]}, ValueError, r"Received: batch_size=\[32\]"),
    ({"batch_size": 2.0}, ValueError, r"Received: batch_size=2\.0"),
    ({"batch_size": 0}, ValueError, r"Received: batch_size=0"),
    ({"batch_size": True}, ValueError, r"Received: batch_size=True"),
    ({"epochs": 2.5}, ValueError, r"`epochs` must be a non-negative integer\. "
                                  r"Received: epochs=2\.5"),
    ({"epochs": "2"}, ValueError, r"Received: epochs='2'"),
    ({"epochs": -1}, ValueError, r"Received: epochs=-1"),
    ({"initial_epoch": 0.5}, ValueError, r"`initial_epoch` must be a non-negative integer"),
    ({"initial_epoch": -1}, ValueError, r"Received: initial_epoch=-1"),
    ({"validation_split": "0.2"}, ValueError, r"`validation_split` must be a number in "
                                              r"\[0, 1\)\. Received: validation_split='0\.2'"),
    ({"validation_split": 1.5}, ValueError, r"Received: validation_split=1\.5"),
    ({"validation_data": (X,)}, ValueError, r"`validation_data` must be a tuple \(x, y\) or "
                                            r"\(x, y, sample_weight\)\. Received: tuple of "
                                            r"length 1"),
    ({"validation_data": {"x": X, "y": Y}}, ValueError,
     r"`validation_data` must be a tuple .* Received: an object of type dict"),
    ({"validation_data": X}, ValueError, r"Received: an object of type ndarray"),
    ({"validation_freq": 0}, ValueError, r"`validation_freq` must be a positive integer or a "
                                         r"list of epoch numbers\. Received: validation_freq=0"),
    ({"validation_freq": "1"}, ValueError, r"Received: validation_freq='1'"),
    ({"validation_batch_size": "a"}, ValueError,
     r"`validation_batch_size` must be a positive integer or None\. "
     r"Received: validation_batch_size='a'"),
    ({"steps_per_epoch": 0}, ValueError, r"Received: steps_per_epoch=0"),
    ({"verbose": "loud"}, ValueError, r"`verbose` must be 'auto', 0, 1 or 2\. "
                                      r"Received: verbose='loud'"),
    ({"verbose": -1}, ValueError, r"Received: verbose=-1"),
    ({"shuffle": "yes"}, ValueError, r"`shuffle` must be True or False\. "
                                     r"Received: shuffle='yes'"),
    ({"callbacks": "x"}, TypeError, r"`callbacks` must be a Callback or a list of Callbacks\. "
                                    r"Received: callbacks='x'"),
    ({"callbacks": [1]}, TypeError, r"Callbacks must be scratch\.callbacks\.Callback "
                                    r"instances\. Received: 1"),
    ({"class_weight": [1, 2, 3]}, ValueError, r"`class_weight` must be a dict mapping class "
                                              r"indices \(integers\) to finite numbers\. "
                                              r"Received: class_weight=\[1, 2, 3\]"),
    ({"class_weight": {0: float("nan")}}, ValueError, r"Received: class_weight=\{0: nan\}"),
    ({"class_weight": {0: "a"}}, ValueError, r"Received: class_weight=\{0: 'a'\}"),
    ({"class_weight": {0: 1e39}}, ValueError, r"`class_weight` gives weights that are not "
                                              r"finite in the model's float32"),
])
def test_fit_rejects_bad_arguments_before_anything_changes(kwargs, error, match):
    model = _classifier()
    _raises(model, lambda: model.fit(X, Y, **{"verbose": 0, **kwargs}), error, match)


@pytest.mark.parametrize("x, y, error, match", [
    (None, Y, ValueError, r"fit\(\) expects input data `x`: an array, .* Received: x=None"),
    (X, None, ValueError, r"Missing targets for output 'dense_\d+', which has a loss.* "
                          r"Received: y=None"),
    (X, 1, ValueError, r"Targets `y` must be an array with one entry per sample\. "
                       r"Received: y=1"),
    (5, Y, ValueError, r"Input '.*' of model '.*' must be an array with one row per sample\. "
                       r"Received: x=5"),
    ("abc", Y, ValueError, r"must be an array with one row per sample\. Received: x='abc'"),
    ([[1, 2, 3, 4], [1, 2]], Y[:2], ValueError, r"must be a rectangular array of numbers\. "
                                               r"Received: a ragged list"),
    (X, np.array(["a"] * 10), TypeError, r"Targets must be numbers\. Received: y\.dtype=<U1"),
    (X, [[0, 1]] * 9 + [[0]], ValueError, r"Targets `y` must be a rectangular array"),
])
def test_fit_rejects_missing_or_malformed_data(x, y, error, match):
    model = _classifier()
    _raises(model, lambda: model.fit(x, y, verbose=0), error, match)


@pytest.mark.parametrize("sample_weight, error, match", [
    (NAN_AT_2, ValueError, r"`sample_weight` contains NaN or inf values once cast to the "
                           r"model's float32"),
    (np.full(10, np.inf), ValueError, r"`sample_weight` contains NaN or inf"),
    (np.full(10, 1e39), ValueError, r"`sample_weight` contains NaN or inf"),  # inf in float32
    (np.ones(9), ValueError, r"x has 10 samples but sample_weight has 9"),
    (np.ones(11), ValueError, r"x has 10 samples but sample_weight has 11"),
    (np.array(["a"] * 10), TypeError, r"`sample_weight` must hold numbers\. "
                                      r"Received: sample_weight\.dtype=<U1"),
    (2.0, ValueError, r"`sample_weight` must be an array with one weight per sample\. "
                      r"Received: sample_weight=2\.0"),
])
def test_bad_sample_weights_are_rejected_before_any_step(sample_weight, error, match):
    model = _classifier()
    _raises(model, lambda: model.fit(X, Y, sample_weight=sample_weight, batch_size=2,
                                     verbose=0), error, match)
    _raises(model, lambda: model.train_on_batch(X, Y, sample_weight=sample_weight),
            error, match)


def test_class_weight_nan_is_rejected_by_train_on_batch_too():
    model = _classifier()
    _raises(model, lambda: model.train_on_batch(X, Y, class_weight={0: float("nan")}),
            ValueError, r"Received: class_weight=\{0: nan\}")


def test_targets_are_checked_in_the_model_dtype():
    """1e39 is finite in float64 but inf in float32: it used to train to NaN weights."""
    model = _regressor()
    y = np.full(10, 1e39)
    match = r"Targets `y` contain NaN or inf values once cast to the model's float32"
    _raises(model, lambda: model.fit(X, y, verbose=0), ValueError, match)
    _raises(model, lambda: model.train_on_batch(X, y), ValueError, match)
    _raises(model, lambda: model.evaluate(X, y, verbose=0), ValueError, match)
    x = np.full((10, 4), 1e39)
    _raises(model, lambda: model.fit(x, YR, verbose=0), ValueError,
            r"Input `x` contains NaN or inf values \(in the model's float32")


def test_targets_the_loss_cannot_take_fail_before_history_changes():
    """One-hot labels for a sparse loss: the loss says so before fit replaces `history`."""
    model = _classifier()
    one_hot = np.eye(3, dtype=np.float32)[Y]
    match = "SparseCategoricalCrossentropy expected integer labels"
    _raises(model, lambda: model.fit(X, one_hot, verbose=0), ValueError, match)
    _raises(model, lambda: model.fit(X, Y, validation_data=(X, one_hot), verbose=0),
            ValueError, match)


def test_bad_validation_data_fails_before_the_first_epoch():
    model = _classifier()
    _raises(model, lambda: model.fit(X, Y, validation_data=(X, Y[:9]), verbose=0),
            ValueError, r"x has 10 samples but y has 9")
    _raises(model, lambda: model.fit(X, Y, validation_data=(None, Y), verbose=0),
            ValueError, r"Received: x_val=None")
    _raises(model, lambda: model.fit(X, Y, validation_data=(X, Y, NAN_AT_2), verbose=0),
            ValueError, r"`sample_weight` contains NaN or inf")


def test_a_validation_split_that_leaves_nothing_to_train_on():
    model = _classifier()
    _raises(model, lambda: model.fit(X, Y, validation_split=0.95, verbose=0), ValueError,
            r"`validation_split` leaves no training samples: all 10 go to validation\. "
            r"Received: validation_split=0\.95")
    _raises(model, lambda: model.fit(X[:0], Y[:0], verbose=0), ValueError,
            r"fit\(\) received no training samples")


@pytest.mark.parametrize("x, match", [
    (5, r"expects an array with one row per sample in `x`\. Received: x=5"),
    ({"a": X}, r"expects an array with one row per sample in `x`\. "
               r"Received: x=dict with keys \['a'\]"),
    ([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]], r"Input `x` must be a rectangular array"),
])
def test_bad_data_leaves_a_deferred_model_unbuilt(x, match):
    """A Sequential without Input builds from its first data: data without rows must not
    build it with a made-up input shape."""
    model = scratch.models.Sequential([scratch.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=match):
        model.fit(x, np.zeros((10, 2)), verbose=0)
    assert not model.built


@pytest.mark.parametrize("x", [X.tolist(), [X]])
def test_python_rows_and_a_list_of_one_array_build_the_right_input(x):
    model = scratch.models.Sequential([scratch.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, np.zeros((10, 2)), verbose=0)
    assert model.inputs[0].shape == (None, 4)
    assert int(model.optimizer.iterations) == 1


def test_evaluate_predict_and_on_batch_reject_bad_arguments():
    model = _classifier()
    _raises(model, lambda: model.evaluate(X, Y, batch_size="32", verbose=0), ValueError,
            r"Received: batch_size='32'")
    _raises(model, lambda: model.evaluate(X, Y, verbose="loud"), ValueError,
            r"Received: verbose='loud'")
    _raises(model, lambda: model.evaluate(X, verbose=0), ValueError,
            r"Missing targets .* Received: y=None")
    _raises(model, lambda: model.predict(X, batch_size=[3], verbose=0), ValueError,
            r"Received: batch_size=\[3\]")
    _raises(model, lambda: model.predict(None, verbose=0), ValueError, r"Received: x=None")
    _raises(model, lambda: model.train_on_batch(X), ValueError,
            r"Missing targets .* Received: y=None")
    _raises(model, lambda: model.train_on_batch(X, 1), ValueError, r"Received: y=1")
    _raises(model, lambda: model.train_on_batch(None, Y), ValueError, r"Received: x=None")
    _raises(model, lambda: model.test_on_batch(X, Y, sample_weight=np.ones(3)), ValueError,
            r"sample_weight has 3")


def test_a_single_callback_is_accepted_as_keras_does():
    """Keras' CallbackList flattens what it is given: `callbacks=cb` works like `[cb]`."""
    model = _classifier()
    epochs = []
    cb = scratch.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs.append(epoch))
    model.fit(X, Y, epochs=2, callbacks=cb, verbose=0)
    assert epochs == [0, 1]


@pytest.mark.parametrize("validation_freq, validated", [(2, [1, 3]), ([1, 4], [0, 3])])
def test_validation_freq_counts_epochs_as_keras_does(validation_freq, validated):
    """Keras' `_should_eval`: the 1-based epoch number, whatever `initial_epoch` is."""
    model = _classifier()
    seen = []
    cb = scratch.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(epoch) if "val_loss" in logs else None)
    model.fit(X, Y, epochs=4, initial_epoch=1, validation_split=0.2,
              validation_freq=validation_freq, callbacks=[cb], verbose=0)
    assert seen == [e for e in validated if e >= 1]


def test_arguments_and_data_are_checked_once_per_fit_not_per_batch(monkeypatch):
    """The checks cost nothing per step: one standardization of the data per fit call."""
    calls = []
    original = training.TrainingMixin._standardize_data

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(training.TrainingMixin, "_standardize_data", counting)
    model = _classifier()
    calls.clear()
    model.fit(X, Y, batch_size=2, epochs=3, validation_data=(X, Y), verbose=0)
    assert len(calls) == 2  # the training data and the validation data, once each


# ----------------------------------------------------------------------------- names of outputs
@pytest.mark.parametrize("y, match", [
    ({"cls": Y, "regg": YR}, r"Targets \['regg'\] in `y` name no output of model "
                             r"'.*': its outputs are \['cls', 'reg'\]\. "
                             r"Received: y\.keys\(\)=\['cls', 'regg'\]"),
    ({"c": Y, "r": YR}, r"Targets \['c', 'r'\] in `y` name no output"),
    ({"cls": Y}, r"Missing targets for output 'reg', which has a loss"),
    ([Y, None], r"Missing targets for output 'reg', which has a loss"),
])
def test_target_dicts_must_name_the_outputs(y, match):
    model = _two_in_two_out()
    _raises(model, lambda: model.fit([X, X], y, verbose=0), ValueError, match)
    _raises(model, lambda: model.train_on_batch([X, X], y), ValueError, match)


def test_sample_weight_dicts_must_name_the_outputs():
    model = _two_in_two_out()
    _raises(model, lambda: model.fit([X, X], [Y, YR], sample_weight={"clss": np.ones(10)},
                                     verbose=0),
            ValueError, r"`sample_weight` \['clss'\] name no output of model")
    model.fit([X, X], [Y, YR], sample_weight={"cls": np.ones(10)}, verbose=0)  # fine


def test_train_on_batch_with_an_empty_dict_is_a_clear_error():
    """It used to raise a bare StopIteration (the thread policy's batch-size guess)."""
    model = _two_in_two_out()
    _raises(model, lambda: model.train_on_batch({}, [Y, YR]), ValueError,
            re.escape("Missing input(s) ['a', 'b'] in `x`: model 'functional") +
            r".*Received: keys=\[\]")


# ----------------------------------------------------------------------------- compile
@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "foo", "loss": "mse"}, r"Could not interpret optimizer identifier: 'foo'"),
    ({"optimizer": None, "loss": "mse"}, r"compile\(\) needs an `optimizer`\. "
                                         r"Received: optimizer=None"),
    ({"optimizer": "sgd", "loss": "bar"}, r"Could not interpret loss identifier: 'bar'"),
    ({"optimizer": "sgd", "loss": "mse", "metrics": ["acurracy"]},
     r"Could not interpret metric identifier: 'acurracy'"),
    ({"optimizer": "sgd", "loss": "mse", "metrics": "accuracy"},
     r"`metrics` must be a list, .* Received: metrics='accuracy'"),
    ({"optimizer": "sgd", "loss": ["mse", "mse"]},
     r"`loss` needs one entry per model output: the outputs are \['dense_\d+'\]"),
    ({"optimizer": "sgd", "loss": {"x": "mse"}},
     r"`loss` as a dict needs one entry per model output: .* Received: loss\.keys\(\)=\['x'\]"),
    ({"optimizer": "sgd", "loss": "mse", "loss_weights": "a"},
     r"`loss_weights` must be a number .* Received: loss_weights='a'"),
    ({"optimizer": "sgd", "loss": "mse", "loss_weights": float("nan")},
     r"`loss_weights` must hold finite numbers\. Received: loss_weights=nan"),
    ({"optimizer": "sgd", "loss": "mse", "loss_weights": [1.0, 2.0]},
     r"`loss_weights` needs one weight per model output"),
])
def test_a_failed_compile_leaves_a_trained_model_as_it_was(kwargs, match):
    model = _classifier()
    assert int(model.optimizer.iterations) == 1
    _raises(model, lambda: model.compile(**kwargs), ValueError, match)
    model.fit(X, Y, verbose=0)  # still compiled as before: same optimizer, same loss
    assert int(model.optimizer.iterations) == 2


def test_without_a_loss_the_default_steps_say_so_before_anything_changes():
    """compile() without a loss is accepted, as in Keras (a train_step of your own may
    compute its own); the engine's own steps then raise Keras' "No loss to compute"
    before any change (scratch refused the compile itself before)."""
    model = _classifier()
    model.compile(optimizer="sgd")
    w0 = [w.copy() for w in model.get_weights()]
    for call in (lambda: model.fit(X, Y, verbose=0), lambda: model.train_on_batch(X, Y),
                 lambda: model.evaluate(X, Y, verbose=0), lambda: model.test_on_batch(X, Y)):
        _raises(model, call, ValueError, r"No loss to compute\. Provide a `loss` argument")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), w0))
    assert int(model.optimizer.iterations) == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"loss": {"cls": "sparse_categorical_crossentropy"}},
     r"`loss` as a dict needs one entry per model output: the outputs are \['cls', 'reg'\]"),
    ({"loss": {"cls": "sparse_categorical_crossentropy", "regg": "mse"}},
     r"Received: loss\.keys\(\)=\['cls', 'regg'\]"),
    ({"loss": ["sparse_categorical_crossentropy", "mse"], "metrics": {"clss": ["accuracy"]}},
     r"`metrics` as a dict needs model output names as keys"),
    ({"loss": ["sparse_categorical_crossentropy", "mse"], "loss_weights": {"rgg": 2.0}},
     r"`loss_weights` as a dict needs model output names as keys"),
    ({"loss": ["sparse_categorical_crossentropy", "mse"], "metrics": [["accuracy"]]},
     r"`metrics` as a list of lists needs one list per model output"),
])
def test_compile_checks_output_names_and_counts(kwargs, match):
    model = _two_in_two_out()
    _raises(model, lambda: model.compile(optimizer="adam", **kwargs), ValueError, match)


def test_a_failed_compile_leaves_an_uncompiled_model_uncompiled():
    model = scratch.models.Sequential([scratch.layers.Dense(1)])  # not built yet
    with pytest.raises(ValueError, match="acurracy"):
        model.compile(optimizer="sgd", loss="mse", metrics=["acurracy"])
    assert not model.compiled and model.optimizer is None
    with pytest.raises(ValueError, match="compile"):
        model.fit(X, YR, verbose=0)


def test_a_deferred_build_checks_compile_structure_before_the_first_step():
    model = scratch.models.Sequential([scratch.layers.Dense(1)])  # built by its first fit
    model.compile(optimizer="sgd", loss=["mse", "mse"])
    with pytest.raises(ValueError, match="`loss` needs one entry per model output"):
        model.fit(X, YR, verbose=0)
    assert int(model.optimizer.iterations) == 0


# ----------------------------------------------------------------------------- threads
def _blas_limits() -> list[int]:
    return [info["num_threads"] for info in _threads.blas_info()]


# Two fits in two threads, interleaved so that the first to start returns first. It runs in a
# fresh process: OpenBLAS (0.3.31 here, measured) honours a new limit only from the thread
# that last changed it while that thread lives, and this test process' main thread set one
# (conftest.py), so worker threads here could not change anything.
_TWO_FITS = """
import json, sys, threading
import numpy as np
import scratch
from scratch import _threads

_threads.spare_core = lambda: True           # an idle machine with two cores, and a small
_threads._cpu_count = lambda: 2              # threshold: parameters x batch >= 1000 takes
_threads.AUTO_TWO_THREADS_WORK = 1000        # two BLAS threads
first = sys.argv[1]
second = "large" if first == "small" else "small"


def limits():
    return [info["num_threads"] for info in _threads.blas_info()]


def model(units):  # 5 x units parameters; x batch 10: 50 (small) or 3200 (large)
    net = scratch.models.Sequential([scratch.Input((4,)), scratch.layers.Dense(units)])
    net.compile(optimizer="sgd", loss="mse")
    return net, np.zeros((10, units), np.float32)


models = {"small": model(1), "large": model(64)}
first_open, second_open, first_done = (threading.Event() for _ in range(3))
seen = {"before": limits(), "errors": []}


def run(name, on_train_begin):
    try:
        net, y = models[name]
        net.fit(np.zeros((10, 4), np.float32), y, batch_size=10, shuffle=False, verbose=0,
                callbacks=[scratch.callbacks.LambdaCallback(on_train_begin=on_train_begin)])
    except BaseException as e:
        seen["errors"].append(repr(e))
        for event in (first_open, second_open, first_done):
            event.set()


def first_begins(logs):
    first_open.set()
    second_open.wait(30)
    seen["both open"] = limits()


def second_begins(logs):
    second_open.set()
    first_done.wait(30)
    seen["second alone"] = limits()


one = threading.Thread(target=run, args=(first, first_begins))
one.start()
first_open.wait(30)
two = threading.Thread(target=run, args=(second, second_begins))
two.start()
one.join(30)
first_done.set()
two.join(30)
seen["after"] = limits()
print(json.dumps(seen))
"""


@pytest.mark.parametrize("first", ["small", "large"])
def test_fits_in_two_threads_leave_the_blas_limits_as_they_were(first):
    """A small fit (one BLAS thread) and a large one (two) side by side in two threads: the
    process ends with the limits it started with (with "small" first it used to end on one
    thread: each scope restored the limits it saw when it opened)."""
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", _TWO_FITS, first], capture_output=True,
                         text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.splitlines()[-1])
    assert not seen["errors"], seen["errors"]
    if set(seen["before"]) != {2}:
        pytest.skip(f"BLAS starts on {seen['before']} threads here, the test needs 2")
    assert seen["after"] == seen["before"]
    assert set(seen["both open"]) == {1}  # side by side: the fewest threads either asks for
    assert set(seen["second alone"]) == {2 if first == "small" else 1}


def test_nested_scopes_in_one_thread_restore_each_level(monkeypatch):
    monkeypatch.setattr(_threads, "_ENGINE_THREADS", "auto")
    monkeypatch.setattr(_threads, "spare_core", lambda: True)
    monkeypatch.setattr(_threads, "_cpu_count", lambda: 2)
    with _threads.blas_threads(1):
        with _threads.engine_threads(_threads.AUTO_TWO_THREADS_WORK):
            assert set(_blas_limits()) == {2}
            with _threads.engine_threads(0):  # a callback's small predict inside the fit
                assert set(_blas_limits()) == {1}
                with _threads.scoped_blas_threads(1):  # a recurrent layer inside it
                    assert set(_blas_limits()) == {1}
            assert set(_blas_limits()) == {2}
        assert set(_blas_limits()) == {1}
