"""The hand-off to scale: a scratch model trained by tf.keras under tf.distribute, and back.

`keras_ref.to_keras(model)` inside `tf.distribute.MirroredStrategy` on two logical CPU devices
takes one step on a global batch (each replica half of it, the gradients summed across the
replicas); the result equals scratch's own step on the whole batch within the `training`
tolerance. `keras_ref.from_keras` brings the trained model back into scratch, weights
bitwise, where `keras_ref.compare` studies it.

Logical devices must be configured before TensorFlow initialises, and the test session's
TensorFlow is already running, so the steps run in a fresh Python process (`_child`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.parity

ROOT = Path(__file__).resolve().parent.parent


def _child() -> None:
    """The steps, in a process of their own: two logical CPUs, one MirroredStrategy step per
    dtype, checked against scratch; raises AssertionError on a mismatch."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration(),
                                                     tf.config.LogicalDeviceConfiguration()])
    import numpy as np

    import keras_ref
    import scratch
    from scratch.testing import assert_close

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    keras = tf.keras
    for dtype in ("float32", "float64"):
        keras.backend.set_floatx(dtype)
        scratch.set_floatx(dtype)
        model = scratch.models.Sequential([
            scratch.Input(shape=(10,)),
            scratch.layers.Dense(16, activation="relu"),
            scratch.layers.Dense(4, activation="softmax"),
        ])
        model.compile(optimizer=scratch.optimizers.Adam(0.01),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        x, y = rng.standard_normal((32, 10)).astype(dtype), rng.integers(0, 4, 32)
        start = model.get_weights()
        with strategy.scope():
            kmodel = keras_ref.to_keras(model)
            keras_ref.compile_like(kmodel, model)
        assert kmodel.distribute_strategy is strategy
        # one step on the global batch of 32: 16 samples on each logical device
        history = kmodel.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        logs = model.train_on_batch(x, y, return_dict=True)
        assert_close(logs["loss"], history.history["loss"][0], kind="training", dtype=dtype)
        for w, kw, w0 in zip(model.get_weights(), kmodel.get_weights(), start):
            assert not np.array_equal(kw, w0)  # the step moved every weight
            assert_close(w, kw, kind="training", dtype=dtype)
        # back into scratch, to study: identical weights, and its own parity report
        back = keras_ref.from_keras(kmodel)
        for w, kw in zip(back.get_weights(), kmodel.get_weights()):
            assert w.dtype == dtype and np.array_equal(w, kw)
        back.compile(optimizer=scratch.optimizers.Adam(0.01),
                     loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        report = keras_ref.compare(back, x, y, steps=1)
        assert report.passed, str(report)
        print(f"{dtype}: MirroredStrategy step == scratch step; back in scratch, "
              f"{len(report.rows)} parity rows ok")


def test_mirrored_strategy_step_equals_scratch_step_and_comes_back():
    pytest.importorskip("tensorflow")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")]
                                        + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    code = "import test_scale_handoff as t; t._child()"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    assert "float32: MirroredStrategy step == scratch step" in done.stdout
    assert "float64: MirroredStrategy step == scratch step" in done.stdout
