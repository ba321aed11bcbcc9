"""NLP, recommender and GAN workloads of the course: scratch against tf.keras, side by side.

Workloads (the course's models at the course's sizes, the same initial weights in both
engines; the tf.keras models come from `keras_ref.to_keras`):

* Lecture 61: the recommender, Embedding(138 493 users, 10) and Embedding(26 744 movies, 10)
  (MovieLens-20M's sizes) → Flatten → Concatenate → Dense(1024, relu) → Dense(1), SGD(0.08,
  momentum 0.9), mse: one `train_on_batch` at batch 128. Target: scratch at least as fast.
* Lecture 57: the text classifier, Embedding(7 310, 20) → LSTM(15, return_sequences) →
  GlobalMaxPooling1D → Dense(1, sigmoid) on T = 189 word ids (the spam corpus' longest
  message), Adam, binary cross-entropy + accuracy: one `train_on_batch` at batch 128.
  Target: 2× faster.
* Lecture 59: the text CNN, Embedding(7 311, 20) → Conv1D(32, 3, relu) → MaxPooling1D(3) →
  Conv1D(64, 3, relu) → MaxPooling1D(3) → Conv1D(128, 3, relu) → GlobalMaxPooling1D →
  Dense(1, sigmoid) on the same T = 189 word ids, Adam, binary cross-entropy + accuracy: one
  `train_on_batch` at batch 128. Target: 2× faster.
* Lecture 69: the GAN step on 28×28 images (D = 784, latent 100, batch 32): the
  discriminator's two `train_on_batch` calls and the combined model's one, with the Keras 3
  `trainable` toggling; also the whole step with `generator.predict`. Target: the three
  train_on_batch calls within 10 % of the floor's time (the row's note; earlier ≥ 3× faster
  than tf.keras', which the floor itself does not reach). The row below them times the same three
  calls' math as a bare NumPy loop (`gan_floor.BareGan`: scratch's kernels, no engine; it
  reaches scratch's weights bit for bit): the most any engine could gain on this machine.
  Two more rows time the floor's parts alone (`gan_floor.part_timers`): its matrix products
  (GFLOP/s against the GEMM roof) and its Adam updates (GB/s against the bandwidth), so each
  part is seen against its own limit.

tf.keras is timed twice: compiled as the course compiles it, and with XLA
(``jit_compile=True`` in every `compile`, the generator's too for its `predict`); the speedup
is against the faster. Work: FLOPs of the Dense and LSTM products (`roof.model_flops`; the
GAN's three calls: the discriminator's step twice, then the combined model's with the
discriminator frozen). The recommender's embeddings are gathers and its optimizer touches
the looked-up rows only, so its figure is far from the GEMM roof by nature.

Method: both engines are warmed up first (tf.keras traces its functions); the figure is the
median over `--repeats` repeats of the mean time over `--steps` steps, the repeats
alternating scratch, tf.keras, scratch, ... so a change in the machine's load hits both
alike. scratch's process is pinned to one BLAS thread (inside train_on_batch the engine's
policy, `scratch._threads`, uses two for large steps, all three of the GAN's, while no other
process holds a core);
tf.keras runs with `--tf-threads` intra-op threads (default: TensorFlow's own choice).
Speedup = tf.keras' faster time / scratch time.

Run: ``python benchmarks/bench_nlp_gan.py [--repeats 3] [--steps 20] [--only rec lstm textcnn gan]
[--no-tf] [--no-xla] [--json PATH]``. Machines are shared and noisy: compare the ratios of one
run, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # gan_floor, beside this file

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import record  # noqa: E402
from roof import model_flops, model_gemms  # noqa: E402

import scratch  # noqa: E402
from scratch import _threads  # noqa: E402
from scratch.layers import Conv1D, Dense, Flatten, Input, LeakyReLU  # noqa: E402
from scratch.layers.embedding import Embedding  # noqa: E402
from scratch.layers.merge import Concatenate  # noqa: E402
from scratch.layers.normalization import BatchNormalization  # noqa: E402
from scratch.layers.pooling import GlobalMaxPooling1D, MaxPooling1D  # noqa: E402
from scratch.layers.recurrent import LSTM  # noqa: E402
from scratch.models import Model  # noqa: E402

BATCH = 128


# ----------------------------------------------------------------------------- workloads
def recommender_case(rng):
    """Lecture 61 at MovieLens-20M's sizes; returns (model, compile args, step data)."""
    N, M, K = 138_493, 26_744, 10
    u, m = Input(shape=(1,)), Input(shape=(1,))
    x = Concatenate()([Flatten()(Embedding(N, K)(u)), Flatten()(Embedding(M, K)(m))])
    x = Dense(1024, activation="relu")(x)
    model = Model([u, m], Dense(1)(x))
    data = ([rng.integers(0, N, (BATCH, 1)), rng.integers(0, M, (BATCH, 1))],
            rng.standard_normal(BATCH))

    def compile_args(keras):
        return dict(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=0.08,
                                                               momentum=0.9))

    return model, compile_args, data


