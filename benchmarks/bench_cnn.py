"""CNN workloads of the course: scratch against tf.keras, side by side in one process.

Workloads (the same layer or model and the same weights in both engines):

* conv-fwd: Conv2D(32, 3×3, padding="same") on a 128×32×32×3 batch, forward only; tf.keras'
  layer called inside a `tf.function`. Target: scratch ≤ 1.0× tf.keras' time.
* conv-fwd-bwd: the same, forward + backward (dL/dx, dL/dkernel, dL/dbias for a given
  cotangent); tf.keras: `tf.GradientTape` inside a `tf.function`. Target ≤ 1.5×.
* pool-fwd-bwd: MaxPooling2D(2×2) on 128×32×32×32, forward + backward. Target ≤ 0.5×.
* l32-step-32: the Lecture 32 network (three stride-2 Conv2D, Dropout, Dense 512, softmax;
  Adam, sparse categorical cross-entropy, accuracy) on scikit-learn's digits upsampled to
  28×28: one `train_on_batch` at batch 32 in both engines. Target: scratch faster (< 1.0×).
* l32-step-128: the same at batch 128; tf.keras runs a compiled train step (a `tf.function`:
  forward, loss, gradients, Adam update; no metrics). Target ≤ 1.2×.

Method: everything is warmed up first (tf.function traces, Numba compiles); each repeat times
`--steps` calls and keeps the mean; the figure is the median over `--repeats` repeats, which
alternate scratch, tf.keras, scratch, ... so that the load of a shared machine weighs on
both alike. scratch's process is pinned to one BLAS thread; inside fit/train_on_batch the
engine's policy (`scratch._threads`) uses two for large steps while no other process holds
a core, and the convolution layers follow the same policy everywhere: a large batch runs as
chunks of images on two threads, each GEMM on one BLAS thread
(`scratch.layers.conv.conv_threads`). tf.keras runs with its own
defaults unless `--tf-threads` is given. ratio = scratch time / tf.keras time
(smaller is better).

Run: ``python benchmarks/bench_cnn.py [--repeats 5] [--steps 10] [--only conv l32]
[--no-tf]``. Machines are shared and noisy: compare the ratios of one run, never absolute
times across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from pathlib import Path

if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

import scratch  # noqa: E402
from scratch import _threads, datasets  # noqa: E402
from scratch.layers import Conv2D, MaxPooling2D  # noqa: E402

TARGETS = {"conv-fwd": 1.0, "conv-fwd-bwd": 1.5, "pool-fwd-bwd": 0.5, "l32-step-32": 1.0,
           "l32-step-128": 1.2}
LABELS = {
    "conv-fwd": "Conv2D(32,3x3,same) 128x32x32x3 fwd",
    "conv-fwd-bwd": "Conv2D(32,3x3,same) 128x32x32x3 fwd+bwd",
    "pool-fwd-bwd": "MaxPooling2D(2) 128x32x32x32 fwd+bwd",
    "l32-step-32": "L32 train step, batch 32 (train_on_batch)",
    "l32-step-128": "L32 train step, batch 128 (tf: compiled step)",
}


def lecture32_model(keras):
    """The Lecture 32 network, written once for both engines (`keras` = scratch or tf.keras)."""
    L = keras.layers
    i = L.Input(shape=(28, 28, 1))
    x = L.Conv2D(32, (3, 3), strides=2, activation="relu")(i)
    x = L.Conv2D(64, (3, 3), strides=2, activation="relu")(x)
    x = L.Conv2D(128, (3, 3), strides=2, activation="relu")(x)
    x = L.Flatten()(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(512, activation="relu")(x)
    x = L.Dropout(0.2)(x)
    x = L.Dense(10, activation="softmax")(x)
    return keras.models.Model(i, x)


# ----------------------------------------------------------------------------- workloads
def conv_workloads(keras, tf, rng):
    x = rng.standard_normal((128, 32, 32, 3)).astype(np.float32)
    layer = Conv2D(32, (3, 3), padding="same")
    layer.build(x.shape)
    dy = rng.standard_normal(layer.compute_output_shape(x.shape)).astype(np.float32)
    out = {}
    out["conv-fwd"] = [lambda: layer.forward(x, training=True)]
    out["conv-fwd-bwd"] = [lambda: (layer.forward(x, training=True), layer.backward(dy))]
    if keras is not None:
        klayer = keras.layers.Conv2D(32, (3, 3), padding="same")
        klayer.build(x.shape)
        klayer.set_weights(layer.get_weights())
        xt, dyt = tf.constant(x), tf.constant(dy)
        fwd = tf.function(lambda a: klayer(a))

        @tf.function
        def fwd_bwd(a, g):
            with tf.GradientTape() as tape:
                tape.watch(a)
                y = klayer(a)
            return tape.gradient(y, [a] + klayer.trainable_weights, output_gradients=g)

        out["conv-fwd"].append(lambda: fwd(xt).numpy())
        out["conv-fwd-bwd"].append(lambda: [t.numpy() for t in fwd_bwd(xt, dyt)])
    return out


def pool_workloads(keras, tf, rng):
    x = rng.standard_normal((128, 32, 32, 32)).astype(np.float32)
    layer = MaxPooling2D((2, 2))
    dy = rng.standard_normal((128, 16, 16, 32)).astype(np.float32)
    out = {"pool-fwd-bwd": [lambda: (layer(x, training=True), layer.backward(dy))]}
    if keras is not None:
        klayer = keras.layers.MaxPooling2D((2, 2))
        xt, dyt = tf.constant(x), tf.constant(dy)

        @tf.function
        def fwd_bwd(a, g):
            with tf.GradientTape() as tape:
                tape.watch(a)
                y = klayer(a)
            return tape.gradient(y, a, output_gradients=g)

        out["pool-fwd-bwd"].append(lambda: fwd_bwd(xt, dyt).numpy())
    return out


def l32_workloads(keras, tf, rng, batch_sizes=(32, 128)):
    (x_train, y_train), _ = datasets.load_digits_split(size=28)
    x_train = x_train[..., None].astype(np.float32)
    model = lecture32_model(scratch)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    out = {}
    kmodel = None
    if keras is not None:
        import keras_ref

        kmodel = keras_ref.to_keras(model)
        kmodel.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                       metrics=["accuracy"])
        loss_fn = keras.losses.SparseCategoricalCrossentropy()
        kopt = keras.optimizers.Adam()

        @tf.function
        def compiled_step(a, b):
            with tf.GradientTape() as tape:
                loss = loss_fn(b, kmodel(a, training=True))
            grads = tape.gradient(loss, kmodel.trainable_variables)
            kopt.apply_gradients(zip(grads, kmodel.trainable_variables))
            return loss

    for b in batch_sizes:
        xb, yb = x_train[:b], y_train[:b]
        key = f"l32-step-{b}"
        out[key] = [lambda xb=xb, yb=yb: model.train_on_batch(xb, yb)]
        if kmodel is None:
            continue
        if b == 32:
            out[key].append(lambda xb=xb, yb=yb: kmodel.train_on_batch(xb, yb))
        else:
            xt, yt = tf.constant(xb), tf.constant(yb)
            out[key].append(lambda xt=xt, yt=yt: compiled_step(xt, yt).numpy())
    return out


# ----------------------------------------------------------------------------- timing
def time_side_by_side(fns, repeats: int, steps: int) -> list[float]:
    """Median over repeats of the mean time per call; repeats alternate the engines."""
    for fn in fns:  # warm-up: traces, JIT compiles, first-touch allocations
        for _ in range(3):
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            t0 = time.perf_counter()
            for _ in range(steps):
                fn()
            ts.append((time.perf_counter() - t0) / steps)
    return [statistics.median(ts) for ts in times]


def _fmt(t: float | None) -> str:
    if t is None:
        return "n/a"
    return f"{t * 1e3:.2f} ms" if t >= 1e-3 else f"{t * 1e6:.0f} µs"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per engine (median)")
    p.add_argument("--steps", type=int, default=10, help="calls per repeat (mean)")
    p.add_argument("--only", nargs="*", default=None,
                   help="workload keys or prefixes: conv pool l32 conv-fwd l32-step-32 ...")
    p.add_argument("--no-tf", action="store_true", help="time scratch alone")
    p.add_argument("--tf-threads", type=int, default=None,
                   help="TensorFlow intra-op threads (default: TensorFlow's own choice)")
    args = p.parse_args(argv)
    if args.repeats < 1 or args.steps < 1:
        p.error(f"--repeats and --steps expected positive integers. "
                f"Received: repeats={args.repeats}, steps={args.steps}")
    scratch.utils.set_random_seed(0)
    _threads.limit_blas_threads(1)
    only = [k.lower() for k in args.only or []]

    def wanted(key: str) -> bool:
        return not only or any(key.startswith(k) for k in only)

    keras = tf = None
    tf_info = "not timed (--no-tf)"
    if not args.no_tf:
        if importlib.util.find_spec("tensorflow") is None:
            tf_info = "not installed: pip install -e '.[tf]' for the side-by-side figures"
        else:
            import tensorflow as tf

            if args.tf_threads:
                tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            keras = tf.keras
            keras.utils.set_random_seed(0)
            n = tf.config.threading.get_intra_op_parallelism_threads()
            tf_info = (f"TensorFlow {tf.__version__}, Keras {keras.__version__}, intra-op "
                       f"threads {n or 'default (one per core)'}")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"scratch {scratch.__version__}, NumPy {np.__version__}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"BLAS (scratch): {_threads.describe_blas()}")
    print(f"tf.keras: {tf_info}")
    print(f"median of {args.repeats} repeats of the mean of {args.steps} calls; "
          "warmed up first\n")

    rng = np.random.default_rng(0)
    workloads = {}
    if wanted("conv-fwd") or wanted("conv-fwd-bwd"):
        workloads.update(conv_workloads(keras, tf, rng))
    if wanted("pool"):
        workloads.update(pool_workloads(keras, tf, rng))
    if wanted("l32"):
        workloads.update(l32_workloads(keras, tf, rng))
    head = f"{'workload':<46} {'scratch':>10} {'tf.keras':>10} {'ratio':>7} {'target':>7} met"
    print(head)
    print("-" * len(head))
    ok = True
    for key, fns in workloads.items():
        if not wanted(key):
            continue
        times = time_side_by_side(fns, args.repeats, args.steps)
        t_s, t_k = times[0], times[1] if len(times) > 1 else None
        ratio = t_s / t_k if t_k else None
        met = "—" if ratio is None else ("yes" if ratio <= TARGETS[key] else "NO")
        ok &= met != "NO"
        print(f"{LABELS[key]:<46} {_fmt(t_s):>10} {_fmt(t_k):>10} "
              f"{(f'{ratio:.2f}×' if ratio else 'n/a'):>7} {f'≤{TARGETS[key]:g}×':>7} {met}",
              flush=True)
    if keras is not None:
        print("\nratio = scratch time / tf.keras time (smaller is better)")
        print("all targets met" if ok else "some targets NOT met (see the `met` column)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
