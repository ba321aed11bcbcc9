"""Lecture 36: a VGG-like CNN with BatchNormalization, MaxPooling and data augmentation.

The course's "Improving CIFAR-10 results" notebook on scratch: pairs of 3×3 'same'
convolutions with BatchNormalization, then 2×2 max pooling, three times (32, 64, 128 feature
maps), Dropout and two Dense layers, trained from an `ImageDataGenerator` (Lecture 34) with
`fit_generator(train_generator, steps_per_epoch=...)`, as the course does.

Two changes besides the imports: scikit-learn's digits upsampled to 28×28×1 stand in for
CIFAR-10 (nothing can be downloaded here), and the convolutions are chained (the course's
listing applies every Conv2D to the input `i`, a copy-paste slip that keeps only the last
block; the lecture describes the chained VGG network built here). Horizontal flips are
left out: a mirrored digit is a different symbol (Lecture 34: "keep semantical context").

Math:
    block(F): x → relu(conv3×3(x)) → BN → relu(conv3×3) → BN → maxpool2×2
    BN (training): (x − μ_B)/√(σ²_B + ε)·γ + β; the moving averages serve at inference
    28×28×1 → block(32) 14×14 → block(64) 7×7 → block(128) 3×3 → Flatten 1152 → Dropout →
    Dense 1024 → Dropout → softmax(10)

Shapes:
    x_train (N, 28, 28, 1) in [0, 1]; y_train (N,) labels 0–9.

Writes ``vgg_augmented_loss.png``, ``vgg_augmented_accuracy.png`` and
``vgg_augmented_samples.png`` (augmented training images) to ``--out``.
Run: ``python examples/lecture36_vgg_augmented.py [--epochs 50] [--out out]``.
"""

import numpy as np
from _common import parse_args, plt, save

import scratch
from scratch.datasets import load_digits_split
from scratch.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
from scratch.models import Model
from scratch.preprocessing.image import ImageDataGenerator

args = parse_args("Lecture 36: VGG-like CNN with BatchNorm and augmentation", epochs=50)
scratch.utils.set_random_seed(0)

# Load in the data
(x_train, y_train), (x_test, y_test) = load_digits_split(size=28)
x_train, x_test = np.expand_dims(x_train, -1), np.expand_dims(x_test, -1)
print("x_train.shape:", x_train.shape)
K = len(set(y_train))
print("number of classes:", K)

# Build the model using the functional API (inspired by VGG)
i = Input(shape=x_train[0].shape)
x = Conv2D(32, (3, 3), activation="relu", padding="same")(i)
x = BatchNormalization()(x)
x = Conv2D(32, (3, 3), activation="relu", padding="same")(x)
x = BatchNormalization()(x)
x = MaxPooling2D((2, 2))(x)
x = Conv2D(64, (3, 3), activation="relu", padding="same")(x)
x = BatchNormalization()(x)
x = Conv2D(64, (3, 3), activation="relu", padding="same")(x)
x = BatchNormalization()(x)
x = MaxPooling2D((2, 2))(x)
x = Conv2D(128, (3, 3), activation="relu", padding="same")(x)
x = BatchNormalization()(x)
x = Conv2D(128, (3, 3), activation="relu", padding="same")(x)
x = BatchNormalization()(x)
x = MaxPooling2D((2, 2))(x)
x = Flatten()(x)
x = Dropout(0.2)(x)
x = Dense(1024, activation="relu")(x)
x = Dropout(0.2)(x)
x = Dense(K, activation="softmax")(x)

model = Model(i, x)
model.compile(optimizer="adam",
              loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])

# Fit with data augmentation
batch_size = 32
data_generator = ImageDataGenerator(
    width_shift_range=0.1,
    height_shift_range=0.1,
    rotation_range=10,
    zoom_range=0.1,
)
train_generator = data_generator.flow(x_train, y_train, batch_size, seed=0)
steps_per_epoch = x_train.shape[0] // batch_size
r = model.fit_generator(  # deprecated alias of fit(generator, ...), as in the course
    train_generator,
    validation_data=(x_test, y_test),
    steps_per_epoch=steps_per_epoch,
    epochs=args.epochs,
    verbose=2,
)

# Plot loss per iteration
plt.plot(r.history["loss"], label="loss")
plt.plot(r.history["val_loss"], label="val_loss")
plt.legend()
save("vgg_augmented_loss")

# Plot accuracy per iteration
plt.plot(r.history["accuracy"], label="acc")
plt.plot(r.history["val_accuracy"], label="val_acc")
plt.legend()
save("vgg_augmented_accuracy")

loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test loss {loss:.4f}, test accuracy {acc:.4f}")

# What the network was trained on: a few augmented batches
images, labels = next(data_generator.flow(x_train, y_train, batch_size=10, seed=1))
fig, axes = plt.subplots(2, 5, figsize=(10, 4.6))
for ax, img, label in zip(axes.flat, images, labels, strict=True):
    ax.imshow(img[:, :, 0], cmap="gray")
    ax.set_title(f"label {label}")
    ax.axis("off")
save("vgg_augmented_samples", fig)
