"""CNN workloads of the course: scratch against tf.keras, side by side in one process.

Workloads (the same layer or model and the same weights in both engines):

* conv-fwd: Conv2D(32, 3×3, padding="same") on a 128×32×32×3 batch, forward only; tf.keras'
  layer called inside a `tf.function`. Target: scratch's time ≤ 1.0× tf.keras' (speedup ≥ 1).
* conv-fwd-bwd: the same, forward + backward (dL/dx, dL/dkernel, dL/dbias for a given
  cotangent); tf.keras: `tf.GradientTape` inside a `tf.function`. Target: 2× faster
  (speedup ≥ 2; earlier ≥ 0.67).
* pool-fwd-bwd: MaxPooling2D(2×2) on 128×32×32×32, forward + backward. Target ≤ 0.5×
  (speedup ≥ 2). Memory-bound: its work is counted in bytes, against the bandwidth.
* l32-step-32: the Lecture 32 network (three stride-2 Conv2D, Dropout, Dense 512, softmax;
  Adam, sparse categorical cross-entropy, accuracy) on scikit-learn's digits upsampled to
  28×28: one `train_on_batch` at batch 32 in both engines. Target: 2× faster (earlier ≥ 1).
* l32-step-128: the same at batch 128; tf.keras runs a compiled train step (a `tf.function`:
  forward, loss, gradients, Adam update; no metrics). Target: 2× faster (earlier ≥ 0.83).
* l36-step-32: the Lecture 36 network (VGG-like: six Conv2D 3×3 with BatchNormalization,
  three MaxPooling2D, Dropout, Dense 1024, softmax; Adam, sparse categorical cross-entropy,
  accuracy) on CIFAR-10-shaped 32×32×3 images at the course's batch 32: one `train_on_batch`
  in both engines. Target: 2× faster.

tf.keras is timed twice: its plain compiled path (the `tf.function`s above, `train_on_batch`
of a model compiled as the course does) and the same with XLA (``jit_compile=True`` on the
`tf.function` or in `compile`); the speedup is against the faster of the two. Work: FLOPs of
the convolutions and Dense products (`roof.model_flops`, `roof.layer_gemms`), bytes for the
pooling (`roof.pool_bytes`).

Method: everything is warmed up first (tf.function traces, Numba compiles); each repeat times
`--steps` calls and keeps the mean; the figure is the median over `--repeats` repeats, which
alternate scratch, tf.keras, scratch, ... so that the load of a shared machine weighs on
both alike. scratch's process is pinned to one BLAS thread; inside fit/train_on_batch the
engine's policy (`scratch._threads`) uses two for large steps while no other process holds
a core, and the convolution layers follow the same policy everywhere: a large batch runs as
chunks of images on two threads, each GEMM on one BLAS thread
(`scratch.layers.conv.conv_threads`). tf.keras runs with its own
defaults unless `--tf-threads` is given. speedup = tf.keras' faster time / scratch time
(above 1, scratch is faster).

Run: ``python benchmarks/bench_cnn.py [--repeats 5] [--steps 10] [--only conv l32 l36]
[--no-tf] [--no-xla] [--json PATH]``. Machines are shared and noisy: compare the ratios of one
run, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
from pathlib import Path

if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # roof, record, beside this file

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import record  # noqa: E402
from course_models import lecture32_model, lecture36_model  # noqa: E402
from roof import gemm_flops, layer_gemms, model_flops, model_gemms, pool_bytes  # noqa: E402

import scratch  # noqa: E402
from scratch import _threads, datasets  # noqa: E402
from scratch.layers import Conv2D, MaxPooling2D  # noqa: E402

# the least speedup (tf.keras' fastest time / scratch's): 2× for the compute-bound course
# workloads (the project's target since 2026-12), the earlier ones elsewhere
TARGETS = {"conv-fwd": 1.0, "conv-fwd-bwd": 2.0, "pool-fwd-bwd": 2.0, "l32-step-32": 2.0,
           "l32-step-128": 2.0, "l36-step-32": 2.0}
LABELS = {
    "conv-fwd": "Conv2D(32,3x3,same) 128x32x32x3 fwd",
    "conv-fwd-bwd": "Conv2D(32,3x3,same) 128x32x32x3 fwd+bwd",
    "pool-fwd-bwd": "MaxPooling2D(2) 128x32x32x32 fwd+bwd",
    "l32-step-32": "L32 train step, batch 32 (train_on_batch)",
    "l32-step-128": "L32 train step, batch 128 (tf: compiled step)",
    "l36-step-32": "L36 VGG-BN train step, 32x32x3, batch 32",
}


# ----------------------------------------------------------------------------- workloads
# Each workload: key -> {"fns": [scratch, tf.keras, tf.keras XLA or None], "work": ...,
# "kind": "flops" | "bytes", "xla_note": why XLA is missing}. The tf.keras functions are
# None without TensorFlow.
CONV_SHAPE, POOL_SHAPE = (128, 32, 32, 3), (128, 32, 32, 32)


def _tf_functions(tf, body, xla: bool):
    """`body` as a plain `tf.function` and, with `xla`, as one with jit_compile=True."""
    plain = tf.function(body, autograph=False)
    return plain, (tf.function(body, autograph=False, jit_compile=True) if xla else None)


def conv_workloads(keras, tf, rng, xla: bool):
    x = rng.standard_normal(CONV_SHAPE).astype(np.float32)
    layer = Conv2D(32, (3, 3), padding="same")
    layer.build(x.shape)
    dy = rng.standard_normal(layer.compute_output_shape(x.shape)).astype(np.float32)
    products = layer_gemms(layer, x.shape, dy.shape, len(x))  # on its im2col matrix
    forward = products.forward
    # the backward computes dx and dkernel: two more products of the forward's size
    forward_backward = forward + products.input_grad + products.weight_grad
    out = {
        "conv-fwd": {"fns": [lambda: layer.forward(x, training=True), None, None],
                     "work": gemm_flops(forward), "gemms": forward},
        "conv-fwd-bwd": {"fns": [lambda: (layer.forward(x, training=True), layer.backward(dy)),
                                 None, None], "work": gemm_flops(forward_backward),
                         "gemms": forward_backward},
    }
    if keras is not None:
        klayer = keras.layers.Conv2D(32, (3, 3), padding="same")
        klayer.build(x.shape)
        klayer.set_weights(layer.get_weights())
        xt, dyt = tf.constant(x), tf.constant(dy)

        def fwd_body(a):
            return klayer(a)

        def fwd_bwd_body(a, g):
            with tf.GradientTape() as tape:
                tape.watch(a)
                y = klayer(a)
            return tape.gradient(y, [a] + klayer.trainable_weights, output_gradients=g)

        fwd, fwd_x = _tf_functions(tf, fwd_body, xla)
        fb, fb_x = _tf_functions(tf, fwd_bwd_body, xla)
        out["conv-fwd"]["fns"][1:] = [lambda: fwd(xt).numpy(),
                                      fwd_x and (lambda: fwd_x(xt).numpy())]
        out["conv-fwd-bwd"]["fns"][1:] = [lambda: [t.numpy() for t in fb(xt, dyt)],
                                          fb_x and (lambda: [t.numpy() for t in fb_x(xt, dyt)])]
    return out


def pool_workloads(keras, tf, rng, xla: bool):
    x = rng.standard_normal(POOL_SHAPE).astype(np.float32)
    layer = MaxPooling2D((2, 2))
    y_shape = (128, 16, 16, 32)
    dy = rng.standard_normal(y_shape).astype(np.float32)
    out = {"pool-fwd-bwd": {"fns": [lambda: (layer(x, training=True), layer.backward(dy)),
                                    None, None],
                            "work": pool_bytes(POOL_SHAPE, y_shape), "kind": "bytes"}}
    if keras is not None:
        klayer = keras.layers.MaxPooling2D((2, 2))
        xt, dyt = tf.constant(x), tf.constant(dy)

        def fwd_bwd_body(a, g):
            with tf.GradientTape() as tape:
                tape.watch(a)
                y = klayer(a)
            return tape.gradient(y, a, output_gradients=g)

        fb, fb_x = _tf_functions(tf, fwd_bwd_body, xla)
        out["pool-fwd-bwd"]["fns"][1:] = [lambda: fb(xt, dyt).numpy(),
                                          fb_x and (lambda: fb_x(xt, dyt).numpy())]
    return out


def l32_workloads(keras, tf, rng, xla: bool, batch_sizes=(32, 128)):
    (x_train, y_train), _ = datasets.load_digits_split(size=28)
    x_train = x_train[..., None].astype(np.float32)
    model = lecture32_model(scratch)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    out = {}
    twins = {}
    if keras is not None:
        import keras_ref

        for jit in ([False, True] if xla else [False]):
            kmodel = keras_ref.to_keras(model)
            kmodel.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"], jit_compile=jit)
            loss_fn = keras.losses.SparseCategoricalCrossentropy()
            kopt = keras.optimizers.Adam()

            def step_body(a, b, kmodel=kmodel, loss_fn=loss_fn, kopt=kopt):
                with tf.GradientTape() as tape:
                    loss = loss_fn(b, kmodel(a, training=True))
                grads = tape.gradient(loss, kmodel.trainable_variables)
                kopt.apply_gradients(zip(grads, kmodel.trainable_variables))
                return loss

            twins[jit] = (kmodel, tf.function(step_body, autograph=False, jit_compile=jit))

    for b in batch_sizes:
        xb, yb = x_train[:b], y_train[:b]
        key = f"l32-step-{b}"
        out[key] = {"fns": [lambda xb=xb, yb=yb: model.train_on_batch(xb, yb), None, None],
                    "work": model_flops(model, b), "gemms": model_gemms(model, b),
                    "tf_path": "train_on_batch" if b == 32 else "compiled step"}
        for jit, (kmodel, compiled_step) in twins.items():
            if b == 32:
                out[key]["fns"][2 if jit else 1] = (
                    lambda xb=xb, yb=yb, m=kmodel: m.train_on_batch(xb, yb))
            else:
                xt, yt = tf.constant(xb), tf.constant(yb)
                out[key]["fns"][2 if jit else 1] = (
                    lambda xt=xt, yt=yt, f=compiled_step: f(xt, yt).numpy())
    return out


def l36_workloads(keras, tf, rng, xla: bool, batch: int = 32):
    """Lecture 36 on CIFAR-10-shaped random images: `train_on_batch` in both engines."""
    x = rng.random((batch, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    model = lecture36_model(scratch)
    compile_args = dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                        metrics=["accuracy"])
    model.compile(**compile_args)
    out = {"l36-step-32": {"fns": [lambda: model.train_on_batch(x, y), None, None],
                           "work": model_flops(model, batch), "gemms": model_gemms(model, batch),
                           "tf_path": "train_on_batch"}}
    if keras is not None:
        import keras_ref

        for jit in ([False, True] if xla else [False]):
            kmodel = keras_ref.to_keras(model)
            kmodel.compile(**compile_args, jit_compile=jit)
            out["l36-step-32"]["fns"][2 if jit else 1] = (
                lambda m=kmodel: m.train_on_batch(x, y))
    return out


# ----------------------------------------------------------------------------- timing
def time_side_by_side(fns, repeats: int, steps: int) -> tuple[list, str]:
    """Per-repeat mean time per call of each function (None stays None), the repeats
    alternating the engines; and why XLA (the third) is missing, if it failed."""
    fns = list(fns)
    xla_note = record.warm_up(fns, xla=[2])  # traces, JIT compiles, first-touch allocations

    return record.alternate([record.repeated(fn, steps) for fn in fns], repeats,
                            per=steps), xla_note


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats per engine (median)")
    p.add_argument("--steps", type=int, default=10, help="calls per repeat (mean)")
    p.add_argument("--only", nargs="*", default=None,
                   help="workload keys or prefixes: conv pool l32 l36 conv-fwd l32-step-32 ...")
    p.add_argument("--no-tf", action="store_true", help="time scratch alone")
    p.add_argument("--tf-threads", type=int, default=None,
                   help="TensorFlow intra-op threads (default: TensorFlow's own choice)")
    record.add_arguments(p)
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
            tf_info += f", {record.onednn_setting()}"
    roof = record.get_roof(args)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(f"scratch {scratch.__version__}, NumPy {np.__version__}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"BLAS (scratch): {_threads.describe_blas()}")
    print(f"tf.keras: {tf_info}")
    print(f"median of {args.repeats} repeats of the mean of {args.steps} calls; "
          "warmed up first\n")

    rng = np.random.default_rng(0)
    xla = not args.no_xla
    workloads = {}
    if wanted("conv-fwd") or wanted("conv-fwd-bwd"):
        workloads.update(conv_workloads(keras, tf, rng, xla))
    if wanted("pool"):
        workloads.update(pool_workloads(keras, tf, rng, xla))
    if wanted("l32"):
        workloads.update(l32_workloads(keras, tf, rng, xla))
    if wanted("l36"):
        workloads.update(l36_workloads(keras, tf, rng, xla))
    rows = []
    for key, w in workloads.items():
        if not wanted(key):
            continue
        (t_s, t_k, t_x), xla_note = time_side_by_side(w["fns"], args.repeats, args.steps)
        rows.append(record.Row(key=key, label=LABELS[key], scratch=t_s, tf=t_k, xla=t_x,
                               work=w["work"], kind=w.get("kind", "flops"),
                               target=TARGETS[key], xla_note=xla_note,
                               tf_path=w.get("tf_path", "tf.function")))
        if "gemms" in w:
            rows.append(record.gemm_floor_row(rows[-1], w["gemms"], args.repeats, args.steps))
    record.finish(args, "cnn", rows, roof,
                  {"tf": tf_info, "repeats": args.repeats, "steps": args.steps,
                   "blas_threads": "1 (engine policy inside train_on_batch)"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