def _spam_batch(rng, vocabulary: int, T: int):
    """A batch of word ids (1..vocabulary-1), the first half of each row 0 (pre-padding, as
    pad_sequences leaves short messages), and 0/1 labels."""
    ids = rng.integers(1, vocabulary, (BATCH, T))
    ids[:, : T // 2] = 0
    return ids.astype("float32"), rng.integers(0, 2, BATCH).astype("float32")


def _spam_compile_args(keras):
    """Lectures 57 and 59 compile their spam classifiers alike."""
    return dict(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(),
                metrics=["accuracy"])


def text_lstm_case(rng):
    """Lecture 57: Embedding → LSTM(return_sequences) → GlobalMaxPooling1D → Dense."""
    V, T, D, M = 7_310, 189, 20, 15
    i = Input(shape=(T,))
    x = Embedding(V, D)(i)
    x = LSTM(M, return_sequences=True)(x)
    x = GlobalMaxPooling1D()(x)
    model = Model(i, Dense(1, activation="sigmoid")(x))
    return model, _spam_compile_args, _spam_batch(rng, V, T)


def text_cnn_case(rng):
    """Lecture 59: Embedding → three Conv1D (two MaxPooling1D between) → global max → Dense."""
    V, T, D = 7_310, 189, 20
    i = Input(shape=(T,))
    x = Embedding(V + 1, D)(i)
    x = MaxPooling1D(3)(Conv1D(32, 3, activation="relu")(x))
    x = MaxPooling1D(3)(Conv1D(64, 3, activation="relu")(x))
    x = GlobalMaxPooling1D()(Conv1D(128, 3, activation="relu")(x))
    model = Model(i, Dense(1, activation="sigmoid")(x))
    return model, _spam_compile_args, _spam_batch(rng, V + 1, T)


def gan_models(rng, latent_dim=100, D=784):
    """The course's generator and discriminator (`activation=LeakyReLU(alpha=0.2)`)."""
    i = Input(shape=(latent_dim,))
    x = BatchNormalization(momentum=0.8)(Dense(256, activation=LeakyReLU(alpha=0.2))(i))
    x = BatchNormalization(momentum=0.8)(Dense(512, activation=LeakyReLU(alpha=0.2))(x))
    x = BatchNormalization(momentum=0.8)(Dense(1024, activation=LeakyReLU(alpha=0.2))(x))
    generator = Model(i, Dense(D, activation="tanh")(x))
    j = Input(shape=(D,))
    y = Dense(512, activation=LeakyReLU(alpha=0.2))(j)
    y = Dense(256, activation=LeakyReLU(alpha=0.2))(y)
    discriminator = Model(j, Dense(1, activation="sigmoid")(y))
    return generator, discriminator


# ----------------------------------------------------------------------------- engines
def keras_twin(model):
    import keras_ref

    return keras_ref.to_keras(model)


class StepRunner:
    """`steps` train_on_batch calls of one model in one engine."""

    def __init__(self, model, x, y):
        self.model, self.x, self.y = model, x, y

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            self.model.train_on_batch(self.x, self.y)


class GanRunner:
    """The course's GAN step: predict fakes, D on real, D on fake, combined on noise."""

    def __init__(self, engine, generator, discriminator, latent_dim, batch, data, rng,
                 with_predict: bool, jit_compile: bool = False):
        self.G, self.D = generator, discriminator
        xla = {"jit_compile": True} if jit_compile else {}
        self.D.compile(loss="binary_crossentropy",
                       optimizer=engine.optimizers.Adam(0.0002, 0.5), metrics=["accuracy"],
                       **xla)
        z = (Input if engine is scratch else engine.Input)(shape=(latent_dim,))
        self.D.trainable = False
        fake_pred = self.D(self.G(z))
        self.combined = (Model if engine is scratch else engine.Model)(z, fake_pred)
        self.combined.compile(loss="binary_crossentropy",
                              optimizer=engine.optimizers.Adam(0.0002, 0.5), **xla)
        if jit_compile:
            self.G.compile(jit_compile=True)  # its predict_function through XLA too
        self.real = data[rng.integers(0, len(data), batch)]
        self.noise = rng.standard_normal((batch, latent_dim)).astype("float32")
        self.fake = np.tanh(rng.standard_normal((batch, data.shape[1]))).astype("float32")
        self.ones, self.zeros = np.ones(batch), np.zeros(batch)
        self.with_predict = with_predict

    def __call__(self, steps: int) -> None:
        for _ in range(steps):
            fake = self.G.predict(self.noise, verbose=0) if self.with_predict else self.fake
            self.D.trainable = True
            self.D.train_on_batch(self.real, self.ones)
            self.D.train_on_batch(fake, self.zeros)
            self.D.trainable = False
            self.combined.train_on_batch(self.noise, self.ones)


class FloorRunner:
    """`gan_floor.BareGan` on the GAN runner's batches: the three calls' math and kernels
    without the engine, on the BLAS threads scratch's engine takes for the step."""

    def __init__(self, generator, discriminator, gan: GanRunner):
        from gan_floor import BareGan

        self.bare = BareGan(generator, discriminator)
        self.gan = gan
        self.threads = _threads.engine_blas_threads(discriminator.count_params() * len(gan.real))

    def __call__(self, steps: int) -> None:
        with _threads.scoped_blas_threads(self.threads):
            for _ in range(steps):
                self.bare.step(self.gan.real, self.gan.fake, self.gan.noise)


def per_step_times(runners: list[Callable[[int], None] | None], repeats: int,
                   steps: int) -> list:
    """Per-repeat mean seconds per step of each runner (None stays None), alternating."""
    return record.alternate([None if r is None else (lambda r=r: r(steps)) for r in runners],
                            repeats, per=steps)


def warm(runners: list, xla_index: int) -> str:
    """Three steps of each runner (Numba compilation, tf.function tracing); an XLA runner that
    fails is dropped (None) and the reason returned."""
    steps = [None if r is None else (lambda r=r: r(1)) for r in runners]
    note = record.warm_up(steps, xla=[xla_index])
    runners[:] = [r if s is not None else None for r, s in zip(runners, steps)]
    return note


def gan_flops(G, D, batch: int) -> int:
    """FLOPs of the three calls: D's step on real and on fake images, then the combined
    model's step (G learns; D frozen, its input gradient still needed)."""
    trainable = D.trainable
    try:
        D.trainable = True
        d_step = model_flops(D, batch)
        D.trainable = False
        return 2 * d_step + model_flops(G, batch) + model_flops(D, batch, input_needs_grad=True)
    finally:
        D.trainable = trainable


def floor_part_rows(G, D, threads: int, repeats: int, steps: int) -> list:
    """The floor's two parts alone, against their own limits (`gan_floor.part_timers`): its
    matrix products (GFLOP/s against the GEMM roof) and its Adam updates (GB/s against the
    bandwidth), on the floor's BLAS threads; scratch only."""
    from gan_floor import BareGan, part_timers

    rows = []
    labels = {"gemm": "    its matrix products alone", "adam": "    its Adam updates alone"}
    with _threads.scoped_blas_threads(threads):
        for name, (fn, work, kind) in part_timers(BareGan(G, D), 32).items():
            record.warm_up([fn])
            (times,) = record.alternate([record.repeated(fn, steps)], repeats, per=steps)
            note = "" if kind == "flops" else (
                f"w, g, m, v: {work * 4 / 7 / 1e6:.0f} MB, which a large last-level cache "
                "holds (the roof streams 256 MB arrays)")
            rows.append(record.Row(f"l69-gan-floor-{name}", labels[name], times, work=work,
                                   kind=kind, tf_path="—", note=note))
    return rows


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per engine (median)")
    p.add_argument("--steps", type=int, default=20, help="steps per repeat")
    p.add_argument("--only", nargs="*", default=None, help="rec lstm textcnn gan")
    p.add_argument("--no-tf", action="store_true", help="time scratch alone")
    p.add_argument("--tf-threads", type=int, default=None,
                   help="TensorFlow intra-op threads (default: TensorFlow's own choice)")
    record.add_arguments(p)
    args = p.parse_args(argv)
    if args.repeats < 1 or args.steps < 1:
        p.error(f"--repeats and --steps expected positive integers. "
                f"Received: repeats={args.repeats}, steps={args.steps}")
    only = set(args.only or ["rec", "lstm", "textcnn", "gan"])
    unknown = only - {"rec", "lstm", "textcnn", "gan"}
    if unknown:
        p.error(f"--only expected rec, lstm, textcnn or gan. Received: {sorted(unknown)}")
    warnings.filterwarnings("ignore", category=UserWarning)
    _threads.limit_blas_threads(1)
    scratch.utils.set_random_seed(0)

    use_tf = not args.no_tf and importlib.util.find_spec("tensorflow") is not None
    xla = use_tf and not args.no_xla
    keras = None
    tf_info = "not timed (--no-tf)" if args.no_tf else "not installed"
    if use_tf:
        import tensorflow as tf

        if args.tf_threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        keras = tf.keras
        tf_info = (f"TensorFlow {tf.__version__}, Keras {keras.__version__}, intra-op threads "
                   f"{tf.config.threading.get_intra_op_parallelism_threads() or 'auto'}")
        tf_info += f", {record.onednn_setting()}"
    roof = record.get_roof(args)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"scratch {scratch.__version__}, NumPy {np.__version__}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load}")
    print(f"BLAS (scratch): {_threads.describe_blas()}")
    print(f"tf.keras: {tf_info}\n")

    rows = []
    rng = np.random.default_rng(0)
    for key, label, factory, target in (
            ("rec", "L61 recommender train step, batch 128", recommender_case, 1.0),
            ("lstm", "L57 text LSTM train step, batch 128", text_lstm_case, 2.0),
            ("textcnn", "L59 text CNN train step, batch 128", text_cnn_case, 2.0)):
        if key not in only:
            continue
        model, compile_args, (x, y) = factory(rng)
        work = model_flops(model, BATCH)
        runners: list = [None, None, None]
        kmodels = {jit: keras_twin(model) for jit in ([False, True] if xla else
                                                      [False] if use_tf else [])}
        model.compile(**compile_args(scratch))
        runners[0] = StepRunner(model, x, y)
        for jit, kmodel in kmodels.items():
            kmodel.compile(**compile_args(keras), jit_compile=jit)
            runners[2 if jit else 1] = StepRunner(kmodel, x, y)
        note = warm(runners, 2)  # warm-up: Numba compilation, tf.function tracing
        t_s, t_k, t_x = per_step_times(runners, args.repeats, args.steps)
        rows.append(record.Row(f"{key}-step", label, t_s, t_k, t_x, work=work,
                               target=target, xla_note=note, tf_path="train_on_batch"))
        if target > 1:
            rows.append(record.gemm_floor_row(rows[-1], model_gemms(model, BATCH),
                                              args.repeats, args.steps))
    if "gan" in only:
        images = np.tanh(rng.standard_normal((1000, 784))).astype("float32")
        for with_predict, label, target in ((False, "L69 GAN: 3 train_on_batch calls", None),
                                            (True, "L69 GAN: whole step (+ G.predict)", None)):
            G, Dm = gan_models(rng)
            work = gan_flops(G, Dm, 32) + (model_flops(G, 32, training=False)
                                           if with_predict else 0)
            runners: list = [None, None, None]
            twins = {jit: (keras_twin(G), keras_twin(Dm)) for jit in
                     ([False, True] if xla else [False] if use_tf else [])}
            runners[0] = GanRunner(scratch, G, Dm, 100, 32, images, np.random.default_rng(1),
                                   with_predict)
            for jit, (kG, kD) in twins.items():
                runners[2 if jit else 1] = GanRunner(keras, kG, kD, 100, 32, images,
                                                     np.random.default_rng(1), with_predict,
                                                     jit_compile=jit)
            if not with_predict:  # the same three calls' math with no engine: the floor
                runners.append(FloorRunner(G, Dm, runners[0]))
            note = warm(runners, 2)
            times = per_step_times(runners, args.repeats, args.steps)
            key = "l69-gan-step" if with_predict else "l69-gan-3-calls"
            rows.append(record.Row(key, label, times[0], times[1], times[2], work=work,
                                   target=target, xla_note=note,
                                   tf_path="train_on_batch" + (" + predict" * with_predict)))
            if not with_predict:  # the restated target: within 10 % of the floor
                ratio = record.statistics.median(times[0]) / record.statistics.median(times[3])
                rows[-1].note = f"{ratio:.2f}× the floor's time (target ≤ 1.10×)"
                rows.append(record.Row("l69-gan-floor", "  the same math as a bare NumPy loop",
                                       times[3], times[1], times[2], work=work,
                                       xla_note=note, tf_path="train_on_batch"))
                rows += floor_part_rows(G, Dm, runners[3].threads, args.repeats, args.steps)
    record.finish(args, "nlp_gan", rows, roof,
                  {"tf": tf_info, "repeats": args.repeats, "steps": args.steps,
                   "blas_threads": "1 (engine policy inside train_on_batch)"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
