"""Lecture 48: the long-distance problem, with SimpleRNN, LSTM, GRU and LSTM + global max
pooling, on scratch.

The course notebook with one change: ``import scratch as keras`` (and ``from scratch...``)
instead of TensorFlow (``Adam(lr=...)`` is spelled ``learning_rate=`` as Keras 3 requires).

Math:
    x ∈ R^T with x_t ~ N(0, 1); the label is an XOR of the signs of three positions: the
    four patterns of `get_label` are exactly y = 1 ⇔ x_{i1}·x_{i2}·x_{i3} < 0, a function
    no linear model can fit. Short distance: the last three steps (−1, −2, −3); long
    distance: the first three (0, 1, 2), which the network must carry over T steps.
    A SimpleRNN's gradient through T steps is a product of T Jacobians and vanishes; the
    LSTM's cell state c_t = f⊙c_{t−1} + i⊙g carries it (until T = 30). With
    return_sequences=True and GlobalMaxPooling1D the classifier sees max_t h_t, a shortcut
    from every step to the output.

Shapes:
    linear: X (N, T) → Dense(1, sigmoid).  RNNs: X (N, T, 1) → (N, M) → Dense(1, sigmoid);
    LSTM(5, return_sequences=True): (N, T, 5) → GlobalMaxPooling1D → (N, 5).

Writes ``long_distance_<experiment>_loss.png`` and ``..._accuracy.png`` for each experiment
(see `EXPERIMENTS`) and ``long_distance_summary.png`` to ``--out``.
Run: ``python examples/lecture48_long_distance.py [--epochs 400] [--out out]`` (the course
trains 100–400 epochs per experiment, 1800 in all; ``--epochs`` caps them: the full
run takes about 20 minutes on a 2-core machine).
"""

import numpy as np
from _common import parse_args, plt, save

import scratch as keras
from scratch.layers import GRU, LSTM, Dense, GlobalMaxPool1D, Input, SimpleRNN
from scratch.models import Model
from scratch.optimizers import Adam

args = parse_args("Lecture 48: the long-distance problem", epochs=400)
keras.utils.set_random_seed(0)


def get_label(x, i1, i2, i3):
    # x = sequence
    if x[i1] < 0 and x[i2] < 0 and x[i3] < 0:
        return 1
    if x[i1] < 0 and x[i2] > 0 and x[i3] > 0:
        return 1
    if x[i1] > 0 and x[i2] < 0 and x[i3] > 0:
        return 1
    if x[i1] > 0 and x[i2] > 0 and x[i3] < 0:
        return 1
    return 0


def build_dataset(T, long_distance):
    # this is a nonlinear and long-distance dataset
    X = []
    Y = []
    for _t in range(5000):
        x = np.random.randn(T)  # noqa: NPY002 (the course's code)
        X.append(x)
        if long_distance:
            y = get_label(x, 0, 1, 2)  # long distance
        else:
            y = get_label(x, -1, -2, -3)  # short distance
        Y.append(y)
    return np.array(X), np.array(Y)


def linear(T):
    i = Input(shape=(T,))
    x = Dense(1, activation="sigmoid")(i)
    return Model(i, x)


def rnn(layer, units, pool=False):
    def build(T):
        i = Input(shape=(T, 1))
        if pool:  # method 2
            x = layer(units, return_sequences=True)(i)
            x = GlobalMaxPool1D()(x)
        else:  # method 1
            x = layer(units)(i)
        x = Dense(1, activation="sigmoid")(x)
        return Model(i, x)
    return build


# (key, T, long distance?, model, course epochs): the order of the lecture
EXPERIMENTS = [
    ("linear_T10_short", 10, False, linear, 100),
    ("simple_rnn_T10_short", 10, False, rnn(SimpleRNN, 10), 200),
    ("simple_rnn_T10_long", 10, True, rnn(SimpleRNN, 10), 200),
    ("lstm_T10_long", 10, True, rnn(LSTM, 5), 200),
    ("lstm_T20_long", 20, True, rnn(LSTM, 5), 200),
    ("gru_T20_long", 20, True, rnn(GRU, 5), 400),
    ("lstm_T30_long", 30, True, rnn(LSTM, 5), 400),
    ("lstm_maxpool_T30_long", 30, True, rnn(LSTM, 5, pool=True), 100),
]

summary = []
for key, T, long_distance, build, course_epochs in EXPERIMENTS:
    X, Y = build_dataset(T, long_distance)
    inputs = X if key.startswith("linear") else np.expand_dims(X, -1)
    model = build(T)
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=0.01),
                  metrics=["accuracy"])
    r = model.fit(inputs, Y, epochs=min(course_epochs, args.epochs), validation_split=0.5,
                  verbose=0)
    val_acc = r.history["val_accuracy"][-1]
    summary.append((key, val_acc))
    print(f"{key:<24} epochs {len(r.history['loss']):>3}  loss {r.history['loss'][-1]:.4f}  "
          f"accuracy {r.history['accuracy'][-1]:.4f}  val_accuracy {val_acc:.4f}")
    plt.plot(r.history["loss"], label="loss")
    plt.plot(r.history["val_loss"], label="val_loss")
    plt.title(key)
    plt.legend()
    save(f"long_distance_{key}_loss")
    plt.plot(r.history["accuracy"], label="acc")
    plt.plot(r.history["val_accuracy"], label="val_acc")
    plt.title(key)
    plt.legend()
    save(f"long_distance_{key}_accuracy")

keys, accs = zip(*summary, strict=False)
plt.figure(figsize=(9, 4))
plt.barh(keys, accs)
plt.axvline(0.5, color="gray", linestyle="--")
plt.xlabel("final validation accuracy")
plt.xlim(0, 1)
save("long_distance_summary")
