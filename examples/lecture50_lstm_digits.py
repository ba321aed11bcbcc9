"""Lecture 50: an LSTM reads images row by row (RNN for image classification), on scratch.

The course notebook with scratch's imports instead of TensorFlow's. The data is the course's
MNIST (`keras.datasets.mnist.load_data()`) when Keras' cache holds it (``--download``
fetches it); otherwise, with a message, scikit-learn's digits upsampled to 28×28 in MNIST's
format (`_common.digits_as`: uint8 (N, 28, 28) images, (N,) labels), so every line after the
load is the course's and the model is the course's, layer for layer.

Math:
    An image is a sequence (Lecture 49): row t of the 28×28 image is x_t ∈ R^28, T = 28.
    LSTM(128): (i, f, g, o) = gates of [x_t, h_{t−1}]; c_t = f⊙c_{t−1} + i⊙g; h_t = o⊙tanh(c_t)
    p = softmax(h_T W + b),  L = −mean(log p[y])

Shapes:
    x_train (N, 28, 28) = N × T × D → LSTM (N, 128) → Dense (N, 10); y_train (N,) labels 0–9.

Writes ``lstm_digits_loss.png``, ``lstm_digits_accuracy.png`` and
``lstm_digits_predictions.png`` to ``--out``.
Run: ``python examples/lecture50_lstm_digits.py [--epochs 10] [--out out] [--download]``.
"""

import numpy as np
from _common import dataset_available, digits_as, parse_args, plt, save

import scratch as keras
from scratch.layers import LSTM, Dense, Input
from scratch.models import Model

args = parse_args("Lecture 50: LSTM on image rows (MNIST, or digits)", epochs=10,
                  download=True)
keras.utils.set_random_seed(0)

# Load in the data
if dataset_available("mnist", args.download):
    mnist = keras.datasets.mnist
else:  # the digits in MNIST's format (uint8 28x28 images)
    mnist = digits_as("mnist")

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
print("x_train.shape:", x_train.shape)

# Build the model
i = Input(shape=x_train[0].shape)
x = LSTM(128)(i)
x = Dense(10, activation="softmax")(x)
model = Model(i, x)

# compile and train
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
r = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs,
              verbose=2)

# Plot loss per iteration
plt.plot(r.history["loss"], label="loss")
plt.plot(r.history["val_loss"], label="val_loss")
plt.legend()
save("lstm_digits_loss")

# Plot accuracy per iteration
plt.plot(r.history["accuracy"], label="acc")
plt.plot(r.history["val_accuracy"], label="val_acc")
plt.legend()
save("lstm_digits_accuracy")

loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.4f}, test accuracy {accuracy:.4f}")

# Show some test images with the predicted labels
p_test = model.predict(x_test, verbose=0).argmax(axis=1)
fig, axes = plt.subplots(2, 5, figsize=(10, 4))
for ax, img, pred, true in zip(axes.ravel(), x_test, p_test, y_test, strict=False):
    ax.imshow(img, cmap="gray")
    ax.set_title(f"pred {pred} / true {true}", color="black" if pred == true else "red")
    ax.axis("off")
save("lstm_digits_predictions", fig)
print("misclassified:", int(np.sum(p_test != y_test)), "of", len(y_test))
