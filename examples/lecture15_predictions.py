"""Lecture 15: making predictions, and checking them by hand, on scratch.

The course notebook with one change: ``import scratch as keras`` instead of TensorFlow.
Two checks, as in the lecture:

* classification (Lecture 10's model): rounding the predicted probabilities and counting the
  hits by hand gives the accuracy that ``model.evaluate`` reports;
* regression (Lecture 12's model): ``model.predict(X)`` equals the manual ``X·w + b`` computed
  from the layer's weights.

Math:
    classification  P = round(σ(X·w + b)),  accuracy = mean(P == y)
    regression      Ŷ = X·w + b,  (N × 1)·(1 × 1) + (1) → (N × 1)

Shapes:
    X_test (N, 30), P (N, 1) → flattened (N,) like y_test; Moore X (N, 1), Ŷ (N,).

Exits with status 1 if either check fails. Writes ``predictions_probabilities.png`` and
``predictions_line_fit.png`` to ``--out``.
Run: ``python examples/lecture15_predictions.py [--epochs 100] [--out out]``.
"""

import sys

import numpy as np
from _common import parse_args, plt, save
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import scratch as keras
from scratch.datasets import load_moore

args = parse_args("Lecture 15: predictions equal the manual computation", epochs=100)
keras.utils.set_random_seed(0)
failures = []

# ----------------------------------------------------------------- linear classification
data = load_breast_cancer()
X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.33,
                                                    random_state=0)
N, D = X_train.shape
scaler = StandardScaler()
X_train = scaler.fit_transform(X_train)
X_test = scaler.transform(X_test)

model = keras.models.Sequential([
    keras.layers.Input(shape=(D,)),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
r = model.fit(X_train, y_train, validation_data=(X_test, y_test), epochs=args.epochs,
              verbose=0)

# Make Predictions
P = model.predict(X_test, verbose=0)
print(P[:5].ravel())  # outputs of the sigmoid, interpreted as probabilities p(y=1|x)
plt.hist(P.ravel(), bins=20)
plt.xlabel("p(y=1 | x)")
plt.ylabel("test samples")
save("predictions_probabilities")

# Round to get the actual predictions
# Note: it has to be flattened since the targets are size (N,) while the predictions are (N, 1)
P = np.round(P).flatten()
print(P[:20])

# Calculate the accuracy, compare it to evaluate() output
manual = np.mean(P == y_test)
loss, acc = model.evaluate(X_test, y_test, verbose=0)
print("Manually calculated accuracy:", manual)
print("Evaluate output:", [loss, acc])
if not np.isclose(manual, acc, rtol=1e-6, atol=0):
    failures.append(f"manual accuracy {manual} != evaluate accuracy {acc}")

# --------------------------------------------------------------------- linear regression
years, counts = load_moore()
X = years.reshape(-1, 1)
Y = np.log(counts)
X = X - X.mean()
model = keras.models.Sequential([
    keras.layers.Input(shape=(1,)),
    keras.layers.Dense(1),
])
model.compile(optimizer=keras.optimizers.SGD(0.001, 0.9), loss="mse")
scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.0001 if epoch >= 50
                                                  else 0.001)
# the course trains this one for 200 epochs: twice --epochs
model.fit(X, Y, epochs=2 * args.epochs, callbacks=[scheduler], verbose=0)

# Make sure the line fits our data
X = X.flatten()
Yhat = model.predict(X.reshape(-1, 1), verbose=0).flatten()
plt.scatter(X, Y, label="data")
plt.plot(X, Yhat, "r", label="prediction")
plt.xlabel("year − mean(year)")
plt.ylabel("log(transistors)")
plt.legend()
save("predictions_line_fit")

# Manual calculation
# get the weights
w, b = model.layers[0].get_weights()
# Reshape X because we flattened it earlier
X = X.reshape(-1, 1)
# dimension: (N x 1) x (1 x 1) + (1) -> (N x 1)
Yhat2 = (X.dot(w) + b).flatten()
# don't use == for floating points
same = np.allclose(Yhat, Yhat2)
print("np.allclose(Yhat, Yhat2):", same,
      f"(max |Yhat - Yhat2| = {np.max(np.abs(Yhat - Yhat2)):.2e})")
if not same:
    failures.append("model.predict(X) differs from X.dot(w) + b")

if failures:
    print("FAILED: " + "; ".join(failures))
    sys.exit(1)
print("OK: predictions match the manual computations")
