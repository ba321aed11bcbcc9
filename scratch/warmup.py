"""`python -m scratch warmup`: compile the Numba kernels once, into Numba's on-disk cache.

Every kernel in `scratch/_kernels/` has ``cache=True``: the first process that calls it on a
machine compiles it (about a second each; a dozen for the course's dense network) and writes
the machine code beside the module (``scratch/_kernels/__pycache__/*.nbi, *.nbc``), keyed by
the source file, the argument types and the CPU (docs/PORTABILITY.md). Later processes load it
in milliseconds. Without this step the first `fit` a user runs pays the compilations inside
its first epoch.

`warm_up()` trains a few tiny models for one short epoch each, in float32 and in float64,
through the public API, so the kernels are compiled for exactly the argument types the
layers pass them (dtype, rank and memory layout are all part of a Numba signature):

* the demo's networks: the Lecture 24 dense network (Flatten, Dense relu / softmax, Dropout;
  Adam, sparse categorical cross-entropy) and the Lecture 32 CNN (stride-2 Conv2D);
* convolution and pooling: Conv2D ('same'), MaxPooling2D (tiled and overlapping windows),
  AveragePooling2D, BatchNormalization, LeakyReLU, Conv1D, global pooling;
* text and sequences: Embedding → LSTM / GRU / SimpleRNN, with and without a mask;
* the losses' fused forms (binary, categorical, sparse categorical cross-entropy, mse) and
  the optimizers' fused updates (Adam, SGD with momentum, RMSprop, Adagrad), and the
  initializers' random streams.

`make venv` runs it after installing the package; it took 17–26 s on a shared 2-core machine
(`--dtypes float32` about halves it). Running it again costs only the loading (a second or
two). A kernel a workload here does not reach is compiled on first use, as before. It seeds
and draws from the global random streams (`set_random_seed(0)` before each model), so run it in
its own process, as `make venv` does, not in the middle of a seeded session.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

__all__ = ["warm_up", "WORKLOADS", "main"]


def _dense_net(keras):
    return keras.models.Sequential([
        keras.Input(shape=(8, 8)),
        keras.layers.Flatten(),
        keras.layers.Dense(16, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ]), ("adam", "sparse_categorical_crossentropy"), (8, 8), 10


def _lecture32_cnn(keras):
    i = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(4, (3, 3), strides=2, activation="relu")(i)
    x = keras.layers.Conv2D(8, (3, 3), strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(i, x), ("adam", "sparse_categorical_crossentropy"), (28, 28, 1), 10


def _conv_pool_net(keras):
    L = keras.layers
    i = keras.Input(shape=(12, 12, 3))
    x = L.Conv2D(4, (3, 3), padding="same")(i)
    x = L.BatchNormalization()(x)
    x = L.LeakyReLU(0.2)(x)
    x = L.MaxPooling2D((2, 2))(x)                       # tiled windows
    x = L.MaxPooling2D((3, 3), strides=1, padding="same")(x)  # overlapping windows
    x = L.AveragePooling2D((2, 2))(x)
    a = L.GlobalMaxPooling2D()(x)
    b = L.GlobalAveragePooling2D()(x)
    x = L.Concatenate()([a, b])
    x = L.Dense(4, activation="softmax", kernel_initializer="random_normal")(x)
    return keras.Model(i, x), ("sgd_momentum", "categorical_crossentropy"), (12, 12, 3), 4


def _conv1d_net(keras):
    L = keras.layers
    i = keras.Input(shape=(16, 3))
    x = L.Conv1D(4, 3, activation="relu")(i)
    x = L.MaxPooling1D(2)(x)
    x = L.AveragePooling1D(2)(x)
    x = L.GlobalMaxPooling1D()(x)
    x = L.Dense(1, activation="sigmoid")(x)
    return keras.Model(i, x), ("rmsprop", "binary_crossentropy"), (16, 3), 2


def _text_lstm(keras):
    L = keras.layers
    i = keras.Input(shape=(10,))
    x = L.Embedding(50, 4)(i)
    x = L.LSTM(6, return_sequences=True)(x)
    x = L.GlobalMaxPooling1D()(x)
    x = L.Dense(1, activation="sigmoid")(x)
    return keras.Model(i, x), ("adam", "binary_crossentropy"), "ids", 2


def _masked_text_lstm(keras):
    L = keras.layers
    i = keras.Input(shape=(10,))
    x = L.Embedding(50, 4, mask_zero=True)(i)
    x = L.LSTM(6)(x)
    x = L.Dense(1, activation="sigmoid")(x)
    return keras.Model(i, x), ("adam", "binary_crossentropy"), "ids", 2


def _recurrent_net(keras):
    L = keras.layers
    i = keras.Input(shape=(6, 3))
    x = L.GRU(5, return_sequences=True)(i)
    x = L.SimpleRNN(4, return_sequences=True)(x)
    x = L.LSTM(4)(x)
    x = L.Dense(1)(x)
    return keras.Model(i, x), ("adagrad", "mse"), (6, 3), None


def _gan_discriminator(keras):
    L = keras.layers
    i = keras.Input(shape=(12,))
    x = L.Dense(8, activation=L.LeakyReLU(negative_slope=0.2))(i)
    x = L.BatchNormalization(momentum=0.8)(x)
    x = L.Dense(1, activation="sigmoid")(x)
    return keras.Model(i, x), ("adam", "binary_crossentropy"), (12,), 2


WORKLOADS: dict[str, Callable] = {
    "dense": _dense_net,
    "cnn": _lecture32_cnn,
    "conv_pool": _conv_pool_net,
    "conv1d": _conv1d_net,
    "text_lstm": _text_lstm,
    "masked_text_lstm": _masked_text_lstm,
    "recurrent": _recurrent_net,
    "gan_dense": _gan_discriminator,
}


def _optimizer(keras, name: str):
    if name == "sgd_momentum":
        return keras.optimizers.SGD(0.01, momentum=0.9)
    return name


def _data(shape, classes, dtype, rng, n: int = 8):
    if shape == "ids":
        x = rng.integers(0, 50, (n, 10))
        x[:, :3] = 0  # pre-padding, as pad_sequences leaves short texts
        x = x.astype(dtype)
    else:
        x = rng.standard_normal((n, *shape)).astype(dtype)
    if classes is None:
        y = rng.standard_normal((n, 1)).astype(dtype)
    elif classes == 2:
        y = rng.integers(0, 2, (n, 1)).astype(dtype)
    else:
        y = rng.integers(0, classes, n)
    return x, y


def _run_one(keras, build: Callable, dtype: str, rng) -> None:
    model, (opt, loss), shape, classes = build(keras)
    metrics = ["accuracy"] if classes else []
    model.compile(optimizer=_optimizer(keras, opt), loss=loss, metrics=metrics)
    x, y = _data(shape, classes, dtype, rng)
    if loss == "categorical_crossentropy":
        y = np.eye(classes, dtype=dtype)[y]
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, validation_data=(x, y))
    model.train_on_batch(x, y)
    model.predict(x, verbose=0)


def warm_up(dtypes=("float32", "float64"), workloads=None, verbose: bool = False) -> float:
    """Compile (or load) the kernels that `WORKLOADS` reach, for each float dtype; returns the
    seconds it took. The global float type, the seed and the fast-path switch are restored.

    Raises:
        ValueError: for an unknown dtype or workload name.
    """
    import scratch
    from scratch import backend

    dtypes = tuple(dtypes)
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise ValueError(f"`dtypes` expected 'float32' and/or 'float64'. Received: {dtypes!r}")
    names = list(WORKLOADS) if workloads is None else list(workloads)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise ValueError(f"`workloads` expected names from {sorted(WORKLOADS)}. "
                         f"Received: {unknown!r}")
    t0 = time.perf_counter()
    before = backend.floatx()
    try:
        with backend.fast_paths(True):
            for dtype in dtypes:
                backend.set_floatx(dtype)
                for name in names:
                    t1 = time.perf_counter()
                    scratch.utils.set_random_seed(0)
                    _run_one(scratch, WORKLOADS[name], dtype, np.random.default_rng(0))
                    if verbose:
                        print(f"  {dtype:<8} {name:<17} {time.perf_counter() - t1:6.2f} s",
                              flush=True)
    finally:
        backend.set_floatx(before)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scratch warmup",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"],
                        choices=["float32", "float64"])
    parser.add_argument("--quiet", action="store_true", help="print the total time only")
    args = parser.parse_args(argv)
    print("compiling scratch's Numba kernels into their cache (once per machine and CPU "
          "tier)...", flush=True)
    seconds = warm_up(args.dtypes, verbose=not args.quiet)
    print(f"kernels ready in {seconds:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
