"""fit's progress output, as Keras' Progbar writes it to a terminal, Jupyter, a pipe or a file.

The bar is compared with Keras' own `Progbar` (driven as its `ProgbarLogger` drives it) on
the same calls and the same clock, character for character; then fit's output is read from
a captured stdout (not a terminal), where Keras still redraws during the epoch.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import warnings

import numpy as np
import pytest

import scratch
from scratch.models import progress


class _Clock:
    """time.time() advancing by `step` seconds at every call."""

    def __init__(self, step: float):
        self.now, self.step = 1000.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _run_bar(make, calls, clock, monkeypatch) -> str:
    monkeypatch.setattr(progress.time, "time", clock)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bar = make()
        for current, logs, finalize in calls:
            bar.update(current, list(logs.items()) if hasattr(bar, "_values_order") else logs,
                       finalize=finalize)
    return out.getvalue()


CALLS = [(i, {"loss": 1.0 / i, "accuracy": 0.0005 * i}, False) for i in range(1, 13)] + \
    [(12, {"loss": 0.05, "accuracy": 0.9, "val_loss": 0.000123}, True)]


@pytest.mark.parametrize("dynamic", [True, False])
@pytest.mark.parametrize("verbose", [1, 2])
@pytest.mark.parametrize("tick", [0.001, 0.02, 7.0])
def test_bar_is_keras_progbar_character_for_character(tf_keras, monkeypatch, dynamic, verbose,
                                                      tick):
    """Throttled redraws (every 0.05 s), the ETA, ms/step without the first step, the
    number formats, the padding over a longer previous line; in place (backspaces and a
    carriage return) or one line per redraw."""
    from keras.src.utils import progbar as keras_progbar

    monkeypatch.setattr(progress, "dynamic_display", lambda: dynamic)
    if not dynamic:  # Keras' test on a POSIX system that is not a terminal: fails without it
        monkeypatch.delitem(sys.modules, "posix")
    ours = _run_bar(lambda: progress.Progbar(12, verbose), CALLS, _Clock(tick), monkeypatch)
    theirs = _run_bar(lambda: keras_progbar.Progbar(12, verbose=verbose, unit_name="step",
                                                    stateless_metrics=set()),
                      CALLS, _Clock(tick), monkeypatch)
    assert ours == theirs
    if verbose == 1 and tick > 0.05:
        assert ours.count("\n" if not dynamic else "\r") >= 12  # a redraw at every step


def _fit_output(monkeypatch, epochs, dynamic=True, tick=0.02, **kw) -> str:
    monkeypatch.setattr(progress, "dynamic_display", lambda: dynamic)
    monkeypatch.setattr(progress.time, "time", _Clock(tick))
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 3)).astype("float32"), rng.standard_normal(40)
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):  # not a terminal, as in a pipe or a log file
        model.fit(x, y, epochs=epochs, batch_size=4, shuffle=False, verbose=1, **kw)
    return out.getvalue()


def test_fit_redraws_during_the_epoch_when_stdout_is_not_a_terminal(monkeypatch):
    text = _fit_output(monkeypatch, epochs=2, validation_split=0.25,
                       callbacks=[scratch.callbacks.ReduceLROnPlateau(patience=1)])
    assert text.startswith("Epoch 1/2\n")
    first, second = text.split("Epoch 2/2\n")
    redraws = first.split("\r")[1:]
    assert len(redraws) > 3  # updated as it went (a clock tick of 0.02 s, 0.05 s apart)
    assert "\x1b[1m1/8\x1b[0m" in redraws[0]  # step 1 of 8 drawn first
    final = redraws[-1]
    assert final.endswith("\n") and "\x1b[1m8/8\x1b[0m" in final
    for key in ("loss", "val_loss", "learning_rate"):  # the callbacks' keys too, as Keras
        assert f" - {key}: " in final
    assert second.count("\r") > 3


def test_fit_prints_lines_where_keras_does_not_redraw(monkeypatch):
    text = _fit_output(monkeypatch, epochs=1, dynamic=False)
    assert not text.startswith("Epoch")  # one epoch: no header, as Keras
    assert "\r" not in text and "\b" not in text
    lines = text.split("\n")
    assert lines[0] == "" and len(lines) > 4  # each redraw starts a new line


def test_verbose_2_prints_one_line_per_epoch(monkeypatch):
    monkeypatch.setattr(progress.time, "time", _Clock(0.5))
    rng = np.random.default_rng(0)
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.fit(rng.standard_normal((8, 3)), rng.standard_normal(8), epochs=2, batch_size=4,
                  verbose=2)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(r"2/2 - \d+s - \d+(ms|s)/step - loss: \d\.\d{4}(e[-+]\d+)?", lines[1])


def test_fit_epoch_lines_have_keras_layout(tf_keras, monkeypatch):
    """The last line of each epoch reads as tf.keras' does, numbers aside."""
    import keras_ref

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((24, 3)).astype("float32"), rng.standard_normal(24)
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="sgd", loss="mse", metrics=["mae"], run_eagerly=True)
    texts = []
    for m in (model, kmodel):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            m.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=1)
        finals = [chunk.split("\r")[-1] for chunk in out.getvalue().split("Epoch ")[1:]]
        texts.append([re.sub(r"\d+(\.\d+)?(e[-+]\d+)?", "#",
                             re.sub(r"(us|ms|s)/step", "_/step", f)) for f in finals])
    assert texts[0] == texts[1]


def _final_lines(call) -> list[str]:
    """What `call()` prints, as the final text of each bar (after its last carriage return),
    numbers and time units masked, and the padding over a longer earlier draw (its width
    depends on the timings) dropped."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        call()
    finals = [chunk.split("\r")[-1] for chunk in out.getvalue().split("\n") if chunk]
    return [re.sub(r"\d+(\.\d+)?(e[-+]\d+)?", "#", re.sub(r"(us|ms|s)/step", "_/step", f))
            .rstrip(" ") for f in finals]


@pytest.mark.parametrize("verbose", ["auto", 1, 2, 0])
def test_evaluate_and_predict_print_keras_bars(tf_keras, verbose):
    """evaluate and predict draw Keras' bar (verbose 1, "auto") or its one line (verbose
    2), over arrays and over a generator of unknown length ("1/Unknown" while it runs, the
    count of batches read at the end); the final text reads as tf.keras' does, numbers
    aside. (scratch printed only "loss: … - accuracy: …" for evaluate, nothing for predict.)"""
    import keras_ref

    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = scratch.Sequential([scratch.Input((3,)), scratch.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", "mae"])
    kmodel = keras_ref.to_keras(model)
    kmodel.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", "mae"])

    def batches():
        for i in range(3):
            yield x[8 * i:8 * i + 8], y[8 * i:8 * i + 8]

    texts = []
    for m in (model, kmodel):
        with warnings.catch_warnings():  # Keras: "Your input ran out of data"
            warnings.simplefilter("ignore")
            texts.append(_final_lines(lambda m=m: (
                m.evaluate(x, y, batch_size=8, verbose=verbose),
                m.predict(x, batch_size=8, verbose=verbose),
                m.evaluate(batches(), verbose=verbose))))
    assert texts[0] == texts[1]
    if verbose == 0:
        assert texts[0] == []
    else:
        assert len(texts[0]) == 3 and "loss: #" in texts[0][0] and "Unknown" not in texts[0][2]
        assert texts[0][1].endswith("_/step")
