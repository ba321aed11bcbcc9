"""Recurrent workloads of the course: scratch against tf.keras, side by side in one process.

Workloads (the same model and initial weights in both engines; the tf.keras model comes from
`keras_ref.to_keras`):

* Lecture 50: Input(28, 28) → LSTM(128) → Dense(10, softmax) on a batch of 128 images
  (128 × 28 steps × 28 features), Adam + sparse categorical cross-entropy:
    - forward: scratch `model(x)` against a compiled tf.keras forward
      (`tf.function(lambda x: model(x, training=False))`, traced once) and against
      `model.predict(x)`; targets ≤ 1.0× and ≤ 0.3× of tf.keras' time (speedups ≥ 1 and
      ≥ 3.3);
    - train step: scratch `train_on_batch` against tf.keras' `train_on_batch`; target: 2×
      faster (earlier: ≤ 1.0×)
      (speedup ≥ 1).
* The same with GRU(128) (reset_after=True, Keras' default).
* Lecture 43: Input(10, 1) → SimpleRNN(5) → Dense(1) on the sine series, Adam(0.1), mse,
  80 epochs with validation_data: one whole `fit` each; target: scratch ≥ 10× faster.

tf.keras is timed twice: as above, and with XLA (``jit_compile=True`` on the forward's
`tf.function`, in `compile` for predict, train_on_batch and fit); the speedup is against the
faster. Work: FLOPs of the recurrent and Dense products (`roof.model_flops`).

Method: both engines are warmed up first (tf.keras traces its functions); every timed repeat
of a train step or fit starts from the same weights and optimizer state; the figure is the
median over `--repeats` repeats, alternating the engines so a change in the machine's load
hits both alike. scratch runs with `--blas-threads` BLAS threads (default 1, the project's
recommendation on the shared 2-core machines) and the recurrent layers' default batch split
(a big batch cut in two halves, run on two threads while a core is free: the engine's policy,
`scratch._kernels.recurrent`; `--threads N` fixes N chunks on N threads instead, as
`set_threads`); tf.keras with `--tf-threads` intra-op
threads (default 2, one per core). speedup = tf.keras' faster time / scratch time (above 1,
scratch is faster).

Run: ``python benchmarks/bench_rnn.py [--repeats 5] [--only lstm gru simple] [--no-tf]
[--no-xla] [--json PATH]``. Machines are shared and noisy: compare the ratios of one run,
never absolute times across runs.
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
from roof import model_flops, model_gemms  # noqa: E402

import scratch  # noqa: E402
from scratch import _threads  # noqa: E402
from scratch._kernels import recurrent as recurrent_kernels  # noqa: E402
from scratch.layers import Dense, Input  # noqa: E402
from scratch.layers.recurrent import GRU, LSTM, SimpleRNN  # noqa: E402
from scratch.models import Model  # noqa: E402


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


def keras_twin(model, compile_args, jit_compile: bool = False):
    import keras_ref

    kmodel = keras_ref.to_keras(model)
    kmodel.compile(**compile_args(keras_ref.keras()), jit_compile=jit_compile)
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


def bench_image_rows(cell: str, repeats: int, steps: int, use_tf: bool,
                     xla: bool) -> list[record.Row]:
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
    fwd_work, step_work = model_flops(model, 128, training=False), model_flops(model, 128)
    fns = {"fwd": lambda: model(x), "tf_fwd": None, "xla_fwd": None, "pred": None,
           "xla_pred": None}
    steps_fns = {"step": s_steps, "tf_step": None, "xla_step": None}
    resets = {"step": reset}
    check, note = "", ""
    if use_tf:
        import tensorflow as tf

        reset()
        xt = tf.constant(x)
        for jit in ([False, True] if xla else [False]):
            kmodel = keras_twin(model, compile_args, jit_compile=jit)
            forward = tf.function(lambda a, m=kmodel: m(a, training=False), autograph=False,
                                  jit_compile=jit)
            if not jit:  # same weights here
                check = f"max|Δy| {float(np.max(np.abs(model(x) - forward(xt).numpy()))):.1e}"

            def k_steps(m=kmodel):
                for _ in range(steps):
                    m.train_on_batch(x, y)

            prefix = "xla_" if jit else "tf_"
            fns[prefix + "fwd"] = lambda f=forward: f(xt).numpy()
            fns["xla_pred" if jit else "pred"] = (
                lambda m=kmodel: m.predict(x, verbose=0))
            steps_fns[prefix + "step"] = k_steps
            resets[prefix + "step"] = _optimizer_reset(kmodel)
        note = record.warm_up(fns, xla=("xla_fwd", "xla_pred"))
        note = record.warm_up(steps_fns, xla=("xla_step",)) or note
    # each repeat: the mean of `steps` calls (one call alone, right after tf.keras' turn,
    # was up to 40 % slower than the mean of ten)
    t = dict(zip(fns, record.alternate(
        [record.repeated(f, steps) for f in fns.values()], repeats, per=steps)))
    ts = dict(zip(steps_fns, record.alternate(list(steps_fns.values()), repeats, per=steps,
                                              before=[resets.get(k) for k in steps_fns])))
    step_row = record.Row(f"{cell}-step", f"{name}(128) train step vs train_on_batch",
                          ts["step"], ts["tf_step"], ts["xla_step"], work=step_work, target=2.0,
                          xla_note=note, tf_path="train_on_batch")
    return [
        record.Row(f"{cell}-fwd-compiled", f"{name}(128) forward vs compiled tf", t["fwd"],
                   t["tf_fwd"], t["xla_fwd"], work=fwd_work, target=1.0, note=check,
                   xla_note=note, tf_path="tf.function"),
        record.Row(f"{cell}-fwd-predict", f"{name}(128) forward vs predict", t["fwd"],
                   t["pred"], t["xla_pred"], work=fwd_work, target=1 / 0.3, xla_note=note,
                   tf_path="predict"),
        step_row,
        record.gemm_floor_row(step_row, model_gemms(model, 128), repeats, steps),
    ]


def bench_sine_fit(repeats: int, use_tf: bool, xla: bool, epochs: int = 80) -> list:
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
    work = epochs * (model_flops(model, len(fit_kwargs["x"]))
                     + model_flops(model, N // 2, training=False))

    def reset():
        model.set_weights(w0)
        model.compile(**compile_args(scratch))

    model.fit(**{**fit_kwargs, "epochs": 2})
    label = f"L43 SimpleRNN(5) fit, {epochs} epochs"
    results = {}

    def s_fit():
        results["s"] = model.fit(**fit_kwargs).history["loss"][-1]

    fns, resets, note = [s_fit, None, None], [reset, None, None], ""
    if use_tf:
        reset()
        for jit in ([False, True] if xla else [False]):
            kmodel = keras_twin(model, compile_args, jit_compile=jit)
            k_reset = _optimizer_reset(kmodel)
            try:
                kmodel.fit(**{**fit_kwargs, "epochs": 2})
            except Exception as e:
                if not jit:
                    raise
                note = f"XLA failed: {type(e).__name__}"
                continue

            def k_fit(m=kmodel, key="x" if jit else "k"):
                results[key] = m.fit(**fit_kwargs).history["loss"][-1]

            fns[2 if jit else 1], resets[2 if jit else 1] = k_fit, k_reset
    t_s, t_k, t_x = record.alternate(fns, repeats, before=resets)
    check = f"final loss {results['s']:.3g} vs {results['k']:.3g}" if "k" in results else ""
    return [record.Row("l43-fit", label, t_s, t_k, t_x, unit="fit", work=work, target=10.0,
                       note=check, xla_note=note, tf_path="fit")]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median)")
    p.add_argument("--steps", type=int, default=10, help="train steps per timed repeat")
    p.add_argument("--only", nargs="*", default=["lstm", "gru", "simple"],
                   help="workloads: lstm gru simple")
    p.add_argument("--epochs", type=int, default=80, help="epochs of the Lecture 43 fit")
    p.add_argument("--blas-threads", type=int, default=1, help="scratch's BLAS threads")
    p.add_argument("--threads", type=int, default=None,
                   help="scratch's recurrent batch-split threads (set_threads; default: the "
                        "engine's policy, two halves of a big batch)")
    p.add_argument("--tf-threads", type=int, default=2, help="TensorFlow intra-op threads")
    p.add_argument("--no-tf", action="store_true", help="time scratch alone")
    record.add_arguments(p)
    args = p.parse_args(argv)
    if min(args.repeats, args.steps, args.epochs, args.blas_threads, args.tf_threads,
           args.threads or 1) < 1:
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
        tf_info += f", {record.onednn_setting()}"
    roof = record.get_roof(args)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"scratch {scratch.__version__}, NumPy {np.__version__}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"BLAS (scratch): {_threads.describe_blas()}; recurrent batch-split threads: "
          f"{args.threads or 'the engine policy (two halves of a big batch)'}")
    print(f"tf.keras: {tf_info}")
    print(f"median of {args.repeats} repeats; train step: mean of {args.steps} calls\n")

    rows = []
    for key in args.only:
        if key in ("lstm", "gru"):
            rows += bench_image_rows(key, args.repeats, args.steps, use_tf, not args.no_xla)
        elif key == "simple":
            rows += bench_sine_fit(args.repeats, use_tf, not args.no_xla, args.epochs)
        else:
            p.error(f"--only expected lstm, gru or simple. Received: {key!r}")
    record.finish(args, "rnn", rows, roof,
                  {"tf": tf_info, "repeats": args.repeats, "steps": args.steps,
                   "blas_threads": args.blas_threads,
                   "recurrent_threads": args.threads or "engine policy"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
