"""Lecture 33: a CNN for CIFAR-10, on scratch.

The course notebook with scratch's imports instead of TensorFlow's. The data is the course's
CIFAR-10 (`keras.datasets.cifar10.load_data()`) when Keras' cache holds it (tf.keras or
scratch downloaded it once; ``--download`` fetches it, 163 MB); otherwise, with a message,
scikit-learn's digits upsampled to 32×32 in random colours, in CIFAR-10's own format
(`_common.digits_as`: uint8 (N, 32, 32, 3) images, (N, 1) labels), so every line after the
load is the course's. The network is Lecture 32's with more units: three stride-2
convolutions, Flatten, Dropout(0.5), Dense(1024), Dropout(0.2), softmax.

Math:
    conv: z[h, w, o] = b[o] + Σ_{i,j,c} x[2h + i, 2w + j, c] · W[i, j, c, o],  y = relu(z)
    32×32×3 → 15×15×32 → 7×7×64 → 3×3×128 → 1152 → Dense 1024 → softmax over K classes

Shapes:
    x_train (N, 32, 32, 3) pixels / 255 in [0, 1]; y_train (N, 1) → flatten → (N,) labels.

Writes ``cnn_cifar10_loss.png`` and ``cnn_cifar10_accuracy.png`` to ``--out``.
Run: ``python examples/lecture33_cnn_cifar10.py [--epochs 15] [--out out] [--download]``.
"""

import numpy as np
from _common import dataset_available, digits_as, parse_args, plt, save

import scratch as keras
from scratch.layers import Conv2D, Dense, Dropout, Flatten, Input
from scratch.models import Model

args = parse_args("Lecture 33: CNN on CIFAR-10 (or coloured digits)", epochs=15,
                  download=True)
keras.utils.set_random_seed(0)

# Load in the data
if dataset_available("cifar10", args.download):
    cifar10 = keras.datasets.cifar10
else:  # the digits in CIFAR-10's format (uint8 32x32x3 images, (N, 1) labels)
    cifar10 = digits_as("cifar10")

(x_train, y_train), (x_test, y_test) = cifar10.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
y_train, y_test = y_train.flatten(), y_test.flatten()
print("x_train.shape:", x_train.shape)
print("y_train.shape:", y_train.shape)

# number of classes (find number of unique elements using set)
K = len(set(y_train))
print("number of classes:", K)

# build the model using the functional API
i = Input(shape=x_train[0].shape)
x = Conv2D(32, (3, 3), strides=2, activation="relu")(i)
x = Conv2D(64, (3, 3), strides=2, activation="relu")(x)
x = Conv2D(128, (3, 3), strides=2, activation="relu")(x)
x = Flatten()(x)
x = Dropout(0.5)(x)
x = Dense(1024, activation="relu")(x)
x = Dropout(0.2)(x)
x = Dense(K, activation="softmax")(x)

model = Model(i, x)

# Compile and fit
model.compile(optimizer="adam",
              loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
r = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs,
              verbose=2)

# Plot loss per iteration
plt.plot(r.history["loss"], label="loss")
plt.plot(r.history["val_loss"], label="val_loss")
plt.legend()
save("cnn_cifar10_loss")

# Plot accuracy per iteration
plt.plot(r.history["accuracy"], label="accuracy")
plt.plot(r.history["val_accuracy"], label="val_accuracy")
plt.legend()
save("cnn_cifar10_accuracy")

# (again we are overfitting: the train accuracy runs ahead of the validation accuracy)
p_test = model.predict(x_test, verbose=0).argmax(axis=1)
print(f"test accuracy: {np.mean(p_test == y_test):.4f}")
