"""Dense workloads of the course: scratch against tf.keras, side by side in one process.

Workloads (the course's code, the same model and initial weights in both engines; the tf.keras
model comes from `keras_ref.to_keras`, compiled with the same course arguments):

* Lecture 12: linear regression fit on the Moore data, SGD(0.001, 0.9) + LearningRateScheduler,
  200 epochs (N = 31, one batch per epoch).
* Lecture 10: logistic regression fit on breast cancer (381 train / 188 validation samples),
  Adam, binary cross-entropy + accuracy, 100 epochs with validation_data.
* Lecture 24: the dense network Flatten(28×28) → Dense(128, relu) → Dropout(0.2) →
  Dense(10, softmax), Adam, sparse categorical cross-entropy + accuracy, on scikit-learn's digits
  upsampled to 28×28 (1348 train / 449 validation): `train_on_batch` at batch 32 and 128, and
  one `fit` epoch with validation_data at batch 32 and 128.

Method: both engines are warmed up first (tf.keras traces its train/test functions, scratch
compiles its kernels); every repeat starts from the same weights and a fresh optimizer state;
the figure is the median over `--repeats` repeats (a train step: the median of the mean over
`--steps` calls), and the repeats alternate scratch, tf.keras, scratch, ... so that the load of
a shared machine weighs on both alike. `shuffle=False` everywhere, so the fits of Lectures 10
and 12 run the same arithmetic in both engines: the table's last column shows how far their
final losses differ.
scratch's process is pinned to one BLAS thread (inside fit/train_on_batch the engine's policy,
`scratch._threads`, uses two for large steps; none of these is large); tf.keras runs with its
own defaults unless ``--tf-threads`` is given.

tf.keras is timed twice: compiled as the course compiles it (its train and test functions
are `tf.function` graphs) and compiled with ``jit_compile=True`` (XLA compiles the graphs on
the CPU). Speedup = the faster tf.keras time / scratch time. Targets: tiny fits ≥ 50× faster
than tf.keras' `Model.fit`, the dense network's train step ≥ 2× faster than
`train_on_batch`. Work: the FLOPs of the Dense layers' products (`roof.model_flops`; a fit
counts its training steps and its validation forward passes), against the GEMM roof.

Run: ``python benchmarks/bench_dense.py [--repeats 3] [--steps 100] [--only l24]
[--profile l12] [--no-tf] [--no-xla] [--json PATH]``. Machines are shared and noisy: compare
the ratios of one run, never absolute times across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if importlib.util.find_spec("scratch") is None:  # a checkout that was not `pip install -e`d
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # roof, record, beside this file

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import record  # noqa: E402
from roof import model_flops  # noqa: E402

import scratch  # noqa: E402
from scratch import _threads, datasets  # noqa: E402


# ----------------------------------------------------------------------------- workloads
@dataclass
class Case:
    """One workload: data, a model builder and compile arguments written once for both engines.

    `build(keras)` and `compile_args(keras)` receive the engine module (`scratch` or
    `tf.keras`), like course code written against ``keras``.
    """

    key: str
    label: str
    target: float | None
    build: Callable
    compile_args: Callable
    x: np.ndarray
    y: np.ndarray
    kind: str  # "fit" or "step"
    fit_kwargs: dict = field(default_factory=dict)
    callbacks: Callable | None = None  # keras -> list of callbacks (a fresh list per fit)
    batch_size: int = 32


def _moore_case() -> Case:
    years, counts = datasets.load_moore()
    X = (years - years.mean()).reshape(-1, 1)
    Y = np.log(counts)

    def build(keras):
        return keras.models.Sequential([keras.layers.Input(shape=(1,)), keras.layers.Dense(1)])

    def schedule(epoch, lr):
        return 0.0001 if epoch >= 50 else 0.001

    return Case(
        key="l12", label="L12 linear regression fit, 200 epochs", target=50.0, build=build,
        compile_args=lambda keras: {"optimizer": keras.optimizers.SGD(0.001, 0.9),
                                    "loss": "mse"},
        x=X, y=Y, kind="fit", fit_kwargs={"epochs": 200},
        callbacks=lambda keras: [keras.callbacks.LearningRateScheduler(schedule)],
    )


def _breast_cancer_case() -> Case:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.33,
                                                        random_state=0)
    scaler = StandardScaler()
    X_train = scaler.fit_transform(X_train)
    X_test = scaler.transform(X_test)
    D = X_train.shape[1]

    def build(keras):
        return keras.models.Sequential([keras.layers.Input(shape=(D,)),
                                        keras.layers.Dense(1, activation="sigmoid")])

    return Case(
        key="l10", label="L10 logistic regression fit, 100 epochs", target=50.0, build=build,
        compile_args=lambda keras: {"optimizer": keras.optimizers.Adam(),
                                    "loss": "binary_crossentropy", "metrics": ["accuracy"]},
        x=X_train, y=y_train, kind="fit",
        fit_kwargs={"epochs": 100, "validation_data": (X_test, y_test)},
    )


def _digits_cases() -> list[Case]:
    (x_train, y_train), (x_test, y_test) = datasets.load_digits_split(size=28)

    def build(keras):
        return keras.models.Sequential([
            keras.layers.Input(shape=(28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ])

    def compile_args(keras):
        return {"optimizer": keras.optimizers.Adam(), "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"]}

    cases = []
    for b in (32, 128):
        cases.append(Case(
            key=f"l24-step-{b}", label=f"L24 dense net train step, batch {b}", target=2.0,
            build=build, compile_args=compile_args, x=x_train[:b], y=y_train[:b], kind="step",
            batch_size=b))
    for b in (32, 128):
        cases.append(Case(
            key=f"l24-epoch-{b}", label=f"L24 dense net fit epoch, batch {b}", target=None,
            build=build, compile_args=compile_args, x=x_train, y=y_train, kind="fit",
            fit_kwargs={"epochs": 1, "validation_data": (x_test, y_test)}, batch_size=b))
    return cases


# case-key prefix → factory; only the factories that `--only` needs load their data
_FACTORIES: list[tuple[str, Callable[[], list[Case]]]] = [
    ("l12", lambda: [_moore_case()]),
    ("l10", lambda: [_breast_cancer_case()]),
    ("l24", _digits_cases),
]


def select_cases(only: list[str] | None = None) -> list[Case]:
    """Every case, or those whose key starts with one of `only` (e.g. "l24", "l24-step-32")."""
    only = [k.lower() for k in only or []]
    cases = []
    for prefix, factory in _FACTORIES:
        if not only or any(k.startswith(prefix) or prefix.startswith(k) for k in only):
            cases += factory()
    return [c for c in cases if not only or any(c.key.startswith(k) for k in only)]


# ----------------------------------------------------------------------------- engines
class Runner:
    """Runs one case in one engine: reset to the initial state, run, time."""

    steps = 100  # train_on_batch calls per repeat (set from --steps)

    def __init__(self, case: Case, engine, model, w0: list, reset: Callable[[], None]):
        self.case, self.engine, self.model, self._reset = case, engine, model, reset
        self.w0 = w0  # the initial weights every repeat starts from
        self.last = None

    def run(self, epochs: int | None = None) -> None:
        c = self.case
        if c.kind == "step":
            for _ in range(self.steps):
                self.last = self.model.train_on_batch(c.x, c.y)
            return
        kwargs = dict(c.fit_kwargs)
        if epochs is not None:
            kwargs["epochs"] = epochs
        cbs = c.callbacks(self.engine) if c.callbacks else None
        hist = self.model.fit(c.x, c.y, batch_size=c.batch_size, shuffle=False, verbose=0,
                              callbacks=cbs, **kwargs)
        self.last = hist.history["loss"][-1]

    def warm_up(self) -> None:
        self._reset()
        if self.case.kind == "step":
            for _ in range(5):
                self.model.train_on_batch(self.case.x, self.case.y)
        else:
            self.run(epochs=2)

    def time_once(self) -> float:
        """Seconds for one fit (or per train step, the mean over `steps` calls)."""
        self._reset()
        t0 = time.perf_counter()
        self.run()
        elapsed = time.perf_counter() - t0
        return elapsed / (self.steps if self.case.kind == "step" else 1)


def time_side_by_side(runners: list[Runner | None], repeats: int) -> list[list[float] | None]:
    """Per-repeat times of each runner (None for a missing one); the repeats alternate
    between the engines, so a change in the machine's load hits them alike."""
    times: list = [None if r is None else [] for r in runners]
    for _ in range(repeats):
        for r, ts in zip(runners, times, strict=True):
            if r is not None:
                ts.append(r.time_once())
    return times


