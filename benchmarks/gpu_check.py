"""GPU check: a course model in scratch (float64, on the CPU) against tf.keras on a GPU.

    python benchmarks/gpu_check.py [--epochs 5] [--batch-size 32] [--no-tf32] [--cpu]

The model is the Lecture 24 dense network of the demo (Flatten(8×8) → Dense(128, relu) →
Dense(10, softmax), Adam, sparse categorical cross-entropy) on scikit-learn's digits. The
script prints:

1. the parity report (`keras_ref.compare`, three optimizer steps on a batch of 256) of the
   model in float64 with tf.keras on the GPU, and the same in float32: every layer in
   isolation, forward and backward, then the steps, each row judged by the project's
   tolerance table;
2. a training run of `--epochs` epochs (`fit`, shuffle=False, the same initial weights):
   scratch in float64 against tf.keras on the GPU in float64 and in float32, the loss of each
   epoch and the largest weight difference at the end.

TensorFloat-32 (on by default on Ampere and later GPUs) rounds the inputs of float32 matrix
products to 10 mantissa bits, so float32 rows can fall outside the float32 tolerances there;
`--no-tf32` turns it off. float64 is the tier that finds bugs: its report should pass.

Needs a GPU that TensorFlow sees (`tf.config.list_physical_devices("GPU")`); without one it
says so and exits 0 (`--cpu` runs the same comparison with tf.keras on the CPU, to try the
script). Exit status 1 when the float64 report has a row outside tolerance. Never part of CI:
`make test` and `make bench` do not run it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

import scratch  # noqa: E402
from scratch import datasets  # noqa: E402


def lecture24_model(dtype: str):
    """The Lecture 24 dense network of the demo, in scratch, compiled as the course does
    (with both engines' floatx set to `dtype`: losses and metrics compute in floatx)."""
    import keras_ref

    _set_floatx(keras_ref.keras(), dtype)
    model = scratch.models.Sequential([
        scratch.Input(shape=(8, 8), dtype=dtype),
        scratch.layers.Flatten(dtype=dtype),
        scratch.layers.Dense(128, activation="relu", dtype=dtype),
        scratch.layers.Dense(10, activation="softmax", dtype=dtype),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _set_floatx(keras, dtype: str) -> None:
    """Keras casts NumPy data to floatx in fit: the twin's dtype, for its fit."""
    keras.backend.set_floatx(dtype)
    scratch.set_floatx(dtype)


def _train(tf, keras_ref, model, x, y, device: str, epochs: int, batch_size: int):
    """(scratch's loss history, per dtype (loss history, final weights) of tf.keras on
    `device`, each from the scratch model's initial weights)."""
    start = model.get_weights()
    runs = {}
    for dtype in ("float64", "float32"):
        twin = lecture24_model(dtype)
        twin.set_weights([w.astype(dtype) for w in start])
        with tf.device(device):
            kmodel = keras_ref.to_keras(twin)
            keras_ref.compile_like(kmodel, twin)
            hist = kmodel.fit(x.astype(dtype), y, epochs=epochs, batch_size=batch_size,
                              shuffle=False, verbose=0).history
        runs[dtype] = (hist["loss"], kmodel.get_weights())
    _set_floatx(keras_ref.keras(), model.dtype)
    hist = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False,
                     verbose=0).history
    return hist["loss"], runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-tf32", action="store_true",
                        help="turn TensorFloat-32 off for the float32 matrix products")
    parser.add_argument("--cpu", action="store_true",
                        help="run tf.keras on the CPU (to try the script without a GPU)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("tensorflow") is None:
        print("gpu_check: TensorFlow is not installed, nothing to compare with "
              "(pip install -e '.[tf]' with a GPU build of TensorFlow).")
        return 0
    import tensorflow as tf

    import keras_ref
    from scratch.testing import assert_close

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.cpu:
        print("gpu_check: no GPU visible to TensorFlow (tf.config.list_physical_devices('GPU')"
              " is empty), so there is nothing to check here. Run it on a machine with a GPU "
              "and a GPU build of TensorFlow; --cpu runs the same comparison on the CPU.")
        return 0
    if args.no_tf32:
        tf.config.experimental.enable_tensor_float_32_execution(False)
    device = "/CPU:0" if args.cpu else "/GPU:0"
    name = "CPU (--cpu)" if args.cpu else \
        tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    print(f"gpu_check: scratch {scratch.__version__} (NumPy, CPU) against tf.keras "
          f"{keras_ref.keras().__version__} on {name}; TensorFloat-32 "
          f"{'on' if tf32 and not args.cpu else 'off'}")
    (x, y), _ = datasets.load_digits_split()
    scratch.utils.set_random_seed(0)
    model = lecture24_model("float64")

    status = 0
    for dtype in ("float64", "float32"):
        twin = lecture24_model(dtype)
        twin.set_weights([w.astype(dtype) for w in model.get_weights()])
        with tf.device(device):
            report = keras_ref.compare(twin, x[:256].astype(dtype), y[:256], steps=3)
        print(f"\n== parity report, {dtype}, tf.keras on {device} ==")
        print(report)
        if dtype == "float64" and not report.passed:
            status = 1

    print(f"\n== training: {args.epochs} epochs of fit, batch {args.batch_size}, "
          f"shuffle=False, {len(x)} samples ==")
    losses, runs = _train(tf, keras_ref, model, x, y, device, args.epochs, args.batch_size)
    print(f"{'epoch':>5}  {'scratch float64':>16}  {'tf.keras float64':>16} {'|Δ|':>9}  "
          f"{'tf.keras float32':>16} {'|Δ|':>9}")
    for e, loss in enumerate(losses):
        k64, k32 = runs["float64"][0][e], runs["float32"][0][e]
        print(f"{e + 1:>5}  {loss:>16.10f}  {k64:>16.10f} {abs(loss - k64):>9.1e}  "
              f"{k32:>16.10f} {abs(loss - k32):>9.1e}")
    for dtype, (_, kweights) in runs.items():
        diff = max(float(np.max(np.abs(w - kw))) for w, kw in zip(model.get_weights(),
                                                                  kweights))
        try:
            for w, kw in zip(model.get_weights(), kweights):
                assert_close(w.astype(dtype), kw, kind="training", dtype=dtype)
            verdict = "within"
        except AssertionError:
            verdict = "outside"
        print(f"final weights, tf.keras {dtype} on {device}: max |w_scratch − w_keras| = "
              f"{diff:.2e} ({verdict} the {dtype} 'training' tolerance)")
    return status


if __name__ == "__main__":
    sys.exit(main())
