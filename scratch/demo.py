"""The main job: one course model trained in scratch and in tf.keras, side by side.

Both engines build the same model code after `set_random_seed(0)`, as a course notebook does,
so they start from the same weights and see the same shuffled batches with nothing copied
between them (docs/RANDOMNESS.md), and print, per epoch, loss / accuracy / val_accuracy
and the time of the epoch; at the end the largest weight difference and the speed ratio.
Without TensorFlow installed, scratch runs alone and the demo says how to add the comparison.
"""

from __future__ import annotations

import importlib.util
import os
import time

import numpy as np

from . import datasets


class _EpochTimer:
    """Records the wall time of each epoch (works as a scratch and as a tf.keras callback)."""

    def __init__(self):
        self.times: list[float] = []
        self._t0 = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self._t0)


def _dense_model(keras):
    return keras.models.Sequential([
        keras.Input(shape=(8, 8)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def _cnn_model(keras):
    i = keras.Input(shape=(28, 28, 1))
    x = keras.layers.Conv2D(32, (3, 3), strides=2, activation="relu")(i)
    x = keras.layers.Conv2D(64, (3, 3), strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(128, (3, 3), strides=2, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    x = keras.layers.Dense(10, activation="softmax")(x)
    return keras.Model(i, x)


def run_demo(model: str = "dense", epochs: int | None = None, batch_size: int = 32,
             out: str = "out", use_keras: bool = True) -> int:
    import scratch
    from scratch import callbacks

    from . import cpu_tier
    from ._threads import describe_blas

    size = 28 if model == "cnn" else None
    (x_train, y_train), (x_test, y_test) = datasets.load_digits_split(size=size)
    if model == "cnn":
        x_train, x_test = x_train[..., None], x_test[..., None]
    epochs = epochs or (3 if model == "cnn" else 10)
    title = ("Lecture 32 CNN (3 stride-2 Conv2D) on digits 28×28" if model == "cnn"
             else "Lecture 24 dense network on scikit-learn digits")
    print(f"scratch demo: {title}, Adam, sparse categorical cross-entropy, "
          f"batch {batch_size}, {epochs} epochs, fit's defaults (shuffled batches)")
    print(f"BLAS: {describe_blas()}; scratch's training loop picks 1 or 2 BLAS threads by the "
          f"size of a step and the machine's load (scratch._threads)")
    print(f"CPU tier: {cpu_tier.describe()} (docs/PORTABILITY.md)")
    # Seeded right before the model is built, as in a notebook cell (importing scikit-learn
    # to load the digits draws from Python's `random` once).
    scratch.utils.set_random_seed(0)
    net = _cnn_model(scratch) if model == "cnn" else _dense_model(scratch)
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    have_tf = use_keras and importlib.util.find_spec("tensorflow") is not None
    knet = None
    if have_tf:
        import keras_ref

        # The same seed and the same model code: tf.keras' initial weights, with no copying.
        k = keras_ref.keras()
        k.utils.set_random_seed(0)
        knet = _cnn_model(k) if model == "cnn" else _dense_model(k)
        knet.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                     metrics=["accuracy"])
        start = max(float(np.max(np.abs(a - b)))
                    for a, b in zip(net.get_weights(), knet.get_weights()))
        print(f"Both engines built the model after set_random_seed(0), no weights copied: "
              f"initial max |w_scratch − w_keras| = {start:.1e}")
    elif use_keras:
        print("TensorFlow is not installed: running scratch alone. For the side-by-side "
              "comparison install the extra: pip install -e '.[tf]' (or run `make demo`).")

    timer = _EpochTimer()
    cb = callbacks.LambdaCallback(on_epoch_begin=timer.on_epoch_begin,
                                  on_epoch_end=timer.on_epoch_end)
    hist = net.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                   batch_size=batch_size, verbose=0, callbacks=[cb]).history
    khist, ktimer = None, _EpochTimer()
    if knet is not None:
        import keras_ref

        k = keras_ref.keras()
        kcb = k.callbacks.LambdaCallback(on_epoch_begin=ktimer.on_epoch_begin,
                                         on_epoch_end=ktimer.on_epoch_end)
        khist = knet.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=epochs,
                         batch_size=batch_size, verbose=0,
                         callbacks=[kcb]).history

    head = f"{'epoch':>5} | {'scratch loss':>12} {'acc':>6} {'val_acc':>7} {'time':>8}"
    if khist:
        head += f" | {'tf.keras loss':>13} {'acc':>6} {'val_acc':>7} {'time':>8} | {'|Δloss|':>8}"
    print(head)
    print("-" * len(head))
    for e in range(len(hist["loss"])):
        row = (f"{e + 1:>5} | {hist['loss'][e]:>12.6f} {hist['accuracy'][e]:>6.3f} "
               f"{hist['val_accuracy'][e]:>7.3f} {1000 * timer.times[e]:>6.0f}ms")
        if khist:
            row += (f" | {khist['loss'][e]:>13.6f} {khist['accuracy'][e]:>6.3f} "
                    f"{khist['val_accuracy'][e]:>7.3f} {1000 * ktimer.times[e]:>6.0f}ms"
                    f" | {abs(hist['loss'][e] - khist['loss'][e]):>8.1e}")
        print(row)
    if khist:
        diff = max(float(np.max(np.abs(a - b)))
                   for a, b in zip(net.get_weights(), knet.get_weights()))
        ratio = sum(ktimer.times) / sum(timer.times)
        print(f"\nfinal max |w_scratch − w_keras| = {diff:.2e}")
        print(f"time per epoch: scratch {1000 * np.mean(timer.times):.0f} ms, tf.keras "
              f"{1000 * np.mean(ktimer.times):.0f} ms → scratch is {ratio:.1f}× "
              f"{'faster' if ratio >= 1 else 'slower'}")
        if len(timer.times) > 1:
            steady = sum(ktimer.times[1:]) / sum(timer.times[1:])
            print(f"after the first epoch (tf.keras traces its graph there, scratch loads its "
                  f"Numba kernels): "
                  f"{steady:.1f}× {'faster' if steady >= 1 else 'slower'}")
    _plot(hist, khist, out, model)
    return 0


def _plot(hist, khist, out: str, model: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot written)")
        return
    os.makedirs(out, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(hist["loss"], "o-", label="scratch loss")
    ax.plot(hist["val_loss"], "o--", label="scratch val_loss")
    if khist:
        ax.plot(khist["loss"], "x-", label="tf.keras loss")
        ax.plot(khist["val_loss"], "x--", label="tf.keras val_loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    ax.set_title(f"demo ({model}): scratch vs tf.keras")
    path = os.path.join(out, f"demo_{model}_loss.png")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"loss curves written to {path}")