def case_flops(case: Case, model) -> int:
    """FLOPs of one unit of the case: a train step, or a whole fit (its steps, and the
    validation forward passes)."""
    if case.kind == "step":
        return model_flops(model, len(case.x))
    per_epoch = model_flops(model, 1) * len(case.x)
    val = case.fit_kwargs.get("validation_data")
    if val is not None:
        per_epoch += model_flops(model, 1, training=False) * len(val[0])
    return per_epoch * case.fit_kwargs.get("epochs", 1)


def scratch_runner(case: Case) -> Runner:
    model = case.build(scratch)
    w0 = [w.copy() for w in model.get_weights()]

    def reset():  # same weights, a fresh optimizer (compiling a scratch model costs ~µs)
        model.set_weights(w0)
        model.compile(**case.compile_args(scratch))

    reset()
    return Runner(case, scratch, model, w0, reset)


def keras_runner(case: Case, srunner: Runner, jit_compile: bool = False) -> Runner:
    """The same model in tf.keras (`keras_ref.to_keras`), from scratch's initial weights;
    with `jit_compile`, its train and test functions compiled by XLA."""
    import keras_ref

    keras = keras_ref.keras()
    w0 = srunner.w0
    srunner.model.set_weights(w0)
    kmodel = keras_ref.to_keras(srunner.model)
    kmodel.compile(**case.compile_args(keras), jit_compile=jit_compile)
    kmodel.optimizer.build(kmodel.trainable_variables)
    opt0 = [v.numpy() for v in kmodel.optimizer.variables]

    def reset():  # same weights and optimizer state, without recompiling (no retracing)
        kmodel.set_weights(w0)
        for v, value in zip(kmodel.optimizer.variables, opt0, strict=True):
            v.assign(value)

    return Runner(case, keras, kmodel, w0, reset)


