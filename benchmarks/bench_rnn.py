"""Recurrent workloads of the course: scratch against tf.keras, side by side in one process.

Workloads (the same model and initial weights in both engines; the tf.keras model comes from
`keras_ref.to_keras`):

* Lecture 50: Input(28, 28) → LSTM(128) → Dense(10, softmax) on a batch of 128 images
  (128 × 28 steps × 28 features), Adam + sparse categorical cross-entropy:
    - forward: scratch `model(x)` against a compiled tf.keras forward
      (`tf.function(lambda x: model(x, training=False))`, traced once) and against
      against `model.predict(x)`; targets ≤ 1.0× and ≤ 0.3× of tf.keras' time;
    - train step: scratch `train_on_batch` against tf.keras' `train_on_batch`; target ≤ 1.0×.
* The same with GRU(128) (reset_after=True, Keras' default).
* Lecture 43: Input(10, 1) → SimpleRNN(5) → Dense(1) on the sine series, Adam(0.1), mse,
  80 epochs with validation_data: one whole `fit` each; target: scratch ≥ 10× faster.

Method: both engines are warmed up first (tf.keras traces its functions); every timed repeat
of a train step or fit starts from the same weights and optimizer state; the figure is the
median over `--repeats` repeats, alternating the engines so a change in the machine's load
hits both alike. scratch runs with `--blas-threads` BLAS threads (default 1, the project's
recommendation on the shared 2-core machines) and `--threads` recurrent batch-split threads
(`scratch._kernels.recurrent.set_threads`, default 1); tf.keras with `--tf-threads` intra-op
threads (default 2, one per core). The ratio column is scratch time / tf.keras time: lower
is better.

Run: ``python benchmarks/bench_rnn.py [--repeats 5] [--only lstm gru simple] [--no-tf]``.
Machines are shared and noisy: compare the ratios of one run, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

import scratch  # noqa: E402
from scratch import _threads  # noqa: E402
from scratch._kernels import recurrent as recurrent_kernels  # noqa: E402
from scratch.layers import Dense, Input  # noqa: E402
from scratch.layers.recurrent import GRU, LSTM, SimpleRNN  # noqa: E402
from scratch.models import Model  # noqa: E402


def median_time(fn: Callable[[], object], repeats: int, before: Callable | None = None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def side_by_side(pairs: list[tuple[Callable, Callable | None]], repeats: int) -> list[float]:
    """Median of each function, alternating them repeat by repeat."""
    times: list[list[float]] = [[] for _ in pairs]
    for _ in range(repeats):
        for (fn, before), ts in zip(pairs, times, strict=True):
            if before is not None:
                before()
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
    return [statistics.median(ts) for ts in times]


def image_rows_model(cell: str) -> Model:
    i = Input(shape=(28, 28))
    x = (LSTM(128) if cell == "lstm" else GRU(128))(i)
    x = Dense(10, activation="softmax")(x)
    return Model(i, x)


def sine_data(T: int = 10):
    series = np.sin(0.1 * np.arange(200))
    X = np.array([series[t:t + T] for t in range(len(series) - T)]).reshape(-1, T, 1)
    Y = series[T:]
    return X.astype("float32"), Y.astype("float32")


def keras_twin(model, compile_args):
    import keras_ref

    kmodel = keras_ref.to_keras(model)
    kmodel.compile(**compile_args(keras_ref.keras()))
    return kmodel


def _optimizer_reset(kmodel):
    kmodel.optimizer.build(kmodel.trainable_variables)
    opt0 = [v.numpy() for v in kmodel.optimizer.variables]
    w0 = kmodel.get_weights()

    def reset():
        kmodel.set_weights(w0)
        for v, value in zip(kmodel.optimizer.variables, opt0, strict=True):
            v.assign(value)
    return reset


def bench_image_rows(cell: str, repeats: int, steps: int, use_tf: bool) -> list[tuple]:
    rng = np.random.default_rng(50)
    x = rng.random((128, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, 128)

    def compile_args(k):
        return {"optimizer": k.optimizers.Adam(), "loss": "sparse_categorical_crossentropy"}

    model = image_rows_model(cell)
    model.compile(**compile_args(scratch))
    w0 = model.get_weights()

    def reset():
        model.set_weights(w0)
        model.compile(**compile_args(scratch))

    def s_steps():
        for _ in range(steps):
            model.train_on_batch(x, y)

    for _ in range(3):  # warm-up
        model(x)
        model.train_on_batch(x, y)
    name = cell.upper() if cell == "gru" else "LSTM"
    if not use_tf:
        t_fwd = median_time(lambda: model(x), repeats)
        t_step = median_time(s_steps, repeats, reset) / steps
        return [(f"{name}(128) forward, 128×28×28", t_fwd, None, None, None),
                (f"{name}(128) train step", t_step, None, None, None)]
    import tensorflow as tf

    reset()
    kmodel = keras_twin(model, compile_args)
    forward = tf.function(lambda a: kmodel(a, training=False))
    xt = tf.constant(x)
    k_reset = _optimizer_reset(kmodel)
    check = float(np.max(np.abs(model(x) - forward(xt).numpy())))  # same weights here
    for _ in range(3):
        forward(xt).numpy()
        kmodel.predict(x, verbose=0)
        kmodel.train_on_batch(x, y)

    def k_steps():
        for _ in range(steps):
            kmodel.train_on_batch(x, y)

    t_fwd, t_kfwd, t_pred = side_by_side(
        [(lambda: model(x), None), (lambda: forward(xt).numpy(), None),
         (lambda: kmodel.predict(x, verbose=0), None)], repeats)
    t_step, t_kstep = side_by_side([(s_steps, reset), (k_steps, k_reset)], repeats)
    t_step, t_kstep = t_step / steps, t_kstep / steps
    return [
        (f"{name}(128) forward vs compiled tf", t_fwd, t_kfwd, 1.0, f"max|Δy| {check:.1e}"),
        (f"{name}(128) forward vs predict", t_fwd, t_pred, 0.3, ""),
        (f"{name}(128) train step vs train_on_batch", t_step, t_kstep, 1.0, ""),
    ]


def bench_sine_fit(repeats: int, use_tf: bool, epochs: int = 80) -> list[tuple]:
    X, Y = sine_data()
    N, T = len(X), 10

    def build():
        i = Input(shape=(T, 1))
        h = SimpleRNN(5)(i)
        return Model(i, Dense(1)(h))

    def compile_args(k):
        return {"optimizer": k.optimizers.Adam(0.1), "loss": "mse"}

    fit_kwargs = dict(x=X[:-N // 2], y=Y[:-N // 2], epochs=epochs, shuffle=False, verbose=0,
                      validation_data=(X[-N // 2:], Y[-N // 2:]))
    model = build()
    model.compile(**compile_args(scratch))
    w0 = model.get_weights()

    def reset():
        model.set_weights(w0)
        model.compile(**compile_args(scratch))

    model.fit(**{**fit_kwargs, "epochs": 2})
    label = f"L43 SimpleRNN(5) fit, {epochs} epochs"
    if not use_tf:
        return [(label, median_time(lambda: model.fit(**fit_kwargs), repeats, reset), None,
                 None, None)]
    reset()
    kmodel = keras_twin(model, compile_args)
    k_reset = _optimizer_reset(kmodel)
    kmodel.fit(**{**fit_kwargs, "epochs": 2})
    results = {}

    def s_fit():
        results["s"] = model.fit(**fit_kwargs).history["loss"][-1]

    def k_fit():
        results["k"] = kmodel.fit(**fit_kwargs).history["loss"][-1]

    t_s, t_k = side_by_side([(s_fit, reset), (k_fit, k_reset)], repeats)
    check = f"final loss {results['s']:.3g} vs {results['k']:.3g}"
    return [(label, t_s, t_k, 0.1, check)]


def _fmt(t: float | None) -> str:
    if t is None:
        return "n/a"
    return f"{t:.2f} s" if t >= 1 else f"{t * 1e3:.1f} ms"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    p.add_argument("--steps", type=int, default=10, help="train steps per timed repeat")
    p.add_argument("--only", nargs="*", default=["lstm", "gru", "simple"],
                   help="workloads: lstm gru simple")
    p.add_argument("--epochs", type=int, default=80, help="epochs of the Lecture 43 fit")
    p.add_argument("--blas-threads", type=int, default=1, help="scratch's BLAS threads")
    p.add_argument("--threads", type=int, default=1,
                   help="scratch's recurrent batch-split threads (set_threads; default 1)")
    p.add_argument("--tf-threads", type=int, default=2, help="TensorFlow intra-op threads")
    p.add_argument("--no-tf", action="store_true", help="time scratch alone")
    args = p.parse_args(argv)
    if min(args.repeats, args.steps, args.epochs, args.blas_threads, args.tf_threads,
           args.threads) < 1:
        p.error("--repeats, --steps, --epochs and the thread counts expected positive integers")

    scratch.utils.set_random_seed(0)
    _threads.limit_blas_threads(args.blas_threads)
    recurrent_kernels.set_threads(args.threads)
    use_tf = not args.no_tf and importlib.util.find_spec("tensorflow") is not None
    tf_info = "not timed"
    if use_tf:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.keras.utils.set_random_seed(0)
        tf_info = (f"TensorFlow {tf.__version__}, Keras {tf.keras.__version__}, "
                   f"{args.tf_threads} intra-op threads")
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"scratch {scratch.__version__}, NumPy {np.__version__}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"BLAS (scratch): {_threads.describe_blas()}; recurrent batch-split threads: "
          f"{args.threads}")
    print(f"tf.keras: {tf_info}")
    print(f"median of {args.repeats} repeats; train step: mean of {args.steps} calls\n")

    rows = []
    for key in args.only:
        if key in ("lstm", "gru"):
            rows += bench_image_rows(key, args.repeats, args.steps, use_tf)
        elif key == "simple":
            rows += bench_sine_fit(args.repeats, use_tf, args.epochs)
        else:
            p.error(f"--only expected lstm, gru or simple. Received: {key!r}")

    head = f"{'workload':<42} {'scratch':>10} {'tf.keras':>10} {'ratio':>7} {'target':>7}  note"
    print(head)
    print("-" * len(head))
    ok = True
    for label, t_s, t_k, target, note in rows:
        ratio = None if t_k is None else t_s / t_k
        met = "" if target is None or ratio is None else ("" if ratio <= target else "  NOT MET")
        ok &= not met
        print(f"{label:<42} {_fmt(t_s):>10} {_fmt(t_k):>10} "
              f"{'n/a' if ratio is None else f'{ratio:.2f}×':>7} "
              f"{'—' if target is None else f'≤{target:g}×':>7}  {note or ''}{met}")
    if use_tf:
        print("\nratio = scratch time / tf.keras time (lower is better)")
        print("all targets met" if ok else "some targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
