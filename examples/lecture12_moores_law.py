"""Lecture 12: Moore's law by linear regression on log(transistor count), on scratch.

The course notebook with one change: ``import scratch as keras`` instead of TensorFlow.
The data (year, transistor count of real microprocessors) ships with scratch
(`scratch.datasets.load_moore`), in place of the course's ``moore.csv``.

Math:
    C(t) = A₀·rᵗ  ⇒  log C = log r · t + log A₀,  i.e.  ŷ = a·x + b  with  x = t − mean(t).
    The slope a = log r gives the growth rate r = eᵃ per year and the doubling time
    t₂ = log 2 / a (Moore: about two years).

Shapes:
    X (N, 1) centred years, Y (N,) log counts; the Dense layer's kernel w (1, 1), bias b (1,).

Writes ``moore_data.png``, ``moore_log_data.png`` and ``moore_loss.png`` to ``--out``.
Run: ``python examples/lecture12_moores_law.py [--epochs 200] [--out out]``.
"""

import numpy as np
from _common import parse_args, plt, save

import scratch as keras
from scratch.datasets import load_moore

args = parse_args("Lecture 12: Moore's law, linear regression with SGD", epochs=200)
keras.utils.set_random_seed(0)

# load in the data
years, counts = load_moore()
data = np.column_stack([years, counts])
print(data[0])
X = data[:, 0].reshape(-1, 1)  # make it a 2D array of size NxD where D=1
Y = data[:, 1]

# Plot the data (is it exponential?)
plt.scatter(X, Y)
plt.xlabel("year")
plt.ylabel("transistors")
save("moore_data")

# since we want a linear model, we use the log
Y = np.log(Y)
plt.scatter(X, Y)
plt.xlabel("year")
plt.ylabel("log(transistors)")
save("moore_log_data")

# We also center the X data so the values are not too large
# we could scale it too but then we'd have to reverse the transformation later
X = X - X.mean()

# We create the model
model = keras.models.Sequential([
    keras.layers.Input(shape=(1,)),
    keras.layers.Dense(1),
])
model.compile(optimizer=keras.optimizers.SGD(0.001, 0.9), loss="mse")
# 0.001 is the learning rate, 0.9 is the momentum
# model.compile(optimizer='adam', loss='mse')


# Learning Rate Scheduler
def schedule(epoch, lr):
    if epoch >= 50:
        return 0.0001
    return 0.001


scheduler = keras.callbacks.LearningRateScheduler(schedule)

# Train the model
r = model.fit(X, Y, epochs=args.epochs, callbacks=[scheduler], verbose=0)
print(f"final loss after {args.epochs} epochs: {r.history['loss'][-1]:.4f}")

# Plot the loss
plt.plot(r.history["loss"], label="loss")
plt.xlabel("epoch")
plt.legend()
save("moore_loss")

# Get the slope of the line
# The slope of the line is related to the doubling rate of transistor count
print(model.layers)  # note: there is only 1 layer here. Input layer does not count
print(model.layers[0].get_weights())
# weight (W) is a 2D array and bias (b) is a 1D array
# the slope of the line is
a = model.layers[0].get_weights()[0][0, 0]
print("slope a =", a)
print("growth rate r = exp(a) =", np.exp(a), "per year")

# Our original model for exponential growth: C = A0 * r^t
# log C = log r * t + log A0, so a = log r; the count doubles when r^t = 2: t = log 2 / a
print("Time to double:", np.log(2) / a, "years")