# ----------------------------------------------------------------------------- report
def _header(tf_info: str) -> str:
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return "\n".join([
        f"scratch {scratch.__version__}, NumPy {np.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load}",
        f"BLAS (scratch): {_threads.describe_blas()}",
        f"tf.keras: {tf_info}",
    ])


def _profile(runner: Runner, top: int) -> None:
    import cProfile
    import pstats

    runner._reset()
    prof = cProfile.Profile()
    prof.enable()
    runner.run()
    prof.disable()
    print(f"\ncProfile of scratch, {runner.case.label} (one run):")
    stats = pstats.Stats(prof).strip_dirs().sort_stats("tottime")
    stats.print_stats(top)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per engine (median)")
    p.add_argument("--steps", type=int, default=100, help="train_on_batch calls per repeat")
    p.add_argument("--only", nargs="*", default=None,
                   help="case keys or prefixes: l12 l10 l24 l24-step-32 ...")
    p.add_argument("--no-tf", action="store_true", help="time scratch alone")
    p.add_argument("--tf-threads", type=int, default=None,
                   help="TensorFlow intra-op threads (default: TensorFlow's own choice)")
    p.add_argument("--profile", nargs="*", default=None,
                   help="cProfile the scratch side of these cases (default: all selected)")
    p.add_argument("--top", type=int, default=15, help="rows of the cProfile listing")
    record.add_arguments(p)
    args = p.parse_args(argv)
    if args.repeats < 1 or args.steps < 1:
        p.error(f"--repeats and --steps expected positive integers. "
                f"Received: repeats={args.repeats}, steps={args.steps}")

    scratch.utils.set_random_seed(0)
    _threads.limit_blas_threads(1)
    Runner.steps = args.steps

    cases = select_cases(args.only)
    if not cases:
        p.error(f"--only matched no case. Received: only={args.only}")

    use_tf = not args.no_tf and importlib.util.find_spec("tensorflow") is not None
    tf_info = "not timed (--no-tf)" if args.no_tf else (
        "not installed: pip install -e '.[tf]' for the side-by-side figures")
    if use_tf:
        import tensorflow as tf

        if args.tf_threads:
            tf.config.threading.set_intra_op_parallelism_threads(args.tf_threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.keras.utils.set_random_seed(0)
        n = tf.config.threading.get_intra_op_parallelism_threads()
        tf_info = (f"TensorFlow {tf.__version__}, Keras {tf.keras.__version__}, "
                   f"intra-op threads {n or 'default (one per core)'}")
        tf_info += f", {record.onednn_setting()}"
    roof = record.get_roof(args)
    print(_header(tf_info))
    print(f"median of {args.repeats} repeats; train step: mean of {args.steps} calls per "
          f"repeat; all engines warmed up first\n")

    rows = []
    for case in cases:
        sr = scratch_runner(case)
        sr.warm_up()
        kr = xr = None
        xla_note = ""
        if use_tf:
            kr = keras_runner(case, sr)
            kr.warm_up()
            if not args.no_xla:
                try:
                    xr = keras_runner(case, sr, jit_compile=True)
                    xr.warm_up()
                except Exception as e:  # XLA cannot compile this workload here
                    xr, xla_note = None, f"XLA failed: {type(e).__name__}"
        t_s, t_k, t_x = time_side_by_side([sr, kr, xr], args.repeats)
        check = ""
        if kr is not None and case.kind == "fit" and case.key in ("l12", "l10"):
            check = f"|Δloss| {abs(float(sr.last) - float(kr.last)):.1e}"
        rows.append(record.Row(
            key=case.key, label=case.label, scratch=t_s, tf=t_k, xla=t_x,
            unit="step" if case.kind == "step" else "fit", work=case_flops(case, sr.model),
            target=case.target, note=check, xla_note=xla_note,
            tf_path="train_on_batch" if case.kind == "step" else "fit"))
        if args.profile is not None and (not args.profile or any(
                case.key.startswith(k.lower()) for k in args.profile)):
            _profile(sr, args.top)

    record.finish(args, "dense", rows, roof,
                  {"tf": tf_info, "repeats": args.repeats, "steps": args.steps,
                   "blas_threads": 1})
    return 0


if __name__ == "__main__":
    sys.exit(main())
