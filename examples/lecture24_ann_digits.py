"""Lecture 24: a dense network (ANN) for image classification, on scratch.

The course notebook with ``import scratch as keras`` instead of TensorFlow. The data is the
course's MNIST (`keras.datasets.mnist.load_data()`) when Keras' cache holds it (tf.keras or
scratch downloaded it once; ``--download`` fetches it); otherwise, with a message,
scikit-learn's 8×8 digits upsampled to 28×28 in MNIST's format (`_common.digits_as`: uint8
(N, 28, 28) images, (N,) labels), so every line after the load is the course's, and the model
too, layer for layer, either way.

Math:
    h = relu(x·W₁ + b₁),  h̃ = dropout(h, 0.2) (training only, kept units scaled by 1/0.8),
    p = softmax(h̃·W₂ + b₂),  L = −mean(log p[y])

Shapes:
    x_train (N, 28, 28) pixels in [0, 1] → Flatten (N, 784) → Dense (N, 128) → Dense (N, 10);
    y_train (N,) integer labels 0–9.

Writes ``ann_digits_loss.png``, ``ann_digits_accuracy.png``,
``ann_digits_confusion_matrix.png`` and ``ann_digits_misclassified.png`` to ``--out``.
Run: ``python examples/lecture24_ann_digits.py [--epochs 10] [--out out] [--download]``.
"""

import itertools

import numpy as np
from _common import dataset_available, digits_as, parse_args, plt, save
from sklearn.metrics import confusion_matrix

import scratch as keras

args = parse_args("Lecture 24: dense network with Dropout on MNIST (or digits)", epochs=10,
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
model = keras.models.Sequential([
    keras.layers.Flatten(input_shape=(28, 28)),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dropout(0.2),
    keras.layers.Dense(10, activation="softmax"),
])

# Compile the model
model.compile(optimizer="adam",
              loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])

# Train the model
r = model.fit(x_train, y_train, validation_data=(x_test, y_test), epochs=args.epochs,
              verbose=2)

# Plot the loss per iteration
plt.plot(r.history["loss"], label="loss")
plt.plot(r.history["val_loss"], label="val_loss")
plt.legend()
save("ann_digits_loss")

# Plot the accuracy per iteration
plt.plot(r.history["accuracy"], label="acc")
plt.plot(r.history["val_accuracy"], label="val_acc")
plt.legend()
save("ann_digits_accuracy")

# Evaluate the model
print(model.evaluate(x_test, y_test, verbose=0))


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
    save("ann_digits_confusion_matrix")


p_test = model.predict(x_test, verbose=0).argmax(axis=1)
cm = confusion_matrix(y_test, p_test, labels=list(range(10)))
plot_confusion_matrix(cm, list(range(10)))

# Do the results make sense?
# it's easy to confuse 9<->4, 9<->7, 2<->7 etc.

# Show some misclassified examples (the course shows one at random; here up to ten)
misclassified_idx = np.where(p_test != y_test)[0]
print(f"{len(misclassified_idx)} of {len(y_test)} test images misclassified")
shown = np.random.choice(misclassified_idx, size=min(10, len(misclassified_idx)),  # noqa: NPY002
                         replace=False)  # the course's global RNG, seeded by set_random_seed
fig, axes = plt.subplots(2, 5, figsize=(10, 4.6))
for ax in axes.flat:
    ax.axis("off")
for ax, i in zip(axes.flat, shown, strict=False):  # up to 10 images in 10 panels
    ax.imshow(x_test[i], cmap="gray")
    ax.set_title(f"True label: {y_test[i]}\nPredicted: {p_test[i]}")
if not len(shown):
    fig.suptitle("no misclassified test images")
save("ann_digits_misclassified", fig)
