"""Lectures 39, 40 and 43: forecasting a sine wave with an autoregressive linear model and a
SimpleRNN, on scratch.

The course notebooks with one change: ``import scratch as keras`` (and ``from scratch...``)
instead of TensorFlow (``Adam(lr=...)`` is spelled ``learning_rate=`` as Keras 3 requires).

Math:
    AR(T) model (Lecture 39):  x̂_t = w₀ + Σ_{k=1..T} w_k x_{t−k}   (a Dense(1) on the last T)
    Lecture 40: a clean sine obeys sin(ω(t+1)) = 2cos(ω)·sin(ωt) − sin(ω(t−1)), so AR(2) with
    w₁ = 2cos ω, w₂ = −1 forecasts it exactly; the fitted AR(10) model finds an equivalent.
    SimpleRNN (Lecture 43):  h_t = act(x_t W + h_{t−1} U + b),  x̂ = h_T · w_o + b_o.
    "Wrong" forecast: each step predicted from the TRUE previous values (a one-step forecast);
    the correct multi-step forecast feeds its own predictions back in.

Shapes:
    AR: X (N, T) → (N, 1).  RNN: X (N, T, D=1) → SimpleRNN (N, M=5) → Dense (N, 1).

Writes ``ar_loss.png``, ``ar_wrong_forecast.png``, ``ar_forecast.png``,
``ar_noisy_wrong_forecast.png``, ``ar_noisy_forecast.png`` and, for each SimpleRNN activation
(linear, tanh, relu), ``rnn_<activation>_loss.png`` and ``rnn_<activation>_forecast.png`` to
``--out``. Run: ``python examples/lecture39_43_forecasting.py [--epochs 80] [--out out]``.
"""

import numpy as np
from _common import parse_args, plt, save

import scratch as keras
from scratch.layers import Dense, Input, SimpleRNN
from scratch.models import Model
from scratch.optimizers import Adam

args = parse_args("Lectures 39-43: AR and SimpleRNN forecasts of a sine wave", epochs=80)
keras.utils.set_random_seed(0)


def make_dataset(series, T, rnn):
    # let's see if we can use T past values to predict the next value
    X, Y = [], []
    for t in range(len(series) - T):
        X.append(series[t:t + T])
        Y.append(series[t + T])
    X = np.array(X).reshape(-1, T, 1) if rnn else np.array(X).reshape(-1, T)
    Y = np.array(Y)
    print("X.shape", X.shape, "Y.shape", Y.shape)
    return X, Y


def wrong_forecast(model, X, Y, N, shape):
    # "Wrong" forecast using true targets: every input window is real data
    validation_target = Y[-N // 2:]
    validation_predictions = []
    i = -N // 2  # index of first validation input
    while len(validation_predictions) < len(validation_target):
        p = model.predict(X[i].reshape(shape), verbose=0)[0, 0]  # 1x1 array -> scalar
        i += 1
        validation_predictions.append(p)
    return validation_target, validation_predictions


def multistep_forecast(model, X, Y, N, shape):
    # Forecast future values (use only self-predictions for making predictions)
    validation_target = Y[-N // 2:]
    validation_predictions = []
    last_x = X[-N // 2]  # last train input
    while len(validation_predictions) < len(validation_target):
        p = model.predict(last_x.reshape(shape), verbose=0)[0, 0]
        validation_predictions.append(p)
        # make the new input
        last_x = np.roll(last_x, -1)
        last_x[-1] = p
    return validation_target, validation_predictions


def plot_forecast(target, predictions, name, title):
    plt.plot(target, label="forecast target")
    plt.plot(predictions, label="forecast prediction")
    plt.title(title)
    plt.legend()
    save(name)


def plot_loss(r, name):
    plt.plot(r.history["loss"], label="loss")
    plt.plot(r.history["val_loss"], label="val_loss")
    plt.legend()
    save(name)


# ------------------------------------------------------------------ Lecture 39: AR model
T = 10
for noisy in (False, True):
    # make the original data (Lecture 39 reruns it with the noise uncommented)
    series = np.sin(0.1 * np.arange(200))
    if noisy:
        series = series + np.random.randn(200) * 0.1  # noqa: NPY002 (the course's code)
    X, Y = make_dataset(series, T, rnn=False)
    N = len(X)

    # try the autoregressive linear model
    i = Input(shape=(T,))
    x = Dense(1)(i)
    model = Model(i, x)
    model.compile(loss="mse", optimizer=Adam(learning_rate=0.1))
    r = model.fit(X[:-N // 2], Y[:-N // 2], epochs=args.epochs,
                  validation_data=(X[-N // 2:], Y[-N // 2:]), verbose=0)
    tag = "ar_noisy" if noisy else "ar"
    print(f"{tag}: final loss {r.history['loss'][-1]:.5f}, "
          f"val_loss {r.history['val_loss'][-1]:.5f}")
    if not noisy:
        plot_loss(r, "ar_loss")
    target, preds = wrong_forecast(model, X, Y, N, (1, -1))
    plot_forecast(target, preds, f"{tag}_wrong_forecast", "AR: one-step ('wrong') forecast")
    target, preds = multistep_forecast(model, X, Y, N, (1, -1))
    plot_forecast(target, preds, f"{tag}_forecast", "AR: multi-step forecast")
    err = np.abs(np.array(preds) - target).mean()
    print(f"{tag}: mean |multi-step forecast error| = {err:.4f}")
    if not noisy:
        # Lecture 40: the exact AR(2) recurrence of a clean sine, w1 = 2cos(0.1), w2 = -1
        w1, w2 = 2 * np.cos(0.1), -1.0
        ar2 = w1 * series[1:-1] + w2 * series[:-2]
        print(f"Lecture 40: AR(2) with w1 = 2cos(0.1) = {w1:.4f}, w2 = -1 reproduces the sine: "
              f"max error {np.abs(ar2 - series[2:]).max():.1e}")

# ------------------------------------------------------------------ Lecture 43: SimpleRNN
series = np.sin(0.1 * np.arange(200))
X, Y = make_dataset(series, T, rnn=True)  # now the data should be N x T x D
N = len(X)
for activation in (None, "tanh", "relu"):
    name = activation or "linear"
    i = Input(shape=(T, 1))
    x = SimpleRNN(5, activation=activation)(i)
    x = Dense(1)(x)
    model = Model(i, x)
    model.compile(loss="mse", optimizer=Adam(learning_rate=0.1))
    r = model.fit(X[:-N // 2], Y[:-N // 2], epochs=args.epochs,
                  validation_data=(X[-N // 2:], Y[-N // 2:]), verbose=0)
    print(f"SimpleRNN(5, activation={activation!r}): final loss {r.history['loss'][-1]:.5f}")
    plot_loss(r, f"rnn_{name}_loss")
    target, preds = multistep_forecast(model, X, Y, N, (1, -1, 1))
    plot_forecast(target, preds, f"rnn_{name}_forecast",
                  f"SimpleRNN ({name}): multi-step forecast")
    print(f"SimpleRNN({name}): mean |multi-step forecast error| = "
          f"{np.abs(np.array(preds) - target).mean():.4f}")
