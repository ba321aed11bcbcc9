"""Lecture 10: breast cancer classification with logistic regression, on scratch.

The course notebook with one change: ``import scratch as keras`` instead of TensorFlow
(``tf.keras.X`` reads ``keras.X``). One Dense unit with a sigmoid, Adam, binary cross-entropy:

Math:
    p(y=1 | x) = σ(xᵀw + b),   L = −mean(y·log p + (1 − y)·log(1 − p))

Shapes:
    X_train (N, D=30) standardized features, y_train (N,) in {0, 1}; w (D, 1), b (1,).

Writes ``logistic_regression_loss.png`` and ``logistic_regression_accuracy.png`` to ``--out``.
Run: ``python examples/lecture10_logistic_regression.py [--epochs 100] [--out out]``.
"""

from _common import parse_args, plt, save

import scratch as keras

args = parse_args("Lecture 10: logistic regression on breast cancer", epochs=100)
keras.utils.set_random_seed(0)  # reproducible initial weights

# Load in the dataset from Sklearn
from sklearn.datasets import load_breast_cancer  # noqa: E402

data = load_breast_cancer()

# split the dataset into train set and test set
from sklearn.model_selection import train_test_split  # noqa: E402

X_train, X_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.33,
                                                    random_state=0)
N, D = X_train.shape

# scale the data: mean 0, variance 1 (fit on the train set only, so the test set stays unseen)
from sklearn.preprocessing import StandardScaler  # noqa: E402

scaler = StandardScaler()
X_train = scaler.fit_transform(X_train)
X_test = scaler.transform(X_test)

# Build the model
model = keras.models.Sequential([
    keras.layers.Input(shape=(D,)),
    keras.layers.Dense(1, activation="sigmoid"),
])
model.compile(optimizer="adam",
              loss="binary_crossentropy",
              metrics=["accuracy"])

# Train the model
r = model.fit(X_train, y_train, validation_data=(X_test, y_test), epochs=args.epochs,
              verbose=2)

# Evaluate the model: evaluate() returns loss and accuracy
print("Train score:", model.evaluate(X_train, y_train, verbose=0))
print("Test score:", model.evaluate(X_test, y_test, verbose=0))

# Plot what was returned by model.fit()
plt.plot(r.history["loss"], label="loss")
plt.plot(r.history["val_loss"], label="val_loss")
plt.xlabel("epoch")
plt.legend()
save("logistic_regression_loss")

plt.plot(r.history["accuracy"], label="acc")
plt.plot(r.history["val_accuracy"], label="val_acc")
plt.xlabel("epoch")
plt.legend()
save("logistic_regression_accuracy")
