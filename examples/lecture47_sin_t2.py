"""Lecture 47: a more challenging sequence, x(t) = sin(t²), with an autoregressive linear
model, a SimpleRNN and an LSTM, on scratch.

The course notebook with one change: ``import scratch as keras`` (and ``from scratch...``)
instead of TensorFlow (``Adam(lr=...)`` is spelled ``learning_rate=`` as Keras 3 requires).

Math:
    series x_t = sin((0.1 t)²): the frequency grows with t, so no fixed AR recurrence fits it.
    AR(T):  x̂_t = w₀ + Σ_k w_k x_{t−k};  SimpleRNN(10) / LSTM(10) → Dense(1) on the last T.
    One-step forecast: every input window is real data. Multi-step forecast: the model's own
    predictions are fed back in, which is what forecasting means (Lecture 38).

Shapes:
    AR: X (N, T) → (N, 1).  RNN: X (N, T, 1) → SimpleRNN/LSTM (N, 10) → Dense (N, 1).

Writes ``sin_t2_series.png`` and, for each model (``linear``, ``simple_rnn``, ``lstm``),
``sin_t2_<model>_loss.png``, ``sin_t2_<model>_one_step.png`` and
``sin_t2_<model>_forecast.png`` to ``--out``.
Run: ``python examples/lecture47_sin_t2.py [--epochs 200] [--out out]`` (the course trains the
linear model 80 epochs and the RNNs 200; ``--epochs`` caps both).
"""

import numpy as np
from _common import parse_args, plt, save

import scratch as keras
from scratch.layers import LSTM, Dense, Input, SimpleRNN
from scratch.models import Model
from scratch.optimizers import Adam

args = parse_args("Lecture 47: sin(t^2) with AR, SimpleRNN and LSTM", epochs=200)
keras.utils.set_random_seed(0)

# make the synthetic original data
series = np.sin((0.1 * np.arange(400)) ** 2)  # x(t) = sin(t^2)
plt.plot(series)
save("sin_t2_series")

# build the dataset: let's see if we can use T past values to predict the next value
T = 10
D = 1
X = []
Y = []
for t in range(len(series) - T):
    X.append(series[t:t + T])
    Y.append(series[t + T])
X = np.array(X).reshape(-1, T)  # make it N x T
Y = np.array(Y)
N = len(X)
print("X.shape", X.shape, "Y.shape", Y.shape)


def linear_model():
    i = Input(shape=(T,))
    x = Dense(1)(i)
    return Model(i, x), 0.01, 80


def rnn_model(layer):
    def build():
        i = Input(shape=(T, D))
        x = layer(10)(i)
        x = Dense(1)(x)
        return Model(i, x), 0.05, 200
    return build


for name, build in [("linear", linear_model), ("simple_rnn", rnn_model(SimpleRNN)),
                    ("lstm", rnn_model(LSTM))]:
    model, lr, course_epochs = build()
    inputs = X if name == "linear" else X.reshape(-1, T, 1)  # RNNs take N x T x D
    shape = (1, -1) if name == "linear" else (1, T, 1)
    model.compile(loss="mse", optimizer=Adam(learning_rate=lr))
    r = model.fit(inputs[:-N // 2], Y[:-N // 2], batch_size=32,
                  epochs=min(course_epochs, args.epochs),
                  validation_data=(inputs[-N // 2:], Y[-N // 2:]), verbose=0)
    print(f"{name}: final loss {r.history['loss'][-1]:.4f}, "
          f"val_loss {r.history['val_loss'][-1]:.4f}")
    plt.plot(r.history["loss"], label="loss")
    plt.plot(r.history["val_loss"], label="val_loss")
    plt.legend()
    save(f"sin_t2_{name}_loss")

    # One-step forecast using true targets
    outputs = model.predict(inputs, verbose=0)
    print(outputs.shape)
    predictions = outputs[:, 0]
    plt.plot(Y, label="targets")
    plt.plot(predictions, label="predictions")
    plt.title(f"{name}: one-step predictions")
    plt.legend()
    save(f"sin_t2_{name}_one_step")

    # Multi-step forecast (use only self-predictions for making predictions)
    forecast = []
    input_ = inputs[-N // 2].copy()
    while len(forecast) < len(Y[-N // 2:]):
        f = model.predict(input_.reshape(shape), verbose=0)[0, 0]
        forecast.append(f)
        # make a new input with the latest forecast
        input_ = np.roll(input_, -1)
        input_[-1] = f
    plt.plot(Y[-N // 2:], label="targets")
    plt.plot(forecast, label="forecast")
    plt.title(f"{name}: multi-step forecast")
    plt.legend()
    save(f"sin_t2_{name}_forecast")
    one_step = np.abs(predictions[-N // 2:] - Y[-N // 2:]).mean()
    print(f"{name}: mean |one-step error| on the validation half = {one_step:.4f}")
