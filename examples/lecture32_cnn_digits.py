"""Lecture 32: a CNN for image classification (the course's Fashion-MNIST notebook), on scratch.

The course notebook with scratch's imports instead of TensorFlow's. The data is the course's
Fashion-MNIST (`scratch.datasets.fashion_mnist.load_data()`) when Keras' cache holds it
(``--download`` fetches it); otherwise, with a message, scikit-learn's 8×8 digits upsampled to
28×28 in Fashion-MNIST's format (`_common.digits_as`), so every line after the load is the
course's. The network is the course's, layer for layer: three stride-2 convolutions, Flatten,
Dropout, Dense(512), Dropout, softmax.

Math:
    conv: z[h, w, o] = b[o] + Σ_{i,j,c} x[2h + i, 2w + j, c] · W[i, j, c, o],  y = relu(z)
    28×28×1 → 13×13×32 → 6×6×64 → 2×2×128 → 512 → Dense 512 → softmax over 10 classes

Shapes:
    x_train (N, 28, 28) → np.expand_dims → (N, 28, 28, 1) (Conv2D expects N×H×W×C);
    y_train (N,) integer labels 0–9.

Writes ``cnn_digits_loss.png``, ``cnn_digits_accuracy.png``,
``cnn_digits_confusion_matrix.png`` and ``cnn_digits_misclassified.png`` to ``--out``.
Run: ``python examples/lecture32_cnn_digits.py [--epochs 15] [--out out] [--download]``.
"""

import itertools

import numpy as np
from _common import dataset_available, digits_as, parse_args, plt, save
from sklearn.metrics import confusion_matrix

import scratch
from scratch.layers import Conv2D, Dense, Dropout, Flatten, Input
from scratch.models import Model

args = parse_args("Lecture 32: CNN with three stride-2 convolutions on Fashion-MNIST "
                  "(or digits)", epochs=15, download=True)
scratch.utils.set_random_seed(0)

# Load in the data
course_data = dataset_available("fashion_mnist", args.download)
if course_data:
    fashion_mnist = scratch.datasets.fashion_mnist
else:  # the digits in Fashion-MNIST's format (uint8 28x28 images)
    fashion_mnist = digits_as("fashion_mnist")
(x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
print("x_train.shape:", x_train.shape)

# the data is only 2D: the convolution expects H x W x C
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print(x_train.shape)

# number of classes
K = len(set(y_train))
print("number of classes:", K)

# Build the model using the functional API
i = Input(shape=x_train[0].shape)
x = Conv2D(32, (3, 3), strides=2, activation="relu")(i)
x = Conv2D(64, (3, 3), strides=2, activation="relu")(x)
x = Conv2D(128, (3, 3), strides=2, activation="relu")(x)
x = Flatten()(x)
x = Dropout(0.2)(x)
x = Dense(512, activation="relu")(x)
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
save("cnn_digits_loss")

# Plot accuracy per iteration
plt.plot(r.history["accuracy"], label="accuracy")
plt.plot(r.history["val_accuracy"], label="val_accuracy")
plt.legend()
save("cnn_digits_accuracy")


# Plot confusion matrix
def plot_confusion_matrix(cm, classes, normalize=False, title="Confusion matrix",
                          cmap=plt.cm.Blues):
    """Print and plot the confusion matrix; normalization with `normalize=True`."""
    if normalize:
        cm = cm.astype("float") / cm.sum(axis=1)[:, np.newaxis]
        print("Normalized confusion matrix")
    else:
        print("Confusion matrix, without normalization")
    print(cm)

    plt.imshow(cm, interpolation="nearest", cmap=cmap)
    plt.title(title)
    plt.colorbar()
    tick_marks = np.arange(len(classes))
    plt.xticks(tick_marks, classes, rotation=45)
    plt.yticks(tick_marks, classes)

    fmt = ".2f" if normalize else "d"
    thresh = cm.max() / 2.0
    for i, j in itertools.product(range(cm.shape[0]), range(cm.shape[1])):
        plt.text(j, i, format(cm[i, j], fmt),
                 horizontalalignment="center",
                 color="white" if cm[i, j] > thresh else "black")

    plt.tight_layout()
    plt.ylabel("True label")
    plt.xlabel("Predicted label")
    save("cnn_digits_confusion_matrix")


p_test = model.predict(x_test, verbose=0).argmax(axis=1)
cm = confusion_matrix(y_test, p_test, labels=list(range(10)))
plot_confusion_matrix(cm, list(range(10)))

# label mapping (Fashion-MNIST's classes; the digits are their own labels)
labels = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
          "Sneaker", "Bag", "Ankle boot"] if course_data else [str(d) for d in range(10)]

# Show some misclassified examples (the course shows one at random; here up to ten)
misclassified_idx = np.where(p_test != y_test)[0]
print(f"{len(misclassified_idx)} of {len(y_test)} test images misclassified")
shown = np.random.choice(misclassified_idx, size=min(10, len(misclassified_idx)),  # noqa: NPY002
                         replace=False)  # the course's global RNG, seeded by set_random_seed
fig, axes = plt.subplots(2, 5, figsize=(10, 4.6))
for ax in axes.flat:
    ax.axis("off")
for ax, i in zip(axes.flat, shown, strict=False):
    ax.imshow(x_test[i].reshape(28, 28), cmap="gray")
    ax.set_title(f"True label: {labels[y_test[i]]}\nPredicted: {labels[p_test[i]]}")
if not len(shown):
    fig.suptitle("no misclassified test images")
save("cnn_digits_misclassified", fig)
